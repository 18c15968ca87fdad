import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';

export interface AlertTopicQueue {
  topicArn: string;
  queueUrl: string;
}

export interface RunningSns {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL_SNS (and SQS, to read back). */
  endpoint: string;
  region: string;
  /** Each topic with an SQS queue subscribed to it, so what was published can be read back. */
  topics: Record<string, AlertTopicQueue>;
  stop(): Promise<void>;
}

/**
 * The local stack's credentials: the pair s3rver checks signatures against (fauxqs takes any), so
 * nothing real is ever signed with.
 */
export const localCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * SNS and SQS on 127.0.0.1 (fauxqs, real wire format). Topics, queues and subscriptions are made
 * through the AWS API itself. fauxqs delivers the published Message as sent: it does not split a
 * MessageStructure 'json' message per protocol, so readers pick the `email` / `sms` keys themselves.
 */
export async function startSnsServer(options: { topics: string[]; port?: number; region?: string }): Promise<RunningSns> {
  const { buildApp } = await import('fauxqs');
  const region = options.region ?? 'us-east-1';
  const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: region });
  // startFauxqs binds 0.0.0.0; nothing here should listen beyond loopback.
  const address = await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const endpoint = address.replace('localhost', '127.0.0.1');
  const clientOptions = { region, endpoint, credentials: localCredentials };
  const sns = new SNSClient(clientOptions);
  const sqs = new SQSClient(clientOptions);
  const topics: Record<string, AlertTopicQueue> = {};
  try {
    for (const name of options.topics) {
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-readback` }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
      topics[name] = { topicArn: TopicArn as string, queueUrl: QueueUrl as string };
    }
  } finally {
    sns.destroy();
    sqs.destroy();
  }
  return { endpoint, region, topics, stop: () => app.close() };
}
