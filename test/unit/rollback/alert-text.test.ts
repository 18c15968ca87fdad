import { describe, expect, it } from 'vitest';
import { scheduledAlertText } from '../../../functions/rollback-decision/alerting';
import type { DecisionAnswer } from '../../../functions/rollback-decision/evaluate';
import { decide, type SignalReading } from '../../../functions/rollback-decision/matrix';
import { defaultThresholds } from '../../../lib/thresholds';

const calmReadings: SignalReading[] = [
  { name: 'errorRatePercent', value: 0.2, unit: '%', source: 'test' },
  { name: 'avgResponseMs', value: 300, unit: 'ms', source: 'test' },
  { name: 'cacheFailurePercent', value: 8, unit: '%', source: 'test' },
  { name: 'complaintsPerHour', value: 0, unit: '/h', source: 'test' },
  { name: 'slowerThanBaselinePercent', value: -80, unit: '%', source: 'test' },
  { name: 'adoptionPercent', value: 90, unit: '%', source: 'test' },
  { name: 'newPageSuccessPercent', value: 100, unit: '%', source: 'test' },
];

function answerOf(readings: SignalReading[], scheduled: Pick<DecisionAnswer['scheduled'], 'effective' | 'note'>): DecisionAnswer {
  const matrix = decide(readings, defaultThresholds.rollback);
  const tier =
    scheduled.effective === 'immediate_rollback'
      ? { tier: 1 as const, name: 'Application rollback', within: '15 minutes', approval: 'Application Administrator', why: 'x' }
      : null;
  return {
    decidedAt: '2026-12-02T08:00:00Z',
    whatIf: false,
    trigger: 'schedule',
    requestedBy: 'schedule',
    action: matrix.action,
    severity: matrix.severity,
    tier: matrix.tier,
    reasons: matrix.reasons,
    recommendations: [],
    signals: matrix.classified,
    scheduled: { ...scheduled, stagedStreak: 0, calmStreak: 1, tier },
    thresholds: defaultThresholds.rollback,
  };
}

describe('the scheduled rollback alert', () => {
  it('speaks of the held rollback in title, body and action when the latest evaluation alone is calm', () => {
    const text = scheduledAlertText(
      answerOf(calmReadings, {
        effective: 'immediate_rollback',
        note: 'immediate_rollback kept: 1 of 3 calmer evaluations before stepping down',
      }),
    );
    expect(text?.title).toBe('Immediate rollback advised');
    expect(text?.summary).toMatch(/^The scheduled answer stays at immediate rollback \(immediate rollback kept: 1 of 3/);
    expect(text?.summary).toContain('The latest evaluation alone gives continue deployment');
    expect(text?.action).toContain('Roll back now');
    expect(text?.action).not.toContain('Continue the rollout');
  });

  it('is the evaluation itself when it is not held, and nothing when the scheduled answer is no rollback', () => {
    const breaching = calmReadings.map((reading) => (reading.name === 'errorRatePercent' ? { ...reading, value: 7 } : reading));
    const text = scheduledAlertText(
      answerOf(breaching, { effective: 'immediate_rollback', note: 'immediate_rollback in force' }),
    );
    expect(text?.summary).toMatch(/^Error rate 7 % \(over 5 %\): immediate rollback level/);
    expect(text?.commands).toEqual(['npm run decide']);
    expect(scheduledAlertText(answerOf(calmReadings, { effective: 'continue_deployment', note: '' }))).toBeUndefined();
  });
});
