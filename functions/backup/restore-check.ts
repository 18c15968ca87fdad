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

/**
 * The scheduled proof that backups restore: the newest complete backup streamed into a scratch
 * database (dropped and created anew), its checksum checked, and every table's rows counted
 * against the counts the manifest took in the dump's own snapshot.
 */
// Over 80 lines: not yet cut into named stages (issue 33): find, refuse, restore, count, compare.
export async function checkNewestBackupRestores(
  s3: S3Client,
  config: BackupConfig,
  databaseConfig: Config['database'],
  source: SourceServer,
  signal: AbortSignal,
  inheritedEnv: NodeJS.ProcessEnv,
): Promise<RestoreCheckReport> {
  const sourceDatabase = source.database;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const scratchUrl = config.verifyDatabaseUrl;
  if (!scratchUrl)
    return {
      outcome: 'failed',
      durationMs: 0,
      mismatches: [],
      failure: 'neither BACKUP_VERIFY_DATABASE_URL nor BACKUP_VERIFY_DATABASE_URL_PARAMETER is set',
    };
  const scratch = new URL(scratchUrl);
  const scratchName = decodeURIComponent(scratch.pathname.slice(1));
  if (!scratchName || scratchName === sourceDatabase) {
    return {
      outcome: 'failed',
      durationMs: 0,
      mismatches: [],
      failure: `refusing to restore into "${scratchName}": the scratch database must be another database than the one backed up`,
    };
  }
  let key: string | undefined;
  try {
    const listing = await listBackups(s3, config.bucket, config.prefix, sourceDatabase);
    const newest = listing.complete[0];
    if (!newest) throw new Error('no complete backup to restore');
    key = newest.key;
    if (!newest.tableRows)
      throw new Error(`the manifest of ${key} holds no row counts (${newest.tableRowsMissing ?? 'not taken'})`);

    const maintenance = new URL(scratchUrl);
    maintenance.pathname = '/postgres';
    // The scratch server is reached with the same TLS as the watched one (DATABASE_SSL_MODE and its roots).
    const ssl = sslOptions(databaseConfig);
    const admin = new pg.Client({ connectionString: maintenance.toString(), ssl });
    await admin.connect();
    try {
      // DROP DATABASE ... WITH (FORCE) on the production server is one typo away: refused there
      // unless BACKUP_VERIFY_ALLOW_SAME_SERVER says that server is meant.
      const { rows } = await admin.query<{ address: string | null; port: number | null }>(
        'SELECT inet_server_addr()::text AS address, inet_server_port() AS port',
      );
      const same = sameServer(source, {
        host: scratch.hostname,
        port: Number(scratch.port || 5432),
        serverAddress: rows[0]?.address,
        serverPort: rows[0]?.port,
      });
      if (same && !config.verifyAllowSameServer) {
        throw new Error(
          `refusing to drop and restore "${scratchName}": ${same}; give the restore check a scratch server of its own, or set BACKUP_VERIFY_ALLOW_SAME_SERVER=true`,
        );
      }
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratchName)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoteIdentifier(scratchName)}`);
    } finally {
      await admin.end();
    }
    await restoreBackup(s3, config.bucket, key, {
      pgRestorePath: config.pgRestorePath,
      env: libpqEnvironment({ connectionString: scratchUrl }, databaseConfig, inheritedEnv),
      signal,
    });

    const restoredClient = new pg.Client({ connectionString: scratchUrl, ssl });
    await restoredClient.connect();
    let restored: Record<string, number>;
    try {
      restored = await countRows(restoredClient, signal);
    } finally {
      await restoredClient.end();
    }
    const tables = new Set([...Object.keys(newest.tableRows), ...Object.keys(restored)]);
    const mismatches = [...tables]
      .map((table) => ({ table, dumped: newest.tableRows?.[table] ?? null, restored: restored[table] ?? null }))
      .filter((row) => row.dumped !== row.restored);
    return {
      outcome: mismatches.length === 0 ? 'succeeded' : 'failed',
      key,
      durationMs: elapsed(),
      tables: tables.size,
      mismatches,
      ...(mismatches.length > 0
        ? { failure: `${mismatches.length} table(s) restored with other row counts than were dumped` }
        : {}),
    };
  } catch (error) {
    return { outcome: 'failed', key, durationMs: elapsed(), mismatches: [], failure: errorMessage(error) };
  }
}
