-- A window aggregate and the relations it uses, as PostgreSQL keeps a view
-- and its tables (pg_depend): dropping a window's result, one of its
-- internal tables or its source is refused with PostgreSQL's own error;
-- with CASCADE (DROP TABLE, DROP VIEW, DROP SCHEMA, DROP OWNED) the window
-- goes whole: its triggers, tables, catalog row and progress.  Writes to
-- the source go on and every status view keeps working.  Windows made
-- before 0.6.0 get their dependencies from the upgrade
-- (pipeline._window_fix_dependencies); one that had already lost a table
-- is removed.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE SCHEMA wl;
CREATE TABLE wl.ev (t timestamptz, k text, v int);
CREATE INDEX ON wl.ev (t);
INSERT INTO wl.ev VALUES ('2026-01-01 00:00:10+00', 'a', 1);

-- what is left of windows: catalog rows, progress rows, triggers on wl.ev
CREATE VIEW wl.leftovers AS
SELECT (SELECT count(*) FROM pipeline.windows) AS windows,
       (SELECT count(*) FROM pipeline.window_progress) AS progress,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'wl.ev'::regclass) AS triggers;

------------------------------------------------------------------------
-- emit on_update: the result is the state table
------------------------------------------------------------------------
SELECT pipeline.create_window('wl.w', 'wl.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}');
DROP TABLE wl.w;                        -- refused: the window's triggers need it
INSERT INTO wl.ev VALUES ('2026-01-01 00:00:20+00', 'a', 2);
SELECT window_start, k, n, s FROM wl.w ORDER BY 1, 2;     -- still maintained
DROP TABLE wl.w CASCADE;
SELECT * FROM wl.leftovers;
-- the source's writes go on; the status views see no window
INSERT INTO wl.ev VALUES ('2026-01-01 00:00:30+00', 'a', 3);
SELECT count(*) AS source_rows FROM wl.ev;
SELECT count(*) AS windows FROM pipeline.window_status;
-- the name is free: the same window again, then drop_window as before
SELECT pipeline.create_window('wl.w', 'wl.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}');
SELECT window_start, k, n, s FROM wl.w ORDER BY 1, 2;
SELECT pipeline.drop_window('wl.w');
SELECT * FROM wl.leftovers;

------------------------------------------------------------------------
-- emit on_close, side table, async: a view over the state table, the
-- late-rows table and the delta table are all part of the window
------------------------------------------------------------------------
SELECT pipeline.create_window('wl.c', 'wl.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n', emit => 'on_close', late_rows => 'side_table', mode => 'async');
DROP VIEW wl.c;                         -- refused: the triggers need it
DROP TABLE wl.c_state;                  -- refused: part of the window
DROP TABLE wl.c_delta;
DROP TABLE wl.c_late;
DROP TABLE wl.c_state CASCADE;          -- still part of the window
SELECT name, kind, mode, open_windows, final_windows, pending_delta FROM pipeline.window_status;
DROP VIEW wl.c CASCADE;
SELECT * FROM wl.leftovers;
SELECT relname FROM pg_class WHERE relnamespace = 'wl'::regnamespace AND relkind IN ('r', 'v')
 ORDER BY 1;
INSERT INTO wl.ev VALUES ('2026-01-01 00:01:10+00', 'b', 4);

-- alter_window (drop and create) records the dependencies again
SELECT pipeline.create_window('wl.c', 'wl.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n', emit => 'on_close');
SELECT pipeline.alter_window('wl.c', late_rows => 'side_table');
DROP VIEW wl.c;
DROP TABLE wl.c_late;
SELECT pipeline.drop_window('wl.c');
SELECT * FROM wl.leftovers;

------------------------------------------------------------------------
-- the source: refused while windows read it; CASCADE drops them too
------------------------------------------------------------------------
CREATE TABLE wl.src (t timestamptz, v int);
SELECT pipeline.create_window('wl.s1', 'wl.src', 't', pipeline.tumble('1 minute'), 'count(*) AS n');
SELECT pipeline.create_window('wl.s2', 'wl.src', 't', pipeline.session('1 minute'), 'sum(v) AS s',
    emit => 'on_close', mode => 'async');
DROP TABLE wl.src;
DROP TABLE wl.src CASCADE;
SELECT * FROM wl.leftovers;
SELECT relname FROM pg_class WHERE relnamespace = 'wl'::regnamespace AND relkind IN ('r', 'v')
 ORDER BY 1;

------------------------------------------------------------------------
-- a window whose result lives in another schema: DROP SCHEMA ... CASCADE
------------------------------------------------------------------------
CREATE SCHEMA wl_r;
SELECT pipeline.create_window('wl_r.w', 'wl.ev', 't', pipeline.hop('2 minutes', '1 minute'),
    'count(*) AS n', late_rows => 'side_table');
DROP SCHEMA wl_r;
DROP SCHEMA wl_r CASCADE;
SELECT * FROM wl.leftovers;
INSERT INTO wl.ev VALUES ('2026-01-01 00:02:10+00', 'b', 5);

------------------------------------------------------------------------
-- DROP OWNED: a role's window over a table of another role
------------------------------------------------------------------------
CREATE ROLE wl_owner;
GRANT USAGE, CREATE ON SCHEMA wl TO wl_owner;
GRANT SELECT, TRIGGER ON wl.ev TO wl_owner;
SET ROLE wl_owner;
SELECT pipeline.create_window('wl.o', 'wl.ev', 't', pipeline.tumble('1 minute'), 'count(*) AS n',
    emit => 'on_close');
SELECT name FROM pipeline.window_status;
RESET ROLE;
DROP OWNED BY wl_owner;
DROP OWNED BY wl_owner CASCADE;
SELECT * FROM wl.leftovers;
DROP ROLE wl_owner;

------------------------------------------------------------------------
-- windows made before 0.6.0 had no dependencies: the upgrade records them
-- (pipeline._window_fix_dependencies); a window that had already lost its
-- result table (DROP TABLE was accepted) is removed, with its triggers
------------------------------------------------------------------------
SELECT pipeline.create_window('wl.old', 'wl.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}', late_rows => 'side_table');
SELECT pipeline.create_window('wl.lost', 'wl.ev', 't', pipeline.tumble('1 minute'), 'count(*) AS n');
-- what 0.5.0 recorded: only the triggers' dependencies on the columns
DELETE FROM pg_depend d USING pipeline.windows w
 WHERE (d.classid = 'pg_class'::regclass AND d.objid IN (w.result, w.state_table, w.late_table)
        AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (w.result, w.source) AND d.refobjsubid = 0)
    OR (d.classid = 'pg_trigger'::regclass AND d.refclassid = 'pg_class'::regclass
        AND d.refobjid = w.result);
-- and what 0.5.0 accepted, with the catalog hidden from the object access
-- hook (as it is when the library is not preloaded)
ALTER SCHEMA pipeline RENAME TO pipeline_hidden;
DROP TABLE wl.lost;
ALTER SCHEMA pipeline_hidden RENAME TO pipeline;
-- the status view still works; the source's writes fail (the bug of 0.5.0)
SELECT name, open_windows, final_windows FROM pipeline.window_status ORDER BY name;
INSERT INTO wl.ev VALUES ('2026-01-01 00:03:10+00', 'c', 6);
-- the upgrade's step: the healthy window is kept, the broken one removed
SELECT w.name, pipeline._window_fix_dependencies(w.id) AS kept
  FROM pipeline.windows w ORDER BY w.id;
SELECT pipeline._window_fix_dependencies(id) AS again FROM pipeline.windows;  -- idempotent
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS object, d.deptype,
       pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) AS depends_on
  FROM pg_depend d, pipeline.windows w
 WHERE (d.classid = 'pg_trigger'::regclass OR d.objid IN (w.result, w.state_table, w.late_table))
   AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (w.result, w.source)
   AND d.refobjsubid = 0 AND d.deptype IN ('n', 'i')
 ORDER BY 1, 3;
SELECT name FROM pipeline.window_status;
INSERT INTO wl.ev VALUES ('2026-01-01 00:03:10+00', 'c', 6);
SELECT window_start, k, n, s FROM wl.old ORDER BY 1, 2;
DROP TABLE wl.old;
DROP TABLE wl.old_late;
SELECT pipeline.drop_window('wl.old');
SELECT * FROM wl.leftovers;
-- not for everyone: it writes PostgreSQL's catalogs
SELECT has_function_privilege('public', 'pipeline._window_fix_dependencies(integer)', 'execute')
    AS public_may_run;

DROP SCHEMA wl CASCADE;
DROP EXTENSION pg_pipeline;
