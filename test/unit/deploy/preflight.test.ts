import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// As osls loads them: require()d CommonJS.
const require = createRequire(import.meta.url);

const { preflightProblems, unknownParamProblems } = require('../../../deploy/preflight.cjs') as {
  preflightProblems(params: Record<string, string>): string[];
  unknownParamProblems(given: string[], known: string[]): string[];
};
const { statementTimeoutMs } = require('../../../deploy/timeouts.cjs') as { statementTimeoutMs(seconds: number): number };
const { caFileProblem } = require('../../../deploy/database-ca.cjs') as { caFileProblem(file: string): string | undefined };

const deployable = {
  databaseSecretPrefix: 'vigil/prod/database',
  databaseSslMode: 'verify-full',
  vpcSubnetIds: 'subnet-0123456789abcdef0',
  vpcSecurityGroupIds: 'sg-0123456789abcdef0',
  pgToolsLayerArn: 'arn:aws:lambda:eu-west-1:123456789012:layer:vigil-pg-tools-17:2',
  runbookUrl: 'https://git.example.org/ops/vigil/blob/main/docs/runbooks.md',
  alertEmails: 'ops@example.org',
};

describe('preflight', () => {
  it('lets a stage with a VPC, the layer and verify-full through', () => {
    expect(preflightProblems(deployable)).toEqual([]);
    expect(preflightProblems({ ...deployable, vpcSubnetIds: '', vpcSecurityGroupIds: '', databasePublic: 'true' })).toEqual([]);
  });

  it('names the parameter of each way a stage would fail on AWS', () => {
    const problems = preflightProblems({
      ...deployable,
      vpcSubnetIds: '',
      pgToolsLayerArn: '',
      backupKmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:alias/backups',
      databaseSslMode: 'disable',
    });
    expect(problems.map((problem) => problem.split(':')[0])).toEqual([
      'vpcSubnetIds',
      'databaseSslMode',
      'pgToolsLayerArn',
      'backupKmsKeyId',
    ]);
    expect(problems[3]).toContain('aws kms describe-key --key-id alias/backups');
    expect(preflightProblems({ ...deployable, pgToolsLayerArn: 'pg-tools' })).toEqual([
      'pgToolsLayerArn: "pg-tools" is not a layer version ARN (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)',
    ]);
  });

  it('refuses the retired single database secret, and a prefix that cannot name one secret per function', () => {
    expect(preflightProblems({ ...deployable, databaseSecret: 'vigil/prod/database' })[0]).toMatch(
      /^databaseSecret: replaced by databaseSecretPrefix/,
    );
    expect(preflightProblems({ ...deployable, databaseSecretPrefix: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' })).toEqual([
      'databaseSecretPrefix: must be a name prefix (vigil/prod/database), not an ARN: each function reads <prefix>/<function>',
    ]);
  });

  it('refuses credentials that would be written into the template: URLs, literal tokens, secret headers', () => {
    const problems = preflightProblems({
      ...deployable,
      databaseSecretPrefix: 'postgres://vigil@db.internal/portfolio',
      probeTargets: JSON.stringify([
        { name: 'api', url: 'https://app.example.org/api?api_key=abc', token: 'x' },
        { name: 'web', url: 'https://app.example.org/', headers: { 'X-Api-Key': 'k', Accept: 'text/html' } },
      ]),
    });
    expect(problems).toEqual([
      'databaseSecretPrefix: holds a database user in a URL, which would be written into the template in plain text; keep credentials in Secrets Manager or an SSM SecureString and pass their names',
      "probeTargets: holds a credential in a URL's query (api_key), which would be written into the template in plain text; keep credentials in Secrets Manager or an SSM SecureString and pass their names",
      'databaseSecretPrefix: must be the start of Secrets Manager secret names, not a database URL',
      // A literal token is the probe's own schema's to refuse (local/template-environment.ts).
      'probeTargets: target "web": header "X-Api-Key" would be written into the template; give the token by reference (tokenSsmParameter or tokenSecretId)',
    ]);
  });

  it('refuses a mistyped --param, naming the parameter it was meant to be', () => {
    const known = ['alertEmails', 'alertPhoneNumbers', 'partitionTables', 'rollbackRequestsSource'];
    expect(unknownParamProblems(['alertEmail=ops@example.org', 'alertEmails=x', 'foo=bar'], known)).toEqual([
      '--param alertEmail: no such parameter; did you mean alertEmails?',
      '--param foo: no such parameter',
    ]);
  });

  it('refuses a stage nobody is subscribed to, and template values no function reads', () => {
    expect(preflightProblems({ ...deployable, alertEmails: '' })).toEqual([
      'alertEmails: a deployed stage needs at least one subscriber (alertEmails or alertPhoneNumbers), or its alerts reach nobody',
    ]);
    expect(preflightProblems({ ...deployable, alertEmails: '', alertPhoneNumbers: '+4915112345678' })).toEqual([]);
    expect(preflightProblems({ ...deployable, rollbackScheduleEnabled: 'no' })).toEqual([
      'rollbackScheduleEnabled: "no" must be true or false',
    ]);
    expect(preflightProblems({ ...deployable, reportWeeklyScheduleEnabled: 'yes' })).toEqual([
      'reportWeeklyScheduleEnabled: "yes" must be true or false',
    ]);
    // What the functions read is checked by their own schemas, once (test/unit/deploy/template-environment.test.ts).
    expect(
      preflightProblems({
        ...deployable,
        rollbackRequestsSource: 'cloudwatc',
        partitionTables: '[{"table":',
        probeScenarios: '{}',
        probeTargets: 'not json',
      }),
    ).toEqual([]);
  });

  it('derives each statement timeout from its Lambda timeout, leaving time to answer', () => {
    expect(statementTimeoutMs(25)).toBe(20_000);
    expect(statementTimeoutMs(10)).toBe(5_000);
    expect(statementTimeoutMs(900)).toBe(30_000);
    for (const seconds of [6, 15, 25, 60, 120, 300, 900]) expect(statementTimeoutMs(seconds)).toBeLessThan(seconds * 1000);
    expect(() => statementTimeoutMs(3)).toThrow(/leaves no time/);
  });

  it('packages only a CA file that is a certificate inside the project', () => {
    expect(caFileProblem('/etc/ssl/ca.pem')).toMatch(/must be a path inside the project/);
    expect(caFileProblem('../outside.pem')).toMatch(/must be a path inside the project/);
    expect(caFileProblem('certs/none.pem')).toMatch(/is not a file of the project/);
    expect(caFileProblem('package.json')).toMatch(/holds no PEM certificate/);
  });
});
