-- pg_pipeline 0.6.0 -> 0.7.0: models (issue 12).
--
-- What changes for SQL (each section lists its own objects):
--   * the model catalog pipeline.models (row security, guard triggers,
--     dumped by pg_dump);
--   * model build (helper B): pipeline._model_build(), is_incremental(),
--     model_interval_start(), model_interval_end(), _model_state_support();

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.7.0'" to load this file. \quit

-- ==== model catalog ====

-- One row per model.  A model is named by its relation, qualified:
-- name = 'schema_name.relation_name' (create_model qualifies an
-- unqualified name with the creator's current schema).  The model's SQL is
-- resolved with the search_path it was created with (search_path), as its
-- owner.
CREATE TABLE pipeline.models (
    model_id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    schema_name     name NOT NULL,
    relation_name   name NOT NULL,
    owner           name NOT NULL DEFAULT current_user,
    sql             text NOT NULL,
    materialized    text NOT NULL DEFAULT 'view'
                    CHECK (materialized IN ('view', 'table', 'incremental', 'materialized_view',
                                            'ephemeral', 'snapshot', 'seed')),
    -- incremental models
    strategy        text CHECK (strategy IN ('append', 'merge', 'delete+insert', 'event_time')),
    unique_key      text[],
    incremental_by  name,
    lookback        interval NOT NULL DEFAULT '0',
    on_schema_change text NOT NULL DEFAULT 'fail'
                    CHECK (on_schema_change IN ('fail', 'append_new_columns', 'sync_all_columns', 'ignore')),
    -- snapshots (SCD type 2)
    snapshot_strategy text CHECK (snapshot_strategy IN ('timestamp', 'check')),
    updated_at_column name,
    check_columns   text[],
    hard_deletes    text CHECK (hard_deletes IN ('ignore', 'invalidate')),
    -- how it is resolved and described
    search_path     text NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    description     text,
    enabled         boolean NOT NULL DEFAULT true,
    -- state kept between runs
    high_water_mark timestamptz,        -- event_time: the largest event time built
    built_at        timestamptz,        -- end of the last successful build
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    owner_oid       oid                 -- set by trigger _owner_oid
);
COMMENT ON TABLE pipeline.models IS
'models: SQL queries materialized as views, tables, incremental tables, materialized views, snapshots or seeds';
COMMENT ON COLUMN pipeline.models.name IS
'the model''s name: its relation, schema-qualified (schema_name.relation_name)';
COMMENT ON COLUMN pipeline.models.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.models.search_path IS
'the search_path the model''s SQL is resolved and run with: the creator''s, fixed when the model is created';

SELECT pg_catalog.pg_extension_config_dump('pipeline.models', '');

ALTER TABLE pipeline.models ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.models
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.models TO PUBLIC;

-- a non-owner (pipeline_admin) may only enable or disable a model
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.models
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('model', 'enabled', 'updated_at');
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.models
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();


-- ==== model catalog: API, dependencies, lineage (helper A) ====



-- ==== model build: materializations and strategies (helper B) ====

-- Build one model in the caller's transaction: its SQL runs as the model's
-- owner with the search_path frozen at its creation; the relation is
-- created, rebuilt (keeping its OID) or updated by the materialization and
-- the incremental strategy.  Returns the rows written.  A role builds the
-- models it can see in pipeline.models (its own; all for pipeline_admin).
CREATE FUNCTION pipeline._model_build(model_id integer, full_refresh boolean DEFAULT false,
                                      interval_start timestamptz DEFAULT NULL,
                                      interval_end timestamptz DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline__model_build'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._model_build(integer, boolean, timestamptz, timestamptz) IS
'builds one model (view, table, incremental, materialized view, snapshot) as its owner; returns the rows written';

-- Read in a model's SQL while it builds (false / NULL outside a build).
-- While a model builds, its query is planned for that build alone, and the
-- planner replaces these calls by their values (the support function):
-- NOT pipeline.is_incremental() OR t > (...) then uses an index on t.
CREATE FUNCTION pipeline._model_state_support(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline__model_state_support'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline._model_state_support(internal) IS
'planner support: is_incremental(), model_interval_start() and model_interval_end() become constants in a model''s query';

CREATE FUNCTION pipeline.is_incremental()
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline_is_incremental'
LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT pipeline._model_state_support;
COMMENT ON FUNCTION pipeline.is_incremental() IS
'true while an incremental model is built into its existing table (not a first build, not full_refresh)';

CREATE FUNCTION pipeline.model_interval_start()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_model_interval_start'
LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT pipeline._model_state_support;
COMMENT ON FUNCTION pipeline.model_interval_start() IS
'the start of the interval the model being built reads: interval_start, or high_water_mark - lookback (event time); NULL outside a build';

CREATE FUNCTION pipeline.model_interval_end()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pipeline_model_interval_end'
LANGUAGE C STABLE PARALLEL RESTRICTED SUPPORT pipeline._model_state_support;
COMMENT ON FUNCTION pipeline.model_interval_end() IS
'the end (exclusive) of the interval the model being built reads: interval_end; NULL outside a build or when open';



-- ==== model runs: selection, run, build, history (helper C) ====



-- ==== seeds and snapshots (helper D) ====


