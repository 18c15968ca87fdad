import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { checkMOfN, integer, jsonEntries, s3Bucket, s3Prefix, unsetIfEmpty } from '../../lib/config-fields';

/* partitionMaintenance's settings: the tables it keeps, how it retires their partitions, how long it may wait for a lock. */

/**
 * A table name as PostgreSQL reads it: `name` or `schema.name`, each part either unquoted (folded
 * to lower case) or "double-quoted" (case kept, any character; "" for a quote inside).
 */
const identifierPart = '(?:[A-Za-z_][A-Za-z0-9_$]{0,62}|"(?:[^"]|""){1,63}")';
const sqlTableName = z
  .string()
  .regex(
    new RegExp(`^${identifierPart}(?:\\.${identifierPart})?$`),
    'must be a table name as in SQL: name or schema.name, "quoted" to keep case or use other characters',
  );

/** The name an identifier stands for, by PostgreSQL's rules (unquoted: lower case; quoted: as written). */
export function identifierName(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replaceAll('""', '"') : text.toLowerCase();
}

const partitionTable = z
  .strictObject({
    table: sqlTableName,
    interval: z.enum(['month', 'week', 'day']).default('month'),
    premake: z.number().int().min(1).max(60).default(3),
    /** Intervals kept before the current one; omitted keeps everything. */
    retention: z.number().int().min(0).max(1000).optional(),
    /** detach and keep, drop, or archive to S3 (verified) then drop. */
    retire: z.enum(['drop', 'detach', 'archive']).default('detach'),
    /** Detach-mode tables are moved into this schema once retired (it must exist). */
    retentionSchema: z
      .string()
      .regex(new RegExp(`^${identifierPart}$`), 'must be a schema name')
      .transform(identifierName)
      .optional(),
    /** Create a default partition when the table has none (rows outside every range land there, not in an error). */
    createDefault: z.boolean().default(false),
    /** Mark existing children with exactly the planned bounds as Vigil's, so retention applies to them. */
    adopt: z.boolean().default(false),
  })
  .refine((entry) => !(entry.retentionSchema && entry.retire !== 'detach'), {
    message: 'retentionSchema is for retire: detach (drop and archive leave no table)',
    path: ['retentionSchema'],
  });

/** An entry of PARTITION_TABLES that cannot be used: reported and skipped, the others maintained. */
export interface InvalidPartitionTable {
  label: string;
  problems: string[];
}

/** PARTITION_TABLES: every usable entry, and every unusable one with what is wrong with it (skipped, not fatal). */
const partitionTablesList = jsonEntries(partitionTable, 'table', 'table').transform((entries) => ({
  tables: entries.valid,
  invalid: entries.invalid.map(
    (invalid): InvalidPartitionTable => ({ label: invalid.name ?? `#${invalid.index + 1}`, problems: invalid.problems }),
  ),
}));

const partitionVariables = z.object({
  PARTITION_TABLES: partitionTablesList,
  PARTITION_LOCK_TIMEOUT_MS: integer(2_000, 10, 60_000),
  /** Intervals of rows in the default partition moved into partitions of their own per run. */
  PARTITION_MOVE_INTERVALS_PER_RUN: integer(12, 1, 1000),
  /** Alert when a table's locks could not be had in M of the last N runs (one such run is expected). */
  PARTITION_LOCK_ALERT_BREACHES: integer(2, 1, 100),
  PARTITION_LOCK_ALERT_RUNS: integer(3, 1, 100),
  PARTITION_ARCHIVE_BUCKET: z.preprocess(unsetIfEmpty, s3Bucket.optional()),
  PARTITION_ARCHIVE_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('partitions')),
});
export const partitionsConfig = configSection(
  'partitions',
  partitionVariables,
  partitionVariables
    .superRefine(
      (raw, context) => {
        checkMOfN(context, raw, 'PARTITION_LOCK_ALERT_BREACHES', 'PARTITION_LOCK_ALERT_RUNS');
      },
      { when: () => true },
    )
    .transform((raw) => {
      const listed = raw.PARTITION_TABLES;
      // A table that retires by archive, with no bucket to archive to, is unusable; the others are not.
      const archiving = raw.PARTITION_ARCHIVE_BUCKET ? [] : listed.tables.filter((entry) => entry.retire === 'archive');
      return {
        tables: listed.tables.filter((entry) => !archiving.includes(entry)),
        invalidTables: [
          ...listed.invalid,
          ...archiving.map((entry) => ({
            label: entry.table,
            problems: ['retire: archive needs PARTITION_ARCHIVE_BUCKET, which is not set'],
          })),
        ],
        lockTimeoutMs: raw.PARTITION_LOCK_TIMEOUT_MS,
        moveIntervalsPerRun: raw.PARTITION_MOVE_INTERVALS_PER_RUN,
        lockAlertBreaches: raw.PARTITION_LOCK_ALERT_BREACHES,
        lockAlertRuns: raw.PARTITION_LOCK_ALERT_RUNS,
        archiveBucket: raw.PARTITION_ARCHIVE_BUCKET,
        archivePrefix: raw.PARTITION_ARCHIVE_PREFIX,
      };
    }),
);

export type PartitionsConfig = SectionOutput<typeof partitionsConfig>;
export type PartitionTableConfig = z.output<typeof partitionTable>;
