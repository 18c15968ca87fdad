export const severities = ['critical', 'major', 'minor', 'info'] as const;
export type Severity = (typeof severities)[number];

/** Higher is more severe; an alert whose severity rises is sent at once, whatever the repeat interval. */
export const severityRank: Record<Severity, number> = { info: 0, minor: 1, major: 2, critical: 3 };

/** One measured value and what it was held against. A value that could not be measured is null, with why. */
export interface Measurement {
  name: string;
  value: number | null;
  unit: string;
  threshold?: { operator: '>' | '>=' | '<' | '<='; value: number };
  /** Human window, e.g. "last 15 min" or "2026-11-22 03:00-03:15Z". */
  window?: string;
  sampleCount?: number;
  missingReason?: string;
}

export interface Alert {
  /** Stable: what is wrong, on what (`probe:dashboard:p95`). Deduplication and resolution key on it. */
  key: string;
  severity: Severity;
  title: string;
  /** The title of its resolve ("Endpoint x is back up"); "<title>: back to OK" when unset. */
  resolvedTitle?: string;
  /** One or two sentences of what is wrong, for the email. */
  summary?: string;
  measurements: Measurement[];
  /** The function or check that raised it. */
  source: string;
  /** Anchor of the alert's entry in docs/runbooks.md, without '#'. */
  runbook: string;
  /** What the person receiving it should do first. */
  action: string;
  /**
   * Commands that do what `action` says, each complete, every argument given, working as written
   * (test/integration/alerts/alert-commands.test.ts runs the local ones).
   */
  commands?: string[];
  /** Captured text (stderr, error messages); redacted and trimmed before it is sent. */
  details?: string;
  /**
   * What caused it, when one cause raises several alerts in one invocation (`partitions:<table>`):
   * those go out as one message per severity (lib/alerts/group.ts). Unset: a cause of its own.
   */
  cause?: string;
  /**
   * Keys held back while this alert fires (Alertmanager's inhibit rule, kept small): their raises
   * send nothing, and this alert's email lists them with their state. A resolve still goes out.
   */
  inhibits?: string[];
  /** When the condition was observed. */
  observedAt: Date;
  /** When the condition began, as the check knows it from its own state; observedAt when unset. */
  since?: Date;
  /**
   * A link made to be handed to the reader (a report page's presigned URL): the one text the
   * alerter does not redact, since its signature is what it is for. Email only, after "Source:".
   */
  link?: { label: string; url: string };
}

export type NotificationKind = 'firing' | 'refiring' | 'repeat' | 'escalation' | 'resolved' | 'test' | 'digest';

/** What happened to one raise() or resolve() call. */
export interface AlertOutcome {
  key: string;
  action: 'sent' | 'suppressed' | 'none';
  kind?: NotificationKind;
  messageId?: string;
  /** False when the state store could not be used and the alert went out without deduplication. */
  deduplicated: boolean;
  reason: string;
}

/** What a check asks of the alerter for one key: raise it, resolve it (at the source's time), or leave it. */
export type AlertRequest =
  | { action: 'raise'; alert: Alert }
  | { action: 'resolve'; key: string; at?: Date }
  | { action: 'hold'; key: string; reason: string };

export type RequestOutcome =
  | AlertOutcome
  | { key: string; action: 'hold'; reason: string }
  /** SNS would not take it (apply's continueOnDeliveryFailure): the caller's invocation must fail. */
  | { key: string; action: 'failed'; reason: string };
