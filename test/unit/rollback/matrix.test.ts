import { describe, expect, it } from 'vitest';
import {
  type Action,
  decide,
  rollbackTier,
  type SignalName,
  type SignalReading,
} from '../../../functions/rollback-decision/matrix';
import { nextStreak } from '../../../functions/rollback-decision/streak';
import { defaultThresholds } from '../../../lib/thresholds';

const rollback = defaultThresholds.rollback;
const healthy: Record<SignalName, number> = {
  errorRatePercent: 0.5,
  avgResponseMs: 800,
  cacheFailurePercent: 10,
  complaintsPerHour: 2,
  slowerThanBaselinePercent: -75,
  adoptionPercent: 85,
};
const readings = (values: Partial<Record<SignalName, number | null>> = {}): SignalReading[] =>
  (Object.keys(healthy) as SignalName[]).map((name) => {
    const value = name in values ? (values[name] as number | null) : healthy[name];
    return {
      name,
      value,
      unit: name.endsWith('Ms') ? 'ms' : name === 'complaintsPerHour' ? '/h' : '%',
      source: 'test',
      ...(value === null ? { reason: 'not measured in this test' } : {}),
    };
  });

// The source document's matrix, every threshold: just above it, at it, just below it.
const cases: Array<[SignalName, number, Action]> = [
  ['errorRatePercent', 5.01, 'immediate_rollback'],
  ['errorRatePercent', 5, 'staged_rollback'],
  ['errorRatePercent', 4.99, 'staged_rollback'],
  ['errorRatePercent', 2.01, 'staged_rollback'],
  ['errorRatePercent', 2, 'monitor_and_optimize'],
  ['errorRatePercent', 1.99, 'monitor_and_optimize'],
  ['errorRatePercent', 1.01, 'monitor_and_optimize'],
  ['errorRatePercent', 1, 'continue_deployment'],
  ['errorRatePercent', 0.99, 'continue_deployment'],
  ['avgResponseMs', 10_001, 'immediate_rollback'],
  ['avgResponseMs', 10_000, 'staged_rollback'],
  ['avgResponseMs', 5_001, 'staged_rollback'],
  ['avgResponseMs', 5_000, 'monitor_and_optimize'],
  ['avgResponseMs', 3_001, 'monitor_and_optimize'],
  ['avgResponseMs', 3_000, 'continue_deployment'],
  ['avgResponseMs', 2_999, 'continue_deployment'],
  ['cacheFailurePercent', 50.1, 'immediate_rollback'],
  ['cacheFailurePercent', 50, 'staged_rollback'],
  ['cacheFailurePercent', 30.1, 'staged_rollback'],
  ['cacheFailurePercent', 30, 'monitor_and_optimize'],
  ['cacheFailurePercent', 20.1, 'monitor_and_optimize'],
  ['cacheFailurePercent', 20, 'continue_deployment'],
  ['cacheFailurePercent', 19.9, 'continue_deployment'],
  ['complaintsPerHour', 11, 'immediate_rollback'],
  ['complaintsPerHour', 10, 'continue_deployment'],
  ['complaintsPerHour', 9, 'continue_deployment'],
  ['slowerThanBaselinePercent', 50.1, 'staged_rollback'],
  ['slowerThanBaselinePercent', 50, 'continue_deployment'],
  ['slowerThanBaselinePercent', 49.9, 'continue_deployment'],
  ['adoptionPercent', 49.9, 'monitor_and_optimize'],
  ['adoptionPercent', 50, 'continue_deployment'],
  ['adoptionPercent', 50.1, 'continue_deployment'],
];

describe('rollback matrix', () => {
  it.each(cases)('%s = %s gives %s when every other signal is healthy', (name, value, expected) => {
    expect(decide(readings({ [name]: value }), rollback).action).toBe(expected);
  });

  it('takes the most severe level when several signals breach', () => {
    expect(decide(readings({ errorRatePercent: 1.5, avgResponseMs: 6000, complaintsPerHour: 12 }), rollback)).toMatchObject({
      action: 'immediate_rollback',
      severity: 'critical',
      reasons: ['complaintsPerHour 12 /h > 10 (immediate)'],
    });
  });

  it('never continues on missing data', () => {
    const result = decide(readings({ complaintsPerHour: null }), rollback);
    expect(result.action).toBe('monitor_and_optimize');
    expect(result.reasons[0]).toContain('missing data never reads as healthy');
  });

  it('answers insufficient_data when half or more of the signals are missing', () => {
    expect(
      decide(readings({ complaintsPerHour: null, adoptionPercent: null, slowerThanBaselinePercent: null }), rollback).action,
    ).toBe('insufficient_data');
    expect(decide(readings({ adoptionPercent: null, slowerThanBaselinePercent: null }), rollback).action).toBe(
      'monitor_and_optimize',
    );
  });

  it('still rolls back on a measured breach when data is missing', () => {
    const result = decide(
      readings({ errorRatePercent: 6, complaintsPerHour: null, adoptionPercent: null, slowerThanBaselinePercent: null }),
      rollback,
    );
    expect(result.action).toBe('immediate_rollback');
    expect(result.reasons.some((reason) => reason.includes('decided on the measured signals'))).toBe(true);
  });

  it('names the tier and why: 3 inaccessible, 2 core broken, 1 degraded', () => {
    expect(rollbackTier('immediate_rollback', readings({ errorRatePercent: 60 }), rollback, 'the new page is down')?.tier).toBe(
      3,
    );
    expect(rollbackTier('immediate_rollback', readings({ errorRatePercent: 60 }), rollback, undefined)).toMatchObject({
      tier: 2,
      approval: 'Deployment Lead, with stakeholder notification',
    });
    expect(rollbackTier('staged_rollback', readings({ slowerThanBaselinePercent: 45 }), rollback, undefined)).toMatchObject({
      tier: 1,
      within: '15 minutes',
    });
    expect(rollbackTier('continue_deployment', readings(), rollback, undefined)).toBeNull();
  });
});

describe('rollback streaks', () => {
  const options = { confirmEvaluations: 2, clearEvaluations: 3 };
  const play = (sequence: Action[]) => {
    let state: ReturnType<typeof nextStreak> | undefined;
    return sequence.map((action) => {
      state = nextStreak(state, action, options);
      return state.effective;
    });
  };

  it('escalates to staged only after two breaching evaluations, to immediate at once', () => {
    expect(play(['staged_rollback', 'staged_rollback'])).toEqual(['monitor_and_optimize', 'staged_rollback']);
    expect(play(['immediate_rollback'])).toEqual(['immediate_rollback']);
    expect(play(['staged_rollback', 'continue_deployment', 'staged_rollback'])).toEqual([
      'monitor_and_optimize',
      'monitor_and_optimize',
      'monitor_and_optimize',
    ]);
  });

  it('goes back to continue only after three consecutive passes', () => {
    expect(play(['immediate_rollback', 'continue_deployment', 'continue_deployment', 'continue_deployment'])).toEqual([
      'immediate_rollback',
      'immediate_rollback',
      'immediate_rollback',
      'continue_deployment',
    ]);
    // A breach inside the calm streak limits how far it steps down.
    expect(
      play(['immediate_rollback', 'continue_deployment', 'staged_rollback', 'continue_deployment', 'continue_deployment']),
    ).toEqual(['immediate_rollback', 'immediate_rollback', 'immediate_rollback', 'monitor_and_optimize', 'monitor_and_optimize']);
  });

  it('says insufficient data at once', () => {
    expect(play(['continue_deployment', 'insufficient_data'])).toEqual(['continue_deployment', 'insufficient_data']);
  });
});
