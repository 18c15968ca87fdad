import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type DeliveredAlert, deliveredAlert } from '../../local/outbox';
import { localCredentials, type RunningSns } from '../../local/sns-server';

/** Everything delivered to a topic's read-back queue so far, split per protocol as SNS would. */
export async function drainDelivered(sns: RunningSns, topic: string, smsDisplayName = 'VIGIL'): Promise<DeliveredAlert[]> {
  const queueUrl = sns.topics[topic]?.queueUrl;
  if (!queueUrl) throw new Error(`no read-back queue for ${topic}`);
  return drainQueue(sns, queueUrl, smsDisplayName);
}

export async function drainQueue(sns: RunningSns, queueUrl: string, smsDisplayName = 'VIGIL'): Promise<DeliveredAlert[]> {
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
