import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { VigilError } from '../../lib/errors';

/*
 * One HTTP request, timed by phase the way curl's -w and the blackbox exporter do:
 *   dns      start -> name resolved        (null on a reused connection or an IP literal)
 *   connect  resolved -> TCP connected     (null on a reused connection)
 *   tls      connected -> TLS handshake    (null for http: or a reused connection)
 *   ttfb     start -> response headers     (curl's time_starttransfer)
 *   download ttfb -> last byte
 *   total    start -> last byte            ("load time" of a request; curl's time_total)
 * Redirects are followed and their time included; a failure is a failed sample with its reason.
 */

export type FailureKind =
  | 'timeout'
  | 'dns'
  | 'connect'
  | 'tls'
  | 'status'
  | 'not_json'
  | 'assertion'
  | 'redirect_loop'
  | 'too_large'
  | 'network';

export interface Phases {
  dnsMs: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  ttfbMs: number | null;
  downloadMs: number | null;
  totalMs: number | null;
}

export interface Sample {
  ok: boolean;
  failure?: { kind: FailureKind; message: string };
  status: number | null;
  bytes: number;
  newConnection: boolean;
  redirects: number;
  phases: Phases;
  /** performance.now() at the start and end, for the critical path of a page. */
  startedAt: number;
  endedAt: number;
}

export interface RequestSpec {
  url: string;
  method: string;
  headers: Record<string, string>;
  expectStatus: number;
  /** Dotted path into the JSON body and the value it must equal (the source's `.success == true`). */
  assert?: { path: string; equals: unknown };
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** performance.now() by which the run must stop: a sample never runs past it. */
  runDeadline?: number;
  /** Said when the run's deadline, not the timeout, cuts a sample off. */
  deadlineReason?: string;
}

class ProbeFailureError extends VigilError {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** Time to first byte, when the headers came before the failure (a body that stalled). */
    readonly ttfbMs?: number,
  ) {
    super(message);
    this.name = 'ProbeFailureError';
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function classify(error: unknown): ProbeFailureError {
  if (error instanceof ProbeFailureError) return error;
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ProbeFailureError('dns', `name resolution failed (${code}): ${message}`);
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return new ProbeFailureError('connect', `connection failed (${code})`);
  if (
    (code ?? '').startsWith('ERR_SSL') ||
    (code ?? '').startsWith('ERR_TLS') ||
    /certificate|SSL|TLS|self.signed/i.test(message) ||
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_HAS_EXPIRED',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ].includes(code ?? '')
  ) {
    return new ProbeFailureError('tls', `TLS failed (${code ?? 'error'}): ${message}`);
  }
  return new ProbeFailureError('network', `${code ?? 'error'}: ${message}`);
}

function jsonPath(body: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined),
      body,
    );
}

interface Hop {
  status: number;
  location?: string;
  /** Only when an assertion needs it. */
  body: Buffer | undefined;
  bytes: number;
  newConnection: boolean;
  phases: Omit<Phases, 'totalMs'>;
}

/** The hop's time limit reached: before the headers, or with the body stalled after them. */
function timeoutFailure(spec: RequestSpec, started: number, responseAt: number | undefined): ProbeFailureError {
  const limit = spec.deadlineReason ?? `the timeout (${spec.timeoutMs} ms)`;
  if (responseAt === undefined) return new ProbeFailureError('timeout', `no response headers within ${limit}`);
  const ttfb = round(responseAt - started);
  return new ProbeFailureError('timeout', `body stalled after a TTFB of ${ttfb} ms: not complete within ${limit}`, ttfb);
}

/** A hop's phases from the moments its socket and response reported; a pooled connection had no DNS, connect or TLS. */
function hopPhases(marks: {
  started: number;
  lookupAt?: number;
  connectAt?: number;
  secureAt?: number;
  responseAt: number;
  endedAt: number;
  newConnection: boolean;
}): Hop['phases'] {
  const { started, lookupAt, connectAt, secureAt, responseAt, endedAt, newConnection } = marks;
  const connectStart = lookupAt ?? started;
  return {
    dnsMs: newConnection && lookupAt !== undefined ? round(lookupAt - started) : null,
    connectMs: newConnection && connectAt !== undefined ? round(connectAt - connectStart) : null,
    tlsMs: newConnection && secureAt !== undefined && connectAt !== undefined ? round(secureAt - connectAt) : null,
    ttfbMs: round(responseAt - started),
    downloadMs: round(endedAt - responseAt),
  };
}

// Over 80 lines: one HTTP exchange: its timing callbacks share the exchange's clock readings.
function oneHop(url: URL, spec: RequestSpec, agent: http.Agent | undefined, deadline: number): Promise<Hop> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const client = url.protocol === 'https:' ? https : http;
    let lookupAt: number | undefined;
    let connectAt: number | undefined;
    let secureAt: number | undefined;
    let responseAt: number | undefined;
    let newConnection = true;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(classify(error));
    };
    const remaining = deadline - started;
    const timer = setTimeout(() => fail(timeoutFailure(spec, started, responseAt)), Math.max(0, remaining));
    const request = client.request(url, { method: spec.method, headers: spec.headers, agent: agent ?? false }, (response) => {
      responseAt = performance.now();
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > spec.maxBytes) {
        // Refused at the headers: a body announced over the limit is not downloaded.
        fail(
          new ProbeFailureError(
            'too_large',
            `Content-Length ${declared} exceeds maxBytes ${spec.maxBytes}: not downloaded`,
            round(responseAt - started),
          ),
        );
        return;
      }
      // The body is kept only when an assertion reads it; otherwise it is counted and let go,
      // which keeps a 2 MB download from paying for a copy curl never makes.
      const keepBody = spec.assert !== undefined;
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > spec.maxBytes) {
          fail(new ProbeFailureError('too_large', `body exceeded ${spec.maxBytes} bytes`));
          return;
        }
        if (keepBody) chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          location: typeof response.headers.location === 'string' ? response.headers.location : undefined,
          body: keepBody ? Buffer.concat(chunks) : undefined,
          bytes,
          newConnection,
          phases: hopPhases({
            started,
            lookupAt,
            connectAt,
            secureAt,
            responseAt: responseAt as number,
            endedAt: performance.now(),
            newConnection,
          }),
        });
      });
    });
    request.on('socket', (socket: Socket) => {
      // A socket that is already connected came from the agent's pool: no DNS, connect or TLS.
      newConnection = socket.connecting;
      socket.once('lookup', () => {
        lookupAt = performance.now();
      });
      socket.once('connect', () => {
        connectAt = performance.now();
      });
      (socket as TLSSocket).once('secureConnect', () => {
        secureAt = performance.now();
      });
    });
    request.on('error', fail);
    request.end();
  });
}

/** The final response against what the spec expects: its status, and the JSON assertion when there is one. */
function judgedResponse(sample: Sample, hop: Hop, spec: RequestSpec): Sample {
  if (hop.status !== spec.expectStatus) {
    return {
      ...sample,
      ok: false,
      failure: { kind: 'status', message: `status ${hop.status}, expected ${spec.expectStatus}` },
    };
  }
  if (spec.assert) {
    let body: unknown;
    try {
      body = JSON.parse(hop.body?.toString('utf8') ?? '');
    } catch {
      return { ...sample, ok: false, failure: { kind: 'not_json', message: `body is not JSON (${sample.bytes} bytes)` } };
    }
    const actual = jsonPath(body, spec.assert.path);
    if (actual !== spec.assert.equals) {
      return {
        ...sample,
        ok: false,
        failure: {
          kind: 'assertion',
          message: `.${spec.assert.path} is ${JSON.stringify(actual) ?? 'missing'}, expected ${JSON.stringify(spec.assert.equals)}`,
        },
      };
    }
  }
  return sample;
}

/** Times one request (following redirects); never throws: a failure is a failed sample. */
export async function timedRequest(spec: RequestSpec, agent?: http.Agent): Promise<Sample> {
  const startedAt = performance.now();
  const ownDeadline = startedAt + spec.timeoutMs;
  const cutByRun = spec.runDeadline !== undefined && spec.runDeadline < ownDeadline;
  const deadline = cutByRun ? (spec.runDeadline as number) : ownDeadline;
  const timing = cutByRun
    ? { ...spec, deadlineReason: `the run's deadline (${Math.max(0, Math.round(deadline - startedAt))} ms left of its budget)` }
    : spec;
  const visited = new Set<string>();
  let url = new URL(spec.url);
  let redirects = 0;
  let first: Hop | undefined;
  let status: number | null = null;
  let bytes = 0;
  const failed = (failure: ProbeFailureError, hop?: Hop): Sample => ({
    ok: false,
    failure: { kind: failure.kind, message: failure.message },
    status,
    bytes,
    newConnection: first?.newConnection ?? true,
    redirects,
    phases: {
      dnsMs: first?.phases.dnsMs ?? null,
      connectMs: first?.phases.connectMs ?? null,
      tlsMs: first?.phases.tlsMs ?? null,
      ttfbMs: hop ? hop.phases.ttfbMs : (failure.ttfbMs ?? null),
      downloadMs: null,
      totalMs: null,
    },
    startedAt,
    endedAt: performance.now(),
  });
  for (;;) {
    visited.add(url.href);
    let hop: Hop;
    try {
      hop = await oneHop(url, timing, agent, deadline);
    } catch (error) {
      return failed(classify(error));
    }
    first ??= hop;
    status = hop.status;
    bytes = hop.bytes;
    if (hop.status >= 300 && hop.status < 400 && hop.location && hop.status !== spec.expectStatus) {
      const next = new URL(hop.location, url);
      redirects += 1;
      if (visited.has(next.href) || redirects > spec.maxRedirects) {
        return failed(
          new ProbeFailureError('redirect_loop', `redirect loop or more than ${spec.maxRedirects} redirects (at ${next.href})`),
          hop,
        );
      }
      url = next;
      continue;
    }
    const endedAt = performance.now();
    const totalMs = round(endedAt - startedAt);
    const ttfbMs = round(totalMs - (hop.phases.downloadMs ?? 0));
    const sample: Sample = {
      ok: true,
      status,
      bytes,
      newConnection: first.newConnection,
      redirects,
      phases: { ...first.phases, ttfbMs, downloadMs: hop.phases.downloadMs, totalMs },
      startedAt,
      endedAt,
    };
    return judgedResponse(sample, hop, spec);
  }
}
