import type pg from 'pg';
import { quoteIdentifier } from '../../lib/db';

/** Leaf tables and their rows, counted in the transaction whose snapshot pg_dump dumps. */
export async function countRows(client: pg.ClientBase, signal: AbortSignal): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1, 2`,
  );
  const counted: Record<string, number> = {};
  for (const table of tables) {
    signal.throwIfAborted();
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`,
    );
    counted[`${table.schema}.${table.name}`] = Number(rows[0]?.n);
  }
  return counted;
}
