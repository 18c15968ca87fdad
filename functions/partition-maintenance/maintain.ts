import type { PartitionTableConfig } from '../../lib/config';
import { type Database, quoteIdentifier } from '../../lib/db';
import { errorSummary, logger } from '../../lib/logger';
import type { ArchiveTarget } from './archive';
import { createChild, retireChild, type StepOptions, type StepResult } from './execute';
import { introspectParent, managedComment } from './introspect';
import { addIntervals, childName, intervalStart, planPartitions } from './plan';

export interface TableReport {
  table: string;
  /** Set when the table could not be maintained at all (missing, not partitioned, ...). */
  error?: string;
  skippedRun?: string;
  plan?: { create: string[]; retire: string[]; skipped: Array<{ name: string; reason: string }> };
  steps: StepResult[];
  failedSteps: Array<{ step: string; partition: string; error: string; attempts: number }>;
  partitions?: number;
  futurePartitions?: number;
  defaultRows?: number;
}

/**
 * One table, under an advisory lock (a second run skips with a note): introspect, plan from the
 * clock, log the plan, then run each step; a failed step is reported and the others go on.
 */
export async function maintainTable(
  db: Database,
  entry: PartitionTableConfig,
  now: Date,
  options: StepOptions,
  archiveTarget?: ArchiveTarget,
): Promise<TableReport> {
  const report: TableReport = { table: entry.table, steps: [], failedSteps: [] };
  const locked = await db.withAdvisoryLock(`partition:${entry.table}`, async (client) => {
    await client.query("SET TIME ZONE 'UTC'");
    try {
      let parent = await introspectParent(client, entry.table);
      if (entry.adopt) {
        for (const child of parent.children) {
          if (!child.managed && child.from && child.to && child.name === childName(parent.name, child.from, entry.interval)) {
            await client.query(
              `COMMENT ON TABLE ${quoteIdentifier(child.schema)}.${quoteIdentifier(child.name)} IS '${managedComment}'`,
            );
          }
        }
        parent = await introspectParent(client, entry.table);
      }
      const plan = planPartitions({
        parent: parent.name,
        interval: entry.interval,
        premake: entry.premake,
        retention: entry.retention ?? null,
        now,
        children: parent.children,
      });
      report.plan = {
        create: plan.create.map((child) => child.name),
        retire: plan.retire.map((child) => child.name),
        skipped: plan.skipped,
      };
      logger.info(`partition plan for ${entry.table}`, { plan: report.plan });
      const { rows: version } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      const serverVersionNum = Number(version[0]?.server_version_num);
      const run = async (kind: 'create' | 'retire', partition: string, step: () => Promise<StepResult[]>) => {
        try {
          report.steps.push(...(await step()));
        } catch (error) {
          logger.error('partition step failed', { table: entry.table, partition, error: errorSummary(error) });
          report.failedSteps.push({
            step: kind,
            partition,
            error: (error as Error).message,
            attempts: (error as { attempts?: number }).attempts ?? 1,
          });
        }
      };
      for (const child of plan.create) await run('create', child.name, () => createChild(client, parent, child, options));
      for (const child of plan.retire)
        await run('retire', child.name, () =>
          retireChild(client, parent, child, entry.retire, serverVersionNum, options, archiveTarget),
        );
      const after = await introspectParent(client, entry.table);
      const nextStart = addIntervals(intervalStart(now, entry.interval), entry.interval, 1);
      report.partitions = after.children.filter((child) => !child.isDefault).length;
      report.futurePartitions = after.children.filter(
        (child) => !child.isDefault && child.from && child.from >= nextStart,
      ).length;
      report.defaultRows = after.defaultPartition
        ? Number(
            (
              await client.query<{ n: string }>(
                `SELECT count(*) AS n FROM ${quoteIdentifier(after.schema)}.${quoteIdentifier(after.defaultPartition)}`,
              )
            ).rows[0]?.n,
          )
        : 0;
    } catch (error) {
      report.error = (error as Error).message;
    } finally {
      await client.query('RESET TIME ZONE');
    }
  });
  if (!locked.acquired) report.skippedRun = 'another partitionMaintenance run holds this table; skipped';
  return report;
}
