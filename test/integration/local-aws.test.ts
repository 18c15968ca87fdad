import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { type RunningS3, startS3Server } from '../../local/s3-server';
import { localCredentials, type RunningSns, startSnsServer } from '../../local/sns-server';

describe('local AWS stand-ins', () => {
  let s3: RunningS3;
  let sns: RunningSns;

  beforeAll(async () => {
    [s3, sns] = await Promise.all([startS3Server({ buckets: ['vigil-backups'] }), startSnsServer({ topics: ['vigil-alerts'] })]);
  });

  afterAll(async () => {
    await Promise.all([s3?.stop(), sns?.stop()]);
  });

  it('listen on 127.0.0.1 only', () => {
    expect(new URL(s3.endpoint).hostname).toBe('127.0.0.1');
    expect(new URL(sns.endpoint).hostname).toBe('127.0.0.1');
  });

  it('store a streamed multipart upload byte for byte through the S3 client Vigil builds', async () => {
    const aws = loadConfig(['aws'], { AWS_ENDPOINT_URL_S3: s3.endpoint }).aws;
    const client = createS3Client(aws);
    // 11 MiB in 1 MiB chunks: three parts of 5 MiB minimum, streamed with no known length.
    const chunks = Array.from({ length: 11 }, () => randomBytes(1024 * 1024));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    const upload = new Upload({
      client,
      params: { Bucket: 'vigil-backups', Key: 'probe/stream.bin', Body: Readable.from(chunks) },
      partSize: 5 * 1024 * 1024,
      queueSize: 3,
    });
    await upload.done();
    const object = await client.send(new GetObjectCommand({ Bucket: 'vigil-backups', Key: 'probe/stream.bin' }));
    const stored = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(stored.length).toBe(11 * 1024 * 1024);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(expected);
  });

  it('deliver what is published to a topic to the queue subscribed to it', async () => {
    const aws = loadConfig(['aws'], { AWS_ENDPOINT_URL_SNS: sns.endpoint }).aws;
    const client = createSnsClient(aws);
    const topic = sns.topics['vigil-alerts'];
    if (!topic) throw new Error('topic missing');
    await client.send(
      new PublishCommand({
        TopicArn: topic.topicArn,
        Subject: 'Vigil test',
        Message: 'hello',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'critical' } },
      }),
    );
    const sqs = new SQSClient({ region: sns.region, endpoint: sns.endpoint, credentials: localCredentials });
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: topic.queueUrl, WaitTimeSeconds: 1 }));
    sqs.destroy();
    const envelope = JSON.parse(Messages?.[0]?.Body ?? '{}');
    expect(envelope).toMatchObject({
      Type: 'Notification',
      TopicArn: topic.topicArn,
      Subject: 'Vigil test',
      Message: 'hello',
      MessageAttributes: { severity: { Type: 'String', Value: 'critical' } },
    });
  });
});
