import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configVariables, loadConfig } from '../../../lib/config';
import { ConfigError } from '../../../lib/errors';
import { allSections } from '../../support/config-sections';

const sections = await allSections();
const variables = [...new Set(sections.flatMap(configVariables))];

/** Values a person (or a template) could put in an environment variable, valid or not. */
const value = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.integer({ min: -1_000_000, max: 10_000_000 }).map(String),
  fc.double().map(String),
  fc.constantFrom('', ' ', 'true', 'false', 'yes', '0', '1', 'null', 'undefined', '[]', '{}', '[{}]', 'local', 'prod'),
  fc.constantFrom(
    'postgres://vigil:secret@db.internal:5432/portfolio',
    'postgresql://localhost/x?sslmode=require',
    'https://app.example.org/health',
    'http://127.0.0.1:4010',
    'arn:aws:sns:eu-west-1:123456789012:vigil-prod-alerts',
    '/vigil/prod/thresholds',
    'public.api_performance_log',
    'alias/vigil',
    'SELECT 1 AS value',
    'rate(5 minutes)',
  ),
  fc.json(),
  // The JSON list variables: arrays of objects with plausible and implausible fields.
  fc
    .array(
      fc.record(
        {
          name: fc.oneof(fc.string(), fc.constantFrom('api', 'dashboard-old')),
          url: fc.oneof(fc.webUrl(), fc.string()),
          table: fc.oneof(fc.constantFrom('api_performance_log', 'vigil.probe_results', 'a"b'), fc.string()),
          retention: fc.oneof(fc.integer({ min: -3, max: 100 }), fc.string()),
          interval: fc.constantFrom('month', 'day', 'week', 'year', 'hour'),
          retire: fc.constantFrom('drop', 'detach', 'archive', 'burn'),
          role: fc.constantFrom('old', 'new', 'other'),
          requests: fc.array(fc.string(), { maxLength: 3 }),
          samples: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.string()),
          token: fc.string(),
          tokenSsmParameter: fc.string(),
          headers: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    )
    .map((list) => JSON.stringify(list)),
);

const environment = fc
  .dictionary(fc.constantFrom(...variables), value, { maxKeys: variables.length })
  .chain((known) => fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }).map((unknown) => ({ ...unknown, ...known })));

describe('configuration parser under fuzzing', () => {
  it('either loads or throws one ConfigError whose every problem names a variable of the section', () => {
    let rejected = 0;
    let loaded = 0;
    fc.assert(
      fc.property(environment, fc.subarray(sections, { minLength: 1 }), (env, chosen) => {
        try {
          loadConfig(chosen, env);
          loaded += 1;
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          const problems = (error as ConfigError).problems;
          expect(problems.length).toBeGreaterThan(0);
          const allowed = new Set(chosen.flatMap(configVariables));
          for (const problem of problems) {
            expect(
              allowed,
              `"${problem.variable}" is not a variable of ${chosen.map((section) => section.name).join(', ')}`,
            ).toContain(problem.variable);
            expect(problem.message.length).toBeGreaterThan(0);
            expect((error as Error).message).toContain(`${problem.variable}: `);
          }
          rejected += 1;
        }
      }),
      { numRuns: 5000 },
    );
    // Both paths were exercised, so the property said something about each.
    expect(rejected).toBeGreaterThan(100);
    expect(loaded).toBeGreaterThan(0);
    // 5,000 runs take about 4 s alone; a loaded CI machine needs more than the default 5 s.
  }, 60_000);
});
