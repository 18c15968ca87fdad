import { backupConfig } from '../../functions/backup/config';
import { runBackup } from '../../functions/backup/run';
import { createS3Client } from '../../lib/aws/s3';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';

/* One backup in a process of its own: prints its report and the process's peak RSS as JSON. */
async function main() {
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
  process.stdout.write(
    `${JSON.stringify({ outcome: report.outcome, failure: report.failure, sizeBytes: report.manifest?.sizeBytes, verification: report.manifest?.verification, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
  );
}

main();
