import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintainTable } from '../../functions/partition-maintenance/maintain';
import { createS3Client } from '../../lib/aws/s3';
import { loadConfig } from '../../lib/config';
import { type RunningS3, startS3Server } from '../../local/s3-server';
import { createTestDatabase, type TestDatabase } from '../support/database';

const options = { lockTimeoutMs: 200, lockAttempts: 2, moveBatchRows: 3, sleep: async () => {} };
const entry = (table: string, overrides: Record<string, unknown> = {}) =>
  loadConfig(['partitions'], { PARTITION_TABLES: JSON.stringify([{ table, ...overrides }]) }).partitions.tables[0] as NonNullable<
    ReturnType<typeof loadConfig<'partitions'>>['partitions']['tables'][0]
  >;
const now = new Date('2026-12-15T12:00:00Z');

describe('partitionMaintenance', () => {
  let database: TestDatabase;
  const children = async (parent: string) =>
    (
      await database.db.query<{ name: string; comment: string | null }>(
        `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [parent],
      )
    ).rows;

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.db.query(`
      CREATE TABLE events_log (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE events_log_default PARTITION OF events_log DEFAULT;
      CREATE TABLE plain_table (at timestamptz);
      CREATE TABLE by_list (kind text) PARTITION BY LIST (kind);`);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('creates the current month and three ahead across the year boundary, and a second run changes nothing', async () => {
    const first = await maintainTable(database.db, entry('events_log'), now, options);
    expect(first.plan?.create).toEqual(['events_log_2026_12', 'events_log_2027_01', 'events_log_2027_02', 'events_log_2027_03']);
    expect(first).toMatchObject({ failedSteps: [], partitions: 4, futurePartitions: 3, defaultRows: 0 });
    expect(
      (await children('events_log')).filter((child) => child.comment === 'vigil: managed by partitionMaintenance'),
    ).toHaveLength(4);
    const second = await maintainTable(database.db, entry('events_log'), now, options);
    expect(second.plan?.create).toEqual([]);
    expect(second.steps).toEqual([]);
  });

  it('moves rows of a new range out of the default partition, in batches, then creates the child', async () => {
    await database.db.query(
      `INSERT INTO events_log (at, note) SELECT '2027-04-10'::timestamptz + n * interval '1 hour', 'early' FROM generate_series(1, 10) n`,
    );
    await database.db.query(`INSERT INTO events_log (at, note) VALUES ('2030-01-01', 'far future')`);
    const report = await maintainTable(database.db, entry('events_log', { premake: 4 }), now, options);
    expect(report.steps).toEqual([
      expect.objectContaining({ step: 'move', partition: 'events_log_2027_04', rowsMoved: 10 }),
      expect.objectContaining({ step: 'create', partition: 'events_log_2027_04' }),
    ]);
    const { rows } = await database.db.query<{ partition: string; n: number }>(
      'SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM events_log GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual([
      { partition: 'events_log_2027_04', n: 10 },
      { partition: 'events_log_default', n: 1 },
    ]);
    expect(report.defaultRows).toBe(1);
  });

  it('retires managed children past retention, detaching and keeping them by default', async () => {
    const later = new Date('2027-03-02T00:00:00Z');
    const report = await maintainTable(database.db, entry('events_log', { retention: 1, premake: 1 }), later, options);
    expect(report.plan?.retire).toEqual(['events_log_2026_12', 'events_log_2027_01']);
    expect(report.steps.filter((step) => step.step === 'detach').map((step) => step.detail)).toEqual(['DETACH', 'DETACH']);
    const { rows } = await database.db.query<{ kept: boolean }>("SELECT to_regclass('events_log_2026_12') IS NOT NULL AS kept");
    expect(rows[0]?.kept).toBe(true);
    expect((await children('events_log')).map((child) => child.name)).not.toContain('events_log_2026_12');
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

  it('retries a lock held by a long query, then reports the step as failed, deleting nothing', async () => {
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE events_log IN ACCESS SHARE MODE');
      const report = await maintainTable(
        database.db,
        entry('events_log', { premake: 6 }),
        new Date('2027-03-02T00:00:00Z'),
        options,
      );
      expect(report.failedSteps.length).toBeGreaterThan(0);
      expect(report.failedSteps[0]).toMatchObject({
        step: 'create',
        attempts: 2,
        error: expect.stringContaining('lock timeout'),
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('names a table that is missing, not partitioned, or not by a time range, and goes on with others', async () => {
    const reports = await Promise.all(
      ['no_such_table', 'plain_table', 'by_list'].map((table) => maintainTable(database.db, entry(table), now, options)),
    );
    expect(reports.map((report) => report.error)).toEqual([
      'table no_such_table does not exist',
      'table plain_table is not partitioned',
      'table by_list is partitioned by list, not by a time range',
    ]);
  });

  it('quotes mixed-case names, and refuses at load a name that would need more than quoting', async () => {
    await database.db.query('CREATE TABLE "Audit_Log" (at timestamptz NOT NULL) PARTITION BY RANGE (at)');
    const report = await maintainTable(database.db, entry('Audit_Log', { premake: 1 }), now, options);
    expect(report).toMatchObject({ failedSteps: [], partitions: 2 });
    expect((await children('"Audit_Log"')).map((child) => child.name)).toEqual(['Audit_Log_2026_12', 'Audit_Log_2027_01']);
    expect(() => loadConfig(['partitions'], { PARTITION_TABLES: JSON.stringify([{ table: 'odd "name"' }]) })).toThrow(
      /table: must be a table name/,
    );
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

describe('partitionMaintenance archive mode', () => {
  let database: TestDatabase;
  let s3: RunningS3;

  beforeAll(async () => {
    [database, s3] = await Promise.all([createTestDatabase(), startS3Server({ buckets: ['vigil-archive'] })]);
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
    await Promise.all([database?.drop(), s3?.stop()]);
  });

  const archiveEntry = () =>
    loadConfig(['partitions'], {
      PARTITION_TABLES: JSON.stringify([{ table: 'audit', retention: 2, premake: 1, retire: 'archive' }]),
      PARTITION_ARCHIVE_BUCKET: 'vigil-archive',
    }).partitions.tables[0] as NonNullable<ReturnType<typeof loadConfig<'partitions'>>['partitions']['tables'][0]>;
  const target = (bucket: string) => ({
    s3: createS3Client(loadConfig(['aws'], { AWS_ENDPOINT_URL_S3: s3.endpoint }).aws),
    bucket,
    prefix: 'partitions',
  });

  it('keeps the partition when the archive cannot be written, deleting nothing', async () => {
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
  });

  it('streams a retired partition to S3 with COPY and gzip, verifies its rows by reading it back, then drops it', async () => {
    // The failed attempt above left audit_2026_09 detached: attach it back as the app's state was.
    await database.db.query(`ALTER TABLE audit ATTACH PARTITION audit_2026_09 FOR VALUES FROM ('2026-09-01') TO ('2026-10-01')`);
    const report = await maintainTable(
      database.db,
      archiveEntry(),
      new Date('2026-12-10T00:00:00Z'),
      options,
      target('vigil-archive'),
    );
    expect(report.failedSteps).toEqual([]);
    expect(report.steps.filter((step) => step.partition === 'audit_2026_09').map((step) => step.step)).toEqual([
      'detach',
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
  });

  it('refuses archive mode without a bucket, at load', () => {
    expect(() =>
      loadConfig(['partitions'], { PARTITION_TABLES: JSON.stringify([{ table: 'audit', retire: 'archive' }]) }),
    ).toThrow('PARTITION_ARCHIVE_BUCKET: is required: audit retire by archiving to S3');
  });
});
