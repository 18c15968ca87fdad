import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureEmf } from '../support/emf';

type EmfDocument = { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][] }> } };

describe('metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('emits each metric as EMF with its own dimension, in the Vigil namespace', async () => {
    // Powertools keeps metrics off in dev mode (POWERTOOLS_DEV, set for the tests) unless told otherwise.
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.resetModules();
    const { emitMetric, MetricUnit } = await import('../../lib/metrics');
    const { documents } = await captureEmf(() => {
      emitMetric({ Table: 'api_performance_log' }, 'FuturePartitions', MetricUnit.Count, 3);
      emitMetric({ Table: 'query_performance_log' }, 'FuturePartitions', MetricUnit.Count, 2);
    });
    expect(documents).toHaveLength(2);
    expect(documents[0]).toMatchObject({ Table: 'api_performance_log', FuturePartitions: 3 });
    expect(documents[1]).toMatchObject({ Table: 'query_performance_log', FuturePartitions: 2 });
    expect((documents[0] as EmfDocument)._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Vigil',
      Metrics: [{ Name: 'FuturePartitions', Unit: 'Count' }],
    });
    expect((documents[0] as EmfDocument)._aws.CloudWatchMetrics[0]?.Dimensions[0]).toContain('Table');
  });
});
