import { describe, expect, it } from 'vitest';
import { configVariables, loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => `${problem.variable}: ${problem.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('parses a database URL and fills the documented defaults', () => {
    const config = loadConfig(['database'], { DATABASE_URL: 'postgres://vigil:pw@db.internal:5432/app' });
    expect(config.database).toEqual({
      url: 'postgres://vigil:pw@db.internal:5432/app',
      secretId: undefined,
      sslMode: 'disable',
      sslCaFile: undefined,
      poolMax: 2,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 30000,
      lockTimeoutMs: 5000,
    });
  });

  it('names every missing or malformed variable of every requested section in one error', () => {
    const problems = problemsOf(() =>
      loadConfig(['database', 'aws', 'runtime'], {
        DATABASE_POOL_MAX: 'two',
        DATABASE_LOCK_TIMEOUT_MS: '-5',
        DATABASE_SSL_MODE: 'sometimes',
        AWS_ENDPOINT_URL_S3: 'not a url',
        VIGIL_STAGE: 'Prod!',
      }),
    );
    const variables = problems.map((problem) => problem.split(':')[0]);
    expect(variables).toEqual(
      expect.arrayContaining([
        'DATABASE_URL',
        'DATABASE_POOL_MAX',
        'DATABASE_LOCK_TIMEOUT_MS',
        'DATABASE_SSL_MODE',
        'AWS_ENDPOINT_URL_S3',
        'VIGIL_STAGE',
      ]),
    );
    expect(problems.find((problem) => problem.startsWith('DATABASE_POOL_MAX'))).toContain('must be a number');
    expect(problems.find((problem) => problem.startsWith('DATABASE_LOCK_TIMEOUT_MS'))).toContain('at least 10');
  });

  it('puts every problem in the error message, so the cold-start log alone says what to fix', () => {
    expect(() => loadConfig(['database'], { DATABASE_URL: 'mysql://x/y', DATABASE_POOL_MAX: '99' })).toThrow(
      /DATABASE_URL: must be a URL.*DATABASE_POOL_MAX: must be at most 20/,
    );
  });

  it('does not ask a function for sections it did not request', () => {
    expect(loadConfig(['runtime'], {})).toEqual({ runtime: { stage: 'local' } });
  });

  it('treats an empty variable as unset', () => {
    const problems = problemsOf(() => loadConfig(['database'], { DATABASE_URL: '  ' }));
    expect(problems[0]).toMatch(/^DATABASE_URL: set DATABASE_URL .* or DATABASE_SECRET_ID/);
  });

  it('refuses both a URL and a secret, and a CA file without verify-full', () => {
    const problems = problemsOf(() =>
      loadConfig(['database'], {
        DATABASE_URL: 'postgres://localhost/app',
        DATABASE_SECRET_ID: 'vigil/db',
        DATABASE_SSL_CA_FILE: '/opt/rds-ca.pem',
      }),
    );
    expect(problems).toEqual([
      'DATABASE_SECRET_ID: set only one of DATABASE_URL and DATABASE_SECRET_ID',
      'DATABASE_SSL_CA_FILE: is only used with DATABASE_SSL_MODE=verify-full',
    ]);
  });

  it('accepts a Secrets Manager secret instead of a URL', () => {
    const config = loadConfig(['database'], { DATABASE_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:1:secret:vigil-db' });
    expect(config.database.secretId).toBe('arn:aws:secretsmanager:eu-west-1:1:secret:vigil-db');
    expect(config.database.url).toBeUndefined();
  });

  it('applies threshold overrides from VIGIL_THRESHOLDS over the defaults', () => {
    const config = loadConfig(['thresholds'], { VIGIL_THRESHOLDS: '{"cache":{"targetHitRatioPercent":90}}' });
    expect(config.thresholds.thresholds.cache.targetHitRatioPercent).toBe(90);
    expect(config.thresholds.thresholds.cache.largePayloadKb).toBe(200);
  });

  it('names VIGIL_THRESHOLDS and the path of each bad threshold', () => {
    const problems = problemsOf(() =>
      loadConfig(['thresholds'], {
        VIGIL_THRESHOLDS: '{"cache":{"targetHitRatioPercent":"high","typo":1},"quality":{"errorRateAlertPercent":-1}}',
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^VIGIL_THRESHOLDS: cache\.targetHitRatioPercent: /),
        expect.stringMatching(/^VIGIL_THRESHOLDS: cache\.typo: /),
        expect.stringMatching(/^VIGIL_THRESHOLDS: quality\.errorRateAlertPercent: /),
      ]),
    );
  });

  it('says when VIGIL_THRESHOLDS is not JSON', () => {
    expect(problemsOf(() => loadConfig(['thresholds'], { VIGIL_THRESHOLDS: '{cache:' }))[0]).toMatch(
      /^VIGIL_THRESHOLDS: is not JSON/,
    );
  });

  it('lists the variables of each section for the configuration reference', () => {
    expect(configVariables('database')).toContain('DATABASE_SECRET_ID');
    expect(configVariables('aws')).toEqual([
      'AWS_REGION',
      'AWS_ENDPOINT_URL_S3',
      'AWS_ENDPOINT_URL_SNS',
      'AWS_ENDPOINT_URL_CLOUDWATCH',
    ]);
  });

  it('makes TLS verify-full the default on every stage but local, and keeps what is said explicitly', () => {
    const sslMode = (env: Record<string, string>) =>
      loadConfig(['database'], { DATABASE_URL: 'postgres://vigil@db.internal/app', ...env }).database.sslMode;
    expect(sslMode({})).toBe('disable');
    expect(sslMode({ VIGIL_STAGE: 'local' })).toBe('disable');
    expect(sslMode({ VIGIL_STAGE: 'prod' })).toBe('verify-full');
    expect(sslMode({ VIGIL_STAGE: 'prod', DATABASE_SSL_MODE: 'require' })).toBe('require');
  });
});
