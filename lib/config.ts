import { readFileSync } from 'node:fs';
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

/** A CA file that cannot be read, or holds no certificate, fails at cold start rather than at the first connection. */
function caFileProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
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
  /** POST /alerts/test per caller and minute: each can page a phone. */
  VIGIL_ALERT_TEST_LIMIT_PER_MINUTE: integer(5, 1, 60),
  VIGIL_RUNBOOK_URL: optionalUrl(/^https?$/),
});
const alerts = alertsVariables.transform((raw) => ({
  topicArn: raw.VIGIL_ALERT_TOPIC_ARN,
  repeatIntervalMinutes: raw.VIGIL_ALERT_REPEAT_INTERVAL_MINUTES,
  flapWindowMinutes: raw.VIGIL_ALERT_FLAP_WINDOW_MINUTES,
  smsDisplayName: raw.VIGIL_ALERT_SMS_DISPLAY_NAME,
  publishAttempts: raw.VIGIL_ALERT_PUBLISH_ATTEMPTS,
  testAlertsPerMinute: raw.VIGIL_ALERT_TEST_LIMIT_PER_MINUTE,
  runbookUrl: raw.VIGIL_RUNBOOK_URL,
}));

const httpVariables = z.object({
  VIGIL_API_TOKEN: z.preprocess(unsetIfEmpty, z.string().min(16, 'must be at least 16 characters').optional()),
});
const http = httpVariables.transform((raw) => ({ apiToken: raw.VIGIL_API_TOKEN }));

/** "Alert in M of the last N": M must not exceed N (checked even when another variable is bad). */
function checkMOfN(context: z.RefinementCtx, raw: Record<string, unknown>, breaches: string, windows: string) {
  const m = raw[breaches];
  const n = raw[windows];
  if (typeof m === 'number' && typeof n === 'number' && m > n) {
    context.addIssue({ code: 'custom', path: [breaches], message: `must not exceed ${windows} (M of N)` });
  }
}

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
      checkMOfN(context, raw, 'CACHE_ALERT_BREACHES', 'CACHE_ALERT_WINDOWS');
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

const probeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 of a-z, 0-9, - (it names metrics and alert keys)');
const budget = z
  .strictObject({
    degradedMs: z.number().positive(),
    failMs: z.number().positive(),
  })
  .refine((value) => value.degradedMs <= value.failMs, { message: 'degradedMs must not exceed failMs', path: ['degradedMs'] });

const probeTarget = z.strictObject({
  name: probeName,
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .refine((headers) => !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization'), {
      message: 'must not carry Authorization: give the token by reference (tokenSsmParameter or tokenSecretId)',
    }),
  tokenSsmParameter: z.string().min(1).optional(),
  tokenSecretId: z.string().min(1).optional(),
  /** A literal token: only on the local stage, where it is the demo app's. */
  token: z.string().min(1).optional(),
  expectStatus: z.number().int().min(100).max(599).default(200),
  assert: z
    .strictObject({
      path: z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/),
      equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    })
    .optional(),
  samples: z.number().int().min(1).max(200).default(20),
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(100 * 1024 * 1024)
    .default(5 * 1024 * 1024),
  maxRedirects: z.number().int().min(0).max(20).default(5),
  budget: budget.optional(),
});

const probeScenario = z.strictObject({
  name: probeName,
  requests: z.array(probeName).min(1),
  mode: z.enum(['parallel', 'serial']).default('parallel'),
  /** Connections a browser opens to one host (HTTP/1.1 browsers: 6). */
  connections: z.number().int().min(1).max(32).default(6),
  samples: z.number().int().min(1).max(200).default(20),
  budget: budget.optional(),
  /** The old and the new page of the rollout, compared in every run. */
  role: z.enum(['old', 'new']).optional(),
});

/** Each problem of a zod issue list as `field: message`. */
const issueProblems = (issues: z.core.$ZodIssue[]) =>
  issues.map((issue) => {
    const field =
      [...issue.path, ...('keys' in issue && Array.isArray(issue.keys) ? [issue.keys.join(',')] : [])].join('.') || '(entry)';
    return `${field}: ${issue.message}`;
  });

/**
 * A JSON array variable of entries: the entries that parse, and each one that does not with its
 * name (or position) and every problem. Only text that is not a JSON array is an issue here.
 */
function jsonEntries<T extends z.ZodType>(item: T, what: string, nameKey: string) {
  return z.preprocess(unsetIfEmpty, z.string().optional()).transform((raw, context) => {
    const entries = { valid: [] as z.output<T>[], invalid: [] as Array<{ name?: string; index: number; problems: string[] }> };
    if (raw === undefined) return entries;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      context.addIssue({ code: 'custom', message: `is not JSON (${(error as Error).message})` });
      return z.NEVER;
    }
    if (!Array.isArray(json)) {
      context.addIssue({ code: 'custom', message: `must be a JSON array of ${what}s` });
      return z.NEVER;
    }
    json.forEach((entry, index) => {
      const result = item.safeParse(entry);
      const name = (entry as Record<string, unknown> | null)?.[nameKey];
      if (result.success) entries.valid.push(result.data);
      else
        entries.invalid.push({
          name: typeof name === 'string' && name.trim() ? name : undefined,
          index,
          problems: issueProblems(result.error.issues),
        });
    });
    return entries;
  });
}

/** A JSON array variable of entries; every bad field of every entry is named, with the entry's name. */
function parsedJsonList<T extends z.ZodType>(item: T, what: string, nameKey = 'name') {
  return jsonEntries(item, what, nameKey).transform((entries, context): z.output<T>[] => {
    for (const invalid of entries.invalid) {
      const label = `${what} ${invalid.name !== undefined ? `"${invalid.name}"` : `#${invalid.index + 1}`}`;
      for (const problem of invalid.problems) context.addIssue({ code: 'custom', message: `${label}: ${problem}` });
    }
    return entries.valid;
  });
}

const probeVariables = z.object({
  PROBE_TARGETS: parsedJsonList(probeTarget, 'target'),
  PROBE_SCENARIOS: parsedJsonList(probeScenario, 'scenario'),
  PROBE_CONCURRENCY: integer(64, 1, 256),
  PROBE_ALERT_BREACHES: integer(2, 1, 100),
  PROBE_ALERT_RUNS: integer(3, 1, 100),
  VIGIL_STAGE: z.preprocess(unsetIfEmpty, z.string().default('local')),
});
const probe = probeVariables
  .superRefine(
    (raw, context) => {
      const targets = Array.isArray(raw.PROBE_TARGETS) ? raw.PROBE_TARGETS : [];
      const scenarios = Array.isArray(raw.PROBE_SCENARIOS) ? raw.PROBE_SCENARIOS : [];
      const names = new Set<string>();
      for (const entry of [...targets, ...scenarios]) {
        if (names.has(entry.name))
          context.addIssue({ code: 'custom', path: ['PROBE_TARGETS'], message: `name "${entry.name}" is used twice` });
        names.add(entry.name);
      }
      for (const target of targets) {
        const references = [target.tokenSsmParameter, target.tokenSecretId, target.token].filter(Boolean).length;
        if (references > 1)
          context.addIssue({
            code: 'custom',
            path: ['PROBE_TARGETS'],
            message: `target "${target.name}": token: give only one of tokenSsmParameter, tokenSecretId, token`,
          });
        if (target.token && raw.VIGIL_STAGE !== 'local') {
          context.addIssue({
            code: 'custom',
            path: ['PROBE_TARGETS'],
            message: `target "${target.name}": token: a literal token is for the local stage only; use tokenSsmParameter or tokenSecretId`,
          });
        }
      }
      const targetNames = new Set(targets.map((target) => target.name));
      for (const scenario of scenarios) {
        for (const request of scenario.requests) {
          if (!targetNames.has(request))
            context.addIssue({
              code: 'custom',
              path: ['PROBE_SCENARIOS'],
              message: `scenario "${scenario.name}": requests: no target named "${request}"`,
            });
        }
      }
      for (const role of ['old', 'new'] as const) {
        if (scenarios.filter((scenario) => scenario.role === role).length > 1) {
          context.addIssue({ code: 'custom', path: ['PROBE_SCENARIOS'], message: `more than one scenario has role "${role}"` });
        }
      }
      checkMOfN(context, raw, 'PROBE_ALERT_BREACHES', 'PROBE_ALERT_RUNS');
    },
    { when: () => true },
  )
  .transform((raw) => ({
    targets: raw.PROBE_TARGETS,
    scenarios: raw.PROBE_SCENARIOS,
    concurrency: raw.PROBE_CONCURRENCY,
    alertBreaches: raw.PROBE_ALERT_BREACHES,
    alertRuns: raw.PROBE_ALERT_RUNS,
  }));

const selectQuery = (what: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(
        /^\s*(SELECT|WITH)\b/i,
        `must be a SELECT returning one row with a numeric column value (${what}) and optionally sample_count`,
      )
      .optional(),
  );

const metricStat = z.strictObject({
  namespace: z.string().min(1),
  metricName: z.string().min(1),
  dimensions: z.record(z.string(), z.string()).default({}),
  stat: z.string().min(1),
});

const rollbackVariables = z.object({
  ROLLBACK_WINDOW_MINUTES: integer(15, 1, 24 * 60),
  ROLLBACK_MIN_REQUESTS: integer(20, 1, 1_000_000),
  ROLLBACK_REQUESTS_SOURCE: z.preprocess(
    unsetIfEmpty,
    z.enum(['database', 'cloudwatch'], { error: 'must be database or cloudwatch' }).default('database'),
  ),
  ROLLBACK_LOG_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('api_performance_log').default('api_performance_log')),
  ROLLBACK_CLOUDWATCH_QUERIES: z.preprocess(unsetIfEmpty, z.string().optional()).transform((raw, context) => {
    if (raw === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      context.addIssue({ code: 'custom', message: `is not JSON (${(error as Error).message})` });
      return z.NEVER;
    }
    const parsed = z
      .strictObject({
        requests: metricStat,
        errors: metricStat,
        latencyAverage: metricStat,
        latencyP95: metricStat.optional(),
        latencyUnit: z.enum(['Milliseconds', 'Seconds']).default('Milliseconds'),
      })
      .safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        context.addIssue({ code: 'custom', message: `${issue.path.join('.') || '(root)'}: ${issue.message}` });
      return z.NEVER;
    }
    return parsed.data;
  }),
  ROLLBACK_ADOPTION_QUERY: selectQuery('percent of users on the new version'),
  ROLLBACK_COMPLAINTS_QUERY: selectQuery('complaints in the last hour'),
  ROLLBACK_CACHE_TABLE: z.preprocess(unsetIfEmpty, qualifiedName('user_performance').default('user_performance')),
  ROLLBACK_INPUT_MAX_AGE_MINUTES: integer(45, 1, 24 * 60),
  ROLLBACK_CONFIRM_EVALUATIONS: integer(2, 1, 20),
  ROLLBACK_CLEAR_EVALUATIONS: integer(3, 1, 20),
});
const rollback = rollbackVariables
  .superRefine(
    (raw, context) => {
      if (raw.ROLLBACK_REQUESTS_SOURCE === 'cloudwatch' && !raw.ROLLBACK_CLOUDWATCH_QUERIES) {
        context.addIssue({
          code: 'custom',
          path: ['ROLLBACK_CLOUDWATCH_QUERIES'],
          message: 'is required when ROLLBACK_REQUESTS_SOURCE=cloudwatch',
        });
      }
    },
    { when: () => true },
  )
  .transform((raw) => ({
    windowMinutes: raw.ROLLBACK_WINDOW_MINUTES,
    minRequests: raw.ROLLBACK_MIN_REQUESTS,
    requestsSource: raw.ROLLBACK_REQUESTS_SOURCE,
    logTable: raw.ROLLBACK_LOG_TABLE,
    cloudWatchQueries: raw.ROLLBACK_CLOUDWATCH_QUERIES,
    adoptionQuery: raw.ROLLBACK_ADOPTION_QUERY,
    complaintsQuery: raw.ROLLBACK_COMPLAINTS_QUERY,
    cacheTable: raw.ROLLBACK_CACHE_TABLE,
    inputMaxAgeMinutes: raw.ROLLBACK_INPUT_MAX_AGE_MINUTES,
    confirmEvaluations: raw.ROLLBACK_CONFIRM_EVALUATIONS,
    clearEvaluations: raw.ROLLBACK_CLEAR_EVALUATIONS,
  }));

const s3Bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name');
const s3Prefix = z.string().regex(/^[A-Za-z0-9!_.*'()/-]{1,200}$/, 'must be an S3 key prefix such as backups');

/**
 * A table name as PostgreSQL reads it: `name` or `schema.name`, each part either unquoted (folded
 * to lower case) or "double-quoted" (case kept, any character; "" for a quote inside).
 */
const identifierPart = '(?:[A-Za-z_][A-Za-z0-9_$]{0,62}|"(?:[^"]|""){1,63}")';
const sqlTableName = z
  .string()
  .regex(
    new RegExp(`^${identifierPart}(?:\\.${identifierPart})?$`),
    'must be a table name as in SQL: name or schema.name, "quoted" to keep case or use other characters',
  );

/** The name an identifier stands for, by PostgreSQL's rules (unquoted: lower case; quoted: as written). */
export function identifierName(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replaceAll('""', '"') : text.toLowerCase();
}

const partitionTable = z
  .strictObject({
    table: sqlTableName,
    interval: z.enum(['month', 'week', 'day']).default('month'),
    premake: z.number().int().min(1).max(60).default(3),
    /** Intervals kept before the current one; omitted keeps everything. */
    retention: z.number().int().min(0).max(1000).optional(),
    /** detach and keep, drop, or archive to S3 (verified) then drop. */
    retire: z.enum(['drop', 'detach', 'archive']).default('detach'),
    /** Detach-mode tables are moved into this schema once retired (it must exist). */
    retentionSchema: z
      .string()
      .regex(new RegExp(`^${identifierPart}$`), 'must be a schema name')
      .transform(identifierName)
      .optional(),
    /** Create a default partition when the table has none (rows outside every range land there, not in an error). */
    createDefault: z.boolean().default(false),
    /** Mark existing children with exactly the planned bounds as Vigil's, so retention applies to them. */
    adopt: z.boolean().default(false),
  })
  .refine((entry) => !(entry.retentionSchema && entry.retire !== 'detach'), {
    message: 'retentionSchema is for retire: detach (drop and archive leave no table)',
    path: ['retentionSchema'],
  });

/** An entry of PARTITION_TABLES that cannot be used: reported and skipped, the others maintained. */
export interface InvalidPartitionTable {
  label: string;
  problems: string[];
}

/** PARTITION_TABLES: every usable entry, and every unusable one with what is wrong with it (skipped, not fatal). */
const partitionTablesList = jsonEntries(partitionTable, 'table', 'table').transform((entries) => ({
  tables: entries.valid,
  invalid: entries.invalid.map(
    (invalid): InvalidPartitionTable => ({ label: invalid.name ?? `#${invalid.index + 1}`, problems: invalid.problems }),
  ),
}));

const partitionVariables = z.object({
  PARTITION_TABLES: partitionTablesList,
  PARTITION_LOCK_TIMEOUT_MS: integer(2_000, 10, 60_000),
  /** Intervals of rows in the default partition moved into partitions of their own per run. */
  PARTITION_MOVE_INTERVALS_PER_RUN: integer(12, 1, 1000),
  /** Alert when a table's locks could not be had in M of the last N runs (one such run is expected). */
  PARTITION_LOCK_ALERT_BREACHES: integer(2, 1, 100),
  PARTITION_LOCK_ALERT_RUNS: integer(3, 1, 100),
  PARTITION_ARCHIVE_BUCKET: z.preprocess(unsetIfEmpty, s3Bucket.optional()),
  PARTITION_ARCHIVE_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('partitions')),
});
const partitions = partitionVariables
  .superRefine(
    (raw, context) => {
      checkMOfN(context, raw, 'PARTITION_LOCK_ALERT_BREACHES', 'PARTITION_LOCK_ALERT_RUNS');
    },
    { when: () => true },
  )
  .transform((raw) => {
    const listed = raw.PARTITION_TABLES;
    // A table that retires by archive, with no bucket to archive to, is unusable; the others are not.
    const archiving = raw.PARTITION_ARCHIVE_BUCKET ? [] : listed.tables.filter((entry) => entry.retire === 'archive');
    return {
      tables: listed.tables.filter((entry) => !archiving.includes(entry)),
      invalidTables: [
        ...listed.invalid,
        ...archiving.map((entry) => ({
          label: entry.table,
          problems: ['retire: archive needs PARTITION_ARCHIVE_BUCKET, which is not set'],
        })),
      ],
      lockTimeoutMs: raw.PARTITION_LOCK_TIMEOUT_MS,
      moveIntervalsPerRun: raw.PARTITION_MOVE_INTERVALS_PER_RUN,
      lockAlertBreaches: raw.PARTITION_LOCK_ALERT_BREACHES,
      lockAlertRuns: raw.PARTITION_LOCK_ALERT_RUNS,
      archiveBucket: raw.PARTITION_ARCHIVE_BUCKET,
      archivePrefix: raw.PARTITION_ARCHIVE_PREFIX,
    };
  });

const booleanFlag = z.preprocess(
  unsetIfEmpty,
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
);

const backupVariables = z.object({
  BACKUP_BUCKET: z.preprocess(unsetIfEmpty, s3Bucket),
  BACKUP_PREFIX: z.preprocess(unsetIfEmpty, s3Prefix.default('backups')),
  /** SSE-KMS with this key; unset: SSE-S3 (AES256). */
  BACKUP_KMS_KEY_ID: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(
        /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f-]{36})$/,
        'must be a KMS key id, key ARN or alias',
      )
      .optional(),
  ),
  PG_DUMP_PATH: z.preprocess(unsetIfEmpty, z.string().default('pg_dump')),
  PG_RESTORE_PATH: z.preprocess(unsetIfEmpty, z.string().default('pg_restore')),
  BACKUP_UPLOAD_QUEUE_SIZE: integer(4, 1, 16),
  BACKUP_WATCHDOG_MARGIN_SECONDS: integer(60, 5, 600),
  /** Outside Lambda (functions/backup/task.ts): the run's whole budget. */
  BACKUP_TASK_TIMEOUT_SECONDS: integer(4 * 3600, 60, 7 * 24 * 3600),
  BACKUP_KEEP_DAILY: integer(7, 1, 366),
  BACKUP_KEEP_WEEKLY: integer(4, 0, 520),
  BACKUP_KEEP_MONTHLY: integer(12, 0, 1200),
  BACKUP_RETENTION_DRY_RUN: booleanFlag,
  /** A scratch database Vigil may drop and recreate to test-restore the newest backup. */
  BACKUP_VERIFY_DATABASE_URL: optionalUrl(/^postgres(ql)?$/),
  /** Allow the scratch database on the backed-up database's own server (refused otherwise). */
  BACKUP_VERIFY_ALLOW_SAME_SERVER: booleanFlag,
  /** The same URL from an SSM SecureString (the deployed form: no credentials in the template). */
  BACKUP_VERIFY_DATABASE_URL_PARAMETER: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^\/?[A-Za-z0-9_.\-/]+$/, 'must be an SSM parameter name such as /vigil/prod/backup-verify-database-url')
      .optional(),
  ),
});
const backup = backupVariables.transform((raw) => ({
  bucket: raw.BACKUP_BUCKET,
  prefix: raw.BACKUP_PREFIX.replace(/\/+$/, ''),
  kmsKeyId: raw.BACKUP_KMS_KEY_ID,
  pgDumpPath: raw.PG_DUMP_PATH,
  pgRestorePath: raw.PG_RESTORE_PATH,
  queueSize: raw.BACKUP_UPLOAD_QUEUE_SIZE,
  watchdogMarginMs: raw.BACKUP_WATCHDOG_MARGIN_SECONDS * 1000,
  taskTimeoutMs: raw.BACKUP_TASK_TIMEOUT_SECONDS * 1000,
  keep: { daily: raw.BACKUP_KEEP_DAILY, weekly: raw.BACKUP_KEEP_WEEKLY, monthly: raw.BACKUP_KEEP_MONTHLY },
  retentionDryRun: raw.BACKUP_RETENTION_DRY_RUN,
  verifyDatabaseUrl: raw.BACKUP_VERIFY_DATABASE_URL,
  verifyDatabaseParameter: raw.BACKUP_VERIFY_DATABASE_URL_PARAMETER,
  verifyAllowSameServer: raw.BACKUP_VERIFY_ALLOW_SAME_SERVER,
}));

export type PartitionTableConfig = z.output<typeof partitionTable>;
export type ProbeTarget = z.output<typeof probeTarget>;
export type ProbeScenario = z.output<typeof probeScenario>;

export const configSections = { database, aws, thresholds, runtime, alerts, http, cache, probe, rollback, partitions, backup };

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
  probe: probeVariables,
  rollback: rollbackVariables,
  partitions: partitionVariables,
  backup: backupVariables,
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
