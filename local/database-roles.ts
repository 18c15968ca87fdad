import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { quoteIdentifier } from '../lib/db';
import { projectRoot } from './paths';

/*
 * deploy/database-roles.sql, run the way an administrator runs it (psql), for the rehearsal and the
 * tests; and the passwords the administrator then gives each login.
 */

export const rolesScript = join(projectRoot, 'deploy', 'database-roles.sql');

/** The login of each function (deploy/database-roles.sql), by its serverless.yml name. */
export const functionLogins = {
  probe: 'vigil_probe',
  alerts: 'vigil_alerts',
  cacheEfficiency: 'vigil_cache_efficiency',
  rollbackDecision: 'vigil_rollback_decision',
  partitionMaintenance: 'vigil_partition_maintenance',
  backup: 'vigil_backup',
  report: 'vigil_report',
} as const;

/** What the demo app's observers read: the request log, the cache table and counters, the OLAP cache, and what the configured queries read. */
export const demoObservedTables = [
  'api_performance_log',
  // The report's query time row.
  'query_performance_log',
  'user_performance',
  'cache_counters',
  'performance_metrics_cache',
  // The adoption query counts users on the new page: it reads no email.
  'users(id,uses_new_dashboard)',
  'support_tickets',
];
export const demoPartitionedTables = [
  'api_performance_log',
  'query_performance_log',
  'system_resource_metrics',
  'vigil.probe_results',
];

export async function applyDatabaseRoles(
  adminUrl: string,
  options: { appOwner: string; observedTables: string[]; partitionedTables: string[] },
): Promise<string> {
  try {
    const { stderr } = await promisify(execFile)(
      'psql',
      [
        adminUrl,
        '--no-psqlrc',
        '--quiet',
        '-v',
        'ON_ERROR_STOP=1',
        '-v',
        `app_owner=${options.appOwner}`,
        '-v',
        `observed_tables=${options.observedTables.join(',')}`,
        '-v',
        `partitioned_tables=${options.partitionedTables.join(',')}`,
        '-f',
        rolesScript,
      ],
      { timeout: 60_000, env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } },
    );
    return stderr;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`deploy/database-roles.sql failed: ${failed.stderr ?? failed.message}`, { cause: error });
  }
}

/** Gives logins their passwords, as the administrator does after the script. */
export async function setPasswords(adminUrl: string, passwords: Record<string, string>): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const [role, password] of Object.entries(passwords)) {
      await admin.query(`ALTER ROLE ${quoteIdentifier(role)} PASSWORD '${password.replaceAll("'", "''")}'`);
    }
  } finally {
    await admin.end();
  }
}
