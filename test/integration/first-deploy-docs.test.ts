import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { createDatabase } from '../../lib/db';
import { functionLogins } from '../../local/database-roles';
import { appSchemaFile } from '../../local/migrate';
import { projectRoot } from '../../local/paths';
import { postgresMajorFrom, type RunningPostgres, startEmbeddedPostgres } from '../../local/postgres';
import { createTestCertificates } from '../../local/rehearsal/tls';
import { serviceFunctions } from '../../local/service';
import { withPackageLock } from '../../local/sls';
import {
  type Credentials,
  type StandIn,
  startCloudFormationStandIn,
  startRefusingEndpoint,
  startSignedApiStandIn,
} from '../support/aws-stand-ins';
import { type PageCommand, pageCommands } from '../support/doc-commands';
import { type CloudFormationTemplate, resourcesOfType } from '../support/template';

/*
 * docs/deploying.md's first deploy, played offline with the page's own commands: its fenced shell
 * blocks are read from the page and run by bash, as a reader pastes them, after the rewrites in
 * `rewrites` (placeholders the page cannot fill: host, passwords, CA). A command the test cannot
 * run offline is in `notPlayed`, with why; a command that is neither fails the test, so a new or
 * changed command on the page is played or explained. Against a TLS-only PostgreSQL whose CA is in
 * no bundle and not in Node's store, with a master user shaped like RDS's (no superuser), a local
 * stand-in for every AWS endpoint (nothing reaches AWS), and `aws` on PATH a script that records
 * its arguments.
 */

const page = 'docs/deploying.md';
const commands = pageCommands(readFileSync(join(projectRoot, page), 'utf8'));
const where = (command: PageCommand) => `${page}:${command.line}: ${command.text.split('\n')[0]}`;

/** The commands of the page this test plays, each known by what it runs. */
const played = {
  grantAppOwner: /^psql "[^"]*" -c 'GRANT portfolio_app TO CURRENT_USER'/,
  rolesScript: /^psql [\s\S]*-f deploy\/database-roles\.sql$/,
  password: /^psql "[^"]*" -c '\\password \w+'\s+# and each login$/,
  migrate: /^DATABASE_URL=\S+ npm run migrate$/,
  secrets: /^for fn in [\s\S]*aws secretsmanager create-secret[\s\S]*done$/,
  stageFile: /^cat > deploy\/stages\/prod\.json <<'EOF'\n/,
  package: /^npm run package -- --stage prod\b/,
  redeploy: /^npm run deploy -- --stage prod\b[\s\S]*--param /,
  decideHelp: /^npm run decide -- --help$/,
  decideStage: /^AWS_REGION=\S+ npm run decide -- --stage prod$/,
} as const;

/** The commands of the page this test does not run, and why. */
const notPlayed: Array<{ command: RegExp; why: string }> = [
  {
    command: /^curl .*truststore\.pki\.rds\.amazonaws\.com/,
    why: "downloads RDS's CA bundle from AWS; this server's CA is the test's own, given where the page names rds-ca.pem",
  },
  {
    command: /^npm run deploy -- --stage prod --region eu-west-1$/,
    why: 'the deploy itself, to CloudFormation in AWS: the package command before it is its offline half (the same parameters and checks), played',
  },
  {
    command: /^deploy\/pg-tools-layer\/build\.sh\b/,
    why: "builds the layer in an arm64 Amazon Linux container: no container runtime here (the rehearsal runs collect.sh's layout of this machine's tools)",
  },
  { command: /^aws lambda publish-layer-version\b/, why: 'publishes the layer to AWS Lambda' },
  { command: /^aws kms (get|put)-key-policy\b/, why: "reads or writes a kept key's policy in AWS KMS" },
  {
    command: /^node -e '[\s\S]*key-policy\.json/,
    why: 'edits the key policy that the aws kms command before it fetched from AWS',
  },
];

interface Testbed {
  port: number;
  caFile: string;
  /** The master user's. */
  masterPassword: string;
  /** Every login's, as the administrator gives them with \password. */
  password: string;
  stage: string;
  /** Where `aws`, the script that records its calls, lives. */
  binDir: string;
  home: string;
  workDir: string;
  /** The endpoint every AWS service no stand-in plays is pointed at: it refuses everything. */
  refusingEndpoint: string;
  credentials: Credentials;
}

/** The page's placeholders and what they are here: every change this test makes to a command of the page. */
const rewrites = (bed: Testbed): Array<{ page: string | RegExp; here: string; why: string }> => [
  {
    page: '@db.internal/',
    here: `@localhost:${bed.port}/`,
    why: "the database's host in a URL: this test's server, whose certificate names localhost",
  },
  { page: '\\"host\\":\\"db.internal\\"', here: '\\"host\\":\\"localhost\\"', why: 'the same host in the secrets' },
  { page: '\\"port\\":5432', here: `\\"port\\":${bed.port}`, why: "and the server's port" },
  {
    page: /sslrootcert=rds-ca\.pem/g,
    here: `sslrootcert=${bed.caFile}`,
    why: "the CA verify-full checks the server against: RDS's bundle there, this server's own CA here",
  },
  { page: 'vigil_owner:...@', here: `vigil_owner:${bed.password}@`, why: "vigil_owner's password, given with \\password" },
  {
    page: '\\"password\\":\\"...\\"',
    here: `\\"password\\":\\"${bed.password}\\"`,
    why: "each login's password, given with \\password",
  },
  {
    page: "\\password vigil_probe'",
    here: `\\password '"$LOGIN"`,
    why: 'the page\'s "# and each login": run once per login, the login in $LOGIN',
  },
  { page: /\bprod\b/g, here: bed.stage, why: "a stage of the test's own: deploy/stages/prod.json is the operator's to write" },
  {
    page: 'npm run package -- ',
    here: 'npm run package -- --package "$PACKAGE_DIR" ',
    why: "the template into a directory of the test's own, not the checkout's .serverless/, which others package into",
  },
  {
    page: 'npm run deploy -- ',
    here: 'npm run package -- --package "$PACKAGE_DIR" ',
    why: 'a redeploy packaged: deploying needs AWS; packaging is its offline half, with the same parameters and checks',
  },
];

/** The operator's shell: exactly this, nothing of the test run's own environment. */
const operatorShell = (bed: Testbed): Record<string, string> => ({
  // aws: the script that records its calls; node and npm: this run's.
  PATH: [bed.binDir, dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(':'),
  // A fresh home: no ~/.aws, ~/.pgpass or ~/.psqlrc of this machine's user.
  HOME: bed.home,
  LANG: 'C.UTF-8',
  ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  // The master user's password, which psql would ask for.
  PGPASSWORD: bed.masterPassword,
  // The operator's AWS credentials, made up; every AWS endpoint a local stand-in or refused.
  AWS_ACCESS_KEY_ID: bed.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: bed.credentials.secretAccessKey,
  AWS_ENDPOINT_URL: bed.refusingEndpoint,
  AWS_EC2_METADATA_DISABLED: 'true',
  // No `npm start` running on the operator's machine.
  VIGIL_LOCAL_DIR: join(bed.workDir, 'local-stack'),
});

function rewrite(text: string, bed: Testbed): string {
  return rewrites(bed).reduce((command, { page: from, here }) => command.replaceAll(from, () => here), text);
}

/** The one command of the page that `pattern` knows. */
function pageCommand(pattern: RegExp): PageCommand {
  const found = commands.filter((command) => pattern.test(command.text));
  if (found.length !== 1) throw new Error(`${page}: ${found.length} commands match ${pattern}, expected one`);
  return found[0] as PageCommand;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command as a reader's bash would (stopping at the first failure), in the checkout, with
 * exactly `env`: in a session of its own, with no terminal, so psql reads a password prompt's answer
 * from stdin.
 */
function bash(command: string, env: Record<string, string>, options: { stdin?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -eo pipefail\n${command}`], { cwd: projectRoot, env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** What the operator's psql, npm and aws print, for a failure's message. */
const output = (ran: Ran) => `exit ${ran.code}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`;

describe('docs/deploying.md, played offline command by command', () => {
  let bed: Testbed;
  let server: RunningPostgres;
  let awsCalls: string;
  let refusing: StandIn;
  let shell: Record<string, string>;
  let firstTemplate: CloudFormationTemplate;
  const stageParametersFile = () => join(projectRoot, 'deploy', 'stages', `${bed.stage}.json`);
  const decisionLoginUrl = () => `postgres://${functionLogins.rollbackDecision}:${bed.password}@localhost:${bed.port}/portfolio`;

  /** A connection of the test's own, verify-full against the server's CA. */
  async function connect(user: string, password: string, database = 'portfolio') {
    const client = new pg.Client({
      host: 'localhost',
      port: bed.port,
      database,
      user,
      password,
      ssl: { ca: await readFile(bed.caFile, 'utf8'), rejectUnauthorized: true },
    });
    await client.connect();
    return client;
  }
  async function asMaster<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await connect('admin', bed.masterPassword);
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** The page's command as rewritten here, run by bash in the operator's shell. */
  function play(pattern: RegExp, env: Record<string, string> = {}, options: { stdin?: string; timeoutMs?: number } = {}) {
    return bash(rewrite(pageCommand(pattern).text, bed), { ...shell, ...env }, options);
  }
  async function packaged(pattern: RegExp, name: string): Promise<{ ran: Ran; dir: string }> {
    const dir = join(bed.workDir, name);
    await mkdir(dir, { recursive: true });
    // Packaging: no AWS credentials at all, as the page says it needs none.
    const env = { PACKAGE_DIR: dir, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
    const ran = await withPackageLock(() => play(pattern, env, { timeoutMs: 240_000 }));
    return { ran, dir };
  }
  const templateIn = async (dir: string) =>
    JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as CloudFormationTemplate;
  const subscriptionsOf = (template: CloudFormationTemplate) =>
    Object.fromEntries(resourcesOfType(template, 'AWS::SNS::Subscription').map(([id, resource]) => [id, resource.Properties]));
  const decisionsStored = () =>
    asMaster(
      async (client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM vigil.rollback_decisions')).rows[0]?.n,
    );

  beforeAll(async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'vigil-first-deploy-'));
    const certificates = await createTestCertificates(join(workDir, 'tls'), 'localhost');
    server = await startEmbeddedPostgres({ major: postgresMajorFrom('VIGIL_TEST_PG_MAJOR', 17), fast: true, tls: certificates });
    refusing = await startRefusingEndpoint();
    bed = {
      port: server.port,
      caFile: certificates.caFile,
      masterPassword: `master-${randomBytes(6).toString('hex')}`,
      password: `login-${randomBytes(6).toString('hex')}`,
      stage: `docs${process.pid}`,
      binDir: join(workDir, 'bin'),
      home: join(workDir, 'home'),
      workDir,
      refusingEndpoint: refusing.url,
      credentials: { accessKeyId: 'AKIAVIGILFIRSTDEPLOY', secretAccessKey: `secret-${randomBytes(12).toString('hex')}` },
    };
    shell = operatorShell(bed);
    await mkdir(bed.home);

    // What AWS makes of a new RDS instance: a master user with CREATEROLE and CREATEDB, a member of
    // rds_superuser (which may grant pg_read_all_data), no superuser. The server's own superuser
    // stands for AWS here and for nothing else.
    const aws = new pg.Client({
      connectionString: server.adminUrl.replace(/\?.*$/, ''),
      ssl: { ca: await readFile(bed.caFile, 'utf8'), rejectUnauthorized: true },
    });
    await aws.connect();
    try {
      await aws.query(`CREATE ROLE rds_superuser NOLOGIN;
        GRANT pg_read_all_data, pg_write_all_data, pg_monitor, pg_signal_backend TO rds_superuser WITH ADMIN OPTION;
        CREATE ROLE admin LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '${bed.masterPassword}';
        GRANT rds_superuser TO admin WITH ADMIN OPTION;`);
    } finally {
      await aws.end();
    }
    // The app's database and schema as its team made them with the master user: its own role, owning its tables.
    const master = await connect('admin', bed.masterPassword, 'postgres');
    try {
      await master.query('CREATE DATABASE portfolio');
    } finally {
      await master.end();
    }
    await asMaster(async (client) => {
      await client.query(`CREATE ROLE portfolio_app LOGIN PASSWORD '${bed.password}'`);
      await client.query('GRANT CREATE ON SCHEMA public TO portfolio_app');
    });
    const app = await connect('portfolio_app', bed.password);
    try {
      await app.query(await readFile(appSchemaFile, 'utf8'));
    } finally {
      await app.end();
    }

    // `aws` on PATH: records each call's arguments, reaches nothing.
    awsCalls = join(workDir, 'aws-calls.jsonl');
    await mkdir(bed.binDir);
    await writeFile(
      join(bed.binDir, 'aws'),
      `#!/usr/bin/env node\nrequire('node:fs').appendFileSync(${JSON.stringify(awsCalls)}, JSON.stringify(process.argv.slice(2)) + '\\n');\nprocess.stdout.write('{}\\n');\n`,
      { mode: 0o755 },
    );
  }, 180_000);

  afterAll(async () => {
    if (bed) await rm(stageParametersFile(), { force: true });
    await refusing?.close();
    await server?.stop();
    if (bed) await rm(bed.workDir, { recursive: true, force: true });
  });

  it('plays every command of the page or says why not, and every rewrite changes a command it plays', () => {
    const unaccounted: string[] = [];
    for (const command of commands) {
      const by = [
        ...Object.entries(played).flatMap(([name, pattern]) => (pattern.test(command.text) ? [name] : [])),
        ...notPlayed.flatMap(({ command: pattern, why }) => (pattern.test(command.text) ? [`not played: ${why}`] : [])),
      ];
      if (by.length !== 1)
        unaccounted.push(
          `${where(command)}\n  ${by.length ? `matched by ${by.join('; ')}` : 'neither played nor listed in notPlayed'}`,
        );
    }
    expect(unaccounted, 'each command of the page is played or listed, once').toEqual([]);
    for (const { command, why } of notPlayed) {
      expect(
        commands.some((found) => command.test(found.text)),
        `notPlayed ${command} (${why}) is on the page`,
      ).toBe(true);
    }
    const playedTexts = Object.values(played).map((pattern) => pageCommand(pattern).text);
    for (const { page: from, why } of rewrites(bed)) {
      expect(
        playedTexts.some((text) => text.replaceAll(from, '') !== text),
        `the rewrite of ${from} (${why}) changes a played command`,
      ).toBe(true);
    }
  });

  it("creates the roles as RDS's master user, no superuser, and gives each login its password", async () => {
    const { rows: master } = await asMaster((client) =>
      client.query(
        "SELECT rolsuper, rolcreaterole, pg_has_role('admin', 'rds_superuser', 'MEMBER') AS rds FROM pg_roles WHERE rolname = 'admin'",
      ),
    );
    expect(master).toEqual([{ rolsuper: false, rolcreaterole: true, rds: true }]);

    const granted = await play(played.grantAppOwner);
    expect(granted.code, output(granted)).toBe(0);
    const roles = await play(played.rolesScript);
    expect(roles.code, output(roles)).toBe(0);
    // Before the migration only Vigil's own partitioned table is missing; the page runs the script again after it.
    expect(roles.stderr.match(/WARNING:.*/g)).toEqual([
      expect.stringMatching(/partitioned_tables: no table vigil\.probe_results, skipped \(run this again once it exists\)/),
    ]);

    const { rows } = await asMaster((client) =>
      client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname LIKE 'vigil\\_%' ORDER BY 1"),
    );
    const logins = rows.map((row) => row.rolname);
    expect(logins).toEqual(['vigil_owner', ...Object.values(functionLogins)].sort());
    for (const login of logins) {
      const given = await play(played.password, { LOGIN: login }, { stdin: `${bed.password}\n${bed.password}\n` });
      expect(given.code, output(given)).toBe(0);
      const client = await connect(login, bed.password);
      await client.end();
    }
  });

  it('migrates as vigil_owner over verify-full to a server whose CA is in no bundle, then runs the roles script again without a warning', async () => {
    const ca = await readFile(bed.caFile, 'utf8');
    expect(rootCertificates.some((root) => root.trim() === ca.trim())).toBe(false);
    const migrated = await play(played.migrate);
    expect(migrated.code, output(migrated)).toBe(0);
    expect(migrated.stdout).toMatch(/^applied: /m);
    const { rows } = await asMaster((client) =>
      client.query("SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'vigil'"),
    );
    expect(rows).toEqual([{ nspname: 'vigil', owner: 'vigil_owner' }]);

    const again = await play(played.rolesScript);
    expect(again.code, output(again)).toBe(0);
    expect(again.stderr).not.toMatch(/WARNING|ERROR/);
    // The observers read what the app's owner granted through the master user.
    const observer = await connect(functionLogins.rollbackDecision, bed.password);
    try {
      await expect(observer.query('SELECT count(*) FROM api_performance_log')).resolves.toBeDefined();
      await expect(observer.query('SELECT email FROM users')).rejects.toThrow(/permission denied/);
    } finally {
      await observer.end();
    }
  });

  it("stores one secret per function, each its own login's, which reaches the database over verify-full as the function reads it", async () => {
    await writeFile(awsCalls, '');
    const stored = await play(played.secrets);
    expect(stored.code, output(stored)).toBe(0);
    const calls = (await readFile(awsCalls, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[]);
    const secrets = new Map<string, string>();
    for (const call of calls) {
      expect(call.slice(0, 2)).toEqual(['secretsmanager', 'create-secret']);
      secrets.set(call[call.indexOf('--name') + 1] as string, call[call.indexOf('--secret-string') + 1] as string);
    }
    const prefix = `vigil/${bed.stage}/database`;
    expect([...secrets.keys()].sort()).toEqual(
      Object.keys(serviceFunctions())
        .map((name) => `${prefix}/${name}`)
        .sort(),
    );
    for (const [name, login] of Object.entries(functionLogins)) {
      const secretId = `${prefix}/${name}`;
      expect(JSON.parse(secrets.get(secretId) as string)).toMatchObject({ username: login });
      // As the deployed function connects: lib/db reading the secret, verify-full against the stage's CA file.
      const config = loadConfig(['database'], {
        VIGIL_STAGE: bed.stage,
        DATABASE_SECRET_ID: secretId,
        DATABASE_SSL_CA_FILE: bed.caFile,
      }).database;
      const db = createDatabase(config, async (id) => secrets.get(id) as string);
      try {
        const { rows } = await db.query<{ user: string; ssl: boolean }>(
          'SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        expect(rows).toEqual([{ user: login, ssl: true }]);
      } finally {
        await db.end();
      }
    }
  });

  it("packages the first deploy with the page's parameters, after refusing the page's own typo naming the parameter meant", async () => {
    const prose = readFileSync(join(projectRoot, page), 'utf8');
    const [, typo, meant] = /A mistyped parameter name \(`(\w+)` for `(\w+)`\)/.exec(prose) ?? [];
    expect(typo && meant, 'the page names a typo and the parameter it was meant to be').toBeTruthy();
    const fileCommand = pageCommand(played.stageFile).text;
    expect(fileCommand).toContain(`"${meant}"`);

    const mistyped = await bash(rewrite(fileCommand.replace(`"${meant}"`, `"${typo}"`), bed), shell);
    expect(mistyped.code, output(mistyped)).toBe(0);
    const refused = await packaged(played.package, 'typo');
    expect(refused.ran.code, output(refused.ran)).not.toBe(0);
    expect(`${refused.ran.stdout}${refused.ran.stderr}`).toMatch(new RegExp(`\\b${typo}\\b[^\\n]*did you mean ${meant}\\?`));
    expect(existsSync(join(refused.dir, 'cloudformation-template-update-stack.json'))).toBe(false);

    const written = await play(played.stageFile);
    expect(written.code, output(written)).toBe(0);
    const parameters = JSON.parse(await readFile(stageParametersFile(), 'utf8')) as Record<string, unknown>;
    const first = await packaged(played.package, 'first');
    expect(first.ran.code, output(first.ran)).toBe(0);
    expect(first.ran.stderr).toContain(
      `parameters of stage ${bed.stage}: ${Object.keys(parameters).length} from deploy/stages/${bed.stage}.json`,
    );
    firstTemplate = await templateIn(first.dir);

    // Every address on both topics, every phone number on the alert topic: what the page's parameters ask.
    const subscribed = Object.values(subscriptionsOf(firstTemplate)).map(
      (properties) => `${properties.Protocol} ${properties.Endpoint}`,
    );
    const emails = String(parameters.alertEmails).split(',');
    const phones = String(parameters.alertPhoneNumbers).split(',');
    expect(subscribed.sort()).toEqual(
      [...emails.flatMap((email) => [`email ${email}`, `email ${email}`]), ...phones.map((phone) => `sms ${phone}`)].sort(),
    );
  }, 600_000);

  it('keeps every subscription when the stage is deployed again with a partial command', async () => {
    const again = await packaged(played.redeploy, 'redeploy');
    expect(again.ran.code, output(again.ran)).toBe(0);
    const template = await templateIn(again.dir);
    expect(subscriptionsOf(template)).toEqual(subscriptionsOf(firstTemplate));
    const state = async (dir: string) =>
      (JSON.parse(await readFile(join(dir, 'serverless-state.json'), 'utf8')) as { service: { provider: { region: string } } })
        .service.provider.region;
    expect(await state(again.dir)).toBe(await state(join(bed.workDir, 'first')));
  }, 600_000);

  it('answers decide --help and stores no decision, with the database at hand', async () => {
    const before = await decisionsStored();
    const help = await play(played.decideHelp, { DATABASE_URL: decisionLoginUrl() });
    expect(help.code, output(help)).toBe(0);
    expect(help.stdout).toMatch(/usage: npm run decide -- /);
    expect(await decisionsStored()).toBe(before);
    expect(before).toBe(0);
  });

  it('asks the deployed stage with decide --stage, signed with SigV4 from the caller, as the stand-in of its IAM-authorized route accepts', async () => {
    const routes = resourcesOfType(firstTemplate, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties);
    expect(routes).toContainEqual(expect.objectContaining({ RouteKey: 'GET /rollback/decision', AuthorizationType: 'AWS_IAM' }));
    expect(firstTemplate.Outputs).toHaveProperty('HttpApiUrl');
    // The deployed route: the decision as the function computes it, as its own login over verify-full.
    const api = await startSignedApiStandIn({
      region: 'eu-west-1',
      credentials: bed.credentials,
      routes: {
        'GET /rollback/decision': async () => {
          const decided = await bash('node_modules/.bin/tsx local/decide.ts --json', {
            ...shell,
            USER: 'rollbackDecision (stand-in)',
            VIGIL_STAGE: bed.stage,
            DATABASE_URL: decisionLoginUrl(),
            DATABASE_SSL_CA_FILE: bed.caFile,
            VIGIL_ALERT_TOPIC_ARN: `arn:aws:sns:eu-west-1:123456789012:vigil-${bed.stage}-alerts`,
          });
          if (decided.code !== 0) throw new Error(output(decided));
          return { status: 200, body: decided.stdout };
        },
      },
    });
    const cloudFormation = await startCloudFormationStandIn({
      credentials: bed.credentials,
      stacks: { [`vigil-${bed.stage}`]: { HttpApiUrl: api.url } },
    });
    try {
      const env = { AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url, DATABASE_URL: decisionLoginUrl() };
      const asked = await play(played.decideStage, env);
      expect(asked.code, output(asked)).toBe(0);
      expect(asked.stdout).toMatch(/^Rollback decision at \S+: [A-Z_]+ \(/m);
      expect(asked.stdout).toContain('Signals:');
      expect(cloudFormation.requests).toEqual([{ method: 'POST', path: `DescribeStacks vigil-${bed.stage}`, verified: true }]);
      expect(api.requests).toEqual([{ method: 'GET', path: '/rollback/decision', verified: true }]);
      // Stored once, by the stage's function; the command itself wrote nothing.
      expect(await decisionsStored()).toBe(1);

      // Signed with another secret, the stand-in refuses it, as API Gateway would.
      const forged = await play(played.decideStage, { ...env, AWS_SECRET_ACCESS_KEY: 'not-the-callers-secret' });
      expect(forged.code).toBe(1);
      expect(forged.stderr).toContain('answered 403');
      expect(api.requests.at(-1)).toEqual({ method: 'GET', path: '/rollback/decision', verified: false });
      expect(refusing.requests).toEqual([]);
    } finally {
      await Promise.all([api.close(), cloudFormation.close()]);
    }
  });
});
