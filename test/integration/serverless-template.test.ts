import { beforeAll, describe, expect, it } from 'vitest';
import routing from '../../lib/alerts/routing.json';
import { type CloudFormationTemplate, packageTemplate, resourcesOfType } from '../support/template';

describe('serverless template', () => {
  let template: CloudFormationTemplate;

  beforeAll(async () => {
    template = await packageTemplate({
      stage: 'test',
      params: {
        alertEmails: 'ops@example.org, oncall@example.org',
        alertPhoneNumbers: '+4915112345678',
        pgToolsLayerArn: 'arn:aws:lambda:eu-west-1:123456789012:layer:pg-tools-15:3',
      },
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
    expect(schedules).toEqual([
      'cron(0 2 * * ? *)',
      'cron(0 4 ? * SUN *)',
      'cron(30 3 * * ? *)',
      'rate(15 minutes)',
      'rate(5 minutes)',
      'rate(5 minutes)',
    ]);
  });

  it('backs up daily at 02:00 UTC, restore-checks weekly when enabled, with pg_dump from the layer', () => {
    const backup = resourcesOfType(template, 'AWS::Lambda::Function').find(([name]) => name === 'BackupLambdaFunction')?.[1];
    expect(backup?.Properties).toMatchObject({ Timeout: 900 });
    expect(backup?.Properties.Layers).toEqual([
      { 'Fn::If': ['HasPgToolsLayer', 'arn:aws:lambda:eu-west-1:123456789012:layer:pg-tools-15:3', { Ref: 'AWS::NoValue' }] },
    ]);
    expect(
      ((backup as NonNullable<typeof backup>).Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    ).toMatchObject({
      BACKUP_BUCKET: 'vigil-test-backups',
      PG_DUMP_PATH: '/opt/bin/pg_dump',
      PG_RESTORE_PATH: '/opt/bin/pg_restore',
    });
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(([name]) => name.startsWith('BackupEventsRuleSchedule'));
    const verify = rules.find(([, rule]) => rule.Properties.ScheduleExpression === 'cron(0 4 ? * SUN *)')?.[1];
    expect(verify?.Properties.State).toBe('DISABLED');
    expect(
      JSON.parse(((verify as NonNullable<typeof verify>).Properties.Targets as Array<{ Input: string }>)[0]?.Input ?? '{}'),
    ).toEqual({
      action: 'verify-restore',
    });
  });

  it('keeps backups in a versioned, encrypted, private, TLS-only bucket whose lifecycle matches the retention', () => {
    const bucket = resourcesOfType(template, 'AWS::S3::Bucket').find(([name]) => name === 'BackupBucket')?.[1];
    expect(bucket?.DeletionPolicy).toBe('Retain');
    expect(bucket?.Properties).toMatchObject({
      BucketName: 'vigil-test-backups',
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const rules = (
      (bucket as NonNullable<typeof bucket>).Properties.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }
    ).Rules;
    expect(rules).toContainEqual(expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }));
    // No rule expires current backups by age: only retention, from the manifests, does.
    for (const rule of rules) expect(rule).not.toHaveProperty('ExpirationInDays');
    const policy = resourcesOfType(template, 'AWS::S3::BucketPolicy').find(([name]) => name === 'BackupBucketPolicy')?.[1]
      .Properties.PolicyDocument as {
      Statement: Array<Record<string, unknown>>;
    };
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('alarms when no backup succeeded in 26 hours, counting a missing run as a breach', () => {
    const alarm = resourcesOfType(template, 'AWS::CloudWatch::Alarm').find(([name]) => name === 'BackupFreshnessAlarm')?.[1];
    expect(alarm?.Properties).toMatchObject({
      AlarmName: 'vigil-test-backup-freshness',
      Namespace: 'Vigil',
      MetricName: 'BackupSucceeded',
      Dimensions: [{ Name: 'service', Value: 'vigil' }],
      Statistic: 'Sum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
    const properties = alarm?.Properties as { Period: number; EvaluationPeriods: number; DatapointsToAlarm: number };
    expect(properties.Period * properties.EvaluationPeriods).toBe(26 * 3600);
    expect(properties.DatapointsToAlarm).toBe(properties.EvaluationPeriods);
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
    const s3 = statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('s3:')));
    // Fn::Sub's own placeholder, spelt out of a string literal's reach.
    const partition = ['$', '{AWS::Partition}'].join('');
    expect(s3.map((statement) => statement.Resource)).toEqual([
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups/backups/*` },
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups` },
    ]);
  });

  it('refuses a malformed subscription parameter at package time', async () => {
    await expect(packageTemplate({ stage: 'test', params: { alertPhoneNumbers: '015112345678' } })).rejects.toThrow(
      /not an E\.164 number/,
    );
  }, 240_000);
});
