import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DemoReport, runDemo } from '../../local/demo';

/*
 * The whole rollout of the source documents, end to end on the local stack (`npm run demo`): the
 * demo app, real PostgreSQL, SNS and S3 from fauxqs, pg_dump, and Vigil's handlers in order.
 */
describe('npm run demo', () => {
  let report: DemoReport;
  const lines: string[] = [];
  const output = () => lines.join('\n');
  const environment = { ...process.env };

  beforeAll(async () => {
    // The demo takes a backup: a server the machine's pg_dump can dump.
    report = await runDemo({ print: (line) => lines.push(line), adminUrl: inject('pgDumpAdminUrl') });
  }, 300_000);

  afterAll(() => {
    process.env = environment;
  });

  it('measures a healthy baseline on the old page, and says why the decision is not yet "continue"', () => {
    expect(report.baseline.oldCalls).toBe(8);
    expect(report.baseline.oldP50Ms).toBeGreaterThan(0);
    // No cache window yet and no adoption: the decision says monitor, never a made-up continue.
    expect(report.baseline.decision).toBe('monitor_and_optimize');
    expect(report.alerts.baseline).toEqual([]);
  });

  it('measures the new page: 8 calls become 1, and its load time falls below the old one', () => {
    expect(report.newPage.adoptionPercent).toBe(80);
    expect(report.newPage.apiCallReductionPercent).toBe(87.5);
    expect(report.newPage.newP50Ms).toBeLessThan(report.newPage.oldP50Ms as number);
    expect(report.newPage.reductionVsOldP50Percent).toBeGreaterThan(20);
    expect(output()).toContain(`${report.newPage.apiCallReductionPercent.toFixed(1)} % fewer`);
  });

  it('warms the cache window by window until it reaches its target', () => {
    const ratios = report.cache.windows.map((window) => window.hitRatioPercent);
    expect(ratios.length).toBeGreaterThanOrEqual(2);
    expect(ratios[0]).toBeLessThan(report.cache.targetPercent);
    expect(ratios.at(-1)).toBeGreaterThanOrEqual(report.cache.targetPercent);
    for (const window of report.cache.windows) {
      expect(output()).toContain(`hit ratio ${(window.hitRatioPercent as number).toFixed(1)} %`);
    }
  });

  it('advises a staged rollback after two breaching evaluations, then an immediate one, with the alerts ops receive', () => {
    const [first, second, third] = report.spike.decisions;
    expect(first).toMatchObject({ action: 'staged_rollback' });
    expect(first?.effective).not.toBe('staged_rollback');
    expect(second).toMatchObject({ action: 'staged_rollback', effective: 'staged_rollback' });
    expect(third).toMatchObject({ action: 'immediate_rollback', effective: 'immediate_rollback', tier: 1 });
    expect(first?.errorRatePercent).toBeGreaterThan(2);
    expect(third?.errorRatePercent).toBeGreaterThan(5);
    const [staged, immediate, ...others] = report.alerts.spike;
    expect(others).toEqual([]);
    expect(staged?.attributes).toMatchObject({ severity: 'major', notification: 'firing' });
    expect(staged?.email).toContain('Staged rollback advised');
    expect(immediate?.attributes).toMatchObject({ severity: 'critical', notification: 'escalation' });
    expect(immediate?.sms).toMatch(/^VIGIL> .*Immediate rollback advised/);
    // What the operator reads is printed: the email of both, the SMS of the critical one only.
    expect(output()).toContain(`SMS   ${immediate?.sms}`);
    expect(output()).toContain('SMS   (none: major goes to email only');
  });

  it('steps down after three calm evaluations and sends the resolved message', () => {
    expect(report.recovery.decisions.at(-1)?.effective).toBe('continue_deployment');
    expect(report.recovery.decisions.every((decision) => decision.errorRatePercent === 0)).toBe(true);
    expect(report.alerts.recovery.map((alert) => alert.attributes.notification)).toEqual(['resolved']);
    expect(report.alerts.recovery[0]?.email).toContain('RESOLVED: Immediate rollback advised');
  });

  it('takes a backup that restores with every table count matching', () => {
    expect(report.backup.sizeBytes).toBeGreaterThan(0);
    expect(report.backup.tables).toBeGreaterThan(10);
    expect(report.restore).toMatchObject({ outcome: 'succeeded', mismatches: 0, tables: report.backup.tables });
    expect(report.alerts.backup).toEqual([]);
  });

  it('creates partitions ahead for every configured table', () => {
    expect(report.partitions.map((table) => table.table).sort()).toEqual([
      'api_performance_log',
      'query_performance_log',
      'system_resource_metrics',
      'vigil.probe_results',
    ]);
    for (const table of report.partitions) expect(table.futurePartitions).toBeGreaterThanOrEqual(3);
    expect(report.alerts.partitions).toEqual([]);
  });
});
