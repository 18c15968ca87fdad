import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupConfig } from '../../../functions/backup/config';
import { dumpKey, keySegment, manifestKeyOf } from '../../../functions/backup/keys';
import { type Manifest, manifestFormat } from '../../../functions/backup/manifest';
import { libpqEnvironment } from '../../../functions/backup/pg-tools';
import { restoreBackup } from '../../../functions/backup/restore';
import { loadConfig } from '../../../lib/config';
import { type ChecksummingProxy, startChecksummingS3Proxy } from '../../../local/checksumming-s3-proxy';
import { gfsDaysOf400DaysEndingSunday20261122 } from '../../support/backup-history';
import { useHandlerFixture } from '../../support/handler-fixture';
import { startRefusingS3Proxy } from '../../support/refusing-s3-proxy';
import { localS3Client } from '../../support/s3';

const bucket = 'vigil-test-backups';
const wrappers = join(import.meta.dirname, '../../fixtures/pg-dump');

type Handler = (
  event: unknown,
  context: Context,
) => Promise<{ backup: { key: string; manifest: Manifest; retention: { expired: string[]; dryRun: boolean } } }>;

describe('backup handler', () => {
  const fixture = useHandlerFixture({ functionName: 'backup', remainingMs: 300_000 });
  const { context } = fixture;
  let s3: S3Client;

  const handlerWith = (env: Record<string, string>) =>
    fixture.handler<Handler>('backup', {
      AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
      BACKUP_BUCKET: bucket,
      BACKUP_WATCHDOG_MARGIN_SECONDS: '5',
      ...env,
    });

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }

  /** Complete-looking backups (a small dump and its manifest) at 02:00 UTC on each of `days` days ending `last`. */
  async function seedHistory(last: string, days: number, prefix = 'backups'): Promise<string[]> {
    const end = Date.parse(`${last}T02:00:00Z`);
    const keys: string[] = [];
    for (let index = 0; index < days; index += 1) keys.push(await seedBackup(prefix, new Date(end - index * 86_400_000)));
    return keys;
  }

  /** One complete-looking backup (a small dump and its manifest) said to have started at `startedAt`. */
  async function seedBackup(prefix: string, startedAt: Date): Promise<string> {
    {
      const key = dumpKey(prefix, fixture.database.name, startedAt);
      const body = Buffer.from(`seeded ${key}`);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const manifest: Manifest = {
        format: manifestFormat,
        key,
        database: fixture.database.name,
        sizeBytes: body.length,
        sha256: '0'.repeat(64),
        pgDumpVersion: 'seeded',
        serverVersion: 'seeded',
        startedAt: startedAt.toISOString(),
        finishedAt: startedAt.toISOString(),
        durationMs: 1,
        entries: 1,
        parts: 1,
        partSizeBytes: 8388608,
        encryption: { mode: 'SSE-S3' },
      };
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKeyOf(key), Body: JSON.stringify(manifest) }));
      return key;
    }
  }

  async function tableFingerprints(url: string): Promise<Record<string, { rows: number; md5: string }>> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ name: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
      );
      const fingerprints: Record<string, { rows: number; md5: string }> = {};
      for (const { name } of tables) {
        const { rows } = await client.query<{ rows: number; md5: string }>(
          `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${name} t`,
        );
        fingerprints[name] = rows[0] as { rows: number; md5: string };
      }
      return fingerprints;
    } finally {
      await client.end();
    }
  }

  const prefix = () => `backups/${keySegment(fixture.database.name)}/`;
  /** The suite's first backup, made in beforeAll before anything else is stored: every test may read it, none depends on another. */
  let first: {
    backup: Awaited<ReturnType<Handler>>['backup'];
    keysAfter: string[];
    delivered: unknown[];
    /** The database as it was backed up: later tests change Vigil's own tables. */
    fingerprints: Record<string, { rows: number; md5: string }>;
  };
  let firstBackup: string;

  async function withScratchDatabase(suffix: string, work: (url: string) => Promise<void>) {
    const name = `${fixture.database.name}_${suffix}`;
    const admin = new pg.Client({ connectionString: fixture.database.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      await work(fixture.database.url.replace(new RegExp(`/${fixture.database.name}$`), `/${name}`));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }

  function restoreCli(key: string, target: string, env: Record<string, string> = {}) {
    return promisify(execFile)(
      join(import.meta.dirname, '../../../node_modules/.bin/tsx'),
      ['local/restore.ts', key, '--target', target],
      {
        cwd: join(import.meta.dirname, '../../..'),
        env: {
          ...process.env,
          BACKUP_BUCKET: bucket,
          AWS_ENDPOINT_URL_S3: fixture.aws.s3Endpoint,
          VIGIL_LOCAL_DIR: '/nonexistent',
          ...env,
        },
      },
    );
  }

  async function userCount(url: string): Promise<number | null> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows: found } = await client.query<{ table: string | null }>("SELECT to_regclass('public.users')::text AS table");
      if (!found[0]?.table) return null;
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      return rows[0]?.n ?? null;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    s3 = localS3Client(fixture.aws);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await fixture.database.db.query(`
      INSERT INTO users (email, display_name, uses_new_dashboard)
        SELECT 'user' || g || '@example.com', 'User ' || g, g % 3 = 0 FROM generate_series(1, 20000) g;
      INSERT INTO securities (symbol, name, sector, price) VALUES ('VGL', 'Vigil Test', 'Tech', 10) ON CONFLICT DO NOTHING;
      INSERT INTO transactions (user_id, symbol, kind, quantity, price, amount, executed_at)
        SELECT id, 'VGL', 'BUY', 3, 10, 30, now() - random() * interval '90 days' FROM users;`);
    const { backup } = await (await handlerWith({}))({}, context());
    first = {
      backup,
      keysAfter: await keysUnder(prefix()),
      delivered: await fixture.delivered(),
      fingerprints: await tableFingerprints(fixture.database.url),
    };
    firstBackup = backup.key;
    // Then 30 good days that ended 40 days ago and 10 failed runs whose dumps have no manifest:
    // retention, were it to run after a failed backup, would find plenty to expire.
    await seedHistory(new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10), 30);
    for (let day = 1; day <= 10; day += 1) {
      const key = dumpKey('backups', fixture.database.name, new Date(Date.now() - day * 86_400_000));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a dump whose manifest never came' }));
    }
    await fixture.delivered();
  }, 120_000);

  afterAll(() => {
    s3?.destroy();
  });

  it('backs up to a manifest-marked object that restores with identical row counts and content per table', async () => {
    const { backup } = first;
    expect(first.keysAfter).toEqual([backup.key, manifestKeyOf(backup.key)].sort());
    expect(backup.key).toMatch(
      new RegExp(
        `^backups/${fixture.database.name}/\\d{4}/\\d{2}/\\d{2}/${fixture.database.name}-\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\.dump$`,
      ),
    );
    expect(backup.manifest).toMatchObject({ database: fixture.database.name, encryption: { mode: 'SSE-S3' } });
    expect(backup.manifest.entries).toBeGreaterThan(20);
    expect(backup.manifest.tableRows?.['public.users']).toBe(20000);
    expect(backup.manifest.pgDumpVersion).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(first.delivered).toEqual([]);

    const target = `${fixture.database.name}_restored`;
    const admin = new pg.Client({ connectionString: fixture.database.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${target}`);
    await admin.end();
    const targetUrl = fixture.database.url.replace(new RegExp(`/${fixture.database.name}$`), `/${target}`);
    try {
      const databaseConfig = loadConfig(['database'], { DATABASE_URL: targetUrl }).database;
      const restored = await restoreBackup(s3, bucket, backup.key, {
        pgRestorePath: 'pg_restore',
        env: libpqEnvironment({ connectionString: targetUrl }, databaseConfig, process.env),
      });
      expect(restored.sizeBytes).toBe(backup.manifest.sizeBytes);
      const [source, copy] = [first.fingerprints, await tableFingerprints(targetUrl)];
      expect(Object.keys(source).length).toBeGreaterThan(10);
      expect(copy).toEqual(source);
      expect(copy['public.users']?.rows).toBe(20000);
    } finally {
      const cleanup = new pg.Client({ connectionString: fixture.database.url });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
      await cleanup.end();
    }
  });

  it('npm run restore streams a backup into a database, and restores nothing from an object that fails its checksum', async () => {
    await withScratchDatabase('cli', async (url) => {
      const { stdout } = await restoreCli(firstBackup, url);
      expect(stdout).toMatch(/^restored .* as the manifest says/);
      expect(await userCount(url)).toBe(20000);
    });
    // A pg_restore older than the pg_dump that wrote the backup is refused before a byte is read.
    await withScratchDatabase('oldtool', async (url) => {
      await expect(restoreCli(firstBackup, url, { PG_RESTORE_PATH: join(wrappers, 'old-pg-restore') })).rejects.toMatchObject({
        stderr: expect.stringMatching(
          /was written by pg_dump \(PostgreSQL\) 1\d.*: it needs pg_restore 1\d or newer, and .* is pg_restore \(PostgreSQL\) 12\.22/,
        ),
      });
      expect(await userCount(url)).toBeNull();
    });
    const original = Buffer.from(
      (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: firstBackup }))).Body?.transformToByteArray()) ?? [],
    );
    const tampered = Buffer.from(original);
    const middle = Math.floor(tampered.length / 2);
    tampered.writeUInt8(tampered.readUInt8(middle) ^ 0xff, middle);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: firstBackup, Body: tampered }));
    try {
      await withScratchDatabase('tampered', async (url) => {
        await expect(restoreCli(firstBackup, url)).rejects.toMatchObject({
          stderr: expect.stringMatching(/SHA-256 .* nothing was restored/),
        });
        expect(await userCount(url)).toBeNull();
      });
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: firstBackup, Body: original }));
    }
  }, 60_000);

  describe('a failed run keeps nothing that looks complete, runs no retention and raises one alert', () => {
    let before: string[];

    async function expectFailedRun(
      env: Record<string, string>,
      step: string,
      reason: RegExp,
      options: { remainingMs?: number; database?: string } = {},
    ) {
      await fixture.database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'backup:%'");
      before = await keysUnder(prefix());
      const handler = await handlerWith(env);
      await expect(handler({}, context(options.remainingMs))).rejects.toThrow(new RegExp(`backup failed at ${step}`));
      expect(await keysUnder(prefix())).toEqual(before);
      const delivered = await fixture.delivered();
      expect(delivered.map((message) => message.attributes.alert_key)).toEqual([
        `backup:${options.database ?? fixture.database.name}:failed`,
      ]);
      expect(delivered[0]?.email).toMatch(reason);
      expect(delivered[0]?.email).toMatch(/retention did not run/);
      // The suite's first backup is still the newest good one, and the alert says how old it is.
      expect(delivered[0]?.email).toMatch(
        options.database ? /age of the newest good backup: no data \(no complete backup/ : /age of the newest good backup 0 h/,
      );
      return delivered[0] as NonNullable<(typeof delivered)[0]>;
    }

    it('when pg_dump is killed mid-stream', async () => {
      await expectFailedRun({ PG_DUMP_PATH: join(wrappers, 'killed-midway') }, 'dump', /pg_dump was killed by SIGKILL/);
    });

    it('when pg_restore --list cannot read what pg_dump wrote, saying so rather than blaming pg_dump', async () => {
      const alert = await expectFailedRun(
        { PG_RESTORE_PATH: join(wrappers, 'old-pg-restore') },
        'dump',
        /pg_restore --list exited with status 1: pg_restore: this stand-in never restores/,
      );
      expect(alert.email).toContain('pg_dump wrote something pg_restore --list cannot read as an archive');
      expect(alert.email).not.toContain('pg_dump failed');
    });

    it('when the password is wrong', async () => {
      const url = new URL(fixture.database.url);
      url.password = 'not-the-password';
      await expectFailedRun({ DATABASE_URL: url.toString() }, 'versions', /password authentication failed/);
    });

    it('when the database does not exist', async () => {
      const url = new URL(fixture.database.url);
      url.pathname = `/${fixture.database.name}_missing`;
      await expectFailedRun({ DATABASE_URL: url.toString() }, 'versions', /does not exist/, {
        database: `${fixture.database.name}_missing`,
      });
    });

    it('when pg_dump is older than the server', async () => {
      await expectFailedRun(
        { PG_DUMP_PATH: join(wrappers, 'old-version') },
        'versions',
        /pg_dump 12 .* is older than the server/,
      );
    });

    it('when the watchdog expires before the dump ends', async () => {
      await expectFailedRun({ PG_DUMP_PATH: join(wrappers, 'slow') }, 'watchdog', /stopped by the watchdog during dump/, {
        remainingMs: 5_000 + 500,
      });
    });

    it('when S3 refuses a part of the upload', async () => {
      // Enough incompressible-ish rows for a dump of several 8 MiB parts.
      await fixture.database.db.query(
        `CREATE TABLE filler AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS noise FROM generate_series(1, 400000) g`,
      );
      const proxy = await startRefusingS3Proxy(fixture.aws.endpoint, 2);
      try {
        await expectFailedRun({ AWS_ENDPOINT_URL_S3: proxy.endpoint }, 'dump', /AccessDenied|Access Denied/);
        expect(proxy.refused).toBe(1);
        expect(proxy.aborted).toBe(1);
      } finally {
        await proxy.stop();
        await fixture.database.db.query('DROP TABLE filler');
      }
    });

    it('naming the refused part as the cause when the abort of the upload fails too, the abort after it', async () => {
      await fixture.database.db.query(
        `CREATE TABLE filler AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS noise FROM generate_series(1, 400000) g`,
      );
      const proxy = await startRefusingS3Proxy(fixture.aws.endpoint, 2, { refuseAbort: true });
      try {
        const alert = await expectFailedRun({ AWS_ENDPOINT_URL_S3: proxy.endpoint }, 'dump', /AccessDenied|Access Denied/);
        expect(proxy.aborted).toBeGreaterThanOrEqual(1);
        expect(alert.email).toMatch(/^Access Denied[\s\S]*After it, also: the multipart upload could not be aborted/m);
        expect(alert.email).toContain('Abort refused by the test proxy');
        expect(alert.email).toContain("S3 refused the upload: check the role's rights");
        expect(alert.email).not.toContain('pg_dump failed');
        expect(alert.email).toContain('npm run invoke -- backup --event events/backup.schedule.json');
      } finally {
        await proxy.stop();
        await fixture.database.db.query('DROP TABLE filler');
      }
    });
  });

  describe('verification', () => {
    const run = async (endpoint: string, env: Record<string, string> = {}) => {
      await fixture.database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'backup:%'");
      const handler = await handlerWith({ AWS_ENDPOINT_URL_S3: endpoint, BACKUP_PREFIX: 'verified', ...env });
      return handler({}, context());
    };
    /** `use` with a checksumming proxy in front of the fixture's S3, stopped after it. */
    const withProxy = async (
      options: Parameters<typeof startChecksummingS3Proxy>[1],
      use: (proxy: ChecksummingProxy) => Promise<void>,
    ) => {
      const proxy = await startChecksummingS3Proxy(fixture.aws.endpoint, options);
      try {
        await use(proxy);
      } finally {
        await proxy.stop();
      }
    };

    it("takes S3's checksum of what it stored as the proof when the server gives one, and reads nothing back", async () => {
      await withProxy({}, async (proxy) => {
        const { backup } = await run(proxy.endpoint);
        expect(backup.manifest.verification).toMatchObject({
          method: 's3-checksum',
          checksumCRC32: expect.stringMatching(/^[A-Za-z0-9+/=]{8}(-\d+)?$/),
        });
        expect(backup.manifest.entries).toBeGreaterThan(10);
        expect(proxy.partsChecked).toBeGreaterThanOrEqual(1);
        expect(proxy.objectReads).toBe(0);
        // Asked for, the full read-back runs as well, and says why.
        const again = await run(proxy.endpoint, { BACKUP_VERIFY_READ_BACK: 'true' });
        expect(again.backup.manifest.verification).toMatchObject({
          method: 'read-back',
          reason: 'BACKUP_VERIFY_READ_BACK is set',
        });
        expect(proxy.objectReads).toBeGreaterThanOrEqual(1);
      });
    });

    it('falls back to reading the object back, and says so, when the server confirms no checksum', async () => {
      await withProxy({ confirmsNone: true }, async (silent) => {
        const { backup } = await run(silent.endpoint);
        expect(backup.manifest.verification).toEqual({
          method: 'read-back',
          reason: 'the S3 server returned no checksum to compare',
        });
        expect(silent.objectReads).toBe(1);
      });
    });

    it("checks a dump of several parts by S3's composite checksum, and keeps nothing when S3 finds a part damaged on the way or reports a checksum other than the bytes read", async () => {
      await fixture.database.db.query(
        `CREATE TABLE filler AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS noise FROM generate_series(1, 400000) g`,
      );
      try {
        // A dump of several parts: S3's composite of the parts' CRC32s equals the one computed here.
        await withProxy({}, async (clean) => {
          const { backup } = await run(clean.endpoint);
          expect(backup.manifest.parts).toBeGreaterThan(1);
          expect(backup.manifest.verification).toMatchObject({
            method: 's3-checksum',
            checksumCRC32: expect.stringMatching(new RegExp(`-${backup.manifest.parts}$`)),
          });
          expect(clean.objectReads).toBe(0);
        });
        await fixture.delivered();
        for (const [options, step, reason] of [
          [{ corruptPart: 2 }, 'dump', /BadDigest|did not match/],
          [{ misreport: true }, 'verify', /S3 reports CRC32 .* for what it stored; the bytes read give/],
        ] as const) {
          await withProxy(options, async (proxy) => {
            await fixture.database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'backup:%'");
            const before = await keysUnder('verified/');
            const handler = await handlerWith({ AWS_ENDPOINT_URL_S3: proxy.endpoint, BACKUP_PREFIX: 'verified' });
            await expect(handler({}, context())).rejects.toThrow(new RegExp(`backup failed at ${step}`));
            expect(await keysUnder('verified/')).toEqual(before);
            const [alert] = await fixture.delivered();
            expect(alert?.email).toMatch(reason);
          });
        }
      } finally {
        await fixture.database.db.query('DROP TABLE filler');
      }
    });
  });

  describe('retention', () => {
    it('in a dry run lists what it would expire and deletes nothing', async () => {
      await fixture.database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'backup:%'");
      const before = await keysUnder(prefix());
      const handler = await handlerWith({
        BACKUP_RETENTION_DRY_RUN: 'true',
        BACKUP_KEEP_DAILY: '3',
        BACKUP_KEEP_WEEKLY: '0',
        BACKUP_KEEP_MONTHLY: '0',
      });
      const { backup } = await handler({}, context());
      expect(backup.retention.dryRun).toBe(true);
      // 30 seeded good days, the suite's first backup and this one: all but the newest three days expire.
      expect(backup.retention.expired.length).toBeGreaterThanOrEqual(28);
      const after = await keysUnder(prefix());
      expect(after).toEqual([...before, backup.key, manifestKeyOf(backup.key)].sort());
    });

    it('keeps the backup just written when a manifest is dated in the future, and flags that manifest in the result and an alert', async () => {
      await fixture.database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'backup:%'");
      await fixture.delivered();
      // A writer whose clock runs 10 hours ahead, and a real backup of yesterday.
      const skewed = await seedBackup('skew', new Date(Date.now() + 10 * 3600_000));
      const yesterday = await seedBackup('skew', new Date(Date.now() - 86_400_000));
      const handler = (await handlerWith({
        BACKUP_PREFIX: 'skew',
        BACKUP_KEEP_DAILY: '1',
        BACKUP_KEEP_WEEKLY: '0',
        BACKUP_KEEP_MONTHLY: '0',
      })) as unknown as (
        event: unknown,
        context: Context,
      ) => Promise<{
        backup: {
          key: string;
          retention: { expired: string[]; futureDated: Array<{ key: string }>; kept: Array<{ key: string; reasons: string[] }> };
          newest: { key: string; ageSeconds: number };
        };
      }>;
      const { backup } = await handler({}, context());
      const stored = await keysUnder(`skew/${keySegment(fixture.database.name)}/`);
      expect(stored).toContain(backup.key);
      expect(stored).toContain(manifestKeyOf(backup.key));
      expect(stored).toContain(skewed);
      expect(backup.retention.expired).toEqual([yesterday]);
      expect(backup.retention.futureDated.map((entry) => entry.key)).toEqual([skewed]);
      expect(backup.retention.kept.find((entry) => entry.key === backup.key)?.reasons).toContain('just-written');
      expect(backup.newest.key).toBe(backup.key);
      expect(backup.newest.ageSeconds).toBeGreaterThanOrEqual(0);
      const [alert, ...others] = await fixture.delivered();
      expect(others).toEqual([]);
      expect(alert?.attributes.alert_key).toBe(`backup:${fixture.database.name}:retention`);
      expect(alert?.email).toContain('manifests dated in the future 1');
      expect(alert?.email).toContain(`${skewed}: dated `);
    });

    it('keeps exactly the GFS set of a 600-day history (1,202 objects: listings past 1,000 keys), manifests gone before their dumps', async () => {
      const { runBackup } = await import('../../../functions/backup/run');
      const config = loadConfig([backupConfig, 'database'], {
        DATABASE_URL: fixture.database.url,
        BACKUP_BUCKET: bucket,
        BACKUP_PREFIX: 'gfs',
      });
      await seedHistory('2026-11-21', 600, 'gfs');
      // More than one listing page (S3 answers 1,000 keys a page): retention must read them all.
      expect((await keysUnder(`gfs/${keySegment(fixture.database.name)}/`)).length).toBe(1200);
      const report = await runBackup(
        {
          db: fixture.database.db,
          s3,
          config: config.backup,
          databaseConfig: config.database,
          connection: async () => ({ connectionString: fixture.database.url }),
          inheritedEnv: process.env,
        },
        new AbortController().signal,
        () => new Date('2026-11-22T02:00:00Z'),
      );
      expect(report.outcome).toBe('succeeded');
      const manifests = (await keysUnder(`gfs/${keySegment(fixture.database.name)}/`)).filter((key) =>
        key.endsWith('.manifest.json'),
      );
      const days = manifests.map((key) => /-(\d{4}-\d{2}-\d{2})T/.exec(key)?.[1]).sort();
      expect(days).toEqual(gfsDaysOf400DaysEndingSunday20261122);
      // Every kept manifest still has its dump; every expired dump is gone with its manifest.
      const dumps = (await keysUnder(`gfs/${keySegment(fixture.database.name)}/`)).filter((key) => key.endsWith('.dump'));
      expect(dumps.map(manifestKeyOf)).toEqual(manifests);
      // The same 21 days as of 400 days (older days keep nothing), so 600 + 1 - 21 expire.
      expect(report.retention?.expired).toHaveLength(580);
    });
  });

  it('restore-checks the newest backup into the scratch database with every table count matching the dump', async () => {
    const scratch = fixture.database.url.replace(new RegExp(`/${fixture.database.name}$`), `/${fixture.database.name}_scratch`);
    // Deployed, the scratch URL (with its password) is an SSM SecureString, read only for this action.
    const ssm = mockClient(SSMClient);
    ssm.on(GetParameterCommand, { Name: '/vigil/test/backup-verify-database-url', WithDecryption: true }).resolves({
      Parameter: { Name: '/vigil/test/backup-verify-database-url', Type: 'SecureString', Value: scratch },
    });
    const refusing = (await handlerWith({
      BACKUP_VERIFY_DATABASE_URL_PARAMETER: '/vigil/test/backup-verify-database-url',
    })) as unknown as (event: unknown, context: Context) => Promise<unknown>;
    // The scratch database is on the backed-up server: refused, nothing dropped, until allowed.
    await expect(refusing({ action: 'verify-restore' }, context())).rejects.toThrow(
      /refusing to drop and restore ".*_scratch": .* is the server of the backed-up database; .*BACKUP_VERIFY_ALLOW_SAME_SERVER=true/,
    );
    const handler = (await handlerWith({
      BACKUP_VERIFY_DATABASE_URL_PARAMETER: '/vigil/test/backup-verify-database-url',
      BACKUP_VERIFY_ALLOW_SAME_SERVER: 'true',
    })) as unknown as (
      event: unknown,
      context: Context,
    ) => Promise<{ restoreCheck: { outcome: string; tables: number; mismatches: unknown[]; key: string } }>;
    try {
      const { restoreCheck } = await handler({ action: 'verify-restore' }, context());
      expect(restoreCheck).toMatchObject({ outcome: 'succeeded', mismatches: [] });
      expect(restoreCheck.tables).toBeGreaterThan(10);
      expect(await userCount(scratch)).toBe(20000);
      expect(ssm.commandCalls(GetParameterCommand).length).toBeGreaterThanOrEqual(1);
    } finally {
      ssm.restore();
      const admin = new pg.Client({ connectionString: fixture.database.url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${fixture.database.name}_scratch WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
