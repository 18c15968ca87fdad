import type { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import type { Config } from '../../lib/config';
import { connectionOptions, type Database, quoteIdentifier, sslOptions } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import type { BackupConfig } from './config';
import { listBackups } from './manifest';
import { libpqEnvironment } from './pg-tools';
import { restoreBackup } from './restore';
import { countRows } from './row-counts';

export interface RestoreCheckReport {
  outcome: 'succeeded' | 'failed';
  key?: string;
  durationMs: number;
  tables?: number;
  /** Tables whose restored row count differs from the count taken in the dump's snapshot. */
  mismatches: Array<{ table: string; dumped: number | null; restored: number | null }>;
  failure?: string;
}

/** Where the backed-up database lives: as the function reaches it, and as the server reports itself. */
export interface SourceServer {
  database: string;
  host?: string;
  port?: number;
  /** inet_server_addr() and inet_server_port() on the source's connection. */
  serverAddress?: string | null;
  serverPort?: number | null;
}

/** The backed-up database and its server as the connection names it and as the server reports itself. */
export async function backedUpServer(db: Database, databaseConfig: Config['database']): Promise<SourceServer> {
  const { rows } = await db.query<{ database: string; address: string | null; port: number | null }>(
    'SELECT current_database() AS database, inet_server_addr()::text AS address, inet_server_port() AS port',
  );
  const connection = await connectionOptions(databaseConfig);
  const url = connection.connectionString ? new URL(connection.connectionString) : undefined;
  return {
    database: rows[0]?.database as string,
    host: url ? url.hostname : connection.host,
    port: url ? Number(url.port || 5432) : connection.port,
    serverAddress: rows[0]?.address,
    serverPort: rows[0]?.port,
  };
}

/** Why the scratch server is the source's, or undefined: the same host and port, or the same address the servers report. */
export function sameServer(
  source: SourceServer,
  scratch: { host: string; port: number; serverAddress?: string | null; serverPort?: number | null },
) {
  const normalise = (host: string) => host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (source.host && normalise(source.host) === normalise(scratch.host) && (source.port ?? 5432) === scratch.port) {
    return `${scratch.host}:${scratch.port} is the server of the backed-up database`;
  }
  if (source.serverAddress && source.serverAddress === scratch.serverAddress && source.serverPort === scratch.serverPort) {
    return `the scratch server reports the backed-up server's own address (${scratch.serverAddress}:${scratch.serverPort})`;
  }
  return undefined;
}

/** The scratch database: its URL as configured (`raw`, for libpq and pg), parsed, and its name. */
interface ScratchTarget {
  raw: string;
  url: URL;
  name: string;
}

/** The scratch database named by the configuration, or why there is none to restore into. */
function scratchTarget(config: BackupConfig, sourceDatabase: string): ScratchTarget | { refused: string } {
  if (!config.verifyDatabaseUrl) {
    return { refused: 'neither BACKUP_VERIFY_DATABASE_URL nor BACKUP_VERIFY_DATABASE_URL_PARAMETER is set' };
  }
  const url = new URL(config.verifyDatabaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name || name === sourceDatabase) {
    return {
      refused: `refusing to restore into "${name}": the scratch database must be another database than the one backed up`,
    };
  }
  return { raw: config.verifyDatabaseUrl, url, name };
}

/**
 * The scratch database dropped and created anew, through the scratch server's maintenance
 * database. DROP DATABASE ... WITH (FORCE) on the production server is one typo away: refused there
 * unless BACKUP_VERIFY_ALLOW_SAME_SERVER says that server is meant.
 */
async function freshScratchDatabase(
  scratch: ScratchTarget,
  source: SourceServer,
  ssl: pg.ClientConfig['ssl'],
  allowSameServer: boolean,
) {
  const maintenance = new URL(scratch.raw);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString(), ssl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ address: string | null; port: number | null }>(
      'SELECT inet_server_addr()::text AS address, inet_server_port() AS port',
    );
    const same = sameServer(source, {
      host: scratch.url.hostname,
      port: Number(scratch.url.port || 5432),
      serverAddress: rows[0]?.address,
      serverPort: rows[0]?.port,
    });
    if (same && !allowSameServer) {
      throw new Error(
        `refusing to drop and restore "${scratch.name}": ${same}; give the restore check a scratch server of its own, or set BACKUP_VERIFY_ALLOW_SAME_SERVER=true`,
      );
    }
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch.name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdentifier(scratch.name)}`);
  } finally {
    await admin.end();
  }
}

/** Every table's rows in the restored database. */
async function restoredRows(url: string, ssl: pg.ClientConfig['ssl'], signal: AbortSignal): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url, ssl });
  await client.connect();
  try {
    return await countRows(client, signal);
  } finally {
    await client.end();
  }
}

/** The tables whose restored rows differ from the counts taken in the dump's own snapshot. Pure. */
export function rowMismatches(dumped: Record<string, number>, restored: Record<string, number>) {
  const tables = new Set([...Object.keys(dumped), ...Object.keys(restored)]);
  const mismatches = [...tables]
    .map((table) => ({ table, dumped: dumped[table] ?? null, restored: restored[table] ?? null }))
    .filter((row) => row.dumped !== row.restored);
  return { tables: tables.size, mismatches };
}

/**
 * The scheduled proof that backups restore, in stages: the scratch target, the newest complete
 * backup, a fresh scratch database, the backup streamed into it (its checksum checked), every
 * table's rows counted and compared with the counts the manifest took in the dump's own snapshot.
 */
export async function checkNewestBackupRestores(
  s3: S3Client,
  config: BackupConfig,
  databaseConfig: Config['database'],
  source: SourceServer,
  signal: AbortSignal,
  inheritedEnv: NodeJS.ProcessEnv,
): Promise<RestoreCheckReport> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const scratch = scratchTarget(config, source.database);
  if ('refused' in scratch) return { outcome: 'failed', durationMs: 0, mismatches: [], failure: scratch.refused };
  let key: string | undefined;
  try {
    const newest = (await listBackups(s3, config.bucket, config.prefix, source.database)).complete[0];
    if (!newest) throw new Error('no complete backup to restore');
    key = newest.key;
    if (!newest.tableRows)
      throw new Error(`the manifest of ${key} holds no row counts (${newest.tableRowsMissing ?? 'not taken'})`);
    // The scratch server is reached with the same TLS as the watched one (DATABASE_SSL_MODE and its roots).
    const ssl = sslOptions(databaseConfig);
    await freshScratchDatabase(scratch, source, ssl, config.verifyAllowSameServer);
    await restoreBackup(s3, config.bucket, key, {
      pgRestorePath: config.pgRestorePath,
      env: libpqEnvironment({ connectionString: scratch.raw }, databaseConfig, inheritedEnv),
      signal,
    });
    const { tables, mismatches } = rowMismatches(newest.tableRows, await restoredRows(scratch.raw, ssl, signal));
    return {
      outcome: mismatches.length === 0 ? 'succeeded' : 'failed',
      key,
      durationMs: elapsed(),
      tables,
      mismatches,
      ...(mismatches.length > 0
        ? { failure: `${mismatches.length} table(s) restored with other row counts than were dumped` }
        : {}),
    };
  } catch (error) {
    return { outcome: 'failed', key, durationMs: elapsed(), mismatches: [], failure: errorMessage(error) };
  }
}
