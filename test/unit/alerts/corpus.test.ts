import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmStateChangeSchema, translateAlarmEvent } from '../../../functions/alerts/alarm';
import { backupAlertRequests, restoreCheckAlertRequests } from '../../../functions/backup/alerting';
import type { BackupReport } from '../../../functions/backup/run';
import { hitRatioSteps, olapSteps } from '../../../functions/cache-efficiency/alerting';
import type { CacheWindow } from '../../../functions/cache-efficiency/window';
import { partitionAlertRequests } from '../../../functions/partition-maintenance/alerting';
import type { TableReport } from '../../../functions/partition-maintenance/maintain';
import { probeAlertRequests } from '../../../functions/probe/alerting';
import type { ProbeSummary } from '../../../functions/probe/summary';
import { scheduledAlert } from '../../../functions/rollback-decision/alerting';
import type { DecisionAnswer } from '../../../functions/rollback-decision/evaluate';
import { decide, type SignalReading } from '../../../functions/rollback-decision/matrix';
import type { Alert } from '../../../lib/alerts';
import { groupedAlert } from '../../../lib/alerts/group';
import { type RenderContext, renderAlert } from '../../../lib/alerts/render';
import type { NotificationKind } from '../../../lib/alerts/types';
import { defaultThresholds } from '../../../lib/thresholds';
import { deliveredAlert } from '../../../local/outbox';
import { readabilityProblems } from '../../support/alert-corpus';

const now = new Date('2026-11-22T04:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const raised = (steps: Array<{ action: string; alert?: Alert }>) =>
  steps.flatMap((step) => (step.action === 'raise' && step.alert ? [step.alert] : []));

function probeAlerts(): Alert[] {
  const summary = (name: string, kind: ProbeSummary['kind'], state: string) =>
    ({
      kind,
      name,
      url: `https://app.example.org/api/${name}`,
      samples: 20,
      successes: state === 'down' ? 3 : 20,
      successPercent: state === 'down' ? 15 : 100,
      loadTimeMeans: 'page critical path: first request start to last byte of the last request',
      budget: { state, statistic: 'p95', failMs: 1000 },
      failures: [{ kind: 'connect', count: 17, example: 'connect ECONNREFUSED 10.0.0.1:443' }],
    }) as unknown as ProbeSummary;
  const runs = [0, 5, 10].map((minutes) => ({
    measuredAt: minutesAgo(minutes),
    state: 'failed' as const,
    valueMs: 1840.5,
    successPercent: 100,
    samples: 20,
  }));
  return [
    ...raised(
      probeAlertRequests(summary('portfolio-dashboard-new-with-a-long-name', 'scenario', 'failed'), runs, {
        breaches: 2,
        runs: 3,
        now,
      }),
    ),
    ...raised(probeAlertRequests(summary('portfolio-complete', 'target', 'down'), runs, { breaches: 2, runs: 3, now })),
  ];
}

function cacheAlerts(): Alert[] {
  const window = (minutes: number, hitRatioPercent: number | null): CacheWindow =>
    hitRatioPercent === null
      ? {
          source: 'counters',
          windowStart: minutesAgo(minutes + 15),
          windowEnd: minutesAgo(minutes),
          cumulativeHitRatioPercent: null,
          details: {},
          state: 'no_data',
          reason: 'only 3 lookup(s)',
          lookups: 3,
          hits: 3,
          misses: 0,
          errors: 0,
        }
      : {
          source: 'counters',
          windowStart: minutesAgo(minutes + 15),
          windowEnd: minutesAgo(minutes),
          cumulativeHitRatioPercent: 90,
          details: {},
          state: 'ok',
          lookups: 2000,
          hits: hitRatioPercent * 20,
          misses: 2000 - hitRatioPercent * 20,
          errors: 0,
          hitRatioPercent,
          cacheFailureRatePercent: 100 - hitRatioPercent,
          errorRatePercent: 0,
        };
  const options = { targetPercent: 85, breaches: 2, windows: 3, now };
  return [
    ...raised(hitRatioSteps('public.user_performance', [window(0, 61.25), window(15, 70), window(30, 84.99)], options)),
    ...raised(hitRatioSteps('public.user_performance', [window(0, null), window(15, null), window(30, null)], options)),
    ...raised(
      olapSteps(
        {
          state: 'ok',
          table: 'public.performance_metrics_cache',
          lastUpdated: minutesAgo(42),
          stalenessMinutes: 42,
          healthByTenant: ['tenant-a', 'tenant-b', 'tenant-c'].map((tenantId) => ({ tenantId, healthScore: 41.5, buckets: 4 })),
        },
        defaultThresholds.cache,
        now,
      ),
    ),
  ];
}

function partitionAlerts(): Alert[] {
  const report: TableReport = {
    table: 'public.api_performance_log',
    steps: [],
    failedSteps: [{ step: 'create', partition: 'api_performance_log_2026_12', error: 'canceling statement due to lock timeout' }],
    deferredSteps: [],
    partitions: 40,
    futurePartitions: 0,
    defaultRows: 1234,
  };
  const alerts = raised(partitionAlertRequests(report, defaultThresholds.partitions, now));
  return [...alerts, groupedAlert(alerts.filter((alert) => alert.severity === 'major'))];
}

function backupAlerts(): Alert[] {
  const failed = (failure: NonNullable<BackupReport['failure']>): BackupReport => ({
    outcome: 'failed',
    database: 'portfolio_production',
    startedAt: now.toISOString(),
    durationMs: 10,
    failure,
    newest: { key: 'backups/x.dump', startedAt: minutesAgo(1500).toISOString(), ageSeconds: 90_000 },
  });
  const succeeded: BackupReport = {
    outcome: 'succeeded',
    database: 'portfolio_production',
    startedAt: now.toISOString(),
    durationMs: 10,
    retention: { expired: [], broken: [{ key: 'backups/y.manifest.json', reason: 'size differs' }], dryRun: false } as never,
    newest: { key: 'backups/x.dump', startedAt: now.toISOString(), ageSeconds: 0 },
  };
  return [
    ...raised(
      backupAlertRequests(
        failed({ step: 'versions', message: 'password authentication failed for user "vigil_backup"', stderr: '' }),
        now,
      ),
    ),
    ...raised(
      backupAlertRequests(
        failed({ step: 'dump', message: 'pg_dump exited with 1', stderr: 'pg_dump: error: query failed' }),
        now,
      ),
    ),
    ...raised(
      backupAlertRequests(
        failed({
          step: 'dump',
          message: 'Access Denied',
          secondary: ['the multipart upload could not be aborted: Service Unavailable'],
        }),
        now,
      ),
    ),
    ...raised(backupAlertRequests(failed({ step: 'watchdog', message: 'stopped by the watchdog during dump' }), now)),
    ...raised(backupAlertRequests(succeeded, now)),
    ...raised(
      restoreCheckAlertRequests(
        'portfolio_production',
        {
          outcome: 'failed',
          key: 'backups/x.dump',
          durationMs: 5,
          mismatches: [{ table: 'public.users', dumped: 10, restored: 9 }],
        },
        now,
      ),
    ),
  ];
}

function rollbackAlert(): Alert {
  const readings: SignalReading[] = [
    { name: 'errorRatePercent', value: 7.25, unit: '%', source: 'api log', window: 'last 15 min', sampleCount: 2400 },
    { name: 'avgResponseMs', value: 6200, unit: 'ms', source: 'api log' },
    { name: 'cacheFailurePercent', value: null, unit: '%', source: 'cache', reason: 'warming after a restart' },
    { name: 'complaintsPerHour', value: 12, unit: '/h', source: 'support' },
    { name: 'slowerThanBaselinePercent', value: -99.45, unit: '%', source: 'probe', details: { page: 'dashboard-new' } },
    { name: 'adoptionPercent', value: 50, unit: '%', source: 'users' },
    { name: 'newPageSuccessPercent', value: 100, unit: '%', source: 'probe', details: { page: 'dashboard-new' } },
  ];
  const matrix = decide(readings, defaultThresholds.rollback);
  const answer = {
    decidedAt: now.toISOString(),
    action: matrix.action,
    reasons: matrix.reasons,
    signals: matrix.classified,
    scheduled: {
      effective: 'immediate_rollback',
      note: 'immediate_rollback in force',
      stagedStreak: 2,
      calmStreak: 0,
      tier: matrix.tier,
    },
  } as unknown as DecisionAnswer;
  return scheduledAlert(answer, minutesAgo(7)) as Alert;
}

function alarmAlerts(): Alert[] {
  return ['alerts.alarm.json', 'alerts.no-data.json'].flatMap((file) =>
    raised(
      translateAlarmEvent(
        alarmStateChangeSchema.parse(JSON.parse(readFileSync(join(import.meta.dirname, '../../../events', file), 'utf8'))),
      ),
    ),
  );
}

const kinds: NotificationKind[] = ['firing', 'refiring', 'repeat', 'escalation', 'resolved'];

function delivered(alert: Alert, kind: NotificationKind, stage: string) {
  const context: RenderContext = {
    kind,
    stage,
    smsDisplayName: 'VIGIL',
    since: alert.since ?? alert.observedAt,
    sentAt: now,
    repeatIntervalMinutes: 240,
    ...(kind === 'resolved' ? { resolvedAt: new Date(now.getTime() + 60_000) } : {}),
    ...(kind === 'refiring' ? { change: { firingsInLastHour: 2, mergedChanges: 3, changesInFlapWindow: 6 } } : {}),
    ...(alert.inhibits
      ? { heldBack: alert.inhibits.map((key) => ({ key, title: 'Load time over budget', firingSince: now })) }
      : {}),
  };
  const rendered = renderAlert(alert, context);
  return deliveredAlert(
    JSON.stringify({
      Subject: rendered.subject,
      Message: rendered.message,
      MessageAttributes: Object.fromEntries(
        Object.entries(rendered.attributes).map(([name, value]) => [name, { Value: value.StringValue }]),
      ),
    }),
    'VIGIL',
  );
}

describe('the alert corpus', () => {
  const corpus = [...probeAlerts(), ...cacheAlerts(), ...partitionAlerts(), ...backupAlerts(), rollbackAlert(), ...alarmAlerts()];

  it('holds an alert of every kind a check raises', () => {
    const keys = corpus.map((alert) => alert.key.replace(/:[^:]+:/, ':*:'));
    expect(corpus.length).toBeGreaterThanOrEqual(20);
    for (const expected of [
      'probe:*:budget',
      'probe:*:down',
      'cache:*:hit-ratio',
      'cache:*:no-data',
      'cache:*:stale',
      'cache:*:health',
    ])
      expect(keys).toContain(expected);
    expect(corpus.map((alert) => alert.key)).toContain('rollback:decision');
  });

  it.each(['local', 'production'])(
    'renders every alert of the corpus, in every kind, readable on a phone and in a mailbox (stage %s)',
    (stage) => {
      const problems = corpus.flatMap((alert) =>
        kinds.flatMap((kind) =>
          readabilityProblems(delivered(alert, kind, stage)).map((problem) => `${alert.key} ${kind}: ${problem}`),
        ),
      );
      expect(problems).toEqual([]);
    },
  );

  it('would catch a code name, a lost key or an SMS over one segment', () => {
    const [sample] = corpus as [Alert];
    const named = delivered({ ...sample, measurements: [{ name: 'errorRatePercent', value: 3, unit: '%' }] }, 'firing', 'local');
    expect(readabilityProblems({ ...named, email: named.email.replace('\n', '\nBackupSucceeded 0\n') }).join('\n')).toContain(
      'BackupSucceeded',
    );
    expect(readabilityProblems({ ...named, sms: named.sms.replace(`[${sample.key}]`, '') }).join('\n')).toContain('lost its key');
    expect(readabilityProblems({ ...named, sms: `${named.sms}${'x'.repeat(200)}` }).join('\n')).toContain('over one segment');
  });
});
