import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheConfig } from '../../../functions/cache-efficiency/config';
import { measureCacheEfficiency } from '../../../functions/cache-efficiency/measure';
import type { CacheWindow } from '../../../functions/cache-efficiency/window';
import { rollbackConfig } from '../../../functions/rollback-decision/config';
import { decide } from '../../../functions/rollback-decision/matrix';
import { readSignals } from '../../../functions/rollback-decision/signals';
import { loadConfig } from '../../../lib/config';
import { defaultThresholds } from '../../../lib/thresholds';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoToken, seedDemoData } from '../../../local/demo-app/seed';
import { type DemoApp, startDemoApp } from '../../../local/demo-app/server';
import { createTestDatabase, type TestDatabase } from '../../support/database';

/*
 * The hand-counted scenarios of issue 16, against the demo app's real cache: a cache that only
 * errors, the cold start after a deploy, and a counter reset the counters cannot show.
 */
describe('cacheEfficiency at the edges', () => {
  let database: TestDatabase;
  let app: DemoApp;

  const dashboard = async (user: number, times: number) => {
    for (let index = 0; index < times; index += 1) {
      const response = await fetch(`${app.url}${completePath}`, { headers: { authorization: `Bearer ${demoToken(user)}` } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  };
  const run = async (env: Record<string, string>) => {
    const config = loadConfig([cacheConfig], { CACHE_MIN_LOOKUPS: '1', ...env }).cache;
    const measurement = await measureCacheEfficiency(database.db, config, defaultThresholds);
    if (!measurement) throw new Error('lock not acquired');
    const bySource = (source: CacheWindow['source']) => measurement.windows.find((window) => window.source === source);
    return { counters: bySource('counters') as CacheWindow, table: bySource('table') as CacheWindow };
  };
  const fresh = async () => {
    await database.db.query(
      `TRUNCATE user_performance, vigil.cache_windows, vigil.cache_source_state;
       UPDATE cache_counters SET hits = 0, misses = 0, errors = 0, started_at = now() - interval '1 day'`,
    );
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await seedDemoData(client, { users: 20, transactionsPerUser: 5, adoptionPercent: 100 });
    await client.end();
    app = await startDemoApp({ databaseUrl: database.url, adminToken: 'demo-admin', cacheTtlSeconds: 3600 });
  });

  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  const withMarker = {
    CACHE_COUNTERS_QUERY: "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'",
  };
  const withoutMarker = {
    CACHE_COUNTERS_QUERY: "SELECT hits, misses, errors FROM cache_counters WHERE cache_name = 'user_performance'",
  };

  it('errors only: 0 hits, 0 misses and 400 errors is a 100 % failure rate, not a healthy 0 %', async () => {
    await fresh();
    await run(withMarker);
    await database.db.query("UPDATE cache_counters SET errors = errors + 400 WHERE cache_name = 'user_performance'");
    const { counters } = await run(withMarker);
    expect(counters).toMatchObject({
      state: 'ok',
      lookups: 400,
      hits: 0,
      misses: 0,
      errors: 400,
      hitRatioPercent: 0,
      cacheFailureRatePercent: 100,
      errorRatePercent: 100,
    });
  });

  it('cold start after a deploy: the windows of one TTL after the restart are warming, no data, and the matrix says monitor', async () => {
    await fresh();
    await run(withMarker);
    // Before the deploy: 6 users, each 1 miss and 3 hits.
    for (let user = 1; user <= 6; user += 1) await dashboard(user, 4);
    expect((await run(withMarker)).counters).toMatchObject({ state: 'ok', hits: 18, misses: 6 });

    // The deploy: the app restarts its counters and starts with an empty cache.
    await fetch(`${app.url}/__demo/cache/reset-counters`, { method: 'POST', headers: { authorization: 'Bearer demo-admin' } });
    await database.db.query('DELETE FROM user_performance');
    for (let user = 1; user <= 6; user += 1) await dashboard(user, 2);
    const restart = await run(withMarker);
    expect(restart.counters).toMatchObject({ state: 'no_data', reason: expect.stringContaining('the counters were reset') });
    expect(restart.table).toMatchObject({ state: 'no_data', reason: expect.stringContaining('warming: ') });

    // The first window after the restart: 7 hits of 13 lookups (54 %) would be a 46 % failure rate.
    for (let user = 7; user <= 12; user += 1) await dashboard(user, 1);
    for (let user = 1; user <= 3; user += 1) await dashboard(user, 2);
    await dashboard(4, 1);
    const cold = await run(withMarker);
    expect(cold.counters).toMatchObject({
      state: 'no_data',
      reason: expect.stringMatching(/^warming: the counters were reset .* the cache refills until .* \(CACHE_WARMUP_MINUTES\)/),
      hits: 7,
      misses: 6,
      lookups: 13,
    });
    const rollback = loadConfig([rollbackConfig], {}).rollback;
    const cacheReading = (await readSignals({ db: database.db, config: rollback, now: new Date(), confidencePercent: 95 })).find(
      (reading) => reading.name === 'cacheFailurePercent',
    );
    expect(cacheReading).toMatchObject({ value: null, reason: expect.stringContaining('warming: ') });
    const healthy = [
      { name: 'errorRatePercent' as const, value: 0.2, unit: '%', source: 'test' },
      { name: 'avgResponseMs' as const, value: 200, unit: 'ms', source: 'test' },
      { name: 'complaintsPerHour' as const, value: 0, unit: '/h', source: 'test' },
      { name: 'slowerThanBaselinePercent' as const, value: -80, unit: '%', source: 'test' },
      { name: 'adoptionPercent' as const, value: 90, unit: '%', source: 'test' },
      { name: 'newPageSuccessPercent' as const, value: 100, unit: '%', source: 'test' },
    ];
    expect(decide([...healthy, cacheReading as never], defaultThresholds.rollback).action).toBe('monitor_and_optimize');

    // One TTL later (moved forward in the state, as the clock would): the next window is judged again.
    await database.db.query("UPDATE vigil.cache_source_state SET warming_until = now() - interval '1 minute'");
    for (let user = 1; user <= 4; user += 1) await dashboard(user, 1);
    expect((await run(withMarker)).counters).toMatchObject({ state: 'ok', hits: 4, misses: 0, hitRatioPercent: 100 });
  });

  it('a reset without started_at whose counters pass their old values gives no data, never a false window', async () => {
    await fresh();
    await run(withoutMarker);
    // 4 users, each 1 miss and 3 hits: the counters stand at 12 hits, 4 misses.
    for (let user = 1; user <= 4; user += 1) await dashboard(user, 4);
    expect((await run(withoutMarker)).counters).toMatchObject({ state: 'ok', hits: 12, misses: 4 });

    // The app restarts its counters (no marker), then 9 new users, 1 miss and 3 hits each: 27 hits,
    // 9 misses since the reset, past the old 12 and 4, so no counter goes backwards.
    await database.db.query("UPDATE cache_counters SET hits = 0, misses = 0, errors = 0 WHERE cache_name = 'user_performance'");
    for (let user = 5; user <= 13; user += 1) await dashboard(user, 4);
    const { counters, table } = await run(withoutMarker);
    expect(counters).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining(
        'the counters were reset without a reset marker: they count 15 hits and 5 misses in the window, the cache table shows at least 27 hits and 9 misses',
      ),
      hits: null,
      misses: null,
    });
    // The table had it right; it is held as warming too, since the cache restarted.
    expect(table).toMatchObject({ state: 'no_data', hits: 27, misses: 9, reason: expect.stringContaining('warming: ') });
  });
});
