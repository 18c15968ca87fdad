import type pg from 'pg';
import { isLockTimeout, lockBoundedTransaction } from '../../lib/db';
import { VigilError } from '../../lib/errors';
import { type ArchiveTarget, archivePartition } from './archive';
import { boundLiteral, type ParentTable, qualified } from './introspect';
import type { PlannedChild } from './plan';

/*
 * The changes partition maintenance makes, each one that the app sees done in a single
 * transaction, so a run killed between any two statements leaves the app's rows visible through
 * the parent, and the next run converges. The DDL itself is done by the functions of
 * deploy/partition-functions.sql (schema vigil_partitioning): the maintainer owns none of the
 * app's tables, so it cannot put a trigger on one, truncate or drop it; each function does one
 * change on a partition of a configured parent only. (The report's JSON and metrics call each
 * change a step: `steps`, `failedSteps`, `PartitionStepsFailed`; those names are its contract.)
 * - create: the child is made standalone (LIKE the parent, with a CHECK of its bounds so ATTACH
 *   skips the validation scan), the rows of its range moved out of the default partition (columns
 *   by name), attached, owned like its parent, marked: all or nothing.
 * - retire: detached (not CONCURRENTLY: PostgreSQL runs that only as a statement of its own, never
 *   from a function; the detach waits at most lock_timeout like every other change), then archived
 *   and dropped, each stage recorded in vigil.partition_ledger before the next, so an interrupted
 *   retirement is finished by the next run (resume.ts).
 * A lock that cannot be had within lock_timeout is not a failure: the change is deferred to the next
 * run (LockDeferredError), and the caller stops further DDL on that table for this run, so the app's
 * inserts wait at most lock_timeout once per run.
 */

export interface ChangeOptions {
  lockTimeoutMs: number;
  /** Called after each change took effect, with its name: tests interrupt a run there. */
  afterChange?: (change: ChangeName, partition: string) => void | Promise<void>;
}

export type ChangeName = 'create' | 'move' | 'attach' | 'detach' | 'archive-upload' | 'archive-verify' | 'drop' | 'finalize';

export interface ChangeResult {
  step: 'create' | 'move' | 'detach' | 'archive' | 'drop' | 'finalize' | 'resume';
  partition: string;
  ok: boolean;
  rowsMoved?: number;
  detail?: string;
}

/** A lock could not be taken within lock_timeout: retried by the next run, not a failure. */
export class LockDeferredError extends VigilError {
  readonly partition: string;
  readonly step: string;

  constructor(step: string, partition: string, options?: { cause?: unknown }) {
    super(`${step} of ${partition} deferred: a lock on the table was held longer than lock_timeout`, options);
    this.name = 'LockDeferredError';
    this.step = step;
    this.partition = partition;
  }
}

export const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** A call of one of deploy/partition-functions.sql's functions on a parent, its arguments as literals. */
export function ddl(name: string, parent: ParentTable, ...args: Array<string | null>): string {
  const values = [
    `${literal(qualified(parent.schema, parent.name))}::regclass`,
    ...args.map((arg) => (arg === null ? 'NULL' : arg)),
  ];
  return `SELECT vigil_partitioning.${name}(${values.join(', ')})`;
}

/**
 * A change's statements in one lock-bounded transaction (lib/db.ts lockBoundedTransaction): a lock
 * not had within lock_timeout defers the change (LockDeferredError); any failure rolls it all back.
 */
export async function inLockBoundedTransaction(
  client: pg.ClientBase,
  options: ChangeOptions,
  step: string,
  partition: string,
  groups: string[][],
  between?: (index: number, results: pg.QueryResult[]) => void | Promise<void>,
): Promise<void> {
  try {
    await lockBoundedTransaction(client, options.lockTimeoutMs, groups, between);
  } catch (error) {
    if (isLockTimeout(error)) throw new LockDeferredError(step, partition, { cause: error });
    throw error;
  }
}

/** A default partition for a table that has none (CREATE ... DEFAULT locks the parent: lock-bounded). */
export async function createDefaultPartition(client: pg.ClientBase, parent: ParentTable, options: ChangeOptions) {
  const name = `${parent.name}_default`;
  await inLockBoundedTransaction(client, options, 'create', name, [[ddl('create_default', parent, literal(name))]]);
}

/**
 * Creates one planned child in a single transaction: standalone, rows moved in from the default
 * partition (when the plan says its range has some), attached, marked. A table already standing
 * under the child's name, not attached (left by an older version's interrupted move), is taken as
 * the child: its rows are kept and attached with the rest.
 */
export async function createChild(
  client: pg.ClientBase,
  parent: ParentTable,
  child: PlannedChild,
  options: ChangeOptions,
): Promise<ChangeResult[]> {
  const name = literal(child.name);
  const from = boundLiteral(child.from, parent.keyType);
  const to = boundLiteral(child.to, parent.keyType);
  // A table already standing under the child's name is taken as the child; its rows are kept.
  const adopted = parent.standingTables.includes(child.name);
  const moving = Boolean(parent.defaultPartition && child.moveFromDefault);
  // Rows in the child (moved in, or already there): a CHECK of its bounds lets ATTACH skip scanning them.
  const checked = moving || adopted;
  let moved = 0;
  const groups: string[][] = [
    [...(adopted ? [] : [ddl('create_child', parent, name)]), ...(checked ? [ddl('add_bounds', parent, name, from, to)] : [])],
  ];
  // The rows move by the parent's columns, by name: a default partition's own column order never matters.
  if (moving) groups.push([`${ddl('move_rows', parent, name, from, to)} AS moved`]);
  // Attached, the CHECK dropped, owned like its siblings (so the app keeps its rights over it), marked.
  groups.push([ddl('attach', parent, name, from, to)]);
  await inLockBoundedTransaction(client, options, 'create', child.name, groups, async (index, results) => {
    if (index === 0) await options.afterChange?.('create', child.name);
    if (index === 1 && moving) {
      moved = Number((results[0]?.rows[0] as { moved?: string } | undefined)?.moved ?? 0);
      await options.afterChange?.('move', child.name);
    }
  });
  await options.afterChange?.('attach', child.name);
  const results: ChangeResult[] = [];
  if (moved > 0 || adopted) {
    results.push({
      step: 'move',
      partition: child.name,
      ok: true,
      rowsMoved: moved,
      detail: `${moved} rows moved out of ${parent.defaultPartition ?? 'the default partition'} in the transaction that attached ${child.name}${adopted ? `; the table already standing as ${child.name} was attached with its rows` : ''}`,
    });
  }
  results.push({ step: 'create', partition: child.name, ok: true });
  return results;
}

export interface RetireOptions extends ChangeOptions {
  mode: 'drop' | 'detach' | 'archive';
  archiveTarget?: ArchiveTarget;
  /** Move detach-mode tables here instead of leaving them beside the parent. */
  retentionSchema?: string;
}

/** The ledger's record of a stage, as a statement that can join another transaction (values are Vigil's own names). */
export function recordStatement(parent: ParentTable, partition: string, state: string, mode: string, key?: string) {
  return `INSERT INTO vigil.partition_ledger (parent, partition, state, retire, archive_key, updated_at)
     VALUES (${literal(qualified(parent.schema, parent.name))}, ${literal(partition)}, ${literal(state)}, ${literal(mode)}, ${key ? literal(key) : 'NULL'}, now())
     ON CONFLICT (parent, partition) DO UPDATE SET state = EXCLUDED.state, retire = EXCLUDED.retire,
       archive_key = coalesce(EXCLUDED.archive_key, vigil.partition_ledger.archive_key), updated_at = now()`;
}

async function record(client: pg.ClientBase, parent: ParentTable, partition: string, state: string, mode: string, key?: string) {
  await client.query(recordStatement(parent, partition, state, mode, key));
}

const forgetStatement = (parent: ParentTable, partition: string) =>
  `DELETE FROM vigil.partition_ledger WHERE parent = ${literal(qualified(parent.schema, parent.name))} AND partition = ${literal(partition)}`;

/** Detaches a managed child past retention; then hands it to finishRetirement(). */
export async function retireChild(
  client: pg.ClientBase,
  parent: ParentTable,
  child: PlannedChild,
  options: RetireOptions,
): Promise<ChangeResult[]> {
  if (options.mode === 'archive' && !options.archiveTarget) {
    throw new Error('archive mode without an archive bucket (PARTITION_ARCHIVE_BUCKET)');
  }
  const childName = qualified(parent.schema, child.name);
  // Detached and recorded in one transaction: there is no moment when one is true without the other.
  await inLockBoundedTransaction(client, options, 'detach', child.name, [
    [ddl('detach', parent, literal(child.name)), recordStatement(parent, childName, 'detached', options.mode)],
  ]);
  await options.afterChange?.('detach', child.name);
  return [
    { step: 'detach', partition: child.name, ok: true, detail: 'DETACH' },
    ...(await finishRetirement(client, parent, child.name, options)),
  ];
}

/**
 * What follows a detach, from the stage the ledger records: archive (verified) then drop, drop, or
 * keep (moved to the retention schema when one is set). Also the resumption of an interrupted run.
 */
export async function finishRetirement(
  client: pg.ClientBase,
  parent: ParentTable,
  name: string,
  options: RetireOptions,
  from: 'detached' | 'archived' = 'detached',
): Promise<ChangeResult[]> {
  const childName = qualified(parent.schema, name);
  const results: ChangeResult[] = [];
  if (options.mode === 'archive' && from === 'detached') {
    if (!options.archiveTarget) throw new Error('archive mode without an archive bucket (PARTITION_ARCHIVE_BUCKET)');
    // A failed archive throws here: the detached table stays, recorded, and is archived again next run.
    const archived = await archivePartition(client, parent.schema, name, parent.name, options.archiveTarget, {
      afterUpload: () => options.afterChange?.('archive-upload', name),
    });
    await record(client, parent, childName, 'archived', options.mode, archived.key);
    await options.afterChange?.('archive-verify', name);
    results.push({
      step: 'archive',
      partition: name,
      ok: true,
      detail: `${archived.rows} rows verified in s3://${options.archiveTarget.bucket}/${archived.key}`,
    });
  }
  if (options.mode === 'drop' || options.mode === 'archive') {
    // The table is detached: dropping it locks nothing the app uses.
    await inLockBoundedTransaction(client, options, 'drop', name, [
      [ddl('drop_detached', parent, literal(name)), forgetStatement(parent, childName)],
    ]);
    await options.afterChange?.('drop', name);
    results.push({ step: 'drop', partition: name, ok: true });
  } else {
    await inLockBoundedTransaction(client, options, 'detach', name, [
      [
        ddl('keep_detached', parent, literal(name), options.retentionSchema ? literal(options.retentionSchema) : null),
        forgetStatement(parent, childName),
      ],
    ]);
  }
  return results;
}
