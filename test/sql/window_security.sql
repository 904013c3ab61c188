-- Window aggregates and roles: maintenance runs as the window's owner, a
-- writer needs no right on the window's tables, other roles cannot see,
-- rebuild or drop a window, and the maintenance trigger cannot be turned
-- on another table to feed rows into someone else's window.  And changes
-- of the source that would break a window are refused.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
CREATE ROLE ws_owner LOGIN;
CREATE ROLE ws_writer LOGIN;
CREATE ROLE ws_other LOGIN;
CREATE SCHEMA ws AUTHORIZATION ws_owner;
CREATE SCHEMA ws_o AUTHORIZATION ws_other;
GRANT USAGE ON SCHEMA ws TO ws_writer, ws_other;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

SET ROLE ws_owner;
CREATE TABLE ws.ev (t timestamptz, k text, v int);
CREATE INDEX ON ws.ev (t);
GRANT INSERT, UPDATE, DELETE, SELECT ON ws.ev TO ws_writer;
SELECT pipeline.create_window('ws.w', 'ws.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}');
RESET ROLE;

-- a writer with rights on the source only: its rows are maintained
SET ROLE ws_writer;
INSERT INTO ws.ev VALUES ('2026-01-01 00:00:10+00', 'a', 1), ('2026-01-01 00:00:20+00', 'a', 2);
UPDATE ws.ev SET v = 5 WHERE v = 2;
SELECT * FROM ws.w;                       -- no right to read the window
RESET ROLE;
SELECT window_start, k, n, s, is_final FROM ws.w ORDER BY 1, 2;

-- another role sees no window, and cannot rebuild or drop this one
SET ROLE ws_other;
SELECT count(*) AS windows_seen FROM pipeline.windows;
SELECT count(*) AS status_rows FROM pipeline.window_status;
SELECT pipeline.rebuild_window('ws.w');
SELECT pipeline.drop_window('ws.w');
-- its own table with the maintenance trigger of ws.w: refused when it fires
CREATE TABLE ws_o.bait (t timestamptz, k text, v int);
RESET ROLE;
SELECT format('CREATE TRIGGER bait AFTER INSERT ON ws_o.bait REFERENCING NEW TABLE AS pp_new
               FOR EACH STATEMENT EXECUTE FUNCTION pipeline.window_maintain(%L)', id) AS bait
  FROM pipeline.windows WHERE name = 'ws.w' \gset
SET ROLE ws_other;
:bait;
INSERT INTO ws_o.bait VALUES ('2026-01-01 00:00:30+00', 'a', 1000);
RESET ROLE;
-- the window is unchanged
SELECT window_start, k, n, s FROM ws.w ORDER BY 1, 2;

-- changes of the source that would break the window are refused: the
-- columns it reads cannot be dropped, retyped or renamed; others can
SET ROLE ws_owner;
ALTER TABLE ws.ev ADD COLUMN note text;
ALTER TABLE ws.ev RENAME COLUMN note TO remark;
ALTER TABLE ws.ev DROP COLUMN remark;
ALTER TABLE ws.ev DROP COLUMN v;
ALTER TABLE ws.ev ALTER COLUMN v TYPE bigint;
ALTER TABLE ws.ev RENAME COLUMN k TO page;
ALTER TABLE ws.ev RENAME COLUMN t TO ts;
RESET ROLE;

-- the owner drops it; the writer's next statement is not maintained any more
SET ROLE ws_owner;
SELECT pipeline.drop_window('ws.w');
RESET ROLE;
SET ROLE ws_writer;
INSERT INTO ws.ev VALUES ('2026-01-01 00:01:10+00', 'b', 1);
RESET ROLE;
SELECT count(*) AS window_triggers_left FROM pg_trigger WHERE tgrelid = 'ws.ev'::regclass;

-- a forged row naming another role's table as its source (review of
-- 0.9.0): ws_other owns the result and state it names, but has neither
-- SELECT nor TRIGGER on ws_owner's table; when a superuser records the
-- windows' dependencies (after pg_upgrade, docs/backup.md), none is
-- recorded for it (a WARNING names the table), so ws_owner can still drop
-- his table
SET ROLE ws_owner;
CREATE TABLE ws.mine (t timestamptz, x int);
RESET ROLE;
SET ROLE ws_other;
CREATE TABLE ws_o.r2 (x int);
INSERT INTO pipeline.windows (name, result, state_table, source, time_column, kind, size, aggregates, agg_names,
                              agg_kinds, agg_exprs, agg_args, agg_types, columns, emit, late_rows, mode)
VALUES ('ws_o.r2', 'ws_o.r2', 'ws_o.r2', 'ws.mine', 't', 'tumble', '1 hour', 'count(*)', '{n}',
        '{count_star}', '{count(*)}', '{""}', '{bigint}', '{x,t}', 'on_update', 'drop', 'sync');
RESET ROLE;
SELECT pipeline._window_fix_dependencies(id) AS kept FROM pipeline.windows WHERE name = 'ws_o.r2';
SELECT count(*) AS dependencies_on_his_table FROM pg_depend
 WHERE refclassid = 'pg_class'::regclass AND refobjid = 'ws.mine'::regclass AND classid = 'pg_class'::regclass;
SET ROLE ws_owner;
DROP TABLE ws.mine;
RESET ROLE;
DELETE FROM pipeline.windows WHERE name = 'ws_o.r2';

DROP SCHEMA ws_o CASCADE;
DROP SCHEMA ws CASCADE;
DROP ROLE ws_owner, ws_writer, ws_other;
DROP EXTENSION pg_pipeline;
