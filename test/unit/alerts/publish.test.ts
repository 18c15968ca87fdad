import { PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertDeliveryError, isRetryable, publishAlert } from '../../../lib/alerts/publish';
import { renderAlert } from '../../../lib/alerts/render';
import { sampleAlert } from '../../support/alerts';

const snsMock = mockClient(SNSClient);
const topicArn = 'arn:aws:sns:eu-west-1:123456789012:vigil-prod-alerts';
const rendered = renderAlert(sampleAlert(), {
  kind: 'firing',
  stage: 'prod',
  smsDisplayName: 'VIGIL',
  since: new Date('2026-11-22T03:20:00Z'),
  sentAt: new Date('2026-11-22T03:20:00Z'),
  repeatIntervalMinutes: 240,
});

const serviceError = (name: string, status: number, fault: 'client' | 'server') =>
  new SNSServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: `${name} (${status})` });

describe('publish', () => {
  afterEach(() => snsMock.reset());

  it('publishes the rendered message with MessageStructure json, subject and attributes', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const delays: number[] = [];
    const id = await publishAlert(new SNSClient({}), topicArn, rendered, {
      attempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep: async (ms) => void delays.push(ms),
    });
    expect(id).toBe('m-1');
    expect(delays).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)[0]?.args[0].input).toEqual({
      TopicArn: topicArn,
      Subject: rendered.subject,
      Message: rendered.message,
      MessageStructure: 'json',
      MessageAttributes: rendered.attributes,
    });
  });

  it('retries throttling and 5xx with growing backoff, then succeeds', async () => {
    snsMock
      .on(PublishCommand)
      .rejectsOnce(serviceError('Throttled', 429, 'client'))
      .rejectsOnce(serviceError('ThrottlingException', 400, 'client'))
      .rejectsOnce(serviceError('InternalFailure', 500, 'server'))
      .resolves({ MessageId: 'm-2' });
    const delays: number[] = [];
    const id = await publishAlert(new SNSClient({}), topicArn, rendered, {
      attempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep: async (ms) => void delays.push(ms),
    });
    expect(id).toBe('m-2');
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(4);
    expect(delays).toHaveLength(3);
    // Jittered in [delay/2, delay] with delay 100, 200, 400.
    expect(delays[0]).toBeGreaterThanOrEqual(50);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[2]).toBeGreaterThanOrEqual(200);
    expect(delays[2]).toBeLessThanOrEqual(400);
  });

  it('fails with AlertDeliveryError after the last attempt, keeping the cause', async () => {
    const outage = serviceError('ServiceUnavailable', 503, 'server');
    snsMock.on(PublishCommand).rejects(outage);
    const attempt = publishAlert(new SNSClient({}), topicArn, rendered, {
      attempts: 3,
      baseDelayMs: 1,
      maxDelayMs: 1,
      sleep: async () => {},
    });
    await expect(attempt).rejects.toBeInstanceOf(AlertDeliveryError);
    await expect(attempt).rejects.toMatchObject({ attempts: 3, cause: outage });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(3);
  });

  it('does not retry a request SNS refuses as invalid', async () => {
    snsMock.on(PublishCommand).rejects(serviceError('InvalidParameter', 400, 'client'));
    await expect(
      publishAlert(new SNSClient({}), topicArn, rendered, { attempts: 5, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} }),
    ).rejects.toMatchObject({ attempts: 1 });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('classifies network failures as retryable', () => {
    expect(isRetryable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryable(new Error('boom'))).toBe(false);
  });
});
