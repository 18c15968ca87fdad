import { Logger } from '@aws-lambda-powertools/logger';

/** JSON logs with the Lambda context; level from POWERTOOLS_LOG_LEVEL (Powertools reads it). */
export const logger = new Logger({ serviceName: 'vigil' });

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
