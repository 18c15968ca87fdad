import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheConfig } from '../../../functions/cache-efficiency/config';
import { measureCacheEfficiency, recentWindows } from '../../../functions/cache-efficiency/measure';
import { snapshotTableName } from '../../../functions/cache-efficiency/table-delta';
import type { CacheWindow } from '../../../functions/cache-efficiency/window';
import { loadConfig } from '../../../lib/config';
import { defaultThresholds } from '../../../lib/thresholds';
import { completePath } from '../../../local/demo-app/dashboard-queries';
import { demoToken, seedDemoData } from '../../../local/demo-app/seed';
import { type DemoApp, startDemoApp } from '../../../local/demo-app/server';
import { createTestDatabase, type TestDatabase } from '../../support/database';

const countersQuery = "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'";

describe("cacheEfficiency measurement on the demo app's real cache", () => {
  let database: TestDatabase;
  let app: DemoApp;
  // The hand counts of this file run through resets on purpose: no warm-up, so each window is judged.
  const config = loadConfig([cacheConfig], {
    CACHE_COUNTERS_QUERY: countersQuery,
    CACHE_MIN_LOOKUPS: '1',
    CACHE_WARMUP_MINUTES: '0',
  }).cache;

  const dashboard = async (user: number, times: number) => {
    for (let index = 0; index < times; index += 1) {
      const response = await fetch(`${app.url}${completePath}`, { headers: { authorization: `Bearer ${demoToken(user)}` } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  };
  const entry = (user: number) => `(SELECT id FROM users WHERE email = 'user${user}@demo.vigil.local')`;
  let concurrentScan = false;
  const run = async () => {
    // Alternate the two ways of scanning, so both are held to the same hand count.
    concurrentScan = !concurrentScan;
    const measurement = await measureCacheEfficiency(database.db, config, defaultThresholds, { concurrentScan });
    if (!measurement) throw new Error('lock not acquired');
    const bySource = (source: CacheWindow['source']) =>
      measurement.windows.find((window) => window.source === source) as CacheWindow;
    return { measurement, counters: bySource('counters'), table: bySource('table') };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await seedDemoData(client, { users: 12, transactionsPerUser: 20, adoptionPercent: 100 });
    await client.end();
    app = await startDemoApp({ databaseUrl: database.url, adminToken: 'demo-admin', cacheTtlSeconds: 3600 });
  });

  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it('reports exactly the hand-counted ratio from both sources through hits, misses, expiries, deletions and resets', async () => {
    const first = await run();
    expect(first.counters).toMatchObject({ state: 'no_data', reason: expect.stringContaining('first reading') });
    expect(first.table).toMatchObject({ state: 'no_data', reason: expect.stringContaining('first run') });

    // 3 misses (users 1, 2, 3 computed) and 4 hits (3 for user 1, 1 for user 2).
    await dashboard(1, 4);
    await dashboard(2, 2);
    await dashboard(3, 1);
    const second = await run();
    for (const window of [second.counters, second.table]) {
      expect(window, window.source).toMatchObject({
        state: 'ok',
        lookups: 7,
        hits: 4,
        misses: 3,
        hitRatioPercent: 57.1429,
        cacheFailureRatePercent: 42.8571,
      });
    }
    expect(second.counters).toMatchObject({ errors: 0, errorRatePercent: 0 });
    expect(second.table).toMatchObject({ errors: null, errorRatePercent: null });

    // User 1 expires (1 miss, 2 hits), user 2 is deleted and comes back (1 miss, 1 hit),
    // user 3 is deleted for good, user 4 arrives (1 miss): 3 hits, 3 misses.
    await database.db.query(`UPDATE user_performance SET expires_at = now() - interval '1 second' WHERE user_id = ${entry(1)}`);
    await dashboard(1, 3);
    await database.db.query(`DELETE FROM user_performance WHERE user_id IN (${entry(2)}, ${entry(3)})`);
    await dashboard(2, 2);
    await dashboard(4, 1);
    const third = await run();
    for (const window of [third.counters, third.table]) {
      expect(window, window.source).toMatchObject({ state: 'ok', lookups: 6, hits: 3, misses: 3, hitRatioPercent: 50 });
    }
    expect(third.table.details).toMatchObject({ newEntries: 1, recalculatedEntries: 2, deletedEntries: 1, entries: 3 });
    expect(third.table.details.deletedNote).toBe('1 entry was deleted; hits they took after the previous run are not counted');

    // The app restarts its counters: that window has no counter ratio; the table still counts 2 hits.
    await fetch(`${app.url}/__demo/cache/reset-counters`, { method: 'POST', headers: { authorization: 'Bearer demo-admin' } });
    await dashboard(1, 2);
    const fourth = await run();
    expect(fourth.counters).toMatchObject({ state: 'no_data', reason: expect.stringContaining('the counters were reset') });
    expect(fourth.table).toMatchObject({ state: 'ok', hits: 2, misses: 0, hitRatioPercent: 100 });

    // An access_count reset without recalculation: the table window has no data; the counters count the 1 hit.
    await database.db.query(`UPDATE user_performance SET access_count = 0 WHERE user_id = ${entry(1)}`);
    await dashboard(4, 1);
    const fifth = await run();
    expect(fifth.table).toMatchObject({
      state: 'no_data',
      reason: 'access_count went down without a recalculation for 1 entry: counter reset',
    });
    expect(fifth.counters).toMatchObject({ state: 'ok', hits: 1, misses: 0 });

    // No traffic at all: no ratio, and it says why.
    const sixth = await run();
    for (const window of [sixth.counters, sixth.table]) {
      expect(window, window.source).toMatchObject({
        state: 'no_data',
        lookups: 0,
        reason: expect.stringContaining('only 0 lookup(s)'),
      });
    }

    const stored = await recentWindows(database.db, 'user_performance', 10);
    expect(stored.map((window) => (window.state === 'ok' ? window.hitRatioPercent : 'no_data'))).toEqual([
      'no_data',
      100,
      'no_data',
      50,
      57.1429,
      'no_data',
    ]);
    expect(stored.every((window) => window.source === 'counters')).toBe(true);
  });

  it('keeps one snapshot row per cache entry, not one per run', async () => {
    const snapshot = `vigil.${snapshotTableName('user_performance')}`;
    const { rows } = await database.db.query<{ snapshot: number; entries: number; tables: number }>(
      `SELECT (SELECT count(*)::int FROM ${snapshot}) AS snapshot, (SELECT count(*)::int FROM user_performance) AS entries,
              (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'vigil' AND tablename LIKE 'cache_snapshot%') AS tables`,
    );
    expect(rows[0]?.snapshot).toBe(rows[0]?.entries);
    expect(rows[0]?.tables).toBe(1);
  });

  it('notices a snapshot lost in a crash instead of counting every entry as a miss', async () => {
    await database.db.query(`TRUNCATE vigil.${snapshotTableName('user_performance')}`);
    await dashboard(1, 1);
    const { table } = await run();
    expect(table).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('an unlogged table is emptied by a server crash'),
    });
    await dashboard(1, 1);
    expect((await run()).table).toMatchObject({ state: 'ok', hits: 1, misses: 0 });
  });

  it('reports valid and expired entries, stale reads, frequent recalculations and the OLAP cache', async () => {
    await database.db.query(
      `UPDATE user_performance SET expires_at = now() - interval '2 hours', last_accessed = now() WHERE user_id = ${entry(4)}`,
    );
    for (let recalculation = 0; recalculation < 4; recalculation += 1) {
      await database.db.query(`UPDATE user_performance SET expires_at = now() - interval '1 second' WHERE user_id = ${entry(6)}`);
      await dashboard(6, 1);
      await run();
    }
    const { measurement } = await run();
    expect(measurement.cache.statistics).toMatchObject({ validEntries: 3, expiredEntries: 1, missing: [] });
    expect(measurement.cache.statistics.avgPayloadSizeKb).toBeGreaterThan(0);
    expect(measurement.cache.counts).toMatchObject({ staleCacheAccess: 1, frequentRecalculation: 1, largePayload: 0 });
    expect(measurement.cache.issues.map((issue) => `${issue.type} ${issue.severity}`).sort()).toEqual([
      'frequent_recalculation medium',
      'stale_cache_access medium',
    ]);
    expect(measurement.olap).toEqual({
      state: 'no_data',
      table: 'performance_metrics_cache',
      reason: 'performance_metrics_cache is empty: the OLAP cache was never refreshed',
    });
    await app.flush();
    await app.refreshOlapCache();
    const { measurement: withOlap } = await run();
    expect(withOlap.olap).toMatchObject({ state: 'ok', healthByTenant: [{ tenantId: 'demo' }] });
    if (withOlap.olap.state === 'ok') expect(withOlap.olap.stalenessMinutes).toBeLessThan(1);
  });

  it('lets one run at a time measure a table', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query("SELECT pg_advisory_lock(hashtext('vigil'), hashtext('cache-efficiency:user_performance'))");
      expect(await measureCacheEfficiency(database.db, config, defaultThresholds)).toBeUndefined();
      await other.query("SELECT pg_advisory_unlock(hashtext('vigil'), hashtext('cache-efficiency:user_performance'))");
      expect(await measureCacheEfficiency(database.db, config, defaultThresholds)).toBeDefined();
    } finally {
      await other.end();
    }
  });

  it('names a cache table that does not exist', async () => {
    const missing = loadConfig([cacheConfig], { CACHE_TABLE: 'no_such_cache' }).cache;
    await expect(measureCacheEfficiency(database.db, missing, defaultThresholds)).rejects.toThrow(
      'cache table no_such_cache does not exist (CACHE_TABLE)',
    );
  });

  it('runs a counters query that tries to write read-only: it deletes nothing and the window names the variable', async () => {
    const writing = loadConfig([cacheConfig], {
      CACHE_COUNTERS_QUERY:
        'WITH gone AS (DELETE FROM cache_counters RETURNING 1) SELECT 1 AS hits, 0 AS misses, 0 AS errors FROM gone LIMIT 1',
    }).cache;
    const before = await database.db.query<{ count: string }>('SELECT count(*) FROM cache_counters');
    const measurement = await measureCacheEfficiency(database.db, writing, defaultThresholds);
    const counters = measurement?.windows.find((window) => window.source === 'counters');
    expect(counters).toMatchObject({ state: 'no_data', reason: expect.stringMatching(/^CACHE_COUNTERS_QUERY: may only read/) });
    expect((await database.db.query<{ count: string }>('SELECT count(*) FROM cache_counters')).rows).toEqual(before.rows);
    expect(before.rows[0]?.count).not.toBe('0');
  });
});
