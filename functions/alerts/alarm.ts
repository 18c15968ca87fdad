import { z } from 'zod';
import type { Alert, Measurement, Severity } from '../../lib/alerts';
import { severities } from '../../lib/alerts';

const stateSchema = z.object({
  value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z.string().default(''),
  reasonData: z.string().optional(),
  timestamp: z.string(),
});

/** The EventBridge "CloudWatch Alarm State Change" event, the parts Vigil reads. */
export const alarmStateChangeSchema = z.object({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  time: z.string(),
  region: z.string(),
  account: z.string(),
  detail: z.object({
    alarmName: z.string().min(1),
    state: stateSchema,
    previousState: stateSchema,
    configuration: z
      .object({
        description: z.string().optional().nullable(),
        metrics: z
          .array(
            z.object({
              metricStat: z
                .object({
                  metric: z.object({
                    namespace: z.string().optional(),
                    name: z.string(),
                    dimensions: z.record(z.string(), z.string()).optional(),
                  }),
                  period: z.number().optional(),
                  stat: z.string().optional(),
                })
                .optional(),
              expression: z.string().optional(),
            }),
          )
          .default([]),
      })
      .default({ metrics: [] }),
  }),
});

export type AlarmStateChange = z.infer<typeof alarmStateChangeSchema>;

export type AlarmAction = { action: 'raise'; alert: Alert } | { action: 'resolve'; key: string; at?: Date };

const reasonDataSchema = z.object({
  threshold: z.number().optional(),
  recentDatapoints: z.array(z.number()).optional(),
  evaluatedDatapoints: z
    .array(z.object({ timestamp: z.string(), value: z.number().optional(), sampleCount: z.number().optional() }))
    .optional(),
  statistic: z.string().optional(),
  period: z.number().optional(),
});

/** "was greater than the threshold" etc., from CloudWatch's own reason text. */
function operatorFrom(reason: string): '>' | '>=' | '<' | '<=' | undefined {
  if (/greater than or equal to the threshold/.test(reason)) return '>=';
  if (/less than or equal to the threshold/.test(reason)) return '<=';
  if (/greater than the threshold/.test(reason)) return '>';
  if (/less than the threshold/.test(reason)) return '<';
  return undefined;
}

/**
 * Vigil writes each alarm's description as "<severity>: <meaning>. Runbook: #<anchor>"; other
 * descriptions still work, as major with the generic alarm runbook.
 */
export function parseAlarmDescription(description: string | null | undefined): {
  severity: Severity;
  meaning?: string;
  runbook: string;
} {
  const match = /^\s*(critical|major|minor|info)\s*:\s*(.*?)\s*(?:Runbook:\s*#?([a-z0-9-]+))?\s*$/is.exec(description ?? '');
  if (!match) return { severity: 'major', meaning: description?.trim() || undefined, runbook: 'cloudwatch-alarms' };
  const severity = (severities as readonly string[]).includes(match[1]?.toLowerCase() ?? '')
    ? (match[1]?.toLowerCase() as Severity)
    : 'major';
  return { severity, meaning: match[2] || undefined, runbook: match[3] ?? 'cloudwatch-alarms' };
}

function metricLabel(event: AlarmStateChange): string {
  const metric = event.detail.configuration.metrics.find((entry) => entry.metricStat)?.metricStat;
  if (!metric) return event.detail.configuration.metrics.find((entry) => entry.expression)?.expression ?? 'metric';
  const dimensions = Object.entries(metric.metric.dimensions ?? {})
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  return `${metric.metric.namespace ? `${metric.metric.namespace} ` : ''}${metric.metric.name}${metric.stat ? ` (${metric.stat})` : ''}${dimensions ? ` [${dimensions}]` : ''}`;
}

function measurementsOf(event: AlarmStateChange): Measurement[] {
  let data: z.infer<typeof reasonDataSchema> = {};
  try {
    const parsed = reasonDataSchema.safeParse(JSON.parse(event.detail.state.reasonData ?? '{}'));
    if (parsed.success) data = parsed.data;
  } catch {
    // reasonData is CloudWatch's JSON; when absent or odd, the reason text still carries the story.
  }
  const evaluated = data.evaluatedDatapoints ?? [];
  const latest = evaluated.find((point) => point.value !== undefined)?.value ?? data.recentDatapoints?.at(-1);
  const operator = operatorFrom(event.detail.state.reason);
  const period = data.period ?? event.detail.configuration.metrics.find((entry) => entry.metricStat)?.metricStat?.period;
  return [
    {
      name: metricLabel(event),
      value: latest ?? null,
      unit: '',
      ...(operator && data.threshold !== undefined ? { threshold: { operator, value: data.threshold } } : {}),
      ...(period ? { window: `${evaluated.length || data.recentDatapoints?.length || 1} x ${period} s period` } : {}),
      ...(evaluated.length ? { sampleCount: evaluated.reduce((sum, point) => sum + (point.sampleCount ?? 0), 0) } : {}),
      ...(latest === undefined ? { missingReason: 'the alarm carried no datapoint (missing data treated as breaching?)' } : {}),
    },
  ];
}

/**
 * Turns an alarm's state change into what lib/alerts should do: ALARM raises `alarm:<name>`,
 * INSUFFICIENT_DATA raises `alarm:<name>:no-data` (minor), and leaving either state resolves it.
 */
export function translateAlarmEvent(event: AlarmStateChange): AlarmAction[] {
  const { alarmName, state, previousState } = event.detail;
  const key = `alarm:${alarmName}`;
  const noDataKey = `${key}:no-data`;
  const description = parseAlarmDescription(event.detail.configuration.description);
  const observedAt = new Date(event.time);
  const transition = `${previousState.value} -> ${state.value}`;
  // The alarm's own time of the change ("+0000" offsets parsed too); the event's time otherwise.
  const stamped = new Date(state.timestamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  const changedAt = Number.isNaN(stamped.getTime()) ? observedAt : stamped;
  const actions: AlarmAction[] = [];
  if (state.value === 'ALARM') {
    actions.push({
      action: 'raise',
      alert: {
        key,
        severity: description.severity,
        title: `Alarm ${alarmName} is in ALARM`,
        resolvedTitle: `Alarm ${alarmName} is back to OK`,
        summary: `${description.meaning ? `${description.meaning} ` : ''}CloudWatch moved the alarm ${transition}: ${state.reason}`,
        measurements: measurementsOf(event),
        source: `CloudWatch alarm ${alarmName} (${event.region}, account ${event.account})`,
        runbook: description.runbook,
        action: `Open the runbook entry; confirm with: aws cloudwatch describe-alarm-history --alarm-name ${alarmName} --max-records 5`,
        observedAt,
      },
    });
  } else if (previousState.value === 'ALARM') {
    actions.push({ action: 'resolve', key, at: changedAt });
  }
  if (state.value === 'INSUFFICIENT_DATA') {
    actions.push({
      action: 'raise',
      alert: {
        key: noDataKey,
        severity: 'minor',
        title: `Alarm ${alarmName} has no data`,
        resolvedTitle: `Alarm ${alarmName} has data again`,
        summary: `CloudWatch moved the alarm ${transition}: ${state.reason} A metric that stops arriving usually means the function stopped running.`,
        measurements: measurementsOf(event),
        source: `CloudWatch alarm ${alarmName} (${event.region}, account ${event.account})`,
        runbook: 'cloudwatch-alarms',
        action: 'Check that the function behind the metric runs on schedule (its logs and its Invocations metric).',
        observedAt,
      },
    });
  } else if (previousState.value === 'INSUFFICIENT_DATA') {
    actions.push({ action: 'resolve', key: noDataKey, at: changedAt });
  }
  return actions;
}
