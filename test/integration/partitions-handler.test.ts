import type { Context } from 'aws-lambda';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/ports';
import { useHandlerFixture } from '../support/handler-fixture';

type Handler = (
  event: unknown,
  context: Context,
) => Promise<{ tables: Array<{ table: string; error?: string; futurePartitions?: number }> }>;

describe('partitionMaintenance handler', () => {
  const fixture = useHandlerFixture({
    functionName: 'partitionMaintenance',
    remainingMs: 300_000,
    env: { VIGIL_ALERT_PUBLISH_ATTEMPTS: '1', PARTITION_LOCK_TIMEOUT_MS: '200' },
  });
  const context = fixture.context();
  const handlerWith = (env: Record<string, string>) => fixture.handler<Handler>('partition-maintenance', env);
  const futureOf = async (table: string) =>
    (
      await fixture.database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass
         AND (SELECT relname FROM pg_class WHERE oid = inhrelid) > $2 || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')
         AND (SELECT relname FROM pg_class WHERE oid = inhrelid) NOT LIKE '%default'`,
        [table, `${table}_`],
      )
    ).rows[0]?.n;

  beforeAll(async () => {
    await fixture.database.db.query(`
      CREATE TABLE clicks (at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;
      INSERT INTO clicks VALUES (now() + interval '5 years');
      CREATE TABLE views (at timestamptz NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE views_default PARTITION OF views DEFAULT;`);
  });

  it('keeps the app logs ahead, moves stray rows out of the default, alerts on a missing table without failing the invocation for it', async () => {
    const handler = await handlerWith({
      PARTITION_TABLES: JSON.stringify([
        { table: 'api_performance_log', adopt: true, retention: 12 },
        { table: 'clicks' },
        { table: 'missing_table' },
        { table: 'bad name!' },
      ]),
    });
    const result = await handler({}, context);
    expect(result.tables.map((table) => [table.table, table.error ?? 'ok'])).toEqual([
      [
        'bad name!',
        expect.stringMatching(/^configuration of this PARTITION_TABLES entry: table: must be a table name as in SQL/),
      ],
      ['api_performance_log', 'ok'],
      ['clicks', 'ok'],
      ['missing_table', 'table missing_table does not exist'],
    ]);
    expect(await futureOf('api_performance_log')).toBe(3);
    // The row five years ahead got a partition of its own: nothing is left in the default.
    const { rows } = await fixture.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM clicks_default');
    expect(rows[0]?.n).toBe(0);
    const delivered = (await fixture.delivered())
      .map((message) => `${message.attributes.severity} ${message.attributes.alert_key}`)
      .sort();
    expect(delivered).toEqual(['major partitions:bad name!:failed', 'major partitions:missing_table:failed']);
  });

  it('with the alert topic unreachable and one table locked, maintains the others, then fails the invocation for the undelivered alerts', async () => {
    const holder = new pg.Client({ connectionString: fixture.database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM clicks');
      const handler = await handlerWith({
        AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${await freePort()}`,
        // Locks of clicks are deferred in 2 of 2 runs: its failed alert is due, and cannot be delivered.
        PARTITION_LOCK_ALERT_BREACHES: '1',
        PARTITION_LOCK_ALERT_RUNS: '2',
        PARTITION_TABLES: JSON.stringify([
          { table: 'clicks', premake: 8 },
          { table: 'missing_table' },
          { table: 'views', premake: 2 },
        ]),
      });
      await expect(handler({}, context)).rejects.toThrow(
        /alerts not delivered: partitions:clicks:failed: SNS Publish .* ECONNREFUSED/,
      );
      // views, after both, was maintained all the same.
      expect(await futureOf('views')).toBe(2);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });
});
