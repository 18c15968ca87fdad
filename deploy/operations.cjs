// Builds what each function needs to run and to be watched, read by serverless.yml at package time:
//   - one IAM role per function with only what that function uses;
//   - one SQS dead-letter queue per function (the on-failure destination of its async invocations);
//   - per function an Errors alarm and a dead-letter alarm, named vigil-<stage>-..., which the
//     EventBridge rule routes through the alerts function; the alerts function's own alarms go to
//     a fallback topic instead, since a broken alerts function cannot report itself;
//   - the CloudWatch dashboard (deploy/dashboard.cjs).
// Every ARN is as narrow as AWS allows; where an action has no resource-level permission the
// statement says so.
const { dashboard, fnSubVariable } = require('./dashboard.cjs');
const { list } = require('./list.cjs');
const { bucketNameSub } = require('./backup-storage.cjs');
const { secretIdOf } = require('./database-secrets.cjs');

const partition = fnSubVariable('AWS::Partition');
const region = fnSubVariable('AWS::Region');
const account = fnSubVariable('AWS::AccountId');

const pascal = (name) => name.charAt(0).toUpperCase() + name.slice(1);

/** Secrets Manager adds "-" and six characters to a secret's name; an ARN given in full is used as is. */
function secretArn(secret) {
  if (secret.startsWith('arn:')) return secret;
  return { 'Fn::Sub': `arn:${partition}:secretsmanager:${region}:${account}:secret:${secret}-??????` };
}

function parameterArn(name) {
  if (name.startsWith('arn:')) return name;
  return { 'Fn::Sub': `arn:${partition}:ssm:${region}:${account}:parameter/${name.replace(/^\//, '')}` };
}

function parseJsonParam(name, value) {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value);
    if (!Array.isArray(parsed)) throw new Error('not a JSON array');
    return parsed;
  } catch (error) {
    throw new Error(`${name}: ${error.message}`);
  }
}

/**
 * The severity of each function's alarms. Retries and event age are in serverless.yml, beside each
 * function, with why.
 */
const functions = {
  // The alerts function's own failures go to the fallback topic: critical, nobody else will say it.
  alerts: { severity: 'critical' },
  probe: { severity: 'major' },
  cacheEfficiency: { severity: 'major' },
  rollbackDecision: { severity: 'major' },
  partitionMaintenance: { severity: 'major' },
  backup: { severity: 'major' },
  // A report that failed is late, not lost: the next run covers the period again.
  report: { severity: 'minor' },
};

const statement = (Action, Resource, Condition) => ({
  Effect: 'Allow',
  Action: [Action].flat(),
  Resource,
  ...(Condition ? { Condition } : {}),
});

const taskRunsBackup = (context, name) => name === 'backup' && context.params.backupRunner === 'fargate';

function rolePolicies(context, name) {
  const { stage, params, vpc } = context;
  const statements = [
    statement(['logs:CreateLogStream', 'logs:PutLogEvents'], {
      'Fn::Sub': `arn:${partition}:logs:${region}:${account}:log-group:/aws/lambda/vigil-${stage}-${name}:*`,
    }),
    // X-Ray has no resource-level permissions for these two.
    statement(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*'),
    statement('sqs:SendMessage', { 'Fn::GetAtt': [`${pascal(name)}DeadLetterQueue`, 'Arn'] }),
    // Every function stores state in the database and raises alerts on Vigil's topic.
    statement('sns:Publish', { Ref: 'AlertTopic' }),
  ];
  // Its own database login's secret, no other function's.
  const databaseSecret = secretIdOf(params.databaseSecretPrefix, name);
  if (databaseSecret) statements.push(statement('secretsmanager:GetSecretValue', secretArn(databaseSecret)));
  if (vpc) {
    // Lambda's network interfaces in the VPC; EC2 offers no narrower resource for Describe, and Lambda
    // creates the interfaces itself (the same actions as AWSLambdaVPCAccessExecutionRole).
    statements.push(
      statement(
        [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        '*',
      ),
    );
  }
  const usesThresholds = ['probe', 'cacheEfficiency', 'rollbackDecision', 'partitionMaintenance', 'report'].includes(name);
  if (usesThresholds && params.thresholdsSsmParameter) {
    statements.push(statement('ssm:GetParameter', parameterArn(params.thresholdsSsmParameter)));
  }
  if (name === 'probe') {
    const targets = parseJsonParam('probeTargets', params.probeTargets);
    const parameters = targets.map((target) => target.tokenSsmParameter).filter(Boolean);
    const secrets = targets.map((target) => target.tokenSecretId).filter(Boolean);
    if (parameters.length) statements.push(statement('ssm:GetParameter', parameters.map(parameterArn)));
    if (secrets.length) statements.push(statement('secretsmanager:GetSecretValue', secrets.map(secretArn)));
  }
  if (name === 'rollbackDecision' && params.rollbackRequestsSource === 'cloudwatch') {
    // GetMetricData has no resource-level permissions.
    statements.push(statement('cloudwatch:GetMetricData', '*'));
  }
  if (name === 'partitionMaintenance' && params.partitionArchiveBucket) {
    const bucket = params.partitionArchiveBucket;
    statements.push(
      statement(['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'], {
        'Fn::Sub': `arn:${partition}:s3:::${bucket}/partitions/*`,
      }),
    );
  }
  if (name === 'report') {
    // The backups are listed, never read (their key is the backup's alone); the pages are written,
    // and read back through the link the digest carries, under reports/ only.
    const bucket = bucketNameSub(stage, params.backupBucketName);
    statements.push(
      statement('s3:ListBucket', { 'Fn::Sub': `arn:${partition}:s3:::${bucket}` }, { StringLike: { 's3:prefix': 'backups/*' } }),
      statement(['s3:PutObject', 's3:GetObject'], { 'Fn::Sub': `arn:${partition}:s3:::${bucket}/reports/*` }),
    );
  }
  if (name === 'backup') {
    const bucket = bucketNameSub(stage, params.backupBucketName);
    statements.push(
      statement(['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], {
        'Fn::Sub': `arn:${partition}:s3:::${bucket}/backups/*`,
      }),
      statement('s3:ListBucket', { 'Fn::Sub': `arn:${partition}:s3:::${bucket}` }, { StringLike: { 's3:prefix': 'backups/*' } }),
    );
    if (taskRunsBackup(context, name)) {
      // The task publishes its metrics itself; PutMetricData has no resource, the namespace condition narrows it.
      statements.push(statement('cloudwatch:PutMetricData', '*', { StringEquals: { 'cloudwatch:namespace': 'Vigil' } }));
    }
    if (params.backupVerifyDatabaseParameter) {
      statements.push(statement('ssm:GetParameter', parameterArn(params.backupVerifyDatabaseParameter)));
    }
    if (params.backupKmsKeyId) {
      const key = params.backupKmsKeyId;
      // A key ARN or key id: IAM matches these actions against the key's ARN, never an alias
      // (deploy/preflight.cjs refuses aliases on deployed stages).
      const keyArn = key.startsWith('arn:') ? key : { 'Fn::Sub': `arn:${partition}:kms:${region}:${account}:key/${key}` };
      statements.push(statement(['kms:GenerateDataKey', 'kms:Decrypt'], keyArn));
    }
  }
  return [{ PolicyName: `vigil-${stage}-${name}`, PolicyDocument: { Version: '2012-10-17', Statement: statements } }];
}

function role(context, name) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: `vigil-${context.stage}-${name}-${context.region}`,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            // The backup's role is the Fargate task's too when the task runs it (deploy/backup-task.cjs).
            Principal: {
              Service: taskRunsBackup(context, name)
                ? ['lambda.amazonaws.com', 'ecs-tasks.amazonaws.com']
                : 'lambda.amazonaws.com',
            },
            Action: 'sts:AssumeRole',
          },
        ],
      },
      Policies: rolePolicies(context, name),
    },
  };
}

function deadLetterQueue(stage, name) {
  return {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: `vigil-${stage}-${name}-failed`,
      // The longest SQS allows: a failure over a long weekend is still there on Monday.
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    },
  };
}

function alarm({ name, description, namespace, metric, dimensions, statistic, period, actions }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: name,
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: dimensions,
      Statistic: statistic,
      Period: period,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      // No invocation is no error; the freshness alarm and the :no-data alerts watch for silence.
      TreatMissingData: 'notBreaching',
      ...(actions ? { AlarmActions: actions, OKActions: actions } : {}),
    },
  };
}

function alarms(stage, name) {
  const { severity } = functions[name];
  // The alerts function cannot report its own failure: its alarms publish to the fallback topic.
  const fallback = name === 'alerts';
  const prefix = fallback ? `vigil-fallback-${stage}` : `vigil-${stage}`;
  const actions = fallback ? [{ Ref: 'FallbackAlertTopic' }] : undefined;
  const functionName = `vigil-${stage}-${name}`;
  return {
    [`${pascal(name)}ErrorsAlarm`]: alarm({
      name: `${prefix}-${name}-errors`,
      description: `${severity}: the ${name} function failed (an exception or a timeout). If no data: minor: the error count of the ${name} function is not reported. Runbook: #alarm-function-errors`,
      namespace: 'AWS/Lambda',
      metric: 'Errors',
      dimensions: [{ Name: 'FunctionName', Value: functionName }],
      statistic: 'Sum',
      period: 300,
      actions,
    }),
    [`${pascal(name)}DeadLetterAlarm`]: alarm({
      name: `${prefix}-${name}-dead-letters`,
      description: `${severity}: an invocation of ${name} failed every retry; its event waits in the queue vigil-${stage}-${name}-failed. If no data: minor: the failure queue of ${name} reports no size. Runbook: #alarm-dead-letters`,
      namespace: 'AWS/SQS',
      metric: 'ApproximateNumberOfMessagesVisible',
      dimensions: [{ Name: 'QueueName', Value: `vigil-${stage}-${name}-failed` }],
      statistic: 'Maximum',
      period: 300,
      actions,
    }),
  };
}

/** The alerts function's alarms: raw CloudWatch notifications, to email, unfiltered. */
function fallbackTopic(stage, emails) {
  const resources = {
    FallbackAlertTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        TopicName: `vigil-${stage}-alerts-fallback`,
        DisplayName: 'VIGIL',
        // Unencrypted on purpose: CloudWatch alarms cannot publish to a topic under the AWS-managed SNS
        // key, and these messages carry alarm names and states only.
      },
    },
    FallbackAlertTopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [{ Ref: 'FallbackAlertTopic' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'CloudWatchAlarmsOfThisAccount',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: 'FallbackAlertTopic' },
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
      },
    },
  };
  emails.forEach((email, index) => {
    resources[`FallbackEmailSubscription${index + 1}`] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: 'FallbackAlertTopic' }, Protocol: 'email', Endpoint: email },
    };
  });
  return resources;
}

/** provider.vpc: both lists or neither. */
async function vpcOf(resolveVariable) {
  const securityGroupIds = list(await resolveVariable('param:vpcSecurityGroupIds'));
  const subnetIds = list(await resolveVariable('param:vpcSubnetIds'));
  const bad = [
    ...securityGroupIds
      .filter((id) => !/^sg-[0-9a-f]{8,17}$/.test(id))
      .map((id) => `vpcSecurityGroupIds: "${id}" is not a security group id`),
    ...subnetIds.filter((id) => !/^subnet-[0-9a-f]{8,17}$/.test(id)).map((id) => `vpcSubnetIds: "${id}" is not a subnet id`),
  ];
  if ((securityGroupIds.length === 0) !== (subnetIds.length === 0)) {
    bad.push('vpcSecurityGroupIds and vpcSubnetIds: give both or neither');
  }
  if (bad.length > 0) throw new Error(`Invalid VPC parameters: ${bad.join('; ')}`);
  return securityGroupIds.length ? { securityGroupIds, subnetIds } : undefined;
}

const paramNames = [
  'databaseSecretPrefix',
  'thresholdsSsmParameter',
  'probeTargets',
  'probeScenarios',
  'rollbackRequestsSource',
  'partitionArchiveBucket',
  'partitionTables',
  'backupBucketName',
  'backupKmsKeyId',
  'backupVerifyDatabaseParameter',
  'backupRunner',
  'alertEmails',
];

async function contextOf(resolveVariable) {
  const params = {};
  for (const name of paramNames) params[name] = String((await resolveVariable(`param:${name}`)) ?? '');
  return {
    stage: await resolveVariable('sls:stage'),
    region: await resolveVariable('self:provider.region'),
    params,
    vpc: await vpcOf(resolveVariable),
  };
}

/** resources: roles, queues, alarms, fallback topic and dashboard. */
module.exports.resources = async ({ resolveVariable }) => {
  const context = await contextOf(resolveVariable);
  const resources = {};
  for (const name of Object.keys(functions)) {
    resources[`${pascal(name)}Role`] = role(context, name);
    resources[`${pascal(name)}DeadLetterQueue`] = deadLetterQueue(context.stage, name);
    Object.assign(resources, alarms(context.stage, name));
  }
  Object.assign(resources, fallbackTopic(context.stage, list(context.params.alertEmails)));
  resources.Dashboard = dashboard(context);
  return resources;
};

/** provider.vpc, or nothing. */
module.exports.vpc = async ({ resolveVariable }) => (await vpcOf(resolveVariable)) ?? null;
