import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PartChecksums } from '../../../functions/backup/dump-upload';

const bigEndian = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
};

describe('dump-upload PartChecksums', () => {
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, index) => (index * 31) % 251));

  it("gives a single part's own CRC32, however the stream was chunked", () => {
    const checksums = new PartChecksums(16_384);
    for (let offset = 0; offset < data.length; offset += 777) checksums.update(data.subarray(offset, offset + 777));
    expect(checksums.combined()).toBe(bigEndian(crc32(data)).toString('base64'));
  });

  it("combines parts as S3 does: the CRC32 of the parts' CRC32s, with the part count", () => {
    const checksums = new PartChecksums(4_096);
    for (let offset = 0; offset < data.length; offset += 1_000) checksums.update(data.subarray(offset, offset + 1_000));
    const parts = [data.subarray(0, 4_096), data.subarray(4_096, 8_192), data.subarray(8_192)].map((part) =>
      bigEndian(crc32(part)),
    );
    expect(checksums.combined()).toBe(`${bigEndian(crc32(Buffer.concat(parts))).toString('base64')}-3`);
  });

  it('counts no empty last part when the data ends on a part boundary', () => {
    const checksums = new PartChecksums(5_000);
    checksums.update(data);
    expect(checksums.combined()).toMatch(/-2$/);
  });
});
