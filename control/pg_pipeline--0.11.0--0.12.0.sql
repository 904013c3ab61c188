-- pg_pipeline 0.11.0 -> 0.12.0: window aggregates in mode append (issue
-- 15: writers append their statements' partials, the maintainer folds
-- them, readers see both through the result view).
--
-- What changes for SQL: pipeline.windows.mode accepts 'append'; the
-- comments that list the modes; pipeline.status counts an append window's
-- waiting partials as it counts an async window's delta.

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.12.0'" to load this file. \quit

ALTER TABLE pipeline.windows DROP CONSTRAINT windows_mode_check,
    ADD CONSTRAINT windows_mode_check CHECK (mode IN ('sync', 'async', 'append'));
COMMENT ON COLUMN pipeline.windows.delta_table IS
'mode async: the delta table the maintainer merges; mode append: the partials table the maintainer folds';
COMMENT ON COLUMN pipeline.windows.mode IS 'sync, async or append';
COMMENT ON COLUMN pipeline.window_status.mode IS 'sync, async or append';
COMMENT ON COLUMN pipeline.window_status.pending_delta IS
'async: rows waiting in the delta table; append: partial rows waiting to be folded; 0 for sync';
COMMENT ON FUNCTION pipeline.flush_window(regclass) IS
'async windows: merges the waiting delta now; append windows: folds the waiting partials; in this transaction (all windows when NULL); returns the rows merged';

COMMENT ON COLUMN pipeline.windows.result IS 'the relation users read (a table, or a view for emit on_close and mode append)';
COMMENT ON COLUMN pipeline.windows.state_table IS 'where the rows are kept (= result for on_update, but in mode append)';
COMMENT ON COLUMN pipeline.windows.maintained_at IS 'async: the last merge by the maintainer or flush_window; append: the last fold';
COMMENT ON COLUMN pipeline.windows.last_error IS
'async: the last error of a merge by the maintainer; append: of a fold (cleared by the next successful one)';
COMMENT ON COLUMN pipeline.window_status.maintained_at IS 'async: the last merge; append: the last fold';
COMMENT ON COLUMN pipeline.window_status.last_error IS 'async: the last failed merge; append: the last failed fold';

-- pipeline.status: the window part reads mode IN ('async', 'append')
CREATE OR REPLACE VIEW pipeline.status WITH (security_invoker = true) AS
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
-- async ones by the maintainer worker, from their delta table; append ones
-- by the writers' partials, which the maintainer folds.
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
                 CASE WHEN wi.mode IN ('async', 'append') THEN
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
  LEFT JOIN LATERAL (SELECT CASE WHEN wi.mode IN ('async', 'append') THEN pipeline._rows_waiting(wi.delta_table) END AS waiting) d ON true
 CROSS JOIN LATERAL (
        SELECT CASE
                   WHEN wi.last_error IS NOT NULL THEN 'failing'
                   WHEN wi.mode IN ('async', 'append') AND env.problem IS NOT NULL THEN 'not running'
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
