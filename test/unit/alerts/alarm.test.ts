import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmStateChangeSchema, parseAlarmDescription, translateAlarmEvent } from '../../../functions/alerts/alarm';

const sample = (name: string) =>
  alarmStateChangeSchema.parse(JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8')));

describe('alarm', () => {
  it('turns OK -> ALARM into a raised alert with the metric, threshold and breaching datapoint', () => {
    const [step, ...rest] = translateAlarmEvent(sample('alerts.alarm.json'));
    expect(rest).toEqual([]);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert).toMatchObject({
      key: 'alarm:vigil-local-probe-errors',
      severity: 'critical',
      title: 'Alarm vigil-local-probe-errors is in ALARM',
      runbook: 'alarm-function-errors',
      observedAt: new Date('2026-11-22T02:36:12Z'),
    });
    expect(step.alert.summary).toContain('the probe function failed');
    expect(step.alert.summary).toContain('OK -> ALARM');
    expect(step.alert.measurements).toEqual([
      {
        name: 'AWS/Lambda Errors (Sum) [FunctionName=vigil-local-probe]',
        value: 3,
        unit: '',
        threshold: { operator: '>=', value: 1 },
        window: '1 x 300 s period',
        sampleCount: 3,
      },
    ]);
  });

  it("resolves the key when the alarm goes back to OK, at the alarm's own time of the change", () => {
    expect(translateAlarmEvent(sample('alerts.alarm-ok.json'))).toEqual([
      { action: 'resolve', key: 'alarm:vigil-local-probe-errors', at: new Date('2026-11-22T02:51:12.189Z') },
    ]);
  });

  it('raises a minor no-data alert when the alarm has insufficient data, saying the metric is missing', () => {
    const [step] = translateAlarmEvent(sample('alerts.no-data.json'));
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert.key).toBe('alarm:vigil-local-backup-freshness:no-data');
    expect(step.alert.severity).toBe('minor');
    expect(step.alert.measurements[0]?.value).toBeNull();
    expect(step.alert.measurements[0]?.missingReason).toContain('no datapoint');
  });

  it('reads severity and runbook from the description, defaulting to major', () => {
    expect(parseAlarmDescription('minor: cache is cold. Runbook: #cache-cold')).toEqual({
      severity: 'minor',
      meaning: 'cache is cold.',
      runbook: 'cache-cold',
    });
    expect(parseAlarmDescription('Someone else wrote this')).toEqual({
      severity: 'major',
      meaning: 'Someone else wrote this',
      runbook: 'cloudwatch-alarms',
    });
    expect(parseAlarmDescription(undefined)).toEqual({ severity: 'major', meaning: undefined, runbook: 'cloudwatch-alarms' });
  });
});
