-- Attacks on what issue 11 added (0.6.0, docs/security.md "0.6.0"), by a
-- non-superuser with CREATE on a shared schema:
--   1. the object access hook that deletes a window's catalog row when a
--      DROP removes one of its relations: it must not run SQL for every
--      DROP in the database, nor act on a row another role planted in
--      pipeline.windows naming someone else's table (before the fix, the
--      victim's DROP TABLE deleted such a row as the bootstrap superuser,
--      and waited for the planter's row lock);
--   2. a dropped watched table created again under its name by another
--      role: the scheduler's pass must not make the victim's DAG watch and
--      run for the attacker's table (it did once the attacker granted
--      SELECT and TRIGGER);
--   3. pipeline._run_again (executable by PUBLIC, as backfill and clear
--      call it in the caller's session) queues no other role's run;
--   4. error detail, hint and context are visible only where the error is.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SELECT current_database() AS regress_db \gset
CREATE EXTENSION pg_pipeline;
CREATE ROLE lc_alice LOGIN;
CREATE ROLE lc_mallory LOGIN;
CREATE SCHEMA lc_a AUTHORIZATION lc_alice;
CREATE SCHEMA lc_shared;
GRANT USAGE, CREATE ON SCHEMA lc_shared TO PUBLIC;

------------------------------------------------------------------------
-- 1a. Dropping a relation that is no window's runs no SQL: the hook scans
--     neither pipeline.windows nor anything else through SPI
------------------------------------------------------------------------
-- (the backend's counts of scans not yet reported, read before and after)
CREATE TABLE lc_shared.plain (id int);
CREATE VIEW lc_shared.plain_v AS SELECT id FROM lc_shared.plain;
BEGIN;
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans_before
  FROM pg_stat_xact_user_tables WHERE relid = 'pipeline.windows'::regclass \gset
DROP VIEW lc_shared.plain_v;
DROP TABLE lc_shared.plain;
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) - :scans_before AS windows_scans
  FROM pg_stat_xact_user_tables WHERE relid = 'pipeline.windows'::regclass;
COMMIT;

------------------------------------------------------------------------
-- 1b. Mallory plants rows in pipeline.windows (PUBLIC may insert; the row
--     is hers) naming Alice's plain table, and Alice's real window
------------------------------------------------------------------------
SET ROLE lc_alice;
CREATE TABLE lc_a.t (id int);
CREATE TABLE lc_a.ev (ts timestamptz NOT NULL, v int);
GRANT USAGE ON SCHEMA lc_a TO lc_mallory;
GRANT SELECT ON lc_a.t, lc_a.ev TO lc_mallory;
SELECT pipeline.create_window('lc_a.w', 'lc_a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n');
RESET ROLE;

SET ROLE lc_mallory;
INSERT INTO pipeline.windows (name, result, state_table, source, time_column, kind, size, aggregates,
                              agg_names, agg_kinds, agg_exprs, agg_args, agg_types, columns, emit,
                              late_rows, mode)
SELECT x.name, x.rel, x.rel, x.rel, 'ts', 'tumble', '1 hour', 'count(*) AS n', '{n}', '{count}',
       '{count(*)}', '{""}', '{bigint}', '{ts}', 'on_update', 'update', 'sync'
  FROM (VALUES ('planted_plain', 'lc_a.t'::regclass), ('planted_window', 'lc_a.w'::regclass)) x(name, rel);
SELECT name, owner FROM pipeline.windows ORDER BY name;
RESET ROLE;

-- Alice drops her plain table, and her window: her window's row goes
SET ROLE lc_alice;
DROP TABLE lc_a.t;
SELECT pipeline.drop_window('lc_a.w');
SELECT name FROM pipeline.windows ORDER BY name;
RESET ROLE;
-- ... Mallory's row naming Alice's plain table is left alone (the hook
-- ran no SQL for it); the one naming Alice's window went with it, since
-- nobody held it: one Mallory holds is skipped, never waited for (t/050)
SET ROLE lc_mallory;
SELECT name FROM pipeline.windows ORDER BY name;
DELETE FROM pipeline.windows;
RESET ROLE;

-- a window's own relations still take its row with them: DROP TABLE of
-- the result with CASCADE, DROP SCHEMA, DROP OWNED
SET ROLE lc_alice;
SELECT pipeline.create_window('lc_a.w1', 'lc_a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n');
SELECT pipeline.create_window('lc_a.w2', 'lc_a.ev', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n',
                              mode => 'async', late_rows => 'side_table');
DROP TABLE lc_a.w1 CASCADE;
SELECT name FROM pipeline.windows ORDER BY name;
RESET ROLE;
-- Mallory may not drop Alice's source (its owner, as for a view's table)
SET ROLE lc_mallory;
DROP TABLE lc_a.ev CASCADE;
RESET ROLE;
SELECT name FROM pipeline.windows ORDER BY name;
DROP OWNED BY lc_alice CASCADE;
SELECT count(*) AS windows_left FROM pipeline.windows;

------------------------------------------------------------------------
-- 2.-4. The scheduler, in a database of its own where no coordinator runs
--       (a template), driven by hand as test/sql/scheduler_tick.sql does
------------------------------------------------------------------------
CREATE DATABASE pp_seclife IS_TEMPLATE = true;
\c pp_seclife
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE EXTENSION pg_pipeline;
CREATE SCHEMA lc_shared;
GRANT USAGE, CREATE ON SCHEMA lc_shared TO PUBLIC;
CREATE FUNCTION pg_temp.tick(at timestamptz)
RETURNS timestamptz
LANGUAGE sql AS $$ SELECT pipeline._scheduler_tick(false, false, at) $$;

-- 2. Alice's DAG watches her table in the shared schema
SET ROLE lc_alice;
CREATE TABLE lc_shared.orders (id int);
SELECT pipeline.create_dag('alice_orders', trigger_on => '{lc_shared.orders}') > 0 AS created;
SELECT pipeline.add_task('alice_orders', 'count', 'SELECT count(*) FROM lc_shared.orders');
RESET ROLE;
SELECT pg_temp.tick('2026-04-01 00:00+00') IS NOT NULL AS ticked;
-- ... her table is dropped; Mallory creates one under its name, lets Alice
-- read it and puts the data trigger on it herself
SET ROLE lc_alice;
DROP TABLE lc_shared.orders;
RESET ROLE;
SET ROLE lc_mallory;
CREATE TABLE lc_shared.orders (id int);
GRANT SELECT, TRIGGER ON lc_shared.orders TO lc_alice;
CREATE TRIGGER pipeline_dag_data AFTER INSERT OR UPDATE ON lc_shared.orders
    FOR EACH STATEMENT EXECUTE FUNCTION pipeline.dag_data_trigger();
RESET ROLE;
SELECT pg_temp.tick('2026-04-01 00:01+00') IS NOT NULL AS ticked;
-- not watched: a table of another role is taken only when the owner names
-- it again (as a source's target is taken only when its owner resumes it)
SET ROLE lc_alice;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'alice_orders';
SELECT trigger_on IS DISTINCT FROM '{lc_shared.orders}'::regclass[] AS not_mallorys FROM pipeline.dags;
RESET ROLE;
SET ROLE lc_mallory;
INSERT INTO lc_shared.orders VALUES (1);
RESET ROLE;
SELECT pg_temp.tick('2026-04-01 00:02+00') IS NOT NULL AS ticked;
SELECT count(*) AS runs_for_mallory FROM pipeline.dag_runs WHERE dag = 'alice_orders';
-- Alice, told so, may choose to watch it
SET ROLE lc_alice;
SELECT pipeline.alter_dag('alice_orders', trigger_on => '{lc_shared.orders}');
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'alice_orders';
-- her own table created again under the name is taken by the pass
DROP TABLE IF EXISTS lc_shared.alice_own;
CREATE TABLE lc_shared.alice_own (id int);
SELECT pipeline.alter_dag('alice_orders', trigger_on => '{lc_shared.alice_own}');
DROP TABLE lc_shared.alice_own;
CREATE TABLE lc_shared.alice_own (id int, note text);
RESET ROLE;
SELECT pg_temp.tick('2026-04-01 00:03+00') IS NOT NULL AS ticked;
SET ROLE lc_alice;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'alice_orders';
SELECT trigger_on = '{lc_shared.alice_own}'::regclass[] AS watches_her_new_table FROM pipeline.dags;
RESET ROLE;

-- 3. _run_again: Mallory cannot queue Alice's finished run again
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, status, started_at, ended_at)
SELECT dag_id, name, 'manual', '2026-01-01 00:00+00', '2026-01-02 00:00+00', 'success',
       '2026-01-02 00:00+00', '2026-01-02 00:00+00'
  FROM pipeline.dags WHERE name = 'alice_orders';
SELECT max(run_id) AS alice_run FROM pipeline.dag_runs WHERE dag = 'alice_orders' \gset
SET ROLE lc_mallory;
SELECT pipeline._run_again(:alice_run) AS queued;
RESET ROLE;
SELECT status FROM pipeline.dag_runs WHERE run_id = :alice_run;

-- 4. an attempt's error, detail, hint and context: Alice's, not Mallory's
INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, status, logical_date, scheduled_at, started_at)
SELECT r.run_id, r.dag_id, r.dag, 'count', 'running', r.logical_date, '2026-01-02 00:00+00', '2026-01-02 00:00+00'
  FROM pipeline.dag_runs r WHERE r.run_id = :alice_run;
SELECT pipeline._task_run_finish(tr.task_run_id, 'failed', 'boom', 'P0001', NULL,
           err_detail => 'secret detail', err_hint => 'the hint',
           err_context => 'SQL statement "SELECT secret"', at => '2026-01-02 00:00+00')
  FROM pipeline.task_runs tr WHERE tr.run_id = :alice_run;
SET ROLE lc_alice;
SELECT error, error_detail, error_context FROM pipeline.task_runs WHERE error IS NOT NULL;
RESET ROLE;
SET ROLE lc_mallory;
SELECT count(*) AS seen FROM pipeline.task_runs;
SELECT count(*) AS seen FROM pipeline.jobs;
RESET ROLE;

\c :regress_db
ALTER DATABASE pp_seclife IS_TEMPLATE = false;
DROP DATABASE pp_seclife;
DROP SCHEMA lc_shared CASCADE;
DROP SCHEMA IF EXISTS lc_a CASCADE;
DROP ROLE lc_alice, lc_mallory;
DROP EXTENSION pg_pipeline;
