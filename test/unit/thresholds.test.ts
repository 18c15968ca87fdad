import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { loadThresholds } from '../../lib/load-thresholds';
import { defaultThresholds, resolveThresholds } from '../../lib/thresholds';

describe('thresholds', () => {
  it('carries the figures of the source documents', () => {
    expect(defaultThresholds.dashboard).toMatchObject({
      baselineLoadMs: 4000,
      targetLoadMs: 1000,
      goalLoadMs: 800,
      targetLoadReductionPercent: 80,
      legacyApiCalls: 8,
      targetApiCalls: 1,
      targetApiCallReductionPercent: 87.5,
    });
    expect(defaultThresholds.rollback.immediate).toEqual({
      errorRatePercent: 5,
      avgResponseMs: 10000,
      cacheFailurePercent: 50,
      complaintsPerHour: 10,
      newPageSuccessBelowPercent: 50,
    });
    expect(defaultThresholds.rollback.tiers).toEqual({ coreBrokenPercent: 50, inaccessibleErrorRatePercent: 100 });
    expect(defaultThresholds.backup).toEqual({ staleAfterHours: 48, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 });
  });

  it('keeps the API-call reduction target consistent with the call counts', () => {
    const { legacyApiCalls, targetApiCalls, targetApiCallReductionPercent } = defaultThresholds.dashboard;
    expect((1 - targetApiCalls / legacyApiCalls) * 100).toBe(targetApiCallReductionPercent);
  });

  it('applies layers in order, the later winning', () => {
    const { thresholds, problems } = resolveThresholds([
      { source: 'ssm', overrides: { quality: { errorRateAlertPercent: 4, slowResponseMs: 800 } } },
      { source: 'env', overrides: { quality: { errorRateAlertPercent: 3 } } },
    ]);
    expect(problems).toEqual([]);
    expect(thresholds.quality).toMatchObject({ errorRateAlertPercent: 3, slowResponseMs: 800, errorRateTargetPercent: 0.1 });
    expect(defaultThresholds.quality.errorRateAlertPercent).toBe(5);
  });

  it('refuses an override that breaks the order of the rollback levels', () => {
    const { problems } = resolveThresholds([{ source: 'env', overrides: { rollback: { staged: { errorRatePercent: 7 } } } }]);
    expect(problems).toEqual([
      { variable: 'env', message: expect.stringContaining('rollback.*.errorRatePercent must increase') },
    ]);
  });

  it('refuses a percentage above 100', () => {
    const { problems } = resolveThresholds([{ source: 'env', overrides: { cache: { targetHitRatioPercent: 185 } } }]);
    expect(problems[0]?.message).toContain('cache.targetHitRatioPercent is a percentage');
  });

  it('reads the SSM parameter under the environment override', async () => {
    const section = loadConfig(['thresholds'], {
      VIGIL_THRESHOLDS_SSM_PARAMETER: '/vigil/prod/thresholds',
      VIGIL_THRESHOLDS: '{"cache":{"targetHitRatioPercent":88}}',
    }).thresholds;
    const asked: string[] = [];
    const thresholds = await loadThresholds(section, async (name) => {
      asked.push(name);
      return '{"cache":{"targetHitRatioPercent":90,"largePayloadKb":250}}';
    });
    expect(asked).toEqual(['/vigil/prod/thresholds']);
    expect(thresholds.cache.targetHitRatioPercent).toBe(88);
    expect(thresholds.cache.largePayloadKb).toBe(250);
  });

  it('names the SSM parameter when its value is bad', async () => {
    const section = loadConfig(['thresholds'], { VIGIL_THRESHOLDS_SSM_PARAMETER: '/vigil/prod/thresholds' }).thresholds;
    await expect(loadThresholds(section, async () => '{"backup":{"keepDaily":"seven"}}')).rejects.toThrow(
      /VIGIL_THRESHOLDS_SSM_PARAMETER \(\/vigil\/prod\/thresholds\): backup\.keepDaily/,
    );
    await expect(loadThresholds(section, async () => 'nope')).rejects.toBeInstanceOf(ConfigError);
  });

  it('makes no call when no SSM parameter is configured', async () => {
    const section = loadConfig(['thresholds'], {}).thresholds;
    const thresholds = await loadThresholds(section, async () => {
      throw new Error('must not be called');
    });
    expect(thresholds).toEqual(defaultThresholds);
  });
});
