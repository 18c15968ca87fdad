import type { CheckResult } from './checks';
import { checkFunction, checkReads, prepareRehearsal, type Rehearsal, runBackupTask, runFunction } from './rehearse';

/*
 * `npm run rehearse`: every packaged function run as Lambda runs it, on every sample event, against
 * a TLS-only PostgreSQL as a non-superuser. Prints one line a check; exits 1 naming each function
 * and check that failed. What passes here is what we deploy.
 */

const print = (line: string) => process.stdout.write(`${line}\n`);

function line(result: CheckResult) {
  const where = [result.function, result.step, result.event].filter(Boolean).join(' / ');
  return `${result.ok ? 'pass' : 'FAIL'}  ${where}: ${result.detail}`;
}

async function main() {
  const started = performance.now();
  let rehearsal: Rehearsal | undefined;
  const results: CheckResult[] = [];
  const record = (checks: CheckResult[]) => {
    for (const check of checks) {
      results.push(check);
      print(line(check));
    }
  };
  try {
    rehearsal = await prepareRehearsal({ log: (text) => print(text) });
    print('');
    record(rehearsal.checks);
    const only = process.argv.slice(2).filter((argument) => !argument.startsWith('-'));
    const functions = rehearsal.functions.filter((fn) => only.length === 0 || only.includes(fn.name));
    for (const fn of functions) {
      record(checkFunction(rehearsal, fn));
      record(await runFunction(rehearsal, fn));
      // The backup's other shape: the Fargate task's entry point, as its container runs it.
      if (fn.name === 'backup') record(await runBackupTask(rehearsal));
    }
    record(checkReads(rehearsal, functions));
  } catch (error) {
    const failed = { function: 'rehearsal', step: 'setup', ok: false, detail: (error as Error).stack ?? String(error) };
    record([failed]);
  } finally {
    await rehearsal?.stop();
  }
  const failures = results.filter((result) => !result.ok);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  print('');
  if (failures.length > 0) {
    print(
      `rehearsal FAILED in ${seconds} s: ${failures.map((f) => `${f.function} (${f.step}${f.event ? ` ${f.event}` : ''})`).join(', ')}`,
    );
    process.exit(1);
  }
  print(`rehearsal passed in ${seconds} s: ${results.length} checks`);
  process.exit(0);
}

void main();
