import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { echoed, type HttpEvent, parseJsonBody } from '../../lib/http';

const schema = z.strictObject({ severity: z.enum(['critical', 'info']).optional() });
const event = (body: string) =>
  ({ body, isBase64Encoded: false, requestContext: { http: { method: 'POST' } } }) as unknown as HttpEvent;

function refusal(body: string): {
  statusCode: number;
  answer: { error: string; problems: Array<{ field: string; message: string }> };
} {
  try {
    parseJsonBody(event(body), schema);
  } catch (error) {
    const { statusCode, message } = error as { statusCode: number; message: string };
    return { statusCode, answer: JSON.parse(message) };
  }
  throw new Error('the body was accepted');
}

describe('http', () => {
  it('echoes at most 10 unknown keys of a body, each cut to 64 characters, so a 16 KB body gets a small answer', () => {
    const keys = Array.from({ length: 300 }, (_, index) => `${'k'.repeat(40)}${index}`);
    const body = JSON.stringify(Object.fromEntries(keys.map((key) => [key, 1])));
    expect(body.length).toBeGreaterThan(13_000);
    const { statusCode, answer } = refusal(body);
    expect(statusCode).toBe(400);
    expect(answer.problems).toEqual([{ field: `${keys.slice(0, 10).join(',')},... (290 more)`, message: 'unknown fields' }]);
    expect(JSON.stringify(answer).length).toBeLessThan(2_000);
  });

  it('escapes control and bidirectional characters of an echoed key and cuts a long one', () => {
    const { answer } = refusal(JSON.stringify({ [`evil\u202Eyek\n${'x'.repeat(100)}`]: 1 }));
    const field = answer.problems[0]?.field as string;
    expect(field).toBe(`evil\\u{202e}yek\\u{a}${'x'.repeat(55)}...`);
    expect(field).not.toMatch(/[\u202E\n]/);
    expect(echoed('plain')).toBe('plain');
  });
});
