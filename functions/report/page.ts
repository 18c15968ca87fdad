import { type ChartSpec, escapeHtml, renderChart } from './charts';
import { periodWords } from './period';
import type { Report } from './report';
import type { ScorecardRow, Verdict } from './scorecard';
import { countWords, durationWords, formatNumber, withUnit } from './words';

/*
 * The report as one self-contained HTML page: the scorecard, the recommendations, the alerts and
 * five charts, with its styles inline and no script at all.
 */

export const verdictWords: Record<Verdict, string> = {
  met: 'met',
  missed: 'MISSED',
  not_shown: 'not shown yet',
  no_data: 'no data',
  not_measured: 'not measurable',
};

const colours = { old: '#8a5a00', new: '#1f5fbf', bad: '#b3261e', warn: '#b26a00', ok: '#2e7d32', grey: '#6b6b6b' };

export function measuredWords(row: ScorecardRow): string {
  if (row.value === null) return '-';
  const value = row.display ?? withUnit(row.value, row.unit);
  const n = row.n !== null && row.counted ? ` (n = ${countWords(row.n, row.counted)})` : '';
  return `${value}${n}`;
}

export function boundsWords(row: ScorecardRow): string {
  if (!row.interval || (row.interval.low === null && row.interval.high === null)) return '';
  const bound = (value: number | null) => (value === null ? 'none' : withUnit(value, row.unit));
  return `${bound(row.interval.low)} to ${bound(row.interval.high)} (${formatNumber(row.interval.confidencePercent)} % each side)`;
}

export function targetText(row: ScorecardRow): string {
  if (!row.target) return row.verdict === 'not_measured' ? '-' : 'each tier full';
  return `${row.target.operator === '>=' ? 'at least' : 'at most'} ${withUnit(row.target.value, row.unit)}`;
}

function scorecardTable(report: Report): string {
  const body = report.rows
    .map(
      (row) => `<tr class="verdict-${row.verdict}" data-row="${escapeHtml(row.id)}">
<td class="verdict">${verdictWords[row.verdict]}</td>
<td>${escapeHtml(row.promise)}<div class="source">${escapeHtml(row.source)}</div></td>
<td>${escapeHtml(measuredWords(row))}${row.change ? `<div class="trend">${escapeHtml(row.change)}</div>` : ''}</td>
<td>${escapeHtml(boundsWords(row))}</td>
<td>${escapeHtml(targetText(row))}</td>
<td class="why">${escapeHtml(row.window === '-' ? row.why : `${row.why} [${row.window}]`)}</td>
</tr>`,
    )
    .join('\n');
  return `<table class="scorecard"><thead><tr><th>verdict</th><th>promise</th><th>measured</th><th>bounds</th><th>target</th><th>why</th></tr></thead><tbody>
${body}
</tbody></table>`;
}

/** The period a chart spans, and a day's point placed at its noon (within the period). */
interface ChartFrame {
  from: number;
  to: number;
  noon: (day: string) => number;
}

function frameOf(report: Report): ChartFrame {
  const from = report.period.start.getTime();
  const to = report.period.end.getTime();
  return { from, to, noon: (day: string) => Math.min(to, Math.max(from, Date.parse(`${day}T12:00:00Z`))) };
}

function loadTimeChart({ charts }: Report, { from, to, noon }: ChartFrame): ChartSpec {
  const pageSeries = (which: 'old' | 'new') => {
    const days = charts.loadByDay.filter((day) => day[which] !== null);
    return {
      name: `${which} page, median`,
      colour: which === 'old' ? colours.old : colours.new,
      line: true,
      points: days.map((day) => {
        const page = day[which] as NonNullable<(typeof day)['old']>;
        return {
          x: noon(day.day),
          y: page.p50,
          label: `${day.day}: ${which} page median ${formatNumber(page.p50)} ms (n = ${page.n})`,
        };
      }),
      band: days.flatMap((day) => {
        const page = day[which] as NonNullable<(typeof day)['old']>;
        return page.low !== null && page.high !== null ? [{ x: noon(day.day), low: page.low, high: page.high }] : [];
      }),
    };
  };
  return {
    id: 'load-time',
    title: 'Page load time per day, old vs new page (median, 95 % interval band)',
    from,
    to,
    yLabel: 'ms',
    series: [pageSeries('old'), pageSeries('new')],
    empty: 'no probe run compared the pages in the period',
  };
}

function errorRateChart({ charts }: Report, { from, to, noon }: ChartFrame): ChartSpec {
  const thresholds = charts.errorThresholds;
  return {
    id: 'error-rate',
    title: 'Error rate per day, with its 95 % upper bound and the thresholds',
    from,
    to,
    yLabel: '% of requests',
    series: [
      {
        name: 'error rate',
        colour: colours.bad,
        line: true,
        points: charts.errorByDay.map((day) => ({
          x: noon(day.day),
          y: day.ratePercent,
          label: `${day.day}: ${day.errors} of ${day.requests} requests (${formatNumber(day.ratePercent)} %)`,
        })),
      },
      {
        name: 'upper bound',
        colour: colours.warn,
        points: charts.errorByDay.map((day) => ({
          x: noon(day.day),
          y: day.highPercent,
          label: `${day.day}: at most ${formatNumber(day.highPercent)} % (95 %)`,
        })),
      },
    ],
    thresholds: [
      { y: thresholds.targetPercent, label: `target ${thresholds.targetPercent} %`, colour: colours.ok },
      { y: thresholds.monitorPercent, label: `monitor ${thresholds.monitorPercent} %`, colour: colours.warn },
      { y: thresholds.stagedPercent, label: `staged ${thresholds.stagedPercent} %`, colour: colours.bad },
      { y: thresholds.immediatePercent, label: `immediate ${thresholds.immediatePercent} %`, colour: colours.bad },
    ],
    empty: 'no requests logged in the period',
  };
}

function cacheChart({ charts }: Report, { from, to }: ChartFrame): ChartSpec {
  const cacheTables = [...new Set(charts.cacheWindows.map((window) => window.table))];
  return {
    id: 'cache-hit-ratio',
    title: 'Cache hit ratio per measured window',
    from,
    to,
    yLabel: '% of lookups',
    yMax: 100,
    series: cacheTables.map((table, index) => ({
      name: table,
      colour: [colours.new, colours.old, colours.grey][index % 3] as string,
      line: true,
      points: charts.cacheWindows
        .filter((window) => window.table === table)
        .map((window) => ({
          x: window.at.getTime(),
          y: window.hitRatioPercent,
          label: `${window.at.toISOString().slice(0, 16)}Z: ${formatNumber(window.hitRatioPercent)} %`,
        })),
    })),
    thresholds: [{ y: charts.cacheTargetPercent, label: `target ${charts.cacheTargetPercent} %`, colour: colours.ok }],
    empty: 'no cache window measured in the period',
  };
}

function backupsChart({ charts }: Report, { from, to }: ChartFrame): ChartSpec {
  return {
    id: 'backups',
    title: 'Backups: size of each, and the age of the newest complete one',
    from,
    to,
    yLabel: 'MB / hours',
    series: [
      {
        name: 'size (MB)',
        colour: colours.new,
        bars: true,
        points: charts.backups.map((backup) => ({
          x: backup.at.getTime(),
          y: backup.sizeBytes / 1_000_000,
          label: `${backup.database} ${backup.at.toISOString().slice(0, 16)}Z: ${formatNumber(backup.sizeBytes / 1_000_000)} MB${backup.complete ? '' : ' (incomplete)'}`,
        })),
      },
      {
        name: 'newest age (h)',
        colour: colours.grey,
        line: true,
        points: charts.backupAge.map((point) => ({
          x: point.at.getTime(),
          y: point.hours,
          label: `${point.at.toISOString().slice(0, 16)}Z: newest backup ${formatNumber(point.hours)} h old`,
        })),
      },
    ],
    thresholds: [{ y: charts.backupStaleHours, label: `stale ${charts.backupStaleHours} h`, colour: colours.bad }],
    empty: 'no backup in the period',
  };
}

function timelineChart(report: Report, { from, to }: ChartFrame): ChartSpec {
  const lanes = ['alerts', 'decisions'];
  return {
    id: 'timeline',
    title: 'Timeline: scheduled decisions other than continue, alerts fired and resolved',
    from,
    to,
    yLabel: '',
    lanes,
    series: (['bad', 'warn', 'ok'] as const).map((level) => ({
      name: { bad: 'rollback / major', warn: 'monitor / minor', ok: 'resolved' }[level],
      colour: colours[level],
      points: report.timeline
        .filter((event) => event.level === level)
        .map((event) => ({
          x: event.at.getTime(),
          y: lanes.indexOf(event.kind === 'decision' ? 'decisions' : 'alerts'),
          label: `${event.at.toISOString().slice(0, 16)}Z ${event.label}`,
        })),
    })),
    empty: 'no decision other than continue, and no alert, in the period',
  };
}

function chartSpecs(report: Report): ChartSpec[] {
  const frame = frameOf(report);
  return [loadTimeChart, errorRateChart, cacheChart, backupsChart, timelineChart].map((chart) => chart(report, frame));
}

function headline(report: Report): string {
  const missed = report.rows.filter((row) => row.verdict === 'missed');
  return missed.length === 0
    ? 'All promises measured in the period were met.'
    : `Missed: ${missed.map((row) => row.promise).join('; ')}.`;
}

export function renderPage(report: Report, stage: string): string {
  const counts = report.verdicts;
  const recommendations = report.recommendations.length
    ? `<ul>${report.recommendations.map((item) => `<li>${escapeHtml(item.advice)} <span class="source">Rule: ${escapeHtml(item.rule)} (${escapeHtml(item.source)})</span></li>`).join('')}</ul>`
    : '<p>None: no rule of the source documents fires on this period.</p>';
  const alerts = report.alerts.length
    ? `<table class="alerts"><thead><tr><th>alert</th><th>severity</th><th>fired</th><th>resolved</th><th>time to resolve</th><th>at the end</th></tr></thead><tbody>${report.alerts
        .map((alert) => {
          const times = [...alert.resolveTimesMs].sort((a, b) => a - b);
          const typical = times.length
            ? `median ${durationWords(times[Math.floor((times.length - 1) / 2)] as number)}, longest ${durationWords(times.at(-1) as number)}`
            : '-';
          return `<tr><td>${escapeHtml(alert.title)}<div class="source">${escapeHtml(alert.key)}</div></td><td>${escapeHtml(alert.severity)}</td><td>${alert.fired}</td><td>${alert.resolved}</td><td>${escapeHtml(typical)}</td><td>${alert.firingAtEnd ? `firing since ${escapeHtml(alert.firingAtEnd.toISOString().slice(0, 16))}Z` : 'not firing'}</td></tr>`;
        })
        .join('')}</tbody></table>`
    : '<p>No alert was sent in the period.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil ${escapeHtml(stage)}: rollout scorecard, ${escapeHtml(periodWords(report.period))}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1d; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta, .source, .trend { color: #5a5a5a; font-size: 12px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #ddd; }
th { background: #f3f3f3; font-weight: 600; }
td.verdict { font-weight: 600; white-space: nowrap; } td.why { color: #3a3a3a; font-size: 12px; max-width: 380px; }
.verdict-met td.verdict { color: ${colours.ok}; } .verdict-missed td.verdict { color: ${colours.bad}; } .verdict-missed { background: #fdf0ef; }
.verdict-not_shown td.verdict { color: ${colours.warn}; } .verdict-no_data td.verdict, .verdict-not_measured td.verdict { color: ${colours.grey}; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(780px, 1fr)); gap: 16px; }
svg { background: #fff; border: 1px solid #e2e2e2; font-size: 11px; } svg .chart-title { font-size: 13px; font-weight: 600; }
svg .axis line, svg .tick { stroke: #444; } svg .grid { stroke: #eee; } svg .axis-label { fill: #555; } svg .empty { fill: #888; font-size: 13px; }
</style>
</head>
<body>
<h1>Rollout scorecard: ${escapeHtml(headline(report))}</h1>
<p class="meta">Stage ${escapeHtml(stage)}; the ${report.period.kind} ${escapeHtml(periodWords(report.period))}, compared with ${escapeHtml(periodWords(report.previous))}; made ${escapeHtml(report.generatedAt.toISOString().slice(0, 16))}Z.
${counts.met} met, ${counts.missed} missed, ${counts.not_shown} not shown yet, ${counts.no_data} without data, ${counts.not_measured} not measurable by Vigil.</p>
<h2>Scorecard</h2>
${scorecardTable(report)}
<h2>Recommendations</h2>
${recommendations}
<h2>Charts</h2>
<div class="charts">
${chartSpecs(report).map(renderChart).join('\n')}
</div>
<h2>Alerts in the period</h2>
${alerts}
<p class="meta">Every figure was measured and carries its n; a figure that could not be measured says why. Made by Vigil's report function.</p>
</body>
</html>
`;
}
