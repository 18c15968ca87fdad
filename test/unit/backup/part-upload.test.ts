import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { base64Crc32, PartUploader } from '../../../functions/backup/part-upload';

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
function standInS3(options: { refuseParts?: number[]; damagePart?: number } = {}) {
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
      if (request.method === 'PUT') return `part ${request.query.partNumber}`;
      if (request.method === 'POST') return 'complete';
      return request.method === 'DELETE' ? 'abort' : `${request.method}?`;
    });
  return { s3, seen, kinds };
}

const partSizeBytes = 64 * 1024;
const partOf = (partNumber: number, sizeBytes = partSizeBytes) => Buffer.alloc(sizeBytes, partNumber * 37);

/** Fills and hands over `parts` parts, as dumpToS3 does, each in a buffer the uploader lends. */
async function upload(uploader: PartUploader, parts: number) {
  for (let partNumber = 1; partNumber <= parts; partNumber += 1) {
    let buffer = uploader.take();
    while (!buffer) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      buffer = uploader.take();
    }
    partOf(partNumber).copy(buffer);
    uploader.enqueue({ buffer, sizeBytes: partSizeBytes, crc32: crc32(buffer), partNumber });
  }
  await uploader.settled();
}

describe('part-upload PartUploader', () => {
  it("sends each part's CRC32 with it, unsigned, and completes with every part once S3 has checked them", async () => {
    const { s3, seen, kinds } = standInS3();
    const refusals: Error[] = [];
    const uploader = new PartUploader(
      { s3, bucket: 'b', key: 'k.dump', queueSize: 2, partSizeBytes },
      (error) => refusals.push(error),
      () => {},
    );
    await upload(uploader, 5);
    const answer = await uploader.complete();
    expect(refusals).toEqual([]);
    expect(kinds()).toEqual(['create', 'part 1', 'part 2', 'part 3', 'part 4', 'part 5', 'complete']);
    const parts = seen.filter((request) => request.method === 'PUT');
    for (const [index, request] of parts.entries()) {
      expect(request.headers['x-amz-checksum-crc32']).toBe(base64Crc32(crc32(partOf(index + 1))));
      expect(request.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      expect(request.bodyBytes).toBe(partSizeBytes);
    }
    expect(answer.ChecksumCRC32).toBe('composite==');
  });

  it('holds no more than queueSize + 1 part buffers, reusing them', async () => {
    const { s3 } = standInS3();
    const lent = new Set<Buffer>();
    const uploader = new PartUploader(
      { s3, bucket: 'b', key: 'k.dump', queueSize: 2, partSizeBytes },
      () => {},
      () => {},
    );
    const take = uploader.take.bind(uploader);
    uploader.take = () => {
      const buffer = take();
      if (buffer) lent.add(buffer);
      return buffer;
    };
    await upload(uploader, 9);
    expect(lent.size).toBeLessThanOrEqual(3);
  });

  it('reports a refused part at once, and abort() aborts the multipart upload without completing it', async () => {
    const { s3, kinds } = standInS3({ refuseParts: [2] });
    const refusals: Error[] = [];
    const uploader = new PartUploader(
      { s3, bucket: 'b', key: 'k.dump', queueSize: 1, partSizeBytes },
      (error) => refusals.push(error),
      () => {},
    );
    await upload(uploader, 2);
    expect(refusals.map((error) => error.message)).toEqual(['part refused']);
    expect(await uploader.abort()).toBeUndefined();
    expect(kinds()).toEqual(['create', 'part 1', 'part 2', 'abort']);
    // Nothing more goes up once stopped: no part, and never a completion.
    uploader.enqueue({ buffer: partOf(3), sizeBytes: partSizeBytes, crc32: crc32(partOf(3)), partNumber: 3 });
    expect(kinds()).not.toContain('complete');
    expect(kinds()).not.toContain('part 3');
  });

  it('fails a part whose bytes S3 received other than sent (its CRC32 no longer matches)', async () => {
    const { s3, kinds } = standInS3({ damagePart: 1 });
    const refusals: Error[] = [];
    const uploader = new PartUploader(
      { s3, bucket: 'b', key: 'k.dump', queueSize: 1, partSizeBytes },
      (error) => refusals.push(error),
      () => {},
    );
    await upload(uploader, 1);
    expect(refusals.map((error) => error.name)).toEqual(['BadDigest']);
    await uploader.abort();
    expect(kinds()).toEqual(['create', 'part 1', 'abort']);
  });

  it('says so when S3 refuses the abort too, so the caller can name it after the root cause', async () => {
    const { s3 } = standInS3({ refuseParts: [1] });
    const send = s3.send.bind(s3);
    s3.send = ((command: { constructor: { name: string } }, ...rest: unknown[]) =>
      command.constructor.name === 'AbortMultipartUploadCommand'
        ? Promise.reject(new Error('abort refused'))
        : (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest)) as typeof s3.send;
    const uploader = new PartUploader(
      { s3, bucket: 'b', key: 'k.dump', queueSize: 1, partSizeBytes },
      () => {},
      () => {},
    );
    await upload(uploader, 1);
    expect((await uploader.abort())?.message).toBe('abort refused');
  });
});
