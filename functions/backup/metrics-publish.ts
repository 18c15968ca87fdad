import { type CloudWatchClient, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { type EmittedMetric, metricsNamespace } from '../../lib/metrics';

/** PutMetricData takes at most 1,000 metrics (and 1 MB) a call. */
export const metricsPerCall = 1000;

/**
 * The backup's metrics by PutMetricData, for the Fargate task: the awslogs driver does not mark
 * its log lines as EMF, so CloudWatch would not extract them and the freshness alarm would see
 * nothing. Same namespace, names, units and dimensions (service=vigil included) as the EMF lines.
 */
export async function publishMetrics(cloudWatch: CloudWatchClient, emitted: readonly EmittedMetric[]): Promise<number> {
  for (let start = 0; start < emitted.length; start += metricsPerCall) {
    await cloudWatch.send(
      new PutMetricDataCommand({
        Namespace: metricsNamespace,
        MetricData: emitted.slice(start, start + metricsPerCall).map((metric) => ({
          MetricName: metric.name,
          Unit: metric.unit as StandardUnit,
          Value: metric.value,
          Timestamp: metric.at,
          Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
        })),
      }),
    );
  }
  return emitted.length;
}
