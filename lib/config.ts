import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { integer, optionalString, optionalUrl, parseJsonIn, ssmParameterName, unsetIfEmpty } from './config-fields';
import { ConfigError, type ConfigProblem, errorMessage } from './errors';
import { resolveThresholds, type Thresholds } from './thresholds';

/*
 * The one place that reads process.env. Each section is a schema over the raw variables it owns.
 * The sections two or more functions use live here; a function's own section lives in its room
 * (functions/<name>/config.ts) and is built with configSection(). A function asks for the sections
 * it uses (`loadConfig([probeConfig, 'database', 'alerts'])`), so it is never forced to configure
 * what it does not use, and every problem of every requested section is reported in one error.
 */

export type Environment = Readonly<Record<string, string | undefined>>;

/** A CA file that cannot be read, or holds no certificate, fails at cold start rather than at the first connection. */
function caFileProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`;
  }
  return text.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'holds no PEM certificate';
}

const databaseVariables = z.object({
  DATABASE_URL: optionalUrl(/^postgres(ql)?$/),
  DATABASE_SECRET_ID: optionalString,
  DATABASE_SSL_MODE: z.preprocess(
    unsetIfEmpty,
    z.enum(['disable', 'require', 'verify-full'], { error: 'must be disable, require or verify-full' }).default('disable'),
  ),
  DATABASE_SSL_CA_FILE: optionalString,
  DATABASE_POOL_MAX: integer(2, 1, 20),
  DATABASE_CONNECT_TIMEOUT_MS: integer(5_000, 100, 60_000),
  DATABASE_STATEMENT_TIMEOUT_MS: integer(30_000, 100, 900_000),
  DATABASE_LOCK_TIMEOUT_MS: integer(5_000, 10, 600_000),
});
/**
 * TLS is verify-full unless said otherwise on every stage but local: an operator's tool pointed at a
 * deployed stage's database (VIGIL_STAGE=prod npm run decide) never falls back to plaintext.
 */
function withStageSslDefault(env: unknown): unknown {
  const variables = env as Record<string, string | undefined>;
  if (variables.DATABASE_SSL_MODE?.trim()) return env;
  const stage = variables.VIGIL_STAGE?.trim() || 'local';
  return { ...variables, DATABASE_SSL_MODE: stage === 'local' ? 'disable' : 'verify-full' };
}

const database = z.preprocess(
  withStageSslDefault,
  databaseVariables
    .superRefine(
      (raw, context) => {
        if (!raw.DATABASE_URL && !raw.DATABASE_SECRET_ID) {
          context.addIssue({
            code: 'custom',
            path: ['DATABASE_URL'],
            message: 'set DATABASE_URL (postgres://...) or DATABASE_SECRET_ID (a Secrets Manager secret of the RDS shape)',
          });
        }
        if (raw.DATABASE_URL && raw.DATABASE_SECRET_ID) {
          context.addIssue({
            code: 'custom',
            path: ['DATABASE_SECRET_ID'],
            message: 'set only one of DATABASE_URL and DATABASE_SECRET_ID',
          });
        }
        if (raw.DATABASE_SSL_CA_FILE && raw.DATABASE_SSL_MODE !== 'verify-full') {
          context.addIssue({
            code: 'custom',
            path: ['DATABASE_SSL_CA_FILE'],
            message: 'is only used with DATABASE_SSL_MODE=verify-full',
          });
        } else if (raw.DATABASE_SSL_CA_FILE) {
          const problem = caFileProblem(raw.DATABASE_SSL_CA_FILE);
          if (problem) context.addIssue({ code: 'custom', path: ['DATABASE_SSL_CA_FILE'], message: problem });
        }
        // Run even when another variable is malformed, so one error lists everything.
      },
      { when: () => true },
    )
    .transform((raw) => ({
      url: raw.DATABASE_URL,
      secretId: raw.DATABASE_SECRET_ID,
      sslMode: raw.DATABASE_SSL_MODE,
      sslCaFile: raw.DATABASE_SSL_CA_FILE,
      poolMax: raw.DATABASE_POOL_MAX,
      connectTimeoutMs: raw.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: raw.DATABASE_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: raw.DATABASE_LOCK_TIMEOUT_MS,
    })),
);

const awsVariables = z.object({
  AWS_REGION: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be a region such as eu-west-1')
      .default('us-east-1'),
  ),
  AWS_ENDPOINT_URL_S3: optionalUrl(/^https?$/),
  AWS_ENDPOINT_URL_SNS: optionalUrl(/^https?$/),
  AWS_ENDPOINT_URL_CLOUDWATCH: optionalUrl(/^https?$/),
});
const aws = awsVariables.transform((raw) => ({
  region: raw.AWS_REGION,
  s3Endpoint: raw.AWS_ENDPOINT_URL_S3,
  snsEndpoint: raw.AWS_ENDPOINT_URL_SNS,
  cloudWatchEndpoint: raw.AWS_ENDPOINT_URL_CLOUDWATCH,
}));

const thresholdsVariables = z.object({
  VIGIL_THRESHOLDS: optionalString,
  VIGIL_THRESHOLDS_SSM_PARAMETER: ssmParameterName('/vigil/prod/thresholds'),
});
const thresholds = thresholdsVariables.transform((raw, context) => {
  const overrides =
    raw.VIGIL_THRESHOLDS === undefined ? undefined : parseJsonIn(raw.VIGIL_THRESHOLDS, context, ['VIGIL_THRESHOLDS']);
  if (overrides === z.NEVER) return z.NEVER;
  const resolved = resolveThresholds(overrides === undefined ? [] : [{ source: 'VIGIL_THRESHOLDS', overrides }]);
  for (const problem of resolved.problems) {
    context.addIssue({ code: 'custom', path: ['VIGIL_THRESHOLDS'], message: problem.message });
  }
  return {
    thresholds: resolved.thresholds as Thresholds,
    environmentOverrides: overrides,
    ssmParameter: raw.VIGIL_THRESHOLDS_SSM_PARAMETER,
  };
});

const runtimeVariables = z.object({
  VIGIL_STAGE: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[a-z0-9-]{1,20}$/, 'must be 1-20 of a-z, 0-9, -')
      .default('local'),
  ),
});
const runtime = runtimeVariables.transform((raw) => ({ stage: raw.VIGIL_STAGE }));

const alertsVariables = z.object({
  VIGIL_ALERT_TOPIC_ARN: z.preprocess(
    unsetIfEmpty,
    z
      .string({ error: 'is required' })
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN'),
  ),
  VIGIL_ALERT_REPEAT_INTERVAL_MINUTES: integer(240, 1, 7 * 24 * 60),
  VIGIL_ALERT_FLAP_WINDOW_MINUTES: integer(30, 0, 24 * 60),
  /** Messages about one key within the flap window before its changes are held and merged. */
  VIGIL_ALERT_FLAP_THRESHOLD: integer(4, 2, 100),
  /** While a key flaps, at most one message about it per this many minutes. */
  VIGIL_ALERT_FLAP_HOLD_MINUTES: integer(10, 1, 24 * 60),
  VIGIL_ALERT_SMS_DISPLAY_NAME: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[A-Za-z0-9]{1,10}$/, 'must be 1-10 letters or digits (the SMS sender prefix)')
      .default('VIGIL'),
  ),
  VIGIL_ALERT_PUBLISH_ATTEMPTS: integer(4, 1, 10),
  /** POST /alerts/test per caller and minute: each can page a phone. */
  VIGIL_ALERT_TEST_LIMIT_PER_MINUTE: integer(5, 1, 60),
  VIGIL_RUNBOOK_URL: optionalUrl(/^https?$/),
});
const alerts = alertsVariables.transform((raw) => ({
  topicArn: raw.VIGIL_ALERT_TOPIC_ARN,
  repeatIntervalMinutes: raw.VIGIL_ALERT_REPEAT_INTERVAL_MINUTES,
  flapWindowMinutes: raw.VIGIL_ALERT_FLAP_WINDOW_MINUTES,
  flapThreshold: raw.VIGIL_ALERT_FLAP_THRESHOLD,
  flapHoldMinutes: raw.VIGIL_ALERT_FLAP_HOLD_MINUTES,
  smsDisplayName: raw.VIGIL_ALERT_SMS_DISPLAY_NAME,
  publishAttempts: raw.VIGIL_ALERT_PUBLISH_ATTEMPTS,
  testAlertsPerMinute: raw.VIGIL_ALERT_TEST_LIMIT_PER_MINUTE,
  runbookUrl: raw.VIGIL_RUNBOOK_URL,
}));

const httpVariables = z.object({
  VIGIL_API_TOKEN: z.preprocess(unsetIfEmpty, z.string().min(16, 'must be at least 16 characters').optional()),
});
const http = httpVariables.transform((raw) => ({ apiToken: raw.VIGIL_API_TOKEN }));

/** A section of configuration: the variables it reads, and the schema that turns them into its settings. */
export interface ConfigSection<Name extends string = string, Output = unknown> {
  readonly name: Name;
  /** Every environment variable the section reads (the documentation and its test list them). */
  readonly variables: z.ZodObject;
  readonly schema: z.ZodType<Output>;
}

/** The settings a section gives. */
export type SectionOutput<S> = S extends ConfigSection<string, infer Output> ? Output : never;

/** A section over `variables`; `schema` refines and shapes them (by default the variables as parsed). */
export function configSection<const Name extends string, Schema extends z.ZodType>(
  name: Name,
  variables: z.ZodObject,
  schema: Schema,
): ConfigSection<Name, z.output<Schema>> {
  return { name, variables, schema: schema as z.ZodType<z.output<Schema>> };
}

export const sharedSections = {
  database: configSection('database', databaseVariables, database),
  aws: configSection('aws', awsVariables, aws),
  thresholds: configSection('thresholds', thresholdsVariables, thresholds),
  runtime: configSection('runtime', runtimeVariables, runtime),
  alerts: configSection('alerts', alertsVariables, alerts),
  http: configSection('http', httpVariables, http),
};

export type SharedSectionName = keyof typeof sharedSections;
/** The shared sections' settings, by section name. */
export type Config = { [K in SharedSectionName]: SectionOutput<(typeof sharedSections)[K]> };

/** A section to load: a shared one by name, or a function's own. */
export type SectionEntry = SharedSectionName | ConfigSection;
type EntryName<E> = E extends SharedSectionName ? E : E extends ConfigSection<infer Name, unknown> ? Name : never;
type EntryOutput<E> = E extends SharedSectionName ? Config[E] : SectionOutput<E>;
export type LoadedConfig<E extends SectionEntry> = { [X in E as EntryName<X>]: EntryOutput<X> };

const sectionOf = (entry: SectionEntry): ConfigSection => (typeof entry === 'string' ? sharedSections[entry] : entry);

/** Every environment variable a section reads. */
export function configVariables(entry: SectionEntry): string[] {
  return Object.keys(sectionOf(entry).variables.shape);
}

/**
 * Parses the given sections of the environment. Throws one ConfigError listing every missing or
 * malformed variable of every requested section.
 */
export function loadConfig<const E extends readonly SectionEntry[]>(
  entries: E,
  env: Environment = process.env,
): LoadedConfig<E[number]> {
  const problems: ConfigProblem[] = [];
  const loaded: Record<string, unknown> = {};
  for (const section of entries.map(sectionOf)) {
    const parsed = section.schema.safeParse(env);
    if (parsed.success) {
      loaded[section.name] = parsed.data;
      continue;
    }
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? section.name);
      const unset = unsetIfEmpty(env[variable]) === undefined;
      const message = issue.code === 'invalid_type' && unset ? 'is required' : issue.message;
      problems.push({ variable, message });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded as LoadedConfig<E[number]>;
}
