import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../local/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('schema', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('creates the vigil schema and records the migrations there', async () => {
    const { rows } = await database.db.query<{ name: string }>('SELECT name FROM vigil.pgmigrations ORDER BY id');
    expect(rows.map((row) => row.name)).toContain('1763770000000_vigil-schema');
  });

  it('applies nothing twice', async () => {
    expect(await migrate(database.url)).toEqual([]);
  });

  it('lets alert_state.notified go in two releases: no longer needed, still accepted from the version rolling out', async () => {
    const { rows } = await database.db.query<{ is_nullable: string; comment: string | null }>(
      `SELECT is_nullable, col_description('vigil.alert_state'::regclass, ordinal_position::int) AS comment
         FROM information_schema.columns
        WHERE table_schema = 'vigil' AND table_name = 'alert_state' AND column_name = 'notified'`,
    );
    expect(rows).toEqual([{ is_nullable: 'YES', comment: expect.stringContaining('dropped by the next release') }]);
    // The previous release still writes it while this one rolls out; this one writes no value.
    await database.db.query(
      `INSERT INTO vigil.alert_state (alert_key, severity, status, incident_started_at, last_fired_at, last_notified_at, notified, last_alert)
       VALUES ('schema:previous-release', 'minor', 'firing', now(), now(), now(), true, '{}')`,
    );
    await database.db.query(
      `INSERT INTO vigil.alert_state (alert_key, severity, status, incident_started_at, last_fired_at, last_alert)
       VALUES ('schema:this-release', 'minor', 'firing', now(), now(), '{}')`,
    );
    await database.db.query("DELETE FROM vigil.alert_state WHERE alert_key LIKE 'schema:%'");
  });

  it('has the watched app tables of the source documents', async () => {
    const { rows } = await database.db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'user_performance' ORDER BY ordinal_position",
    );
    expect(rows.map((row) => row.column_name)).toEqual([
      'user_id',
      'payload',
      'payload_size_kb',
      'calculation_time_ms',
      'calculated_at',
      'expires_at',
      'last_accessed',
      'access_count',
      'created_at',
      'transactions_summary',
    ]);
  });

  it('partitions the logs by month, children named <table>_YYYY_MM, this month and the next present', async () => {
    const { rows } = await database.db.query<{ parent: string; child: string }>(`
      SELECT parent.relname AS parent, child.relname AS child
      FROM pg_inherits
      JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
      JOIN pg_class child ON child.oid = pg_inherits.inhrelid
      ORDER BY 1, 2`);
    const now = new Date();
    const suffix = (offset: number) => {
      const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
      return `${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    for (const parent of ['api_performance_log', 'query_performance_log', 'system_resource_metrics']) {
      const children = rows.filter((row) => row.parent === parent).map((row) => row.child);
      expect(children).toEqual([-2, -1, 0, 1].map((offset) => `${parent}_${suffix(offset)}`));
    }
  });

  it("routes a log row of this month into this month's partition", async () => {
    await database.db.query(
      "INSERT INTO api_performance_log (endpoint, method, status_code, response_time_ms) VALUES ('/api/portfolio/complete', 'GET', 200, 12.5)",
    );
    const { rows } = await database.db.query<{ partition: string }>(
      'SELECT tableoid::regclass::text AS partition FROM api_performance_log',
    );
    expect(rows[0]?.partition).toMatch(/^api_performance_log_\d{4}_\d{2}$/);
  });
});
