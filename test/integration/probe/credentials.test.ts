import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHandlerFixture } from '../../support/handler-fixture';
import { type ProbeServer, startProbeServer } from '../../support/probe-server';

describe('probe handler with credentials in a target URL', () => {
  const fixture = useHandlerFixture({ functionName: 'probe', remainingMs: 60_000 });
  let server: ProbeServer;
  let targets: string;
  const secrets = ['s3cretPass', 'tok-123456789', 'key-987654321'];

  beforeAll(async () => {
    server = await startProbeServer();
    const url = new URL(`${server.url}/json?success=true&access_token=${secrets[1]}&api_key=${secrets[2]}`);
    url.username = 'probe-user';
    url.password = secrets[0] as string;
    targets = JSON.stringify([{ name: 'with-credentials', url: url.toString(), samples: 2 }]);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('measures the target, and stores and answers its URL without user-info and with its credentials masked', async () => {
    const handler = await fixture.handler<(event: unknown, context: unknown) => Promise<unknown>>('probe', {
      PROBE_TARGETS: targets,
    });
    const result = (await handler({}, fixture.context())) as { summaries: Array<{ url: string; successPercent: number }> };
    expect(result.summaries[0]?.successPercent).toBe(100);
    expect(result.summaries[0]?.url).toBe(`${server.url}/json?success=true&access_token=[REDACTED]&api_key=[REDACTED]`);
    const { rows } = await fixture.database.db.query<{ url: string; details: string }>(
      'SELECT url, details::text AS details FROM vigil.probe_results',
    );
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    for (const secret of secrets) {
      expect(stored).not.toContain(secret);
      expect(JSON.stringify(result)).not.toContain(secret);
    }
    expect(rows[0]?.url).toContain('127.0.0.1');
  });
});
