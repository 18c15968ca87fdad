import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('takes each page sample alone, old and new interleaved, with targets in between', async () => {
    // Target samples come on connections of their own (Connection: close), page loads on kept-alive ones.
    let targetsInFlight = 0;
    let pagesInFlight = 0;
    const overlaps: string[] = [];
    const pageRequests: string[] = [];
    const recorder = createServer((request: IncomingMessage, response: ServerResponse) => {
      const page = request.headers.connection === 'keep-alive';
      if (page) {
        pagesInFlight += 1;
        pageRequests.push(request.url ?? '');
      } else targetsInFlight += 1;
      if (pagesInFlight > 0 && targetsInFlight > 0) overlaps.push(request.url ?? '');
      setTimeout(() => {
        if (page) pagesInFlight -= 1;
        else targetsInFlight -= 1;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
      }, 15);
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    try {
      const { probe } = loadConfig([probeConfig], {
        PROBE_TARGETS: JSON.stringify(
          ['a', 'b', 'c', 'd'].map((name) => ({ name, url: `${base}/${name}`, samples: 8, timeoutMs: 2000 })),
        ),
        PROBE_SCENARIOS: JSON.stringify([
          { name: 'old', role: 'old', requests: ['a', 'b', 'c'], samples: 4 },
          { name: 'new', role: 'new', requests: ['d'], samples: 4 },
        ]),
      });
      const summaries = await runProbes({
        ...probe,
        defaultBudget: { degradedMs: 800, failMs: 1000 },
        resolveToken: async () => undefined,
      });
      expect(summaries.map((summary) => `${summary.name} ${summary.successes}/${summary.samples}`)).toEqual([
        'a 8/8',
        'b 8/8',
        'c 8/8',
        'd 8/8',
        'old 4/4',
        'new 4/4',
      ]);
      expect(overlaps).toEqual([]);
      const order = pageRequests
        .map((url) => (url === '/d' ? 'new' : 'old'))
        .filter((page, index, all) => index === 0 || all[index - 1] !== page);
      expect(order).toEqual(['old', 'new', 'old', 'new', 'old', 'new', 'old', 'new']);
    } finally {
      recorder.closeAllConnections();
      await new Promise((resolve) => recorder.close(resolve));
    }
  });

  it('stops at the deadline: a hung target is cut off there and its other samples are not taken', async () => {
    const { probe } = loadConfig([probeConfig], {
      PROBE_TARGETS: JSON.stringify([{ name: 'hung', url: `${server.url}/json?ttfb=60000`, samples: 5, timeoutMs: 10_000 }]),
    });
    const started = performance.now();
    const [hung] = await runProbes({
      ...probe,
      defaultBudget: { degradedMs: 800, failMs: 1000 },
      resolveToken: async () => undefined,
      deadline: started + 300,
    });
    expect(performance.now() - started).toBeLessThan(800);
    expect(hung).toMatchObject({
      samples: 1,
      successes: 0,
      notTaken: { count: 4, reason: expect.stringContaining("the run's deadline") },
      budget: { state: 'down' },
    });
    expect(hung?.failures[0]?.example).toMatch(/^no response headers within the run's deadline/);
  });
});
