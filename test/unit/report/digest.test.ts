import { describe, expect, it } from 'vitest';
import { digestAlert, digestTitle } from '../../../functions/report/digest';
import type { ProbeRunPair, RecordedNow, RecordedPeriod } from '../../../functions/report/recorded';
import { buildReport } from '../../../functions/report/report';
import { renderAlert } from '../../../lib/alerts/render';
import { defaultThresholds } from '../../../lib/thresholds';
import { deliveredAlert } from '../../../local/outbox';
import { seededRandom } from '../../../local/seeded-random';
import { readabilityProblems } from '../../support/alert-corpus';

const end = new Date('2026-11-22T06:00:00Z');
const start = new Date(end.getTime() - 86_400_000);
const before = new Date(start.getTime() - 86_400_000);

function probeRuns(from: Date, newMs: number): ProbeRunPair[] {
  const random = seededRandom(1);
  return Array.from({ length: 48 }, (_, index) => ({
    runId: `run-${from.getTime()}-${index}`,
    measuredAt: new Date(from.getTime() + index * 30 * 60_000 + 60_000),
    oldScenario: 'dashboard-old',
    newScenario: 'dashboard-new',
    callsOld: 8,
    callsNew: 1,
    oldLoadsMs: Array.from({ length: 20 }, () => 3600 + random() * 900),
    newLoadsMs: Array.from({ length: 20 }, () => newMs + random() * 120),
    oldSamples: 20,
    newSamples: 20,
  }));
}

function recorded(from: Date, to: Date, faults: { newMs: number; errors: number }): RecordedPeriod {
  return {
    period: { kind: 'day', start: from, end: to },
    probe: probeRuns(from, faults.newMs),
    cacheWindows: Array.from({ length: 96 }, (_, index) => ({
      cacheTable: 'public.user_performance',
      windowStart: new Date(from.getTime() + index * 900_000),
      windowEnd: new Date(from.getTime() + (index + 1) * 900_000),
      state: 'ok' as const,
      reason: null,
      lookups: 2000,
      hits: 1824,
    })),
    requests: {
      table: 'api_performance_log',
      requests: 20_000,
      errors: faults.errors,
      probeLeftOut: true,
      meanResponseMs: 240,
      sdResponseMs: 60,
      byDay: [{ day: from.toISOString().slice(0, 10), requests: 20_000, errors: faults.errors }],
    },
    queries: { table: 'query_performance_log', queries: 4000, meanMs: 70, sdMs: 20 },
    decisions: [
      {
        decidedAt: new Date(from.getTime() + 60_000),
        trigger: 'schedule',
        action: 'continue_deployment',
        effectiveAction: 'continue_deployment',
      },
    ],
    notifications: [],
    alertStates: [],
  };
}

const now: RecordedNow = {
  at: end,
  backups: [
    {
      database: 'portfolio',
      key: 'backups/portfolio/2026/11/22/portfolio-2026-11-22T02:00:00.000Z.dump',
      startedAt: new Date('2026-11-22T02:00:00Z'),
      sizeBytes: 5e8,
      complete: true,
    },
  ],
  partitions: [{ table: 'api_performance_log', partitions: 5, futureMonths: 1 }],
  largeCacheEntries: { table: 'user_performance', count: 14, overKb: 500 },
};

const reportOf = (faults: { newMs: number; errors: number }) =>
  buildReport(
    {
      recorded: recorded(start, end, faults),
      previousRecorded: recorded(before, start, { newMs: 560, errors: 2 }),
      now,
      thresholds: defaultThresholds,
    },
    end,
  );

const delivered = (report: ReturnType<typeof reportOf>, stage: string, withPage: boolean) => {
  const alert = digestAlert(
    report,
    stage,
    withPage
      ? {
          url: 'https://vigil-prod-backups-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com/reports/day/2026-11-22T06-00-00Z.html?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20261122&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
          expiresAt: new Date('2026-11-29T06:00:00Z'),
          location: 's3://vigil-prod-backups-123456789012-eu-west-1/reports/day/2026-11-22T06-00-00Z.html',
        }
      : undefined,
  );
  const rendered = renderAlert(alert, {
    kind: 'digest',
    stage,
    smsDisplayName: 'VIGIL',
    since: start,
    sentAt: end,
    repeatIntervalMinutes: 240,
  });
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
};

describe('the report digest', () => {
  it('says all promises met in its subject, or names the missed ones', () => {
    expect(digestTitle(reportOf({ newMs: 560, errors: 2 }))).toBe('Rollout scorecard, daily: missed large cache entries');
    expect(digestTitle(reportOf({ newMs: 2400, errors: 500 }))).toBe(
      'Rollout scorecard, daily: missed load time (median), load time (p95), 1.0 s load, error rate, large cache entries',
    );
    const met = buildReport(
      {
        recorded: recorded(start, end, { newMs: 560, errors: 2 }),
        previousRecorded: recorded(before, start, { newMs: 560, errors: 2 }),
        now: { ...now, largeCacheEntries: { table: 'user_performance', count: 2, overKb: 500 } },
        thresholds: defaultThresholds,
      },
      end,
    );
    expect(digestTitle(met)).toBe('Rollout scorecard, daily: all promises met');
  });

  it.each(['local', 'production'])(
    'passes the alert corpus checks, on a phone and in a mailbox, healthy or not (stage %s)',
    (stage) => {
      for (const faults of [
        { newMs: 560, errors: 2 },
        { newMs: 2400, errors: 500 },
      ]) {
        for (const withPage of [false, true]) {
          const message = delivered(reportOf(faults), stage, withPage);
          expect(readabilityProblems(message)).toEqual([]);
          expect(message.attributes).toMatchObject({ severity: 'info', notification: 'digest', alert_key: 'report:day' });
          expect(message.email).toContain('Recommendations (only where a rule of the source documents fires):');
          expect(message.email).toContain(
            '14 large cache entries: review payload optimization. Rule: more than 10 cache entries over 500 KB',
          );
        }
      }
    },
  );

  it('carries the signed link whole, after the reading part, and everything else redacted as every alert is', () => {
    const message = delivered(reportOf({ newMs: 560, errors: 2 }), 'production', true);
    const link = /^Charts: (\S+)$/m.exec(message.email)?.[1];
    expect(link).toMatch(/X-Amz-Signature=0123456789abcdef/);
    expect(link).toContain('X-Amz-Credential=ASIAEXAMPLEEXAMPLE12');
    expect(message.email.indexOf('Charts: ')).toBeGreaterThan(message.email.indexOf('Source: '));
    expect(message.sms).not.toContain('http');
    expect(message.email).toMatch(/cache hit ratio 91\.2 % \(n = 96 windows\), unchanged from the previous period/);
  });
});
