import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { rollbackConfig } from '../../../functions/rollback-decision/config';
import { requestSignalsFromCloudWatch } from '../../../functions/rollback-decision/signals';
import { loadConfig } from '../../../lib/config';
import type { Database } from '../../../lib/db';

const cloudWatchMock = mockClient(CloudWatchClient);
const api = (metricName: string, stat: string) => ({
  namespace: 'AWS/ApiGateway',
  metricName,
  dimensions: { ApiId: 'abc123' },
  stat,
});
const config = loadConfig([rollbackConfig], {
  ROLLBACK_REQUESTS_SOURCE: 'cloudwatch',
  ROLLBACK_CLOUDWATCH_QUERIES: JSON.stringify({
    requests: api('Count', 'Sum'),
    errors: api('5xx', 'Sum'),
    latencyAverage: api('Latency', 'Average'),
    latencyP95: api('Latency', 'p95'),
  }),
}).rollback;
const now = new Date('2026-11-22T04:00:00Z');
const sources = () => ({ db: {} as Database, cloudWatch: new CloudWatchClient({}), config, now, confidencePercent: 95 });

describe('rollback signals from CloudWatch', () => {
  afterEach(() => cloudWatchMock.reset());

  it('asks GetMetricData for the window and turns the sums into an error rate', async () => {
    cloudWatchMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'requests', Values: [1200] },
        { Id: 'errors', Values: [36] },
        { Id: 'latency', Values: [412.5] },
        { Id: 'latencyp95', Values: [980] },
      ],
    });
    const [errorRate, response] = await requestSignalsFromCloudWatch(sources());
    expect(errorRate).toMatchObject({
      name: 'errorRatePercent',
      value: 3,
      sampleCount: 1200,
      source: 'CloudWatch GetMetricData',
      window: 'last 15 min',
    });
    expect(response).toMatchObject({ name: 'avgResponseMs', value: 412.5, details: { p95Ms: 980 } });
    const input = cloudWatchMock.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(input?.StartTime).toEqual(new Date('2026-11-22T03:45:00Z'));
    expect(input?.EndTime).toEqual(now);
    expect(input?.MetricDataQueries?.[1]).toEqual({
      Id: 'errors',
      MetricStat: {
        Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: [{ Name: 'ApiId', Value: 'abc123' }] },
        Period: 900,
        Stat: 'Sum',
      },
    });
  });

  it('has no data, not 0 %, when no requests were counted', async () => {
    cloudWatchMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'requests', Values: [] },
        { Id: 'errors', Values: [] },
      ],
    });
    const [errorRate] = await requestSignalsFromCloudWatch(sources());
    expect(errorRate).toMatchObject({ value: null, reason: 'no datapoints for Count in the last 15 min' });
  });

  it('needs the queries when CloudWatch is the source', () => {
    expect(() => loadConfig([rollbackConfig], { ROLLBACK_REQUESTS_SOURCE: 'cloudwatch' })).toThrow(
      'ROLLBACK_CLOUDWATCH_QUERIES: is required when ROLLBACK_REQUESTS_SOURCE=cloudwatch',
    );
  });
});
