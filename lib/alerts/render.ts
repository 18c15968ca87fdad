import { redactDeep } from '../redact';
import { fitSms } from './sms';
import type { Alert, Measurement, NotificationKind } from './types';

/** SNS's limit on a published message, attributes and subject included, in bytes. */
export const snsMaxMessageBytes = 262_144;
export const subjectMaxCharacters = 99;
export const smsType = 'Transactional';

export interface RenderContext {
  kind: NotificationKind;
  stage: string;
  smsDisplayName: string;
  runbookBaseUrl?: string;
  /** Start of the incident, for "since"; the observation time when unknown. */
  since: Date;
  /** When the notice is sent. */
  sentAt: Date;
  repeatIntervalMinutes: number;
  /** Set when the state store could not be used: the reader may see this again. */
  deduplicationUnavailable?: boolean;
  /** How often the key resolved and fired again in this incident. */
  flapCount?: number;
}

export interface RenderedMessage {
  subject: string;
  /** The MessageStructure 'json' document. */
  message: string;
  texts: { default: string; email: string; sms: string };
  attributes: Record<string, { DataType: 'String'; StringValue: string }>;
  truncated: boolean;
  sizeBytes: number;
}

const kindLabel = (alert: Alert, kind: NotificationKind) =>
  kind === 'resolved'
    ? 'RESOLVED'
    : kind === 'test'
      ? 'TEST'
      : kind === 'repeat'
        ? `STILL ${alert.severity.toUpperCase()}`
        : alert.severity.toUpperCase();

/** ASCII only, one line, at most 99 characters: what SNS accepts as an email subject. */
export function toSubject(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const subject = ascii.length <= subjectMaxCharacters ? ascii : `${ascii.slice(0, subjectMaxCharacters - 3).trimEnd()}...`;
  return subject || 'Vigil alert';
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

const withUnit = (value: number, unit: string) => `${formatNumber(value)}${unit === '%' || unit === '' ? unit : ` ${unit}`}`;

export function describeMeasurement(measurement: Measurement): string {
  const measured =
    measurement.value === null
      ? `no data${measurement.missingReason ? ` (${measurement.missingReason})` : ''}`
      : withUnit(measurement.value, measurement.unit);
  const context = [
    measurement.threshold
      ? `threshold ${measurement.threshold.operator} ${withUnit(measurement.threshold.value, measurement.unit)}`
      : '',
    measurement.window ? `window ${measurement.window}` : '',
    measurement.sampleCount !== undefined ? `n=${measurement.sampleCount}` : '',
  ].filter(Boolean);
  return `${measurement.name}: ${measured}${context.length ? ` (${context.join('; ')})` : ''}`;
}

/** The shortest form for SMS: "p95 1840 ms > 1000 ms n=10". */
function measurementGist(measurement: Measurement): string {
  if (measurement.value === null) return `${measurement.name} no data`;
  const threshold = measurement.threshold
    ? ` ${measurement.threshold.operator} ${withUnit(measurement.threshold.value, measurement.unit)}`
    : '';
  const samples = measurement.sampleCount !== undefined ? ` n=${measurement.sampleCount}` : '';
  return `${measurement.name} ${withUnit(measurement.value, measurement.unit)}${threshold}${samples}`;
}

const isoMinute = (date: Date) => `${date.toISOString().slice(0, 16)}Z`;
const clock = (date: Date) => `${date.toISOString().slice(11, 16)}Z`;

function duration(from: Date, to: Date): string {
  const minutes = Math.max(0, Math.round((to.getTime() - from.getTime()) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

function runbookLink(alert: Alert, context: RenderContext): string {
  return context.runbookBaseUrl ? `${context.runbookBaseUrl}#${alert.runbook}` : `docs/runbooks.md, section #${alert.runbook}`;
}

function emailText(alert: Alert, context: RenderContext, details: string | undefined): string {
  const label = kindLabel(alert, context.kind);
  const lines: string[] = [
    `${label}: ${alert.title}`,
    `Stage ${context.stage} - alert key ${alert.key} - severity ${alert.severity}`,
    '',
  ];
  if (context.kind === 'resolved') {
    lines.push(
      `Resolved at ${isoMinute(context.sentAt)} after ${duration(context.since, context.sentAt)} (firing since ${isoMinute(context.since)}).`,
      'Last measured while firing:',
    );
  } else {
    if (alert.summary) lines.push(alert.summary, '');
    if (context.kind !== 'test') {
      const still = context.kind === 'repeat' ? ` (still firing, ${duration(context.since, context.sentAt)})` : '';
      lines.push(`Since: ${isoMinute(context.since)}${still}`);
    }
    if (alert.measurements.length > 0) lines.push('Measured:');
  }
  for (const measurement of alert.measurements) lines.push(`  - ${describeMeasurement(measurement)}`);
  lines.push('', `Source: ${alert.source}, observed ${isoMinute(alert.observedAt)}`);
  if (context.kind !== 'resolved') lines.push(`What to do: ${alert.action}`);
  lines.push(`Runbook: ${runbookLink(alert, context)}`);
  if (context.flapCount) lines.push(`Flapping: resolved and fired again ${context.flapCount} time(s) in this incident.`);
  if (context.deduplicationUnavailable) {
    lines.push('Note: Vigil could not reach its alert state store; this alert was sent without deduplication and may repeat.');
  }
  if (details) lines.push('', 'Details:', details);
  lines.push(
    '',
    context.kind === 'resolved' || context.kind === 'test'
      ? 'Sent by Vigil.'
      : `Sent by Vigil. Repeats every ${formatNumber(context.repeatIntervalMinutes / 60)} h while firing; a RESOLVED message follows when it clears.`,
  );
  return lines.join('\n');
}

function smsText(alert: Alert, context: RenderContext): string {
  const label = kindLabel(alert, context.kind);
  if (context.kind === 'resolved') {
    return fitSms(
      `${label} ${context.stage}: ${alert.title}, after ${duration(context.since, context.sentAt)} at ${clock(context.sentAt)}`,
      context.smsDisplayName,
    );
  }
  const gist = alert.measurements.slice(0, 2).map(measurementGist).join('; ');
  return fitSms(
    `${label} ${context.stage}: ${alert.title}${gist ? ` - ${gist}` : ''} since ${clock(context.since)}. See email: ${alert.key}`,
    context.smsDisplayName,
  );
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function attributeBytes(attributes: RenderedMessage['attributes']): number {
  return Object.entries(attributes).reduce(
    (sum, [name, value]) => sum + utf8Bytes(name) + utf8Bytes(value.DataType) + utf8Bytes(value.StringValue),
    0,
  );
}

/** Cuts text to at most `keep` characters (code points), never inside a surrogate pair. */
const cutCharacters = (text: string, keep: number) => Array.from(text).slice(0, keep).join('');

/**
 * Renders an alert for SNS: subject, per-protocol texts in one MessageStructure 'json' document,
 * and message attributes; the whole under SNS's 256 KB, the details cut (and marked) if needed.
 */
export function renderAlert(alert: Alert, context: RenderContext): RenderedMessage {
  // Every text of the alert, whoever wrote it (an error, a note, a URL), before any is laid out.
  const safe: Alert = redactDeep(alert);
  const title = safe.title;
  const subject = toSubject(`Vigil ${context.stage} ${kindLabel(safe, context.kind)}: ${title}`);
  const attributes: RenderedMessage['attributes'] = {
    severity: { DataType: 'String', StringValue: alert.severity },
    alert_key: { DataType: 'String', StringValue: alert.key },
    notification: { DataType: 'String', StringValue: context.kind },
    stage: { DataType: 'String', StringValue: context.stage },
    'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: smsType },
  };
  const sms = smsText(safe, context);
  const defaultText = `${subject}\n${sms}`;
  const fullDetails = safe.details !== undefined ? safe.details.trim() : undefined;
  const build = (details: string | undefined, emailCharacters?: number) => {
    let email = emailText(safe, context, details);
    if (emailCharacters !== undefined) {
      const total = Array.from(email).length;
      email = `${cutCharacters(email, emailCharacters)}\n[truncated: ${total - emailCharacters} of ${total} characters removed to fit SNS's 256 KB limit]`;
    }
    const texts = { default: defaultText, email, sms };
    const message = JSON.stringify(texts);
    return { texts, message, sizeBytes: utf8Bytes(message) + utf8Bytes(subject) + attributeBytes(attributes) };
  };
  /** The largest n in [0, high] for which fits(n) holds, fits being monotone. */
  const largestFitting = (high: number, fits: (n: number) => boolean) => {
    let low = 0;
    let top = high;
    while (low < top) {
      const middle = Math.ceil((low + top) / 2);
      if (fits(middle)) low = middle;
      else top = middle - 1;
    }
    return low;
  };
  let rendered = build(fullDetails);
  let truncated = false;
  if (rendered.sizeBytes > snsMaxMessageBytes && fullDetails) {
    truncated = true;
    const characters = Array.from(fullDetails).length;
    const cutDetails = (keep: number) =>
      `${cutCharacters(fullDetails, keep)}\n[truncated: ${characters - keep} of ${characters} characters of details removed to fit SNS's 256 KB limit]`;
    const keep = largestFitting(characters, (n) => build(cutDetails(n)).sizeBytes <= snsMaxMessageBytes);
    rendered = build(cutDetails(keep));
  }
  if (rendered.sizeBytes > snsMaxMessageBytes) {
    // Even without details it is too big (huge measurements or summary): cut the email itself.
    truncated = true;
    const email = emailText(safe, context, undefined);
    const keep = largestFitting(Array.from(email).length, (n) => build(undefined, n).sizeBytes <= snsMaxMessageBytes);
    rendered = build(undefined, keep);
  }
  return { subject, message: rendered.message, texts: rendered.texts, attributes, truncated, sizeBytes: rendered.sizeBytes };
}
