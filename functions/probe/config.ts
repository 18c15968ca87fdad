import * as z from 'zod';
import { configSection, type SectionOutput } from '../../lib/config';
import { checkMOfN, integer, jsonEntries, unsetIfEmpty } from '../../lib/config-fields';

/* The probe's settings: what it loads (targets), which pages it assembles from them (scenarios), and when it alerts. */

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
  /** The probe's Lambda timeout (the template sets it from the function's own): what a run may take. */
  PROBE_FUNCTION_TIMEOUT_SECONDS: integer(240, 10, 900),
  /** Kept free at the end of a run to store the results and raise the alerts. */
  PROBE_DEADLINE_MARGIN_SECONDS: integer(20, 1, 300),
  VIGIL_STAGE: z.preprocess(unsetIfEmpty, z.string().default('local')),
});
export const probeConfig = configSection(
  'probe',
  probeVariables,
  probeVariables
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
        // Worst case, every sample waiting its whole timeout: it must fit the run, or a hung endpoint
        // makes Lambda kill the run before anything is stored or alerted.
        const budgetSeconds =
          typeof raw.PROBE_FUNCTION_TIMEOUT_SECONDS === 'number' && typeof raw.PROBE_DEADLINE_MARGIN_SECONDS === 'number'
            ? raw.PROBE_FUNCTION_TIMEOUT_SECONDS - raw.PROBE_DEADLINE_MARGIN_SECONDS
            : undefined;
        if (budgetSeconds !== undefined) {
          const run = `the ${budgetSeconds} s a run has (PROBE_FUNCTION_TIMEOUT_SECONDS ${raw.PROBE_FUNCTION_TIMEOUT_SECONDS} - PROBE_DEADLINE_MARGIN_SECONDS ${raw.PROBE_DEADLINE_MARGIN_SECONDS})`;
          if (budgetSeconds <= 0)
            context.addIssue({
              code: 'custom',
              path: ['PROBE_DEADLINE_MARGIN_SECONDS'],
              message: `must be below PROBE_FUNCTION_TIMEOUT_SECONDS`,
            });
          for (const target of targets) {
            const worst = (target.samples * target.timeoutMs) / 1000;
            if (worst > budgetSeconds)
              context.addIssue({
                code: 'custom',
                path: ['PROBE_TARGETS'],
                message: `target "${target.name}": samples x timeoutMs is ${target.samples} x ${target.timeoutMs} ms = ${worst} s at worst, over ${run}`,
              });
          }
          const timeoutOf = new Map(targets.map((target) => [target.name, target.timeoutMs]));
          const pageSeconds = scenarios.map((scenario) => {
            const timeouts = scenario.requests.map((request) => timeoutOf.get(request) ?? 0);
            const perLoad = scenario.mode === 'serial' ? timeouts.reduce((sum, ms) => sum + ms, 0) : Math.max(0, ...timeouts);
            return { scenario, seconds: (scenario.samples * perLoad) / 1000, perLoad };
          });
          const pagesTotal = pageSeconds.reduce((sum, page) => sum + page.seconds, 0);
          if (pagesTotal > budgetSeconds)
            context.addIssue({
              code: 'custom',
              path: ['PROBE_SCENARIOS'],
              message: `pages take their samples one slot at a time: at worst ${pagesTotal} s (${pageSeconds
                .map((page) => `${page.scenario.name} ${page.scenario.samples} x ${page.perLoad} ms`)
                .join(', ')}), over ${run}`,
            });
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
      deadlineMarginMs: raw.PROBE_DEADLINE_MARGIN_SECONDS * 1000,
    })),
);

export type ProbeConfig = SectionOutput<typeof probeConfig>;
export type ProbeTarget = z.output<typeof probeTarget>;
export type ProbeScenario = z.output<typeof probeScenario>;
