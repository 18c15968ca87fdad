import http from 'node:http';
import https from 'node:https';
import type { ProbeScenario, ProbeTarget } from './config';
import { type Budget, type PageLoad, type ProbeSummary, summarizeScenario, summarizeTarget } from './summary';
import { type RequestSpec, type Sample, timedRequest } from './timing';

export interface ProbePlan {
  targets: ProbeTarget[];
  scenarios: ProbeScenario[];
  /** Targets and scenarios probed at once (each takes its samples one after another). */
  concurrency: number;
  defaultBudget: Budget;
  /** The bearer token of a target, from SSM, Secrets Manager or (locally) the literal. */
  resolveToken: (target: ProbeTarget) => Promise<string | undefined>;
}

async function requestSpec(target: ProbeTarget, resolveToken: ProbePlan['resolveToken']): Promise<RequestSpec> {
  const token = await resolveToken(target);
  return {
    url: target.url,
    method: target.method,
    headers: {
      'user-agent': 'vigil-probe/1',
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

/** Samples of one target, one after another, each on a new connection (as a first visit). */
async function sampleTarget(spec: RequestSpec, samples: number): Promise<Sample[]> {
  const taken: Sample[] = [];
  for (let index = 0; index < samples; index += 1) taken.push(await timedRequest(spec));
  return taken;
}

/**
 * One page load as a browser issues it: all requests at once over at most `connections` kept-alive
 * connections per host (parallel), or one after another on a kept-alive connection (serial). New
 * connections for every load: a browser returning after minutes has none open.
 */
async function loadPage(scenario: ProbeScenario, specs: Array<{ target: string; spec: RequestSpec }>): Promise<PageLoad> {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: scenario.connections }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: scenario.connections }),
  };
  const agentFor = (url: string) => agents[new URL(url).protocol as 'http:' | 'https:'];
  try {
    const requests: PageLoad['requests'] = [];
    if (scenario.mode === 'serial') {
      for (const { target, spec } of specs) requests.push({ target, sample: await timedRequest(spec, agentFor(spec.url)) });
    } else {
      requests.push(
        ...(await Promise.all(
          specs.map(async ({ target, spec }) => ({ target, sample: await timedRequest(spec, agentFor(spec.url)) })),
        )),
      );
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

/** Every target and page scenario of the plan, probed concurrently (bounded); one summary each. */
export async function runProbes(plan: ProbePlan): Promise<ProbeSummary[]> {
  const specs = new Map<string, RequestSpec>();
  for (const target of plan.targets) specs.set(target.name, await requestSpec(target, plan.resolveToken));
  const work: Array<() => Promise<ProbeSummary>> = [
    ...plan.targets.map(
      (target) => async () =>
        summarizeTarget(
          target.name,
          target.url,
          await sampleTarget(specs.get(target.name) as RequestSpec, target.samples),
          target.budget ?? plan.defaultBudget,
        ),
    ),
    ...plan.scenarios.map((scenario) => async () => {
      const requestSpecs = scenario.requests.map((target) => ({ target, spec: specs.get(target) as RequestSpec }));
      const loads: PageLoad[] = [];
      for (let index = 0; index < scenario.samples; index += 1) loads.push(await loadPage(scenario, requestSpecs));
      return summarizeScenario(scenario.name, scenario.requests.length, loads, scenario.budget ?? plan.defaultBudget);
    }),
  ];
  return bounded(plan.concurrency, work);
}
