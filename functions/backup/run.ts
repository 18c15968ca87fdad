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

export type BackupStage = 'versions' | 'dump' | 'verify' | 'manifest' | 'watchdog';

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
  /**
   * `step`: the stage that failed (the field keeps its name: the report's JSON is read by the
   * alerts, the runbook and people); `secondary`: what failed after the root cause (a cleanup), in order.
   */
  failure?: { step: BackupStage; message: string; stderr?: string; secondary?: string[] };
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

class StageError extends VigilError {
  constructor(
    readonly stage: BackupStage,
    message: string,
    readonly stderr?: string,
    options?: { cause?: unknown },
    readonly secondary: string[] = [],
  ) {
    super(message, options);
    this.name = 'StageError';
  }
}

async function stage<T>(name: BackupStage, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StageError || error instanceof BackupRunningError) throw error;
    if (signal.aborted) {
      throw new StageError(
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
    throw new StageError(name, root.message, stderr, { cause: error }, secondary);
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

/** The versions stage: pg_dump must be at least the server's major; the database's name and size. */
async function checkVersions({ db, config, inheritedEnv }: BackupDependencies) {
  const pgDump = await toolVersion(config.pgDumpPath, toolEnvironment(inheritedEnv));
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
}

/**
 * The dump stage: under the backup lock, in one read-only snapshot, pg_dump streamed into S3 while
 * the rows of every table are counted in the same snapshot (a count that fails is reported missing;
 * it does not fail the backup).
 */
function dumpInSnapshot(
  { db, s3, config, inheritedEnv }: BackupDependencies,
  env: NodeJS.ProcessEnv,
  key: string,
  partSizeBytes: number,
  signal: AbortSignal,
) {
  return db.withTransaction(
    async (client) => {
      if (!(await takeAdvisoryLock(client, 'backup', { scope: 'transaction', wait: false }))) throw new BackupRunningError();
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
      const snapshot = rows[0]?.snapshot as string;
      const dump = dumpToS3(
        { path: config.pgDumpPath, args: ['--format=custom', '--no-password', `--snapshot=${snapshot}`], env },
        { s3, bucket: config.bucket, key, kmsKeyId: config.kmsKeyId, queueSize: config.queueSize, partSizeBytes },
        signal,
        { path: config.pgRestorePath, env: toolEnvironment(inheritedEnv) },
      );
      dump.catch(() => {});
      // Bounded by DATABASE_STATEMENT_TIMEOUT_MS per table.
      const tableRows = await countRows(client, signal).then(
        (counted) => ({ tableRows: counted }),
        (error: Error) => ({ tableRowsMissing: `rows not counted: ${error.message}` }),
      );
      return { ...(await dump), ...tableRows };
    },
    { isolation: 'repeatable read', readOnly: true },
  );
}

type Dumped = Awaited<ReturnType<typeof dumpInSnapshot>>;

/** The verify stage: S3's checksum of what it stored as the proof, or the object read back when that is asked for or missing. */
async function verifyDump(
  { s3, config, inheritedEnv }: BackupDependencies,
  dumped: Dumped,
  key: string,
  signal: AbortSignal,
): Promise<{ entries: number; proof: Manifest['verification'] }> {
  const { computed, stored } = dumped.checksum;
  if (stored !== undefined && stored !== computed) {
    throw new Error(`S3 reports CRC32 ${stored} for what it stored; the bytes read give ${computed}`);
  }
  if (stored !== undefined && !config.verifyReadBack) {
    return { entries: dumped.entries, proof: { method: 's3-checksum', checksumCRC32: stored } };
  }
  // The slow proof: asked for, or the only one when the server confirms no checksum.
  const read = await readBack(s3, config.bucket, key, config.pgRestorePath, toolEnvironment(inheritedEnv), signal);
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
}

/** The manifest of a verified dump: what makes it a backup. */
function manifestOf(
  config: BackupConfig,
  facts: { key: string; database: string; startedAt: Date; finishedAt: Date; durationMs: number; partSizeBytes: number },
  versions: Awaited<ReturnType<typeof checkVersions>>,
  dumped: Dumped,
  verification: Awaited<ReturnType<typeof verifyDump>>,
): Manifest {
  return {
    format: manifestFormat,
    key: facts.key,
    database: facts.database,
    sizeBytes: dumped.sizeBytes,
    sha256: dumped.sha256,
    pgDumpVersion: versions.pgDump,
    serverVersion: versions.server,
    startedAt: facts.startedAt.toISOString(),
    finishedAt: facts.finishedAt.toISOString(),
    durationMs: facts.durationMs,
    entries: verification.entries,
    verification: verification.proof,
    parts: dumped.parts,
    partSizeBytes: facts.partSizeBytes,
    encryption: config.kmsKeyId ? { mode: 'SSE-KMS', kmsKeyId: config.kmsKeyId } : { mode: 'SSE-S3' },
    ...('tableRows' in dumped ? { tableRows: dumped.tableRows } : { tableRowsMissing: dumped.tableRowsMissing }),
  };
}

/** The retention stage, after the manifest: GFS over the listing; a listing that fails expires nothing and says why. */
async function retentionAfter(
  dependencies: BackupDependencies,
  manifest: Manifest,
  now: () => Date,
): Promise<{ retention: RetentionReport; newest: BackupReport['newest'] }> {
  const { s3, config } = dependencies;
  try {
    const listing = await listBackups(s3, config.bucket, config.prefix, manifest.database);
    return { retention: await applyRetention(dependencies, listing, manifest.key, now()), newest: newestOf(listing, now()) };
  } catch (error) {
    return {
      retention: {
        dryRun: config.retentionDryRun,
        kept: [],
        expired: [],
        unfinishedRemoved: [],
        broken: [],
        futureDated: [],
        error: errorMessage(error),
      },
      newest: {
        key: manifest.key,
        startedAt: manifest.startedAt,
        ageSeconds: Math.round((now().getTime() - Date.parse(manifest.startedAt)) / 1000),
      },
    };
  }
}

/** Where a run got to, for what a failure must clean up and report. */
interface Progress {
  startedAt: Date;
  started: number;
  database?: string;
  key?: string;
  uploaded: boolean;
}

/** Another run holds the lock: nothing was uploaded and nothing failed; the other run's outcome is the one that counts. */
function skippedReport(progress: Progress, error: unknown): BackupReport {
  logger.info(`backup of ${progress.database ?? 'the database'} skipped: ${errorMessage(error)}`);
  return {
    outcome: 'skipped',
    skipped: 'another backup of this database is running (it holds the backup lock)',
    ...(progress.database ? { database: progress.database } : {}),
    startedAt: progress.startedAt.toISOString(),
    durationMs: Math.round(performance.now() - progress.started),
    newest: { missing: 'not listed: this run was skipped while another backup runs' },
  };
}

/** A failed run: the unverified dump deleted (it must not look like a backup), the newest good one named. */
async function failedReport(
  { s3, config }: BackupDependencies,
  progress: Progress,
  error: unknown,
  now: () => Date,
): Promise<BackupReport> {
  const failure = error instanceof StageError ? error : new StageError('dump', errorMessage(error));
  logger.error(`backup failed at ${failure.stage}`, { error: errorSummary(error) });
  const { database, key } = progress;
  if (progress.uploaded && key) {
    await deleteKeys(s3, config.bucket, [key]).catch((cleanupError: unknown) =>
      logger.warn('could not delete the unverified dump; retention removes it after a day', {
        key,
        error: errorSummary(cleanupError),
      }),
    );
  }
  const newest: BackupReport['newest'] = database
    ? await listBackups(s3, config.bucket, config.prefix, database).then(
        (listing) => newestOf(listing, now()),
        (listError: Error) => ({ missing: `the bucket could not be listed: ${listError.message}` }),
      )
    : { missing: 'the database could not be reached, so its backups were not listed' };
  return {
    outcome: 'failed',
    database,
    key,
    startedAt: progress.startedAt.toISOString(),
    durationMs: Math.round(performance.now() - progress.started),
    failure: {
      step: failure.stage,
      message: failure.message,
      ...(failure.stderr !== undefined ? { stderr: failure.stderr } : {}),
      ...(failure.secondary.length ? { secondary: failure.secondary } : {}),
    },
    newest,
  };
}

/**
 * One backup, in stages: versions checked, pg_dump streamed into S3 in one snapshot (dumpInSnapshot),
 * verified (verifyDump), the manifest written last; then, and only then, retention. Any failure
 * removes what was uploaded and skips retention (failedReport). `signal` is the watchdog.
 */
export async function runBackup(
  dependencies: BackupDependencies,
  signal: AbortSignal,
  now = () => new Date(),
): Promise<BackupReport> {
  const { s3, config } = dependencies;
  // Named before connecting, so a failure to connect still says which database it concerns.
  const connection = await dependencies.connection().catch(() => undefined);
  const progress: Progress = {
    startedAt: now(),
    started: performance.now(),
    database: connection ? databaseNameOf(connection) : undefined,
    uploaded: false,
  };
  try {
    const versions = await stage('versions', signal, () => checkVersions(dependencies));
    const database = versions.database;
    const key = dumpKey(config.prefix, database, progress.startedAt);
    Object.assign(progress, { database, key });
    const partSizeBytes = partSizeFor(versions.sizeBytes);
    const env = libpqEnvironment(
      connection ?? (await dependencies.connection()),
      dependencies.databaseConfig,
      dependencies.inheritedEnv,
    );
    const dumped = await stage('dump', signal, () => dumpInSnapshot(dependencies, env, key, partSizeBytes, signal));
    progress.uploaded = true;
    const verification = await stage('verify', signal, () => verifyDump(dependencies, dumped, key, signal));
    const facts = {
      key,
      database,
      startedAt: progress.startedAt,
      finishedAt: now(),
      durationMs: Math.round(performance.now() - progress.started),
      partSizeBytes,
    };
    const manifest = manifestOf(config, facts, versions, dumped, verification);
    await stage('manifest', signal, async () => {
      signal.throwIfAborted();
      await writeManifest(s3, config.bucket, manifest, config.kmsKeyId);
    });
    const { retention, newest } = await retentionAfter(dependencies, manifest, now);
    const { startedAt, durationMs } = manifest;
    return { outcome: 'succeeded', database, key, startedAt, durationMs, manifest, retention, newest };
  } catch (error) {
    if (error instanceof BackupRunningError) return skippedReport(progress, error);
    return failedReport(dependencies, progress, error, now);
  }
}
