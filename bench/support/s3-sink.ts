import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { base64Crc, compositeCrc } from '../../local/checksumming-s3-proxy';

/*
 * The cheapest server that answers a backup's S3 calls as S3 does, for measuring the backup
 * without a full S3 emulator sharing its CPU: it checks each part's CRC32 against its bytes (as S3
 * does), reports the composite on completion, keeps only manifests (small) and discards dumps.
 * Listings are empty; a GET of a dump is answered 404 (the bench never reads one back here).
 */

export async function startS3Sink(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const uploads = new Map<string, Map<number, number>>();
  const kept = new Map<string, Buffer>();
  let next = 0;
  const server = createServer(async (incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://sink');
    const uploadId = url.searchParams.get('uploadId');
    const partNumber = Number(url.searchParams.get('partNumber') ?? 0);
    let crc = 0;
    let size = 0;
    const chunks: Buffer[] = [];
    const keep = incoming.method === 'PUT' && !url.pathname.endsWith('.dump');
    for await (const chunk of incoming) {
      crc = crc32(chunk as Buffer, crc);
      size += (chunk as Buffer).length;
      if (keep) chunks.push(chunk as Buffer);
    }
    const sent = incoming.headers['x-amz-checksum-crc32'];
    if (sent && incoming.method === 'PUT' && base64Crc(crc) !== sent) {
      outgoing.writeHead(400, { 'content-type': 'application/xml' });
      outgoing.end('<Error><Code>BadDigest</Code><Message>CRC32 mismatch</Message></Error>');
      return;
    }
    const xml = (body: string) => {
      outgoing.writeHead(200, { 'content-type': 'application/xml' });
      outgoing.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
    };
    if (incoming.method === 'POST' && url.searchParams.has('uploads')) {
      next += 1;
      const id = `u${next}`;
      uploads.set(id, new Map());
      return xml(`<InitiateMultipartUploadResult><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (incoming.method === 'PUT' && uploadId && partNumber) {
      uploads.get(uploadId)?.set(partNumber, crc);
      outgoing.writeHead(200, { etag: `"${partNumber}-${size}"`, 'x-amz-checksum-crc32': base64Crc(crc) });
      return outgoing.end();
    }
    if (incoming.method === 'POST' && uploadId) {
      const parts = [...(uploads.get(uploadId) ?? new Map()).entries()].sort(([a], [b]) => a - b).map(([, value]) => value);
      uploads.delete(uploadId);
      const combined = compositeCrc(parts);
      return xml(
        `<CompleteMultipartUploadResult><ETag>"done"</ETag><ChecksumCRC32>${base64Crc(combined)}-${parts.length}</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>`,
      );
    }
    if (incoming.method === 'DELETE') {
      outgoing.writeHead(204);
      return outgoing.end();
    }
    if (incoming.method === 'PUT') {
      if (keep) kept.set(url.pathname, Buffer.concat(chunks));
      outgoing.writeHead(200, { etag: '"single"', 'x-amz-checksum-crc32': base64Crc(crc) });
      return outgoing.end();
    }
    if (incoming.method === 'GET' && url.searchParams.get('list-type') === '2') {
      return xml('<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>');
    }
    const body = kept.get(url.pathname);
    if (incoming.method === 'GET' && body) {
      outgoing.writeHead(200, { 'content-length': String(body.length) });
      return outgoing.end(body);
    }
    outgoing.writeHead(404, { 'content-type': 'application/xml' });
    outgoing.end('<Error><Code>NoSuchKey</Code><Message>not kept</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
