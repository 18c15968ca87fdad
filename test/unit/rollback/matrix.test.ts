import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Action,
  boundsOf,
  decide,
  describeReading,
  isRollback,
  levelsOf,
  type SignalName,
  type SignalReading,
  signalNames,
} from '../../../functions/rollback-decision/matrix';
import { nextStreak } from '../../../functions/rollback-decision/streak';
import { censusEvidence, type Evidence, meanEvidence, medianEvidence, rateEvidence, shiftEvidence } from '../../../lib/evidence';
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
    // 45 % slower: the maintenance-window guide's "Medium" trigger, reported as monitor; no rollback, so no tier.
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

describe('rollback matrix on evidence of every kind', () => {
  const unitOf = (name: SignalName) => (name.endsWith('Ms') ? 'ms' : name === 'complaintsPerHour' ? '/h' : '%');
  const reading = (name: SignalName, value: number, evidence?: Evidence): SignalReading => ({
    name,
    value,
    unit: unitOf(name),
    source: 'test',
    ...(evidence ? { evidence } : {}),
  });
  /** A rate reading from `events` of `trials`, the events drawn around a share. */
  const rate = (name: SignalName, trials: fc.Arbitrary<number>, share: fc.Arbitrary<number>, counted: string) =>
    fc.tuple(trials, share).map(([n, p]) => {
      const events = Math.min(n, Math.max(0, Math.round(p * n)));
      return reading(name, (events / n) * 100, rateEvidence(events, n, 95, counted));
    });
  const sd = fc.oneof(fc.constant(null), fc.double({ min: 0, max: 5_000, noNaN: true }));
  /** Either side of a shift may be missing; the sides are drawn apart and put in order. */
  const side = fc.oneof(fc.constant(null), fc.double({ min: -95, max: 200, noNaN: true }));

  /** Evidence of the signal's own kind, mostly healthy so that every action is reached often. */
  const evidenced = (name: SignalName): fc.Arbitrary<SignalReading> => {
    const mostlyHealthy = (
      healthy: fc.Arbitrary<SignalReading>,
      any: fc.Arbitrary<SignalReading>,
      nearLimits: fc.Arbitrary<SignalReading> = any,
    ) => fc.oneof({ arbitrary: healthy, weight: 8 }, { arbitrary: nearLimits, weight: 1 }, { arbitrary: any, weight: 1 });
    switch (name) {
      case 'errorRatePercent':
        return mostlyHealthy(
          rate(name, fc.integer({ min: 1_000, max: 20_000 }), fc.double({ min: 0, max: 0.005, noNaN: true }), 'requests'),
          rate(name, fc.integer({ min: 1, max: 3_000 }), fc.double({ min: 0, max: 1, noNaN: true }), 'requests'),
          rate(name, fc.integer({ min: 20, max: 5_000 }), fc.double({ min: 0.005, max: 0.06, noNaN: true }), 'requests'),
        );
      case 'cacheFailurePercent':
        return mostlyHealthy(
          rate(name, fc.integer({ min: 100, max: 20_000 }), fc.double({ min: 0, max: 0.15, noNaN: true }), 'lookups'),
          rate(name, fc.integer({ min: 1, max: 3_000 }), fc.double({ min: 0, max: 1, noNaN: true }), 'lookups'),
          rate(name, fc.integer({ min: 20, max: 5_000 }), fc.double({ min: 0.15, max: 0.55, noNaN: true }), 'lookups'),
        );
      case 'newPageSuccessPercent':
        return mostlyHealthy(
          rate(name, fc.integer({ min: 5, max: 200 }), fc.double({ min: 0.85, max: 1, noNaN: true }), 'loads'),
          rate(name, fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), 'loads'),
        );
      case 'avgResponseMs': {
        const mean = (value: fc.Arbitrary<number>, n: fc.Arbitrary<number>) =>
          fc
            .tuple(value, sd, n)
            .map(([average, spread, count]) => reading(name, average, meanEvidence(average, spread, count, 95, 'requests')));
        return mostlyHealthy(
          mean(fc.double({ min: 50, max: 2_500, noNaN: true }), fc.integer({ min: 50, max: 5_000 })),
          mean(fc.double({ min: 0, max: 20_000, noNaN: true }), fc.integer({ min: 1, max: 500 })),
          mean(fc.double({ min: 2_500, max: 11_000, noNaN: true }), fc.integer({ min: 2, max: 2_000 })),
        );
      }
      case 'slowerThanBaselinePercent': {
        const shift = fc.tuple(fc.double({ min: -90, max: 150, noNaN: true }), side, side).map(([value, a, b]) => {
          const [low, high] = a !== null && b !== null && a > b ? [b, a] : [a, b];
          return reading(name, value, shiftEvidence(low, high, 20, 95));
        });
        const healthyShift = fc
          .tuple(fc.double({ min: -80, max: 20, noNaN: true }), fc.double({ min: 0, max: 15, noNaN: true }))
          .map(([value, half]) => reading(name, value, shiftEvidence(value - half, value + half, 30, 95)));
        const median = fc.array(fc.double({ min: -90, max: 200, noNaN: true }), { minLength: 1, maxLength: 40 }).map((values) => {
          const sorted = [...values].sort((x, y) => x - y);
          return reading(name, sorted[Math.floor((sorted.length - 1) / 2)] as number, medianEvidence(values, 95));
        });
        const nearLimits = fc
          .tuple(fc.double({ min: 30, max: 90, noNaN: true }), fc.double({ min: 0, max: 20, noNaN: true }))
          .map(([value, half]) => reading(name, value, shiftEvidence(value - half, value + half, 30, 95)));
        return fc.oneof(
          { arbitrary: healthyShift, weight: 8 },
          { arbitrary: nearLimits, weight: 1 },
          { arbitrary: shift, weight: 1 },
          { arbitrary: median, weight: 1 },
        );
      }
      case 'complaintsPerHour':
        return mostlyHealthy(
          fc.integer({ min: 0, max: 10 }).map((value) => reading(name, value, censusEvidence(value, 1, 'hours'))),
          fc.integer({ min: 0, max: 40 }).map((value) => reading(name, value, censusEvidence(value, 1, 'hours'))),
        );
      case 'adoptionPercent':
        return mostlyHealthy(
          fc
            .double({ min: 50, max: 100, noNaN: true })
            .map((value) => reading(name, value, censusEvidence(value, 4_000, 'users'))),
          fc
            .double({ min: 0, max: 100, noNaN: true })
            .map((value) => reading(name, value, censusEvidence(value, 4_000, 'users'))),
        );
    }
  };
  /** A what-if: the value alone, taken as the truth. */
  const plain = (name: SignalName) =>
    fc
      .double({ min: name === 'slowerThanBaselinePercent' ? -100 : 0, max: name === 'avgResponseMs' ? 20_000 : 100, noNaN: true })
      .map((value) => reading(name, value));
  const missing = (name: SignalName) => fc.constant<SignalReading>({ ...reading(name, 0), value: null, reason: 'not measured' });

  const everyEvidenced = fc.tuple(...signalNames.map(evidenced));
  const anyReadings = fc.tuple(
    ...signalNames.map((name) =>
      fc.oneof(
        { arbitrary: evidenced(name), weight: 6 },
        { arbitrary: plain(name), weight: 1 },
        { arbitrary: missing(name), weight: 1 },
      ),
    ),
  );

  const isPast = (bounds: { low: number; high: number }, { operator, value }: { operator: '>' | '<'; value: number }) =>
    operator === '>' ? bounds.low > value : bounds.high < value;
  const isInside = (bounds: { low: number; high: number }, { operator, value }: { operator: '>' | '<'; value: number }) =>
    operator === '>' ? bounds.high <= value : bounds.low >= value;
  const measured = (entry: SignalReading) => entry as SignalReading & { value: number };

  it('advises a rollback only when some bound (or a what-if value) is past that level, and a tier exactly with one', () => {
    const seen: Partial<Record<Action, number>> = {};
    fc.assert(
      fc.property(anyReadings, (readings) => {
        const result = decide(readings, rollback);
        seen[result.action] = (seen[result.action] ?? 0) + 1;
        expect(result.tier !== null).toBe(isRollback(result.action));
        if (!isRollback(result.action)) return;
        const level = result.action === 'immediate_rollback' ? 'immediate' : 'staged';
        const shown = readings.some(
          (entry) =>
            entry.value !== null &&
            levelsOf(entry.name, rollback).some(
              ([at, threshold]) => at === level && isPast(boundsOf(measured(entry)), threshold),
            ),
        );
        expect(shown).toBe(true);
      }),
      { numRuns: 4_000 },
    );
    // Not vacuous: each answer is reached in a fair share of the runs.
    expect(seen.immediate_rollback ?? 0).toBeGreaterThan(500);
    expect(seen.staged_rollback ?? 0).toBeGreaterThan(100);
    expect(seen.monitor_and_optimize ?? 0).toBeGreaterThan(500);
    expect(seen.continue_deployment ?? 0).toBeGreaterThan(100);
  });

  it('continues, when every reading carries evidence, exactly when every bound is inside every limit', () => {
    let continued = 0;
    fc.assert(
      fc.property(everyEvidenced, (readings) => {
        const { action } = decide(readings, rollback);
        const inside = readings.every((entry) =>
          levelsOf(entry.name, rollback).every(([, threshold]) => isInside(boundsOf(measured(entry)), threshold)),
        );
        if (action === 'continue_deployment') continued += 1;
        expect(action === 'continue_deployment').toBe(inside);
      }),
      { numRuns: 4_000 },
    );
    expect(continued).toBeGreaterThan(300);
  });

  it('classifies each reading as its bounds say: breach at the most severe level shown, not shown at the most severe open one', () => {
    fc.assert(
      fc.property(anyReadings, (readings) => {
        for (const entry of decide(readings, rollback).classified) {
          const { classification } = entry;
          if (classification.state === 'no_data') {
            expect(entry.value).toBeNull();
            continue;
          }
          const bounds = boundsOf(measured(entry));
          const levels = levelsOf(entry.name, rollback);
          const firstShown = levels.findIndex(([, threshold]) => isPast(bounds, threshold));
          const firstOpen = levels.findIndex(
            ([, threshold], index) => (firstShown < 0 || index < firstShown) && !isInside(bounds, threshold),
          );
          if (classification.state === 'pass') {
            expect(firstShown).toBe(-1);
            expect(firstOpen).toBe(-1);
          } else if (classification.state === 'breach') {
            expect(classification.level).toBe(levels[firstShown]?.[0]);
            expect(classification.notShown?.level).toBe(firstOpen < 0 ? undefined : levels[firstOpen]?.[0]);
          } else {
            expect(firstShown).toBe(-1);
            expect(classification.level).toBe(levels[firstOpen]?.[0]);
            // A what-if is the truth: it is never "not shown".
            expect(entry.evidence).toBeDefined();
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([1, 2, 3, 4])(
    'holds 0 of %i new page loads succeeding as not shown yet, with 5 loads named; 0 of 5 is Tier 3',
    (loads) => {
      const few = decide([reading('newPageSuccessPercent', 0, rateEvidence(0, loads, 95, 'loads'))], rollback);
      expect(few).toMatchObject({ action: 'monitor_and_optimize', tier: null });
      expect(few.classified[0]?.classification).toMatchObject({ state: 'not_shown', level: 'immediate', samplesNeeded: 5 });
      const five = decide([reading('newPageSuccessPercent', 0, rateEvidence(0, 5, 95, 'loads'))], rollback);
      expect(five).toMatchObject({ action: 'immediate_rollback', tier: { tier: 3 } });
      expect(five.classified[0]?.classification).toMatchObject({ state: 'breach', level: 'immediate' });
    },
  );

  it('reads 2 errors in 20 requests as a monitor breach whose immediate level is not shown yet', () => {
    const result = decide([reading('errorRatePercent', 10, rateEvidence(2, 20, 95, 'requests'))], rollback);
    expect(result).toMatchObject({ action: 'monitor_and_optimize', tier: null });
    expect(result.classified[0]?.classification).toMatchObject({
      state: 'breach',
      level: 'monitor',
      notShown: { level: 'immediate', samplesNeeded: expect.any(Number) },
    });
    expect(result.reasons[0]).toContain('not shown yet');
    // The same 10 % as a what-if is the truth: an immediate rollback.
    expect(decide([reading('errorRatePercent', 10)], rollback).action).toBe('immediate_rollback');
  });

  it('gives Tier 3 for failing requests only when more than half are shown to fail: not for 1 failed of 1', () => {
    const pageSlow = reading('avgResponseMs', 12_000); // a what-if that asks for the rollback on its own
    const tierWith = (failed: number, requests: number) =>
      decide(
        [pageSlow, reading('errorRatePercent', (failed / requests) * 100, rateEvidence(failed, requests, 95, 'requests'))],
        rollback,
      ).tier?.tier;
    expect(tierWith(1, 1)).toBe(1);
    expect(tierWith(4, 4)).toBe(1); // at least 47 % at 95 %: not yet shown past half
    expect(tierWith(5, 5)).toBe(3); // at least 55 %, and every request failed
    expect(tierWith(59, 60)).toBe(2); // shown past half, but not every request failed
  });

  it('names the requests it would take when one request has a spread from its source but no bound', () => {
    const { classified } = decide([reading('avgResponseMs', 4_000, meanEvidence(4_000, 1_500, 1, 95, 'requests'))], rollback);
    expect(classified[0]?.classification).toMatchObject({ state: 'not_shown', samplesNeeded: expect.any(Number) });
    expect(describeReading(classified[0] as never)).toContain('it takes at least');
  });
});
