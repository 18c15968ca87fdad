import pg from 'pg';
import { cacheConfig } from '../../functions/cache-efficiency/config';
import { type CacheMeasurement, measureCacheEfficiency } from '../../functions/cache-efficiency/measure';
import { snapshotTableName } from '../../functions/cache-efficiency/table-delta';
import { loadConfig } from '../../lib/config';
import { createDatabase, type Database } from '../../lib/db';
import { defaultThresholds } from '../../lib/thresholds';
import { applyAppSchema, migrate } from '../../local/migrate';
import { startEmbeddedPostgres } from '../../local/postgres';
import { type BenchCase, type BenchRow, median } from '../table';
import { simulateSliceCoverage } from './cache-sample-simulation';

/** Entries per cache table measured; VIGIL_BENCH_CACHE_ROWS=1000000 for a shorter run. */
const sizes = (process.env.VIGIL_BENCH_CACHE_ROWS ?? '1000000,10000000').split(',').map(Number);
/** Runs timed per size and server; census pairs (a fresh slice each) per size and server. */
const runs = Number(process.env.VIGIL_BENCH_CACHE_RUNS ?? 3);
const censusPairs = (rows: number) => Number(process.env.VIGIL_BENCH_CACHE_CENSUSES ?? (rows > 2_000_000 ? 3 : 8));
/** The bench's own server (fsync off: a floor) and one as PostgreSQL ships (fsync on); VIGIL_BENCH_CACHE_MODES=fast for the first alone. */
const modes = [
  { fast: true, label: 'fsync off' },
  { fast: false, label: 'default-configured, fsync on' },
].filter((mode) => (process.env.VIGIL_BENCH_CACHE_MODES ?? 'fast,default').split(',').includes(mode.fast ? 'fast' : 'default'));

/**
 * VIGIL_BENCH_CACHE_TRACE=1: every statement of the timed runs timed on the client (a queued
 * statement's wait included), summed per statement and logged after the runs: where a run's time goes.
 */
const traceStatements = process.env.VIGIL_BENCH_CACHE_TRACE === '1';

function statementTracer() {
  const spent = new Map<string, { ms: number; count: number }>();
  const original = pg.Client.prototype.query;
  let tracing = false;
  // biome-ignore lint/suspicious/noExplicitAny: pg's query has a dozen overloads; the tracer passes them all through.
  (pg.Client.prototype as any).query = function (this: pg.Client, ...args: any[]) {
    const started = performance.now();
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    const result = (original as any).apply(this, args);
    const text = typeof args[0] === 'string' ? args[0] : String(args[0]?.text ?? '');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90);
    if (tracing && result && typeof result.then === 'function') {
      result.then(
        () => {
          const entry = spent.get(key) ?? { ms: 0, count: 0 };
          entry.ms += performance.now() - started;
          entry.count += 1;
          spent.set(key, entry);
        },
        () => undefined,
      );
    }
    return result;
  };
  return {
    /** `run` with its statements traced. */
    async during<T>(run: () => Promise<T>): Promise<T> {
      tracing = true;
      try {
        return await run();
      } finally {
        tracing = false;
      }
    },
    stop: () => {
      (pg.Client.prototype as { query: unknown }).query = original;
    },
    report: (runs: number) =>
      [...spent.entries()]
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(
          ([key, { ms, count }]) => `${(ms / runs).toFixed(1).padStart(7)} ms/run  ${String(count / runs).padStart(4)}x  ${key}`,
        ),
  };
}

/** A random version 4 UUID from PostgreSQL's seeded random(): the same keys on every run of the bench. */
const seededUuid = "overlay(overlay(md5(random()::text) placing '4' from 13) placing '8' from 17)::uuid";

/**
 * cacheEfficiency over a cache table (entries calculated over the last week) with a realistic mix
 * between runs (10 % of entries hit, 2 % recalculated, 0.5 % new, 0.1 % deleted; PostgreSQL's
 * random() seeded, so every run of the bench has the same keys and traffic), against a plain
 * count(*) of the same table in the same run: each run's time over its count's, at each size, on
 * each server. Tables of these sizes are measured on a slice of their keys: the first run writes
 * a whole-table census baseline, the second measures the census, then the slice settles at the
 * share its interval needs, then `runs` plain runs are timed. Then `censusPairs` times: a fresh
 * pivot (a new slice) and a census, and the next run's interval against the census. Also the
 * bytes each run writes, against a full snapshot of the table, and the bench process's peak RSS.
 */
export const cacheEfficiencyScale: BenchCase = {
  name: 'cache-efficiency',
  async run(): Promise<BenchRow[]> {
    // The simulated coverage is a case of its own (cache-coverage): it needs no PostgreSQL.
    const results: BenchRow[] = [];
    for (const mode of modes) for (const rows of sizes) results.push(...(await measureAt(rows, mode)));
    return results;
  },
};

const simulatedWindows = 80;
const simulatedSlices = 50;
/**
 * Independent simulated tables per shape (VIGIL_BENCH_CACHE_SIMULATION_SEEDS). The 80 windows of
 * one slice share its entries and 50 slices of 5-15 % of the keys overlap, so one table's 4,000
 * intervals are worth far fewer independent trials: its coverage varies by about 1 point (sd)
 * from seed to seed. The spread between tables gives the coverage's own standard error.
 */
const simulatedSeeds = Number(process.env.VIGIL_BENCH_CACHE_SIMULATION_SEEDS ?? 8);

const simulatedShapes = [
  { label: 'every user alike', activitySigma: 0, ttlWindows: 1, lookupsPerEntry: 0.125 },
  { label: 'log-normal activity, sigma 1', activitySigma: 1, ttlWindows: 1, lookupsPerEntry: 0.15 },
  { label: 'log-normal activity, sigma 1.5', activitySigma: 1.5, ttlWindows: 1, lookupsPerEntry: 0.15 },
  {
    label: 'log-normal activity, sigma 2 (the busiest user ~1,800 x the average)',
    activitySigma: 2,
    ttlWindows: 1,
    lookupsPerEntry: 0.15,
  },
  { label: 'log-normal activity, sigma 1.5, one-hour TTL', activitySigma: 1.5, ttlWindows: 4, lookupsPerEntry: 0.5 },
];

/** The interval against the census over seeded simulated traffic, many slices of several tables (cache-sample-simulation.ts). */
function simulatedCoverage(): BenchRow[] {
  return simulatedShapes.map((shape, index) => {
    const started = performance.now();
    // The first table's seed is the one single-table runs used (32 + shape), so its figure stays comparable.
    const results = Array.from({ length: simulatedSeeds }, (_, table) =>
      simulateSliceCoverage({
        seed: table === 0 ? 32 + index : 1000 * table + index,
        entries: 1_000_000,
        windows: simulatedWindows,
        slices: simulatedSlices,
        arrivals: 0.005,
        departures: 0.001,
        targetHalfWidthPoints: 1,
        ...shape,
      }),
    );
    const intervals = results.reduce((sum, result) => sum + result.intervals, 0);
    const covered = results.reduce((sum, result) => sum + result.covered, 0);
    const coverage = (covered / intervals) * 100;
    const perTable = results.map((result) => (result.covered / result.intervals) * 100);
    const tableMean = perTable.reduce((sum, value) => sum + value, 0) / perTable.length;
    const tableSd = Math.sqrt(
      perTable.reduce((sum, value) => sum + (value - tableMean) ** 2, 0) / Math.max(1, perTable.length - 1),
    );
    const coverageSe = tableSd / Math.sqrt(perTable.length);
    const averaged = (pick: (result: (typeof results)[number]) => number) =>
      results.reduce((sum, result) => sum + pick(result), 0) / results.length;
    return {
      case: `slice interval covers the census, simulated, 1,000,000 entries, ${shape.label}`,
      figure: coverage,
      unit: '% of intervals',
      n: intervals,
      reference: `${covered} of ${intervals} (${simulatedSeeds} tables x ${simulatedSlices} slices x ${simulatedWindows} windows of 15 min, TTL ${shape.ttlWindows * 15} min, ${shape.lookupsPerEntry} lookups per entry per window); per table ${perTable.map((value) => value.toFixed(1)).join(' / ')} %, standard error of the coverage ${coverageSe.toFixed(2)} points (between tables; the windows of one table are not independent); (estimate - census) / standard error: mean ${averaged((result) => result.standardizedError.mean).toFixed(3)}, sd ${averaged((result) => result.standardizedError.sd).toFixed(3)}; half width median ${averaged((result) => result.medianHalfWidthPoints).toFixed(2)}, max ${Math.max(...results.map((result) => result.largestHalfWidthPoints)).toFixed(2)} points; slice median ${(averaged((result) => result.medianFraction) * 100).toFixed(1)} % of the keys; census ${Math.min(...results.map((result) => result.censusRange[0])).toFixed(1)}-${Math.max(...results.map((result) => result.censusRange[1])).toFixed(1)} %; ${((performance.now() - started) / 1000).toFixed(0)} s; target >= 95 %: ${coverage >= 95 ? 'met' : 'missed'}${Math.abs(coverage - 95) < 1.96 * coverageSe ? ' (within 1.96 standard errors of 95 %)' : ''}`,
    };
  });
}

/** `npm run bench -- cache-coverage`: the simulated coverage alone, without PostgreSQL. */
export const cacheCoverageSimulation: BenchCase = {
  name: 'cache-coverage',
  async run(): Promise<BenchRow[]> {
    return simulatedCoverage();
  },
};

async function traffic(db: Database, rows: number, seed: number) {
  await db.query('SELECT setseed($1)', [seed]);
  await db.query(`UPDATE user_performance SET access_count = access_count + 1, last_accessed = now() WHERE random() < 0.10`);
  await db.query(
    `UPDATE user_performance SET calculated_at = now(), access_count = 0, expires_at = now() + interval '15 minutes' WHERE random() < 0.02`,
  );
  await db.query(
    `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
       SELECT ${seededUuid}, '{}'::jsonb, 10, 100, now(), now() + interval '15 minutes', 0 FROM generate_series(1, $1::int)`,
    [rows / 200],
  );
  await db.query('DELETE FROM user_performance WHERE random() < 0.001');
  await db.query('VACUUM ANALYZE user_performance');
}

interface Sizes {
  snapshot: number;
  census: number;
  recalculationsInserted: number;
  recalculationRowBytes: number;
}

async function sizesOf(db: Database): Promise<Sizes> {
  const name = snapshotTableName('user_performance');
  const { rows } = await db.query<{ snapshot: string; census: string | null; inserted: string; row_bytes: number | null }>(
    `SELECT pg_total_relation_size('vigil.${name}') AS snapshot,
            pg_total_relation_size(to_regclass('vigil.${name}_census')) AS census,
            (SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = 'vigil' AND relname = 'cache_recalculations') AS inserted,
            (SELECT avg(pg_column_size(r.*))::float8 FROM vigil.cache_recalculations r) AS row_bytes`,
  );
  const row = rows[0] as { snapshot: string; census: string | null; inserted: string; row_bytes: number | null };
  // A heap tuple's header and line pointer (28 bytes) beside its data.
  return {
    snapshot: Number(row.snapshot),
    census: Number(row.census ?? 0),
    recalculationsInserted: Number(row.inserted),
    recalculationRowBytes: (row.row_bytes ?? 60) + 28,
  };
}

const tableWindowOf = (measurement: CacheMeasurement | undefined) => {
  const window = measurement?.windows.find((candidate) => candidate.source === 'table');
  if (!window) throw new Error('the bench run measured no table window');
  return window;
};

// Over 80 lines: the bench case's runs in order, as docs/benchmarks.md describes them.
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
  const label = `${rows.toLocaleString('en')} entries, ${mode.label}`;
  const log = (message: string) => process.stderr.write(`  cache-efficiency ${label}: ${message}\n`);
  try {
    await migrate(databaseUrl);
    await applyAppSchema(databaseUrl);
    // The cache table without its foreign key: a million users are not needed to measure the cache.
    await db.query('ALTER TABLE user_performance DROP CONSTRAINT user_performance_user_id_fkey');
    await db.query('SELECT setseed(0.32)');
    await db.query(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, last_accessed, access_count)
         SELECT ${seededUuid}, '{}'::jsonb, round((5 + random() * 60)::numeric, 2), (50 + random() * 400)::int,
                now() - random() * interval '7 days', now() + random() * interval '1 hour', now() - random() * interval '1 hour',
                (random() * 20)::int
         FROM generate_series(1, $1::int)`,
      [rows],
    );
    await db.query('VACUUM ANALYZE user_performance');
    // A census only when the bench asks for one: the timed runs are the plain ones of the 15-minute schedule.
    // VIGIL_BENCH_CACHE_HALF_WIDTH: the interval's configured half width (the function's default when unset).
    const halfWidth = process.env.VIGIL_BENCH_CACHE_HALF_WIDTH;
    const config = loadConfig([cacheConfig], {
      CACHE_MIN_LOOKUPS: '1',
      CACHE_CENSUS_EVERY_HOURS: '168',
      ...(halfWidth ? { CACHE_SAMPLE_HALF_WIDTH_POINTS: halfWidth } : {}),
    }).cache;
    const measure = () => measureCacheEfficiency(db, config, defaultThresholds, { concurrentScan: true });
    let seed = 0;
    const nextTraffic = () => {
      seed = (seed + 0.0137) % 1;
      return traffic(db, rows, seed);
    };

    // The first run: a baseline of the slice and, as no census was ever taken, of the whole table.
    let started = performance.now();
    await measure();
    const censusStartMs = performance.now() - started;
    const fullSnapshotBytes = (await sizesOf(db)).census;
    if (fullSnapshotBytes === 0) throw new Error('the first run took no census baseline');
    const coverage: boolean[] = [];
    const censusMeasureMs: number[] = [];
    const halfWidths: number[] = [];
    const recordCensus = (measurement: CacheMeasurement | undefined) => {
      if (measurement?.census?.withinInterval === undefined || measurement.census.withinInterval === null) {
        throw new Error(`a census run gave no comparison: ${JSON.stringify(tableWindowOf(measurement))}`);
      }
      coverage.push(measurement.census.withinInterval);
      const window = tableWindowOf(measurement);
      const sample = window.state === 'ok' ? window.sample : undefined;
      const census = measurement.census.census;
      const standardized =
        sample && census.state === 'ok'
          ? (((sample.hitRatio.low + sample.hitRatio.high) / 2 - census.hitRatioPercent) / sample.standardErrorPoints).toFixed(2)
          : '-';
      log(
        `census ${coverage.length}: slice ${sample?.hitRatio.low}-${sample?.hitRatio.high} % (${sample?.entries} entries, ${((sample?.fraction ?? 0) * 100).toFixed(2)} % of the keys), census ${census.state === 'ok' ? census.hitRatioPercent : census.reason} %: ${measurement.census.withinInterval ? 'held' : 'missed'} ((midpoint - census) / SE ${standardized})`,
      );
    };
    await nextTraffic();
    started = performance.now();
    recordCensus(await measure());
    censusMeasureMs.push(performance.now() - started);
    // The slice settles: it grows (or shrinks) to the share its interval needs.
    let fractions: number[] = [];
    for (let settle = 0; settle < 6; settle += 1) {
      await nextTraffic();
      const measurement = await measure();
      fractions.push(measurement?.nextSliceFraction ?? 1);
      const last = fractions.at(-1) as number;
      if (fractions.length >= 2 && fractions.at(-2) === last) break;
    }
    log(`slice settled at ${((fractions.at(-1) ?? 1) * 100).toFixed(2)} % after ${fractions.length} runs`);

    const runTimes: number[] = [];
    const countTimes: number[] = [];
    const ratios: number[] = [];
    const writeShares: number[] = [];
    const writtenBytes: number[] = [];
    const sliceEntries: number[] = [];
    fractions = [];
    const tracer = traceStatements ? statementTracer() : undefined;
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    try {
      for (let run = 0; run < runs; run += 1) {
        await nextTraffic();
        const countStarted = performance.now();
        await db.query('SELECT count(*) FROM user_performance');
        const count = performance.now() - countStarted;
        const before = await sizesOf(db);
        started = performance.now();
        const measurement = tracer ? await tracer.during(measure) : await measure();
        const elapsed = performance.now() - started;
        const after = await sizesOf(db);
        const window = tableWindowOf(measurement);
        if (window.state !== 'ok' || !window.sample)
          throw new Error(`the bench window was not a sampled estimate: ${JSON.stringify(window)}`);
        const written =
          after.snapshot +
          (after.recalculationsInserted - before.recalculationsInserted) * after.recalculationRowBytes +
          after.census;
        countTimes.push(count);
        runTimes.push(elapsed);
        ratios.push(elapsed / count);
        writtenBytes.push(written);
        writeShares.push((written / fullSnapshotBytes) * 100);
        halfWidths.push(window.sample.halfWidthPoints);
        fractions.push(window.sample.fraction);
        sliceEntries.push(window.sample.entries);
        log(
          `run ${run + 1}: ${elapsed.toFixed(0)} ms against count(*) ${count.toFixed(0)} ms, ${(written / 1024 / 1024).toFixed(2)} MiB written, ±${window.sample.halfWidthPoints} points`,
        );
      }
    } finally {
      clearInterval(sampler);
      tracer?.stop();
    }
    for (const line of tracer?.report(runs) ?? []) log(line);

    // Fresh slices, each checked against a census of its window: the state forgets its slice (the
    // next run is a baseline at a new pivot) and its last census.
    for (let pair = 1; pair < censusPairs(rows); pair += 1) {
      await db.query(
        `UPDATE vigil.cache_source_state SET sample_pivot = NULL, snapshot_fraction = NULL, snapshot_taken_at = NULL, last_census_at = NULL
         WHERE cache_table = 'user_performance'`,
      );
      await nextTraffic();
      await measure();
      await nextTraffic();
      started = performance.now();
      recordCensus(await measure());
      censusMeasureMs.push(performance.now() - started);
    }
    const covered = coverage.filter(Boolean).length;
    const ratio = median(ratios);
    const share = median(writeShares);
    const range = (values: number[], digits: number) =>
      `min ${Math.min(...values).toFixed(digits)}, max ${Math.max(...values).toFixed(digits)}`;
    return [
      {
        case: `cacheEfficiency run / count(*), ${label}`,
        figure: ratio,
        unit: 'x (median)',
        n: runs,
        reference: `${range(ratios, 2)} x; run ${median(runTimes).toFixed(0)} ms, count(*) ${median(countTimes).toFixed(0)} ms (medians); a slice of ${(median(fractions) * 100).toFixed(2)} % of the keys, ${Math.round(median(sliceEntries)).toLocaleString('en')} entries; target <= 1 x: ${Math.max(...ratios) <= 1 ? 'met' : ratio <= 1 ? 'met at the median, not every run' : 'missed'}`,
      },
      {
        case: `cacheEfficiency writes per run / a full snapshot, ${label}`,
        figure: share,
        unit: '% (median)',
        n: runs,
        reference: `${range(writeShares, 2)} %; ${(median(writtenBytes) / 1024 / 1024).toFixed(2)} MiB (the slice's snapshot and the recalculations recorded) against ${(fullSnapshotBytes / 1024 / 1024).toFixed(1)} MiB for the whole table; target <= 2 %: ${Math.max(...writeShares) <= 2 ? 'met' : 'missed'}`,
      },
      {
        case: `slice interval half width, ${label}`,
        figure: median(halfWidths),
        unit: 'points (median)',
        n: runs,
        reference: `${range(halfWidths, 3)} points; target <= ${config.sampleHalfWidthPoints}`,
      },
      {
        case: `slice interval covers the census, ${label}`,
        figure: (covered / coverage.length) * 100,
        unit: '% of windows',
        n: coverage.length,
        reference: `${covered} of ${coverage.length}: ${coverage.length} slices (fresh pivots), each window against a census of the same window; too few for the 95 % target alone (the simulated rows carry it)`,
      },
      {
        case: `census runs (whole-table baseline, then measured), ${label}`,
        figure: median(censusMeasureMs) / median(countTimes),
        unit: 'x count(*) (median)',
        n: censusMeasureMs.length,
        reference: `baseline run ${censusStartMs.toFixed(0)} ms (writes a full snapshot, ${(fullSnapshotBytes / 1024 / 1024).toFixed(1)} MiB), measuring run ${median(censusMeasureMs).toFixed(0)} ms (${range(censusMeasureMs, 0)}); once per CACHE_CENSUS_EVERY_HOURS (168)`,
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
