------------------------------------------------------------------------
-- Models: runs (pipeline.run, pipeline.build), selection, history and
-- status.  See model.sql for the catalog, model_build.sql for one build.
------------------------------------------------------------------------


-- ==== model runs: selection, run, build, history (helper C) ====

-- Every call of pipeline.run / build (in the caller's session) and of
-- pipeline.start_run / start_build (in model runner workers) is one
-- invocation; pipeline.model_runs holds one row per model of it.
CREATE TABLE pipeline.model_invocations (
    invocation_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command         text NOT NULL CHECK (command IN ('run', 'build')),
    selector        text NOT NULL DEFAULT '',
    exclude         text,
    full_refresh    boolean NOT NULL DEFAULT false,
    in_session      boolean NOT NULL DEFAULT true,  -- false: model runner workers build it
    workers         integer NOT NULL DEFAULT 1 CHECK (workers BETWEEN 1 AND 1024),
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'success', 'error', 'canceled')),
    owner           name NOT NULL DEFAULT current_user,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at        timestamptz,
    owner_oid       oid                 -- set by trigger _owner_oid
);
CREATE INDEX model_invocations_running ON pipeline.model_invocations (invocation_id)
    WHERE status = 'running';
COMMENT ON TABLE pipeline.model_invocations IS
'models: one row per pipeline.run, build, start_run or start_build: the selection, who started it, how it ended';
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

CREATE TABLE pipeline.model_runs (
    model_run_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invocation_id   bigint NOT NULL REFERENCES pipeline.model_invocations ON DELETE CASCADE,
    model_id        integer NOT NULL,   -- no foreign key: the history outlives a dropped model
    model           text NOT NULL,
    status          text NOT NULL
                    CHECK (status IN ('pending', 'running', 'success', 'error', 'skipped')),
    rows            bigint,
    started_at      timestamptz,
    ended_at        timestamptz,
    error           text,
    sqlstate        text,
    error_detail    text,
    error_hint      text,
    error_context   text,
    position        integer NOT NULL DEFAULT 0,     -- in the invocation's dependency order
    upstream        integer[] NOT NULL DEFAULT '{}', -- the invocation's models it waits for
    runner_pid      integer,                        -- the worker building it (status running)
    owner_oid       oid                 -- the model's owner, set by trigger guard
);
CREATE INDEX model_runs_invocation ON pipeline.model_runs (invocation_id, position);
CREATE INDEX model_runs_model ON pipeline.model_runs (model_id, ended_at);
COMMENT ON TABLE pipeline.model_runs IS
'models: one row per model per invocation: status (pending, running, success, error, skipped), rows written, times, the error with its SQLSTATE';
COMMENT ON COLUMN pipeline.model_runs.upstream IS
'the models of the same invocation this one depends on (through models not selected): a failure of one skips it';
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

-- A role sees its own invocations and the runs of its own models;
-- pipeline_admin sees all.  Users write both only through pipeline.run and
-- pipeline.start_run (which insert as the caller); the model runner
-- workers update them as the extension.
ALTER TABLE pipeline.model_invocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.model_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.model_invocations
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_or_admin ON pipeline.model_runs
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.model_invocations TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON pipeline.model_runs TO PUBLIC;

-- An invocation is its writer's: owner is who inserted it, and nothing but
-- its outcome changes afterwards (a worker runs as its owner_oid).
CREATE FUNCTION pipeline._model_invocation_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pipeline._is_superuser() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.owner := current_user;
        RETURN NEW;
    END IF;
    IF (NEW.invocation_id, NEW.command, NEW.selector, NEW.exclude, NEW.full_refresh,
        NEW.in_session, NEW.workers, NEW.owner, NEW.started_at)
       IS DISTINCT FROM
       (OLD.invocation_id, OLD.command, OLD.selector, OLD.exclude, OLD.full_refresh,
        OLD.in_session, OLD.workers, OLD.owner, OLD.started_at) THEN
        RAISE EXCEPTION 'only the status and end of a model invocation can change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._model_invocation_guard() IS
'trigger: a model invocation belongs to the role that inserted it; only its status and end change';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.model_invocations
    FOR EACH ROW EXECUTE FUNCTION pipeline._model_invocation_guard();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.model_invocations
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
-- a parallel invocation wakes the coordinator, which starts its workers
-- (and its workers, through it: pipeline.cancel_run)
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE ON pipeline.model_invocations
    FOR EACH ROW WHEN (NOT NEW.in_session) EXECUTE FUNCTION pipeline.wake_coordinator();

-- A run carries its model's real name and owner, and belongs to one of the
-- writer's invocations (row security then allows only the writer's models).
CREATE FUNCTION pipeline._model_run_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
BEGIN
    SELECT name, owner_oid INTO m FROM pipeline.models WHERE model_id = NEW.model_id;
    IF pipeline._is_superuser() THEN
        NEW.owner_oid := coalesce(m.owner_oid, NEW.owner_oid);
        RETURN NEW;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % does not exist', NEW.model_id USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pipeline.model_invocations i
                    WHERE i.invocation_id = NEW.invocation_id
                      AND i.owner_oid = pipeline._current_role_oid()) THEN
        RAISE EXCEPTION 'model invocation % is not yours', NEW.invocation_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.model := m.name;
    NEW.owner_oid := m.owner_oid;
    NEW.runner_pid := NULL;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._model_run_guard() IS
'trigger: a model run written by a user names its model as it is named, carries its owner, and belongs to an invocation of the writer';
CREATE TRIGGER guard BEFORE INSERT ON pipeline.model_runs
    FOR EACH ROW EXECUTE FUNCTION pipeline._model_run_guard();

-- A failure is announced on channel pipeline_models at commit: its SQLSTATE,
-- never its text (every listener of the database receives it).
CREATE FUNCTION pipeline._model_run_notify()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('pipeline_models', json_build_object(
        'event', 'model_failed', 'model', NEW.model, 'model_run_id', NEW.model_run_id,
        'invocation_id', NEW.invocation_id, 'sqlstate', NEW.sqlstate,
        'owner', (SELECT r.rolname FROM pg_roles r WHERE r.oid = NEW.owner_oid))::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pipeline._model_run_notify() IS
'trigger: NOTIFYs pipeline_models of a model that failed (its SQLSTATE, not its message)';
CREATE TRIGGER notify_failure AFTER INSERT OR UPDATE OF status ON pipeline.model_runs
    FOR EACH ROW WHEN (NEW.status = 'error') EXECUTE FUNCTION pipeline._model_run_notify();

------------------------------------------------------------------------
-- Selection.
------------------------------------------------------------------------
CREATE FUNCTION pipeline._model_plan(selector text, exclude text,
    OUT model_id integer, OUT model text, OUT materialized text, OUT level integer,
    OUT upstream integer[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_model_plan'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._model_plan(text, text) IS
'models: the enabled models a selector means minus those exclude means, in dependency order, each with the selected models it depends on';

CREATE FUNCTION pipeline.select_models(selector text, exclude text DEFAULT NULL)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p.model FROM pipeline._model_plan(selector, exclude) p $$;
COMMENT ON FUNCTION pipeline.select_models(text, text) IS
'models: the models a dbt-style selector means (name, +name, name+, 2+name, name+1, @name, tag:x, schema:x; space = union, comma = intersection), without those exclude means, in dependency order';

------------------------------------------------------------------------
-- Runs in the caller's session.
------------------------------------------------------------------------

-- Build the selected models one after the other in dependency order, each
-- in a subtransaction of the caller's transaction: a failure is recorded
-- and skips the models that depend on it, nothing else.
CREATE FUNCTION pipeline._model_run(command text, selector text, full_refresh boolean, exclude text)
RETURNS SETOF pipeline.model_runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    invocation bigint;
    p record;
    r pipeline.model_runs;
    failed integer[] := '{}';       -- failed or skipped, with their names
    failed_names text[] := '{}';
    culprit integer;
    n bigint;
    ord integer := 0;
    outcome text := 'success';
BEGIN
    INSERT INTO pipeline.model_invocations (command, selector, exclude, full_refresh, in_session)
    VALUES (command, coalesce(selector, ''), exclude, full_refresh, true)
    RETURNING invocation_id INTO invocation;

    FOR p IN SELECT * FROM pipeline._model_plan(selector, exclude) x
              WHERE x.materialized <> 'ephemeral' LOOP
        r := NULL;
        r.invocation_id := invocation;
        r.model_id := p.model_id;
        r.model := p.model;
        ord := ord + 1;
        r.position := ord;
        r.upstream := p.upstream;
        r.started_at := clock_timestamp();
        culprit := (SELECT u FROM unnest(p.upstream) u WHERE u = ANY (failed) LIMIT 1);
        IF culprit IS NOT NULL THEN
            r.status := 'skipped';
            r.error := format('upstream model "%s" did not build',
                              failed_names[array_position(failed, culprit)]);
        ELSE
            BEGIN
                n := pipeline._model_build(p.model_id, full_refresh);
                -- pipeline.build: the model's checks, in the same
                -- subtransaction, before it is published: a blocking
                -- failure undoes the build (src/quality/gate.c)
                IF command = 'build' THEN
                    PERFORM pipeline._model_checks(p.model_id, invocation);
                END IF;
                r.status := 'success';
                r.rows := n;
            EXCEPTION WHEN OTHERS THEN
                r.status := 'error';
                GET STACKED DIAGNOSTICS
                    r.sqlstate = RETURNED_SQLSTATE, r.error = MESSAGE_TEXT,
                    r.error_detail = PG_EXCEPTION_DETAIL, r.error_hint = PG_EXCEPTION_HINT,
                    r.error_context = PG_EXCEPTION_CONTEXT;
                r.error_detail := nullif(r.error_detail, '');
                r.error_hint := nullif(r.error_hint, '');
                r.error_context := nullif(r.error_context, '');
            END;
            -- the checks' results, kept even when the build was undone
            IF command = 'build' THEN
                PERFORM pipeline._model_checks_record(p.model_id, invocation);
            END IF;
        END IF;
        IF r.status <> 'success' THEN
            failed := failed || p.model_id;
            failed_names := failed_names || p.model;
            outcome := 'error';
        END IF;
        r.ended_at := clock_timestamp();
        INSERT INTO pipeline.model_runs (invocation_id, model_id, model, status, rows, started_at,
                                         ended_at, error, sqlstate, error_detail, error_hint,
                                         error_context, position, upstream)
        VALUES (r.invocation_id, r.model_id, r.model, r.status, r.rows, r.started_at,
                r.ended_at, r.error, r.sqlstate, r.error_detail, r.error_hint,
                r.error_context, r.position, r.upstream)
        RETURNING * INTO r;
        RETURN NEXT r;
    END LOOP;

    UPDATE pipeline.model_invocations SET status = outcome, ended_at = clock_timestamp()
     WHERE invocation_id = invocation;
END
$$;
COMMENT ON FUNCTION pipeline._model_run(text, text, boolean, text) IS
'models: builds the selected models in the caller''s session, in dependency order, each in a subtransaction; records pipeline.model_runs';

-- run and build report each model; with fail_on_error, a run in which a
-- model failed ends in an error (the first failure's SQLSTATE, the failed
-- models named), so a scheduler task that runs models fails and retries.
-- Everything the transaction did is then undone, the history too: the
-- error names what failed.
CREATE FUNCTION pipeline._model_run_report(command text, selector text, full_refresh boolean,
                                           exclude text, fail_on_error boolean)
RETURNS TABLE(model text, status text, rows bigint, duration interval, error text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r pipeline.model_runs;
    failed text[] := '{}';
    first_failure pipeline.model_runs;
BEGIN
    FOR r IN SELECT * FROM pipeline._model_run(command, selector, full_refresh, exclude) LOOP
        model := r.model;
        status := r.status;
        rows := r.rows;
        duration := r.ended_at - r.started_at;
        error := r.error;
        RETURN NEXT;
        IF r.status = 'error' THEN
            failed := failed || r.model;
            IF first_failure.model IS NULL THEN
                first_failure := r;
            END IF;
        END IF;
    END LOOP;
    IF fail_on_error AND cardinality(failed) > 0 THEN
        RAISE EXCEPTION '% of the selected models failed: %', cardinality(failed), array_to_string(failed, ', ')
            USING ERRCODE = coalesce(first_failure.sqlstate, 'P0001'),
                  DETAIL = format('Model %s: %s', first_failure.model, first_failure.error),
                  HINT = 'Without fail_on_error the run keeps what succeeded and reports each model.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._model_run_report(text, text, boolean, text, boolean) IS
'models: pipeline.run and pipeline.build, one row per model; with fail_on_error, an error at the end when a model failed';

CREATE FUNCTION pipeline.run(selector text DEFAULT '', full_refresh boolean DEFAULT false,
                             exclude text DEFAULT NULL, fail_on_error boolean DEFAULT false)
RETURNS TABLE(model text, status text, rows bigint, duration interval, error text)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM pipeline._model_run_report('run', selector, full_refresh, exclude, fail_on_error)
$$;
COMMENT ON FUNCTION pipeline.run(text, boolean, text, boolean) IS
'models: builds the selected models (all when the selector is empty) in dependency order in the caller''s transaction; a failure skips what depends on it (with fail_on_error, the run then ends in an error)';

CREATE FUNCTION pipeline.build(selector text DEFAULT '', full_refresh boolean DEFAULT false,
                               exclude text DEFAULT NULL, fail_on_error boolean DEFAULT false)
RETURNS TABLE(model text, status text, rows bigint, duration interval, error text)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM pipeline._model_run_report('build', selector, full_refresh, exclude, fail_on_error)
$$;
COMMENT ON FUNCTION pipeline.build(text, boolean, text, boolean) IS
'models: pipeline.run plus each model''s expectations checked on its new version before it is published: an error-severity failure keeps the previous version and skips the models downstream';

------------------------------------------------------------------------
-- Runs in model runner workers, each model committed on its own.
------------------------------------------------------------------------

-- Queue an invocation: its plan becomes pending model runs, which model
-- runner workers (as many as workers, within pg_pipeline.model_workers)
-- build once the caller commits.
CREATE FUNCTION pipeline._model_start(command text, selector text, full_refresh boolean,
                                      exclude text, workers integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    invocation bigint;
    nworkers integer := coalesce(workers, current_setting('pg_pipeline.model_workers', true)::integer, 2);
BEGIN
    IF nworkers < 1 THEN
        RAISE EXCEPTION 'workers must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO pipeline.model_invocations (command, selector, exclude, full_refresh, in_session, workers)
    VALUES (command, coalesce(selector, ''), exclude, full_refresh, false, nworkers)
    RETURNING invocation_id INTO invocation;
    INSERT INTO pipeline.model_runs (invocation_id, model_id, model, status, position, upstream)
    SELECT invocation, p.model_id, p.model, 'pending', p.position, p.upstream
      FROM pipeline._model_plan(selector, exclude)
           WITH ORDINALITY p(model_id, model, materialized, level, upstream, position)
     WHERE p.materialized <> 'ephemeral';
    IF NOT FOUND THEN
        UPDATE pipeline.model_invocations SET status = 'success', ended_at = clock_timestamp()
         WHERE invocation_id = invocation;
    END IF;
    RETURN invocation;
END
$$;
COMMENT ON FUNCTION pipeline._model_start(text, text, boolean, text, integer) IS
'models: queues an invocation for the model runner workers; returns its invocation_id';

CREATE FUNCTION pipeline.start_run(selector text DEFAULT '', full_refresh boolean DEFAULT false,
                                   exclude text DEFAULT NULL, workers integer DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline._model_start('run', selector, full_refresh, exclude, workers) $$;
COMMENT ON FUNCTION pipeline.start_run(text, boolean, text, integer) IS
'models: builds the selected models in model runner workers once the caller commits, independent branches in parallel, each model committed on its own; returns the invocation_id (see pipeline.model_runs)';

CREATE FUNCTION pipeline.start_build(selector text DEFAULT '', full_refresh boolean DEFAULT false,
                                     exclude text DEFAULT NULL, workers integer DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pipeline._model_start('build', selector, full_refresh, exclude, workers) $$;
COMMENT ON FUNCTION pipeline.start_build(text, boolean, text, integer) IS
'models: pipeline.start_run plus each model''s expectations checked before it is published (as pipeline.build)';

-- Stop an invocation of the workers: its workers skip what is pending
-- (pipeline._model_run_claim); what is being built finishes.
CREATE FUNCTION pipeline.cancel_run(invocation_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pipeline.model_invocations i SET status = 'canceled', ended_at = clock_timestamp()
     WHERE i.invocation_id = cancel_run.invocation_id AND i.status = 'running'
       AND NOT i.in_session;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no model invocation % running in workers', cancel_run.invocation_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'pipeline.model_invocations lists yours; pipeline.run is canceled as any statement is.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.cancel_run(bigint) IS
'models: cancels a running invocation of the workers: pending models are skipped, models being built finish';

-- The workers' bookkeeping (run as the extension; nobody else may).

-- Skip the pending runs of an invocation that depend (through others) on
-- failed_run, or all of them when failed_run is NULL.
CREATE FUNCTION pipeline._model_runs_skip(invocation bigint, failed_model integer, why text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH RECURSIVE doomed(model_id) AS (
        SELECT r.model_id FROM pipeline.model_runs r
         WHERE r.invocation_id = invocation AND r.status = 'pending'
           AND (failed_model IS NULL OR failed_model = ANY (r.upstream))
        UNION
        SELECT r.model_id FROM pipeline.model_runs r JOIN doomed d ON d.model_id = ANY (r.upstream)
         WHERE r.invocation_id = invocation AND r.status = 'pending'
    )
    UPDATE pipeline.model_runs r SET status = 'skipped', error = why,
           started_at = clock_timestamp(), ended_at = clock_timestamp()
      FROM doomed d
     WHERE r.invocation_id = invocation AND r.model_id = d.model_id AND r.status = 'pending';
END
$$;
COMMENT ON FUNCTION pipeline._model_runs_skip(bigint, integer, text) IS
'models (workers): skips the pending runs of an invocation downstream of a failed model (all of them: NULL)';

-- The next model of an invocation whose upstream models all succeeded,
-- marked running for pid; also one whose worker died.  NULL when none is
-- ready now.  A canceled invocation's pending models are skipped.
CREATE FUNCTION pipeline._model_run_claim(invocation bigint, pid integer,
    OUT model_run_id bigint, OUT model_id integer, OUT model text, OUT full_refresh boolean,
    OUT command text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claimed bigint;
BEGIN
    IF (SELECT i.status FROM pipeline.model_invocations i WHERE i.invocation_id = invocation)
       IS DISTINCT FROM 'running' THEN
        PERFORM pipeline._model_runs_skip(invocation, NULL, 'the invocation was canceled');
        RETURN;
    END IF;
    SELECT r.model_run_id INTO claimed
      FROM pipeline.model_runs r
     WHERE r.invocation_id = invocation
       AND (r.status = 'pending'
            OR (r.status = 'running' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                                      WHERE a.pid = r.runner_pid)))
       AND NOT EXISTS (SELECT 1 FROM pipeline.model_runs u
                        WHERE u.invocation_id = invocation AND u.model_id = ANY (r.upstream)
                          AND u.status <> 'success')
     ORDER BY r.position
     LIMIT 1
       FOR UPDATE OF r SKIP LOCKED;
    IF claimed IS NULL THEN
        RETURN;
    END IF;
    UPDATE pipeline.model_runs r SET status = 'running', runner_pid = pid, started_at = clock_timestamp()
     WHERE r.model_run_id = claimed;
    SELECT r.model_run_id, r.model_id, r.model, i.full_refresh, i.command
      INTO model_run_id, model_id, model, full_refresh, command
      FROM pipeline.model_runs r JOIN pipeline.model_invocations i USING (invocation_id)
     WHERE r.model_run_id = claimed;
END
$$;
COMMENT ON FUNCTION pipeline._model_run_claim(bigint, integer) IS
'models (workers): claims the next model of an invocation that is ready to build';

-- The outcome of a claimed model; a failure skips its dependents.
CREATE FUNCTION pipeline._model_run_finish(id bigint, nrows bigint, err_state text DEFAULT NULL,
                                           err text DEFAULT NULL, err_detail text DEFAULT NULL,
                                           err_hint text DEFAULT NULL, err_context text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r pipeline.model_runs;
BEGIN
    UPDATE pipeline.model_runs SET
        status = CASE WHEN err IS NULL THEN 'success' ELSE 'error' END,
        rows = nrows, ended_at = clock_timestamp(), runner_pid = NULL,
        error = err, sqlstate = err_state, error_detail = err_detail, error_hint = err_hint,
        error_context = err_context
     WHERE model_run_id = id
    RETURNING * INTO r;
    IF err IS NOT NULL THEN
        PERFORM pipeline._model_runs_skip(r.invocation_id, r.model_id,
                                          format('upstream model "%s" did not build', r.model));
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._model_run_finish(bigint, bigint, text, text, text, text, text) IS
'models (workers): records the outcome of a model a worker built; a failure skips its dependents';

-- Is the invocation over (nothing pending or running)?  Then it is marked
-- success or error.
CREATE FUNCTION pipeline._model_invocation_done(invocation bigint)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pipeline.model_runs r
                WHERE r.invocation_id = invocation AND r.status IN ('pending', 'running')) THEN
        RETURN false;
    END IF;
    UPDATE pipeline.model_invocations i SET ended_at = clock_timestamp(),
           status = CASE WHEN EXISTS (SELECT 1 FROM pipeline.model_runs r
                                       WHERE r.invocation_id = invocation AND r.status <> 'success')
                         THEN 'error' ELSE 'success' END
     WHERE i.invocation_id = invocation AND i.status = 'running';
    RETURN true;
END
$$;
COMMENT ON FUNCTION pipeline._model_invocation_done(bigint) IS
'models (workers): whether an invocation has no model left to build; marks its outcome when so';

REVOKE ALL ON FUNCTION pipeline._model_runs_skip(bigint, integer, text),
    pipeline._model_run_claim(bigint, integer),
    pipeline._model_run_finish(bigint, bigint, text, text, text, text, text),
    pipeline._model_invocation_done(bigint) FROM PUBLIC;

------------------------------------------------------------------------
-- Status: the last outcome of every model.
------------------------------------------------------------------------
CREATE VIEW pipeline.model_status WITH (security_invoker = true) AS
SELECT m.name AS model, m.materialized, m.enabled, m.tags, m.owner,
       l.status AS last_status, l.started_at AS last_started_at, l.ended_at AS last_ended_at,
       l.ended_at - l.started_at AS last_duration, l.rows AS last_rows,
       l.error AS last_error, l.sqlstate AS last_sqlstate,
       (SELECT max(s.ended_at) FROM pipeline.model_runs s
         WHERE s.model_id = m.model_id AND s.status = 'success') AS last_success_at,
       m.built_at
  FROM pipeline.models m
  LEFT JOIN LATERAL (SELECT r.* FROM pipeline.model_runs r
                      WHERE r.model_id = m.model_id AND r.status IN ('success', 'error', 'skipped')
                      ORDER BY r.ended_at DESC, r.model_run_id DESC LIMIT 1) l ON true;
COMMENT ON VIEW pipeline.model_status IS
'models: each model''s last run (status, duration, rows, error) and last success';
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
GRANT SELECT ON pipeline.model_status TO PUBLIC;
