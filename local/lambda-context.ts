import type { Context } from 'aws-lambda';
import { contextUntil } from '../lib/deadline';

/** A Lambda context for running a handler in this process, with the function's timeout as its deadline. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memorySize: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `vigil-local-${functionName}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:vigil-local-${functionName}`,
    memoryLimitInMB: String(memorySize),
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/vigil-local-${functionName}`,
    logStreamName: 'local',
    ...contextUntil(Date.now() + timeoutSeconds * 1000),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
