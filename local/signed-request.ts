import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/*
 * Calls a deployed stage's IAM-authenticated HTTP route as the AWS CLI would: credentials found the
 * CLI's way (environment, profile, SSO), the request signed with SigV4 by the SDK's own signer.
 */

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** SHA-256 (and its HMAC) for the signer, from node:crypto. */
class Sha256 {
  private hash: Hash | Hmac;
  private readonly secret?: Buffer;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret =
      secret === undefined
        ? undefined
        : typeof secret === 'string'
          ? Buffer.from(secret)
          : ArrayBuffer.isView(secret)
            ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
            : Buffer.from(secret);
    this.hash = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
  update(data: string | Uint8Array) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {
    this.hash = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
}

export function signerFor(region: string, credentials: Credentials) {
  return new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
}

/** The stage's HTTP API, from its CloudFormation stack's output (vigil-<stage>, HttpApiUrl). */
export async function stageApiUrl(stage: string, region: string): Promise<string> {
  const cloudFormation = new CloudFormationClient({ region });
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: `vigil-${stage}` }));
    const url = Stacks?.[0]?.Outputs?.find((output) => output.OutputKey === 'HttpApiUrl')?.OutputValue;
    if (!url) throw new Error(`stack vigil-${stage} in ${region} has no HttpApiUrl output`);
    return url;
  } finally {
    cloudFormation.destroy();
  }
}

/** A signed JSON request to `url`; its parsed answer, or an error naming the status and what it said. */
export async function signedJson(
  url: string,
  options: { region: string; method: 'GET' | 'POST'; body?: unknown; credentials?: Credentials },
): Promise<unknown> {
  const target = new URL(url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const signed = await signerFor(options.region, options.credentials ?? defaultProvider()).sign({
    method: options.method,
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port ? { port: Number(target.port) } : {}),
    path: target.pathname,
    query: Object.fromEntries(target.searchParams),
    headers: { host: target.host, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body } : {}),
  });
  const response = await fetch(url, {
    method: options.method,
    headers: signed.headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${options.method} ${target.pathname} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}
