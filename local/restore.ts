import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backupConfig } from '../functions/backup/config';
import { libpqEnvironment } from '../functions/backup/pg-tools';
import { restoreBackup } from '../functions/backup/restore';
import { createS3Client } from '../lib/aws/s3';
import { loadConfig } from '../lib/config';
import { projectRoot } from './migrate';
import { localStackEnvironment, readStackInfo } from './stack-info';

/*
 * `npm run restore -- <s3-key> --target <postgres-url> [--bucket <name>] [--clean]`: streams a
 * backup from S3 into pg_restore (one transaction), checking its SHA-256 against the manifest
 * before the last bytes are handed over; a mismatch restores nothing. The target database must
 * exist; --clean drops what the dump holds first. Bucket and endpoint come from BACKUP_BUCKET and
 * AWS_ENDPOINT_URL_S3 (and .env, and a running `npm start`).
 */

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run restore -- <s3-key> --target <postgres-url> [--bucket <name>] [--clean]\n`);
  process.exit(2);
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { target: { type: 'string' }, bucket: { type: 'string' }, clean: { type: 'boolean', default: false } },
  });
  const key = positionals[0];
  if (!key) usage('name the backup: its S3 key, ending in .dump');
  if (!values.target) usage('--target is required');
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  const stack = readStackInfo();
  if (stack) for (const [name, value] of Object.entries(localStackEnvironment(stack))) process.env[name] ??= value;
  if (values.bucket) process.env.BACKUP_BUCKET = values.bucket;

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
