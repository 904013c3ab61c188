-- pg_pipeline 0.5.0 -> 0.6.0: structure and lifecycle (issue 11).
--
-- What changes for SQL (each area's section lists its own):
--   window:
--     * pipeline._window_fix_dependencies(integer) (C, superusers only):
--       records a window's dependencies in pg_depend, or removes a window
--       that lost a relation; called here for every existing window;
--     * pipeline.window_counts(pipeline.windows): NULL counts instead of an
--       error for a relation that no longer exists.

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.6.0'" to load this file. \quit

-- ==== window: dependencies, as a view has them ====

-- A window's relations and triggers are recorded in pg_depend when it is
-- created (src/window/depend.c): DROP TABLE of its result, its internal
-- tables or its source is refused with PostgreSQL's own error, and with
-- CASCADE (DROP TABLE, DROP VIEW, DROP SCHEMA, DROP OWNED) the whole
-- window goes; the object access hook then deletes its catalog row.
CREATE FUNCTION pipeline._window_fix_dependencies(window_id integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline__window_fix_dependencies'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline._window_fix_dependencies(integer) IS
'records a window aggregate''s dependencies in pg_depend (windows made before 0.6.0, or restored); removes a window that lost a relation; returns whether it is kept';
REVOKE ALL ON FUNCTION pipeline._window_fix_dependencies(integer) FROM PUBLIC;

-- a relation dropped under a window made before 0.6.0 gave window_status a
-- syntax error (the regclass printed as a number): NULL counts instead
CREATE OR REPLACE FUNCTION pipeline.window_counts(w pipeline.windows,
    OUT open_windows bigint, OUT final_windows bigint, OUT pending_delta bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_class c WHERE c.oid = w.state_table) THEN
        EXECUTE format('SELECT count(DISTINCT (window_start, window_end)) FILTER (WHERE NOT is_final),
                               count(DISTINCT (window_start, window_end)) FILTER (WHERE is_final) FROM %s',
                       w.state_table)
           INTO open_windows, final_windows;
    END IF;
    IF w.delta_table IS NULL THEN
        pending_delta := 0;
    ELSIF EXISTS (SELECT FROM pg_class c WHERE c.oid = w.delta_table) THEN
        EXECUTE format('SELECT count(*) FROM %s', w.delta_table) INTO pending_delta;
    END IF;
END
$$;

-- the windows of 0.5.0 get their dependencies; one that already lost a
-- relation (a DROP TABLE that 0.5.0 accepted) is removed, with a WARNING
SELECT pipeline._window_fix_dependencies(id) FROM pipeline.windows ORDER BY id;
