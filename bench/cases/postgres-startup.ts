import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../local/postgres';
import { type BenchCase, median } from '../table';

const runs = 3;

/** The test harness's PostgreSQL: a fresh cluster (initdb + start), against restarting one. */
export const postgresStartup: BenchCase = {
  name: 'postgres-startup',
  async run() {
    const fresh: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      const server = await startEmbeddedPostgres({ fast: true });
      fresh.push(performance.now() - started);
      await server.stop();
    }
    const base = await mkdtemp(join(tmpdir(), 'vigil-bench-pg-'));
    const dataDir = join(base, 'data');
    const restart: number[] = [];
    try {
      const first = await startEmbeddedPostgres({ dataDir, fast: true });
      await first.stop();
      for (let run = 0; run < runs; run += 1) {
        const started = performance.now();
        const server = await startEmbeddedPostgres({ dataDir, fast: true });
        restart.push(performance.now() - started);
        await server.stop();
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
    return [
      {
        case: 'harness postgres start (initdb + start)',
        figure: median(fresh),
        unit: 'ms (median)',
        n: runs,
        reference: `restart of an initialised cluster: ${median(restart).toFixed(0)} ms median`,
      },
    ];
  },
};
