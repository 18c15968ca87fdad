import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DecisionAnswer } from '../functions/rollback-decision/evaluate';
import { labelText } from '../lib/labels';
import { parseCommand, usageError } from './cli';
import { projectRoot } from './paths';
import { signedJson, stageApiUrl } from './signed-request';
import { localStackEnvironment, readStackInfo } from './stack-info';

/*
 * `npm run decide [-- --complaints N] [--json]`: the rollback decision for a person in a terminal,
 * from the same code as the HTTP route, with the configuration of the environment (and .env, and a
 * running `npm start`). Stored as a decision asked from the command line.
 */

function render(answer: DecisionAnswer): string {
  const lines = [
    `Rollback decision at ${answer.decidedAt}: ${answer.action.toUpperCase()} (${answer.severity})`,
    `Scheduled evaluations say: ${answer.scheduled.effective} (${answer.scheduled.note}; staged streak ${answer.scheduled.stagedStreak}, calm streak ${answer.scheduled.calmStreak})`,
    answer.tier
      ? `Tier ${answer.tier.tier}, ${answer.tier.name}: within ${answer.tier.within}; approval: ${answer.tier.approval}. Why: ${answer.tier.why}`
      : 'Tier: none',
    '',
    'Signals:',
  ];
  for (const signal of answer.signals) {
    const { classification, evidence } = signal;
    const state =
      classification.state === 'breach'
        ? `BREACH (${classification.level})`
        : classification.state === 'no_data'
          ? 'NO DATA'
          : classification.state === 'not_shown'
            ? `NOT SHOWN (${classification.level})`
            : 'pass';
    const value =
      signal.value === null ? `- (${signal.reason})` : `${signal.value}${signal.unit === '%' ? '%' : ` ${signal.unit}`}`;
    const bound = (value: number | null, none: string) => (value === null ? none : String(Math.round(value * 100) / 100));
    const bounds =
      evidence && evidence.kind !== 'census'
        ? `${evidence.confidencePercent} % bounds ${bound(evidence.low, 'none')} to ${bound(evidence.high, 'none')}`
        : '';
    const context = [signal.window, signal.sampleCount !== undefined ? `n=${signal.sampleCount}` : '', bounds, signal.source]
      .filter(Boolean)
      .join('; ');
    lines.push(`  ${state.padEnd(24)} ${labelText(signal.name).padEnd(36)} ${value}  [${context}]`);
  }
  lines.push(
    '',
    'Why:',
    ...answer.reasons.map((reason) => `  - ${reason}`),
    '',
    'What to do:',
    ...answer.recommendations.map((recommendation) => `  - ${recommendation}`),
  );
  if (answer.decisionId) lines.push('', `Stored as decision ${answer.decisionId} in vigil.rollback_decisions.`);
  return lines.join('\n');
}

const command = {
  usage: 'npm run decide -- [--complaints N] [--json] [--stage NAME [--region REGION] [--url URL]]',
  help: `The rollback decision now, from the live signals: the same code as GET /rollback/decision, with
the configuration of the environment (and .env, and a running npm start). The answer is stored in
vigil.rollback_decisions as asked from the command line; it never moves the scheduled streaks.

With --stage, the deployed stage answers instead: its GET (or, with --complaints, POST)
/rollback/decision, signed with SigV4 from your AWS credentials as the AWS CLI finds them
(environment, AWS_PROFILE, SSO); the same view is printed.

  --complaints N   user complaints in the last hour, as you count them (a real input, stored)
  --json           the whole answer as JSON instead of the text for a person
  --stage NAME     ask the deployed stage (its HTTP API from the stack vigil-NAME's outputs)
  --region REGION  the stage's region (else AWS_REGION, AWS_DEFAULT_REGION)
  --url URL        the stage's HTTP API, instead of looking it up
  --help           this text; nothing is read or stored`,
  options: {
    complaints: { type: 'string' },
    json: { type: 'boolean', default: false },
    stage: { type: 'string' },
    region: { type: 'string' },
    url: { type: 'string' },
  },
} as const;

async function main() {
  const { values } = parseCommand(command);
  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  const stack = readStackInfo();
  if (stack) for (const [name, value] of Object.entries(localStackEnvironment(stack))) process.env[name] ??= value;
  const complaintsText = values.complaints;
  const complaintsPerHour = complaintsText === undefined ? undefined : Number(complaintsText);
  if (complaintsPerHour !== undefined && !(Number.isFinite(complaintsPerHour) && complaintsPerHour >= 0))
    usageError(command, `--complaints needs a number of complaints in the last hour, not "${complaintsText}"`);
  if (values.stage || values.url) {
    const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) usageError(command, "--stage needs the stage's region: --region, or AWS_REGION");
    const base = values.url ?? (await stageApiUrl(values.stage as string, region));
    const answer = (await signedJson(`${base.replace(/\/$/, '')}/rollback/decision`, {
      region,
      ...(complaintsPerHour === undefined
        ? { method: 'GET' as const }
        : { method: 'POST' as const, body: { complaintsPerHour } }),
    })) as DecisionAnswer;
    process.stdout.write(`${values.json ? JSON.stringify(answer, null, 2) : render(answer)}\n`);
    return;
  }
  const writeResult = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const { decideNow } = await import('../functions/rollback-decision/handler');
  const user = process.env.USER ?? 'unknown';
  const answer = await decideNow('cli', `${user} (npm run decide)`, complaintsPerHour === undefined ? {} : { complaintsPerHour });
  writeResult(`${values.json ? JSON.stringify(answer, null, 2) : render(answer)}\n`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`decide failed: ${error.message}\n`);
    process.exit(1);
  },
);
