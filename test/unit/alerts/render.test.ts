import { describe, expect, it } from 'vitest';
import { type RenderContext, renderAlert, snsMaxMessageBytes, toSubject } from '../../../lib/alerts/render';
import { smsSize } from '../../../lib/alerts/sms';
import { sampleAlert } from '../../support/alerts';

const context = (overrides: Partial<RenderContext> = {}): RenderContext => ({
  kind: 'firing',
  stage: 'prod',
  smsDisplayName: 'VIGIL',
  runbookBaseUrl: 'https://example.org/vigil/docs/runbooks.md',
  since: new Date('2026-11-22T03:20:00Z'),
  sentAt: new Date('2026-11-22T03:25:00Z'),
  repeatIntervalMinutes: 240,
  ...overrides,
});

describe('render', () => {
  it('writes an email an operator can act on: what, measured vs threshold, since, what to do, runbook', () => {
    const { texts } = renderAlert(sampleAlert(), context());
    expect(texts.email).toContain('MAJOR: Dashboard load p95 over budget');
    expect(texts.email).toContain('p95 load time 1840 ms (over 1000 ms); last 3 runs, 30 samples');
    expect(texts.email).toContain('error rate: no data (no requests in the window)');
    expect(texts.email).not.toMatch(/threshold >|n=30/);
    expect(texts.email).toContain('Since: 2026-11-22T03:20Z');
    expect(texts.email).toContain('What to do: Check the demo app latency switch');
    expect(texts.email).toContain('Runbook: https://example.org/vigil/docs/runbooks.md#probe-dashboard-p95');
    expect(texts.email).toContain('Repeats every 4 h while firing');
  });

  it('publishes as MessageStructure json with default, email and sms, and the routing attributes', () => {
    const rendered = renderAlert(sampleAlert({ severity: 'critical' }), context());
    expect(Object.keys(JSON.parse(rendered.message))).toEqual(['default', 'email', 'sms']);
    expect(rendered.attributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      alert_key: { DataType: 'String', StringValue: 'probe:dashboard:p95' },
      notification: { DataType: 'String', StringValue: 'firing' },
      stage: { DataType: 'String', StringValue: 'prod' },
      'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
    });
  });

  it('keeps the SMS gist within one segment after the SNS prefix', () => {
    const { texts } = renderAlert(sampleAlert({ title: 'A very long title '.repeat(20) }), context());
    expect(smsSize(`VIGIL> ${texts.sms}`).fitsOneSegment).toBe(true);
    // A title that cannot fit is cut; the time and the key are kept whole.
    expect(texts.sms).toMatch(/\.\.\., since 03:20Z \[probe:dashboard:p95\]$/);
    const { texts: short } = renderAlert(sampleAlert(), context());
    expect(short.sms).toBe(
      'MAJOR prod: Dashboard load p95 over budget, since 03:20Z [probe:dashboard:p95] p95 load time 1840 ms (over 1000 ms); error rate no data',
    );
  });

  it('makes subjects ASCII, one line, at most 99 characters', () => {
    expect(toSubject('Vigil prod CRITICAL: Café “load” ≥ 1 s\nsecond line')).toBe(
      'Vigil prod CRITICAL: Cafe "load" 1 s second line',
    );
    const long = toSubject(`Vigil ${'x'.repeat(200)}`);
    expect(long).toHaveLength(99);
    expect(long.endsWith('...')).toBe(true);
    for (const subject of [renderAlert(sampleAlert({ title: `Ünïcödé 🔥 ${'é'.repeat(150)}` }), context()).subject]) {
      expect(subject).toMatch(/^[\x20-\x7e]{1,99}$/);
    }
  });

  it('says RESOLVED with the duration and does not ask for action', () => {
    const { subject, texts } = renderAlert(
      sampleAlert(),
      context({ kind: 'resolved', sentAt: new Date('2026-11-22T04:45:00Z') }),
    );
    expect(subject).toBe('Vigil prod RESOLVED: Dashboard load p95 over budget: back to OK');
    expect(texts.email).toContain('Back to OK at 2026-11-22T04:45Z, after 1 h 25 min');
    expect(texts.email).not.toContain('What to do');
    expect(texts.sms).toBe(
      'RESOLVED prod: Dashboard load p95 over budget: back to OK at 04:45Z after 1 h 25 min [probe:dashboard:p95]',
    );
  });

  it('cuts oversized details to fit 256 KB in bytes, on a character boundary, and says so', () => {
    const details = 'ü€🔥'.repeat(60_000);
    const rendered = renderAlert(sampleAlert({ details }), context());
    expect(rendered.truncated).toBe(true);
    expect(rendered.sizeBytes).toBeLessThanOrEqual(snsMaxMessageBytes);
    expect(rendered.sizeBytes).toBeGreaterThan(snsMaxMessageBytes - 64);
    const email = JSON.parse(rendered.message).email as string;
    expect(email).toMatch(/\[truncated: \d+ of 180000 characters of details removed to fit SNS's 256 KB limit\]/);
    expect(email).not.toContain('\ufffd');
    expect(Buffer.byteLength(rendered.message) + Buffer.byteLength(rendered.subject)).toBeLessThan(snsMaxMessageBytes);
  });

  it('cuts the email itself when even the measurements are too big', () => {
    const measurements = Array.from({ length: 5000 }, (_, index) => ({
      name: `metric ${index} ${'m'.repeat(60)}`,
      value: index,
      unit: 'ms',
    }));
    const rendered = renderAlert(sampleAlert({ measurements }), context());
    expect(rendered.truncated).toBe(true);
    expect(rendered.sizeBytes).toBeLessThanOrEqual(snsMaxMessageBytes);
  });

  it('does not mark a message that fits as truncated', () => {
    const rendered = renderAlert(sampleAlert({ details: 'pg_dump: error: connection refused' }), context());
    expect(rendered.truncated).toBe(false);
    expect(JSON.parse(rendered.message).email).toContain('Details:\npg_dump: error: connection refused');
  });

  it('redacts credentials from every free-text field', () => {
    const rendered = renderAlert(
      sampleAlert({
        title: 'Backup failed for postgres://vigil:topsecret@db/app',
        details: 'PGPASSWORD=hunter2 pg_dump failed',
        summary: 'token=abc123secret',
      }),
      context(),
    );
    for (const secret of ['topsecret', 'hunter2', 'abc123secret']) {
      expect(rendered.message).not.toContain(secret);
      expect(rendered.subject).not.toContain(secret);
    }
  });
});

describe('alert words', () => {
  it('says signals in the words of the label catalogue, never their code names', () => {
    const { texts } = renderAlert(
      sampleAlert({
        measurements: [
          { name: 'errorRatePercent', value: 3.04, unit: '%', threshold: { operator: '>', value: 2 } },
          { name: 'slowerThanBaselinePercent', value: -99.45, unit: '%' },
        ],
      }),
      context(),
    );
    expect(texts.email).toContain('Error rate 3.04 % (over 2 %)');
    expect(texts.email).toContain('New page 99.45 % faster than the baseline');
    for (const text of [texts.email, texts.sms]) expect(text).not.toMatch(/\b[a-z]+[A-Z][a-zA-Z]*\b/);
  });

  it("puts a test alert's note in its SMS", () => {
    const { texts } = renderAlert(sampleAlert({ key: 'alerts:test:critical', measurements: [] }), {
      ...context(),
      kind: 'test',
      testNote: 'drill 7',
    });
    expect(texts.sms).toMatch(/\[alerts:test:critical\] drill 7$/);
  });
});
