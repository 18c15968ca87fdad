import type pg from 'pg';
import type { Database } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import { errorSummary, logger } from '../../lib/logger';
import type { ArchiveTarget } from './archive';
import type { PartitionTableConfig } from './config';
import {
  type ChangeOptions,
  type ChangeResult,
  createChild,
  createDefaultPartition,
  ddl,
  LockDeferredError,
  literal,
  type RetireOptions,
  retireChild,
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
  steps: ChangeResult[];
  failedSteps: Array<{ step: string; partition: string; error: string }>;
  /** Changes whose lock could not be had: retried next run, not failures. */
  deferredSteps: Array<{ step: string; partition: string; reason: string }>;
  /** Of the last lockAlertRuns runs, how many had to defer a change for a lock. */
  lockDeferredRuns?: number;
  partitions?: number;
  futurePartitions?: number;
  defaultRows?: number;
}

export interface MaintainOptions extends ChangeOptions {
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

/** What a run's changes to one table came to: each change done, failed or deferred, in order (`steps`: the report's JSON names). */
interface ChangeLog {
  steps: ChangeResult[];
  failedSteps: TableReport['failedSteps'];
  deferredSteps: TableReport['deferredSteps'];
}

/**
 * Runs one change after another into `log`. A change that cannot have its lock defers every later
 * change of this run (the app waits for Vigil's locks at most lock_timeout once per run); a failed
 * change is logged and the others go on.
 */
function changeRunner(table: string, log: ChangeLog) {
  let blocked = false;
  return async (kind: string, partition: string, change: () => Promise<ChangeResult[]>) => {
    if (blocked) {
      log.deferredSteps.push({ step: kind, partition, reason: 'an earlier change of this run could not have its lock' });
      return;
    }
    try {
      log.steps.push(...(await change()));
    } catch (error) {
      if (error instanceof LockDeferredError) {
        blocked = true;
        log.deferredSteps.push({ step: kind, partition, reason: error.message });
        logger.info('partition change deferred to the next run: lock held', { table, partition, step: kind });
        return;
      }
      logger.error('partition change failed', { table, partition, error: errorSummary(error) });
      log.failedSteps.push({ step: kind, partition, error: errorMessage(error) });
    }
  };
}

type RunChange = ReturnType<typeof changeRunner>;
type TableState = Awaited<ReturnType<typeof readTableState>>;

/** The children `adopt` takes as Vigil's: unmarked, with exactly the planned name for their bounds. */
function adoptableChildren(state: TableState, entry: PartitionTableConfig) {
  if (!entry.adopt) return [];
  return state.parent.children.filter(
    (child) =>
      !child.managed && child.from && child.to && child.name === childName(state.parent.name, child.from, entry.interval),
  );
}

/**
 * Before planning: finish what an interrupted run left, make the default partition when asked, adopt
 * the children the entry names (its changes go to `run`'s log). Whether children were adopted.
 */
async function prepareTable(
  client: pg.ClientBase,
  state: TableState,
  entry: PartitionTableConfig,
  options: MaintainOptions,
  retire: RetireOptions,
  run: RunChange,
): Promise<boolean> {
  if (state.ledger.length > 0 || state.parent.children.some((child) => child.detachPending)) {
    await run('resume', state.parent.name, () => resumeInterrupted(client, state, retire));
  }
  const parent = state.parent;
  if (entry.createDefault && !parent.defaultPartition) {
    await run('create', `${parent.name}_default`, async () => {
      await createDefaultPartition(client, parent, options);
      return [{ step: 'create', partition: `${parent.name}_default`, ok: true, detail: 'default partition' }];
    });
  }
  const adoptable = adoptableChildren(state, entry);
  if (adoptable.length > 0) {
    // Statements of one query are one transaction: all marked or none.
    await client.query(adoptable.map((child) => ddl('adopt', parent, literal(child.name))).join(';\n'));
  }
  return adoptable.length > 0;
}

/** The plan for the table as read: what to create and retire now. */
function planFor(state: TableState, entry: PartitionTableConfig, now: Date) {
  return planPartitions({
    parent: state.parent.name,
    interval: entry.interval,
    premake: entry.premake,
    retention: entry.retention ?? null,
    now,
    children: state.parent.children,
    defaultIntervals: state.defaultIntervals.map((found) => found.start),
  });
}

/**
 * What the table holds after this run's planned changes. Every change is one transaction that took
 * effect whole or not at all, so this follows from the state read and the changes done, without
 * reading the table again.
 */
function tableCounts(
  state: TableState,
  parent: ParentTable,
  plan: ReturnType<typeof planFor>,
  done: ChangeResult[],
  now: Date,
  interval: PartitionTableConfig['interval'],
): Pick<TableReport, 'partitions' | 'futurePartitions' | 'defaultRows'> {
  const created = new Set(done.filter((step) => step.step === 'create').map((step) => step.partition));
  const retired = new Set(done.filter((step) => step.step === 'detach').map((step) => step.partition));
  const ranges = [
    ...parent.children.filter((child) => !child.isDefault && !retired.has(child.name)).map((child) => child.from),
    ...plan.create.filter((child) => created.has(child.name)).map((child) => child.from),
  ];
  const nextStart = addIntervals(intervalStart(now, interval), interval, 1);
  return {
    partitions: ranges.length,
    futurePartitions: ranges.filter((from) => from && from >= nextStart).length,
    defaultRows: state.defaultRows - done.reduce((sum, step) => sum + (step.step === 'move' ? (step.rowsMoved ?? 0) : 0), 0),
  };
}

/**
 * One table, under an advisory lock (a second run skips with a note), in stages: prepare (finish
 * what an interrupted run left, default partition, adoption), read, plan and log the plan, create
 * and retire (changeRunner: a change that cannot have its lock defers the rest to the next run; a
 * failed one is reported and the others go on), then count and record the lock outcome.
 */
export async function maintainTable(
  db: Database,
  entry: PartitionTableConfig,
  now: Date,
  options: MaintainOptions,
  archiveTarget?: ArchiveTarget,
): Promise<TableReport> {
  const log: ChangeLog = { steps: [], failedSteps: [], deferredSteps: [] };
  const report: TableReport = { table: entry.table, ...log };
  const run = changeRunner(entry.table, log);
  const retire: RetireOptions = { ...options, mode: entry.retire, archiveTarget, retentionSchema: entry.retentionSchema };
  const locked = await db.withAdvisoryLock(`partition:${entry.table}`, async (client) => {
    const read = () => readTableState(client, entry.table, entry.interval, options.moveIntervalsPerRun);
    try {
      const first = await read();
      const adopted = await prepareTable(client, first, entry, options, retire, run);
      // Read again only when the stage above changed the table (or tried to).
      const changes = log.steps.length + log.failedSteps.length + log.deferredSteps.length;
      const state = adopted || changes > 0 ? await read() : first;
      const plan = planFor(state, entry, now);
      report.plan = {
        create: plan.create.map((child) => child.name),
        retire: plan.retire.map((child) => child.name),
        skipped: plan.skipped,
      };
      if (plan.create.length > 0 || plan.retire.length > 0)
        logger.info(`partition plan for ${entry.table}`, { plan: report.plan });
      const planned = plan.create.map((child) => child.name);
      const parent: ParentTable = { ...state.parent, standingTables: await standingTables(client, state.parent, planned) };
      const before = log.steps.length;
      for (const child of plan.create) await run('create', child.name, () => createChild(client, parent, child, options));
      for (const child of plan.retire) await run('retire', child.name, () => retireChild(client, parent, child, retire));
      Object.assign(report, tableCounts(state, parent, plan, log.steps.slice(before), now, entry.interval));
      const deferred = log.deferredSteps.length > 0;
      report.lockDeferredRuns = await recordLockOutcome(
        client,
        entry.table,
        state.recentLockDeferrals,
        deferred,
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
