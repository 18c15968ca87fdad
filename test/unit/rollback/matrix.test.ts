import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { meanEvidence, rateEvidence, shiftEvidence } from '../../../functions/rollback-decision/evidence';
import {
  type Action,
  boundsOf,
  decide,
  isRollback,
  levelsOf,
  type SignalName,
  type SignalReading,
  signalNames,
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
  newPageSuccessPercent: 100,
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
  ['slowerThanBaselinePercent', 50, 'monitor_and_optimize'],
  ['slowerThanBaselinePercent', 40.01, 'monitor_and_optimize'],
  ['slowerThanBaselinePercent', 40, 'continue_deployment'],
  ['adoptionPercent', 49.9, 'monitor_and_optimize'],
  ['adoptionPercent', 50, 'continue_deployment'],
  ['adoptionPercent', 50.1, 'continue_deployment'],
  ['newPageSuccessPercent', 49.99, 'immediate_rollback'],
  ['newPageSuccessPercent', 50, 'continue_deployment'],
  // Raw values, never rounded before the comparison.
  ['errorRatePercent', (125 / 2498) * 100, 'immediate_rollback'],
  ['avgResponseMs', 10_000.04, 'immediate_rollback'],
  ['adoptionPercent', 49.996, 'monitor_and_optimize'],
  ['cacheFailurePercent', 50.000001, 'immediate_rollback'],
];

describe('rollback matrix', () => {
  it.each(cases)('%s = %s gives %s when every other signal is healthy', (name, value, expected) => {
    expect(decide(readings({ [name]: value }), rollback).action).toBe(expected);
  });

  it('takes the most severe level when several signals breach', () => {
    expect(decide(readings({ errorRatePercent: 1.5, avgResponseMs: 6000, complaintsPerHour: 12 }), rollback)).toMatchObject({
      action: 'immediate_rollback',
      severity: 'critical',
      reasons: ['User complaints 12 per hour (over 10 per hour): immediate rollback level'],
    });
  });

  it('never continues on missing data', () => {
    const result = decide(readings({ complaintsPerHour: null }), rollback);
    expect(result.action).toBe('monitor_and_optimize');
    expect(result.reasons[0]).toContain('missing data never reads as healthy');
  });

  it('answers insufficient_data when half or more of the signals are missing', () => {
    const probeMissing = { slowerThanBaselinePercent: null, newPageSuccessPercent: null };
    expect(decide(readings({ complaintsPerHour: null, adoptionPercent: null, ...probeMissing }), rollback).action).toBe(
      'insufficient_data',
    );
    expect(decide(readings({ adoptionPercent: null, ...probeMissing }), rollback).action).toBe('monitor_and_optimize');
  });

  it('still rolls back on a measured breach when data is missing', () => {
    const result = decide(
      readings({ errorRatePercent: 6, complaintsPerHour: null, adoptionPercent: null, slowerThanBaselinePercent: null }),
      rollback,
    );
    expect(result.action).toBe('immediate_rollback');
    expect(result.reasons.some((reason) => reason.includes('decided on the measured signals'))).toBe(true);
  });

  it('names the tier and why, only with a rollback: 3 inaccessible, 2 core broken, 1 otherwise', () => {
    expect(decide(readings({ newPageSuccessPercent: 0 }), rollback)).toMatchObject({
      action: 'immediate_rollback',
      tier: { tier: 3, why: expect.stringContaining('0 % of the new page') },
    });
    expect(decide(readings({ errorRatePercent: 100 }), rollback)).toMatchObject({
      action: 'immediate_rollback',
      tier: { tier: 3 },
    });
    expect(decide(readings({ errorRatePercent: 60 }), rollback)).toMatchObject({
      action: 'immediate_rollback',
      tier: { tier: 2, approval: 'Deployment Lead, with stakeholder notification' },
    });
    expect(decide(readings({ slowerThanBaselinePercent: 51 }), rollback)).toMatchObject({
      action: 'staged_rollback',
      tier: { tier: 1, within: '15 minutes' },
    });
    // 45 % slower: source 002's "Medium" trigger, reported as monitor; no rollback, so no tier.
    expect(decide(readings({ slowerThanBaselinePercent: 45 }), rollback)).toMatchObject({
      action: 'monitor_and_optimize',
      tier: null,
    });
    expect(decide(readings(), rollback)).toMatchObject({ action: 'continue_deployment', tier: null });
  });

  it('reads a value outside its range, or not finite, as no data with why', () => {
    const result = decide(
      readings({ adoptionPercent: 150, slowerThanBaselinePercent: -500, errorRatePercent: Number.NaN }),
      rollback,
    );
    const reasonOf = (name: SignalName) => {
      const classification = result.classified.find((entry) => entry.name === name)?.classification;
      return classification?.state === 'no_data' ? classification.reason : classification?.state;
    };
    expect(reasonOf('adoptionPercent')).toBe('150 is outside the possible range (0-100)');
    expect(reasonOf('slowerThanBaselinePercent')).toBe('-500 is outside the possible range (at least -100)');
    expect(reasonOf('errorRatePercent')).toBe('not a finite number (NaN)');
    expect(decide(readings({ avgResponseMs: Number.POSITIVE_INFINITY }), rollback).action).toBe('monitor_and_optimize');
  });

  it('shows a value that rounds onto its threshold with the digits that tell them apart', () => {
    expect(decide(readings({ errorRatePercent: (125 / 2498) * 100 }), rollback).reasons[0]).toBe(
      'Error rate 5.004 % (over 5 %): immediate rollback level',
    );
  });

  it('gives a tier exactly when the action is a rollback, for any readings', () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.double({ noNaN: false, min: -1e6, max: 1e6 }),
      fc.constantFrom(-100, 0, 1, 2, 5, 10, 20, 30, 40, 49.99, 50, 50.01, 60, 99.99, 100, 3000, 5000, 10_000.01),
    );
    fc.assert(
      fc.property(
        fc.record(
          Object.fromEntries(signalNames.map((name) => [name, value])) as Record<SignalName, fc.Arbitrary<number | null>>,
        ),
        (values) => {
          const result = decide(readings(values), rollback);
          expect(result.tier !== null).toBe(isRollback(result.action));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe('rollback matrix on evidence', () => {
  /** A reading with evidence of its kind, or none (a what-if, taken as the truth). */
  const withEvidence = (name: SignalName): fc.Arbitrary<SignalReading> => {
    const unit = name.endsWith('Ms') ? 'ms' : name === 'complaintsPerHour' ? '/h' : '%';
    const plain = fc
      .double({ min: 0, max: name === 'avgResponseMs' ? 20_000 : 100, noNaN: true })
      .map((value) => ({ name, value, unit, source: 'test' }));
    if (name === 'errorRatePercent' || name === 'cacheFailurePercent' || name === 'newPageSuccessPercent') {
      const rate = fc
        .integer({ min: 1, max: 3000 })
        .chain((trials) => fc.tuple(fc.integer({ min: 0, max: trials }), fc.constant(trials)))
        .map(([events, trials]) => ({
          name,
          value: (events / trials) * 100,
          unit,
          source: 'test',
          evidence: rateEvidence(events, trials, 95, 'requests'),
        }));
      return fc.oneof(rate, plain);
    }
    if (name === 'avgResponseMs') {
      const mean = fc
        .tuple(
          fc.double({ min: 0, max: 20_000, noNaN: true }),
          fc.double({ min: 0, max: 5_000, noNaN: true }),
          fc.integer({ min: 1, max: 500 }),
        )
        .map(([value, sd, n]) => ({ name, value, unit, source: 'test', evidence: meanEvidence(value, sd, n, 95, 'requests') }));
      return fc.oneof(mean, plain);
    }
    if (name === 'slowerThanBaselinePercent') {
      const shift = fc
        .tuple(fc.double({ min: -90, max: 200, noNaN: true }), fc.double({ min: 0, max: 60, noNaN: true }), fc.boolean())
        .map(([value, half, bounded]) => ({
          name,
          value,
          unit,
          source: 'test',
          evidence: shiftEvidence(bounded ? value - half : null, bounded ? value + half : null, 20, 95),
        }));
      return fc.oneof(
        shift,
        plain.map((reading) => ({ ...reading, value: reading.value - 50 })),
      );
    }
    return plain;
  };
  const allReadings = fc.tuple(...signalNames.map(withEvidence));
  const past = (reading: SignalReading, threshold: { operator: '>' | '<'; value: number }) => {
    const { low, high } = boundsOf(reading as SignalReading & { value: number });
    return threshold.operator === '>' ? low > threshold.value : high < threshold.value;
  };

  it('advises a rollback only when some bound is past that level, and a tier exactly with a rollback', () => {
    fc.assert(
      fc.property(allReadings, (readings) => {
        const result = decide(readings, rollback);
        expect(result.tier !== null).toBe(isRollback(result.action));
        if (!isRollback(result.action)) return;
        const level = result.action === 'immediate_rollback' ? 'immediate' : 'staged';
        const shown = readings.some((reading) =>
          levelsOf(reading.name, rollback).some(([at, threshold]) => at === level && past(reading, threshold)),
        );
        expect(shown).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('continues only when every bound is inside every limit', () => {
    fc.assert(
      fc.property(allReadings, (readings) => {
        if (decide(readings, rollback).action !== 'continue_deployment') return;
        for (const reading of readings) {
          const { low, high } = boundsOf(reading as SignalReading & { value: number });
          for (const [, threshold] of levelsOf(reading.name, rollback)) {
            if (threshold.operator === '>') expect(high).toBeLessThanOrEqual(threshold.value);
            else expect(low).toBeGreaterThanOrEqual(threshold.value);
          }
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('says "not shown yet" with the samples it would take, and decides once the samples carry it', () => {
    const few = decide(
      [{ name: 'errorRatePercent', value: 10, unit: '%', source: 'test', evidence: rateEvidence(2, 20, 95, 'requests') }],
      rollback,
    );
    expect(few.action).toBe('monitor_and_optimize');
    expect(few.classified[0]?.classification).toMatchObject({
      state: 'breach',
      level: 'monitor',
      notShown: { level: 'immediate', samplesNeeded: 78 },
    });
    const oneLoad = decide(
      [{ name: 'newPageSuccessPercent', value: 0, unit: '%', source: 'test', evidence: rateEvidence(0, 1, 95, 'loads') }],
      rollback,
    );
    expect(oneLoad.classified[0]?.classification).toMatchObject({ state: 'not_shown', level: 'immediate', samplesNeeded: 5 });
    expect(oneLoad.reasons[0]).toContain('about 5 loads at this reading would decide it');
    const fiveLoads = decide(
      [{ name: 'newPageSuccessPercent', value: 0, unit: '%', source: 'test', evidence: rateEvidence(0, 5, 95, 'loads') }],
      rollback,
    );
    expect(fiveLoads).toMatchObject({ action: 'immediate_rollback', tier: { tier: 3 } });
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
