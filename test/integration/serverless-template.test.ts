import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAlarmDescription } from '../../functions/alerts/alarm';
import { signalNames } from '../../functions/rollback-decision/matrix';
import routing from '../../lib/alerts/routing.json' with { type: 'json' };
import { labelOf } from '../../lib/labels';
import { projectRoot } from '../../local/paths';
import { serverlessTmpDir, stagingLeftovers } from '../../local/sls';
import {
  account,
  actionsOf,
  type CloudFormationTemplate,
  emittedMetricNames,
  packageTemplate,
  partition,
  region,
  resourcesOfType,
  statementsOf,
} from '../support/template';

/** What a deployed stage must be given before it packages at all (deploy/preflight.cjs). */
const layerArn = 'arn:aws:lambda:eu-west-1:123456789012:layer:pg-tools-15:3';
const deployable = { databasePublic: 'true', pgToolsLayerArn: layerArn, alertEmails: 'ops@example.org' };

describe('serverless template', () => {
  let template: CloudFormationTemplate;
  let stagedInSystemTmp: string[];

  beforeAll(async () => {
    const before = new Set(stagingLeftovers(tmpdir()));
    template = await packageTemplate({
      stage: 'test',
      params: {
        ...deployable,
        alertEmails: 'ops@example.org, oncall@example.org',
        alertPhoneNumbers: '+4915112345678',
        backupRestorePrincipalArns: 'arn:aws:iam::123456789012:role/vigil-restore-operator',
        reservedConcurrency: 'recommended',
      },
    });
    stagedInSystemTmp = stagingLeftovers(tmpdir()).filter((name) => !before.has(name));
  }, 240_000);

  it("leaves none of serverless-esbuild's zip staging folders behind, in the system's temporary folder or its own", () => {
    expect(stagedInSystemTmp).toEqual([]);
    expect(stagingLeftovers(serverlessTmpDir)).toEqual([]);
  });

  it('deploys every function to the runtime of deploy/runtime.json on arm64 with tracing and bounded log retention', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    }
    for (const [, logGroup] of resourcesOfType(template, 'AWS::Logs::LogGroup')) {
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
  });

  it('keeps secrets out of the template: each function logs in with its own secret, which only its role may read', () => {
    const text = JSON.stringify(template);
    expect(text).not.toMatch(/postgres(ql)?:\/\//);
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(7);
    const secretGrants = new Set<string>();
    for (const [logicalId, fn] of functions) {
      // A URL variable would carry the password; only references (secret ids, parameter names) may appear.
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(variables).filter((variable) => variable.endsWith('DATABASE_URL'))).toEqual([]);
      const name = logicalId.replace(/LambdaFunction$/, '');
      const own = `vigil/test/database/${name.charAt(0).toLowerCase()}${name.slice(1)}`;
      expect(variables.DATABASE_SECRET_ID).toBe(own);
      const granted = statementsOf(template, `${name}Role`)
        .filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
        .map((statement) => JSON.stringify(statement.Resource));
      expect(granted).toEqual([
        JSON.stringify({ 'Fn::Sub': `arn:${partition}:secretsmanager:${region}:${account}:secret:${own}-??????` }),
      ]);
      secretGrants.add(granted[0] as string);
    }
    expect(secretGrants.size).toBe(7);
  });

  it('has one alert topic with the SMS display name the message sizing assumes, and a fallback topic CloudWatch can publish to', () => {
    const topics = Object.fromEntries(resourcesOfType(template, 'AWS::SNS::Topic'));
    expect(Object.keys(topics).sort()).toEqual(['AlertTopic', 'FallbackAlertTopic']);
    expect(topics.AlertTopic?.Properties).toMatchObject({ TopicName: 'vigil-test-alerts', DisplayName: 'VIGIL' });
    // CloudWatch alarm actions cannot use a topic under the AWS-managed SNS key.
    expect(topics.FallbackAlertTopic?.Properties.KmsMasterKeyId).toBeUndefined();
  });

  it('subscribes each email and phone number with the severity filter policy of lib/alerts/routing.json', () => {
    const subscriptions = resourcesOfType(template, 'AWS::SNS::Subscription')
      .map(([, resource]) => resource.Properties)
      .filter((subscription) => (subscription.TopicArn as { Ref: string }).Ref === 'AlertTopic');
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
      'cron(0 6 * * ? *)',
      'cron(30 3 * * ? *)',
      'cron(30 6 ? * MON *)',
      'rate(15 minutes)',
      'rate(5 minutes)',
      'rate(5 minutes)',
    ]);
  });

  it('reports daily and weekly, the weekly run keeping the scheduled event (its time is the slot) and saying its period', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(([name]) => name.startsWith('ReportEventsRuleSchedule'));
    type Target = { InputTransformer?: { InputPathsMap: object; InputTemplate: string } };
    const targetOf = (expression: string) =>
      (
        rules.find(([, rule]) => rule.Properties.ScheduleExpression === expression)?.[1].Properties.Targets as
          | Target[]
          | undefined
      )?.[0];
    const target = targetOf('cron(30 6 ? * MON *)');
    expect(target?.InputTransformer?.InputPathsMap).toEqual({ eventId: '$.id', time: '$.time' });
    const event = JSON.parse(
      target?.InputTransformer?.InputTemplate.replace('<eventId>', '"e-1"').replace('<time>', '"2026-11-23T06:30:00Z"') ?? '{}',
    );
    expect(event).toMatchObject({
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      time: '2026-11-23T06:30:00Z',
      detail: { period: 'week' },
    });
    expect(targetOf('cron(0 6 * * ? *)')).toBeDefined();
    expect(targetOf('cron(0 6 * * ? *)')?.InputTransformer).toBeUndefined();
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
      // The bucket the stack creates, by reference: the function is created after it.
      BACKUP_BUCKET: { Ref: 'BackupBucket' },
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

  it('keeps backups in a versioned, KMS-encrypted, private, TLS-only bucket whose lifecycle matches the retention', () => {
    const bucket = resourcesOfType(template, 'AWS::S3::Bucket').find(([name]) => name === 'BackupBucket')?.[1];
    expect(bucket?.DeletionPolicy).toBe('Retain');
    expect(bucket?.Properties).toMatchObject({
      // Globally unique without anyone choosing, and packaged without credentials.
      BucketName: { 'Fn::Sub': `vigil-test-backups-${account}-${region}` },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['BackupKey', 'Arn'] } },
            BucketKeyEnabled: true,
          },
        ],
      },
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

  it('encrypts backups with a key of its own that only the backup function and the restore principals may use', () => {
    const key = template.Resources.BackupKey as NonNullable<(typeof template.Resources)[string]>;
    expect(key.Properties).toMatchObject({ EnableKeyRotation: true });
    expect(key.DeletionPolicy).toBe('Retain');
    const statements = (key.Properties.KeyPolicy as { Statement: Array<Record<string, unknown>> }).Statement;
    const backupRole = { 'Fn::Sub': `arn:${partition}:iam::${account}:role/vigil-test-backup-eu-west-1` };
    // The account administers the key but cannot decrypt with it: no kms:Decrypt or kms:* for root.
    const root = statements.find((statement) => statement.Sid === 'AccountAdministersTheKey');
    expect(root?.Action).not.toContain('kms:Decrypt');
    expect(root?.Action).not.toContain('kms:*');
    const users = statements.filter((statement) => [statement.Action].flat().includes('kms:Decrypt'));
    expect(users.map((statement) => statement.Principal)).toEqual([
      { AWS: backupRole },
      { AWS: ['arn:aws:iam::123456789012:role/vigil-restore-operator'] },
    ]);
    const backup = template.Resources.BackupLambdaFunction as NonNullable<(typeof template.Resources)[string]>;
    expect((backup.Properties.Environment as { Variables: Record<string, unknown> }).Variables.BACKUP_KMS_KEY_ID).toEqual({
      'Fn::GetAtt': ['BackupKey', 'Arn'],
    });
    // And whatever S3 rights a principal has, only those two may read a dump.
    const policy = template.Resources.BackupBucketPolicy?.Properties.PolicyDocument as {
      Statement: Array<Record<string, unknown>>;
    };
    expect(policy.Statement).toContainEqual({
      Sid: 'DumpsReadOnlyByBackupAndRestore',
      Effect: 'Deny',
      Principal: '*',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups-${account}-${region}/backups/*` },
      Condition: { ArnNotLike: { 'aws:PrincipalArn': [backupRole, 'arn:aws:iam::123456789012:role/vigil-restore-operator'] } },
    });
  });

  it('uses an existing bucket by the name given (the one npm run remove kept) without creating one', async () => {
    const existing = await packageTemplate({
      stage: 'test',
      params: { ...deployable, backupBucketName: 'vigil-test-backups', backupBucketExists: 'true' },
    });
    expect(resourcesOfType(existing, 'AWS::S3::Bucket').map(([name]) => name)).toEqual(['ServerlessDeploymentBucket']);
    const backupFunction = existing.Resources.BackupLambdaFunction as NonNullable<(typeof existing.Resources)[string]>;
    const variables = (backupFunction.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.BACKUP_BUCKET).toBe('vigil-test-backups');
    expect(existing.Outputs?.BackupBucketName).toMatchObject({ Value: 'vigil-test-backups' });
    // Its policy and the role's rights are made as for a bucket the stack creates.
    expect(existing.Resources.BackupBucketPolicy?.Properties.Bucket).toBe('vigil-test-backups');
    const s3 = statementsOf(existing, 'BackupRole').filter((statement) => actionsOf(statement).some((a) => a.startsWith('s3:')));
    expect(s3.map((statement) => statement.Resource)).toEqual([
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups/backups/*` },
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups` },
    ]);
    await expect(packageTemplate({ stage: 'test', params: { ...deployable, backupBucketExists: 'yes' } })).rejects.toThrow(
      /backupBucketExists: "yes" must be true or false/,
    );
  }, 240_000);

  it('reserves the recommended concurrency for every function when asked, throttles the HTTP API and logs every request', () => {
    const reserved = Object.fromEntries(
      resourcesOfType(template, 'AWS::Lambda::Function').map(([name, fn]) => [name, fn.Properties.ReservedConcurrentExecutions]),
    );
    expect(reserved).toEqual({
      AlertsLambdaFunction: 5,
      ProbeLambdaFunction: 1,
      CacheEfficiencyLambdaFunction: 1,
      RollbackDecisionLambdaFunction: 5,
      PartitionMaintenanceLambdaFunction: 1,
      BackupLambdaFunction: 1,
      ReportLambdaFunction: 2,
    });
    expect(template.Resources.HttpApiStage?.Properties).toMatchObject({
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] } },
    });
    expect(template.Resources.HttpApiLogGroup?.Properties.RetentionInDays).toBe(30);
  });

  it('offers Object Lock and replication elsewhere as parameters, and refuses their malformed values', async () => {
    const locked = await packageTemplate({
      stage: 'test',
      params: {
        ...deployable,
        backupKmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/0b5e8f6c-1111-4222-8333-444455556666',
        // The name a stage deployed before the derived default keeps (docs/deploying.md, "Upgrading a stage").
        backupBucketName: 'vigil-test-backups',
        backupObjectLockMode: 'COMPLIANCE',
        backupObjectLockDays: '35',
        backupReplicationBucketArn: 'arn:aws:s3:::vigil-test-backups-replica',
        backupReplicationAccountId: '210987654321',
        backupReplicationKmsKeyArn: 'arn:aws:kms:eu-central-1:210987654321:key/0b5e8f6c-aaaa-4bbb-8ccc-ddddeeeeffff',
        // reservedConcurrency left to its default: nothing reserved, as a new account needs.
      },
    });
    const bucket = locked.Resources.BackupBucket?.Properties as Record<string, unknown>;
    expect(bucket).toMatchObject({
      BucketName: 'vigil-test-backups',
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 35 } } },
      ReplicationConfiguration: {
        Role: { 'Fn::GetAtt': ['BackupReplicationRole', 'Arn'] },
        Rules: [
          expect.objectContaining({
            Filter: { Prefix: 'backups/' },
            Destination: expect.objectContaining({ Bucket: 'arn:aws:s3:::vigil-test-backups-replica', Account: '210987654321' }),
          }),
        ],
      },
    });
    // A key given: no key created, the role granted that key.
    expect(locked.Resources.BackupKey).toBeUndefined();
    expect(statementsOf(locked, 'BackupRole').find((statement) => actionsOf(statement).includes('kms:Decrypt'))?.Resource).toBe(
      'arn:aws:kms:eu-west-1:123456789012:key/0b5e8f6c-1111-4222-8333-444455556666',
    );
    for (const [, fn] of resourcesOfType(locked, 'AWS::Lambda::Function'))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    // And the backup's memory within a new account's Lambda quota (3008 MB).
    expect(Number(locked.Resources.BackupLambdaFunction?.Properties.MemorySize)).toBe(3008);
    await expect(
      packageTemplate({
        stage: 'test',
        params: { ...deployable, backupObjectLockMode: 'FOREVER', backupRestorePrincipalArns: 'ops-team' },
      }),
    ).rejects.toThrow(
      /backupRestorePrincipalArns: "ops-team" is not an IAM role or user ARN; backupObjectLockMode: must be GOVERNANCE, COMPLIANCE or empty/,
    );
  }, 480_000);

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

  it('alarms, by email, before SMS paging stops at the spend limit and when SNS cannot deliver an alert', () => {
    const alarms = Object.fromEntries(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms.SmsSpendAlarm?.Properties).toMatchObject({
      AlarmName: 'vigil-test-sms-spend',
      Namespace: 'AWS/SNS',
      MetricName: 'SMSMonthToDateSpentUSD',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 0.8,
      AlarmDescription: expect.stringMatching(/^major: .*Runbook: #sms-spend$/),
    });
    expect(alarms.AlertDeliveryFailedAlarm?.Properties).toMatchObject({
      AlarmName: 'vigil-test-alert-delivery-failed',
      Namespace: 'AWS/SNS',
      MetricName: 'NumberOfNotificationsFailed',
      Dimensions: [{ Name: 'TopicName', Value: 'vigil-test-alerts' }],
      Statistic: 'Sum',
      Threshold: 1,
      AlarmDescription: expect.stringMatching(/^major: .*Runbook: #alert-delivery-failed$/),
    });
  });

  it('authenticates every HTTP route with IAM', () => {
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
    expect(routes.length).toBeGreaterThan(0);
    for (const [, route] of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    expect(routes.map(([, route]) => route.Properties.RouteKey).sort()).toEqual([
      'GET /report',
      'GET /rollback/decision',
      'POST /alerts/test',
      'POST /rollback/decision',
    ]);
  });

  it('gives each function its own role, and no function the framework default role', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    const roles = functions.map(([, fn]) => (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
    expect(new Set(roles).size).toBe(functions.length);
    for (const [logicalId, fn] of functions) {
      const name = logicalId.replace(/LambdaFunction$/, '');
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [`${name}Role`, 'Arn'] });
      // Logs: the function's own log group only.
      const logs = statementsOf(template, `${name}Role`).filter((statement) =>
        actionsOf(statement).some((a) => a.startsWith('logs:')),
      );
      expect(logs.map((statement) => statement.Resource)).toEqual([
        { 'Fn::Sub': `arn:${partition}:logs:${region}:${account}:log-group:/aws/lambda/${fn.Properties.FunctionName}:*` },
      ]);
    }
  });

  it('grants no wildcard action, and a wildcard resource only to actions AWS cannot narrow', () => {
    const statements = resourcesOfType(template, 'AWS::IAM::Role').flatMap(([name]) => statementsOf(template, name));
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      for (const action of actionsOf(statement)) expect(action).not.toMatch(/\*/);
      if (JSON.stringify(statement.Resource).includes('"*"') || statement.Resource === '*') {
        expect(actionsOf(statement)).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
      }
    }
    // Metrics go out as EMF in the logs: no role calls PutMetricData, so none may.
    expect(statements.flatMap(actionsOf)).not.toContain('cloudwatch:PutMetricData');
    expect(statements.flatMap(actionsOf)).not.toContain('cloudwatch:GetMetricData');
  });

  it('publishes only to the alert topic, reads only its own database secret, and touches S3 only from backup and report', () => {
    for (const [role] of resourcesOfType(template, 'AWS::IAM::Role')) {
      const statements = statementsOf(template, role);
      const publish = statements.filter((statement) => actionsOf(statement).includes('sns:Publish'));
      expect(publish).toEqual([{ Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertTopic' } }]);
      const secrets = statements.filter((statement) =>
        actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
      );
      const name = role.replace(/Role$/, '');
      expect(secrets.map((statement) => statement.Resource)).toEqual([
        {
          'Fn::Sub': `arn:${partition}:secretsmanager:${region}:${account}:secret:vigil/test/database/${name.charAt(0).toLowerCase()}${name.slice(1)}-??????`,
        },
      ]);
      const s3 = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
      if (role !== 'BackupRole' && role !== 'ReportRole') expect(s3, role).toEqual([]);
    }
    // The report lists the backups (reads none of them) and writes and reads its pages only.
    const reportS3 = statementsOf(template, 'ReportRole').filter((statement) =>
      actionsOf(statement).some((a) => a.startsWith('s3:')),
    );
    expect(reportS3).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups-${account}-${region}` },
        Condition: { StringLike: { 's3:prefix': 'backups/*' } },
      },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject'],
        Resource: { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups-${account}-${region}/reports/*` },
      },
    ]);
    expect(JSON.stringify(statementsOf(template, 'ReportRole'))).not.toMatch(/kms:/);
    const s3 = statementsOf(template, 'BackupRole').filter((statement) => actionsOf(statement).some((a) => a.startsWith('s3:')));
    expect(s3.map((statement) => statement.Resource)).toEqual([
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups-${account}-${region}/backups/*` },
      { 'Fn::Sub': `arn:${partition}:s3:::vigil-test-backups-${account}-${region}` },
    ]);
    expect(s3[1]?.Condition).toEqual({ StringLike: { 's3:prefix': 'backups/*' } });
    const ssm = statementsOf(template, 'BackupRole').filter((statement) => actionsOf(statement).includes('ssm:GetParameter'));
    expect(ssm.map((statement) => statement.Resource)).toEqual([
      { 'Fn::Sub': `arn:${partition}:ssm:${region}:${account}:parameter/vigil/test/backup-verify-database-url` },
    ]);
  });

  it('retries every asynchronously invoked function by its policy and keeps what still failed in its own queue', () => {
    const invoked = new Set(
      resourcesOfType(template, 'AWS::Events::Rule').flatMap(([, rule]) =>
        (rule.Properties.Targets as Array<{ Arn: { 'Fn::GetAtt': [string, string] } }>).map(
          (target) => target.Arn['Fn::GetAtt'][0],
        ),
      ),
    );
    // Every function has a schedule or the alarm rule: all seven.
    expect(invoked.size).toBe(resourcesOfType(template, 'AWS::Lambda::Function').length);
    for (const logicalId of invoked) {
      const name = logicalId.replace(/LambdaFunction$/, '');
      const config = template.Resources[`${name}LambdaEvConf`]?.Properties;
      expect(config, name).toMatchObject({
        FunctionName: { Ref: logicalId },
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [`${name}DeadLetterQueue`, 'Arn'] } } },
      });
      expect(config?.MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
      expect(config?.MaximumRetryAttempts).toBeLessThanOrEqual(2);
      expect(config?.MaximumEventAgeInSeconds).toBeGreaterThan(0);
      expect(template.Resources[`${name}DeadLetterQueue`]).toMatchObject({
        Type: 'AWS::SQS::Queue',
        Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
      });
      expect(statementsOf(template, `${name}Role`)).toContainEqual({
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': [`${name}DeadLetterQueue`, 'Arn'] },
      });
    }
  });

  it("alarms on every function's errors and dead letters, through the alerts function or, for alerts itself, the fallback topic", () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const [rule] = resourcesOfType(template, 'AWS::Events::Rule').filter(([, candidate]) => candidate.Properties.EventPattern);
    const routedPrefix = (
      (rule as NonNullable<typeof rule>)[1].Properties.EventPattern as { detail: { alarmName: [{ prefix: string }] } }
    ).detail.alarmName[0].prefix;
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const functionName = fn.Properties.FunctionName as string;
      const errors = alarms.find(
        (alarm) => alarm.MetricName === 'Errors' && JSON.stringify(alarm.Dimensions ?? []).includes(`"${functionName}"`),
      );
      expect(errors, functionName).toMatchObject({
        Namespace: 'AWS/Lambda',
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      const queue = `${functionName}-failed`;
      const deadLetters = alarms.find((alarm) => JSON.stringify(alarm.Dimensions ?? []).includes(`"${queue}"`));
      expect(deadLetters, queue).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible' });
      for (const alarm of [errors, deadLetters]) {
        // The description sets severity and runbook in the alert the operator receives.
        expect(parseAlarmDescription(alarm?.AlarmDescription as string).runbook).toMatch(
          /^alarm-(function-errors|dead-letters)$/,
        );
        if (functionName.endsWith('-alerts')) {
          expect(alarm?.AlarmName).not.toMatch(new RegExp(`^${routedPrefix}`));
          expect(alarm?.AlarmActions).toEqual([{ Ref: 'FallbackAlertTopic' }]);
        } else {
          expect(alarm?.AlarmName).toMatch(new RegExp(`^${routedPrefix}`));
          expect(alarm?.AlarmActions).toBeUndefined();
        }
      }
    }
    // Every alarm names a runbook entry of its own, which docs/runbooks.md must have.
    for (const alarm of alarms)
      expect(parseAlarmDescription(alarm.AlarmDescription as string).runbook).not.toBe('cloudwatch-alarms');
    const fallbackSubscriptions = resourcesOfType(template, 'AWS::SNS::Subscription').filter(
      ([, subscription]) => (subscription.Properties.TopicArn as { Ref: string }).Ref === 'FallbackAlertTopic',
    );
    expect(fallbackSubscriptions.map(([, subscription]) => subscription.Properties.Endpoint).sort()).toEqual([
      'oncall@example.org',
      'ops@example.org',
    ]);
    const policy = template.Resources.FallbackAlertTopicPolicy?.Properties.PolicyDocument as {
      Statement: Array<Record<string, unknown>>;
    };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  });

  it('draws the rollout on a dashboard, from metrics the functions emit', async () => {
    const body = JSON.parse(
      (
        (template.Resources.Dashboard as { Properties: Record<string, unknown> }).Properties.DashboardBody as {
          'Fn::Sub': string;
        }
      )['Fn::Sub'].replaceAll(region, 'eu-west-1'),
    ) as { widgets: Array<{ type: string; properties: { title: string; metrics?: unknown[]; query?: string } }> };
    const titles = body.widgets.map((widget) => widget.properties.title);
    for (const expected of [
      /load time, old vs new/i,
      /API calls/,
      /cache hit ratio per window/i,
      /error rate/i,
      /backup: age/i,
      /backup size/i,
      /partitions ready ahead per table/i,
      /rollback decision/i,
    ]) {
      expect(
        titles.some((title) => expected.test(title)),
        String(expected),
      ).toBe(true);
    }
    const text = JSON.stringify(body);
    const drawn = new Set([
      ...[...text.matchAll(/MetricName=\\"(\w+)\\"/g)].map((match) => match[1]),
      ...body.widgets.flatMap((widget) =>
        (widget.properties.metrics ?? [])
          .filter((metric): metric is string[] => Array.isArray(metric) && metric[0] === 'Vigil')
          .map((metric) => metric[1]),
      ),
    ]);
    expect(drawn.size).toBeGreaterThanOrEqual(8);
    const emitted = await emittedMetricNames();
    for (const name of drawn) expect(emitted, `dashboard draws ${name}, which no function emits`).toContain(name);
  });

  it('has words in the label catalogue for every metric the code emits or an alarm watches, and every rollback signal', async () => {
    const named = [
      ...(await emittedMetricNames()),
      ...resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties.MetricName as string),
      ...signalNames,
    ];
    expect(named.length).toBeGreaterThan(20);
    for (const name of named) expect(labelOf(name), `lib/labels.json has no entry for ${name}`).toBeDefined();
  });

  it('has sample alarm events that agree with the alarms of the template: description and metric', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const samples = readdirSync(join(projectRoot, 'events')).filter(
      (file) => file.startsWith('alerts.') && file !== 'alerts.http-test.json',
    );
    expect(samples.length).toBeGreaterThanOrEqual(3);
    for (const file of samples) {
      const { detail } = JSON.parse(readFileSync(join(projectRoot, 'events', file), 'utf8'));
      // The samples are of stage local, the template of stage test.
      const alarm = alarms.find((candidate) => candidate.AlarmName === detail.alarmName.replace(/^vigil-local-/, 'vigil-test-'));
      expect(alarm, `${file}: no alarm ${detail.alarmName} in the template`).toBeDefined();
      const local = (text: string) => text.replaceAll('vigil-test-', 'vigil-local-');
      expect(detail.configuration.description, file).toBe(local(alarm?.AlarmDescription as string));
      const { metric, period, stat } = detail.configuration.metrics[0].metricStat;
      expect({ namespace: metric.namespace, name: metric.name, period, stat }, file).toEqual({
        namespace: alarm?.Namespace,
        name: alarm?.MetricName,
        period: alarm?.Period,
        stat: alarm?.Statistic,
      });
      const dimensions = Object.fromEntries(
        ((alarm?.Dimensions ?? []) as Array<{ Name: string; Value: string }>).map((dimension) => [
          dimension.Name,
          local(dimension.Value),
        ]),
      );
      expect(metric.dimensions, file).toEqual(dimensions);
    }
  });

  it('runs the backup as a Fargate task when backupRunner is fargate: arm64, the backup role, its logs, schedules in the private subnets', async () => {
    // The default: the backup is the Lambda's, on its schedule, and no task exists.
    expect(Object.keys(template.Resources).filter((name) => name.startsWith('BackupTask'))).toEqual([]);
    const lambdaRules = resourcesOfType(template, 'AWS::Events::Rule').filter(([name]) => name.startsWith('BackupEventsRule'));
    expect(lambdaRules.map(([, rule]) => rule.Properties.State)).toEqual(['ENABLED', 'DISABLED']);

    const image = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/vigil-backup:1.4.0';
    const fargate = await packageTemplate({
      stage: 'test',
      params: {
        ...deployable,
        backupRunner: 'fargate',
        backupTaskImage: image,
        backupVerifyEnabled: 'true',
        vpcSecurityGroupIds: 'sg-0123456789abcdef0',
        vpcSubnetIds: 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
      },
    });
    const resources = fargate.Resources;
    const task = resources.BackupTaskDefinition?.Properties as Record<string, unknown> & {
      ContainerDefinitions: Array<{
        Image: string;
        Command: string[];
        Environment: Array<{ Name: string; Value: unknown }>;
        LogConfiguration: { Options: Record<string, unknown> };
      }>;
    };
    expect(task).toMatchObject({
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      TaskRoleArn: { 'Fn::GetAtt': ['BackupRole', 'Arn'] },
      ExecutionRoleArn: { 'Fn::GetAtt': ['BackupTaskExecutionRole', 'Arn'] },
    });
    const [container] = task.ContainerDefinitions;
    expect(container?.Image).toBe(image);
    expect(container?.Command).toEqual(['node', '/app/task.js']);
    expect(container?.LogConfiguration.Options['awslogs-group']).toBe('/vigil/test/backup-task');
    expect(resources.BackupTaskLogGroup?.Properties).toMatchObject({
      LogGroupName: '/vigil/test/backup-task',
      RetentionInDays: 30,
    });
    // The backup function's environment, the image's pg tools, every value a string.
    const environment = Object.fromEntries((container?.Environment ?? []).map((entry) => [entry.Name, entry.Value]));
    const lambdaEnvironment = (
      resources.BackupLambdaFunction!.Properties as { Environment: { Variables: Record<string, unknown> } }
    ).Environment.Variables;
    for (const name of [
      'DATABASE_SECRET_ID',
      'BACKUP_BUCKET',
      'BACKUP_PREFIX',
      'BACKUP_KMS_KEY_ID',
      'VIGIL_ALERT_TOPIC_ARN',
      'DATABASE_SSL_MODE',
    ])
      expect(environment[name], name).toEqual(lambdaEnvironment[name]);
    expect(environment).toMatchObject({
      PG_DUMP_PATH: '/usr/lib/postgresql/17/bin/pg_dump',
      PG_RESTORE_PATH: '/usr/lib/postgresql/17/bin/pg_restore',
      BACKUP_KEEP_DAILY: '7',
      AWS_REGION: { Ref: 'AWS::Region' },
    });
    // Its role is the backup's: the same rights, trusted by ECS tasks, plus PutMetricData in Vigil only.
    const trust = (
      resources.BackupRole!.Properties.AssumeRolePolicyDocument as { Statement: Array<{ Principal: { Service: string[] } }> }
    ).Statement[0]?.Principal.Service;
    expect(trust).toEqual(['lambda.amazonaws.com', 'ecs-tasks.amazonaws.com']);
    const putMetric = statementsOf(fargate, 'BackupRole').find((entry) => actionsOf(entry).includes('cloudwatch:PutMetricData'));
    expect(putMetric?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Vigil' } });
    expect(statementsOf(template, 'BackupRole').some((entry) => actionsOf(entry).includes('cloudwatch:PutMetricData'))).toBe(
      false,
    );
    // The execution role pulls that one repository and writes that one log group.
    const execution = statementsOf(fargate, 'BackupTaskExecutionRole');
    expect(execution.flatMap(actionsOf).sort()).toEqual(
      [
        'ecr:BatchGetImage',
        'ecr:GetAuthorizationToken',
        'ecr:GetDownloadUrlForLayer',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ].sort(),
    );
    expect(JSON.stringify(execution)).toContain(':repository/vigil-backup');
    // The schedules run the task in the private subnets, without a public address; the Lambda's are off.
    const rule = resources.BackupTaskSchedule?.Properties as {
      ScheduleExpression: string;
      Targets: Array<{ EcsParameters: Record<string, unknown>; Input: string }>;
    };
    expect(rule.ScheduleExpression).toBe('cron(0 2 * * ? *)');
    expect(rule.Targets[0]?.EcsParameters).toMatchObject({
      LaunchType: 'FARGATE',
      TaskDefinitionArn: { Ref: 'BackupTaskDefinition' },
      NetworkConfiguration: {
        AwsVpcConfiguration: {
          Subnets: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
          SecurityGroups: ['sg-0123456789abcdef0'],
          AssignPublicIp: 'DISABLED',
        },
      },
    });
    expect(
      JSON.parse(
        resources.BackupTaskVerifySchedule?.Properties.Targets
          ? ((resources.BackupTaskVerifySchedule.Properties.Targets as Array<{ Input: string }>)[0]?.Input ?? '{}')
          : '{}',
      ),
    ).toEqual({
      containerOverrides: [{ name: 'backup', command: ['node', '/app/task.js', 'verify-restore'] }],
    });
    expect(resources.BackupTaskVerifySchedule?.Properties.State).toBe('ENABLED');
    const scheduleRole = statementsOf(fargate, 'BackupTaskScheduleRole');
    expect(scheduleRole.flatMap(actionsOf).sort()).toEqual(['ecs:RunTask', 'iam:PassRole']);
    const offRules = resourcesOfType(fargate, 'AWS::Events::Rule').filter(([name]) => name.startsWith('BackupEventsRule'));
    expect(offRules.map(([, entry]) => entry.Properties.State)).toEqual(['DISABLED', 'DISABLED']);
  }, 240_000);

  it('refuses a Fargate backup without its image or its subnets, and a runner it does not know', async () => {
    await expect(packageTemplate({ stage: 'test', params: { ...deployable, backupRunner: 'fargate' } })).rejects.toThrow(
      /backupTaskImage: the backup image in ECR.*vpcSubnetIds and vpcSecurityGroupIds: the private subnets/s,
    );
    await expect(packageTemplate({ stage: 'test', params: { ...deployable, backupRunner: 'ec2' } })).rejects.toThrow(
      /backupRunner: "ec2" must be lambda or fargate/,
    );
  }, 240_000);

  it('places every function in the VPC when asked, with the network-interface rights Lambda needs', async () => {
    const inVpc = await packageTemplate({
      stage: 'test',
      params: {
        alertEmails: 'ops@example.org',
        pgToolsLayerArn: layerArn,
        vpcSecurityGroupIds: 'sg-0123456789abcdef0',
        vpcSubnetIds: 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
      },
    });
    for (const [name, fn] of resourcesOfType(inVpc, 'AWS::Lambda::Function')) {
      expect(fn.Properties.VpcConfig, name).toEqual({
        SecurityGroupIds: ['sg-0123456789abcdef0'],
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      });
      expect(statementsOf(inVpc, name.replace(/LambdaFunction$/, 'Role')).flatMap(actionsOf)).toContain(
        'ec2:CreateNetworkInterface',
      );
    }
    // Without the parameters, no VPC and no EC2 rights.
    for (const [name, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(statementsOf(template, name.replace(/LambdaFunction$/, 'Role')).flatMap(actionsOf)).not.toContain(
        'ec2:CreateNetworkInterface',
      );
    }
    await expect(
      packageTemplate({
        stage: 'test',
        params: { pgToolsLayerArn: layerArn, vpcSubnetIds: 'subnet-0123456789abcdef0', alertEmails: 'ops@example.org' },
      }),
    ).rejects.toThrow(/give both or neither/);
  }, 480_000);

  it('grants the probe exactly the token references of its targets, and the rollback decision CloudWatch only when it reads it', async () => {
    const configured = await packageTemplate({
      stage: 'test',
      params: {
        ...deployable,
        probeTargets: JSON.stringify([
          { name: 'api', url: 'https://app.example.org/api/health', tokenSsmParameter: '/vigil/test/probe-token' },
          { name: 'admin', url: 'https://app.example.org/admin', tokenSecretId: 'vigil/test/admin-token' },
        ]),
        rollbackRequestsSource: 'cloudwatch',
        rollbackCloudWatchQueries: JSON.stringify({
          requests: {
            namespace: 'AWS/ApplicationELB',
            metricName: 'RequestCount',
            dimensions: { LoadBalancer: 'app/portfolio/0123' },
            stat: 'Sum',
          },
          errors: {
            namespace: 'AWS/ApplicationELB',
            metricName: 'HTTPCode_Target_5XX_Count',
            dimensions: { LoadBalancer: 'app/portfolio/0123' },
            stat: 'Sum',
          },
          latencyAverage: {
            namespace: 'AWS/ApplicationELB',
            metricName: 'TargetResponseTime',
            dimensions: { LoadBalancer: 'app/portfolio/0123' },
            stat: 'Average',
          },
          latencyUnit: 'Seconds',
        }),
      },
    });
    const probe = statementsOf(configured, 'ProbeRole');
    expect(probe.filter((statement) => actionsOf(statement).includes('ssm:GetParameter')).map((s) => s.Resource)).toEqual([
      [{ 'Fn::Sub': `arn:${partition}:ssm:${region}:${account}:parameter/vigil/test/probe-token` }],
    ]);
    expect(
      probe.filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue')).map((s) => s.Resource),
    ).toContainEqual([
      { 'Fn::Sub': `arn:${partition}:secretsmanager:${region}:${account}:secret:vigil/test/admin-token-??????` },
    ]);
    expect(statementsOf(configured, 'RollbackDecisionRole').flatMap(actionsOf)).toContain('cloudwatch:GetMetricData');
    expect(statementsOf(configured, 'ProbeRole').flatMap(actionsOf)).not.toContain('cloudwatch:GetMetricData');
  }, 240_000);

  it('refuses a malformed subscription parameter at package time', async () => {
    await expect(
      packageTemplate({ stage: 'test', params: { ...deployable, alertPhoneNumbers: '015112345678' } }),
    ).rejects.toThrow(/not an E\.164 number/);
  }, 240_000);

  it('gives every function a statement timeout below its Lambda timeout, and the RDS CA bundle unless another CA is named', () => {
    for (const [name, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(Number(variables.DATABASE_STATEMENT_TIMEOUT_MS), name).toBeLessThan(Number(fn.Properties.Timeout) * 1000);
      expect(variables.DATABASE_SSL_MODE, name).toBe('verify-full');
      // Empty: lib/db.ts trusts the Amazon RDS bundle compiled into the function.
      expect(variables.DATABASE_SSL_CA_FILE, name).toBe('');
    }
  });

  it('refuses to package a deployed stage that would fail or leak on first contact with AWS, naming every parameter', async () => {
    const refused = packageTemplate({
      stage: 'test',
      params: {
        databaseSslMode: 'require',
        backupKmsKeyId: 'alias/vigil-backups',
        thresholdsSsmParameter: '/vigil/test/thresholds',
        runbookUrl: 'https://ops:hunter2@wiki.example.org/vigil?access_token=abc',
        probeTargets: JSON.stringify([{ name: 'api', url: 'https://app.example.org/api/health', token: 'literal-token' }]),
      },
    });
    const message = await refused.then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toMatch(/vpcSubnetIds: no VPC subnets/);
    expect(message).toMatch(/pgToolsLayerArn: the backup function needs the pg tools layer/);
    expect(message).toMatch(/backupKmsKeyId: "alias\/vigil-backups" is an alias/);
    expect(message).toMatch(/runbookUrl: holds a password in a URL and a credential in a URL's query \(access_token\)/);
    // In the probe's own words, as at cold start.
    expect(message).toMatch(/probeTargets: PROBE_TARGETS: target "api": token: a literal token is for the local stage only/);
    expect(message).toMatch(/databaseSslMode: "require" on a deployed stage/);
    expect(message).toMatch(/alertEmails: a deployed stage needs at least one subscriber/);
  }, 240_000);

  it('refuses a mistyped --param on any stage, naming the one it was meant to be', async () => {
    await expect(packageTemplate({ stage: 'test', params: { ...deployable, alertEmail: 'ops@example.org' } })).rejects.toThrow(
      /--param alertEmail: no such parameter; did you mean alertEmails\?/,
    );
  }, 240_000);
});

/** `npm run package -- --stage test ...` as an operator runs it, offline: its exit status and all it printed. */
async function npmRunPackage(params: Record<string, string>): Promise<{ status: number; output: string }> {
  const output = await mkdtemp(join(tmpdir(), 'vigil-package-'));
  const args = ['run', 'package', '--', '--stage', 'test', '--package', output];
  for (const [name, value] of Object.entries(params)) args.push('--param', `${name}=${value}`);
  try {
    const { stdout, stderr } = await promisify(execFile)('npm', args, {
      cwd: projectRoot,
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' },
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { status: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as Error & { code?: number; stdout?: string; stderr?: string };
    return { status: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  } finally {
    await rm(output, { recursive: true, force: true });
  }
}

describe('npm run package', () => {
  // Each is refused before anything is built: the values are checked by the schemas the functions
  // load at cold start (local/template-environment.ts, through deploy/preflight.cjs).
  it('refuses a value a function would refuse at cold start, naming the parameter and the problem', async () => {
    const refused = await npmRunPackage({ ...deployable, rollbackRequestsSource: 'cloudwatc' });
    expect(refused.status).toBe(1);
    expect(refused.output).toContain(
      'rollbackRequestsSource: ROLLBACK_REQUESTS_SOURCE="cloudwatc": must be database or cloudwatch (rollbackDecision would fail at cold start)',
    );
    expect(refused.output).not.toMatch(/Service packaged/);
  }, 240_000);

  it('refuses partitionTables that are not JSON, and an entry the function would skip', async () => {
    const notJson = await npmRunPackage({ ...deployable, partitionTables: '[{"table":"api_performance_log"' });
    expect(notJson.status).toBe(1);
    expect(notJson.output).toMatch(
      /partitionTables: PARTITION_TABLES: is not JSON \(.+\) \(partitionMaintenance would fail at cold start\)/,
    );
    const skipped = await npmRunPackage({
      ...deployable,
      partitionTables: '[{"table":"api_performance_log","retire":"truncate"}]',
    });
    expect(skipped.status).toBe(1);
    expect(skipped.output).toMatch(
      /partitionTables: PARTITION_TABLES: table "api_performance_log": retire: .+ \(partitionMaintenance would skip it at every run\)/,
    );
  }, 240_000);

  it('refuses rollbackScheduleEnable=false (no such parameter) and rollbackScheduleEnabled=no (no such value)', async () => {
    const misnamed = await npmRunPackage({ ...deployable, rollbackScheduleEnable: 'false' });
    expect(misnamed.status).toBe(1);
    expect(misnamed.output).toContain('--param rollbackScheduleEnable: no such parameter; did you mean rollbackScheduleEnabled?');
    const misvalued = await npmRunPackage({ ...deployable, rollbackScheduleEnabled: 'no' });
    expect(misvalued.status).toBe(1);
    expect(misvalued.output).toContain('rollbackScheduleEnabled: "no" must be true or false');
  }, 240_000);

  it('refuses what needs another parameter, and a bucket name S3 would refuse, every problem at once', async () => {
    const refused = await npmRunPackage({
      ...deployable,
      rollbackRequestsSource: 'cloudwatch',
      backupBucketName: 'Vigil_Backups',
      runbookUrl: 'wiki/runbooks',
    });
    expect(refused.status).toBe(1);
    for (const problem of [
      'rollbackCloudWatchQueries: ROLLBACK_CLOUDWATCH_QUERIES: is required when ROLLBACK_REQUESTS_SOURCE=cloudwatch (rollbackDecision would fail at cold start)',
      'backupBucketName: BACKUP_BUCKET="Vigil_Backups": must be an S3 bucket name (backup would fail at cold start)',
      'backupBucketName: REPORT_BUCKET="Vigil_Backups": must be an S3 bucket name (report would fail at cold start)',
      'runbookUrl: VIGIL_RUNBOOK_URL="wiki/runbooks": must be a URL (alerts, probe, cacheEfficiency, rollbackDecision, partitionMaintenance, backup, report would fail at cold start)',
    ])
      expect(refused.output).toContain(problem);
  }, 240_000);
});
