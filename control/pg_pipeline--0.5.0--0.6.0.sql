-- pg_pipeline 0.5.0 -> 0.6.0: structure and lifecycle (issue 11).
--
-- What changes for SQL:
--   * supervision: pipeline.sink_status says "error" while its worker
--     cannot publish (an error newer than its last published batch, in the
--     last minute: the rule of pipeline.source_status), and
--     last_publish_at is null until a delivery was confirmed (it showed the
--     sink's creation time).
--   * scheduler: errors kept whole (SQLSTATE, message, detail, hint,
--     context) in task_runs and windows; the tick takes now; runs wait for
--     tasks; re-created watched tables are watched again (the section's
--     own header lists every object).
--   * window: pipeline._window_fix_dependencies(integer) (C, superusers only):
--     records a window's dependencies in pg_depend, or removes a window
--     that lost a relation; called here for every existing window;
--     and pipeline.window_counts(pipeline.windows): NULL counts instead of an
--     error for a relation that no longer exists.
--   * kafka: sources and sinks take a name, and are locked, dropped,
--     paused and resumed, by shared functions (pipeline._kafka_object_*);
--     _sink_for_update goes; the comment on pipeline.dead_letters names
--     what reads a payload.
--   * review: pipeline._rewatch adopts a re-created watched table only
--     when the DAG's owner owns it or its schema (docs/security.md, 0.6.0).

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.6.0'" to load this file. \quit

-- ==== supervision: sink_status as source_status ====

CREATE OR REPLACE VIEW pipeline.sink_status AS
SELECT s.name AS sink,
       s.topic,
       CASE
           WHEN s.error IS NOT NULL THEN 'stopped'
           WHEN s.paused THEN 'paused'
           WHEN w.state = 'running' AND NOT w.failing THEN 'running'
           WHEN w.state = 'restarting' OR w.failing THEN 'error'
           ELSE 'starting'
       END AS state,
       (SELECT count(*) FROM pipeline.outbox o WHERE o.sink = s.name) AS waiting,
       p.published,
       p.last_seq,
       CASE WHEN p.published > 0 THEN p.updated_at END AS last_publish_at,
       coalesce(s.error, w.last_error) AS last_error
  FROM pipeline.sinks s
  LEFT JOIN pipeline.sink_progress p ON p.sink = s.name
  LEFT JOIN LATERAL (
        SELECT wk.state, wk.last_error,
               coalesce(wk.last_error_at > coalesce(wk.last_batch_at, '-infinity')
                        AND wk.last_error_at > now() - interval '1 minute', false) AS failing
          FROM pipeline.get_workers() wk
         WHERE wk.kind = 'sink' AND wk.label = s.name LIMIT 1) w ON true;
-- CREATE OR REPLACE VIEW resets the options it is not given
ALTER VIEW pipeline.sink_status SET (security_invoker = true);
COMMENT ON VIEW pipeline.sink_status IS
'per sink: state (error while it cannot publish), messages waiting, published, last confirmed publish, last error';

-- ==== scheduler: errors kept whole, a tick that takes now, watched tables re-created, runs wait for tasks ====
--
-- What changes for SQL (issue 11, items 3 and 4 and two scheduler bugs):
--   * task_runs: + error_detail, error_hint, error_context (beside error and
--     sqlstate): a failed attempt keeps its error whole;
--   * _task_run_finish(bigint, text, text, text, bigint, timestamptz) is
--     replaced by _task_run_finish(..., err_detail, err_hint, err_context,
--     at): the three fields, and the time of the end (default the clock);
--   * jobs: + last_sqlstate, last_error_detail, last_error_hint,
--     last_error_context;
--   * windows: + last_error_sqlstate, last_error_detail, last_error_hint,
--     last_error_context (the maintainer writes them beside last_error;
--     cleared with it by the new trigger error_cleared,
--     _window_error_cleared()); _window_frozen() and the guard trigger of
--     windows let them change; window_status shows them;
--   * the tick is _scheduler_tick(boolean, boolean, timestamptz): the
--     current time is an argument, nothing in it reads a clock (a test
--     drives it at any instant: sql/scheduler_tick.sql); runs and attempts
--     it makes get created_at, started_at, scheduled_at and ended_at from
--     it; _scheduler_tick(boolean, boolean) stays, as the tick at the
--     current time;
--   * a DAG without tasks gets no run: no scheduled fire (it waits, its
--     next_fire_at kept, so catch-up starts from start_date once tasks
--     come) and no data-triggered run; a run queued by hand for it waits,
--     queued, for tasks;
--   * data-aware DAGs keep the qualified names of the tables they watch
--     (dags.trigger_on_names, by the new trigger watch_names,
--     _dag_watch_names()) and what keeps them from watching
--     (dags.watch_problem): a watched table dropped and created again under
--     its name is watched again (new helpers _qualified_name(regclass),
--     _rewatch(pipeline.dags)); dag_status: + watching, watch_problem;
--   * backfill() and clear() run again a finished run that ran no task
--     (0.5.0 made such runs for a DAG whose tasks came after its first
--     fire), through the new _run_again(bigint).

------------------------------------------------------------------------
-- Errors kept whole: SQLSTATE, message, detail, hint and context
------------------------------------------------------------------------
ALTER TABLE pipeline.task_runs
    ADD COLUMN error_detail text,
    ADD COLUMN error_hint text,
    ADD COLUMN error_context text;
COMMENT ON COLUMN pipeline.task_runs.error IS 'why the attempt failed: the error''s message';
COMMENT ON COLUMN pipeline.task_runs.sqlstate IS 'the SQLSTATE of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_detail IS 'the DETAIL of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_hint IS 'the HINT of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_context IS 'the CONTEXT of the error the attempt failed with (where it was raised)';

DROP FUNCTION pipeline._task_run_finish(bigint, text, text, text, bigint, timestamptz);

-- Record the outcome of an attempt that is running; NOTIFY a failure (its
-- SQLSTATE, never its text: every listener of the database receives it).
CREATE FUNCTION pipeline._task_run_finish(id bigint, new_status text, err text, err_state text,
                                          nrows bigint, next_poke timestamptz DEFAULT NULL,
                                          err_detail text DEFAULT NULL, err_hint text DEFAULT NULL,
                                          err_context text DEFAULT NULL, at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tr pipeline.task_runs;
    t pipeline.tasks;
BEGIN
    UPDATE pipeline.task_runs SET
        status = new_status,
        ended_at = CASE WHEN new_status = 'scheduled' THEN NULL ELSE coalesce(at, clock_timestamp()) END,
        scheduled_at = CASE WHEN new_status = 'scheduled' THEN next_poke ELSE scheduled_at END,
        error = err, sqlstate = err_state, error_detail = err_detail, error_hint = err_hint,
        error_context = err_context, rows_affected = nrows
     WHERE task_run_id = id AND status = 'running'
    RETURNING * INTO tr;
    IF FOUND AND new_status = 'failed' THEN
        SELECT * INTO t FROM pipeline.tasks WHERE dag_id = tr.dag_id AND name = tr.task;
        PERFORM pg_notify('pipeline_scheduler', json_build_object(
            'event', 'task_failed', 'dag', tr.dag, 'task', tr.task, 'run_id', tr.run_id,
            'task_run_id', tr.task_run_id, 'attempt', tr.attempt,
            'will_retry', tr.retry < coalesce(t.retries, 0),
            'logical_date', tr.logical_date, 'sqlstate', tr.sqlstate,
            'owner', (SELECT owner FROM pipeline.dags WHERE dag_id = tr.dag_id))::text);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._task_run_finish(bigint, text, text, text, bigint, timestamptz, text, text, text, timestamptz) IS
'scheduler: records the outcome of a running attempt (the error''s message, SQLSTATE, detail, hint and context; at: when, default now) and NOTIFYs pipeline_scheduler of a failure';
REVOKE ALL ON FUNCTION pipeline._task_run_finish(bigint, text, text, text, bigint, timestamptz, text, text, text, timestamptz)
    FROM PUBLIC;

CREATE OR REPLACE VIEW pipeline.jobs WITH (security_invoker = true) AS
SELECT d.name, d.schedule, d.timezone, t.command, d.enabled, d.owner,
       d.next_fire_at AS next_run_at,
       l.status AS last_status, l.started_at AS last_started_at,
       l.duration AS last_duration, l.error AS last_error,
       l.sqlstate AS last_sqlstate, l.error_detail AS last_error_detail,
       l.error_hint AS last_error_hint, l.error_context AS last_error_context
  FROM pipeline.dags d
  JOIN pipeline.tasks t ON t.dag_id = d.dag_id
  LEFT JOIN LATERAL (SELECT tr.status, tr.started_at, tr.duration, tr.error, tr.sqlstate,
                            tr.error_detail, tr.error_hint, tr.error_context
                       FROM pipeline.task_runs tr
                      WHERE tr.dag_id = d.dag_id AND tr.started_at IS NOT NULL
                      ORDER BY tr.started_at DESC LIMIT 1) l ON true
 WHERE d.is_job;

-- A window's maintenance error, kept whole by the maintainer.
ALTER TABLE pipeline.windows
    ADD COLUMN last_error_sqlstate text,
    ADD COLUMN last_error_detail text,
    ADD COLUMN last_error_hint text,
    ADD COLUMN last_error_context text;
COMMENT ON COLUMN pipeline.windows.last_error_sqlstate IS 'the SQLSTATE of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_detail IS 'the DETAIL of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_hint IS 'the HINT of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_context IS 'the CONTEXT of last_error (where it was raised)';

-- maintenance that succeeds sets last_error to NULL: the rest goes with it
CREATE FUNCTION pipeline._window_error_cleared()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.last_error IS NULL THEN
        NEW.last_error_sqlstate := NULL;
        NEW.last_error_detail := NULL;
        NEW.last_error_hint := NULL;
        NEW.last_error_context := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._window_error_cleared() IS
'trigger: a window aggregate''s error cleared clears its SQLSTATE, detail, hint and context too';
CREATE TRIGGER error_cleared BEFORE UPDATE OF last_error ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._window_error_cleared();

CREATE OR REPLACE FUNCTION pipeline._window_frozen()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mutable text[] := '{owner,maintained_at,last_error,last_error_at,last_error_sqlstate,'
                      'last_error_detail,last_error_hint,last_error_context}';
BEGIN
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'the definition of window aggregate "%" cannot be updated', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change a window with pipeline.alter_window().';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER guard ON pipeline.windows;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('window aggregate',
        'maintained_at', 'last_error', 'last_error_at', 'last_error_sqlstate',
        'last_error_detail', 'last_error_hint', 'last_error_context');

CREATE OR REPLACE VIEW pipeline.window_status WITH (security_invoker = true) AS
SELECT w.name, w.source, w.kind, w.size, w.slide, w.group_by, w.mode, w.emit,
       w.late_rows AS late_policy, w.allowed_lateness, p.max_event_time,
       p.max_event_time - w.allowed_lateness AS watermark,
       c.open_windows, c.final_windows, p.late_rows,
       c.pending_delta, w.maintained_at, w.last_error, w.last_error_at,
       w.last_error_sqlstate, w.last_error_detail, w.last_error_hint, w.last_error_context
  FROM pipeline.windows w, LATERAL pipeline.window_counts(w) c,
       LATERAL (SELECT max(g.max_event_time) AS max_event_time, coalesce(sum(g.late), 0)::bigint AS late_rows
                  FROM pipeline.window_progress g WHERE g.window_id = w.id) p;

------------------------------------------------------------------------
-- Watched tables by OID and by name
------------------------------------------------------------------------

-- A data-aware DAG watched its tables by OID alone: once a table was
-- dropped and created again (as docs/kafka.md recommends to recover a
-- source), the DAG watched a table that no longer existed and never ran
-- again, silently.  The tables' qualified names are now kept beside the
-- OIDs (following renames); a scheduler pass finds a dropped table's name
-- created again and watches the new table, if the DAG's owner could have
-- named it in create_dag (SELECT on it, and its trigger there or the right
-- to put it: owner or TRIGGER).  Its tasks name their tables anyway: the
-- table they read is the new one.
ALTER TABLE pipeline.dags
    ADD COLUMN trigger_on_names text[],
    ADD COLUMN watch_problem text;
COMMENT ON COLUMN pipeline.dags.trigger_on_names IS
'the qualified names of the tables trigger_on watches, in its order (a table dropped and created again under its name is watched again)';
COMMENT ON COLUMN pipeline.dags.watch_problem IS
'why the DAG does not watch all of trigger_on''s tables (a table dropped, not readable by the owner), as the scheduler last saw it';

CREATE FUNCTION pipeline._qualified_name(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%I.%I', n.nspname, c.relname)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = rel
$$;
COMMENT ON FUNCTION pipeline._qualified_name(regclass) IS
'schema.name of a table, quoted as needed (NULL when no table has that OID)';

-- Runs before the other triggers' checks see the row: the names of the
-- tables that exist; a dropped table's position keeps the name it had.
CREATE FUNCTION pipeline._dag_watch_names()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.trigger_on IS NULL THEN
        NEW.trigger_on_names := NULL;
        NEW.watch_problem := NULL;
        RETURN NEW;
    END IF;
    NEW.trigger_on_names := ARRAY(
        SELECT coalesce(pipeline._qualified_name(w.rel), w.name)
          FROM unnest(NEW.trigger_on, NEW.trigger_on_names) WITH ORDINALITY w(rel, name, i)
         WHERE w.rel IS NOT NULL
         ORDER BY w.i);
    IF TG_OP = 'UPDATE' AND NOT EXISTS (
        SELECT 1 FROM unnest(NEW.trigger_on) r WHERE pipeline._qualified_name(r) IS NULL) THEN
        NEW.watch_problem := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._dag_watch_names() IS
'trigger: keeps a DAG''s trigger_on_names the qualified names of its trigger_on tables';
CREATE TRIGGER watch_names BEFORE INSERT OR UPDATE OF trigger_on ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._dag_watch_names();

UPDATE pipeline.dags d SET trigger_on_names = ARRAY(
        SELECT pipeline._qualified_name(w.rel)
          FROM unnest(d.trigger_on) WITH ORDINALITY w(rel, i) ORDER BY w.i)
 WHERE d.trigger_on IS NOT NULL;

-- A scheduler pass: the tables of DAG d whose OID is gone are looked up by
-- name and watched again where the DAG's owner may; a rename is followed.
-- A table watched again counts as new data (it was filled, perhaps, before
-- its trigger was put back): the DAG runs once for it.  Returns whether a
-- table is still not watched (watch_problem says why).
CREATE FUNCTION pipeline._rewatch(d pipeline.dags)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rels regclass[] := d.trigger_on;
    names text[] := d.trigger_on_names;
    problems text[] := '{}';
    adopted boolean := false;
    rel regclass;
    name text;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(d.trigger_on), 0) LOOP
        name := pipeline._qualified_name(d.trigger_on[i]);
        IF name IS NOT NULL THEN
            names[i] := name;           -- it exists (renamed, perhaps)
            CONTINUE;
        END IF;
        name := names[i];
        rel := CASE WHEN name IS NOT NULL THEN to_regclass(name) END;
        IF rel IS NULL THEN
            problems := problems || format('table %s was dropped; it is watched again once created again',
                                           coalesce(name, 'with OID ' || d.trigger_on[i]::oid));
        ELSIF (SELECT c.relpersistence = 't' OR c.relkind NOT IN ('r', 'p')
                 FROM pg_class c WHERE c.oid = rel) THEN
            problems := problems || format('%s was created again, but not as a table', name);
        ELSIF NOT coalesce(has_table_privilege(d.owner_oid, rel, 'SELECT'), false) THEN
            problems := problems || format('table %s was created again, but the DAG''s owner cannot read it', name);
        ELSIF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'pipeline_dag_data')
              AND NOT coalesce(pg_has_role(d.owner_oid, (SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE')
                               OR has_table_privilege(d.owner_oid, rel, 'TRIGGER'), false) THEN
            problems := problems || format('table %s was created again, but the DAG''s owner may not put a trigger on it', name);
        ELSE
            BEGIN
                -- never wait for a lock in a pass: try again at the next
                EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE NOWAIT', rel);
                PERFORM pipeline._watch(rel);
                rels[i] := rel;
                adopted := true;
            EXCEPTION WHEN lock_not_available THEN
                problems := problems || format('table %s was created again and is watched once it is not locked', name);
            END;
        END IF;
    END LOOP;
    UPDATE pipeline.dags SET trigger_on = rels, trigger_on_names = names,
           watch_problem = nullif(array_to_string(problems, '; '), ''),
           data_pending = data_pending OR (adopted AND data_seen IS NOT NULL)
     WHERE dag_id = d.dag_id;
    RETURN cardinality(problems) > 0;
END
$$;
COMMENT ON FUNCTION pipeline._rewatch(pipeline.dags) IS
'scheduler: watches again the tables of a data-aware DAG that were dropped and created again under their names, follows renames; returns whether one is still not watched';

CREATE OR REPLACE VIEW pipeline.dag_status WITH (security_invoker = true) AS
SELECT d.name, d.schedule, d.timezone, d.enabled, d.owner, d.next_fire_at AS next_run_at,
       (SELECT count(*) FROM pipeline.dag_runs r WHERE r.dag_id = d.dag_id AND r.status = 'queued') AS queued_runs,
       (SELECT count(*) FROM pipeline.dag_runs r WHERE r.dag_id = d.dag_id AND r.status = 'running') AS running_runs,
       l.logical_date AS last_logical_date, l.status AS last_status, l.ended_at AS last_ended_at,
       w.watching,
       coalesce(d.watch_problem, w.dropped) AS watch_problem
  FROM pipeline.dags d
  LEFT JOIN LATERAL (SELECT r.logical_date, r.status, r.ended_at FROM pipeline.dag_runs r
                      WHERE r.dag_id = d.dag_id AND r.status IN ('success', 'failed')
                      ORDER BY r.ended_at DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
        SELECT array_agg(coalesce(pipeline._qualified_name(t.rel), t.name) ORDER BY t.i) AS watching,
               string_agg(format('table %s was dropped; it is watched again once created again',
                                 coalesce(t.name, 'with OID ' || t.rel::oid)), '; ' ORDER BY t.i)
                   FILTER (WHERE pipeline._qualified_name(t.rel) IS NULL) AS dropped
          FROM unnest(d.trigger_on, d.trigger_on_names) WITH ORDINALITY t(rel, name, i)
         WHERE t.rel IS NOT NULL) w ON true;

------------------------------------------------------------------------
-- The tick takes now; runs wait for tasks
------------------------------------------------------------------------
-- One pass of the state machine at instant "now" (the coordinator passes
-- the clock; a test any instant); returns when it next has something to
-- do.  Reads no clock itself.
CREATE FUNCTION pipeline._scheduler_tick(recover boolean, cleanup boolean, now timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wake timestamptz;
    dg pipeline.dags;
    f timestamptz;
    last_fire timestamptz;
    n integer;
    q record;
    v bigint;
    fin record;
    unwatched boolean;
BEGIN
    -- 0. after a restart, nothing is running any more
    IF recover THEN
        PERFORM pipeline._task_run_finish(tr.task_run_id, 'failed',
                    'the server or the scheduler restarted while the task ran', '57P01', NULL,
                    at => now)
           FROM pipeline.task_runs tr WHERE tr.status = 'running';
    END IF;

    -- 1. scheduled fires that are due: every missed one with catch-up,
    --    else only the latest (and not while a run of the DAG still waits).
    --    A DAG without tasks does not fire: its fires wait for its tasks.
    FOR dg IN SELECT d.* FROM pipeline.dags d
              WHERE d.enabled AND d.next_fire_at <= now
                AND EXISTS (SELECT 1 FROM pipeline.tasks t WHERE t.dag_id = d.dag_id)
              ORDER BY d.next_fire_at FOR UPDATE OF d SKIP LOCKED LOOP
        last_fire := NULL;
        IF dg.catchup THEN
            f := dg.next_fire_at;
            n := 0;
            WHILE f <= now AND (dg.end_date IS NULL OR f <= dg.end_date) AND n < 1000 LOOP
                INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, created_at)
                VALUES (dg.dag_id, dg.name, 'scheduled', pipeline.cron_prev(dg.schedule, f, dg.timezone), f, now)
                ON CONFLICT DO NOTHING;
                last_fire := f;
                f := pipeline.cron_next(dg.schedule, f, dg.timezone);
                n := n + 1;
            END LOOP;
        ELSE
            f := pipeline.cron_prev(dg.schedule, now + interval '1 microsecond', dg.timezone);
            last_fire := f;
            IF (dg.end_date IS NULL OR f <= dg.end_date)
               AND NOT EXISTS (SELECT 1 FROM pipeline.dag_runs r
                                WHERE r.dag_id = dg.dag_id AND r.status = 'queued') THEN
                INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, created_at)
                VALUES (dg.dag_id, dg.name, 'scheduled', pipeline.cron_prev(dg.schedule, f, dg.timezone), f, now)
                ON CONFLICT DO NOTHING;
            END IF;
            f := pipeline.cron_next(dg.schedule, now, dg.timezone);
        END IF;
        IF dg.end_date IS NOT NULL AND f > dg.end_date THEN
            f := NULL;
        END IF;
        UPDATE pipeline.dags SET next_fire_at = f, last_fire_at = coalesce(last_fire, last_fire_at)
         WHERE dag_id = dg.dag_id;
    END LOOP;

    -- 2. data-aware triggers.  First the watched tables that were dropped
    --    (and perhaps created again) or renamed; while one is missing, look
    --    again every 5 seconds (nothing wakes the scheduler when a table is
    --    created)
    FOR dg IN SELECT d.* FROM pipeline.dags d
              WHERE d.trigger_on IS NOT NULL
                AND (d.watch_problem IS NOT NULL OR EXISTS (
                     SELECT 1 FROM unnest(d.trigger_on, d.trigger_on_names) w(rel, name)
                      WHERE w.rel IS NOT NULL
                        AND (w.name IS NULL OR w.name IS DISTINCT FROM pipeline._qualified_name(w.rel))))
              FOR UPDATE OF d SKIP LOCKED LOOP
        BEGIN
            unwatched := pipeline._rewatch(dg);
        EXCEPTION WHEN OTHERS THEN
            -- (a role's watched-table limit, say): said in its status, not
            -- a failed pass for every DAG
            UPDATE pipeline.dags SET watch_problem = SQLERRM WHERE dag_id = dg.dag_id;
            unwatched := true;
        END;
        IF unwatched THEN
            wake := least(wake, now + interval '5 seconds');
        END IF;
    END LOOP;

    --    Then new committed data, at most every trigger_interval
    FOR dg IN SELECT * FROM pipeline.dags WHERE enabled AND trigger_on IS NOT NULL LOOP
        v := pipeline._data_version(dg.trigger_on);
        IF dg.data_seen IS NULL THEN
            -- a new DAG: writes from now on count (0: none seen yet)
            UPDATE pipeline.dags SET data_seen = coalesce(v, 0) WHERE dag_id = dg.dag_id;
            CONTINUE;
        END IF;
        -- new data: a version not run for, or data noted before a restart
        -- (shared memory forgets the versions, the catalog does not)
        CONTINUE WHEN NOT (dg.data_pending OR (v IS NOT NULL AND v <> dg.data_seen));
        -- a DAG without tasks: the data waits for them
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pipeline.tasks t WHERE t.dag_id = dg.dag_id);
        IF dg.data_run_at IS NOT NULL AND dg.data_run_at + dg.trigger_interval > now THEN
            IF NOT dg.data_pending THEN
                UPDATE pipeline.dags SET data_pending = true, data_seen = coalesce(v, data_seen)
                 WHERE dag_id = dg.dag_id;
            END IF;
            wake := least(wake, dg.data_run_at + dg.trigger_interval);
            CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pipeline.dag_runs r WHERE r.dag_id = dg.dag_id AND r.status = 'queued') THEN
            INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end, created_at)
            VALUES (dg.dag_id, dg.name, 'data', coalesce(dg.data_run_at, dg.created_at), now, now);
        END IF;
        UPDATE pipeline.dags SET data_seen = coalesce(v, data_seen), data_run_at = now,
               data_pending = false
         WHERE dag_id = dg.dag_id;
    END LOOP;

    -- 3. a failed attempt with retries left gets a next attempt after its delay
    INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, attempt, retry, status,
                                    logical_date, scheduled_at)
    SELECT tr.run_id, tr.dag_id, tr.dag, tr.task, tr.attempt + 1, tr.retry + 1, 'scheduled',
           tr.logical_date,
           coalesce(tr.ended_at, now) + least(t.max_retry_delay,
               t.retry_delay * CASE WHEN t.retry_exponential_backoff THEN power(2, tr.retry) ELSE 1 END)
      FROM pipeline.dag_runs r
      JOIN pipeline.task_runs tr ON tr.run_id = r.run_id
      JOIN pipeline.tasks t ON t.dag_id = tr.dag_id AND t.name = tr.task
     WHERE r.status = 'running' AND tr.status = 'failed' AND tr.retry < t.retries
       AND NOT EXISTS (SELECT 1 FROM pipeline.task_runs x
                        WHERE x.run_id = tr.run_id AND x.task = tr.task AND x.attempt > tr.attempt);

    -- 4. retries and sensor pokes whose time has come are queued
    UPDATE pipeline.task_runs SET status = 'queued'
     WHERE status = 'scheduled' AND scheduled_at <= now;

    -- 5.-7. until no run starts: trigger rules, finished runs, starting runs
    LOOP
        -- 5. waiting tasks whose trigger rule is decided: queued, skipped or
        --    upstream_failed (repeated, as a decision can decide the next)
        LOOP
            WITH counted AS (
                SELECT w.task_run_id, t.trigger_rule, t.depends_on_past, w.dag_id, w.task, w.logical_date,
                       count(*) FILTER (WHERE u.status = 'success') AS ok,
                       count(*) FILTER (WHERE u.status IN ('failed', 'upstream_failed')) AS bad,
                       count(*) FILTER (WHERE u.status = 'skipped') AS skipped,
                       cardinality(t.upstream) AS total
                  FROM pipeline.task_runs w
                  JOIN pipeline.tasks t ON t.dag_id = w.dag_id AND t.name = w.task
                  LEFT JOIN pipeline._latest_attempts u ON u.run_id = w.run_id AND u.task = ANY (t.upstream)
                 WHERE w.status = 'waiting'
                 GROUP BY w.task_run_id, t.trigger_rule, t.depends_on_past, w.dag_id, w.task,
                          w.logical_date, t.upstream),
            decided AS (
                SELECT c.*, CASE c.trigger_rule
                       WHEN 'all_success' THEN CASE WHEN c.bad > 0 THEN 'upstream_failed'
                                                    WHEN c.ok + c.skipped < c.total THEN NULL
                                                    WHEN c.skipped > 0 THEN 'skipped'
                                                    ELSE 'queued' END
                       WHEN 'all_done' THEN CASE WHEN c.ok + c.bad + c.skipped < c.total THEN NULL
                                                 ELSE 'queued' END
                       WHEN 'one_failed' THEN CASE WHEN c.bad > 0 THEN 'queued'
                                                   WHEN c.ok + c.skipped < c.total THEN NULL
                                                   ELSE 'skipped' END
                       END AS decision
                  FROM counted c)
            UPDATE pipeline.task_runs tr SET
                status = x.decision,
                scheduled_at = now,
                ended_at = CASE WHEN x.decision = 'queued' THEN NULL ELSE now END
              FROM decided x
             WHERE tr.task_run_id = x.task_run_id AND x.decision IS NOT NULL
               AND (x.decision <> 'queued' OR NOT x.depends_on_past
                    OR coalesce((SELECT p.status IN ('success', 'skipped')
                                   FROM pipeline.dag_runs pr
                                   JOIN pipeline.task_runs p ON p.run_id = pr.run_id AND p.task = x.task
                                  WHERE pr.dag_id = x.dag_id AND pr.logical_date < x.logical_date
                                  ORDER BY pr.logical_date DESC, p.attempt DESC LIMIT 1), true));
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
        END LOOP;

        -- 6. DAG runs whose tasks are all done: success, or failed when a
        --    task failed (a run whose tasks were all dropped meanwhile too)
        FOR fin IN
            WITH done AS (
                SELECT r.run_id, bool_or(l.status IN ('failed', 'upstream_failed')) AS failed
                  FROM pipeline.dag_runs r LEFT JOIN pipeline._latest_attempts l ON l.run_id = r.run_id
                 WHERE r.status = 'running'
                 GROUP BY r.run_id
                HAVING bool_and(l.status IN ('success', 'failed', 'upstream_failed', 'skipped'))
                       OR count(l.task) = 0)
            UPDATE pipeline.dag_runs r SET
                status = CASE WHEN coalesce(done.failed, false) THEN 'failed' ELSE 'success' END,
                ended_at = now
              FROM done WHERE done.run_id = r.run_id
            RETURNING r.*
        LOOP
            PERFORM pg_notify('pipeline_scheduler', json_build_object(
                'event', 'dag_run_finished', 'dag', fin.dag, 'run_id', fin.run_id,
                'status', fin.status, 'run_type', fin.run_type, 'logical_date', fin.logical_date,
                'data_interval_end', fin.data_interval_end, 'started_at', fin.started_at,
                'ended_at', fin.ended_at,
                'owner', (SELECT owner FROM pipeline.dags WHERE dag_id = fin.dag_id))::text);
            IF fin.status = 'success' THEN
                DELETE FROM pipeline.dag_runs r USING pipeline.dags dd
                 WHERE r.run_id = fin.run_id AND dd.dag_id = r.dag_id AND dd.history_errors_only;
            END IF;
        END LOOP;

        -- 7. queued DAG runs start, oldest first, within max_active_runs (a run
        --    that finished may have made room); their tasks wait for upstream.
        --    A run of a DAG without tasks stays queued until it has some (in
        --    the statement that makes the attempts, so it sees the same tasks).
        --    DAG by DAG, each statement an index probe: one statement over all
        --    queued runs got cubic plans from statistics taken while idle
        n := 0;
        FOR q IN SELECT x.dag_id,
                        d.max_active_runs - (SELECT count(*) FROM pipeline.dag_runs r
                                              WHERE r.dag_id = x.dag_id AND r.status = 'running') AS room
                   FROM (SELECT DISTINCT r.dag_id FROM pipeline.dag_runs r WHERE r.status = 'queued') x
                   JOIN pipeline.dags d ON d.dag_id = x.dag_id LOOP
            CONTINUE WHEN q.room <= 0;
            WITH started AS (
                UPDATE pipeline.dag_runs r SET status = 'running', started_at = now
                 WHERE r.run_id = ANY (ARRAY(
                        SELECT c.run_id FROM pipeline.dag_runs c
                         WHERE c.dag_id = q.dag_id AND c.status = 'queued'
                           AND EXISTS (SELECT 1 FROM pipeline.tasks t WHERE t.dag_id = q.dag_id)
                         ORDER BY c.logical_date, c.run_id LIMIT q.room))
                RETURNING r.run_id, r.dag_id, r.dag, r.logical_date),
            waiting AS (
                INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, status, logical_date, scheduled_at)
                SELECT s.run_id, s.dag_id, s.dag, t.name, 'waiting', s.logical_date, now
                  FROM started s JOIN pipeline.tasks t ON t.dag_id = s.dag_id)
            SELECT n + count(*) INTO n FROM started;
        END LOOP;

        -- a burst of runs makes the statistics of the run tables wrong
        -- enough for quadratic plans in steps 5 and 6: refresh them (the
        -- cached plans are invalidated with them)
        IF n >= 100 THEN
            ANALYZE pipeline.dag_runs, pipeline.task_runs;
        END IF;

        EXIT WHEN n = 0;
    END LOOP;

    -- 8. history retention
    IF cleanup THEN
        DELETE FROM pipeline.dag_runs r USING pipeline.dags dd
         WHERE r.dag_id = dd.dag_id AND r.status IN ('success', 'failed')
           AND r.ended_at < now - dd.history_retention;
    END IF;

    -- 9. when something next falls due (a DAG without tasks: when it has some,
    --    and adding one wakes the scheduler)
    RETURN least(wake,
                 (SELECT min(d.next_fire_at) FROM pipeline.dags d
                   WHERE d.enabled AND EXISTS (SELECT 1 FROM pipeline.tasks t WHERE t.dag_id = d.dag_id)),
                 (SELECT min(scheduled_at) FROM pipeline.task_runs WHERE status = 'scheduled'));
END
$$;
COMMENT ON FUNCTION pipeline._scheduler_tick(boolean, boolean, timestamptz) IS
'scheduler: one pass of the state machine at instant now (fires, data triggers, runs, retries, trigger rules, completions, retention); returns when it next has work';
REVOKE ALL ON FUNCTION pipeline._scheduler_tick(boolean, boolean, timestamptz),
    pipeline._rewatch(pipeline.dags) FROM PUBLIC;

-- 0.5.0's tick, which read the clock itself: the tick at the current time
-- (kept for a library older than this script; revoked from PUBLIC as it was)
CREATE OR REPLACE FUNCTION pipeline._scheduler_tick(recover boolean, cleanup boolean)
RETURNS timestamptz
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline._scheduler_tick(recover, cleanup, pg_catalog.clock_timestamp()) $$;
COMMENT ON FUNCTION pipeline._scheduler_tick(boolean, boolean) IS
'scheduler: one pass of the state machine at the current time (see _scheduler_tick(boolean, boolean, timestamptz))';

------------------------------------------------------------------------
-- Runs that ran no task can be run again
------------------------------------------------------------------------

-- A finished run that ran no task (0.5.0 made such runs for a DAG whose
-- tasks came after its first fires) is queued again; true when it was.
CREATE FUNCTION pipeline._run_again(run bigint)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE pipeline.dag_runs r SET status = 'queued', started_at = NULL, ended_at = NULL
     WHERE r.run_id = run AND r.status IN ('success', 'failed')
       AND NOT EXISTS (SELECT 1 FROM pipeline.task_runs tr WHERE tr.run_id = r.run_id)
    RETURNING true
$$;
COMMENT ON FUNCTION pipeline._run_again(bigint) IS
'queues again a finished DAG run that ran no task; whether it did (NULL: no such run)';

-- backfill: as in 0.4.0, and an interval whose scheduled or backfill run
-- finished without running any task is queued again
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
    RETURN made;
END
$$;
COMMENT ON FUNCTION pipeline.backfill(text, timestamptz, timestamptz) IS
'queues a run for every data interval that has ended, whose logical date is in [from_date, to_date] and that has no scheduled or backfill run yet (or one that ran no task); returns how many';

-- clear: as in 0.4.0, and a finished run that ran no task is queued again
-- whole (it returns the number of the DAG's tasks)
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
    RETURN n;
END
$$;
COMMENT ON FUNCTION pipeline.clear(text, bigint) IS
're-runs the failed and upstream_failed tasks of a finished run (by default the latest failed run), or the whole run if it ran no task; returns how many';

-- ==== window: dependencies, as a view has them ====

-- A window's relations and triggers are recorded in pg_depend when it is
-- created (src/window/depend.c): DROP TABLE of its result, its internal
-- tables or its source is refused with PostgreSQL's own error, and with
-- CASCADE (DROP TABLE, DROP VIEW, DROP SCHEMA, DROP OWNED) the whole
-- window goes; the object access hook then deletes its catalog row.
CREATE FUNCTION pipeline._window_fix_dependencies(window_id integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline__window_fix_dependencies'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline._window_fix_dependencies(integer) IS
'records a window aggregate''s dependencies in pg_depend (windows made before 0.6.0, or restored); removes a window that lost a relation; returns whether it is kept';
REVOKE ALL ON FUNCTION pipeline._window_fix_dependencies(integer) FROM PUBLIC;

-- a relation dropped under a window made before 0.6.0 gave window_status a
-- syntax error (the regclass printed as a number): NULL counts instead
CREATE OR REPLACE FUNCTION pipeline.window_counts(w pipeline.windows,
    OUT open_windows bigint, OUT final_windows bigint, OUT pending_delta bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_class c WHERE c.oid = w.state_table) THEN
        EXECUTE format('SELECT count(DISTINCT (window_start, window_end)) FILTER (WHERE NOT is_final),
                               count(DISTINCT (window_start, window_end)) FILTER (WHERE is_final) FROM %s',
                       w.state_table)
           INTO open_windows, final_windows;
    END IF;
    IF w.delta_table IS NULL THEN
        pending_delta := 0;
    ELSIF EXISTS (SELECT FROM pg_class c WHERE c.oid = w.delta_table) THEN
        EXECUTE format('SELECT count(*) FROM %s', w.delta_table) INTO pending_delta;
    END IF;
END
$$;

-- the windows of 0.5.0 get their dependencies; one that already lost a
-- relation (a DROP TABLE that 0.5.0 accepted) is removed, with a WARNING
SELECT pipeline._window_fix_dependencies(id) FROM pipeline.windows ORDER BY id;

-- ==== review: 0.6.0 lifecycle, as an attacker sees it (docs/security.md) ====
-- Changes:
--   * pipeline._rewatch(pipeline.dags): a dropped watched table created
--     again under its name is watched again only when the DAG's owner owns
--     it or the schema it is in; another role's table (in a schema others
--     may create in) is left for the owner to name with alter_dag, and
--     watch_problem says so.  Before, a role with CREATE on the schema
--     could create the table, grant SELECT and TRIGGER to the DAG's owner
--     and have the DAG watch it and run for it.  (Its ACL, revoked from
--     PUBLIC above, is kept by CREATE OR REPLACE.)
--   (The object access hook's fix, src/window/depend.c, is in C only.)
CREATE OR REPLACE FUNCTION pipeline._rewatch(d pipeline.dags)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rels regclass[] := d.trigger_on;
    names text[] := d.trigger_on_names;
    problems text[] := '{}';
    adopted boolean := false;
    rel regclass;
    name text;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(d.trigger_on), 0) LOOP
        name := pipeline._qualified_name(d.trigger_on[i]);
        IF name IS NOT NULL THEN
            names[i] := name;           -- it exists (renamed, perhaps)
            CONTINUE;
        END IF;
        name := names[i];
        rel := CASE WHEN name IS NOT NULL THEN to_regclass(name) END;
        IF rel IS NULL THEN
            problems := problems || format('table %s was dropped; it is watched again once created again',
                                           coalesce(name, 'with OID ' || d.trigger_on[i]::oid));
        ELSIF (SELECT c.relpersistence = 't' OR c.relkind NOT IN ('r', 'p')
                 FROM pg_class c WHERE c.oid = rel) THEN
            problems := problems || format('%s was created again, but not as a table', name);
        ELSIF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.oid = rel AND d.owner_oid IN (c.relowner, n.nspowner)) THEN
            -- another role's table under the name (in a schema others may
            -- create in): watched only when the owner names it again, as a
            -- source's target is taken only when its owner resumes it
            problems := problems || format('table %s was created again by role %s, not by the DAG''s owner; '
                                           'name it in alter_dag(trigger_on => ...) to watch it',
                                           name, (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = rel));
        ELSIF NOT coalesce(has_table_privilege(d.owner_oid, rel, 'SELECT'), false) THEN
            problems := problems || format('table %s was created again, but the DAG''s owner cannot read it', name);
        ELSIF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'pipeline_dag_data')
              AND NOT coalesce(pg_has_role(d.owner_oid, (SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE')
                               OR has_table_privilege(d.owner_oid, rel, 'TRIGGER'), false) THEN
            problems := problems || format('table %s was created again, but the DAG''s owner may not put a trigger on it', name);
        ELSE
            BEGIN
                -- never wait for a lock in a pass: try again at the next
                EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE NOWAIT', rel);
                PERFORM pipeline._watch(rel);
                rels[i] := rel;
                adopted := true;
            EXCEPTION WHEN lock_not_available THEN
                problems := problems || format('table %s was created again and is watched once it is not locked', name);
            END;
        END IF;
    END LOOP;
    UPDATE pipeline.dags SET trigger_on = rels, trigger_on_names = names,
           watch_problem = nullif(array_to_string(problems, '; '), ''),
           data_pending = data_pending OR (adopted AND data_seen IS NOT NULL)
     WHERE dag_id = d.dag_id;
    RETURN cardinality(problems) > 0;
END
$$;

-- ==== kafka: sources and sinks share one name check, lock, drop, pause and resume ====
--
-- What changes for SQL (issue 11: each piece of logic written once):
--   * + pipeline._kafka_catalog(text), _kafka_object_check_new(text, text),
--     _kafka_object_for_update(text, text, boolean),
--     _kafka_object_drop(text, text, boolean) and
--     _kafka_object_set_paused(text, text, boolean): a new source or sink
--     (kind 'source' or 'sink') checked, or one locked, dropped, paused or
--     resumed;
--   * create_source, _source_for_update(text), drop_source, pause_source,
--     resume_source, create_sink, drop_sink, pause_sink and resume_sink
--     call them (signatures, messages, SQLSTATEs, hints, notices, comments
--     and privileges unchanged);
--   * - pipeline._sink_for_update(text), which nothing calls any more;
--   * the comment on pipeline.dead_letters names what reads a payload
--     (pipeline.zstd_decompress, pipeline.dead_letter_messages) instead of
--     pipeline.dead_letter_payload, which never existed.

-- the catalog of a kind; any other kind is an error
CREATE FUNCTION pipeline._kafka_catalog(kind text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF kind IS NULL OR kind NOT IN ('source', 'sink') THEN
        RAISE EXCEPTION 'invalid kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use source or sink.';
    END IF;
    RETURN 'pipeline.' || kind || 's';
END
$$;
COMMENT ON FUNCTION pipeline._kafka_catalog(text) IS
'the catalog of sources or of sinks (kind source or sink)';

CREATE FUNCTION pipeline._kafka_object_check_new(kind text, object_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_one boolean;
BEGIN
    IF object_name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % name "%"', kind, object_name
            USING ERRCODE = 'invalid_name',
                  DETAIL = format('A %s name starts with a letter or underscore and has at most 63 letters, digits, ''_'', ''.'' or ''-''.', kind);
    END IF;
    EXECUTE format('SELECT true FROM %s WHERE name = $1', pipeline._kafka_catalog(kind))
       INTO found_one USING object_name;
    IF found_one THEN
        RAISE EXCEPTION '% "%" already exists', kind, object_name
            USING ERRCODE = 'duplicate_object';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_check_new(text, text) IS
'raises an error for a name a new source or sink cannot take: invalid, or taken';

CREATE FUNCTION pipeline._kafka_object_for_update(kind text, object_name text,
                                                  missing_ok boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked boolean;
BEGIN
    EXECUTE format('SELECT true FROM %s WHERE name = $1 FOR UPDATE', pipeline._kafka_catalog(kind))
       INTO locked USING object_name;
    IF locked THEN
        RETURN true;
    ELSIF missing_ok THEN
        RETURN false;
    END IF;
    RAISE EXCEPTION '% "%" does not exist', kind, object_name
        USING ERRCODE = 'undefined_object',
              HINT = format('SELECT name FROM pipeline.%ss lists the %ss you can see.', kind, kind);
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_for_update(text, text, boolean) IS
'locks a source or sink row (waiting for a batch in flight); when there is none, raises undefined_object or, missing_ok, returns false';

CREATE FUNCTION pipeline._kafka_object_drop(kind text, object_name text, if_exists boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pipeline._kafka_object_for_update(kind, object_name, coalesce(if_exists, false)) THEN
        RAISE NOTICE '% "%" does not exist, skipping', kind, object_name;
        RETURN;
    END IF;
    EXECUTE format('DELETE FROM %s WHERE name = $1', pipeline._kafka_catalog(kind)) USING object_name;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_drop(text, text, boolean) IS
'drops a source or sink (the rows hanging off it go by cascade); with if_exists, a notice when there is none';

CREATE FUNCTION pipeline._kafka_object_set_paused(kind text, object_name text, paused boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_for_update(kind, object_name);
    -- resuming also clears the error that stopped it; either way its
    -- workers see a new config_version
    EXECUTE format('UPDATE %s SET paused = $2, error = CASE WHEN $2 THEN error END, '
                   'config_version = config_version + 1 WHERE name = $1', pipeline._kafka_catalog(kind))
      USING object_name, paused;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_set_paused(text, text, boolean) IS
'pauses a source or sink, or resumes it (clearing its error); its workers restart or stop';

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
    archive       boolean DEFAULT false)
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
END
$$;

CREATE OR REPLACE FUNCTION pipeline._source_for_update(source_name text)
RETURNS pipeline.sources
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
BEGIN
    PERFORM pipeline._kafka_object_for_update('source', source_name);
    SELECT * INTO s FROM pipeline.sources WHERE name = source_name;
    RETURN s;
END
$$;

CREATE OR REPLACE FUNCTION pipeline.drop_source(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_drop('source', drop_source.name, drop_source.if_exists);
END
$$;

CREATE OR REPLACE FUNCTION pipeline.pause_source(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('source', pause_source.name, true);
END
$$;

CREATE OR REPLACE FUNCTION pipeline.resume_source(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('source', resume_source.name, false);
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
END
$$;

CREATE OR REPLACE FUNCTION pipeline.drop_sink(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_drop('sink', drop_sink.name, drop_sink.if_exists);
END
$$;

CREATE OR REPLACE FUNCTION pipeline.pause_sink(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('sink', pause_sink.name, true);
END
$$;

CREATE OR REPLACE FUNCTION pipeline.resume_sink(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('sink', resume_sink.name, false);
END
$$;

DROP FUNCTION pipeline._sink_for_update(text);

COMMENT ON TABLE pipeline.dead_letters IS
'messages that could not be ingested, with the error; payload is zstd-compressed (read it with pipeline.zstd_decompress, or as text in pipeline.dead_letter_messages)';
