import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../lib/config';
import { toolConnection } from '../lib/db';
import { parseCommand } from './cli';
import { migrate } from './migrate';
import { projectRoot } from './paths';

const command = {
  usage: 'npm run migrate',
  help: `Applies migrations/ (Vigil's schema "vigil") to DATABASE_URL, from the environment or .env, as
the migrating role (vigil_owner in a deployment). Prints what it applied.

  --help   this text; nothing is connected or applied`,
  options: {},
} as const;

/** `npm run migrate`: applies migrations/ to DATABASE_URL (from the environment or .env). */
async function main() {
  parseCommand(command);
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set (environment or .env)');
  // TLS as every Vigil connection has it (lib/db): the URL's sslmode, else DATABASE_SSL_MODE
  // (verify-full on every stage but local), the shipped RDS bundle or DATABASE_SSL_CA_FILE.
  const { database } = loadConfig(['database'], { ...process.env, DATABASE_SECRET_ID: '' });
  const applied = await migrate(toolConnection({ ...database, url: database.url as string }), (message) =>
    process.stderr.write(`${message}\n`),
  );
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
}

main().catch((error: Error) => {
  process.stderr.write(`migrate failed: ${error.message}\n`);
  process.exit(1);
});
