import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoProbeEnvironment } from '../../../local/probe-config';
import { useHandlerFixture } from '../../support/handler-fixture';

interface Difference {
  verdict: 'faster' | 'slower' | 'not_distinguishable';
  estimateMs: number | null;
  low: number | null;
  high: number | null;
}

/*
 * The Done-when of the page comparison, against the demo app: healthy, the new page is faster with
 * an interval that excludes 0; 300 ms on /api/portfolio/complete (the new page's one call) turns
 * the verdict to slower within two runs, and switching it off turns it back.
 */
describe('the new-vs-old verdict follows the new page', () => {
  const fixture = useHandlerFixture({
    functionName: 'probe',
    remainingMs: 60_000,
    demo: { users: 5, transactionsPerUser: 10, adoptionPercent: 100 },
  });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;
  const run = async () => {
    const result = (await handler({}, context)) as { comparison: { difference: Difference } };
    return result.comparison.difference;
  };
  const within = async (runs: number, verdict: Difference['verdict']) => {
    const seen: Difference[] = [];
    for (let index = 0; index < runs; index += 1) {
      seen.push(await run());
      if (seen.at(-1)?.verdict === verdict) return seen;
    }
    throw new Error(`no ${verdict} verdict in ${runs} runs: ${JSON.stringify(seen)}`);
  };

  beforeAll(async () => {
    handler = await fixture.handler('probe', demoProbeEnvironment(fixture.app.url, { target: 1, page: 10 }));
  });

  it('is faster while healthy, slower within two runs of 300 ms on the new page call, faster again once off', async () => {
    const healthy = await run();
    expect(healthy.verdict).toBe('faster');
    expect(healthy.high).toBeLessThan(0);

    fixture.app.setFaults({ latencyMs: 300, paths: [completePath] });
    const slowed = (await within(2, 'slower')).at(-1) as Difference;
    // The interval excludes 0 from above, and the shift is about the injected delay.
    expect(slowed.low).toBeGreaterThan(0);
    expect(slowed.estimateMs).toBeGreaterThan(250);

    fixture.app.setFaults({ latencyMs: 0, paths: [] });
    const recovered = (await within(2, 'faster')).at(-1) as Difference;
    expect(recovered.high).toBeLessThan(0);
  }, 90_000);
});
