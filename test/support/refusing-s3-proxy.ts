import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RefusingProxy {
  endpoint: string;
  refused: number;
  /** AbortMultipartUpload requests seen (DELETE ...?uploadId=), each passed through. */
  aborted: number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of a local S3 server that refuses, as S3 does, the upload of one part
 * number (403 AccessDenied with S3's XML error body), and with `refuseAbort` the abort of the
 * multipart upload too (503); everything else passes through untouched.
 */
export async function startRefusingS3Proxy(
  target: string,
  refusePartNumber: number,
  options: { refuseAbort?: boolean } = {},
): Promise<RefusingProxy> {
  const upstream = new URL(target);
  const proxy: RefusingProxy = { endpoint: '', refused: 0, aborted: 0, stop: async () => {} };
  const server = createServer((incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    if (incoming.method === 'PUT' && url.searchParams.get('partNumber') === String(refusePartNumber)) {
      proxy.refused += 1;
      incoming.resume();
      outgoing.writeHead(403, { 'content-type': 'application/xml' });
      outgoing.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>proxy</RequestId></Error>',
      );
      return;
    }
    if (incoming.method === 'DELETE' && url.searchParams.has('uploadId')) {
      proxy.aborted += 1;
      if (options.refuseAbort) {
        incoming.resume();
        outgoing.writeHead(503, { 'content-type': 'application/xml' });
        outgoing.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Abort refused by the test proxy</Message><RequestId>proxy</RequestId></Error>',
        );
        return;
      }
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', (error) => outgoing.destroy(error));
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
