-- pg_pipeline 0.6.0 -> 0.7.0: models (issue 12).
--
-- What changes for SQL (each section lists its own objects):
--   * the model catalog pipeline.models (row security, guard triggers,
--     dumped by pg_dump);

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



-- ==== model runs: selection, run, build, history (helper C) ====



-- ==== seeds and snapshots (helper D) ====
-- Objects: pipeline.models gains seed_delimiter and seed_header (last);
-- functions create_seed, load_seed, load_seed_file, _snapshot_build,
-- snapshot.

-- A seed's CSV options, kept so that a reload reads its CSV the way the
-- seed was made.  (A seed's sql column holds its column list.)
ALTER TABLE pipeline.models
    ADD COLUMN seed_delimiter text,
    ADD COLUMN seed_header    boolean;
COMMENT ON COLUMN pipeline.models.seed_delimiter IS 'seeds: the CSV''s delimiter';
COMMENT ON COLUMN pipeline.models.seed_header IS
'seeds: whether the CSV starts with a header line naming the columns, in order';

-- Seeds: a CSV loaded through COPY into a table that the caller creates
-- and owns; everything runs as the caller (src/model/seed.c).
CREATE FUNCTION pipeline.create_seed(
    name        text,
    csv         text,
    columns     text,
    delimiter   text    DEFAULT ',',
    header      boolean DEFAULT true,
    tags        text[]  DEFAULT '{}',
    description text    DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'pipeline_create_seed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.create_seed(text, text, text, text, boolean, text[], text) IS
'creates a seed: a table with the given columns, loaded from CSV text through COPY; returns its model_id';

CREATE FUNCTION pipeline.load_seed(name text, csv text, truncate boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_load_seed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.load_seed(text, text, boolean) IS
'reloads a seed from CSV text (emptied first unless truncate is false), in one transaction; returns the rows loaded';

CREATE FUNCTION pipeline.load_seed_file(name text, path text, truncate boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_load_seed_file'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.load_seed_file(text, text, boolean) IS
'reloads a seed from a CSV file on the server (superusers and pg_read_server_files only); returns the rows loaded';

-- Snapshots (SCD type 2): models with materialized = 'snapshot', built by
-- pipeline._model_build through _snapshot_build, or directly by
-- pipeline.snapshot(name) (src/model/snapshot.c).
CREATE FUNCTION pipeline._snapshot_build(model_id integer)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_snapshot_build'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline._snapshot_build(integer) IS
'builds a snapshot model as its owner: closes changed and (invalidate) deleted versions, inserts new ones; returns the rows written';

CREATE FUNCTION pipeline.snapshot(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_snapshot'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline.snapshot(text) IS
'builds one snapshot model now (see _snapshot_build); returns the rows written';
