import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricDatum {
  MetricName: string;
  Value: number;
  Unit: string;
  Dimensions: Array<{ Name: string; Value: string }>;
}

export interface CloudWatchStandIn {
  endpoint: string;
  /** Every PutMetricData received, as sent. */
  calls: Array<{ Namespace: string; MetricData: MetricDatum[] }>;
  stop(): Promise<void>;
}

/**
 * CloudWatch has no local server: this answers PutMetricData (JSON 1.0, as the AWS SDK v3 speaks
 * it) and records it, for a process that publishes its metrics itself (the backup task). Any other
 * operation is refused, so nothing silently passes for CloudWatch.
 */
export async function startCloudWatchStandIn(): Promise<CloudWatchStandIn> {
  const calls: CloudWatchStandIn['calls'] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.headers['x-amz-target'] !== 'GraniteServiceVersion20100801.PutMetricData') {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ __type: 'UnknownOperationException', message: 'only PutMetricData is offered here' }));
      return;
    }
    calls.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The data points of `calls` a CloudWatch alarm on this metric and these dimensions (exactly) sees. */
export function seenByAlarm(
  calls: CloudWatchStandIn['calls'],
  alarm: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: string }> },
): MetricDatum[] {
  const key = (dimensions: Array<{ Name: string; Value: string }>) =>
    JSON.stringify([...dimensions].sort((a, b) => a.Name.localeCompare(b.Name)));
  return calls
    .filter((call) => call.Namespace === alarm.Namespace)
    .flatMap((call) => call.MetricData)
    .filter((datum) => datum.MetricName === alarm.MetricName && key(datum.Dimensions) === key(alarm.Dimensions));
}
