import type { Context } from 'aws-lambda';

/** A Lambda context for running a handler in this process, with the function's timeout as its deadline. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memorySize: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `vigil-local-${functionName}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:vigil-local-${functionName}`,
    memoryLimitInMB: String(memorySize),
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/vigil-local-${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
