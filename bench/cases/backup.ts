import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../local/postgres';
import { type BenchCase, type BenchRow, median } from '../table';

const root = join(__dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const bucket = 'bench-backups';

/** Rows shaped like the app's request log (~110 bytes each with their index entries). */
async function fill(url: string, rows: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS request_log (
      id bigserial PRIMARY KEY, at timestamptz NOT NULL, endpoint text NOT NULL, status int NOT NULL,
      response_ms double precision NOT NULL, user_id uuid, note text)`);
    const batch = 1_000_000;
    for (let done = 0; done < rows; done += batch) {
      await client.query(
        `INSERT INTO request_log (at, endpoint, status, response_ms, user_id, note)
         SELECT now() - g * interval '1 second', '/api/portfolio/' || (g % 9), 200 + (g % 7 = 0)::int * 300,
                random() * 2000, md5(g::text)::uuid, CASE WHEN g % 5 = 0 THEN md5(random()::text) END
           FROM generate_series($1::bigint, $2::bigint) g`,
        [done + 1, Math.min(rows, done + batch)],
      );
    }
    await client.query('VACUUM ANALYZE request_log');
    const { rows: size } = await client.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes');
    return Number(size[0]?.bytes);
  } finally {
    await client.end();
  }
}

async function referenceDumpMs(url: string): Promise<number> {
  const started = performance.now();
  await promisify(execFile)('pg_dump', ['-Fc', '--no-sync', '-f', '/dev/null', url], { maxBuffer: 1024 * 1024 });
  return performance.now() - started;
}

interface ChildReport {
  outcome: string;
  failure?: unknown;
  sizeBytes: number;
  wallMs: number;
  maxRssBytes: number;
}

async function backupInChild(url: string, s3Endpoint: string): Promise<ChildReport> {
  const { stdout } = await promisify(execFile)(tsx, [join(root, 'bench/support/backup-child.ts')], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      BACKUP_BUCKET: bucket,
      AWS_ENDPOINT_URL_S3: s3Endpoint,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      DATABASE_STATEMENT_TIMEOUT_MS: '600000',
      POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChildReport;
  if (report.outcome !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(report.failure)}`);
  return report;
}

async function startS3Child(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(tsx, [join(root, 'bench/support/s3-child.ts'), bucket], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve),
  );
  return { endpoint: line.trim(), child };
}

/**
 * The backup of a ~1 GB database into a local S3 server (own process) against `pg_dump -Fc -f
 * /dev/null` of the same database in the same run, and the backup process's peak RSS at two sizes.
 */
export const backupThroughput: BenchCase = {
  name: 'backup',
  async run(): Promise<BenchRow[]> {
    const server = await startEmbeddedPostgres({ fast: true });
    const s3 = await startS3Child();
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    const urlFor = (name: string) => {
      const url = new URL(server.adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    };
    try {
      await admin.query('CREATE DATABASE bench_small');
      await admin.query('CREATE DATABASE bench_large');
      const smallBytes = await fill(urlFor('bench_small'), 800_000);
      const largeBytes = await fill(urlFor('bench_large'), 8_000_000);
      const references: number[] = [];
      const backups: ChildReport[] = [];
      for (let round = 0; round < 2; round += 1) {
        references.push(await referenceDumpMs(urlFor('bench_large')));
        backups.push(await backupInChild(urlFor('bench_large'), s3.endpoint));
      }
      const small = await backupInChild(urlFor('bench_small'), s3.endpoint);
      const referenceMs = median(references);
      const backupMs = median(backups.map((report) => report.wallMs));
      const mib = (bytes: number) => bytes / 1024 / 1024;
      return [
        {
          case: `backup of ${(largeBytes / 1e9).toFixed(2)} GB: speed vs pg_dump -Fc -f /dev/null`,
          figure: referenceMs / backupMs,
          unit: 'x',
          n: 2,
          reference: `pg_dump to /dev/null ${(referenceMs / 1000).toFixed(1)} s, backup (dump, upload, read-back, manifest) ${(backupMs / 1000).toFixed(1)} s; dump ${mib(backups[0]?.sizeBytes ?? 0).toFixed(0)} MiB (target >= 0.85)`,
        },
        {
          case: `backup peak RSS, ${(largeBytes / 1e9).toFixed(2)} GB database`,
          figure: mib(Math.max(...backups.map((report) => report.maxRssBytes))),
          unit: 'MiB',
          n: 2,
          reference: 'the Node process (pg_dump runs apart) (target < 256)',
        },
        {
          case: `backup peak RSS, ${(smallBytes / 1e9).toFixed(2)} GB database`,
          figure: mib(small.maxRssBytes),
          unit: 'MiB',
          n: 1,
          reference: `same code, a tenth of the data: RSS must not grow with size`,
        },
      ];
    } finally {
      await admin.end();
      s3.child.kill();
      await server.stop();
    }
  },
};
