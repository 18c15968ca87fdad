import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DumpCommand, dumpChannel, dumpToS3, PartChecksums } from '../../../functions/backup/dump-upload';
import type { ArchiveLister } from '../../../functions/backup/verify';
import { standInS3 } from '../../support/s3-stand-in';

const partSizeBytes = 64 * 1024;

/*
 * dumpToS3 with a stand-in pg_dump (a shell writing a file to stdout) and a stand-in
 * `pg_restore --list` (reads its input, lists one entry), into an S3 stand-in that checks every
 * part's CRC32: where the dump ends against the part buffers, and what a failing dump leaves.
 */
describe('dump-upload dumpToS3', () => {
  let directory: string;
  let lister: ArchiveLister;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'vigil-dump-upload-'));
    const listerPath = join(directory, 'pg_restore');
    await writeFile(listerPath, '#!/bin/sh\ncat > /dev/null\necho "1; 2615 2200 SCHEMA - public postgres"\n');
    await chmod(listerPath, 0o755);
    lister = { path: listerPath, env: process.env };
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  async function dumpOf(sizeBytes: number, exitCode = 0): Promise<{ command: DumpCommand; bytes: Buffer }> {
    const bytes = randomBytes(sizeBytes);
    const file = join(directory, `dump-${sizeBytes}-${exitCode}`);
    await writeFile(file, bytes);
    return { command: { path: '/bin/sh', args: ['-c', `cat "$0"; exit ${exitCode}`, file], env: process.env }, bytes };
  }

  const target = (s3: ReturnType<typeof standInS3>['s3'], queueSize: number) => ({
    s3,
    bucket: 'b',
    key: 'db/x.dump',
    queueSize,
    partSizeBytes,
  });

  for (const [label, sizeBytes, queueSize] of [
    ['ends exactly on a part boundary, every part buffer in flight', 3 * partSizeBytes, 1],
    ['ends exactly on a part boundary, buffers to spare', 4 * partSizeBytes, 4],
    ['ends inside a part', 2 * partSizeBytes + 1_234, 2],
  ] as const) {
    it(`uploads every byte once, in order, when the dump ${label}`, async () => {
      const { s3, seen, kinds } = standInS3();
      const { command, bytes } = await dumpOf(sizeBytes);
      const uploaded = await dumpToS3(command, target(s3, queueSize), new AbortController().signal, lister);
      const parts = Math.ceil(sizeBytes / partSizeBytes);
      expect(uploaded.sizeBytes).toBe(sizeBytes);
      expect(uploaded.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(uploaded.parts).toBe(parts);
      expect(uploaded.entries).toBe(1);
      const checksums = new PartChecksums(partSizeBytes);
      checksums.update(bytes);
      expect(uploaded.checksum.computed).toBe(checksums.combined({ multipart: true }));
      expect(kinds()).toEqual(['create', ...Array.from({ length: parts }, (_, index) => `part ${index + 1}`), 'complete']);
      expect(seen.filter((request) => request.method === 'PUT').reduce((sum, request) => sum + request.bodyBytes, 0)).toBe(
        sizeBytes,
      );
    });
  }

  it('sends a dump smaller than one part as one PutObject with its CRC32', async () => {
    const { s3, kinds } = standInS3();
    const { command } = await dumpOf(1_000);
    const uploaded = await dumpToS3(command, target(s3, 2), new AbortController().signal, lister);
    expect(kinds()).toEqual(['put']);
    expect(uploaded.parts).toBe(1);
  });

  it('aborts the multipart upload and completes nothing when pg_dump fails after writing parts', async () => {
    const { s3, kinds } = standInS3();
    const { command } = await dumpOf(3 * partSizeBytes + 10, 1);
    await expect(dumpToS3(command, target(s3, 2), new AbortController().signal, lister)).rejects.toThrow(/pg_dump/);
    expect(kinds()).toContain('abort');
    expect(kinds()).not.toContain('complete');
  });

  it('aborts the multipart upload and completes nothing when S3 refuses a part', async () => {
    const { s3, kinds } = standInS3({ refuseParts: [2] });
    const { command } = await dumpOf(4 * partSizeBytes);
    await expect(dumpToS3(command, target(s3, 1), new AbortController().signal, lister)).rejects.toThrow('part refused');
    expect(kinds()).toContain('abort');
    expect(kinds()).not.toContain('complete');
  });

  it("hands pg_dump the reader's own connection: one another process made to the port first is closed, unread", async () => {
    const read: Buffer[] = [];
    let intruderReceived = 0;
    let intruderClosed: Promise<unknown> = Promise.resolve();
    const channel = await dumpChannel(
      {
        buffer: Buffer.alloc(64 * 1024),
        callback: (bytes, into) => {
          read.push(Buffer.from(into.subarray(0, bytes)));
          return true;
        },
      },
      async (port) => {
        const intruder = connect({ port, host: '127.0.0.1' });
        intruder.on('data', (data: Buffer) => {
          intruderReceived += data.length;
        });
        intruderClosed = once(intruder, 'close');
        await once(intruder, 'connect');
        // Long enough for the listener to have seen it before the reader connects.
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    );
    channel.writer.end('the dump');
    await once(channel.reader, 'end');
    await intruderClosed;
    expect(Buffer.concat(read).toString()).toBe('the dump');
    expect(intruderReceived).toBe(0);
  });
});
