import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MadeReport } from '../functions/report/run';
import { parseCommand, usageError } from './cli';
import { projectRoot } from './paths';
import { localStackEnvironment, readStackInfo } from './stack-info';

/*
 * `npm run report [-- --period day|week] [--json] [--html <file>]`: the rollout scorecard of the
 * day or week ending now, for a person in a terminal, from the same code as the schedule and the
 * HTTP route, with the configuration of the environment (and .env, and a running npm start).
 * Stored in vigil.reports as asked from the command line; no digest is sent, no page uploaded.
 */

const command = {
  usage: 'npm run report -- [--period day|week] [--json] [--html FILE]',
  help: `The rollout scorecard of the day (or week) ending now: every promise of the source documents
measured with its n, window, bounds and target, and a verdict (met, missed, not shown yet, no data,
not measurable), the trend against the period before, and the recommendations whose rules fire.
Read from the database and the bucket of the environment (and .env, and a running npm start).
Stored in vigil.reports as asked from the command line; no digest is sent and no page uploaded.

  --period day|week  the period ending now (default: day)
  --json             the whole report as JSON instead of the text for a person
  --html FILE        also write the page with the charts to FILE (self-contained, no script)
  --help             this text; nothing is read, stored or written`,
  options: {
    period: { type: 'string', default: 'day' },
    json: { type: 'boolean', default: false },
    html: { type: 'string' },
  },
} as const;

async function main() {
  const { values } = parseCommand(command);
  const period = values.period;
  if (period !== 'day' && period !== 'week') usageError(command, `--period must be day or week, not "${period}"`);
  if (values.html === '') usageError(command, '--html needs a file name');
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  const stack = readStackInfo();
  if (stack) for (const [name, value] of Object.entries(localStackEnvironment(stack))) process.env[name] ??= value;
  // Handlers log to stdout; the answer is what this command prints there.
  const writeResult = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const [{ reportNow }, { digestText }] = await Promise.all([
    import('../functions/report/handler'),
    import('../functions/report/digest'),
  ]);
  const user = process.env.USER ?? 'unknown';
  const made: MadeReport = await reportNow(period, new Date(), {
    trigger: 'cli',
    requestedBy: `${user} (npm run report)`,
    publish: false,
  });
  if (values.html) await writeFile(resolve(values.html), made.html);
  const stage = process.env.VIGIL_STAGE || 'local';
  const { html: _html, ...answer } = made;
  const footer = [
    `Stored as report ${made.id} in vigil.reports.`,
    ...(values.html ? [`Page written to ${resolve(values.html)}.`] : []),
  ];
  writeResult(`${values.json ? JSON.stringify(answer, null, 2) : `${digestText(made.report, stage)}\n\n${footer.join('\n')}`}\n`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`report failed: ${error.message}\n`);
    process.exit(1);
  },
);
