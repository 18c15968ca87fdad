import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { summarizeTarget } from '../../../functions/probe/summary';
import { renderAlert } from '../../../lib/alerts/render';
import { jsonResponse } from '../../../lib/http';
import { errorSummary, logger } from '../../../lib/logger';
import { redact, redactDeep, safeUrl } from '../../../lib/redact';
import { sampleAlert } from '../../support/alerts';

/*
 * Generated secrets, in every shape they arrive in (a setting in an error message, a URL's
 * user-info or query, a header, a JSON field, a bare token of a known kind), inside generated text,
 * never leave through an alert, a log line, a probe result or an HTTP answer.
 */

const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const chars = (set: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...set.split('')), { minLength: min, maxLength: max }).map((list) => list.join(''));
/** A password as people make them: letters, digits and the punctuation that breaks naive patterns. */
const password = fc
  .tuple(chars(alphabet, 6, 20), chars(`${alphabet}/+=_.~!*()-$`, 6, 20))
  .map(([head, tail]) => `Q${head}${tail}`);

const settingNames = [
  'DB_PASSWORD',
  'AWS_SECRET_ACCESS_KEY',
  'GITHUB_TOKEN',
  'STRIPE_API_KEY',
  'client_secret',
  'password',
  'PGPASSWORD',
  'app.secret',
  'SERVICE_PRIVATE_KEY',
  'x-api-key',
  'refresh_token',
];
const queryKeys = [
  'access_token',
  'api_key',
  'apikey',
  'client_secret',
  'signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'token',
  'key',
  'sig',
];

const pair = (text: string, secret: string): [string, string] => [text, secret];

/** [the text that carries it, the secret itself] */
const carried: fc.Arbitrary<[string, string]> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...settingNames), fc.constantFrom('=', ': ', ' = ', '='), password)
    .map(([name, sep, secret]) => pair(`${name}${sep}${secret}`, secret)),
  fc.tuple(fc.constantFrom(...settingNames), password).map(([name, secret]) => pair(JSON.stringify({ [name]: secret }), secret)),
  fc
    .tuple(fc.constantFrom('postgres', 'postgresql', 'https', 'http', 'redis', 'amqp'), chars(alphabet, 3, 10), password)
    .map(([scheme, user, secret]) => pair(`${scheme}://${user}:${secret}@db.internal:5432/app`, secret)),
  fc
    .tuple(fc.constantFrom(...queryKeys), password)
    .map(([key, secret]) =>
      pair(`https://app.example.org/api/x?page=2&${key}=${encodeURIComponent(secret)}&x=1`, encodeURIComponent(secret)),
    ),
  password.map((secret) => pair(`Authorization: Bearer ${secret}`, secret)),
  fc
    .tuple(fc.constantFrom('password', 'the token', 'DB_PASSWORD', 'api key'), fc.constantFrom('is', 'was', 'is now'), password)
    .map(([name, verb, secret]) => pair(`${name} ${verb} ${secret}`, secret)),
  chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 16).map((id) => pair(`key AKIA${id} in use`, `AKIA${id}`)),
  chars(alphabet, 36, 36).map((body) => pair(`ghp_${body}`, `ghp_${body}`)),
  chars('0123456789', 10, 13).map((digits) =>
    pair(`xoxb-${digits}-${digits}-abcdefghijklmnop`, `xoxb-${digits}-${digits}-abcdefghijklmnop`),
  ),
  fc
    .tuple(chars(`${alphabet}_-`, 20, 40), chars(`${alphabet}_-`, 20, 40))
    .map(([body, signature]) => pair(`eyJhbGciOiJIUzI1NiJ9.eyJ${body}.${signature}`, `eyJ${body}`)),
);

/** Ordinary words around it, on either side. */
const surrounding = fc.tuple(
  fc.array(fc.constantFrom('pg_dump:', 'error:', 'connection', 'to', 'failed', 'at', 'step', '(dump)', 'see'), { maxLength: 6 }),
  fc.array(fc.constantFrom('retrying', 'in', '5 s', 'timeout', 'exit', 'status', '1', '.'), { maxLength: 6 }),
);
const embedded = fc.tuple(carried, surrounding).map(([[text, secret], [before, after]]) => ({
  text: [...before, text, ...after].join(' '),
  secret,
}));

const runs = 2_000;

describe('redaction', () => {
  it('keeps every generated secret out of alerts: subject, email, SMS, attributes', () => {
    fc.assert(
      fc.property(
        embedded,
        fc.constantFrom('title', 'summary', 'action', 'details', 'missingReason'),
        ({ text, secret }, field) => {
          const alert = sampleAlert(
            field === 'missingReason'
              ? { measurements: [{ name: 'adoption', value: null, unit: '%', missingReason: text }] }
              : { [field]: text },
          );
          const rendered = renderAlert(alert, {
            kind: 'firing',
            stage: 'prod',
            smsDisplayName: 'VIGIL',
            since: new Date('2026-11-22T03:20:00Z'),
            sentAt: new Date('2026-11-22T03:25:00Z'),
            repeatIntervalMinutes: 240,
          });
          expect(JSON.stringify(rendered)).not.toContain(secret);
        },
      ),
      { numRuns: runs },
    );
  });

  it('keeps them out of every protocol of every alert kind, from every free-text input, the context included', () => {
    const kinds = ['firing', 'refiring', 'repeat', 'escalation', 'resolved', 'test'] as const;
    const inputs = [
      'title',
      'summary',
      'action',
      'details',
      'command',
      'measurement',
      'missingReason',
      'testNote',
      'heldBack',
    ] as const;
    fc.assert(
      fc.property(embedded, fc.constantFrom(...kinds), fc.constantFrom(...inputs), ({ text, secret }, kind, input) => {
        const alert = sampleAlert(
          input === 'missingReason'
            ? { measurements: [{ name: 'adoption', value: null, unit: '%', missingReason: text }] }
            : input === 'measurement'
              ? { measurements: [{ name: text, value: 3, unit: '%' }] }
              : input === 'command'
                ? { commands: [text] }
                : input === 'testNote' || input === 'heldBack'
                  ? {}
                  : { [input]: text },
        );
        const rendered = renderAlert(alert, {
          kind,
          stage: 'prod',
          smsDisplayName: 'VIGIL',
          since: new Date('2026-11-22T03:20:00Z'),
          sentAt: new Date('2026-11-22T03:25:00Z'),
          repeatIntervalMinutes: 240,
          ...(input === 'testNote' ? { testNote: text } : {}),
          ...(input === 'heldBack' ? { heldBack: [{ key: 'probe:dashboard:budget', title: text }] } : {}),
          ...(kind === 'refiring' ? { change: { firingsInLastHour: 2 } } : {}),
        } as Parameters<typeof renderAlert>[1]);
        for (const [protocol, published] of [
          ['subject', rendered.subject],
          ['default', rendered.texts.default],
          ['email', rendered.texts.email],
          ['sms', rendered.texts.sms],
          ['message', rendered.message],
          ['attributes', JSON.stringify(rendered.attributes)],
        ] as const) {
          expect(published, `${protocol} of a ${kind} alert, secret in ${input}`).not.toContain(secret);
        }
      }),
      { numRuns: runs },
    );
  });

  it('keeps them out of log lines, in the message and in logged errors', () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    });
    // In dev mode (the tests') Powertools writes through the global console, one method per level.
    const consoles = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.join(' '))),
    );
    const level = logger.getLevelName();
    logger.setLogLevel('DEBUG');
    try {
      fc.assert(
        fc.property(embedded, ({ text, secret }) => {
          lines.length = 0;
          logger.error(`backup failed: ${text}`, {
            error: errorSummary(new Error(text, { cause: new Error(text) })),
            step: text,
          });
          logger.warn('as an Error', new Error(text));
          expect(lines.length).toBeGreaterThan(0);
          expect(lines.join('\n')).not.toContain(secret);
        }),
        { numRuns: runs },
      );
    } finally {
      logger.setLogLevel(level);
      write.mockRestore();
      for (const spy of consoles) spy.mockRestore();
    }
  });

  it('keeps them out of probe results and HTTP answers', () => {
    fc.assert(
      fc.property(embedded, ({ text, secret }) => {
        const summary = summarizeTarget(
          'api',
          text.includes('://') ? (text.match(/\S+:\/\/\S+/)?.[0] ?? 'https://app.example.org/') : 'https://app.example.org/',
          [
            {
              ok: false,
              status: null,
              failure: { kind: 'connect', message: text },
              phases: { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, downloadMs: null, totalMs: null },
              redirects: 0,
              bytes: 0,
            } as never,
          ],
          { degradedMs: 800, failMs: 1000 },
        );
        expect(JSON.stringify(redactDeep(summary))).not.toContain(secret);
        expect(JSON.stringify(summary)).not.toContain(secret);
        expect(jsonResponse(200, { reason: text, nested: [{ text }] }).body).not.toContain(secret);
      }),
      { numRuns: runs },
    );
  });

  it('redacts once: text already redacted passes through unchanged', () => {
    fc.assert(
      fc.property(embedded, ({ text }) => {
        const once = redact(text);
        expect(redact(once)).toBe(once);
      }),
      { numRuns: runs },
    );
  });

  it('stores and shows a probe URL without user-info and with its credentials masked', () => {
    expect(safeUrl('http://user:pa%2Fss@host.example/path?access_token=abc&api_key=def&page=2')).toBe(
      'http://host.example/path?access_token=[REDACTED]&api_key=[REDACTED]&page=2',
    );
    // Not a URL any more (a raw / ends the authority): redacted as text.
    expect(safeUrl('http://user:pa/ss@host.example/path')).toBe('http://user:[REDACTED]@host.example/path');
  });
});
