// The CloudWatch dashboard vigil-<stage>: the rollout in pictures. Every metric it draws is one a
// function emits (test/integration/serverless-template.test.ts checks the names against the code);
// a widget with no line means nothing was measured, never zero.
// Titles and series labels in the words of lib/labels.json, the catalogue alerts use too.
const catalogue = require('../lib/labels.json');
const labelOf = (name) => (catalogue.metrics[name] ?? catalogue.signals[name]).label;
const unitOf = (name) => (catalogue.metrics[name] ?? catalogue.signals[name]).unit;

/** A Fn::Sub variable reference, "$" + "{name}", spelt so no linter takes it for a template literal. */
const fnSubVariable = (name) => ['$', `{${name}}`].join('');
const region = fnSubVariable('AWS::Region');
const namespace = 'Vigil';
const service = ['service', 'vigil'];

/** Every series of a metric in namespace Vigil with these dimensions, whatever their values. */
const search = (dimensions, metric, stat, period) => ({
  expression: `SEARCH('{${namespace},${dimensions.join(',')}} MetricName="${metric}"', '${stat}', ${period})`,
});

function pageMetrics(scenarios) {
  const old = scenarios.find((scenario) => scenario.role === 'old')?.name;
  const next = scenarios.find((scenario) => scenario.role === 'new')?.name;
  if (!old || !next) {
    // Without named scenarios, every probed page and target, as the probe emits them.
    return [
      [search(['Page', 'service'], 'LoadTimeP50', 'Average', 300)],
      [search(['Page', 'service'], 'LoadTimeP95', 'Average', 300)],
    ];
  }
  return [
    [namespace, 'LoadTimeP50', 'Page', old, ...service, { label: `old (${old}) p50` }],
    [namespace, 'LoadTimeP95', 'Page', old, ...service, { label: `old (${old}) p95` }],
    [namespace, 'LoadTimeP50', 'Page', next, ...service, { label: `new (${next}) p50` }],
    [namespace, 'LoadTimeP95', 'Page', next, ...service, { label: `new (${next}) p95` }],
  ];
}

function timeSeries(title, metrics, extra = {}) {
  return {
    type: 'metric',
    properties: { title, view: 'timeSeries', stacked: false, region, metrics, ...extra },
  };
}

/** Two columns of 12 units, each widget 6 high, in reading order. */
function layout(widgets) {
  return widgets.map((widget, index) => ({ ...widget, width: 12, height: 6, x: (index % 2) * 12, y: Math.floor(index / 2) * 6 }));
}

function widgets({ stage, params }) {
  let scenarios = [];
  try {
    scenarios = params.probeScenarios ? JSON.parse(params.probeScenarios) : [];
  } catch {
    // operations.cjs reports a malformed JSON parameter; the dashboard falls back to a search.
  }
  const functionNames = ['alerts', 'probe', 'cacheEfficiency', 'rollbackDecision', 'partitionMaintenance', 'backup', 'report'];
  return [
    timeSeries('Probe load time, old vs new page (ms)', pageMetrics(Array.isArray(scenarios) ? scenarios : []), {
      yAxis: { left: { min: 0, label: 'ms' } },
    }),
    timeSeries('API calls and load time saved by the new page (%)', [
      [search(['Comparison', 'service'], 'ApiCallReduction', 'Average', 300)],
      [search(['Comparison', 'service'], 'LoadReductionVsOldP50', 'Average', 300)],
      [search(['Comparison', 'service'], 'LoadReductionVsOldP95', 'Average', 300)],
    ]),
    timeSeries(
      `${labelOf('CacheHitRatio')} per window (${unitOf('CacheHitRatio')})`,
      [[search(['CacheTable', 'service'], 'CacheHitRatio', 'Average', 900)]],
      {
        yAxis: { left: { min: 0, max: 100, label: '%' } },
      },
    ),
    timeSeries(`${labelOf('errorRatePercent')} (%): API log window and cache`, [
      [
        namespace,
        'RollbackSignal',
        'Signal',
        'errorRatePercent',
        ...service,
        { label: `${labelOf('errorRatePercent')} of the API (rollback window)` },
      ],
      [search(['CacheTable', 'service'], 'CacheErrorRate', 'Average', 900)],
    ]),
    {
      type: 'metric',
      properties: {
        title: 'Latest scheduled rollback decision (0 continue, 1 monitor, 2 staged, 3 immediate)',
        view: 'singleValue',
        region,
        stat: 'Maximum',
        period: 300,
        metrics: [[namespace, 'RollbackDecisionLevel', ...service, { label: 'level' }]],
      },
    },
    {
      type: 'log',
      properties: {
        title: 'Rollback decisions (latest first)',
        region,
        view: 'table',
        query: `SOURCE '/aws/lambda/vigil-${stage}-rollbackDecision' | fields @timestamp, @message | filter @message like /rollback decision:/ | sort @timestamp desc | limit 10`,
      },
    },
    timeSeries('Newest good backup: age (hours)', [
      [{ ...search(['Database', 'service'], 'NewestBackupAgeSeconds', 'Maximum', 3600), id: 'age', visible: false }],
      [{ expression: 'age / 3600', label: 'age (h)', id: 'hours' }],
    ]),
    timeSeries(`${labelOf('BackupSizeBytes')} (${unitOf('BackupSizeBytes')})`, [
      [search(['Database', 'service'], 'BackupSizeBytes', 'Maximum', 86400)],
    ]),
    timeSeries(
      `${labelOf('FuturePartitions')} per table`,
      [[search(['Table', 'service'], 'FuturePartitions', 'Minimum', 86400)]],
      {
        yAxis: { left: { min: 0 } },
      },
    ),
    {
      type: 'metric',
      properties: {
        title: 'Rollout scorecard: promises met and missed (latest daily report)',
        view: 'singleValue',
        region,
        stat: 'Maximum',
        period: 86400,
        metrics: [
          [namespace, 'ScorecardPromisesMet', 'Period', 'day', ...service, { label: labelOf('ScorecardPromisesMet') }],
          [namespace, 'ScorecardPromisesMissed', 'Period', 'day', ...service, { label: labelOf('ScorecardPromisesMissed') }],
        ],
      },
    },
    timeSeries(
      'Rollout scorecard per daily report: load time saved, cache hit ratio, error rate (%)',
      ['ScorecardLoadReductionP50', 'ScorecardCacheHitRatio', 'ScorecardErrorRate'].map((name) => [
        namespace,
        name,
        'Period',
        'day',
        ...service,
        { label: labelOf(name), stat: 'Maximum', period: 86400 },
      ]),
      { yAxis: { left: { min: 0, label: '%' } } },
    ),
    timeSeries(
      'Vigil functions: errors',
      functionNames.map((name) => [
        'AWS/Lambda',
        'Errors',
        'FunctionName',
        `vigil-${stage}-${name}`,
        { stat: 'Sum', label: name },
      ]),
    ),
  ];
}

/** The AWS::CloudWatch::Dashboard resource; its body is JSON with ${AWS::Region} substituted. */
module.exports.fnSubVariable = fnSubVariable;
module.exports.dashboard = (context) => ({
  Type: 'AWS::CloudWatch::Dashboard',
  Properties: {
    DashboardName: `vigil-${context.stage}`,
    DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets: layout(widgets(context)) }) },
  },
});
