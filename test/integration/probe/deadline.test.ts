import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHandlerFixture } from '../../support/handler-fixture';

describe('probe handler with a target that never answers', () => {
  const fixture = useHandlerFixture({ functionName: 'probe', remainingMs: 3_000 });
  let silent: Server;
  const sockets = new Set<Socket>();
  let url: string;

  beforeAll(async () => {
    // Accepts the connection and never says a word.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as { port: number };
    url = `http://127.0.0.1:${address.port}/api/health`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  it('ends before the function timeout with the results stored and the down alert sent', async () => {
    const handler = await fixture.handler<
      (event: unknown, context: unknown) => Promise<{ summaries: Array<Record<string, unknown>> }>
    >('probe', {
      // 20 samples x 10 s would be 200 s; the function has 3 s left, 1 s of them kept for storing and alerting.
      PROBE_TARGETS: JSON.stringify([{ name: 'hung', url, samples: 20, timeoutMs: 10_000 }]),
      PROBE_DEADLINE_MARGIN_SECONDS: '1',
    });
    const started = performance.now();
    const result = await handler({}, fixture.context(3_000));
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(result.summaries[0]).toMatchObject({
      name: 'hung',
      samples: 1,
      successes: 0,
      notTaken: { count: 19 },
      budget: { state: 'down' },
    });
    const { rows } = await fixture.database.db.query<{ budget_state: string; samples: number; not_taken: string }>(
      "SELECT budget_state, samples, details->'notTaken'->>'count' AS not_taken FROM vigil.probe_results WHERE name = 'hung'",
    );
    expect(rows).toEqual([{ budget_state: 'down', samples: 1, not_taken: '19' }]);
    const [alert] = await fixture.delivered();
    expect(alert?.attributes).toMatchObject({ alert_key: 'probe:hung:down', severity: 'critical' });
  });
});
