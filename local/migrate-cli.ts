import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, projectRoot } from './migrate';

/** `npm run migrate`: applies migrations/ to DATABASE_URL (from the environment or .env). */
async function main() {
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (environment or .env)');
  const applied = await migrate(url, (message) => process.stderr.write(`${message}\n`));
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
}

main().catch((error: Error) => {
  process.stderr.write(`migrate failed: ${error.message}\n`);
  process.exit(1);
});
