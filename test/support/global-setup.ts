import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { applyAppSchema, installPartitionFunctions, migrate } from '../../local/migrate';
import { startEmbeddedPostgres } from '../../local/postgres';
import { databaseUrlFor } from './urls';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A role that may CREATE DATABASE, connected to a maintenance database. */
    postgresAdminUrl: string;
    /** Migrated and fixture-loaded database every test database is copied from. */
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL for the run: the one DATABASE_URL names, or an embedded one started here. A
 * template database gets Vigil's migrations and the watched app's schema once; each test file then
 * copies it (CREATE DATABASE ... TEMPLATE), so files run in parallel on databases of their own.
 */
export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  const embedded = external ? undefined : await startEmbeddedPostgres({ fast: true });
  const adminUrl = external ?? (embedded?.adminUrl as string);
  const templateDatabase = `vigil_template_${process.pid}`;

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

  project.provide('postgresAdminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    if (embedded) {
      await embedded.stop();
      return;
    }
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    try {
      await cleanup.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
    } finally {
      await cleanup.end();
    }
  };
}
