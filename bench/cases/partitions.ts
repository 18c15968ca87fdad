import pg from 'pg';
import { partitionsConfig } from '../../functions/partition-maintenance/config';
import { maintainTable } from '../../functions/partition-maintenance/maintain';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { installPartitionFunctions, migrate } from '../../local/migrate';
import { startEmbeddedPostgres } from '../../local/postgres';
import type { BenchCase, BenchRow } from '../table';

const tables = 50;
const partitionsPerTable = 36;

/**
 * An idempotent run over 50 tables of 36 monthly partitions each; then a run that creates one
 * partition per table while an app keeps inserting, against the same inserts without a run.
 */
export const partitionMaintenanceBench: BenchCase = {
  name: 'partitions',
  // Over 80 lines: the bench case's rounds in order, as docs/benchmarks.md describes them.
  async run(): Promise<BenchRow[]> {
    const server = await startEmbeddedPostgres({ fast: true });
    const db = createDatabase(loadConfig(['database'], { DATABASE_URL: server.adminUrl, DATABASE_POOL_MAX: '2' }).database);
    const app = new pg.Client({ connectionString: server.adminUrl });
    try {
      await migrate(server.adminUrl);
      await installPartitionFunctions(server.adminUrl);
      await app.connect();
      await app.query(`
        DO $$
        BEGIN
          FOR t IN 1..${tables} LOOP
            EXECUTE format('CREATE TABLE bench_log_%s (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', t);
            FOR m IN -${partitionsPerTable - 4}..3 LOOP
              EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                'bench_log_' || t || '_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m), 'YYYY_MM'),
                'bench_log_' || t,
                (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m)) AT TIME ZONE 'UTC',
                (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m + 1)) AT TIME ZONE 'UTC');
              EXECUTE format('COMMENT ON TABLE %I IS %L', 'bench_log_' || t || '_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m), 'YYYY_MM'), 'vigil: managed by partitionMaintenance');
            END LOOP;
          END LOOP;
        END $$`);
      const options = { lockTimeoutMs: 2000, moveIntervalsPerRun: 12, lockAlertRuns: 3 };
      const entries = (premake: number) =>
        loadConfig([partitionsConfig], {
          PARTITION_TABLES: JSON.stringify(
            Array.from({ length: tables }, (_, index) => ({ table: `bench_log_${index + 1}`, premake })),
          ),
        }).partitions.tables;
      const now = new Date();
      const idempotent: number[] = [];
      for (let run = 0; run < 3; run += 1) {
        const started = performance.now();
        for (const entry of entries(3)) {
          const report = await maintainTable(db, entry, now, options);
          if (report.steps.length > 0 || report.error) throw new Error(`not idempotent: ${JSON.stringify(report)}`);
        }
        idempotent.push(performance.now() - started);
      }
      // The app's inserts, one at a time, into the current month of table 1, for a fixed time.
      const insertLatencies = async (durationMs: number) => {
        const latencies: number[] = [];
        const until = performance.now() + durationMs;
        while (performance.now() < until) {
          const started = performance.now();
          await app.query("INSERT INTO bench_log_1 (at, note) VALUES (now(), 'app')");
          latencies.push(performance.now() - started);
        }
        return latencies;
      };
      const baseline = await insertLatencies(1500);
      let createRunMs = 0;
      const during = await Promise.all([
        insertLatencies(1500),
        (async () => {
          const started = performance.now();
          for (const entry of entries(4)) await maintainTable(db, entry, now, options);
          createRunMs = performance.now() - started;
        })(),
      ]).then(([latencies]) => latencies);
      const max = (values: number[]) => Math.max(...values);
      return [
        {
          case: `partition maintenance, idempotent run, ${tables} tables x ${partitionsPerTable} partitions`,
          figure: idempotent.sort((a, b) => a - b)[1] as number,
          unit: 'ms (median)',
          n: 3,
          reference: 'target <= 2000 ms',
        },
        {
          case: 'worst app insert during a run creating 50 partitions',
          figure: max(during),
          unit: 'ms',
          n: during.length,
          reference: `same inserts without a run: worst ${max(baseline).toFixed(1)} ms (n=${baseline.length}); the run took ${createRunMs.toFixed(0)} ms; lock_timeout ${options.lockTimeoutMs} ms`,
        },
      ];
    } finally {
      await app.end().catch(() => {});
      await db.end();
      await server.stop();
    }
  },
};
