/* pg_pipeline 0.1.0: the foundation (schema, version, worker status). */

\echo Use "CREATE EXTENSION pg_pipeline" to load this file. \quit

-- The extension's objects live in schema pipeline, a member of the
-- extension (so DROP EXTENSION removes it); the control file names
-- pg_catalog only so that CREATE EXTENSION ... SCHEMA is refused.
CREATE SCHEMA pipeline;
COMMENT ON SCHEMA pipeline IS 'pg_pipeline: catalogs, functions and status views';

CREATE FUNCTION pipeline.version()
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION pipeline.version() IS
'version of the loaded pg_pipeline library';

CREATE FUNCTION pipeline.get_workers(
    OUT pid integer,
    OUT kind text,
    OUT datid oid,
    OUT roleid oid,
    OUT state text,
    OUT started_at timestamptz,
    OUT restarts integer,
    OUT last_error text,
    OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_get_workers'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION pipeline.get_workers() IS
'the pg_pipeline launcher and the worker slots of the current database (needs shared_preload_libraries)';

CREATE VIEW pipeline.workers AS
SELECT w.kind,
       w.pid,
       d.datname AS database,
       r.rolname AS role,
       w.state,
       w.started_at,
       w.restarts,
       w.last_error,
       w.last_error_at
  FROM pipeline.get_workers() w
  LEFT JOIN pg_catalog.pg_database d ON d.oid = w.datid
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = w.roleid;

COMMENT ON VIEW pipeline.workers IS
'pg_pipeline workers of this database (and the launcher): kind, pid, state, restarts, last error';

GRANT USAGE ON SCHEMA pipeline TO PUBLIC;
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
