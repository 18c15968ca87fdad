import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import { createError } from '@middy/util';
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import type * as z from 'zod';
import { errorMessage } from './errors';
import { errorSummary, logger } from './logger';
import { redact, redactDeep } from './redact';

export type HttpEvent = APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithIAMAuthorizer;

/** An API Gateway HTTP API (payload 2.0) event, as opposed to a schedule or EventBridge event. */
export function isHttpEvent(event: unknown): event is HttpEvent {
  const context = (event as { requestContext?: { http?: unknown } } | null)?.requestContext;
  return typeof context?.http === 'object' && context.http !== null;
}

/**
 * A client error for http-error-handler, with response headers: middy's createError takes its third
 * argument as Error options and drops `headers`, so they are set on the error itself.
 */
export function httpError(statusCode: number, body: unknown, headers?: Record<string, string>) {
  return Object.assign(createError(statusCode, JSON.stringify(body)), headers ? { headers } : {});
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who called: the IAM principal API Gateway verified, or the local bearer token. */
export function callerOf(event: HttpEvent): string {
  const iam = (event as APIGatewayProxyEventV2WithIAMAuthorizer).requestContext.authorizer?.iam;
  return iam?.userArn ?? iam?.userId ?? 'local bearer token';
}

/**
 * Authenticated routes only. In AWS the route's IAM authorizer has verified the SigV4 signature
 * before the function runs (requestContext.authorizer.iam); locally, where nothing stands in front,
 * a bearer token from configuration (VIGIL_API_TOKEN) is required. Neither present: 401.
 */
export function authenticate(options: { apiToken?: string }): MiddlewareObj<HttpEvent> {
  return {
    before: async (request) => {
      const event = request.event as APIGatewayProxyEventV2WithIAMAuthorizer;
      if (event.requestContext.authorizer?.iam) return;
      const header = event.headers?.authorization ?? event.headers?.Authorization ?? '';
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      if (options.apiToken && token && sameToken(token, options.apiToken)) return;
      throw httpError(
        401,
        { error: 'authentication required: IAM (SigV4) in AWS, a bearer token locally' },
        { 'WWW-Authenticate': 'Bearer' },
      );
    },
  };
}

/** What a 400 echoes of the caller's own text is capped: a 16 KB body never makes a 64 KB answer or log line. */
const maxEchoedProblems = 20;
const maxEchoedKeys = 10;

/**
 * A caller's text as an answer quotes it: control and bidirectional-override characters escaped
 * (a key cannot reorder or hide the answer's text), cut to `maxCharacters`.
 */
export function echoed(text: string, maxCharacters = 64): string {
  const characters = Array.from(text);
  const cut = characters.length > maxCharacters ? `${characters.slice(0, maxCharacters).join('')}...` : text;
  return cut.replace(
    /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (character) => `\\u{${(character.codePointAt(0) as number).toString(16)}}`,
  );
}

/** The JSON body parsed and validated; a 400 that names each bad field otherwise. */
export function parseJsonBody<Schema extends z.ZodType>(
  event: HttpEvent,
  schema: Schema,
  options: { maxBytes?: number } = {},
): z.output<Schema> {
  const maxBytes = options.maxBytes ?? 16 * 1024;
  const raw =
    event.body === undefined || event.body === ''
      ? '{}'
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  if (Buffer.byteLength(raw) > maxBytes) throw httpError(413, { error: `body is larger than ${maxBytes} bytes` });
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw httpError(400, { error: redact(`body is not JSON: ${errorMessage(error)}`) });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const problems = issues.slice(0, maxEchoedProblems).map((issue) => {
      const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const shownKeys = unknownKeys.slice(0, maxEchoedKeys).map((key) => echoed(key));
      const more = unknownKeys.length > maxEchoedKeys ? `,... (${unknownKeys.length - maxEchoedKeys} more)` : '';
      const field =
        [...issue.path.map((part) => echoed(String(part))), ...(shownKeys.length ? [`${shownKeys.join(',')}${more}`] : [])].join(
          '.',
        ) || '(body)';
      const message =
        issue.code === 'unrecognized_keys' ? `unknown field${unknownKeys.length === 1 ? '' : 's'}` : echoed(issue.message, 200);
      return { field, message };
    });
    if (issues.length > maxEchoedProblems)
      problems.push({ field: '(body)', message: `${issues.length - maxEchoedProblems} more problems not listed` });
    throw httpError(
      400,
      redactDeep({
        error: `invalid body: ${problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ')}`,
        problems,
      }),
    );
  }
  return parsed.data;
}

/** A JSON answer; every string in it redacted, so an error quoted in a reason cannot hand out a credential. */
export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}) {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(redactDeep(body)) };
}

/**
 * Whether an error says the database could not be reached or did not answer in time: the pool's
 * connect timeout, the client's query timeout, a refused or dropped connection, a statement the
 * server cancelled (57014) or a server shutting down (57P01-57P03, 08xxx).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (/^08/.test(code) || /^57(014|P0[1-3])$/.test(code))) return true;
    if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
    if (/Query read timeout|timeout exceeded when trying to connect|Connection terminated/i.test(current.message)) return true;
  }
  return false;
}

/**
 * The error handling of every HTTP route, in one middleware: a database that cannot be reached is
 * a 503 that says so (with Retry-After), a client's mistake keeps its 4xx, anything else is a 500
 * whose detail is only in the log.
 */
export function httpErrors(): MiddlewareObj<HttpEvent> {
  const handler = httpErrorHandler({ logger: logHttpError, fallbackMessage: JSON.stringify({ error: 'internal error' }) });
  return {
    onError: async (request) => {
      if (isDatabaseUnavailable(request.error)) {
        logger.error('database unavailable', { error: errorSummary(request.error) });
        // expose: a 5xx is hidden behind the fallback message unless it says it may be shown.
        request.error = Object.assign(
          httpError(
            503,
            { error: 'the database cannot be reached or did not answer in time; try again in a minute' },
            { 'retry-after': '60' },
          ),
          { expose: true },
        );
      }
      return handler.onError?.(request as never);
    },
  };
}

/** For http-error-handler: a client's mistake is information, a server fault is an error. */
export function logHttpError(error: unknown): void {
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status < 500) logger.info('request refused', { statusCode: status, reason: errorMessage(error) });
  else logger.error('request failed', { error: errorSummary(error) });
}
