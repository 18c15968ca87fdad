import { rollbackConfig } from '../../functions/rollback-decision/config';
import { rollbackDataOf } from '../../functions/rollback-decision/evaluate';
import { type Action, decide, isRollback, type SignalReading } from '../../functions/rollback-decision/matrix';
import {
  cacheFailureReading,
  errorRateReading,
  newPageSuccessReading,
  responseReading,
  slowerThanBaselineReading,
} from '../../functions/rollback-decision/signals';
import { nextStreak, type StreakState } from '../../functions/rollback-decision/streak';
import { loadConfig } from '../../lib/config';
import { percentile, shiftEstimate } from '../../lib/stats';
import { defaultThresholds } from '../../lib/thresholds';
import { seededRandom } from '../../local/seeded-random';
import type { BenchCase, BenchRow } from '../table';

/*
 * `npm run bench -- decision`: seeded rollouts run through the real decision code (the readings
 * signals.ts builds, decide() and nextStreak()), evaluated every 5 minutes over 15-minute windows,
 * side by side under four rules:
 *   today's: the matrix on point estimates (what the decision did before issue 28), the staged
 *     streak counting every evaluation;
 *   argo:    Argo Rollouts' failureLimit: a measurement fails when its point estimate breaches a
 *     rollback level; the analysis fails (rollback advised) at failureLimit + 1 = 3 failures a day;
 *   evidence: the matrix on one-sided 95 % bounds, the staged streak counting new data only;
 *   and the same with ROLLBACK_CONFIRM_EVALUATIONS=1 (a staged rollback from one window's evidence).
 * The world: requests arrive Poisson, each fails with the error rate; every request is one cache
 * lookup, failing 10 % of the time, summed in 15-minute cache windows; response times average
 * 300 ms (sd 200 ms); the probe loads each page 20 times (its default samples) every 5 minutes (old 3,900 ms, new
 * 700 ms median, log-normal, sd 0.3 in logs), each load failing 1 in 1,000; adoption 85 % and no
 * complaints, counted. A regression begins at a uniformly random moment after one healthy hour.
 */

const minutesPerDay = 24 * 60;
const evaluationEveryMinutes = 5;
const windowMinutes = 15;
const probeLoads = 20;
const healthyDays = 1000;
const regressionRuns = 1000;
const warmupMinutes = 60;

type Rule = 'today' | 'argo' | 'evidence' | 'evidenceConfirmOne';
const rules: Rule[] = ['today', 'argo', 'evidence', 'evidenceConfirmOne'];
const argoFailureLimit = 2;

interface World {
  requestsPerWindow: number;
  errorRate: number;
  newPageSlowerFactor: number;
  newPageDown: boolean;
}

const healthy = (requestsPerWindow: number): World => ({
  requestsPerWindow,
  errorRate: 0.001,
  newPageSlowerFactor: 1,
  newPageDown: false,
});

type Random = () => number;

function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function poisson(mean: number, random: Random): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(random)));
  const limit = Math.exp(-mean);
  let count = 0;
  for (let product = random(); product > limit; product *= random()) count += 1;
  return count;
}

/** Binomial draws by geometric gaps: exact, and O(n p) for the small rates this world has. */
function binomial(trials: number, p: number, random: Random): number {
  if (p <= 0) return 0;
  if (p >= 1) return trials;
  if (p > 0.5) return trials - binomial(trials, 1 - p, random);
  const logQ = Math.log(1 - p);
  let count = 0;
  for (let position = Math.floor(Math.log(1 - random()) / logQ) + 1; position <= trials; count += 1)
    position += Math.floor(Math.log(1 - random()) / logQ) + 1;
  return count;
}

/** One 5-minute slot of the app's traffic. */
interface Slot {
  requests: number;
  errors: number;
  sumMs: number;
  sumSquaresMs: number;
}

const responseMeanMs = 300;
const responseSdMs = 200;

function slotOf(world: World, badShare: number, errorRateBefore: number, random: Random): Slot {
  const requests = poisson(world.requestsPerWindow / 3, random);
  const bad = binomial(requests, badShare, random);
  const errors = binomial(bad, world.errorRate, random) + binomial(requests - bad, errorRateBefore, random);
  const sumMs = requests * responseMeanMs + Math.sqrt(requests) * responseSdMs * normal(random);
  return { requests, errors, sumMs, sumSquaresMs: requests * (responseSdMs ** 2 + responseMeanMs ** 2) };
}

interface ProbeRun {
  newSuccesses: number;
  shift: ReturnType<typeof shiftEstimate>;
  oldP50Ms: number | null;
  newP50Ms: number | null;
  newLoadTimesMs: number[];
}

function probeRun(world: World, regressed: boolean, random: Random): ProbeRun {
  const loads = (medianMs: number, down: boolean) => {
    const times: number[] = [];
    for (let index = 0; index < probeLoads; index += 1) {
      if (down || random() < 0.001) continue;
      times.push(medianMs * Math.exp(0.3 * normal(random)));
    }
    return times;
  };
  const oldTimes = loads(3900, false);
  const newTimes = loads(700 * (regressed ? world.newPageSlowerFactor : 1), regressed && world.newPageDown);
  return {
    newSuccesses: newTimes.length,
    shift: shiftEstimate(oldTimes, newTimes),
    oldP50Ms: percentile(oldTimes, 50).value,
    newP50Ms: percentile(newTimes, 50).value,
    newLoadTimesMs: newTimes,
  };
}

const config = loadConfig([rollbackConfig], {}).rollback;
const thresholds = defaultThresholds.rollback;
const confidencePercent = thresholds.evidence.confidencePercent;
const iso = (minute: number) => new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString();

interface Inputs {
  window: Slot;
  cache: { lookups: number; failures: number; start: number; end: number } | null;
  probe: ProbeRun;
  minute: number;
}

/** What the decision read before issue 28: point estimates, with the same minimum of requests. */
function pointReadings({ window, cache, probe }: Inputs): SignalReading[] {
  const source = 'simulation';
  const enough = window.requests >= config.minRequests;
  const baseline = probe.oldP50Ms ?? 4000;
  return [
    { name: 'errorRatePercent', value: enough ? (window.errors / window.requests) * 100 : null, unit: '%', source },
    { name: 'avgResponseMs', value: enough ? window.sumMs / window.requests : null, unit: 'ms', source },
    {
      name: 'cacheFailurePercent',
      value: cache && cache.lookups > 0 ? (cache.failures / cache.lookups) * 100 : null,
      unit: '%',
      source,
    },
    {
      name: 'slowerThanBaselinePercent',
      value: probe.newP50Ms === null ? null : ((probe.newP50Ms - baseline) / baseline) * 100,
      unit: '%',
      source,
    },
    { name: 'complaintsPerHour', value: 0, unit: '/h', source },
    { name: 'adoptionPercent', value: 85, unit: '%', source },
    { name: 'newPageSuccessPercent', value: (probe.newSuccesses / probeLoads) * 100, unit: '%', source },
  ];
}

const noData = (name: SignalReading['name'], unit: string): SignalReading => ({
  name,
  value: null,
  unit,
  source: 'simulation',
  reason: 'not enough requests',
});

/** The readings signals.ts builds from the same data: evidence and data windows included. */
function evidenceReadings({ window, cache, probe, minute }: Inputs): SignalReading[] {
  const requestsWindow = { source: 'simulation', dataWindow: { start: iso(minute - windowMinutes), end: iso(minute) } };
  const enough = window.requests >= config.minRequests;
  const mean = window.sumMs / window.requests;
  const variance = (window.sumSquaresMs - window.requests * mean ** 2) / Math.max(1, window.requests - 1);
  const probeData = { source: 'simulation', page: 'new', dataWindow: { start: iso(minute), end: iso(minute) } };
  const slower =
    probe.newP50Ms === null
      ? noData('slowerThanBaselinePercent', '%')
      : probe.oldP50Ms !== null && probe.shift.estimateMs !== null
        ? slowerThanBaselineReading(
            {
              against: 'old page',
              shiftMs: probe.shift.estimateMs,
              lowMs: probe.shift.low,
              highMs: probe.shift.high,
              baselineMs: probe.oldP50Ms,
              loads: Math.min(probe.shift.nOld, probe.shift.nNew),
            },
            probeData,
            confidencePercent,
          )
        : slowerThanBaselineReading(
            { against: 'source documents', newLoadTimesMs: probe.newLoadTimesMs, newP50Ms: probe.newP50Ms, baselineMs: 4000 },
            probeData,
            confidencePercent,
          );
  return [
    enough
      ? errorRateReading(window.errors, window.requests, requestsWindow, confidencePercent)
      : noData('errorRatePercent', '%'),
    enough
      ? responseReading(
          mean,
          null,
          requestsWindow,
          { sdMs: Math.sqrt(Math.max(0, variance)), n: window.requests, counted: 'requests' },
          confidencePercent,
        )
      : noData('avgResponseMs', 'ms'),
    cache && cache.lookups > 0
      ? cacheFailureReading(
          cache.failures,
          cache.lookups,
          { source: 'simulation', dataWindow: { start: iso(cache.start), end: iso(cache.end) } },
          confidencePercent,
        )
      : noData('cacheFailurePercent', '%'),
    slower,
    { name: 'complaintsPerHour', value: 0, unit: '/h', source: 'simulation' },
    { name: 'adoptionPercent', value: 85, unit: '%', source: 'simulation' },
    newPageSuccessReading(probe.newSuccesses, probeLoads, probeData, confidencePercent),
  ];
}

interface RuleState {
  streak: StreakState | undefined;
  argoFailures: number;
  argoWorst: Action;
}

const streakOptions = { confirmEvaluations: config.confirmEvaluations, clearEvaluations: config.clearEvaluations };

/** The matrix on one evaluation's readings, both ways, decided once for every rule. */
interface Decided {
  point: ReturnType<typeof decide>;
  evidence: ReturnType<typeof decide>;
}

/** One evaluation under one rule: the answer of the scheduled evaluations (what pages and what ops acts on). */
function evaluate(rule: Rule, decided: Decided, state: RuleState): Action {
  if (rule === 'evidence' || rule === 'evidenceConfirmOne') {
    const options = rule === 'evidence' ? streakOptions : { ...streakOptions, confirmEvaluations: 1 };
    state.streak = nextStreak(state.streak, decided.evidence.action, options, rollbackDataOf(decided.evidence.classified));
    return state.streak.effective;
  }
  const matrix = decided.point;
  if (rule === 'today') {
    state.streak = nextStreak(state.streak, matrix.action, streakOptions);
    return state.streak.effective;
  }
  if (isRollback(matrix.action)) {
    state.argoFailures += 1;
    if (matrix.action === 'immediate_rollback') state.argoWorst = 'immediate_rollback';
  }
  return state.argoFailures > argoFailureLimit ? state.argoWorst : 'monitor_and_optimize';
}

/**
 * One run: `minutes` of evaluations, the regression (if any) from `onsetMinute`. Calls `seen` with
 * each evaluation's minute and every rule's answer; stops early when `seen` returns true.
 */
function simulate(
  world: World,
  onsetMinute: number,
  minutes: number,
  random: Random,
  seen: (minute: number, answers: Record<Rule, Action>) => boolean,
) {
  const states = Object.fromEntries(
    rules.map((rule) => [rule, { streak: undefined, argoFailures: 0, argoWorst: 'staged_rollback' }]),
  ) as Record<Rule, RuleState>;
  const recent: Slot[] = [];
  let cache: Inputs['cache'] = null;
  for (let minute = evaluationEveryMinutes; minute <= minutes; minute += evaluationEveryMinutes) {
    const badShare = Math.min(1, Math.max(0, (minute - onsetMinute) / evaluationEveryMinutes));
    recent.push(slotOf(world, badShare, healthy(0).errorRate, random));
    if (recent.length > windowMinutes / evaluationEveryMinutes) recent.shift();
    if (minute % windowMinutes === 0) {
      const lookups = recent.reduce((total, slot) => total + slot.requests, 0);
      cache = { lookups, failures: binomial(lookups, 0.1, random), start: minute - windowMinutes, end: minute };
    }
    const window = recent.reduce(
      (total, slot) => ({
        requests: total.requests + slot.requests,
        errors: total.errors + slot.errors,
        sumMs: total.sumMs + slot.sumMs,
        sumSquaresMs: total.sumSquaresMs + slot.sumSquaresMs,
      }),
      { requests: 0, errors: 0, sumMs: 0, sumSquaresMs: 0 },
    );
    const probe = probeRun(world, minute >= onsetMinute, random);
    const inputs: Inputs = { window, cache, probe, minute };
    const decided: Decided = {
      point: decide(pointReadings(inputs), thresholds),
      evidence: decide(evidenceReadings(inputs), thresholds),
    };
    const answers = {} as Record<Rule, Action>;
    for (const rule of rules) answers[rule] = evaluate(rule, decided, states[rule]);
    if (seen(minute, answers)) return;
  }
}

function falseRollbackDays(requestsPerWindow: number, seed: number): Record<Rule, number> {
  const random = seededRandom(seed);
  const days = Object.fromEntries(rules.map((rule) => [rule, 0])) as Record<Rule, number>;
  for (let day = 0; day < healthyDays; day += 1) {
    const hit = Object.fromEntries(rules.map((rule) => [rule, false])) as Record<Rule, boolean>;
    simulate(healthy(requestsPerWindow), Number.POSITIVE_INFINITY, minutesPerDay, random, (_minute, answers) => {
      for (const rule of rules) if (isRollback(answers[rule])) hit[rule] = true;
      return false;
    });
    for (const rule of rules) if (hit[rule]) days[rule] += 1;
  }
  return days;
}

/** Minutes from the regression's onset to the first answer it asks for, per rule (Infinity: not within a day). */
function detectionMinutes(world: World, wanted: (action: Action) => boolean, seed: number): Record<Rule, number[]> {
  const random = seededRandom(seed);
  const found = Object.fromEntries(rules.map((rule) => [rule, [] as number[]])) as Record<Rule, number[]>;
  for (let run = 0; run < regressionRuns; run += 1) {
    const onset = warmupMinutes + random() * evaluationEveryMinutes;
    const first: Partial<Record<Rule, number>> = {};
    simulate(world, onset, warmupMinutes + minutesPerDay, random, (minute, answers) => {
      for (const rule of rules)
        if (first[rule] === undefined && minute >= onset && wanted(answers[rule])) first[rule] = minute - onset;
      return rules.every((rule) => first[rule] !== undefined);
    });
    for (const rule of rules) found[rule].push(first[rule] ?? Number.POSITIVE_INFINITY);
  }
  return found;
}

const ruleWords: Record<Rule, string> = {
  today: "today's rule (point estimates)",
  argo: `Argo-style failureLimit ${argoFailureLimit}`,
  evidence: 'evidence (95 % bounds, new data)',
  evidenceConfirmOne: 'evidence with ROLLBACK_CONFIRM_EVALUATIONS=1',
};

function quantile(values: number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] as number;
}

const minutesText = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} min` : 'not within 24 h');

export const decisionSimulation: BenchCase = {
  name: 'decision',
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const [index, requests] of [30, 200, 2000].entries()) {
      const days = falseRollbackDays(requests, 1000 + index);
      for (const rule of rules) {
        const share = (days[rule] / healthyDays) * 100;
        rows.push({
          case: `healthy, ${requests} requests a window: days with a false staged or immediate rollback, ${ruleWords[rule]}`,
          figure: share,
          unit: '%',
          n: healthyDays,
          reference: `${days[rule]} of ${healthyDays} days; target <= 1 %${rule === 'evidence' ? (share <= 1 ? ': met' : ': MISSED') : ''}`,
        });
      }
    }
    const rollback = (action: Action) => isRollback(action);
    const immediate = (action: Action) => action === 'immediate_rollback';
    const regressions: Array<{
      name: string;
      world: World;
      wanted: (action: Action) => boolean;
      targetMinutes: number;
      target: string;
    }> = [
      ...[200, 2000].map((requests) => ({
        name: `errors at 10 %, ${requests} requests a window: immediate rollback`,
        world: { ...healthy(requests), errorRate: 0.1 },
        wanted: immediate,
        targetMinutes: 2 * evaluationEveryMinutes,
        target: 'within 2 evaluations in >= 95 % of runs',
      })),
      ...[200, 2000].map((requests) => ({
        name: `errors at 3 %, ${requests} requests a window: staged or immediate rollback`,
        world: { ...healthy(requests), errorRate: 0.03 },
        wanted: rollback,
        targetMinutes: 30,
        target: 'within 30 minutes in >= 95 % of runs',
      })),
      {
        name: 'new page 60 % slower, 200 requests a window: staged or immediate rollback',
        world: { ...healthy(200), newPageSlowerFactor: (3900 * 1.6) / 700 },
        wanted: rollback,
        targetMinutes: Number.POSITIVE_INFINITY,
        target: 'no target in the issue; reported',
      },
      {
        name: 'new page down (every load failing), 200 requests a window: immediate rollback',
        world: { ...healthy(200), newPageDown: true },
        wanted: immediate,
        targetMinutes: evaluationEveryMinutes,
        target: 'at the first evaluation after the probe run that saw it',
      },
    ];
    for (const [index, regression] of regressions.entries()) {
      const found = detectionMinutes(regression.world, regression.wanted, 2000 + index);
      for (const rule of rules) {
        const times = found[rule];
        const within = times.filter((minutes) => minutes <= regression.targetMinutes).length;
        const share = (within / times.length) * 100;
        const verdict =
          rule !== 'evidence' || !Number.isFinite(regression.targetMinutes) ? '' : share >= 95 ? ': met' : ': MISSED';
        rows.push({
          case: `${regression.name}, ${ruleWords[rule]}: median time to detection`,
          figure: quantile(times, 0.5),
          unit: 'min',
          n: times.length,
          reference: `p95 ${minutesText(quantile(times, 0.95))}; ${Number.isFinite(regression.targetMinutes) ? `${share.toFixed(1)} % ${regression.target}${verdict}` : regression.target}`,
        });
      }
    }
    return rows;
  },
};
