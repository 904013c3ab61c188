-- pg_pipeline 0.8.0 -> 0.9.0: a newcomer's path and one place to see the
-- pipeline (issue 14).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.9.0'" to load this file. \quit

-- ==== status and first errors (helper S) ====
--
-- What this section adds (area file control/sql/status.sql): the view
-- pipeline.status over every object of every subsystem, the C functions
-- _workers_problem and _warn_without_workers (src/status/status.c), the
-- helpers _status_workers, _rows_waiting, _source_target, _stale_after, _status_count,
-- _status_age; in scheduler.sql: pipeline.cron_fires, _schedule_problem,
-- and the column next_fires (last) of pipeline.jobs.  What it changes:
-- create_source, resume_source, create_sink, resume_sink, publish,
-- create_dag, schedule, run_now, backfill and clear warn when
-- pg_pipeline is not in shared_preload_libraries; create_dag, alter_dag,
-- schedule and alter_job raise a bad schedule or time zone at the call
-- (not inside the INSERT INTO pipeline.dags of the guard trigger).

------------------------------------------------------------------------
-- Whether the workers can run (src/status/status.c).
------------------------------------------------------------------------
CREATE FUNCTION pipeline._workers_problem()
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline__workers_problem'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline._workers_problem() IS
'why no pg_pipeline worker can run in this database (''not preloaded'', ''disabled'', ''database not listed''); NULL when they can';

CREATE FUNCTION pipeline._warn_without_workers(what text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline__warn_without_workers'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline._warn_without_workers(text) IS
'a WARNING (once per transaction) that what the caller did will not happen while pg_pipeline is not in shared_preload_libraries';

-- The workers' slots as pipeline.get_workers() shows them, or none when
-- the library was not preloaded (where get_workers() raises an error).
CREATE FUNCTION pipeline._status_workers()
RETURNS TABLE (kind text, label text, state text, started_at timestamptz,
               last_error text, last_error_at timestamptz, last_batch_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pipeline._workers_problem() IS DISTINCT FROM 'not preloaded' THEN
        RETURN QUERY SELECT w.kind, w.label, w.state, w.started_at, w.last_error,
                            w.last_error_at, w.last_batch_at
                       FROM pipeline.get_workers() w;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._status_workers() IS
'the worker slots of this database (kind, label, state, errors, last batch); none without shared_preload_libraries';

-- How many rows wait in a table (an async window's delta), counted up to
-- a million; NULL when the caller may not read it (pipeline_admin looking
-- at another role's window) or it is gone.  The table is the catalog's
-- regclass, printed quoted: nothing of a user's text is spliced.  The
-- count runs as whoever reads pipeline.status (a superuser, an admin), on
-- a relation named in a catalog row any role may insert: only a plain
-- table without row-level security is read, since a view's functions or a
-- policy's expressions would run its owner's code as the reader.
CREATE FUNCTION pipeline._rows_waiting(rel regclass)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10ms'
AS $$
DECLARE
    n bigint;
BEGIN
    IF rel IS NULL
       OR NOT EXISTS (SELECT FROM pg_class c
                       WHERE c.oid = rel AND c.relkind = 'r' AND NOT c.relrowsecurity
                         AND has_schema_privilege(c.relnamespace, 'USAGE'))
       OR NOT has_table_privilege(rel, 'SELECT') THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT FROM %s LIMIT 1000000) w', rel) INTO n;
    RETURN n;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;    -- locked by its owner past lock_timeout, or gone: unknown, not an error for the reader
END
$$;
COMMENT ON FUNCTION pipeline._rows_waiting(regclass) IS
'rows in a plain table without row-level security, counted up to 1,000,000; NULL for any other relation, when the caller may not read it (or use its schema), when it is gone, or locked for more than 10 ms';

-- A source's target table as it is now (following renames: by its OID),
-- NULL once dropped.  A function rather than a join in pipeline.status, so
-- that the view does not pin the column sources.target_oid (a view that
-- reads a column is dropped with it, and an extension's member view takes
-- the extension with it).
CREATE FUNCTION pipeline._source_target(source text)
RETURNS regclass
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT c.oid::regclass FROM pipeline.sources s JOIN pg_class c ON c.oid = s.target_oid
       WHERE s.name = source $$;
COMMENT ON FUNCTION pipeline._source_target(text) IS
'the target table of a source the caller sees, by its OID (following renames); NULL once dropped';

-- pg_pipeline.stale_after as an interval (its default when the library is
-- not loaded in this session yet); NULL when 0 (never stale by age).
CREATE FUNCTION pipeline._stale_after()
RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nullif(coalesce(nullif(current_setting('pg_pipeline.stale_after', true), ''), '25h')::interval,
                    interval '0') $$;
COMMENT ON FUNCTION pipeline._stale_after() IS
'pg_pipeline.stale_after as an interval; NULL when 0 (nothing is stale by age)';

-- a count of things as people read it: 1 row, 1,234,567 rows
CREATE FUNCTION pipeline._status_count(n numeric, noun text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT to_char(coalesce(n, 0), 'FM999,999,999,999,999,990') || ' ' || noun
             || CASE WHEN coalesce(n, 0) = 1 THEN '' ELSE 's' END $$;
COMMENT ON FUNCTION pipeline._status_count(numeric, text) IS
'a count of things with thousands separators and the noun in the plural where needed, for pipeline.status';

-- an age as people read it, whatever the session's IntervalStyle:
-- 00:05:10, 1 day 00:00:01, 12 days 03:00:00
CREATE FUNCTION pipeline._status_age(t timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE a.days WHEN 0 THEN '' WHEN 1 THEN '1 day ' ELSE a.days || ' days ' END
           || to_char(a.age - make_interval(days => a.days), 'HH24:MI:SS')
      FROM (SELECT i.age, extract(day FROM i.age)::integer AS days
              FROM (SELECT justify_hours(date_trunc('second', greatest(now() - t, interval '0'))) AS age) i) a
$$;
COMMENT ON FUNCTION pipeline._status_age(timestamptz) IS 'how long ago a time was, to the second, for pipeline.status';

------------------------------------------------------------------------
-- pipeline.status
------------------------------------------------------------------------
-- One branch per kind of object; in each, a LATERAL subquery "st" decides
-- the state (the first rule that holds wins, in the order of
-- docs/status.md), and the columns follow from it.  "env" says once
-- whether and why the workers cannot run; "wk" reads the worker slots once.
CREATE VIEW pipeline.status WITH (security_invoker = true) AS
WITH env AS MATERIALIZED (
    SELECT p.problem,
           CASE p.problem
               WHEN 'not preloaded' THEN
                   'Add pg_pipeline to shared_preload_libraries in postgresql.conf and restart the server: its background workers do not run without it.'
               WHEN 'disabled' THEN
                   'pg_pipeline.enabled is off: set it to on and reload (SELECT pg_reload_conf()).'
               WHEN 'database not listed' THEN
                   'This database is not in pg_pipeline.databases: add it and reload (SELECT pg_reload_conf()).'
           END AS problem_hint,
           pipeline._stale_after() AS stale_after
      FROM pipeline._workers_problem() p(problem)
), wk AS MATERIALIZED (
    SELECT * FROM pipeline._status_workers()
), worker_hint(hint) AS (
    VALUES ('No worker runs for it: see pipeline.workers and the server log (max_worker_processes, pg_pipeline.max_workers).')
)
-- Sources: a consumer worker per source (pipeline.source_status).
SELECT 'source'::text AS kind,
       s.name,
       pipeline._source_target(s.name) AS relation,
       s.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN w.error_at
                     WHEN 'ok' THEN w.started WHEN 'lagging' THEN w.started END AS since,
       greatest(w.last_batch, o.last_batch) AS last_success,
       coalesce(s.error, w.error, dl.error) AS last_error,
       CASE WHEN s.error IS NULL AND w.error IS NULL THEN dl.sqlstate END AS last_sqlstate,
       'lag ' || pipeline._status_count(o.lag, 'message')
           || CASE WHEN dl.n > 0 THEN ', ' || pipeline._status_count(dl.n, 'dead letter') ELSE '' END
           AS figure,
       CASE st.state
           WHEN 'failing' THEN CASE WHEN s.error IS NOT NULL
               THEN format('The source stopped (on_error => ''stop'', or its target refused a batch): fix the cause, then SELECT pipeline.resume_source(%L).', s.name)
               ELSE 'Its consumers fail and restart: see last_error, pipeline.workers and the server log.' END
           WHEN 'paused' THEN format('Resume it with SELECT pipeline.resume_source(%L).', s.name)
           WHEN 'not running' THEN coalesce(env.problem_hint, (SELECT hint FROM worker_hint))
           WHEN 'starting' THEN 'Its consumers are starting.'
           WHEN 'lagging' THEN 'More messages wait than one batch (batch_rows): more consumers (up to the topic''s partitions) or larger batches catch up faster.'
       END AS hint
  FROM pipeline.sources s
 CROSS JOIN env
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE wk.state = 'running') AS running,
               count(*) FILTER (WHERE wk.state = 'restarting'
                                   OR (wk.last_error_at > coalesce(wk.last_batch_at, '-infinity')
                                       AND wk.last_error_at > now() - interval '1 minute')) AS failing,
               min(wk.started_at) FILTER (WHERE wk.state = 'running') AS started,
               max(wk.last_batch_at) AS last_batch,
               max(wk.last_error_at) AS error_at,
               (array_agg(wk.last_error ORDER BY wk.last_error_at DESC NULLS LAST))[1] AS error
          FROM wk WHERE wk.kind = 'consumer' AND wk.label = s.name) w ON true
  LEFT JOIN LATERAL (
        SELECT sum(greatest(so.high_watermark - so.next_offset, 0)) AS lag,
               max(so.updated_at) AS last_batch
          FROM pipeline.source_offsets so WHERE so.source = s.name) o ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS n,
               (array_agg(d.error ORDER BY d.id DESC))[1] AS error,
               (array_agg(d.sqlstate ORDER BY d.id DESC))[1] AS sqlstate
          FROM pipeline.dead_letters d WHERE d.source = s.name) dl ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN s.error IS NOT NULL THEN 'failing'
                   WHEN s.paused THEN 'paused'
                   WHEN env.problem IS NOT NULL THEN 'not running'
                   WHEN w.failing > 0 THEN 'failing'
                   WHEN w.running < s.consumers AND s.created_at > now() - interval '1 minute' THEN 'starting'
                   WHEN w.running < s.consumers THEN 'not running'
                   WHEN o.lag > s.batch_rows THEN 'lagging'
                   ELSE 'ok'
               END AS state) st
UNION ALL
-- Sinks: a sink worker publishes the outbox.
SELECT 'sink',
       s.name,
       (SELECT wi.result FROM pipeline.windows wi WHERE wi.sink = s.name ORDER BY wi.id LIMIT 1),
       s.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN w.error_at WHEN 'ok' THEN w.started_at
                     WHEN 'lagging' THEN ob.oldest END,
       CASE WHEN p.published > 0 THEN p.updated_at END,
       coalesce(s.error, w.last_error),
       NULL,
       pipeline._status_count(ob.n, 'message') || ' waiting'
           || CASE WHEN ob.n > 0 THEN format(', oldest %s old', pipeline._status_age(ob.oldest)) ELSE '' END,
       CASE st.state
           WHEN 'failing' THEN CASE WHEN s.error IS NOT NULL
               THEN format('The sink stopped: fix the cause, then SELECT pipeline.resume_sink(%L).', s.name)
               ELSE 'It cannot publish (broker unreachable, topic refused): see last_error and pipeline.workers; it retries by itself.' END
           WHEN 'paused' THEN format('Resume it with SELECT pipeline.resume_sink(%L); the outbox keeps filling meanwhile.', s.name)
           WHEN 'not running' THEN coalesce(env.problem_hint, (SELECT hint FROM worker_hint))
           WHEN 'starting' THEN 'Its worker is starting.'
           WHEN 'lagging' THEN 'Messages have waited over a minute: see last_error and pipeline.workers; a larger batch_rows publishes faster.'
       END
  FROM pipeline.sinks s
 CROSS JOIN env
  LEFT JOIN pipeline.sink_progress p ON p.sink = s.name
  LEFT JOIN LATERAL (
        SELECT wk.state, wk.started_at, wk.last_error, wk.last_error_at AS error_at,
               coalesce(wk.last_error_at > coalesce(wk.last_batch_at, '-infinity')
                        AND wk.last_error_at > now() - interval '1 minute', false) AS failing
          FROM wk WHERE wk.kind = 'sink' AND wk.label = s.name LIMIT 1) w ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS n, min(x.created_at) AS oldest
          FROM pipeline.outbox x WHERE x.sink = s.name) ob ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN s.error IS NOT NULL THEN 'failing'
                   WHEN s.paused THEN 'paused'
                   WHEN env.problem IS NOT NULL THEN 'not running'
                   WHEN w.state = 'restarting' OR w.failing THEN 'failing'
                   WHEN w.state IS DISTINCT FROM 'running' AND s.created_at > now() - interval '1 minute' THEN 'starting'
                   WHEN w.state IS DISTINCT FROM 'running' THEN 'not running'
                   WHEN ob.oldest < now() - interval '1 minute' THEN 'lagging'
                   ELSE 'ok'
               END AS state) st
UNION ALL
-- Window aggregates: sync ones are maintained by the writers' statements;
-- async ones by the maintainer worker, from their delta table.
SELECT 'window',
       wi.result::text,
       wi.result,
       wi.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN wi.last_error_at ELSE coalesce(wi.maintained_at, wi.created_at) END,
       wi.maintained_at,
       wi.last_error,
       wi.last_error_sqlstate,
       concat_ws(', ',
                 CASE WHEN wi.mode = 'async' THEN
                     CASE WHEN d.waiting IS NULL THEN 'rows waiting unknown' ELSE pipeline._status_count(d.waiting, 'row') || ' waiting' END END,
                 CASE WHEN g.max_event_time IS NULL THEN 'no rows yet'
                      ELSE format('newest event %s old', pipeline._status_age(g.max_event_time)) END),
       CASE st.state
           WHEN 'failing' THEN format('Maintenance failed: see last_error (and pipeline.window_status); after the fix, SELECT pipeline.rebuild_window(%L).', wi.result::text)
           WHEN 'not running' THEN coalesce(env.problem_hint, (SELECT hint FROM worker_hint))
           WHEN 'lagging' THEN 'Rows have waited over a minute for the maintainer: see pipeline.workers and pg_pipeline.window_delay.'
       END
  FROM pipeline.windows wi
 CROSS JOIN env
  LEFT JOIN LATERAL (SELECT max(pg.max_event_time) AS max_event_time
                       FROM pipeline.window_progress pg WHERE pg.window_id = wi.id) g ON true
  LEFT JOIN LATERAL (SELECT CASE WHEN wi.mode = 'async' THEN pipeline._rows_waiting(wi.delta_table) END AS waiting) d ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN wi.last_error IS NOT NULL THEN 'failing'
                   WHEN wi.mode = 'async' AND env.problem IS NOT NULL THEN 'not running'
                   WHEN d.waiting > 0 AND coalesce(wi.maintained_at, wi.created_at) < now() - interval '1 minute' THEN 'lagging'
                   ELSE 'ok'
               END AS state) st
UNION ALL
-- Jobs and DAGs: the coordinator fires them, runner workers run the tasks.
SELECT CASE WHEN dg.is_job THEN 'job' ELSE 'dag' END,
       dg.name,
       NULL::regclass,
       dg.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN coalesce(l.ended_at, dg.created_at)
                     WHEN 'ok' THEN ok.last_success END,
       ok.last_success,
       CASE WHEN l.status = 'failed' THEN e.error ELSE dg.watch_problem END,
       CASE WHEN l.status = 'failed' THEN e.sqlstate END,
       CASE
           WHEN dg.next_fire_at IS NOT NULL THEN
               format('next run %s %s', to_char(dg.next_fire_at AT TIME ZONE dg.timezone, 'YYYY-MM-DD HH24:MI:SS'), dg.timezone)
           WHEN NOT dg.enabled THEN 'disabled'
           WHEN dg.trigger_on IS NOT NULL THEN 'runs when its tables change'
           WHEN dg.schedule IS NULL THEN 'no schedule: runs with run_now()'
           ELSE 'no next run (after end_date)'
       END,
       CASE st.state
           WHEN 'failing' THEN CASE WHEN l.status = 'failed'
               THEN format('Task %s failed: see pipeline.task_runs; after the fix, SELECT pipeline.clear(%L) runs the failed tasks again.', e.task, dg.name)
               ELSE 'It no longer watches all of trigger_on''s tables: see last_error and pipeline.dag_status.' END
           WHEN 'paused' THEN format('Enable it with SELECT pipeline.enable(%L).', dg.name)
           WHEN 'not running' THEN coalesce(env.problem_hint, (SELECT hint FROM worker_hint))
           WHEN 'lagging' THEN 'Its next run is overdue by more than a minute: the scheduler is behind or not running; see pipeline.workers (coordinator) and pg_pipeline.max_task_runs.'
       END
  FROM pipeline.dags dg
 CROSS JOIN env
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.ended_at FROM pipeline.dag_runs r
                      WHERE r.dag_id = dg.dag_id AND r.status IN ('success', 'failed')
                      ORDER BY r.ended_at DESC NULLS LAST, r.run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT tr.task, tr.error, tr.sqlstate FROM pipeline.task_runs tr
                      WHERE tr.run_id = l.run_id AND tr.status = 'failed'
                      ORDER BY tr.ended_at DESC NULLS LAST, tr.task_run_id DESC LIMIT 1) e ON true
  LEFT JOIN LATERAL (SELECT max(r.ended_at) AS last_success FROM pipeline.dag_runs r
                      WHERE r.dag_id = dg.dag_id AND r.status = 'success') ok ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN NOT dg.enabled THEN 'paused'
                   WHEN l.status = 'failed' OR dg.watch_problem IS NOT NULL THEN 'failing'
                   WHEN env.problem IS NOT NULL
                        AND (dg.next_fire_at IS NOT NULL OR dg.trigger_on IS NOT NULL
                             OR EXISTS (SELECT FROM pipeline.dag_runs r
                                         WHERE r.dag_id = dg.dag_id AND r.status IN ('queued', 'running')))
                        THEN 'not running'
                   WHEN dg.next_fire_at < now() - interval '1 minute' THEN 'lagging'
                   ELSE 'ok'
               END AS state) st
UNION ALL
-- Models: built by pipeline.run / build (in the session, or by runner
-- workers with start_run / start_build).
SELECT 'model',
       coalesce(rel.oid::regclass::text, m.name),
       rel.oid::regclass,
       m.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN l.ended_at WHEN 'ok' THEN m.built_at
                     WHEN 'stale' THEN coalesce(l.ended_at, m.built_at, m.created_at) END,
       ok.last_success,
       CASE WHEN l.status = 'error' THEN l.error END,
       CASE WHEN l.status = 'error' THEN l.sqlstate END,
       CASE
           WHEN m.materialized = 'ephemeral' THEN 'ephemeral: inlined into the models that use it'
           WHEN m.built_at IS NULL THEN 'never built'
           ELSE format('built %s ago', pipeline._status_age(m.built_at))
                || CASE WHEN l.status = 'success' AND l.rows IS NOT NULL AND m.materialized <> 'view'
                        THEN ', ' || pipeline._status_count(l.rows, 'row') ELSE '' END
       END,
       CASE st.state
           WHEN 'failing' THEN format('Its last run failed: fix the error, then SELECT * FROM pipeline.run(%L).', m.name)
           WHEN 'paused' THEN format('It is disabled: SELECT pipeline.alter_model(%L, enabled => true).', m.name)
           WHEN 'stale' THEN
               CASE WHEN m.built_at IS NULL THEN format('Build it: SELECT * FROM pipeline.run(%L).', m.name)
                    WHEN l.status = 'skipped' THEN format('Its last run was skipped (a model it depends on failed): SELECT * FROM pipeline.run(%L).', m.name)
                    WHEN up.name IS NOT NULL THEN format('%s was built after it: SELECT * FROM pipeline.run(%L).', up.name, m.name)
                    ELSE format('Not built for longer than pg_pipeline.stale_after: SELECT * FROM pipeline.run(%L), or schedule it.', m.name) END
       END
  FROM pipeline.models m
 CROSS JOIN env
  LEFT JOIN LATERAL (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = m.schema_name AND c.relname = m.relation_name) rel ON true
  LEFT JOIN LATERAL (SELECT r.status, r.ended_at, r.rows, r.error, r.sqlstate FROM pipeline.model_runs r
                      WHERE r.model_id = m.model_id AND r.status IN ('success', 'error', 'skipped')
                      ORDER BY r.ended_at DESC NULLS LAST, r.model_run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT max(r.ended_at) AS last_success FROM pipeline.model_runs r
                      WHERE r.model_id = m.model_id AND r.status = 'success') ok ON true
  LEFT JOIN LATERAL (SELECT u.name FROM pipeline.model_edges me
                       JOIN pipeline.models u ON u.model_id = me.upstream_model_id
                      WHERE me.model_id = m.model_id AND u.built_at > m.built_at
                        AND u.materialized NOT IN ('view', 'ephemeral')
                        AND m.materialized NOT IN ('view', 'ephemeral')
                      ORDER BY u.built_at DESC LIMIT 1) up ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN NOT m.enabled THEN 'paused'
                   WHEN l.status = 'error' THEN 'failing'
                   WHEN m.materialized = 'ephemeral' THEN 'ok'
                   WHEN m.built_at IS NULL OR l.status = 'skipped' OR up.name IS NOT NULL THEN 'stale'
                   WHEN m.materialized NOT IN ('view', 'seed') AND m.built_at < now() - env.stale_after THEN 'stale'
                   ELSE 'ok'
               END AS state) st
UNION ALL
-- Expectations: the latest result of pipeline.check() (or of a gated build).
SELECT 'expectation',
       e.name,
       e.relation,
       e.owner,
       st.state,
       CASE st.state WHEN 'failing' THEN coalesce(fs.since, r.started_at) WHEN 'stale' THEN r.started_at
                     ELSE r.started_at END,
       ok.last_success,
       CASE WHEN r.status = 'error' THEN r.error
            WHEN r.status IN ('fail', 'warn')
            THEN CASE WHEN r.total IS NULL THEN pipeline._status_count(r.failing, 'failing row')
                      ELSE format('%s of %s fail', r.failing, pipeline._status_count(r.total, 'row')) END END,
       CASE WHEN r.status = 'error' THEN r.sqlstate END,
       CASE WHEN r.status IS NULL THEN 'never checked'
            WHEN r.status = 'error' THEN format('check failed %s ago', pipeline._status_age(r.started_at))
            ELSE pipeline._status_count(r.failing, 'failing row')
                 || format(', checked %s ago', pipeline._status_age(r.started_at)) END,
       CASE st.state
           WHEN 'failing' THEN CASE WHEN r.status = 'error'
               THEN 'The check itself failed: see last_error (its SQL runs as the owner, with the search_path it was created with).'
               ELSE format('See the failing rows: SELECT * FROM pipeline.check_failures WHERE result_id = %s.', r.result_id) END
           WHEN 'warning' THEN format('Over its threshold (severity warn): SELECT * FROM pipeline.check_failures WHERE result_id = %s.', r.result_id)
           WHEN 'stale' THEN
               CASE WHEN r.status IS NULL THEN format('Check it: SELECT * FROM pipeline.check(%L).', e.relation::text)
                    WHEN mb.built_at > r.started_at THEN format('Its model was built after the check: SELECT * FROM pipeline.check(%L).', e.relation::text)
                    ELSE format('Not checked for longer than pg_pipeline.stale_after: SELECT * FROM pipeline.check(%L), or schedule it.', e.relation::text) END
       END
  FROM pipeline.expectations e
 CROSS JOIN env
  LEFT JOIN LATERAL (SELECT cr.* FROM pipeline.check_results cr
                      WHERE cr.expectation_id = e.expectation_id
                      ORDER BY cr.result_id DESC LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT max(cr.started_at) AS last_success FROM pipeline.check_results cr
                      WHERE cr.expectation_id = e.expectation_id AND cr.status = 'pass') ok ON true
  -- failing since the first result after the last one that did not fail
  LEFT JOIN LATERAL (SELECT min(cr.started_at) AS since FROM pipeline.check_results cr
                      WHERE cr.expectation_id = e.expectation_id
                        AND cr.result_id > coalesce((SELECT max(p.result_id) FROM pipeline.check_results p
                                                      WHERE p.expectation_id = e.expectation_id
                                                        AND p.status NOT IN ('fail', 'error')), 0)) fs ON true
  LEFT JOIN LATERAL (SELECT m.built_at FROM pipeline.models m
                       JOIN pg_catalog.pg_namespace n ON n.nspname = m.schema_name
                       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = m.relation_name
                      WHERE c.oid = e.relation) mb ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN r.status IN ('fail', 'error') THEN 'failing'
                   WHEN r.status IS NULL OR mb.built_at > r.started_at
                        OR r.started_at < now() - env.stale_after THEN 'stale'
                   WHEN r.status = 'warn' THEN 'warning'
                   ELSE 'ok'
               END AS state) st;
COMMENT ON VIEW pipeline.status IS
'every source, sink, window, job, DAG, model and expectation the caller sees, with its state (ok, lagging, failing, paused, stale, warning, starting, not running), since when, last success, last error, the figure that matters and a hint (docs/status.md)';
COMMENT ON COLUMN pipeline.status.kind IS 'source, sink, window, job, dag, model or expectation';
COMMENT ON COLUMN pipeline.status.name IS
'the name the API takes: a source''s, sink''s, job''s or DAG''s name; a window''s or model''s relation (regclass as text; a model not built: schema.name); an expectation''s name';
COMMENT ON COLUMN pipeline.status.relation IS
'the table it writes or checks: a source''s target, a window''s result, a model''s relation, an expectation''s relation, the window that publishes to a sink; NULL for jobs and DAGs';
COMMENT ON COLUMN pipeline.status.owner IS 'the role it runs as';
COMMENT ON COLUMN pipeline.status.state IS
'ok, lagging, failing, paused, stale, warning (an expectation of severity warn over its threshold), starting, not running (docs/status.md says what puts an object in each)';
COMMENT ON COLUMN pipeline.status.since IS 'since when it is in this state, as far as the catalogs tell (NULL: unknown)';
COMMENT ON COLUMN pipeline.status.last_success IS
'the last batch ingested or published, maintenance, successful run, passing check';
COMMENT ON COLUMN pipeline.status.last_error IS 'the latest error (or failing rows of an expectation)';
COMMENT ON COLUMN pipeline.status.last_sqlstate IS 'the SQLSTATE of last_error, where it is known';
COMMENT ON COLUMN pipeline.status.figure IS
'the number that matters for its kind, readable: a source''s lag, a sink''s waiting messages, a window''s newest event, the next run, when a model was built, failing rows';
COMMENT ON COLUMN pipeline.status.hint IS 'what to do about its state; NULL when ok';
GRANT SELECT ON pipeline.status TO PUBLIC;


-- kafka.sql: the warning without shared_preload_libraries


CREATE OR REPLACE FUNCTION pipeline.create_source(
    name          text,
    server        name,
    topic         text,
    target        regclass,
    format        text    DEFAULT 'json',
    on_error      text    DEFAULT 'dead_letter',
    properties    jsonb   DEFAULT '{}',
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT 1,
    batch_rows    integer DEFAULT 50000,
    batch_bytes   integer DEFAULT 16777216,
    batch_ms      integer DEFAULT 100,
    start_from    text    DEFAULT 'earliest',
    archive       boolean DEFAULT false,
    expect        jsonb   DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
BEGIN
    IF create_source.name IS NULL OR create_source.server IS NULL
       OR create_source.topic IS NULL OR create_source.target IS NULL THEN
        RAISE EXCEPTION 'name, server, topic and target of a source must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('source', create_source.name);
    PERFORM pipeline._check_source_numbers(create_source.on_error, create_source.consumers,
        create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms);
    col := pipeline._check_source(create_source.server, create_source.topic, create_source.target,
                                  create_source.format, create_source.target_column,
                                  create_source.properties, create_source.start_from);
    INSERT INTO pipeline.sources (name, server, topic, target, format, target_column, on_error,
                                  properties, consumers, batch_rows, batch_bytes, batch_ms, start_from,
                                  archive)
    VALUES (create_source.name, create_source.server, create_source.topic,
            create_source.target::text, create_source.format, col, create_source.on_error,
            coalesce(create_source.properties, '{}'), create_source.consumers,
            create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms,
            create_source.start_from, coalesce(create_source.archive, false));
    IF create_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(create_source.name, create_source.target,
                                              create_source.expect);
    END IF;
    PERFORM pipeline._warn_without_workers(format('source "%s" will not consume until it is', create_source.name));
END
$$;


CREATE OR REPLACE FUNCTION pipeline.resume_source(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('source', resume_source.name, false);
    PERFORM pipeline._warn_without_workers(format('source "%s" will not consume until it is', resume_source.name));
END
$$;


CREATE OR REPLACE FUNCTION pipeline.create_sink(
    name       text,
    server     name,
    topic      text,
    properties jsonb   DEFAULT '{}',
    batch_rows integer DEFAULT 1000)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF create_sink.name IS NULL OR create_sink.server IS NULL OR create_sink.topic IS NULL THEN
        RAISE EXCEPTION 'name, server and topic of a sink must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('sink', create_sink.name);
    IF batch_rows IS NULL OR batch_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch_rows must be between 1 and 100000, not %', batch_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pipeline._check_sink(create_sink.server, create_sink.topic, create_sink.properties);
    INSERT INTO pipeline.sinks (name, server, topic, properties, batch_rows)
    VALUES (create_sink.name, create_sink.server, create_sink.topic,
            coalesce(create_sink.properties, '{}'), create_sink.batch_rows);
    INSERT INTO pipeline.sink_progress (sink) VALUES (create_sink.name);
    PERFORM pipeline._warn_without_workers(format('sink "%s" will not publish until it is', create_sink.name));
END
$$;


CREATE OR REPLACE FUNCTION pipeline.resume_sink(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('sink', resume_sink.name, false);
    PERFORM pipeline._warn_without_workers(format('sink "%s" will not publish until it is', resume_sink.name));
END
$$;


CREATE OR REPLACE FUNCTION pipeline.publish(sink text, payload text, key text DEFAULT NULL, headers jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = publish.sink) THEN
        RAISE EXCEPTION 'sink "%" does not exist', publish.sink
            USING ERRCODE = 'undefined_object';
    END IF;
    IF jsonb_path_exists(publish.headers, '$.* ? (@.type() == "object" || @.type() == "array")') THEN
        RAISE EXCEPTION 'header values must be strings, numbers, booleans or null'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kafka headers are flat: turn nested values into text first.';
    END IF;
    INSERT INTO pipeline.outbox (sink, key, payload, headers)
    VALUES (publish.sink, publish.key, publish.payload, publish.headers)
    RETURNING id INTO new_id;
    PERFORM pipeline._warn_without_workers(format('messages for sink "%s" wait in the outbox until it is', publish.sink));
    RETURN new_id;
END
$$;


-- scheduler.sql: the next fires, the schedule checked at the call


CREATE FUNCTION pipeline.cron_fires(schedule text, after timestamptz, count integer DEFAULT 3,
                                    timezone text DEFAULT 'UTC')
RETURNS timestamptz[]
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fires timestamptz[] := '{}';
    t timestamptz := after;
BEGIN
    IF count NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'count must be between 1 and 1000, not %', count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. count LOOP
        t := pipeline.cron_next(schedule, t, timezone);
        fires := fires || t;
    END LOOP;
    RETURN fires;
END
$$;
COMMENT ON FUNCTION pipeline.cron_fires(text, timestamptz, integer, text) IS
'the next count (1 to 1000) fire times of a schedule strictly after a time, cron fields read in the time zone: check a cron expression before scheduling it';


CREATE FUNCTION pipeline._schedule_problem(schedule text, timezone text,
    OUT message text, OUT error_code text, OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline.cron_next(coalesce(nullif(schedule, ''), '@daily'), now(), coalesce(timezone, 'UTC'));
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, error_code = RETURNED_SQLSTATE,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    detail := nullif(detail, '');
    hint := coalesce(nullif(hint, ''), 'See docs/scheduler.md, "Schedules".');
END
$$;
COMMENT ON FUNCTION pipeline._schedule_problem(text, text) IS
'why a schedule or time zone is refused, with the SQLSTATE, detail (NULL: none) and hint to raise it with; NULL message when both are valid';


CREATE OR REPLACE FUNCTION pipeline.create_dag(
    name                text,
    schedule            text        DEFAULT NULL,
    timezone            text        DEFAULT 'UTC',
    catchup             boolean     DEFAULT false,
    max_active_runs     integer     DEFAULT 1,
    start_date          timestamptz DEFAULT NULL,
    end_date            timestamptz DEFAULT NULL,
    trigger_on          text[]      DEFAULT NULL,
    trigger_interval    interval    DEFAULT '0',
    history_retention   interval    DEFAULT '7 days',
    history_errors_only boolean     DEFAULT false,
    enabled             boolean     DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    id bigint;
    rels regclass[];
    rel regclass;
    problem record;
BEGIN
    IF create_dag.name IS NULL THEN
        RAISE EXCEPTION 'the name of a DAG must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    problem := pipeline._schedule_problem(create_dag.schedule, create_dag.timezone);
    IF problem.detail IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code,
                              DETAIL = problem.detail, HINT = problem.hint;
    ELSIF problem.message IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code, HINT = problem.hint;
    END IF;
    IF EXISTS (SELECT 1 FROM pipeline.dags d WHERE d.name = create_dag.name) THEN
        RAISE EXCEPTION 'DAG or job "%" already exists', create_dag.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Drop it with pipeline.drop_dag() first, or change it with pipeline.alter_dag().';
    END IF;
    IF create_dag.max_active_runs IS NULL OR create_dag.max_active_runs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_active_runs must be between 1 and 1000, not %', create_dag.max_active_runs
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_dag.trigger_interval < '0' OR create_dag.history_retention < '0' THEN
        RAISE EXCEPTION 'trigger_interval and history_retention must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_dag.end_date < coalesce(create_dag.start_date, now()) THEN
        RAISE EXCEPTION 'end_date % is before start_date', create_dag.end_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_dag.trigger_on IS NOT NULL THEN
        rels := pipeline._watched_tables(create_dag.trigger_on);
    END IF;
    BEGIN
        INSERT INTO pipeline.dags (name, schedule, timezone, catchup, max_active_runs, start_date,
                                   end_date, trigger_on, trigger_interval, history_retention,
                                   history_errors_only, enabled)
        VALUES (create_dag.name, create_dag.schedule, coalesce(create_dag.timezone, 'UTC'),
                coalesce(create_dag.catchup, false), create_dag.max_active_runs,
                coalesce(create_dag.start_date, now()), create_dag.end_date, rels,
                coalesce(create_dag.trigger_interval, '0'),
                coalesce(create_dag.history_retention, '7 days'),
                coalesce(create_dag.history_errors_only, false), coalesce(create_dag.enabled, true))
        RETURNING dag_id INTO id;
    EXCEPTION WHEN unique_violation THEN
        -- a DAG of another role, which row-level security hides
        RAISE EXCEPTION 'DAG or job "%" already exists', create_dag.name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'Names of DAGs and jobs are unique in a database, across roles.',
                  HINT = 'Choose another name.';
    END;
    FOREACH rel IN ARRAY coalesce(rels, '{}') LOOP
        PERFORM pipeline._watch(rel);
    END LOOP;
    -- (schedule() has said so already for a job: once per transaction)
    IF nullif(create_dag.schedule, '') IS NOT NULL OR create_dag.trigger_on IS NOT NULL THEN
        PERFORM pipeline._warn_without_workers(format('DAG "%s" will not run until it is', create_dag.name));
    END IF;
    RETURN id;
END
$$;


CREATE OR REPLACE FUNCTION pipeline.alter_dag(
    name                text,
    schedule            text        DEFAULT NULL,
    timezone            text        DEFAULT NULL,
    catchup             boolean     DEFAULT NULL,
    max_active_runs     integer     DEFAULT NULL,
    start_date          timestamptz DEFAULT NULL,
    end_date            timestamptz DEFAULT NULL,
    trigger_interval    interval    DEFAULT NULL,
    history_retention   interval    DEFAULT NULL,
    history_errors_only boolean     DEFAULT NULL,
    enabled             boolean     DEFAULT NULL,
    trigger_on          text[]      DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(alter_dag.name);
    rels regclass[] := d.trigger_on;
    rel regclass;
    problem record;
BEGIN
    problem := pipeline._schedule_problem(coalesce(alter_dag.schedule, d.schedule), coalesce(alter_dag.timezone, d.timezone));
    IF problem.detail IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code,
                              DETAIL = problem.detail, HINT = problem.hint;
    ELSIF problem.message IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code, HINT = problem.hint;
    END IF;
    IF alter_dag.trigger_on IS NOT NULL THEN
        rels := CASE WHEN cardinality(alter_dag.trigger_on) = 0 THEN NULL
                     ELSE pipeline._watched_tables(alter_dag.trigger_on) END;
    END IF;
    IF alter_dag.max_active_runs IS NOT NULL AND alter_dag.max_active_runs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_active_runs must be between 1 and 1000, not %', alter_dag.max_active_runs
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE pipeline.dags SET
        schedule            = coalesce(alter_dag.schedule, d.schedule),
        timezone            = coalesce(alter_dag.timezone, d.timezone),
        catchup             = coalesce(alter_dag.catchup, d.catchup),
        max_active_runs     = coalesce(alter_dag.max_active_runs, d.max_active_runs),
        start_date          = coalesce(alter_dag.start_date, d.start_date),
        end_date            = coalesce(alter_dag.end_date, d.end_date),
        trigger_interval    = coalesce(alter_dag.trigger_interval, d.trigger_interval),
        history_retention   = coalesce(alter_dag.history_retention, d.history_retention),
        history_errors_only = coalesce(alter_dag.history_errors_only, d.history_errors_only),
        enabled             = coalesce(alter_dag.enabled, d.enabled),
        trigger_on          = rels,
        data_seen           = CASE WHEN rels IS DISTINCT FROM d.trigger_on THEN NULL ELSE d.data_seen END
    WHERE dag_id = d.dag_id;
    IF rels IS DISTINCT FROM d.trigger_on THEN
        FOREACH rel IN ARRAY coalesce(rels, '{}') LOOP
            PERFORM pipeline._watch(rel);
        END LOOP;
        PERFORM pipeline._unwatch(d.trigger_on);
    END IF;
END
$$;


CREATE OR REPLACE FUNCTION pipeline.schedule(
    name                text,
    schedule            text,
    command             text,
    timezone            text     DEFAULT 'UTC',
    retries             integer  DEFAULT 0,
    retry_delay         interval DEFAULT '1 minute',
    timeout             interval DEFAULT NULL,
    history_retention   interval DEFAULT '7 days',
    history_errors_only boolean  DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags;
    id bigint;
    problem record;
BEGIN
    problem := pipeline._schedule_problem(schedule.schedule, schedule.timezone);
    IF problem.detail IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code,
                              DETAIL = problem.detail, HINT = problem.hint;
    ELSIF problem.message IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code, HINT = problem.hint;
    END IF;
    PERFORM pipeline._warn_without_workers(format('job "%s" will not run until it is', schedule.name));
    SELECT * INTO d FROM pipeline.dags WHERE dags.name = schedule.name FOR UPDATE;
    IF FOUND AND NOT d.is_job THEN
        RAISE EXCEPTION '"%" is a DAG, not a job', schedule.name
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Change a DAG with pipeline.alter_dag() and its tasks with pipeline.add_task().';
    ELSIF FOUND THEN
        -- as in pg_cron, scheduling an existing job's name replaces it
        PERFORM pipeline._check_sql(schedule.command, 'command');
        UPDATE pipeline.dags SET schedule = schedule.schedule, timezone = coalesce(schedule.timezone, 'UTC'),
               history_retention = coalesce(schedule.history_retention, '7 days'),
               history_errors_only = coalesce(schedule.history_errors_only, false)
         WHERE dag_id = d.dag_id;
        UPDATE pipeline.tasks SET command = schedule.command, retries = coalesce(schedule.retries, 0),
               retry_delay = coalesce(schedule.retry_delay, '1 minute'), timeout = schedule.timeout
         WHERE dag_id = d.dag_id;
        RETURN d.dag_id;
    END IF;
    IF schedule.schedule IS NULL OR schedule.command IS NULL THEN
        RAISE EXCEPTION 'a job needs a schedule and a command' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := pipeline.create_dag(schedule.name, schedule.schedule, schedule.timezone,
                              history_retention => schedule.history_retention,
                              history_errors_only => schedule.history_errors_only);
    UPDATE pipeline.dags SET is_job = true WHERE dag_id = id;
    PERFORM pipeline.add_task(schedule.name, schedule.name, schedule.command,
                              retries => schedule.retries, retry_delay => schedule.retry_delay,
                              timeout => schedule.timeout);
    RETURN id;
END
$$;


CREATE OR REPLACE FUNCTION pipeline.alter_job(
    name        text,
    schedule    text     DEFAULT NULL,
    command     text     DEFAULT NULL,
    timezone    text     DEFAULT NULL,
    enabled     boolean  DEFAULT NULL,
    retries     integer  DEFAULT NULL,
    retry_delay interval DEFAULT NULL,
    timeout     interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(alter_job.name);
    problem record;
BEGIN
    IF NOT d.is_job THEN
        RAISE EXCEPTION '"%" is a DAG, not a job', alter_job.name
            USING ERRCODE = 'wrong_object_type', HINT = 'Use pipeline.alter_dag().';
    END IF;
    IF alter_job.schedule = '' THEN
        RAISE EXCEPTION 'a job needs a schedule' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Disable it with pipeline.disable(), or make a DAG.';
    END IF;
    problem := pipeline._schedule_problem(coalesce(alter_job.schedule, d.schedule), coalesce(alter_job.timezone, d.timezone));
    IF problem.detail IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code,
                              DETAIL = problem.detail, HINT = problem.hint;
    ELSIF problem.message IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem.message, ERRCODE = problem.error_code, HINT = problem.hint;
    END IF;
    PERFORM pipeline.alter_dag(alter_job.name, schedule => alter_job.schedule,
                               timezone => alter_job.timezone, enabled => alter_job.enabled);
    PERFORM pipeline.alter_task(alter_job.name, alter_job.name, command => alter_job.command,
                                retries => alter_job.retries, retry_delay => alter_job.retry_delay,
                                timeout => alter_job.timeout);
END
$$;


CREATE OR REPLACE FUNCTION pipeline.run_now(name text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(run_now.name);
    i record;
    id bigint;
BEGIN
    i := pipeline._latest_interval(d);
    INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
    VALUES (d.dag_id, d.name, 'manual', i.logical_date, i.data_interval_end)
    RETURNING run_id INTO id;
    PERFORM pipeline._warn_without_workers(format('run %s of "%s" stays queued until it is', id, d.name));
    RETURN id;
END
$$;


CREATE OR REPLACE FUNCTION pipeline.backfill(name text, from_date timestamptz, to_date timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(backfill.name);
    f timestamptz;
    nxt timestamptz;
    made integer := 0;
    seen integer := 0;
    queued boolean;
BEGIN
    IF d.schedule IS NULL THEN
        RAISE EXCEPTION 'DAG "%" has no schedule, so no data intervals to backfill', d.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF from_date IS NULL OR to_date IS NULL OR from_date > to_date THEN
        RAISE EXCEPTION 'backfill needs from_date <= to_date' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    f := pipeline.cron_next(d.schedule, from_date - interval '1 microsecond', d.timezone);
    WHILE f <= to_date AND pipeline.cron_next(d.schedule, f, d.timezone) <= now() LOOP
        seen := seen + 1;
        IF seen > 100000 THEN
            RAISE EXCEPTION 'backfill of more than 100000 runs refused' USING ERRCODE = 'program_limit_exceeded',
                HINT = 'Backfill a shorter range at a time.';
        END IF;
        nxt := pipeline.cron_next(d.schedule, f, d.timezone);
        INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
        VALUES (d.dag_id, d.name, 'backfill', f, nxt)
        ON CONFLICT DO NOTHING;
        queued := FOUND;
        IF NOT queued THEN
            queued := coalesce((SELECT pipeline._run_again(r.run_id) FROM pipeline.dag_runs r
                                 WHERE r.dag_id = d.dag_id AND r.logical_date = f
                                   AND r.run_type IN ('scheduled', 'backfill')), false);
        END IF;
        IF queued THEN
            made := made + 1;
        END IF;
        f := nxt;
    END LOOP;
    IF made > 0 THEN
        PERFORM pipeline._warn_without_workers(format('the %s runs of "%s" stay queued until it is', made, d.name));
    END IF;
    RETURN made;
END
$$;


CREATE OR REPLACE FUNCTION pipeline.clear(name text, run_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(clear.name);
    r bigint := clear.run_id;
    n integer;
BEGIN
    IF r IS NULL THEN
        SELECT dr.run_id INTO r FROM pipeline.dag_runs dr
         WHERE dr.dag_id = d.dag_id AND dr.status = 'failed'
         ORDER BY dr.logical_date DESC, dr.run_id DESC LIMIT 1;
        IF r IS NULL THEN
            RAISE EXCEPTION 'DAG "%" has no failed run to clear', d.name USING ERRCODE = 'no_data_found';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM pipeline.dag_runs dr WHERE dr.run_id = r AND dr.dag_id = d.dag_id) THEN
        RAISE EXCEPTION 'DAG "%" has no run %', d.name, r USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT 1 FROM pipeline.dag_runs dr WHERE dr.run_id = r AND dr.status IN ('queued', 'running')) THEN
        RAISE EXCEPTION 'run % of DAG "%" is still %', r, d.name,
            (SELECT status FROM pipeline.dag_runs dr WHERE dr.run_id = r)
            USING ERRCODE = 'object_in_use', HINT = 'Clear a run once it has finished.';
    END IF;
    IF pipeline._run_again(r) THEN
        RETURN (SELECT count(*) FROM pipeline.tasks t WHERE t.dag_id = d.dag_id);
    END IF;
    INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, attempt, retry, status, logical_date)
    SELECT l.run_id, l.dag_id, l.dag, l.task, l.attempt + 1, 0, 'waiting', l.logical_date
      FROM (SELECT DISTINCT ON (tr.task) tr.* FROM pipeline.task_runs tr
             WHERE tr.run_id = r ORDER BY tr.task, tr.attempt DESC) l
     WHERE l.status IN ('failed', 'upstream_failed');
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE pipeline.dag_runs dr SET status = 'running', ended_at = NULL WHERE dr.run_id = r AND n > 0;
    IF n > 0 THEN
        PERFORM pipeline._warn_without_workers(format('the tasks of run %s of "%s" will not run again until it is', r, d.name));
    END IF;
    RETURN n;
END
$$;


CREATE OR REPLACE VIEW pipeline.jobs WITH (security_invoker = true) AS
SELECT d.name, d.schedule, d.timezone, t.command, d.enabled, d.owner,
       d.next_fire_at AS next_run_at,
       l.status AS last_status, l.started_at AS last_started_at,
       l.duration AS last_duration, l.error AS last_error,
       l.sqlstate AS last_sqlstate, l.error_detail AS last_error_detail,
       l.error_hint AS last_error_hint, l.error_context AS last_error_context,
       (SELECT array_agg(f ORDER BY f)
          FROM unnest(CASE WHEN d.next_fire_at BETWEEN '1900-01-01' AND '9999-01-01'
                           THEN pipeline.cron_fires(d.schedule, d.next_fire_at - interval '1 microsecond', 3, d.timezone)
                      END) f
         WHERE d.end_date IS NULL OR f <= d.end_date) AS next_fires
  FROM pipeline.dags d
  JOIN pipeline.tasks t ON t.dag_id = d.dag_id
  LEFT JOIN LATERAL (SELECT tr.status, tr.started_at, tr.duration, tr.error, tr.sqlstate,
                            tr.error_detail, tr.error_hint, tr.error_context
                       FROM pipeline.task_runs tr
                      WHERE tr.dag_id = d.dag_id AND tr.started_at IS NOT NULL
                      ORDER BY tr.started_at DESC LIMIT 1) l ON true
 WHERE d.is_job;
COMMENT ON COLUMN pipeline.jobs.next_fires IS
'the next 3 fire times (NULL when disabled or without a next run): check that a cron expression fires when you meant (six fields: the first is seconds)';

-- ==== lineage (helper L) ====
--
-- What this section adds (control/sql/lineage.sql): the public functions
-- lineage_dot, lineage_mermaid, lineage_html (C, src/lineage/) and the
-- internal _lineage_task_calls (C), _lineage_resolve, _lineage_relation_node,
-- _lineage_edges, _lineage_nodes, _lineage_subgraph, _lineage_graph.

-- The pipeline.* calls of a task's command, from PostgreSQL's raw parse
-- (nothing is resolved or run): function name and its first argument
-- when that is a string constant.
CREATE FUNCTION pipeline._lineage_task_calls(command text,
    OUT function text, OUT argument text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_lineage_task_calls'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._lineage_task_calls(text) IS
'lineage: the calls of pipeline functions in a task''s SQL (raw parse only) with their first argument when it is a string constant';

-- A relation named in a task's SQL, without the task owner's search_path:
-- a qualified name as it stands; an unqualified one only when exactly one
-- relation of the database has that name (then every search_path that
-- finds it finds that one).
CREATE FUNCTION pipeline._lineage_resolve(name text)
RETURNS oid
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    parts := parse_ident(name);
    IF cardinality(parts) = 2 THEN
        RETURN to_regclass(quote_ident(parts[1]) || '.' || quote_ident(parts[2]));
    ELSIF cardinality(parts) = 1 THEN
        RETURN (SELECT min(c.oid) FROM pg_class c
                 WHERE c.relname = parts[1] AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                HAVING count(*) = 1);
    END IF;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;        -- not a name (parse_ident refused it)
END
$$;
COMMENT ON FUNCTION pipeline._lineage_resolve(text) IS
'lineage: the relation a task''s SQL names: a qualified name, or an unqualified one only when a single relation has it';

-- The node of a relation: its window, its model, or the relation itself.
CREATE FUNCTION pipeline._lineage_relation_node(rel oid)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT 'window:' || w.id FROM pipeline.windows w WHERE w.result::oid = rel LIMIT 1),
        (SELECT 'model:' || m.model_id FROM pipeline.models m
           JOIN pg_namespace n ON n.nspname = m.schema_name
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = m.relation_name
          WHERE c.oid = rel LIMIT 1),
        'relation:' || rel)
$$;
COMMENT ON FUNCTION pipeline._lineage_relation_node(oid) IS
'lineage: the node id of a relation: window:<id> for a window''s result, model:<id> for a model''s relation, else relation:<oid>';

-- Every edge the caller may see, upstream -> downstream, with a label.
CREATE FUNCTION pipeline._lineage_edges(OUT upstream text, OUT downstream text, OUT label text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    call record;
    rel oid;
BEGIN
    -- Kafka: topic -> source -> target table; window -> sink -> topic
    RETURN QUERY
    SELECT 'topic:' || jsonb_build_array(s.server, s.topic)::text, 'source:' || s.name, NULL::text
      FROM pipeline.sources s;
    RETURN QUERY
    SELECT 'source:' || s.name, pipeline._lineage_relation_node(c.oid), NULL::text
      FROM pipeline.sources s JOIN pg_class c ON c.oid = s.target_oid;
    RETURN QUERY
    SELECT 'sink:' || k.name, 'topic:' || jsonb_build_array(k.server, k.topic)::text, NULL::text
      FROM pipeline.sinks k;
    -- windows: source table -> window -> its sink
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(w.source), 'window:' || w.id, NULL::text
      FROM pipeline.windows w;
    RETURN QUERY
    SELECT 'window:' || w.id, 'sink:' || w.sink, 'closed windows'
      FROM pipeline.windows w WHERE w.sink IS NOT NULL;
    -- models: what each reads (pipeline.lineage, from PostgreSQL's parse);
    -- a relation read through a view is drawn as read by that view
    RETURN QUERY
    SELECT coalesce('model:' || l.upstream_model_id, pipeline._lineage_relation_node(l.upstream_oid)),
           CASE WHEN l.direct THEN 'model:' || l.model_id
                ELSE pipeline._lineage_relation_node(to_regclass(l.via)) END,
           NULL::text
      FROM pipeline.lineage l
     WHERE (l.upstream_model_id IS NOT NULL OR l.upstream_oid IS NOT NULL)
       AND (l.direct OR to_regclass(l.via) IS NOT NULL);
    -- expectations: the relation checked (and a relationship's table)
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(e.relation), 'expectation:' || e.expectation_id, NULL::text
      FROM pipeline.expectations e;
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(e.to_relation), 'expectation:' || e.expectation_id, 'to'
      FROM pipeline.expectations e WHERE e.to_relation IS NOT NULL;
    -- DAGs: the tables a data-aware DAG watches ...
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(w.rel), 'dag:' || d.dag_id, 'triggers'
      FROM pipeline.dags d CROSS JOIN LATERAL unnest(d.trigger_on) AS w(rel)
     WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = w.rel);
    -- ... and what its tasks' SQL runs: pipeline.run/build (the models the
    -- selector means, of the DAG's owner), check, rebuild_window,
    -- flush_window, snapshot, load_seed, publish.  A command that does not
    -- parse, or a selector that means nothing, draws no edge.
    FOR t IN SELECT d.dag_id, d.owner_oid, k.name, k.command
               FROM pipeline.dags d JOIN pipeline.tasks k ON k.dag_id = d.dag_id
              WHERE k.command IS NOT NULL
              ORDER BY d.dag_id, k.name LOOP
        BEGIN
            FOR call IN SELECT * FROM pipeline._lineage_task_calls(t.command) LOOP
                IF call.function IN ('run', 'build') THEN
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'model:' || m.model_id, t.name || ': ' || call.function
                      FROM pipeline.select_models(coalesce(call.argument, '')) AS s(model)
                      JOIN pipeline.models m ON m.name = s.model
                     WHERE m.owner_oid = t.owner_oid;
                ELSIF call.function IN ('check', 'rebuild_window', 'flush_window') THEN
                    rel := pipeline._lineage_resolve(call.argument);
                    IF rel IS NOT NULL THEN
                        RETURN QUERY SELECT 'dag:' || t.dag_id, pipeline._lineage_relation_node(rel),
                                            t.name || ': ' || call.function;
                    END IF;
                ELSIF call.function IN ('snapshot', 'load_seed') THEN
                    rel := pipeline._lineage_resolve(call.argument);
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'model:' || m.model_id, t.name || ': ' || call.function
                      FROM pipeline.models m
                     WHERE m.owner_oid = t.owner_oid
                       AND (m.name = call.argument OR pipeline._lineage_relation_node(rel) = 'model:' || m.model_id);
                ELSIF call.function = 'publish' THEN
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'sink:' || k.name, t.name || ': publish'
                      FROM pipeline.sinks k WHERE k.name = call.argument AND k.owner_oid = t.owner_oid;
                END IF;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            NULL;       -- a command or selector that does not resolve draws nothing
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._lineage_edges() IS
'lineage: every edge of the graph the caller may see (row-level security applies), upstream node id, downstream node id, label';

-- The objects of the graph the caller may see, each as a node: sources,
-- windows, models, expectations, sinks, DAGs and jobs.  Relations and
-- topics become nodes when an edge names them (_lineage_graph).
CREATE FUNCTION pipeline._lineage_nodes(OUT node text, OUT kind text, OUT name text,
                                        OUT detail text, OUT relation regclass)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'source:' || s.name, 'source', s.name, 'source', c.oid::regclass
      FROM pipeline.sources s LEFT JOIN pg_class c ON c.oid = s.target_oid
    UNION ALL
    SELECT 'window:' || w.id, 'window', w.result::text, 'window', w.result
      FROM pipeline.windows w
    UNION ALL
    SELECT 'model:' || m.model_id, 'model', coalesce(c.oid::regclass::text, m.name),
           'model, ' || m.materialized, c.oid::regclass
      FROM pipeline.models m
      LEFT JOIN pg_namespace n ON n.nspname = m.schema_name
      LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = m.relation_name
    UNION ALL
    SELECT 'expectation:' || e.expectation_id, 'expectation', e.name, 'expectation, ' || e.kind, e.relation
      FROM pipeline.expectations e
    UNION ALL
    SELECT 'sink:' || k.name, 'sink', k.name, 'sink', NULL::regclass
      FROM pipeline.sinks k
    UNION ALL
    SELECT 'dag:' || d.dag_id, CASE WHEN d.is_job THEN 'job' ELSE 'dag' END, d.name,
           CASE WHEN d.is_job THEN 'job' ELSE 'DAG' END, NULL::regclass
      FROM pipeline.dags d
$$;
COMMENT ON FUNCTION pipeline._lineage_nodes() IS
'lineage: the caller''s sources, windows, models, expectations, sinks, DAGs and jobs as graph nodes (node id, kind, name, label detail, relation)';

-- The graph, or the part of it up- and downstream of one relation: one
-- row per node (numbered from 1 in a stable order) with its incoming
-- edges.  A DAG or job is drawn only when an edge reaches it.
CREATE FUNCTION pipeline._lineage_subgraph(relation regclass,
    OUT node integer, OUT kind text, OUT name text, OUT detail text, OUT object regclass,
    OUT upstream integer[], OUT labels text[])
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE
edges AS (
    SELECT e.upstream, e.downstream,
           string_agg(DISTINCT e.label, ', ' ORDER BY e.label) AS label
      FROM pipeline._lineage_edges() e
     WHERE e.upstream IS NOT NULL AND e.downstream IS NOT NULL
     GROUP BY e.upstream, e.downstream
),
objects AS (SELECT * FROM pipeline._lineage_nodes()),
-- relations and topics named by an edge, and every object but idle DAGs
ids AS (
    SELECT o.node FROM objects o WHERE o.kind NOT IN ('dag', 'job')
    UNION SELECT upstream FROM edges
    UNION SELECT downstream FROM edges
),
start AS (SELECT pipeline._lineage_relation_node(relation) AS node WHERE relation IS NOT NULL),
up AS (SELECT s.node FROM start s
       UNION SELECT e.upstream FROM edges e JOIN up ON e.downstream = up.node),
down AS (SELECT s.node FROM start s
         UNION SELECT e.downstream FROM edges e JOIN down ON e.upstream = down.node),
kept AS (
    SELECT i.node FROM ids i WHERE relation IS NULL
    UNION SELECT node FROM up UNION SELECT node FROM down
),
nodes AS (
    SELECT k.node,
           coalesce(o.kind, CASE WHEN k.node LIKE 'topic:%' THEN 'topic'
                                 WHEN c.relkind IN ('v') THEN 'view'
                                 WHEN c.relkind IN ('m') THEN 'materialized view'
                                 ELSE 'table' END) AS kind,
           coalesce(o.name, c.oid::regclass::text, k.node) AS name,
           coalesce(o.detail, CASE WHEN k.node LIKE 'topic:%' THEN 'topic on ' || ((substr(k.node, 7)::jsonb) ->> 0)
                                   WHEN c.relkind = 'v' THEN 'view'
                                   WHEN c.relkind = 'm' THEN 'materialized view'
                                   ELSE 'table' END) AS detail,
           coalesce(o.relation, c.oid::regclass) AS object
      FROM kept k
      LEFT JOIN objects o ON o.node = k.node
      LEFT JOIN pg_class c
             ON c.oid = CASE WHEN k.node LIKE 'relation:%' THEN substr(k.node, 10)::oid END
     WHERE o.node IS NOT NULL OR k.node LIKE 'topic:%' OR c.oid IS NOT NULL
),
named AS (
    SELECT n.*,
           CASE WHEN n.kind = 'topic' THEN (substr(n.node, 7)::jsonb) ->> 1 ELSE n.name END AS shown,
           array_position(ARRAY['topic', 'source', 'table', 'view', 'materialized view', 'window',
                                'model', 'expectation', 'sink', 'job', 'dag'], n.kind) AS rank
      FROM nodes n
),
numbered AS (
    SELECT n.*, row_number() OVER (ORDER BY n.rank, n.shown COLLATE "C", n.node COLLATE "C")::integer AS number
      FROM named n
)
SELECT n.number, n.kind, n.shown, n.detail, n.object,
       coalesce((SELECT array_agg(u.number ORDER BY u.number)
                   FROM edges e JOIN numbered u ON u.node = e.upstream
                  WHERE e.downstream = n.node), '{}'),
       coalesce((SELECT array_agg(e.label ORDER BY u.number)
                   FROM edges e JOIN numbered u ON u.node = e.upstream
                  WHERE e.downstream = n.node), '{}')
  FROM numbered n
 ORDER BY n.number
$$;
COMMENT ON FUNCTION pipeline._lineage_subgraph(regclass) IS
'lineage: the graph (all of it, or what is up- and downstream of a relation) as numbered nodes, each with its upstream nodes and edge labels';

-- The graph with each object's state from pipeline.status, joined on
-- (kind, name) and, for an expectation (whose name is unique per relation
-- only), its relation.  Without the view every state is NULL.
CREATE FUNCTION pipeline._lineage_graph(relation regclass,
    OUT node integer, OUT kind text, OUT name text, OUT detail text, OUT state text,
    OUT upstream integer[], OUT labels text[])
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('pipeline.status') IS NULL THEN
        RETURN QUERY SELECT g.node, g.kind, g.name, g.detail, NULL::text, g.upstream, g.labels
                       FROM pipeline._lineage_subgraph(relation) g ORDER BY g.node;
    ELSE
        RETURN QUERY EXECUTE
            'SELECT g.node, g.kind, g.name, g.detail,
                    (SELECT s.state::text FROM pipeline.status s
                      WHERE s.kind OPERATOR(pg_catalog.=) g.kind
                        AND s.name OPERATOR(pg_catalog.=) g.name
                        AND (g.kind OPERATOR(pg_catalog.<>) ''expectation''
                             OR s.relation OPERATOR(pg_catalog.=) g.object)
                      LIMIT 1),
                    g.upstream, g.labels
               FROM pipeline._lineage_subgraph($1) g ORDER BY g.node'
            USING relation;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._lineage_graph(regclass) IS
'lineage: _lineage_subgraph with each node''s state from pipeline.status (NULL where the view or a row is missing)';

CREATE FUNCTION pipeline.lineage_dot(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_dot'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_dot(regclass) IS
'lineage: the graph of topics, sources, tables, windows, models, expectations, sinks and DAGs the caller sees, as Graphviz DOT (with a relation: only what is up- and downstream of it)';

CREATE FUNCTION pipeline.lineage_mermaid(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_mermaid'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_mermaid(regclass) IS
'lineage: the graph of lineage_dot as a Mermaid flowchart (for Markdown pages)';

CREATE FUNCTION pipeline.lineage_html(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_html'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_html(regclass) IS
'lineage: the graph of lineage_dot as a self-contained HTML page: inline SVG laid out by Graphviz, nodes coloured by their state in pipeline.status, no script, no network fetch';

-- ==== dump and restore (helper P) ====
-- No SQL change: the fixes are in the library (a restore's window triggers
-- record the window's dependencies; a restoring session pauses its
-- database's workers until it ends; docs/backup.md).

-- ==== reference and comments (helper D) ====
--
-- A COMMENT on every column of the catalogs, views and the composite type
-- window_spec that had none (docs/reference.md shows them; t/090_reference.pl
-- fails when one is missing).

COMMENT ON COLUMN pipeline.workers.kind IS
'launcher, coordinator, maintainer, consumer (a source), sink, runner (a DAG task) or model runner';
COMMENT ON COLUMN pipeline.workers.works_on IS
'what the worker works on: a source or sink name for consumers and sinks, a task or model run for runners; NULL when it works on the whole database';
COMMENT ON COLUMN pipeline.workers.pid IS 'the worker''s process id (NULL while it is not running)';
COMMENT ON COLUMN pipeline.workers.database IS 'the database of the worker (NULL for the launcher)';
COMMENT ON COLUMN pipeline.workers.role IS 'the role the worker runs as';
COMMENT ON COLUMN pipeline.workers.state IS
'starting, running, restarting (waiting before a restart after a failure) or stopped';
COMMENT ON COLUMN pipeline.workers.started_at IS 'when the worker last started';
COMMENT ON COLUMN pipeline.workers.restarts IS
'how many times the slot''s worker was restarted after a failure';
COMMENT ON COLUMN pipeline.workers.last_error IS
'the last error of the worker (it stays after recovery, until a newer one)';
COMMENT ON COLUMN pipeline.workers.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.workers.items IS 'messages or rows handled since the worker started';
COMMENT ON COLUMN pipeline.workers.bytes IS 'bytes handled since the worker started';
COMMENT ON COLUMN pipeline.workers.items_per_sec IS 'moving average of items per second over about 5 s';
COMMENT ON COLUMN pipeline.workers.bytes_per_sec IS 'moving average of bytes per second over about 5 s';
COMMENT ON COLUMN pipeline.workers.last_batch_at IS 'when the worker last committed a batch';
COMMENT ON COLUMN pipeline.sources.name IS
'the source''s name: a letter or _, then up to 62 letters, digits, _, . or -; unique in the database';
COMMENT ON COLUMN pipeline.sources.owner IS
'the role the source''s consumers run as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.sources.server IS
'the pipeline_kafka foreign server (brokers and connection options)';
COMMENT ON COLUMN pipeline.sources.topic IS
'a topic, a comma-separated list of topics, or a regular expression starting with ^';
COMMENT ON COLUMN pipeline.sources.target IS
'the table the messages go into, schema-qualified (its name when the source was written)';
COMMENT ON COLUMN pipeline.sources.format IS 'json, jsonb, csv, text or bytea: how a message becomes a row';
COMMENT ON COLUMN pipeline.sources.target_column IS
'jsonb, text and bytea: the column the message goes into (NULL: the first column not starting with _)';
COMMENT ON COLUMN pipeline.sources.on_error IS
'dead_letter, skip or stop: what a message that cannot be loaded does';
COMMENT ON COLUMN pipeline.sources.properties IS 'librdkafka properties of this source (a JSON object)';
COMMENT ON COLUMN pipeline.sources.consumers IS 'how many workers share the partitions (1 to 64)';
COMMENT ON COLUMN pipeline.sources.batch_rows IS 'most messages per batch (1 to 1,000,000)';
COMMENT ON COLUMN pipeline.sources.batch_bytes IS 'most payload bytes per batch (1,024 to 268,435,456)';
COMMENT ON COLUMN pipeline.sources.batch_ms IS
'how long a batch stays open after its first message, in milliseconds';
COMMENT ON COLUMN pipeline.sources.start_from IS
'where the partitions of the first assignment start: earliest, latest or a timestamp';
COMMENT ON COLUMN pipeline.sources.archive IS
'whether every consumed batch is also kept in pipeline.source_archive';
COMMENT ON COLUMN pipeline.sources.paused IS 'set by pause_source: the consumers are stopped';
COMMENT ON COLUMN pipeline.sources.error IS
'why the source stopped (on_error stop, or a batch the target refused); NULL while it runs';
COMMENT ON COLUMN pipeline.sources.config_version IS
'incremented by every change of the definition, so that the consumers restart with it';
COMMENT ON COLUMN pipeline.sources.created_at IS 'when the source was created';
COMMENT ON COLUMN pipeline.source_offsets.source IS 'the source';
COMMENT ON COLUMN pipeline.source_offsets.topic IS 'the topic of the partition';
COMMENT ON COLUMN pipeline.source_offsets.partition IS 'the partition';
COMMENT ON COLUMN pipeline.source_offsets.next_offset IS
'the offset of the next message to ingest; written in the same transaction as the rows';
COMMENT ON COLUMN pipeline.source_offsets.high_watermark IS
'the partition''s end as librdkafka knew it at the last batch (NULL if unknown)';
COMMENT ON COLUMN pipeline.source_offsets.updated_at IS 'time of the last batch (or reset_offsets)';
COMMENT ON COLUMN pipeline.dead_letters.id IS 'the dead letter''s id (replay_dead_letters takes these)';
COMMENT ON COLUMN pipeline.dead_letters.source IS 'the source that could not load the message';
COMMENT ON COLUMN pipeline.dead_letters.topic IS 'the message''s topic';
COMMENT ON COLUMN pipeline.dead_letters.partition IS 'the message''s partition';
COMMENT ON COLUMN pipeline.dead_letters."offset" IS 'the message''s offset';
COMMENT ON COLUMN pipeline.dead_letters.key IS
'the message''s key, as Kafka gave it (NULL when there is none)';
COMMENT ON COLUMN pipeline.dead_letters.payload IS
'the message''s value, zstd-compressed (pipeline.zstd_decompress; as text in pipeline.dead_letter_messages)';
COMMENT ON COLUMN pipeline.dead_letters.payload_size IS 'the size of the value before compression, in bytes';
COMMENT ON COLUMN pipeline.dead_letters.message_time IS
'the message''s Kafka timestamp (NULL when unavailable)';
COMMENT ON COLUMN pipeline.dead_letters.headers IS 'the message''s headers as a JSON object (NULL when none)';
COMMENT ON COLUMN pipeline.dead_letters.error IS 'why the message could not be loaded';
COMMENT ON COLUMN pipeline.dead_letters.sqlstate IS 'the SQLSTATE of that error';
COMMENT ON COLUMN pipeline.dead_letters.failed_at IS 'when the message was dead-lettered';
COMMENT ON COLUMN pipeline.dead_letters.owner IS 'the source''s owner when the message was dead-lettered';
COMMENT ON COLUMN pipeline.source_archive.source IS 'the source';
COMMENT ON COLUMN pipeline.source_archive.topic IS 'the topic of the batch';
COMMENT ON COLUMN pipeline.source_archive.partition IS 'the partition of the batch';
COMMENT ON COLUMN pipeline.source_archive.first_offset IS 'the first offset of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.last_offset IS 'the last offset of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.messages IS 'the number of messages of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.raw_bytes IS
'size before compression (offsets, timestamps, keys and values)';
COMMENT ON COLUMN pipeline.source_archive.data IS
'a zstd frame of the records (storage EXTERNAL: not compressed again)';
COMMENT ON COLUMN pipeline.source_archive.archived_at IS 'when the batch committed';
COMMENT ON COLUMN pipeline.source_partitions.source IS 'the source';
COMMENT ON COLUMN pipeline.source_partitions.topic IS 'the topic';
COMMENT ON COLUMN pipeline.source_partitions.partition IS 'the partition';
COMMENT ON COLUMN pipeline.source_partitions.next_offset IS 'the offset of the next message to ingest';
COMMENT ON COLUMN pipeline.source_partitions.high_watermark IS
'the partition''s end as librdkafka knew it at the last batch';
COMMENT ON COLUMN pipeline.source_partitions.lag IS 'high_watermark - next_offset (as of the last batch)';
COMMENT ON COLUMN pipeline.source_partitions.last_batch_at IS 'time of the last batch (or reset_offsets)';
COMMENT ON COLUMN pipeline.source_status.source IS 'the source''s name';
COMMENT ON COLUMN pipeline.source_status.topic IS 'the source''s topic';
COMMENT ON COLUMN pipeline.source_status.target IS 'the source''s target table';
COMMENT ON COLUMN pipeline.source_status.format IS 'the source''s format';
COMMENT ON COLUMN pipeline.source_status.state IS
'stopped, paused, running, error or starting (docs/kafka.md)';
COMMENT ON COLUMN pipeline.source_status.consumers IS 'workers configured';
COMMENT ON COLUMN pipeline.source_status.consumers_running IS 'workers whose slot is running';
COMMENT ON COLUMN pipeline.source_status.lag IS 'sum of the partitions'' lag (as of their last batch)';
COMMENT ON COLUMN pipeline.source_status.rows_since_start IS
'messages in committed batches since the consumers last started (dead-lettered and skipped ones included)';
COMMENT ON COLUMN pipeline.source_status.rows_per_sec IS
'moving average over about 5 s, summed over the consumers';
COMMENT ON COLUMN pipeline.source_status.bytes_per_sec IS
'moving average over about 5 s, summed over the consumers';
COMMENT ON COLUMN pipeline.source_status.last_batch_at IS 'last committed batch';
COMMENT ON COLUMN pipeline.source_status.last_error IS
'sources.error if the source is stopped, else the most recent error of its consumers';
COMMENT ON COLUMN pipeline.source_status.dead_letters IS 'dead letters of the source';
COMMENT ON COLUMN pipeline.dead_letter_messages.id IS 'the dead letter''s id';
COMMENT ON COLUMN pipeline.dead_letter_messages.source IS 'the source';
COMMENT ON COLUMN pipeline.dead_letter_messages.topic IS 'the message''s topic';
COMMENT ON COLUMN pipeline.dead_letter_messages.partition IS 'the message''s partition';
COMMENT ON COLUMN pipeline.dead_letter_messages."offset" IS 'the message''s offset';
COMMENT ON COLUMN pipeline.dead_letter_messages.key IS 'the key as text (bytes that are not text escaped)';
COMMENT ON COLUMN pipeline.dead_letter_messages.payload IS
'the value, decompressed, as text (bytes that are not text escaped)';
COMMENT ON COLUMN pipeline.dead_letter_messages.payload_size IS 'the size of the value, in bytes';
COMMENT ON COLUMN pipeline.dead_letter_messages.message_time IS 'the message''s Kafka timestamp';
COMMENT ON COLUMN pipeline.dead_letter_messages.error IS 'why the message could not be loaded';
COMMENT ON COLUMN pipeline.dead_letter_messages.sqlstate IS 'the SQLSTATE of that error';
COMMENT ON COLUMN pipeline.dead_letter_messages.failed_at IS 'when the message was dead-lettered';
COMMENT ON COLUMN pipeline.source_archive_stats.source IS 'the source';
COMMENT ON COLUMN pipeline.source_archive_stats.batches IS 'archived batches (one per batch and partition)';
COMMENT ON COLUMN pipeline.source_archive_stats.messages IS 'archived messages';
COMMENT ON COLUMN pipeline.source_archive_stats.raw_bytes IS 'their size before compression';
COMMENT ON COLUMN pipeline.source_archive_stats.stored_bytes IS 'their size compressed';
COMMENT ON COLUMN pipeline.source_archive_stats.compression_ratio IS 'raw_bytes / stored_bytes';
COMMENT ON COLUMN pipeline.source_archive_stats.oldest IS 'the oldest archived batch';
COMMENT ON COLUMN pipeline.source_archive_stats.newest IS 'the newest archived batch';
COMMENT ON COLUMN pipeline.sinks.name IS
'the sink''s name: same rules as a source''s; unique in the database';
COMMENT ON COLUMN pipeline.sinks.owner IS
'the role the sink''s worker runs as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.sinks.server IS 'the pipeline_kafka foreign server';
COMMENT ON COLUMN pipeline.sinks.topic IS 'the topic the messages go to';
COMMENT ON COLUMN pipeline.sinks.properties IS 'librdkafka properties of this sink (a JSON object)';
COMMENT ON COLUMN pipeline.sinks.batch_rows IS
'most messages the worker reads from the outbox at once (1 to 100,000)';
COMMENT ON COLUMN pipeline.sinks.paused IS
'set by pause_sink: the worker is stopped, the outbox keeps filling';
COMMENT ON COLUMN pipeline.sinks.error IS 'why the sink stopped; NULL while it runs';
COMMENT ON COLUMN pipeline.sinks.config_version IS
'incremented by every change of the definition, so that the worker restarts with it';
COMMENT ON COLUMN pipeline.sinks.created_at IS 'when the sink was created (the time of the insert)';
COMMENT ON COLUMN pipeline.outbox.id IS 'the message''s id (returned by publish)';
COMMENT ON COLUMN pipeline.outbox.sink IS 'the sink';
COMMENT ON COLUMN pipeline.outbox.key IS 'the message''s key';
COMMENT ON COLUMN pipeline.outbox.payload IS 'the message''s value';
COMMENT ON COLUMN pipeline.outbox.headers IS 'the message''s headers, a JSON object of strings';
COMMENT ON COLUMN pipeline.outbox.created_at IS 'when the message was enqueued';
COMMENT ON COLUMN pipeline.outbox.seq IS
'the sequence number the sink gave the message (NULL until the sink took it)';
COMMENT ON COLUMN pipeline.outbox.partition IS
'the partition the sink sends it to (NULL until the sink took it)';
COMMENT ON COLUMN pipeline.outbox.owner IS 'the role that enqueued the message';
COMMENT ON COLUMN pipeline.sink_progress.sink IS 'the sink';
COMMENT ON COLUMN pipeline.sink_progress.last_seq IS 'the last sequence number given to a message';
COMMENT ON COLUMN pipeline.sink_progress.published IS 'messages published and acknowledged by Kafka';
COMMENT ON COLUMN pipeline.sink_progress.updated_at IS 'when the sink last recorded progress';
COMMENT ON COLUMN pipeline.sink_status.sink IS 'the sink''s name';
COMMENT ON COLUMN pipeline.sink_status.topic IS 'the sink''s topic';
COMMENT ON COLUMN pipeline.sink_status.state IS
'stopped, paused, running, error (it cannot publish) or starting';
COMMENT ON COLUMN pipeline.sink_status.waiting IS 'messages in the outbox';
COMMENT ON COLUMN pipeline.sink_status.published IS 'messages published';
COMMENT ON COLUMN pipeline.sink_status.last_seq IS 'the last sequence number given to a message';
COMMENT ON COLUMN pipeline.sink_status.last_publish_at IS 'the last confirmed publish';
COMMENT ON COLUMN pipeline.sink_status.last_error IS
'sinks.error if the sink is stopped, else the worker''s last error';
COMMENT ON COLUMN pipeline.window_spec.kind IS 'tumble, hop, cumulate or session';
COMMENT ON COLUMN pipeline.window_spec.size IS
'the window size; cumulate: the largest size; session: the gap';
COMMENT ON COLUMN pipeline.window_spec.slide IS 'hop: the slide; cumulate: the step; tumble: the size';
COMMENT ON COLUMN pipeline.windows.id IS 'the window aggregate''s number (trigger names, advisory locks)';
COMMENT ON COLUMN pipeline.windows.name IS 'the qualified name of the result, as text';
COMMENT ON COLUMN pipeline.windows.result IS 'the relation users read (a table, or a view for emit on_close)';
COMMENT ON COLUMN pipeline.windows.state_table IS 'where the rows are kept (= result for on_update)';
COMMENT ON COLUMN pipeline.windows.delta_table IS 'mode async: the delta table the maintainer merges';
COMMENT ON COLUMN pipeline.windows.late_table IS 'late_rows side_table: the late rows table';
COMMENT ON COLUMN pipeline.windows.source IS 'the source table';
COMMENT ON COLUMN pipeline.windows.time_column IS 'the source''s time column (timestamptz or timestamp)';
COMMENT ON COLUMN pipeline.windows.kind IS 'tumble, hop, cumulate or session';
COMMENT ON COLUMN pipeline.windows.size IS 'the window_spec''s size';
COMMENT ON COLUMN pipeline.windows.slide IS 'the window_spec''s slide';
COMMENT ON COLUMN pipeline.windows.group_by IS 'the group columns, as given';
COMMENT ON COLUMN pipeline.windows.aggregates IS 'the aggregates, as given';
COMMENT ON COLUMN pipeline.windows.agg_names IS 'one per aggregate column: its name';
COMMENT ON COLUMN pipeline.windows.agg_kinds IS
'one per aggregate column: count_star, count, sum, avg, min, max, count_distinct or other';
COMMENT ON COLUMN pipeline.windows.agg_exprs IS
'one per aggregate column: the aggregate call as read by create_window';
COMMENT ON COLUMN pipeline.windows.agg_args IS 'one per aggregate column: its argument';
COMMENT ON COLUMN pipeline.windows.agg_types IS 'one per aggregate column: its result type';
COMMENT ON COLUMN pipeline.windows.columns IS 'the source columns maintenance reads';
COMMENT ON COLUMN pipeline.windows.emit IS 'on_update or on_close';
COMMENT ON COLUMN pipeline.windows.late_rows IS 'update, drop or side_table';
COMMENT ON COLUMN pipeline.windows.mode IS 'sync or async';
COMMENT ON COLUMN pipeline.windows.allowed_lateness IS
'how far behind the largest event time a row may come and still count';
COMMENT ON COLUMN pipeline.windows.retention IS 'windows that ended longer ago are deleted (NULL: keep all)';
COMMENT ON COLUMN pipeline.windows.sink IS 'a sink the final windows are published to (NULL: none)';
COMMENT ON COLUMN pipeline.windows.owner IS 'the role that created it; maintenance runs as this role';
COMMENT ON COLUMN pipeline.windows.maintained_at IS 'async: the last merge by the maintainer or flush_window';
COMMENT ON COLUMN pipeline.windows.last_error IS
'async: the last error of a merge by the maintainer (cleared by the next successful merge)';
COMMENT ON COLUMN pipeline.windows.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.windows.created_at IS 'when the window aggregate was created';
COMMENT ON COLUMN pipeline.window_progress.window_id IS 'the window aggregate (pipeline.windows.id)';
COMMENT ON COLUMN pipeline.window_progress.max_event_time IS
'the largest event time seen by the statement that appended the row';
COMMENT ON COLUMN pipeline.window_progress.late IS 'late rows that statement saw';
COMMENT ON COLUMN pipeline.window_progress.recorded_at IS 'when the row was appended';
COMMENT ON COLUMN pipeline.window_status.name IS 'the window aggregate''s qualified name';
COMMENT ON COLUMN pipeline.window_status.source IS 'the source table';
COMMENT ON COLUMN pipeline.window_status.kind IS 'tumble, hop, cumulate or session';
COMMENT ON COLUMN pipeline.window_status.size IS 'the window size';
COMMENT ON COLUMN pipeline.window_status.slide IS 'the slide (hop) or step (cumulate)';
COMMENT ON COLUMN pipeline.window_status.group_by IS 'the group columns';
COMMENT ON COLUMN pipeline.window_status.mode IS 'sync or async';
COMMENT ON COLUMN pipeline.window_status.emit IS 'on_update or on_close';
COMMENT ON COLUMN pipeline.window_status.late_policy IS 'late_rows of the definition';
COMMENT ON COLUMN pipeline.window_status.allowed_lateness IS 'the allowed lateness';
COMMENT ON COLUMN pipeline.window_status.max_event_time IS 'the largest event time in the latest windows';
COMMENT ON COLUMN pipeline.window_status.watermark IS
'max_event_time - allowed_lateness (NULL while the window has no rows)';
COMMENT ON COLUMN pipeline.window_status.open_windows IS 'distinct windows not final yet';
COMMENT ON COLUMN pipeline.window_status.final_windows IS 'distinct windows final';
COMMENT ON COLUMN pipeline.window_status.late_rows IS 'late rows seen';
COMMENT ON COLUMN pipeline.window_status.pending_delta IS
'async: rows waiting in the delta table; 0 for sync';
COMMENT ON COLUMN pipeline.window_status.maintained_at IS 'async: the last merge';
COMMENT ON COLUMN pipeline.window_status.last_error IS 'async: the last failed merge';
COMMENT ON COLUMN pipeline.window_status.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.window_status.last_error_sqlstate IS 'the SQLSTATE of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_detail IS 'the DETAIL of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_hint IS 'the HINT of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_context IS 'the CONTEXT of last_error';
COMMENT ON COLUMN pipeline.dags.dag_id IS 'the DAG''s id';
COMMENT ON COLUMN pipeline.dags.name IS 'unique in the database (jobs included), across roles';
COMMENT ON COLUMN pipeline.dags.schedule IS
'a cron expression (5 fields, or 6 with seconds first) or an interval; NULL: no scheduled runs';
COMMENT ON COLUMN pipeline.dags.timezone IS 'the time zone the cron fields are read in (UTC by default)';
COMMENT ON COLUMN pipeline.dags.catchup IS
'after downtime or from a past start_date: a run for every missed interval (true) or only the latest (false)';
COMMENT ON COLUMN pipeline.dags.max_active_runs IS 'runs of this DAG running at once (1 to 1000)';
COMMENT ON COLUMN pipeline.dags.start_date IS 'no scheduled fire before it';
COMMENT ON COLUMN pipeline.dags.end_date IS 'no scheduled fire after it (NULL: none)';
COMMENT ON COLUMN pipeline.dags.trigger_on IS
'the tables whose new committed data also starts a run (data-aware DAG)';
COMMENT ON COLUMN pipeline.dags.trigger_interval IS 'at most one data-triggered run per this interval';
COMMENT ON COLUMN pipeline.dags.history_retention IS 'how long finished runs are kept';
COMMENT ON COLUMN pipeline.dags.history_errors_only IS 'keep only failed runs in the history';
COMMENT ON COLUMN pipeline.dags.enabled IS 'false: not scheduled (run_now still works)';
COMMENT ON COLUMN pipeline.dags.is_job IS 'a one-line job made by pipeline.schedule (a DAG of one task)';
COMMENT ON COLUMN pipeline.dags.owner IS 'the role the DAG''s tasks run as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.dags.next_fire_at IS 'the next scheduled fire, kept by the scheduler';
COMMENT ON COLUMN pipeline.dags.last_fire_at IS 'the latest fire a run was made for';
COMMENT ON COLUMN pipeline.dags.data_seen IS
'the version of trigger_on''s data the last data-triggered run was made for';
COMMENT ON COLUMN pipeline.dags.data_run_at IS 'when the last data-triggered run was made';
COMMENT ON COLUMN pipeline.dags.data_pending IS 'new data waits for trigger_interval to pass';
COMMENT ON COLUMN pipeline.dags.created_at IS 'when the DAG was created';
COMMENT ON COLUMN pipeline.tasks.dag_id IS 'the DAG';
COMMENT ON COLUMN pipeline.tasks.name IS
'the task''s name, unique in the DAG (a job''s task has the job''s name)';
COMMENT ON COLUMN pipeline.tasks.command IS 'the SQL the task runs (NULL for a sensor)';
COMMENT ON COLUMN pipeline.tasks.sensor IS
'a SELECT returning a boolean, run every poke_interval until true (NULL for a command)';
COMMENT ON COLUMN pipeline.tasks.poke_interval IS 'the time between two pokes of a sensor';
COMMENT ON COLUMN pipeline.tasks.upstream IS 'tasks of the same DAG that must be done first';
COMMENT ON COLUMN pipeline.tasks.trigger_rule IS
'all_success, all_done or one_failed: when the task runs, given its upstream tasks';
COMMENT ON COLUMN pipeline.tasks.retries IS 'further attempts after a failure (0 to 100)';
COMMENT ON COLUMN pipeline.tasks.retry_delay IS
'the wait before a further attempt, from the end of the failed one';
COMMENT ON COLUMN pipeline.tasks.retry_exponential_backoff IS 'double the wait at each further attempt';
COMMENT ON COLUMN pipeline.tasks.max_retry_delay IS 'the longest wait with backoff';
COMMENT ON COLUMN pipeline.tasks.timeout IS
'a command: the longest an attempt may run; a sensor: the longest it may wait (NULL: none)';
COMMENT ON COLUMN pipeline.tasks.depends_on_past IS
'run only when this task succeeded (or was skipped) in the DAG''s previous run';
COMMENT ON COLUMN pipeline.tasks.created_at IS 'when the task was added';
COMMENT ON COLUMN pipeline.dag_runs.run_id IS 'the run''s id';
COMMENT ON COLUMN pipeline.dag_runs.dag_id IS 'the DAG (or job)';
COMMENT ON COLUMN pipeline.dag_runs.dag IS 'the DAG''s name';
COMMENT ON COLUMN pipeline.dag_runs.run_type IS 'scheduled, manual (run_now), backfill or data';
COMMENT ON COLUMN pipeline.dag_runs.logical_date IS 'the start of the run''s data interval';
COMMENT ON COLUMN pipeline.dag_runs.data_interval_end IS 'the end of the run''s data interval';
COMMENT ON COLUMN pipeline.dag_runs.status IS 'queued, running, success or failed';
COMMENT ON COLUMN pipeline.dag_runs.created_at IS 'when the run was queued';
COMMENT ON COLUMN pipeline.dag_runs.started_at IS 'when the run started running';
COMMENT ON COLUMN pipeline.dag_runs.ended_at IS 'when the run finished';
COMMENT ON COLUMN pipeline.dag_runs.duration IS 'ended_at - started_at';
COMMENT ON COLUMN pipeline.task_runs.task_run_id IS 'the attempt''s id';
COMMENT ON COLUMN pipeline.task_runs.run_id IS 'its DAG run';
COMMENT ON COLUMN pipeline.task_runs.dag_id IS 'the DAG';
COMMENT ON COLUMN pipeline.task_runs.dag IS 'the DAG''s name';
COMMENT ON COLUMN pipeline.task_runs.task IS 'the task (a job''s task has the job''s name)';
COMMENT ON COLUMN pipeline.task_runs.attempt IS '1, 2, 3 ... for this task in this run';
COMMENT ON COLUMN pipeline.task_runs.retry IS '0 for the first try, then 1, 2 ... (back to 0 after clear)';
COMMENT ON COLUMN pipeline.task_runs.status IS
'waiting, scheduled, queued, running, success, failed, upstream_failed or skipped';
COMMENT ON COLUMN pipeline.task_runs.logical_date IS 'the run''s logical date';
COMMENT ON COLUMN pipeline.task_runs.scheduled_at IS
'when the attempt became due: ready to run, its retry delay over, or its next poke';
COMMENT ON COLUMN pipeline.task_runs.started_at IS 'when the runner started it (a sensor: its first poke)';
COMMENT ON COLUMN pipeline.task_runs.ended_at IS 'when it finished';
COMMENT ON COLUMN pipeline.task_runs.duration IS 'ended_at - started_at';
COMMENT ON COLUMN pipeline.task_runs.pokes IS 'a sensor''s pokes so far';
COMMENT ON COLUMN pipeline.task_runs.rows_affected IS
'a command that succeeded: the rows reported by its statements, added up';
COMMENT ON COLUMN pipeline.task_runs.pid IS 'the runner''s process id';
COMMENT ON COLUMN pipeline.jobs.name IS 'the job''s name';
COMMENT ON COLUMN pipeline.jobs.schedule IS 'its cron expression or interval';
COMMENT ON COLUMN pipeline.jobs.timezone IS 'the time zone of the cron fields';
COMMENT ON COLUMN pipeline.jobs.command IS 'the SQL it runs';
COMMENT ON COLUMN pipeline.jobs.enabled IS 'false: not scheduled';
COMMENT ON COLUMN pipeline.jobs.owner IS 'the role it runs as';
COMMENT ON COLUMN pipeline.jobs.next_run_at IS 'its next scheduled fire (NULL when disabled or past its end)';
COMMENT ON COLUMN pipeline.jobs.last_status IS
'the status of the latest attempt that started and is still in the history';
COMMENT ON COLUMN pipeline.jobs.last_started_at IS 'when that attempt started';
COMMENT ON COLUMN pipeline.jobs.last_duration IS 'how long it ran';
COMMENT ON COLUMN pipeline.jobs.last_error IS 'its error''s message';
COMMENT ON COLUMN pipeline.jobs.last_sqlstate IS 'its error''s SQLSTATE';
COMMENT ON COLUMN pipeline.jobs.last_error_detail IS 'its error''s DETAIL';
COMMENT ON COLUMN pipeline.jobs.last_error_hint IS 'its error''s HINT';
COMMENT ON COLUMN pipeline.jobs.last_error_context IS 'its error''s CONTEXT';
COMMENT ON COLUMN pipeline.dag_status.name IS 'the DAG''s name';
COMMENT ON COLUMN pipeline.dag_status.schedule IS 'its schedule';
COMMENT ON COLUMN pipeline.dag_status.timezone IS 'the time zone of the cron fields';
COMMENT ON COLUMN pipeline.dag_status.enabled IS 'false: not scheduled';
COMMENT ON COLUMN pipeline.dag_status.owner IS 'the role its tasks run as';
COMMENT ON COLUMN pipeline.dag_status.next_run_at IS 'its next scheduled fire';
COMMENT ON COLUMN pipeline.dag_status.queued_runs IS 'runs waiting';
COMMENT ON COLUMN pipeline.dag_status.running_runs IS 'runs running';
COMMENT ON COLUMN pipeline.dag_status.last_logical_date IS 'the logical date of the latest finished run';
COMMENT ON COLUMN pipeline.dag_status.last_status IS 'the status of the latest finished run';
COMMENT ON COLUMN pipeline.dag_status.last_ended_at IS 'when the latest finished run ended';
COMMENT ON COLUMN pipeline.dag_status.watching IS
'a data-aware DAG: the tables it watches, by their current names';
COMMENT ON COLUMN pipeline.dag_status.watch_problem IS
'why it does not watch them all (a table dropped, not readable by the owner); NULL when all is well';
COMMENT ON COLUMN pipeline._latest_attempts.run_id IS 'the running DAG run';
COMMENT ON COLUMN pipeline._latest_attempts.task IS 'the task';
COMMENT ON COLUMN pipeline._latest_attempts.status IS
'the latest attempt''s status; failed with retries left: up_for_retry';
COMMENT ON COLUMN pipeline.models.model_id IS 'the model''s id';
COMMENT ON COLUMN pipeline.models.schema_name IS 'the schema of the model''s relation';
COMMENT ON COLUMN pipeline.models.relation_name IS 'the name of the model''s relation';
COMMENT ON COLUMN pipeline.models.owner IS 'the role the model is built as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.models.sql IS 'the model''s query';
COMMENT ON COLUMN pipeline.models.materialized IS
'view, table, incremental, materialized_view, ephemeral, snapshot or seed';
COMMENT ON COLUMN pipeline.models.strategy IS 'incremental: append, merge, delete+insert or event_time';
COMMENT ON COLUMN pipeline.models.unique_key IS 'incremental merge and delete+insert: the key columns';
COMMENT ON COLUMN pipeline.models.incremental_by IS 'incremental event_time: the event time column';
COMMENT ON COLUMN pipeline.models.lookback IS
'incremental event_time: how far behind the high water mark a build reads again';
COMMENT ON COLUMN pipeline.models.on_schema_change IS
'incremental: fail, append_new_columns, sync_all_columns or ignore';
COMMENT ON COLUMN pipeline.models.snapshot_strategy IS 'snapshot: timestamp or check';
COMMENT ON COLUMN pipeline.models.updated_at_column IS
'snapshot timestamp: the column telling when a row changed';
COMMENT ON COLUMN pipeline.models.check_columns IS 'snapshot check: the columns compared';
COMMENT ON COLUMN pipeline.models.hard_deletes IS 'snapshot: ignore or invalidate rows gone from the source';
COMMENT ON COLUMN pipeline.models.tags IS 'tags, for selectors such as tag:daily';
COMMENT ON COLUMN pipeline.models.description IS 'a description';
COMMENT ON COLUMN pipeline.models.enabled IS 'false: not built by run and build';
COMMENT ON COLUMN pipeline.models.high_water_mark IS 'event_time: the largest event time built';
COMMENT ON COLUMN pipeline.models.built_at IS 'end of the last successful build';
COMMENT ON COLUMN pipeline.models.created_at IS 'when the model was created';
COMMENT ON COLUMN pipeline.models.updated_at IS 'when the model was last changed';
COMMENT ON COLUMN pipeline.model_edges.model_id IS 'the model';
COMMENT ON COLUMN pipeline.model_edges.upstream_oid IS
'the upstream relation''s OID (NULL for a model not built yet)';
COMMENT ON COLUMN pipeline.model_edges.upstream_model_id IS
'the upstream model, when the relation is a model''s';
COMMENT ON COLUMN pipeline.model_edges.direct IS
'named in the model''s SQL (false: read through the view via)';
COMMENT ON COLUMN pipeline.model_edges.via IS 'the view through which the model reads it (NULL when direct)';
COMMENT ON COLUMN pipeline.lineage.model IS 'the model';
COMMENT ON COLUMN pipeline.lineage.upstream IS
'the relation it reads, by its name now (its recorded name if it is gone)';
COMMENT ON COLUMN pipeline.lineage.upstream_kind IS 'model, table, view, source target, window, ...';
COMMENT ON COLUMN pipeline.lineage.direct IS 'named in the model''s SQL (false: read through the view via)';
COMMENT ON COLUMN pipeline.lineage.via IS 'the view through which the model reads it';
COMMENT ON COLUMN pipeline.lineage.problem IS
'when the upstream was dropped or renamed since it was recorded: what happened (NULL when all is well)';
COMMENT ON COLUMN pipeline.lineage.upstream_oid IS 'the upstream relation''s OID';
COMMENT ON COLUMN pipeline.lineage.upstream_model_id IS 'the upstream model''s id, when it is a model';
COMMENT ON COLUMN pipeline.lineage.model_id IS 'the model''s id';
COMMENT ON COLUMN pipeline.model_problems.model IS 'the model';
COMMENT ON COLUMN pipeline.model_problems.upstream IS 'the upstream relation';
COMMENT ON COLUMN pipeline.model_problems.problem IS 'what happened to it';
COMMENT ON COLUMN pipeline.column_lineage.model IS 'the model';
COMMENT ON COLUMN pipeline.column_lineage.column_position IS 'the output column''s position';
COMMENT ON COLUMN pipeline.column_lineage.column_name IS 'the output column''s name';
COMMENT ON COLUMN pipeline.column_lineage.upstream IS 'the relation the column comes from';
COMMENT ON COLUMN pipeline.column_lineage.upstream_column IS 'the column it comes from';
COMMENT ON COLUMN pipeline.column_lineage.transform IS 'copy or expression';
COMMENT ON COLUMN pipeline.column_lineage.direct IS 'not through a view';
COMMENT ON COLUMN pipeline.column_lineage.problem IS
'why the model cannot be analyzed now (NULL when it can)';
COMMENT ON COLUMN pipeline.column_lineage.upstream_oid IS 'the upstream relation''s OID';
COMMENT ON COLUMN pipeline.column_lineage.model_id IS 'the model''s id';
COMMENT ON COLUMN pipeline.model_invocations.invocation_id IS 'the invocation''s id';
COMMENT ON COLUMN pipeline.model_invocations.command IS 'run or build';
COMMENT ON COLUMN pipeline.model_invocations.selector IS 'the selector given ('''' for all)';
COMMENT ON COLUMN pipeline.model_invocations.exclude IS 'the exclude selector given';
COMMENT ON COLUMN pipeline.model_invocations.full_refresh IS 'full_refresh as given';
COMMENT ON COLUMN pipeline.model_invocations.in_session IS
'built in the caller''s session (false: by model runner workers)';
COMMENT ON COLUMN pipeline.model_invocations.workers IS 'how many model runner workers build it at most';
COMMENT ON COLUMN pipeline.model_invocations.status IS 'running, success, error or canceled';
COMMENT ON COLUMN pipeline.model_invocations.owner IS 'the role that started it';
COMMENT ON COLUMN pipeline.model_invocations.started_at IS 'when it started';
COMMENT ON COLUMN pipeline.model_invocations.ended_at IS 'when it ended';
COMMENT ON COLUMN pipeline.model_invocations.owner_oid IS
'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.model_runs.model_run_id IS 'the run''s id';
COMMENT ON COLUMN pipeline.model_runs.invocation_id IS 'the invocation';
COMMENT ON COLUMN pipeline.model_runs.model_id IS
'the model (no foreign key: the history outlives a dropped model)';
COMMENT ON COLUMN pipeline.model_runs.model IS 'the model''s name at the time';
COMMENT ON COLUMN pipeline.model_runs.status IS 'pending, running, success, error or skipped';
COMMENT ON COLUMN pipeline.model_runs.rows IS 'rows written';
COMMENT ON COLUMN pipeline.model_runs.started_at IS 'when the build started';
COMMENT ON COLUMN pipeline.model_runs.ended_at IS 'when it ended';
COMMENT ON COLUMN pipeline.model_runs.error IS 'status error: the error''s message';
COMMENT ON COLUMN pipeline.model_runs.sqlstate IS 'the SQLSTATE of the error';
COMMENT ON COLUMN pipeline.model_runs.error_detail IS 'the DETAIL of the error';
COMMENT ON COLUMN pipeline.model_runs.error_hint IS 'the HINT of the error';
COMMENT ON COLUMN pipeline.model_runs.error_context IS 'the CONTEXT of the error';
COMMENT ON COLUMN pipeline.model_runs."position" IS 'its position in the invocation''s dependency order';
COMMENT ON COLUMN pipeline.model_runs.runner_pid IS 'the worker building it (status running)';
COMMENT ON COLUMN pipeline.model_runs.owner_oid IS 'the model''s owner''s OID (set by pg_pipeline)';
COMMENT ON COLUMN pipeline.model_status.model IS 'the model';
COMMENT ON COLUMN pipeline.model_status.materialized IS 'how it is materialized';
COMMENT ON COLUMN pipeline.model_status.enabled IS 'false: not built by run and build';
COMMENT ON COLUMN pipeline.model_status.tags IS 'its tags';
COMMENT ON COLUMN pipeline.model_status.owner IS 'its owner';
COMMENT ON COLUMN pipeline.model_status.last_status IS
'the status of its last finished run: success, error or skipped';
COMMENT ON COLUMN pipeline.model_status.last_started_at IS 'when that run started';
COMMENT ON COLUMN pipeline.model_status.last_ended_at IS 'when it ended';
COMMENT ON COLUMN pipeline.model_status.last_duration IS 'how long it took';
COMMENT ON COLUMN pipeline.model_status.last_rows IS 'rows it wrote';
COMMENT ON COLUMN pipeline.model_status.last_error IS 'its error''s message';
COMMENT ON COLUMN pipeline.model_status.last_sqlstate IS 'its error''s SQLSTATE';
COMMENT ON COLUMN pipeline.model_status.last_success_at IS 'the end of the last successful run';
COMMENT ON COLUMN pipeline.model_status.built_at IS 'end of the last successful build';
COMMENT ON COLUMN pipeline.check_status.expectation_id IS 'the expectation''s id';
COMMENT ON COLUMN pipeline.check_status.relation IS 'the relation checked';
COMMENT ON COLUMN pipeline.check_status.expectation IS 'the expectation''s name';
COMMENT ON COLUMN pipeline.check_status.kind IS 'the expectation''s kind';
COMMENT ON COLUMN pipeline.check_status.columns IS 'the columns checked';
COMMENT ON COLUMN pipeline.check_status.severity IS 'warn or error';
COMMENT ON COLUMN pipeline.check_status.threshold IS 'the threshold as given (NULL: none may fail)';
COMMENT ON COLUMN pipeline.check_status.row_filter IS 'only rows where it is true are checked';
COMMENT ON COLUMN pipeline.check_status.owner IS 'the expectation''s owner';
COMMENT ON COLUMN pipeline.check_status.origin IS
'who made it: NULL by hand, ''contract:<name>'' by apply_contract';
COMMENT ON COLUMN pipeline.check_status.status IS
'the latest result: pass, warn, fail or error (NULL: never checked)';
COMMENT ON COLUMN pipeline.check_status.proven IS 'passed without a scan: the catalog proves it';
COMMENT ON COLUMN pipeline.check_status.failing IS 'failing rows';
COMMENT ON COLUMN pipeline.check_status.total IS 'rows checked';
COMMENT ON COLUMN pipeline.check_status.percent IS 'failing as a percentage of total';
COMMENT ON COLUMN pipeline.check_status.checked_at IS 'when the latest check began';
COMMENT ON COLUMN pipeline.check_status.duration IS 'how long it took';
COMMENT ON COLUMN pipeline.check_status.error IS 'status error: the error''s message';
COMMENT ON COLUMN pipeline.check_status.sqlstate IS 'status error: the error''s SQLSTATE';
COMMENT ON COLUMN pipeline.check_status.check_id IS 'the check the latest result belongs to';
COMMENT ON COLUMN pipeline.check_status.result_id IS 'the latest result (pipeline.check_results)';
COMMENT ON COLUMN pipeline.check_status.model_invocation_id IS
'the model build that checked it (gating), else NULL';

-- ==== lead ====

-- ==== scale-out: partitions per server, hand-over (helper K) ====
-- A source reads a part of its topic's partitions on this server
-- (sources.partitions), and partitions move between servers with
-- export_offsets / import_offsets (source_offsets.handover).
ALTER TABLE pipeline.sources ADD COLUMN partitions text;
COMMENT ON COLUMN pipeline.sources.partitions IS
'the partitions this server reads: ''hash I of N'' (p % N = I), a list ''0,1,4'', ''none''; NULL: all (docs/scale-out.md)';
ALTER TABLE pipeline.source_offsets ADD COLUMN handover text CHECK (handover IN ('exported', 'imported'));
COMMENT ON COLUMN pipeline.source_offsets.handover IS
'exported: handed over to another server, not read here whatever partitions says; imported: read here whatever it says; NULL: as it says';

-- The part of a topic a source reads on this server (docs/scale-out.md);
-- the consumer decides with the same C code (src/kafka/partitions.c).
CREATE FUNCTION pipeline._check_partitions(partitions text)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_check_partitions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._check_partitions(text) IS
'validates a source''s partitions (''hash I of N'', ''0,1,4'', ''all'', ''none'') and returns them as stored (NULL: all)';

CREATE FUNCTION pipeline._partition_read_here(partitions text, partition integer, handover text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline_partition_read_here'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._partition_read_here(text, integer, text) IS
'does a source with these partitions read this one on this server, given its hand-over mark (exported: no; imported: yes)';

DROP FUNCTION pipeline.create_source(text, name, text, regclass, text, text, jsonb, name, integer, integer, integer, integer, text, boolean, jsonb);
CREATE FUNCTION pipeline.create_source(
    name          text,
    server        name,
    topic         text,
    target        regclass,
    format        text    DEFAULT 'json',
    on_error      text    DEFAULT 'dead_letter',
    properties    jsonb   DEFAULT '{}',
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT 1,
    batch_rows    integer DEFAULT 50000,
    batch_bytes   integer DEFAULT 16777216,
    batch_ms      integer DEFAULT 100,
    start_from    text    DEFAULT 'earliest',
    archive       boolean DEFAULT false,
    expect        jsonb   DEFAULT NULL,
    partitions    text    DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
BEGIN
    IF create_source.name IS NULL OR create_source.server IS NULL
       OR create_source.topic IS NULL OR create_source.target IS NULL THEN
        RAISE EXCEPTION 'name, server, topic and target of a source must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('source', create_source.name);
    PERFORM pipeline._check_source_numbers(create_source.on_error, create_source.consumers,
        create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms);
    col := pipeline._check_source(create_source.server, create_source.topic, create_source.target,
                                  create_source.format, create_source.target_column,
                                  create_source.properties, create_source.start_from);
    INSERT INTO pipeline.sources (name, server, topic, target, format, target_column, on_error,
                                  properties, consumers, batch_rows, batch_bytes, batch_ms, start_from,
                                  archive, partitions)
    VALUES (create_source.name, create_source.server, create_source.topic,
            create_source.target::text, create_source.format, col, create_source.on_error,
            coalesce(create_source.properties, '{}'), create_source.consumers,
            create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms,
            create_source.start_from, coalesce(create_source.archive, false),
            pipeline._check_partitions(create_source.partitions));
    IF create_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(create_source.name, create_source.target,
                                              create_source.expect);
    END IF;
    PERFORM pipeline._warn_without_workers(format('source "%s" will not consume until it is', create_source.name));
END
$$;
COMMENT ON FUNCTION pipeline.create_source(text, name, text, regclass, text, text, jsonb, name, integer, integer, integer, integer, text, boolean, jsonb, text) IS
'creates a Kafka source: a consumer worker keeps the target table filled from the topic, exactly once; expect: row-level expectations checked on each message (failing ones go to the dead letters); partitions: the part of the topic read on this server';

DROP FUNCTION pipeline.alter_source(text, text, text, jsonb, name, integer, integer, integer, integer, text, text, boolean, jsonb);
CREATE FUNCTION pipeline.alter_source(
    name          text,
    format        text    DEFAULT NULL,
    on_error      text    DEFAULT NULL,
    properties    jsonb   DEFAULT NULL,
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT NULL,
    batch_rows    integer DEFAULT NULL,
    batch_bytes   integer DEFAULT NULL,
    batch_ms      integer DEFAULT NULL,
    start_from    text    DEFAULT NULL,
    topic         text    DEFAULT NULL,
    archive       boolean DEFAULT NULL,
    expect        jsonb   DEFAULT NULL,
    partitions    text    DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    col name;
BEGIN
    s := pipeline._source_for_update(alter_source.name);
    s.format := coalesce(alter_source.format, s.format);
    s.on_error := coalesce(alter_source.on_error, s.on_error);
    s.properties := coalesce(alter_source.properties, s.properties);
    s.consumers := coalesce(alter_source.consumers, s.consumers);
    s.batch_rows := coalesce(alter_source.batch_rows, s.batch_rows);
    s.batch_bytes := coalesce(alter_source.batch_bytes, s.batch_bytes);
    s.batch_ms := coalesce(alter_source.batch_ms, s.batch_ms);
    s.start_from := coalesce(alter_source.start_from, s.start_from);
    s.topic := coalesce(alter_source.topic, s.topic);
    s.archive := coalesce(alter_source.archive, s.archive);
    IF alter_source.partitions IS NOT NULL THEN
        s.partitions := pipeline._check_partitions(alter_source.partitions);
    END IF;
    PERFORM pipeline._check_source_numbers(s.on_error, s.consumers, s.batch_rows,
                                           s.batch_bytes, s.batch_ms);
    col := pipeline._check_source(s.server, s.topic, s.target::regclass, s.format,
                                  coalesce(alter_source.target_column,
                                           CASE WHEN alter_source.format IS NULL THEN s.target_column END),
                                  s.properties, s.start_from);
    IF alter_source.topic IS NOT NULL AND alter_source.topic <> (SELECT t.topic FROM pipeline.sources t WHERE t.name = s.name) THEN
        -- offsets belong to the old topic
        DELETE FROM pipeline.source_offsets o WHERE o.source = s.name;
    END IF;
    UPDATE pipeline.sources AS u
       SET format = s.format, on_error = s.on_error, properties = s.properties,
           target_column = col, consumers = s.consumers, batch_rows = s.batch_rows,
           batch_bytes = s.batch_bytes, batch_ms = s.batch_ms, start_from = s.start_from,
           topic = s.topic, archive = s.archive, partitions = s.partitions,
           config_version = u.config_version + 1
     WHERE u.name = s.name;
    IF alter_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(s.name, s.target::regclass, alter_source.expect);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.alter_source(text, text, text, jsonb, name, integer, integer, integer, integer, text, text, boolean, jsonb, text) IS
'changes a source''s options (NULL keeps one); its consumers restart with them; expect replaces its expectations at ingestion (''[]'': none); partitions: the part read on this server (''all'': every one)';

-- The partitions and offsets of a JSON object '{"0": 1200}' or
-- '{"orders:0": 1200}' (a key without a topic: the source's only topic).
CREATE FUNCTION pipeline._offsets_from_jsonb(source_name text, source_topic text, offsets jsonb,
                                             OUT topic text, OUT partition integer, OUT next_offset bigint)
RETURNS SETOF record
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    o jsonb;
    p text;
BEGIN
    IF jsonb_typeof(offsets) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'offsets must be a JSON object of partition: offset'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{"0": 1200, "3": 0}'', or ''{"orders:0": 1200}'' for a source of several topics.';
    END IF;
    FOR k, o IN SELECT key, value FROM jsonb_each(offsets) LOOP
        IF k ~ ':' THEN
            topic := split_part(k, ':', 1);
            p := split_part(k, ':', 2);
        ELSE
            topic := source_topic;
            p := k;
        END IF;
        IF topic ~ '[,^]' THEN
            RAISE EXCEPTION 'source "%" reads several topics: name the topic of partition %', source_name, k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use keys like ''topic:partition''.';
        END IF;
        IF p !~ '^\d{1,9}$' OR jsonb_typeof(o) <> 'number' OR o::text !~ '^\d{1,18}$' THEN
            RAISE EXCEPTION 'invalid partition offset "%": %', k, o
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Partitions and offsets are non-negative integers.';
        END IF;
        partition := p::integer;
        next_offset := o::text::bigint;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._offsets_from_jsonb(text, text, jsonb) IS
'the (topic, partition, next offset) of a JSON object of partition: offset, with clear errors';

CREATE OR REPLACE FUNCTION pipeline.reset_offsets(name text, offsets jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    j record;
BEGIN
    s := pipeline._source_for_update(reset_offsets.name);
    FOR j IN SELECT * FROM pipeline._offsets_from_jsonb(s.name, s.topic, reset_offsets.offsets) LOOP
        INSERT INTO pipeline.source_offsets AS so (source, topic, partition, next_offset)
        VALUES (s.name, j.topic, j.partition, j.next_offset)
        ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = excluded.next_offset,
                                                             updated_at = now();
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
END
$$;
COMMENT ON FUNCTION pipeline.reset_offsets(text, jsonb) IS
'sets the next offset of the given partitions, e.g. ''{"0": 1200}'' or ''{"orders:0": 1200}''; others keep theirs';

------------------------------------------------------------------------
-- Hand-over: moving partitions of a source between PostgreSQL servers
-- (docs/scale-out.md).  export_offsets on the server that reads them
-- marks them 'exported' and returns their stored offsets; import_offsets
-- on the server that takes them over stores those offsets marked
-- 'imported'.  Each runs in one transaction with the source's row locked
-- FOR UPDATE, so it waits for a batch in flight; its new config_version
-- restarts the consumers, which then read (or no longer read) the moved
-- partitions.  A batch of a consumer that still reads an exported
-- partition is refused by the mark (consumer.c), a restart does not read
-- it again (the mark outlives the part), and an import never goes back
-- behind what this server already ingested.  Only the source's owner
-- moves offsets (like reset_offsets: an administrator could otherwise
-- lose or double messages), and row-level security hides other roles'
-- sources altogether.
------------------------------------------------------------------------
CREATE FUNCTION pipeline._source_for_handover(source_name text, what text)
RETURNS pipeline.sources
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
BEGIN
    s := pipeline._source_for_update(source_name);
    IF s.owner_oid IS DISTINCT FROM pipeline._current_role_oid()
       AND NOT coalesce((SELECT r.rolsuper FROM pg_roles r
                          WHERE r.oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()), false) THEN
        RAISE EXCEPTION 'only the owner of source "%" can % its offsets', s.name, what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Handing partitions over moves stored offsets, which decide what is loaded exactly once.',
                  HINT = format('Run it as role %I, the source''s owner.', s.owner);
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION pipeline._source_for_handover(text, text) IS
'locks a source row for export_offsets or import_offsets; raises unless the caller owns it (or is a superuser)';

CREATE FUNCTION pipeline.export_offsets(name text, partitions text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    item text;
    t text;
    p text;
    r record;
    found_one boolean;
    result jsonb := '{}';
BEGIN
    s := pipeline._source_for_handover(export_offsets.name, 'export');
    IF export_offsets.partitions IS NULL OR btrim(export_offsets.partitions) = '' THEN
        RAISE EXCEPTION 'no partition to export given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name them as a list: ''2'', ''2,5'', or ''orders:2'' for a source of several topics.';
    END IF;
    FOREACH item IN ARRAY string_to_array(export_offsets.partitions, ',') LOOP
        item := btrim(item);
        IF item ~ ':' THEN
            t := split_part(item, ':', 1);
            p := split_part(item, ':', 2);
        ELSE
            t := NULL;
            p := item;
        END IF;
        IF p !~ '^\d{1,9}$' THEN
            RAISE EXCEPTION 'invalid partition "%"', item
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name them as a list: ''2'', ''2,5'', or ''orders:2'' for a source of several topics.';
        END IF;
        found_one := false;
        FOR r IN SELECT o.topic, o.partition, o.next_offset, o.handover
                   FROM pipeline.source_offsets o
                  WHERE o.source = s.name AND o.partition = p::integer AND (t IS NULL OR o.topic = t)
                  ORDER BY o.topic
                    FOR UPDATE LOOP
            IF NOT pipeline._partition_read_here(s.partitions, r.partition, r.handover) THEN
                RAISE EXCEPTION 'source "%" does not read partition % of topic "%" on this server',
                        s.name, r.partition, r.topic
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = CASE WHEN r.handover = 'exported'
                                        THEN format('It was handed over at offset %s.', r.next_offset)
                                        ELSE format('Its partitions here are %s.', coalesce(s.partitions, 'all')) END,
                          HINT = 'Export a partition on the server that reads it.';
            END IF;
            UPDATE pipeline.source_offsets o SET handover = 'exported', updated_at = now()
             WHERE o.source = s.name AND o.topic = r.topic AND o.partition = r.partition;
            result := result || jsonb_build_object(r.topic || ':' || r.partition, r.next_offset);
            found_one := true;
        END LOOP;
        IF NOT found_one THEN
            RAISE EXCEPTION 'source "%" has no stored offset for partition %', s.name, item
                USING ERRCODE = 'undefined_object',
                      DETAIL = 'A partition is handed over from the server whose consumer has assigned it.',
                      HINT = format('SELECT * FROM pipeline.source_partitions WHERE source = %L lists them.', s.name);
        END IF;
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
    RETURN result;
END
$$;
COMMENT ON FUNCTION pipeline.export_offsets(text, text) IS
'hands partitions of a source (a list: ''2,5'') over to another server: stops reading them here and returns their stored offsets for import_offsets there';

CREATE FUNCTION pipeline.import_offsets(name text, offsets jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    j record;
    cur record;
    topic_wanted boolean;
BEGIN
    s := pipeline._source_for_handover(import_offsets.name, 'import');
    IF import_offsets.offsets = '{}' THEN
        RAISE EXCEPTION 'no partition to import given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass what export_offsets returned on the server that read them.';
    END IF;
    FOR j IN SELECT * FROM pipeline._offsets_from_jsonb(s.name, s.topic, import_offsets.offsets)
              ORDER BY 1, 2 LOOP
        topic_wanted := CASE WHEN left(s.topic, 1) = '^' THEN j.topic ~ s.topic AND left(j.topic, 1) <> '_'
                             ELSE j.topic = ANY (string_to_array(s.topic, ',')) END;
        IF NOT topic_wanted THEN
            RAISE EXCEPTION 'source "%" does not read topic "%"', s.name, j.topic
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Its topic is %s.', s.topic);
        END IF;
        SELECT o.next_offset, o.handover INTO cur
          FROM pipeline.source_offsets o
         WHERE o.source = s.name AND o.topic = j.topic AND o.partition = j.partition
           FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO pipeline.source_offsets (source, topic, partition, next_offset, handover)
            VALUES (s.name, j.topic, j.partition, j.next_offset, 'imported');
            CONTINUE;
        END IF;
        IF pipeline._partition_read_here(s.partitions, j.partition, cur.handover) THEN
            RAISE EXCEPTION 'source "%" already reads partition % of topic "%" on this server',
                    s.name, j.partition, j.topic
                USING ERRCODE = 'object_in_use',
                      DETAIL = format('Its stored next offset is %s.', cur.next_offset),
                      HINT = 'Import only partitions this server does not read: give the source partitions without them (or ''none'').';
        END IF;
        IF cur.next_offset > j.next_offset THEN
            -- a stale hand-over: this server already ingested past it
            RAISE EXCEPTION 'offset % of partition % of topic "%" is behind source "%" on this server',
                    j.next_offset, j.partition, j.topic, s.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('This server already ingested up to offset %s; importing %s would load offsets %s to %s a second time.',
                                      cur.next_offset, j.next_offset, j.next_offset, cur.next_offset - 1),
                      HINT = 'Import the offsets that the last export of the partition returned.';
        END IF;
        UPDATE pipeline.source_offsets o
           SET next_offset = j.next_offset, handover = 'imported', high_watermark = NULL, updated_at = now()
         WHERE o.source = s.name AND o.topic = j.topic AND o.partition = j.partition;
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
END
$$;
COMMENT ON FUNCTION pipeline.import_offsets(text, jsonb) IS
'takes partitions of a source over from another server, from the offsets export_offsets returned there; refuses offsets behind what this server ingested';

CREATE OR REPLACE VIEW pipeline.source_partitions WITH (security_invoker = true) AS
SELECT o.source,
       o.topic,
       o.partition,
       o.next_offset,
       o.high_watermark,
       greatest(o.high_watermark - o.next_offset, 0) AS lag,
       o.updated_at AS last_batch_at,
       o.handover
  FROM pipeline.source_offsets o;
COMMENT ON COLUMN pipeline.source_partitions.handover IS
'exported: handed over to another server (not read here); imported: taken over from one; NULL: neither';

-- ==== scheduler: runners take the next attempt (helper R) ====

-- A runner that recorded its attempt takes the next one itself, in the
-- same transaction, when the oldest queued attempt (the one the
-- coordinator would dispatch next) belongs to a DAG of the runner's role:
-- marks it running as _scheduler_dispatch does, then starts it with
-- _task_run_start.  No row when the oldest is another role's (the runner
-- exits; the coordinator starts a runner for that role) or when the role
-- could no longer connect (LOGIN, CONNECT, datallowconn), as a new runner
-- could not.
CREATE FUNCTION pipeline._task_run_next(runner_role oid)
RETURNS TABLE (task_run_id bigint, label text, command text, sensor text, timeout_ms bigint,
               poke_interval_ms bigint, logical_date timestamptz, data_interval_end timestamptz,
               elapsed_ms bigint, pokes integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
    what text;
BEGIN
    WITH pick AS (
        SELECT q.task_run_id FROM pipeline.task_runs q
         WHERE q.status = 'queued'
         ORDER BY q.scheduled_at, q.task_run_id
         LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE pipeline.task_runs tr SET status = 'running', pid = NULL
      FROM pick, pipeline.dags d, pg_roles a, pg_database db
     WHERE tr.task_run_id = pick.task_run_id
       AND d.dag_id = tr.dag_id AND d.owner_oid = runner_role
       AND a.oid = runner_role AND a.rolcanlogin
       AND db.datname = current_database() AND db.datallowconn
       AND has_database_privilege(runner_role, db.oid, 'CONNECT')
    RETURNING tr.task_run_id, tr.dag || '.' || tr.task INTO id, what;
    IF id IS NOT NULL THEN
        RETURN QUERY SELECT id, what, s.* FROM pipeline._task_run_start(id) s;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._task_run_next(oid) IS
'scheduler: a runner that finished an attempt takes the oldest queued one when it is its role''s, marked running and started';
REVOKE ALL ON FUNCTION pipeline._task_run_next(oid) FROM PUBLIC;
