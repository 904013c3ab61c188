-- pg_pipeline demo: what a user types in psql.  Grows with each capability.
\set QUIET on
\pset footer off

\echo
\echo '-- 1. Install the extension in this database'
CREATE EXTENSION pg_pipeline;
SELECT pipeline.version();

-- CREATE EXTENSION woke the launcher at commit; give the coordinator a moment
\o /dev/null
SELECT pg_sleep(0.5);
\o

\echo '-- 2. Its workers: the launcher (no database) and this database''s coordinator'
SELECT kind, database, role, state, pid, restarts, last_error FROM pipeline.workers ORDER BY kind;

\echo '-- 3. The same processes, as PostgreSQL shows them'
SELECT pid, backend_type, datname, backend_start::time(0)
  FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%' ORDER BY backend_type;

\echo '-- 4. Its configuration'
SELECT name, setting, unit, short_desc FROM pg_settings
 WHERE name LIKE 'pg_pipeline.%' ORDER BY name;

\echo '-- 5. Kafka ingestion: the topic user-events into raw.user_events, exactly once'
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers :'bootstrap');
CREATE SCHEMA raw;
CREATE TABLE raw.user_events (
    user_id      text,
    action       text,
    page         text,
    event_time   timestamptz,
    amount       numeric,
    _partition   int,            -- metadata columns are filled when present
    _offset      bigint,
    _ingested_at timestamptz
);
-- a live window on the table the source fills: views and unique users per
-- page per minute, kept up to date from every batch the consumer commits
CREATE INDEX ON raw.user_events (event_time);
SELECT pipeline.create_window('raw.page_views_per_minute',
    source           => 'raw.user_events',
    time_column      => 'event_time',
    window_spec      => pipeline.tumble('1 minute'),
    group_by         => '{page}',
    aggregates       => 'count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount',
    allowed_lateness => '5 seconds');
SELECT pipeline.create_source('user_events',
    server     => 'kafka',
    topic      => 'user-events',
    target     => 'raw.user_events',
    format     => 'json',
    on_error   => 'dead_letter',
    properties => '{"fetch.wait.max.ms": "50"}');

-- wait (at most 20 s) for the 1,000 good events the demo produced
\o /dev/null
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN (SELECT count(*) FROM raw.user_events) >= 1000;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
\o

SELECT source, state, consumers_running, lag, rows_since_start, dead_letters, last_error
  FROM pipeline.source_status;
SELECT partition, next_offset, high_watermark, lag FROM pipeline.source_partitions ORDER BY partition;
SELECT page, count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount
  FROM raw.user_events GROUP BY page ORDER BY page;

\echo '-- 6. Bad messages went to the dead letters, the rest was ingested'
SELECT partition, "offset", payload, error FROM pipeline.dead_letter_messages ORDER BY id;

\echo '-- 7. Publishing: page totals to topic page-stats, only once this transaction commits'
SELECT pipeline.create_sink('page_stats', server => 'kafka', topic => 'page-stats');
SELECT count(pipeline.publish('page_stats', json_build_object('page', page, 'views', views)::text,
                              key => page)) AS published
  FROM (SELECT page, count(*) AS views FROM raw.user_events GROUP BY page) totals;

\echo '-- 8. The live window: per page per minute, maintained from every batch the consumer loaded'
SELECT window_start::time(0), window_end::time(0), page, views, users, amount, is_final
  FROM raw.page_views_per_minute ORDER BY window_start DESC, page LIMIT 10;
SELECT name, kind, size, watermark, open_windows, final_windows, late_rows
  FROM pipeline.window_status;
\echo '   the same numbers from scratch (rows that differ, both ways: 0 and 0)'
SELECT (SELECT count(*) FROM (
          SELECT date_bin('1 minute', event_time, '1970-01-01'), page, count(*), count(DISTINCT user_id), sum(amount)
            FROM raw.user_events GROUP BY 1, 2
          EXCEPT ALL
          SELECT window_start, page, views, users, amount FROM raw.page_views_per_minute) a) AS missing,
       (SELECT count(*) FROM (
          SELECT window_start, page, views, users, amount FROM raw.page_views_per_minute
          EXCEPT ALL
          SELECT date_bin('1 minute', event_time, '1970-01-01'), page, count(*), count(DISTINCT user_id), sum(amount)
            FROM raw.user_events GROUP BY 1, 2) b) AS extra;

\echo '-- 9. A new event moves the watermark past 13:00: the last windows close and are announced'
LISTEN pipeline_window_closed;
INSERT INTO raw.user_events (user_id, action, page, event_time, amount)
VALUES ('u7', 'view', '/p1', '2026-11-25T13:00:30Z', 1.5);
SELECT window_start::time(0), page, views, users, is_final
  FROM raw.page_views_per_minute WHERE window_start >= '2026-11-25T12:59:00Z' ORDER BY 1, 2;
UNLISTEN *;

\echo
\echo '-- 10. Scheduling: an hourly DAG over the events, as in Airflow'
\echo '   wait until the hour is complete, summarise it, check it against the live window; alert on failure'
CREATE TABLE raw.page_hourly (
    hour   timestamptz,
    page   text,
    events bigint,
    users  bigint,
    amount numeric,
    PRIMARY KEY (hour, page)
);
\o /dev/null
SELECT pipeline.create_dag('page_hourly', schedule => '0 * * * *', timezone => 'UTC',
                           catchup => false, max_active_runs => 1);
-- a sensor: an event at or after the end of the hour has arrived
SELECT pipeline.add_task('page_hourly', 'wait_for_hour',
    sensor        => $$SELECT max(event_time) >= pipeline.data_interval_end() FROM raw.user_events$$,
    poke_interval => '10 seconds', timeout => '10 minutes');
-- the run's data interval [logical_date, data_interval_end) is its hour
SELECT pipeline.add_task('page_hourly', 'summarize', $$
    DELETE FROM raw.page_hourly WHERE hour = pipeline.logical_date();
    INSERT INTO raw.page_hourly
    SELECT pipeline.logical_date(), page, count(*), count(DISTINCT user_id), sum(amount)
      FROM raw.user_events
     WHERE event_time >= pipeline.logical_date() AND event_time < pipeline.data_interval_end()
     GROUP BY page$$,
    upstream => '{wait_for_hour}', retries => 3, retry_delay => '10 seconds', timeout => '5 minutes');
SELECT pipeline.add_task('page_hourly', 'check', $check$
    DO $$
    BEGIN
        IF EXISTS ((SELECT page, events, amount FROM raw.page_hourly
                     WHERE hour = pipeline.logical_date()
                    EXCEPT ALL
                    SELECT page, sum(views), sum(amount) FROM raw.page_views_per_minute
                     WHERE window_start >= pipeline.logical_date()
                       AND window_start < pipeline.data_interval_end()
                     GROUP BY page)
                   UNION ALL
                   (SELECT page, sum(views), sum(amount) FROM raw.page_views_per_minute
                     WHERE window_start >= pipeline.logical_date()
                       AND window_start < pipeline.data_interval_end()
                     GROUP BY page
                    EXCEPT ALL
                    SELECT page, events, amount FROM raw.page_hourly
                     WHERE hour = pipeline.logical_date())) THEN
            RAISE EXCEPTION 'page_hourly for % differs from the live window', pipeline.logical_date();
        END IF;
    END
    $$ $check$,
    upstream => '{summarize}');
SELECT pipeline.add_task('page_hourly', 'alert',
    $$SELECT pg_notify('demo_alerts', 'page_hourly failed for ' || pipeline.logical_date())$$,
    upstream => '{check}', trigger_rule => 'one_failed');
\o
SELECT name, command IS NULL AS is_sensor, upstream, trigger_rule, retries, timeout
  FROM pipeline.tasks WHERE dag_id = (SELECT dag_id FROM pipeline.dags WHERE name = 'page_hourly')
 ORDER BY created_at;

\echo '   the demo''s events are from 12:00 to 13:00 UTC: backfill that hour instead of waiting for a schedule'
LISTEN pipeline_scheduler;
SELECT pipeline.backfill('page_hourly', '2026-11-25 12:00+00', '2026-11-25 12:00+00') AS runs_queued;
-- wait (at most 20 s) for the run to finish; its NOTIFY shows when it does
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pipeline.dag_runs
                           WHERE dag = 'page_hourly' AND status IN ('success', 'failed'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT run_id, run_type, logical_date::time(0), data_interval_end::time(0), status, duration
  FROM pipeline.dag_runs WHERE dag = 'page_hourly';
SELECT task, attempt, status, pokes, rows_affected, duration, error
  FROM pipeline.task_runs WHERE dag = 'page_hourly' ORDER BY started_at NULLS LAST, task;
SELECT hour::time(0), page, events, users, amount FROM raw.page_hourly ORDER BY page;
UNLISTEN *;

\echo
\echo '-- 11. A one-line job as in pg_cron, run now; and a DAG run by new data from Kafka'
SELECT pipeline.schedule('analyze_events', '30 3 * * *', 'VACUUM (ANALYZE) raw.user_events',
                         timezone => 'Europe/Paris') AS job_id;
SELECT pipeline.run_now('analyze_events') AS run_id;
CREATE MATERIALIZED VIEW raw.top_pages AS
    SELECT page, count(*) AS views FROM raw.user_events GROUP BY page;
-- runs when the source user_events loads new events, at most every 10 seconds
\o /dev/null
SELECT pipeline.create_dag('refresh_top_pages', trigger_on => '{user_events}', trigger_interval => '10 seconds');
SELECT pipeline.add_task('refresh_top_pages', 'refresh', 'REFRESH MATERIALIZED VIEW raw.top_pages');
\o
\echo '   three new events for page /p9 arrive on the topic (kcat); the consumer loads them, the DAG runs'
\setenv BOOTSTRAP :bootstrap
\! printf 'p9|{"user_id":"u1","action":"view","page":"/p9","event_time":"2026-11-25T13:01:00Z","amount":1}\np9|{"user_id":"u2","action":"view","page":"/p9","event_time":"2026-11-25T13:01:10Z","amount":2}\np9|{"user_id":"u3","action":"view","page":"/p9","event_time":"2026-11-25T13:01:20Z","amount":3}\n' | kcat -P -b "$BOOTSTRAP" -t user-events -K '|'
-- wait (at most 20 s) for the job's run, and for a data-triggered run made
-- after the three events were loaded (without reading the view: this loop is
-- one transaction, and its lock would hold up the refresh)
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pipeline.dag_runs
                           WHERE dag = 'analyze_events' AND status IN ('success', 'failed'))
              AND (SELECT count(*) FROM raw.user_events WHERE page = '/p9') = 3
              AND EXISTS (SELECT 1 FROM pipeline.dag_runs
                           WHERE dag = 'refresh_top_pages' AND status IN ('success', 'failed')
                             AND data_interval_end >= (SELECT max(_ingested_at) FROM raw.user_events
                                                        WHERE page = '/p9'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT page, views FROM raw.top_pages ORDER BY page;
SELECT run_id, dag, run_type, status, logical_date, data_interval_end
  FROM pipeline.dag_runs WHERE dag IN ('analyze_events', 'refresh_top_pages') ORDER BY run_id;
SELECT name, schedule, timezone, command, next_run_at, last_status, last_duration FROM pipeline.jobs;
SELECT name, schedule, timezone, next_run_at, queued_runs, running_runs, last_logical_date, last_status
  FROM pipeline.dag_status ORDER BY name;

\echo
\echo '-- 12. Models, as in dbt: plain SQL, dependencies from PostgreSQL''s own parse'
CREATE SCHEMA staging;
CREATE SCHEMA marts;
SELECT pipeline.create_model('staging.stg_views', $$
    SELECT user_id, page, event_time FROM raw.user_events WHERE action = 'view' $$) AS model_id;
-- a table, rebuilt atomically (a view on it, grants and indexes stay)
SELECT pipeline.create_model('marts.page_totals', $$
    SELECT page, count(*) AS views, count(DISTINCT user_id) AS users
      FROM staging.stg_views GROUP BY page $$,
    materialized => 'table', tags => '{hourly}') AS model_id;
-- incremental by event time: each run reads only new rows (and a lookback
-- for late ones); no filter written by hand
SELECT pipeline.create_model('marts.user_pages', $$
    SELECT user_id, page, event_time FROM staging.stg_views $$,
    materialized => 'incremental', incremental_by => 'event_time',
    lookback => '5 minutes', tags => '{hourly}') AS model_id;
\echo '   run everything that depends on staging.stg_views, in dependency order (dbt: -s stg_views+)'
SELECT model, status, rows FROM pipeline.run('staging.stg_views+');
SELECT * FROM marts.page_totals ORDER BY views DESC, page LIMIT 3;
\echo '   lineage, from the parser: tables and columns'
SELECT model, upstream FROM pipeline.lineage ORDER BY model, upstream;
SELECT column_name, upstream || '.' || upstream_column AS comes_from, transform, direct
  FROM pipeline.column_lineage WHERE model = 'marts.page_totals' AND upstream IS NOT NULL
 ORDER BY column_name, direct DESC, comes_from;
\echo '   a second run of the hourly models: the incremental one reads only its last 5 minutes again (its lookback), not the whole table'
SELECT model, status, rows FROM pipeline.build('tag:hourly');
SELECT model, last_status, last_rows FROM pipeline.model_status ORDER BY model;

\echo
\echo '-- 13. Data quality, as dbt tests and Great Expectations: every expectation of a table in one scan'
SELECT pipeline.expect('marts.page_totals', 'page', 'unique') AS expectation_id;
SELECT pipeline.expect('marts.page_totals', 'views', 'between', '{"min": 1}') AS expectation_id;
SELECT pipeline.expect('raw.user_events', 'action', 'accepted_values',
                       '{"values": ["view", "click", "purchase"]}', severity => 'warn') AS expectation_id;
SELECT pipeline.expect('raw.user_events', 'user_id', 'not_null') AS expectation_id;
SELECT expectation, status, proven, failing, total FROM pipeline.check('raw.user_events');
\echo '   a build checks each model before it is published: a page counted twice (a bad join upstream)'
\echo '   fails unique_page: marts.page_totals keeps its previous rows (models that read it would be skipped)'
SELECT pipeline.alter_model('marts.page_totals', sql => $$
    SELECT page, count(*) AS views, count(DISTINCT user_id) AS users FROM staging.stg_views GROUP BY page
    UNION ALL SELECT '/p1', 1, 1 $$);
SELECT model, status, error FROM pipeline.build('marts.page_totals');
SELECT count(*) AS rows_still_published FROM marts.page_totals;
SELECT r.expectation, r.status, r.failing, f.key
  FROM pipeline.check_results r LEFT JOIN pipeline.check_failures f USING (result_id)
 WHERE r.model_invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY r.expectation, f.ordinal;
\echo '   a data contract (YAML, Open Data Contract Standard v3) becomes expectations'
SELECT item, action, detail FROM pipeline.apply_contract($$
apiVersion: v3.0.2
kind: DataContract
id: user-events
name: user events
version: 1.0.0
status: active
schema:
  - name: user_events
    physicalName: raw.user_events
    properties:
      - name: page
        logicalType: string
        required: true
      - name: amount
        logicalType: number
        logicalTypeOptions:
          minimum: 0
          maximum: 50
$$);
SELECT expectation, severity, status, failing, total, percent FROM pipeline.check('raw.user_events');
SELECT relation, expectation, status FROM pipeline.check_status ORDER BY relation::text, expectation;

\echo
\echo '-- 14. One place to see it all: pipeline.status, every object with its state and what to do'
SELECT kind, name, state, figure, left(hint, 70) AS hint
  FROM pipeline.status ORDER BY kind, name;

\echo '-- 15. Lineage: topics, tables, windows, models, checks, sinks and DAGs as one graph'
\echo '   as Mermaid (paste it into a Markdown page), up- and downstream of raw.user_events:'
\pset format unaligned
\pset tuples_only on
SELECT pipeline.lineage_mermaid('raw.user_events');
\echo '   and the whole graph as an HTML page laid out by Graphviz (states as colours):'
\o :lineage_html
SELECT pipeline.lineage_html();
\o
\pset format aligned
\pset tuples_only off
