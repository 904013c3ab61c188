-- The scheduler's SQL interface without running anything (the DAGs here
-- have no schedule and are never run): what each call stores, every
-- validation error, and what row-level security lets each role see and do.
-- Running jobs and DAGs is tested by test/t/04*_scheduler_*.pl.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never

-- a DAG of the seed's shape; nothing runs: no schedule, no run_now
SELECT pipeline.create_dag('etl', timezone => 'Europe/Paris', max_active_runs => 2) > 0 AS created;
SELECT pipeline.add_task('etl', 'wait_for_data',
    sensor => $$SELECT count(*) > 0 FROM pg_class WHERE oid > 0$$,
    poke_interval => '5 minutes', timeout => '1 hour');
SELECT pipeline.add_task('etl', 'build', 'SELECT 1', upstream => '{wait_for_data}',
    retries => 3, retry_delay => '5 minutes', timeout => '2 hours');
SELECT pipeline.add_task('etl', 'alert', 'SELECT 2', upstream => '{build,build}',
    trigger_rule => 'one_failed');
SELECT name, schedule, timezone, catchup, max_active_runs, enabled, is_job, next_fire_at,
       owner = current_user AS mine
  FROM pipeline.dags;
SELECT t.name, t.command, t.sensor, t.upstream, t.trigger_rule, t.retries, t.retry_delay,
       t.timeout, t.poke_interval
  FROM pipeline.tasks t ORDER BY t.created_at, t.name;

-- a DAG with a schedule gets its next fire time from the schedule
SELECT pipeline.create_dag('every_minute', schedule => '1 minute', enabled => false) > 0 AS created;
SELECT next_fire_at IS NULL AS not_scheduled_while_disabled FROM pipeline.dags WHERE name = 'every_minute';
SELECT pipeline.enable('every_minute');
SELECT next_fire_at > now() AND next_fire_at <= now() + '1 minute' AS next_within_a_minute,
       next_fire_at = date_trunc('minute', next_fire_at) AS on_the_minute
  FROM pipeline.dags WHERE name = 'every_minute';
SELECT pipeline.disable('every_minute');
SELECT name, schedule, timezone, enabled, next_run_at IS NOT NULL AS has_next_run, queued_runs,
       running_runs, last_status
  FROM pipeline.dag_status ORDER BY name;

-- errors: DAGs
SELECT pipeline.create_dag('etl');
SELECT pipeline.create_dag('bad name!');
SELECT pipeline.create_dag(NULL);
SELECT pipeline.create_dag('x', max_active_runs => 0);
SELECT pipeline.create_dag('x', schedule => 'every day');
SELECT pipeline.create_dag('x', schedule => '61 * * * *');
SELECT pipeline.create_dag('x', timezone => 'Mars/Olympus_Mons');
SELECT pipeline.create_dag('x', trigger_on => '{no_such_table}');
SELECT pipeline.create_dag('x', start_date => '2026-01-02', end_date => '2026-01-01');
SELECT pipeline.alter_dag('nope', enabled => false);
SELECT pipeline.drop_dag('nope');
SELECT pipeline.drop_dag('nope', if_exists => true);
SELECT pipeline.backfill('etl', '2026-01-01', '2026-01-02');
SELECT pipeline.clear('etl');

-- errors: tasks
SELECT pipeline.add_task('etl', 'build', 'SELECT 1');
SELECT pipeline.add_task('etl', 'both', 'SELECT 1', sensor => 'SELECT true');
SELECT pipeline.add_task('etl', 'neither');
SELECT pipeline.add_task('etl', 'typo', 'SELEC 1');
SELECT pipeline.add_task('etl', 'notselect', sensor => 'DELETE FROM pg_class');
SELECT pipeline.add_task('etl', 'orphan', 'SELECT 1', upstream => '{missing}');
SELECT pipeline.add_task('etl', 'selfish', 'SELECT 1', upstream => '{selfish}');
SELECT pipeline.add_task('etl', 'rule', 'SELECT 1', trigger_rule => 'any_success');
SELECT pipeline.add_task('etl', 'many', 'SELECT 1', retries => 101);
SELECT pipeline.add_task('etl', 'neg', 'SELECT 1', retry_delay => '-1 minute');
SELECT pipeline.add_task('etl', 'fast', sensor => 'SELECT true', poke_interval => '10 ms');
SELECT pipeline.add_task('etl', 'bad-name!', 'SELECT 1');
SELECT pipeline.add_task('nope', 'x', 'SELECT 1');
SELECT pipeline.drop_task('etl', 'build');
SELECT pipeline.drop_task('etl', 'nope');

-- changing a task: what is given changes; no cycle; a timeout can be removed
SELECT pipeline.alter_task('etl', 'alert', 'SELECT 3', upstream => '{wait_for_data,build}', timeout => '5 minutes');
SELECT name, command, upstream, timeout FROM pipeline.tasks WHERE name = 'alert';
SELECT pipeline.alter_task('etl', 'alert', timeout => '0', trigger_rule => 'all_done');
SELECT name, command, trigger_rule, timeout FROM pipeline.tasks WHERE name = 'alert';
SELECT pipeline.alter_task('etl', 'wait_for_data', upstream => '{alert}');
SELECT pipeline.alter_task('etl', 'build', upstream => '{build}');
SELECT pipeline.alter_task('etl', 'build', command => 'SELEC 2');
SELECT pipeline.alter_task('etl', 'nope', command => 'SELECT 2');
SELECT pipeline.alter_task('etl', 'wait_for_data', command => 'SELECT 4');   -- a sensor becomes a command
SELECT name, command, sensor FROM pipeline.tasks WHERE name = 'wait_for_data';

-- the data trigger of a DAG can be added and removed
CREATE TABLE sched_events (x int);
SELECT pipeline.alter_dag('etl', trigger_on => '{sched_events}');
SELECT trigger_on FROM pipeline.dags WHERE name = 'etl';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'sched_events'::regclass;
SELECT pipeline.alter_dag('etl', trigger_on => '{}');
SELECT trigger_on FROM pipeline.dags WHERE name = 'etl';
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'sched_events'::regclass;
DROP TABLE sched_events;

-- one-line jobs
SELECT pipeline.schedule('nightly', '1 day', 'VACUUM pg_class') > 0 AS scheduled;
SELECT name, schedule, command, enabled, last_status FROM pipeline.jobs;
SELECT pipeline.schedule('nightly', '2 days', 'ANALYZE pg_class') > 0 AS replaced;
SELECT pipeline.alter_job('nightly', timeout => '10 minutes', retries => 2);
SELECT name, schedule, command FROM pipeline.jobs;
SELECT retries, timeout FROM pipeline.tasks WHERE name = 'nightly';
SELECT pipeline.alter_job('nightly', timeout => '0');
SELECT retries, timeout FROM pipeline.tasks WHERE name = 'nightly';
SELECT pipeline.schedule('etl', '1 day', 'SELECT 1');
SELECT pipeline.unschedule('etl');
SELECT pipeline.alter_job('etl', command => 'SELECT 1');
SELECT pipeline.alter_job('nightly', schedule => '');
SELECT pipeline.schedule('nocommand', '1 day', NULL);
SELECT pipeline.unschedule('nightly');
SELECT count(*) AS jobs_left FROM pipeline.jobs;

-- outside a task the data interval is unknown
SELECT pipeline.logical_date() IS NULL AS no_logical_date, pipeline.data_interval_end() IS NULL AS no_end;

-- the scheduler's own functions are not for users
CREATE ROLE sched_alice LOGIN;
CREATE ROLE sched_bob LOGIN;
CREATE ROLE sched_carol LOGIN IN ROLE pipeline_admin;
SET ROLE sched_alice;
SELECT pipeline._scheduler_tick(false, false);
SELECT * FROM pipeline._scheduler_dispatch(1);
SELECT pipeline._task_run_finish(1, 'success', NULL, NULL, NULL);

-- row-level security: alice's DAG is hers
SELECT pipeline.create_dag('alice_dag') > 0 AS created;
SELECT pipeline.add_task('alice_dag', 'only', 'SELECT current_user');
SELECT name, owner FROM pipeline.dags;                  -- not etl
RESET ROLE;
SELECT dag_id AS alice_dag_id FROM pipeline.dags WHERE name = 'alice_dag' \gset
SET ROLE sched_bob;
SELECT count(*) AS bob_sees_dags FROM pipeline.dags;
SELECT count(*) AS bob_sees_tasks FROM pipeline.tasks;
SELECT pipeline.run_now('alice_dag');
SELECT pipeline.add_task('alice_dag', 'evil', 'SELECT 1');
INSERT INTO pipeline.tasks (dag_id, name, command) VALUES (:alice_dag_id, 'evil', 'SELECT 1');
INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
VALUES (:alice_dag_id, 'alice_dag', 'manual', now(), now());
-- a row claiming to be alice's is bob's: the owner is the writer
INSERT INTO pipeline.dags (name, owner) VALUES ('forged', 'sched_alice');
SELECT name, owner FROM pipeline.dags;
UPDATE pipeline.dags SET owner = 'sched_alice' WHERE name = 'forged';
RESET ROLE;
-- an admin sees everything, may disable alice's DAG, but not write its tasks
SET ROLE sched_carol;
SELECT name, owner FROM pipeline.dags WHERE name LIKE '%a%' ORDER BY name;
SELECT pipeline.disable('alice_dag');
SELECT pipeline.run_now('alice_dag') > 0 AS queued;     -- it would run as alice
SELECT pipeline.add_task('alice_dag', 'evil', 'SELECT 1');
UPDATE pipeline.tasks SET command = 'SELECT 2' WHERE name = 'only';
RESET ROLE;
SELECT d.name, d.owner, d.enabled, t.name AS task, t.command
  FROM pipeline.dags d LEFT JOIN pipeline.tasks t USING (dag_id)
 WHERE d.owner <> current_user ORDER BY 1, 3;

SELECT pipeline.drop_dag(name) FROM pipeline.dags ORDER BY name;
DROP ROLE sched_alice, sched_bob, sched_carol;
DROP EXTENSION pg_pipeline;
