import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './migrate';

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
