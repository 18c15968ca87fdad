import type { Alert } from '../../lib/alerts';
import { reportKeys } from '../../lib/alerts/keys';
import { boundsWords, measuredWords, targetText, verdictWords } from './page';
import { periodWords } from './period';
import type { Report } from './report';
import type { ScorecardRow } from './scorecard';
import { durationWords } from './words';

/*
 * The digest ops receive by email: a subject that says whether every promise was met or names the
 * missed ones, and the scorecard as plain text. Info severity, sent once per scheduled report.
 */

/** Short names for the subject line. */
function shortName(row: ScorecardRow): string {
  const [kind, what] = row.id.split(':') as [string, string | undefined];
  const names: Record<string, string> = {
    'load-reduction-p50': 'load time (median)',
    'load-reduction-p95': 'load time (p95)',
    'dashboard-load-p95': '1.0 s load',
    'api-calls': 'API calls',
    'cache-hit-ratio': 'cache hit ratio',
    'error-rate': 'error rate',
    'api-response-time': 'API response time',
    'query-time': 'query time',
    decisions: 'rollback decisions',
    'backup-age': 'backup age',
    'backup-complete': 'backup checks',
    'backup-retention': 'backup retention',
    partitions: `partitions${what ? ` of ${what}` : ''}`,
    'large-cache-entries': 'large cache entries',
  };
  return names[kind] ?? kind.replace(/-/g, ' ');
}

export function digestTitle(report: Report): string {
  const missed = report.rows.filter((row) => row.verdict === 'missed');
  const what = `Rollout scorecard, ${report.period.kind === 'day' ? 'daily' : 'weekly'}`;
  return missed.length === 0 ? `${what}: all promises met` : `${what}: missed ${[...new Set(missed.map(shortName))].join(', ')}`;
}

function rowLines(row: ScorecardRow): string[] {
  const head = `${verdictWords[row.verdict].padEnd(15)}${row.promise}`;
  const indent = ' '.repeat(15);
  if (row.verdict === 'not_measured') return [head, `${indent}${row.why}`];
  const figure = [measuredWords(row), boundsWords(row) ? `bounds ${boundsWords(row)}` : '', `target ${targetText(row)}`]
    .filter(Boolean)
    .join('; ');
  const lines = [head, `${indent}${row.value === null ? `no data: ${row.why}` : figure}`];
  if (row.value !== null) lines.push(`${indent}${row.why}`);
  return lines;
}

/** The scorecard, recommendations and alerts of a report as plain text. */
export function digestText(report: Report, stage: string): string {
  const counts = report.verdicts;
  const lines = [
    `Rollout scorecard of stage ${stage} for the ${report.period.kind} ${periodWords(report.period)}.`,
    `${counts.met} met, ${counts.missed} missed, ${counts.not_shown} not shown yet, ${counts.no_data} without data, ${counts.not_measured} not measurable by Vigil.`,
    '',
    ...report.rows.flatMap((row) => [...rowLines(row), '']),
  ];
  const trends = report.rows.filter((row) => row.trend);
  lines.push(`Against the previous ${report.period.kind} (${periodWords(report.previous)}):`);
  if (trends.length === 0) lines.push('  nothing measured in both periods');
  for (const row of trends) lines.push(`  - ${shortName(row)} ${row.trend}`);
  lines.push('', 'Recommendations (only where a rule of the source documents fires):');
  if (report.recommendations.length === 0) lines.push('  none: no rule fires on this period');
  for (const item of report.recommendations) lines.push(`  - ${item.advice} Rule: ${item.rule} (${item.source}).`);
  lines.push('', 'Alerts sent in the period:');
  if (report.alerts.length === 0) lines.push('  none');
  for (const alert of report.alerts) {
    const times = [...alert.resolveTimesMs].sort((a, b) => a - b);
    const resolveTime = times.length
      ? `, time to resolve median ${durationWords(times[Math.floor((times.length - 1) / 2)] as number)}`
      : '';
    const atEnd = alert.firingAtEnd ? `, still firing at the end (since ${alert.firingAtEnd.toISOString().slice(0, 16)}Z)` : '';
    lines.push(`  - ${alert.title} (${alert.severity}): fired ${alert.fired}, resolved ${alert.resolved}${resolveTime}${atEnd}`);
  }
  return lines.join('\n');
}

/** The digest as the alerter sends it: the text as the summary, the page's link apart. */
export function digestAlert(report: Report, stage: string, page?: { url: string; expiresAt: Date; location: string }): Alert {
  return {
    key: reportKeys.digest(report.period.kind),
    severity: 'info',
    title: digestTitle(report),
    summary: digestText(report, stage),
    measurements: [],
    source: 'rollout report',
    runbook: 'rollout-scorecard',
    action:
      report.missed.length === 0
        ? 'Nothing is required. Rows not shown yet say how many more samples would decide them.'
        : 'Read each missed row above: its figures name what to look at. The runbook entry says where each comes from.',
    observedAt: report.generatedAt,
    since: report.period.start,
    ...(page
      ? {
          details: `The page with the charts is ${page.location}. Its link below is signed for use until ${page.expiresAt.toISOString().slice(0, 16)}Z at the latest; signed with the function's temporary credentials, it stops working when they expire (often within hours): then fetch the page with your own access, or run npm run report -- --period ${report.period.kind} --html report.html.`,
          link: { label: 'Charts', url: page.url },
        }
      : {}),
  };
}
