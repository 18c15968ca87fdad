-- Partition DDL for Vigil's maintainer, without handing it the app's tables. Owning a parent is
-- what CREATE ... PARTITION OF, ATTACH and DETACH require, and an owner may also put a trigger on
-- the table, TRUNCATE it or DROP it. So the maintainer owns nothing of the app: it calls these
-- functions, SECURITY DEFINER, owned by vigil_partition_definer (a NOLOGIN role, a member of each
-- configured parent's owner, which nobody logs in as), and each does one step on one partition of
-- a configured parent only:
--
--   create_default(parent, name)            the default partition, when the parent has none
--   create_child(parent, name)              a standalone child LIKE the parent, to be attached
--   add_bounds(parent, name, from, to)      a CHECK of the child's range, so ATTACH skips its scan
--   move_rows(parent, name, from, to)       the range's rows out of the default partition into the child
--   attach(parent, name, from, to)          attached, the CHECK dropped, owned like the parent, marked
--   adopt(parent, name)                     an existing partition marked as Vigil's (its `adopt` setting)
--   detach(parent, name)                    a managed partition detached (not CONCURRENTLY: a function
--                                           may not), readable by the caller for its archive
--   finalize(parent, name)                  a detach an older version left pending, finished
--   drop_detached(parent, name)             a table these functions detached, dropped
--   keep_detached(parent, name, schema)     ... or kept, marked, moved to a retention schema
--   default_intervals(parent, unit)         what the default partition holds, per interval (counts only)
--
-- A parent is configured when deploy/database-roles.sql listed it (vigil_partitioning.configured),
-- or when the caller could act as its owner anyway (a local superuser). Names are quoted, bounds
-- passed as values and cast to the key's type, search_path pinned: nothing the caller sends is run
-- as SQL. Idempotent (CREATE OR REPLACE); deploy/database-roles.sql includes it and gives it its
-- owner; the local stack and the tests run it as they are, as their superuser.

-- (Created only when missing: CREATE SCHEMA IF NOT EXISTS would ask its owner for CREATE on the database.)
DO $schema$ BEGIN
  IF to_regnamespace('vigil_partitioning') IS NULL THEN
    CREATE SCHEMA vigil_partitioning;
  END IF;
END $schema$;
COMMENT ON SCHEMA vigil_partitioning IS 'Vigil: partition DDL for the maintainer (deploy/partition-functions.sql)';

-- The parents deploy/database-roles.sql was given (partitioned_tables): the only ones the
-- maintainer may change.
CREATE TABLE IF NOT EXISTS vigil_partitioning.configured (parent regclass PRIMARY KEY);
-- Tables detach() took out of a configured parent: the only ones drop_detached() may drop.
CREATE TABLE IF NOT EXISTS vigil_partitioning.detached (
  child regclass PRIMARY KEY,
  parent regclass NOT NULL,
  detached_at timestamptz NOT NULL DEFAULT now()
);

-- The facts of a parent the caller may maintain, or an error saying why it may not. Not granted to
-- anyone: the functions below call it as their owner.
CREATE OR REPLACE FUNCTION vigil_partitioning.checked_parent(
  parent regclass,
  OUT schema_name text, OUT owner_name text, OUT key_column text, OUT key_type text, OUT default_partition regclass
)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  facts record;
BEGIN
  SELECT n.nspname, c.relowner, pg_get_userbyid(c.relowner) AS owner_name, c.relkind, pt.partstrat,
         cardinality(pt.partattrs::int2[]) AS key_count, a.attname, format_type(a.atttypid, a.atttypmod) AS key_type,
         nullif(pt.partdefid, 0)::regclass AS default_partition
    INTO facts
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
   WHERE c.oid = parent;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'partition maintenance: no table %', parent USING ERRCODE = '42P01';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM vigil_partitioning.configured WHERE configured.parent = checked_parent.parent)
     AND NOT pg_has_role(session_user, facts.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'partition maintenance: % is not one of the partitioned tables deploy/database-roles.sql was given', parent
      USING ERRCODE = '42501', HINT = 'Run deploy/database-roles.sql again with the table in partitioned_tables.';
  END IF;
  IF facts.relkind <> 'p' OR facts.partstrat <> 'r' OR facts.key_count <> 1 OR facts.attname IS NULL THEN
    RAISE EXCEPTION 'partition maintenance: % is not partitioned by a range of one column', parent USING ERRCODE = '42809';
  END IF;
  schema_name := facts.nspname;
  owner_name := facts.owner_name;
  key_column := facts.attname;
  key_type := facts.key_type;
  default_partition := facts.default_partition;
END
$$;

-- A standalone table these functions made beside the parent and have not attached yet (owned by
-- their owner, in the parent's schema, not a partition, not one they detached).
CREATE OR REPLACE FUNCTION vigil_partitioning.made_child(parent regclass, schema_name text, child_name text)
RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target regclass := to_regclass(format('%I.%I', schema_name, child_name));
BEGIN
  IF target IS NULL THEN
    RAISE EXCEPTION 'partition maintenance: no table %.% to attach to %', schema_name, child_name, parent USING ERRCODE = '42P01';
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM pg_class c
     WHERE c.oid = target AND c.relkind = 'r' AND NOT c.relispartition
       AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  ) OR EXISTS (SELECT 1 FROM vigil_partitioning.detached d WHERE d.child = target) THEN
    RAISE EXCEPTION 'partition maintenance: % is not a table partition maintenance made for %', target, parent USING ERRCODE = '42501';
  END IF;
  RETURN target;
END
$$;

-- A partition of the parent, as the caller names it.
CREATE OR REPLACE FUNCTION vigil_partitioning.partition_of(parent regclass, schema_name text, child_name text)
RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target regclass := to_regclass(format('%I.%I', schema_name, child_name));
BEGIN
  IF target IS NULL OR NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = target AND inhparent = parent) THEN
    RAISE EXCEPTION 'partition maintenance: %.% is not a partition of %', schema_name, child_name, parent USING ERRCODE = '42P01';
  END IF;
  RETURN target;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.create_default(parent regclass, child_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
BEGIN
  EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', p.schema_name, child_name, parent);
  EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', p.schema_name, child_name, p.owner_name);
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.create_child(parent regclass, child_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
BEGIN
  EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING ALL)', p.schema_name, child_name, parent);
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.bounds_name(child_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT left(child_name, 50) || '_bounds' $$;

CREATE OR REPLACE FUNCTION vigil_partitioning.add_bounds(parent regclass, child_name text, range_from text, range_to text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.made_child(parent, p.schema_name, child_name);
BEGIN
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NOT NULL AND %I >= %L::%s AND %I < %L::%s)',
                 target, vigil_partitioning.bounds_name(child_name), p.key_column,
                 p.key_column, range_from, p.key_type, p.key_column, range_to, p.key_type);
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.move_rows(parent regclass, child_name text, range_from text, range_to text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.made_child(parent, p.schema_name, child_name);
  -- The parent's columns that take a value on insert, by name: a default partition's own column
  -- order never matters.
  columns text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                    WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped AND attgenerated = '');
  moved bigint;
BEGIN
  IF p.default_partition IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L::%s AND %I < %L::%s RETURNING %s) '
                 'INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM moved',
                 p.default_partition, p.key_column, range_from, p.key_type, p.key_column, range_to, p.key_type, columns,
                 target, columns, columns);
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.attach(parent regclass, child_name text, range_from text, range_to text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.made_child(parent, p.schema_name, child_name);
BEGIN
  EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', parent, target, range_from, range_to);
  EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', target, vigil_partitioning.bounds_name(child_name));
  -- Owned like its siblings, so the app keeps the rights over it that it has over the rest.
  EXECUTE format('ALTER TABLE %s OWNER TO %I', target, p.owner_name);
  EXECUTE format('COMMENT ON TABLE %s IS %L', target, 'vigil: managed by partitionMaintenance');
END
$$;

-- An existing partition marked as Vigil's (the table's `adopt` setting), so its retention applies.
CREATE OR REPLACE FUNCTION vigil_partitioning.adopt(parent regclass, child_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.partition_of(parent, p.schema_name, child_name);
BEGIN
  EXECUTE format('COMMENT ON TABLE %s IS %L', target, 'vigil: managed by partitionMaintenance');
END
$$;

-- After a detach: the caller may read the table (its archive), these functions may drop it.
CREATE OR REPLACE FUNCTION vigil_partitioning.record_detached(parent regclass, child regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO vigil_partitioning.detached (child, parent) VALUES (child, parent)
    ON CONFLICT ON CONSTRAINT detached_pkey DO UPDATE SET parent = EXCLUDED.parent, detached_at = now();
  IF NOT has_table_privilege(session_user, child, 'SELECT') THEN
    EXECUTE format('GRANT SELECT ON %s TO %I', child, session_user);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.detach(parent regclass, child_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.partition_of(parent, p.schema_name, child_name);
BEGIN
  IF obj_description(target, 'pg_class') IS DISTINCT FROM 'vigil: managed by partitionMaintenance' THEN
    RAISE EXCEPTION 'partition maintenance: % was not made by it, so it does not retire it', target USING ERRCODE = '42501';
  END IF;
  EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, target);
  PERFORM vigil_partitioning.record_detached(parent, target);
END
$$;

-- Finishes a DETACH ... CONCURRENTLY an older version left pending; returns whether the table was
-- one Vigil made (then it is retired like any other).
CREATE OR REPLACE FUNCTION vigil_partitioning.finalize(parent regclass, child_name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.partition_of(parent, p.schema_name, child_name);
  managed boolean := obj_description(target, 'pg_class') IS NOT DISTINCT FROM 'vigil: managed by partitionMaintenance';
BEGIN
  EXECUTE format('ALTER TABLE %s DETACH PARTITION %s FINALIZE', parent, target);
  IF managed THEN
    PERFORM vigil_partitioning.record_detached(parent, target);
  END IF;
  RETURN managed;
END
$$;

-- A table detach() took out of this parent; null when it is gone already.
CREATE OR REPLACE FUNCTION vigil_partitioning.detached_child(parent regclass, schema_name text, child_name text)
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target regclass := to_regclass(format('%I.%I', schema_name, child_name));
BEGIN
  -- Rows of tables gone meanwhile (dropped by hand) go first: their numbers may be given again.
  DELETE FROM vigil_partitioning.detached d WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = d.child);
  IF target IS NULL THEN
    RETURN NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM vigil_partitioning.detached d WHERE d.child = target AND d.parent = detached_child.parent)
     OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = target) THEN
    RAISE EXCEPTION 'partition maintenance: % is not a table it detached from %', target, parent USING ERRCODE = '42501';
  END IF;
  RETURN target;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.drop_detached(parent regclass, child_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.detached_child(parent, p.schema_name, child_name);
BEGIN
  IF target IS NOT NULL THEN
    DELETE FROM vigil_partitioning.detached d WHERE d.child = target;
    EXECUTE format('DROP TABLE %s', target);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.keep_detached(parent regclass, child_name text, retention_schema text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  target regclass := vigil_partitioning.detached_child(parent, p.schema_name, child_name);
BEGIN
  IF target IS NULL THEN
    RETURN;
  END IF;
  DELETE FROM vigil_partitioning.detached d WHERE d.child = target;
  EXECUTE format('COMMENT ON TABLE %s IS %L', target,
                 format('vigil: detached from %s past its retention; kept', (SELECT relname FROM pg_class WHERE oid = parent)));
  -- Kept is the app's again: the caller reads it no more.
  IF NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = target), 'USAGE') THEN
    EXECUTE format('REVOKE SELECT ON %s FROM %I', target, session_user);
  END IF;
  IF retention_schema IS NOT NULL AND retention_schema <> '' THEN
    EXECUTE format('ALTER TABLE %s SET SCHEMA %I', target, retention_schema);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION vigil_partitioning.default_intervals(parent regclass, unit text)
RETURNS TABLE (start text, rows bigint, total numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record := vigil_partitioning.checked_parent(parent);
  utc text;
BEGIN
  IF p.default_partition IS NULL THEN
    RETURN;
  END IF;
  IF unit NOT IN ('month', 'week', 'day') THEN
    RAISE EXCEPTION 'partition maintenance: no interval %', unit USING ERRCODE = '22023';
  END IF;
  utc := CASE WHEN p.key_type = 'timestamp with time zone' THEN format('%I AT TIME ZONE %L', p.key_column, 'UTC')
              ELSE format('%I::timestamp', p.key_column) END;
  -- date_trunc('week') starts weeks on Monday, as the plan's intervals do.
  RETURN QUERY EXECUTE format(
    'SELECT to_char(date_trunc($1, %s), ''YYYY-MM-DD"T"HH24:MI:SS"Z"''), count(*), sum(count(*)) OVER () '
    'FROM %s GROUP BY 1 ORDER BY 1 NULLS LAST', utc, p.default_partition) USING unit;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA vigil_partitioning FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA vigil_partitioning FROM PUBLIC;
