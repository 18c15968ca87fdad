import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';
import { redact, redactDeep } from './redact';

type UnformattedAttributes = Parameters<LogFormatter['formatAttributes']>[0];

/**
 * Powertools' standard JSON log line, with every string in it (the message, errors, attributes)
 * passed through the redaction an alert gets: a credential in an error message never reaches
 * CloudWatch Logs.
 */
class RedactingLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const additional: LogAttributes = {};
    for (const [key, value] of Object.entries(additionalLogAttributes)) {
      additional[key] = redactDeep(value instanceof Error ? this.formatError(value) : value);
    }
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: redact(attributes.message),
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        cold_start: attributes.lambdaContext?.coldStart,
        function_arn: attributes.lambdaContext?.invokedFunctionArn,
        function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
        function_name: attributes.lambdaContext?.functionName,
        function_request_id: attributes.lambdaContext?.awsRequestId,
        sampling_rate: attributes.sampleRateValue,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additional);
  }
}

/** JSON logs with the Lambda context, redacted; level from POWERTOOLS_LOG_LEVEL (Powertools reads it). */
export const logger = new Logger({ serviceName: 'vigil', logFormatter: new RedactingLogFormatter() });

/**
 * The parts of an error worth a log line. Some libraries hang whole objects on their errors (pg
 * puts the client, with its connection parameters, on idle-connection errors); those stay out.
 */
export function errorSummary(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, severity } = error as Error & { code?: unknown; severity?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof severity === 'string' ? { severity } : {}),
    stack: error.stack,
    ...(error.cause !== undefined ? { cause: errorSummary(error.cause) } : {}),
  };
}
