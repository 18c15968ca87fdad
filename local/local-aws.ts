import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startChecksummingS3Proxy } from './checksumming-s3-proxy';

export interface AlertTopicQueue {
  topicArn: string;
  queueUrl: string;
}

export interface LocalAws {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL_SNS (and SQS, to read back). */
  endpoint: string;
  /**
   * For AWS_ENDPOINT_URL_S3: the same fauxqs's S3 behind local/checksumming-s3-proxy.ts, which
   * checks every part's CRC32 against its bytes as S3 does (fauxqs takes them on the client's word).
   */
  s3Endpoint: string;
  region: string;
  /** Each topic with an SQS queue subscribed to it, so what was published can be read back. */
  topics: Record<string, AlertTopicQueue>;
  stop(): Promise<void>;
}

/** The local stack's credentials (fauxqs takes any): nothing real is ever signed with. */
export const localCredentials = { accessKeyId: 'vigil-local', secretAccessKey: 'vigil-local' };

/**
 * SNS, SQS and S3 on 127.0.0.1 from one fauxqs (real wire format). Topics, queues and subscriptions
 * are made through the AWS API itself; `buckets` are created. fauxqs delivers the published Message
 * as sent: it does not split a MessageStructure 'json' message per protocol, so readers pick the
 * `email` / `sms` keys themselves. With `s3StorageDir`, S3 objects are kept there as files and
 * survive a restart (SNS and SQS stay in memory); `s3Port` places the S3 endpoint.
 */
export async function startLocalAws(options: {
  topics: string[];
  buckets?: string[];
  port?: number;
  s3Port?: number;
  region?: string;
  s3StorageDir?: string;
}): Promise<LocalAws> {
  const { buildApp } = await import('fauxqs');
  const region = options.region ?? 'us-east-1';
  const storage = options.s3StorageDir ? await persistentStores(options.s3StorageDir) : undefined;
  const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: region, stores: storage?.stores });
  if (storage) app.addHook('preClose', () => storage.close());
  // startFauxqs binds 0.0.0.0; nothing here should listen beyond loopback.
  const address = await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const endpoint = address.replace('localhost', '127.0.0.1');
  const s3 = await startChecksummingS3Proxy(endpoint, { port: options.s3Port });
  const clientOptions = { region, endpoint, credentials: localCredentials };
  const sns = new SNSClient(clientOptions);
  const sqs = new SQSClient(clientOptions);
  const s3Client = new S3Client({ ...clientOptions, endpoint: s3.endpoint, forcePathStyle: true });
  const topics: Record<string, AlertTopicQueue> = {};
  try {
    for (const name of options.buckets ?? []) {
      await s3Client.send(new CreateBucketCommand({ Bucket: name })).catch((error: Error) => {
        // Kept from an earlier run (s3StorageDir): already there is what was asked for.
        if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
      });
    }
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
    s3Client.destroy();
  }
  return {
    endpoint,
    s3Endpoint: s3.endpoint,
    region,
    topics,
    stop: async () => {
      await s3.stop();
      await app.close();
    },
  };
}

/**
 * fauxqs's stores with S3 kept as files in `directory`, wired as its own startFauxqs wires them
 * (which cannot bind loopback only). These modules are not in fauxqs's exports map: they are
 * loaded by path from the pinned version, and test/integration/local-aws.test.ts shows an object
 * surviving a restart.
 */
async function persistentStores(directory: string) {
  const dist = join(import.meta.dirname, '../node_modules/fauxqs/dist');
  const [{ S3Store }, { SqsStore }, { SnsStore }, { FileS3Persistence }] = await Promise.all([
    import(join(dist, 's3/s3Store.js')),
    import(join(dist, 'sqs/sqsStore.js')),
    import(join(dist, 'sns/snsStore.js')),
    import(join(dist, 's3/fileS3Persistence.js')),
  ]);
  const s3Store = new S3Store();
  const persistence = new FileS3Persistence(directory);
  persistence.loadS3(s3Store);
  s3Store.persistence = persistence;
  return { stores: { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store }, close: () => persistence.close() };
}
