import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RequestSpec, timedRequest } from '../../../functions/probe/timing';
import { freePort } from '../../../local/ports';
import { type ProbeServer, startProbeServer, startTlsProbeServer } from '../../support/probe-server';

const spec = (url: string, overrides: Partial<RequestSpec> = {}): RequestSpec => ({
  url,
  method: 'GET',
  headers: {},
  expectStatus: 200,
  timeoutMs: 3000,
  maxBytes: 1024 * 1024,
  maxRedirects: 5,
  ...overrides,
});

describe('probe timing', () => {
  let server: ProbeServer;
  let tlsServer: ProbeServer;
  let tlsDir: string;
  let cert: string;

  beforeAll(async () => {
    server = await startProbeServer();
    tlsDir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(tlsDir, 'key.pem'),
        '-out',
        join(tlsDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
    tlsServer = await startTlsProbeServer({ key: readFileSync(join(tlsDir, 'key.pem'), 'utf8'), cert });
  });

  afterAll(async () => {
    await server?.stop();
    await tlsServer?.stop();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  it('separates time to first byte from download, and adds them up to the total', async () => {
    const sample = await timedRequest(spec(`${server.url}/bytes?ttfb=120&body=80&bytes=4096`));
    expect(sample.ok).toBe(true);
    expect(sample.phases.ttfbMs).toBeGreaterThanOrEqual(120);
    expect(sample.phases.ttfbMs).toBeLessThan(170);
    expect(sample.phases.downloadMs).toBeGreaterThanOrEqual(75);
    expect(sample.phases.downloadMs).toBeLessThan(130);
    expect(sample.phases.totalMs).toBeCloseTo((sample.phases.ttfbMs ?? 0) + (sample.phases.downloadMs ?? 0), 1);
    expect(sample.bytes).toBe(4096);
    expect(sample.newConnection).toBe(true);
  });

  it('times name resolution and connect on a new connection, and none on a reused one', async () => {
    const byName = await timedRequest(spec(`http://localhost:${server.port}/bytes`));
    expect(byName.phases.dnsMs).not.toBeNull();
    expect(byName.phases.connectMs).not.toBeNull();
    expect(byName.phases.tlsMs).toBeNull();
    const literal = await timedRequest(spec(`${server.url}/bytes`));
    expect(literal.phases.dnsMs).toBeNull();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await timedRequest(spec(`${server.url}/bytes`), agent);
    const reused = await timedRequest(spec(`${server.url}/bytes`), agent);
    agent.destroy();
    expect(reused.newConnection).toBe(false);
    expect(reused.phases).toMatchObject({ dnsMs: null, connectMs: null, tlsMs: null });
  });

  it('times the TLS handshake of a trusted certificate', async () => {
    const agent = new https.Agent({ ca: cert });
    const sample = await timedRequest(spec(`${tlsServer.url}/json?success=true`), agent);
    agent.destroy();
    expect(sample.ok).toBe(true);
    expect(sample.phases.tlsMs).toBeGreaterThan(0);
  });

  it.each([
    ['an untrusted certificate', () => `${tlsServer.url}/json`, 'tls'],
    ['TLS spoken to a plain HTTP port', () => `https://127.0.0.1:${server.port}/bytes`, 'tls'],
    ['a port nobody listens on', () => 'http://127.0.0.1:1/bytes', 'connect'],
    ['a name that does not resolve', () => 'http://vigil-probe.invalid/bytes', 'dns'],
    ['a wrong status', () => `${server.url}/bytes?status=503`, 'status'],
    ['a redirect loop', () => `${server.url}/loop`, 'redirect_loop'],
  ])('fails a sample on %s, with the reason', async (_case, url, kind) => {
    const sample = await timedRequest(spec(url()));
    expect(sample.ok).toBe(false);
    expect(sample.failure?.kind).toBe(kind);
    // A response that came back (wrong status) has a measured time; a transport failure has none.
    if (kind === 'status') expect(sample.phases.totalMs).toBeGreaterThan(0);
    else expect(sample.phases.totalMs).toBeNull();
  });

  it('fails a slow body on the timeout, never with a made-up time', async () => {
    const started = performance.now();
    const sample = await timedRequest(spec(`${server.url}/stall`, { timeoutMs: 300 }));
    expect(performance.now() - started).toBeLessThan(600);
    expect(sample).toMatchObject({ ok: false, failure: { kind: 'timeout' }, phases: { totalMs: null } });
  });

  it('fails an oversized body without reading it all', async () => {
    const sample = await timedRequest(spec(`${server.url}/bytes?bytes=${3 * 1024 * 1024}`, { maxBytes: 1024 * 1024 }));
    expect(sample.failure?.kind).toBe('too_large');
  });

  it('refuses a Content-Length over maxBytes at the headers, downloading nothing, TTFB kept', async () => {
    // The second half of the body comes only after 2 s: reading it would show in the time.
    const started = performance.now();
    const sample = await timedRequest(spec(`${server.url}/bytes?bytes=${5 * 1024 * 1024}&body=2000`, { maxBytes: 1024 }));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(sample).toMatchObject({
      ok: false,
      bytes: 0,
      failure: { kind: 'too_large', message: `Content-Length ${5 * 1024 * 1024} exceeds maxBytes 1024: not downloaded` },
    });
    expect(sample.phases.ttfbMs).toBeGreaterThan(0);
  });

  it('says a body stalled after its headers, with the TTFB it had, apart from no answer at all', async () => {
    const stalled = await timedRequest(spec(`${server.url}/stall?ttfb=50`, { timeoutMs: 300 }));
    expect(stalled.failure?.message).toMatch(
      /^body stalled after a TTFB of \d+(\.\d+)? ms: not complete within the timeout \(300 ms\)$/,
    );
    expect(stalled.phases.ttfbMs).toBeGreaterThanOrEqual(50);
    const silent = await timedRequest(spec(`${server.url}/json?ttfb=2000`, { timeoutMs: 300 }));
    expect(silent).toMatchObject({
      failure: { kind: 'timeout', message: 'no response headers within the timeout (300 ms)' },
      phases: { ttfbMs: null },
    });
  });

  it('checks the JSON body assertion, and says when the body is not JSON', async () => {
    const assertion = { path: 'success', equals: true };
    expect((await timedRequest(spec(`${server.url}/json?success=true`, { assert: assertion }))).ok).toBe(true);
    const wrong = await timedRequest(spec(`${server.url}/json?success=false`, { assert: assertion }));
    expect(wrong.failure).toEqual({ kind: 'assertion', message: '.success is false, expected true' });
    expect((await timedRequest(spec(`${server.url}/notjson`, { assert: assertion }))).failure?.kind).toBe('not_json');
  });

  it('follows a redirect and counts its time', async () => {
    const sample = await timedRequest(spec(`${server.url}/redirect?ttfb=50`));
    expect(sample).toMatchObject({ ok: true, redirects: 1, status: 200 });
    expect(sample.phases.totalMs).toBeGreaterThanOrEqual(50);
  });

  it('takes the time of an unused free port as a connect failure quickly', async () => {
    const port = await freePort();
    const sample = await timedRequest(spec(`http://127.0.0.1:${port}/`));
    expect(sample.failure?.kind).toBe('connect');
  });
});
