import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent as event, useHandlerFixture } from '../../support/handler-fixture';

const apiToken = 'vigil-local-token';

describe('alerts handler', () => {
  const fixture = useHandlerFixture({ functionName: 'alerts', remainingMs: 30_000, env: { VIGIL_API_TOKEN: apiToken } });
  const context = fixture.context();
  let handler: (event: unknown, context: Context) => Promise<unknown>;

  beforeAll(async () => {
    handler = await fixture.handler('alerts');
  });

  const post = (body: string | undefined, headers: Record<string, string> = { authorization: `Bearer ${apiToken}` }) =>
    handler(
      { ...event('alerts.http-test.json'), body, headers: { 'content-type': 'application/json', ...headers } },
      context,
    ) as Promise<{
      statusCode: number;
      body: string;
    }>;

  it('sends a test alert of the chosen severity and says where it is routed', async () => {
    const response = await post('{"severity":"critical","note":"checking the on-call phone"}');
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toMatchObject({
      action: 'sent',
      kind: 'test',
      severity: 'critical',
      routedTo: ['email', 'sms'],
    });
    const [message] = await fixture.delivered();
    expect(message?.subject).toBe('Vigil local TEST: Test alert (critical) requested by local bearer token');
    expect(message?.attributes).toMatchObject({ severity: 'critical', notification: 'test' });
    expect(message?.email).toContain('checking the on-call phone');
  });

  it('limits test alerts per caller to five a minute: the sixth gets 429 with Retry-After, another caller is not held back', async () => {
    const asCaller = (userArn: string) =>
      handler(
        {
          ...event('alerts.http-test.json'),
          body: '{"severity":"info"}',
          headers: { 'content-type': 'application/json' },
          requestContext: { ...event('alerts.http-test.json').requestContext, authorizer: { iam: { userArn } } },
        },
        context,
      ) as Promise<{ statusCode: number; body: string; headers: Record<string, string> }>;
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) statuses.push((await asCaller('arn:aws:iam::1:user/busy')).statusCode);
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    const refused = await asCaller('arn:aws:iam::1:user/busy');
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(refused.body).error).toMatch(/^at most 5 test alerts a minute per caller; retry in \d+ s$/);
    expect((await asCaller('arn:aws:iam::1:user/other')).statusCode).toBe(202);
    expect(await fixture.delivered()).toHaveLength(6);
  });

  it('refuses a request without the token, with 401 and no message sent', async () => {
    const refused = (await post('{"severity":"info"}', {})) as { statusCode: number; headers?: Record<string, string> };
    expect(refused.statusCode).toBe(401);
    expect(refused.headers?.['WWW-Authenticate']).toBe('Bearer');
    expect((await post('{"severity":"info"}', { authorization: 'Bearer wrong-token-wrong-token' })).statusCode).toBe(401);
    expect(await fixture.delivered()).toEqual([]);
  });

  it('answers a bad body with 400 naming the field', async () => {
    const wrongSeverity = await post('{"severity":"urgent"}');
    expect(wrongSeverity.statusCode).toBe(400);
    expect(JSON.parse(wrongSeverity.body).problems).toEqual([
      { field: 'severity', message: 'must be one of critical, major, minor, info' },
    ]);
    const extra = await post('{"severity":"minor","sevrity":"x"}');
    expect(extra.statusCode).toBe(400);
    expect(JSON.parse(extra.body).error).toContain('sevrity');
    const notJson = await post('{severity');
    expect(notJson.statusCode).toBe(400);
    expect(JSON.parse(notJson.body).error).toMatch(/^body is not JSON/);
    const missing = await post(undefined);
    expect(JSON.parse(missing.body).problems[0].field).toBe('severity');
    expect(await fixture.delivered()).toEqual([]);
  });

  it('turns an alarm going to ALARM and back into an alert and its resolution', async () => {
    expect(await handler(event('alerts.alarm.json'), context)).toMatchObject({
      alarm: 'vigil-local-probe-errors',
      outcomes: [{ action: 'sent', kind: 'firing' }],
    });
    expect(await handler(event('alerts.alarm-ok.json'), context)).toMatchObject({
      outcomes: [{ action: 'sent', kind: 'resolved' }],
    });
    const [firing, resolved] = await fixture.delivered();
    expect(firing?.subject).toBe('Vigil local MAJOR: The probe function failed (an exception or a timeout)');
    expect(firing?.email).toContain(
      'Function errors 3 (at or over 1); sum over 1 period(s) of 300 s of vigil-local-probe, 3 samples',
    );
    // The condition began when CloudWatch moved the alarm, and the SMS says what failed, not the metric.
    expect(firing?.email).toContain('Since: 2026-11-22T02:36Z');
    expect(firing?.sms).toMatch(
      /^VIGIL> MAJOR local: The probe function failed .*since 02:36Z \[alarm:vigil-local-probe-errors\]/,
    );
    expect(resolved?.subject).toBe('Vigil local RESOLVED: Alarm vigil-local-probe-errors is back to OK');
    expect(resolved?.email).toContain('Back to OK at 2026-11-22T02:51Z');
  });

  it('fails the invocation on an event it does not understand, so it is not lost silently', async () => {
    await expect(handler({ source: 'aws.ec2' }, context)).rejects.toThrow(/not a CloudWatch Alarm State Change event/);
  });
});
