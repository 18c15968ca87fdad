import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { probeConfig } from '../../functions/probe/config';
import { runProbes } from '../../functions/probe/run';
import { timedRequest } from '../../functions/probe/timing';
import { loadConfig } from '../../lib/config';
import { startProbeServer } from '../../test/support/probe-server';
import { type BenchCase, type BenchRow, median } from '../table';

const samples = 15;
const delays = [50, 200, 800];
const bodies = [
  { label: '1 KB', bytes: 1024 },
  { label: '2 MB', bytes: 2 * 1024 * 1024 },
];

async function startServerChild(): Promise<{ url: string; child: ChildProcess }> {
  const root = join(import.meta.dirname, '../..');
  const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'bench/support/probe-server-child.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve),
  );
  return { url: line.trim(), child };
}

async function curlSample(url: string): Promise<{ ttfb: number; total: number }> {
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{time_starttransfer} %{time_total}',
    url,
  ]);
  const [ttfb, total] = stdout
    .trim()
    .split(' ')
    .map((seconds) => Number(seconds) * 1000);
  return { ttfb: ttfb as number, total: total as number };
}

async function probeSample(url: string): Promise<{ ttfb: number; total: number }> {
  const sample = await timedRequest({
    url,
    method: 'GET',
    headers: {},
    expectStatus: 200,
    timeoutMs: 5000,
    maxBytes: 5 << 20,
    maxRedirects: 0,
  });
  if (!sample.ok) throw new Error(`probe sample failed: ${sample.failure?.message}`);
  return { ttfb: sample.phases.ttfbMs as number, total: sample.phases.totalMs as number };
}

const range = (values: number[]) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;

/**
 * The probe's TTFB and total against curl's own -w timings of the same URL, at three delays and
 * two body sizes, all in one run: curl and the probe alternate sample by sample (which goes first
 * alternates too), against a server in its own process, as a target is in production.
 */
export const probeAccuracy: BenchCase = {
  name: 'probe-accuracy',
  async run(): Promise<BenchRow[]> {
    const server = await startServerChild();
    const rows: BenchRow[] = [];
    try {
      const cells = bodies.flatMap((body) => delays.map((delayMs) => ({ body, delayMs })));
      const readings = cells.map(() => ({
        curl: { ttfb: [] as number[], total: [] as number[] },
        probe: { ttfb: [] as number[], total: [] as number[] },
      }));
      // One sample of every cell per round, so drift over the run lands on every cell alike.
      for (let round = 0; round < samples; round += 1) {
        for (const [index, { body, delayMs }] of cells.entries()) {
          const url = `${server.url}/bytes?ttfb=${delayMs}&bytes=${body.bytes}`;
          const reading = readings[index] as (typeof readings)[number];
          const order = round % 2 === 0 ? (['curl', 'probe'] as const) : (['probe', 'curl'] as const);
          for (const who of order) {
            const sample = who === 'curl' ? await curlSample(url) : await probeSample(url);
            reading[who].ttfb.push(sample.ttfb);
            reading[who].total.push(sample.total);
          }
        }
      }
      for (const [index, { body, delayMs }] of cells.entries()) {
        const { curl, probe } = readings[index] as (typeof readings)[number];
        for (const phase of ['ttfb', 'total'] as const) {
          const difference = median(probe[phase]) - median(curl[phase]);
          rows.push({
            case: `probe vs curl, ${body.label} body, ${delayMs} ms delay: ${phase === 'ttfb' ? 'TTFB' : 'total'} difference`,
            figure: difference,
            unit: 'ms (medians)',
            n: samples,
            reference: `curl ${median(curl[phase]).toFixed(2)} ms (${range(curl[phase])}), probe ${median(probe[phase]).toFixed(2)} ms (${range(probe[phase])}); target |difference| <= 2 ms: ${Math.abs(difference) <= 2 ? 'met' : 'MISSED'}`,
          });
        }
      }
    } finally {
      server.child.kill();
    }
    return rows;
  },
};

/** 50 targets x 10 samples at once on loopback, against the slowest target's own samples. */
export const probeOverhead: BenchCase = {
  name: 'probe-overhead',
  async run(): Promise<BenchRow[]> {
    const server = await startProbeServer();
    try {
      const targets = Array.from({ length: 50 }, (_, index) => ({
        name: `t${index + 1}`,
        url: `${server.url}/bytes?ttfb=${10 + index}`,
        samples: 10,
      }));
      const { probe } = loadConfig([probeConfig], { PROBE_TARGETS: JSON.stringify(targets) });
      const started = performance.now();
      const summaries = await runProbes({
        ...probe,
        defaultBudget: { degradedMs: 800, failMs: 1000 },
        resolveToken: async () => undefined,
      });
      const wallMs = performance.now() - started;
      if (summaries.some((summary) => summary.successes !== 10)) throw new Error('a bench sample failed');
      // The slowest target's samples run one after another: the time they took is the floor of the run.
      const slowest = Math.max(...summaries.map((summary) => summary.sampleTimeMs));
      return [
        {
          case: 'probe 50 targets x 10 samples: wall time / slowest target',
          figure: wallMs / slowest,
          unit: 'ratio',
          n: 500,
          reference: `wall ${wallMs.toFixed(0)} ms; slowest target's 10 samples took ${slowest.toFixed(0)} ms; target <= 1.2`,
        },
      ];
    } finally {
      await server.stop();
    }
  },
};
