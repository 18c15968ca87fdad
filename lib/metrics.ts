import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as MetricUnitType } from '@aws-lambda-powertools/metrics/types';

/** CloudWatch namespace of every Vigil metric; the IAM condition on PutMetricData uses it too. */
export const metricsNamespace = 'Vigil';

/** The service dimension Powertools adds to every metric (the freshness alarm selects on it). */
const serviceName = 'vigil';

/** Embedded Metric Format on stdout: CloudWatch extracts the metrics from the log, no API call. */
export const metrics = new Metrics({ namespace: metricsNamespace, serviceName });

export { MetricUnit };

/** One metric as emitted, for a process whose logs CloudWatch does not read as EMF (a Fargate task). */
export interface EmittedMetric {
  dimensions: Record<string, string>;
  name: string;
  unit: MetricUnitType;
  value: number;
  at: Date;
}

/** Only a process that publishes its metrics itself keeps them; a Lambda container never does. */
let recorded: EmittedMetric[] | undefined;

/**
 * From now on, keep every metric this process emits (the service dimension included, as EMF
 * carries it); the returned function reads them.
 */
export function recordEmittedMetrics(): () => readonly EmittedMetric[] {
  const kept: EmittedMetric[] = [];
  recorded = kept;
  return () => kept;
}

/**
 * One metric with its own dimensions (a target, a table), flushed at once. Powertools' single
 * metric flushes on every addMetric and forgets its dimensions then, so each value gets its own.
 */
export function emitMetric(dimensions: Record<string, string>, name: string, unit: MetricUnitType, value: number): void {
  const metric = metrics.singleMetric();
  for (const [dimension, dimensionValue] of Object.entries(dimensions)) metric.addDimension(dimension, dimensionValue);
  metric.addMetric(name, unit, value);
  recorded?.push({ dimensions: { service: serviceName, ...dimensions }, name, unit, value, at: new Date() });
}
