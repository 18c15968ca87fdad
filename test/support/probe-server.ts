import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A local server with the behaviours a probe meets: ?ttfb=<ms> before the headers, ?body=<ms>
 * between the first and the last byte, ?status=, ?bytes=, /json?success=, /notjson, /loop
 * (redirects to itself), /redirect (once, to /json), /stall (headers, then never the end).
 */
function handle(request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? '/', 'http://probe');
  const number = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
  void (async () => {
    await sleep(number('ttfb', 0));
    if (url.pathname === '/loop') {
      response.writeHead(302, { location: '/loop' }).end();
      return;
    }
    if (url.pathname === '/redirect') {
      response.writeHead(301, { location: '/json?success=true' }).end();
      return;
    }
    if (url.pathname === '/stall') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('partial');
      return;
    }
    const status = number('status', 200);
    if (url.pathname === '/json') {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ success: url.searchParams.get('success') === 'true', data: { ok: 1 } }));
      return;
    }
    if (url.pathname === '/notjson') {
      response.writeHead(status, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      return;
    }
    const bytes = number('bytes', 64);
    response.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    const half = Math.floor(bytes / 2);
    response.write(Buffer.alloc(half, 'a'));
    await sleep(number('body', 0));
    response.end(Buffer.alloc(bytes - half, 'b'));
  })();
}

export interface ProbeServer {
  url: string;
  port: number;
  server: Server;
  stop(): Promise<void>;
}

async function listen(server: Server, scheme: 'http' | 'https'): Promise<ProbeServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    server,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const startProbeServer = () => listen(createServer(handle), 'http');
export const startTlsProbeServer = (credentials: { key: string; cert: string }) =>
  listen(createTlsServer(credentials, handle), 'https');
