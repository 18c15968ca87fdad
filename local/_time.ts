import pg from 'pg';
import { startEmbeddedPostgres } from './postgres';

(async () => {
  const server = await startEmbeddedPostgres({ fast: true, dataDir: '/tmp/prof/pg' });
  const c = new pg.Client({ connectionString: server.adminUrl });
  await c.connect();
  const time = async (label: string, sql: string) => {
    const t = performance.now();
    await c.query(sql);
    console.log(label, Math.round(performance.now() - t));
  };
  await time('show jit', 'SELECT 1');
  console.log((await c.query("select setting from pg_settings where name in ('jit','max_parallel_workers_per_gather')")).rows);
  await c.query('BEGIN');
  await c.query("SET LOCAL work_mem = '128MB'");
  await time(
    'ctas',
    'CREATE UNLOGGED TABLE vigil.x AS SELECT user_id, access_count::bigint AS access_count, calculated_at FROM user_performance',
  );
  await time('analyze', 'ANALYZE vigil.x');
  const snap = 'vigil."cache_snapshot_user_performance_8baba7f4"';
  await time('join count', `SELECT count(*) FROM vigil.x cur FULL JOIN ${snap} snap ON snap.user_id = cur.user_id`);
  await time(
    'join full agg',
    `SELECT count(cur.user_id), count(snap.user_id), count(*) FILTER (WHERE snap.user_id IS NULL), count(*) FILTER (WHERE cur.user_id IS NULL), count(*) FILTER (WHERE cur.calculated_at > snap.calculated_at), count(*) FILTER (WHERE cur.calculated_at = snap.calculated_at AND cur.access_count < snap.access_count), count(*) FILTER (WHERE cur.calculated_at < snap.calculated_at), coalesce(sum(CASE WHEN snap.user_id IS NULL OR cur.calculated_at > snap.calculated_at THEN cur.access_count WHEN cur.calculated_at = snap.calculated_at AND cur.access_count >= snap.access_count THEN cur.access_count - snap.access_count ELSE 0 END), 0), sum(cur.access_count) FROM vigil.x cur FULL JOIN ${snap} snap ON snap.user_id = cur.user_id`,
  );
  await time(
    'ctas wide',
    'CREATE UNLOGGED TABLE vigil.y AS SELECT user_id, access_count::bigint AS access_count, calculated_at, expires_at, last_accessed, payload_size_kb, calculation_time_ms FROM user_performance',
  );
  await time(
    'scan stats',
    "SELECT count(*) FILTER (WHERE expires_at > now()), avg(calculation_time_ms), avg(payload_size_kb), count(*) FILTER (WHERE expires_at < now() - interval '1 hour' AND last_accessed > now() - interval '2 hours') FROM user_performance",
  );
  await c.query('ROLLBACK');
  await c.end();
  await server.stop();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
