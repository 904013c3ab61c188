-- control/sql/scheduler.sql: the scheduler: cron jobs and DAGs of tasks,
-- with retries, timeouts, sensors, data-aware triggers, catch-up and
-- backfill; the state machine (_scheduler_tick) that the coordinator runs
-- (src/scheduler/README.md).

------------------------------------------------------------------------
-- Schedules: cron expressions (5 or 6 fields) or intervals ('30 seconds').
------------------------------------------------------------------------
CREATE FUNCTION pipeline.cron_next(schedule text, after timestamptz, timezone text DEFAULT 'UTC')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_cron_next'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.cron_next(text, timestamptz, text) IS
'the first fire time of a schedule strictly after a time, cron fields read in the time zone';

CREATE FUNCTION pipeline.cron_prev(schedule text, before timestamptz, timezone text DEFAULT 'UTC')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_cron_prev'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.cron_prev(text, timestamptz, text) IS
'the last fire time of a schedule strictly before a time, cron fields read in the time zone';

-- The next fire times of a schedule: what to look at before scheduling
-- '30 3 * * * *' (six fields: the first is seconds, so that fires at
-- second 30 of minute 3 of every hour, not at 03:30).
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

-- Why a schedule or time zone is refused (NULL message: it is fine), for
-- create_dag, alter_dag, schedule and alter_job to raise at the user's
-- call, not inside the INSERT INTO pipeline.dags its guard trigger checks
-- (a 12-line CONTEXT).  hint is never NULL when message is not (RAISE
-- refuses a NULL option; a NULL detail is left out by the caller).
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

------------------------------------------------------------------------
-- Catalogs.  A one-line job (pipeline.schedule) is a DAG of one task.
------------------------------------------------------------------------
CREATE TABLE pipeline.dags (
    dag_id              bigserial PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    schedule            text,
    timezone            text NOT NULL DEFAULT 'UTC',
    catchup             boolean NOT NULL DEFAULT false,
    max_active_runs     integer NOT NULL DEFAULT 1 CHECK (max_active_runs BETWEEN 1 AND 1000),
    start_date          timestamptz NOT NULL DEFAULT now(),
    end_date            timestamptz,
    trigger_on          regclass[],
    trigger_interval    interval NOT NULL DEFAULT '0' CHECK (trigger_interval >= '0'),
    history_retention   interval NOT NULL DEFAULT '7 days' CHECK (history_retention >= '0'),
    history_errors_only boolean NOT NULL DEFAULT false,
    enabled             boolean NOT NULL DEFAULT true,
    is_job              boolean NOT NULL DEFAULT false,
    owner               name NOT NULL DEFAULT current_user,
    next_fire_at        timestamptz,        -- kept by the scheduler
    last_fire_at        timestamptz,        -- the latest fire a run was made for
    data_seen           bigint,             -- version of trigger_on data last run for
    data_run_at         timestamptz,        -- when the last data-triggered run was made
    data_pending        boolean NOT NULL DEFAULT false, -- new data waits for trigger_interval
    created_at          timestamptz NOT NULL DEFAULT now(),
    owner_oid           oid,                -- set by trigger _owner_oid
    trigger_on_names    text[],             -- set by trigger watch_names
    watch_problem       text,               -- set by a scheduler pass
    -- a scheduler pass adds these to now(): '100000000 years' would make
    -- every pass fail with "timestamp out of range" (_dag_bounds says so
    -- first, with a clear message)
    CONSTRAINT dags_intervals_bounded CHECK (
        trigger_interval <= '1 year' AND history_retention <= '100 years')
);
CREATE INDEX dags_next_fire_at ON pipeline.dags (next_fire_at) WHERE enabled;
COMMENT ON TABLE pipeline.dags IS
'scheduled DAGs and one-line jobs: schedule, time zone, catch-up, concurrency, data trigger, history retention';
COMMENT ON COLUMN pipeline.dags.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.dags.trigger_on_names IS
'the qualified names of the tables trigger_on watches, in its order (a table dropped and created again under its name is watched again)';
COMMENT ON COLUMN pipeline.dags.watch_problem IS
'why the DAG does not watch all of trigger_on''s tables (a table dropped, not readable by the owner), as the scheduler last saw it';
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

CREATE TABLE pipeline.tasks (
    dag_id              bigint NOT NULL REFERENCES pipeline.dags ON DELETE CASCADE,
    name                text NOT NULL,
    command             text,
    sensor              text,
    poke_interval       interval NOT NULL DEFAULT '1 minute',
    upstream            text[] NOT NULL DEFAULT '{}',
    trigger_rule        text NOT NULL DEFAULT 'all_success'
                        CHECK (trigger_rule IN ('all_success', 'all_done', 'one_failed')),
    retries             integer NOT NULL DEFAULT 0 CHECK (retries BETWEEN 0 AND 100),
    retry_delay         interval NOT NULL DEFAULT '5 minutes',
    retry_exponential_backoff boolean NOT NULL DEFAULT false,
    max_retry_delay     interval NOT NULL DEFAULT '1 day',
    timeout             interval,
    depends_on_past     boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, name),
    CHECK ((command IS NULL) <> (sensor IS NULL)),
    -- added to now() by a scheduler pass (see dags_intervals_bounded)
    CONSTRAINT tasks_intervals_bounded CHECK (
        retry_delay <= '1 year' AND max_retry_delay <= '1 year'
        AND poke_interval <= '1 year' AND (timeout IS NULL OR timeout <= '1 year'))
);
COMMENT ON TABLE pipeline.tasks IS
'tasks of DAGs: a command or a sensor, upstream tasks, trigger rule, retries, timeout; they run as the DAG''s owner';
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

-- runs come and go in bursts: the run tables' autovacuum settings keep the
-- planner's statistics close behind
CREATE TABLE pipeline.dag_runs (
    run_id              bigserial PRIMARY KEY,
    dag_id              bigint NOT NULL REFERENCES pipeline.dags ON DELETE CASCADE,
    dag                 text NOT NULL,
    run_type            text NOT NULL CHECK (run_type IN ('scheduled', 'manual', 'backfill', 'data')),
    logical_date        timestamptz NOT NULL,
    data_interval_end   timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'success', 'failed')),
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at          timestamptz,
    ended_at            timestamptz,
    duration            interval GENERATED ALWAYS AS (ended_at - started_at) STORED,
    UNIQUE (run_id, dag_id)
) WITH (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500);
CREATE UNIQUE INDEX dag_runs_logical_date ON pipeline.dag_runs (dag_id, logical_date)
    WHERE run_type IN ('scheduled', 'backfill');
CREATE INDEX dag_runs_active ON pipeline.dag_runs (dag_id, status)
    WHERE status IN ('queued', 'running');
CREATE INDEX dag_runs_ended ON pipeline.dag_runs (dag_id, ended_at);
COMMENT ON TABLE pipeline.dag_runs IS
'runs of DAGs over data intervals [logical_date, data_interval_end): queued, running, success or failed';
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

CREATE TABLE pipeline.task_runs (
    task_run_id         bigserial PRIMARY KEY,
    run_id              bigint NOT NULL,
    dag_id              bigint NOT NULL,
    dag                 text NOT NULL,
    task                text NOT NULL,
    attempt             integer NOT NULL DEFAULT 1,
    retry               integer NOT NULL DEFAULT 0,
    status              text NOT NULL
                        CHECK (status IN ('waiting', 'scheduled', 'queued', 'running', 'success',
                                          'failed', 'upstream_failed', 'skipped')),
    logical_date        timestamptz NOT NULL,
    scheduled_at        timestamptz,
    started_at          timestamptz,
    ended_at            timestamptz,
    duration            interval GENERATED ALWAYS AS (ended_at - started_at) STORED,
    pokes               integer NOT NULL DEFAULT 0,
    rows_affected       bigint,
    error               text,
    sqlstate            text,
    pid                 integer,
    error_detail        text,
    error_hint          text,
    error_context       text,
    UNIQUE (run_id, task, attempt),
    FOREIGN KEY (run_id, dag_id) REFERENCES pipeline.dag_runs (run_id, dag_id) ON DELETE CASCADE,
    FOREIGN KEY (dag_id, task) REFERENCES pipeline.tasks (dag_id, name) ON DELETE CASCADE
) WITH (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500);
CREATE INDEX task_runs_active ON pipeline.task_runs (status, scheduled_at)
    WHERE status IN ('waiting', 'scheduled', 'queued', 'running');
CREATE INDEX task_runs_started ON pipeline.task_runs (started_at);
CREATE INDEX task_runs_dag ON pipeline.task_runs (dag_id, started_at);
CREATE INDEX task_runs_task ON pipeline.task_runs (dag_id, task);
COMMENT ON TABLE pipeline.task_runs IS
'one row per attempt of a task in a DAG run: status, attempt, times, rows affected, error';
COMMENT ON COLUMN pipeline.task_runs.error IS 'why the attempt failed: the error''s message';
COMMENT ON COLUMN pipeline.task_runs.sqlstate IS 'the SQLSTATE of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_detail IS 'the DETAIL of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_hint IS 'the HINT of the error the attempt failed with';
COMMENT ON COLUMN pipeline.task_runs.error_context IS 'the CONTEXT of the error the attempt failed with (where it was raised)';
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

SELECT pg_catalog.pg_extension_config_dump('pipeline.dags', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.dags_dag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.tasks', '');

-- A role sees the DAGs it owns, their tasks and their runs; pipeline_admin
-- sees all.  Tasks run as the owner of their DAG, and only that owner (or a
-- superuser) writes them: see _dag_guard and _task_guard.
ALTER TABLE pipeline.dags ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.dag_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.task_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.dags
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_or_admin ON pipeline.tasks
    USING (EXISTS (SELECT 1 FROM pipeline.dags d WHERE d.dag_id = tasks.dag_id));
CREATE POLICY owner_or_admin ON pipeline.dag_runs
    USING (EXISTS (SELECT 1 FROM pipeline.dags d WHERE d.dag_id = dag_runs.dag_id));
CREATE POLICY owner_or_admin ON pipeline.task_runs
    USING (EXISTS (SELECT 1 FROM pipeline.dags d WHERE d.dag_id = task_runs.dag_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.dags, pipeline.tasks, pipeline.dag_runs TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON pipeline.task_runs TO PUBLIC;
GRANT USAGE ON SEQUENCE pipeline.dags_dag_id_seq, pipeline.dag_runs_run_id_seq,
    pipeline.task_runs_task_run_id_seq TO PUBLIC;

CREATE FUNCTION pipeline._check_name(kind text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % name "%"', kind, name
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'A name starts with a letter or underscore and has at most 63 letters, digits, ''_'', ''.'' or ''-''.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._check_name(text, text) IS 'raises an error for an invalid DAG or task name';

-- Checks every write of a DAG: the owner is the writer (a superuser may
-- name another), the schedule and time zone are valid, and the next fire
-- time follows the schedule.
CREATE FUNCTION pipeline._dag_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    superuser boolean := pipeline._is_superuser();
BEGIN
    IF TG_OP = 'INSERT' AND NOT superuser THEN
        NEW.owner := current_user;
    ELSIF TG_OP = 'UPDATE' AND NEW.owner <> OLD.owner AND NOT superuser THEN
        RAISE EXCEPTION 'only a superuser can change the owner of DAG "%"', NEW.name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A DAG''s tasks run as its owner.';
    END IF;
    PERFORM pipeline._check_name('DAG', NEW.name);
    IF NEW.schedule = '' THEN
        NEW.schedule := NULL;
    END IF;
    IF TG_OP = 'INSERT'
       OR NEW.schedule IS DISTINCT FROM OLD.schedule OR NEW.timezone <> OLD.timezone
       OR NEW.catchup <> OLD.catchup OR NEW.start_date <> OLD.start_date
       OR NEW.end_date IS DISTINCT FROM OLD.end_date OR NEW.enabled <> OLD.enabled THEN
        -- validates the time zone even without a schedule
        PERFORM pipeline.cron_next('@daily', now(), NEW.timezone);
        IF NEW.schedule IS NULL OR NOT NEW.enabled THEN
            NEW.next_fire_at := NULL;
        ELSE
            -- catch-up goes on from the last fire made (history retention may
            -- have deleted its run), unless start_date moved on purpose
            NEW.next_fire_at := pipeline.cron_next(NEW.schedule,
                CASE WHEN NOT NEW.catchup THEN greatest(NEW.start_date, now())
                     WHEN TG_OP = 'UPDATE' AND NEW.start_date = OLD.start_date
                     THEN greatest(NEW.start_date, coalesce(OLD.last_fire_at, NEW.start_date))
                     ELSE NEW.start_date END,
                NEW.timezone);
            IF NEW.end_date IS NOT NULL AND NEW.next_fire_at > NEW.end_date THEN
                NEW.next_fire_at := NULL;
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._dag_guard() IS
'trigger: the writer owns a new DAG, only a superuser changes an owner; checks the schedule and time zone and sets the next fire time';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._dag_guard();

-- the bounds of dags_intervals_bounded with a clear message, for
-- create_dag, alter_dag and direct writes (fires before the guard trigger
-- and the constraint)
CREATE FUNCTION pipeline._dag_bounds()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.trigger_interval > '1 year' THEN
        RAISE EXCEPTION 'trigger_interval of DAG "%" must be at most 1 year, not %', NEW.name, NEW.trigger_interval
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.history_retention > '100 years' THEN
        RAISE EXCEPTION 'history_retention of DAG "%" must be at most 100 years, not %', NEW.name, NEW.history_retention
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A scheduler pass deletes the history older than now() - history_retention.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._dag_bounds() IS
'trigger: a DAG''s trigger_interval is at most 1 year and its history_retention at most 100 years';
CREATE TRIGGER bounds BEFORE INSERT OR UPDATE ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._dag_bounds();

-- a role's data-aware DAGs watch at most pg_pipeline.max_watched_per_role
-- tables: the watched tables of all roles share an array in shared memory
CREATE FUNCTION pipeline._dag_limits()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lim integer := pipeline._role_limit('max_watched_per_role', 64);
    total bigint;
BEGIN
    IF NEW.trigger_on IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT count(DISTINCT t) INTO total
      FROM (SELECT unnest(d.trigger_on) AS t FROM pipeline.dags d
             WHERE d.owner = NEW.owner AND d.dag_id <> NEW.dag_id
            UNION ALL SELECT unnest(NEW.trigger_on)) w;
    IF total > lim THEN
        RAISE EXCEPTION 'role "%" would watch % tables, more than pg_pipeline.max_watched_per_role (%)',
                NEW.owner, total, lim
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = 'Data-aware DAGs of all roles share 1024 watched tables per server.',
                  HINT = 'Watch fewer tables (for example one table a trigger of yours writes), or ask the administrator to raise the setting.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._dag_limits() IS
'trigger: a role''s data-aware DAGs watch at most pg_pipeline.max_watched_per_role tables in all';
CREATE TRIGGER limits BEFORE INSERT OR UPDATE OF trigger_on, owner ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._dag_limits();

-- after guard, which makes a non-superuser's new DAG its own (core.sql)
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();

-- A data-aware DAG keeps the qualified names of the tables it watches
-- beside their OIDs (following renames): a table dropped and created again
-- under its name (as docs/kafka.md recommends to recover a source) is
-- watched again by a scheduler pass (_rewatch).
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

-- trigger_on_names follows trigger_on: the names of the tables that
-- exist; a dropped table's position keeps the name it had.  A write that
-- leaves every table existing clears watch_problem.
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

CREATE FUNCTION pipeline._task_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dag_owner name;
BEGIN
    SELECT owner INTO dag_owner FROM pipeline.dags WHERE dag_id = NEW.dag_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'DAG % does not exist', NEW.dag_id USING ERRCODE = 'undefined_object';
    END IF;
    IF dag_owner <> current_user
       AND NOT pipeline._is_superuser() THEN
        RAISE EXCEPTION 'only the owner of a DAG can write its tasks'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The DAG is owned by %I; its tasks run as that role.', dag_owner);
    END IF;
    PERFORM pipeline._check_name('task', NEW.name);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._task_guard() IS
'trigger: only the owner of a DAG (or a superuser) writes its tasks, which run as that owner';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.tasks
    FOR EACH ROW EXECUTE FUNCTION pipeline._task_guard();

-- A run or an attempt written by a role other than the scheduler names its
-- DAG as the DAG is named (the payloads of NOTIFY show it).
CREATE FUNCTION pipeline._run_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pipeline._is_superuser() THEN
        NEW.dag := (SELECT name FROM pipeline.dags WHERE dag_id = NEW.dag_id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._run_guard() IS
'trigger: a run or attempt written by a user carries its DAG''s real name';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.dag_runs
    FOR EACH ROW EXECUTE FUNCTION pipeline._run_guard();
CREATE TRIGGER guard BEFORE INSERT ON pipeline.task_runs
    FOR EACH ROW EXECUTE FUNCTION pipeline._run_guard();

-- a committed change wakes the coordinator, which schedules at once
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON pipeline.dags FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON pipeline.tasks FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE
    ON pipeline.dag_runs FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();
CREATE TRIGGER wake_coordinator AFTER INSERT
    ON pipeline.task_runs FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();

------------------------------------------------------------------------
-- What a running task can read: its data interval.
------------------------------------------------------------------------
CREATE FUNCTION pipeline.logical_date()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_logical_date'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline.logical_date() IS
'in a task: the start of the data interval its DAG run covers (NULL outside a task)';

CREATE FUNCTION pipeline.data_interval_end()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_data_interval_end'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION pipeline.data_interval_end() IS
'in a task: the end (exclusive) of the data interval its DAG run covers (NULL outside a task)';

------------------------------------------------------------------------
-- Data-aware triggers: a statement trigger on the watched tables bumps a
-- version in shared memory at commit and wakes the coordinator.
------------------------------------------------------------------------
CREATE FUNCTION pipeline.dag_data_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pipeline_dag_data_trigger'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.dag_data_trigger() IS
'trigger: tells the scheduler at commit that a table watched by a data-aware DAG received data';

CREATE FUNCTION pipeline._data_version(tables regclass[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_data_version'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._data_version(regclass[]) IS
'the data version of watched tables since the server started (NULL: no write seen)';
REVOKE ALL ON FUNCTION pipeline._data_version(regclass[]) FROM PUBLIC;

CREATE FUNCTION pipeline._check_sql(sql text, what text)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_check_sql'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION pipeline._check_sql(text, text) IS
'raises a syntax error when the SQL text does not parse';

-- watch a table: one trigger per table, shared by the DAGs that name it
CREATE FUNCTION pipeline._watch(rel regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'pipeline_dag_data') THEN
        EXECUTE format('CREATE TRIGGER pipeline_dag_data AFTER INSERT OR UPDATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION pipeline.dag_data_trigger()', rel);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._watch(regclass) IS
'puts the data trigger of data-aware DAGs on a table, once';

-- whether any DAG, of any role, watches a table (RLS would hide other
-- roles' DAGs).  A yes or no, asked by _unwatch only for tables the caller
-- owns; a role calling it directly learns that one bit about a table it
-- names.
CREATE FUNCTION pipeline._watched(rel regclass)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM pipeline.dags WHERE rel OPERATOR(pg_catalog.=) ANY (trigger_on)) $$;
COMMENT ON FUNCTION pipeline._watched(regclass) IS
'whether some DAG of any role watches a table (so a trigger another role needs is kept)';

-- stop watching the tables no DAG names any more
CREATE FUNCTION pipeline._unwatch(rels regclass[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel regclass;
BEGIN
    FOREACH rel IN ARRAY coalesce(rels, '{}') LOOP
        -- a trigger nobody needs is dropped by a role that may; one left
        -- behind only counts writes
        IF pg_has_role((SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE')
           AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'pipeline_dag_data')
           AND NOT pipeline._watched(rel) THEN
            EXECUTE format('DROP TRIGGER pipeline_dag_data ON %s', rel);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._unwatch(regclass[]) IS
'removes the data trigger from the tables no DAG watches any more';

-- a source's name or a table's name -> the table (names resolve in the
-- caller's search_path, so neither this nor create_dag pins one)
CREATE FUNCTION pipeline._watched_tables(names text[])
RETURNS regclass[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    n text;
    result regclass[] := '{}';
    rel regclass;
BEGIN
    FOREACH n IN ARRAY names LOOP
        SELECT s.target::regclass INTO rel FROM pipeline.sources s WHERE s.name = n;
        IF rel IS NULL THEN
            rel := to_regclass(n);
        END IF;
        IF rel IS NULL THEN
            RAISE EXCEPTION 'trigger_on names "%", which is neither a source nor a table', n
                USING ERRCODE = 'undefined_object',
                      HINT = 'Name Kafka sources (pipeline.sources) or tables.';
        END IF;
        IF NOT has_table_privilege(rel, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied to watch table %', rel
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A data-aware DAG needs SELECT on the tables it watches.';
        END IF;
        result := result || rel;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION pipeline._watched_tables(text[]) IS
'the tables that trigger_on names: a Kafka source''s target table, or a table';

-- A scheduler pass: the tables of DAG d whose OID is gone are looked up by
-- name and watched again where the DAG's owner may (a table of its own, or
-- in a schema of its own, that it could have named in create_dag); a
-- rename is followed.
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
COMMENT ON FUNCTION pipeline._rewatch(pipeline.dags) IS
'scheduler: watches again the tables of a data-aware DAG that were dropped and created again under their names, follows renames; returns whether one is still not watched';
REVOKE ALL ON FUNCTION pipeline._rewatch(pipeline.dags) FROM PUBLIC;

------------------------------------------------------------------------
-- The SQL interface.
------------------------------------------------------------------------
-- Dropping a DAG or a task deletes runs and attempts that a scheduler pass
-- may be writing, in another order: both take this lock for their
-- transaction (a pass only tries, and comes back 100 ms later).
CREATE FUNCTION pipeline._scheduler_lock(wait boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(1347438928, 5);
        RETURN true;
    END IF;
    RETURN pg_try_advisory_xact_lock(1347438928, 5);
END
$$;
COMMENT ON FUNCTION pipeline._scheduler_lock(boolean) IS
'serialises a scheduler pass with drop_dag and drop_task (a transaction-level advisory lock)';

CREATE FUNCTION pipeline._dag_for_update(dag_name text)
RETURNS pipeline.dags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags;
BEGIN
    SELECT * INTO d FROM pipeline.dags WHERE name = dag_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'DAG or job "%" does not exist', dag_name
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN d;
END
$$;
COMMENT ON FUNCTION pipeline._dag_for_update(text) IS
'the DAG or job of that name, locked; a clear error when the caller cannot see one';

-- A scheduler pass adds these intervals to now(): '100000000 years' would
-- make every pass fail with "timestamp out of range".  Refused up front.
CREATE FUNCTION pipeline._check_intervals(what text, VARIADIC pairs text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(pairs, 1), 0) / 2 LOOP
        IF pairs[2 * i] IS NOT NULL AND pairs[2 * i]::interval <= '0' THEN
            RAISE EXCEPTION '% of % must be positive, not %', pairs[2 * i - 1], what, pairs[2 * i]
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF pairs[2 * i] IS NOT NULL AND pairs[2 * i]::interval > '1 year' THEN
            RAISE EXCEPTION '% of % must be at most 1 year, not %', pairs[2 * i - 1], what, pairs[2 * i]
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._check_intervals(text, text[]) IS
'raises an error for the first (name, interval) pair whose interval is not positive or above 1 year';

CREATE FUNCTION pipeline.create_dag(
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
COMMENT ON FUNCTION pipeline.create_dag(text, text, text, boolean, integer, timestamptz, timestamptz, text[], interval, interval, boolean, boolean) IS
'creates a DAG: a schedule (cron or interval) in a time zone, and/or a data trigger; add its tasks with pipeline.add_task()';

-- Checks a task as it will be stored (by add_task or alter_task).
CREATE FUNCTION pipeline._check_task(d pipeline.dags, t pipeline.tasks)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    IF (t.command IS NULL) = (t.sensor IS NULL) THEN
        RAISE EXCEPTION 'a task has either a command or a sensor'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'command => SQL to run; sensor => a query returning one boolean, polled every poke_interval until true.';
    END IF;
    PERFORM pipeline._check_sql(coalesce(t.command, t.sensor),
                                CASE WHEN t.command IS NULL THEN 'sensor' ELSE 'command' END);
    SELECT u INTO missing FROM unnest(t.upstream) u
     WHERE NOT EXISTS (SELECT 1 FROM pipeline.tasks x WHERE x.dag_id = d.dag_id AND x.name = u)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'upstream task "%" is not a task of DAG "%"', missing, d.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add tasks after their upstream tasks.';
    END IF;
    -- no cycle: the task is not upstream of its own upstream tasks
    IF t.name = ANY (t.upstream) OR EXISTS (
        WITH RECURSIVE above(name) AS (
            SELECT unnest(t.upstream)
            UNION
            SELECT unnest(x.upstream) FROM pipeline.tasks x JOIN above ON x.name = above.name
             WHERE x.dag_id = d.dag_id)
        SELECT 1 FROM above WHERE above.name = t.name) THEN
        RAISE EXCEPTION 'task "%" of DAG "%" would depend on itself', t.name, d.name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A DAG has no cycles.';
    END IF;
    IF t.trigger_rule IS NULL OR t.trigger_rule NOT IN ('all_success', 'all_done', 'one_failed') THEN
        RAISE EXCEPTION 'invalid trigger rule "%"', t.trigger_rule
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use all_success (the default), all_done or one_failed.';
    END IF;
    IF t.retries IS NULL OR t.retries NOT BETWEEN 0 AND 100 THEN
        RAISE EXCEPTION 'retries must be between 0 and 100, not %', t.retries
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pipeline._check_intervals('task ' || t.name,
        'retry_delay', t.retry_delay::text, 'max_retry_delay', t.max_retry_delay::text,
        'timeout', t.timeout::text, 'poke_interval', t.poke_interval::text);
    IF t.poke_interval < '1 second' THEN
        RAISE EXCEPTION 'poke_interval must be at least 1 second' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._check_task(pipeline.dags, pipeline.tasks) IS
'raises a clear error for an invalid task: command or sensor, SQL syntax, upstream tasks and cycles, rule, retries, intervals';

CREATE FUNCTION pipeline.add_task(
    dag                 text,
    name                text,
    command             text     DEFAULT NULL,
    upstream            text[]   DEFAULT '{}',
    trigger_rule        text     DEFAULT 'all_success',
    retries             integer  DEFAULT 0,
    retry_delay         interval DEFAULT '5 minutes',
    retry_exponential_backoff boolean DEFAULT false,
    max_retry_delay     interval DEFAULT '1 day',
    timeout             interval DEFAULT NULL,
    sensor              text     DEFAULT NULL,
    poke_interval       interval DEFAULT '1 minute',
    depends_on_past     boolean  DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(add_task.dag);
    t pipeline.tasks;
BEGIN
    IF add_task.name IS NULL THEN
        RAISE EXCEPTION 'the name of a task must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM pipeline.tasks x WHERE x.dag_id = d.dag_id AND x.name = add_task.name) THEN
        RAISE EXCEPTION 'DAG "%" already has a task "%"', d.name, add_task.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change it with pipeline.alter_task(), or drop it with pipeline.drop_task() first.';
    END IF;
    t.dag_id := d.dag_id;
    t.name := add_task.name;
    t.command := add_task.command;
    t.sensor := add_task.sensor;
    t.poke_interval := coalesce(add_task.poke_interval, '1 minute');
    t.upstream := (SELECT coalesce(array_agg(DISTINCT u), '{}') FROM unnest(add_task.upstream) u);
    t.trigger_rule := add_task.trigger_rule;
    t.retries := add_task.retries;
    t.retry_delay := coalesce(add_task.retry_delay, '5 minutes');
    t.retry_exponential_backoff := coalesce(add_task.retry_exponential_backoff, false);
    t.max_retry_delay := coalesce(add_task.max_retry_delay, '1 day');
    t.timeout := add_task.timeout;
    t.depends_on_past := coalesce(add_task.depends_on_past, false);
    t.created_at := now();
    PERFORM pipeline._check_task(d, t);
    INSERT INTO pipeline.tasks SELECT t.*;
END
$$;
COMMENT ON FUNCTION pipeline.add_task(text, text, text, text[], text, integer, interval, boolean, interval, interval, text, interval, boolean) IS
'adds a task to a DAG: a command or a sensor, after its upstream tasks, with retries and a timeout';

CREATE FUNCTION pipeline.alter_task(
    dag                 text,
    name                text,
    command             text     DEFAULT NULL,
    upstream            text[]   DEFAULT NULL,
    trigger_rule        text     DEFAULT NULL,
    retries             integer  DEFAULT NULL,
    retry_delay         interval DEFAULT NULL,
    retry_exponential_backoff boolean DEFAULT NULL,
    max_retry_delay     interval DEFAULT NULL,
    timeout             interval DEFAULT NULL,
    sensor              text     DEFAULT NULL,
    poke_interval       interval DEFAULT NULL,
    depends_on_past     boolean  DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(alter_task.dag);
    t pipeline.tasks;
BEGIN
    SELECT * INTO t FROM pipeline.tasks x WHERE x.dag_id = d.dag_id AND x.name = alter_task.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'DAG "%" has no task "%"', d.name, alter_task.name
            USING ERRCODE = 'undefined_object';
    END IF;
    -- a command replaces a sensor and the other way round
    IF alter_task.command IS NOT NULL THEN
        t.command := alter_task.command;
        t.sensor := NULL;
    ELSIF alter_task.sensor IS NOT NULL THEN
        t.sensor := alter_task.sensor;
        t.command := NULL;
    END IF;
    IF alter_task.upstream IS NOT NULL THEN
        t.upstream := (SELECT coalesce(array_agg(DISTINCT u), '{}') FROM unnest(alter_task.upstream) u);
    END IF;
    t.trigger_rule := coalesce(alter_task.trigger_rule, t.trigger_rule);
    t.retries := coalesce(alter_task.retries, t.retries);
    t.retry_delay := coalesce(alter_task.retry_delay, t.retry_delay);
    t.retry_exponential_backoff := coalesce(alter_task.retry_exponential_backoff, t.retry_exponential_backoff);
    t.max_retry_delay := coalesce(alter_task.max_retry_delay, t.max_retry_delay);
    t.timeout := CASE WHEN alter_task.timeout = '0' THEN NULL ELSE coalesce(alter_task.timeout, t.timeout) END;
    t.poke_interval := coalesce(alter_task.poke_interval, t.poke_interval);
    t.depends_on_past := coalesce(alter_task.depends_on_past, t.depends_on_past);
    PERFORM pipeline._check_task(d, t);
    UPDATE pipeline.tasks x SET
        command = t.command, sensor = t.sensor, upstream = t.upstream, trigger_rule = t.trigger_rule,
        retries = t.retries, retry_delay = t.retry_delay,
        retry_exponential_backoff = t.retry_exponential_backoff, max_retry_delay = t.max_retry_delay,
        timeout = t.timeout, poke_interval = t.poke_interval, depends_on_past = t.depends_on_past
     WHERE x.dag_id = d.dag_id AND x.name = t.name;
END
$$;
COMMENT ON FUNCTION pipeline.alter_task(text, text, text, text[], text, integer, interval, boolean, interval, interval, text, interval, boolean) IS
'changes a task (NULL: unchanged; timeout => ''0'' removes the timeout); runs already started keep what they read';

CREATE FUNCTION pipeline.drop_task(dag text, name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d pipeline.dags := pipeline._dag_for_update(drop_task.dag);
    downstream text;
BEGIN
    PERFORM pipeline._scheduler_lock(true);
    SELECT t.name INTO downstream FROM pipeline.tasks t
     WHERE t.dag_id = d.dag_id AND drop_task.name = ANY (t.upstream) LIMIT 1;
    IF downstream IS NOT NULL THEN
        RAISE EXCEPTION 'task "%" of DAG "%" is upstream of task "%"', drop_task.name, d.name, downstream
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop the downstream tasks first.';
    END IF;
    DELETE FROM pipeline.tasks t WHERE t.dag_id = d.dag_id AND t.name = drop_task.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'DAG "%" has no task "%"', d.name, drop_task.name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.drop_task(text, text) IS 'drops a task of a DAG, with its run history';

CREATE FUNCTION pipeline.drop_dag(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rels regclass[];
BEGIN
    PERFORM pipeline._scheduler_lock(true);
    DELETE FROM pipeline.dags d WHERE d.name = drop_dag.name RETURNING d.trigger_on INTO rels;
    IF NOT FOUND THEN
        IF if_exists THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'DAG or job "%" does not exist', drop_dag.name
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM pipeline._unwatch(rels);
END
$$;
COMMENT ON FUNCTION pipeline.drop_dag(text, boolean) IS
'drops a DAG or job with its tasks and run history; running tasks finish';

CREATE FUNCTION pipeline.alter_dag(
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
COMMENT ON FUNCTION pipeline.alter_dag(text, text, text, boolean, integer, timestamptz, timestamptz, interval, interval, boolean, boolean, text[]) IS
'changes a DAG''s settings (NULL: unchanged; schedule => '''' removes the schedule, trigger_on => ''{}'' the data trigger)';

CREATE FUNCTION pipeline.enable(name text)
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline.alter_dag(name, enabled => true) $$;
COMMENT ON FUNCTION pipeline.enable(text) IS 'resumes scheduling a DAG or job';

CREATE FUNCTION pipeline.disable(name text)
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline.alter_dag(name, enabled => false) $$;
COMMENT ON FUNCTION pipeline.disable(text) IS
'stops scheduling a DAG or job (runs already queued or running go on; run_now still works)';

-- One-line jobs, as simple as pg_cron's.
CREATE FUNCTION pipeline.schedule(
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
COMMENT ON FUNCTION pipeline.schedule(text, text, text, text, integer, interval, interval, interval, boolean) IS
'schedules a SQL command (cron expression or interval); the same name again replaces the job';

CREATE FUNCTION pipeline.unschedule(name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (pipeline._dag_for_update(unschedule.name)).is_job THEN
        RAISE EXCEPTION '"%" is a DAG, not a job', unschedule.name
            USING ERRCODE = 'wrong_object_type', HINT = 'Drop a DAG with pipeline.drop_dag().';
    END IF;
    PERFORM pipeline.drop_dag(unschedule.name);
END
$$;
COMMENT ON FUNCTION pipeline.unschedule(text) IS 'drops a job made by pipeline.schedule(), with its history';

CREATE FUNCTION pipeline.alter_job(
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
COMMENT ON FUNCTION pipeline.alter_job(text, text, text, text, boolean, integer, interval, interval) IS
'changes a job''s schedule, command, time zone, retries or timeout (NULL: unchanged; timeout => ''0'' removes it)';

-- The data interval a run made now covers: the last complete one.
CREATE FUNCTION pipeline._latest_interval(d pipeline.dags, OUT logical_date timestamptz,
                                          OUT data_interval_end timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF d.schedule IS NULL THEN
        logical_date := now();
        data_interval_end := now();
    ELSE
        data_interval_end := pipeline.cron_prev(d.schedule, now() + interval '1 microsecond', d.timezone);
        logical_date := pipeline.cron_prev(d.schedule, data_interval_end, d.timezone);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._latest_interval(pipeline.dags) IS
'the data interval a run made now covers: the latest complete one of the schedule ([now, now] without one)';

CREATE FUNCTION pipeline.run_now(name text)
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
COMMENT ON FUNCTION pipeline.run_now(text) IS
'queues a run of a DAG or job now, over its latest complete data interval; returns the run_id';

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

CREATE FUNCTION pipeline.backfill(name text, from_date timestamptz, to_date timestamptz)
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
COMMENT ON FUNCTION pipeline.backfill(text, timestamptz, timestamptz) IS
'queues a run for every data interval that has ended, whose logical date is in [from_date, to_date] and that has no scheduled or backfill run yet (or one that ran no task); returns how many';

CREATE FUNCTION pipeline.clear(name text, run_id bigint DEFAULT NULL)
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
COMMENT ON FUNCTION pipeline.clear(text, bigint) IS
're-runs the failed and upstream_failed tasks of a finished run (by default the latest failed run), or the whole run if it ran no task; returns how many';

------------------------------------------------------------------------
-- Views.
------------------------------------------------------------------------
CREATE VIEW pipeline.jobs WITH (security_invoker = true) AS
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
COMMENT ON VIEW pipeline.jobs IS 'one-line jobs: schedule, command, next run and the last run''s outcome';
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
COMMENT ON COLUMN pipeline.jobs.next_fires IS
'the next 3 fire times (NULL when disabled or without a next run): check that a cron expression fires when you meant (six fields: the first is seconds)';
GRANT SELECT ON pipeline.jobs TO PUBLIC;

CREATE VIEW pipeline.dag_status WITH (security_invoker = true) AS
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
COMMENT ON VIEW pipeline.dag_status IS 'DAGs and jobs: next run, runs queued and running, the last finished run';
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
GRANT SELECT ON pipeline.dag_status TO PUBLIC;

------------------------------------------------------------------------
-- The scheduler's own functions (the coordinator and the runners call
-- them as superuser; nobody else may).
------------------------------------------------------------------------

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

-- The runner's start: what to run, in which data interval.
CREATE FUNCTION pipeline._task_run_start(id bigint)
RETURNS TABLE (command text, sensor text, timeout_ms bigint, poke_interval_ms bigint,
               logical_date timestamptz, data_interval_end timestamptz,
               elapsed_ms bigint, pokes integer)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE pipeline.task_runs tr SET
        started_at = coalesce(tr.started_at, clock_timestamp()),
        pid = pg_backend_pid(),
        pokes = tr.pokes + (t.sensor IS NOT NULL)::integer
      FROM pipeline.tasks t, pipeline.dag_runs r
     WHERE tr.task_run_id = id AND tr.status = 'running'
       AND t.dag_id = tr.dag_id AND t.name = tr.task AND r.run_id = tr.run_id
    RETURNING t.command, t.sensor,
              (extract(epoch FROM coalesce(t.timeout, CASE WHEN t.sensor IS NOT NULL THEN interval '7 days' END)) * 1000)::bigint,
              (extract(epoch FROM t.poke_interval) * 1000)::bigint,
              r.logical_date, r.data_interval_end,
              (extract(epoch FROM clock_timestamp() - tr.started_at) * 1000)::bigint,
              tr.pokes
$$;
COMMENT ON FUNCTION pipeline._task_run_start(bigint) IS
'scheduler: a runner marks its attempt started and reads what to run, in which data interval';
REVOKE ALL ON FUNCTION pipeline._task_run_start(bigint) FROM PUBLIC;

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

-- Pick queued attempts, oldest first, and mark them running.  The
-- scheduler starts a runner as the DAG's owner by OID: the name it hands
-- over is that OID's (NULL when the role is gone: the attempt fails with
-- "the owner of the task ... does not exist").
CREATE FUNCTION pipeline._scheduler_dispatch(n integer)
RETURNS TABLE (task_run_id bigint, owner name, label text, timeout_ms bigint)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pick AS (
        SELECT tr.task_run_id FROM pipeline.task_runs tr
         WHERE tr.status = 'queued'
         ORDER BY tr.scheduled_at, tr.task_run_id
         LIMIT n FOR UPDATE SKIP LOCKED)
    UPDATE pipeline.task_runs tr SET status = 'running', pid = NULL
      FROM pick, pipeline.dags d, pipeline.tasks t
     WHERE tr.task_run_id = pick.task_run_id AND d.dag_id = tr.dag_id
       AND t.dag_id = tr.dag_id AND t.name = tr.task
    RETURNING tr.task_run_id, (SELECT r.rolname FROM pg_roles r WHERE r.oid = d.owner_oid),
              tr.dag || '.' || tr.task, (extract(epoch FROM t.timeout) * 1000)::bigint
$$;
COMMENT ON FUNCTION pipeline._scheduler_dispatch(integer) IS
'scheduler: marks up to n queued attempts running, oldest first, for the coordinator to start their runners';
REVOKE ALL ON FUNCTION pipeline._scheduler_dispatch(integer) FROM PUBLIC;

-- The latest attempt of each task of each running DAG run; a failed one
-- with retries left is 'up_for_retry' (not done), so no decision depends
-- on whether its next attempt was made yet.
CREATE VIEW pipeline._latest_attempts AS
SELECT DISTINCT ON (tr.run_id, tr.task) tr.run_id, tr.task,
       CASE WHEN tr.status = 'failed' AND tr.retry < t.retries THEN 'up_for_retry'
            ELSE tr.status END AS status
  FROM pipeline.dag_runs r
  JOIN pipeline.task_runs tr ON tr.run_id = r.run_id
  JOIN pipeline.tasks t ON t.dag_id = tr.dag_id AND t.name = tr.task
 WHERE r.status = 'running'
 ORDER BY tr.run_id, tr.task, tr.attempt DESC;
COMMENT ON VIEW pipeline._latest_attempts IS
'scheduler: the latest attempt of each task of each running DAG run (failed with retries left: up_for_retry)';
COMMENT ON COLUMN pipeline._latest_attempts.run_id IS 'the running DAG run';
COMMENT ON COLUMN pipeline._latest_attempts.task IS 'the task';
COMMENT ON COLUMN pipeline._latest_attempts.status IS
'the latest attempt''s status; failed with retries left: up_for_retry';

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
REVOKE ALL ON FUNCTION pipeline._scheduler_tick(boolean, boolean, timestamptz) FROM PUBLIC;

-- The tick at the current time: 0.5.0's signature, kept for a coordinator
-- older than 0.6.0
CREATE FUNCTION pipeline._scheduler_tick(recover boolean, cleanup boolean)
RETURNS timestamptz
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline._scheduler_tick(recover, cleanup, pg_catalog.clock_timestamp()) $$;
COMMENT ON FUNCTION pipeline._scheduler_tick(boolean, boolean) IS
'scheduler: one pass of the state machine at the current time (see _scheduler_tick(boolean, boolean, timestamptz))';
REVOKE ALL ON FUNCTION pipeline._scheduler_tick(boolean, boolean) FROM PUBLIC;
