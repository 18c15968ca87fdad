import { describeReading, labelText } from '../labels';
import { redact, redactDeep } from '../redact';
import { type ChangeContext, ordinal } from './dedup';
import runbookEntries from './runbook-steps.json' with { type: 'json' };
import { composeSms } from './sms';
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
  /** When the condition began, for "since"; the observation time when the check does not know. */
  since: Date;
  /** When the source says the key recovered (a resolve). */
  resolvedAt?: Date;
  /** When the notice is sent. */
  sentAt: Date;
  repeatIntervalMinutes: number;
  /** Set when the state store could not be used: the reader may see this again. */
  deduplicationUnavailable?: boolean;
  /** What the change was: how many firings in the last hour, what a flapping key's message merges. */
  change?: ChangeContext;
  /** A test alert's note, which its SMS carries too. */
  testNote?: string;
  /** The alerts this one holds back while it fires, and what on-call was last told of each. */
  heldBack?: HeldBackAlert[];
}

export interface HeldBackAlert {
  key: string;
  title?: string;
  /** When it began, when it is firing now. */
  firingSince?: Date;
}

/** The first steps of a runbook entry (docs/runbooks.md, through `npm run runbooks`). */
export const runbookStepsOf = (anchor: string): string[] =>
  Object.hasOwn(runbookEntries, anchor) ? runbookEntries[anchor as keyof typeof runbookEntries].steps : [];

export interface RenderedMessage {
  subject: string;
  /** The MessageStructure 'json' document. */
  message: string;
  texts: { default: string; email: string; sms: string };
  attributes: Record<string, { DataType: 'String'; StringValue: string }>;
  truncated: boolean;
  sizeBytes: number;
}

const kindLabel = (alert: Alert, kind: NotificationKind) => {
  const severity = alert.severity.toUpperCase();
  switch (kind) {
    case 'resolved':
      return 'RESOLVED';
    case 'test':
      return 'TEST';
    case 'digest':
      return 'REPORT';
    case 'repeat':
      return `STILL ${severity}`;
    case 'refiring':
      return `${severity} AGAIN`;
    default:
      return severity;
  }
};

/** The title of this state: a resolve says that the thing is back, not that it is broken. */
export const titleOf = (alert: Alert, kind: NotificationKind) =>
  kind === 'resolved' ? (alert.resolvedTitle ?? `${alert.title}: back to OK`) : alert.title;

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

/** "Error rate 3.04 % (over 2 %)", in the words of lib/labels.json. */
export function describeMeasurement(measurement: Measurement): string {
  const threshold = measurement.threshold
    ? { operator: measurement.threshold.operator, value: formatNumber(measurement.threshold.value) }
    : undefined;
  const measured =
    measurement.value === null
      ? `${labelText(measurement.name)}: no data${measurement.missingReason ? ` (${measurement.missingReason})` : ''}`
      : describeReading(measurement.name, formatNumber(measurement.value), measurement.value, measurement.unit, threshold);
  const context = [
    measurement.window ? measurement.window : '',
    measurement.sampleCount !== undefined ? `${measurement.sampleCount} samples` : '',
  ].filter(Boolean);
  return `${measured}${context.length ? `; ${context.join(', ')}` : ''}`;
}

/** The shortest form for SMS: "Load time 1840 ms (over 1000 ms)". */
function measurementGist(measurement: Measurement): string {
  if (measurement.value === null) return `${labelText(measurement.name)} no data`;
  const threshold = measurement.threshold
    ? { operator: measurement.threshold.operator, value: formatNumber(measurement.threshold.value) }
    : undefined;
  return describeReading(measurement.name, formatNumber(measurement.value), measurement.value, measurement.unit, threshold);
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

/** "Firing again, the 2nd time in the last hour." and what a flapping key's message merged. */
function changeLines(context: RenderContext): string[] {
  const change = context.change;
  if (!change) return [];
  const lines: string[] = [];
  if (context.kind === 'refiring') lines.push(`Firing again, the ${ordinal(change.firingsInLastHour)} time in the last hour.`);
  if (change.mergedChanges > 0) {
    const previous = change.previousMessageAt ? ` since the last message at ${clock(change.previousMessageAt)}` : '';
    lines.push(
      `Flapping: ${change.mergedChanges} change(s) of state${previous} were held and merged into this message (${change.changesInFlapWindow} changes in the flap window). This message is the current state.`,
    );
  }
  return lines;
}

function emailText(alert: Alert, context: RenderContext, details: string | undefined): string {
  const label = kindLabel(alert, context.kind);
  const lines: string[] = [
    `${label}: ${titleOf(alert, context.kind)}`,
    `Stage ${context.stage} - alert key ${alert.key} - severity ${alert.severity}`,
    '',
  ];
  if (context.kind === 'resolved') {
    const at = context.resolvedAt ?? context.sentAt;
    lines.push(
      `Back to OK at ${isoMinute(at)}, after ${duration(context.since, at)} (the condition began ${isoMinute(context.since)}).`,
      ...changeLines(context),
      'Last measured while firing:',
    );
  } else {
    if (alert.summary) lines.push(alert.summary, '');
    lines.push(...changeLines(context));
    if (context.kind !== 'test' && context.kind !== 'digest') {
      const still = context.kind === 'repeat' ? ` (still firing, ${duration(context.since, context.sentAt)})` : '';
      lines.push(`Since: ${isoMinute(context.since)}${still}`);
    }
    if (alert.measurements.length > 0) lines.push('Measured:');
  }
  for (const measurement of alert.measurements) lines.push(`  - ${describeMeasurement(measurement)}`);
  if (context.heldBack?.length && context.kind !== 'resolved') {
    lines.push('', 'Held back while this fires (one cause, one page; their resolves are still sent):');
    for (const held of context.heldBack) {
      const state = held.firingSince ? `firing since ${isoMinute(held.firingSince)}` : 'not firing now';
      lines.push(`  - ${held.title ? `${held.title} ` : ''}[${held.key}]: ${state}`);
    }
  }
  lines.push('', `Source: ${alert.source}, observed ${isoMinute(alert.observedAt)}`);
  if (context.kind !== 'resolved') {
    lines.push(`What to do: ${alert.action}`);
    if (alert.commands?.length) lines.push('Run:', ...alert.commands.map((command) => `  ${command}`));
  }
  lines.push(`Runbook: ${runbookLink(alert, context)}`);
  // Without a link to follow, the email carries the entry's first steps itself (a digest names its rules instead).
  const steps =
    context.runbookBaseUrl || context.kind === 'resolved' || context.kind === 'digest' ? [] : runbookStepsOf(alert.runbook);
  if (steps.length) lines.push('First steps from the runbook:', ...steps.map((step) => `  - ${step}`));
  if (context.deduplicationUnavailable) {
    lines.push('Note: Vigil could not reach its alert state store; this alert was sent without deduplication and may repeat.');
  }
  if (details) lines.push('', 'Details:', details);
  lines.push(
    '',
    context.kind === 'resolved' || context.kind === 'test'
      ? 'Sent by Vigil.'
      : context.kind === 'digest'
        ? 'Sent by Vigil, once for each report; a digest is never repeated or resolved.'
        : `Sent by Vigil. Repeats every ${formatNumber(context.repeatIntervalMinutes / 60)} h while firing; every change of state is sent, a RESOLVED message when it clears.`,
  );
  return lines.join('\n');
}

/**
 * Severity, stage, what, since and key first, whole; the measurements (or a test's note) fill
 * what is left of the one segment.
 */
function smsText(alert: Alert, context: RenderContext): string {
  const label = kindLabel(alert, context.kind);
  const title = titleOf(alert, context.kind);
  if (context.kind === 'resolved') {
    const at = context.resolvedAt ?? context.sentAt;
    return composeSms(
      {
        lead: `${label} ${context.stage}: `,
        title,
        anchor: ` at ${clock(at)} after ${duration(context.since, at)} [${alert.key}]`,
        fill: '',
      },
      context.smsDisplayName,
    );
  }
  const again = context.kind === 'refiring' && context.change ? ` (${ordinal(context.change.firingsInLastHour)} in 1 h)` : '';
  const fill = context.kind === 'test' ? (context.testNote ?? '') : alert.measurements.map(measurementGist).join('; ');
  const when =
    context.kind === 'test' || context.kind === 'digest' ? `at ${clock(context.sentAt)}` : `since ${clock(context.since)}`;
  return composeSms(
    { lead: `${label} ${context.stage}: `, title, anchor: `${again}, ${when} [${alert.key}]`, fill: fill ? ` ${fill}` : '' },
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
 * The alert's link, after redaction: a presigned URL is a credential made to be handed over, and
 * redacting its signature would leave the reader nothing to follow. Before the closing line.
 */
function withLink(email: string, label: string, url: string): string {
  const line = `${label}: ${url}`;
  const closing = email.lastIndexOf('\n\nSent by Vigil');
  return closing === -1 ? `${email}\n\n${line}` : `${email.slice(0, closing)}\n${line}${email.slice(closing)}`;
}

/**
 * Renders an alert for SNS: subject, per-protocol texts in one MessageStructure 'json' document,
 * and message attributes; the whole under SNS's 256 KB, the details cut (and marked) if needed.
 */
export function renderAlert(alert: Alert, unsafeContext: RenderContext): RenderedMessage {
  // Every text of the alert and of its context (a test's note, a held-back alert's title), whoever
  // wrote it, before any is laid out, so each protocol's text is sized as it will be sent...
  const safe: Alert = redactDeep(alert);
  const context: RenderContext = redactDeep(unsafeContext);
  const subject = toSubject(`Vigil ${context.stage} ${kindLabel(safe, context.kind)}: ${titleOf(safe, context.kind)}`);
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
    // ...and every text once more as composed: the guarantee is at the exit, whatever a later
    // layout adds. Idempotent on what was redacted before.
    const texts = redactDeep({ default: defaultText, email, sms });
    if (alert.link) texts.email = withLink(texts.email, safe.link?.label ?? 'Link', alert.link.url);
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
  return {
    subject: redact(subject),
    message: rendered.message,
    texts: rendered.texts,
    attributes: redactDeep(attributes),
    truncated,
    sizeBytes: rendered.sizeBytes,
  };
}
