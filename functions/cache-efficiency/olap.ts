import type pg from 'pg';
import { quoteQualifiedName } from '../../lib/db';

export type OlapReport =
  | {
      state: 'ok';
      table: string;
      lastUpdated: Date;
      stalenessMinutes: number;
      /** Average health score per tenant over the last hour's buckets. */
      healthByTenant: Array<{ tenantId: string; healthScore: number; buckets: number }>;
    }
  | { state: 'no_data'; table: string; reason: string };

/** The analytics deliverable: staleness of the OLAP cache (now - max(last_updated)) and health score per tenant. */
export async function readOlapCache(client: pg.ClientBase, table: string): Promise<OlapReport> {
  const { rows: found } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
    quoteQualifiedName(table),
  ]);
  if (!found[0]?.exists) return { state: 'no_data', table, reason: `table ${table} not found (CACHE_OLAP_TABLE)` };
  const quoted = quoteQualifiedName(table);
  const { rows } = await client.query<{ last_updated: Date | null; staleness_minutes: number | null }>(
    `SELECT max(last_updated) AS last_updated, (extract(epoch FROM now() - max(last_updated)) / 60)::float8 AS staleness_minutes FROM ${quoted}`,
  );
  const latest = rows[0];
  if (!latest?.last_updated) return { state: 'no_data', table, reason: `${table} is empty: the OLAP cache was never refreshed` };
  const health = await client.query<{ tenant_id: string; health_score: number; buckets: number }>(
    `SELECT tenant_id::text, avg(health_score)::float8 AS health_score, count(*)::int AS buckets
     FROM ${quoted} WHERE hour_bucket >= now() - interval '1 hour' GROUP BY tenant_id ORDER BY 2`,
  );
  return {
    state: 'ok',
    table,
    lastUpdated: latest.last_updated,
    stalenessMinutes: Math.round((latest.staleness_minutes ?? 0) * 100) / 100,
    healthByTenant: health.rows.map((row) => ({
      tenantId: row.tenant_id,
      healthScore: Math.round(row.health_score * 100) / 100,
      buckets: row.buckets,
    })),
  };
}
