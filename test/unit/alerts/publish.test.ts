import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AlertDeliveryError, publishAlert } from '../../../lib/alerts/publish';
import { renderAlert } from '../../../lib/alerts/render';
import { createSnsClient } from '../../../lib/aws/sns';
import { logger } from '../../../lib/logger';
import { sampleAlert } from '../../support/alerts';

const topicArn = 'arn:aws:sns:eu-west-1:123456789012:vigil-prod-alerts';
const rendered = renderAlert(sampleAlert(), {
  kind: 'firing',
  stage: 'prod',
  smsDisplayName: 'VIGIL',
  since: new Date('2026-11-22T03:20:00Z'),
  sentAt: new Date('2026-11-22T03:20:00Z'),
  repeatIntervalMinutes: 240,
});

describe('publish', () => {
  it('publishes the rendered message with MessageStructure json, subject and attributes', async () => {
    const snsMock = mockClient(SNSClient);
    try {
      snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
      expect(await publishAlert(new SNSClient({ region: 'eu-west-1' }), topicArn, rendered)).toBe('m-1');
      expect(snsMock.commandCalls(PublishCommand)[0]?.args[0].input).toEqual({
        TopicArn: topicArn,
        Subject: rendered.subject,
        Message: rendered.message,
        MessageStructure: 'json',
        MessageAttributes: rendered.attributes,
      });
    } finally {
      snsMock.restore();
    }
  });
});

/*
 * The SDK's own retry strategy, through the real client and wire (SNS's query protocol), against a
 * stand-in that answers each Publish as the script says: what is retried, how often, what is logged.
 */
describe('publish through the SDK retry strategy', () => {
  const xml = (body: string) => `<?xml version="1.0"?>${body}`;
  const failure = (status: number, type: 'Sender' | 'Receiver', code: string) => ({
    status,
    body: xml(
      `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${code}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
    ),
  });
  const success = (id: string) => ({
    status: 200,
    body: xml(
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></PublishResponse>`,
    ),
  });
  let script: Array<{ status: number; body: string }> = [];
  const attempts: string[] = [];
  let server: Server;
  let endpoint = '';

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        attempts.push(String(request.headers['amz-sdk-request'] ?? ''));
        const next = script.shift() ?? failure(500, 'Receiver', 'InternalFailure');
        response.writeHead(next.status, { 'content-type': 'text/xml' });
        response.end(next.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    attempts.length = 0;
    vi.restoreAllMocks();
  });
  const client = (maxAttempts: number) =>
    createSnsClient({ region: 'eu-west-1', snsEndpoint: endpoint } as Parameters<typeof createSnsClient>[0], maxAttempts);

  it('retries throttling and 5xx, then delivers, each retry logged with its alert', async () => {
    script = [
      failure(400, 'Sender', 'Throttling'),
      failure(400, 'Sender', 'ThrottlingException'),
      failure(500, 'Receiver', 'InternalFailure'),
      success('m-2'),
    ];
    const warned = vi.spyOn(logger, 'warn');
    expect(await publishAlert(client(4), topicArn, rendered)).toBe('m-2');
    expect(attempts.map((header) => /attempt=(\d+)/.exec(header)?.[1])).toEqual(['1', '2', '3', '4']);
    expect(warned.mock.calls.filter(([message]) => message === 'alert publish failed, retrying')).toEqual(
      [1, 2, 3].map((attempt) => [
        'alert publish failed, retrying',
        expect.objectContaining({ service: 'SNS', alertKey: sampleAlert().key, attempt, of: 4 }),
      ]),
    );
  }, 30_000);

  it('fails with AlertDeliveryError after the last attempt, naming the alert and keeping the cause', async () => {
    script = [0, 1, 2].map(() => failure(503, 'Receiver', 'ServiceUnavailable'));
    const failed = await publishAlert(client(3), topicArn, rendered).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(AlertDeliveryError);
    expect(failed).toMatchObject({ attempts: 3, cause: expect.objectContaining({ name: 'ServiceUnavailable' }) });
    expect((failed as Error).message).toContain(sampleAlert().key);
    expect(attempts).toHaveLength(3);
  }, 30_000);

  it('does not retry a request SNS refuses as invalid', async () => {
    script = [failure(400, 'Sender', 'InvalidParameter')];
    const warned = vi.spyOn(logger, 'warn');
    await expect(publishAlert(client(5), topicArn, rendered)).rejects.toMatchObject({ attempts: 1 });
    expect(attempts).toHaveLength(1);
    expect(warned.mock.calls.filter(([message]) => message === 'alert publish failed, retrying')).toEqual([]);
  });
});
