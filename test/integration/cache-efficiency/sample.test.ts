import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheConfig } from '../../../functions/cache-efficiency/config';
import { measureCacheEfficiency, recentWindows } from '../../../functions/cache-efficiency/measure';
import { type KeySlice, type SliceSums, sliceCondition, sliceEstimate } from '../../../functions/cache-efficiency/sample';
import { keyHash, lowKey, snapshotTableName } from '../../../functions/cache-efficiency/table-delta';
import type { CacheWindow, MeasuredWindow } from '../../../functions/cache-efficiency/window';
import { loadConfig } from '../../../lib/config';
import { defaultThresholds } from '../../../lib/thresholds';
import { createTestDatabase, type TestDatabase } from '../../support/database';

/** A version 4 UUID from PostgreSQL's seeded random(): the same keys on every run. */
const seededUuid = "overlay(overlay(md5(random()::text) placing '4' from 13) placing '8' from 17)::uuid";
const entries = 100_000;
const snapshot = `vigil.${snapshotTableName('user_performance')}`;

/*
 * A cache table large enough to be sampled (CACHE_SAMPLE_FROM_ENTRIES lowered to 20,000), with
 * seeded keys and traffic whose every hit, recalculation, new and deleted entry is known: the
 * slice's counts are checked against those of its keys, the census's against all of them.
 */
describe('cacheEfficiency on a slice of a large cache table', () => {
  let database: TestDatabase;
  let traffic: pg.Client;
  const env = {
    CACHE_MIN_LOOKUPS: '1',
    CACHE_WARMUP_MINUTES: '0',
    CACHE_SAMPLE_FROM_ENTRIES: '20000',
  };
  /** What the packed snapshot holds against the slice's keys now: its entries, rows and bytes, and the slice's keys it lacks. */
  const packedSnapshot = async (slice: KeySlice) => {
    const { rows } = await traffic.query<
      Record<'entries' | 'rows' | 'largestRow' | 'bytes' | 'dataBytes' | 'inSlice' | 'missing', number>
    >(
      `SELECT (SELECT coalesce(sum(cardinality(key_hashes)), 0)::int FROM ${snapshot}) AS entries,
              (SELECT sum(pg_column_size(key_hashes) + pg_column_size(counts) + pg_column_size(calculated))::int FROM ${snapshot}) AS "dataBytes",
              (SELECT count(*)::int FROM ${snapshot}) AS rows,
              (SELECT max(cardinality(key_hashes)) FROM ${snapshot}) AS "largestRow",
              pg_total_relation_size('${snapshot}')::int AS bytes,
              (SELECT count(*)::int FROM user_performance WHERE ${sliceCondition('user_id', slice)}) AS "inSlice",
              (SELECT count(*)::int FROM (SELECT ${keyHash('user_id')} FROM user_performance WHERE ${sliceCondition('user_id', slice)}
                                          EXCEPT SELECT unnest(key_hashes) FROM ${snapshot}) absent) AS missing`,
    );
    if (!rows[0]) throw new Error('no row');
    return rows[0];
  };
  const run = async (overrides: Record<string, string> = {}) => {
    const config = loadConfig([cacheConfig], { ...env, ...overrides }).cache;
    const measurement = await measureCacheEfficiency(database.db, config, defaultThresholds, { concurrentScan: true });
    if (!measurement) throw new Error('lock not acquired');
    return { measurement, table: measurement.windows.find((window) => window.source === 'table') as CacheWindow };
  };
  const state = async () =>
    (
      await database.db.query<{
        sample_pivot: string | null;
        snapshot_fraction: number | null;
        next_fraction: number | null;
        census_taken_at: Date | null;
        census_rows: string | null;
      }>(
        `SELECT sample_pivot::text, snapshot_fraction, next_fraction, census_taken_at, census_rows FROM vigil.cache_source_state
         WHERE cache_table = 'user_performance'`,
      )
    ).rows[0];

  /** The run's snapshot is packed and holds exactly the slice the state says it holds. */
  const expectPackedSnapshotOfStoredSlice = async () => {
    const now = await state();
    const packed = await packedSnapshot({ pivot: now?.sample_pivot as string, fraction: now?.snapshot_fraction as number });
    expect(packed.entries).toBe(packed.inSlice);
    expect(packed.missing).toBe(0);
  };
  /** One window of traffic; what it did, key by key. */
  const window = async (seed: number) => {
    await traffic.query('SELECT setseed($1)', [seed]);
    const ids = async (sql: string) => (await traffic.query<{ user_id: string }>(sql)).rows.map((row) => row.user_id);
    const hit = await ids(
      'UPDATE user_performance SET access_count = access_count + 1 WHERE random() < 0.10 RETURNING user_id::text',
    );
    const hitTwice = await ids(
      'UPDATE user_performance SET access_count = access_count + 2 WHERE random() < 0.01 RETURNING user_id::text',
    );
    const recalculated = await ids(
      'UPDATE user_performance SET calculated_at = clock_timestamp(), access_count = 0 WHERE random() < 0.02 RETURNING user_id::text',
    );
    const created = await ids(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
       SELECT ${seededUuid}, '{}', 5, 100, clock_timestamp(), now() + interval '15 minutes', 0 FROM generate_series(1, 500)
       RETURNING user_id::text`,
    );
    const deleted = await ids('DELETE FROM user_performance WHERE random() < 0.001 RETURNING user_id::text');
    await traffic.query('ANALYZE user_performance');
    return { hit, hitTwice, recalculated, created, deleted };
  };
  type Traffic = Awaited<ReturnType<typeof window>>;

  /** The hits and misses of the keys in `slice` (null: all), as the table source counts them. */
  const expected = async (done: Traffic, slice: KeySlice | null) => {
    const { rows } = await traffic.query<{ hits: string; misses: string }>(
      `WITH hit AS (SELECT k AS user_id, count(*) AS times FROM unnest($1::uuid[]) k GROUP BY k),
            twice AS (SELECT unnest($2::uuid[]) AS user_id), recalculated AS (SELECT unnest($3::uuid[]) AS user_id),
            created AS (SELECT unnest($4::uuid[]) AS user_id), deleted AS (SELECT unnest($5::uuid[]) AS user_id),
            gone AS (SELECT user_id FROM recalculated UNION SELECT user_id FROM deleted),
            hits AS (SELECT user_id, 1 AS n FROM hit UNION ALL SELECT user_id, 2 FROM twice),
            misses AS (SELECT user_id FROM recalculated UNION SELECT user_id FROM created)
       SELECT (SELECT coalesce(sum(n), 0) FROM hits WHERE user_id NOT IN (SELECT user_id FROM gone) AND ${sliceCondition('user_id', slice)}) AS hits,
              (SELECT count(*) FROM misses WHERE user_id NOT IN (SELECT user_id FROM deleted) AND ${sliceCondition('user_id', slice)}) AS misses`,
      [done.hit, done.hitTwice, done.recalculated, done.created, done.deleted],
    );
    return { hits: Number(rows[0]?.hits), misses: Number(rows[0]?.misses) };
  };

  /** The per-entry sums of the keys in `slice`, from what each key did: what the interval is computed from. */
  const expectedSums = async (done: Traffic, slice: KeySlice, entriesNow: number): Promise<SliceSums> => {
    const { rows } = await traffic.query<Record<string, number>>(
      `WITH hit AS (SELECT k AS user_id, count(*) AS times FROM unnest($1::uuid[]) k GROUP BY k),
            twice AS (SELECT unnest($2::uuid[]) AS user_id), recalculated AS (SELECT unnest($3::uuid[]) AS user_id),
            created AS (SELECT unnest($4::uuid[]) AS user_id), deleted AS (SELECT unnest($5::uuid[]) AS user_id),
            gone AS (SELECT user_id FROM recalculated UNION SELECT user_id FROM deleted),
            hits AS (SELECT user_id, 1 AS n FROM hit UNION ALL SELECT user_id, 2 FROM twice),
            misses AS (SELECT user_id FROM recalculated UNION SELECT user_id FROM created),
            entry_hits AS (SELECT user_id, sum(n) AS h FROM hits WHERE user_id NOT IN (SELECT user_id FROM gone) GROUP BY user_id),
            entry_misses AS (SELECT user_id, 1 AS m FROM misses WHERE user_id NOT IN (SELECT user_id FROM deleted)),
            entry AS (SELECT user_id, coalesce(h, 0)::float8 AS h, (coalesce(h, 0) + coalesce(m, 0))::float8 AS l
                      FROM entry_hits FULL JOIN entry_misses USING (user_id) WHERE ${sliceCondition('user_id', slice)})
       SELECT sum(h) AS hits, sum(l - h) AS misses, sum(h * h) AS "hitsSquared", sum(l * l) AS "lookupsSquared",
              sum(h * l) AS "hitsTimesLookups", sum(h ^ 4) AS "hitsFourth", sum(h ^ 3 * l) AS "hitsCubedTimesLookups",
              sum(h ^ 2 * l ^ 2) AS "hitsSquaredTimesLookupsSquared", sum(h * l ^ 3) AS "hitsTimesLookupsCubed",
              sum(l ^ 4) AS "lookupsFourth"
       FROM entry`,
      [done.hit, done.hitTwice, done.recalculated, done.created, done.deleted],
    );
    return { ...(rows[0] as Omit<SliceSums, 'entries'>), entries: entriesNow };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    traffic = new pg.Client({ connectionString: database.url });
    await traffic.connect();
    await traffic.query('ALTER TABLE user_performance DROP CONSTRAINT user_performance_user_id_fkey');
    await traffic.query('SELECT setseed(0.5)');
    await traffic.query(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
       SELECT ${seededUuid}, '{}', 5, 100, now() - random() * interval '7 days', now() + interval '1 hour', (random() * 20)::int
       FROM generate_series(1, ${entries})`,
    );
    await traffic.query('VACUUM ANALYZE user_performance');
    // The pivot a first run would draw at random, fixed here: with the seeded keys and traffic, every run of this file counts the same.
    await traffic.query(
      "INSERT INTO vigil.cache_source_state (cache_table, sample_pivot) VALUES ('user_performance', '6a1e3c2d-5b4f-4a39-8c27-1d0e9f8b7a65')",
    );
  });

  afterAll(async () => {
    await traffic?.end();
    await database?.drop();
  });

  it('reads a fixed slice of the key range through the primary key, snapshots only it, and counts its hits and misses exactly', async () => {
    const first = await run();
    expect(first.table).toMatchObject({ state: 'no_data', reason: expect.stringContaining('first run') });
    const started = await state();
    // 10,000 entries (the fewest a slice starts with) of about 100,000: a tenth of the key space.
    expect(started?.snapshot_fraction).toBeCloseTo(0.1, 6);
    const slice = { pivot: started?.sample_pivot as string, fraction: started?.snapshot_fraction as number };
    const { rows: plan } = await traffic.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT user_id, access_count, calculated_at FROM user_performance WHERE ${sliceCondition('user_id', slice)}`,
    );
    const planText = plan.map((line) => line['QUERY PLAN']).join('\n');
    expect(planText).toContain('user_performance_pkey');
    expect(planText).not.toContain('Seq Scan');
    const held = await packedSnapshot(slice);
    expect(held.entries).toBe(held.inSlice);
    expect(held.missing).toBe(0);
    expect(held.entries).toBeGreaterThan(8_000);
    expect(held.entries).toBeLessThan(12_000);
    // Packed: a row per 8,000 entries the planner expects (10,000: two rows of about 5,000, by the
    // keys' hashes), under 18 bytes of data an entry (a row each took 60); the relation's pages and
    // its TOAST index round 10,000 entries up a little.
    expect(held.rows).toBe(2);
    expect(held.largestRow).toBeLessThan(5_500);
    expect(held.dataBytes / held.entries).toBeLessThan(18);
    expect(held.bytes / held.entries).toBeLessThan(30);

    const done = await window(0.25);
    const second = await run();
    const inSlice = await expected(done, slice);
    expect(second.table).toMatchObject({ state: 'ok', hits: inSlice.hits, misses: inSlice.misses });
    const sampled = second.table as MeasuredWindow;
    expect(sampled.sample).toMatchObject({
      fraction: slice.fraction,
      pivot: slice.pivot,
      lookups: inSlice.hits + inSlice.misses,
    });
    const { rows: now } = await traffic.query<{ count: number }>(
      `SELECT count(*)::int FROM user_performance WHERE ${sliceCondition('user_id', slice)}`,
    );
    expect(sampled.sample?.entries).toBe(now[0]?.count);
    // The interval from the comparison's sums is the one from the sums of what each key did.
    const byHand = sliceEstimate(await expectedSums(done, slice, now[0]?.count ?? 0), slice);
    expect(byHand?.degreesOfFreedom).toBeGreaterThan(10);
    expect(sampled.sample?.degreesOfFreedom).toBeCloseTo(byHand?.degreesOfFreedom ?? 0, 6);
    expect(sampled.sample?.standardErrorPoints).toBeCloseTo(byHand?.standardErrorPoints ?? 0, 9);
    expect(sampled.sample?.halfWidthPoints).toBe(byHand?.halfWidthPoints);
    expect(sampled.sample?.halfWidthPoints).toBeGreaterThan(0);
    expect(sampled.sample?.hitRatio.low).toBeLessThan(sampled.hitRatioPercent);
    expect(sampled.sample?.hitRatio.high).toBeGreaterThan(sampled.hitRatioPercent);
    expect(sampled.details.slice).toMatchObject({ pivot: slice.pivot, share: slice.fraction });
    // Stored, and read back the same by what alerts and decides.
    const [stored] = await recentWindows(database.db, 'user_performance', 1);
    expect(stored).toMatchObject({
      state: 'ok',
      hits: inSlice.hits,
      sample: {
        fraction: slice.fraction,
        hitRatio: sampled.sample?.hitRatio,
        degreesOfFreedom: sampled.sample?.degreesOfFreedom,
        halfWidthPoints: sampled.sample?.halfWidthPoints,
      },
    });
  });

  it("checks the slice's estimate against a census of the whole table over the same window", async () => {
    // The first sampled run began a census (none had ever been taken); the second measured it.
    const census = await database.db.query<{ last_census_at: Date | null; census_taken_at: Date | null }>(
      "SELECT last_census_at, census_taken_at FROM vigil.cache_source_state WHERE cache_table = 'user_performance'",
    );
    expect(census.rows[0]?.last_census_at).not.toBeNull();
    expect(census.rows[0]?.census_taken_at).toBeNull();
    const { rows: tables } = await traffic.query<{ count: number }>(
      `SELECT count(*)::int FROM pg_tables WHERE schemaname = 'vigil' AND tablename LIKE 'cache_snapshot%census'`,
    );
    expect(tables[0]?.count).toBe(0);

    // Ask for one now, as CACHE_CENSUS_EVERY_HOURS would a week later: a baseline, then the census of the next window.
    await database.db.query("UPDATE vigil.cache_source_state SET last_census_at = now() - interval '169 hours'");
    await window(0.31);
    const { rows: counted } = await traffic.query<{ count: string }>('SELECT count(*) FROM user_performance');
    const baseline = await run();
    expect(baseline.measurement.census).toBeUndefined();
    expect((await state())?.census_rows).toBe(counted[0]?.count);
    const done = await window(0.37);
    const { measurement, table } = await run();
    const whole = await expected(done, null);
    expect(measurement.census?.census).toMatchObject({ state: 'ok', hits: whole.hits, misses: whole.misses });
    const sampled = table as MeasuredWindow;
    const censusRatio = (measurement.census as { census: MeasuredWindow }).census.hitRatioPercent;
    expect(measurement.census?.windowStart).toEqual(table.windowStart);
    expect(measurement.census?.withinInterval).toBe(
      (sampled.sample?.hitRatio.low as number) <= censusRatio && censusRatio <= (sampled.sample?.hitRatio.high as number),
    );
    expect(measurement.census?.withinInterval).toBe(true);
    expect(table.details.census).toMatchObject({ hits: whole.hits, misses: whole.misses, withinInterval: true });
    expect((await state())?.census_taken_at).toBeNull();
  });
  it('grows and shrinks the slice from the same pivot, each window exact over the keys both snapshots hold', async () => {
    await window(0.41);
    // A narrower interval asked for: this window is over the slice as it is; the next run reads a larger one.
    const asked = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '0.5' });
    const before = await state();
    const small = { pivot: before?.sample_pivot as string, fraction: before?.snapshot_fraction as number };
    expect(asked.measurement.nextSliceFraction).toBeGreaterThan(small.fraction);
    expect(before?.next_fraction).toBe(asked.measurement.nextSliceFraction);

    const grownWindow = await window(0.43);
    const grown = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '0.5' });
    const after = await state();
    expect(after?.sample_pivot).toBe(small.pivot);
    expect(after?.snapshot_fraction).toBe(before?.next_fraction);
    // The window counts the keys both snapshots hold: the smaller, earlier slice, exactly.
    expect(grown.table).toMatchObject({ state: 'ok', ...(await expected(grownWindow, small)) });
    expect((grown.table as MeasuredWindow).sample?.fraction).toBe(small.fraction);
    const large = { pivot: small.pivot, fraction: after?.snapshot_fraction as number };
    const held = await packedSnapshot(large);
    expect(held.entries).toBe(held.inSlice);
    expect(held.missing).toBe(0);

    // A width far wider than the interval: the next slice is smaller. The packed snapshot keeps no
    // whole keys to cut it by, so that run reads the larger slice once, its window exact over it,
    // and keeps only the smaller one; the run after is exact over that.
    await window(0.47);
    const relaxed = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    const relaxedSlice = { pivot: small.pivot, fraction: (await state())?.snapshot_fraction as number };
    expect(relaxedSlice.fraction).toBeGreaterThanOrEqual(large.fraction);
    expect(relaxed.measurement.nextSliceFraction).toBeLessThan(relaxedSlice.fraction);
    const shrunkWindow = await window(0.53);
    const shrunk = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    const smaller = { pivot: small.pivot, fraction: (await state())?.snapshot_fraction as number };
    expect(smaller.fraction).toBe(relaxed.measurement.nextSliceFraction);
    expect(shrunk.table).toMatchObject({ state: 'ok', ...(await expected(shrunkWindow, relaxedSlice)) });
    expect((shrunk.table as MeasuredWindow).sample?.fraction).toBe(relaxedSlice.fraction);
    const kept = await packedSnapshot(smaller);
    expect(kept.entries).toBe(kept.inSlice);
    expect(kept.missing).toBe(0);
    const afterWindow = await window(0.61);
    const after2 = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    expect(after2.table).toMatchObject({ state: 'ok', ...(await expected(afterWindow, smaller)) });
    expect((after2.table as MeasuredWindow).sample?.fraction).toBe(smaller.fraction);
  });

  it('compares a slice with the snapshot the version before packing left: a row per entry, whole keys', async () => {
    const before = await state();
    const held = { pivot: before?.sample_pivot as string, fraction: before?.snapshot_fraction as number };
    // That version's snapshot of the same slice at the same moment (no traffic since the run), in place of the packed one.
    await traffic.query(`DROP TABLE ${snapshot}`);
    await traffic.query(
      `CREATE UNLOGGED TABLE ${snapshot} AS SELECT user_id, access_count::bigint AS access_count, calculated_at
       FROM user_performance WHERE ${sliceCondition('user_id', held)}`,
    );
    await database.db.query(`UPDATE vigil.cache_source_state SET snapshot_rows = (SELECT count(*) FROM ${snapshot})`);
    const done = await window(0.67);
    const { table } = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    // Whole keys can be cut: the window is over the smaller of the two slices, whichever it is.
    const overlap = { pivot: held.pivot, fraction: Math.min(held.fraction, before?.next_fraction as number) };
    expect(table).toMatchObject({ state: 'ok', ...(await expected(done, overlap)) });
    expect((table as MeasuredWindow).sample?.fraction).toBe(overlap.fraction);
    await expectPackedSnapshotOfStoredSlice();
  });

  it("compares a slice with the packed snapshot the version before left: the keys' low 64 bits, not their hashes", async () => {
    const before = await state();
    const held = { pivot: before?.sample_pivot as string, fraction: before?.snapshot_fraction as number };
    // That version's packed snapshot of the same slice at the same moment, in place of this one's.
    await traffic.query(`DROP TABLE ${snapshot}`);
    await traffic.query(
      `CREATE UNLOGGED TABLE ${snapshot} AS
         SELECT array_agg(${lowKey('user_id')}) AS keys, array_agg(access_count::bigint) AS counts, array_agg(calculated_at) AS calculated
         FROM user_performance WHERE ${sliceCondition('user_id', held)}`,
    );
    const done = await window(0.69);
    const { table } = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    // A packed snapshot is compared over its own slice, exactly, whatever the next one is.
    expect(table).toMatchObject({ state: 'ok', ...(await expected(done, held)) });
    expect((table as MeasuredWindow).sample?.fraction).toBe(held.fraction);
    // And this run's snapshot is of this version: the keys' hashes.
    await expectPackedSnapshotOfStoredSlice();
  });

  it('takes a new baseline, and says why, when the state says the whole table but the snapshot holds a slice', async () => {
    // An edited state: the slice's share forgotten, the packed snapshot kept.
    await database.db.query(
      "UPDATE vigil.cache_source_state SET snapshot_fraction = NULL WHERE cache_table = 'user_performance'",
    );
    await window(0.71);
    const { table } = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    expect(table).toMatchObject({
      state: 'no_data',
      reason: expect.stringContaining('the stored snapshot holds a slice, but the state says the whole table'),
    });
    // The next run measures from there.
    const after = await state();
    const done = await window(0.73);
    const next = await run({ CACHE_SAMPLE_HALF_WIDTH_POINTS: '10' });
    // A packed snapshot is compared over its own slice, whatever the next one is.
    const held = { pivot: after?.sample_pivot as string, fraction: after?.snapshot_fraction as number };
    expect(next.table).toMatchObject({ state: 'ok', ...(await expected(done, held)) });
  });

  it('counts the table whole, and says why, while the keys it hands out now are not random UUIDs', async () => {
    // Time-ordered keys (version 7) for the entries calculated last, all just below the slice's pivot.
    const pivot = (await state())?.sample_pivot as string;
    const below = (BigInt(`0x${pivot.slice(0, 8)}${pivot.slice(9, 13)}`) - 1n).toString(16).padStart(12, '0');
    await traffic.query(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
       SELECT ($1 || lpad(to_hex(g), 19, '0'))::uuid, '{}', 5, 100, now() + interval '1 day', now() + interval '1 day', 0
       FROM generate_series(1, 20) g`,
      [`${below}7`],
    );
    const { table } = await run();
    expect(table.details.wholeTableBecause).toMatch(
      /^20 of the 100 entries calculated last have keys that are not random UUIDs \(version 7\): a slice of the key range would be a sample by age, so the table is measured whole though it has about [\d,]+ entries/,
    );
    const { rows: held } = await traffic.query<{ snapshot: number; entries: number }>(
      `SELECT (SELECT count(*)::int FROM ${snapshot}) AS snapshot, (SELECT count(*)::int FROM user_performance) AS entries`,
    );
    expect(held[0]?.snapshot).toBe(held[0]?.entries);

    // Gone again: the same slice as before, its window over it.
    await traffic.query("DELETE FROM user_performance WHERE substr(user_id::text, 15, 1) = '7'");
    const kept = await state();
    await window(0.59);
    const back = await run();
    expect(back.table.state === 'ok' && back.table.sample).toMatchObject({ pivot, fraction: kept?.next_fraction });

    // Keys of another version inside the slice itself, however old: that window is no estimate, and the table is counted whole from then on.
    const inside = (BigInt(`0x${pivot.slice(0, 8)}${pivot.slice(9, 13)}`) + 1n).toString(16).padStart(12, '0');
    await traffic.query(
      `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at, access_count)
       SELECT ($1 || lpad(to_hex(g), 19, '0'))::uuid, '{}', 5, 100, now() - interval '30 days', now(), 0 FROM generate_series(1, 3) g`,
      [`${inside}1`],
    );
    const refused = await run();
    expect(refused.table).toMatchObject({
      state: 'no_data',
      reason:
        '3 of the 10000 keys in the slice are not random UUIDs (version 3, 4 or 5): the slice is no fair sample; the table is measured whole from the next run'.replace(
          '10000',
          String(refused.table.details.entries),
        ),
    });
    const { table: after } = await run();
    expect(after.details.wholeTableBecause).toMatch(
      /^3 of the \d+ keys in the slice are not random UUIDs .*; measured whole though it has about/,
    );
  });

  it('counts a table keyed by a serial number whole: a range of it would be a sample by age', async () => {
    await traffic.query(
      `CREATE TABLE serial_cache (user_id bigint PRIMARY KEY, access_count integer NOT NULL, calculated_at timestamptz NOT NULL);
       INSERT INTO serial_cache SELECT g, 0, now() FROM generate_series(1, 30000) g;
       ANALYZE serial_cache`,
    );
    const { table } = await run({ CACHE_TABLE: 'serial_cache' });
    expect(table.details.wholeTableBecause).toMatch(
      /^user_id is bigint, not a random UUID: a slice of its range would be a sample by age/,
    );
  });
});
