import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { probeConfig } from '../../functions/probe/config';
import { runProbes } from '../../functions/probe/run';
import { median } from '../../functions/probe/stats';
import { timedRequest } from '../../functions/probe/timing';
import { loadConfig } from '../../lib/config';
import { startProbeServer } from '../../test/support/probe-server';
import type { BenchCase, BenchRow } from '../table';

const samples = 15;

/** The probe's total and TTFB against curl's own -w timings of the same endpoint, interleaved. */
export const probeAccuracy: BenchCase = {
  name: 'probe-accuracy',
  async run(): Promise<BenchRow[]> {
    const server = await startProbeServer();
    const rows: BenchRow[] = [];
    try {
      for (const delayMs of [50, 200, 800]) {
        const url = `${server.url}/bytes?ttfb=${delayMs}&bytes=2048`;
        const curl = { total: [] as number[], ttfb: [] as number[] };
        const probe = { total: [] as number[], ttfb: [] as number[] };
        for (let index = 0; index < samples; index += 1) {
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
          curl.ttfb.push(ttfb as number);
          curl.total.push(total as number);
          const sample = await timedRequest({
            url,
            method: 'GET',
            headers: {},
            expectStatus: 200,
            timeoutMs: 5000,
            maxBytes: 1 << 20,
            maxRedirects: 0,
          });
          if (!sample.ok) throw new Error(`probe sample failed: ${sample.failure?.message}`);
          probe.ttfb.push(sample.phases.ttfbMs as number);
          probe.total.push(sample.phases.totalMs as number);
        }
        const [curlTotal, probeTotal, curlTtfb, probeTtfb] = [curl.total, probe.total, curl.ttfb, probe.ttfb].map(
          (values) => median(values) as number,
        );
        rows.push({
          case: `probe vs curl, ${delayMs} ms delay: |total difference|`,
          figure: Math.abs((probeTotal as number) - (curlTotal as number)),
          unit: 'ms (medians)',
          n: samples,
          reference: `curl total ${(curlTotal as number).toFixed(2)} ms, probe ${(probeTotal as number).toFixed(2)} ms; TTFB curl ${(curlTtfb as number).toFixed(2)} ms, probe ${(probeTtfb as number).toFixed(2)} ms (|diff| ${Math.abs((probeTtfb as number) - (curlTtfb as number)).toFixed(2)} ms); target <= 2 ms`,
        });
      }
    } finally {
      await server.stop();
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
