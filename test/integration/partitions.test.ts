import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionAlertRequests } from '../../functions/partition-maintenance/alerting';
import { type PartitionTableConfig, partitionsConfig } from '../../functions/partition-maintenance/config';
import type { ChangeName } from '../../functions/partition-maintenance/execute';
import { maintainTable } from '../../functions/partition-maintenance/maintain';
import { createS3Client } from '../../lib/aws/s3';
import { loadConfig } from '../../lib/config';
import { defaultThresholds } from '../../lib/thresholds';
import { type LocalAws, startLocalAws } from '../../local/local-aws';
import { createTestDatabase, type TestDatabase } from '../support/database';

const options = { lockTimeoutMs: 200, moveIntervalsPerRun: 12, lockAlertRuns: 3 };
type Entry = PartitionTableConfig;
const entry = (table: string, overrides: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
  loadConfig([partitionsConfig], { PARTITION_TABLES: JSON.stringify([{ table, ...overrides }]), ...env }).partitions
    .tables[0] as Entry;
const now = new Date('2026-12-15T12:00:00Z');

async function children(database: TestDatabase, parent: string) {
  return (
    await database.db.query<{ name: string; comment: string | null; owner: string }>(
      `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment, pg_get_userbyid(c.relowner) AS owner
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
      [parent],
    )
  ).rows;
}

describe('partitionMaintenance', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.db.query(`
      CREATE TABLE events_log (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE INDEX events_log_note_idx ON events_log (note);
      CREATE TABLE events_log_default PARTITION OF events_log DEFAULT;
      CREATE TABLE plain_table (at timestamptz);
      CREATE TABLE by_list (kind text) PARTITION BY LIST (kind);`);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('creates the current month and three ahead across the year boundary, with the parent index, and a second run changes nothing', async () => {
    const first = await maintainTable(database.db, entry('events_log'), now, options);
    expect(first.plan?.create).toEqual(['events_log_2026_12', 'events_log_2027_01', 'events_log_2027_02', 'events_log_2027_03']);
    expect(first).toMatchObject({ failedSteps: [], deferredSteps: [], partitions: 4, futurePartitions: 3, defaultRows: 0 });
    const made = await children(database, 'events_log');
    expect(made.filter((child) => child.comment === 'vigil: managed by partitionMaintenance')).toHaveLength(4);
    // Created standalone, then attached: the parent's indexes are attached too, no duplicate built.
    const { rows: indexes } = await database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'events_log_2027_01'",
    );
    expect(indexes[0]?.n).toBe(2);
    // The bounds constraint that spared ATTACH its scan is gone once attached.
    const { rows: checks } = await database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'events_log_2027_01'::regclass AND contype = 'c'",
    );
    expect(checks[0]?.n).toBe(0);
    const second = await maintainTable(database.db, entry('events_log'), now, options);
    expect(second.plan?.create).toEqual([]);
    expect(second.steps).toEqual([]);
  });

  it('moves the rows of any range out of the default partition into a partition of their own, in one transaction each', async () => {
    await database.db.query(
      `INSERT INTO events_log (at, note) SELECT '2027-04-10'::timestamptz + n * interval '1 hour', 'early' FROM generate_series(1, 10) n`,
    );
    await database.db.query(`INSERT INTO events_log (at, note) VALUES ('2030-01-01', 'far future'), ('2025-06-01', 'old')`);
    const report = await maintainTable(database.db, entry('events_log', { premake: 4 }), now, options);
    expect(report.steps.filter((step) => step.step === 'move').map((step) => [step.partition, step.rowsMoved])).toEqual([
      ['events_log_2025_06', 1],
      ['events_log_2027_04', 10],
      ['events_log_2030_01', 1],
    ]);
    const { rows } = await database.db.query<{ partition: string; n: number }>(
      'SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM events_log GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual([
      { partition: 'events_log_2025_06', n: 1 },
      { partition: 'events_log_2027_04', n: 10 },
      { partition: 'events_log_2030_01', n: 1 },
    ]);
    expect(report.defaultRows).toBe(0);
  });

  it('moves rows by column name out of a default partition whose physical column order differs', async () => {
    await database.db.query(`
      CREATE TABLE swapped (id int NOT NULL, at timestamptz NOT NULL, a text, b text, n numeric) PARTITION BY RANGE (at);
      CREATE TABLE swapped_default (b text, n numeric, at timestamptz NOT NULL, a text, id int NOT NULL);
      ALTER TABLE swapped ATTACH PARTITION swapped_default DEFAULT;
      INSERT INTO swapped (id, at, a, b, n) VALUES (1, '2026-12-03', 'A', 'B', 1.5), (2, '2027-01-04', 'AA', 'BB', 2.5);`);
    const report = await maintainTable(database.db, entry('swapped', { premake: 1 }), now, options);
    expect(report.failedSteps).toEqual([]);
    const { rows } = await database.db.query(
      'SELECT tableoid::regclass::text AS partition, id, a, b, n::text FROM swapped ORDER BY id',
    );
    expect(rows).toEqual([
      { partition: 'swapped_2026_12', id: 1, a: 'A', b: 'B', n: '1.5' },
      { partition: 'swapped_2027_01', id: 2, a: 'AA', b: 'BB', n: '2.5' },
    ]);
  });

  it('retires managed children past retention, detaching and keeping them by default, in the retention schema when set', async () => {
    await database.db.query('CREATE SCHEMA retired');
    const later = new Date('2027-03-02T00:00:00Z');
    const report = await maintainTable(
      database.db,
      entry('events_log', { retention: 1, premake: 1, retentionSchema: 'retired' }),
      later,
      options,
    );
    expect(report.plan?.retire).toEqual(['events_log_2025_06', 'events_log_2026_12', 'events_log_2027_01']);
    expect(report.steps.filter((step) => step.step === 'detach').map((step) => step.detail)).toEqual([
      'DETACH',
      'DETACH',
      'DETACH',
    ]);
    const { rows } = await database.db.query<{ kept: boolean }>(
      "SELECT to_regclass('retired.events_log_2026_12') IS NOT NULL AS kept",
    );
    expect(rows[0]?.kept).toBe(true);
    expect((await children(database, 'events_log')).map((child) => child.name)).not.toContain('events_log_2026_12');
    expect((await database.db.query('SELECT * FROM vigil.partition_ledger')).rows).toEqual([]);
  });

  it('drops in drop mode, never touching children it does not manage', async () => {
    await database.db.query(
      `CREATE TABLE events_log_2026_01 PARTITION OF events_log FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`,
    );
    const report = await maintainTable(
      database.db,
      entry('events_log', { retention: 0, premake: 1, retire: 'drop' }),
      new Date('2027-03-02T00:00:00Z'),
      options,
    );
    expect(report.plan?.retire).toEqual(['events_log_2027_02']);
    const { rows } = await database.db.query<{ dropped: boolean; foreign: boolean }>(
      "SELECT to_regclass('events_log_2027_02') IS NULL AS dropped, to_regclass('events_log_2026_01') IS NOT NULL AS foreign",
    );
    expect(rows[0]).toEqual({ dropped: true, foreign: true });
  });

  it('defers, once per run and without failing, the steps whose lock a long reader holds; creates ahead where no lock is needed', async () => {
    await database.db.query(`
      CREATE TABLE quiet_log (at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
      CREATE TABLE quiet_log_2027_03 PARTITION OF quiet_log FOR VALUES FROM ('2027-03-01') TO ('2027-04-01');`);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM events_log');
      await holder.query('SELECT count(*) FROM quiet_log');
      const started = performance.now();
      const report = await maintainTable(
        database.db,
        entry('events_log', { premake: 6 }),
        new Date('2027-03-02T00:00:00Z'),
        options,
      );
      const elapsed = performance.now() - started;
      expect(report.failedSteps).toEqual([]);
      expect(report.deferredSteps.length).toBeGreaterThan(1);
      expect(new Set(report.deferredSteps.map((step) => step.step))).toEqual(new Set(['create']));
      expect(report.deferredSteps[0]?.reason).toMatch(/lock on the table was held longer than lock_timeout/);
      // One wait of lock_timeout (200 ms), not one per step.
      expect(elapsed).toBeLessThan(1_000);
      // Without a default partition, ATTACH needs no lock the reader holds: created at once.
      const quiet = await maintainTable(
        database.db,
        entry('quiet_log', { premake: 2 }),
        new Date('2027-03-02T00:00:00Z'),
        options,
      );
      expect(quiet).toMatchObject({ failedSteps: [], deferredSteps: [], futurePartitions: 2 });
      expect(partitionAlertRequests(report, defaultThresholds.partitions, now)).toContainEqual({
        action: 'resolve',
        key: 'partitions:events_log:failed',
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const again = await maintainTable(
      database.db,
      entry('events_log', { premake: 6 }),
      new Date('2027-03-02T00:00:00Z'),
      options,
    );
    expect(again).toMatchObject({ failedSteps: [], deferredSteps: [] });
    expect(again.lockDeferredRuns).toBe(1);
  });

  it('under a long reader, keeps the app inserting: its worst insert waits at most lock_timeout, once', async () => {
    await database.db.query(`
      CREATE TABLE busy_log (at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
      CREATE TABLE busy_log_default PARTITION OF busy_log DEFAULT;
      CREATE TABLE busy_log_2026_01 PARTITION OF busy_log FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      COMMENT ON TABLE busy_log_2026_01 IS 'vigil: managed by partitionMaintenance';
      CREATE TABLE busy_log_2026_12 PARTITION OF busy_log FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');
      CREATE TABLE busy_log_2027_01 PARTITION OF busy_log FOR VALUES FROM ('2027-01-01') TO ('2027-02-01');`);
    const [reader, app] = [new pg.Client({ connectionString: database.url }), new pg.Client({ connectionString: database.url })];
    await Promise.all([reader.connect(), app.connect()]);
    const lockTimeoutMs = 300;
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM busy_log');
      const latencies: number[] = [];
      let inserting = true;
      const inserts = (async () => {
        while (inserting) {
          const started = performance.now();
          await app.query("INSERT INTO busy_log VALUES ('2026-12-20', 'app')");
          latencies.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Retiring with a default partition detaches under ACCESS EXCLUSIVE: inserts queue behind it until lock_timeout.
      const report = await maintainTable(database.db, entry('busy_log', { retention: 1, premake: 1, retire: 'drop' }), now, {
        ...options,
        lockTimeoutMs,
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      inserting = false;
      await inserts;
      expect(report).toMatchObject({ failedSteps: [], deferredSteps: [expect.objectContaining({ step: 'retire' })] });
      expect(latencies.length).toBeGreaterThan(8);
      expect(Math.max(...latencies)).toBeLessThan(lockTimeoutMs + 150);
      expect(latencies.filter((latency) => latency > 100)).toHaveLength(1);
    } finally {
      await reader.query('ROLLBACK');
      await Promise.all([reader.end(), app.end()]);
    }
  });

  it('finishes a DETACH CONCURRENTLY an older version left pending (an old snapshot cut it off), on the next run', async () => {
    await database.db.query(`
      CREATE TABLE quick_log (at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE quick_log_2026_01 PARTITION OF quick_log FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      COMMENT ON TABLE quick_log_2026_01 IS 'vigil: managed by partitionMaintenance';
      INSERT INTO quick_log VALUES ('2026-01-05');`);
    const reader = new pg.Client({ connectionString: database.url });
    const older = new pg.Client({ connectionString: database.url });
    await Promise.all([reader.connect(), older.connect()]);
    const quick = entry('quick_log', { retention: 1, premake: 1 });
    try {
      // A reader of the table, older than the detach: its second phase waits for it, and gives up.
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM quick_log');
      await older.query("SET lock_timeout = '200ms'");
      await expect(older.query('ALTER TABLE quick_log DETACH PARTITION quick_log_2026_01 CONCURRENTLY')).rejects.toThrow(
        /lock timeout/,
      );
      const { rows } = await database.db.query<{ pending: boolean }>(
        "SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = 'quick_log_2026_01'::regclass",
      );
      expect(rows).toEqual([{ pending: true }]);
    } finally {
      await reader.query('ROLLBACK');
      await Promise.all([reader.end(), older.end()]);
    }
    const next = await maintainTable(database.db, quick, now, options);
    expect(next).toMatchObject({ failedSteps: [], deferredSteps: [] });
    expect(next.steps.map((step) => step.step)).toContain('finalize');
    expect((await children(database, 'quick_log')).map((child) => child.name)).not.toContain('quick_log_2026_01');
    expect((await database.db.query("SELECT * FROM vigil.partition_ledger WHERE parent LIKE '%quick_log%'")).rows).toEqual([]);
  });

  it('takes over a child an older version left standalone with rows, instead of failing forever', async () => {
    await database.db.query(`
      CREATE TABLE legacy_log (at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
      CREATE TABLE legacy_log_default PARTITION OF legacy_log DEFAULT;
      CREATE TABLE legacy_log_2026_12 (LIKE legacy_log INCLUDING ALL);
      INSERT INTO legacy_log_2026_12 SELECT '2026-12-02'::timestamptz + n * interval '1 minute', 'stranded' FROM generate_series(1, 12) n;
      INSERT INTO legacy_log VALUES ('2026-12-20', 'in the default');`);
    const report = await maintainTable(database.db, entry('legacy_log', { premake: 1 }), now, options);
    expect(report.failedSteps).toEqual([]);
    const { rows } = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM legacy_log WHERE at < '2027-01-01'");
    expect(rows[0]?.n).toBe(13);
    expect((await children(database, 'legacy_log')).map((child) => child.name)).toContain('legacy_log_2026_12');
  });

  it('names a table that is missing, not partitioned, or not by a time range, as a configuration error', async () => {
    const reports = await Promise.all(
      ['no_such_table', 'plain_table', 'by_list'].map((table) => maintainTable(database.db, entry(table), now, options)),
    );
    expect(reports.map((report) => [report.error, report.errorKind])).toEqual([
      ['table no_such_table does not exist', 'configuration'],
      ['table plain_table is not partitioned', 'configuration'],
      ['table by_list is partitioned by list, not by a time range', 'configuration'],
    ]);
  });

  it('reads table names by PostgreSQL rules: unquoted folds to lower case, quoted keeps case and may hold "-"', async () => {
    await database.db.query(`
      CREATE TABLE "Audit_Log" (at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE "app-events" (at timestamptz NOT NULL) PARTITION BY RANGE (at);`);
    expect((await maintainTable(database.db, entry('Audit_Log'), now, options)).error).toBe('table Audit_Log does not exist');
    const quoted = await maintainTable(database.db, entry('"Audit_Log"', { premake: 1 }), now, options);
    expect(quoted).toMatchObject({ failedSteps: [], partitions: 2 });
    expect((await children(database, '"Audit_Log"')).map((child) => child.name)).toEqual([
      'Audit_Log_2026_12',
      'Audit_Log_2027_01',
    ]);
    const dashed = await maintainTable(database.db, entry('public."app-events"', { premake: 1 }), now, options);
    expect(dashed).toMatchObject({ failedSteps: [], partitions: 2 });
  });

  it('skips a bad entry of PARTITION_TABLES, naming its problems, and keeps the others', () => {
    const config = loadConfig([partitionsConfig], {
      PARTITION_TABLES: JSON.stringify([
        { table: 'events_log' },
        { table: 'odd "name"' },
        { table: 'audit', retire: 'archive' },
        { table: 'x', premake: 0 },
      ]),
    }).partitions;
    expect(config.tables.map((table) => table.table)).toEqual(['events_log']);
    expect(config.invalidTables).toEqual([
      { label: 'odd "name"', problems: [expect.stringMatching(/^table: must be a table name as in SQL/)] },
      { label: 'x', problems: ['premake: Too small: expected number to be >=1'] },
      { label: 'audit', problems: ['retire: archive needs PARTITION_ARCHIVE_BUCKET, which is not set'] },
    ]);
  });

  it('creates a default partition when asked and the table has none', async () => {
    await database.db.query('CREATE TABLE bare_log (at timestamptz NOT NULL) PARTITION BY RANGE (at)');
    const report = await maintainTable(database.db, entry('bare_log', { premake: 1, createDefault: true }), now, options);
    expect(report).toMatchObject({ failedSteps: [], deferredSteps: [], partitions: 2 });
    expect((await children(database, 'bare_log')).map((child) => child.name)).toEqual([
      'bare_log_2026_12',
      'bare_log_2027_01',
      'bare_log_default',
    ]);
    // A row outside every range is kept, not refused, and gets its partition on the next run.
    await database.db.query("INSERT INTO bare_log VALUES ('2031-05-05')");
    const next = await maintainTable(database.db, entry('bare_log', { premake: 1, createDefault: true }), now, options);
    expect(next.plan?.create).toEqual(['bare_log_2031_05']);
    expect(next.defaultRows).toBe(0);
  });

  it('lets one run at a time maintain a table: a second one skips with a note', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query("SELECT pg_advisory_lock(hashtext('vigil'), hashtext('partition:events_log'))");
      const report = await maintainTable(database.db, entry('events_log'), now, options);
      expect(report.skippedRun).toBe('another partitionMaintenance run holds this table; skipped');
      expect(report.steps).toEqual([]);
    } finally {
      await other.end();
    }
  });
});

describe('partitionMaintenance killed at every step', () => {
  let database: TestDatabase;
  let sns: LocalAws;
  const bucket = 'vigil-kill-archive';
  let target: { s3: ReturnType<typeof createS3Client>; bucket: string; prefix: string };
  const killNow = new Date('2026-12-15T12:00:00Z');

  beforeAll(async () => {
    [database, sns] = await Promise.all([createTestDatabase(), startLocalAws({ topics: [] })]);
    target = {
      s3: createS3Client(loadConfig(['aws'], { AWS_ENDPOINT_URL_S3: sns.s3Endpoint }).aws),
      bucket,
      prefix: 'partitions',
    };
    const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
    await target.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await Promise.all([database?.drop(), sns?.stop()]);
  });

  /** A table with a managed month past retention (rows), the current month, and rows of a future month in the default. */
  async function table(name: string) {
    await database.db.query(`
      CREATE TABLE ${name} (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE ${name}_default PARTITION OF ${name} DEFAULT;
      CREATE TABLE ${name}_2026_09 PARTITION OF ${name} FOR VALUES FROM ('2026-09-01') TO ('2026-10-01');
      COMMENT ON TABLE ${name}_2026_09 IS 'vigil: managed by partitionMaintenance';
      CREATE TABLE ${name}_2026_12 PARTITION OF ${name} FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');
      COMMENT ON TABLE ${name}_2026_12 IS 'vigil: managed by partitionMaintenance';
      INSERT INTO ${name} (at, note) SELECT '2026-09-02'::timestamptz + n * interval '1 hour', 'old ' || n FROM generate_series(1, 50) n;
      INSERT INTO ${name} (at, note) SELECT '2026-12-02'::timestamptz + n * interval '1 hour', 'now ' || n FROM generate_series(1, 40) n;
      INSERT INTO ${name} (at, note) SELECT '2027-02-02'::timestamptz + n * interval '1 hour', 'ahead ' || n FROM generate_series(1, 30) n;`);
  }

  /** Count and checksum of the rows the plan keeps (all but the retired month). */
  async function kept(name: string) {
    const { rows } = await database.db.query<{ n: number; sum: string }>(
      `SELECT count(*)::int AS n, md5(string_agg(id || '|' || at || '|' || note, ',' ORDER BY id)) AS sum FROM ${name} WHERE at >= '2026-10-01'`,
    );
    return rows[0];
  }

  const steps: ChangeName[] = ['create', 'move', 'attach', 'detach', 'archive-upload', 'archive-verify', 'drop'];
  it.each(steps)('interrupted right after %s: the rows the plan keeps are intact, and the next run converges', async (step) => {
    const name = `kill_${step.replace('-', '_')}`;
    await table(name);
    const config = entry(name, { retention: 2, premake: 2, retire: 'archive' }, { PARTITION_ARCHIVE_BUCKET: bucket });
    const before = await kept(name);
    let interrupted = false;
    const killing = {
      ...options,
      afterChange: (at: ChangeName) => {
        if (at === step && !interrupted) {
          interrupted = true;
          throw new Error(`killed after ${at}`);
        }
      },
    };
    const first = await maintainTable(database.db, config, killNow, killing, target);
    expect(interrupted).toBe(true);
    expect(first.failedSteps.length + (first.error ? 1 : 0)).toBeGreaterThan(0);
    expect(await kept(name)).toEqual(before);
    const second = await maintainTable(database.db, config, killNow, options, target);
    expect(second).toMatchObject({ failedSteps: [], deferredSteps: [] });
    expect(second.error).toBeUndefined();
    expect(await kept(name)).toEqual(before);
    // Converged: what an uninterrupted run leaves, and nothing more to do.
    const third = await maintainTable(database.db, config, killNow, options, target);
    expect(third.steps).toEqual([]);
    expect((await children(database, name)).map((child) => child.name)).toEqual([
      `${name}_2026_12`,
      `${name}_2027_01`,
      `${name}_2027_02`,
      `${name}_default`,
    ]);
    const { rows } = await database.db.query<{ gone: boolean }>(`SELECT to_regclass('${name}_2026_09') IS NULL AS gone`);
    expect(rows[0]?.gone).toBe(true);
    expect(third.defaultRows).toBe(0);
    expect((await database.db.query('SELECT * FROM vigil.partition_ledger WHERE parent LIKE $1', [`%${name}%`])).rows).toEqual(
      [],
    );
    expect(
      partitionAlertRequests(third, defaultThresholds.partitions, killNow).filter((alertStep) => alertStep.action === 'raise'),
    ).toEqual([]);
  });
});

describe('partitionMaintenance archive mode', () => {
  let database: TestDatabase;
  let sns: LocalAws;

  beforeAll(async () => {
    [database, sns] = await Promise.all([createTestDatabase(), startLocalAws({ topics: [] })]);
    const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
    await target('vigil-archive').s3.send(new CreateBucketCommand({ Bucket: 'vigil-archive' }));
    await database.db.query(`
      CREATE TABLE audit (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE audit_2026_09 PARTITION OF audit FOR VALUES FROM ('2026-09-01') TO ('2026-10-01');
      COMMENT ON TABLE audit_2026_09 IS 'vigil: managed by partitionMaintenance';
      CREATE TABLE audit_2026_10 PARTITION OF audit FOR VALUES FROM ('2026-10-01') TO ('2026-11-01');
      COMMENT ON TABLE audit_2026_10 IS 'vigil: managed by partitionMaintenance';
      INSERT INTO audit (at, note) SELECT '2026-09-02'::timestamptz + n * interval '1 minute', E'line ' || n || E'\\twith a tab\\nand a newline' FROM generate_series(1, 500) n;
      INSERT INTO audit (at, note) VALUES ('2026-10-05', 'kept');`);
  });

  afterAll(async () => {
    await Promise.all([database?.drop(), sns?.stop()]);
  });

  const archiveEntry = () =>
    entry('audit', { retention: 2, premake: 1, retire: 'archive' }, { PARTITION_ARCHIVE_BUCKET: 'vigil-archive' });
  function target(bucket: string) {
    return { s3: createS3Client(loadConfig(['aws'], { AWS_ENDPOINT_URL_S3: sns.s3Endpoint }).aws), bucket, prefix: 'partitions' };
  }

  it('keeps the detached partition when the archive cannot be written, deleting nothing, and archives it on the next run', async () => {
    const report = await maintainTable(
      database.db,
      archiveEntry(),
      new Date('2026-12-10T00:00:00Z'),
      options,
      target('no-such-bucket'),
    );
    expect(report.failedSteps).toEqual([expect.objectContaining({ step: 'retire', partition: 'audit_2026_09' })]);
    const { rows } = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_2026_09');
    expect(rows[0]?.n).toBe(500);
    // Not forgotten: the ledger holds it, detached and not archived.
    expect((await database.db.query('SELECT partition, state FROM vigil.partition_ledger')).rows).toEqual([
      { partition: '"public"."audit_2026_09"', state: 'detached' },
    ]);
  });

  it('streams a retired partition to S3 with COPY and gzip, verifies its rows by reading it back, then drops it', async () => {
    const report = await maintainTable(
      database.db,
      archiveEntry(),
      new Date('2026-12-10T00:00:00Z'),
      options,
      target('vigil-archive'),
    );
    expect(report.failedSteps).toEqual([]);
    expect(report.steps.filter((step) => step.partition === 'audit_2026_09').map((step) => step.step)).toEqual([
      'resume',
      'archive',
      'drop',
    ]);
    const object = await target('vigil-archive').s3.send(
      new GetObjectCommand({ Bucket: 'vigil-archive', Key: 'partitions/public.audit/audit_2026_09.tsv.gz' }),
    );
    expect(object.Metadata).toMatchObject({ rows: '500', columns: 'id,at,note', format: 'postgresql-copy-text' });
    const text = gunzipSync(
      Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
    ).toString('utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(500);
    // COPY's text format escapes tabs and newlines inside values: one line a row.
    expect(text).toContain('line 1\\twith a tab\\nand a newline');
    const { rows } = await database.db.query<{ gone: boolean; kept: number }>(
      "SELECT to_regclass('audit_2026_09') IS NULL AS gone, (SELECT count(*)::int FROM audit) AS kept",
    );
    expect(rows[0]).toEqual({ gone: true, kept: 1 });
    expect((await database.db.query('SELECT * FROM vigil.partition_ledger')).rows).toEqual([]);
  });
});
