import { describe, expect, it } from 'vitest';
import rollbackGet from '../../../events/rollbackDecision.http-get.json' with { type: 'json' };
import { arnMatches, asDeliveredByApiGateway, environmentProblems, timeoutProblem } from '../../../local/rehearsal/checks';
import { heapFlags } from '../../../local/rehearsal/sandbox';
import { evaluate, type PackagedFunction, type Template } from '../../../local/rehearsal/template';

const fn = (environment: Record<string, string>, timeoutSeconds = 25): PackagedFunction => ({
  name: 'rollbackDecision',
  logicalId: 'RollbackDecisionLambdaFunction',
  functionName: 'vigil-rehearsal-rollbackDecision',
  handler: 'functions/rollback-decision/handler.handler',
  runtime: 'nodejs24.x',
  architecture: 'arm64',
  timeoutSeconds,
  memoryMb: 512,
  ephemeralStorageMb: 512,
  layers: [],
  environment: { DATABASE_SECRET_ID: 'vigil/rehearsal/database', ...environment },
  zipFile: 'rollbackDecision.zip',
});

describe('rehearsal checks', () => {
  const template: Template = {
    Conditions: { HasLayer: { 'Fn::Not': [{ 'Fn::Equals': ['arn:layer', ''] }] } },
    Resources: {},
  };
  const local = { region: 'eu-west-1', account: '000000000000', refs: { AlertTopic: 'arn:aws:sns:eu-west-1:000000000000:t' } };

  it('evaluates the intrinsic functions of a function, and refuses what has no local counterpart', () => {
    expect(evaluate({ Ref: 'AlertTopic' }, template, local, 'x')).toBe('arn:aws:sns:eu-west-1:000000000000:t');
    expect(evaluate([{ 'Fn::If': ['HasLayer', 'arn:layer', { Ref: 'AWS::NoValue' }] }], template, local, 'x')).toEqual([
      'arn:layer',
    ]);
    expect(evaluate({ 'Fn::Sub': 'arn:$' + '{AWS::Partition}:secretsmanager:$' + '{AWS::Region}:x' }, template, local, 'x')).toBe(
      'arn:aws:secretsmanager:eu-west-1:x',
    );
    expect(() => evaluate({ Ref: 'Elsewhere' }, template, local, 'F.Environment.V')).toThrow(
      'F.Environment.V: Ref Elsewhere has no local counterpart',
    );
  });

  it("matches ARNs with IAM's wildcards", () => {
    expect(
      arnMatches(
        'arn:aws:secretsmanager:eu-west-1:1:secret:vigil/db-??????',
        'arn:aws:secretsmanager:eu-west-1:1:secret:vigil/db-a1B2c3',
      ),
    ).toBe(true);
    expect(
      arnMatches(
        'arn:aws:secretsmanager:eu-west-1:1:secret:vigil/db-??????',
        'arn:aws:secretsmanager:eu-west-1:1:secret:vigil/db-other-a1B2c3',
      ),
    ).toBe(false);
    expect(arnMatches('arn:aws:ssm:*:1:parameter/vigil/*', 'arn:aws:ssm:eu-west-1:1:parameter/vigil/x')).toBe(true);
  });

  it('limits the heap as the Lambda bootstrap does for the memory size', () => {
    expect(heapFlags(512)).toEqual(['--max-semi-space-size=25', '--max-old-space-size=461']);
  });

  it('hands HTTP events over as API Gateway does after IAM, without the local bearer token', () => {
    const delivered = asDeliveredByApiGateway(rollbackGet) as typeof rollbackGet & {
      requestContext: { authorizer: { iam: { userArn: string } } };
    };
    expect(delivered.headers).not.toHaveProperty('authorization');
    expect(delivered.requestContext.authorizer.iam.userArn).toBe('arn:aws:iam::000000000000:user/rehearsal-operator');
    expect(asDeliveredByApiGateway({ source: 'aws.events' })).toEqual({ source: 'aws.events' });
  });

  it('finds a statement timeout at or over the Lambda timeout, and credentials in the environment', () => {
    expect(timeoutProblem(fn({ DATABASE_STATEMENT_TIMEOUT_MS: '20000' }))).toBeUndefined();
    expect(timeoutProblem(fn({}))).toMatch(/statement timeout 30000 ms is not below the Lambda timeout of 25 s/);
    expect(timeoutProblem(fn({ DATABASE_STATEMENT_TIMEOUT_MS: '20000', DATABASE_LOCK_TIMEOUT_MS: '20000' }))).toMatch(
      /lock timeout 20000 ms is not below the statement timeout/,
    );
    expect(
      environmentProblems(fn({ BACKUP_VERIFY_DATABASE_URL: 'postgres://u:p@h/db', VIGIL_RUNBOOK_URL: 'https://wiki/x?token=1' })),
    ).toEqual([
      'BACKUP_VERIFY_DATABASE_URL is set: a database URL in the template carries its password',
      'BACKUP_VERIFY_DATABASE_URL holds a password in a URL',
      "VIGIL_RUNBOOK_URL holds a credential in a URL's query (token)",
    ]);
  });
});
