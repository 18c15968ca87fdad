import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { type Config, loadConfig } from '../../lib/config';
import { errorMessage } from '../../lib/errors';
import { isHttpEvent } from '../../lib/http';
import { isScheduledEvent } from '../../lib/slots';
import type { Invocation } from './sandbox';
import type { PackagedFunction, Template } from './template';

/*
 * What the rehearsal holds a packaged function to: before it runs (runtime, timeouts, what its
 * environment carries) and after each invocation (what its answer must say for that event).
 */

export interface CheckResult {
  function: string;
  /** The check's name (`layer`, `invoke`, `grants`, ...); the field keeps the name the rehearsal's tests read. */
  step: string;
  event?: string;
  ok: boolean;
  detail: string;
}

const preflight = createRequire(import.meta.url)('../../deploy/preflight.cjs') as {
  urlsIn(text: string): string[];
  credentialsIn(url: string): string | undefined;
};

/** The template's runtime and the Node that runs the rehearsal are the deploy runtime's. */
export function runtimeProblem(fn: PackagedFunction, lambdaRuntime: string, nodeVersion: string): string | undefined {
  if (fn.runtime !== lambdaRuntime) return `runs on ${fn.runtime}, while deploy/runtime.json says ${lambdaRuntime}`;
  const major = lambdaRuntime.replace(/\D/g, '');
  if (nodeVersion.split('.')[0] !== major) return `rehearsed on Node ${nodeVersion}, not the ${lambdaRuntime} major`;
  return undefined;
}

/**
 * The statement timeout the function would configure (its template environment through Vigil's
 * own configuration loader, defaults included) must leave it time to answer within its Lambda
 * timeout; so must the lock timeout.
 */
export function timeoutProblem(fn: PackagedFunction): string | undefined {
  // Only the timing variables matter here; the CA file exists inside the sandbox, not on the host.
  const { DATABASE_SSL_CA_FILE: _ca, ...environment } = fn.environment;
  let database: Config['database'];
  try {
    database = loadConfig(['database'], environment).database;
  } catch (error) {
    return `its database configuration does not load: ${errorMessage(error)}`;
  }
  const timeoutMs = fn.timeoutSeconds * 1000;
  if (database.statementTimeoutMs >= timeoutMs) {
    return `statement timeout ${database.statementTimeoutMs} ms is not below the Lambda timeout of ${fn.timeoutSeconds} s: a slow query would be killed with the invocation, unrecorded and unalerted`;
  }
  if (database.lockTimeoutMs >= database.statementTimeoutMs) {
    return `lock timeout ${database.lockTimeoutMs} ms is not below the statement timeout ${database.statementTimeoutMs} ms`;
  }
  return undefined;
}

/** Credentials the template would carry in plain text. */
export function environmentProblems(fn: PackagedFunction): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(fn.environment)) {
    if (/DATABASE_URL$/.test(name)) problems.push(`${name} is set: a database URL in the template carries its password`);
    for (const url of preflight.urlsIn(value)) {
      const why = preflight.credentialsIn(url);
      if (why) problems.push(`${name} holds ${why}`);
    }
  }
  return problems;
}

/** The backup function reaches its tools where the layer puts them. */
export function layerProblem(fn: PackagedFunction): string | undefined {
  const tools = [fn.environment.PG_DUMP_PATH, fn.environment.PG_RESTORE_PATH].filter(Boolean) as string[];
  if (tools.length === 0) return undefined;
  if (fn.layers.length === 0) return `uses ${tools.join(', ')} but has no layer`;
  const outside = tools.filter((tool) => !tool.startsWith('/opt/bin/'));
  if (outside.length > 0) return `${outside.join(', ')} is not where a layer puts tools (/opt/bin)`;
  return undefined;
}

/** The role's grants of `action`, as resource patterns evaluated against the local stack. */
export function grantedResources(
  template: Template,
  fn: PackagedFunction,
  action: string,
  evaluate: (value: unknown) => unknown,
) {
  const role = fn.roleLogicalId ? template.Resources[fn.roleLogicalId] : undefined;
  const policies = (role?.Properties.Policies ?? []) as Array<{
    PolicyDocument: { Statement: Array<{ Effect: string; Action: string | string[]; Resource: unknown }> };
  }>;
  return policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => statement.Effect === 'Allow' && [statement.Action].flat().includes(action))
    .flatMap((statement) => [evaluate(statement.Resource)].flat().map(String));
}

/** IAM's wildcards: `*` any run of characters, `?` exactly one. */
export function arnMatches(pattern: string, arn: string): boolean {
  const expression = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${expression}$`).test(arn);
}

/**
 * A sample scheduled event as EventBridge delivers each firing of a schedule: a slot of its own
 * (the scheduled time, now) and an id of its own. The sample's fixed time would make every later
 * delivery a duplicate of the first (lib/slots.ts).
 */
export function asScheduledNow(event: unknown, now = new Date()): unknown {
  if (!isScheduledEvent(event)) return event;
  return { ...event, id: randomUUID(), time: now.toISOString().replace(/\.\d+Z$/, 'Z') };
}

/** The event as API Gateway hands it over once the route's IAM authorizer has verified the SigV4 signature. */
export function asDeliveredByApiGateway(event: unknown): unknown {
  if (!isHttpEvent(event)) return event;
  const { authorization: _bearer, Authorization: _bearer2, ...headers } = (event.headers ?? {}) as Record<string, string>;
  return {
    ...event,
    headers: { ...headers, 'x-amz-date': '20261202T000000Z' },
    requestContext: {
      ...event.requestContext,
      authorizer: {
        iam: {
          accessKey: 'AKIAREHEARSALOPERATOR',
          accountId: '000000000000',
          callerId: 'AIDAREHEARSALOPERATOR',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:iam::000000000000:user/rehearsal-operator',
          userId: 'AIDAREHEARSALOPERATOR',
        },
      },
    },
  };
}

type Result = Record<string, unknown> | null | undefined;

/** What a successful answer to each sample event must say, beyond the handler not failing. */
export function answerProblem(
  functionName: string,
  eventFile: string,
  event: unknown,
  invocation: Invocation,
): string | undefined {
  if (invocation.status !== 'ok') {
    const where = invocation.phase === 'init' ? 'at cold start' : invocation.status === 'timeout' ? 'timed out' : 'failed';
    return `${where}: ${invocation.errorType ?? ''} ${invocation.errorMessage ?? ''}`.trim();
  }
  const result = invocation.result as Result;
  if (isHttpEvent(event)) {
    const status = Number(result?.statusCode);
    return status >= 200 && status < 300 ? undefined : `answered ${status}: ${String(result?.body ?? '').slice(0, 300)}`;
  }
  switch (functionName) {
    case 'alerts': {
      const outcomes = result?.outcomes as Array<{ action: string; messageId?: string }> | undefined;
      if (!Array.isArray(outcomes) || outcomes.length === 0) return 'handled the alarm change with no alert outcome';
      const unsent = outcomes.filter((outcome) => outcome.action === 'sent' && !outcome.messageId);
      return unsent.length > 0 ? 'reported an alert sent without an SNS message id' : undefined;
    }
    case 'backup': {
      if (eventFile.includes('verify-restore')) {
        const check = result?.restoreCheck as { outcome?: string; failure?: string } | undefined;
        return check?.outcome === 'succeeded' ? undefined : `restore check ${check?.outcome}: ${check?.failure}`;
      }
      const backup = result?.backup as { outcome?: string; manifest?: { sizeBytes?: number } } | undefined;
      if (backup?.outcome !== 'succeeded') return `backup ${backup?.outcome}`;
      return backup.manifest?.sizeBytes ? undefined : 'succeeded without a manifest';
    }
    case 'probe': {
      const summaries = result?.summaries as Array<{ name: string; successPercent: number }> | undefined;
      if (!summaries?.length) return 'measured nothing';
      const failing = summaries.filter((summary) => !(summary.successPercent > 0));
      return failing.length > 0 ? `no successful sample of ${failing.map((summary) => summary.name).join(', ')}` : undefined;
    }
    case 'partitionMaintenance': {
      const tables = result?.tables as Array<{ table: string; error?: string }> | undefined;
      return tables?.length ? undefined : 'maintained no table';
    }
    case 'rollbackDecision':
      return typeof result?.action === 'string' ? undefined : 'answered without an action';
    case 'cacheEfficiency':
      return Array.isArray(result?.windows) || result?.skipped ? undefined : 'measured no window';
    default:
      return undefined;
  }
}

/** Error-level lines a function logged during an invocation. */
export function errorLogLines(logs: string): string[] {
  return logs.split('\n').filter((line) => /"level":"(ERROR|CRITICAL)"/.test(line));
}

/** The first error the function logged, in a few words: what a 500's generic body leaves out. */
export function firstLoggedError(logs: string): string | undefined {
  const line = errorLogLines(logs)[0];
  if (!line) return undefined;
  try {
    const entry = JSON.parse(line) as { message?: string; error?: { message?: string; name?: string } };
    return [entry.message, entry.error?.message].filter(Boolean).join(': ').slice(0, 400);
  } catch {
    return line.slice(0, 400);
  }
}
