import { createHash } from 'node:crypto';
import type pg from 'pg';

/** One query the app ran: what query_performance_log records. */
export interface QueryTiming {
  queryHash: string;
  queryPreview: string;
  executionTimeMs: number;
  rowsReturned: number;
}

/** Runs a query and records its time, as the real app's query logger does. */
export async function timedQuery<Row extends pg.QueryResultRow>(
  client: pg.ClientBase | pg.Pool,
  timings: QueryTiming[],
  text: string,
  values: unknown[],
): Promise<Row[]> {
  const started = performance.now();
  const result = await client.query<Row>(text, values);
  timings.push({
    queryHash: createHash('md5').update(text).digest('hex'),
    queryPreview: text.replace(/\s+/g, ' ').trim().slice(0, 200),
    executionTimeMs: performance.now() - started,
    rowsReturned: result.rowCount ?? result.rows.length,
  });
  return result.rows;
}

// Net position per symbol from the user's transactions; dividends do not change the position.
const positions = `
  positions AS (
    SELECT t.symbol,
           sum(CASE t.kind WHEN 'BUY' THEN t.quantity WHEN 'SELL' THEN -t.quantity ELSE 0 END) AS quantity,
           sum(CASE t.kind WHEN 'BUY' THEN t.amount WHEN 'SELL' THEN -t.amount ELSE 0 END) AS net_invested
    FROM transactions t
    WHERE t.user_id = $1
    GROUP BY t.symbol
  ),
  holdings AS (
    SELECT p.symbol, s.name, s.sector, p.quantity, p.net_invested, s.price,
           round(p.quantity * s.price, 2) AS market_value
    FROM positions p JOIN securities s USING (symbol)
    WHERE p.quantity > 0
  )`;

type Section = (client: pg.ClientBase | pg.Pool, userId: string, timings: QueryTiming[]) => Promise<unknown>;

/** The eight legacy dashboard endpoints, each one real query over the user's data. */
export const dashboardSections: Record<string, { path: string; load: Section }> = {
  dashboard: {
    path: '/api/dashboard',
    load: async (client, userId, timings) =>
      (
        await timedQuery(
          client,
          timings,
          `WITH ${positions}
           SELECT count(*)::int AS holdings_count,
                  coalesce(sum(market_value), 0)::float8 AS market_value,
                  coalesce(sum(net_invested), 0)::float8 AS net_invested,
                  (SELECT coalesce(sum(amount), 0)::float8 FROM transactions WHERE user_id = $1 AND kind = 'DIVIDEND') AS dividends
           FROM holdings`,
          [userId],
        )
      )[0],
  },
  portfolio: {
    path: '/api/portfolio',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `WITH ${positions}
         SELECT symbol, name, sector, quantity::float8, price::float8, market_value::float8, net_invested::float8
         FROM holdings ORDER BY market_value DESC`,
        [userId],
      ),
  },
  transactions: {
    path: '/api/transactions',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `SELECT id::text, symbol, kind, quantity::float8, price::float8, amount::float8, executed_at
         FROM transactions WHERE user_id = $1 ORDER BY executed_at DESC LIMIT 50`,
        [userId],
      ),
  },
  allocation: {
    path: '/api/allocation',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `WITH ${positions}
         SELECT sector, sum(market_value)::float8 AS market_value,
                round(100 * sum(market_value) / nullif(sum(sum(market_value)) OVER (), 0), 2)::float8 AS percent
         FROM holdings GROUP BY sector ORDER BY market_value DESC`,
        [userId],
      ),
  },
  analyticsSummary: {
    path: '/api/analytics/summary',
    load: async (client, userId, timings) =>
      (
        await timedQuery(
          client,
          timings,
          `WITH ${positions}
           SELECT coalesce(sum(market_value), 0)::float8 AS market_value,
                  coalesce(sum(market_value - net_invested), 0)::float8 AS unrealized_gain,
                  round(100 * sum(market_value - net_invested) / nullif(sum(net_invested), 0), 2)::float8 AS return_percent,
                  (SELECT count(*)::int FROM transactions WHERE user_id = $1) AS transaction_count
           FROM holdings`,
          [userId],
        )
      )[0],
  },
  analyticsHoldings: {
    path: '/api/analytics/holdings',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `WITH ${positions}
         SELECT symbol, market_value::float8,
                round(100 * (market_value - net_invested) / nullif(net_invested, 0), 2)::float8 AS gain_percent,
                round(100 * market_value / nullif(sum(market_value) OVER (), 0), 2)::float8 AS weight_percent
         FROM holdings ORDER BY market_value DESC LIMIT 10`,
        [userId],
      ),
  },
  analyticsDividends: {
    path: '/api/analytics/dividends',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `SELECT to_char(date_trunc('month', executed_at), 'YYYY-MM') AS month, sum(amount)::float8 AS dividends
         FROM transactions
         WHERE user_id = $1 AND kind = 'DIVIDEND' AND executed_at >= date_trunc('month', now()) - interval '11 months'
         GROUP BY 1 ORDER BY 1`,
        [userId],
      ),
  },
  dashboardPerformance: {
    path: '/api/dashboard/performance',
    load: (client, userId, timings) =>
      timedQuery(
        client,
        timings,
        `SELECT month, sum(net) OVER (ORDER BY month)::float8 AS net_invested
         FROM (
           SELECT to_char(date_trunc('month', executed_at), 'YYYY-MM') AS month,
                  sum(CASE kind WHEN 'BUY' THEN amount WHEN 'SELL' THEN -amount ELSE 0 END) AS net
           FROM transactions WHERE user_id = $1 GROUP BY 1
         ) monthly ORDER BY month`,
        [userId],
      ),
  },
};

export const legacyPaths = Object.values(dashboardSections).map((section) => section.path);
export const completePath = '/api/portfolio/complete';
