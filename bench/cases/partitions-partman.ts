import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { type LocalAws, startLocalAws } from '../../local/local-aws';
import { installPartitionFunctions, migrate } from '../../local/migrate';
import { freePort } from '../../local/ports';
import type { BenchCase, BenchRow } from '../table';

/*
 * Vigil's partitionMaintenance handler (alerts included) beside pg_partman 4.x's
 * run_maintenance_proc() on the same server and the same shape of tables: 50 tables of 36 monthly
 * partitions and a default each, one set per tool. Three passes, alternating the tools, n runs
 * each: nothing to do; one partition to create per table; one to drop per table. Needs Debian's
 * PostgreSQL 15 with postgresql-15-partman (PARTMAN_PG_BIN to point elsewhere); otherwise it says
 * why it measured nothing.
 */

const tables = 50;
const runs = 10;
const pgBin = process.env.PARTMAN_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const extensionControl = '/usr/share/postgresql/15/extension/pg_partman.control';

interface Cluster {
  url: string;
  stop(): void;
}

/** A throw-away cluster of Debian's PostgreSQL (the one pg_partman is built for), trusting local connections. */
async function startDebianCluster(): Promise<Cluster> {
  const root = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-partman-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const asPostgres = (command: string, args: string[]) => {
    if (root) {
      chownSync(
        dir,
        Number(execFileSync('id', ['-u', 'postgres']).toString()),
        Number(execFileSync('id', ['-g', 'postgres']).toString()),
      );
      return execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
    }
    return execFileSync(command, args, { stdio: 'pipe' });
  };
  const port = await freePort();
  asPostgres(join(pgBin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-instructions']);
  asPostgres(join(pgBin, 'pg_ctl'), [
    '-D',
    data,
    '-w',
    '-l',
    join(dir, 'log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c max_connections=50 -c max_locks_per_transaction=2048`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      asPostgres(join(pgBin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const monthName = (offset: number) => {
  const now = new Date();
  const date = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `${date.getUTCFullYear()}_${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
};

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median =
    sorted.length % 2
      ? (sorted[Math.floor(middle)] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
};

/** The same tables for both tools: pg_partman's parents, and Vigil's with a default partition and 36 managed months each. */
async function createBenchTables(admin: pg.Client): Promise<void> {
  await admin.query(`
    DO $$
    DECLARE start text := to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '32 months', 'YYYY-MM-DD');
    BEGIN
      FOR t IN 1..${tables} LOOP
        EXECUTE format('CREATE TABLE partman_log_%s (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', t);
        PERFORM partman.create_parent(format('public.partman_log_%s', t), 'at', 'native', 'monthly', p_premake := 3, p_start_partition := start, p_jobmon := false);
        EXECUTE format('CREATE TABLE vigil_log_%s (id bigserial, at timestamptz NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', t);
        EXECUTE format('CREATE TABLE vigil_log_%s_default PARTITION OF vigil_log_%s DEFAULT', t, t);
        FOR m IN -32..3 LOOP
          EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            'vigil_log_' || t || '_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m), 'YYYY_MM'),
            'vigil_log_' || t,
            (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m)) AT TIME ZONE 'UTC',
            (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m + 1)) AT TIME ZONE 'UTC');
          EXECUTE format('COMMENT ON TABLE %I IS %L', 'vigil_log_' || t || '_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m), 'YYYY_MM'), 'vigil: managed by partitionMaintenance');
        END LOOP;
      END LOOP;
    END $$`);
}

const time = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};

/** n alternating runs of both tools, each preceded by `reset` (not timed). */
async function pass(vigilRun: () => Promise<unknown>, partman: () => Promise<unknown>, reset: () => Promise<unknown>) {
  const vigil: number[] = [];
  const partmanTimes: number[] = [];
  for (let index = 0; index < runs; index += 1) {
    const order = index % 2 === 0 ? ['vigil', 'partman'] : ['partman', 'vigil'];
    await reset();
    for (const tool of order) {
      if (tool === 'vigil') vigil.push(await time(vigilRun));
      else partmanTimes.push(await time(partman));
    }
  }
  return { vigil: stats(vigil), partman: stats(partmanTimes) };
}

/** Each table's newest month dropped under both tools: the next run of each creates it again. */
function dropNewestMonth(admin: pg.Client) {
  const newest = monthName(3);
  return () =>
    admin.query(`DO $$ BEGIN FOR t IN 1..${tables} LOOP
        EXECUTE format('DROP TABLE IF EXISTS partman_log_%s_p${newest}', t);
        EXECUTE format('DROP TABLE IF EXISTS vigil_log_%s_${newest}', t);
      END LOOP; END $$`);
}

/** Each table's month past retention put back under both tools: the next run of each drops it again. */
function restoreOldestMonth(admin: pg.Client) {
  const oldest = monthName(-32);
  const oldestFrom = `date_trunc('month', now() AT TIME ZONE 'UTC') - interval '32 months'`;
  return () =>
    admin.query(`DO $$ BEGIN FOR t IN 1..${tables} LOOP
        IF to_regclass(format('partman_log_%s_p${oldest}', t)) IS NULL THEN
          EXECUTE format('CREATE TABLE partman_log_%s_p${oldest} PARTITION OF partman_log_%s FOR VALUES FROM (%L) TO (%L)', t, t,
            (${oldestFrom}) AT TIME ZONE 'UTC', (${oldestFrom} + interval '1 month') AT TIME ZONE 'UTC');
        END IF;
        IF to_regclass(format('vigil_log_%s_${oldest}', t)) IS NULL THEN
          EXECUTE format('CREATE TABLE vigil_log_%s_${oldest} PARTITION OF vigil_log_%s FOR VALUES FROM (%L) TO (%L)', t, t,
            (${oldestFrom}) AT TIME ZONE 'UTC', (${oldestFrom} + interval '1 month') AT TIME ZONE 'UTC');
          EXECUTE format('COMMENT ON TABLE vigil_log_%s_${oldest} IS %L', t, 'vigil: managed by partitionMaintenance');
        END IF;
      END LOOP; END $$`);
}

/** Vigil's handler over the bench's tables, keeping 31 months (retiring by drop) and 3 ahead: one run of it. */
async function vigilMaintenance(databaseUrl: string, sns: LocalAws): Promise<() => Promise<unknown>> {
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: sns.region,
    VIGIL_ALERT_TOPIC_ARN: sns.topics['vigil-bench-partitions']?.topicArn ?? '',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    PARTITION_TABLES: JSON.stringify(
      Array.from({ length: tables }, (_, index) => ({
        table: `vigil_log_${index + 1}`,
        premake: 3,
        retention: 31,
        retire: 'drop',
      })),
    ),
  });
  const { handler } = (await import('../../functions/partition-maintenance/handler')) as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };
  const context = {
    getRemainingTimeInMillis: () => 300_000,
    functionName: 'bench',
    awsRequestId: 'bench',
  } as unknown as Context;
  return () => handler({}, context);
}

export const partmanComparison: BenchCase = {
  name: 'partitions-partman',
  async run(): Promise<BenchRow[]> {
    if (!existsSync(join(pgBin, 'postgres')) || !existsSync(extensionControl)) {
      return [
        {
          case: 'partition maintenance beside pg_partman',
          figure: Number.NaN,
          unit: 'not measured',
          n: 0,
          reference: `needs PostgreSQL 15 at ${pgBin} and pg_partman (${extensionControl}): apt-get install postgresql-15 postgresql-15-partman`,
        },
      ];
    }
    const cluster = await startDebianCluster();
    const sns = await startLocalAws({ topics: ['vigil-bench-partitions'] });
    const admin = new pg.Client({ connectionString: cluster.url });
    try {
      await admin.connect();
      await admin.query('CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman');
      await migrate(cluster.url);
      await installPartitionFunctions(cluster.url);
      const { rows: version } = await admin.query<{ v: string }>(
        "SELECT extversion AS v FROM pg_extension WHERE extname = 'pg_partman'",
      );
      await createBenchTables(admin);
      const { rows: counted } = await admin.query<{ partman: number; vigil: number }>(
        `SELECT (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'partman_log_1'::regclass) AS partman,
                (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'vigil_log_1'::regclass) AS vigil`,
      );

      // Both tools keep 31 months (retiring by drop) and 3 ahead, so every pass asks the same of each.
      await admin.query("UPDATE partman.part_config SET retention = '31 months', retention_keep_table = false");
      const vigilRun = await vigilMaintenance(cluster.url, sns);
      const partman = () => admin.query('CALL partman.run_maintenance_proc(0, false, false)');
      const row = (label: string, result: { vigil: ReturnType<typeof stats>; partman: ReturnType<typeof stats> }): BenchRow => ({
        case: `partitions vs pg_partman ${version[0]?.v}, ${label}, ${tables} tables x ${counted[0]?.vigil}/${counted[0]?.partman} partitions`,
        figure: Math.round((result.vigil.median / result.partman.median) * 100) / 100,
        unit: 'x (Vigil / pg_partman, medians)',
        n: runs,
        reference: `Vigil handler ${result.vigil.median.toFixed(0)} ms (min ${result.vigil.min.toFixed(0)}, max ${result.vigil.max.toFixed(0)}); run_maintenance_proc ${result.partman.median.toFixed(0)} ms (min ${result.partman.min.toFixed(0)}, max ${result.partman.max.toFixed(0)}); target <= 1.0 x`,
      });

      // Warm both (the first runs drop the month past retention and fill caches).
      await vigilRun();
      await partman();
      const idle = await pass(vigilRun, partman, async () => {});
      const create = await pass(vigilRun, partman, dropNewestMonth(admin));
      const retire = await pass(vigilRun, partman, restoreOldestMonth(admin));
      return [
        row('nothing to do', idle),
        row('one partition created per table', create),
        row('one partition dropped per table', retire),
      ];
    } finally {
      await admin.end().catch(() => {});
      await sns.stop();
      cluster.stop();
    }
  },
};
