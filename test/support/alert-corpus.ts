import { expect } from 'vitest';
import { smsSize } from '../../lib/alerts/sms';
import catalogue from '../../lib/labels.json' with { type: 'json' };
import type { DeliveredAlert } from '../../local/outbox';

/** Every code name of a signal or metric: what a reader must never be shown. */
const codeNames = [...Object.keys(catalogue.signals), ...Object.keys(catalogue.metrics)];
const camelCase = /\b[a-z]+(?:[A-Z][a-z0-9]*)+\b/;

/**
 * The email's reading part: title, summary, measurements and the change lines, down to "What to
 * do". Commands, runbook steps (SQL, CLI paths) and captured details are quoted as they are.
 */
const readingPart = (email: string) =>
  (email.split(/^(?:What to do:|Details:|Source:)/m)[0] ?? '')
    // A CRC32 in base64 ("xYz0AbC1==-3") is a value quoted, not a name: its letters are chance.
    .replace(/[A-Za-z0-9+/]{6}==(?:-\d+)?/g, '<checksum>');

/** What is wrong with one delivered alert for a person on a phone or in a mailbox; empty when nothing. */
export function readabilityProblems(message: DeliveredAlert): string[] {
  const problems: string[] = [];
  const key = message.attributes.alert_key ?? '';
  const size = smsSize(message.sms);
  if (!size.fitsOneSegment) problems.push(`SMS of ${size.units} ${size.encoding} units over one segment: ${message.sms}`);
  if (key && !message.sms.includes(`[${key}]`)) problems.push(`SMS lost its key ${key}: ${message.sms}`);
  if (!/\b\d{2}:\d{2}Z\b/.test(message.sms)) problems.push(`SMS lost its time: ${message.sms}`);
  const smsCamel = camelCase.exec(message.sms.replace(`[${key}]`, ''));
  if (smsCamel) problems.push(`SMS shows the code name ${smsCamel[0]}: ${message.sms}`);
  const readingCamel = camelCase.exec(readingPart(message.email));
  if (readingCamel) problems.push(`email shows the code name ${readingCamel[0]} in: ${readingPart(message.email)}`);
  // Commands and the runbook's steps quote metric names as the console and the CLI need them.
  for (const name of codeNames) {
    const named = new RegExp(`\\b${name}\\b`);
    if (named.test(readingPart(message.email))) problems.push(`email shows the code name ${name}`);
    if (named.test(message.subject ?? '')) problems.push(`subject shows the code name ${name}`);
    if (named.test(message.sms)) problems.push(`SMS shows the code name ${name}`);
  }
  return problems;
}

/** Fails the test that delivered an unreadable alert, naming what is wrong with each. */
export function expectReadable(messages: DeliveredAlert[]): DeliveredAlert[] {
  expect(messages.flatMap(readabilityProblems)).toEqual([]);
  return messages;
}
