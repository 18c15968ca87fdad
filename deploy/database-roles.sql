-- Vigil's database roles, one per duty, and one login per function. An administrator runs this
-- once in the watched database (and again after `npm run migrate`, and after adding a table):
--
--   psql "postgres://<admin>@<host>/<database>?sslmode=verify-full" -v ON_ERROR_STOP=1 \
--     -v app_owner=portfolio_app \
--     -v 'observed_tables=api_performance_log,user_performance,cache_counters,performance_metrics_cache,users(id,uses_new_dashboard),support_tickets' \
--     -v partitioned_tables=api_performance_log,query_performance_log,system_resource_metrics,vigil.probe_results \
--     -f deploy/database-roles.sql
--
-- then gives each login a password (psql: \password vigil_probe) and stores it in that function's
-- secret, vigil/<stage>/database/<function> (README, "Database roles"). On RDS run it as the master
-- user (not a superuser: CREATEROLE, rds_superuser, owner of the database): it must be a member of
-- app_owner to hand the partitioned tables over (GRANT app_owner TO <master>), and it makes itself a
-- member of vigil_owner and vigil_partition_owner to give them what they own. Idempotent: every
-- statement checks first; tested as a superuser and as a master user shaped like RDS's, twice each.
--
-- Duties:
--   vigil_owner                  LOGIN  owns schema vigil; `npm run migrate` runs as it
--   vigil_writer                 group  reads and writes the tables of schema vigil (not their definitions)
--   vigil_observer               group  vigil_writer + SELECT on observed_tables (or on the columns named), nothing else of the app
--   vigil_partition_owner        group  owns partitioned_tables and their partitions (app_owner is a member)
--   vigil_partition_maintainer   group  vigil_writer + vigil_partition_owner (which may CREATE in those tables' schemas)
--   vigil_backup_reader          group  vigil_writer + pg_read_all_data: reads everything, writes only schema vigil
-- Logins (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION):
--   vigil_probe, vigil_alerts                      vigil_writer (they read nothing of the app)
--   vigil_cache_efficiency                         vigil_observer, and CREATE in schema vigil (its snapshot tables)
--   vigil_rollback_decision                        vigil_observer
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
      ('vigil_partition_owner', false),
      ('vigil_partition_maintainer', false),
      ('vigil_backup_reader', false),
      ('vigil_probe', true),
      ('vigil_alerts', true),
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
  GRANT vigil_observer TO vigil_cache_efficiency, vigil_rollback_decision;
  GRANT vigil_partition_owner TO vigil_partition_maintainer;
  GRANT vigil_partition_maintainer TO vigil_partition_maintenance;
  GRANT pg_read_all_data TO vigil_backup_reader;
  GRANT vigil_backup_reader TO vigil_backup;
  -- The app keeps every right it had over the tables handed to vigil_partition_owner.
  EXECUTE format('GRANT vigil_partition_owner TO %I', app_owner);
  -- Migrations may change vigil.probe_results, which becomes vigil_partition_owner's when configured.
  GRANT vigil_partition_owner TO vigil_owner;
  -- A master user that is not a superuser (RDS) may hand a schema or a table only to a role it is a
  -- member of.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT vigil_owner, vigil_partition_owner TO %I', current_user);
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

-- The partitioned tables the maintainer keeps, and only those: handed with every partition to
-- vigil_partition_owner (owning the parent is what CREATE ... PARTITION OF, ATTACH and DETACH
-- require), the maintainer allowed to create tables in their schemas.
DO $partitioned$
DECLARE
  listed text;
  relation regclass;
  part record;
  schema_name text;
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
    SELECT n.nspname INTO schema_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
    -- CREATE for the maintainer's new children, and for their owner, which they are handed to: before
    -- the hand-over, which a non-superuser may make only to a role that can create in the schema.
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO vigil_partition_owner', schema_name);
    FOR part IN SELECT relid FROM pg_partition_tree(relation) LOOP
      EXECUTE format('ALTER TABLE %s OWNER TO vigil_partition_owner', part.relid::regclass);
    END LOOP;
    -- The writers keep writing rows through the parent (vigil.probe_results: the probe).
    IF schema_name = 'vigil' THEN
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO vigil_writer', relation);
    END IF;
  END LOOP;
END
$partitioned$;
