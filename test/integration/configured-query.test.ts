import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackConfig } from '../../functions/rollback-decision/config';
import { readSignals } from '../../functions/rollback-decision/signals';
import { loadConfig } from '../../lib/config';
import { ConfiguredQueryError, runConfiguredQuery } from '../../lib/configured-query';
import { createTestDatabase, type TestDatabase } from '../support/database';

/*
 * Configured SQL runs as a superuser here on purpose: the guard of lib/configured-query.ts must
 * hold even when the role's privileges would not stop anything.
 */
describe('configured-query', () => {
  let database: TestDatabase;
  const variable = 'ROLLBACK_ADOPTION_QUERY';

  async function victimState() {
    const { rows } = await database.db.query<{ rows: string; sequence: string; copies: string; locks: string }>(
      `SELECT (SELECT count(*) FROM victim) AS rows,
              (SELECT last_value FROM victim_seq) AS sequence,
              (SELECT count(*) FROM pg_class WHERE relname = 'victim_copy') AS copies,
              (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') AS locks`,
    );
    return rows[0];
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.db.query(`
      CREATE TABLE victim (id int PRIMARY KEY);
      INSERT INTO victim SELECT generate_series(1, 100);
      CREATE SEQUENCE victim_seq;
      CREATE FUNCTION write_victim() RETURNS int LANGUAGE sql VOLATILE AS 'DELETE FROM victim RETURNING 1';
      CREATE FUNCTION write_victim_plpgsql() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
        BEGIN PERFORM set_config('transaction_read_only', 'off', true); DELETE FROM victim; RETURN 1; END $$;
    `);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('reads what a well-formed query returns, with the clock of its transaction', async () => {
    const result = await runConfiguredQuery<{ value: string }>(database.db, variable, 'SELECT count(*) AS value FROM victim');
    expect(result.rows).toEqual([{ value: '100' }]);
    expect(result.readAt).toBeInstanceOf(Date);
  });

  it.each([
    ['a second statement after COMMIT', 'SELECT 1 AS value; COMMIT; DROP TABLE victim', /must be exactly one SQL statement/],
    ['a second statement', 'SELECT 1 AS value; DELETE FROM victim', /must be exactly one SQL statement/],
    ['a writable CTE', 'WITH gone AS (DELETE FROM victim RETURNING 1) SELECT count(*) AS value FROM gone', /may only read/],
    ['SELECT ... INTO', 'SELECT * INTO victim_copy FROM victim', /may only read/],
    ['nextval()', "SELECT nextval('victim_seq') AS value", /may only read/],
    ['a SQL function that writes', 'SELECT write_victim() AS value', /may only read/],
    ['a function that turns read-only off first', 'SELECT write_victim_plpgsql() AS value', /failed|may only read/],
    ['COPY', "COPY victim FROM PROGRAM 'true'", /must be a SELECT/],
    ['COPY after a SELECT', "SELECT 1 AS value; COPY victim TO PROGRAM 'true'", /must be exactly one SQL statement/],
    [
      'a transaction switched to read-write',
      'WITH x AS (SELECT 1) SELECT 1 AS value; SET TRANSACTION READ WRITE; TRUNCATE victim',
      /exactly one/,
    ],
  ])('refuses %s, naming the variable, and changes nothing', async (_case, sql, reason) => {
    const before = await victimState();
    const refused = await runConfiguredQuery(database.db, variable, sql).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConfiguredQueryError);
    expect((refused as Error).message).toMatch(new RegExp(`^${variable}: `));
    expect((refused as Error).message).toMatch(reason);
    expect(await victimState()).toEqual(before);
    expect(before?.rows).toBe('100');
  });

  it('keeps nothing a query did to its session: a session-level advisory lock ends with its connection', async () => {
    await runConfiguredQuery(database.db, variable, 'SELECT pg_advisory_lock(4242) IS NULL AS value');
    // The connection is closed asynchronously by the server side; give it a moment.
    for (let attempt = 0; attempt < 50 && (await victimState())?.locks !== '0'; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await victimState())?.locks).toBe('0');
  });

  it('gives the rollback decision no data for an adoption query that drops a table, naming the variable, and the table stays', async () => {
    const config = loadConfig([rollbackConfig], {
      ROLLBACK_ADOPTION_QUERY: 'SELECT 1 AS value; COMMIT; DROP TABLE victim',
      ROLLBACK_COMPLAINTS_QUERY: 'SELECT count(*) AS value FROM victim',
    }).rollback;
    const readings = await readSignals({ db: database.db, config, now: new Date(), confidencePercent: 95 });
    expect(readings.find((reading) => reading.name === 'adoptionPercent')).toMatchObject({
      value: null,
      reason: expect.stringMatching(/^ROLLBACK_ADOPTION_QUERY: must be exactly one SQL statement/),
    });
    expect(readings.find((reading) => reading.name === 'complaintsPerHour')).toMatchObject({ value: 100 });
    expect((await victimState())?.rows).toBe('100');
  });
});
