-- control/sql/core.sql: the schema and what every area shares.
--
-- The files of control/sql/ are the extension's SQL, each object written
-- once as it is in the current release; the Makefile concatenates them, in
-- the order of its SQL_SOURCES, into the install script
-- control/pg_pipeline--$(EXTVERSION).sql.  This file comes first and opens
-- that script.  A change here needs the same change in the upgrade script
-- of the release (control/pg_pipeline--<previous>--<next>.sql):
-- test/t/013_upgrade.pl fails when the two disagree.

\echo Use "CREATE EXTENSION pg_pipeline" to load this file. \quit

-- The extension's objects live in schema pipeline, a member of the
-- extension (so DROP EXTENSION removes it); the control file names
-- pg_catalog only so that CREATE EXTENSION ... SCHEMA is refused.
CREATE SCHEMA pipeline;
COMMENT ON SCHEMA pipeline IS 'pg_pipeline: catalogs, functions and status views';
GRANT USAGE ON SCHEMA pipeline TO PUBLIC;

CREATE FUNCTION pipeline.version()
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.version() IS
'version of the loaded pg_pipeline library';

------------------------------------------------------------------------
-- Roles and owners
------------------------------------------------------------------------

-- Members of pipeline_admin see and manage every role's pipeline objects;
-- other roles only their own (row-level security on each catalog).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pipeline_admin') THEN
        CREATE ROLE pipeline_admin NOLOGIN;
    END IF;
END
$$;

CREATE FUNCTION pipeline.is_admin()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.pg_has_role(current_user, 'pipeline_admin', 'MEMBER') $$;
COMMENT ON FUNCTION pipeline.is_admin() IS
'whether the current role may see and manage every role''s pipeline objects';

-- Whether the current role (not the session's: a SECURITY DEFINER function
-- may be running) is a superuser.
CREATE FUNCTION pipeline._is_superuser()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user $$;
COMMENT ON FUNCTION pipeline._is_superuser() IS 'whether the current role is a superuser';

-- An owner was a name: a role dropped while it owned pipeline objects left
-- them to the next role created with that name (its sources' payloads, its
-- DAGs, which then ran as the newcomer).  The role's OID is kept beside
-- the name (the owner_oid columns), set when a row is written (and when a
-- superuser changes the owner), never from what a writer puts in it: row
-- security, the workers and the runners go by the OID; the name is for
-- people.  A row whose role is gone belongs to nobody: only superusers and
-- pipeline_admin see it, and nothing runs it.

-- the current role's OID (current_user is a name)
CREATE FUNCTION pipeline._current_role_oid()
RETURNS oid
LANGUAGE sql STABLE PARALLEL SAFE
-- (a scalar subquery, so that it is inlined and a policy reads it once per
-- statement, not once per row)
AS $$ SELECT (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) $$;
COMMENT ON FUNCTION pipeline._current_role_oid() IS 'the OID of the current role';

-- Runs after the guards (trigger names sort "guard" < "owner_oid"), which
-- have made a non-superuser's new row its own.
CREATE FUNCTION pipeline._owner_oid()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner THEN
        NEW.owner_oid := (SELECT r.oid FROM pg_roles r WHERE r.rolname = NEW.owner);
        IF NEW.owner_oid IS NULL THEN
            RAISE EXCEPTION 'role "%" does not exist', NEW.owner USING ERRCODE = 'undefined_object';
        END IF;
    ELSE
        NEW.owner_oid := OLD.owner_oid;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._owner_oid() IS
'trigger: keeps owner_oid the OID of the owner a row was written with, whatever the writer put there';

-- TG_ARGV[0]: what the object is called in messages; TG_ARGV[1..]: the
-- columns a role other than the owner (a pipeline_admin member: the row
-- policies let it see and update every row) may change.
CREATE FUNCTION pipeline._owner_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    superuser boolean := pipeline._is_superuser();
    operational text[] := TG_ARGV[1:];
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT superuser THEN
            NEW.owner := current_user;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.owner IS DISTINCT FROM OLD.owner AND NOT superuser THEN
        RAISE EXCEPTION 'only a superuser can change the owner of % "%"', TG_ARGV[0], OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The %s runs as its owner, %I.', TG_ARGV[0], OLD.owner);
    END IF;
    IF OLD.owner <> current_user AND NOT superuser
       AND (to_jsonb(NEW) - operational) IS DISTINCT FROM (to_jsonb(OLD) - operational) THEN
        RAISE EXCEPTION 'only the owner of % "%" can change its definition', TG_ARGV[0], OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The %s runs as its owner, %I.', TG_ARGV[0], OLD.owner),
                  HINT = 'Members of pipeline_admin may pause, resume and drop it.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._owner_guard() IS
'trigger: a non-superuser''s new row is its own; only a superuser changes an owner; a non-owner changes only the operational columns named in the trigger''s arguments';

-- A role's sources take background workers (max_worker_processes) and its
-- data-aware DAGs entries of a shared array (1,024 tables per server) that
-- every role's DAGs need: pg_pipeline.max_consumers_per_role and
-- pg_pipeline.max_watched_per_role bound one role's share (defaults 64 and
-- 64 when the library is not loaded).
CREATE FUNCTION pipeline._role_limit(setting text, fallback integer)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(nullif(current_setting('pg_pipeline.' || setting, true), '')::integer, fallback) $$;
COMMENT ON FUNCTION pipeline._role_limit(text, integer) IS
'the value of a pg_pipeline.max_*_per_role setting, or the default when the library is not loaded';

------------------------------------------------------------------------
-- Workers
------------------------------------------------------------------------

-- the coordinator reads the catalogs to run the workers; woken at commit
CREATE FUNCTION pipeline.wake_coordinator()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pipeline_wake_coordinator'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.wake_coordinator() IS
'trigger: wakes this database''s coordinator when the transaction commits';

CREATE FUNCTION pipeline.get_workers(
    OUT pid integer,
    OUT kind text,
    OUT datid oid,
    OUT roleid oid,
    OUT state text,
    OUT started_at timestamptz,
    OUT restarts integer,
    OUT last_error text,
    OUT last_error_at timestamptz,
    OUT label text,
    OUT items bigint,
    OUT bytes bigint,
    OUT items_per_sec float8,
    OUT bytes_per_sec float8,
    OUT last_batch_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_get_workers'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline.get_workers() IS
'the pg_pipeline launcher and the worker slots of the current database (needs shared_preload_libraries)';

-- A role sees its own workers; the database's coordinator and maintainer
-- and the launcher are shown to everyone.
CREATE VIEW pipeline.workers AS
SELECT w.kind,
       w.label AS works_on,
       w.pid,
       d.datname AS database,
       r.rolname AS role,
       w.state,
       w.started_at,
       w.restarts,
       w.last_error,
       w.last_error_at,
       w.items,
       w.bytes,
       round(w.items_per_sec::numeric, 1) AS items_per_sec,
       round(w.bytes_per_sec::numeric, 1) AS bytes_per_sec,
       w.last_batch_at
  FROM pipeline.get_workers() w
  LEFT JOIN pg_catalog.pg_database d ON d.oid = w.datid
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = w.roleid
 WHERE w.kind IN ('launcher', 'coordinator', 'maintainer')
    OR r.rolname = current_user
    OR pipeline.is_admin();
COMMENT ON VIEW pipeline.workers IS
'pg_pipeline workers of this database (and the launcher): kind, what it works on, state, restarts, last error, progress; a role sees its own consumers, sinks and runners (pipeline_admin all)';
COMMENT ON COLUMN pipeline.workers.kind IS
'launcher, coordinator, maintainer, consumer (a source), sink, runner (a DAG task) or model runner';
COMMENT ON COLUMN pipeline.workers.works_on IS
'what the worker works on: a source or sink name for consumers and sinks, a task or model run for runners; NULL when it works on the whole database';
COMMENT ON COLUMN pipeline.workers.pid IS 'the worker''s process id (NULL while it is not running)';
COMMENT ON COLUMN pipeline.workers.database IS 'the database of the worker (NULL for the launcher)';
COMMENT ON COLUMN pipeline.workers.role IS 'the role the worker runs as';
COMMENT ON COLUMN pipeline.workers.state IS
'starting, running, restarting (waiting before a restart after a failure) or stopped';
COMMENT ON COLUMN pipeline.workers.started_at IS 'when the worker last started';
COMMENT ON COLUMN pipeline.workers.restarts IS
'how many times the slot''s worker was restarted after a failure';
COMMENT ON COLUMN pipeline.workers.last_error IS
'the last error of the worker (it stays after recovery, until a newer one)';
COMMENT ON COLUMN pipeline.workers.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.workers.items IS 'messages or rows handled since the worker started';
COMMENT ON COLUMN pipeline.workers.bytes IS 'bytes handled since the worker started';
COMMENT ON COLUMN pipeline.workers.items_per_sec IS 'moving average of items per second over about 5 s';
COMMENT ON COLUMN pipeline.workers.bytes_per_sec IS 'moving average of bytes per second over about 5 s';
COMMENT ON COLUMN pipeline.workers.last_batch_at IS 'when the worker last committed a batch';
GRANT SELECT ON pipeline.workers TO PUBLIC;

-- Tell the operator at once when the workers cannot run (a WARNING: an
-- extension script runs with client_min_messages at least warning).
DO $$
BEGIN
    IF pg_catalog.current_setting('shared_preload_libraries')
       !~ '(^|[\s,])"?(\$libdir/)?pg_pipeline"?($|[\s,])' THEN
        RAISE WARNING 'pg_pipeline is not in shared_preload_libraries: its background workers will not run'
            USING HINT = 'Add pg_pipeline to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
END
$$;
