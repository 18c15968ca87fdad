import { execFileSync } from 'node:child_process';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { applyAppSchema, installPartitionFunctions, migrate } from '../../local/migrate';
import {
  type PostgresMajor,
  postgresMajorFrom,
  postgresMajors,
  type RunningPostgres,
  startEmbeddedPostgres,
} from '../../local/postgres';
import { databaseUrlFor } from './urls';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A role that may CREATE DATABASE, connected to a maintenance database. */
    postgresAdminUrl: string;
    /** Migrated and fixture-loaded database every test database is copied from. */
    templateDatabase: string;
    /** The same, on a server the machine's pg_dump can dump (the backup suites'). */
    pgDumpAdminUrl: string;
    /** The majors of the run: the suites' server, the backup suites' server, and pg_dump's own. */
    postgresMajors: { suites: number | null; backups: number | null; pgDump: number | null };
  }
}

/** The major of the pg_dump on PATH (the one the backup function runs in the tests), if any. */
function pgDumpMajor(): number | null {
  try {
    const major = Number(/\(PostgreSQL\) (\d+)/.exec(execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }))?.[1]);
    return Number.isFinite(major) ? major : null;
  } catch {
    return null;
  }
}

async function serverMajor(adminUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return Math.floor(
      Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v) / 10_000,
    );
  } finally {
    await client.end();
  }
}

/** A template database on a server: Vigil's migrations, the watched app's schema, the partition functions. */
async function prepareTemplate(adminUrl: string, templateDatabase: string) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
    await admin.query(`CREATE DATABASE ${templateDatabase}`);
  } finally {
    await admin.end();
  }
  const templateUrl = databaseUrlFor(adminUrl, templateDatabase);
  await migrate(templateUrl);
  await applyAppSchema(templateUrl);
  await installPartitionFunctions(templateUrl);
}

async function dropTemplate(adminUrl: string, templateDatabase: string) {
  const cleanup = new pg.Client({ connectionString: adminUrl });
  await cleanup.connect();
  try {
    await cleanup.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
  } finally {
    await cleanup.end();
  }
}

/**
 * PostgreSQL for the run: the one DATABASE_URL names, or embedded ones started here. The suites run
 * on VIGIL_TEST_PG_MAJOR (default 17, what RDS runs; CI also runs the database suites on 15 and 18).
 * The backup suites need a pg_dump at least as new as the server (it refuses a newer one), and the
 * newest this machine's packages hold is 15: they get a server of the newest major pg_dump can dump,
 * the suites' own when that is the same. Each server gets a template database once; each test file
 * copies it (CREATE DATABASE ... TEMPLATE), so files run in parallel on databases of their own.
 */
export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  const templateDatabase = `vigil_template_${process.pid}`;
  const dumpMajor = pgDumpMajor();
  const started: RunningPostgres[] = [];
  let adminUrl: string;
  let dumpAdminUrl: string;
  if (external) {
    adminUrl = external;
    dumpAdminUrl = external;
  } else {
    const major = postgresMajorFrom('VIGIL_TEST_PG_MAJOR', 17);
    const dumpable = [...postgresMajors].reverse().find((candidate) => dumpMajor !== null && candidate <= dumpMajor);
    const backupsMajor: PostgresMajor = dumpable !== undefined && dumpable < major ? dumpable : major;
    const suites = await startEmbeddedPostgres({ fast: true, major });
    started.push(suites);
    const backups = backupsMajor === major ? suites : await startEmbeddedPostgres({ fast: true, major: backupsMajor });
    if (backups !== suites) started.push(backups);
    adminUrl = suites.adminUrl;
    dumpAdminUrl = backups.adminUrl;
  }
  await Promise.all([...new Set([adminUrl, dumpAdminUrl])].map((url) => prepareTemplate(url, templateDatabase)));
  const majors = {
    suites: await serverMajor(adminUrl),
    backups: await serverMajor(dumpAdminUrl),
    pgDump: dumpMajor,
  };
  console.log(
    `PostgreSQL ${majors.suites} for the suites, ${majors.backups} for the backup suites (pg_dump ${majors.pgDump ?? 'not found'})`,
  );

  project.provide('postgresAdminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);
  project.provide('pgDumpAdminUrl', dumpAdminUrl);
  project.provide('postgresMajors', majors);

  return async () => {
    if (started.length > 0) {
      for (const server of started) await server.stop();
      return;
    }
    await dropTemplate(adminUrl, templateDatabase);
  };
}
