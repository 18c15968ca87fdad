import { describe, expect, it } from 'vitest';
import { redact } from '../../lib/redact';

describe('redact', () => {
  it.each([
    ['pg_dump: error: connection to "postgres://vigil:s3cr3t@db:5432/app" failed', 's3cr3t'],
    ['PGPASSWORD=hunter2 pg_dump -h db', 'hunter2'],
    ['password: "correct horse battery"', 'correct horse battery'],
    ['Authorization: Bearer abcdef0123456789abcdef', 'abcdef0123456789abcdef'],
    ['key AKIAIOSFODNN7EXAMPLE used', 'AKIAIOSFODNN7EXAMPLE'],
    [
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'eyJzdWIiOiIxMjM0NTY3ODkwIn0',
    ],
    ['api_key=AbC123xyz&x=1', 'AbC123xyz'],
  ])('removes the credential from %s', (text, secret) => {
    const redacted = redact(text);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain('[REDACTED');
  });

  it('keeps text without credentials intact', () => {
    const text = 'pg_dump: error: server version: 16.2; pg_dump version: 15.18';
    expect(redact(text)).toBe(text);
  });
});
