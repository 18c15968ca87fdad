import type pg from 'pg';
import { inTransaction, quoteIdentifier } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import { type ArchiveTarget, archivePartition } from './archive';
import { boundLiteral, managedComment, type ParentTable } from './introspect';
import type { PlannedChild } from './plan';

export interface StepOptions {
  lockTimeoutMs: number;
  lockAttempts: number;
  moveBatchRows: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface StepResult {
  step: 'create' | 'move' | 'detach' | 'archive' | 'drop';
  partition: string;
  ok: boolean;
  rowsMoved?: number;
  attempts: number;
  detail?: string;
}

const isLockTimeout = (error: unknown) => (error as { code?: string }).code === '55P03';

/** Each DDL in a short transaction of its own that gives up on a lock after lock_timeout, retried. */
async function withLockRetries<T>(
  client: pg.ClientBase,
  options: StepOptions,
  work: () => Promise<T>,
): Promise<{ value: T; attempts: number }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return {
        value: await inTransaction(client, async () => {
          await client.query(`SET LOCAL lock_timeout = ${Math.round(options.lockTimeoutMs)}`);
          return work();
        }),
        attempts: attempt,
      };
    } catch (error) {
      if (!isLockTimeout(error) || attempt >= options.lockAttempts) throw Object.assign(error as Error, { attempts: attempt });
      logger.warn('partition step could not take its lock; retrying', { attempt, error: errorSummary(error) });
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}

const qualified = (schema: string, name: string) => `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;

/**
 * Creates one planned child. Rows of its range already in the default partition are moved first,
 * in batches, into the new table, which is then attached: a child cannot be created over them.
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
  const defaultName = parent.defaultPartition ? qualified(parent.schema, parent.defaultPartition) : undefined;
  const inDefault = defaultName
    ? Number(
        (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${defaultName} WHERE ${key} >= ${from} AND ${key} < ${to}`))
          .rows[0]?.n,
      )
    : 0;
  if (inDefault === 0) {
    const { attempts } = await withLockRetries(client, options, async () => {
      await client.query(`CREATE TABLE ${childName} PARTITION OF ${parentName} FOR VALUES FROM (${from}) TO (${to})`);
      await client.query(`COMMENT ON TABLE ${childName} IS '${managedComment}'`);
    });
    return [{ step: 'create', partition: child.name, ok: true, attempts }];
  }
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${childName} (LIKE ${parentName} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)`,
  );
  let moved = 0;
  const moveBatch = async () => {
    const result = await client.query(
      `WITH moved AS (
         DELETE FROM ${defaultName} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${defaultName} WHERE ${key} >= ${from} AND ${key} < ${to} LIMIT ${Math.round(options.moveBatchRows)}))
         RETURNING *
       )
       INSERT INTO ${childName} SELECT * FROM moved`,
    );
    moved += result.rowCount ?? 0;
    return result.rowCount ?? 0;
  };
  // Batches in transactions of their own: the app's inserts into other ranges never wait long.
  let attempts = 0;
  for (;;) {
    const batch = await withLockRetries(client, options, moveBatch);
    attempts += batch.attempts;
    if (batch.value < options.moveBatchRows) break;
  }
  // The last rows (inserted meanwhile) and the attach, together, so none is left behind.
  const attach = await withLockRetries(client, options, async () => {
    while ((await moveBatch()) > 0) {}
    await client.query(`ALTER TABLE ${parentName} ATTACH PARTITION ${childName} FOR VALUES FROM (${from}) TO (${to})`);
    await client.query(`COMMENT ON TABLE ${childName} IS '${managedComment}'`);
  });
  return [
    {
      step: 'move',
      partition: child.name,
      ok: true,
      rowsMoved: moved,
      attempts,
      detail: `${moved} rows moved out of ${parent.defaultPartition}`,
    },
    { step: 'create', partition: child.name, ok: true, attempts: attach.attempts },
  ];
}

/**
 * Detaches a managed child past retention (CONCURRENTLY where PostgreSQL 14+ allows it: no default
 * partition), then drops it when retiring means drop; detach-and-keep leaves the table, marked.
 */
export async function retireChild(
  client: pg.ClientBase,
  parent: ParentTable,
  child: PlannedChild,
  mode: 'drop' | 'detach' | 'archive',
  serverVersionNum: number,
  options: StepOptions,
  archiveTarget?: ArchiveTarget,
): Promise<StepResult[]> {
  const parentName = qualified(parent.schema, parent.name);
  const childName = qualified(parent.schema, child.name);
  const concurrently = serverVersionNum >= 140000 && !parent.defaultPartition;
  let attempts = 0;
  if (concurrently) {
    // Not allowed in a transaction block: a session lock_timeout for this one statement.
    await client.query(`SET lock_timeout = ${Math.round(options.lockTimeoutMs)}`);
    try {
      for (attempts = 1; ; attempts += 1) {
        try {
          await client.query(`ALTER TABLE ${parentName} DETACH PARTITION ${childName} CONCURRENTLY`);
          break;
        } catch (error) {
          if (!isLockTimeout(error) || attempts >= options.lockAttempts) throw Object.assign(error as Error, { attempts });
        }
      }
    } finally {
      await client.query('RESET lock_timeout');
    }
  } else {
    attempts = (
      await withLockRetries(client, options, () => client.query(`ALTER TABLE ${parentName} DETACH PARTITION ${childName}`))
    ).attempts;
  }
  const results: StepResult[] = [
    { step: 'detach', partition: child.name, ok: true, attempts, detail: concurrently ? 'DETACH CONCURRENTLY' : 'DETACH' },
  ];
  if (mode === 'archive') {
    if (!archiveTarget) throw new Error('archive mode without an archive bucket (PARTITION_ARCHIVE_BUCKET)');
    // A failed archive throws here: the detached table stays, nothing is dropped.
    const archived = await archivePartition(client, parent.schema, child.name, parent.name, archiveTarget);
    results.push({
      step: 'archive',
      partition: child.name,
      ok: true,
      attempts: 1,
      detail: `${archived.rows} rows verified in s3://${archiveTarget.bucket}/${archived.key}`,
    });
  }
  if (mode === 'drop' || mode === 'archive') {
    const dropped = await withLockRetries(client, options, () => client.query(`DROP TABLE ${childName}`));
    results.push({ step: 'drop', partition: child.name, ok: true, attempts: dropped.attempts });
  } else {
    await client.query(`COMMENT ON TABLE ${childName} IS 'vigil: detached from ${parent.name} past its retention; kept'`);
  }
  return results;
}
