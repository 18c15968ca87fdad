import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { quoteIdentifier } from '../../lib/db';
import { applyDatabaseRoles, demoObservedTables, demoPartitionedTables, functionLogins, setPasswords } from '../database-roles';
import { seedDemoData } from '../demo-app/seed';
import { type DemoApp, startDemoApp } from '../demo-app/server';
import { type LocalAws, startLocalAws } from '../local-aws';
import { applyAppSchema, migrate } from '../migrate';
import { projectRoot } from '../paths';
import { type RunningPostgres, startEmbeddedPostgres } from '../postgres';
import { demoProbeEnvironment } from '../probe-config';
import { type RunningSecrets, startSecretsServer } from '../secrets-server';
import { localParams } from '../service';
import { startTraffic, type Traffic } from '../traffic';
import { createTestCertificates, type TestCertificates } from './tls';

/*
 * What the packaged functions meet in the rehearsal, in place of AWS and RDS: a PostgreSQL that
 * accepts only TLS, with a CA made for the run, each function logging in as its own role (none a
 * superuser; deploy/database-roles.sql); SNS, SQS
 * and S3 (fauxqs), Secrets Manager and SSM (local/secrets-server.ts), all on 127.0.0.1; the demo
 * app with traffic, for the probe to measure and the other functions to read.
 */

export const rehearsalStage = 'rehearsal';
export const region = 'eu-west-1';
/** The database's hostname as the secret names it: checked against the server certificate (verify-full). */
export const databaseHost = 'localhost';
const databaseName = 'portfolio';
const scratchDatabase = 'portfolio_restore_check';

export interface DatabaseRole {
  user: string;
  password: string;
}

export interface RehearsalStack {
  workDir: string;
  certificates: TestCertificates;
  /** The CA as a file of the project, the way a deployed stage's databaseSslCaFile names one. */
  caFileInProject: string;
  postgres: RunningPostgres;
  /** Superuser, for set-up and for checks only; no function is given it. */
  adminUrl: (database?: string) => string;
  /** The app's role, Vigil's migrator, each function's login (by serverless.yml name), the restore check's. */
  roles: { app: DatabaseRole; owner: DatabaseRole; restoreCheck: DatabaseRole; functions: Record<string, DatabaseRole> };
  aws: LocalAws;
  secrets: RunningSecrets;
  topicArn: string;
  bucket: string;
  demoApp: DemoApp;
  /** The stage parameters the rehearsal packages with: what a person deploying would pass. */
  params: Record<string, string>;
  stop(): Promise<void>;
}

const newPassword = () => randomBytes(18).toString('base64url');

function urlFor(port: number, role: DatabaseRole, database: string, caFile: string): string {
  const url = new URL(`postgres://${databaseHost}:${port}/${database}`);
  url.username = role.user;
  url.password = role.password;
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', caFile);
  return url.toString();
}

/**
 * The app's own role owns its database and schema; the restore check's role may create databases
 * and nothing else (on a real stage it lives on the scratch server). Vigil's roles come from
 * deploy/database-roles.sql, run below as an administrator runs it.
 */
async function createAppRoles(adminUrl: string, app: DatabaseRole, restoreCheck: DatabaseRole) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
    await admin.query(
      `CREATE ROLE ${quoteIdentifier(app.user)} LOGIN PASSWORD ${literal(app.password)} NOSUPERUSER NOCREATEDB NOCREATEROLE`,
    );
    await admin.query(
      `CREATE ROLE ${quoteIdentifier(restoreCheck.user)} LOGIN PASSWORD ${literal(restoreCheck.password)} NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION`,
    );
    await admin.query(`CREATE DATABASE ${databaseName} OWNER ${quoteIdentifier(app.user)}`);
  } finally {
    await admin.end();
  }
}

/** Probe targets of the demo app with the token by reference (an SSM SecureString), as a deployed stage must. */
function probeParams(demoAppUrl: string, tokenParameter: string) {
  const demo = demoProbeEnvironment(demoAppUrl);
  const targets = (JSON.parse(demo.PROBE_TARGETS) as Array<Record<string, unknown>>).map(({ token: _token, ...target }) => ({
    ...target,
    tokenSsmParameter: tokenParameter,
  }));
  return { probeTargets: JSON.stringify(targets), probeScenarios: demo.PROBE_SCENARIOS };
}

type Stops = Array<() => Promise<unknown>>;

/**
 * PostgreSQL over TLS only, set up as an administrator does before a first deploy: the app's roles
 * and schema with demo data, Vigil's roles, its schema by its owner, a login per function.
 */
async function startRehearsalDatabase(certificates: TestCertificates, stops: Stops, log: (line: string) => void) {
  const postgres = await startEmbeddedPostgres({ fast: true, tls: { ...certificates } });
  stops.push(() => postgres.stop());
  const adminUrl = (database = 'postgres') => {
    const url = new URL(postgres.adminUrl);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const roles = {
    app: { user: 'portfolio_app', password: newPassword() },
    owner: { user: 'vigil_owner', password: newPassword() },
    restoreCheck: { user: 'vigil_restore_check', password: newPassword() },
    functions: Object.fromEntries(
      Object.entries(functionLogins).map(([name, user]) => [name, { user, password: newPassword() }]),
    ) as Record<string, DatabaseRole>,
  };
  await createAppRoles(adminUrl(), roles.app, roles.restoreCheck);
  const appUrl = urlFor(postgres.port, roles.app, databaseName, certificates.caFile);
  await applyAppSchema(appUrl);
  const seedClient = new pg.Client({ connectionString: appUrl });
  await seedClient.connect();
  await seedDemoData(seedClient).finally(() => seedClient.end());
  // As an administrator does it before a first deploy: the roles, Vigil's schema by its owner,
  // the roles again (now that vigil.probe_results exists), each login's password.
  const rolesOptions = {
    appOwner: roles.app.user,
    observedTables: demoObservedTables,
    partitionedTables: demoPartitionedTables,
  };
  await applyDatabaseRoles(adminUrl(databaseName), rolesOptions);
  await setPasswords(adminUrl(databaseName), {
    [roles.owner.user]: roles.owner.password,
    ...Object.fromEntries(Object.values(roles.functions).map((role) => [role.user, role.password])),
  });
  await migrate(urlFor(postgres.port, roles.owner, databaseName, certificates.caFile));
  const warnings = await applyDatabaseRoles(adminUrl(databaseName), rolesOptions);
  if (/WARNING/.test(warnings)) throw new Error(`deploy/database-roles.sql: ${warnings.trim()}`);
  log(
    `postgres   ${databaseHost}:${postgres.port}, TLS only (hostssl, CA of this run); a login per function (${Object.values(functionLogins).join(', ')}), none a superuser`,
  );
  return { postgres, adminUrl, roles, appUrl };
}

type RehearsalDatabase = Awaited<ReturnType<typeof startRehearsalDatabase>>;

/** SNS, SQS and S3, and Secrets Manager and SSM holding each function's login, the scratch URL and the probe token. */
async function startRehearsalAws(
  database: RehearsalDatabase,
  certificates: TestCertificates,
  stops: Stops,
  log: (line: string) => void,
) {
  const { postgres, roles } = database;
  const bucket = `vigil-${rehearsalStage}-backups`;
  const aws = await startLocalAws({ topics: [`vigil-${rehearsalStage}-alerts`], buckets: [bucket], region });
  stops.push(() => aws.stop());
  const topicArn = aws.topics[`vigil-${rehearsalStage}-alerts`]?.topicArn as string;
  const secrets = await startSecretsServer({ region, account: '000000000000' });
  stops.push(() => secrets.stop());
  for (const [name, role] of Object.entries(roles.functions)) {
    secrets.putSecret(
      `vigil/${rehearsalStage}/database/${name}`,
      JSON.stringify({
        username: role.user,
        password: role.password,
        host: databaseHost,
        port: postgres.port,
        dbname: databaseName,
        engine: 'postgres',
      }),
    );
  }
  const scratch = new URL(urlFor(postgres.port, roles.restoreCheck, scratchDatabase, certificates.caFile));
  // Deployed, the URL carries no TLS settings of its own: DATABASE_SSL_MODE and the CA apply.
  scratch.search = '';
  secrets.putParameter(`/vigil/${rehearsalStage}/backup-verify-database-url`, scratch.toString());
  const tokenParameter = `/vigil/${rehearsalStage}/probe-token`;
  const demoToken = (JSON.parse(demoProbeEnvironment('http://x').PROBE_TARGETS) as Array<{ token: string }>)[0]?.token ?? '';
  secrets.putParameter(tokenParameter, demoToken);
  log(`aws        SNS/SQS ${aws.endpoint}, S3 ${aws.s3Endpoint} (checksums checked), Secrets Manager/SSM ${secrets.endpoint}`);
  return { aws, secrets, topicArn, bucket, tokenParameter };
}

/** The stage's parameters: the app-shaped ones of the local stage, and what a deployed stage requires. */
function rehearsalParams(demoAppUrl: string, tokenParameter: string, caFileInProject: string): Record<string, string> {
  // The app-shaped parameters of the local stage (its queries and tables are the demo app's too).
  const local = localParams();
  return {
    // A VPC is required of a deployed stage; here the network is the machine's loopback.
    vpcSubnetIds: 'subnet-0123456789abcdef0',
    vpcSecurityGroupIds: 'sg-0123456789abcdef0',
    // The layer ARN names what /opt holds; the rehearsal puts a layer-shaped directory there.
    pgToolsLayerArn: `arn:aws:lambda:${region}:000000000000:layer:vigil-pg-tools:1`,
    // A deployed stage needs a subscriber; nothing is sent to it here.
    alertEmails: 'ops@rehearsal.invalid',
    databaseSslCaFile: relative(projectRoot, caFileInProject),
    ...probeParams(demoAppUrl, tokenParameter),
    rollbackAdoptionQuery: local.rollbackAdoptionQuery ?? '',
    rollbackComplaintsQuery: local.rollbackComplaintsQuery ?? '',
    cacheCountersQuery: local.cacheCountersQuery ?? '',
    partitionTables: local.partitionTables ?? '',
    backupVerifyEnabled: 'true',
    // One server here holds the watched database and the scratch one.
    backupVerifyAllowSameServer: 'true',
  };
}

export async function startRehearsalStack(options: { workDir: string; log?: (line: string) => void }): Promise<RehearsalStack> {
  const log = options.log ?? (() => {});
  const stops: Stops = [];
  const stop = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    await rm(options.workDir, { recursive: true, force: true });
    await mkdir(options.workDir, { recursive: true });
    const certificates = await createTestCertificates(join(options.workDir, 'tls'), databaseHost);
    // Packaged into every function through databaseSslCaFile, which names a file of the project.
    const caFileInProject = join(options.workDir, 'database-ca.pem');
    await copyFile(certificates.caFile, caFileInProject);

    const database = await startRehearsalDatabase(certificates, stops, log);
    const { postgres, adminUrl, roles, appUrl } = database;

    const { aws, secrets, topicArn, bucket, tokenParameter } = await startRehearsalAws(database, certificates, stops, log);

    const demoApp = await startDemoApp({ databaseUrl: appUrl, adminToken: newPassword(), background: true });
    stops.push(() => demoApp.stop());
    const traffic: Traffic = await startTraffic({ baseUrl: demoApp.url, databaseUrl: appUrl, pageLoadsPerSecond: 4 });
    stops.push(() => traffic.stop());
    log(`demo app   ${demoApp.url}, 4 dashboard loads/s`);

    const params = rehearsalParams(demoApp.url, tokenParameter, caFileInProject);
    return {
      workDir: options.workDir,
      certificates,
      caFileInProject,
      postgres,
      adminUrl,
      roles,
      aws,
      secrets,
      topicArn,
      bucket,
      demoApp,
      params,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
