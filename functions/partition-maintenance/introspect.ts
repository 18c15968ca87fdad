import type pg from 'pg';
import { quoteIdentifier } from '../../lib/db';
import type { ExistingChild, PartitionInterval } from './plan';

export const managedComment = 'vigil: managed by partitionMaintenance';

export interface ParentColumn {
  name: string;
  /** GENERATED ... STORED: computed on insert, never inserted. */
  generated: boolean;
}

export interface ParentTable {
  /** As configured (PostgreSQL's rules: unquoted folds to lower case, "quoted" keeps case). */
  table: string;
  schema: string;
  name: string;
  owner: string;
  keyColumn: string;
  keyType: 'timestamp with time zone' | 'timestamp without time zone' | 'date';
  columns: ParentColumn[];
  children: Array<ExistingChild & { schema: string; detachPending: boolean }>;
  defaultPartition?: string;
}

export const qualified = (schema: string, name: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;

/**
 * Reads a parent's partitioning; throws a plain sentence naming what is wrong with it. The table is
 * found by PostgreSQL's own name rules (to_regclass of the configured text), so `QPL_Drop` means
 * qpl_drop and `"QPL_Drop"` the mixed-case table, as in SQL.
 */
export async function introspectParent(client: pg.ClientBase, table: string): Promise<ParentTable> {
  let found: pg.QueryResult<{
    schema: string;
    name: string;
    owner: string;
    relkind: string;
    strategy: string | null;
    key_attnums: number[] | null;
    key_column: string | null;
    key_type: string | null;
  }>;
  try {
    found = await client.query(
      `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.relkind::text AS relkind,
              pt.partstrat::text AS strategy, pt.partattrs::int2[] AS key_attnums, a.attname AS key_column,
              format_type(a.atttypid, a.atttypmod) AS key_type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
       WHERE c.oid = to_regclass($1)`,
      [table],
    );
  } catch (error) {
    // to_regclass refuses text that is not a name at all.
    throw new Error(`table ${table} is not a valid table name (${(error as Error).message})`);
  }
  const parent = found.rows[0];
  if (!parent) throw new Error(`table ${table} does not exist`);
  if (parent.relkind !== 'p') throw new Error(`table ${table} is not partitioned`);
  if (parent.strategy !== 'r')
    throw new Error(`table ${table} is partitioned by ${parent.strategy === 'l' ? 'list' : 'hash'}, not by a time range`);
  if ((parent.key_attnums?.length ?? 0) !== 1 || !parent.key_column)
    throw new Error(`table ${table} is partitioned by an expression or several columns, not one time column`);
  if (!['timestamp with time zone', 'timestamp without time zone', 'date'].includes(parent.key_type ?? '')) {
    throw new Error(`table ${table} is partitioned by ${parent.key_column} (${parent.key_type}), not by a time range`);
  }
  const parentName = qualified(parent.schema, parent.name);
  const columns = await client.query<{ name: string; generated: boolean }>(
    `SELECT attname AS name, attgenerated <> '' AS generated FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [parentName],
  );
  const children = await client.query<{
    schema: string;
    name: string;
    bound: string;
    comment: string | null;
    detach_pending: boolean;
    range_from: Date | null;
    range_to: Date | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, obj_description(c.oid, 'pg_class') AS comment,
            coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false) AS detach_pending,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$'))[1]::timestamptz AS range_from,
            (regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$'))[2]::timestamptz AS range_to
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.inhparent = $1::regclass ORDER BY 2`,
    [parentName],
  );
  const mapped = children.rows.map((child) => ({
    schema: child.schema,
    name: child.name,
    from: child.range_from,
    to: child.range_to,
    isDefault: child.bound === 'DEFAULT',
    managed: child.comment === managedComment,
    detachPending: child.detach_pending,
  }));
  return {
    table,
    schema: parent.schema,
    name: parent.name,
    owner: parent.owner,
    keyColumn: parent.key_column,
    keyType: parent.key_type as ParentTable['keyType'],
    columns: columns.rows,
    children: mapped,
    defaultPartition: mapped.find((child) => child.isDefault)?.name,
  };
}

/**
 * The starts of the intervals that rows in the default partition fall into (UTC), oldest first, at
 * most `limit`: each is a partition to create, its rows moved in.
 */
export async function defaultPartitionIntervals(
  client: pg.ClientBase,
  parent: ParentTable,
  interval: PartitionInterval,
  limit: number,
): Promise<Array<{ start: Date; rows: number }>> {
  if (!parent.defaultPartition) return [];
  const key = quoteIdentifier(parent.keyColumn);
  // date_trunc('week') starts weeks on Monday, as intervalStart() does; the session runs in UTC.
  const { rows } = await client.query<{ start: Date; rows: string }>(
    `SELECT date_trunc($1, ${key})::timestamptz AS start, count(*) AS rows
     FROM ${qualified(parent.schema, parent.defaultPartition)} WHERE ${key} IS NOT NULL
     GROUP BY 1 ORDER BY 1 LIMIT $2`,
    [interval, limit],
  );
  return rows.map((row) => ({ start: row.start, rows: Number(row.rows) }));
}

/** A bound literal of the key's type, from a plan's UTC instant (the session runs in UTC). */
export function boundLiteral(date: Date, keyType: ParentTable['keyType']): string {
  const iso = date.toISOString();
  const text =
    keyType === 'date' ? iso.slice(0, 10) : keyType === 'timestamp without time zone' ? iso.slice(0, 19).replace('T', ' ') : iso;
  return `'${text}'`;
}
