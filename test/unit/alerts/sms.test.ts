import { describe, expect, it } from 'vitest';
import { fitSms, gsmSeptets, smsSize, toGsm } from '../../../lib/alerts/sms';

describe('sms', () => {
  it('counts GSM-7 extension characters as two septets', () => {
    expect(gsmSeptets('abc')).toBe(3);
    expect(gsmSeptets('[x]')).toBe(5);
    expect(gsmSeptets('€')).toBe(2);
    expect(gsmSeptets('≥')).toBeUndefined();
  });

  it('spells typographic characters the GSM-7 way so the text keeps 160 characters', () => {
    expect(toGsm('p95 ≥ 1 s – “slow” …')).toBe('p95 >= 1 s - "slow" ...');
    expect(toGsm('café Zürich')).toBe('café Zürich');
    expect(toGsm('ł')).toBe('ł');
  });

  it('fits one 160-septet segment with the display-name prefix SNS adds', () => {
    const body = fitSms('CRITICAL prod: '.concat('x'.repeat(300)), 'VIGIL');
    const delivered = `VIGIL> ${body}`;
    expect(smsSize(delivered)).toEqual({ encoding: 'GSM-7', units: 160, limit: 160, fitsOneSegment: true });
    expect(body.endsWith('...')).toBe(true);
  });

  it('counts extension characters when cutting', () => {
    const body = fitSms('{'.repeat(200), 'VIGIL');
    expect(smsSize(`VIGIL> ${body}`).units).toBeLessThanOrEqual(160);
    expect(smsSize(`VIGIL> ${body}`).units).toBeGreaterThanOrEqual(159);
  });

  it('falls back to 70 UCS-2 units when the text needs characters outside GSM-7', () => {
    const body = fitSms(`Ошибка базы данных: ${'ж'.repeat(100)}`, 'VIGIL');
    const size = smsSize(`VIGIL> ${body}`);
    expect(size.encoding).toBe('UCS-2');
    expect(size.units).toBeLessThanOrEqual(70);
    expect(size.units).toBeGreaterThan(60);
  });

  it('never cuts an emoji or other surrogate pair in half', () => {
    const body = fitSms('🔥'.repeat(80), 'VIGIL');
    expect(body.endsWith('...')).toBe(true);
    expect(body.slice(0, -3)).toBe('🔥'.repeat((body.length - 3) / 2));
    expect(smsSize(`VIGIL> ${body}`).units).toBeLessThanOrEqual(70);
  });

  it('leaves a short text as it is, on one line', () => {
    expect(fitSms('RESOLVED prod:\nall good', 'VIGIL')).toBe('RESOLVED prod: all good');
  });
});
