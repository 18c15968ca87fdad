import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { base64Crc32 } from '../../functions/backup/part-upload';

interface SeenRequest {
  method: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  bodyBytes: number;
}

async function bodyOf(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * An S3 client whose requests never leave the process: a stand-in answers them as S3 does (it
 * checks each part's CRC32 header against the bytes it received, 400 BadDigest on a mismatch) and
 * refuses the part numbers in `refuseParts` with a 500.
 */
export function standInS3(options: { refuseParts?: number[]; damagePart?: number } = {}) {
  const seen: SeenRequest[] = [];
  const reply = (statusCode: number, headers: Record<string, string>, xml = '') => ({
    response: { statusCode, headers: { 'content-type': 'application/xml', ...headers }, body: Buffer.from(xml) },
  });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://s3.invalid',
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      async handle(request: {
        method: string;
        query: Record<string, string | string[] | null>;
        headers: Record<string, string>;
        body?: unknown;
      }) {
        let body = await bodyOf(request.body);
        const partNumber = Number(request.query.partNumber ?? 0);
        if (partNumber > 0 && partNumber === options.damagePart) body = Buffer.concat([body, Buffer.from('!')]);
        seen.push({ method: request.method, query: request.query, headers: request.headers, bodyBytes: body.length });
        if (request.method === 'POST' && 'uploads' in request.query) {
          return reply(200, {}, '<InitiateMultipartUploadResult><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>');
        }
        if (request.method === 'PUT' && partNumber > 0) {
          if (options.refuseParts?.includes(partNumber)) {
            return reply(500, {}, '<Error><Code>InternalError</Code><Message>part refused</Message></Error>');
          }
          const sent = request.headers['x-amz-checksum-crc32'];
          if (sent !== base64Crc32(crc32(body))) {
            return reply(400, {}, '<Error><Code>BadDigest</Code><Message>CRC32 mismatch</Message></Error>');
          }
          return reply(200, { etag: `"etag-${partNumber}"`, 'x-amz-checksum-crc32': sent });
        }
        if (request.method === 'PUT') {
          const sent = request.headers['x-amz-checksum-crc32'];
          if (sent !== base64Crc32(crc32(body))) {
            return reply(400, {}, '<Error><Code>BadDigest</Code><Message>CRC32 mismatch</Message></Error>');
          }
          return reply(200, { etag: '"etag-object"', 'x-amz-checksum-crc32': sent });
        }
        if (request.method === 'POST' && 'uploadId' in request.query) {
          return reply(
            200,
            {},
            '<CompleteMultipartUploadResult><ChecksumCRC32>composite==</ChecksumCRC32></CompleteMultipartUploadResult>',
          );
        }
        if (request.method === 'DELETE') return reply(204, {});
        return reply(400, {}, '<Error><Code>Unexpected</Code><Message>unexpected request</Message></Error>');
      },
    },
  });
  const kinds = () =>
    seen.map((request) => {
      if (request.method === 'POST' && 'uploads' in request.query) return 'create';
      if (request.method === 'PUT') return request.query.partNumber ? `part ${request.query.partNumber}` : 'put';
      if (request.method === 'POST') return 'complete';
      return request.method === 'DELETE' ? 'abort' : `${request.method}?`;
    });
  return { s3, seen, kinds };
}
