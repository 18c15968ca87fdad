import { type ChildProcess, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { Config } from '../../lib/config';
import { trustedCaFile } from '../../lib/db';
import { errorMessage, VigilError } from '../../lib/errors';
import { redact } from '../../lib/redact';

/** pg_dump or pg_restore failed, or could not run; `stderr` is its own words, trimmed. */
export class PgToolError extends VigilError {
  readonly stderr: string;

  constructor(message: string, stderr = '', options?: { cause?: unknown }) {
    // pg_dump may print a connection string, password included: redacted before anything can log it.
    super(redact(message), options);
    this.name = 'PgToolError';
    this.stderr = redact(stderr);
  }
}

/**
 * What every spawn of pg_dump or pg_restore inherits, built here and nowhere else: the search path,
 * and the library path through which a Lambda layer's tools find their libpq (/opt/lib, reached
 * only through LD_LIBRARY_PATH). Nothing else of the function's environment (AWS credentials above
 * all) is handed to the child.
 */
export function toolEnvironment(inherited: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: inherited.PATH, LD_LIBRARY_PATH: inherited.LD_LIBRARY_PATH, LANG: 'C.UTF-8' };
  for (const [name, value] of Object.entries(env)) if (value === undefined || value === '') delete env[name];
  return env;
}

/**
 * libpq's environment for pg_dump and pg_restore, from the same connection Vigil's pool uses, on
 * top of toolEnvironment(). The password travels in PGPASSWORD, never in argv (which `ps` shows);
 * with verify-full, PGSSLROOTCERT names the same roots node-pg trusts.
 */
export function libpqEnvironment(
  connection: pg.PoolConfig,
  database: Config['database'],
  inherited: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...toolEnvironment(inherited),
    PGSSLMODE: database.sslMode,
    PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(database.connectTimeoutMs / 1000))),
    PGAPPNAME: 'vigil-backup',
    ...(database.sslMode === 'verify-full' ? { PGSSLROOTCERT: trustedCaFile(database) } : {}),
  };
  if (connection.connectionString) {
    const url = new URL(connection.connectionString);
    Object.assign(env, {
      PGHOST: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      PGPORT: url.port || '5432',
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
    });
  } else {
    Object.assign(env, {
      PGHOST: connection.host,
      PGPORT: String(connection.port ?? 5432),
      PGUSER: connection.user,
      PGPASSWORD: typeof connection.password === 'string' ? connection.password : undefined,
      PGDATABASE: connection.database,
    });
  }
  for (const [name, value] of Object.entries(env)) if (value === undefined || value === '') delete env[name];
  return env;
}

/** `pg_dump (PostgreSQL) 15.18 (Debian ...)` -> 15. */
export function toolMajorVersion(versionLine: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(versionLine);
  if (!match) return undefined;
  const major = Number(match[1]);
  // Before 10 the major was two numbers (9.6); those are far too old to dump a supported server anyway.
  return major >= 10 ? major : major + Number(match[2] ?? 0) / 10;
}

export async function toolVersion(path: string, env: NodeJS.ProcessEnv): Promise<{ line: string; major: number }> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(path, ['--version'], { timeout: 10_000, env }));
  } catch (error) {
    throw new PgToolError(`${path} --version could not run: ${errorMessage(error)}`, '', { cause: error });
  }
  const line = stdout.trim();
  const major = toolMajorVersion(line);
  if (major === undefined) throw new PgToolError(`${path} --version printed "${line}", not a PostgreSQL version`);
  return { line, major };
}

/** The last bytes a child wrote to stderr: enough to say why it failed, never unbounded. */
export function stderrTail(child: ChildProcess, limitBytes = 4096): () => string {
  let tail = Buffer.alloc(0);
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > limitBytes) tail = tail.subarray(tail.length - limitBytes);
  });
  return () => redact(tail.toString('utf8').trim());
}

/** Resolves with how the child ended (after its stdio closed); rejects when it could not start. */
export function childEnded(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Resolves when the tool exited 0; otherwise rejects with a PgToolError saying how it ended (or
 * that it could not start) in its own words from stderr.
 */
export async function toolSucceeded(
  tool: string,
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  stderr: () => string,
): Promise<void> {
  const end = await ended.catch((error: Error) => {
    throw new PgToolError(`${tool} could not run: ${error.message}`, '', { cause: error });
  });
  if (end.code === 0) return;
  const how = end.signal ? `${tool} was killed by ${end.signal}` : `${tool} exited with status ${end.code}`;
  throw new PgToolError(`${how}: ${stderr() || 'no message'}`, stderr());
}
