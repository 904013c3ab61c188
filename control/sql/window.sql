-- control/sql/window.sql: window aggregates (tumbling, hopping,
-- cumulating and session windows), maintained incrementally by statement
-- triggers on the source and, for async windows, by the maintainer worker
-- (src/window/README.md).

-- What a window is: its kind and sizes.  Built by pipeline.tumble(), hop(),
-- cumulate() and session(); create_window() checks them.
CREATE TYPE pipeline.window_spec AS (
    kind    text,           -- tumble, hop, cumulate or session
    size    interval,       -- window size; cumulate: the largest size; session: the gap
    slide   interval        -- hop: the slide; cumulate: the step; tumble: = size
);
COMMENT ON TYPE pipeline.window_spec IS 'a window kind and its sizes: see pipeline.tumble(), hop(), cumulate(), session()';
COMMENT ON COLUMN pipeline.window_spec.kind IS 'tumble, hop, cumulate or session';
COMMENT ON COLUMN pipeline.window_spec.size IS
'the window size; cumulate: the largest size; session: the gap';
COMMENT ON COLUMN pipeline.window_spec.slide IS 'hop: the slide; cumulate: the step; tumble: the size';

CREATE FUNCTION pipeline.tumble(size interval)
RETURNS pipeline.window_spec
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ROW('tumble', size, size)::pipeline.window_spec $$;
COMMENT ON FUNCTION pipeline.tumble(interval) IS
'tumbling windows: [start, start + size), one per row, aligned on 1970-01-01 00:00 UTC';

CREATE FUNCTION pipeline.hop(size interval, slide interval)
RETURNS pipeline.window_spec
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ROW('hop', size, slide)::pipeline.window_spec $$;
COMMENT ON FUNCTION pipeline.hop(interval, interval) IS
'hopping (sliding) windows of size, one starting every slide; a row is in size / slide of them';

CREATE FUNCTION pipeline.cumulate(step interval, max_size interval)
RETURNS pipeline.window_spec
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ROW('cumulate', max_size, step)::pipeline.window_spec $$;
COMMENT ON FUNCTION pipeline.cumulate(interval, interval) IS
'cumulating windows: [start, start + step), [start, start + 2 step) ... up to max_size, start aligned on max_size';

CREATE FUNCTION pipeline.session(gap interval)
RETURNS pipeline.window_spec
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ROW('session', gap, NULL)::pipeline.window_spec $$;
COMMENT ON FUNCTION pipeline.session(interval) IS
'session windows per group: rows less than gap apart form one window [first row, last row + gap)';

-- Sets of distinct values, for count(DISTINCT x): a sorted array without
-- duplicates, and the aggregate that unions such arrays.
CREATE FUNCTION pipeline.array_distinct(a anycompatiblearray)
RETURNS anycompatiblearray
AS 'MODULE_PATHNAME', 'pipeline_array_distinct'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.array_distinct(anycompatiblearray) IS
'the distinct non-NULL elements of an array, sorted (NULL when there is none)';

CREATE AGGREGATE pipeline.array_union(anycompatiblearray) (
    SFUNC = pg_catalog.array_cat,
    STYPE = anycompatiblearray,
    COMBINEFUNC = pg_catalog.array_cat,
    FINALFUNC = pipeline.array_distinct,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.array_union(anycompatiblearray) IS
'the union of arrays, as a sorted array without duplicates';

CREATE FUNCTION pipeline._distinct_set_add(state internal, value anycompatible)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_distinct_set_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._distinct_set_add(internal, anycompatible) IS
'transition function of pipeline.distinct_set: keeps the non-NULL value';

CREATE FUNCTION pipeline._distinct_set_final(state internal, value anycompatible)
RETURNS anycompatiblearray
AS 'MODULE_PATHNAME', 'pipeline_distinct_set_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._distinct_set_final(internal, anycompatible) IS
'final function of pipeline.distinct_set: the values kept, sorted, without duplicates';

-- array_agg(DISTINCT x) without the DISTINCT: the planner can hash the
-- groups (a window's statement sets, src/window/sets.c); SSPACE tells it
-- the state is small.
CREATE AGGREGATE pipeline.distinct_set(anycompatible) (
    SFUNC = pipeline._distinct_set_add,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = pipeline._distinct_set_final,
    FINALFUNC_EXTRA,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.distinct_set(anycompatible) IS
'the distinct non-NULL values, as a sorted array (NULL when there is none): array_agg(DISTINCT x) that can be hashed';

-- The catalog of window aggregates.  The agg_* arrays are what
-- create_window() read from the aggregates text, one element per output
-- column; maintenance builds its SQL from them.
CREATE TABLE pipeline.windows (
    id               serial PRIMARY KEY,
    name             text NOT NULL UNIQUE,          -- qualified name of the result
    result           regclass NOT NULL,             -- what users read (table, or view for on_close)
    state_table      regclass NOT NULL,             -- where the rows are kept
    delta_table      regclass,                      -- async: rows waiting for the maintainer
    late_table       regclass,                      -- late_rows = side_table
    source           regclass NOT NULL,
    time_column      name NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('tumble', 'hop', 'cumulate', 'session')),
    size             interval NOT NULL,
    slide            interval,
    group_by         name[] NOT NULL DEFAULT '{}',
    aggregates       text NOT NULL,
    agg_names        text[] NOT NULL,
    agg_kinds        text[] NOT NULL,
    agg_exprs        text[] NOT NULL,
    agg_args         text[] NOT NULL,
    agg_types        text[] NOT NULL,
    columns          name[] NOT NULL,               -- source columns maintenance reads
    emit             text NOT NULL CHECK (emit IN ('on_update', 'on_close')),
    late_rows        text NOT NULL CHECK (late_rows IN ('update', 'drop', 'side_table')),
    mode             text NOT NULL CHECK (mode IN ('sync', 'async', 'append')),
    allowed_lateness interval NOT NULL DEFAULT '0',
    retention        interval,
    sink             text,
    owner            name NOT NULL DEFAULT current_user,
    maintained_at    timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    owner_oid        oid,                           -- set by trigger _owner_oid
    -- the rest of a maintenance error, beside last_error (last: 0.6.0 added them)
    last_error_sqlstate text,
    last_error_detail   text,
    last_error_hint     text,
    last_error_context  text
);
COMMENT ON TABLE pipeline.windows IS
'window aggregates: a source table aggregated per window and group, kept up to date by pg_pipeline';
COMMENT ON COLUMN pipeline.windows.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.windows.last_error_sqlstate IS 'the SQLSTATE of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_detail IS 'the DETAIL of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_hint IS 'the HINT of last_error';
COMMENT ON COLUMN pipeline.windows.last_error_context IS 'the CONTEXT of last_error (where it was raised)';
COMMENT ON COLUMN pipeline.windows.id IS 'the window aggregate''s number (trigger names, advisory locks)';
COMMENT ON COLUMN pipeline.windows.name IS 'the qualified name of the result, as text';
COMMENT ON COLUMN pipeline.windows.result IS 'the relation users read (a table, or a view for emit on_close and mode append)';
COMMENT ON COLUMN pipeline.windows.state_table IS 'where the rows are kept (= result for on_update, but in mode append)';
COMMENT ON COLUMN pipeline.windows.delta_table IS
'mode async: the delta table the maintainer merges; mode append: the partials table the maintainer folds';
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
COMMENT ON COLUMN pipeline.windows.mode IS 'sync, async or append';
COMMENT ON COLUMN pipeline.windows.allowed_lateness IS
'how far behind the largest event time a row may come and still count';
COMMENT ON COLUMN pipeline.windows.retention IS 'windows that ended longer ago are deleted (NULL: keep all)';
COMMENT ON COLUMN pipeline.windows.sink IS 'a sink the final windows are published to (NULL: none)';
COMMENT ON COLUMN pipeline.windows.owner IS 'the role that created it; maintenance runs as this role';
COMMENT ON COLUMN pipeline.windows.maintained_at IS 'async: the last merge by the maintainer or flush_window; append: the last fold';
COMMENT ON COLUMN pipeline.windows.last_error IS
'async: the last error of a merge by the maintainer; append: of a fold (cleared by the next successful one)';
COMMENT ON COLUMN pipeline.windows.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.windows.created_at IS 'when the window aggregate was created';
SELECT pg_catalog.pg_extension_config_dump('pipeline.windows', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.windows_id_seq', '');
-- a role sees and changes its own windows; pipeline_admin sees them all
ALTER TABLE pipeline.windows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.windows
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.windows TO PUBLIC;
GRANT USAGE ON SEQUENCE pipeline.windows_id_seq TO PUBLIC;

-- The progress of each window: the largest event time seen and the late
-- rows counted, appended by the statements that move it (so concurrent
-- writers never update one shared row); the watermark is the largest
-- max_event_time minus allowed_lateness.  The maintainer folds the rows of
-- a window into one now and then.  For a timestamp (without time zone) time
-- column, max_event_time holds the same clock reading, as if in UTC.
CREATE TABLE pipeline.window_progress (
    window_id        integer NOT NULL REFERENCES pipeline.windows ON DELETE CASCADE,
    max_event_time   timestamptz,
    late             bigint NOT NULL DEFAULT 0,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON pipeline.window_progress (window_id, max_event_time);
COMMENT ON TABLE pipeline.window_progress IS
'per window aggregate: largest event time and late rows, appended by maintenance (window_status sums them)';
COMMENT ON COLUMN pipeline.window_progress.window_id IS 'the window aggregate (pipeline.windows.id)';
COMMENT ON COLUMN pipeline.window_progress.max_event_time IS
'the largest event time seen by the statement that appended the row';
COMMENT ON COLUMN pipeline.window_progress.late IS 'late rows that statement saw';
COMMENT ON COLUMN pipeline.window_progress.recorded_at IS 'when the row was appended';
SELECT pg_catalog.pg_extension_config_dump('pipeline.window_progress', '');

-- the owner and pipeline_admin see a window's progress, only the owner
-- (maintenance runs as the owner) writes it
ALTER TABLE pipeline.window_progress ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.window_progress FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.windows w WHERE w.id = window_id));
CREATE POLICY owner_writes ON pipeline.window_progress
    USING (EXISTS (SELECT 1 FROM pipeline.windows w WHERE w.id = window_id AND w.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
GRANT SELECT, INSERT, DELETE ON pipeline.window_progress TO PUBLIC;

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
COMMENT ON FUNCTION pipeline._window_frozen() IS
'trigger: a window aggregate''s definition is written once, by create_window';

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

-- BEFORE triggers fire by name: error_cleared, frozen, guard (the writer
-- owns a new window; a non-owner changes only the maintenance columns),
-- owner_oid
CREATE TRIGGER error_cleared BEFORE UPDATE OF last_error ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._window_error_cleared();
CREATE TRIGGER frozen BEFORE UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._window_frozen();
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('window aggregate',
        'maintained_at', 'last_error', 'last_error_at', 'last_error_sqlstate',
        'last_error_detail', 'last_error_hint', 'last_error_context');
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.windows
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
-- windows need the maintainer worker (async merges, sweeps): the coordinator starts it
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE OF mode OR DELETE OR TRUNCATE
    ON pipeline.windows FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();

CREATE FUNCTION pipeline.create_window(
    name             text,
    source           regclass,
    time_column      name,
    window_spec      pipeline.window_spec,
    aggregates       text,
    group_by         name[]   DEFAULT '{}',
    allowed_lateness interval DEFAULT '0',
    emit             text     DEFAULT 'on_update',
    late_rows        text     DEFAULT 'update',
    mode             text     DEFAULT 'sync',
    retention        interval DEFAULT NULL,
    sink             text     DEFAULT NULL)
RETURNS regclass
AS 'MODULE_PATHNAME', 'pipeline_create_window'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.create_window(text, regclass, name, pipeline.window_spec, text, name[],
    interval, text, text, text, interval, text) IS
'creates a window aggregate over a table, fills it from the rows already there and keeps it up to date';

CREATE FUNCTION pipeline.drop_window(name regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_drop_window'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline.drop_window(regclass) IS
'drops a window aggregate: its table (or view), its internal tables and its triggers on the source';

CREATE FUNCTION pipeline.rebuild_window(name regclass, from_time timestamptz DEFAULT NULL,
                                        to_time timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_rebuild_window'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.rebuild_window(regclass, timestamptz, timestamptz) IS
'recomputes from the source the windows that overlap [from_time, to_time) (all when NULL); returns the rows written';

CREATE FUNCTION pipeline.flush_window(name regclass DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_flush_window'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.flush_window(regclass) IS
'async windows: merges the waiting delta now; append windows: folds the waiting partials; in this transaction (all windows when NULL); returns the rows merged';

CREATE FUNCTION pipeline.window_maintain()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pipeline_window_maintain'
LANGUAGE C;
COMMENT ON FUNCTION pipeline.window_maintain() IS
'statement trigger on a window''s source: maintains the window from the transition tables';

CREATE FUNCTION pipeline.alter_window(
    name             regclass,
    window_spec      pipeline.window_spec DEFAULT NULL,
    aggregates       text     DEFAULT NULL,
    group_by         name[]   DEFAULT NULL,
    allowed_lateness interval DEFAULT NULL,
    emit             text     DEFAULT NULL,
    late_rows        text     DEFAULT NULL,
    mode             text     DEFAULT NULL,
    retention        interval DEFAULT NULL,
    sink             text     DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w pipeline.windows;
BEGIN
    SELECT * INTO w FROM pipeline.windows WHERE result = alter_window.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%" is not a window aggregate', alter_window.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'pipeline.windows lists the window aggregates you can see.';
    END IF;
    -- a new definition is a new window: drop, create, fill from the source
    PERFORM pipeline.drop_window(alter_window.name);
    RETURN pipeline.create_window(w.name, w.source, w.time_column,
        coalesce(alter_window.window_spec, ROW(w.kind, w.size, w.slide)::pipeline.window_spec),
        coalesce(alter_window.aggregates, w.aggregates),
        group_by         => coalesce(alter_window.group_by, w.group_by),
        allowed_lateness => coalesce(alter_window.allowed_lateness, w.allowed_lateness),
        emit             => coalesce(alter_window.emit, w.emit),
        late_rows        => coalesce(alter_window.late_rows, w.late_rows),
        mode             => coalesce(alter_window.mode, w.mode),
        retention        => coalesce(alter_window.retention, w.retention),
        sink             => coalesce(alter_window.sink, w.sink));
END
$$;
COMMENT ON FUNCTION pipeline.alter_window(regclass, pipeline.window_spec, text, name[], interval,
    text, text, text, interval, text) IS
'changes a window aggregate (NULL keeps an option) and rebuilds it from the source';

-- Counts behind pipeline.window_status (one window's tables).
-- a relation that no longer exists (a window broken before 0.6.0 recorded
-- its dependencies) gives NULL counts, not an error
CREATE FUNCTION pipeline.window_counts(w pipeline.windows,
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
COMMENT ON FUNCTION pipeline.window_counts(pipeline.windows) IS
'open and final windows, and delta rows waiting, of one window aggregate';

-- A window's relations and triggers are recorded in pg_depend when it is
-- created (src/window/depend.c): DROP TABLE of its result, its internal
-- tables or its source is refused with PostgreSQL's own error, and with
-- CASCADE (DROP TABLE, DROP VIEW, DROP SCHEMA, DROP OWNED) the whole
-- window goes; the object access hook then deletes its catalog row.  This
-- records them again where they are missing (windows restored by pg_dump).
CREATE FUNCTION pipeline._window_fix_dependencies(window_id integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline__window_fix_dependencies'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline._window_fix_dependencies(integer) IS
'records a window aggregate''s dependencies in pg_depend (windows made before 0.6.0, or restored); removes a window that lost a relation; returns whether it is kept';
REVOKE ALL ON FUNCTION pipeline._window_fix_dependencies(integer) FROM PUBLIC;

CREATE VIEW pipeline.window_status WITH (security_invoker = true) AS
SELECT w.name, w.source, w.kind, w.size, w.slide, w.group_by, w.mode, w.emit,
       w.late_rows AS late_policy, w.allowed_lateness, p.max_event_time,
       p.max_event_time - w.allowed_lateness AS watermark,
       c.open_windows, c.final_windows, p.late_rows,
       c.pending_delta, w.maintained_at, w.last_error, w.last_error_at,
       w.last_error_sqlstate, w.last_error_detail, w.last_error_hint, w.last_error_context
  FROM pipeline.windows w, LATERAL pipeline.window_counts(w) c,
       LATERAL (SELECT max(g.max_event_time) AS max_event_time, coalesce(sum(g.late), 0)::bigint AS late_rows
                  FROM pipeline.window_progress g WHERE g.window_id = w.id) p;
COMMENT ON VIEW pipeline.window_status IS
'per window aggregate: watermark, open and final windows, late rows seen, delta waiting (async), last error';
COMMENT ON COLUMN pipeline.window_status.name IS 'the window aggregate''s qualified name';
COMMENT ON COLUMN pipeline.window_status.source IS 'the source table';
COMMENT ON COLUMN pipeline.window_status.kind IS 'tumble, hop, cumulate or session';
COMMENT ON COLUMN pipeline.window_status.size IS 'the window size';
COMMENT ON COLUMN pipeline.window_status.slide IS 'the slide (hop) or step (cumulate)';
COMMENT ON COLUMN pipeline.window_status.group_by IS 'the group columns';
COMMENT ON COLUMN pipeline.window_status.mode IS 'sync, async or append';
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
'async: rows waiting in the delta table; append: partial rows waiting to be folded; 0 for sync';
COMMENT ON COLUMN pipeline.window_status.maintained_at IS 'async: the last merge; append: the last fold';
COMMENT ON COLUMN pipeline.window_status.last_error IS 'async: the last failed merge; append: the last failed fold';
COMMENT ON COLUMN pipeline.window_status.last_error_at IS 'when last_error happened';
COMMENT ON COLUMN pipeline.window_status.last_error_sqlstate IS 'the SQLSTATE of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_detail IS 'the DETAIL of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_hint IS 'the HINT of last_error';
COMMENT ON COLUMN pipeline.window_status.last_error_context IS 'the CONTEXT of last_error';
GRANT SELECT ON pipeline.window_status TO PUBLIC;
