import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Config } from '../../lib/config';
import { type Database, takeAdvisoryLock } from '../../lib/db';
import { errorMessage, VigilError } from '../../lib/errors';
import { errorSummary, logger } from '../../lib/logger';
import type { BackupConfig } from './config';
import { DumpUploadError, dumpToS3, partSizeFor } from './dump-upload';
import { dumpKey, manifestKeyOf } from './keys';
import { type BackupListing, deleteKeys, listBackups, type Manifest, manifestFormat, writeManifest } from './manifest';
import { libpqEnvironment, PgToolError, toolEnvironment, toolVersion } from './pg-tools';
import { defaultSkewMs, isDatedInFuture, retentionPlan } from './retention';
import { countRows } from './row-counts';
import { readBack } from './verify';

export type BackupStep = 'versions' | 'dump' | 'verify' | 'manifest' | 'watchdog';

export interface RetentionReport {
  dryRun: boolean;
  kept: Array<{ key: string; reasons: string[] }>;
  /** Complete backups outside the policy: deleted, or listed only in a dry run. */
  expired: string[];
  /** Dumps left without a manifest by a failed run more than a day ago. */
  unfinishedRemoved: string[];
  broken: Array<{ key: string; reason: string }>;
  /** Manifests dated after the run (clock skew between writers?): kept, out of the tiers, and alerted on. */
  futureDated: Array<{ key: string; startedAt: string }>;
  error?: string;
}

export interface BackupReport {
  /** skipped: another backup of this database holds the lock; it is that run's job, not a failure. */
  outcome: 'succeeded' | 'failed' | 'skipped';
  /** Why a run was skipped. */
  skipped?: string;
  database?: string;
  key?: string;
  startedAt: string;
  durationMs: number;
  manifest?: Manifest;
  /** `secondary`: what failed after the root cause (a cleanup), in order. */
  failure?: { step: BackupStep; message: string; stderr?: string; secondary?: string[] };
  /** Runs only after a good backup. */
  retention?: RetentionReport;
  /** The newest complete backup after this run, or why it could not be known. */
  newest: { key: string; startedAt: string; ageSeconds: number } | { missing: string };
}

export interface BackupDependencies {
  db: Database;
  s3: S3Client;
  config: BackupConfig;
  databaseConfig: Config['database'];
  /** Where pg_dump should connect: the pool's own connection options. */
  connection: () => Promise<pg.PoolConfig>;
  inheritedEnv: NodeJS.ProcessEnv;
}

const unfinishedGraceMs = 24 * 3600_000;

/** Another backup of this database holds the backup lock: this run has nothing to do. */
class BackupRunningError extends VigilError {
  constructor() {
    super('another backup of this database is running');
    this.name = 'BackupRunningError';
  }
}

class StepError extends VigilError {
  constructor(
    readonly step: BackupStep,
    message: string,
    readonly stderr?: string,
    options?: { cause?: unknown },
    readonly secondary: string[] = [],
  ) {
    super(message, options);
    this.name = 'StepError';
  }
}

async function step<T>(name: BackupStep, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepError || error instanceof BackupRunningError) throw error;
    if (signal.aborted) {
      throw new StepError(
        'watchdog',
        `stopped by the watchdog during ${name}, before the Lambda time limit: ${String((signal.reason as Error)?.message ?? signal.reason)}`,
        undefined,
        { cause: error },
        error instanceof DumpUploadError ? error.secondary : [],
      );
    }
    const secondary = error instanceof DumpUploadError ? error.secondary : [];
    const root = error instanceof DumpUploadError ? error.root : (error as Error);
    const stderr = root instanceof PgToolError ? root.stderr : undefined;
    throw new StepError(name, root.message, stderr, { cause: error }, secondary);
  }
}

function databaseNameOf(connection: pg.PoolConfig): string | undefined {
  if (connection.connectionString) return decodeURIComponent(new URL(connection.connectionString).pathname.slice(1)) || undefined;
  return connection.database;
}

/** The newest complete backup not dated in the future: a skewed manifest must not hide a stale one. */
function newestOf(listing: BackupListing, now: Date): BackupReport['newest'] {
  const newest = listing.complete.find((manifest) => !isDatedInFuture(new Date(manifest.startedAt), now));
  if (!newest) return { missing: 'no complete backup (dump with manifest) dated up to now in the bucket' };
  return {
    key: newest.key,
    startedAt: newest.startedAt,
    ageSeconds: Math.round((now.getTime() - Date.parse(newest.startedAt)) / 1000),
  };
}

async function applyRetention(
  dependencies: BackupDependencies,
  listing: BackupListing,
  justWritten: string,
  now: Date,
): Promise<RetentionReport> {
  const { s3, config } = dependencies;
  const plan = retentionPlan(
    listing.complete.map((manifest) => ({ key: manifest.key, startedAt: new Date(manifest.startedAt) })),
    config.keep,
    { justWritten, now, skewMs: defaultSkewMs },
  );
  const unfinished = listing.unfinished
    .filter((dump) => dump.key !== justWritten && now.getTime() - dump.lastModified.getTime() > unfinishedGraceMs)
    .map((dump) => dump.key);
  const report: RetentionReport = {
    dryRun: config.retentionDryRun,
    kept: plan.keep.map((backup) => ({ key: backup.key, reasons: backup.reasons })),
    expired: plan.expire.map((backup) => backup.key),
    unfinishedRemoved: unfinished,
    broken: listing.broken,
    futureDated: plan.futureDated.map((backup) => ({ key: backup.key, startedAt: backup.startedAt.toISOString() })),
  };
  if (config.retentionDryRun) return report;
  try {
    // Manifests first: a backup stops counting before its dump goes, never the other way round.
    await deleteKeys(s3, config.bucket, report.expired.map(manifestKeyOf));
    await deleteKeys(s3, config.bucket, [...report.expired, ...unfinished]);
  } catch (error) {
    report.error = errorMessage(error);
  }
  return report;
}

/**
 * One backup: versions checked, pg_dump streamed into S3 and hashed, read back through
 * `pg_restore --list`, the manifest written last; then, and only then, retention. Any failure
 * removes what was uploaded and skips retention. `signal` is the watchdog.
 */
// Over 80 lines: not yet cut into named stages (issue 33): lock, dump and upload, verify, manifest, retention.
export async function runBackup(
  dependencies: BackupDependencies,
  signal: AbortSignal,
  now = () => new Date(),
): Promise<BackupReport> {
  const { db, s3, config } = dependencies;
  const startedAt = now();
  const started = performance.now();
  let key: string | undefined;
  let uploaded = false;
  // Named before connecting, so a failure to connect still says which database it concerns.
  const connection = await dependencies.connection().catch(() => undefined);
  let database = connection ? databaseNameOf(connection) : undefined;
  try {
    const versions = await step('versions', signal, async () => {
      const pgDump = await toolVersion(config.pgDumpPath, toolEnvironment(dependencies.inheritedEnv));
      const { rows } = await db.query<{ database: string; version: string; version_num: string; size_bytes: string }>(
        `SELECT current_database() AS database, current_setting('server_version') AS version,
                current_setting('server_version_num') AS version_num, pg_database_size(current_database()) AS size_bytes`,
      );
      const server = rows[0] as NonNullable<(typeof rows)[0]>;
      const serverMajor = Math.floor(Number(server.version_num) / 10_000);
      if (pgDump.major < serverMajor) {
        throw new Error(
          `pg_dump ${pgDump.major} (${pgDump.line}) is older than the server (PostgreSQL ${server.version}) and cannot dump it: install pg_dump ${serverMajor} or newer (PG_DUMP_PATH, the layer for ${serverMajor})`,
        );
      }
      return { pgDump: pgDump.line, server: server.version, database: server.database, sizeBytes: Number(server.size_bytes) };
    });
    database = versions.database;
    key = dumpKey(config.prefix, database, startedAt);
    const partSizeBytes = partSizeFor(versions.sizeBytes);
    const env = libpqEnvironment(
      connection ?? (await dependencies.connection()),
      dependencies.databaseConfig,
      dependencies.inheritedEnv,
    );
    const dumpKeyNow = key;

    const dumped = await step('dump', signal, () =>
      db.withTransaction(
        async (client) => {
          if (!(await takeAdvisoryLock(client, 'backup', { scope: 'transaction', wait: false }))) throw new BackupRunningError();
          await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
          const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
          const snapshot = rows[0]?.snapshot as string;
          const dump = dumpToS3(
            {
              path: config.pgDumpPath,
              args: ['--format=custom', '--no-password', `--snapshot=${snapshot}`],
              env,
            },
            { s3, bucket: config.bucket, key: dumpKeyNow, kmsKeyId: config.kmsKeyId, queueSize: config.queueSize, partSizeBytes },
            signal,
            { path: config.pgRestorePath, env: toolEnvironment(dependencies.inheritedEnv) },
          );
          dump.catch(() => {});
          // Counting is bounded by DATABASE_STATEMENT_TIMEOUT_MS per table; a count that fails is
          // reported missing, it does not fail the backup.
          const tableRows = await countRows(client, signal).then(
            (counted) => ({ tableRows: counted }),
            (error: Error) => ({ tableRowsMissing: `rows not counted: ${error.message}` }),
          );
          return { ...(await dump), ...tableRows };
        },
        { isolation: 'repeatable read', readOnly: true },
      ),
    );
    uploaded = true;

    const verification = await step('verify', signal, async (): Promise<{ entries: number; proof: Manifest['verification'] }> => {
      const { computed, stored } = dumped.checksum;
      if (stored !== undefined && stored !== computed) {
        throw new Error(`S3 reports CRC32 ${stored} for what it stored; the bytes read give ${computed}`);
      }
      if (stored !== undefined && !config.verifyReadBack) {
        return { entries: dumped.entries, proof: { method: 's3-checksum', checksumCRC32: stored } };
      }
      // The slow proof: asked for, or the only one when the server confirms no checksum.
      const read = await readBack(
        s3,
        config.bucket,
        dumpKeyNow,
        config.pgRestorePath,
        toolEnvironment(dependencies.inheritedEnv),
        signal,
      );
      if (read.sha256 !== dumped.sha256 || read.sizeBytes !== dumped.sizeBytes) {
        throw new Error(
          `read back ${read.sizeBytes} bytes with SHA-256 ${read.sha256}; ${dumped.sizeBytes} bytes with ${dumped.sha256} were uploaded`,
        );
      }
      if (read.entries === 0) throw new Error('pg_restore --list found no entries in the dump');
      return {
        entries: read.entries,
        proof: {
          method: 'read-back',
          ...(stored ? { checksumCRC32: stored } : {}),
          reason: stored === undefined ? 'the S3 server returned no checksum to compare' : 'BACKUP_VERIFY_READ_BACK is set',
        },
      };
    });

    const finishedAt = now();
    const manifest: Manifest = {
      format: manifestFormat,
      key: dumpKeyNow,
      database,
      sizeBytes: dumped.sizeBytes,
      sha256: dumped.sha256,
      pgDumpVersion: versions.pgDump,
      serverVersion: versions.server,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      entries: verification.entries,
      verification: verification.proof,
      parts: dumped.parts,
      partSizeBytes,
      encryption: config.kmsKeyId ? { mode: 'SSE-KMS', kmsKeyId: config.kmsKeyId } : { mode: 'SSE-S3' },
      ...('tableRows' in dumped ? { tableRows: dumped.tableRows } : { tableRowsMissing: dumped.tableRowsMissing }),
    };
    await step('manifest', signal, async () => {
      signal.throwIfAborted();
      await writeManifest(s3, config.bucket, manifest, config.kmsKeyId);
    });

    let retention: RetentionReport;
    let newest: BackupReport['newest'];
    try {
      const listing = await listBackups(s3, config.bucket, config.prefix, database);
      retention = await applyRetention(dependencies, listing, dumpKeyNow, now());
      newest = newestOf(listing, now());
    } catch (error) {
      retention = {
        dryRun: config.retentionDryRun,
        kept: [],
        expired: [],
        unfinishedRemoved: [],
        broken: [],
        futureDated: [],
        error: errorMessage(error),
      };
      newest = {
        key: dumpKeyNow,
        startedAt: manifest.startedAt,
        ageSeconds: Math.round((now().getTime() - startedAt.getTime()) / 1000),
      };
    }
    return {
      outcome: 'succeeded',
      database,
      key: dumpKeyNow,
      startedAt: manifest.startedAt,
      durationMs: manifest.durationMs,
      manifest,
      retention,
      newest,
    };
  } catch (error) {
    if (error instanceof BackupRunningError) {
      // Nothing was uploaded and nothing failed: the other run's outcome is the one that counts.
      logger.info(`backup of ${database ?? 'the database'} skipped: ${errorMessage(error)}`);
      return {
        outcome: 'skipped',
        skipped: 'another backup of this database is running (it holds the backup lock)',
        ...(database ? { database } : {}),
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - started),
        newest: { missing: 'not listed: this run was skipped while another backup runs' },
      };
    }
    const failure = error instanceof StepError ? error : new StepError('dump', errorMessage(error));
    logger.error(`backup failed at ${failure.step}`, { error: errorSummary(error) });
    if (uploaded && key) {
      // The dump went up but is not a backup: it must not stay looking like one.
      await deleteKeys(s3, config.bucket, [key]).catch((cleanupError: unknown) =>
        logger.warn('could not delete the unverified dump; retention removes it after a day', {
          key,
          error: errorSummary(cleanupError),
        }),
      );
    }
    let newest: BackupReport['newest'];
    if (database) {
      newest = await listBackups(s3, config.bucket, config.prefix, database).then(
        (listing) => newestOf(listing, now()),
        (listError: Error) => ({ missing: `the bucket could not be listed: ${listError.message}` }),
      );
    } else {
      newest = { missing: 'the database could not be reached, so its backups were not listed' };
    }
    return {
      outcome: 'failed',
      database,
      key,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      failure: {
        step: failure.step,
        message: failure.message,
        ...(failure.stderr !== undefined ? { stderr: failure.stderr } : {}),
        ...(failure.secondary.length ? { secondary: failure.secondary } : {}),
      },
      newest,
    };
  }
}
