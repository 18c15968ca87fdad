import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { checkMOfN, decimal, integer, qualifiedName, unsetIfEmpty } from '../../lib/config-fields';

/** cacheEfficiency's settings: which cache it measures, from what, and when it alerts. */
const cacheVariables = z.object({
  CACHE_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('user_performance').default('user_performance')),
  CACHE_COUNTERS_QUERY: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(
        /^\s*(SELECT|WITH)\b/i,
        'must be a SELECT returning one row with columns hits, misses, errors (and optionally started_at)',
      )
      .optional(),
  ),
  CACHE_MIN_LOOKUPS: integer(20, 1, 1_000_000),
  CACHE_ALERT_BREACHES: integer(2, 1, 100),
  CACHE_ALERT_WINDOWS: integer(3, 1, 100),
  CACHE_OLAP_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('performance_metrics_cache').default('performance_metrics_cache')),
  CACHE_WINDOW_RETENTION_DAYS: integer(90, 1, 3650),
  /** After a restart of the cache (counters reset, table flushed): minutes it refills before its ratio counts (one TTL). */
  CACHE_WARMUP_MINUTES: integer(15, 0, 24 * 60),
  /** Tables with at least this many entries (the planner's estimate) are measured on a fixed slice of their keys; smaller ones whole. */
  CACHE_SAMPLE_FROM_ENTRIES: integer(200_000, 0, 2_000_000_000),
  /** The slice grows until the 95 % interval of the hit ratio is at most this many points either side (or the table is whole). */
  CACHE_SAMPLE_HALF_WIDTH_POINTS: decimal(1, 0.1, 25),
  /** A sampled table is counted whole (a census) at least this often, and the sample checked against it; 0: never. */
  CACHE_CENSUS_EVERY_HOURS: integer(168, 0, 24 * 366),
});

export const cacheConfig = configSection(
  'cache',
  cacheVariables,
  cacheVariables
    .superRefine(
      (raw, context) => {
        checkMOfN(context, raw, 'CACHE_ALERT_BREACHES', 'CACHE_ALERT_WINDOWS');
      },
      { when: () => true },
    )
    .transform((raw) => ({
      table: raw.CACHE_TABLE,
      countersQuery: raw.CACHE_COUNTERS_QUERY,
      minLookups: raw.CACHE_MIN_LOOKUPS,
      alertBreaches: raw.CACHE_ALERT_BREACHES,
      alertWindows: raw.CACHE_ALERT_WINDOWS,
      olapTable: raw.CACHE_OLAP_TABLE,
      windowRetentionDays: raw.CACHE_WINDOW_RETENTION_DAYS,
      warmupMinutes: raw.CACHE_WARMUP_MINUTES,
      sampleFromEntries: raw.CACHE_SAMPLE_FROM_ENTRIES,
      sampleHalfWidthPoints: raw.CACHE_SAMPLE_HALF_WIDTH_POINTS,
      censusEveryHours: raw.CACHE_CENSUS_EVERY_HOURS,
    })),
);

export type CacheConfig = SectionOutput<typeof cacheConfig>;
