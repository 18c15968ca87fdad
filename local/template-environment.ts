import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { backupConfig } from '../functions/backup/config';
import { cacheConfig } from '../functions/cache-efficiency/config';
import { partitionsConfig } from '../functions/partition-maintenance/config';
import { probeConfig } from '../functions/probe/config';
import { reportConfig } from '../functions/report/config';
import { rollbackConfig } from '../functions/rollback-decision/config';
import { type Environment, loadConfig, type SectionEntry } from '../lib/config';
import { ConfigError } from '../lib/errors';
import { projectRoot } from './paths';

/*
 * Each function's environment as the template gives it, read at package time by the loader and the
 * schemas the function reads it with at cold start (lib/config.ts and functions/<name>/config.ts):
 * a value the function would refuse is refused before anything is uploaded, in the function's own
 * words, naming the stage parameter it came from. deploy/preflight.cjs calls this for every package
 * and deploy of a stage other than local.
 *
 * A value CloudFormation computes (a Ref to a resource, Fn::GetAtt, an Fn::Sub over the account) is
 * not known here and not checked: the variable is left out and every problem the loader reports
 * about it dropped; which ones were left out is said. What is known is used as it will be: the
 * stage's region where the template or Lambda gives the region, a Ref to the backup bucket as the
 * bucket's name when that name is written out, and the packaged CA file read where it is packaged
 * from.
 */

/** The configuration sections each function loads at cold start: its handler's `loadConfig([...])`. */
export const functionSections: Readonly<Record<string, readonly SectionEntry[]>> = {
  alerts: ['alerts', 'aws', 'database', 'runtime', 'http'],
  probe: [probeConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime'],
  cacheEfficiency: [cacheConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime'],
  rollbackDecision: [rollbackConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime', 'http'],
  partitionMaintenance: [partitionsConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime'],
  backup: [backupConfig, 'database', 'alerts', 'aws', 'runtime'],
  report: [reportConfig, 'database', 'thresholds', 'alerts', 'aws', 'runtime', 'http'],
};

/**
 * The stage parameters behind a `${file(./deploy/<helper>):<export>}` value of an environment
 * variable (a helper reads parameters in code, so serverless.yml does not show them).
 */
export const helperParameters: Readonly<Record<string, readonly string[]>> = {
  'database-secrets.cjs': ['databaseSecretPrefix'],
  'database-ca.cjs:environmentValue': ['databaseSslCaFile'],
  'backup-storage.cjs:kmsKeyId': ['backupKmsKeyId'],
  'backup-storage.cjs:bucketName': ['backupBucketName'],
  'timeouts.cjs': [],
};

interface ServerlessYaml {
  provider?: { environment?: Record<string, unknown> };
  custom?: Record<string, unknown>;
  functions?: Record<string, { environment?: Record<string, unknown> } | null>;
}

function readServerlessYaml(): ServerlessYaml {
  return load(readFileSync(join(projectRoot, 'serverless.yml'), 'utf8')) as ServerlessYaml;
}

/** The variables serverless.yml sets: the provider's, and each function's own. */
export function templateVariables(service: ServerlessYaml = readServerlessYaml()) {
  return {
    provider: Object.keys(service.provider?.environment ?? {}),
    functions: Object.fromEntries(
      Object.keys(functionSections).map((name) => [name, Object.keys(service.functions?.[name]?.environment ?? {})]),
    ),
  };
}

/** The stage parameters a raw serverless.yml value is made of, following `${self:custom...}` and the deploy helpers. */
export function parametersIn(raw: unknown, service: ServerlessYaml, depth = 0): string[] {
  if (depth > 5) return [];
  if (Array.isArray(raw) || (raw !== null && typeof raw === 'object')) {
    return [...new Set(Object.values(raw as object).flatMap((item) => parametersIn(item, service, depth + 1)))];
  }
  if (typeof raw !== 'string') return [];
  const found = [...raw.matchAll(/\$\{param:(\w+)/g)].map((match) => match[1] as string);
  for (const match of raw.matchAll(/\$\{self:custom\.(\w+)/g)) {
    found.push(...parametersIn(service.custom?.[match[1] as string], service, depth + 1));
  }
  for (const match of raw.matchAll(/\$\{file\(\.\/deploy\/([\w.-]+)\):(\w+)\}/g)) {
    const [, helper, exported] = match as unknown as [string, string, string];
    found.push(...(helperParameters[`${helper}:${exported}`] ?? helperParameters[helper] ?? []));
  }
  return [...new Set(found)];
}

/** A value CloudFormation computes at deploy time, and what it is. */
class DeployTime {
  constructor(readonly what: string) {}
}

const noValue = Symbol('AWS::NoValue');

/** A value of the template as it will be at deploy time where that is known now; DeployTime where it is not. */
function packageTimeValue(
  value: unknown,
  region: string,
  refs: Readonly<Record<string, unknown>>,
): string | typeof noValue | DeployTime {
  if (value === null || value === undefined) return noValue;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, argument] = entries.length === 1 ? (entries[0] as [string, unknown]) : [undefined, undefined];
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  const pseudo: Record<string, string> = {
    'AWS::Region': region,
    'AWS::Partition': partition,
    'AWS::URLSuffix': partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
  };
  const ref = (name: string): string | typeof noValue | DeployTime => {
    if (name === 'AWS::NoValue') return noValue;
    if (pseudo[name] !== undefined) return pseudo[name];
    if (refs[name] !== undefined) return packageTimeValue(refs[name], region, refs);
    return new DeployTime(`Ref ${name}`);
  };
  if (key === 'Ref') return ref(String(argument));
  if (key === 'Fn::Sub' && typeof argument === 'string') {
    const unknown: string[] = [];
    const text = argument.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const known = name.includes('.') ? new DeployTime(name) : ref(name);
      if (typeof known === 'string') return known;
      unknown.push(known instanceof DeployTime ? name : 'AWS::NoValue');
      return whole;
    });
    return unknown.length ? new DeployTime(`Fn::Sub over ${unknown.join(', ')}`) : text;
  }
  if (key === 'Fn::GetAtt') return new DeployTime(`Fn::GetAtt ${[argument].flat().join('.')}`);
  return new DeployTime(key ?? 'an object');
}

export interface TemplateEnvironments {
  region: string;
  /** provider.environment, resolved as serverless.yml gives it (values may be intrinsic functions). */
  provider: Readonly<Record<string, unknown>>;
  /** functions.<name>.environment, resolved likewise. */
  functions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** What a Ref to one of the stack's resources stands for, where the template writes it out (BackupBucket: its BucketName). */
  refs?: Readonly<Record<string, unknown>>;
}

export interface EnvironmentCheck {
  /** Each problem once, naming the parameter, the variable and every function that would refuse it. */
  problems: string[];
  /** The variables not checked, with the deploy-time value each one has. */
  deployTime: string[];
}

/** DATABASE_SSL_CA_FILE names the file where Lambda unpacks it (/var/task); it is packaged from the project. */
function packagedFrom(variable: string, value: string): string {
  return variable === 'DATABASE_SSL_CA_FILE' && value.startsWith('/var/task/')
    ? join(projectRoot, value.slice('/var/task/'.length))
    : value;
}

const shown = (value: string | undefined) => (value !== undefined && /^[^"\\\r\n]{1,40}$/.test(value) ? `="${value}"` : '');

/** Every problem the functions' own configuration loaders find in the environments the template gives them. */
export function checkTemplateEnvironments(
  input: TemplateEnvironments,
  service: ServerlessYaml = readServerlessYaml(),
): EnvironmentCheck {
  const found = new Map<string, { text: string; functions: string[]; outcome: string }>();
  const deployTime = new Set<string>();
  const report = (name: string, variable: string, value: string | undefined, message: string, outcome: string) => {
    const raw = service.functions?.[name]?.environment?.[variable] ?? service.provider?.environment?.[variable];
    const parameters = parametersIn(raw, service);
    const subject = parameters.length ? parameters.join(', ') : 'serverless.yml';
    const text = `${subject}: ${variable}${shown(value)}: ${message}`;
    const entry = found.get(text) ?? { text, functions: [], outcome };
    entry.functions.push(name);
    found.set(text, entry);
  };

  for (const [name, sections] of Object.entries(functionSections)) {
    const environment: Record<string, string> = {};
    const unknown = new Set<string>();
    for (const [variable, value] of Object.entries({ ...input.provider, ...input.functions[name] })) {
      const known = packageTimeValue(value, input.region, input.refs ?? {});
      if (known instanceof DeployTime) {
        unknown.add(variable);
        deployTime.add(`${variable} (${known.what})`);
      } else if (known !== noValue) {
        environment[variable] = packagedFrom(variable, known);
      }
    }
    // Lambda sets the region; a function reads it from there.
    environment.AWS_REGION = input.region;
    const shownValue = (variable: string) => (variable === 'DATABASE_SSL_CA_FILE' ? undefined : environment[variable]);
    // Section by section, as the loader would: a variable left to deploy time fails one section
    // (dropped below) without hiding what the others give.
    for (const section of sections) {
      try {
        const loaded = loadConfig([section], environment as Environment) as { partitions?: { invalidTables: unknown[] } };
        // An unusable PARTITION_TABLES entry does not stop the function: it is skipped, and alerted on, at every run.
        for (const invalid of (loaded.partitions?.invalidTables ?? []) as Array<{ label: string; problems: string[] }>) {
          for (const problem of invalid.problems) {
            report(name, 'PARTITION_TABLES', undefined, `table "${invalid.label}": ${problem}`, 'would skip it at every run');
          }
        }
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) {
          if (unknown.has(problem.variable)) continue;
          report(name, problem.variable, shownValue(problem.variable), problem.message, 'would fail at cold start');
        }
      }
    }
  }
  return {
    problems: [...found.values()].map((entry) => `${entry.text} (${entry.functions.join(', ')} ${entry.outcome})`),
    deployTime: [...deployTime].sort(),
  };
}
