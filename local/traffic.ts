import pg from 'pg';
import { completePath, legacyPaths } from './demo-app/dashboard-queries';
import { demoToken } from './demo-app/seed';

export interface Traffic {
  /** Page loads started and how many requests of them failed, since start. */
  stats(): TrafficStats;
  stop(): Promise<void>;
}

export interface TrafficStats {
  pageLoads: number;
  requests: number;
  failedRequests: number;
}

/**
 * One demo user opening the dashboard: an adopted user makes the one complete call, the others the
 * eight legacy calls, six at a time as a browser would. Counts into `stats`.
 */
export async function loadDashboard(baseUrl: string, user: { number: number; adopted: boolean }, stats: TrafficStats) {
  const request = async (path: string, token: string) => {
    stats.requests += 1;
    try {
      const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      if (!response.ok) stats.failedRequests += 1;
    } catch {
      stats.failedRequests += 1;
    }
  };
  stats.pageLoads += 1;
  const token = demoToken(user.number);
  if (user.adopted) return request(completePath, token);
  const queue = [...legacyPaths];
  const lane = async () => {
    for (let path = queue.shift(); path; path = queue.shift()) await request(path, token);
  };
  await Promise.all(Array.from({ length: 6 }, lane));
}

/**
 * Demo users opening their dashboard (loadDashboard) at a steady rate. Who is adopted is re-read
 * every 30 s, so flipping the flag in the database moves the traffic.
 */
export async function startTraffic(options: {
  baseUrl: string;
  databaseUrl: string;
  pageLoadsPerSecond: number;
}): Promise<Traffic> {
  const client = new pg.Client({ connectionString: options.databaseUrl, application_name: 'vigil-demo-traffic' });
  // The server may go away first when Ctrl-C reaches the whole process group.
  client.on('error', () => {});
  await client.connect();
  let users: Array<{ number: number; adopted: boolean }> = [];
  const loadUsers = async () => {
    const { rows } = await client.query<{ number: number; adopted: boolean }>(
      `SELECT substring(email FROM '^user([0-9]+)@')::int AS number, uses_new_dashboard AS adopted
       FROM users WHERE email LIKE 'user%@demo.vigil.local'`,
    );
    users = rows;
  };
  await loadUsers();
  const stats: TrafficStats = { pageLoads: 0, requests: 0, failedRequests: 0 };
  const inFlight = new Set<Promise<void>>();

  const pageLoad = async () => {
    const user = users[Math.floor(Math.random() * users.length)];
    if (user) await loadDashboard(options.baseUrl, user, stats);
  };

  const tick = setInterval(
    () => {
      if (inFlight.size >= 20) return;
      const load = pageLoad();
      inFlight.add(load);
      void load.finally(() => inFlight.delete(load));
    },
    Math.max(10, 1000 / options.pageLoadsPerSecond),
  );
  const refresh = setInterval(() => void loadUsers().catch(() => {}), 30_000);

  return {
    stats: () => ({ ...stats }),
    async stop() {
      clearInterval(tick);
      clearInterval(refresh);
      await Promise.all([...inFlight]);
      await client.end();
    },
  };
}
