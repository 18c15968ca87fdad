import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from './paths';

export const migrationsDir = join(projectRoot, 'migrations');
export const appSchemaFile = join(projectRoot, 'test', 'fixtures', 'app-schema.sql');
export const partitionFunctionsFile = join(projectRoot, 'deploy', 'partition-functions.sql');

/** Applies Vigil's migrations (schema `vigil`, bookkeeping in vigil.pgmigrations). */
export async function migrate(
  databaseUrl: string | pg.ClientConfig,
  log: (message: string) => void = () => {},
): Promise<string[]> {
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    migrationsSchema: 'vigil',
    createMigrationsSchema: true,
    schema: 'vigil',
    checkOrder: true,
    singleTransaction: true,
    log,
    verbose: false,
  });
  return applied.map((migration) => migration.name);
}

/**
 * Installs the partition functions (deploy/partition-functions.sql) as the connecting role: for a
 * local database whose superuser does everything. A deployed one gets them from
 * deploy/database-roles.sql, owned by vigil_partition_definer.
 */
export async function installPartitionFunctions(databaseUrl: string): Promise<void> {
  await runSqlFile(databaseUrl, partitionFunctionsFile);
}

/** Applies the watched app's schema fixture (idempotent). */
export async function applyAppSchema(databaseUrl: string): Promise<void> {
  await runSqlFile(databaseUrl, appSchemaFile);
}

/** One SQL file, sent whole as one simple query (its statements one implicit transaction). */
async function runSqlFile(databaseUrl: string, file: string): Promise<void> {
  const sql = await readFile(file, 'utf8');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
