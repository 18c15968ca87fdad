import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { rootCertificates } from 'node:tls';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { backupConfig } from '../../../functions/backup/config';
import { cacheConfig } from '../../../functions/cache-efficiency/config';
import { partitionsConfig } from '../../../functions/partition-maintenance/config';
import { probeConfig } from '../../../functions/probe/config';
import { reportConfig } from '../../../functions/report/config';
import { rollbackConfig } from '../../../functions/rollback-decision/config';
import {
  checkTemplateEnvironments,
  functionSections,
  helperParameters,
  type TemplateEnvironments,
} from '../../../local/template-environment';
import { account, region } from '../../support/template';

const root = join(import.meta.dirname, '../../..');
const service = load(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
  functions: Record<string, { handler: string; environment?: Record<string, unknown> }>;
  provider: { environment: Record<string, unknown> };
};

/** A stage's environments as the template gives them, with what CloudFormation computes left as intrinsic functions. */
function environments(overrides: Record<string, Record<string, unknown>> = {}): TemplateEnvironments {
  const own = (name: string) => ({ DATABASE_SECRET_ID: `vigil/prod/database/${name}`, DATABASE_STATEMENT_TIMEOUT_MS: 20_000 });
  return {
    region: 'eu-west-1',
    provider: {
      VIGIL_STAGE: 'prod',
      DATABASE_SSL_MODE: 'verify-full',
      DATABASE_SSL_CA_FILE: '',
      VIGIL_THRESHOLDS_SSM_PARAMETER: '',
      VIGIL_ALERT_TOPIC_ARN: { Ref: 'AlertTopic' },
      VIGIL_RUNBOOK_URL: '',
      ...overrides.provider,
    },
    functions: {
      alerts: own('alerts'),
      probe: { ...own('probe'), PROBE_FUNCTION_TIMEOUT_SECONDS: 240, PROBE_TARGETS: '', PROBE_SCENARIOS: '', ...overrides.probe },
      cacheEfficiency: { ...own('cacheEfficiency'), CACHE_COUNTERS_QUERY: '' },
      rollbackDecision: {
        ...own('rollbackDecision'),
        ROLLBACK_WINDOW_MINUTES: 15,
        ROLLBACK_REQUESTS_SOURCE: 'database',
        ROLLBACK_CLOUDWATCH_QUERIES: '',
        ...overrides.rollbackDecision,
      },
      partitionMaintenance: {
        ...own('partitionMaintenance'),
        PARTITION_TABLES: '',
        PARTITION_ARCHIVE_BUCKET: '',
        ...overrides.partitionMaintenance,
      },
      backup: {
        ...own('backup'),
        BACKUP_BUCKET: { Ref: 'BackupBucket' },
        BACKUP_KMS_KEY_ID: { 'Fn::GetAtt': ['BackupKey', 'Arn'] },
        BACKUP_KEEP_DAILY: 7,
        BACKUP_RETENTION_DRY_RUN: false,
        ...overrides.backup,
      },
      report: { ...own('report'), REPORT_BUCKET: { Ref: 'BackupBucket' }, ...overrides.report },
    },
    refs: { BackupBucket: { 'Fn::Sub': `vigil-prod-backups-${account}-${region}` }, ...overrides.refs },
  };
}

describe('template-environment', () => {
  it('checks each function with the sections its handler loads at cold start', () => {
    const sectionNames = new Map<unknown, string>([
      [backupConfig, 'backupConfig'],
      [cacheConfig, 'cacheConfig'],
      [partitionsConfig, 'partitionsConfig'],
      [probeConfig, 'probeConfig'],
      [reportConfig, 'reportConfig'],
      [rollbackConfig, 'rollbackConfig'],
    ]);
    expect(Object.keys(functionSections).sort()).toEqual(Object.keys(service.functions).sort());
    for (const [name, definition] of Object.entries(service.functions)) {
      const handler = readFileSync(join(root, `${definition.handler.replace(/\.handler$/, '')}.ts`), 'utf8');
      const loaded = /loadConfig\(\[([^\]]*)\]\)/
        .exec(handler)?.[1]
        ?.split(',')
        .map((entry) => entry.trim());
      const checked = (functionSections[name] ?? []).map((entry) =>
        typeof entry === 'string' ? `'${entry}'` : sectionNames.get(entry),
      );
      expect(checked, name).toEqual(loaded);
    }
  });

  it('knows the parameters behind every deploy helper an environment variable is read from', () => {
    const helpers = [service.provider.environment, ...Object.values(service.functions).map((fn) => fn.environment ?? {})]
      .flatMap((environment) => Object.values(environment))
      .flatMap((raw) => [...String(raw).matchAll(/\$\{file\(\.\/deploy\/([\w.-]+)\):(\w+)\}/g)])
      .map(([, helper, exported]) => `${helper}:${exported}`);
    expect(helpers.length).toBeGreaterThan(0);
    for (const helper of helpers)
      expect(helperParameters[helper] ?? helperParameters[helper.split(':')[0] as string], helper).toBeDefined();
  });

  it('lets a stage through whose values every function accepts, naming what only the deploy knows', () => {
    expect(checkTemplateEnvironments(environments())).toEqual({
      problems: [],
      deployTime: [
        'BACKUP_BUCKET (Fn::Sub over AWS::AccountId)',
        'BACKUP_KMS_KEY_ID (Fn::GetAtt BackupKey.Arn)',
        'REPORT_BUCKET (Fn::Sub over AWS::AccountId)',
        'VIGIL_ALERT_TOPIC_ARN (Ref AlertTopic)',
      ],
    });
  });

  it("refuses what a function would refuse at cold start, in its loader's words, naming the parameter", () => {
    const { problems } = checkTemplateEnvironments(
      environments({
        provider: { VIGIL_RUNBOOK_URL: 'wiki' },
        rollbackDecision: { ROLLBACK_REQUESTS_SOURCE: 'cloudwatc', ROLLBACK_WINDOW_MINUTES: 0 },
        partitionMaintenance: { PARTITION_TABLES: '[{"table":' },
        probe: { PROBE_TARGETS: JSON.stringify([{ name: 'api', url: 'https://app.example.org/api', token: 'literal' }]) },
      }),
    );
    expect(problems).toEqual([
      'runbookUrl: VIGIL_RUNBOOK_URL="wiki": must be a URL (alerts, probe, cacheEfficiency, rollbackDecision, partitionMaintenance, backup, report would fail at cold start)',
      'probeTargets: PROBE_TARGETS: target "api": token: a literal token is for the local stage only; use tokenSsmParameter or tokenSecretId (probe would fail at cold start)',
      'rollbackWindowMinutes: ROLLBACK_WINDOW_MINUTES="0": must be at least 1 (rollbackDecision would fail at cold start)',
      'rollbackRequestsSource: ROLLBACK_REQUESTS_SOURCE="cloudwatc": must be database or cloudwatch (rollbackDecision would fail at cold start)',
      'partitionTables: PARTITION_TABLES: is not JSON (Unexpected end of JSON input) (partitionMaintenance would fail at cold start)',
    ]);
    expect(
      checkTemplateEnvironments(environments({ rollbackDecision: { ROLLBACK_REQUESTS_SOURCE: 'cloudwatch' } })).problems,
    ).toEqual([
      'rollbackCloudWatchQueries: ROLLBACK_CLOUDWATCH_QUERIES: is required when ROLLBACK_REQUESTS_SOURCE=cloudwatch (rollbackDecision would fail at cold start)',
    ]);
  });

  it('refuses a PARTITION_TABLES entry the function would skip at every run', () => {
    const { problems } = checkTemplateEnvironments(
      environments({ partitionMaintenance: { PARTITION_TABLES: '[{"table":"api_performance_log","interval":"year"}]' } }),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^partitionTables: PARTITION_TABLES: table "api_performance_log": interval: .+ \(partitionMaintenance would skip it at every run\)$/,
      ),
    ]);
  });

  it('skips what CloudFormation computes, and checks what is known now as it will be', () => {
    // A Ref to the bucket is its name when the name is written out: a bad one is refused...
    expect(checkTemplateEnvironments(environments({ refs: { BackupBucket: 'Vigil_Backups' } })).problems).toEqual([
      'backupBucketName: BACKUP_BUCKET="Vigil_Backups": must be an S3 bucket name (backup would fail at cold start)',
      'backupBucketName: REPORT_BUCKET="Vigil_Backups": must be an S3 bucket name (report would fail at cold start)',
    ]);
    // ...and the region is the stage's, where the template or Lambda gives it.
    const named = checkTemplateEnvironments(
      environments({ backup: { BACKUP_BUCKET: { 'Fn::Sub': `vigil-prod-backups-${region}` } } }),
    );
    expect(named.problems).toEqual([]);
    expect(named.deployTime).not.toContainEqual(expect.stringMatching(/^BACKUP_BUCKET/));
    // A required variable CloudFormation computes is not reported missing.
    const computed = checkTemplateEnvironments(environments({ provider: { VIGIL_ALERT_TOPIC_ARN: { 'Fn::ImportValue': 'x' } } }));
    expect(computed.problems).toEqual([]);
    expect(computed.deployTime).toContain('VIGIL_ALERT_TOPIC_ARN (Fn::ImportValue)');
  });

  it('reads the packaged CA file where it is packaged from, not where Lambda will find it', () => {
    mkdirSync(join(root, '.vigil'), { recursive: true });
    const directory = mkdtempSync(join(root, '.vigil', 'ca-'));
    try {
      writeFileSync(join(directory, 'ca.pem'), 'not a certificate\n');
      const inTask = `/var/task/${relative(root, join(directory, 'ca.pem'))}`;
      expect(checkTemplateEnvironments(environments({ provider: { DATABASE_SSL_CA_FILE: inTask } })).problems).toEqual([
        'databaseSslCaFile: DATABASE_SSL_CA_FILE: holds no PEM certificate (alerts, probe, cacheEfficiency, rollbackDecision, partitionMaintenance, backup, report would fail at cold start)',
      ]);
      writeFileSync(join(directory, 'ca.pem'), `${rootCertificates[0]}\n`);
      expect(checkTemplateEnvironments(environments({ provider: { DATABASE_SSL_CA_FILE: inTask } })).problems).toEqual([]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
