import type pg from 'pg';
import { inTransaction, quoteIdentifier } from '../../lib/db';
import { type ArchiveTarget, archivePartition } from './archive';
import { boundLiteral, managedComment, type ParentTable, qualified } from './introspect';
import type { PlannedChild } from './plan';

/*
 * The steps of partition maintenance, each one that changes what the app sees done in a single
 * transaction, so a run killed between any two statements leaves the app's rows visible through
 * the parent, and the next run converges:
 * - create: the child is made standalone (LIKE the parent, with a CHECK of its bounds so ATTACH
 *   skips the validation scan), the rows of its range moved out of the default partition (columns
 *   by name), attached, owned like its parent, marked: all or nothing.
 * - retire: detached (CONCURRENTLY where PostgreSQL allows it), then archived and dropped, each
 *   stage recorded in vigil.partition_ledger before the next, so an interrupted retirement is
 *   finished by the next run (resume.ts).
 * A lock that cannot be had within lock_timeout is not a failure: the step is deferred to the next
 * run (LockDeferred), and the caller stops further DDL on that table for this run, so the app's
 * inserts wait at most lock_timeout once per run.
 */

export interface StepOptions {
  lockTimeoutMs: number;
  /** Called after each step took effect, with its name: tests interrupt a run there. */
  afterStep?: (step: StepName, partition: string) => void | Promise<void>;
}

export type StepName = 'create' | 'move' | 'attach' | 'detach' | 'archive-upload' | 'archive-verify' | 'drop' | 'finalize';

export interface StepResult {
  step: 'create' | 'move' | 'detach' | 'archive' | 'drop' | 'finalize' | 'resume';
  partition: string;
  ok: boolean;
  rowsMoved?: number;
  detail?: string;
}

/** A lock could not be taken within lock_timeout: retried by the next run, not a failure. */
export class LockDeferred extends Error {
  readonly partition: string;
  readonly step: string;

  constructor(step: string, partition: string, options?: { cause?: unknown }) {
    super(`${step} of ${partition} deferred: a lock on the table was held longer than lock_timeout`, options);
    this.name = 'LockDeferred';
    this.step = step;
    this.partition = partition;
  }
}

export const isLockTimeout = (error: unknown) => (error as { code?: string } | null)?.code === '55P03';

/** Work in one transaction that gives up on any lock after lock_timeout; a lock timeout becomes LockDeferred. */
async function lockBounded<T>(
  client: pg.ClientBase,
  options: StepOptions,
  step: string,
  partition: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await inTransaction(client, async () => {
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round(options.lockTimeoutMs)}ms`]);
      return work();
    });
  } catch (error) {
    if (isLockTimeout(error)) throw new LockDeferred(step, partition, { cause: error });
    throw error;
  }
}

/** The parent's columns that take a value on insert, by name: a default partition's own column order never matters. */
function insertableColumns(parent: ParentTable): string {
  return parent.columns
    .filter((column) => !column.generated)
    .map((column) => quoteIdentifier(column.name))
    .join(', ');
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
  options: StepOptions,
): Promise<StepResult[]> {
  const parentName = qualified(parent.schema, parent.name);
  const childName = qualified(parent.schema, child.name);
  const from = boundLiteral(child.from, parent.keyType);
  const to = boundLiteral(child.to, parent.keyType);
  const key = quoteIdentifier(parent.keyColumn);
  const bounds = quoteIdentifier(`${child.name.slice(0, 50)}_bounds`);
  let moved = 0;
  let adopted = false;
  await lockBounded(client, options, 'create', child.name, async () => {
    const { rows } = await client.query<{ standing: boolean }>('SELECT to_regclass($1) IS NOT NULL AS standing', [childName]);
    adopted = rows[0]?.standing ?? false;
    if (!adopted) await client.query(`CREATE TABLE ${childName} (LIKE ${parentName} INCLUDING ALL)`);
    // ATTACH finds the bounds proven by this constraint and skips scanning the child.
    await client.query(
      `ALTER TABLE ${childName} ADD CONSTRAINT ${bounds} CHECK (${key} IS NOT NULL AND ${key} >= ${from} AND ${key} < ${to})`,
    );
    await options.afterStep?.('create', child.name);
    if (parent.defaultPartition) {
      const columns = insertableColumns(parent);
      const result = await client.query(
        `WITH moved AS (
           DELETE FROM ${qualified(parent.schema, parent.defaultPartition)} WHERE ${key} >= ${from} AND ${key} < ${to}
           RETURNING ${columns}
         )
         INSERT INTO ${childName} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM moved`,
      );
      moved = result.rowCount ?? 0;
      if (moved > 0) await options.afterStep?.('move', child.name);
    }
    await client.query(`ALTER TABLE ${parentName} ATTACH PARTITION ${childName} FOR VALUES FROM (${from}) TO (${to})`);
    await client.query(`ALTER TABLE ${childName} DROP CONSTRAINT ${bounds}`);
    // Owned like its siblings (the maintainer is a member of the parent's owner role), so the app
    // keeps the rights over it that it has over the rest of the table.
    await client.query(
      `DO $own$ BEGIN
         IF pg_has_role(current_user, ${literal(parent.owner)}, 'MEMBER') AND current_user <> ${literal(parent.owner)} THEN
           EXECUTE format('ALTER TABLE %s OWNER TO %I', ${literal(childName)}, ${literal(parent.owner)});
         END IF;
       END $own$`,
    );
    await client.query(`COMMENT ON TABLE ${childName} IS '${managedComment}'`);
  });
  await options.afterStep?.('attach', child.name);
  const results: StepResult[] = [];
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

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

export interface RetireOptions extends StepOptions {
  mode: 'drop' | 'detach' | 'archive';
  serverVersionNum: number;
  archiveTarget?: ArchiveTarget;
  /** Move detach-mode tables here instead of leaving them beside the parent. */
  retentionSchema?: string;
}

async function record(client: pg.ClientBase, parent: ParentTable, partition: string, state: string, mode: string, key?: string) {
  await client.query(
    `INSERT INTO vigil.partition_ledger (parent, partition, state, retire, archive_key, updated_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (parent, partition) DO UPDATE SET state = EXCLUDED.state, retire = EXCLUDED.retire,
       archive_key = coalesce(EXCLUDED.archive_key, vigil.partition_ledger.archive_key), updated_at = now()`,
    [qualified(parent.schema, parent.name), partition, state, mode, key ?? null],
  );
}

async function forget(client: pg.ClientBase, parent: ParentTable, partition: string) {
  await client.query('DELETE FROM vigil.partition_ledger WHERE parent = $1 AND partition = $2', [
    qualified(parent.schema, parent.name),
    partition,
  ]);
}

/** Detaches a managed child past retention; then hands it to finishRetirement(). */
export async function retireChild(
  client: pg.ClientBase,
  parent: ParentTable,
  child: PlannedChild,
  options: RetireOptions,
): Promise<StepResult[]> {
  if (options.mode === 'archive' && !options.archiveTarget) {
    throw new Error('archive mode without an archive bucket (PARTITION_ARCHIVE_BUCKET)');
  }
  const parentName = qualified(parent.schema, parent.name);
  const childName = qualified(parent.schema, child.name);
  // DETACH CONCURRENTLY (PostgreSQL 14+) waits for no reader, but is not allowed with a default partition.
  const concurrently = options.serverVersionNum >= 140000 && !parent.defaultPartition;
  await record(client, parent, childName, 'detaching', options.mode);
  if (concurrently) {
    // Not allowed in a transaction block: lock_timeout for this one statement of the session.
    await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${Math.round(options.lockTimeoutMs)}ms`]);
    try {
      await client.query(`ALTER TABLE ${parentName} DETACH PARTITION ${childName} CONCURRENTLY`);
    } catch (error) {
      // A timeout in its second phase leaves the child pending detach: the next run finalizes it.
      if (isLockTimeout(error)) throw new LockDeferred('detach', child.name, { cause: error });
      throw error;
    } finally {
      await client.query('RESET lock_timeout');
    }
  } else {
    await lockBounded(client, options, 'detach', child.name, () =>
      client.query(`ALTER TABLE ${parentName} DETACH PARTITION ${childName}`),
    );
  }
  await record(client, parent, childName, 'detached', options.mode);
  await options.afterStep?.('detach', child.name);
  return [
    { step: 'detach', partition: child.name, ok: true, detail: concurrently ? 'DETACH CONCURRENTLY' : 'DETACH' },
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
): Promise<StepResult[]> {
  const childName = qualified(parent.schema, name);
  const results: StepResult[] = [];
  if (options.mode === 'archive' && from === 'detached') {
    if (!options.archiveTarget) throw new Error('archive mode without an archive bucket (PARTITION_ARCHIVE_BUCKET)');
    // A failed archive throws here: the detached table stays, recorded, and is archived again next run.
    const archived = await archivePartition(client, parent.schema, name, parent.name, options.archiveTarget, {
      afterUpload: () => options.afterStep?.('archive-upload', name),
    });
    await record(client, parent, childName, 'archived', options.mode, archived.key);
    await options.afterStep?.('archive-verify', name);
    results.push({
      step: 'archive',
      partition: name,
      ok: true,
      detail: `${archived.rows} rows verified in s3://${options.archiveTarget.bucket}/${archived.key}`,
    });
  }
  if (options.mode === 'drop' || options.mode === 'archive') {
    // The table is detached: dropping it locks nothing the app uses.
    await lockBounded(client, options, 'drop', name, async () => {
      await client.query(`DROP TABLE IF EXISTS ${childName}`);
      await forget(client, parent, childName);
    });
    await options.afterStep?.('drop', name);
    results.push({ step: 'drop', partition: name, ok: true });
  } else {
    await lockBounded(client, options, 'detach', name, async () => {
      await client.query(
        `COMMENT ON TABLE ${childName} IS ${literal(`vigil: detached from ${parent.name} past its retention; kept`)}`,
      );
      if (options.retentionSchema) {
        await client.query(`ALTER TABLE ${childName} SET SCHEMA ${quoteIdentifier(options.retentionSchema)}`);
      }
      await forget(client, parent, childName);
    });
  }
  return results;
}
