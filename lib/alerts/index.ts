import type { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config';
import type { Database } from '../db';
import { errorSummary, logger } from '../logger';
import { type AlertState, type Decision, type DedupPolicy, decideFiring, decideResolved } from './dedup';
import { groupByCause, groupedAlert } from './group';
import { AlertDeliveryError, publishAlert } from './publish';
import { type RenderContext, type RenderedMessage, renderAlert } from './render';
import { firingInhibitorOf, heldBackBy, lockAlertState, recordNotification, saveAlertState } from './store';
import type { Alert, AlertOutcome, AlertStep, NotificationKind, Severity, StepOutcome } from './types';
import { severities } from './types';

export { groupByCause } from './group';
export { AlertDeliveryError } from './publish';
export type { Alert, AlertOutcome, AlertStep, Measurement, Severity, StepOutcome } from './types';
export { severities } from './types';

export interface Alerter {
  /** A check saw the condition: send, repeat, escalate or suppress, per the key's state. */
  raise(alert: Alert): Promise<AlertOutcome>;
  /**
   * A check saw the key healthy (since `at`, when the source says when it recovered): the resolve
   * is sent once if ops were told it was firing.
   */
  resolve(key: string, at?: Date): Promise<AlertOutcome>;
  /** Ops checking their subscriptions: always sent, never deduplicated or stored as state. */
  sendTest(severity: Severity, note: string, requestedBy: string): Promise<AlertOutcome>;
  /**
   * A digest (the rollout report): sent as it is, once per call, recorded as a notification and
   * never kept as state; the caller's slot makes it once per period. A failed publish throws.
   */
  sendDigest(alert: Alert): Promise<AlertOutcome>;
  /**
   * The front door: a check's steps in order. Raises of one cause go out as one message per
   * severity, resolves of keys that fired for one cause likewise, holds are reported; raise() and
   * resolve() are one step of it.
   */
  apply(steps: AlertStep[], options?: ApplyOptions): Promise<StepOutcome[]>;
}

export interface ApplyOptions {
  /** Report a unit SNS would not take as `failed` and go on with the others (the caller fails at the end). */
  continueOnDeliveryFailure?: boolean;
}

/** The per-key transitions behind apply(). */
interface KeyedAlerter {
  raise(alert: Alert): Promise<AlertOutcome>;
  resolve(key: string, at?: Date): Promise<AlertOutcome>;
  /**
   * Several raises of one cause, decided together: what is to be sent goes out as one message per
   * severity, the first alert leading. Each key keeps its own state.
   */
  raiseGroup(alerts: Alert[]): Promise<AlertOutcome[]>;
}

export interface AlerterDependencies {
  sns: SNSClient;
  /** Vigil's state store; without it (or when it is down) alerts go out undeduplicated. */
  db?: Database;
  config: Config['alerts'];
  stage: string;
  now?: () => Date;
}

/** A raise held back by a firing alert that inhibits its key; its state stays untouched, so once the inhibitor clears it is sent as new. */
async function heldBackOutcome(client: Parameters<typeof firingInhibitorOf>[0], key: string): Promise<AlertOutcome | undefined> {
  const inhibitor = await firingInhibitorOf(client, key);
  return inhibitor ? { key, action: 'suppressed', deduplicated: true, reason: `held back while ${inhibitor} fires` } : undefined;
}

export function createAlerter(dependencies: AlerterDependencies): Alerter {
  const { sns, db, config, stage } = dependencies;
  const now = dependencies.now ?? (() => new Date());
  const policy: DedupPolicy = {
    repeatIntervalMs: config.repeatIntervalMinutes * 60_000,
    flapWindowMs: config.flapWindowMinutes * 60_000,
    flapThreshold: config.flapThreshold,
    flapHoldMs: config.flapHoldMinutes * 60_000,
  };

  const context = (kind: NotificationKind, since: Date, sentAt: Date, extra: Partial<RenderContext> = {}): RenderContext => ({
    kind,
    stage,
    smsDisplayName: config.smsDisplayName,
    runbookBaseUrl: config.runbookUrl,
    since,
    sentAt,
    repeatIntervalMinutes: config.repeatIntervalMinutes,
    ...extra,
  });

  /*
   * Messages sent while the state store could not record them (a raise decided without it, or one
   * whose state failed to save after sending). Each is recorded as soon as the store answers again,
   * before this alerter decides anything else, so the key reads as firing and its RESOLVED is sent.
   * Kept by the alerter, which a handler builds once per container: a container that ends first
   * takes them with it (the log line 'alert sent while the state store was unavailable' names each).
   */
  const unrecorded = new Map<string, { alert: Alert; sentAt: Date; rendered: RenderedMessage; messageId: string }>();
  const recordUnrecorded = async () => {
    if (!db || unrecorded.size === 0) return;
    for (const [key, sent] of [...unrecorded]) {
      try {
        await db.withTransaction(async (client) => {
          const state = await lockAlertState(client, key);
          // It went out: the state says it was told, whatever deciding now would send.
          const { next } = decideFiring(state, sent.alert, sent.sentAt, policy);
          await recordNotification(client, {
            key,
            kind: 'firing',
            severity: sent.alert.severity,
            rendered: sent.rendered,
            messageId: sent.messageId,
            sentAt: sent.sentAt,
          });
          await saveAlertState(client, next);
        });
      } catch (error) {
        logger.warn('the state store is still unavailable; alerts sent without it stay unrecorded', {
          alertKeys: [...unrecorded.keys()],
          error: errorSummary(error),
        });
        return;
      }
      unrecorded.delete(key);
      logger.info('alert sent while the state store was unavailable is now recorded', { alertKey: key });
    }
  };

  /** The last message out, so a raise whose state failed to save after sending can be recorded later. */
  let lastSent: { key: string; sent: { sentAt: Date; rendered: RenderedMessage; messageId: string } } | undefined;

  const send = async (alert: Alert, renderContext: RenderContext) => {
    const rendered = renderAlert(alert, renderContext);
    const messageId = await publishAlert(sns, config.topicArn, rendered);
    lastSent = { key: alert.key, sent: { sentAt: renderContext.sentAt, rendered, messageId } };
    logger.info('alert sent', {
      alertKey: alert.key,
      kind: renderContext.kind,
      severity: alert.severity,
      messageId,
      sizeBytes: rendered.sizeBytes,
      truncated: rendered.truncated,
    });
    return { rendered, messageId };
  };

  /**
   * Runs one state transition in a transaction that holds the key's lock, publishing inside it: a
   * failed publish rolls the state back, so the next run tries again instead of believing it sent.
   */
  const transition = async (
    key: string,
    decide: (state: AlertState | undefined, at: Date) => Decision | undefined,
    options: { raising?: Alert } = {},
  ): Promise<AlertOutcome> => {
    if (!db) throw new Error('no state store');
    await recordUnrecorded();
    return db.withTransaction(async (client) => {
      const at = now();
      const state = await lockAlertState(client, key);
      if (options.raising) {
        const held = await heldBackOutcome(client, key);
        if (held) return held;
      }
      const decision = decide(state, at);
      if (!decision) return { key, action: 'none', deduplicated: true, reason: 'not firing' } satisfies AlertOutcome;
      let messageId: string | undefined;
      if (decision.notify) {
        const inhibits = decision.next.lastAlert.inhibits ?? [];
        const sent = await send(
          decision.next.lastAlert,
          context(decision.notify, decision.next.incidentStartedAt, at, {
            change: decision.change,
            resolvedAt: decision.next.resolvedAt ?? undefined,
            ...(inhibits.length ? { heldBack: await heldBackBy(client, inhibits) } : {}),
          }),
        );
        messageId = sent.messageId;
        await recordNotification(client, {
          key,
          kind: decision.notify,
          severity: decision.next.severity,
          rendered: sent.rendered,
          messageId,
          sentAt: at,
        });
      }
      await saveAlertState(client, decision.next);
      return {
        key,
        action: decision.notify ? 'sent' : 'suppressed',
        ...(decision.notify ? { kind: decision.notify, messageId } : {}),
        deduplicated: true,
        reason: decision.reason,
      } satisfies AlertOutcome;
    });
  };

  /**
   * Decisions for the keys of one cause, taken in one transaction: what is to be sent goes out as
   * one message per severity (the first key leading), each key's notification is recorded and its
   * state saved, and each outcome set. What raiseGroup and resolveGroup share.
   */
  const sendDecided = async (
    client: Parameters<typeof lockAlertState>[0],
    decided: Array<{ key: string; decision: Decision; inhibits?: string[] }>,
    at: Date,
    outcomes: Map<string, AlertOutcome>,
  ) => {
    for (const severity of [...severities].reverse()) {
      const members = decided.filter(({ decision }) => decision.notify && decision.next.severity === severity);
      const lead = members[0];
      if (!lead?.decision.notify) continue;
      const inhibits = members.flatMap((member) => member.inhibits ?? []);
      const { rendered, messageId } = await send(
        groupedAlert(members.map(({ decision }) => decision.next.lastAlert)),
        context(lead.decision.notify, lead.decision.next.incidentStartedAt, at, {
          change: lead.decision.change,
          ...(lead.decision.notify === 'resolved' ? { resolvedAt: lead.decision.next.resolvedAt ?? undefined } : {}),
          ...(inhibits.length ? { heldBack: await heldBackBy(client, inhibits) } : {}),
        }),
      );
      for (const { key, decision } of members) {
        const kind = decision.notify as NotificationKind;
        await recordNotification(client, { key, kind, severity, rendered, messageId, sentAt: at });
        const grouped = members.length > 1 ? `; one message with ${members.length - 1} other(s) of the same cause` : '';
        outcomes.set(key, { key, action: 'sent', kind, messageId, deduplicated: true, reason: `${decision.reason}${grouped}` });
      }
    }
    for (const { key, decision } of decided) {
      await saveAlertState(client, decision.next);
      if (!outcomes.has(key)) outcomes.set(key, { key, action: 'suppressed', deduplicated: true, reason: decision.reason });
    }
  };

  const one: KeyedAlerter = {
    async raise(alert) {
      let published = false;
      try {
        return await transition(
          alert.key,
          (state, at) => {
            const decision = decideFiring(state, alert, at, policy);
            published = decision.notify !== null;
            return decision;
          },
          { raising: alert },
        );
      } catch (error) {
        if (error instanceof AlertDeliveryError) throw error;
        if (published && lastSent?.key === alert.key) {
          // Sent, but the state could not be saved: recorded once the store answers again.
          logger.error('alert sent but its state could not be saved', { alertKey: alert.key, error: errorSummary(error) });
          unrecorded.set(alert.key, { alert, ...lastSent.sent });
          return { key: alert.key, action: 'sent', kind: 'firing', deduplicated: false, reason: 'state not saved after sending' };
        }
        logger.warn('alert state store unavailable; sending without deduplication', {
          alertKey: alert.key,
          error: errorSummary(error),
        });
        const at = now();
        const sent = await send(alert, context('firing', alert.observedAt, at, { deduplicationUnavailable: true }));
        const { messageId } = sent;
        const { rendered } = sent;
        logger.warn('alert sent while the state store was unavailable; it is recorded once the store answers', {
          alertKey: alert.key,
        });
        unrecorded.set(alert.key, { alert, sentAt: at, rendered, messageId });
        return {
          key: alert.key,
          action: 'sent',
          kind: 'firing',
          messageId,
          deduplicated: false,
          reason: 'state store unavailable',
        };
      }
    },

    async resolve(key, recoveredAt) {
      try {
        return await transition(key, (state, at) => decideResolved(state, at, policy, recoveredAt));
      } catch (error) {
        if (error instanceof AlertDeliveryError) throw error;
        // Without state Vigil cannot know the key was firing; a RESOLVED for every healthy check would be noise.
        logger.warn('alert state store unavailable; cannot tell whether to send RESOLVED', {
          alertKey: key,
          error: errorSummary(error),
        });
        return { key, action: 'none', deduplicated: false, reason: 'state store unavailable' };
      }
    },

    async raiseGroup(alerts) {
      const keys = alerts.map((alert) => alert.key);
      if (alerts.length < 2 || !db || new Set(keys).size !== keys.length) {
        const outcomes: AlertOutcome[] = [];
        for (const alert of alerts) outcomes.push(await one.raise(alert));
        return outcomes;
      }
      try {
        await recordUnrecorded();
        return await db.withTransaction(async (client) => {
          const at = now();
          const outcomes = new Map<string, AlertOutcome>();
          const decided: Array<{ alert: Alert; decision: Decision }> = [];
          // Locks taken in key order, so two groups sharing keys cannot deadlock.
          for (const alert of [...alerts].sort((a, b) => a.key.localeCompare(b.key))) {
            const state = await lockAlertState(client, alert.key);
            const held = await heldBackOutcome(client, alert.key);
            if (held) {
              outcomes.set(alert.key, held);
              continue;
            }
            decided.push({ alert, decision: decideFiring(state, alert, at, policy) });
          }
          // The callers' order again: the first raised is the root cause and leads its message.
          decided.sort((a, b) => keys.indexOf(a.alert.key) - keys.indexOf(b.alert.key));
          await sendDecided(
            client,
            decided.map(({ alert, decision }) => ({ key: alert.key, decision, inhibits: alert.inhibits ?? [] })),
            at,
            outcomes,
          );
          return keys.map((key) => outcomes.get(key) as AlertOutcome);
        });
      } catch (error) {
        if (error instanceof AlertDeliveryError) throw error;
        // Without the state store: still one message per severity for the cause (one database freeze
        // pages once), undeduplicated and saying so, each key recorded once the store answers.
        logger.warn('alert state store unavailable; sending the cause as one message per severity, without deduplication', {
          keys,
          error: errorSummary(error),
        });
        const at = now();
        const outcomes = new Map<string, AlertOutcome>();
        for (const severity of [...severities].reverse()) {
          const members = alerts.filter((alert) => alert.severity === severity);
          const lead = members[0];
          if (!lead) continue;
          const { rendered, messageId } = await send(
            groupedAlert(members),
            context('firing', lead.since ?? lead.observedAt, at, { deduplicationUnavailable: true }),
          );
          for (const alert of members) {
            unrecorded.set(alert.key, { alert, sentAt: at, rendered, messageId });
            outcomes.set(alert.key, {
              key: alert.key,
              action: 'sent',
              kind: 'firing',
              messageId,
              deduplicated: false,
              reason: 'state store unavailable',
            });
          }
        }
        return keys.map((key) => outcomes.get(key) as AlertOutcome);
      }
    },
  };

  /**
   * Several resolves of one cause (keys whose last message was one cause's), decided together:
   * the RESOLVED goes out as one message per severity, the first key leading, as their raise did.
   */
  const resolveGroup = async (entries: Array<{ key: string; at?: Date }>): Promise<AlertOutcome[]> => {
    const keys = entries.map((entry) => entry.key);
    if (!db) throw new Error('no state store');
    try {
      await recordUnrecorded();
      return await db.withTransaction(async (client) => {
        const at = now();
        const outcomes = new Map<string, AlertOutcome>();
        const decided: Array<{ key: string; decision: Decision }> = [];
        // Locks taken in key order, as raiseGroup takes them.
        for (const entry of [...entries].sort((a, b) => a.key.localeCompare(b.key))) {
          const decision = decideResolved(await lockAlertState(client, entry.key), at, policy, entry.at);
          if (decision) decided.push({ key: entry.key, decision });
          else outcomes.set(entry.key, { key: entry.key, action: 'none', deduplicated: true, reason: 'not firing' });
        }
        decided.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
        await sendDecided(client, decided, at, outcomes);
        return keys.map((key) => outcomes.get(key) as AlertOutcome);
      });
    } catch (error) {
      if (error instanceof AlertDeliveryError) throw error;
      logger.warn('grouped resolves could not be decided together; resolving them one by one', {
        keys,
        error: errorSummary(error),
      });
      const outcomes: AlertOutcome[] = [];
      for (const entry of entries) outcomes.push(await one.resolve(entry.key, entry.at));
      return outcomes;
    }
  };

  /** The causes of the keys about to resolve that are firing: keys resolved together, or undefined without the store. */
  const firingCauses = async (keys: string[]): Promise<Map<string, string> | undefined> => {
    if (!db || keys.length === 0) return keys.length === 0 ? new Map() : undefined;
    try {
      await recordUnrecorded();
      const { rows } = await db.query<{ alert_key: string; cause: string | null }>(
        // Firing, or resolved with the resolve held while flapping: both have a message to send.
        `SELECT alert_key, last_alert->>'cause' AS cause FROM vigil.alert_state
          WHERE alert_key = ANY($1::text[]) AND (status = 'firing' OR told_status = 'firing')`,
        [keys],
      );
      return new Map(rows.map((row) => [row.alert_key, row.cause ?? row.alert_key]));
    } catch {
      // Each resolve says why it cannot tell.
      return undefined;
    }
  };

  /**
   * The one way alerts leave a check: its steps in order. Raises of one cause go out as one message
   * per severity where the first of them stands; resolves of keys that fired for one cause go out
   * the same way; holds are reported. With `continueOnDeliveryFailure`, a unit SNS would not take
   * is reported as failed and the others still go (the caller fails its invocation at the end).
   */
  const apply = async (steps: AlertStep[], options: ApplyOptions = {}): Promise<StepOutcome[]> => {
    const raiseGroups = [...groupByCause(steps.flatMap((step) => (step.action === 'raise' ? [step.alert] : []))).values()];
    const resolves = steps.flatMap((step) => (step.action === 'resolve' ? [step] : []));
    const causes = await firingCauses(resolves.map((step) => step.key));
    const resolveGroups = new Map<string, Array<{ key: string; at?: Date }>>();
    for (const step of resolves) {
      const cause = causes === undefined ? step.key : causes.get(step.key);
      if (cause === undefined) continue;
      resolveGroups.set(cause, [...(resolveGroups.get(cause) ?? []), { key: step.key, ...(step.at ? { at: step.at } : {}) }]);
    }
    const outcomes: StepOutcome[] = [];
    const deliver = async (keys: string[], unit: () => Promise<AlertOutcome[]>) => {
      try {
        outcomes.push(...(await unit()));
      } catch (error) {
        if (!(error instanceof AlertDeliveryError) || !options.continueOnDeliveryFailure) throw error;
        logger.error('alerts could not be delivered', { alertKeys: keys, error: errorSummary(error) });
        outcomes.push(...keys.map((key) => ({ key, action: 'failed' as const, reason: error.message })));
      }
    };
    for (const step of steps) {
      if (step.action === 'hold') outcomes.push(step);
      else if (step.action === 'resolve') {
        if (causes !== undefined && !causes.has(step.key)) {
          outcomes.push({ key: step.key, action: 'none', deduplicated: true, reason: 'not firing' });
          continue;
        }
        // A cause's resolves go out where its first resolve stands.
        const group = [...resolveGroups.values()].find((members) => members[0]?.key === step.key);
        if (!group) continue;
        await deliver(
          group.map((member) => member.key),
          () => (group.length > 1 ? resolveGroup(group) : one.resolve(step.key, step.at).then((outcome) => [outcome])),
        );
      } else {
        // A cause's raises go out where its first raise stands.
        const group = raiseGroups.find((members) => members[0] === step.alert);
        if (group)
          await deliver(
            group.map((alert) => alert.key),
            () => one.raiseGroup(group),
          );
      }
    }
    return outcomes;
  };

  return {
    raise: async (alert) => (await apply([{ action: 'raise', alert }]))[0] as AlertOutcome,
    resolve: async (key, at) => (await apply([{ action: 'resolve', key, ...(at ? { at } : {}) }]))[0] as AlertOutcome,
    apply,
    async sendTest(severity, note, requestedBy) {
      const at = now();
      const alert: Alert = {
        key: `alerts:test:${severity}`,
        severity,
        title: `Test alert (${severity}) requested by ${requestedBy}`,
        summary: `A test of Vigil's alert delivery. ${note}`.trim(),
        measurements: [],
        source: 'alerts',
        runbook: 'alerts-test',
        action: 'Nothing: confirm that this arrived by email, and by SMS for critical.',
        observedAt: at,
      };
      const { rendered, messageId } = await send(alert, context('test', at, at, { testNote: note.trim() || undefined }));
      if (db) {
        await db
          .withTransaction((client) =>
            recordNotification(client, { key: alert.key, kind: 'test', severity, rendered, messageId, sentAt: at }),
          )
          .catch((error: unknown) => logger.warn('test alert sent but not recorded', { error: errorSummary(error) }));
      }
      return {
        key: alert.key,
        action: 'sent',
        kind: 'test',
        messageId,
        deduplicated: false,
        reason: 'test alerts are always sent',
      };
    },
    async sendDigest(alert) {
      const at = now();
      const { rendered, messageId } = await send(alert, context('digest', alert.since ?? alert.observedAt, at));
      if (db) {
        await db
          .withTransaction((client) =>
            recordNotification(client, {
              key: alert.key,
              kind: 'digest',
              severity: alert.severity,
              rendered,
              messageId,
              sentAt: at,
            }),
          )
          .catch((error: unknown) => logger.warn('digest sent but not recorded', { error: errorSummary(error) }));
      }
      return {
        key: alert.key,
        action: 'sent',
        kind: 'digest',
        messageId,
        deduplicated: false,
        reason: 'a digest is sent once a report',
      };
    },
  };
}
