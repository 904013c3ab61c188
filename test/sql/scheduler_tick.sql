-- The scheduler's state machine, pipeline._scheduler_tick(recover, cleanup,
-- now), driven at chosen instants: no worker, no sleep.  What a runner
-- would do (take a queued attempt, record its outcome) is done here by
-- hand at chosen instants too.
--
-- It works in a database of its own made a template: the launcher starts
-- no coordinator in a template database, so no pass of the real scheduler
-- comes between these (in the regression database one runs, the library
-- being preloaded).
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
CREATE DATABASE pp_tick IS_TEMPLATE = true;
\c pp_tick
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE EXTENSION pg_pipeline;

-- one pass at an instant; returns when the scheduler would come back
CREATE FUNCTION pg_temp.tick(at timestamptz, recover boolean DEFAULT false, cleanup boolean DEFAULT false)
RETURNS timestamptz
LANGUAGE sql AS $$ SELECT pipeline._scheduler_tick(recover, cleanup, at) $$;

-- a runner: the oldest queued attempt of a task starts and ends at "at"
-- (an error with SQLSTATE, detail, hint and context when it fails)
CREATE FUNCTION pg_temp.run(dag_name text, task_name text, outcome text, at timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    id bigint;
BEGIN
    SELECT tr.task_run_id INTO id FROM pipeline.task_runs tr
     WHERE tr.dag = dag_name AND tr.task = task_name AND tr.status = 'queued'
     ORDER BY tr.logical_date, tr.attempt LIMIT 1;
    IF id IS NULL THEN
        RAISE EXCEPTION 'no queued attempt of %.%', dag_name, task_name;
    END IF;
    UPDATE pipeline.task_runs SET status = 'running', started_at = at WHERE task_run_id = id;
    IF outcome = 'success' THEN
        PERFORM pipeline._task_run_finish(id, 'success', NULL, NULL, 1, at => at);
    ELSE
        PERFORM pipeline._task_run_finish(id, 'failed', 'boom', 'P0001', NULL,
                    err_detail => 'the detail', err_hint => 'the hint',
                    err_context => 'PL/pgSQL function f() line 3 at RAISE', at => at);
    END IF;
END
$$;

CREATE VIEW pg_temp.runs AS
SELECT r.run_id, r.dag, r.run_type, r.logical_date, r.data_interval_end, r.status,
       r.created_at, r.started_at, r.ended_at
  FROM pipeline.dag_runs r ORDER BY r.dag, r.data_interval_end, r.run_id;
CREATE VIEW pg_temp.attempts AS
SELECT tr.run_id, tr.task, tr.attempt, tr.retry, tr.status, tr.scheduled_at, tr.ended_at
  FROM pipeline.task_runs tr ORDER BY tr.run_id, tr.task, tr.attempt;

-- nothing in the tick reads a clock: the time is its argument
SELECT pg_get_functiondef('pipeline._scheduler_tick(boolean,boolean,timestamptz)'::regprocedure)
       !~* '(now\(|clock_timestamp|current_timestamp|transaction_timestamp|statement_timestamp|localtimestamp)'
       AS reads_no_clock;

-------------------------------------------------------------------------
-- Catch-up, and a DAG given its tasks after it was created
-------------------------------------------------------------------------
-- hourly since midnight, 2 runs at a time
SELECT pipeline.create_dag('hourly', '1 hour', catchup => true, max_active_runs => 2,
                           start_date => '2026-01-01 00:00+00') > 0 AS created;
SELECT next_fire_at FROM pipeline.dags WHERE name = 'hourly';
-- no task yet: no run, however late it gets, and nothing to come back for
SELECT pg_temp.tick('2026-01-01 03:30+00') AS next_due;
SELECT pg_temp.tick('2026-01-01 05:30+00') AS next_due;
SELECT count(*) AS runs FROM pipeline.dag_runs;
SELECT next_fire_at, last_fire_at FROM pipeline.dags WHERE name = 'hourly';
-- a run queued by hand waits for tasks, queued
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, created_at)
SELECT dag_id, name, 'manual', '2026-01-01 05:00+00', '2026-01-01 05:30+00', '2026-01-01 05:30+00'
  FROM pipeline.dags WHERE name = 'hourly';
SELECT pg_temp.tick('2026-01-01 05:30+00') AS next_due;
SELECT dag, run_type, status FROM pg_temp.runs;
-- its tasks come, one transaction each: the missed fires run, from start_date
SELECT pipeline.add_task('hourly', 'extract', 'SELECT 1');
SELECT pipeline.add_task('hourly', 'load', 'SELECT 2', upstream => '{extract}');
SELECT pg_temp.tick('2026-01-01 05:30+00') AS next_due;
SELECT run_id, run_type, logical_date, data_interval_end, status, created_at, started_at FROM pg_temp.runs;
SELECT * FROM pg_temp.attempts;
SELECT next_fire_at, last_fire_at FROM pipeline.dags WHERE name = 'hourly';
-- the first two runs' tasks, in order
SELECT pg_temp.run('hourly', 'extract', 'success', '2026-01-01 05:31+00');
SELECT pg_temp.run('hourly', 'extract', 'success', '2026-01-01 05:31+00');
SELECT pg_temp.tick('2026-01-01 05:32+00') AS next_due;
SELECT run_id, task, status FROM pg_temp.attempts;
SELECT pg_temp.run('hourly', 'load', 'success', '2026-01-01 05:33+00');
SELECT pg_temp.run('hourly', 'load', 'success', '2026-01-01 05:33+00');
-- two runs finish, two more start (the oldest logical dates)
SELECT pg_temp.tick('2026-01-01 05:34+00') AS next_due;
SELECT run_id, logical_date, status, started_at, ended_at FROM pg_temp.runs;
-- the next fire, on time
SELECT pg_temp.tick('2026-01-01 06:00+00') AS next_due;
SELECT run_id, logical_date, data_interval_end, status FROM pg_temp.runs WHERE run_type = 'scheduled' AND logical_date >= '2026-01-01 04:00+00';
SELECT pipeline.disable('hourly');

-------------------------------------------------------------------------
-- Without catch-up: only the latest interval, and no pile-up
-------------------------------------------------------------------------
BEGIN;
SELECT pipeline.create_dag('latest', '1 hour', start_date => '2026-01-01 00:00+00') > 0 AS created;
SELECT pipeline.add_task('latest', 'only', 'SELECT 1');
-- (its first fire was computed from the clock: put it back to 01:00)
UPDATE pipeline.dags SET next_fire_at = '2026-01-01 01:00+00' WHERE name = 'latest';
COMMIT;
SELECT pg_temp.tick('2026-01-01 04:30+00') AS next_due;
-- still running at 05:00: that fire's run waits; the 06:00 fire is dropped
SELECT pg_temp.tick('2026-01-01 05:00+00') AS next_due;
SELECT pg_temp.tick('2026-01-01 06:00+00') AS next_due;
SELECT logical_date, data_interval_end, status FROM pg_temp.runs WHERE dag = 'latest';
SELECT pipeline.disable('latest');

-------------------------------------------------------------------------
-- Retries with backoff, trigger rules, the error kept whole
-------------------------------------------------------------------------
BEGIN;
SELECT pipeline.create_dag('flaky') > 0 AS created;
SELECT pipeline.add_task('flaky', 'fetch', 'SELECT 1', retries => 2, retry_delay => '10 minutes',
                         retry_exponential_backoff => true);
SELECT pipeline.add_task('flaky', 'publish', 'SELECT 2', upstream => '{fetch}');
SELECT pipeline.add_task('flaky', 'alert', 'SELECT 3', upstream => '{fetch}', trigger_rule => 'one_failed');
SELECT pipeline.add_task('flaky', 'tidy', 'SELECT 4', upstream => '{fetch}', trigger_rule => 'all_done');
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
SELECT dag_id, name, 'manual', '2026-02-01 00:00+00', '2026-02-01 00:00+00' FROM pipeline.dags WHERE name = 'flaky';
COMMIT;
SELECT pg_temp.tick('2026-02-01 00:00+00') AS next_due;
SELECT pg_temp.run('flaky', 'fetch', 'failed', '2026-02-01 00:01+00');
-- the second attempt, 10 minutes after the first ended
SELECT pg_temp.tick('2026-02-01 00:02+00') AS next_due;
SELECT task, attempt, retry, status, scheduled_at FROM pg_temp.attempts WHERE task = 'fetch';
SELECT pg_temp.tick('2026-02-01 00:10+00') AS next_due;
SELECT pg_temp.tick('2026-02-01 00:11+00') AS next_due;
SELECT task, attempt, status FROM pg_temp.attempts WHERE task = 'fetch';
SELECT pg_temp.run('flaky', 'fetch', 'failed', '2026-02-01 00:12+00');
-- the third, 20 minutes after (backoff)
SELECT pg_temp.tick('2026-02-01 00:13+00') AS next_due;
SELECT pg_temp.tick('2026-02-01 00:32+00') AS next_due;
SELECT pg_temp.run('flaky', 'fetch', 'failed', '2026-02-01 00:33+00');
-- no retry left: publish upstream_failed, alert and tidy queued
SELECT pg_temp.tick('2026-02-01 00:34+00') AS next_due;
SELECT task, attempt, retry, status, scheduled_at, ended_at FROM pg_temp.attempts
 WHERE run_id = (SELECT run_id FROM pipeline.dag_runs WHERE dag = 'flaky');
SELECT pg_temp.run('flaky', 'alert', 'success', '2026-02-01 00:35+00');
SELECT pg_temp.run('flaky', 'tidy', 'success', '2026-02-01 00:35+00');
SELECT pg_temp.tick('2026-02-01 00:36+00') AS next_due;
SELECT status, started_at, ended_at FROM pg_temp.runs WHERE dag = 'flaky';
-- the failed attempts keep the error whole
SELECT attempt, error, sqlstate, error_detail, error_hint, error_context
  FROM pipeline.task_runs WHERE task = 'fetch' ORDER BY attempt;

-------------------------------------------------------------------------
-- Recovery after a restart: what was running failed, at that instant
-------------------------------------------------------------------------
BEGIN;
SELECT pipeline.create_dag('restarted') > 0 AS created;
SELECT pipeline.add_task('restarted', 'long', 'SELECT 1', retries => 1, retry_delay => '1 minute');
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
SELECT dag_id, name, 'manual', '2026-03-01 00:00+00', '2026-03-01 00:00+00' FROM pipeline.dags WHERE name = 'restarted';
COMMIT;
SELECT pg_temp.tick('2026-03-01 00:00+00') AS next_due;
UPDATE pipeline.task_runs SET status = 'running', started_at = '2026-03-01 00:00+00' WHERE dag = 'restarted';
SELECT pg_temp.tick('2026-03-01 00:05+00', recover => true) AS next_due;
SELECT task, attempt, status, scheduled_at, ended_at, error, sqlstate FROM pipeline.task_runs
 WHERE dag = 'restarted' ORDER BY attempt;

-------------------------------------------------------------------------
-- Data-aware triggers, and a watched table dropped and created again
-------------------------------------------------------------------------
CREATE TABLE public.events (id int);
BEGIN;
SELECT pipeline.create_dag('ondata', trigger_on => '{public.events}') > 0 AS created;
SELECT pipeline.add_task('ondata', 'count', 'SELECT count(*) FROM public.events');
COMMIT;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'ondata';
-- the first pass notes where the data is; only later writes count
SELECT pg_temp.tick('2026-04-01 00:00+00') AS next_due;
SELECT pg_temp.tick('2026-04-01 00:01+00') AS next_due;
SELECT count(*) AS runs FROM pipeline.dag_runs WHERE dag = 'ondata';
INSERT INTO public.events VALUES (1);
SELECT pg_temp.tick('2026-04-01 00:02+00') AS next_due;
SELECT run_type, data_interval_end, status FROM pg_temp.runs WHERE dag = 'ondata';
SELECT pg_temp.run('ondata', 'count', 'success', '2026-04-01 00:03+00');
SELECT pg_temp.tick('2026-04-01 00:03+00') AS next_due;
-- the recovery of docs/kafka.md: drop the table ...
DROP TABLE public.events;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'ondata';
-- ... the scheduler says so, and looks again every 5 seconds
SELECT pg_temp.tick('2026-04-01 00:04+00') AS next_due;
SELECT watch_problem FROM pipeline.dags WHERE name = 'ondata';
-- ... and create it again: watched again, with its trigger; it counts as
-- new data (it may have been filled before the scheduler saw it)
CREATE TABLE public.events (id int, note text);
SELECT pg_temp.tick('2026-04-01 00:05+00') AS next_due;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'ondata';
SELECT trigger_on = ARRAY['public.events'::regclass] AS watches_the_new_table FROM pipeline.dags WHERE name = 'ondata';
SELECT count(*) AS data_trigger FROM pg_trigger WHERE tgrelid = 'public.events'::regclass AND tgname = 'pipeline_dag_data';
SELECT run_type, data_interval_end, status FROM pg_temp.runs WHERE dag = 'ondata';
SELECT pg_temp.run('ondata', 'count', 'success', '2026-04-01 00:06+00');
SELECT pg_temp.tick('2026-04-01 00:06+00') AS next_due;
-- and its writes trigger the DAG
INSERT INTO public.events VALUES (2, 'after');
SELECT pg_temp.tick('2026-04-01 00:07+00') AS next_due;
SELECT run_type, data_interval_end, status FROM pg_temp.runs WHERE dag = 'ondata';
-- a rename is followed
ALTER TABLE public.events RENAME TO events_v2;
SELECT watching FROM pipeline.dag_status WHERE name = 'ondata';
SELECT pg_temp.tick('2026-04-01 00:08+00') AS next_due;
SELECT trigger_on_names, watch_problem FROM pipeline.dags WHERE name = 'ondata';

-- created again, but not readable by the DAG's owner: not watched, said so
CREATE ROLE regress_tick_alice;
CREATE SCHEMA tick_alice AUTHORIZATION regress_tick_alice;
SET ROLE regress_tick_alice;
CREATE TABLE tick_alice.orders (id int);
SELECT pipeline.create_dag('alice_ondata', trigger_on => '{tick_alice.orders}') > 0 AS created;
SELECT pipeline.add_task('alice_ondata', 'count', 'SELECT count(*) FROM tick_alice.orders');
DROP TABLE tick_alice.orders;
RESET ROLE;
CREATE TABLE tick_alice.orders (id int);
SELECT pg_temp.tick('2026-04-01 00:09+00') AS next_due;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'alice_ondata';
GRANT SELECT, TRIGGER ON tick_alice.orders TO regress_tick_alice;
SELECT pg_temp.tick('2026-04-01 00:10+00') AS next_due;
SELECT watching, watch_problem FROM pipeline.dag_status WHERE name = 'alice_ondata';

-------------------------------------------------------------------------
-- Runs that ran no task (as 0.5.0 made them) can be run again
-------------------------------------------------------------------------
BEGIN;
SELECT pipeline.create_dag('emptied', '1 day', start_date => '2026-01-01 00:00+00', enabled => false) > 0 AS created;
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, status, started_at, ended_at)
SELECT dag_id, name, 'scheduled', '2026-01-01 00:00+00', '2026-01-02 00:00+00', 'success',
       '2026-01-02 00:00+00', '2026-01-02 00:00+00'
  FROM pipeline.dags WHERE name = 'emptied';
SELECT pipeline.add_task('emptied', 'work', 'SELECT 1');
COMMIT;
SELECT pipeline.backfill('emptied', '2026-01-01', '2026-01-01') AS queued_again;
SELECT run_type, logical_date, status FROM pg_temp.runs WHERE dag = 'emptied';
UPDATE pipeline.dag_runs SET status = 'success' WHERE dag = 'emptied';
SELECT pipeline.clear('emptied', (SELECT run_id FROM pipeline.dag_runs WHERE dag = 'emptied')) AS cleared;
SELECT run_type, logical_date, status FROM pg_temp.runs WHERE dag = 'emptied';

-------------------------------------------------------------------------
-- History retention
-------------------------------------------------------------------------
-- finished runs are kept history_retention (7 days) after they ended
SELECT dag, count(*) AS finished_runs FROM pipeline.dag_runs WHERE status IN ('success', 'failed') GROUP BY dag ORDER BY dag;
SELECT pg_temp.tick('2026-04-05 00:00+00', cleanup => true) AS next_due;
SELECT dag, count(*) AS finished_runs FROM pipeline.dag_runs WHERE status IN ('success', 'failed') GROUP BY dag ORDER BY dag;
SELECT pg_temp.tick('2026-06-01 00:00+00', cleanup => true) AS next_due;
SELECT count(*) AS finished_runs FROM pipeline.dag_runs WHERE status IN ('success', 'failed');

\c :regress_db
ALTER DATABASE pp_tick IS_TEMPLATE = false;
DROP DATABASE pp_tick;
DROP ROLE regress_tick_alice;
