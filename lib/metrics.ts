import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** CloudWatch namespace of every Vigil metric; the IAM condition on PutMetricData uses it too. */
export const metricsNamespace = 'Vigil';

/** Embedded Metric Format on stdout: CloudWatch extracts the metrics from the log, no API call. */
export const metrics = new Metrics({ namespace: metricsNamespace, serviceName: 'vigil' });

export { MetricUnit };
