/*
 * Every AWS call Vigil makes is bounded, in one place for every client: a connection not made
 * within awsConnectionTimeoutMs, a socket on which nothing moves for the service's time, and (for
 * the services whose requests are small) a request not answered within that time, each fail as a
 * TimeoutError that the SDK's retry (or lib/alerts' own) treats as transient. A service that
 * accepts connections and never answers then ends in a logged error naming it, not in the
 * Lambda's timeout. S3 gets no whole-request limit: a large part may take long while it moves.
 */
export const awsConnectionTimeoutMs = 3_000;

/** Per service: SNS answers Publish in milliseconds; S3 and CloudWatch may take seconds under load. */
export const awsRequestTimeoutMs = {
  sns: 5_000,
  s3: 30_000,
  cloudWatch: 10_000,
  secretsManager: 5_000,
  ssm: 5_000,
} as const;

export function boundedRequestHandler(service: keyof typeof awsRequestTimeoutMs) {
  const timeoutMs = awsRequestTimeoutMs[service];
  return {
    connectionTimeout: awsConnectionTimeoutMs,
    socketTimeout: timeoutMs,
    ...(service === 's3' ? {} : { requestTimeout: timeoutMs, throwOnRequestTimeout: true }),
  };
}
