import { backupConfig } from '../../functions/backup/config';
import { runBackup } from '../../functions/backup/run';
import { createS3Client } from '../../lib/aws/s3';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';

const seconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

/*
 * One backup in a process of its own: prints its report, the process's peak RSS and its CPU as
 * JSON. The CPU is the process's own accounting (every thread of it: the main thread, GC, libuv's
 * pool), never its children's: `startupCpuSeconds` up to here (module load: the bundle parsed and
 * initialised), `runCpuSeconds` from here to the end (the backup, the pool and client closed).
 */
async function main() {
  const atStart = process.cpuUsage();
  const config = loadConfig([backupConfig, 'database', 'aws']);
  const db = createDatabase(config.database);
  const s3 = createS3Client(config.aws);
  const report = await runBackup(
    {
      db,
      s3,
      config: config.backup,
      databaseConfig: config.database,
      connection: async () => ({ connectionString: config.database.url }),
      inheritedEnv: process.env,
    },
    new AbortController().signal,
  );
  await db.end();
  s3.destroy();
  const usage = process.resourceUsage();
  const total = { user: usage.userCPUTime, system: usage.systemCPUTime };
  process.stdout.write(
    `${JSON.stringify({
      outcome: report.outcome,
      failure: report.failure,
      sizeBytes: report.manifest?.sizeBytes,
      verification: report.manifest?.verification,
      maxRssBytes: usage.maxRSS * 1024,
      startupCpuSeconds: seconds(atStart),
      runCpuSeconds: seconds(total) - seconds(atStart),
      cpuSeconds: seconds(total),
      userCpuSeconds: total.user / 1e6,
      systemCpuSeconds: total.system / 1e6,
      voluntaryContextSwitches: usage.voluntaryContextSwitches,
    })}\n`,
  );
}

main();
