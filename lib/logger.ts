import { Logger } from '@aws-lambda-powertools/logger';

/** JSON logs with the Lambda context; level from POWERTOOLS_LOG_LEVEL (Powertools reads it). */
export const logger = new Logger({ serviceName: 'vigil' });
