import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { integer, optionalUrl, s3Bucket, s3Prefix, ssmParameterName, unsetIfEmpty } from '../../lib/config-fields';

/* The backup's settings: where dumps go, the tools that write and read them, retention and the restore check. */

const booleanFlag = z.preprocess(
  unsetIfEmpty,
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
);

const backupVariables = z.object({
  BACKUP_BUCKET: z.preprocess(unsetIfEmpty, s3Bucket),
  BACKUP_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('backups')),
  /** SSE-KMS with this key; unset: SSE-S3 (AES256). */
  BACKUP_KMS_KEY_ID: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(
        /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f-]{36})$/,
        'must be a KMS key id, key ARN or alias',
      )
      .optional(),
  ),
  PG_DUMP_PATH: z.preprocess(unsetIfEmpty, z.string().default('pg_dump')),
  PG_RESTORE_PATH: z.preprocess(unsetIfEmpty, z.string().default('pg_restore')),
  BACKUP_UPLOAD_QUEUE_SIZE: integer(4, 1, 16),
  BACKUP_WATCHDOG_MARGIN_SECONDS: integer(60, 5, 600),
  /** Outside Lambda (functions/backup/task.ts): the run's whole budget. */
  BACKUP_TASK_TIMEOUT_SECONDS: integer(4 * 3600, 60, 7 * 24 * 3600),
  BACKUP_KEEP_DAILY: integer(7, 1, 366),
  BACKUP_KEEP_WEEKLY: integer(4, 0, 520),
  BACKUP_KEEP_MONTHLY: integer(12, 0, 1200),
  BACKUP_RETENTION_DRY_RUN: booleanFlag,
  /** Read every backup back in full after upload even when S3 confirmed its checksum (the slow proof). */
  BACKUP_VERIFY_READ_BACK: booleanFlag,
  /** A scratch database Vigil may drop and recreate to test-restore the newest backup. */
  BACKUP_VERIFY_DATABASE_URL: optionalUrl(/^postgres(ql)?$/),
  /** Allow the scratch database on the backed-up database's own server (refused otherwise). */
  BACKUP_VERIFY_ALLOW_SAME_SERVER: booleanFlag,
  /** The same URL from an SSM SecureString (the deployed form: no credentials in the template). */
  BACKUP_VERIFY_DATABASE_URL_PARAMETER: ssmParameterName('/vigil/prod/backup-verify-database-url'),
});
export const backupConfig = configSection(
  'backup',
  backupVariables,
  backupVariables.transform((raw) => ({
    bucket: raw.BACKUP_BUCKET,
    prefix: raw.BACKUP_PREFIX.replace(/\/+$/, ''),
    kmsKeyId: raw.BACKUP_KMS_KEY_ID,
    pgDumpPath: raw.PG_DUMP_PATH,
    pgRestorePath: raw.PG_RESTORE_PATH,
    queueSize: raw.BACKUP_UPLOAD_QUEUE_SIZE,
    watchdogMarginMs: raw.BACKUP_WATCHDOG_MARGIN_SECONDS * 1000,
    taskTimeoutMs: raw.BACKUP_TASK_TIMEOUT_SECONDS * 1000,
    keep: { daily: raw.BACKUP_KEEP_DAILY, weekly: raw.BACKUP_KEEP_WEEKLY, monthly: raw.BACKUP_KEEP_MONTHLY },
    retentionDryRun: raw.BACKUP_RETENTION_DRY_RUN,
    verifyReadBack: raw.BACKUP_VERIFY_READ_BACK,
    verifyDatabaseUrl: raw.BACKUP_VERIFY_DATABASE_URL,
    verifyDatabaseParameter: raw.BACKUP_VERIFY_DATABASE_URL_PARAMETER,
    verifyAllowSameServer: raw.BACKUP_VERIFY_ALLOW_SAME_SERVER,
  })),
);

export type BackupConfig = SectionOutput<typeof backupConfig>;
