import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lib/aws/s3';
import { createSnsClient } from '../../lib/aws/sns';
import { loadConfig } from '../../lib/config';
import { base64Crc, compositeCrc } from '../../local/checksumming-s3-proxy';
import { type LocalAws, localCredentials, startLocalAws } from '../../local/local-aws';

/* The local stack's AWS (what `npm start` runs): one fauxqs for SNS, SQS and S3, S3 kept on disk. */
describe('local AWS stand-ins', () => {
  let sns: LocalAws;
  let directory: string;
  const start = () => startLocalAws({ topics: ['vigil-alerts'], buckets: ['vigil-backups'], s3StorageDir: directory });
  const s3Client = () => createS3Client(loadConfig(['aws'], { AWS_ENDPOINT_URL_S3: sns.s3Endpoint }).aws);

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'vigil-local-s3-'));
    sns = await start();
  });

  afterAll(async () => {
    await sns?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('listen on 127.0.0.1 only', () => {
    expect(new URL(sns.s3Endpoint).hostname).toBe('127.0.0.1');
    expect(new URL(sns.endpoint).hostname).toBe('127.0.0.1');
  });

  it("store a streamed multipart upload byte for byte through the S3 client Vigil builds, with S3's composite CRC32 of the bytes, and keep it across a restart", async () => {
    const client = s3Client();
    // 11 MiB in 1 MiB chunks: three parts of 5 MiB minimum, streamed with no known length.
    const chunks = Array.from({ length: 11 }, () => randomBytes(1024 * 1024));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    const upload = new Upload({
      client,
      params: { Bucket: 'vigil-backups', Key: 'probe/stream.bin', Body: Readable.from(chunks), ChecksumAlgorithm: 'CRC32' },
      partSize: 5 * 1024 * 1024,
      queueSize: 3,
    });
    const done = (await upload.done()) as { ChecksumCRC32?: string };
    const whole = Buffer.concat(chunks);
    const parts = [whole.subarray(0, 5 << 20), whole.subarray(5 << 20, 10 << 20), whole.subarray(10 << 20)];
    expect(done.ChecksumCRC32).toBe(`${base64Crc(compositeCrc(parts.map((part) => crc32(part))))}-3`);
    const read = async () => {
      const object = await s3Client().send(new GetObjectCommand({ Bucket: 'vigil-backups', Key: 'probe/stream.bin' }));
      return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    };
    const stored = await read();
    expect(stored.length).toBe(11 * 1024 * 1024);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(expected);
    await sns.stop();
    sns = await start();
    expect(
      createHash('sha256')
        .update(await read())
        .digest('hex'),
    ).toBe(expected);
  });

  it('abort a multipart upload, leaving no upload and no object behind', async () => {
    const client = s3Client();
    const target = { Bucket: 'vigil-backups', Key: 'probe/aborted.bin' };
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(target));
    await client.send(new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: randomBytes(5 << 20) }));
    await client.send(new AbortMultipartUploadCommand({ ...target, UploadId }));
    // The upload is gone: it takes no more parts and cannot be completed (fauxqs has no ListParts).
    await expect(
      client.send(new UploadPartCommand({ ...target, UploadId, PartNumber: 2, Body: randomBytes(1024) })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(
      client.send(
        new CompleteMultipartUploadCommand({ ...target, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: 'x' }] } }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(client.send(new GetObjectCommand(target))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('deliver what is published to a topic to the queue subscribed to it', async () => {
    const aws = loadConfig(['aws'], { AWS_ENDPOINT_URL_SNS: sns.endpoint }).aws;
    const client = createSnsClient(aws, 1);
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
