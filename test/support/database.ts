import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig } from '../../lib/config';
import { createDatabase, type Database } from '../../lib/db';
import { databaseUrlFor } from './urls';

export interface TestDatabase {
  url: string;
  name: string;
  /** Vigil's own Database over it, as a function would build it. */
  db: Database;
  drop(): Promise<void>;
}

async function withAdmin<T>(adminUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/**
 * A database of this test file's own, copied from the template: Vigil's schema migrated and the
 * watched app's schema loaded. Call drop() in afterAll. `pgDump`: on the server the machine's
 * pg_dump can dump (global-setup.ts), for the suites that run a backup.
 */
export async function createTestDatabase(
  env: Record<string, string> = {},
  options: { pgDump?: boolean } = {},
): Promise<TestDatabase> {
  const name = `vigil_test_${randomBytes(6).toString('hex')}`;
  const template = inject('templateDatabase');
  const adminUrl = inject(options.pgDump ? 'pgDumpAdminUrl' : 'postgresAdminUrl');
  const majors = inject('postgresMajors');
  if (options.pgDump && majors.backups !== null && majors.pgDump !== null && majors.pgDump < majors.backups) {
    throw new Error(
      `pg_dump ${majors.pgDump} cannot dump PostgreSQL ${majors.backups} (it refuses a newer server): put a pg_dump ${majors.backups} or newer first on PATH, or point DATABASE_URL at a server of ${majors.pgDump} or older`,
    );
  }
  await withAdmin(adminUrl, async (admin) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (error) {
        // Two files copying the template at the same instant: PostgreSQL refuses the second.
        const busy = /is being accessed by other users/.test((error as Error).message);
        if (!busy || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = databaseUrlFor(adminUrl, name);
  const db = createDatabase(loadConfig(['database'], { DATABASE_URL: url, ...env }).database);
  return {
    url,
    name,
    db,
    async drop() {
      await db.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
