import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';

export interface ChecksummingProxy {
  endpoint: string;
  /** Parts whose CRC32 the proxy checked against their bytes, as S3 does. */
  partsChecked: number;
  /** GET requests of dumps: a read-back shows here. */
  objectReads: number;
  stop(): Promise<void>;
}

/** A CRC32 as S3 writes it: base64 of its four big-endian bytes. */
export const base64Crc = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
};

/**
 * S3's composite checksum of a multipart object, written here apart from the backup's own code so
 * the test does not grade that code with itself: the CRC32 of the parts' CRC32s, in part order.
 */
export const compositeCrc = (partCrcs: number[]) =>
  crc32(Buffer.concat(partCrcs.map((value) => Buffer.from(base64Crc(value), 'base64')))) >>> 0;

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;

/**
 * S3's checksums, in front of a local S3 server (fauxqs) that takes a client's checksums on its
 * word: each part (and a single PUT) sent with x-amz-checksum-crc32 is checked against its bytes
 * (400 BadDigest when they differ, as S3 answers), and CompleteMultipartUpload reports the composite
 * CRC32 computed here from the parts checked, in place of whatever the server reported. The local
 * stack (`npm start`), the tests and the bench reach S3 through it, so a backup is "verified by
 * S3's checksum" only where bytes were really checked.
 * `corruptPart` flips a byte of that part before the check, as a network fault would;
 * `misreport` makes the reported checksum wrong, as a store that kept other bytes would;
 * `confirmsNone` answers no checksum at all, as an S3-compatible server without them does.
 */
// Over 80 lines: a local stand-in's request handling, sharing the proxy's state.
export async function startChecksummingS3Proxy(
  target: string,
  options: { corruptPart?: number; misreport?: boolean; confirmsNone?: boolean; port?: number } = {},
): Promise<ChecksummingProxy> {
  const upstream = new URL(target);
  const partChecksums = new Map<string, Map<number, number>>();
  const proxy: ChecksummingProxy = { endpoint: '', partsChecked: 0, objectReads: 0, stop: async () => {} };
  const server = createServer(async (incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const uploadId = url.searchParams.get('uploadId');
    const partNumber = Number(url.searchParams.get('partNumber') ?? 0);
    const sent = incoming.headers['x-amz-checksum-crc32'] as string | undefined;
    let checked: number | undefined;
    if (incoming.method === 'GET' && url.pathname.endsWith('.dump')) proxy.objectReads += 1;
    if (incoming.method === 'PUT' && sent) {
      if (options.corruptPart !== undefined && partNumber === options.corruptPart && body.length > 0) {
        body = Buffer.from(body);
        body.writeUInt8(body.readUInt8(0) ^ 0xff, 0);
      }
      checked = crc32(body) >>> 0;
      proxy.partsChecked += 1;
      if (base64Crc(checked) !== sent) {
        outgoing.writeHead(400, { 'content-type': 'application/xml' });
        outgoing.end(s3Error('BadDigest', 'The CRC32 you specified did not match the calculated checksum.'));
        return;
      }
      if (uploadId && partNumber) {
        const parts = partChecksums.get(uploadId) ?? new Map<number, number>();
        parts.set(partNumber, checked);
        partChecksums.set(uploadId, parts);
      }
    }
    const headers = { ...incoming.headers, 'content-length': String(body.length) };
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers },
      async (answer) => {
        const answered: Buffer[] = [];
        for await (const chunk of answer) answered.push(chunk as Buffer);
        // The upstream's own checksums are never passed on: they are the client's, unchecked.
        const xml = String(answer.headers['content-type'] ?? '').includes('xml');
        let text = Buffer.concat(answered);
        if (xml)
          text = Buffer.from(
            text.toString('utf8').replace(/<Checksum(CRC32|CRC32C|CRC64NVME|SHA1|SHA256|Type)>[^<]*<\/Checksum\1>/g, ''),
          );
        const responseHeaders = Object.fromEntries(
          Object.entries(answer.headers).filter(([name]) => !name.startsWith('x-amz-checksum-')),
        );
        if (!options.confirmsNone && checked !== undefined && (answer.statusCode ?? 500) < 300)
          responseHeaders['x-amz-checksum-crc32'] = base64Crc(checked);
        const completing = incoming.method === 'POST' && uploadId && (answer.statusCode ?? 500) < 300;
        const parts = completing && !options.confirmsNone ? partChecksums.get(uploadId) : undefined;
        if (parts && parts.size > 0) {
          const ordered = [...parts.entries()].sort(([a], [b]) => a - b).map(([, value]) => value);
          const combined = compositeCrc(ordered);
          const reported = `${base64Crc(options.misreport ? combined ^ 1 : combined)}-${ordered.length}`;
          text = Buffer.from(
            text
              .toString('utf8')
              .replace(
                '</CompleteMultipartUploadResult>',
                `<ChecksumCRC32>${reported}</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>`,
              ),
          );
        }
        if (xml && answer.headers['content-length'] !== undefined) responseHeaders['content-length'] = String(text.length);
        outgoing.writeHead(answer.statusCode ?? 502, responseHeaders);
        outgoing.end(text);
      },
    );
    forwarded.on('error', (error) => outgoing.destroy(error));
    forwarded.end(body);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
