import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { isScheduledEvent } from '../lib/slots';
import { parseCommand, usageError } from './cli';
import { lambdaContext } from './lambda-context';
import { projectRoot } from './paths';
import { demoProbeEnvironment } from './probe-config';
import { serviceFunctions } from './service';
import { localStackEnvironment, readStackInfo } from './stack-info';

/*
 * `npm run invoke -- <function> [--event <file.json>]`: runs one handler once in this process,
 * with the configuration from the environment (and .env), prints the result as JSON on stdout and
 * exits non-zero when the handler fails. Logs and metrics go to stderr, so stdout is the result.
 */

const command = {
  usage: 'npm run invoke -- <function> [--event <file.json>]',
  help: `Runs one handler once in this process, with the configuration from the environment (and .env,
and a running npm start); prints its result as JSON on stdout and exits non-zero when it fails.
Without --event it takes the function's one sample event in events/. A scheduled sample is run as
a manual run: it takes no slot and moves no streak.

  <function>          the function's name in serverless.yml
  --event FILE.json   the event to hand it
  --help              this text; nothing runs`,
  options: { event: { type: 'string' } },
  positionals: true,
} as const;

function usage(message: string): never {
  const names = Object.keys(serviceFunctions()).join(', ') || '(none yet)';
  return usageError(command, `${message}\nfunctions: ${names}`);
}

function defaultEventFile(functionName: string): string | undefined {
  const dir = join(projectRoot, 'events');
  const candidates = existsSync(dir)
    ? readdirSync(dir).filter((file) => file.startsWith(`${functionName}.`) && file.endsWith('.json'))
    : [];
  if (candidates.length === 1) return join(dir, candidates[0] as string);
  if (candidates.length > 1) usage(`${functionName} has several sample events; pick one with --event: ${candidates.join(', ')}`);
  return undefined;
}

/** Fills in what a running `npm start` offers, without overriding anything set explicitly. */
export function environmentFromLocalStack() {
  const stack = readStackInfo();
  if (!stack) return;
  const defaults = { ...localStackEnvironment(stack), ...demoProbeEnvironment(stack.demoAppUrl) };
  for (const [name, value] of Object.entries(defaults)) process.env[name] ??= value;
}

async function main() {
  const { values, positionals } = parseCommand(command);
  const [functionName, ...extra] = positionals;
  if (!functionName) usage('name a function');
  if (extra.length > 0) usage(`one function at a time; also given: ${extra.join(' ')}`);
  const definition = serviceFunctions()[functionName];
  if (!definition) usage(`no function "${functionName}" in serverless.yml`);
  const eventFile = values.event ?? defaultEventFile(functionName);
  const sample: unknown = eventFile ? JSON.parse(readFileSync(eventFile, 'utf8')) : {};
  // A person's run, not a firing of the schedule: it takes no slot (lib/slots.ts) and moves no
  // streak; the function's answer says it was manual.
  const event = isScheduledEvent(sample)
    ? { ...sample, time: new Date().toISOString(), detail: { ...(sample.detail ?? {}), manual: true } }
    : sample;

  if (existsSync(join(projectRoot, '.env'))) process.loadEnvFile(join(projectRoot, '.env'));
  environmentFromLocalStack();
  process.env.VIGIL_STAGE ??= 'local';

  const writeResult = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

  const context = lambdaContext(functionName, definition.timeoutSeconds, definition.memorySize);
  const module = (await import(join(projectRoot, definition.handlerFile))) as Record<string, unknown>;
  const handler = module[definition.exportName] as (event: unknown, context: Context) => Promise<unknown>;
  if (typeof handler !== 'function') throw new Error(`${definition.handlerFile} exports no ${definition.exportName}`);
  const result = await handler(event, context);
  writeResult(`${JSON.stringify(result ?? null, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`invoke failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
