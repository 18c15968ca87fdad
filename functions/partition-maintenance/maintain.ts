import type pg from 'pg';
import type { PartitionTableConfig } from '../../lib/config';
import { type Database, inTransaction } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import type { ArchiveTarget } from './archive';
import { createChild, LockDeferred, type RetireOptions, retireChild, type StepOptions, type StepResult } from './execute';
import { defaultPartitionIntervals, introspectParent, managedComment, type ParentTable, qualified } from './introspect';
import { addIntervals, childName, intervalStart, planPartitions } from './plan';
import { resumeInterrupted } from './resume';

export interface TableReport {
  table: string;
  /** Set when the table could not be maintained at all (missing, not partitioned, misconfigured, ...). */
  error?: string;
  /** Whether `error` is of the configuration (a retry cannot fix it) or of the moment (a retry may). */
  errorKind?: 'configuration' | 'transient';
  skippedRun?: string;
  plan?: { create: string[]; retire: string[]; skipped: Array<{ name: string; reason: string }> };
  steps: StepResult[];
  failedSteps: Array<{ step: string; partition: string; error: string }>;
  /** Steps whose lock could not be had: retried next run, not failures. */
  deferredSteps: Array<{ step: string; partition: string; reason: string }>;
  /** Of the last lockAlertRuns runs, how many had to defer a step for a lock. */
  lockDeferredRuns?: number;
  partitions?: number;
  futurePartitions?: number;
  defaultRows?: number;
}

export interface MaintainOptions extends StepOptions {
  moveIntervalsPerRun: number;
  lockAlertRuns: number;
}

/** Errors of the table itself, not of the moment: reported, and no retry is asked for. */
const configurationError = /does not exist|is not partitioned|not by a time range|not one time column|not a valid table name/;

/** The last `runs` lock outcomes of a table, this one included, kept in one statement. */
async function recordLockOutcome(client: pg.ClientBase, table: string, deferred: boolean, runs: number): Promise<number> {
  const { rows } = await client.query<{ deferrals: number }>(
    `INSERT INTO vigil.partition_table_state (table_name, recent_lock_deferrals, updated_at) VALUES ($1, ARRAY[$2::boolean], now())
     ON CONFLICT (table_name) DO UPDATE SET
       recent_lock_deferrals = (vigil.partition_table_state.recent_lock_deferrals || $2::boolean)[
         greatest(1, cardinality(vigil.partition_table_state.recent_lock_deferrals) + 2 - $3):],
       updated_at = now()
     RETURNING (SELECT count(*) FROM unnest(recent_lock_deferrals) AS d WHERE d)::int AS deferrals`,
    [table, deferred, runs],
  );
  return rows[0]?.deferrals ?? 0;
}

/**
 * One table, under an advisory lock (a second run skips with a note): finish what an interrupted
 * run left, introspect, plan from the clock and the default partition's rows, log the plan, then
 * run each step. A step that cannot have its lock defers the table's remaining DDL to the next
 * run, so the app waits for Vigil's locks at most lock_timeout once per run; a failed step is
 * reported and the others go on.
 */
export async function maintainTable(
  db: Database,
  entry: PartitionTableConfig,
  now: Date,
  options: MaintainOptions,
  archiveTarget?: ArchiveTarget,
): Promise<TableReport> {
  const report: TableReport = { table: entry.table, steps: [], failedSteps: [], deferredSteps: [] };
  const locked = await db.withAdvisoryLock(`partition:${entry.table}`, async (client) => {
    await client.query("SET TIME ZONE 'UTC'");
    let blocked = false;
    const run = async (kind: string, partition: string, step: () => Promise<StepResult[]>) => {
      if (blocked) {
        report.deferredSteps.push({ step: kind, partition, reason: 'an earlier step of this run could not have its lock' });
        return;
      }
      try {
        report.steps.push(...(await step()));
      } catch (error) {
        if (error instanceof LockDeferred) {
          blocked = true;
          report.deferredSteps.push({ step: kind, partition, reason: error.message });
          logger.info('partition step deferred to the next run: lock held', { table: entry.table, partition, step: kind });
          return;
        }
        logger.error('partition step failed', { table: entry.table, partition, error: errorSummary(error) });
        report.failedSteps.push({ step: kind, partition, error: (error as Error).message });
      }
    };
    try {
      let parent: ParentTable = await introspectParent(client, entry.table);
      const retire: RetireOptions = {
        ...options,
        mode: entry.retire,
        serverVersionNum: Number(
          (await client.query<{ version: string }>("SELECT current_setting('server_version_num') AS version")).rows[0]?.version,
        ),
        archiveTarget,
        retentionSchema: entry.retentionSchema,
      };
      await run('resume', parent.name, () => resumeInterrupted(client, parent, retire));
      if (entry.createDefault && !parent.defaultPartition) {
        await run('create', `${parent.name}_default`, async () => {
          await createDefaultPartition(client, parent, options);
          return [{ step: 'create', partition: `${parent.name}_default`, ok: true, detail: 'default partition' }];
        });
      }
      if (entry.adopt) {
        const adoptable = parent.children.filter(
          (child) =>
            !child.managed && child.from && child.to && child.name === childName(parent.name, child.from, entry.interval),
        );
        if (adoptable.length > 0) {
          await client.query(
            `DO $adopt$ BEGIN ${adoptable.map((child) => `COMMENT ON TABLE ${qualified(child.schema, child.name)} IS '${managedComment}';`).join(' ')} END $adopt$`,
          );
        }
      }
      parent = await introspectParent(client, entry.table);
      const defaultIntervals = await defaultPartitionIntervals(client, parent, entry.interval, options.moveIntervalsPerRun);
      const plan = planPartitions({
        parent: parent.name,
        interval: entry.interval,
        premake: entry.premake,
        retention: entry.retention ?? null,
        now,
        children: parent.children,
        defaultIntervals: defaultIntervals.map((found) => found.start),
      });
      report.plan = {
        create: plan.create.map((child) => child.name),
        retire: plan.retire.map((child) => child.name),
        skipped: plan.skipped,
      };
      logger.info(`partition plan for ${entry.table}`, { plan: report.plan });
      const planned = parent;
      for (const child of plan.create) await run('create', child.name, () => createChild(client, planned, child, options));
      for (const child of plan.retire) await run('retire', child.name, () => retireChild(client, planned, child, retire));
      const after = await introspectParent(client, entry.table);
      const nextStart = addIntervals(intervalStart(now, entry.interval), entry.interval, 1);
      report.partitions = after.children.filter((child) => !child.isDefault).length;
      report.futurePartitions = after.children.filter(
        (child) => !child.isDefault && child.from && child.from >= nextStart,
      ).length;
      report.defaultRows = after.defaultPartition
        ? Number(
            (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(after.schema, after.defaultPartition)}`))
              .rows[0]?.n,
          )
        : 0;
      report.lockDeferredRuns = await recordLockOutcome(
        client,
        entry.table,
        report.deferredSteps.length > 0,
        options.lockAlertRuns,
      );
    } catch (error) {
      report.error = (error as Error).message;
      report.errorKind = configurationError.test(report.error) ? 'configuration' : 'transient';
    } finally {
      await client.query('RESET TIME ZONE').catch(() => {});
    }
  });
  if (!locked.acquired) report.skippedRun = 'another partitionMaintenance run holds this table; skipped';
  return report;
}

/** A default partition for a table that has none (CREATE ... DEFAULT locks the parent: lock-bounded). */
async function createDefaultPartition(client: pg.ClientBase, parent: ParentTable, options: StepOptions) {
  try {
    await inTransaction(client, async () => {
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round(options.lockTimeoutMs)}ms`]);
      await client.query(
        `CREATE TABLE ${qualified(parent.schema, `${parent.name}_default`)} PARTITION OF ${qualified(parent.schema, parent.name)} DEFAULT`,
      );
    });
  } catch (error) {
    if ((error as { code?: string }).code === '55P03')
      throw new LockDeferred('create', `${parent.name}_default`, { cause: error });
    throw error;
  }
}
