import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completePath, legacyPaths } from '../../local/demo-app/dashboard-queries';
import { demoToken, seedDemoData } from '../../local/demo-app/seed';
import { type DemoApp, startDemoApp } from '../../local/demo-app/server';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('demo app', () => {
  let database: TestDatabase;
  let app: DemoApp;
  const adminToken = 'demo-admin';
  const get = (path: string, token: string | null = demoToken(1)) =>
    fetch(`${app.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      expect(await seedDemoData(client, { users: 20, transactionsPerUser: 40, adoptionPercent: 50 })).toBe(true);
      expect(await seedDemoData(client, { users: 20, transactionsPerUser: 40, adoptionPercent: 50 })).toBe(false);
    } finally {
      await client.end();
    }
    app = await startDemoApp({ databaseUrl: database.url, adminToken, cacheTtlSeconds: 600 });
  });

  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it('seeds users, tokens, the adoption flag and a trading history', async () => {
    const { rows } = await database.db.query<{ users: number; adopted: number; transactions: number; symbols: number }>(
      `SELECT (SELECT count(*)::int FROM users) AS users,
              (SELECT count(*)::int FROM users WHERE uses_new_dashboard) AS adopted,
              (SELECT count(*)::int FROM transactions) AS transactions,
              (SELECT count(DISTINCT symbol)::int FROM transactions) AS symbols`,
    );
    expect(rows[0]).toEqual({ users: 20, adopted: 10, transactions: 800, symbols: expect.any(Number) });
    expect(rows[0]?.symbols).toBeGreaterThan(10);
  });

  it("answers the eight legacy endpoints with the user's data", async () => {
    expect(legacyPaths).toHaveLength(8);
    for (const path of legacyPaths) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      const body = (await response.json()) as { success: boolean; data: unknown };
      expect(body.success, path).toBe(true);
      expect(body.data, path).toBeTruthy();
    }
    const portfolio = (await (await get('/api/portfolio')).json()) as { data: Array<{ market_value: number }> };
    expect(portfolio.data.length).toBeGreaterThan(0);
  });

  it('refuses a request without a valid bearer token', async () => {
    expect((await get('/api/dashboard', null)).status).toBe(401);
    expect((await get(completePath, 'wrong-token')).status).toBe(401);
  });

  it('serves the complete dashboard from user_performance: a miss computes and stores, then hits count', async () => {
    const token = demoToken(2);
    const first = (await (await get(completePath, token)).json()) as { cache: string; data: Record<string, unknown> };
    expect(first.cache).toBe('miss');
    expect(Object.keys(first.data)).toHaveLength(8);
    for (let index = 0; index < 3; index += 1) {
      expect(((await (await get(completePath, token)).json()) as { cache: string }).cache).toBe('hit');
    }
    const { rows } = await database.db.query<{ access_count: number; payload_size_kb: string; fresh: boolean }>(
      `SELECT access_count, payload_size_kb, expires_at > now() + interval '9 minutes' AS fresh
       FROM user_performance up JOIN users u ON u.id = up.user_id WHERE u.email = 'user2@demo.vigil.local'`,
    );
    expect(rows[0]).toMatchObject({ access_count: 3, fresh: true });
    expect(Number(rows[0]?.payload_size_kb)).toBeGreaterThan(0);
    const counters = await database.db.query('SELECT hits::int, misses::int, errors::int FROM cache_counters');
    expect(counters.rows[0]).toEqual({ hits: 3, misses: 1, errors: 0 });
  });

  it('logs every API request with its status and time, and the queries it ran', async () => {
    await app.flush();
    const { rows } = await database.db.query<{ endpoint: string; status_code: number; n: number }>(
      `SELECT endpoint, status_code, count(*)::int AS n FROM api_performance_log GROUP BY 1, 2`,
    );
    expect(rows).toEqual(expect.arrayContaining([{ endpoint: completePath, status_code: 200, n: 4 }]));
    expect(rows).toEqual(expect.arrayContaining([{ endpoint: '/api/dashboard', status_code: 401, n: 1 }]));
    const queries = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM query_performance_log');
    expect(queries.rows[0]?.n).toBeGreaterThan(8);
  });

  it('injects exactly the configured share of errors and the configured latency', async () => {
    const denied = await fetch(`${app.url}/__demo/faults`, { method: 'PUT', body: '{"errorRatePercent":50}' });
    expect(denied.status).toBe(401);
    const bad = await fetch(`${app.url}/__demo/faults`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}` },
      body: '{"errorRatePercent":150}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ success: false, error: 'errorRatePercent must be a number from 0 to 100' });
    const set = await fetch(`${app.url}/__demo/faults`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ errorRatePercent: 25, latencyMs: 120, paths: ['/api/dashboard'] }),
    });
    expect(await set.json()).toEqual({ errorRatePercent: 25, latencyMs: 120, paths: ['/api/dashboard'] });
    const statuses: number[] = [];
    const started = performance.now();
    for (let index = 0; index < 8; index += 1) statuses.push((await get('/api/dashboard')).status);
    expect(performance.now() - started).toBeGreaterThanOrEqual(8 * 120);
    expect(statuses.filter((status) => status === 500)).toHaveLength(2);
    expect((await get('/api/portfolio')).status).toBe(200);
    app.setFaults({ errorRatePercent: 0, latencyMs: 0, paths: [] });
  });

  it('aggregates the request log into the OLAP hourly cache', async () => {
    await app.flush();
    await app.refreshOlapCache();
    const { rows } = await database.db.query<{ total_requests: number; health_score: string }>(
      'SELECT total_requests, health_score FROM performance_metrics_cache',
    );
    expect(rows.reduce((sum, row) => sum + row.total_requests, 0)).toBeGreaterThan(10);
    expect(Number(rows[0]?.health_score)).toBeLessThan(100);
  });

  it('resets the cache counters on request, as an app restart would', async () => {
    const response = await fetch(`${app.url}/__demo/cache/reset-counters`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(response.status).toBe(200);
    const { rows } = await database.db.query('SELECT hits::int, misses::int FROM cache_counters');
    expect(rows[0]).toEqual({ hits: 0, misses: 0 });
  });
});
