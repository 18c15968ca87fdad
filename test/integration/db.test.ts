import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { connectionOptions, createDatabase, quoteIdentifier } from '../../lib/db';
import { SecretError } from '../../lib/errors';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('db', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ DATABASE_STATEMENT_TIMEOUT_MS: '500', DATABASE_LOCK_TIMEOUT_MS: '200' });
    await database.db.query('CREATE TABLE vigil.scratch (id int PRIMARY KEY, note text)');
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('commits a transaction whose work succeeds', async () => {
    await database.db.withTransaction((client) => client.query("INSERT INTO vigil.scratch VALUES (1, 'kept')"));
    const { rows } = await database.db.query('SELECT note FROM vigil.scratch WHERE id = 1');
    expect(rows).toEqual([{ note: 'kept' }]);
  });

  it('rolls back a transaction whose work throws, and rethrows the same error', async () => {
    const failure = new Error('step failed');
    await expect(
      database.db.withTransaction(async (client) => {
        await client.query("INSERT INTO vigil.scratch VALUES (2, 'lost')");
        throw failure;
      }),
    ).rejects.toBe(failure);
    const { rowCount } = await database.db.query('SELECT 1 FROM vigil.scratch WHERE id = 2');
    expect(rowCount).toBe(0);
  });

  it('enforces the configured statement timeout', async () => {
    await expect(database.db.query('SELECT pg_sleep(2)')).rejects.toThrow(/statement timeout/);
  });

  it('enforces the configured lock timeout rather than queueing behind a lock', async () => {
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE vigil.scratch IN ACCESS EXCLUSIVE MODE');
      const started = performance.now();
      await expect(database.db.query('SELECT count(*) FROM vigil.scratch')).rejects.toThrow(/lock timeout/);
      expect(performance.now() - started).toBeLessThan(450);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('grants an advisory lock to one holder at a time and frees it after the work', async () => {
    const other = createDatabase(loadConfig(['database'], { DATABASE_URL: database.url }).database);
    try {
      let inner: unknown;
      const outer = await database.db.withAdvisoryLock('partition:api_performance_log', async () => {
        inner = await other.withAdvisoryLock('partition:api_performance_log', async () => 'second');
        return 'first';
      });
      expect(outer).toEqual({ acquired: true, value: 'first' });
      expect(inner).toEqual({ acquired: false });
      expect(await other.withAdvisoryLock('partition:api_performance_log', async () => 'again')).toEqual({
        acquired: true,
        value: 'again',
      });
      expect(await other.withAdvisoryLock('partition:query_performance_log', async () => 'other key')).toMatchObject({
        acquired: true,
      });
    } finally {
      await other.end();
    }
  });

  it('releases an advisory lock when the work throws', async () => {
    await expect(
      database.db.withAdvisoryLock('backup', async () => {
        throw new Error('dump failed');
      }),
    ).rejects.toThrow('dump failed');
    expect(await database.db.withAdvisoryLock('backup', async () => 1)).toEqual({ acquired: true, value: 1 });
  });

  it('connects with credentials read from a Secrets Manager secret of the RDS shape', async () => {
    const url = new URL(database.url);
    const secret = JSON.stringify({
      username: url.username,
      password: url.password,
      host: url.hostname,
      port: Number(url.port),
      dbname: database.name,
      engine: 'postgres',
    });
    const config = loadConfig(['database'], { DATABASE_SECRET_ID: 'vigil/test' }).database;
    const fromSecret = createDatabase(config, async (id) => {
      expect(id).toBe('vigil/test');
      return secret;
    });
    try {
      const { rows } = await fromSecret.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]?.db).toBe(database.name);
    } finally {
      await fromSecret.end();
    }
  });

  it('names the missing fields of a malformed secret without echoing its value', async () => {
    const config = loadConfig(['database'], { DATABASE_SECRET_ID: 'vigil/test' }).database;
    const attempt = connectionOptions(config, async () => JSON.stringify({ username: 'u', password: 'hunter2' }));
    await expect(attempt).rejects.toBeInstanceOf(SecretError);
    await expect(attempt).rejects.toThrow(/host/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it('quotes identifiers that need it', async () => {
    const name = 'odd "name"; drop';
    await database.db.query(`CREATE TABLE vigil.${quoteIdentifier(name)} (x int)`);
    const { rows } = await database.db.query('SELECT relname FROM pg_class WHERE relname = $1', [name]);
    expect(rows).toHaveLength(1);
  });

  it('reads the secret again and reconnects once when a rotated password is refused', async () => {
    const role = `vigil_rotation_${process.pid}`;
    const url = new URL(database.url);
    await database.db.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`);
    await database.db.query(`CREATE ROLE ${quoteIdentifier(role)} LOGIN PASSWORD 'first-password'`);
    let stored = 'first-password';
    const reads: Array<{ forceFetch?: boolean }> = [];
    const readSecret = async (_id: string, options: { forceFetch?: boolean } = {}) => {
      reads.push(options);
      return JSON.stringify({
        username: role,
        password: stored,
        host: url.hostname,
        port: Number(url.port),
        dbname: database.name,
      });
    };
    const rotating = createDatabase(loadConfig(['database'], { DATABASE_SECRET_ID: 'vigil/test/rotating' }).database, readSecret);
    try {
      expect((await rotating.query('SELECT current_user AS who')).rows).toEqual([{ who: role }]);
      // The rotation: a new password in the secret and on the server; the pool's connections go away.
      stored = 'second-password';
      await database.db.query(`ALTER ROLE ${quoteIdentifier(role)} PASSWORD 'second-password'`);
      await database.db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await rotating.query('SELECT current_user AS who')).rows).toEqual([{ who: role }]);
      expect(reads).toEqual([{ forceFetch: false }, { forceFetch: true }]);
      // A password that is simply wrong is refused after the one retry, not looped on.
      stored = 'wrong';
      await rotating.end();
      await expect(rotating.query('SELECT 1')).rejects.toThrow(/password authentication failed/);
      expect(reads).toHaveLength(4);
    } finally {
      await rotating.end();
      await database.db.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`);
    }
  });
});
