import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import routing from '../lib/alerts/routing.json' with { type: 'json' };
import { isMainModule } from './cli';
import { seedDemoData } from './demo-app/seed';
import { type DemoApp, startDemoApp } from './demo-app/server';
import { lambdaContext } from './lambda-context';
import { type LocalAws, localCredentials, startLocalAws } from './local-aws';
import { applyAppSchema, installPartitionFunctions, migrate } from './migrate';
import { type DeliveredAlert, drainDelivered } from './outbox';
import { type RunningPostgres, startEmbeddedPostgres } from './postgres';
import { demoProbeEnvironment } from './probe-config';
import { seededRandom } from './seeded-random';
import { localParams, serviceFunctions } from './service';
import { loadDashboard, type TrafficStats } from './traffic';

/*
 * `npm run demo`: the rollout of the source documents, played on this machine with the demo app and
 * Vigil's own handlers, chapter by chapter. Every figure printed is measured in this run; the
 * returned report carries the same figures for the end-to-end test.
 *
 * Two things are modelled, and said so in the output:
 * - Time is compressed: a scheduled evaluation every 5 minutes sees the last 5 minutes of requests;
 *   the demo takes seconds. Before each evaluation of chapters 4 and 5 the request log so far is
 *   moved back one hour, as if that time had passed, so each evaluation sees its own traffic.
 * - The network: on loopback eight calls cost what one does. The demo app adds a round trip of
 *   networkRoundTripMs to every API response, as a user's browser over the internet would see.
 */

const topicName = 'vigil-local-alerts';
const bucket = 'vigil-local-backups';
const users = 120;
const adoptedUsers = 96; // 80 %, the rollout's feature flag
const networkRoundTripMs = 50;

export interface DemoReport {
  baseline: { oldP50Ms: number | null; oldP95Ms: number | null; oldCalls: number; decision: string };
  newPage: {
    adoptionPercent: number | null;
    newP50Ms: number | null;
    newP95Ms: number | null;
    oldP50Ms: number | null;
    apiCallReductionPercent: number;
    reductionVsOldP50Percent: number | null;
    reductionVsBaselineP50Percent: number | null;
  };
  cache: { windows: Array<{ lookups: number | null; hitRatioPercent: number | null }>; targetPercent: number };
  spike: { decisions: Array<{ errorRatePercent: number | null; action: string; effective: string; tier: number | null }> };
  recovery: { decisions: Array<{ errorRatePercent: number | null; action: string; effective: string }> };
  alerts: Record<'baseline' | 'newPage' | 'cache' | 'spike' | 'recovery' | 'backup' | 'partitions', DeliveredAlert[]>;
  backup: { key: string; sizeBytes: number; durationMs: number; tocEntries: number; tables: number };
  restore: { outcome: string; tables: number; mismatches: number; durationMs: number };
  partitions: Array<{ table: string; created: number; futurePartitions: number | null }>;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const fixed = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined ? 'n/a' : value.toFixed(digits);

type ProbeResult = {
  summaries: Array<{ name: string; calls: number; p50: { value: number | null }; p95: { value: number | null } }>;
  comparison?: {
    apiCallReductionPercent: number;
    callsOld: number;
    callsNew: number;
    baselineMs: number;
    loadTimeMs: { old: { p50: number | null; p95: number | null }; new: { p50: number | null; p95: number | null } };
    reductionVsBaselinePercent: { p50: number | null };
    reductionVsMeasuredOldPercent: { p50: number | null };
  };
};
type Decision = {
  action: string;
  reasons: string[];
  scheduled: { effective: string; note: string };
  tier: { tier: number; name: string; approval: string } | null;
  signals: Array<{ name: string; value: number | null }>;
};

/** The stack a demo runs on: a database of its own (and a scratch one for the restore), local SNS and S3, the demo app. */
interface DemoStack {
  databaseName: string;
  scratchName: string;
  databaseUrl: string;
  scratchUrl: string;
  db: pg.Client;
  sns: LocalAws;
  app: DemoApp;
}

async function startDemoStack(adminUrlGiven: string | undefined, stops: Array<() => Promise<unknown>>): Promise<DemoStack> {
  let adminUrl = adminUrlGiven;
  if (!adminUrl) {
    const postgres: RunningPostgres = await startEmbeddedPostgres({ fast: true });
    stops.push(() => postgres.stop());
    adminUrl = postgres.adminUrl;
  }
  const databaseName = `vigil_demo_${process.pid}`;
  const scratchName = `${databaseName}_restored`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${databaseName}`);
  stops.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${scratchName} WITH (FORCE)`);
    await admin.end();
  });
  const urlOf = (name: string) => {
    const url = new URL(adminUrl as string);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const databaseUrl = urlOf(databaseName);
  await migrate(databaseUrl);
  await applyAppSchema(databaseUrl);
  await installPartitionFunctions(databaseUrl);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  stops.push(() => db.end());
  await seedDemoData(db, { users, transactionsPerUser: 40, adoptionPercent: 0 });

  const sns: LocalAws = await startLocalAws({ topics: [topicName] });
  stops.push(() => sns.stop());
  const s3 = new S3Client({ region: sns.region, endpoint: sns.endpoint, forcePathStyle: true, credentials: localCredentials });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const app: DemoApp = await startDemoApp({ databaseUrl, adminToken: 'demo-admin' });
  stops.push(() => app.stop());
  app.setFaults({ latencyMs: networkRoundTripMs });
  return { databaseName, scratchName, databaseUrl, scratchUrl: urlOf(scratchName), db, sns, app };
}

/** The functions' environment, as serverless.yml and the local stack give it. */
function demoEnvironment(stack: DemoStack): ReturnType<typeof localParams> {
  const { databaseUrl, sns, app } = stack;
  const params = localParams();
  Object.assign(process.env, {
    VIGIL_STAGE: 'local',
    DATABASE_URL: databaseUrl,
    AWS_ENDPOINT_URL_S3: sns.s3Endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_REGION: sns.region,
    VIGIL_ALERT_TOPIC_ARN: sns.topics[topicName]?.topicArn,
    CACHE_COUNTERS_QUERY: params.cacheCountersQuery,
    ROLLBACK_WINDOW_MINUTES: '5',
    ROLLBACK_ADOPTION_QUERY: params.rollbackAdoptionQuery,
    ROLLBACK_COMPLAINTS_QUERY: params.rollbackComplaintsQuery,
    PARTITION_TABLES: params.partitionTables,
    BACKUP_BUCKET: bucket,
    BACKUP_VERIFY_DATABASE_URL: stack.scratchUrl,
    // One embedded server holds both; deployed, the scratch database has a server of its own.
    BACKUP_VERIFY_ALLOW_SAME_SERVER: 'true',
    // The story is printed here; the handlers' own logs would drown it (errors still show).
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...demoProbeEnvironment(app.url),
  });
  return params;
}

/** Runs a function of serverless.yml in this process, as Lambda would call it. */
function demoInvoker(): (name: string, event?: unknown) => Promise<unknown> {
  const functions = serviceFunctions();
  return async (name, event = {}) => {
    const definition = functions[name];
    if (!definition) throw new Error(`no function ${name} in serverless.yml`);
    const module = (await import(`../${definition.handlerFile}`)) as Record<string, Handler>;
    // Powertools warns on every run that publishes no metric; metrics are off here on purpose.
    const streams = [process.stdout, process.stderr] as const;
    const writes = streams.map((stream) => stream.write);
    for (const [index, stream] of streams.entries()) {
      const write = writes[index] as typeof stream.write;
      stream.write = ((chunk: unknown, ...rest: unknown[]) =>
        String(chunk).startsWith('No application metrics to publish')
          ? true
          : (write as (...args: unknown[]) => boolean).call(stream, chunk, ...rest)) as typeof stream.write;
    }
    try {
      return await (module[definition.exportName] as Handler)(
        event,
        lambdaContext(name, definition.timeoutSeconds, definition.memorySize),
      );
    } finally {
      for (const [index, stream] of streams.entries()) stream.write = writes[index] as typeof stream.write;
    }
  };
}

/** What the chapters share: the stack, its traffic, the passing of time, the alerts delivered. */
interface DemoStage {
  print: (line: string) => void;
  db: pg.Client;
  app: DemoApp;
  traffic: (pageLoads: number, pick: (index: number) => number) => Promise<TrafficStats>;
  hourPasses: () => Promise<void>;
  showAlerts: () => Promise<DeliveredAlert[]>;
  decide: () => Promise<Decision>;
  invoke: (name: string, event?: unknown) => Promise<unknown>;
  chapter: (title: string) => void;
}

function demoStage(stack: DemoStack, print: (line: string) => void): DemoStage {
  const { db, app, sns } = stack;
  const invoke = demoInvoker();
  const traffic = async (pageLoads: number, pick: (index: number) => number) => {
    const { rows } = await db.query<{ number: number; adopted: boolean }>(
      `SELECT substring(email FROM '^user([0-9]+)@')::int AS number, uses_new_dashboard AS adopted FROM users`,
    );
    const byNumber = new Map(rows.map((row) => [row.number, row]));
    const stats: TrafficStats = { pageLoads: 0, requests: 0, failedRequests: 0 };
    for (let start = 0; start < pageLoads; start += 10) {
      const batch = Array.from({ length: Math.min(10, pageLoads - start) }, (_, offset) => byNumber.get(pick(start + offset)));
      await Promise.all(batch.map((user) => (user ? loadDashboard(app.url, user, stats) : undefined)));
    }
    await app.flush();
    return stats;
  };
  // An hour passes for the request log and for what the decision has counted of it, so the next
  // evaluation reads new requests as one an hour later would.
  const hourPasses = async () => {
    await db.query(`UPDATE api_performance_log SET "timestamp" = "timestamp" - interval '1 hour'`);
    await db.query(`UPDATE vigil.rollback_state SET confirmed_through = confirmed_through - interval '1 hour'`);
  };
  const showAlerts = async () => {
    const delivered = await drainDelivered(sns, topicName);
    for (const alert of delivered) {
      const severity = alert.attributes.severity ?? '';
      const bySms = (routing.sms.severity as string[]).includes(severity);
      print(`  ┌ ${alert.attributes.notification ?? 'alert'} (${severity}) to email${bySms ? ' and SMS' : ''}`);
      print(`  │ EMAIL Subject: ${alert.subject ?? '(none)'}`);
      for (const line of alert.email.split('\n')) print(`  │   ${line}`);
      print(`  │ SMS   ${bySms ? alert.sms : `(none: ${severity} goes to email only, lib/alerts/routing.json)`}`);
      print('  └');
    }
    if (delivered.length === 0) print('  (no alert)');
    return delivered;
  };
  return {
    print,
    db,
    app,
    traffic,
    hourPasses,
    showAlerts,
    invoke,
    decide: async () =>
      (await invoke('rollbackDecision', { source: 'aws.events', 'detail-type': 'Scheduled Event' })) as Decision,
    chapter: (title: string) => print(`\n== ${title} ${'='.repeat(Math.max(0, 90 - title.length))}`),
  };
}

const errorRateOf = (decision: Decision) => decision.signals.find((signal) => signal.name === 'errorRatePercent')?.value ?? null;

/** 1. Everyone on the old dashboard: the probe, the first cache run, the decision. */
async function baselineChapter(stage: DemoStage) {
  const { print, traffic, showAlerts, decide, chapter, invoke } = stage;
  chapter('1. Healthy baseline: everyone on the old dashboard (8 API calls per load)');
  const stats = await traffic(40, (index) => 1 + (index % users));
  print(`  traffic: ${stats.pageLoads} page loads, ${stats.requests} requests, ${stats.failedRequests} failed`);
  const baselineProbe = (await invoke('probe')) as ProbeResult;
  const oldPage = baselineProbe.summaries.find((summary) => summary.name === 'dashboard-old');
  print(
    `  probe: old page p50 ${fixed(oldPage?.p50.value)} ms, p95 ${fixed(oldPage?.p95.value)} ms, ${oldPage?.calls} calls per load`,
  );
  await invoke('cacheEfficiency');
  print('  cacheEfficiency: first run, counters recorded (a ratio needs two runs)');
  const baselineDecision = await decide();
  print(`  rollback decision: ${baselineDecision.action} (${baselineDecision.reasons.join('; ')})`);
  return { oldPage, baselineDecision, alerts: await showAlerts() };
}

/** 2. The new page for most users: adoption and the probe's comparison. */
async function newPageChapter(stage: DemoStage, params: ReturnType<typeof localParams>) {
  const { print, db, showAlerts, chapter, invoke } = stage;
  chapter(`2. The new page enabled for ${adoptedUsers} of ${users} users (1 API call per load)`);
  await db.query(`UPDATE users SET uses_new_dashboard = substring(email FROM '^user([0-9]+)@')::int <= $1`, [adoptedUsers]);
  const { rows: adoption } = await db.query<{ value: string }>(
    (params.rollbackAdoptionQuery as string).replace(/, count\(\*\) AS sample_count/, ''),
  );
  const adoptionPercent = adoption[0] ? Number(adoption[0].value) : null;
  print(`  adoption (ROLLBACK_ADOPTION_QUERY): ${fixed(adoptionPercent, 1)} %`);
  const probe = (await invoke('probe')) as ProbeResult;
  const comparison = probe.comparison;
  if (!comparison) throw new Error('the probe compared no old and new page');
  print(
    `  probe: new page p50 ${fixed(comparison.loadTimeMs.new.p50)} ms, p95 ${fixed(comparison.loadTimeMs.new.p95)} ms; old page p50 ${fixed(comparison.loadTimeMs.old.p50)} ms, p95 ${fixed(comparison.loadTimeMs.old.p95)} ms`,
  );
  print(
    `  API calls per load ${comparison.callsOld} -> ${comparison.callsNew}: ${fixed(comparison.apiCallReductionPercent, 1)} % fewer; load time p50 ${fixed(comparison.reductionVsMeasuredOldPercent.p50, 1)} % under the old page, ${fixed(comparison.reductionVsBaselinePercent.p50, 1)} % under the ${comparison.baselineMs} ms baseline of the source documents`,
  );
  return { adoptionPercent, comparison, alerts: await showAlerts() };
}

/** 3. The cache warms, window by window, until it meets its target. */
async function cacheChapter(stage: DemoStage) {
  const { print, traffic, showAlerts, chapter, invoke } = stage;
  chapter('3. The user_performance cache warms up (window by window, counters deltas)');
  const random = seededRandom(2026);
  const windows: DemoReport['cache']['windows'] = [];
  let targetPercent = 85;
  for (let window = 1; window <= 6; window += 1) {
    const stats = await traffic(150, () => 1 + Math.floor(random() * adoptedUsers));
    const result = (await invoke('cacheEfficiency')) as {
      targetHitRatioPercent: number;
      primarySource: string;
      windows: Array<{ source: string; state: string; lookups: number | null; hitRatioPercent?: number; reason?: string }>;
    };
    targetPercent = result.targetHitRatioPercent;
    const primary = result.windows.find((candidate) => candidate.source === result.primarySource);
    const ratio = primary?.state === 'ok' ? (primary.hitRatioPercent ?? null) : null;
    windows.push({ lookups: primary?.lookups ?? null, hitRatioPercent: ratio });
    print(
      `  window ${window}: ${stats.pageLoads} page loads, ${primary?.lookups ?? 0} cache lookups, hit ratio ${ratio === null ? `not measured (${primary?.reason})` : `${fixed(ratio, 1)} %`} (target ${targetPercent} %)`,
    );
    if (ratio !== null && ratio >= targetPercent) break;
  }
  return { windows, targetPercent, alerts: await showAlerts() };
}

/** 4. An error spike, 5 % then 15 %: staged, then immediate. */
async function spikeChapter(stage: DemoStage) {
  const { print, app, traffic, hourPasses, showAlerts, decide, chapter } = stage;
  // Each evaluation reads about 300 requests: 5 % of them is evidence over 2 % (staged) and not
  // over 5 %; 15 % is evidence over 5 % (immediate). 3 % of 300 would show nothing yet.
  chapter('4. An error spike: 5 % of API requests fail, then 15 %');
  const spike: DemoReport['spike']['decisions'] = [];
  const spikeRound = async (errorRatePercent: number) => {
    await hourPasses();
    app.setFaults({ errorRatePercent });
    const stats = await traffic(120, (index) => 1 + (index % users));
    const decision = await decide();
    spike.push({
      errorRatePercent: errorRateOf(decision),
      action: decision.action,
      effective: decision.scheduled.effective,
      tier: decision.tier?.tier ?? null,
    });
    print(
      `  fault ${errorRatePercent} %: ${stats.requests} requests, ${stats.failedRequests} failed; measured error rate ${fixed(errorRateOf(decision), 2)} % -> now ${decision.action}, scheduled ${decision.scheduled.effective}${decision.tier ? `, tier ${decision.tier.tier} (${decision.tier.name}, approval: ${decision.tier.approval})` : ''}`,
    );
  };
  await spikeRound(5);
  await spikeRound(5);
  await spikeRound(15);
  return { spike, alerts: await showAlerts() };
}

/** 5. The fault fixed: evaluations until the decision clears. */
async function recoveryChapter(stage: DemoStage) {
  const { print, app, traffic, hourPasses, showAlerts, decide, chapter } = stage;
  chapter('5. Recovery: the fault is fixed, the signals calm down');
  app.setFaults({ errorRatePercent: 0 });
  const recovery: DemoReport['recovery']['decisions'] = [];
  for (let round = 1; round <= 6; round += 1) {
    await hourPasses();
    // Enough requests without an error to show the error rate under 1 % (299 at least).
    await traffic(150, (index) => 1 + (index % users));
    const decision = await decide();
    recovery.push({
      errorRatePercent: errorRateOf(decision),
      action: decision.action,
      effective: decision.scheduled.effective,
    });
    print(
      `  evaluation ${round}: error rate ${fixed(errorRateOf(decision), 2)} % -> now ${decision.action}, scheduled ${decision.scheduled.effective} (${decision.scheduled.note})`,
    );
    if (decision.scheduled.effective === 'continue_deployment' || decision.scheduled.effective === 'monitor_and_optimize') break;
  }
  return { recovery, alerts: await showAlerts() };
}

/** 6. A backup taken and restored into the scratch database. */
async function backupChapter(stage: DemoStage, scratchName: string) {
  const { print, showAlerts, chapter, invoke } = stage;
  chapter('6. A backup taken, read back, and restored into a scratch database');
  const backupResult = (await invoke('backup')) as {
    backup: {
      key: string;
      manifest: { sizeBytes: number; durationMs: number; entries: number; sha256: string; tableRows?: Record<string, number> };
    };
  };
  const manifest = backupResult.backup.manifest;
  print(
    `  backup: s3://${bucket}/${backupResult.backup.key}: ${fixed(manifest.sizeBytes / 1024 / 1024, 2)} MiB in ${fixed(manifest.durationMs)} ms, ${manifest.entries} TOC entries, ${Object.keys(manifest.tableRows ?? {}).length} tables counted, sha256 ${manifest.sha256.slice(0, 16)}...`,
  );
  const restoreResult = (await invoke('backup', { action: 'verify-restore' })) as {
    restoreCheck: { outcome: string; tables: number; mismatches: unknown[]; durationMs: number };
  };
  const restoreCheck = restoreResult.restoreCheck;
  print(
    `  restore into ${scratchName}: ${restoreCheck.outcome} in ${fixed(restoreCheck.durationMs)} ms; ${restoreCheck.tables} tables compared with the dump's row counts, ${restoreCheck.mismatches.length} mismatches`,
  );
  return { backupResult, manifest, restoreCheck, alerts: await showAlerts() };
}

/** 7. Partitions created ahead of the clock. */
async function partitionsChapter(stage: DemoStage) {
  const { print, showAlerts, chapter, invoke } = stage;
  chapter('7. Partitions created ahead of the clock');
  const partitionResult = (await invoke('partitionMaintenance')) as {
    tables: Array<{ table: string; futurePartitions?: number | null; steps: Array<{ step: string; partition?: string }> }>;
  };
  const partitions = partitionResult.tables.map((table) => ({
    table: table.table,
    created: table.steps.filter((step) => step.step === 'create').length,
    futurePartitions: table.futurePartitions ?? null,
  }));
  for (const table of partitions) {
    print(`  ${table.table}: ${table.created} partition(s) created, ${table.futurePartitions ?? 'n/a'} ahead of now`);
  }
  return { partitions, alerts: await showAlerts() };
}

export async function runDemo(options: { print: (line: string) => void; adminUrl?: string }): Promise<DemoReport> {
  const { print } = options;
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const stack = await startDemoStack(options.adminUrl, stops);
    const params = demoEnvironment(stack);
    const stage = demoStage(stack, print);
    const { app, databaseName } = stack;
    print(`Vigil demo: ${users} demo users, the demo app at ${app.url}, PostgreSQL database ${databaseName}`);
    print(
      `Modelled: every API response of the demo app carries a ${networkRoundTripMs} ms network round trip; time between evaluations is compressed (the request log is moved back an hour before each one in chapters 4 and 5). Everything else is measured.`,
    );
    const baseline = await baselineChapter(stage);
    const newPage = await newPageChapter(stage, params);
    const cache = await cacheChapter(stage);
    const spiked = await spikeChapter(stage);
    const recovered = await recoveryChapter(stage);
    const backedUp = await backupChapter(stage, stack.scratchName);
    const maintained = await partitionsChapter(stage);
    const { oldPage, baselineDecision } = baseline;
    const { adoptionPercent, comparison } = newPage;
    const { windows, targetPercent } = cache;
    const { spike } = spiked;
    const { recovery } = recovered;
    const { backupResult, manifest, restoreCheck } = backedUp;
    const { partitions } = maintained;
    const alerts: DemoReport['alerts'] = {
      baseline: baseline.alerts,
      newPage: newPage.alerts,
      cache: cache.alerts,
      spike: spiked.alerts,
      recovery: recovered.alerts,
      backup: backedUp.alerts,
      partitions: maintained.alerts,
    };
    return {
      baseline: {
        oldP50Ms: oldPage?.p50.value ?? null,
        oldP95Ms: oldPage?.p95.value ?? null,
        oldCalls: oldPage?.calls ?? 0,
        decision: baselineDecision.action,
      },
      newPage: {
        adoptionPercent,
        newP50Ms: comparison.loadTimeMs.new.p50,
        newP95Ms: comparison.loadTimeMs.new.p95,
        oldP50Ms: comparison.loadTimeMs.old.p50,
        apiCallReductionPercent: comparison.apiCallReductionPercent,
        reductionVsOldP50Percent: comparison.reductionVsMeasuredOldPercent.p50,
        reductionVsBaselineP50Percent: comparison.reductionVsBaselinePercent.p50,
      },
      cache: { windows, targetPercent },
      spike: { decisions: spike },
      recovery: { decisions: recovery },
      alerts,
      backup: {
        key: backupResult.backup.key,
        sizeBytes: manifest.sizeBytes,
        durationMs: manifest.durationMs,
        tocEntries: manifest.entries,
        tables: Object.keys(manifest.tableRows ?? {}).length,
      },
      restore: {
        outcome: restoreCheck.outcome,
        tables: restoreCheck.tables,
        mismatches: restoreCheck.mismatches.length,
        durationMs: restoreCheck.durationMs,
      },
      partitions,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

if (isMainModule(import.meta.url)) {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  runDemo({ print, adminUrl: process.env.DATABASE_URL }).then(
    () => process.exit(0),
    (error: Error) => {
      process.stderr.write(`demo failed: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
