import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths';

/** Where `npm start` keeps its state, and what it writes there for other local commands. */
export const localStateDir = process.env.VIGIL_LOCAL_DIR ?? join(projectRoot, '.vigil');

export interface StackInfo {
  startedAt: string;
  pid: number;
  databaseUrl: string;
  s3Endpoint: string;
  snsEndpoint: string;
  alertTopicArn: string;
  backupBucket: string;
  demoAppUrl: string;
  demoAdminToken: string;
  demoUserToken: string;
  /** Base URL of the functions' HTTP routes (serverless-offline), when any function has one. */
  functionsUrl?: string;
  /** Bearer token the HTTP routes require locally (IAM stands in front of them in AWS). */
  apiToken: string;
  outboxFile: string;
}

export const stackInfoFile = join(localStateDir, 'stack.json');

/** The running local stack, as `npm start` described it; undefined when none is running. */
export function readStackInfo(): StackInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(stackInfoFile, 'utf8')) as StackInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

/** The variables a handler run by hand needs to talk to the running `npm start` (explicit ones win). */
export function localStackEnvironment(stack: StackInfo): Record<string, string> {
  return {
    DATABASE_URL: stack.databaseUrl,
    AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
    AWS_ENDPOINT_URL_SNS: stack.snsEndpoint,
    AWS_ACCESS_KEY_ID: 'vigil-local',
    AWS_SECRET_ACCESS_KEY: 'vigil-local',
    AWS_REGION: 'us-east-1',
    VIGIL_ALERT_TOPIC_ARN: stack.alertTopicArn,
    VIGIL_API_TOKEN: stack.apiToken,
    BACKUP_BUCKET: stack.backupBucket,
    REPORT_BUCKET: stack.backupBucket,
    VIGIL_DEMO_APP_URL: stack.demoAppUrl,
    ROLLBACK_WINDOW_MINUTES: '2',
    PARTITION_TABLES: JSON.stringify(
      ['api_performance_log', 'query_performance_log', 'system_resource_metrics', 'vigil.probe_results'].map((table) => ({
        table,
        retention: 12,
        adopt: true,
      })),
    ),
    CACHE_COUNTERS_QUERY: "SELECT hits, misses, errors, started_at FROM cache_counters WHERE cache_name = 'user_performance'",
    ROLLBACK_ADOPTION_QUERY:
      'SELECT 100.0 * count(*) FILTER (WHERE uses_new_dashboard) / nullif(count(*), 0) AS value, count(*) AS sample_count FROM users',
    ROLLBACK_COMPLAINTS_QUERY:
      "SELECT count(*) AS value FROM support_tickets WHERE category = 'performance' AND created_at > now() - interval '1 hour'",
  };
}
