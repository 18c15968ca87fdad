import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { base64Crc32, PartUploader } from '../../../functions/backup/part-upload';
import { standInS3 } from '../../support/s3-stand-in';

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
