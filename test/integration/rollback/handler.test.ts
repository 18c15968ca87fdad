import type { Context } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoToken } from '../../../local/demo-app/seed';
import { captureEmf } from '../../support/emf';
import { sampleEvent as event, useHandlerFixture } from '../../support/handler-fixture';

const apiToken = 'vigil-local-token';

describe('rollbackDecision', () => {
  const fixture = useHandlerFixture({
    functionName: 'rollbackDecision',
    remainingMs: 25_000,
    demo: { users: 10, transactionsPerUser: 5, adoptionPercent: 80 },
  });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<Record<string, unknown>>;

  const get = async () => {
    const response = (await handler(event('rollbackDecision.http-get.json'), context)) as { statusCode: number; body: string };
    return { status: response.statusCode, answer: JSON.parse(response.body) };
  };
  const post = async (body: string, headers: Record<string, string> = { authorization: `Bearer ${apiToken}` }) => {
    const base = event('rollbackDecision.http-what-if.json');
    const response = (await handler({ ...base, body, headers: { 'content-type': 'application/json', ...headers } }, context)) as {
      statusCode: number;
      body: string;
    };
    return { status: response.statusCode, answer: JSON.parse(response.body) };
  };
  const scheduled = () =>
    handler(event('rollbackDecision.schedule.json'), context) as Promise<{ action: string; scheduled: { effective: string } }>;
  const traffic = async (requests: number) => {
    for (let index = 0; index < requests; index += 1) {
      const response = await fetch(`${fixture.app.url}${completePath}`, {
        headers: { authorization: `Bearer ${demoToken(1 + (index % 5))}` },
      });
      await response.arrayBuffer();
    }
    await fixture.app.flush();
  };
  /** The inputs other functions measure: a fresh cache window and a probe comparison. */
  const measuredInputs = async () => {
    await fixture.database.db.query(
      `INSERT INTO vigil.cache_windows (cache_table, source, primary_source, window_start, window_end, state, lookups, hits, misses, errors,
                                        hit_ratio, cache_failure_rate, error_rate, details)
       VALUES ('user_performance', 'counters', true, now() - interval '15 minutes', now(), 'ok', 400, 360, 40, 0, 90, 10, 0, '{}')`,
    );
    await fixture.database.db.query(
      `WITH comparison AS (
         INSERT INTO vigil.probe_comparisons (run_id, measured_at, old_scenario, new_scenario, calls_old, calls_new, api_call_reduction_percent,
                                              old_p50_ms, old_p95_ms, new_p50_ms, new_p95_ms, baseline_ms, details)
         VALUES (gen_random_uuid(), now(), 'dashboard-old', 'dashboard-new', 8, 1, 87.5, 3900, 4400, 700, 900, 4000, '{}')
         RETURNING run_id, measured_at)
       INSERT INTO vigil.probe_results (run_id, measured_at, kind, name, samples, successes, success_percent, p50_ms, budget_state, details)
       SELECT run_id, measured_at, 'scenario', 'dashboard-new', 20, 20, 100, 700, 'ok', '{}' FROM comparison`,
    );
  };

  beforeAll(async () => {
    handler = await fixture.handler('rollback-decision', {
      VIGIL_API_TOKEN: apiToken,
      // Powertools keeps metrics off in dev mode (POWERTOOLS_DEV, set for the tests) unless told otherwise.
      POWERTOOLS_METRICS_DISABLED: 'false',
      ROLLBACK_ADOPTION_QUERY:
        'SELECT 100.0 * count(*) FILTER (WHERE uses_new_dashboard) / nullif(count(*), 0) AS value, count(*) AS sample_count FROM users',
      ROLLBACK_COMPLAINTS_QUERY:
        "SELECT count(*) AS value FROM support_tickets WHERE category = 'performance' AND created_at > now() - interval '1 hour'",
    });
  });

  beforeEach(() => {
    fixture.app.setFaults({ errorRatePercent: 0, latencyMs: 0, paths: [] });
  });

  it('answers insufficient_data when the log table is empty, naming what is missing', async () => {
    const { status, answer } = await get();
    expect(status).toBe(200);
    expect(answer.action).toBe('insufficient_data');
    const errorRate = answer.signals.find((signal: { name: string }) => signal.name === 'errorRatePercent');
    expect(errorRate).toMatchObject({
      value: null,
      classification: { state: 'no_data' },
      reason: expect.stringContaining('no requests in the last 15 min'),
    });
    expect(answer.signals.find((signal: { name: string }) => signal.name === 'adoptionPercent')).toMatchObject({
      value: 80,
      sampleCount: 10,
    });
    expect(answer.signals.find((signal: { name: string }) => signal.name === 'complaintsPerHour')).toMatchObject({ value: 0 });
  });

  it('continues on healthy measured traffic', async () => {
    await measuredInputs();
    await traffic(40);
    const { answer } = await get();
    expect(answer.reasons).toEqual(['every signal measured and within the matrix']);
    expect(answer).toMatchObject({ action: 'continue_deployment', tier: null, whatIf: false, requestedBy: 'local bearer token' });
    const slower = answer.signals.find((signal: { name: string }) => signal.name === 'slowerThanBaselinePercent');
    expect(slower.value).toBe(-82.5);
  });

  it('advises staged rollback after errors above 2 % hold for two scheduled evaluations, with one major alert', async () => {
    await fixture.database.db.query('TRUNCATE api_performance_log');
    fixture.app.setFaults({ errorRatePercent: 3 });
    await traffic(100);
    const first = await scheduled();
    expect(first.action).toBe('staged_rollback');
    expect(first.scheduled.effective).toBe('monitor_and_optimize');
    expect(await fixture.delivered()).toEqual([]);
    const second = await scheduled();
    expect(second.scheduled.effective).toBe('staged_rollback');
    const [alert] = await fixture.delivered();
    expect(alert?.subject).toBe('Vigil local MAJOR: Staged rollback advised');
    expect(alert?.email).toContain('Reduce the feature flag to 50 % of users.');
  });

  it('advises immediate rollback at once above 5 %, as a critical alert with the tier', async () => {
    await fixture.database.db.query('TRUNCATE api_performance_log');
    fixture.app.setFaults({ errorRatePercent: 6 });
    await traffic(100);
    const { result: answer, documents: emitted } = await captureEmf(scheduled);
    // The dashboard's pictures: the level (3 = immediate) and the measured error rate behind it.
    expect(emitted).toContainEqual(expect.objectContaining({ RollbackDecisionLevel: 3 }));
    const errorRate = emitted.find((document) => document.Signal === 'errorRatePercent');
    expect(errorRate?.RollbackSignal).toBeGreaterThan(2);
    expect(answer).toMatchObject({
      action: 'immediate_rollback',
      scheduled: { effective: 'immediate_rollback' },
      tier: { tier: 1 },
    });
    const [alert] = await fixture.delivered();
    expect(alert?.attributes).toMatchObject({ severity: 'critical', notification: 'escalation' });
    expect(alert?.sms).toContain('Immediate rollback advised');
  });

  it('answers a what-if without storing it as a decision', async () => {
    const { rows: before } = await fixture.database.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM vigil.rollback_decisions',
    );
    const { status, answer } = await post(JSON.stringify({ overrides: { errorRatePercent: 0.2 } }));
    expect(status).toBe(200);
    expect(answer.whatIf).toBe(true);
    expect(answer.signals.find((signal: { name: string }) => signal.name === 'errorRatePercent').source).toMatch(
      /^what-if override \(measured: 6/,
    );
    const { rows: after } = await fixture.database.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM vigil.rollback_decisions',
    );
    expect(after[0]?.n).toBe(before[0]?.n);
  });

  it('stores every real decision with its inputs and who asked', async () => {
    const { rows } = await fixture.database.db.query<{ trigger: string; requested_by: string; instantaneous_action: string }>(
      'SELECT trigger, requested_by, instantaneous_action FROM vigil.rollback_decisions ORDER BY id',
    );
    expect(rows.map((row) => `${row.trigger}/${row.requested_by}/${row.instantaneous_action}`)).toEqual([
      'http/local bearer token/insufficient_data',
      'http/local bearer token/continue_deployment',
      'schedule/schedule/staged_rollback',
      'schedule/schedule/staged_rollback',
      'schedule/schedule/immediate_rollback',
    ]);
  });

  it('answers a bad body with 400 naming the field, and refuses a request without the token', async () => {
    const bad = await post(JSON.stringify({ overrides: { errorRate: 3 } }));
    expect(bad.status).toBe(400);
    expect(bad.answer.error).toContain('overrides');
    expect(bad.answer.error).toContain('errorRate');
    const negative = await post(JSON.stringify({ complaintsPerHour: -1 }));
    expect(negative.answer.problems).toEqual([{ field: 'complaintsPerHour', message: 'must not be negative' }]);
    expect((await post('{}', {})).status).toBe(401);
  });

  // Every source-002 tier case and every boundary, through the HTTP route: a what-if of all seven
  // signals decides from the overrides alone, whatever was measured.
  const calm = {
    errorRatePercent: 0.5,
    avgResponseMs: 800,
    cacheFailurePercent: 10,
    complaintsPerHour: 2,
    slowerThanBaselinePercent: -75,
    adoptionPercent: 85,
    newPageSuccessPercent: 100,
  };
  const verdicts: Array<[string, Partial<typeof calm>, string, number | null]> = [
    ['all calm', {}, 'continue_deployment', null],
    ['the new page down (0 of 10 loads)', { newPageSuccessPercent: 0 }, 'immediate_rollback', 3],
    ['the new page at 49.99 % of loads', { newPageSuccessPercent: 49.99 }, 'immediate_rollback', 3],
    ['the new page at 50 % of loads', { newPageSuccessPercent: 50 }, 'continue_deployment', null],
    ['every request failing', { errorRatePercent: 100 }, 'immediate_rollback', 3],
    ['core broken: 50.01 % of requests fail', { errorRatePercent: 50.01 }, 'immediate_rollback', 2],
    ['50 % of requests fail', { errorRatePercent: 50 }, 'immediate_rollback', 1],
    ['5.004 % errors (125 of 2,498)', { errorRatePercent: (125 / 2498) * 100 }, 'immediate_rollback', 1],
    ['5 % errors', { errorRatePercent: 5 }, 'staged_rollback', 1],
    ['10,000.04 ms average', { avgResponseMs: 10_000.04 }, 'immediate_rollback', 1],
    ['10,000 ms average', { avgResponseMs: 10_000 }, 'staged_rollback', 1],
    ['50.1 % slower than baseline', { slowerThanBaselinePercent: 50.1 }, 'staged_rollback', 1],
    ['45 % slower than baseline', { slowerThanBaselinePercent: 45 }, 'monitor_and_optimize', null],
    ['40 % slower than baseline', { slowerThanBaselinePercent: 40 }, 'continue_deployment', null],
    ['adoption 49.996 %', { adoptionPercent: 49.996 }, 'monitor_and_optimize', null],
    ['11 complaints an hour', { complaintsPerHour: 11 }, 'immediate_rollback', 1],
    ['cache failures 50.01 %', { cacheFailurePercent: 50.01 }, 'immediate_rollback', 1],
  ];
  it.each(verdicts)('what-if %s: action and tier from the overrides alone', async (_case, change, action, tier) => {
    const { status, answer } = await post(JSON.stringify({ overrides: { ...calm, ...change } }));
    expect(status).toBe(200);
    expect({ action: answer.action, tier: answer.tier?.tier ?? null }).toEqual({ action, tier });
  });

  it.each([
    ['adoptionPercent', 150, 'must be at most 100'],
    ['slowerThanBaselinePercent', -500, 'must be at least -100'],
    ['errorRatePercent', 101, 'must be at most 100'],
    ['newPageSuccessPercent', -1, 'must be at least 0'],
    ['avgResponseMs', -1, 'must be at least 0'],
  ])('refuses a what-if %s of %s with 400 naming the field', async (name, value, message) => {
    const { status, answer } = await post(JSON.stringify({ overrides: { [name]: value } }));
    expect(status).toBe(400);
    expect(answer.problems).toEqual([{ field: `overrides.${name}`, message }]);
  });

  it('compares the measured error rate unrounded: 125 errors in 2,498 requests is over 5 %', async () => {
    await fixture.database.db.query('TRUNCATE api_performance_log');
    await fixture.database.db.query(
      `INSERT INTO api_performance_log ("timestamp", endpoint, method, status_code, response_time_ms)
       SELECT now() - interval '1 minute', '/api/portfolio/complete', 'GET', CASE WHEN g <= 125 THEN 500 ELSE 200 END, 40
       FROM generate_series(1, 2498) g`,
    );
    const { answer } = await get();
    const errorRate = answer.signals.find((signal: { name: string }) => signal.name === 'errorRatePercent');
    expect(errorRate.value).toBeCloseTo(5.004003, 5);
    expect(errorRate.classification).toMatchObject({ state: 'breach', level: 'immediate' });
    expect(answer.action).toBe('immediate_rollback');
  });
});
