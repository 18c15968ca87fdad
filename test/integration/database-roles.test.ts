import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PartitionTableConfig, partitionsConfig } from '../../functions/partition-maintenance/config';
import { maintainTable } from '../../functions/partition-maintenance/maintain';
import { loadConfig } from '../../lib/config';
import { createDatabase, quoteIdentifier } from '../../lib/db';
import {
  applyDatabaseRoles,
  demoObservedTables,
  demoPartitionedTables,
  functionLogins,
  setPasswords,
} from '../../local/database-roles';
import { seedDemoData } from '../../local/demo-app/seed';
import { createTestDatabase, type TestDatabase } from '../support/database';

/*
 * deploy/database-roles.sql on a real PostgreSQL: each function's login can do its duty and is
 * refused (permission denied) outside it. Roles are cluster-wide: this file alone creates them.
 */
/**
 * The app's tables given to its own role, as an app that runs its migrations as that role has them
 * (and CREATE in its schema, where its partitions go); the test's superuser made them.
 */
async function giveAppTablesTo(superuser: pg.Client, appOwner: string) {
  await superuser.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${appOwner}') THEN CREATE ROLE ${appOwner} NOLOGIN; END IF;
  END $$`);
  await superuser.query(`DO $$ DECLARE t record; BEGIN
    FOR t IN SELECT c.oid::regclass AS name FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') LOOP
      EXECUTE format('ALTER TABLE %s OWNER TO ${appOwner}', t.name);
    END LOOP;
  END $$`);
  await superuser.query(`GRANT CREATE ON SCHEMA public TO ${appOwner}`);
}

describe('database roles', () => {
  let database: TestDatabase;
  const password = 'roles-test-password';
  const appOwner = 'vigil_test_app_owner';
  const clients: pg.Client[] = [];

  async function as(login: string) {
    const url = new URL(database.url);
    url.username = login;
    url.password = password;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    clients.push(client);
    return client;
  }
  const refused = (client: pg.Client, sql: string) =>
    client.query(sql).then(
      () => 'allowed',
      (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    const seed = new pg.Client({ connectionString: database.url });
    await seed.connect();
    await seedDemoData(seed, { users: 3, transactionsPerUser: 2, adoptionPercent: 50 });
    await seed.query('CREATE TABLE unlisted_log (at timestamptz NOT NULL) PARTITION BY RANGE (at)');
    await giveAppTablesTo(seed, appOwner);
    await seed.end();
    const admin = new URL(database.url);
    const warnings = await applyDatabaseRoles(admin.toString(), {
      appOwner,
      observedTables: demoObservedTables,
      partitionedTables: demoPartitionedTables,
    });
    expect(warnings).not.toMatch(/WARNING/);
    // Idempotent: a second run changes nothing and fails nothing.
    await applyDatabaseRoles(admin.toString(), {
      appOwner,
      observedTables: demoObservedTables,
      partitionedTables: demoPartitionedTables,
    });
    await setPasswords(
      database.url,
      Object.fromEntries([...Object.values(functionLogins), 'vigil_owner'].map((login) => [login, password])),
    );
  });

  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => {});
    const url = database?.url;
    await database?.drop();
    if (!url) return;
    const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    for (const role of [
      ...Object.values(functionLogins),
      'vigil_owner',
      'vigil_observer',
      'vigil_partition_maintainer',
      'vigil_backup_reader',
      'vigil_partition_owner',
      'vigil_partition_definer',
      'vigil_writer',
      appOwner,
    ]) {
      await admin.query(`DROP ROLE IF EXISTS ${quoteIdentifier(role)}`).catch(() => {});
    }
    await admin.end();
  });

  it('lets no function login be a superuser or create databases or roles', async () => {
    const { rows } = await (await as('vigil_owner')).query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE 'vigil%' AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls)`,
    );
    expect(rows).toEqual([]);
  });

  it('lets the observers read what they observe and write schema vigil, and nothing more', async () => {
    const observer = await as(functionLogins.rollbackDecision);
    expect(await refused(observer, 'SELECT count(*) FROM api_performance_log')).toBe('allowed');
    expect(await refused(observer, 'INSERT INTO vigil.rollback_state (id) VALUES (1) ON CONFLICT DO NOTHING')).not.toMatch(
      /^42501/,
    );
    expect(await refused(observer, 'SELECT count(*) FROM transactions')).toMatch(
      /^42501: permission denied for table transactions/,
    );
    expect(await refused(observer, 'DROP TABLE users')).toMatch(/^42501: must be owner of table users/);
    expect(await refused(observer, 'ALTER TABLE user_performance ADD COLUMN x int')).toMatch(/^42501: must be owner/);
    expect(await refused(observer, 'DELETE FROM user_performance')).toMatch(/^42501: permission denied/);
    expect(await refused(observer, 'CREATE TABLE vigil.intruder (x int)')).toMatch(/^42501: permission denied for schema vigil/);
    const probe = await as(functionLogins.probe);
    expect(await refused(probe, 'SELECT count(*) FROM api_performance_log')).toMatch(/^42501: permission denied/);
    expect(await refused(probe, 'SELECT count(*) FROM vigil.probe_results')).toBe('allowed');
  });

  it("lets observers read only the columns of users they need, and keeps the trails append-only and the migrations the owner's", async () => {
    const observer = await as(functionLogins.rollbackDecision);
    expect(
      await refused(
        observer,
        'SELECT 100.0 * count(*) FILTER (WHERE uses_new_dashboard) / nullif(count(*), 0) AS value, count(*) AS sample_count FROM users',
      ),
    ).toBe('allowed');
    expect(await refused(observer, 'SELECT email FROM users')).toMatch(/^42501: permission denied for table users/);
    expect(
      await refused(
        observer,
        "INSERT INTO vigil.rollback_decisions (trigger, requested_by, instantaneous_action, severity, signals, answer) VALUES ('cli', 'x', 'continue_deployment', 'info', '[]', '{}')",
      ),
    ).toBe('allowed');
    for (const login of Object.values(functionLogins)) {
      const client = await as(login);
      expect(await refused(client, 'DELETE FROM vigil.rollback_decisions')).toMatch(/^42501: permission denied/);
      expect(await refused(client, 'UPDATE vigil.rollback_decisions SET requested_by = requested_by')).toMatch(
        /^42501: permission denied/,
      );
      expect(await refused(client, 'DELETE FROM vigil.alert_notifications')).toMatch(/^42501: permission denied/);
      expect(await refused(client, 'UPDATE vigil.pgmigrations SET name = name')).toMatch(/^42501: permission denied/);
    }
  });

  it('lets the backup reader read everything and write nothing but schema vigil', async () => {
    const backup = await as(functionLogins.backup);
    expect(await refused(backup, 'SELECT count(*) FROM transactions')).toBe('allowed');
    expect(await refused(backup, 'SELECT count(*) FROM vigil.rollback_decisions')).toBe('allowed');
    expect(await refused(backup, "INSERT INTO users (email) VALUES ('x@example.org')")).toMatch(
      /^42501: permission denied for table users/,
    );
    expect(await refused(backup, 'DELETE FROM api_performance_log')).toMatch(/^42501: permission denied/);
    expect(await refused(backup, 'TRUNCATE transactions')).toMatch(/^42501: permission denied/);
    expect(await refused(backup, 'DROP TABLE securities')).toMatch(/^42501: must be owner/);
  });

  it('lets the partition maintainer change partitions of the configured tables only, through the partition functions', async () => {
    const maintainer = await as(functionLogins.partitionMaintenance);
    const call = (name: string, ...args: string[]) =>
      refused(
        maintainer,
        `SELECT vigil_partitioning.${name}('api_performance_log', ${args.map((arg) => `'${arg}'`).join(', ')})`,
      );
    const child = 'api_performance_log_2031_01';
    const range = ['2031-01-01', '2031-02-01'];
    // Its duty: a child made standalone, bounded, attached, detached (then readable for its archive), dropped.
    expect(await call('create_child', child)).toBe('allowed');
    expect(await call('add_bounds', child, ...range)).toBe('allowed');
    expect(await call('attach', child, ...range)).toBe('allowed');
    expect(await call('detach', child)).toBe('allowed');
    expect(await refused(maintainer, `SELECT count(*) FROM ${child}`)).toBe('allowed');
    expect(await call('drop_detached', child)).toBe('allowed');
    expect(await call('default_intervals', 'month')).toBe('allowed');

    // What owning the table would allow, it cannot: no DDL of its own, no trigger, no TRUNCATE or DROP, no rows.
    expect(
      await refused(
        maintainer,
        "CREATE TABLE api_performance_log_2032_01 PARTITION OF api_performance_log FOR VALUES FROM ('2032-01-01') TO ('2032-02-01')",
      ),
    ).toMatch(/^42501: (must be owner of table api_performance_log|permission denied for schema public)/);
    expect(
      await refused(
        maintainer,
        'CREATE TRIGGER sneak BEFORE UPDATE ON api_performance_log FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()',
      ),
    ).toMatch(/^42501: permission denied for table api_performance_log/);
    expect(await refused(maintainer, 'TRUNCATE api_performance_log')).toMatch(/^42501: permission denied/);
    expect(await refused(maintainer, 'DROP TABLE api_performance_log')).toMatch(/^42501: must be owner/);
    expect(await refused(maintainer, 'SELECT count(*) FROM api_performance_log')).toMatch(/^42501: permission denied/);
    expect(await refused(maintainer, 'DROP TABLE users')).toMatch(/^42501: must be owner/);
    expect(await refused(maintainer, 'DELETE FROM transactions')).toMatch(/^42501: permission denied/);

    // The functions refuse anything but a configured table's own partitions.
    expect(await refused(maintainer, "SELECT vigil_partitioning.create_child('unlisted_log', 'unlisted_log_2031')")).toMatch(
      /^42501: partition maintenance: public\.unlisted_log is not one of the partitioned tables deploy\/database-roles.sql was given/,
    );
    for (const [name, args] of [
      ['add_bounds', ['users', ...range]],
      ['move_rows', ['users', ...range]],
      ['attach', ['users', ...range]],
      ['drop_detached', ['users']],
      ['keep_detached', ['users', 'public']],
    ] as const) {
      expect(await call(name, ...args), name).toMatch(/^42501: partition maintenance: public\.users is not a table/);
    }
    const { rows: appMade } = await database.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'api_performance_log'::regclass AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1 LIMIT 1`,
    );
    const theApps = appMade[0]?.name as string;
    expect(await call('detach', theApps)).toMatch(/^42501: partition maintenance: .* was not made by it/);
    expect(await call('detach', 'users')).toMatch(/^42P01: partition maintenance: public\.users is not a partition/);
    // A name is a name: quoted, never run.
    expect(await call('create_child', 'x"; DROP TABLE users; --')).toBe('allowed');
    expect((await database.db.query("SELECT to_regclass('users') IS NOT NULL AS here")).rows).toEqual([{ here: true }]);
    await database.db.query('DROP TABLE "x""; DROP TABLE users; --"');
    // Its helpers and its lists are the functions' own.
    expect(await refused(maintainer, "SELECT vigil_partitioning.checked_parent('users')")).toMatch(
      /^42501: permission denied for function checked_parent/,
    );
    expect(await refused(maintainer, "INSERT INTO vigil_partitioning.configured VALUES ('unlisted_log')")).toMatch(
      /^42501: permission denied for table configured/,
    );
  });

  it("runs partition maintenance as the maintainer: partitions created ahead belong to the app's owner, like the rest", async () => {
    const url = new URL(database.url);
    url.username = functionLogins.partitionMaintenance;
    url.password = password;
    const db = createDatabase(loadConfig(['database'], { DATABASE_URL: url.toString() }).database);
    try {
      const entry = loadConfig([partitionsConfig], {
        PARTITION_TABLES: JSON.stringify([{ table: 'api_performance_log', premake: 6 }]),
      }).partitions.tables[0] as PartitionTableConfig;
      const report = await maintainTable(db, entry, new Date(), {
        lockTimeoutMs: 1000,
        moveIntervalsPerRun: 12,
        lockAlertRuns: 3,
      });
      expect(report).toMatchObject({ failedSteps: [], deferredSteps: [] });
      expect(report.error).toBeUndefined();
      expect(report.futurePartitions).toBeGreaterThanOrEqual(6);
      const { rows } = await database.db.query<{ owner: string }>(
        `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c
         WHERE c.oid = 'api_performance_log'::regclass
            OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'api_performance_log'::regclass)`,
      );
      expect(rows).toEqual([{ owner: appOwner }]);
      // Retirement as the login too: the app's own partitions adopted, the oldest detached and dropped.
      const retiring = loadConfig([partitionsConfig], {
        PARTITION_TABLES: JSON.stringify([
          { table: 'api_performance_log', premake: 6, adopt: true, retention: 1, retire: 'drop' },
        ]),
      }).partitions.tables[0] as PartitionTableConfig;
      const retired = await maintainTable(db, retiring, new Date(), {
        lockTimeoutMs: 1000,
        moveIntervalsPerRun: 12,
        lockAlertRuns: 3,
      });
      expect(retired).toMatchObject({ failedSteps: [], deferredSteps: [] });
      expect(retired.error).toBeUndefined();
      expect(retired.steps.filter((step) => step.step === 'drop')).toHaveLength(1);
      // The app writes through the parent as before.
      await database.db.query(
        "INSERT INTO api_performance_log (endpoint, method, status_code, response_time_ms) VALUES ('/x', 'GET', 200, 5)",
      );
    } finally {
      await db.end();
    }
  });

  it('hands back what an older version gave vigil_partition_owner, lets the functions finish its detached tables, and drops the role', async () => {
    const older = await createTestDatabase();
    const superuser = new pg.Client({ connectionString: older.url });
    await superuser.connect();
    try {
      await giveAppTablesTo(superuser, appOwner);
      // As the roles script before the partition functions left it.
      await superuser.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vigil_partition_owner') THEN CREATE ROLE vigil_partition_owner NOLOGIN; END IF;
      END $$`);
      await superuser.query(`
        GRANT USAGE, CREATE ON SCHEMA public TO vigil_partition_owner;
        ALTER TABLE api_performance_log OWNER TO vigil_partition_owner;
        CREATE TABLE api_performance_log_2020_01 (LIKE api_performance_log);
        ALTER TABLE api_performance_log_2020_01 OWNER TO vigil_partition_owner;
        INSERT INTO vigil.partition_ledger (parent, partition, state, retire)
          VALUES ('"public"."api_performance_log"', '"public"."api_performance_log_2020_01"', 'detached', 'drop');`);
      for (let run = 0; run < 2; run += 1) {
        const warnings = await applyDatabaseRoles(older.url, {
          appOwner,
          observedTables: demoObservedTables,
          partitionedTables: demoPartitionedTables,
        });
        expect(warnings).not.toMatch(/WARNING|ERROR/);
      }
      const { rows } = await superuser.query(
        `SELECT relname AS name, pg_get_userbyid(relowner) AS owner FROM pg_class
         WHERE relname IN ('api_performance_log', 'api_performance_log_2020_01') ORDER BY 1`,
      );
      expect(rows).toEqual([
        { name: 'api_performance_log', owner: appOwner },
        { name: 'api_performance_log_2020_01', owner: appOwner },
      ]);
      expect((await superuser.query("SELECT 1 FROM pg_roles WHERE rolname = 'vigil_partition_owner'")).rowCount).toBe(0);
      const url = new URL(older.url);
      url.username = functionLogins.partitionMaintenance;
      url.password = password;
      const maintainer = new pg.Client({ connectionString: url.toString() });
      await maintainer.connect();
      try {
        expect(
          await refused(
            maintainer,
            "SELECT vigil_partitioning.drop_detached('api_performance_log', 'api_performance_log_2020_01')",
          ),
        ).toBe('allowed');
      } finally {
        await maintainer.end();
      }
    } finally {
      await superuser.end();
      await older.drop();
    }
  });

  it("runs as RDS's master user, who is no superuser, twice, and the duties work as after a superuser's run", async () => {
    const master = 'vigil_test_rds_master';
    const other = await createTestDatabase();
    const superuser = new pg.Client({ connectionString: other.url });
    await superuser.connect();
    try {
      // Shaped like RDS: CREATEROLE and CREATEDB, owner of the database, member of the app's owner,
      // pg_read_all_data grantable (rds_superuser's), no superuser.
      await superuser.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${master}') THEN
          CREATE ROLE ${master} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '${password}';
        END IF;
      END $$`);
      await giveAppTablesTo(superuser, appOwner);
      // Vigil's roles exist already (this file's first run made them, as the superuser): as if this
      // master had created them, which from PostgreSQL 16 gives it the ADMIN OPTION on each.
      await superuser.query(`DO $$ DECLARE r text; BEGIN
        FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'vigil\\_%' AND rolname NOT LIKE 'vigil\\_test\\_%' LOOP
          EXECUTE format('GRANT %I TO ${master} WITH ADMIN OPTION', r);
        END LOOP;
      END $$`);
      // (WITH ADMIN OPTION: from PostgreSQL 16, granting a role needs it, CREATEROLE alone no longer does.)
      await superuser.query(`GRANT ${appOwner} TO ${master} WITH ADMIN OPTION`);
      await superuser.query(`GRANT pg_read_all_data TO ${master} WITH ADMIN OPTION`);
      await superuser.query(`ALTER DATABASE ${quoteIdentifier(other.name)} OWNER TO ${master}`);
      // The app's tables are its owner's; schema vigil is vigil_owner's, as `npm run migrate` run as it leaves it.
      await superuser.query(`DO $$ DECLARE t record; BEGIN
        FOR t IN SELECT c.oid::regclass AS name FROM pg_class c WHERE c.relnamespace = 'vigil'::regnamespace AND c.relkind IN ('r', 'p') LOOP
          EXECUTE format('ALTER TABLE %s OWNER TO vigil_owner', t.name);
        END LOOP;
        ALTER SCHEMA vigil OWNER TO vigil_owner;
      END $$`);
      // A new RDS database has no partition functions: the test template's come from its superuser.
      await superuser.query('DROP SCHEMA vigil_partitioning CASCADE');
      const asMaster = new URL(other.url);
      asMaster.username = master;
      asMaster.password = password;
      for (let run = 0; run < 2; run += 1) {
        const warnings = await applyDatabaseRoles(asMaster.toString(), {
          appOwner,
          observedTables: demoObservedTables,
          partitionedTables: demoPartitionedTables,
        });
        expect(warnings).not.toMatch(/WARNING|ERROR/);
      }
      const login = async (role: string) => {
        const url = new URL(other.url);
        url.username = role;
        url.password = password;
        const client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
        clients.push(client);
        return client;
      };
      const maintainer = await login(functionLogins.partitionMaintenance);
      expect(
        await refused(maintainer, "SELECT vigil_partitioning.create_child('api_performance_log', 'api_performance_log_2032_01')"),
      ).toBe('allowed');
      expect(
        await refused(
          maintainer,
          "SELECT vigil_partitioning.attach('api_performance_log', 'api_performance_log_2032_01', '2032-01-01', '2032-02-01')",
        ),
      ).toBe('allowed');
      expect(await refused(await login(functionLogins.rollbackDecision), 'SELECT count(*) FROM api_performance_log')).toBe(
        'allowed',
      );
      expect(await refused(await login(functionLogins.backup), 'SELECT count(*) FROM transactions')).toBe('allowed');
      const { rows } = await superuser.query<{ owner: string }>(
        "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'api_performance_log'::regclass",
      );
      expect(rows[0]?.owner).toBe(appOwner);
    } finally {
      for (const client of clients.splice(0)) await client.end().catch(() => {});
      await superuser.end();
      await other.drop();
      const admin = new pg.Client({ connectionString: other.url.replace(/\/[^/]+$/, '/postgres') });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${master}`).catch(() => {});
      await admin.end();
    }
  });
});
