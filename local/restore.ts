import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { backupConfig } from '../functions/backup/config';
import { libpqEnvironment } from '../functions/backup/pg-tools';
import { restoreBackup } from '../functions/backup/restore';
import { createS3Client } from '../lib/aws/s3';
import { loadConfig } from '../lib/config';
import { parseCommand, usageError } from './cli';
import { projectRoot } from './paths';
import { localStackEnvironment, readStackInfo } from './stack-info';

/*
 * `npm run restore -- <s3-key> --target <postgres-url> [--bucket <name>] [--clean]`: streams a
 * backup from S3 into pg_restore (one transaction), checking its SHA-256 against the manifest
 * before the last bytes are handed over; a mismatch restores nothing. The target database must
 * exist; --clean drops what the dump holds first. Bucket and endpoint come from BACKUP_BUCKET and
 * AWS_ENDPOINT_URL_S3 (and .env, and a running `npm start`).
 */

const command = {
  usage: 'npm run restore -- <s3-key> --target <postgres-url> [--bucket <name>] [--clean]',
  help: `Streams a backup from S3 into pg_restore (one transaction). Its SHA-256 is checked against the
manifest before the last bytes are handed over: a mismatch restores nothing. The target database
must exist. Bucket and endpoint come from BACKUP_BUCKET and AWS_ENDPOINT_URL_S3 (and .env, and a
running npm start); credentials as the AWS CLI finds them.

  <s3-key>         the dump's key, ending in .dump (its manifest beside it)
  --target URL     the database to restore into (postgres://...)
  --bucket NAME    the backup bucket, over BACKUP_BUCKET
  --clean          drop what the dump holds in the target first
  --help           this text; nothing is read or restored`,
  options: { target: { type: 'string' }, bucket: { type: 'string' }, clean: { type: 'boolean', default: false } },
  positionals: true,
} as const;

async function main() {
  const { values, positionals } = parseCommand(command);
  const key = positionals[0];
  if (!key) usageError(command, 'name the backup: its S3 key, ending in .dump');
  if (positionals.length > 1) usageError(command, `one backup at a time; also given: ${positionals.slice(1).join(' ')}`);
  if (!values.target) usageError(command, '--target is required');
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  const stack = readStackInfo();
  if (stack) for (const [name, value] of Object.entries(localStackEnvironment(stack))) process.env[name] ??= value;
  if (values.bucket) process.env.BACKUP_BUCKET = values.bucket;
  // The bucket's region, never a silent us-east-1: the SDK's own variables, else ask for it.
  process.env.AWS_REGION ??= process.env.AWS_DEFAULT_REGION;
  if (!process.env.AWS_REGION && !process.env.AWS_ENDPOINT_URL_S3)
    usageError(command, "set AWS_REGION to the stage's region (where the backup bucket is)");

  const config = loadConfig([backupConfig, 'aws', 'database'], {
    ...process.env,
    DATABASE_URL: values.target,
    DATABASE_SECRET_ID: '',
  });
  const s3 = createS3Client(config.aws);
  const started = performance.now();
  const restored = await restoreBackup(s3, config.backup.bucket, key, {
    pgRestorePath: config.backup.pgRestorePath,
    env: libpqEnvironment({ connectionString: values.target }, config.database, process.env),
    clean: values.clean,
  });
  const target = new URL(values.target);
  process.stdout.write(
    `restored ${key} (${restored.sizeBytes} bytes, SHA-256 ${restored.manifest.sha256} as the manifest says, dumped ${restored.manifest.startedAt} from ${restored.manifest.database}) into ${target.hostname}${target.pathname} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  s3.destroy();
}

main().catch((error: Error) => {
  process.stderr.write(`restore failed: ${error.message}\n`);
  process.exit(1);
});
