import { beforeAll, describe, expect, it } from 'vitest';
import routing from '../../lib/alerts/routing.json';
import { type CloudFormationTemplate, packageTemplate, resourcesOfType } from '../support/template';

describe('serverless template', () => {
  let template: CloudFormationTemplate;

  beforeAll(async () => {
    template = await packageTemplate({
      stage: 'test',
      params: { alertEmails: 'ops@example.org, oncall@example.org', alertPhoneNumbers: '+4915112345678' },
    });
  }, 240_000);

  it('deploys every function to Node.js 22 on arm64 with tracing and bounded log retention', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    }
    for (const [, logGroup] of resourcesOfType(template, 'AWS::Logs::LogGroup')) {
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
  });

  it('keeps secrets out of the template: the database comes from Secrets Manager', () => {
    const text = JSON.stringify(template);
    expect(text).not.toMatch(/postgres(ql)?:\/\//);
    expect(text).not.toContain('DATABASE_URL');
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.DATABASE_SECRET_ID).toBe(
        'vigil/test/database',
      );
    }
  });

  it('has one alert topic with the SMS display name the message sizing assumes', () => {
    const topics = resourcesOfType(template, 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    expect(topics[0]?.[1].Properties).toMatchObject({ TopicName: 'vigil-test-alerts', DisplayName: 'VIGIL' });
  });

  it('subscribes each email and phone number with the severity filter policy of lib/alerts/routing.json', () => {
    const subscriptions = resourcesOfType(template, 'AWS::SNS::Subscription').map(([, resource]) => resource.Properties);
    expect(subscriptions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Protocol: 'email',
          Endpoint: 'ops@example.org',
          FilterPolicy: routing.email,
          FilterPolicyScope: 'MessageAttributes',
        }),
        expect.objectContaining({ Protocol: 'email', Endpoint: 'oncall@example.org', FilterPolicy: routing.email }),
        expect.objectContaining({ Protocol: 'sms', Endpoint: '+4915112345678', FilterPolicy: routing.sms }),
      ]),
    );
    expect(subscriptions).toHaveLength(3);
  });

  it("routes Vigil's own alarm state changes to the alerts function, and only those", () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(([, rule]) => rule.Properties.EventPattern);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.[1].Properties.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: 'vigil-test-' }] },
    });
  });

  it('schedules the checks as serverless.yml says', () => {
    const schedules = resourcesOfType(template, 'AWS::Events::Rule')
      .map(([, rule]) => rule.Properties.ScheduleExpression)
      .filter(Boolean)
      .sort();
    expect(schedules).toEqual(['cron(30 3 * * ? *)', 'rate(15 minutes)', 'rate(5 minutes)', 'rate(5 minutes)']);
  });

  it('authenticates every HTTP route with IAM', () => {
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
    expect(routes.length).toBeGreaterThan(0);
    for (const [, route] of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    expect(routes.map(([, route]) => route.Properties.RouteKey).sort()).toEqual([
      'GET /rollback/decision',
      'POST /alerts/test',
      'POST /rollback/decision',
    ]);
  });

  it('grants no wildcard action and publishes only to the alert topic', () => {
    const statements = resourcesOfType(template, 'AWS::IAM::Role').flatMap(([, role]) =>
      (
        role.Properties.Policies as Array<{
          PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
        }>
      ).flatMap((policy) => policy.PolicyDocument.Statement),
    );
    for (const statement of statements) {
      for (const action of [statement.Action].flat()) expect(action).not.toMatch(/\*$/);
    }
    const publish = statements.filter((statement) => [statement.Action].flat().includes('sns:Publish'));
    expect(publish).toEqual([{ Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertTopic' } }]);
  });

  it('refuses a malformed subscription parameter at package time', async () => {
    await expect(packageTemplate({ stage: 'test', params: { alertPhoneNumbers: '015112345678' } })).rejects.toThrow(
      /not an E\.164 number/,
    );
  }, 240_000);
});
