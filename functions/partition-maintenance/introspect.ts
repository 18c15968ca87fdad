import type pg from 'pg';
import { quoteIdentifier } from '../../lib/db';
import { errorMessage, VigilError } from '../../lib/errors';
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
  /** Ordinary tables beside the parent that bear a planned child's name (standingTables()). */
  standingTables: string[];
}

/**
 * The configured table is not one partitionMaintenance can keep: missing, not partitioned by one
 * time column, or in a database without the partition functions (deploy/partition-functions.sql).
 */
export class TableShapeError extends VigilError {
  override name = 'TableShapeError';
}

export const qualified = (schema: string, name: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;

export interface LedgerEntry {
  partition: string;
  state: 'detaching' | 'detached' | 'archived';
  /** The table's name when it still exists. */
  name: string | null;
  attached: boolean;
}

/** Everything a run needs to know of one table, read in one statement. */
export interface TableState {
  parent: ParentTable;
  /** Starts (UTC) of the intervals rows in the default partition fall into, oldest first, bounded. */
  defaultIntervals: Array<{ start: Date; rows: number }>;
  defaultRows: number;
  ledger: LedgerEntry[];
  serverVersionNum: number;
  /** The table's recent runs: whether each had to defer a change for a lock (oldest first). */
  recentLockDeferrals: boolean[];
}

interface StateRow {
  schema: string;
  name: string;
  owner: string;
  relkind: string;
  strategy: string | null;
  key_count: number;
  key_column: string | null;
  key_type: string | null;
  server_version_num: string;
  columns: ParentColumn[] | null;
  children: Array<{
    schema: string;
    name: string;
    bound: string;
    comment: string | null;
    detach_pending: boolean;
    range_from: string | null;
    range_to: string | null;
  }> | null;
  ledger: LedgerEntry[] | null;
  recent_lock_deferrals: boolean[] | null;
  functions_installed: boolean;
}

/** The one statement of readTableState; text that is not a table name at all is a TableShapeError. */
async function queryStateRow(client: pg.ClientBase, table: string): Promise<StateRow | undefined> {
  try {
    const { rows } = await client.query<StateRow>(
      `WITH parent AS (
         SELECT c.oid, n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.relkind::text AS relkind,
                pt.partstrat::text AS strategy, coalesce(cardinality(pt.partattrs::int2[]), 0) AS key_count,
                a.attname AS key_column, format_type(a.atttypid, a.atttypmod) AS key_type
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
         WHERE c.oid = to_regclass($1)
       )
       SELECT p.schema, p.name, p.owner, p.relkind, p.strategy, p.key_count, p.key_column, p.key_type,
              current_setting('server_version_num') AS server_version_num,
              to_regprocedure('vigil_partitioning.attach(regclass, text, text, text)') IS NOT NULL AS functions_installed,

              (SELECT json_agg(json_build_object('name', attname, 'generated', attgenerated <> '') ORDER BY attnum)
                 FROM pg_attribute WHERE attrelid = p.oid AND attnum > 0 AND NOT attisdropped) AS columns,
              (SELECT json_agg(json_build_object(
                        'schema', cn.nspname, 'name', cc.relname, 'bound', pg_get_expr(cc.relpartbound, cc.oid),
                        'comment', obj_description(cc.oid, 'pg_class'),
                        'detach_pending', coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false),
                        'range_from', b.range[1], 'range_to', b.range[2]) ORDER BY cc.relname)
                 FROM pg_inherits i JOIN pg_class cc ON cc.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
                 CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(cc.relpartbound, cc.oid),
                   '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$') AS range) b
                 WHERE i.inhparent = p.oid) AS children,
              (SELECT json_agg(json_build_object('partition', l.partition, 'state', l.state, 'name', lc.relname,
                        'attached', EXISTS (SELECT 1 FROM pg_inherits li WHERE li.inhrelid = lc.oid AND li.inhparent = p.oid))
                        ORDER BY l.partition)
                 FROM vigil.partition_ledger l LEFT JOIN pg_class lc ON lc.oid = to_regclass(l.partition)
                 WHERE l.parent = '"' || replace(p.schema, '"', '""') || '"."' || replace(p.name, '"', '""') || '"') AS ledger,
              (SELECT recent_lock_deferrals FROM vigil.partition_table_state WHERE table_name = $2) AS recent_lock_deferrals
       FROM parent p`,
      [table, table],
    );
    return rows[0];
  } catch (error) {
    // to_regclass refuses text that is not a name at all.
    if ((error as { code?: string }).code === '42601' || (error as { code?: string }).code === '42602') {
      throw new TableShapeError(`table ${table} is not a valid table name (${errorMessage(error)})`);
    }
    throw error;
  }
}

/** A table partitionMaintenance can keep, or a TableShapeError naming in a plain sentence what is wrong with it. */
function assertTableShape(table: string, row: StateRow | undefined): asserts row is StateRow & { key_column: string } {
  if (!row) throw new TableShapeError(`table ${table} does not exist`);
  if (row.relkind !== 'p') throw new TableShapeError(`table ${table} is not partitioned`);
  if (row.strategy !== 'r')
    throw new TableShapeError(`table ${table} is partitioned by ${row.strategy === 'l' ? 'list' : 'hash'}, not by a time range`);
  if (row.key_count !== 1 || !row.key_column)
    throw new TableShapeError(`table ${table} is partitioned by an expression or several columns, not one time column`);
  if (!['timestamp with time zone', 'timestamp without time zone', 'date'].includes(row.key_type ?? '')) {
    throw new TableShapeError(`table ${table} is partitioned by ${row.key_column} (${row.key_type}), not by a time range`);
  }
  if (!row.functions_installed) {
    throw new TableShapeError(
      'the partition functions are not in this database (schema vigil_partitioning): an administrator runs deploy/database-roles.sql, which installs them (docs/deploying.md, "Database roles")',
    );
  }
}

/**
 * A bound's text as PostgreSQL prints it: with an offset for timestamptz, without one (meaning UTC)
 * otherwise. Bounds Vigil does not understand (infinity, BC dates) are no range (null): left alone by the plan.
 */
function boundInstant(text: string | null, keyType: ParentTable['keyType']): Date | null {
  if (text === null) return null;
  const iso = text.replace(' ', 'T');
  const date = new Date(
    keyType === 'timestamp with time zone'
      ? iso.replace(/([+-]\d\d)$/, '$1:00')
      : `${iso.length === 10 ? `${iso}T00:00:00` : iso}Z`,
  );
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The parent and its children from the statement's row, of a table whose shape was checked. */
function parentOf(table: string, row: StateRow & { key_column: string }): ParentTable {
  const keyType = row.key_type as ParentTable['keyType'];
  const children = (row.children ?? []).map((child) => ({
    schema: child.schema,
    name: child.name,
    from: boundInstant(child.range_from, keyType),
    to: boundInstant(child.range_to, keyType),
    isDefault: child.bound === 'DEFAULT',
    managed: child.comment === managedComment,
    detachPending: child.detach_pending,
  }));
  return {
    table,
    schema: row.schema,
    name: row.name,
    owner: row.owner,
    keyColumn: row.key_column,
    keyType,
    columns: row.columns ?? [],
    children,
    defaultPartition: children.find((child) => child.isDefault)?.name,
    standingTables: [],
  };
}

/**
 * The default partition's rows and the intervals they fall into, oldest first and bounded. Counted
 * by the partition functions: the maintainer reads none of the app's rows. Weeks start on Monday
 * there (date_trunc), as intervalStart() has them.
 */
async function defaultPartitionRows(
  client: pg.ClientBase,
  parent: ParentTable,
  interval: PartitionInterval,
  intervalLimit: number,
): Promise<Pick<TableState, 'defaultIntervals' | 'defaultRows'>> {
  if (!parent.defaultPartition) return { defaultIntervals: [], defaultRows: 0 };
  const { rows } = await client.query<{ start: string | null; rows: string; total: string }>(
    'SELECT start, rows, total FROM vigil_partitioning.default_intervals($1::regclass, $2)',
    [qualified(parent.schema, parent.name), interval],
  );
  return {
    defaultRows: Number(rows[0]?.total ?? 0),
    defaultIntervals: rows
      .filter((found) => found.start !== null)
      .slice(0, intervalLimit)
      .map((found) => ({ start: new Date(found.start as string), rows: Number(found.rows) })),
  };
}

/**
 * Reads a parent's partitioning, its default partition's intervals and rows, the ledger of what an
 * interrupted run left, and its lock history, in one statement; throws a plain sentence naming what
 * is wrong with the table. The table is found by PostgreSQL's own name rules (to_regclass of the
 * configured text), so `QPL_Drop` means qpl_drop and `"QPL_Drop"` the mixed-case table, as in SQL.
 * Times are read in UTC whatever the session's time zone.
 */
export async function readTableState(
  client: pg.ClientBase,
  table: string,
  interval: PartitionInterval,
  intervalLimit: number,
): Promise<TableState> {
  const row = await queryStateRow(client, table);
  assertTableShape(table, row);
  const parent = parentOf(table, row);
  const { defaultIntervals, defaultRows } = await defaultPartitionRows(client, parent, interval, intervalLimit);
  return {
    parent,
    defaultIntervals,
    defaultRows,
    ledger: row.ledger ?? [],
    serverVersionNum: Number(row.server_version_num),
    recentLockDeferrals: row.recent_lock_deferrals ?? [],
  };
}

/**
 * Which of `names` stand beside the parent as ordinary tables, not partitions: a child an
 * interrupted run of an older version left standalone, to be attached rather than collided with.
 */
export async function standingTables(client: pg.ClientBase, parent: ParentTable, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind = 'r' AND NOT c.relispartition`,
    [parent.schema, names],
  );
  return rows.map((row) => row.name);
}

/** A bound literal of the key's type, from a plan's UTC instant (the session runs in UTC). */
export function boundLiteral(date: Date, keyType: ParentTable['keyType']): string {
  const iso = date.toISOString();
  const text =
    keyType === 'date' ? iso.slice(0, 10) : keyType === 'timestamp without time zone' ? iso.slice(0, 19).replace('T', ' ') : iso;
  return `'${text}'`;
}
