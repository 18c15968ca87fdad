import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';
import type { ExistingChild } from './plan';

export const managedComment = 'vigil: managed by partitionMaintenance';

export interface ParentTable {
  table: string;
  schema: string;
  name: string;
  keyColumn: string;
  keyType: 'timestamp with time zone' | 'timestamp without time zone' | 'date';
  children: Array<ExistingChild & { schema: string }>;
  defaultPartition?: string;
}

/** Reads a parent's partitioning; throws a plain sentence naming what is wrong with it. */
export async function introspectParent(client: pg.ClientBase, table: string): Promise<ParentTable> {
  const { rows } = await client.query<{
    schema: string;
    name: string;
    relkind: string;
    strategy: string | null;
    key_attnums: number[] | null;
    key_column: string | null;
    key_type: string | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, pt.partstrat::text AS strategy,
            pt.partattrs::int2[] AS key_attnums, a.attname AS key_column, format_type(a.atttypid, a.atttypmod) AS key_type
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
     WHERE c.oid = to_regclass($1)`,
    [quoteQualifiedName(table)],
  );
  const parent = rows[0];
  if (!parent) throw new Error(`table ${table} does not exist`);
  if (parent.relkind !== 'p') throw new Error(`table ${table} is not partitioned`);
  if (parent.strategy !== 'r')
    throw new Error(`table ${table} is partitioned by ${parent.strategy === 'l' ? 'list' : 'hash'}, not by a time range`);
  if ((parent.key_attnums?.length ?? 0) !== 1 || !parent.key_column)
    throw new Error(`table ${table} is partitioned by an expression or several columns, not one time column`);
  if (!['timestamp with time zone', 'timestamp without time zone', 'date'].includes(parent.key_type ?? '')) {
    throw new Error(`table ${table} is partitioned by ${parent.key_column} (${parent.key_type}), not by a time range`);
  }
  const children = await client.query<{
    schema: string;
    name: string;
    bound: string;
    comment: string | null;
    range_from: Date | null;
    range_to: Date | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, obj_description(c.oid, 'pg_class') AS comment,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$'))[1]::timestamptz AS range_from,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$'))[2]::timestamptz AS range_to
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.inhparent = to_regclass($1) ORDER BY 2`,
    [quoteQualifiedName(table)],
  );
  const mapped = children.rows.map((child) => ({
    schema: child.schema,
    name: child.name,
    from: child.range_from,
    to: child.range_to,
    isDefault: child.bound === 'DEFAULT',
    managed: child.comment === managedComment,
  }));
  return {
    table,
    schema: parent.schema,
    name: parent.name,
    keyColumn: parent.key_column,
    keyType: parent.key_type as ParentTable['keyType'],
    children: mapped,
    defaultPartition: mapped.find((child) => child.isDefault)?.name,
  };
}

/** A bound literal of the key's type, from a plan's UTC instant (the session runs in UTC). */
export function boundLiteral(date: Date, keyType: ParentTable['keyType']): string {
  const iso = date.toISOString();
  const text =
    keyType === 'date' ? iso.slice(0, 10) : keyType === 'timestamp without time zone' ? iso.slice(0, 19).replace('T', ' ') : iso;
  return `'${text}'`;
}
