import * as z from 'zod';
import type { Alert, Measurement, Severity } from '../../lib/alerts';
import { alarmKeys } from '../../lib/alerts/keys';

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

export interface AlarmMeaning {
  severity: Severity;
  meaning?: string;
  runbook: string;
  /** What INSUFFICIENT_DATA means for this alarm, and how much it matters. */
  noData: { severity: Severity; meaning?: string };
}

const severityPattern = '(critical|major|minor|info)';

/**
 * Vigil writes each alarm's description as "<severity>: <meaning>. If no data: <severity>:
 * <meaning>. Runbook: #<anchor>", the no-data clause optional (then INSUFFICIENT_DATA has the
 * alarm's own severity and meaning). Other descriptions still work, as major with the generic
 * alarm runbook.
 */
export function parseAlarmDescription(description: string | null | undefined): AlarmMeaning {
  const text = (description ?? '').trim();
  const runbookMatch = /\s*Runbook:\s*#?([a-z0-9-]+)\s*$/i.exec(text);
  const withoutRunbook = runbookMatch ? text.slice(0, runbookMatch.index) : text;
  const noDataMatch = new RegExp(`\\s*If no data:\\s*(?:${severityPattern}\\s*:)?\\s*(.*)$`, 'is').exec(withoutRunbook);
  const main = noDataMatch ? withoutRunbook.slice(0, noDataMatch.index) : withoutRunbook;
  const mainMatch = new RegExp(`^${severityPattern}\\s*:\\s*(.*)$`, 'is').exec(main);
  const runbook = runbookMatch?.[1]?.toLowerCase() ?? 'cloudwatch-alarms';
  const severity = (mainMatch?.[1]?.toLowerCase() as Severity | undefined) ?? 'major';
  const meaning = (mainMatch ? mainMatch[2] : main)?.trim() || undefined;
  const noDataSeverity = (noDataMatch?.[1]?.toLowerCase() as Severity | undefined) ?? severity;
  const noDataMeaning = noDataMatch?.[2]?.trim() || undefined;
  return { severity, meaning, runbook, noData: { severity: noDataSeverity, meaning: noDataMeaning } };
}

/** "The probe function failed": a meaning as a title, without its full stop. */
const asTitle = (meaning: string) => {
  const sentence = meaning.replace(/\.\s*$/, '');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
};

/** The metric behind the alarm: its name (a key of lib/labels.json), statistic and dimensions. */
function metricOf(event: AlarmStateChange) {
  const stat = event.detail.configuration.metrics.find((entry) => entry.metricStat)?.metricStat;
  if (!stat) {
    const expression = event.detail.configuration.metrics.find((entry) => entry.expression)?.expression;
    return { name: expression ?? 'the alarm metric', statistic: undefined, where: '' };
  }
  const dimensions = Object.values(stat.metric.dimensions ?? {});
  return { name: stat.metric.name, statistic: stat.stat, where: dimensions.length ? ` of ${dimensions.join(', ')}` : '' };
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
  const metric = metricOf(event);
  const periods = evaluated.length || data.recentDatapoints?.length || 1;
  const statistic = (data.statistic ?? metric.statistic)?.toLowerCase();
  return [
    {
      name: metric.name,
      value: latest ?? null,
      unit: '',
      ...(operator && data.threshold !== undefined ? { threshold: { operator, value: data.threshold } } : {}),
      ...(period ? { window: `${statistic ? `${statistic} over ` : ''}${periods} period(s) of ${period} s${metric.where}` } : {}),
      ...(evaluated.length ? { sampleCount: evaluated.reduce((sum, point) => sum + (point.sampleCount ?? 0), 0) } : {}),
      ...(latest === undefined ? { missingReason: 'the alarm carried no datapoint' } : {}),
    },
  ];
}

/**
 * Turns an alarm's state change into what lib/alerts should do: ALARM raises `alarm:<name>`,
 * INSUFFICIENT_DATA raises `alarm:<name>:no-data`, each with the severity and meaning the alarm's
 * description gives, and leaving either state resolves it at the alarm's own time of the change.
 */
export function translateAlarmEvent(event: AlarmStateChange): AlarmAction[] {
  const { alarmName, state, previousState } = event.detail;
  const key = alarmKeys.state(alarmName);
  const noDataKey = alarmKeys.noData(alarmName);
  const description = parseAlarmDescription(event.detail.configuration.description);
  const observedAt = new Date(event.time);
  const transition = `${previousState.value} -> ${state.value}`;
  // The alarm's own time of the change ("+0000" offsets parsed too); the event's time otherwise.
  const stamped = new Date(state.timestamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  const changedAt = Number.isNaN(stamped.getTime()) ? observedAt : stamped;
  const source = `CloudWatch alarm ${alarmName} (${event.region}, account ${event.account})`;
  const confirm = `aws cloudwatch describe-alarm-history --alarm-name ${alarmName} --region ${event.region} --max-records 5`;
  const actions: AlarmAction[] = [];
  if (state.value === 'ALARM') {
    actions.push({
      action: 'raise',
      alert: {
        key,
        severity: description.severity,
        title: description.meaning ? asTitle(description.meaning) : `Alarm ${alarmName} is in ALARM`,
        resolvedTitle: `Alarm ${alarmName} is back to OK`,
        summary: `${description.meaning ? `${asTitle(description.meaning)}. ` : ''}The alarm ${alarmName} went ${transition}: ${state.reason}`,
        measurements: measurementsOf(event),
        source,
        runbook: description.runbook,
        action: 'Follow the runbook entry; the alarm history confirms what CloudWatch saw.',
        commands: [confirm],
        observedAt,
        since: changedAt,
      },
    });
  } else if (previousState.value === 'ALARM') {
    actions.push({ action: 'resolve', key, at: changedAt });
  }
  if (state.value === 'INSUFFICIENT_DATA') {
    const watches = description.meaning ? ` It watches for: ${description.meaning}` : '';
    actions.push({
      action: 'raise',
      alert: {
        key: noDataKey,
        severity: description.noData.severity,
        title: description.noData.meaning ? asTitle(description.noData.meaning) : `Alarm ${alarmName} has no data`,
        resolvedTitle: `Alarm ${alarmName} has data again`,
        summary: `${description.noData.meaning ? `${asTitle(description.noData.meaning)}. ` : ''}The alarm ${alarmName} went ${transition}: ${state.reason}${watches} A metric that stops arriving usually means the function behind it stopped running.`,
        measurements: measurementsOf(event),
        source,
        runbook: description.runbook,
        action: 'Check that the function behind the metric runs on schedule (its logs and its Invocations metric).',
        commands: [confirm],
        observedAt,
        since: changedAt,
      },
    });
  } else if (previousState.value === 'INSUFFICIENT_DATA') {
    actions.push({ action: 'resolve', key: noDataKey, at: changedAt });
  }
  return actions;
}
