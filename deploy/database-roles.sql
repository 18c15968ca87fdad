-- Vigil's database roles, one per duty, and one login per function. An administrator runs this
-- once in the watched database (and again after `npm run migrate`, and after adding a table):
--
--   psql "postgres://<admin>@<host>/<database>?sslmode=verify-full" -v ON_ERROR_STOP=1 \
--     -v app_owner=portfolio_app \
--     -v 'observed_tables=api_performance_log,query_performance_log,user_performance,cache_counters,performance_metrics_cache,users(id,uses_new_dashboard),support_tickets' \
--     -v partitioned_tables=api_performance_log,query_performance_log,system_resource_metrics,vigil.probe_results \
--     -f deploy/database-roles.sql
--
-- then gives each login a password (psql: \password vigil_probe) and stores it in that function's
-- secret, vigil/<stage>/database/<function> (README, "Database roles"). On RDS run it as the master
-- user (not a superuser: CREATEROLE, rds_superuser, owner of the database): it must be a member of
-- app_owner, with ADMIN OPTION, to make the partition functions' owner a member of it
-- (GRANT app_owner TO <master> WITH ADMIN OPTION), and it makes itself a member of vigil_owner and
-- vigil_partition_definer to give them what they own. Idempotent: every statement checks first;
-- tested as a superuser and as a master user shaped like RDS's, twice each.
--
-- Duties:
--   vigil_owner                  LOGIN  owns schema vigil; `npm run migrate` runs as it
--   vigil_writer                 group  reads and writes the tables of schema vigil (not their definitions)
--   vigil_observer               group  vigil_writer + SELECT on observed_tables (or on the columns named), nothing else of the app
--   vigil_partition_definer      NOLOGIN owns schema vigil_partitioning and its functions
--                                       (deploy/partition-functions.sql), a member of each partitioned
--                                       table's owner; nobody logs in as it or is a member of it
--   vigil_partition_maintainer   group  vigil_writer + EXECUTE on those functions: it owns none of the app's
--                                       tables (no trigger, TRUNCATE or DROP of a parent)
--   vigil_backup_reader          group  vigil_writer + pg_read_all_data: reads everything, writes only schema vigil
-- Logins (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION):
--   vigil_probe, vigil_alerts                      vigil_writer (they read nothing of the app)
--   vigil_cache_efficiency                         vigil_observer, and CREATE in schema vigil (its snapshot tables)
--   vigil_rollback_decision, vigil_report          vigil_observer
--   vigil_partition_maintenance                    vigil_partition_maintainer
--   vigil_backup                                   vigil_backup_reader
-- The restore check's role lives on the scratch server, not here (README, "Database roles"):
--   CREATE ROLE vigil_restore_check LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION PASSWORD '...';

\set ON_ERROR_STOP on
SELECT set_config('vigil.app_owner', :'app_owner', false),
       set_config('vigil.observed_tables', :'observed_tables', false),
       set_config('vigil.partitioned_tables', :'partitioned_tables', false) \g /dev/null

DO $roles$
DECLARE
  app_owner text := current_setting('vigil.app_owner');
  grouping record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app_owner) THEN
    RAISE EXCEPTION 'app_owner: no role %', app_owner;
  END IF;
  FOR grouping IN
    SELECT * FROM (VALUES
      ('vigil_owner', true),
      ('vigil_writer', false),
      ('vigil_observer', false),
      ('vigil_partition_definer', false),
      ('vigil_partition_maintainer', false),
      ('vigil_backup_reader', false),
      ('vigil_probe', true),
      ('vigil_alerts', true),
      ('vigil_report', true),
      ('vigil_cache_efficiency', true),
      ('vigil_rollback_decision', true),
      ('vigil_partition_maintenance', true),
      ('vigil_backup', true)
    ) AS roles (name, login)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grouping.name) THEN
      EXECUTE format('CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', grouping.name,
                     CASE WHEN grouping.login THEN 'LOGIN' ELSE 'NOLOGIN' END);
    END IF;
  END LOOP;

  GRANT vigil_writer TO vigil_observer, vigil_partition_maintainer, vigil_backup_reader, vigil_probe, vigil_alerts;
  GRANT vigil_observer TO vigil_cache_efficiency, vigil_rollback_decision, vigil_report;
  GRANT vigil_partition_maintainer TO vigil_partition_maintenance;
  GRANT pg_read_all_data TO vigil_backup_reader;
  GRANT vigil_backup_reader TO vigil_backup;
  -- A master user that is not a superuser (RDS) may hand a schema or a table only to a role it is a
  -- member of.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT vigil_owner, vigil_partition_definer TO %I', current_user);
  END IF;
END
$roles$;

-- Schema vigil: owned by vigil_owner, its tables written (not defined) by the writers.
DO $schema$
DECLARE
  object record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'vigil') THEN
    CREATE SCHEMA vigil AUTHORIZATION vigil_owner;
  ELSE
    ALTER SCHEMA vigil OWNER TO vigil_owner;
    -- An installation from before the roles: its objects move to vigil_owner, the cache
    -- snapshots to the function that drops and recreates them (partitioned tables configured
    -- below go on to vigil_partition_owner).
    FOR object IN
      SELECT c.oid::regclass AS name, c.relkind, c.relname FROM pg_class c
      WHERE c.relnamespace = 'vigil'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
        AND pg_get_userbyid(c.relowner) NOT IN ('vigil_owner', 'vigil_partition_owner', 'vigil_cache_efficiency')
    LOOP
      EXECUTE format('ALTER %s %s OWNER TO %I',
        -- (A table's own sequences follow it.)
        CASE object.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
        object.name,
        CASE WHEN object.relname LIKE 'cache\_snapshot\_%' THEN 'vigil_cache_efficiency' ELSE 'vigil_owner' END);
    END LOOP;
  END IF;
END
$schema$;
SELECT format('GRANT CREATE ON DATABASE %I TO vigil_owner', current_database()) \gexec
GRANT USAGE ON SCHEMA vigil TO vigil_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA vigil TO vigil_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA vigil TO vigil_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE vigil_owner IN SCHEMA vigil GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO vigil_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE vigil_owner IN SCHEMA vigil GRANT USAGE, SELECT ON SEQUENCES TO vigil_writer;
GRANT CREATE ON SCHEMA vigil TO vigil_cache_efficiency;
-- The decision and notification trails are append-only for every function; the migrations'
-- bookkeeping is the migrating role's alone (run this again after `npm run migrate`).
DO $trails$
BEGIN
  IF to_regclass('vigil.rollback_decisions') IS NOT NULL THEN
    REVOKE UPDATE, DELETE, TRUNCATE ON vigil.rollback_decisions FROM vigil_writer;
  END IF;
  IF to_regclass('vigil.alert_notifications') IS NOT NULL THEN
    REVOKE UPDATE, DELETE, TRUNCATE ON vigil.alert_notifications FROM vigil_writer;
  END IF;
  IF to_regclass('vigil.pgmigrations') IS NOT NULL THEN
    REVOKE ALL ON vigil.pgmigrations FROM vigil_writer;
  END IF;
END
$trails$;

-- What the observers read of the app, and nothing else: a table whole (users), or only the columns
-- named after it (users(id,uses_new_dashboard): no emails), a previous whole-table grant revoked.
DO $observed$
DECLARE
  listed text;
  table_name text;
  column_list text;
  relation regclass;
BEGIN
  FOR listed IN
    SELECT (regexp_matches(regexp_replace(current_setting('vigil.observed_tables'), '\s', '', 'g'), '([^,()]+(\([^()]*\))?)', 'g'))[1]
  LOOP
    table_name := split_part(listed, '(', 1);
    column_list := substring(listed FROM '\(([^()]*)\)');
    CONTINUE WHEN table_name = '';
    relation := to_regclass(table_name);
    IF relation IS NULL THEN
      RAISE WARNING 'observed_tables: no table %, skipped (run this again once it exists)', table_name;
      CONTINUE;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO vigil_observer',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation));
    IF column_list IS NULL THEN
      EXECUTE format('GRANT SELECT ON %s TO vigil_observer', relation);
    ELSE
      EXECUTE format('REVOKE SELECT ON %s FROM vigil_observer', relation);
      EXECUTE format('GRANT SELECT (%s) ON %s TO vigil_observer',
                     (SELECT string_agg(quote_ident(name), ', ') FROM unnest(string_to_array(column_list, ',')) AS name),
                     relation);
    END IF;
  END LOOP;
END
$observed$;

-- The partition functions, owned by vigil_partition_definer: created as it (SET ROLE), in a schema it owns.
DO $definer$
DECLARE
  object record;
BEGIN
  IF to_regnamespace('vigil_partitioning') IS NULL THEN
    CREATE SCHEMA vigil_partitioning AUTHORIZATION vigil_partition_definer;
  ELSE
    -- Installed before by someone else (a local superuser): all of it becomes the definer's.
    ALTER SCHEMA vigil_partitioning OWNER TO vigil_partition_definer;
    FOR object IN SELECT p.oid::regprocedure AS name FROM pg_proc p WHERE p.pronamespace = 'vigil_partitioning'::regnamespace LOOP
      EXECUTE format('ALTER FUNCTION %s OWNER TO vigil_partition_definer', object.name);
    END LOOP;
    FOR object IN SELECT c.oid::regclass AS name FROM pg_class c WHERE c.relnamespace = 'vigil_partitioning'::regnamespace AND c.relkind = 'r' LOOP
      EXECUTE format('ALTER TABLE %s OWNER TO vigil_partition_definer', object.name);
    END LOOP;
  END IF;
END
$definer$;
SET ROLE vigil_partition_definer;
SET client_min_messages = warning; -- not the NOTICEs of IF NOT EXISTS
\ir partition-functions.sql
RESET client_min_messages;
RESET ROLE;
GRANT USAGE ON SCHEMA vigil_partitioning TO vigil_partition_maintainer;
GRANT EXECUTE ON FUNCTION
  vigil_partitioning.create_default(regclass, text),
  vigil_partitioning.create_child(regclass, text),
  vigil_partitioning.add_bounds(regclass, text, text, text),
  vigil_partitioning.move_rows(regclass, text, text, text),
  vigil_partitioning.attach(regclass, text, text, text),
  vigil_partitioning.adopt(regclass, text),
  vigil_partitioning.detach(regclass, text),
  vigil_partitioning.finalize(regclass, text),
  vigil_partitioning.drop_detached(regclass, text),
  vigil_partitioning.keep_detached(regclass, text, text),
  vigil_partitioning.default_intervals(regclass, text)
TO vigil_partition_maintainer;

-- Before the partition functions (Vigil before issue 30): the partitioned tables were handed to
-- vigil_partition_owner, which the maintainer was a member of. They go back to their owners (the
-- app's tables to app_owner, Vigil's own to vigil_owner), a detached one the ledger holds is left
-- to the functions to archive and drop, and the role goes.
DO $legacy$
DECLARE
  legacy oid := (SELECT oid FROM pg_roles WHERE rolname = 'vigil_partition_owner');
  object record;
BEGIN
  IF legacy IS NULL THEN
    RETURN;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT vigil_partition_owner TO CURRENT_USER;
  END IF;
  FOR object IN
    SELECT c.oid::regclass AS name, n.nspname, c.relkind, c.relispartition
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relowner = legacy AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO %I', object.name,
      CASE WHEN object.nspname = 'vigil' THEN 'vigil_owner' ELSE current_setting('vigil.app_owner') END);
    -- One the ledger holds as detached: the functions may archive and drop it. Any other standalone
    -- one (a move an even older version left half done) is the app's now, for a person to look at.
    IF object.relkind = 'r' AND NOT object.relispartition THEN
      PERFORM FROM pg_class WHERE false; -- FOUND is false unless the ledger holds it
      IF to_regclass('vigil.partition_ledger') IS NOT NULL THEN
        INSERT INTO vigil_partitioning.detached (child, parent)
          SELECT object.name, to_regclass(l.parent) FROM vigil.partition_ledger l
           WHERE to_regclass(l.partition) = object.name AND to_regclass(l.parent) IS NOT NULL
          ON CONFLICT DO NOTHING;
      END IF;
      IF NOT FOUND THEN
        RAISE WARNING 'partitioned_tables: % stands beside its parent, not attached, left by an interrupted run of an old version: attach it (ALTER TABLE <parent> ATTACH PARTITION) or drop it', object.name;
      END IF;
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_shdepend WHERE refobjid = legacy AND deptype = 'o') THEN
    DROP OWNED BY vigil_partition_owner; -- its grants only: it owns nothing any more
    DROP ROLE vigil_partition_owner;
  ELSE
    RAISE WARNING 'vigil_partition_owner still owns objects (in another database?); it stays until they are handed back';
  END IF;
END
$legacy$;

-- The partitioned tables the maintainer keeps, and only those: listed for the functions, their
-- owners' rights lent to the functions' owner, the maintainer allowed to see their schemas.
DO $partitioned$
DECLARE
  listed text;
  relation regclass;
  owner_name text;
  schema_name text;
  listed_parents regclass[] := '{}';
BEGIN
  FOREACH listed IN ARRAY string_to_array(regexp_replace(current_setting('vigil.partitioned_tables'), '\s', '', 'g'), ',') LOOP
    CONTINUE WHEN listed = '';
    relation := to_regclass(listed);
    IF relation IS NULL THEN
      RAISE WARNING 'partitioned_tables: no table %, skipped (run this again once it exists)', listed;
      CONTINUE;
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = relation) <> 'p' THEN
      RAISE EXCEPTION 'partitioned_tables: % is not a partitioned table', listed;
    END IF;
    SELECT n.nspname, pg_get_userbyid(c.relowner) INTO schema_name, owner_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
    -- The functions act with the owner's rights; a superuser's are too many to lend.
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = owner_name) THEN
      RAISE EXCEPTION 'partitioned_tables: % is owned by the superuser %; give it to the app''s own role first (ALTER TABLE % OWNER TO <app role>)',
        listed, owner_name, relation;
    END IF;
    -- New partitions are created in the parent's schema and handed to its owner: it must be allowed to create there.
    IF NOT has_schema_privilege(owner_name, schema_name, 'CREATE') THEN
      RAISE EXCEPTION 'partitioned_tables: %''s owner % may not create tables in schema %, where its partitions go (GRANT CREATE ON SCHEMA % TO %)',
        listed, owner_name, schema_name, quote_ident(schema_name), quote_ident(owner_name);
    END IF;
    IF NOT pg_has_role('vigil_partition_definer', owner_name, 'USAGE') THEN
      EXECUTE format('GRANT %I TO vigil_partition_definer', owner_name);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO vigil_partition_maintainer', schema_name);
    listed_parents := listed_parents || relation;
    -- The writers keep writing rows through the parent (vigil.probe_results: the probe).
    IF schema_name = 'vigil' THEN
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO vigil_writer', relation);
    END IF;
  END LOOP;
  -- Exactly the tables listed now: one left out of the list is no longer the maintainer's.
  DELETE FROM vigil_partitioning.configured WHERE parent <> ALL (listed_parents);
  INSERT INTO vigil_partitioning.configured (parent) SELECT unnest(listed_parents) ON CONFLICT DO NOTHING;
END
$partitioned$;
