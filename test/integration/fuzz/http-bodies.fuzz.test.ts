import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalNames } from '../../../functions/rollback-decision/matrix';
import { severities } from '../../../lib/alerts';
import { redact } from '../../../lib/redact';
import { sampleEvent as event, useHandlerFixture } from '../../support/handler-fixture';

/*
 * Property tests of the two HTTP routes through their real handlers (middy, auth, parsing, the
 * database, SNS): whatever the body, the answer is the route's success, 400 or 413, never a 500, and a 400 names
 * every field it refuses.
 */
const apiToken = 'vigil-fuzz-token-0123456789';
type Response = { statusCode: number; body: string };
type Handler = (event: unknown, context: unknown) => Promise<Response>;

/** A value of any JSON type, or a number JSON cannot carry (as text), for a field. */
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.double({ noNaN: false }),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.constantFrom(-1, 0, 0.5, 2.5, 5.1, 100, 1e308),
  fc.string(),
);

/** Bodies: raw text, any JSON, and objects shaped like the route's with fuzzed fields and extra keys. */
function bodies(fields: Record<string, fc.Arbitrary<unknown>>) {
  const shaped = fc
    .record(fields, { requiredKeys: [] })
    .chain((known) =>
      fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 2 }).map((extra) => ({ ...extra, ...known })),
    );
  return fc.oneof(
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '"x"', '{"a":', '\u0000', '{}'.repeat(10_000)) },
    { weight: 5, arbitrary: shaped.map((body) => JSON.stringify(body)) },
  );
}

const decisionBodies = bodies({
  overrides: fc.oneof(fc.record(Object.fromEntries(signalNames.map((name) => [name, anyValue])), { requiredKeys: [] }), anyValue),
  complaintsPerHour: anyValue,
});
const testAlertBodies = bodies({
  severity: fc.oneof(fc.constantFrom(...severities), anyValue),
  note: fc.oneof(fc.string({ maxLength: 600 }), anyValue),
});

/** The body itself, or base64 encoded as API Gateway sends binary bodies. */
const encoded = (arbitrary: fc.Arbitrary<string>) =>
  fc.tuple(arbitrary, fc.boolean()).map(([body, base64]) => ({
    body: base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: base64,
  }));

describe('HTTP bodies under fuzzing', () => {
  const fixture = useHandlerFixture({
    functionName: 'fuzz',
    remainingMs: 25_000,
    env: { VIGIL_API_TOKEN: apiToken, POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  const context = fixture.context();
  let decide: Handler;
  let alerts: Handler;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    decide = await fixture.handler<Handler>('rollback-decision');
    alerts = await fixture.handler<Handler>('alerts');
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  /** Runs the property and returns how many answers of each status it saw. */
  let caller = 0;
  async function fuzz(handler: Handler, template: string, generator: fc.Arbitrary<string>, success: number, numRuns: number) {
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(encoded(generator), async (input) => {
        const base = event(template);
        // One caller per body: the bodies are under test here, not the per-caller test alert limit.
        caller += 1;
        const response = await handler(
          {
            ...base,
            ...input,
            headers: { ...base.headers, authorization: `Bearer ${apiToken}` },
            requestContext: { ...base.requestContext, authorizer: { iam: { userArn: `arn:aws:iam::1:user/fuzz-${caller}` } } },
          },
          context,
        );
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        expect([success, 400, 413], response.body).toContain(response.statusCode);
        if (response.statusCode === 400) {
          const answer = JSON.parse(response.body) as { error: string; problems?: Array<{ field: string; message: string }> };
          expect(answer.error).toMatch(/^(invalid body|body is not JSON)/);
          for (const problem of answer.problems ?? []) {
            expect(problem.field.length).toBeGreaterThan(0);
            // The error line passes through redact() (a field named like PWD or token reads as a secret there).
            expect(answer.error).toContain(redact(`${problem.field}: ${problem.message}`));
          }
        }
      }),
      { numRuns },
    );
    expect(unhandled).toEqual([]);
    return statuses;
  }

  it('POST /rollback/decision: 2,000 bodies, no 500, every refusal names its field', async () => {
    const statuses = await fuzz(decide, 'rollbackDecision.http-what-if.json', decisionBodies, 200, 2000);
    // Valid what-ifs were among them (answered from the database), as were refusals.
    expect(statuses[200]).toBeGreaterThan(50);
    expect(statuses[400]).toBeGreaterThan(500);
  }, 300_000);

  it('POST /alerts/test: 2,000 bodies, no 500, every refusal names its field', async () => {
    const statuses = await fuzz(alerts, 'alerts.http-test.json', testAlertBodies, 202, 2000);
    expect(statuses[202]).toBeGreaterThan(50);
    expect(statuses[400]).toBeGreaterThan(500);
  }, 300_000);
});
