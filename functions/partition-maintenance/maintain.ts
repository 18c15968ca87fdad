import type pg from 'pg';
import type { Database } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import { errorSummary, logger } from '../../lib/logger';
import type { ArchiveTarget } from './archive';
import type { PartitionTableConfig } from './config';
import {
  createChild,
  createDefaultPartition,
  ddl,
  LockDeferredError,
  literal,
  type RetireOptions,
  retireChild,
  type StepOptions,
  type StepResult,
} from './execute';
import { type ParentTable, readTableState, standingTables, TableShapeError } from './introspect';
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

/**
 * Errors of the table itself, not of the moment: reported, and no retry is asked for. Besides the
 * table's own shape, PostgreSQL's "does not exist" errors (undefined table, schema, column, function,
 * object) by SQLSTATE, so the server's message language never decides.
 */
const undefinedObject = new Set(['42P01', '3F000', '42703', '42883', '42704']);
/** The partition functions' refusals: a table deploy/database-roles.sql was not given, or not partitioned by a range. */
const refusedByFunctions = new Set(['42501', '42809']);
const isConfigurationError = (error: unknown) =>
  error instanceof TableShapeError ||
  undefinedObject.has((error as { code?: string } | null)?.code ?? '') ||
  refusedByFunctions.has((error as { code?: string } | null)?.code ?? '');

/**
 * The last `runs` lock outcomes of a table, this one included; how many had to defer. Written only
 * when it changes something: a table whose recent runs all had their locks costs no statement.
 */
async function recordLockOutcome(
  client: pg.ClientBase,
  table: string,
  recent: boolean[],
  deferred: boolean,
  runs: number,
): Promise<number> {
  const next = [...recent, deferred].slice(-runs);
  if (!deferred && !recent.some(Boolean)) return 0;
  await client.query(
    `INSERT INTO vigil.partition_table_state (table_name, recent_lock_deferrals, updated_at) VALUES ($1, $2::boolean[], now())
     ON CONFLICT (table_name) DO UPDATE SET recent_lock_deferrals = EXCLUDED.recent_lock_deferrals, updated_at = now()`,
    [table, next],
  );
  return next.filter(Boolean).length;
}

/**
 * One table, under an advisory lock (a second run skips with a note): finish what an interrupted
 * run left, introspect, plan from the clock and the default partition's rows, log the plan, then
 * run each step. A step that cannot have its lock defers the table's remaining DDL to the next
 * run, so the app waits for Vigil's locks at most lock_timeout once per run; a failed step is
 * reported and the others go on.
 */
// Over 80 lines: not yet cut into named stages (issue 33): read, plan, create, retire, report.
export async function maintainTable(
  db: Database,
  entry: PartitionTableConfig,
  now: Date,
  options: MaintainOptions,
  archiveTarget?: ArchiveTarget,
): Promise<TableReport> {
  const report: TableReport = { table: entry.table, steps: [], failedSteps: [], deferredSteps: [] };
  const locked = await db.withAdvisoryLock(`partition:${entry.table}`, async (client) => {
    let blocked = false;
    const run = async (kind: string, partition: string, step: () => Promise<StepResult[]>) => {
      if (blocked) {
        report.deferredSteps.push({ step: kind, partition, reason: 'an earlier step of this run could not have its lock' });
        return;
      }
      try {
        report.steps.push(...(await step()));
      } catch (error) {
        if (error instanceof LockDeferredError) {
          blocked = true;
          report.deferredSteps.push({ step: kind, partition, reason: error.message });
          logger.info('partition step deferred to the next run: lock held', { table: entry.table, partition, step: kind });
          return;
        }
        logger.error('partition step failed', { table: entry.table, partition, error: errorSummary(error) });
        report.failedSteps.push({ step: kind, partition, error: errorMessage(error) });
      }
    };
    const read = () => readTableState(client, entry.table, entry.interval, options.moveIntervalsPerRun);
    const changed = () => report.steps.length + report.failedSteps.length + report.deferredSteps.length;
    try {
      let state = await read();
      const retire: RetireOptions = {
        ...options,
        mode: entry.retire,
        archiveTarget,
        retentionSchema: entry.retentionSchema,
      };
      if (state.ledger.length > 0 || state.parent.children.some((child) => child.detachPending)) {
        const resumeState = state;
        await run('resume', state.parent.name, () => resumeInterrupted(client, resumeState, retire));
      }
      if (entry.createDefault && !state.parent.defaultPartition) {
        const parent = state.parent;
        await run('create', `${parent.name}_default`, async () => {
          await createDefaultPartition(client, parent, options);
          return [{ step: 'create', partition: `${parent.name}_default`, ok: true, detail: 'default partition' }];
        });
      }
      const adoptable = entry.adopt
        ? state.parent.children.filter(
            (child) =>
              !child.managed && child.from && child.to && child.name === childName(state.parent.name, child.from, entry.interval),
          )
        : [];
      if (adoptable.length > 0) {
        const parent = state.parent;
        // Statements of one query are one transaction: all marked or none.
        await client.query(adoptable.map((child) => ddl('adopt', parent, literal(child.name))).join(';\n'));
      }
      // Read again only when the steps above changed the table.
      if (changed() > 0 || adoptable.length > 0) state = await read();
      const plan = planPartitions({
        parent: state.parent.name,
        interval: entry.interval,
        premake: entry.premake,
        retention: entry.retention ?? null,
        now,
        children: state.parent.children,
        defaultIntervals: state.defaultIntervals.map((found) => found.start),
      });
      report.plan = {
        create: plan.create.map((child) => child.name),
        retire: plan.retire.map((child) => child.name),
        skipped: plan.skipped,
      };
      if (plan.create.length > 0 || plan.retire.length > 0)
        logger.info(`partition plan for ${entry.table}`, { plan: report.plan });
      const parent: ParentTable = {
        ...state.parent,
        standingTables: await standingTables(
          client,
          state.parent,
          plan.create.map((child) => child.name),
        ),
      };
      const before = changed();
      for (const child of plan.create) await run('create', child.name, () => createChild(client, parent, child, options));
      for (const child of plan.retire) await run('retire', child.name, () => retireChild(client, parent, child, retire));
      // Every step is one transaction that took effect whole or not at all: what the table holds
      // now follows from the state read and the steps done, without reading it again.
      const created = new Set(
        report.steps
          .slice(before)
          .filter((step) => step.step === 'create')
          .map((step) => step.partition),
      );
      const retired = new Set(
        report.steps
          .slice(before)
          .filter((step) => step.step === 'detach')
          .map((step) => step.partition),
      );
      const ranges = [
        ...parent.children.filter((child) => !child.isDefault && !retired.has(child.name)).map((child) => child.from),
        ...plan.create.filter((child) => created.has(child.name)).map((child) => child.from),
      ];
      const nextStart = addIntervals(intervalStart(now, entry.interval), entry.interval, 1);
      report.partitions = ranges.length;
      report.futurePartitions = ranges.filter((from) => from && from >= nextStart).length;
      report.defaultRows =
        state.defaultRows -
        report.steps.slice(before).reduce((sum, step) => sum + (step.step === 'move' ? (step.rowsMoved ?? 0) : 0), 0);
      report.lockDeferredRuns = await recordLockOutcome(
        client,
        entry.table,
        state.recentLockDeferrals,
        report.deferredSteps.length > 0,
        options.lockAlertRuns,
      );
    } catch (error) {
      report.error = errorMessage(error);
      report.errorKind = isConfigurationError(error) ? 'configuration' : 'transient';
    }
  });
  if (!locked.acquired) report.skippedRun = 'another partitionMaintenance run holds this table; skipped';
  return report;
}
