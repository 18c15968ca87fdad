import http from 'node:http';
import https from 'node:https';
import { probeUserAgent } from '../../lib/synthetic';
import type { ProbeScenario, ProbeTarget } from './config';
import { type Budget, type PageLoad, type ProbeSummary, summarizeScenario, summarizeTarget } from './summary';
import { type RequestSpec, type Sample, timedRequest } from './timing';

export interface ProbePlan {
  targets: ProbeTarget[];
  scenarios: ProbeScenario[];
  /** Targets probed at once (each takes its samples one after another); pages take their slots alone. */
  concurrency: number;
  defaultBudget: Budget;
  /** The bearer token of a target, from SSM, Secrets Manager or (locally) the literal. */
  resolveToken: (target: ProbeTarget) => Promise<string | undefined>;
  /** performance.now() by which every sample has ended: the rest are reported as not taken. */
  deadline?: number;
}

/**
 * Page slots: a page sample runs alone, with no target sample in flight, so the old and the new
 * page are measured without slowing each other or being slowed by the targets. Target samples
 * share the time between page slots. A waiting page goes first: no new target sample starts.
 */
class PageSlots {
  private targetsInFlight = 0;
  private pageWaiting = 0;
  private pageRunning = false;
  private wakers: Array<() => void> = [];

  private wake() {
    const waiting = this.wakers;
    this.wakers = [];
    for (const resume of waiting) resume();
  }

  /** Waits until `ready`, then `take`s the slot in the same synchronous step, so no one slips in between. */
  private async acquire(ready: () => boolean, take: () => void) {
    while (!ready()) await new Promise<void>((resume) => this.wakers.push(resume));
    take();
  }

  async target<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(
      () => !this.pageRunning && this.pageWaiting === 0,
      () => {
        this.targetsInFlight += 1;
      },
    );
    try {
      return await work();
    } finally {
      this.targetsInFlight -= 1;
      this.wake();
    }
  }

  async page<T>(work: () => Promise<T>): Promise<T> {
    this.pageWaiting += 1;
    await this.acquire(
      () => !this.pageRunning && this.targetsInFlight === 0,
      () => {
        this.pageWaiting -= 1;
        this.pageRunning = true;
      },
    );
    try {
      return await work();
    } finally {
      this.pageRunning = false;
      this.wake();
    }
  }
}

const notTakenReason = "not taken: the run's deadline had passed (samples x timeout did not fit the time left)";

/** A sample needs a few ms: a timer may fire a fraction of a ms early, and a sample with nothing left measures nothing. */
const pastDeadline = (deadline: number | undefined) => deadline !== undefined && deadline - performance.now() < 5;

async function requestSpec(target: ProbeTarget, resolveToken: ProbePlan['resolveToken']): Promise<RequestSpec> {
  const token = await resolveToken(target);
  return {
    url: target.url,
    method: target.method,
    headers: {
      'user-agent': probeUserAgent,
      accept: 'application/json',
      ...target.headers,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    expectStatus: target.expectStatus,
    assert: target.assert,
    timeoutMs: target.timeoutMs,
    maxBytes: target.maxBytes,
    maxRedirects: target.maxRedirects,
  };
}

/** Samples of one target, one after another, each on a new connection (as a first visit), each in a target slot. */
async function sampleTarget(
  spec: RequestSpec,
  samples: number,
  slots: PageSlots,
  deadline: number | undefined,
): Promise<{ taken: Sample[]; notTaken: number }> {
  const taken: Sample[] = [];
  for (let index = 0; index < samples; index += 1) {
    const sample = await slots.target(async () =>
      pastDeadline(deadline) ? undefined : timedRequest({ ...spec, runDeadline: deadline }),
    );
    if (!sample) return { taken, notTaken: samples - index };
    taken.push(sample);
  }
  return { taken, notTaken: 0 };
}

/**
 * One page load as a browser issues it: all requests at once over at most `connections` kept-alive
 * connections per host (parallel), or one after another on a kept-alive connection (serial). New
 * connections for every load: a browser returning after minutes has none open.
 */
async function loadPage(
  scenario: ProbeScenario,
  specs: Array<{ target: string; spec: RequestSpec }>,
  deadline: number | undefined,
): Promise<PageLoad> {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: scenario.connections }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: scenario.connections }),
  };
  const agentFor = (url: string) => agents[new URL(url).protocol as 'http:' | 'https:'];
  try {
    const requests: PageLoad['requests'] = [];
    const timed = (spec: RequestSpec) => timedRequest({ ...spec, runDeadline: deadline }, agentFor(spec.url));
    if (scenario.mode === 'serial') {
      for (const { target, spec } of specs) requests.push({ target, sample: await timed(spec) });
    } else {
      requests.push(...(await Promise.all(specs.map(async ({ target, spec }) => ({ target, sample: await timed(spec) })))));
    }
    const failed = requests.find((request) => !request.sample.ok);
    const start = Math.min(...requests.map((request) => request.sample.startedAt));
    const end = Math.max(...requests.map((request) => request.sample.endedAt));
    return failed
      ? {
          requests,
          loadTimeMs: null,
          failure: {
            kind: failed.sample.failure?.kind ?? 'network',
            message: `${failed.target}: ${failed.sample.failure?.message}`,
          },
        }
      : { requests, loadTimeMs: Math.round((end - start) * 1000) / 1000 };
  } finally {
    agents['http:'].destroy();
    agents['https:'].destroy();
  }
}

/** Runs work items with at most `limit` at once, keeping their order in the result. */
async function bounded<T>(limit: number, work: Array<() => Promise<T>>): Promise<T[]> {
  const results = new Array<T>(work.length);
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < work.length; index = next++) results[index] = await (work[index] as () => Promise<T>)();
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.length) }, lane));
  return results;
}

/**
 * The page slots in the order they are taken: the old and the new page alternate sample by sample
 * (old, new, old, new, ...), so drift over the run hits both alike; any other page follows.
 */
function pageSchedule(scenarios: ProbeScenario[]): ProbeScenario[] {
  const old = scenarios.find((scenario) => scenario.role === 'old');
  const fresh = scenarios.find((scenario) => scenario.role === 'new');
  const schedule: ProbeScenario[] = [];
  const pairs = Math.max(old?.samples ?? 0, fresh?.samples ?? 0);
  for (let index = 0; index < pairs; index += 1) {
    if (old && index < old.samples) schedule.push(old);
    if (fresh && index < fresh.samples) schedule.push(fresh);
  }
  for (const scenario of scenarios)
    if (scenario !== old && scenario !== fresh) for (let index = 0; index < scenario.samples; index += 1) schedule.push(scenario);
  return schedule;
}

/**
 * Every target and page of the plan: targets concurrently (bounded), pages one slot at a time,
 * alone; one summary each. With a deadline, no sample runs past it and the ones left are reported
 * as not taken.
 */
export async function runProbes(plan: ProbePlan): Promise<ProbeSummary[]> {
  const specs = new Map<string, RequestSpec>();
  for (const target of plan.targets) specs.set(target.name, await requestSpec(target, plan.resolveToken));
  const slots = new PageSlots();
  const { deadline } = plan;
  const pages = async () => {
    const loads = new Map<string, PageLoad[]>(plan.scenarios.map((scenario) => [scenario.name, []]));
    const notTaken = new Map<string, number>(plan.scenarios.map((scenario) => [scenario.name, 0]));
    for (const scenario of pageSchedule(plan.scenarios)) {
      const requestSpecs = scenario.requests.map((target) => ({ target, spec: specs.get(target) as RequestSpec }));
      const load = await slots.page(async () =>
        pastDeadline(deadline) ? undefined : loadPage(scenario, requestSpecs, deadline),
      );
      if (load) loads.get(scenario.name)?.push(load);
      else notTaken.set(scenario.name, (notTaken.get(scenario.name) ?? 0) + 1);
    }
    return plan.scenarios.map((scenario) =>
      withNotTaken(
        summarizeScenario(
          scenario.name,
          scenario.requests.length,
          loads.get(scenario.name) ?? [],
          scenario.budget ?? plan.defaultBudget,
        ),
        notTaken.get(scenario.name) ?? 0,
      ),
    );
  };
  const targets = bounded(
    plan.concurrency,
    plan.targets.map((target) => async () => {
      const { taken, notTaken } = await sampleTarget(specs.get(target.name) as RequestSpec, target.samples, slots, deadline);
      return withNotTaken(summarizeTarget(target.name, target.url, taken, target.budget ?? plan.defaultBudget), notTaken);
    }),
  );
  const [targetSummaries, pageSummaries] = await Promise.all([targets, pages()]);
  return [...targetSummaries, ...pageSummaries];
}

/** A summary that says how many of its samples the deadline left untaken (and is not measured when it took none). */
function withNotTaken(summary: ProbeSummary, notTaken: number): ProbeSummary {
  return notTaken === 0 ? summary : { ...summary, notTaken: { count: notTaken, reason: notTakenReason } };
}
