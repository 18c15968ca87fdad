import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeConfig } from '../../../functions/probe/config';
import { runProbes } from '../../../functions/probe/run';
import { loadConfig } from '../../../lib/config';
import { type ProbeServer, startProbeServer } from '../../support/probe-server';

describe('probe run', () => {
  let server: ProbeServer;

  beforeAll(async () => {
    server = await startProbeServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  const plan = (mode: 'parallel' | 'serial') => {
    const targets = Array.from({ length: 8 }, (_, index) => ({
      name: `call-${index + 1}`,
      url: `${server.url}/bytes?ttfb=100`,
      samples: 1,
    }));
    const { probe } = loadConfig([probeConfig], {
      PROBE_TARGETS: JSON.stringify(targets),
      PROBE_SCENARIOS: JSON.stringify([
        { name: 'page', requests: targets.map((target) => target.name), mode, connections: 6, samples: 2 },
      ]),
    });
    return { ...probe, defaultBudget: { degradedMs: 800, failMs: 1000 }, resolveToken: async () => undefined };
  };

  it('times a page as the critical path of its requests over six connections, not their sum', async () => {
    const summaries = await runProbes({ ...plan('parallel'), targets: plan('parallel').targets });
    const page = summaries.find((summary) => summary.name === 'page');
    expect(page).toMatchObject({ kind: 'scenario', calls: 8, samples: 2, successes: 2 });
    // Six requests at once, then two: two rounds of 100 ms, not eight.
    expect(page?.p50.value).toBeGreaterThanOrEqual(200);
    expect(page?.p50.value).toBeLessThan(400);
    expect(page?.loadTimeMeans).toBe('page critical path: first request start to last byte of the last request');
  });

  it('issues the requests one after another in serial mode', async () => {
    const page = (await runProbes(plan('serial'))).find((summary) => summary.name === 'page');
    expect(page?.p50.value).toBeGreaterThanOrEqual(800);
    expect(page?.budget.state).toBe('degraded');
  });

  it('reports each target with its phases and n, and keeps going when one fails', async () => {
    const { probe } = loadConfig([probeConfig], {
      PROBE_TARGETS: JSON.stringify([
        { name: 'fast', url: `${server.url}/bytes`, samples: 20 },
        { name: 'gone', url: 'http://127.0.0.1:1/', samples: 3 },
      ]),
    });
    const [fast, gone] = await runProbes({
      ...probe,
      defaultBudget: { degradedMs: 800, failMs: 1000 },
      resolveToken: async () => undefined,
    });
    expect(fast).toMatchObject({
      name: 'fast',
      samples: 20,
      successes: 20,
      successPercent: 100,
      budget: { statistic: 'p95', state: 'ok' },
    });
    expect(fast?.p95.n).toBe(20);
    expect(fast?.p99).toMatchObject({ value: null, reason: 'p99 needs at least 100 samples, 20 succeeded' });
    expect(fast?.phaseMediansMs?.total).toBeGreaterThan(0);
    expect(gone).toMatchObject({
      successes: 0,
      budget: { state: 'down', statistic: 'none', valueMs: null },
      failures: [{ kind: 'connect', count: 3 }],
    });
  });
});
