import type pg from 'pg';
import type { Database } from './db';
import { VigilError } from './errors';

/*
 * SQL that someone configured (ROLLBACK_ADOPTION_QUERY, ROLLBACK_COMPLAINTS_QUERY,
 * CACHE_COUNTERS_QUERY) is text from outside Vigil, run against the app's database. It gets one
 * chance to read and none to write:
 * - exactly one statement: it is sent through the extended protocol, whose Parse message refuses
 *   more than one, so `SELECT 1; COMMIT; DROP TABLE ...` never reaches the executor;
 * - inside a READ ONLY transaction that is always rolled back, so writable CTEs, SELECT ... INTO,
 *   COPY FROM, nextval() and functions that write fail instead of writing;
 * - under the connection's statement timeout (DATABASE_STATEMENT_TIMEOUT_MS, below the function's
 *   Lambda timeout);
 * - on a connection of its own that is closed afterwards, so nothing it did to the session
 *   (advisory locks, settings, prepared statements) outlives it.
 * Its role's privileges are the second wall (deploy/database-roles.sql).
 */

export class ConfiguredQueryError extends VigilError {
  readonly variable: string;

  constructor(variable: string, message: string, options?: { cause?: unknown }) {
    super(`${variable}: ${message}`, options);
    this.name = 'ConfiguredQueryError';
    this.variable = variable;
  }
}

/** PostgreSQL's words, turned into what the person who wrote the query must change. */
function explain(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  switch (code) {
    case '42601':
      return /multiple commands/.test(message ?? '')
        ? `must be exactly one SQL statement (PostgreSQL: ${message})`
        : `is not valid SQL (PostgreSQL: ${message})`;
    case '25006':
      return `may only read; it tried to write (PostgreSQL: ${message})`;
    case '57014':
      return `took longer than its statement timeout and was cancelled (PostgreSQL: ${message})`;
    case '42501':
      return `reads something Vigil's database role may not read (PostgreSQL: ${message})`;
    default:
      return `failed (PostgreSQL: ${message ?? String(error)})`;
  }
}

export interface ConfiguredQueryResult<Row> {
  rows: Row[];
  /** The database's clock when the query ran (its transaction's now()). */
  readAt: Date;
}

export async function runConfiguredQuery<Row extends pg.QueryResultRow>(
  db: Pick<Database, 'separateClient'>,
  variable: string,
  sql: string,
): Promise<ConfiguredQueryResult<Row>> {
  if (!/^\s*(SELECT|WITH)\b/i.test(sql)) throw new ConfiguredQueryError(variable, 'must be a SELECT (or WITH ... SELECT)');
  const client = await db.separateClient();
  try {
    await client.query('BEGIN READ ONLY');
    const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
    let rows: Row[];
    try {
      ({ rows } = await client.query<Row>({ text: sql, values: [], queryMode: 'extended' } as pg.QueryConfig));
    } catch (error) {
      throw new ConfiguredQueryError(variable, explain(error), { cause: error });
    }
    return { rows, readAt: (clock[0] as { now: Date }).now };
  } finally {
    // Nothing it did is kept: the transaction is rolled back and the connection closed.
    await client.query('ROLLBACK').catch(() => {});
    await client.end().catch(() => {});
  }
}
