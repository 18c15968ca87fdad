import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmStateChangeSchema, parseAlarmDescription, translateAlarmEvent } from '../../../functions/alerts/alarm';

const sample = (name: string) =>
  alarmStateChangeSchema.parse(JSON.parse(readFileSync(join(import.meta.dirname, '../../../events', name), 'utf8')));

describe('alarm', () => {
  it('turns OK -> ALARM into an alert titled with what the alarm means, with the metric, threshold and breaching datapoint', () => {
    const [step, ...rest] = translateAlarmEvent(sample('alerts.alarm.json'));
    expect(rest).toEqual([]);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert).toMatchObject({
      key: 'alarm:vigil-local-probe-errors',
      severity: 'major',
      title: 'The probe function failed (an exception or a timeout)',
      resolvedTitle: 'Alarm vigil-local-probe-errors is back to OK',
      runbook: 'alarm-function-errors',
      observedAt: new Date('2026-11-22T02:36:12Z'),
      since: new Date('2026-11-22T02:36:12.189Z'),
      commands: [
        'aws cloudwatch describe-alarm-history --alarm-name vigil-local-probe-errors --region eu-west-1 --max-records 5',
      ],
    });
    expect(step.alert.summary).toContain('OK -> ALARM');
    expect(step.alert.measurements).toEqual([
      {
        name: 'Errors',
        value: 3,
        unit: '',
        threshold: { operator: '>=', value: 1 },
        window: 'sum over 1 period(s) of 300 s of vigil-local-probe',
        sampleCount: 3,
      },
    ]);
  });

  it("resolves the key when the alarm goes back to OK, at the alarm's own time of the change", () => {
    expect(translateAlarmEvent(sample('alerts.alarm-ok.json'))).toEqual([
      { action: 'resolve', key: 'alarm:vigil-local-probe-errors', at: new Date('2026-11-22T02:51:12.189Z') },
    ]);
  });

  it("raises a no-data alert with the severity, meaning and runbook the alarm's description gives for no data", () => {
    const [step] = translateAlarmEvent(sample('alerts.no-data.json'));
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert).toMatchObject({
      key: 'alarm:vigil-local-backup-freshness:no-data',
      severity: 'major',
      title: 'No backup result has reached CloudWatch, so whether backups run is unknown',
      runbook: 'backup-freshness',
    });
    expect(step.alert.summary).toContain('It watches for: No successful Vigil backup in 26 hours.');
    expect(step.alert.measurements[0]?.value).toBeNull();
    expect(step.alert.measurements[0]?.missingReason).toContain('no datapoint');
  });

  it('gives INSUFFICIENT_DATA the alarm severity and meaning when the description has no no-data clause', () => {
    const event = sample('alerts.no-data.json');
    event.detail.configuration.description = 'critical: the queue is backing up. Runbook: #alarm-dead-letters';
    const [step] = translateAlarmEvent(event);
    if (step?.action !== 'raise') throw new Error('expected a raise');
    expect(step.alert).toMatchObject({ severity: 'critical', title: 'Alarm vigil-local-backup-freshness has no data' });
    expect(step.alert.summary).toContain('It watches for: the queue is backing up.');
  });

  it('reads severity, meaning, the no-data clause and runbook from the description, defaulting to major', () => {
    expect(parseAlarmDescription('minor: cache is cold. Runbook: #cache-cold')).toEqual({
      severity: 'minor',
      meaning: 'cache is cold.',
      runbook: 'cache-cold',
      noData: { severity: 'minor', meaning: undefined },
    });
    expect(parseAlarmDescription('major: cache is cold. If no data: info: nobody looks. Runbook: #cache-cold')).toEqual({
      severity: 'major',
      meaning: 'cache is cold.',
      runbook: 'cache-cold',
      noData: { severity: 'info', meaning: 'nobody looks.' },
    });
    expect(parseAlarmDescription('Someone else wrote this')).toEqual({
      severity: 'major',
      meaning: 'Someone else wrote this',
      runbook: 'cloudwatch-alarms',
      noData: { severity: 'major', meaning: undefined },
    });
    expect(parseAlarmDescription(undefined)).toEqual({
      severity: 'major',
      meaning: undefined,
      runbook: 'cloudwatch-alarms',
      noData: { severity: 'major', meaning: undefined },
    });
  });
});
