import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * Secrets Manager GetSecretValue and SSM GetParameter on 127.0.0.1, in their real wire format (AWS
 * JSON 1.1: POST /, X-Amz-Target), for the SDK clients Powertools builds when they are pointed here
 * with AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM. Every read is recorded with the
 * access key that signed it, so a caller can tell which function read what. Any other operation,
 * of any service, is refused: with AWS_ENDPOINT_URL pointing here nothing reaches AWS.
 */

export interface RecordedRead {
  service: 'secretsmanager' | 'ssm';
  /** The name or ARN the caller asked for. */
  requested: string;
  /** The ARN of what was found, undefined when nothing was. */
  arn?: string;
  accessKeyId: string;
}

export interface RunningSecrets {
  endpoint: string;
  region: string;
  account: string;
  putSecret(name: string, value: string): string;
  putParameter(name: string, value: string): string;
  reads: RecordedRead[];
  /** Requests for operations this server does not offer (anything but the two reads). */
  refused: Array<{ target: string; accessKeyId: string }>;
  stop(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function answer(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  response.end(JSON.stringify(body));
}

// Over 80 lines: a local stand-in's routes, one short handler each, sharing its state.
export async function startSecretsServer(options: { region?: string; account?: string } = {}): Promise<RunningSecrets> {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '000000000000';
  const secrets = new Map<string, { arn: string; name: string; value: string; versionId: string }>();
  const parameters = new Map<string, { arn: string; name: string; value: string }>();
  const reads: RecordedRead[] = [];
  const refused: RunningSecrets['refused'] = [];

  const server = createServer(async (request, response) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? 'unsigned';
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse((await readBody(request)) || '{}') as Record<string, unknown>;
    } catch {
      answer(response, 400, { __type: 'SerializationException', message: 'body is not JSON' });
      return;
    }
    if (target === 'secretsmanager.GetSecretValue') {
      const requested = String(body.SecretId ?? '');
      const secret = secrets.get(requested) ?? [...secrets.values()].find((entry) => entry.arn === requested);
      reads.push({ service: 'secretsmanager', requested, arn: secret?.arn, accessKeyId });
      if (!secret) {
        answer(response, 400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      answer(response, 200, {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Math.floor(Date.now() / 1000),
      });
      return;
    }
    if (target === 'AmazonSSM.GetParameter') {
      const requested = String(body.Name ?? '');
      const parameter = parameters.get(requested) ?? [...parameters.values()].find((entry) => entry.arn === requested);
      reads.push({ service: 'ssm', requested, arn: parameter?.arn, accessKeyId });
      if (!parameter) {
        answer(response, 400, { __type: 'ParameterNotFound', message: `Parameter ${requested} not found.` });
        return;
      }
      answer(response, 200, {
        Parameter: {
          Name: parameter.name,
          Type: 'SecureString',
          Value: parameter.value,
          Version: 1,
          ARN: parameter.arn,
          DataType: 'text',
          LastModifiedDate: Math.floor(Date.now() / 1000),
        },
      });
      return;
    }
    refused.push({ target: target || `${request.method} ${request.url}`, accessKeyId });
    answer(response, 400, { __type: 'UnknownOperationException', message: `not offered by the local server: ${target}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    account,
    reads,
    refused,
    putSecret(name, value) {
      // Secrets Manager appends a dash and six random characters to the name in the ARN.
      const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomUUID().slice(0, 6)}`;
      secrets.set(name, { arn, name, value, versionId: randomUUID() });
      return arn;
    },
    putParameter(name, value) {
      const arn = `arn:aws:ssm:${region}:${account}:parameter/${name.replace(/^\//, '')}`;
      parameters.set(name, { arn, name, value });
      return arn;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
