import { createHash } from 'node:crypto';
import type pg from 'pg';

export interface SeedOptions {
  users: number;
  transactionsPerUser: number;
  /** Share of users already on the one-call dashboard (the rollout's feature flag). */
  adoptionPercent: number;
}

export const defaultSeed: SeedOptions = { users: 200, transactionsPerUser: 60, adoptionPercent: 80 };

/** The bearer token of demo user n (1-based): what the probe and the traffic use locally. */
export function demoToken(userNumber: number): string {
  return `demo-token-${userNumber}`;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const securities: Array<[string, string, string, number]> = [
  ['AAPL', 'Apple', 'Technology', 227.5],
  ['MSFT', 'Microsoft', 'Technology', 415.1],
  ['NVDA', 'NVIDIA', 'Technology', 131.4],
  ['GOOGL', 'Alphabet', 'Communication', 176.2],
  ['META', 'Meta Platforms', 'Communication', 563.3],
  ['AMZN', 'Amazon', 'Consumer Discretionary', 186.4],
  ['TSLA', 'Tesla', 'Consumer Discretionary', 251.6],
  ['HD', 'Home Depot', 'Consumer Discretionary', 398.7],
  ['JPM', 'JPMorgan Chase', 'Financials', 221.5],
  ['V', 'Visa', 'Financials', 289.9],
  ['BRK.B', 'Berkshire Hathaway', 'Financials', 458.2],
  ['JNJ', 'Johnson & Johnson', 'Health Care', 161.3],
  ['UNH', 'UnitedHealth', 'Health Care', 589.1],
  ['PFE', 'Pfizer', 'Health Care', 28.9],
  ['XOM', 'Exxon Mobil', 'Energy', 118.2],
  ['CVX', 'Chevron', 'Energy', 152.7],
  ['PG', 'Procter & Gamble', 'Consumer Staples', 168.4],
  ['KO', 'Coca-Cola', 'Consumer Staples', 69.8],
  ['PEP', 'PepsiCo', 'Consumer Staples', 165.9],
  ['NEE', 'NextEra Energy', 'Utilities', 79.4],
  ['O', 'Realty Income', 'Real Estate', 61.2],
  ['VTI', 'Vanguard Total Market ETF', 'Funds', 285.6],
  ['VXUS', 'Vanguard Intl ETF', 'Funds', 62.8],
  ['BND', 'Vanguard Bond ETF', 'Funds', 73.1],
];

/**
 * Loads demo data when the app's tables are empty: users with tokens, securities, and a history of
 * buys, sells and dividends. Deterministic (setseed), so every fresh stack holds the same data.
 * Returns false when data was already there.
 */
export async function seedDemoData(client: pg.ClientBase, options: SeedOptions = defaultSeed): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>('SELECT EXISTS (SELECT 1 FROM users) AS present');
  if (rows[0]?.present) return false;
  await client.query('BEGIN');
  try {
    await client.query('SELECT setseed(0.42)');
    for (const [symbol, name, sector, price] of securities) {
      await client.query('INSERT INTO securities (symbol, name, sector, price) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        symbol,
        name,
        sector,
        price,
      ]);
    }
    const userNumbers = Array.from({ length: options.users }, (_, index) => index + 1);
    await client.query(
      `INSERT INTO users (email, display_name, uses_new_dashboard, created_at)
       SELECT 'user' || n || '@demo.vigil.local', 'Demo user ' || n, n <= $2::int, now() - interval '2 years'
       FROM unnest($1::int[]) AS n ORDER BY n`,
      [userNumbers, Math.round((options.users * options.adoptionPercent) / 100)],
    );
    await client.query(
      `INSERT INTO api_tokens (token_sha256, user_id)
       SELECT digest.token_sha256, u.id
       FROM unnest($1::int[], $2::text[]) AS digest(n, token_sha256)
       JOIN users u ON u.email = 'user' || digest.n || '@demo.vigil.local'`,
      [userNumbers, userNumbers.map((n) => tokenDigest(demoToken(n)))],
    );
    // Mostly buys, some sells and dividends, spread over two years at prices near today's.
    await client.query(
      `WITH symbols AS (SELECT array_agg(symbol ORDER BY symbol) AS list FROM securities),
       rolls AS (
         SELECT u.id AS user_id,
                symbols.list[1 + floor(random() * array_length(symbols.list, 1))::int] AS symbol,
                random() AS kind_roll, random() AS size_roll, random() AS price_roll,
                now() - random() * interval '730 days' AS executed_at
         FROM users u CROSS JOIN generate_series(1, $1::int) CROSS JOIN symbols
       ),
       trades AS (
         SELECT rolls.user_id, rolls.symbol, rolls.executed_at,
                CASE WHEN kind_roll < 0.75 THEN 'BUY' WHEN kind_roll < 0.88 THEN 'SELL' ELSE 'DIVIDEND' END AS kind,
                CASE WHEN kind_roll < 0.88 THEN round((1 + size_roll * 20)::numeric, 6) ELSE 1 END AS quantity,
                CASE WHEN kind_roll < 0.88 THEN round((s.price * (0.6 + price_roll * 0.5))::numeric, 4)
                     ELSE round((s.price * 0.01 * (0.5 + price_roll))::numeric, 4) END AS price
         FROM rolls JOIN securities s USING (symbol)
       )
       INSERT INTO transactions (user_id, symbol, kind, quantity, price, amount, executed_at)
       SELECT user_id, symbol, kind, quantity, price, round(quantity * price, 2), executed_at FROM trades`,
      [options.transactionsPerUser],
    );
    await client.query(`INSERT INTO cache_counters (cache_name) VALUES ('user_performance') ON CONFLICT DO NOTHING`);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}
