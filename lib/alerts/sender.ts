import type { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config';
import { logger } from '../logger';
import type { DedupPolicy } from './dedup';
import { publishAlert } from './publish';
import { type RenderContext, type RenderedMessage, renderAlert } from './render';
import type { Alert, NotificationKind } from './types';

/** One message out: what SNS was given, its id and when. */
export interface SentMessage {
  sentAt: Date;
  rendered: RenderedMessage;
  messageId: string;
}

/** Renders and publishes alerts with one alerter's settings; decides nothing and stores nothing. */
export interface Sender {
  policy: DedupPolicy;
  now(): Date;
  /** The render context of a message of `kind` about an incident that began `since`, sent at `sentAt`. */
  context(kind: NotificationKind, since: Date, sentAt: Date, extra?: Partial<RenderContext>): RenderContext;
  /** Publishes `alert` as `context` renders it; a publish SNS will not take is an AlertDeliveryError. */
  send(alert: Alert, context: RenderContext): Promise<SentMessage>;
}

export function createSender(settings: { sns: SNSClient; config: Config['alerts']; stage: string; now?: () => Date }): Sender {
  const { sns, config, stage } = settings;
  return {
    policy: {
      repeatIntervalMs: config.repeatIntervalMinutes * 60_000,
      flapWindowMs: config.flapWindowMinutes * 60_000,
      flapThreshold: config.flapThreshold,
      flapHoldMs: config.flapHoldMinutes * 60_000,
    },
    now: settings.now ?? (() => new Date()),
    context: (kind, since, sentAt, extra = {}) => ({
      kind,
      stage,
      smsDisplayName: config.smsDisplayName,
      runbookBaseUrl: config.runbookUrl,
      since,
      sentAt,
      repeatIntervalMinutes: config.repeatIntervalMinutes,
      ...extra,
    }),
    async send(alert, context) {
      const rendered = renderAlert(alert, context);
      const messageId = await publishAlert(sns, config.topicArn, rendered);
      logger.info('alert sent', {
        alertKey: alert.key,
        kind: context.kind,
        severity: alert.severity,
        messageId,
        sizeBytes: rendered.sizeBytes,
        truncated: rendered.truncated,
      });
      return { sentAt: context.sentAt, rendered, messageId };
    },
  };
}
