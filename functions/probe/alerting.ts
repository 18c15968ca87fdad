import type { Alert } from '../../lib/alerts';
import { probeKeys } from '../../lib/alerts/keys';
import type { BudgetState, ProbeSummary } from './summary';
import type { FailureKind } from './timing';

/** A failure kind in the words of the message that groups them. */
const failureWords: Record<FailureKind, string> = {
  timeout: 'a timeout',
  dns: 'a DNS failure',
  connect: 'a refused or failed connection',
  tls: 'a TLS failure',
  status: 'an unexpected HTTP status',
  not_json: 'a body that is not JSON',
  assertion: 'an answer that failed its check',
  redirect_loop: 'a redirect loop',
  too_large: 'a body over its size limit',
  network: 'a network error',
};

export type ProbeAlertRequest = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string };

export interface RecentRun {
  measuredAt: Date;
  state: BudgetState;
  valueMs: number | null;
  successPercent: number;
  samples: number;
}

/**
 * A budget breached (failed) in M of the last N runs raises, so one slow run pages nobody; fewer
 * breaches, with the latest run measured, resolve. A target that is down (fewer than half of its
 * samples succeeded) in the latest run is its own critical alert.
 */
export function probeAlertRequests(
  summary: ProbeSummary,
  recentNewestFirst: RecentRun[],
  options: { breaches: number; runs: number; now: Date },
): ProbeAlertRequest[] {
  const budgetKey = probeKeys.budget(summary.name);
  const downKey = probeKeys.down(summary.name);
  const recent = recentNewestFirst.slice(0, options.runs);
  const failed = recent.filter((run) => run.state === 'failed');
  // Titles carry the name only, so the 99-character subject keeps its end; the URL is in the email.
  const subject = summary.kind === 'scenario' ? `page ${summary.name}` : summary.name;
  const where = summary.url ? ` (${summary.url})` : '';
  const requests: ProbeAlertRequest[] = [];
  // The condition began with the oldest breach that counts toward it, not when it was first sent.
  const breachBegan = failed.at(-1)?.measuredAt;
  if (failed.length >= options.breaches) {
    requests.push({
      action: 'raise',
      alert: {
        key: budgetKey,
        severity: 'major',
        title: `Load time of ${subject} over budget`,
        summary: `${summary.name}${where}: the ${summary.budget.statistic} load time was over ${summary.budget.failMs} ms in ${failed.length} of the last ${recent.length} probe runs. Load time is the ${summary.loadTimeMeans}.`,
        measurements: failed.map((run) => ({
          name: `load time ${run.measuredAt.toISOString().slice(11, 16)}Z`,
          value: run.valueMs,
          unit: 'ms',
          threshold: { operator: '>' as const, value: summary.budget.failMs },
          window: 'one probe run',
          sampleCount: run.samples,
        })),
        source: 'load-time probe',
        runbook: 'probe-budget',
        ...(breachBegan ? { since: breachBegan } : {}),
        action:
          'Compare the phases (DNS, connect, TLS, TTFB, download) in the latest probe result; TTFB growing means the server or database is slower.',
        observedAt: options.now,
      },
    });
  } else if (recent[0] && recent[0].state !== 'down' && recent[0].state !== 'not_measured') {
    requests.push({ action: 'resolve', key: budgetKey });
  }
  if (summary.budget.state === 'down') {
    // What most samples failed with: targets and pages down for one reason in one run (the
    // database behind the app, DNS, the app itself) share a cause and page once, the others listed.
    const mainFailure = [...summary.failures].sort((a, b) => b.count - a.count)[0];
    // Down since the first of the unbroken run of down runs that ends with this one.
    const downRuns = recent.findIndex((run) => run.state !== 'down');
    const downSince = (downRuns === -1 ? recent.at(-1) : recent[downRuns - 1])?.measuredAt ?? options.now;
    requests.push({
      action: 'raise',
      alert: {
        key: downKey,
        severity: 'critical',
        title: `${summary.kind === 'scenario' ? `Page ${summary.name}` : `Endpoint ${summary.name}`} is down`,
        summary: `Only ${summary.successes} of ${summary.samples} probe samples of ${summary.name}${where} succeeded${mainFailure ? `; most failed with ${failureWords[mainFailure.kind as FailureKind] ?? mainFailure.kind}` : ''}.`,
        cause: probeKeys.downCause(mainFailure?.kind ?? 'unknown'),
        measurements: [
          {
            name: 'successful samples',
            value: summary.successPercent,
            unit: '%',
            threshold: { operator: '<', value: 50 },
            sampleCount: summary.samples,
          },
        ],
        source: 'load-time probe',
        runbook: 'probe-down',
        since: downSince,
        action: 'Open the URL yourself; the failure reasons are in the email details. Check the app and its load balancer.',
        details: summary.failures.map((failure) => `${failure.count} x ${failure.kind}: ${failure.example}`).join('\n'),
        observedAt: options.now,
      },
    });
  } else if (summary.budget.state !== 'not_measured') {
    requests.push({ action: 'resolve', key: downKey });
  }
  return requests;
}

/**
 * One alert per cause: a page that is down or over budget in the same run as an endpoint it loads
 * is not paged apart; the endpoint's alert names the page too.
 */
export function oneAlertPerCause(
  requestsByName: Map<string, ProbeAlertRequest[]>,
  pages: Array<{ name: string; requests: string[] }>,
): ProbeAlertRequest[] {
  const raisedKeys = new Map<string, Alert>();
  for (const requests of requestsByName.values())
    for (const request of requests) if (request.action === 'raise') raisedKeys.set(request.alert.key, request.alert);
  const dropped = new Set<string>();
  for (const page of pages) {
    for (const kind of ['down', 'budget'] as const) {
      const pageAlert = raisedKeys.get(probeKeys.of(page.name, kind));
      if (!pageAlert) continue;
      const causes = page.requests
        .map((target) => raisedKeys.get(probeKeys.of(target, kind)))
        .filter((alert) => alert !== undefined);
      if (causes.length === 0) continue;
      dropped.add(pageAlert.key);
      for (const cause of causes)
        cause.summary = `${cause.summary} The page ${page.name}, which loads it, is ${kind === 'down' ? 'down' : 'over budget'} with it in the same runs: one cause, one message.`;
    }
  }
  return [...requestsByName.values()].flat().filter((request) => !(request.action === 'raise' && dropped.has(request.alert.key)));
}
