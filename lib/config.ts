import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors';
import { resolveThresholds, type Thresholds } from './thresholds';

/*
 * The one place that reads process.env. Each section is a schema over the raw variables it owns;
 * a function asks for the sections it uses (`loadConfig(['database'])`), so it is never forced to
 * configure what it does not use. Every problem of every requested section is reported at once.
 */

export type Environment = Readonly<Record<string, string | undefined>>;

/** An empty variable is an unset one: `FOO=` in a .env file must not read as a value. */
const unsetIfEmpty = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const optionalString = z.preprocess(unsetIfEmpty, z.string().optional());
const optionalUrl = (protocols: RegExp) =>
  z.preprocess(unsetIfEmpty, z.url({ protocol: protocols, error: 'must be a URL' }).optional());
const integer = (defaultValue: number, min: number, max: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(defaultValue),
  );

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
const database = databaseVariables
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
  }));

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
  VIGIL_THRESHOLDS_SSM_PARAMETER: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^\/?[A-Za-z0-9_.\-/]+$/, 'must be an SSM parameter name such as /vigil/prod/thresholds')
      .optional(),
  ),
});
const thresholds = thresholdsVariables.transform((raw, context) => {
  let overrides: unknown;
  if (raw.VIGIL_THRESHOLDS !== undefined) {
    try {
      overrides = JSON.parse(raw.VIGIL_THRESHOLDS);
    } catch (error) {
      context.addIssue({ code: 'custom', path: ['VIGIL_THRESHOLDS'], message: `is not JSON (${(error as Error).message})` });
      return z.NEVER;
    }
  }
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
  VIGIL_ALERT_SMS_DISPLAY_NAME: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[A-Za-z0-9]{1,10}$/, 'must be 1-10 letters or digits (the SMS sender prefix)')
      .default('VIGIL'),
  ),
  VIGIL_ALERT_PUBLISH_ATTEMPTS: integer(4, 1, 10),
  VIGIL_RUNBOOK_URL: optionalUrl(/^https?$/),
});
const alerts = alertsVariables.transform((raw) => ({
  topicArn: raw.VIGIL_ALERT_TOPIC_ARN,
  repeatIntervalMinutes: raw.VIGIL_ALERT_REPEAT_INTERVAL_MINUTES,
  flapWindowMinutes: raw.VIGIL_ALERT_FLAP_WINDOW_MINUTES,
  smsDisplayName: raw.VIGIL_ALERT_SMS_DISPLAY_NAME,
  publishAttempts: raw.VIGIL_ALERT_PUBLISH_ATTEMPTS,
  runbookUrl: raw.VIGIL_RUNBOOK_URL,
}));

const httpVariables = z.object({
  VIGIL_API_TOKEN: z.preprocess(unsetIfEmpty, z.string().min(16, 'must be at least 16 characters').optional()),
});
const http = httpVariables.transform((raw) => ({ apiToken: raw.VIGIL_API_TOKEN }));

const qualifiedName = (example: string) =>
  z
    .string()
    .regex(
      /^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
      `must be a table name such as ${example} (optionally schema-qualified)`,
    );

const cacheVariables = z.object({
  CACHE_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('user_performance').default('user_performance')),
  CACHE_COUNTERS_QUERY: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(
        /^\s*(SELECT|WITH)\b/i,
        'must be a SELECT returning one row with columns hits, misses, errors (and optionally started_at)',
      )
      .optional(),
  ),
  CACHE_MIN_LOOKUPS: integer(20, 1, 1_000_000),
  CACHE_ALERT_BREACHES: integer(2, 1, 100),
  CACHE_ALERT_WINDOWS: integer(3, 1, 100),
  CACHE_OLAP_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('performance_metrics_cache').default('performance_metrics_cache')),
  CACHE_WINDOW_RETENTION_DAYS: integer(90, 1, 3650),
});
const cache = cacheVariables
  .superRefine(
    (raw, context) => {
      if (
        typeof raw.CACHE_ALERT_BREACHES === 'number' &&
        typeof raw.CACHE_ALERT_WINDOWS === 'number' &&
        raw.CACHE_ALERT_BREACHES > raw.CACHE_ALERT_WINDOWS
      ) {
        context.addIssue({
          code: 'custom',
          path: ['CACHE_ALERT_BREACHES'],
          message: 'must not exceed CACHE_ALERT_WINDOWS (M of N)',
        });
      }
    },
    { when: () => true },
  )
  .transform((raw) => ({
    table: raw.CACHE_TABLE,
    countersQuery: raw.CACHE_COUNTERS_QUERY,
    minLookups: raw.CACHE_MIN_LOOKUPS,
    alertBreaches: raw.CACHE_ALERT_BREACHES,
    alertWindows: raw.CACHE_ALERT_WINDOWS,
    olapTable: raw.CACHE_OLAP_TABLE,
    windowRetentionDays: raw.CACHE_WINDOW_RETENTION_DAYS,
  }));

export const configSections = { database, aws, thresholds, runtime, alerts, http, cache };

export type ConfigSectionName = keyof typeof configSections;
export type Config = { [K in ConfigSectionName]: z.output<(typeof configSections)[K]> };

const sectionVariables: Record<ConfigSectionName, z.ZodObject> = {
  database: databaseVariables,
  aws: awsVariables,
  thresholds: thresholdsVariables,
  runtime: runtimeVariables,
  alerts: alertsVariables,
  http: httpVariables,
  cache: cacheVariables,
};

/** Every environment variable a section reads, for the README's configuration table and its test. */
export function configVariables(name: ConfigSectionName): string[] {
  return Object.keys(sectionVariables[name].shape);
}

/**
 * Parses the named sections of the environment. Throws one ConfigError listing every missing or
 * malformed variable of every requested section.
 */
export function loadConfig<const K extends ConfigSectionName>(
  names: readonly K[],
  env: Environment = process.env,
): Pick<Config, K> {
  const problems: ConfigProblem[] = [];
  const loaded: Partial<Config> = {};
  for (const name of names) {
    const parsed = configSections[name].safeParse(env);
    if (parsed.success) {
      (loaded as Record<string, unknown>)[name] = parsed.data;
      continue;
    }
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? name);
      const unset = unsetIfEmpty(env[variable]) === undefined;
      const message = issue.code === 'invalid_type' && unset ? 'is required' : issue.message;
      problems.push({ variable, message });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded as Pick<Config, K>;
}
