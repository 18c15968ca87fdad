import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { completePath, dashboardSections, type QueryTiming, timedQuery } from './dashboard-queries';
import { tokenDigest } from './seed';

/*
 * A small copy of the watched app (the "portfolio tracker" of the source documents): the eight
 * legacy dashboard endpoints, the one-call /api/portfolio/complete served from user_performance,
 * bearer-token auth, request and query logging into the partitioned logs, the OLAP hourly cache,
 * and a fault switch for demos and tests. Local only, never bundled into a Lambda.
 */

export interface Faults {
  /** Added before every API response. */
  latencyMs: number;
  /** Share of API requests answered 500, spread evenly (exactly this share over any long run). */
  errorRatePercent: number;
  /** Limit the faults to these paths; all API paths when empty. */
  paths: string[];
}

export interface DemoAppOptions {
  databaseUrl: string;
  port?: number;
  /** Authorises the /__demo control routes. */
  adminToken: string;
  cacheTtlSeconds?: number;
  /** Refresh performance_metrics_cache and sample system_resource_metrics on timers. */
  background?: boolean;
}

export interface DemoApp {
  url: string;
  port: number;
  faults(): Faults;
  setFaults(faults: Partial<Faults>): Faults;
  /** Waits for the log rows of requests already answered. */
  flush(): Promise<void>;
  refreshOlapCache(): Promise<void>;
  sampleResources(): Promise<void>;
  stop(): Promise<void>;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const noFaults: Faults = { latencyMs: 0, errorRatePercent: 0, paths: [] };

function readBody(request: IncomingMessage, limitBytes = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new HttpProblem(413, 'body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function bearerToken(request: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

function parseFaults(body: string, current: Faults): Faults {
  let input: unknown;
  try {
    input = JSON.parse(body || '{}');
  } catch {
    throw new HttpProblem(400, 'body is not JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new HttpProblem(400, 'body must be an object');
  const next = { ...current };
  const { latencyMs, errorRatePercent, paths } = input as Record<string, unknown>;
  if (latencyMs !== undefined) {
    if (typeof latencyMs !== 'number' || !(latencyMs >= 0 && latencyMs <= 120_000)) {
      throw new HttpProblem(400, 'latencyMs must be a number from 0 to 120000');
    }
    next.latencyMs = latencyMs;
  }
  if (errorRatePercent !== undefined) {
    if (typeof errorRatePercent !== 'number' || !(errorRatePercent >= 0 && errorRatePercent <= 100)) {
      throw new HttpProblem(400, 'errorRatePercent must be a number from 0 to 100');
    }
    next.errorRatePercent = errorRatePercent;
  }
  if (paths !== undefined) {
    if (!Array.isArray(paths) || !paths.every((path) => typeof path === 'string' && path.startsWith('/'))) {
      throw new HttpProblem(400, 'paths must be an array of paths starting with /');
    }
    next.paths = paths as string[];
  }
  return next;
}

/** The one-call dashboard: from the cache table when fresh, else computed, stored for one TTL and counted as a miss. */
async function completeDashboard(pool: pg.Pool, cacheTtlSeconds: number, userId: string, timings: QueryTiming[]) {
  const client = await pool.connect();
  try {
    const cached = await timedQuery<{ payload: unknown; fresh: boolean }>(
      client,
      timings,
      'SELECT payload, expires_at > now() AS fresh FROM user_performance WHERE user_id = $1',
      [userId],
    );
    if (cached[0]?.fresh) {
      await timedQuery(
        client,
        timings,
        'UPDATE user_performance SET access_count = access_count + 1, last_accessed = now() WHERE user_id = $1',
        [userId],
      );
      await client.query("UPDATE cache_counters SET hits = hits + 1 WHERE cache_name = 'user_performance'");
      return { cacheStatus: 'hit', payload: cached[0].payload };
    }
    try {
      const started = performance.now();
      const payload: Record<string, unknown> = {};
      for (const [name, section] of Object.entries(dashboardSections)) {
        payload[name] = await section.load(client, userId, timings);
      }
      const calculationMs = Math.round(performance.now() - started);
      const json = JSON.stringify(payload);
      const summary = { transactions: (payload.analyticsSummary as { transaction_count?: number })?.transaction_count ?? null };
      await timedQuery(
        client,
        timings,
        `INSERT INTO user_performance (user_id, payload, payload_size_kb, calculation_time_ms, calculated_at, expires_at,
                                       last_accessed, access_count, transactions_summary)
         VALUES ($1, $2, $3, $4, now(), now() + make_interval(secs => $5), now(), 0, $6)
         ON CONFLICT (user_id) DO UPDATE SET payload = EXCLUDED.payload, payload_size_kb = EXCLUDED.payload_size_kb,
           calculation_time_ms = EXCLUDED.calculation_time_ms, calculated_at = EXCLUDED.calculated_at,
           expires_at = EXCLUDED.expires_at, last_accessed = EXCLUDED.last_accessed, access_count = 0,
           transactions_summary = EXCLUDED.transactions_summary`,
        [userId, json, (Buffer.byteLength(json) / 1024).toFixed(2), calculationMs, cacheTtlSeconds, JSON.stringify(summary)],
      );
      await client.query("UPDATE cache_counters SET misses = misses + 1 WHERE cache_name = 'user_performance'");
      return { cacheStatus: 'miss', payload };
    } catch (error) {
      await pool.query("UPDATE cache_counters SET errors = errors + 1 WHERE cache_name = 'user_performance'").catch(() => {});
      throw error;
    }
  } finally {
    client.release();
  }
}

interface RequestLogEntry {
  startedAt: Date;
  path: string;
  method: string;
  status: number;
  responseTimeMs: number;
  responseBytes: number;
  userId?: string;
  cacheStatus?: string;
  userAgent?: string;
  timings: QueryTiming[];
}

/** The request and its queries logged as the app logs them, off the request's path; `pending` holds the writes until flushed. */
function logRequest(pool: pg.Pool, pending: Set<Promise<unknown>>, entry: RequestLogEntry) {
  const write = (async () => {
    await pool.query(
      `INSERT INTO api_performance_log ("timestamp", endpoint, method, status_code, response_time_ms, response_bytes, user_id, cache_status, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        entry.startedAt,
        entry.path,
        entry.method,
        entry.status,
        entry.responseTimeMs.toFixed(3),
        entry.responseBytes,
        entry.userId ?? null,
        entry.cacheStatus ?? null,
        entry.userAgent ?? null,
      ],
    );
    if (entry.timings.length > 0) {
      await pool.query(
        `INSERT INTO query_performance_log ("timestamp", query_hash, query_preview, endpoint, execution_time_ms, rows_returned)
         SELECT $1, h, p, $2, t, r FROM unnest($3::text[], $4::text[], $5::numeric[], $6::int[]) AS q(h, p, t, r)`,
        [
          entry.startedAt,
          entry.path,
          entry.timings.map((timing) => timing.queryHash),
          entry.timings.map((timing) => timing.queryPreview),
          entry.timings.map((timing) => timing.executionTimeMs.toFixed(3)),
          entry.timings.map((timing) => timing.rowsReturned),
        ],
      );
    }
  })().catch(() => {
    // A log row that cannot be written (e.g. a missing partition) must not fail the request;
    // the missing rows are what partition maintenance exists to prevent.
  });
  pending.add(write);
  void write.finally(() => pending.delete(write));
}

function send(response: ServerResponse, status: number, body: unknown): number {
  const json = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  response.end(json);
  return Buffer.byteLength(json);
}

async function refreshOlapCache(pool: pg.Pool): Promise<void> {
  // The demo's health score: 100, less 10 points per percent of 5xx, less 1 point per 100 ms of
  // p95 above 1 s. The app's own formula; Vigil only reads the result.
  await pool.query(`
    WITH requests AS (
      SELECT date_trunc('hour', "timestamp") AS hour_bucket, count(*) AS total,
             count(*) FILTER (WHERE status_code >= 500) AS failed,
             avg(response_time_ms) AS avg_ms,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95_ms
      FROM api_performance_log
      WHERE "timestamp" >= date_trunc('hour', now()) - interval '1 hour'
      GROUP BY 1
    ),
    slow_queries AS (
      SELECT date_trunc('hour', "timestamp") AS hour_bucket, count(*) AS slow
      FROM query_performance_log
      WHERE "timestamp" >= date_trunc('hour', now()) - interval '1 hour' AND execution_time_ms > 1000
      GROUP BY 1
    )
    INSERT INTO performance_metrics_cache (tenant_id, hour_bucket, health_score, avg_response_time_ms, p95_response_time_ms,
                                           total_requests, slow_query_count, last_updated)
    SELECT 'demo', r.hour_bucket,
           greatest(0, 100 - 10 * (100.0 * r.failed / r.total) - greatest(0, r.p95_ms - 1000) / 100),
           r.avg_ms, r.p95_ms, r.total, coalesce(s.slow, 0), now()
    FROM requests r LEFT JOIN slow_queries s USING (hour_bucket)
    ON CONFLICT (tenant_id, hour_bucket) DO UPDATE SET health_score = EXCLUDED.health_score,
      avg_response_time_ms = EXCLUDED.avg_response_time_ms, p95_response_time_ms = EXCLUDED.p95_response_time_ms,
      total_requests = EXCLUDED.total_requests, slow_query_count = EXCLUDED.slow_query_count, last_updated = now()`);
}

/** CPU since the last sample and memory of this process, with the database's active connections. */
async function sampleResources(pool: pg.Pool, last: { cpu: NodeJS.CpuUsage; at: number }): Promise<void> {
  const now = performance.now();
  const cpu = process.cpuUsage(last.cpu);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - last.at)) * 100;
  last.cpu = process.cpuUsage();
  last.at = now;
  await pool.query(
    `INSERT INTO system_resource_metrics (cpu_usage_percent, memory_used_mb, active_connections)
     SELECT $1, $2, count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'`,
    [cpuPercent.toFixed(2), (process.memoryUsage().rss / 1024 / 1024).toFixed(2)],
  );
}

/** The user of a bearer token, by its digest, kept for a minute. */
function tokenUsers(pool: pg.Pool): (token: string) => Promise<string | undefined> {
  const userByDigest = new Map<string, { userId: string; cachedAt: number }>();
  return async (token) => {
    const digest = tokenDigest(token);
    const cached = userByDigest.get(digest);
    if (cached && Date.now() - cached.cachedAt < 60_000) return cached.userId;
    const { rows } = await pool.query<{ user_id: string }>('SELECT user_id FROM api_tokens WHERE token_sha256 = $1', [digest]);
    const userId = rows[0]?.user_id;
    if (userId) userByDigest.set(digest, { userId, cachedAt: Date.now() });
    return userId;
  };
}

/** The faults a test or a person injects, and the admin routes that read and set them. */
function faultControl(pool: pg.Pool, adminToken: string) {
  let faults: Faults = { ...noFaults };
  let errorCredit = 0;
  return {
    current: () => faults,
    set(next: Partial<Faults>) {
      faults = { ...faults, ...next };
      return faults;
    },
    applyTo: (path: string) => faults.paths.length === 0 || faults.paths.includes(path),
    /** Evenly spread errors: each request earns the rate; a full 100 spends it on one error. */
    injectError() {
      errorCredit += faults.errorRatePercent;
      if (errorCredit >= 100) {
        errorCredit -= 100;
        return true;
      }
      return false;
    },
    async handleControl(request: IncomingMessage, path: string) {
      if (bearerToken(request) !== adminToken) throw new HttpProblem(401, 'admin token required');
      if (path === '/__demo/faults' && request.method === 'GET') return faults;
      if (path === '/__demo/faults' && request.method === 'PUT') {
        faults = parseFaults(await readBody(request), faults);
        return faults;
      }
      if (path === '/__demo/cache/reset-counters' && request.method === 'POST') {
        await pool.query(
          "UPDATE cache_counters SET hits = 0, misses = 0, errors = 0, started_at = now() WHERE cache_name = 'user_performance'",
        );
        return { reset: true };
      }
      throw new HttpProblem(404, 'no such control route');
    },
  };
}

const sectionRoutes = () => new Map(Object.values(dashboardSections).map((section) => [section.path, section.load]));

/** What answering a request needs of the running app. */
interface DemoRoutes {
  pool: pg.Pool;
  cacheTtlSeconds: number;
  userFor: (token: string) => Promise<string | undefined>;
  faults: ReturnType<typeof faultControl>;
  routes: ReturnType<typeof sectionRoutes>;
}

/**
 * A request answered: health, the admin routes, one of the eight sections or the one-call
 * dashboard, with the injected faults; `seen` collects the user and the cache status for the log.
 */
async function answer(
  app: DemoRoutes,
  request: IncomingMessage,
  path: string,
  timings: QueryTiming[],
  seen: { userId?: string; cacheStatus?: string },
): Promise<{ status: number; body: unknown; logged: boolean }> {
  const { pool, faults } = app;
  if (path === '/health') {
    await pool.query('SELECT 1');
    return { status: 200, body: { status: 'ok' }, logged: false };
  }
  if (path.startsWith('/__demo/')) return { status: 200, body: await faults.handleControl(request, path), logged: false };
  const section = app.routes.get(path);
  if (!section && path !== completePath) throw new HttpProblem(404, 'not found');
  if (request.method !== 'GET') throw new HttpProblem(405, 'method not allowed');
  const token = bearerToken(request);
  const userId = token ? await app.userFor(token) : undefined;
  seen.userId = userId;
  if (!userId) throw new HttpProblem(401, 'a valid bearer token is required');
  if (faults.applyTo(path)) {
    const { latencyMs } = faults.current();
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (faults.current().errorRatePercent > 0 && faults.injectError()) {
      return { status: 500, body: { success: false, error: 'injected fault' }, logged: true };
    }
  }
  if (section) return { status: 200, body: { success: true, data: await section(pool, userId, timings) }, logged: true };
  const result = await completeDashboard(pool, app.cacheTtlSeconds, userId, timings);
  seen.cacheStatus = result.cacheStatus;
  return { status: 200, body: { success: true, cache: result.cacheStatus, data: result.payload }, logged: true };
}

export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, application_name: 'vigil-demo-app' });
  pool.on('error', () => {});
  const cacheTtlSeconds = options.cacheTtlSeconds ?? 900;
  const pendingLogs = new Set<Promise<unknown>>();
  const lastSample = { cpu: process.cpuUsage(), at: performance.now() };

  const faults = faultControl(pool, options.adminToken);
  const app: DemoRoutes = { pool, cacheTtlSeconds, userFor: tokenUsers(pool), faults, routes: sectionRoutes() };

  const server = createServer((request, response) => {
    const startedAt = new Date();
    const started = performance.now();
    const path = new URL(request.url ?? '/', 'http://demo').pathname;
    const timings: QueryTiming[] = [];
    const seen: { userId?: string; cacheStatus?: string } = {};

    answer(app, request, path, timings, seen)
      .catch((error: unknown) => {
        if (error instanceof HttpProblem)
          return { status: error.status, body: { success: false, error: error.message }, logged: true };
        return { status: 500, body: { success: false, error: 'internal error' }, logged: true };
      })
      .then(({ status, body, logged }) => {
        const responseBytes = send(response, status, body);
        if (logged && path.startsWith('/api/')) {
          logRequest(pool, pendingLogs, {
            startedAt,
            path,
            method: request.method ?? 'GET',
            status,
            responseTimeMs: performance.now() - started,
            responseBytes,
            userId: seen.userId,
            cacheStatus: seen.cacheStatus,
            userAgent: request.headers['user-agent'],
            timings,
          });
        }
      });
  });
  server.keepAliveTimeout = 5_000;

  const timers = options.background
    ? [
        setInterval(() => void refreshOlapCache(pool).catch(() => {}), 60_000),
        setInterval(() => void sampleResources(pool, lastSample).catch(() => {}), 15_000),
      ]
    : [];

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const flush = async () => {
    while (pendingLogs.size > 0) await Promise.all([...pendingLogs]);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    faults: faults.current,
    setFaults: faults.set,
    flush,
    refreshOlapCache: () => refreshOlapCache(pool),
    sampleResources: () => sampleResources(pool, lastSample),
    async stop() {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await flush();
      await pool.end();
    },
  };
}
