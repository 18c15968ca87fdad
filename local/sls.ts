import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './migrate';

/*
 * Runs the Serverless Framework (osls, the open-source v3 line) with HOME inside the repository:
 * it writes ~/.serverless, which CI and sandboxes may not allow, and nothing of it belongs to
 * the user's real home.
 */
export function serverlessEnv(): NodeJS.ProcessEnv {
  const home = join(projectRoot, '.home');
  mkdirSync(home, { recursive: true });
  return { ...process.env, HOME: home, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_DEPRECATION_DISABLE: '*' };
}

export const serverlessBin = join(projectRoot, 'node_modules', '.bin', 'serverless');

if (require.main === module) {
  const child = spawn(serverlessBin, process.argv.slice(2), { cwd: projectRoot, env: serverlessEnv(), stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
