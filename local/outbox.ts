import { appendFile } from 'node:fs/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage } from '../lib/errors';
import { type LocalAws, localCredentials } from './local-aws';

export interface DeliveredAlert {
  receivedAt: string;
  subject: string | null;
  attributes: Record<string, string>;
  /** What an email subscriber reads. */
  email: string;
  /** What a phone receives, with the prefix SNS adds from the topic's display name. */
  sms: string;
  /** The message as published (the MessageStructure 'json' document, or plain text). */
  message: string;
}

/** Splits a published message into what each protocol would deliver, as SNS does. */
export function deliveredAlert(envelopeBody: string, smsDisplayName: string): DeliveredAlert {
  const envelope = JSON.parse(envelopeBody) as {
    Subject?: string | null;
    Message: string;
    MessageAttributes?: Record<string, { Value: string }>;
  };
  let perProtocol: Record<string, string> | undefined;
  try {
    const parsed = JSON.parse(envelope.Message) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as Record<string, unknown>).default === 'string') {
      perProtocol = parsed as Record<string, string>;
    }
  } catch {
    // Plain text: every protocol gets the same message.
  }
  const text = (protocol: string) => perProtocol?.[protocol] ?? perProtocol?.default ?? envelope.Message;
  return {
    receivedAt: new Date().toISOString(),
    subject: envelope.Subject ?? null,
    attributes: Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([name, value]) => [name, value.Value])),
    email: text('email'),
    sms: `${smsDisplayName}> ${text('sms')}`,
    message: envelope.Message,
  };
}

export function renderForConsole(alert: DeliveredAlert): string {
  const rule = '-'.repeat(72);
  return [
    rule,
    `ALERT ${alert.attributes.severity ?? ''} ${alert.receivedAt}`.trim(),
    `EMAIL  Subject: ${alert.subject ?? '(none)'}`,
    ...alert.email.split('\n').map((line) => `       ${line}`),
    `SMS    ${alert.sms}`,
    rule,
  ].join('\n');
}

/**
 * Reads what was published to the local alert topic (through its subscribed queue), prints it as
 * the email and the SMS would read, and appends it to the outbox file.
 */
export function startOutbox(options: {
  endpoint: string;
  region: string;
  queueUrl: string;
  outboxFile: string;
  smsDisplayName: string;
  print: (text: string) => void;
}): { stop(): Promise<void> } {
  const sqs = new SQSClient({ region: options.region, endpoint: options.endpoint, credentials: localCredentials });
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const message of Messages) {
          const alert = deliveredAlert(message.Body ?? '{}', options.smsDisplayName);
          options.print(renderForConsole(alert));
          await appendFile(options.outboxFile, `${JSON.stringify(alert)}\n`);
        }
        if (Messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: options.queueUrl,
              Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
            }),
          );
        }
      } catch (error) {
        if (running) options.print(`outbox: cannot read the local alert queue: ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      sqs.destroy();
    },
  };
}

/** Everything delivered to a topic's read-back queue so far, split per protocol as SNS would. */
export async function drainDelivered(sns: LocalAws, topic: string, smsDisplayName = 'VIGIL'): Promise<DeliveredAlert[]> {
  const queueUrl = sns.topics[topic]?.queueUrl;
  if (!queueUrl) throw new Error(`no read-back queue for ${topic}`);
  return drainQueue(sns, queueUrl, smsDisplayName);
}

export async function drainQueue(sns: LocalAws, queueUrl: string, smsDisplayName = 'VIGIL'): Promise<DeliveredAlert[]> {
  const sqs = new SQSClient({ region: sns.region, endpoint: sns.endpoint, credentials: localCredentials });
  const delivered: DeliveredAlert[] = [];
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return delivered;
      delivered.push(...Messages.map((message) => deliveredAlert(message.Body ?? '{}', smsDisplayName)));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
  } finally {
    sqs.destroy();
  }
}
