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
