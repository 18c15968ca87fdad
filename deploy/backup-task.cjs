// The backup as a Fargate task, for a database whose dump outgrows Lambda's 15 minutes:
// `--param backupRunner=fargate` (default `lambda`). Then the Lambda's schedules are disabled and
// this file adds an ECS cluster, an arm64 task definition running the image of `Dockerfile`
// (`backupTaskImage`) with the backup function's environment, a log group, an execution role
// (image pull, logs) and EventBridge rules that run the task in the private subnets on the same
// schedules. The task's role is the backup function's own role, trusted by ECS tasks too: the same
// rights on the bucket, the key and the secret, nothing more, plus PutMetricData in namespace Vigil
// (a task's log lines are not read as EMF, so it publishes its metrics itself).
const { fnSubVariable } = require('./dashboard.cjs');
const { list } = require('./list.cjs');

const partition = fnSubVariable('AWS::Partition');
const region = fnSubVariable('AWS::Region');
const account = fnSubVariable('AWS::AccountId');

/** Where the image puts the bundle (Dockerfile, WORKDIR). */
const imageRoot = '/app';

/** Where the image puts pg_dump and pg_restore (Debian's postgresql-client-<major>, Dockerfile). */
const pgToolsOf = (major) => ({
  PG_DUMP_PATH: `/usr/lib/postgresql/${major}/bin/pg_dump`,
  PG_RESTORE_PATH: `/usr/lib/postgresql/${major}/bin/pg_restore`,
});

const ecrImage = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._/-]+)(?::[\w.-]+|@sha256:[0-9a-f]{64})$/;

async function settingsOf(resolveVariable) {
  const runner = String((await resolveVariable('param:backupRunner')) ?? 'lambda');
  const settings = {
    runner,
    stage: await resolveVariable('sls:stage'),
    image: String((await resolveVariable('param:backupTaskImage')) ?? ''),
    cpu: String((await resolveVariable('param:backupTaskCpu')) ?? '2048'),
    memory: String((await resolveVariable('param:backupTaskMemory')) ?? '4096'),
    pgMajor: String((await resolveVariable('param:backupTaskPgMajor')) ?? '17'),
    subnets: list(await resolveVariable('param:vpcSubnetIds')),
    securityGroups: list(await resolveVariable('param:vpcSecurityGroupIds')),
    schedule: String(await resolveVariable('param:backupSchedule')),
    verifySchedule: String(await resolveVariable('param:backupVerifySchedule')),
    verifyEnabled: String(await resolveVariable('param:backupVerifyEnabled')) === 'true',
  };
  const problems = [];
  if (!['lambda', 'fargate'].includes(runner)) problems.push(`backupRunner: "${runner}" must be lambda or fargate`);
  if (runner === 'fargate') {
    if (!ecrImage.test(settings.image)) {
      problems.push(
        'backupTaskImage: the backup image in ECR, <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag or @sha256 digest>',
      );
    }
    if (settings.subnets.length === 0 || settings.securityGroups.length === 0) {
      problems.push('vpcSubnetIds and vpcSecurityGroupIds: the private subnets and security groups the task runs in');
    }
    if (!/^\d+$/.test(settings.pgMajor)) problems.push(`backupTaskPgMajor: "${settings.pgMajor}" is not a PostgreSQL major`);
  }
  if (problems.length) throw new Error(`Invalid backup task parameters: ${problems.join('; ')}`);
  return settings;
}

const trust = (service) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
});

function taskResources(settings, environment) {
  const { stage } = settings;
  const [, repoAccount, repoRegion, repository] = ecrImage.exec(settings.image);
  const logGroup = `/vigil/${stage}/backup-task`;
  const container = (command) => ({
    containerOverrides: [{ name: 'backup', command }],
  });
  const network = {
    AwsVpcConfiguration: { Subnets: settings.subnets, SecurityGroups: settings.securityGroups, AssignPublicIp: 'DISABLED' },
  };
  const target = (id, command) => ({
    Id: id,
    Arn: { 'Fn::GetAtt': ['BackupTaskCluster', 'Arn'] },
    RoleArn: { 'Fn::GetAtt': ['BackupTaskScheduleRole', 'Arn'] },
    EcsParameters: {
      TaskDefinitionArn: { Ref: 'BackupTaskDefinition' },
      TaskCount: 1,
      LaunchType: 'FARGATE',
      PlatformVersion: 'LATEST',
      NetworkConfiguration: network,
    },
    Input: JSON.stringify(container(command)),
  });
  return {
    BackupTaskCluster: { Type: 'AWS::ECS::Cluster', Properties: { ClusterName: `vigil-${stage}` } },
    BackupTaskLogGroup: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: logGroup, RetentionInDays: 30 } },
    BackupTaskExecutionRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: trust('ecs-tasks.amazonaws.com'),
        Policies: [
          {
            PolicyName: `vigil-${stage}-backup-task-execution`,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                  Resource: { 'Fn::Sub': `arn:${partition}:logs:${region}:${account}:log-group:${logGroup}:*` },
                },
                // GetAuthorizationToken has no resource-level permission.
                { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
                {
                  Effect: 'Allow',
                  Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
                  Resource: { 'Fn::Sub': `arn:${partition}:ecr:${repoRegion}:${repoAccount}:repository/${repository}` },
                },
              ],
            },
          },
        ],
      },
    },
    BackupTaskDefinition: {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: {
        Family: `vigil-${stage}-backup`,
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
        Cpu: settings.cpu,
        Memory: settings.memory,
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        ExecutionRoleArn: { 'Fn::GetAtt': ['BackupTaskExecutionRole', 'Arn'] },
        TaskRoleArn: { 'Fn::GetAtt': ['BackupRole', 'Arn'] },
        ContainerDefinitions: [
          {
            Name: 'backup',
            Image: settings.image,
            Essential: true,
            Command: ['node', '/app/task.js'],
            Environment: Object.entries(environment).map(([Name, Value]) => ({ Name, Value })),
            LogConfiguration: {
              LogDriver: 'awslogs',
              Options: { 'awslogs-group': logGroup, 'awslogs-region': { Ref: 'AWS::Region' }, 'awslogs-stream-prefix': 'backup' },
            },
          },
        ],
      },
    },
    BackupTaskScheduleRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: trust('events.amazonaws.com'),
        Policies: [
          {
            PolicyName: `vigil-${stage}-backup-task-schedule`,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: 'ecs:RunTask',
                  Resource: { Ref: 'BackupTaskDefinition' },
                  Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['BackupTaskCluster', 'Arn'] } } },
                },
                {
                  Effect: 'Allow',
                  Action: 'iam:PassRole',
                  Resource: [{ 'Fn::GetAtt': ['BackupRole', 'Arn'] }, { 'Fn::GetAtt': ['BackupTaskExecutionRole', 'Arn'] }],
                  Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
                },
              ],
            },
          },
        ],
      },
    },
    BackupTaskSchedule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: `vigil-${stage}-backup-task`,
        ScheduleExpression: settings.schedule,
        State: 'ENABLED',
        Targets: [target('backup', ['node', '/app/task.js'])],
      },
    },
    BackupTaskVerifySchedule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: `vigil-${stage}-backup-task-verify`,
        ScheduleExpression: settings.verifySchedule,
        State: settings.verifyEnabled ? 'ENABLED' : 'DISABLED',
        Targets: [target('verify-restore', ['node', '/app/task.js', 'verify-restore'])],
      },
    },
  };
}

/**
 * The task's environment: the backup function's, as the template gives it to the Lambda, with the
 * image's pg tools and the task's budget; nothing of Lambda's own (NODE_OPTIONS stays).
 */
function taskEnvironment(provider, backup, settings) {
  const environment = {
    ...provider,
    ...backup,
    // The Lambda's code is at /var/task, the image's at /app (Dockerfile): a packaged CA file moves with it.
    ...(typeof provider.DATABASE_SSL_CA_FILE === 'string' && provider.DATABASE_SSL_CA_FILE
      ? { DATABASE_SSL_CA_FILE: provider.DATABASE_SSL_CA_FILE.replace(/^\/var\/task\//, `${imageRoot}/`) }
      : {}),
    ...pgToolsOf(settings.pgMajor),
    // Lambda sets the region itself; a task is told.
    AWS_REGION: { Ref: 'AWS::Region' },
    BACKUP_TASK_TIMEOUT_SECONDS: String(4 * 3600),
    // The Lambda's statement timeout is cut below its own limit; a task's row counts may take up to
    // the most the configuration allows (15 minutes per table).
    DATABASE_STATEMENT_TIMEOUT_MS: String(15 * 60_000),
  };
  // ECS takes strings; the template's numbers and booleans are written as the Lambda reads them.
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      typeof value === 'object' && value !== null ? value : String(value),
    ]),
  );
}

/** resources: nothing for backupRunner=lambda; the task, its roles, logs and schedules for fargate. */
module.exports.resources = async ({ resolveVariable }) => {
  const settings = await settingsOf(resolveVariable);
  if (settings.runner !== 'fargate') return {};
  const provider = (await resolveVariable('self:provider.environment')) ?? {};
  const backup = (await resolveVariable('self:functions.backup.environment')) ?? {};
  return taskResources(settings, taskEnvironment(provider, backup, settings));
};

/** Whether the backup Lambda keeps its schedules: not when the task runs them. */
module.exports.lambdaScheduled = async ({ resolveVariable }) => (await settingsOf(resolveVariable)).runner === 'lambda';

/** Whether the Lambda runs the weekly restore check: asked for, and the task does not run it. */
module.exports.lambdaVerifyScheduled = async ({ resolveVariable }) =>
  (await settingsOf(resolveVariable)).runner === 'lambda' &&
  String(await resolveVariable('param:backupVerifyEnabled')) === 'true';
