import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { seedDemoData } from './demo-app/seed';
import { startDemoApp } from './demo-app/server';
import { localCredentials, startLocalAws } from './local-aws';
import { applyAppSchema, installPartitionFunctions, migrate } from './migrate';
import { startOutbox } from './outbox';
import { projectRoot } from './paths';
import { freePort } from './ports';
import { startEmbeddedPostgres } from './postgres';
import { demoProbeEnvironment } from './probe-config';
import { serviceFunctions } from './service';
import { serverlessBin, serverlessEnv } from './sls';
import { localStateDir, type StackInfo, stackInfoFile } from './stack-info';
import { startTraffic } from './traffic';

/*
 * `npm start`: the whole suite on this machine with no AWS account and no installed database.
 * PostgreSQL (embedded unless DATABASE_URL is set), S3, SNS and SQS (one fauxqs, its S3 behind the checksumming proxy), the demo app
 * with traffic, and every function through serverless-offline with its schedules and routes.
 * Ctrl-C stops everything it started.
 */

const print = (line: string) => process.stdout.write(`${line}\n`);
const stage = 'local';
const topicName = `vigil-${stage}-alerts`;
const smsDisplayName = 'VIGIL';
const backupBucket = `vigil-${stage}-backups`;
const randomPorts = process.argv.includes('--random-ports');

/** The usual port when free (so URLs stay the same between runs), another free one otherwise. */
async function portFor(preferred: number): Promise<number> {
  if (randomPorts) return freePort();
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => void freePort().then(resolve));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

function hasFunctions(): boolean {
  return Object.keys(serviceFunctions()).length > 0;
}

const stops: Array<{ name: string; stop: () => Promise<unknown> }> = [];
/** Process groups of children started detached; killed even if the process exits abruptly. */
const childGroups = new Set<number>();
process.on('exit', () => {
  for (const pid of childGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  print('\nstopping...');
  await rm(stackInfoFile, { force: true });
  for (const { name, stop } of stops.reverse()) {
    await stop().catch((error: Error) => print(`  ${name}: ${error.message}`));
  }
  print('stopped.');
  process.exit(code);
};

/** PostgreSQL: DATABASE_URL, or an embedded server with a `portfolio` database; migrated, the app's schema and demo data loaded. */
async function startDatabase(): Promise<string> {
  let databaseUrl: string;
  const given = process.env.DATABASE_URL;
  if (given) {
    databaseUrl = given;
    print(`postgres     DATABASE_URL (${new URL(given).host})`);
  } else {
    const postgres = await startEmbeddedPostgres({ dataDir: join(localStateDir, 'pg'), port: await portFor(54329) });
    stops.push({ name: 'postgres', stop: () => postgres.stop() });
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'portfolio'");
    if (!rowCount) await admin.query('CREATE DATABASE portfolio');
    await admin.end();
    const url = new URL(postgres.adminUrl);
    url.pathname = '/portfolio';
    databaseUrl = url.toString();
    print(`postgres     ${databaseUrl} (embedded, data in ${join(localStateDir, 'pg')})`);
  }
  const applied = await migrate(databaseUrl);
  await applyAppSchema(databaseUrl);
  await installPartitionFunctions(databaseUrl);
  const seedClient = new pg.Client({ connectionString: databaseUrl });
  await seedClient.connect();
  const seeded = await seedDemoData(seedClient).finally(() => seedClient.end());
  print(`schema       ${applied.length} migration(s) applied; demo data ${seeded ? 'loaded' : 'already present'}`);
  return databaseUrl;
}

/** The local S3, SNS and SQS, and the outbox that prints and keeps the alert topic's messages. */
async function startAws() {
  const s3Directory = join(localStateDir, 's3');
  const sns = await startLocalAws({
    topics: [topicName],
    buckets: [backupBucket],
    port: await portFor(4566),
    s3Port: await portFor(4569),
    s3StorageDir: s3Directory,
  });
  stops.push({ name: 'sns and s3', stop: () => sns.stop() });
  print(`s3           ${sns.s3Endpoint} (bucket ${backupBucket}, data in ${s3Directory}; checksums checked as S3 does)`);
  const topic = sns.topics[topicName];
  if (!topic) throw new Error('alert topic was not created');
  const outboxFile = join(localStateDir, 'outbox.jsonl');
  const outbox = startOutbox({
    endpoint: sns.endpoint,
    region: sns.region,
    queueUrl: topic.queueUrl,
    outboxFile,
    smsDisplayName,
    print,
  });
  stops.push({ name: 'outbox', stop: () => outbox.stop() });
  print(`sns          ${sns.endpoint} (topic ${topic.topicArn}; alerts printed here and appended to ${outboxFile})`);
  return { sns, topic, outboxFile };
}

/** The demo copy of the watched app, and its synthetic users' traffic unless turned off. */
async function startDemo(databaseUrl: string) {
  const demoAdminToken = process.env.VIGIL_DEMO_ADMIN_TOKEN ?? 'demo-admin';
  const demoApp = await startDemoApp({ databaseUrl, port: await portFor(4010), adminToken: demoAdminToken, background: true });
  stops.push({ name: 'demo app', stop: () => demoApp.stop() });
  print(
    `demo app     ${demoApp.url} (token: demo-token-1 ... demo-token-200; faults: PUT ${demoApp.url}/__demo/faults with token ${demoAdminToken})`,
  );
  const pageLoadsPerSecond = Number(process.env.VIGIL_DEMO_PAGE_LOADS_PER_SECOND ?? 2);
  if (pageLoadsPerSecond > 0) {
    const traffic = await startTraffic({ baseUrl: demoApp.url, databaseUrl, pageLoadsPerSecond });
    stops.push({ name: 'traffic', stop: () => traffic.stop() });
    print(`traffic      ${pageLoadsPerSecond} dashboard loads/s from demo users (VIGIL_DEMO_PAGE_LOADS_PER_SECOND=0 to stop)`);
  }
  return { demoApp, demoAdminToken };
}

/** Every function under serverless-offline, schedules running, with the local stack's environment; its HTTP URL. */
async function startFunctions(functionEnv: NodeJS.ProcessEnv, apiToken: string): Promise<string> {
  const httpPort = await portFor(3000);
  const lambdaPort = await portFor(3002);
  const offline: ChildProcess = spawn(
    serverlessBin,
    [
      'offline',
      'start',
      '--stage',
      stage,
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      '--localEnvironment',
    ],
    { cwd: projectRoot, env: functionEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let markReady: () => void = () => {};
  let markFailed: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
    offline.once('exit', (code) =>
      reject(new Error(`serverless-offline exited (${code}) before it was ready; see the lines above`)),
    );
    setTimeout(() => reject(new Error('serverless-offline was not ready within 120 s')), 120_000).unref();
  });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      print(`functions    ${line}`);
      if (line.includes('Server ready:')) markReady();
      // serverless-offline reports a failed start and keeps running; do not wait for it.
      if (/^\s*Error:/.test(line)) markFailed(new Error('serverless-offline failed to start; see the lines above'));
    }
  };
  childGroups.add(offline.pid as number);
  offline.once('exit', () => childGroups.delete(offline.pid as number));
  offline.stdout?.on('data', relay);
  offline.stderr?.on('data', relay);
  stops.push({
    name: 'serverless-offline',
    stop: () =>
      new Promise<void>((resolve) => {
        if (offline.exitCode !== null) return resolve();
        offline.once('exit', () => resolve());
        // Its own children (handler workers, esbuild) are in its process group.
        process.kill(-(offline.pid as number), 'SIGTERM');
        setTimeout(() => offline.exitCode === null && process.kill(-(offline.pid as number), 'SIGKILL'), 5000).unref();
      }),
  });
  await ready;
  const functionsUrl = `http://127.0.0.1:${httpPort}`;
  print(`functions    ${functionsUrl} (serverless-offline, schedules running; bearer token ${apiToken})`);
  return functionsUrl;
}

async function main() {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  await mkdir(localStateDir, { recursive: true });
  const databaseUrl = await startDatabase();
  const { sns, topic, outboxFile } = await startAws();
  const { demoApp, demoAdminToken } = await startDemo(databaseUrl);

  const apiToken = process.env.VIGIL_API_TOKEN ?? 'vigil-local-token';
  const functionEnv: NodeJS.ProcessEnv = {
    ...serverlessEnv(),
    DATABASE_URL: databaseUrl,
    AWS_ENDPOINT_URL_S3: sns.s3Endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_SQS: sns.endpoint,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_REGION: sns.region,
    VIGIL_ALERT_TOPIC_ARN: topic.topicArn,
    VIGIL_API_TOKEN: apiToken,
    VIGIL_DEMO_APP_URL: demoApp.url,
    BACKUP_BUCKET: backupBucket,
    ...demoProbeEnvironment(demoApp.url),
  };
  const functionsUrl = hasFunctions() ? await startFunctions(functionEnv, apiToken) : undefined;
  if (!functionsUrl) print('functions    none defined in serverless.yml yet');

  const info: StackInfo = {
    startedAt: new Date().toISOString(),
    pid: process.pid,
    databaseUrl,
    s3Endpoint: sns.s3Endpoint,
    snsEndpoint: sns.endpoint,
    alertTopicArn: topic.topicArn,
    backupBucket,
    demoAppUrl: demoApp.url,
    demoAdminToken,
    demoUserToken: 'demo-token-1',
    ...(functionsUrl ? { functionsUrl } : {}),
    apiToken,
    outboxFile,
  };
  print(`ready        stack described in ${stackInfoFile}; Ctrl-C stops everything`);
  // Written last: its presence tells other commands (and tests) that everything is up.
  await writeFile(stackInfoFile, `${JSON.stringify(info, null, 2)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`npm start failed: ${error.stack ?? error.message}\n`);
  void shutdown(1);
});
