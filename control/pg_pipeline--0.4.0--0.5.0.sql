-- pg_pipeline 0.4.0 -> 0.5.0: trust (issue 10).
--
-- What changes for SQL:
--   * owners by OID (owner_oid, set by a trigger): row security, the
--     workers and the runners go by it, so a role created under a dropped
--     owner's name inherits nothing;
--   * a source's target by OID (target_oid, set by a trigger);
--   * the catalogs with an owner (sources, sinks, windows) get a guard
--     trigger: a non-superuser's new row is its own, only a superuser
--     changes an owner, and a role that is not the owner (a pipeline_admin
--     member) changes only what an operator may (pause, resume, errors);
--   * a window's definition is never updated in place (alter_window drops
--     and creates), so nobody can rewrite the SQL it runs;
--   * the catalogs that hang off those (offsets, archive, dead letters,
--     sink progress, window progress, the outbox) are visible to the owner
--     and pipeline_admin, writable by the owner only: an operator cannot
--     move offsets or a sink's messages, which would lose or double them;
--   * intervals a scheduler pass adds to now() are bounded, so an absurd
--     value is refused at once instead of making every pass fail;
--   * one role's share of consumers and watched tables is bounded
--     (pg_pipeline.max_consumers_per_role, max_watched_per_role);
--   * pipeline.workers shows a role its own workers (the database's
--     coordinator, maintainer and the launcher to everyone);
--   * pipeline._watchers, which counted other roles' DAGs, is replaced by
--     a yes/no answer (_watched), asked only for tables the caller owns.
-- docs/security.md describes the whole model.

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.5.0'" to load this file. \quit

------------------------------------------------------------------------
-- Owners by OID
------------------------------------------------------------------------

-- An owner was a name: a role dropped while it owned pipeline objects left
-- them to the next role created with that name (its sources' payloads, its
-- DAGs, which then ran as the newcomer).  The role's OID is kept beside
-- the name, set when a row is written (and when a superuser changes the
-- owner), never from what a writer puts in it: row security, the workers
-- and the runners go by the OID; the name is for people.  A row whose role
-- is gone belongs to nobody: only superusers and pipeline_admin see it, and
-- nothing runs it.
ALTER TABLE pipeline.sources ADD COLUMN owner_oid oid;
ALTER TABLE pipeline.sinks ADD COLUMN owner_oid oid;
ALTER TABLE pipeline.windows ADD COLUMN owner_oid oid;
ALTER TABLE pipeline.dags ADD COLUMN owner_oid oid;
ALTER TABLE pipeline.dead_letters ADD COLUMN owner_oid oid;
ALTER TABLE pipeline.outbox ADD COLUMN owner_oid oid;
COMMENT ON COLUMN pipeline.sources.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.sinks.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.windows.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.dags.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.dead_letters.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.outbox.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
UPDATE pipeline.sources t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;
UPDATE pipeline.sinks t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;
UPDATE pipeline.windows t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;
ALTER TABLE pipeline.dags DISABLE TRIGGER guard;
UPDATE pipeline.dags t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;
ALTER TABLE pipeline.dags ENABLE TRIGGER guard;
UPDATE pipeline.dead_letters t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;
UPDATE pipeline.outbox t SET owner_oid = r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = t.owner;

-- the current role's OID (current_user is a name)
CREATE FUNCTION pipeline._current_role_oid()
RETURNS oid
LANGUAGE sql STABLE PARALLEL SAFE
-- (a scalar subquery, so that it is inlined and a policy reads it once per
-- statement, not once per row)
AS $$ SELECT (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) $$;
COMMENT ON FUNCTION pipeline._current_role_oid() IS 'the OID of the current role';

-- Runs after the guards (trigger names sort "guard" < "owner_oid"), which
-- have made a non-superuser's new row its own.
CREATE FUNCTION pipeline._owner_oid()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner THEN
        NEW.owner_oid := (SELECT r.oid FROM pg_roles r WHERE r.rolname = NEW.owner);
        IF NEW.owner_oid IS NULL THEN
            RAISE EXCEPTION 'role "%" does not exist', NEW.owner USING ERRCODE = 'undefined_object';
        END IF;
    ELSE
        NEW.owner_oid := OLD.owner_oid;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._owner_oid() IS
'trigger: keeps owner_oid the OID of the owner a row was written with, whatever the writer put there';
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.sinks
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.dags
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.dead_letters
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.outbox
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();

ALTER POLICY owner_or_admin ON pipeline.sources
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
ALTER POLICY owner_or_admin ON pipeline.sinks
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
ALTER POLICY owner_or_admin ON pipeline.windows
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
ALTER POLICY owner_or_admin ON pipeline.dags
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());

-- The scheduler starts a runner as the DAG's owner by OID: the name it
-- hands over is that OID's (NULL when the role is gone: the attempt fails
-- with "the owner of the task ... does not exist").
CREATE OR REPLACE FUNCTION pipeline._scheduler_dispatch(n integer)
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

------------------------------------------------------------------------
-- A source's target by OID
------------------------------------------------------------------------

-- The target was kept as a (qualified) name and looked up at every batch:
-- once the table was renamed or dropped, a table created later under that
-- name, by whoever may create in that schema, received the source's rows.
-- Its OID is now kept beside the name, taken when the row is written; the
-- consumer opens the table by OID (a renamed table keeps its rows coming,
-- a dropped one stops the source with a clear error).  Once that table is
-- gone, the next write of the row by its owner (resume_source, after the
-- table was created again) takes the name's table anew.
ALTER TABLE pipeline.sources ADD COLUMN target_oid oid;
COMMENT ON COLUMN pipeline.sources.target_oid IS
'the target table''s OID, taken when the source was written (target is its name then)';
UPDATE pipeline.sources SET target_oid = pg_catalog.to_regclass(target);

CREATE FUNCTION pipeline._target_oid()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.target IS DISTINCT FROM OLD.target THEN
        NEW.target_oid := pg_catalog.to_regclass(NEW.target);
        IF NEW.target_oid IS NULL THEN
            RAISE EXCEPTION 'relation "%" does not exist', NEW.target USING ERRCODE = 'undefined_table';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = OLD.target_oid)
          AND NOT NEW.paused AND NEW.error IS NULL
          AND NEW.config_version <> OLD.config_version
          AND OLD.owner_oid = pipeline._current_role_oid() THEN
        -- the table is gone and its owner resumes (or alters) the source:
        -- the name's table now, if there is one (never by itself, nor by
        -- a worker pausing it or an admin)
        NEW.target_oid := coalesce(pg_catalog.to_regclass(NEW.target), OLD.target_oid);
    ELSE
        NEW.target_oid := OLD.target_oid;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._target_oid() IS
'trigger: keeps a source''s target_oid the OID of the table its target named when written';
CREATE TRIGGER target_oid BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._target_oid();

-- A sink's restart check signs its messages with a key that includes
-- created_at: two incarnations of a name (drop_sink and create_sink in one
-- transaction) must not share it, so the time of the insert, not of the
-- transaction.
ALTER TABLE pipeline.sinks ALTER COLUMN created_at SET DEFAULT pg_catalog.clock_timestamp();

------------------------------------------------------------------------
-- Owners and what a non-owner may change
------------------------------------------------------------------------

-- TG_ARGV[0]: what the object is called in messages; TG_ARGV[1..]: the
-- columns a role other than the owner (a pipeline_admin member: the row
-- policies let it see and update every row) may change.
CREATE FUNCTION pipeline._owner_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    superuser boolean := pipeline._is_superuser();
    operational text[] := TG_ARGV[1:];
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT superuser THEN
            NEW.owner := current_user;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.owner IS DISTINCT FROM OLD.owner AND NOT superuser THEN
        RAISE EXCEPTION 'only a superuser can change the owner of % "%"', TG_ARGV[0], OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The %s runs as its owner, %I.', TG_ARGV[0], OLD.owner);
    END IF;
    IF OLD.owner <> current_user AND NOT superuser
       AND (to_jsonb(NEW) - operational) IS DISTINCT FROM (to_jsonb(OLD) - operational) THEN
        RAISE EXCEPTION 'only the owner of % "%" can change its definition', TG_ARGV[0], OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The %s runs as its owner, %I.', TG_ARGV[0], OLD.owner),
                  HINT = 'Members of pipeline_admin may pause, resume and drop it.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._owner_guard() IS
'trigger: a non-superuser''s new row is its own; only a superuser changes an owner; a non-owner changes only the operational columns named in the trigger''s arguments';

CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('source', 'paused', 'error', 'config_version');
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.sinks
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('sink', 'paused', 'error', 'config_version');
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('window aggregate',
        'maintained_at', 'last_error', 'last_error_at');

-- A window's definition is the SQL its maintenance runs as its owner, in
-- the sessions of the source's writers: create_window analyses it and
-- stores it; nothing rewrites it afterwards (alter_window drops and
-- creates).  Only an owner change (by a superuser) and the maintenance
-- columns may be updated.
CREATE FUNCTION pipeline._window_frozen()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mutable text[] := '{owner,maintained_at,last_error,last_error_at}';
BEGIN
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'the definition of window aggregate "%" cannot be updated', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change a window with pipeline.alter_window().';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._window_frozen() IS
'trigger: a window aggregate''s definition is written once, by create_window';
CREATE TRIGGER frozen BEFORE UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._window_frozen();

-- The rows that hang off a source, sink or window: the owner and
-- pipeline_admin see them, only the owner writes them (consumers, sinks
-- and maintenance run as the owner; superusers bypass row security).
DROP POLICY owner_or_admin ON pipeline.source_offsets;
DROP POLICY owner_or_admin ON pipeline.source_archive;
DROP POLICY owner_or_admin ON pipeline.dead_letters;
DROP POLICY owner_or_admin ON pipeline.sink_progress;
DROP POLICY owner_or_admin ON pipeline.window_progress;

CREATE POLICY owner_or_admin ON pipeline.source_offsets FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source));
CREATE POLICY owner_writes ON pipeline.source_offsets
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.source_archive FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source));
CREATE POLICY owner_writes ON pipeline.source_archive
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.dead_letters FOR SELECT
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_writes ON pipeline.dead_letters
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid())
    WITH CHECK (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()
                AND EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name OPERATOR(pg_catalog.=) source
                              AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
-- the outbox: what a sink publishes, under its owner's credentials; admins
-- see it, only the sink's owner writes it
DROP POLICY owner_or_admin ON pipeline.outbox;
CREATE POLICY owner_or_admin ON pipeline.outbox FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name OPERATOR(pg_catalog.=) sink));
CREATE POLICY owner_writes ON pipeline.outbox
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name OPERATOR(pg_catalog.=) sink
                     AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.sink_progress FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = sink));
CREATE POLICY owner_writes ON pipeline.sink_progress
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = sink AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.window_progress FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.windows w WHERE w.id = window_id));
CREATE POLICY owner_writes ON pipeline.window_progress
    USING (EXISTS (SELECT 1 FROM pipeline.windows w WHERE w.id = window_id AND w.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));

------------------------------------------------------------------------
-- Bounded intervals
------------------------------------------------------------------------

-- A scheduler pass adds these to now(): '100000000 years' would make every
-- pass fail with "timestamp out of range".  Refused up front instead.
CREATE OR REPLACE FUNCTION pipeline._check_intervals(what text, VARIADIC pairs text[])
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

ALTER TABLE pipeline.tasks
    ADD CONSTRAINT tasks_intervals_bounded CHECK (
        retry_delay <= '1 year' AND max_retry_delay <= '1 year'
        AND poke_interval <= '1 year' AND (timeout IS NULL OR timeout <= '1 year'));
ALTER TABLE pipeline.dags
    ADD CONSTRAINT dags_intervals_bounded CHECK (
        trigger_interval <= '1 year' AND history_retention <= '100 years');

-- the same bounds, with a clear message, for create_dag, alter_dag and
-- direct writes (fires before the guard trigger and the constraint)
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

------------------------------------------------------------------------
-- Per-role limits on what all roles share
------------------------------------------------------------------------

-- A role's sources take background workers (max_worker_processes) and its
-- data-aware DAGs entries of a shared array (1,024 tables per server) that
-- every role's DAGs need: pg_pipeline.max_consumers_per_role and
-- pg_pipeline.max_watched_per_role bound one role's share (defaults 64 and
-- 64 when the library is not loaded).
CREATE FUNCTION pipeline._role_limit(setting text, fallback integer)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(nullif(current_setting('pg_pipeline.' || setting, true), '')::integer, fallback) $$;
COMMENT ON FUNCTION pipeline._role_limit(text, integer) IS
'the value of a pg_pipeline.max_*_per_role setting, or the default when the library is not loaded';

CREATE FUNCTION pipeline._source_limits()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lim integer := pipeline._role_limit('max_consumers_per_role', 64);
    total bigint;
BEGIN
    SELECT coalesce(sum(s.consumers), 0) + NEW.consumers INTO total
      FROM pipeline.sources s
     WHERE s.owner = NEW.owner AND s.name <> NEW.name;
    IF total > lim THEN
        RAISE EXCEPTION 'role "%" would have % consumers, more than pg_pipeline.max_consumers_per_role (%)',
                NEW.owner, total, lim
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = 'Each consumer of a source is a background worker.',
                  HINT = 'Lower consumers of this or another source, or ask the administrator to raise the setting.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._source_limits() IS
'trigger: a role''s sources have at most pg_pipeline.max_consumers_per_role consumers in all';
CREATE TRIGGER limits BEFORE INSERT OR UPDATE OF consumers, owner ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._source_limits();

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

------------------------------------------------------------------------
-- What other roles' work shows
------------------------------------------------------------------------

CREATE OR REPLACE VIEW pipeline.workers AS
SELECT w.kind,
       w.label AS works_on,
       w.pid,
       d.datname AS database,
       r.rolname AS role,
       w.state,
       w.started_at,
       w.restarts,
       w.last_error,
       w.last_error_at,
       w.items,
       w.bytes,
       round(w.items_per_sec::numeric, 1) AS items_per_sec,
       round(w.bytes_per_sec::numeric, 1) AS bytes_per_sec,
       w.last_batch_at
  FROM pipeline.get_workers() w
  LEFT JOIN pg_catalog.pg_database d ON d.oid = w.datid
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = w.roleid
 WHERE w.kind IN ('launcher', 'coordinator', 'maintainer')
    OR r.rolname = current_user
    OR pipeline.is_admin();
COMMENT ON VIEW pipeline.workers IS
'pg_pipeline workers of this database (and the launcher): kind, what it works on, state, restarts, last error, progress; a role sees its own consumers, sinks and runners (pipeline_admin all)';

-- whether any DAG, of any role, watches a table (RLS would hide other
-- roles' DAGs; 0.4.0's _watchers told how many).  A yes or no, asked by
-- _unwatch only for tables the caller owns; a role calling it directly
-- learns that one bit about a table it names.
CREATE FUNCTION pipeline._watched(rel regclass)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM pipeline.dags WHERE rel OPERATOR(pg_catalog.=) ANY (trigger_on)) $$;
COMMENT ON FUNCTION pipeline._watched(regclass) IS
'whether some DAG of any role watches a table (so a trigger another role needs is kept)';

CREATE OR REPLACE FUNCTION pipeline._unwatch(rels regclass[])
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
DROP FUNCTION pipeline._watchers(regclass);
