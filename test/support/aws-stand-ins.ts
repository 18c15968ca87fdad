import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signerFor } from '../../local/signed-request';

/*
 * What a deployed stage answers an operator's command with, played on 127.0.0.1: an HTTP API behind
 * API Gateway's IAM authorizer (a request counts only when its SigV4 signature, recomputed with the
 * caller's secret, matches), and CloudFormation's DescribeStacks giving a stack's outputs.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SeenRequest {
  method: string;
  path: string;
  verified: boolean;
}

export interface StandIn {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closer = (server: Server) => () => new Promise<void>((resolve) => server.close(() => resolve()));

/** `20261205T102113Z` as a Date. */
function amzDate(value: string): Date {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(value) ?? [];
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

/**
 * Whether a request to execute-api carries a SigV4 signature that the caller's secret reproduces:
 * the signature recomputed over the headers the request says it signed, at the time it says it
 * signed them, and compared whole.
 */
async function signedByCaller(request: IncomingMessage, body: string, region: string, credentials: Credentials) {
  const authorization = request.headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const date = request.headers['x-amz-date'];
  if (
    !authorization.includes(`Credential=${credentials.accessKeyId}/`) ||
    signedHeaders.length === 0 ||
    typeof date !== 'string'
  ) {
    return false;
  }
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const [hostname, port] = String(request.headers.host).split(':');
  const expected = await signerFor(region, credentials).sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: hostname as string,
      ...(port ? { port: Number(port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name] ?? '')])),
      ...(body ? { body } : {}),
    },
    { signingDate: amzDate(date) },
  );
  return authorization === expected.headers.authorization;
}

/**
 * An HTTP API whose every route is IAM-authorized, as API Gateway runs it: a request signed with
 * `credentials` (SigV4, execute-api, `region`) reaches its route's answer; any other gets 403, as
 * the authorizer answers, and a route not in `routes` 404.
 */
export async function startSignedApiStandIn(options: {
  region: string;
  credentials: Credentials;
  routes: Record<string, (body: string) => Promise<{ status: number; body: string }>>;
}): Promise<StandIn> {
  const requests: SeenRequest[] = [];
  const server = createServer(async (request, response) => {
    const body = await bodyOf(request);
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const verified = await signedByCaller(request, body, options.region, options.credentials);
    requests.push({ method: request.method ?? '', path, verified });
    const json = (status: number, text: string) => response.writeHead(status, { 'content-type': 'application/json' }).end(text);
    if (!verified) return json(403, '{"message":"Forbidden"}');
    const route = options.routes[`${request.method} ${path}`];
    if (!route) return json(404, '{"message":"Not Found"}');
    try {
      const answer = await route(body);
      json(answer.status, answer.body);
    } catch (error) {
      json(500, JSON.stringify({ message: (error as Error).message }));
    }
  });
  return { url: await listen(server), requests, close: closer(server) };
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * CloudFormation's DescribeStacks (the query protocol the SDK speaks) for the stacks given, with
 * their outputs; any other stack does not exist, as CloudFormation says it. Every request must be
 * signed with `credentials`' key (the signature itself is the HTTP API's stand-in's to check).
 */
export async function startCloudFormationStandIn(options: {
  credentials: Credentials;
  stacks: Record<string, Record<string, string>>;
}): Promise<StandIn> {
  const requests: SeenRequest[] = [];
  const server = createServer(async (request, response) => {
    const form = new URLSearchParams(await bodyOf(request));
    const verified = (request.headers.authorization ?? '').includes(`Credential=${options.credentials.accessKeyId}/`);
    requests.push({ method: request.method ?? '', path: `${form.get('Action')} ${form.get('StackName')}`, verified });
    const xml = (status: number, text: string) => response.writeHead(status, { 'content-type': 'text/xml' }).end(text);
    const name = form.get('StackName') ?? '';
    const outputs = options.stacks[name];
    if (!verified || form.get('Action') !== 'DescribeStacks' || !outputs) {
      const message = verified ? `Stack with id ${name} does not exist` : 'The security token included in the request is invalid';
      return xml(
        400,
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${escapeXml(message)}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>`,
      );
    }
    const members = Object.entries(outputs)
      .map(
        ([key, value]) =>
          `<member><OutputKey>${escapeXml(key)}</OutputKey><OutputValue>${escapeXml(value)}</OutputValue></member>`,
      )
      .join('');
    xml(
      200,
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${escapeXml(name)}</StackName><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${escapeXml(name)}/stand-in</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    );
  });
  return { url: await listen(server), requests, close: closer(server) };
}

/** Every AWS endpoint no stand-in plays: each request is refused, so nothing a command sends goes further. */
export async function startRefusingEndpoint(): Promise<StandIn> {
  const requests: SeenRequest[] = [];
  const server = createServer((request, response) => {
    requests.push({ method: request.method ?? '', path: request.url ?? '', verified: false });
    response.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"no AWS here"}');
  });
  return { url: await listen(server), requests, close: closer(server) };
}
