-- pipeline.status: every kind of object, every state reachable without a
-- broker and without waiting for a worker, and what row-level security
-- lets each role see.  Sources and sinks point at a broker that does not
-- exist and are paused in the transaction that creates them, so no worker
-- ever runs for them; the states that need a running worker (starting,
-- lagging, failing consumers) are in test/t/080_status.pl, the states
-- without shared_preload_libraries in test/t/012_no_preload.pl.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never

-- the view's shape: the columns others (lineage) code against, in order
SELECT attnum, attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'pipeline.status'::regclass AND attnum > 0 ORDER BY attnum;
SELECT reloptions FROM pg_class WHERE oid = 'pipeline.status'::regclass;

CREATE SERVER status_kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE TABLE status_events (id bigint PRIMARY KEY, t timestamptz, k text, v int);

-- a source and a sink, paused before any worker can see them
BEGIN;
SELECT pipeline.create_source('status_src', 'status_kafka', 'events', 'status_events');
SELECT pipeline.pause_source('status_src');
SELECT pipeline.create_source('status_stopped', 'status_kafka', 'events', 'status_events');
SELECT pipeline.pause_source('status_stopped');
SELECT pipeline.create_sink('status_sink', 'status_kafka', 'out');
SELECT pipeline.pause_sink('status_sink');
SELECT pipeline.create_sink('status_sink_stopped', 'status_kafka', 'out');
SELECT pipeline.pause_sink('status_sink_stopped');
COMMIT;
-- stopped: what on_error => 'stop' (or a target that refuses a batch) leaves
UPDATE pipeline.sources SET error = 'partition 0 offset 7: invalid input syntax for type json'
 WHERE name = 'status_stopped';
UPDATE pipeline.sinks SET error = 'the topic refused the message' WHERE name = 'status_sink_stopped';
SELECT pipeline.publish('status_sink', '{"a": 1}') > 0 AS queued;
SELECT pipeline.publish('status_sink', '{"a": 2}') > 0 AS queued;

-- a sync window (maintained by the writers, no worker) that publishes its
-- changes to a sink, and a broken one
SELECT pipeline.create_window('status_w', 'status_events', 't', pipeline.tumble('1 minute'),
    'count(*) AS n', group_by => '{k}', sink => 'status_sink_stopped');
SELECT pipeline.create_window('status_w_broken', 'status_events', 't', pipeline.tumble('1 hour'),
    'sum(v) AS s');
INSERT INTO status_events VALUES (1, now() - interval '10 minutes', 'a', 1);
UPDATE pipeline.windows SET last_error = 'division by zero', last_error_at = now(),
       last_error_sqlstate = '22012'
 WHERE name = 'public.status_w_broken';

-- jobs and DAGs: a job that fires once a year, a DAG without schedule, a
-- disabled DAG, a DAG whose last run failed
SELECT pipeline.schedule('status_job', '0 0 1 1 *', 'SELECT 1') > 0 AS scheduled;
SELECT pipeline.create_dag('status_manual') > 0 AS created;
SELECT pipeline.create_dag('status_off', '@daily', enabled => false) > 0 AS created;
SELECT pipeline.create_dag('status_failed') > 0 AS created;
SELECT pipeline.add_task('status_failed', 'load', 'SELECT 1/0');
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, status, started_at, ended_at)
SELECT dag_id, name, 'manual', now(), now(), 'failed', now(), now() FROM pipeline.dags WHERE name = 'status_failed';
INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, status, logical_date, started_at, ended_at, error, sqlstate)
SELECT r.run_id, r.dag_id, r.dag, 'load', 'failed', r.logical_date, now(), now(), 'division by zero', '22012'
  FROM pipeline.dag_runs r WHERE r.dag = 'status_failed';

-- models: one built, one never built, one failing, one disabled, one
-- downstream of a model built again after it
SELECT pipeline.create_model('status_m_up', 'SELECT k, count(*) AS n FROM status_events GROUP BY k',
    materialized => 'table') > 0 AS created;
SELECT pipeline.create_model('status_m_down', 'SELECT k, n FROM status_m_up', materialized => 'table') > 0 AS created;
SELECT pipeline.create_model('status_m_new', 'SELECT 1 AS one', materialized => 'table') > 0 AS created;
SELECT pipeline.create_model('status_m_bad', 'SELECT 1 / (SELECT count(*) FROM status_events WHERE false)::int AS x',
    materialized => 'table') > 0 AS created;
SELECT pipeline.create_model('status_m_off', 'SELECT 2 AS two', materialized => 'table') > 0 AS created;
SELECT pipeline.alter_model('status_m_off', enabled => false);
SELECT model, status FROM pipeline.run('status_m_up status_m_down status_m_bad') ORDER BY model;
SELECT pg_sleep(0.01);
SELECT model, status FROM pipeline.run('status_m_up') ORDER BY model;

-- expectations: one passing, one failing, one warning, one never checked,
-- one whose check errors, one on a model built after its check
CREATE TABLE "status_we'ird" (id int PRIMARY KEY, k text, c text);
INSERT INTO "status_we'ird" VALUES (1, 'a', 'x'), (2, NULL, 'y');
SELECT pipeline.expect('"status_we''ird"', 'id', 'not_null') > 0 AS expected;
SELECT pipeline.expect('"status_we''ird"', 'k', 'not_null') > 0 AS expected;
SELECT pipeline.expect('"status_we''ird"', 'c', 'accepted_values', '{"values": ["x"]}', severity => 'warn') > 0 AS expected;
SELECT pipeline.expect('status_events', 'k', 'not_null') > 0 AS expected;
SELECT pipeline.expect('"status_we''ird"', NULL, 'custom_value', '{"sql": "SELECT 1/0", "min": 0}', name => 'breaks') > 0 AS expected;
SELECT pipeline.expect('status_m_up', 'k', 'not_null') > 0 AS expected;
SELECT expectation, status FROM pipeline.check('"status_we''ird"') ORDER BY expectation;
SELECT expectation, status FROM pipeline.check('status_m_up') ORDER BY expectation;
SELECT pg_sleep(0.01);
SELECT model, status FROM pipeline.run('status_m_up') ORDER BY model;

-- everything, as its owner (a superuser here) sees it
SELECT kind, name, relation, owner = current_user AS mine, state, since IS NOT NULL AS has_since,
       last_success IS NOT NULL AS has_success, last_error, last_sqlstate,
       regexp_replace(regexp_replace(figure, '(\d+ days? )?\d\d:\d\d:\d\d( ago| old)', 'hh:mm:ss\2', 'g'),
                      'next run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d', 'next run YYYY-MM-DD hh:mm:ss') AS figure,
       hint
  FROM pipeline.status ORDER BY kind, name, relation::text;

-- the states that need time to pass, in a transaction that no worker sees
BEGIN;
-- a DAG whose next run is overdue: the scheduler is behind
UPDATE pipeline.dags SET next_fire_at = now() - interval '5 minutes' WHERE name = 'status_job';
-- a model built and an expectation checked longer ago than stale_after
UPDATE pipeline.models SET built_at = now() - interval '2 days' WHERE name = 'public.status_m_up';
UPDATE pipeline.check_results SET started_at = now() - interval '2 days' WHERE expectation = 'not_null_id';
SELECT kind, name, state, hint FROM pipeline.status
 WHERE name IN ('status_job', 'status_m_up', 'not_null_id') ORDER BY kind, name;
-- pg_pipeline.stale_after = 0: nothing is stale by age
SET LOCAL pg_pipeline.stale_after = 0;
SELECT kind, name, state FROM pipeline.status
 WHERE name IN ('status_m_up', 'not_null_id') ORDER BY kind, name;
ROLLBACK;

-- ages read the same whatever the IntervalStyle
SET IntervalStyle = postgres_verbose;
SELECT pipeline._status_age(now() - interval '5 minutes 10.7 seconds') AS minutes,
       pipeline._status_age(now() - interval '1 day 1 second') AS a_day,
       pipeline._status_age(now() - interval '12 days 3 hours') AS days,
       pipeline._status_age(now() + interval '1 hour') AS future;
RESET IntervalStyle;

-- the next fires of a job, and of any expression before scheduling it (a
-- six-field job that fires every hour: in a transaction the scheduler
-- never sees, so that it does not run while the test looks at it)
BEGIN;
SELECT pipeline.schedule('status_job6', '30 3 * * * *', 'SELECT 1') > 0 AS scheduled;
SELECT kind, state, regexp_replace(figure, '\d{4}-\d\d-\d\d \d\d:(\d\d:\d\d)', 'YYYY-MM-DD hh:\1') AS figure
  FROM pipeline.status WHERE name = 'status_job6';
SELECT name, schedule, cardinality(next_fires) AS fires,
       next_fires[1] = next_run_at AS first_is_next_run,
       (SELECT bool_and(extract(second FROM f) = 30 AND extract(minute FROM f) = 3)
          FROM unnest(next_fires) f) AS at_minute_3_second_30,
       next_fires[2] - next_fires[1] AS apart
  FROM pipeline.jobs WHERE name = 'status_job6';
SELECT pipeline.cron_fires('30 3 * * * *', '2026-01-01 00:00+00');
SELECT pipeline.cron_fires('30 3 * * *', '2026-01-01 00:00+00', 2);
SELECT pipeline.cron_fires('0 6 * * *', '2026-03-28 00:00+00', 3, 'Europe/Paris');
-- an owner may write next_fire_at (review of 0.9.0): an absurd one must
-- not make pipeline.jobs fail for whoever reads the row (an admin)
UPDATE pipeline.dags SET next_fire_at = 'infinity' WHERE name = 'status_job6';
SELECT next_run_at, next_fires FROM pipeline.jobs WHERE name = 'status_job6';
UPDATE pipeline.dags SET next_fire_at = '4714-11-24 00:00:00+00 BC' WHERE name = 'status_job6';
SELECT next_fires FROM pipeline.jobs WHERE name = 'status_job6';
SELECT pipeline.disable('status_job6');
SELECT next_run_at, next_fires FROM pipeline.jobs WHERE name = 'status_job6';
ROLLBACK;
SELECT pipeline.cron_fires('* * * * *', now(), 0);
SELECT pipeline.cron_fires('61 * * * *', now());

-- A cron error is raised at the call the user made, with one line of
-- context naming it, not inside the INSERT INTO pipeline.dags of a trigger.
\set SHOW_CONTEXT always
SELECT pipeline.schedule('status_bad', '61 * * * *', 'SELECT 1');
SELECT pipeline.schedule('status_bad', '* * * * *', 'SELECT 1', timezone => 'Mars/Olympus_Mons');
SELECT pipeline.create_dag('status_bad', 'every day');
SELECT pipeline.alter_dag('status_manual', schedule => '0 0 31 2 * * *');
SELECT pipeline.alter_job('status_job', schedule => '*/0 * * * *');
-- and a direct write still meets the trigger's check
INSERT INTO pipeline.dags (name, schedule) VALUES ('status_bad', 'bogus');
\set SHOW_CONTEXT never

-- Row-level security: a second role sees only its own objects; a member
-- of pipeline_admin sees everyone's.
CREATE ROLE status_alice;
CREATE ROLE status_admin IN ROLE pipeline_admin;
GRANT CREATE ON SCHEMA public TO status_alice;
SET ROLE status_alice;
CREATE TABLE status_alice_t (id int);
SELECT pipeline.create_dag('status_alice_dag') > 0 AS created;
SELECT pipeline.expect('status_alice_t', 'id', 'not_null') > 0 AS expected;
SELECT kind, name, owner, state, hint FROM pipeline.status ORDER BY kind, name;
-- she cannot count rows of a table she may not read (an admin looking at
-- another role's async window gets NULL, not an error)
SELECT pipeline._rows_waiting('status_events') AS not_hers, pipeline._rows_waiting('status_alice_t') AS hers;
-- the attack: a "delta table" that is a view calling her function, or a
-- table whose row-level security policy calls it, would run her code as
-- the superuser or admin reading pipeline.status (any role may insert a
-- row into pipeline.windows naming them); neither is ever read
CREATE TABLE status_alice_log (who name);
GRANT INSERT ON status_alice_log TO PUBLIC;
CREATE FUNCTION status_alice_spy() RETURNS boolean LANGUAGE sql VOLATILE
    AS $$ INSERT INTO public.status_alice_log VALUES (current_user) RETURNING true $$;
CREATE VIEW status_alice_v AS SELECT 1 AS x FROM (SELECT status_alice_spy()) s;
CREATE TABLE status_alice_rls (x int);
INSERT INTO status_alice_rls VALUES (1);
ALTER TABLE status_alice_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON status_alice_rls USING (status_alice_spy());
GRANT SELECT ON status_alice_v, status_alice_rls TO PUBLIC;
SELECT count(*) AS her_view_runs_her_function FROM status_alice_v;
TRUNCATE status_alice_log;
RESET ROLE;
SELECT pipeline._rows_waiting('status_alice_v') AS view_not_read,
       pipeline._rows_waiting('status_alice_rls') AS rls_table_not_read;
SET ROLE status_admin;
SELECT pipeline._rows_waiting('status_alice_v') AS view_not_read,
       pipeline._rows_waiting('status_alice_rls') AS rls_table_not_read;
RESET ROLE;
SELECT count(*) AS spy_never_ran FROM status_alice_log;
SET ROLE status_admin;
SELECT count(*) > 20 AS sees_all, count(*) FILTER (WHERE owner = 'status_alice') AS of_alice
  FROM pipeline.status;
RESET ROLE;
-- nor can she make pipeline.status fail for an admin (review of 0.9.0): a
-- forged async window whose "delta table" is readable by all but in a
-- schema the admin may not use is not read (the count is NULL, no error)
CREATE SCHEMA status_alice_private AUTHORIZATION status_alice;
SET ROLE status_alice;
CREATE TABLE status_alice_private.d (x int);
GRANT SELECT ON status_alice_private.d TO PUBLIC;
INSERT INTO pipeline.windows (name, result, state_table, delta_table, source, time_column, kind, size,
                              aggregates, agg_names, agg_kinds, agg_exprs, agg_args, agg_types, columns,
                              emit, late_rows, mode)
VALUES ('status_alice_t', 'status_alice_t', 'status_alice_t', 'status_alice_private.d', 'status_alice_t', 'id',
        'tumble', '1 hour', 'count(*)', '{n}', '{count_star}', '{count(*)}', '{""}', '{bigint}', '{id}',
        'on_update', 'drop', 'async');
RESET ROLE;
SELECT 'status_alice_private.d'::regclass::oid AS private_d \gset
SET ROLE status_admin;
SELECT pipeline._rows_waiting(:private_d) AS not_read;
SELECT count(*) FILTER (WHERE kind = 'window' AND owner = 'status_alice') AS her_window_listed
  FROM pipeline.status;
RESET ROLE;
DELETE FROM pipeline.windows WHERE name = 'status_alice_t';
DROP SCHEMA status_alice_private CASCADE;

-- clean up
SELECT pipeline.drop_dag('status_alice_dag');
SELECT pipeline.drop_expectation('status_alice_t', 'not_null_id');
DROP VIEW status_alice_v;
DROP TABLE status_alice_t, status_alice_rls, status_alice_log;
DROP FUNCTION status_alice_spy();
REVOKE CREATE ON SCHEMA public FROM status_alice;
DROP ROLE status_alice;
DROP ROLE status_admin;
SELECT pipeline.drop_source('status_src'), pipeline.drop_source('status_stopped');
SELECT pipeline.drop_sink('status_sink'), pipeline.drop_sink('status_sink_stopped');
SELECT pipeline.drop_window('status_w'), pipeline.drop_window('status_w_broken');
SELECT pipeline.unschedule('status_job');
SELECT pipeline.drop_dag('status_manual'), pipeline.drop_dag('status_off'), pipeline.drop_dag('status_failed');
SELECT pipeline.drop_model('status_m_down');
SELECT pipeline.drop_model(name) FROM pipeline.models ORDER BY name;
DELETE FROM pipeline.expectations;
DROP TABLE "status_we'ird", status_events;
DROP SERVER status_kafka;
SELECT count(*) AS left_over FROM pipeline.status;
DROP EXTENSION pg_pipeline;
