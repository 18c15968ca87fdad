import { afterEach, describe, expect, it, vi } from 'vitest';

describe('metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('emits each metric as EMF with its own dimension, in the Vigil namespace', async () => {
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void capture(args.join(' ')));
    vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
    // Powertools keeps metrics off in dev mode (POWERTOOLS_DEV, set for the tests) unless told otherwise.
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.resetModules();
    const { emitMetric, MetricUnit } = await import('../../lib/metrics');
    emitMetric({ Table: 'api_performance_log' }, 'FuturePartitions', MetricUnit.Count, 3);
    emitMetric({ Table: 'query_performance_log' }, 'FuturePartitions', MetricUnit.Count, 2);
    const documents = lines.filter((line) => line.includes('CloudWatchMetrics')).map((line) => JSON.parse(line));
    expect(documents).toHaveLength(2);
    expect(documents[0]).toMatchObject({ Table: 'api_performance_log', FuturePartitions: 3 });
    expect(documents[1]).toMatchObject({ Table: 'query_performance_log', FuturePartitions: 2 });
    expect(documents[0]._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Vigil',
      Metrics: [{ Name: 'FuturePartitions', Unit: 'Count' }],
    });
    expect(documents[0]._aws.CloudWatchMetrics[0].Dimensions[0]).toContain('Table');
  });
});
