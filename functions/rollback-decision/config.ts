import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { integer, issueProblems, parseJsonIn, qualifiedName, unsetIfEmpty } from '../../lib/config-fields';

/* rollbackDecision's settings: where each signal of the matrix is read from, and how decisions are confirmed. */

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
  ROLLBACK_LOG_USER_AGENT_COLUMN: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'must be a column name (lower case letters, digits, _)')
      .default('user_agent'),
  ),
  ROLLBACK_CLOUDWATCH_QUERIES: z.preprocess(unsetIfEmpty, z.string().optional()).transform((raw, context) => {
    if (raw === undefined) return undefined;
    const json = parseJsonIn(raw, context);
    if (json === z.NEVER) return z.NEVER;
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
      for (const problem of issueProblems(parsed.error.issues)) context.addIssue({ code: 'custom', message: problem });
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
export const rollbackConfig = configSection(
  'rollback',
  rollbackVariables,
  rollbackVariables
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
      logUserAgentColumn: raw.ROLLBACK_LOG_USER_AGENT_COLUMN,
      cloudWatchQueries: raw.ROLLBACK_CLOUDWATCH_QUERIES,
      adoptionQuery: raw.ROLLBACK_ADOPTION_QUERY,
      complaintsQuery: raw.ROLLBACK_COMPLAINTS_QUERY,
      cacheTable: raw.ROLLBACK_CACHE_TABLE,
      inputMaxAgeMinutes: raw.ROLLBACK_INPUT_MAX_AGE_MINUTES,
      confirmEvaluations: raw.ROLLBACK_CONFIRM_EVALUATIONS,
      clearEvaluations: raw.ROLLBACK_CLEAR_EVALUATIONS,
    })),
);

export type RollbackConfig = SectionOutput<typeof rollbackConfig>;
