import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { integer, qualifiedName, s3Bucket, s3Prefix, unsetIfEmpty } from '../../lib/config-fields';

/* The report's settings: where it reads what the other functions could not store for it, and where its page goes. */

const columnName = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a column name (lower case letters, digits, _)');

const reportVariables = z.object({
  /** The app's request log: the error rate and API response time of the period. */
  REPORT_LOG_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('api_performance_log').default('api_performance_log')),
  REPORT_LOG_USER_AGENT_COLUMN: z.preprocess(unsetIfEmpty, columnName.default('user_agent')),
  /** The app's query log (the maintenance-window guide's database query time). */
  REPORT_QUERY_LOG_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('query_performance_log').default('query_performance_log')),
  /** The app's cache table: its large entries (the overhaul guide's weekly checklist). */
  REPORT_CACHE_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('user_performance').default('user_performance')),
  /** The bucket of the backups (read by listing only) and of the report pages; unset: neither. */
  REPORT_BUCKET: z.preprocess(unsetIfEmpty, s3Bucket.optional()),
  REPORT_BACKUP_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('backups')),
  REPORT_PAGE_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('reports')),
  /** How long the digest's link to the page is signed for; SigV4 allows 7 days at most. */
  REPORT_LINK_DAYS: integer(7, 1, 7),
});
export const reportConfig = configSection(
  'report',
  reportVariables,
  reportVariables.transform((raw) => ({
    logTable: raw.REPORT_LOG_TABLE,
    logUserAgentColumn: raw.REPORT_LOG_USER_AGENT_COLUMN,
    queryLogTable: raw.REPORT_QUERY_LOG_TABLE,
    cacheTable: raw.REPORT_CACHE_TABLE,
    bucket: raw.REPORT_BUCKET,
    backupPrefix: raw.REPORT_BACKUP_PREFIX.replace(/\/+$/, ''),
    pagePrefix: raw.REPORT_PAGE_PREFIX.replace(/\/+$/, ''),
    linkSeconds: raw.REPORT_LINK_DAYS * 86_400,
  })),
);

export type ReportConfig = SectionOutput<typeof reportConfig>;
