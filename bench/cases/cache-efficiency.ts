import pg from 'pg';
import { cacheConfig } from '../../functions/cache-efficiency/config';
import { measureCacheEfficiency } from '../../functions/cache-efficiency/measure';
import { snapshotTableName } from '../../functions/cache-efficiency/table-delta';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { defaultThresholds } from '../../lib/thresholds';
import { applyAppSchema, migrate } from '../../local/migrate';
import { startEmbeddedPostgres } from '../../local/postgres';
import { type BenchCase, type BenchRow, median } from '../table';

/** Entries per cache table measured; VIGIL_BENCH_CACHE_ROWS=1000000 for a shorter run. */
const sizes = (process.env.VIGIL_BENCH_CACHE_ROWS ?? '1000000,10000000').split(',').map(Number);
const runs = 3;
/** The bench's own server (fsync off: a floor) and one as PostgreSQL ships (fsync on). */
const modes = [
  { fast: true, label: 'fsync off' },
  { fast: false, label: 'default-configured, fsync on' },
];

/**
 * One cacheEfficiency run over a cache table (entries calculated over the last week) with a
 * realistic mix between runs (10 % of entries hit, 2 % recalculated, 0.5 % new, 0.1 % deleted),
 * against a plain count(*) of the same table in the same run as the floor: the ratio of each run
 * to its own count, at each size, on each server. Also the snapshot's size and the bench process's
 * peak RSS (the run is set-based: its memory must not grow with the table).
 */
export const cacheEfficiencyScale: BenchCase = {
  name: 'cache-efficiency',
  async run(): Promise<BenchRow[]> {
    const results: BenchRow[] = [];
    for (const mode of modes) for (const rows of sizes) results.push(...(await measureAt(rows, mode)));
    return results;
  },
};

async function measureAt(rows: number, mode: (typeof modes)[number]): Promise<BenchRow[]> {
  const server = await startEmbeddedPostgres({ fast: mode.fast });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE bench_cache');
  await admin.end();
  const url = new URL(server.adminUrl);
  url.pathname = '/bench_cache';
  const databaseUrl = url.toString();
  const db = createDatabase(
    loadConfig(['database'], { DATABASE_URL: databaseUrl, DATABASE_STATEMENT_TIMEOUT_MS: '600000' }).database,
  );
  try {
    await migrate(databaseUrl);
    await applyAppSchema(databaseUrl);
    // The cache table without its foreign key: a million users are not needed to measure the cache.
    await db.query('ALTER TABLE user_performance DROP CONSTRAINT user_performance_user_id_fkey');
    await db.query(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, last_accessed, access_count)
         SELECT gen_random_uuid(), '{}'::jsonb, round((5 + random() * 60)::numeric, 2), (50 + random() * 400)::int,
                now() - random() * interval '7 days', now() + random() * interval '1 hour', now() - random() * interval '1 hour',
                (random() * 20)::int
         FROM generate_series(1, $1::int)`,
      [rows],
    );
    await db.query('VACUUM ANALYZE user_performance');
    const config = loadConfig([cacheConfig], { CACHE_MIN_LOOKUPS: '1' }).cache;
    await measureCacheEfficiency(db, config, defaultThresholds, { concurrentScan: true });
    const runTimes: number[] = [];
    const countTimes: number[] = [];
    const ratios: number[] = [];
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    try {
      for (let run = 0; run < runs; run += 1) {
        await db.query(
          `UPDATE user_performance SET access_count = access_count + 1, last_accessed = now() WHERE random() < 0.10`,
        );
        await db.query(
          `UPDATE user_performance SET calculated_at = now(), access_count = 0, expires_at = now() + interval '15 minutes' WHERE random() < 0.02`,
        );
        await db.query(
          `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
             SELECT gen_random_uuid(), '{}'::jsonb, 10, 100, now(), now() + interval '15 minutes', 0 FROM generate_series(1, $1::int)`,
          [rows / 200],
        );
        await db.query('DELETE FROM user_performance WHERE random() < 0.001');
        await db.query('VACUUM ANALYZE user_performance');
        const countStarted = performance.now();
        await db.query('SELECT count(*) FROM user_performance');
        const count = performance.now() - countStarted;
        const started = performance.now();
        const measurement = await measureCacheEfficiency(db, config, defaultThresholds, { concurrentScan: true });
        const elapsed = performance.now() - started;
        if (measurement?.windows[0]?.state !== 'ok') throw new Error('the bench window had no data');
        countTimes.push(count);
        runTimes.push(elapsed);
        ratios.push(elapsed / count);
      }
    } finally {
      clearInterval(sampler);
    }
    const snapshot = `vigil.${snapshotTableName('user_performance')}`;
    const { rows: sizesRows } = await db.query<{ snapshot_rows: string; entries: string; snapshot_bytes: string }>(
      `SELECT (SELECT count(*) FROM ${snapshot}) AS snapshot_rows, (SELECT count(*) FROM user_performance) AS entries,
                pg_total_relation_size('${snapshot}') AS snapshot_bytes`,
    );
    const size = sizesRows[0] as { snapshot_rows: string; entries: string; snapshot_bytes: string };
    const ratio = median(ratios);
    const label = `${rows.toLocaleString('en')} entries, ${mode.label}`;
    return [
      {
        case: `cacheEfficiency run / count(*), ${label}`,
        figure: ratio,
        unit: 'x (median)',
        n: runs,
        reference: `min ${Math.min(...ratios).toFixed(1)} x, max ${Math.max(...ratios).toFixed(1)} x; run ${median(runTimes).toFixed(0)} ms, count(*) ${median(countTimes).toFixed(0)} ms (medians); target <= 3 x: ${ratio <= 3 ? 'met' : 'missed'}`,
      },
      {
        case: `cache snapshot written per run, ${label}`,
        figure: Number(size.snapshot_bytes) / 1024 / 1024,
        unit: 'MiB',
        n: 1,
        reference: `${size.snapshot_rows} snapshot rows for ${size.entries} cache entries: the whole snapshot is rewritten each run`,
      },
      {
        case: `bench process peak RSS, ${label}`,
        figure: peakRss / 1024 / 1024,
        unit: 'MiB',
        n: runs,
        reference: 'the comparison runs in PostgreSQL: the function holds aggregates only',
      },
    ];
  } finally {
    await db.end();
    await server.stop();
  }
}
