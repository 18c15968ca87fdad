import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoProbeEnvironment } from '../../../local/probe-config';
import { useHandlerFixture } from '../../support/handler-fixture';

describe('probe handler against the demo app', () => {
  const fixture = useHandlerFixture({
    functionName: 'probe',
    remainingMs: 60_000,
    demo: { users: 5, transactionsPerUser: 10, adoptionPercent: 100 },
  });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;
  const delivered = fixture.deliveredKeys;

  beforeAll(async () => {
    handler = await fixture.handler('probe', demoProbeEnvironment(fixture.app.url, { target: 2, page: 2 }));
  });

  it('measures the old page against the new and stores the run', async () => {
    const result = (await handler({}, context)) as {
      comparison: Record<string, unknown>;
      summaries: Array<{ name: string; successPercent: number }>;
    };
    const comparison = result.comparison as {
      loadTimeMs: { old: { p50: number } };
      baselineMs: number;
      difference: { nOld: number; nNew: number };
    };
    expect(result.comparison).toMatchObject({
      callsOld: 8,
      callsNew: 1,
      apiCallReductionPercent: 87.5,
      sourceBaselineMs: 4000,
      baselineSource: 'old page measured in this run',
      difference: { nOld: 2, nNew: 2, confidencePercent: 95 },
    });
    // "Slower than baseline" is measured against the old page of the same run.
    expect(comparison.baselineMs).toBe(comparison.loadTimeMs.old.p50);
    expect((result.comparison as { reductionVsBaselinePercent: { p50: number } }).reductionVsBaselinePercent.p50).toBeGreaterThan(
      80,
    );
    expect(result.summaries.every((summary) => summary.successPercent === 100)).toBe(true);
    const { rows } = await fixture.database.db.query<{ n: number; partition: string }>(
      'SELECT count(*)::int AS n, min(tableoid::regclass::text) AS partition FROM vigil.probe_results',
    );
    expect(rows[0]?.n).toBe(11);
    expect(rows[0]?.partition).toMatch(/^vigil\.probe_results_\d{4}_\d{2}$/);
    expect(await delivered()).toEqual([]);
  });

  it('raises exactly one alert after the second slow run and resolves once the page is fast again', async () => {
    fixture.app.setFaults({ latencyMs: 1100, paths: [completePath] });
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await handler({}, context);
    // One cause, one page: the endpoint's alert names the page that loads it.
    const [budget, ...others] = await fixture.delivered();
    expect(others).toEqual([]);
    expect(budget?.attributes.alert_key).toBe('probe:portfolio-complete:budget');
    expect(budget?.email).toContain('The page dashboard-new, which loads it, is over budget with it in the same runs');
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    fixture.app.setFaults({ latencyMs: 0, paths: [] });
    await handler({}, context);
    expect(await delivered()).toEqual([]);
    await handler({}, context);
    expect(await delivered()).toEqual(['resolved probe:portfolio-complete:budget']);
  }, 60_000);

  it('raises a critical alert when an endpoint is down', async () => {
    fixture.app.setFaults({ errorRatePercent: 100, paths: [completePath] });
    await handler({}, context);
    const down = await fixture.delivered();
    expect(down.map((message) => `${message.attributes.notification} ${message.attributes.alert_key}`)).toEqual([
      'firing probe:portfolio-complete:down',
    ]);
    expect(down[0]?.subject).toBe('Vigil local CRITICAL: Endpoint portfolio-complete is down');
    expect(down[0]?.email).toContain('The page dashboard-new, which loads it, is down with it');
    fixture.app.setFaults({ errorRatePercent: 0, paths: [] });
    await handler({}, context);
    expect(await delivered()).toEqual(['resolved probe:portfolio-complete:down']);
  }, 30_000);

  it('pages once when every endpoint is down for one reason, the others listed in that message', async () => {
    fixture.app.setFaults({ errorRatePercent: 100, paths: [] });
    await handler({}, context);
    const down = await fixture.delivered();
    const firing = down.filter((message) => message.attributes.notification === 'firing');
    expect(firing).toHaveLength(1);
    expect(firing[0]?.subject).toMatch(/is down \(and 8 more of the same cause\)$/);
    expect(firing[0]?.email).toContain('most failed with an unexpected HTTP status');
    expect(firing[0]?.email).toContain('probe:portfolio-complete:down');
    fixture.app.setFaults({ errorRatePercent: 0, paths: [] });
    await handler({}, context);
    // And once when it clears: one RESOLVED for the nine.
    const cleared = await fixture.delivered();
    expect(cleared.map((message) => message.attributes.notification)).toEqual(['resolved']);
    expect(cleared[0]?.subject).toMatch(/RESOLVED: .* is down \(and 8 more of the same cause\)/);
  }, 30_000);
});
