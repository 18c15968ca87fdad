import * as z from 'zod';
import { issueProblems } from './config-fields';
import type { ConfigProblem } from './errors';

/*
 * Every target and limit Vigil checks against, written once, each with the document it comes from
 * by its code in docs/sources.md (titles there): 000 = the overhaul guide, 002 = the
 * maintenance-window guide, 003 = the analytics deliverable; "issue 2" = Vigil's foundation issue
 * where no document gives one.
 * Override any of them with the VIGIL_THRESHOLDS JSON variable or the SSM parameter named by
 * VIGIL_THRESHOLDS_SSM_PARAMETER (same shape, any subset); see lib/config.ts.
 */
export const defaultThresholds = {
  dashboard: {
    baselineLoadMs: 4000, // 000: dashboard load before the overhaul, 4.0 s
    targetLoadMs: 1000, // 000: "Target: <= 1.0s (80% reduction from 4.0s baseline)"
    goalLoadMs: 800, // 000: stretch goal 0.8 s
    targetLoadReductionPercent: 80, // 000: 80 % load-time reduction
    legacyApiCalls: 8, // 000: eight dashboard calls before
    targetApiCalls: 1, // 000: one /api/portfolio/complete call after
    targetApiCallReductionPercent: 87.5, // 000: "87.5% API call reduction (8 calls -> 1 call)"
  },
  cache: {
    targetHitRatioPercent: 85, // 000: "Target: >85% cache hit ratio"
    largePayloadKb: 200, // 000: identify_cache_issues, payload_size_kb > 200 is large
    mediumPayloadKb: 500, // 000: large payloads >= 500 KB are severity medium
    frequentRecalculations: 3, // 000: > 3 recalculations of one user in the window
    highRecalculations: 5, // 000: > 5 recalculations is severity high
    recalculationWindowMinutes: 120, // 000: "calculated_at > NOW() - INTERVAL '2 hours'"
    olapStalenessTargetMinutes: 5, // 003: OLAP cache freshness target < 5 minutes
    olapStalenessAlertMinutes: 10, // 003: alert when last_updated > 10 minutes old
    healthScoreTarget: 80, // 003: system health score target >= 80/100
    healthScoreAlert: 60, // 003: critical alert when health score < 60/100
    weeklyLargeEntryKb: 500, // 000: weekly checklist, "Large cache entries (>500KB)"
    largeEntriesReviewAbove: 10, // 000: weekly recommendations, "> 10 large cache entries - review payload optimization"
  },
  quality: {
    errorRateTargetPercent: 0.1, // 000: quality target, error rate <= 0.1 %
    errorRateAlertPercent: 5, // 000: incident detection, error rate > 5 %
    slowResponseMs: 1000, // 003: a query or response over 1000 ms is slow
    slowQueriesPerHourAlert: 100, // 003: warning when > 100 slow queries in 1 hour
    apiResponseMaxMs: 625, // 002: Performance Validation Criteria, API response time 375-625 ms (+-25 % of its baseline)
    queryTimeMaxMs: 125, // 002: Performance Validation Criteria, database query time 75-125 ms
  },
  partitions: {
    maxPerTable: 35, // 003: "Partition Cleanup Needed" when a table has > 35 partitions
    minFutureMonths: 1, // issue 2: fewer than one future partition means inserts will fail
  },
  backup: {
    staleAfterHours: 48, // issue 2: newest good backup older than 48 h is stale
    keepDaily: 7, // 003: daily backups kept 7 days
    keepWeekly: 4, // 003: weekly backups kept 4 weeks
    keepMonthly: 12, // 003: monthly backups kept 12 months
  },
  rollback: {
    immediate: {
      errorRatePercent: 5, // 000: RollbackDecisionMatrix critical, error rate > 5 %
      avgResponseMs: 10000, // 000: critical, response time > 10 s
      cacheFailurePercent: 50, // 000: critical, cache failures > 50 %
      complaintsPerHour: 10, // 000: critical, > 10 user complaints an hour
      newPageSuccessBelowPercent: 50, // 002: critical, system inaccessible; the probe calls a page down when under half its loads succeed
    },
    staged: {
      errorRatePercent: 2, // 000: major, error rate > 2 %
      avgResponseMs: 5000, // 000: major, response time > 5 s
      cacheFailurePercent: 30, // 000: major, cache failures > 30 %
      slowerThanBaselinePercent: 50, // 000: major, > 50 % slower than baseline
    },
    monitor: {
      errorRatePercent: 1, // 000: minor, error rate > 1 %
      avgResponseMs: 3000, // 000: minor, response time > 3 s
      cacheFailurePercent: 20, // 000: minor, cache failures > 20 %
      adoptionBelowPercent: 50, // 000: minor, < 50 % of users on the new system
      // 002: "Medium" at > 40 % degradation; Vigil rolls back at 000's > 50 % and reports 40-50 % as monitor (docs/functions.md)
      slowerThanBaselinePercent: 40,
    },
    evidence: {
      // Vigil (issue 28): each bound the matrix judges is one-sided at this confidence, so one
      // window of a healthy rollout shows a false breach at a level with at most 5 % probability
      // when the true value sits exactly at the level's limit, and far less below it.
      confidencePercent: 95,
    },
    tiers: {
      coreBrokenPercent: 50, // 002: Tier 2 database + application, core functionality broken > 50 %
      inaccessibleErrorRatePercent: 100, // 002: Tier 3 full system restore, system completely inaccessible
    },
  },
};

type Widen<T> = { [K in keyof T]: T[K] extends number ? number : Widen<T[K]> };
export type Thresholds = Widen<typeof defaultThresholds>;

/** A strict schema of any subset of the defaults: unknown keys are typos, not silently ignored. */
function overrideSchemaOf(shape: Record<string, unknown>): z.ZodType {
  const fields: Record<string, z.ZodType> = {};
  for (const [key, value] of Object.entries(shape)) {
    fields[key] =
      typeof value === 'number'
        ? z.number().finite().nonnegative().optional()
        : overrideSchemaOf(value as Record<string, unknown>).optional();
  }
  return z.strictObject(fields);
}

const overridesSchema = overrideSchemaOf(defaultThresholds);

function mergeDeep<T>(base: T, override: unknown): T {
  if (override === undefined) return base;
  if (typeof base !== 'object' || base === null) return override as T;
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(override as Record<string, unknown>)) {
    merged[key] = mergeDeep((base as Record<string, unknown>)[key], value);
  }
  return merged as T;
}

/** Orderings the matrix and the alerts rely on; an override that breaks one is refused. */
function orderingProblems(t: Thresholds): string[] {
  const problems: string[] = [];
  const ascending = (path: string, values: number[]) => {
    for (let index = 1; index < values.length; index += 1) {
      if (!((values[index - 1] as number) < (values[index] as number))) {
        problems.push(`${path} must increase from monitor to staged to immediate (got ${values.join(' / ')})`);
        return;
      }
    }
  };
  const { monitor, staged, immediate } = t.rollback;
  ascending('rollback.*.errorRatePercent', [monitor.errorRatePercent, staged.errorRatePercent, immediate.errorRatePercent]);
  ascending('rollback.*.avgResponseMs', [monitor.avgResponseMs, staged.avgResponseMs, immediate.avgResponseMs]);
  ascending('rollback.*.cacheFailurePercent', [
    monitor.cacheFailurePercent,
    staged.cacheFailurePercent,
    immediate.cacheFailurePercent,
  ]);
  ascending('rollback.*.slowerThanBaselinePercent', [monitor.slowerThanBaselinePercent, staged.slowerThanBaselinePercent]);
  if (!(t.cache.largePayloadKb < t.cache.mediumPayloadKb))
    problems.push('cache.largePayloadKb must be below cache.mediumPayloadKb');
  if (!(t.cache.frequentRecalculations < t.cache.highRecalculations))
    problems.push('cache.frequentRecalculations must be below cache.highRecalculations');
  if (!(t.cache.olapStalenessTargetMinutes <= t.cache.olapStalenessAlertMinutes))
    problems.push('cache.olapStalenessTargetMinutes must not exceed cache.olapStalenessAlertMinutes');
  if (!(t.cache.healthScoreAlert <= t.cache.healthScoreTarget))
    problems.push('cache.healthScoreAlert must not exceed cache.healthScoreTarget');
  if (!(t.rollback.evidence.confidencePercent >= 50 && t.rollback.evidence.confidencePercent < 100))
    problems.push(
      `rollback.evidence.confidencePercent must be at least 50 and under 100 (got ${t.rollback.evidence.confidencePercent})`,
    );
  if (!(t.dashboard.targetApiCalls <= t.dashboard.legacyApiCalls))
    problems.push('dashboard.targetApiCalls must not exceed dashboard.legacyApiCalls');
  for (const [path, value] of [
    ['cache.targetHitRatioPercent', t.cache.targetHitRatioPercent],
    ['dashboard.targetLoadReductionPercent', t.dashboard.targetLoadReductionPercent],
    ['dashboard.targetApiCallReductionPercent', t.dashboard.targetApiCallReductionPercent],
  ] as const) {
    if (value > 100) problems.push(`${path} is a percentage and cannot exceed 100 (got ${value})`);
  }
  return problems;
}

/**
 * Applies override layers, in order, over the defaults. Each layer is named by where it came
 * from (an environment variable or SSM parameter), and every problem of every layer is returned
 * with that name, so one error can list them all.
 */
export function resolveThresholds(layers: ReadonlyArray<{ source: string; overrides: unknown }>): {
  thresholds: Thresholds;
  problems: ConfigProblem[];
} {
  let thresholds: Thresholds = defaultThresholds;
  const problems: ConfigProblem[] = [];
  for (const { source, overrides } of layers) {
    const parsed = overridesSchema.safeParse(overrides);
    if (!parsed.success) {
      for (const message of issueProblems(parsed.error.issues)) problems.push({ variable: source, message });
      continue;
    }
    thresholds = mergeDeep(thresholds, parsed.data);
  }
  if (problems.length === 0) {
    for (const message of orderingProblems(thresholds)) {
      problems.push({ variable: layers.map((layer) => layer.source).join(' + ') || 'thresholds', message });
    }
  }
  return { thresholds, problems };
}
