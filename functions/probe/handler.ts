import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createAlerter } from '../../lib/alerts';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { deadlineFrom } from '../../lib/deadline';
import { ConfigError } from '../../lib/errors';
import { loadThresholds } from '../../lib/load-thresholds';
import { logger } from '../../lib/logger';
import { emitMetric, MetricUnit, metrics } from '../../lib/metrics';
import { fetchParameter } from '../../lib/parameters';
import { fetchSecret } from '../../lib/secrets';
import { isManualEvent, scheduledSlot } from '../../lib/slots';
import { oneAlertPerCause, type ProbeAlertRequest, probeAlertRequests } from './alerting';
import { type ProbeTarget, probeConfig } from './config';
import { runProbes } from './run';
import { recentProbeRuns, storeProbeRun } from './store';
import { comparePages, comparisonLine, type PageComparison, type ProbeSummary } from './summary';

const config = loadConfig([probeConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime']);
if (config.probe.targets.length === 0) {
  throw new ConfigError([{ variable: 'PROBE_TARGETS', message: 'is required: a JSON array of at least one target to probe' }]);
}
const db = createDatabase(config.database);
const alerter = createAlerter({
  sns: createSnsClient(config.aws, config.alerts.publishAttempts),
  db,
  config: config.alerts,
  stage: config.runtime.stage,
});

async function resolveToken(target: ProbeTarget): Promise<string | undefined> {
  if (target.tokenSsmParameter) return fetchParameter(target.tokenSsmParameter);
  if (target.tokenSecretId) return fetchSecret(target.tokenSecretId);
  return target.token;
}

/** Measured values only: a percentile the samples cannot carry is not emitted. */
function emitMetrics(summaries: ProbeSummary[], comparison: PageComparison | undefined) {
  for (const summary of summaries) {
    const dimensions = { [summary.kind === 'scenario' ? 'Page' : 'Target']: summary.name };
    emitMetric(dimensions, 'SuccessPercent', MetricUnit.Percent, summary.successPercent);
    if (summary.p50.value !== null) emitMetric(dimensions, 'LoadTimeP50', MetricUnit.Milliseconds, summary.p50.value);
    if (summary.p95.value !== null) emitMetric(dimensions, 'LoadTimeP95', MetricUnit.Milliseconds, summary.p95.value);
  }
  if (comparison) {
    const dimensions = { Comparison: `${comparison.oldScenario}-vs-${comparison.newScenario}` };
    emitMetric(dimensions, 'ApiCallReduction', MetricUnit.Percent, comparison.apiCallReductionPercent);
    const reductions = {
      LoadReductionVsBaselineP50: comparison.reductionVsBaselinePercent.p50,
      LoadReductionVsBaselineP95: comparison.reductionVsBaselinePercent.p95,
      LoadReductionVsOldP50: comparison.reductionVsMeasuredOldPercent.p50,
      LoadReductionVsOldP95: comparison.reductionVsMeasuredOldPercent.p95,
    };
    for (const [name, value] of Object.entries(reductions))
      if (value !== null) emitMetric(dimensions, name, MetricUnit.Percent, value);
    // The shift new - old (Hodges-Lehmann) and the verdict: -1 faster, 0 not distinguishable, 1 slower.
    if (comparison.difference.estimateMs !== null)
      emitMetric(dimensions, 'LoadTimeDifferenceNewVsOld', MetricUnit.Milliseconds, comparison.difference.estimateMs);
    const verdictLevel = { faster: -1, not_distinguishable: 0, slower: 1 }[comparison.difference.verdict];
    if (comparison.difference.low !== null) emitMetric(dimensions, 'NewVsOldVerdict', MetricUnit.NoUnit, verdictLevel);
  }
}

/**
 * Every 5 minutes: the configured endpoints and pages, from outside the app, by phase. Every sample
 * ends before the deadline (the Lambda's remaining time less PROBE_DEADLINE_MARGIN_SECONDS), so the
 * results are stored and the alerts raised even when an endpoint hangs.
 */
export async function runProbe(event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  const deadline = context ? deadlineFrom(context, config.probe.deadlineMarginMs, () => performance.now()) : undefined;
  const thresholds = await loadThresholds(config.thresholds);
  const summaries = await runProbes({
    deadline,
    targets: config.probe.targets,
    scenarios: config.probe.scenarios,
    concurrency: config.probe.concurrency,
    defaultBudget: { degradedMs: thresholds.dashboard.goalLoadMs, failMs: thresholds.dashboard.targetLoadMs },
    resolveToken,
  });
  const measuredAt = new Date();
  const oldPage = summaries.find(
    (summary) => summary.name === config.probe.scenarios.find((scenario) => scenario.role === 'old')?.name,
  );
  const newPage = summaries.find(
    (summary) => summary.name === config.probe.scenarios.find((scenario) => scenario.role === 'new')?.name,
  );
  const comparison = oldPage && newPage ? comparePages(oldPage, newPage, thresholds.dashboard) : undefined;
  if (isManualEvent(event)) {
    // A person's run (npm run invoke): measured and answered, never stored, so it counts in no
    // "M of N runs" and no decision reads it; no metric, no alert.
    logger.info(`probe (manual run, not stored): ${comparison ? comparisonLine(comparison) : `${summaries.length} measured`}`);
    return { manual: true, measuredAt, summaries, comparison };
  }
  const runId = await storeProbeRun(db, measuredAt, summaries, comparison);
  emitMetrics(summaries, comparison);
  const stepsByName = new Map<string, ProbeAlertRequest[]>();
  for (const summary of summaries) {
    const recent = await recentProbeRuns(db, summary.name, config.probe.alertRuns);
    stepsByName.set(
      summary.name,
      probeAlertRequests(summary, recent, {
        breaches: config.probe.alertBreaches,
        runs: config.probe.alertRuns,
        now: measuredAt,
      }),
    );
  }
  const alerts = await alerter.apply(oneAlertPerCause(stepsByName, config.probe.scenarios));
  const notTaken = summaries.filter((summary) => summary.notTaken);
  const line = `probe: ${
    comparison
      ? `${comparisonLine(comparison)}; ${comparison.reductionVsBaselinePercent.p50 ?? 'n/a'} % under the source's ${comparison.sourceBaselineMs} ms, ${comparison.apiCallReductionPercent} % fewer calls`
      : summaries
          .map((summary) => `${summary.name} p50 ${summary.p50.value ?? 'n/a'} ms (${summary.successPercent} % ok)`)
          .join(', ')
  }${notTaken.length ? `; samples not taken (deadline): ${notTaken.map((summary) => `${summary.name} ${summary.notTaken?.count}`).join(', ')}` : ''}`;
  logger.info(line, {
    runId,
    summaries: summaries.map(({ name, budget, successPercent }) => ({ name, budget, successPercent })),
  });
  return { runId, measuredAt, summaries, comparison, alerts };
}

export const handler = middy(runProbe).use(injectLambdaContext(logger)).use(scheduledSlot('probe', db)).use(logMetrics(metrics));
