------------------------------------------------------------------------
-- Models (issue 12): the warehouse's T inside PostgreSQL.
--
-- This file holds the model catalog and its definition API
-- (create_model, alter_model, drop_model), the dependency graph and
-- lineage.  Building a model is in model_build.sql, runs and selection in
-- model_run.sql, seeds and snapshots in model_seed.sql.
------------------------------------------------------------------------

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
--
-- What this section adds: table pipeline.model_edges (the dependency
-- graph); create_model, alter_model, drop_model (SQL wrappers that take the
-- caller's schemas) over _create_model, _alter_model, _drop_model; the
-- helpers _model_qualify, _model_check, _model_check_relation,
-- _model_check_output, _model_refresh_edges, _model_cycle, _model_id_of,
-- _model_upstream, _model_downstream, _relation_kind, refresh_model_edges;
-- the C functions _model_graph_lock, _model_analyze (two forms),
-- _model_output, _model_column_lineage; the views lineage, model_problems,
-- column_lineage (and the function _model_column_lineage_or_problem behind
-- the last).

-- The dependency graph: one row per relation a model reads, found by
-- PostgreSQL's own parse and analysis of its SQL (src/model/depend.c),
-- through views (direct = false, via = the view), written by create_model
-- and alter_model.  upstream_oid is NULL for a model not built yet (read
-- by name); upstream_model_id is set when the relation is a model's.
CREATE TABLE pipeline.model_edges (
    model_id          integer NOT NULL REFERENCES pipeline.models ON DELETE CASCADE,
    upstream_oid      oid,
    upstream_name     text NOT NULL,
    upstream_model_id integer REFERENCES pipeline.models ON DELETE SET NULL,
    upstream_kind     "char",
    direct            boolean NOT NULL DEFAULT true,
    via               text,
    UNIQUE (model_id, upstream_name)
);
CREATE INDEX model_edges_upstream_model_id ON pipeline.model_edges (upstream_model_id);
COMMENT ON TABLE pipeline.model_edges IS
'the relations each model reads, from PostgreSQL''s parse of its SQL (through views: direct = false)';
COMMENT ON COLUMN pipeline.model_edges.upstream_name IS
'schema.relation of the upstream when the edge was recorded (kept when it is dropped or renamed)';
COMMENT ON COLUMN pipeline.model_edges.upstream_kind IS 'pg_class.relkind of the upstream when recorded';
COMMENT ON COLUMN pipeline.model_edges.model_id IS 'the model';
COMMENT ON COLUMN pipeline.model_edges.upstream_oid IS
'the upstream relation''s OID (NULL for a model not built yet)';
COMMENT ON COLUMN pipeline.model_edges.upstream_model_id IS
'the upstream model, when the relation is a model''s';
COMMENT ON COLUMN pipeline.model_edges.direct IS
'named in the model''s SQL (false: read through the view via)';
COMMENT ON COLUMN pipeline.model_edges.via IS 'the view through which the model reads it (NULL when direct)';

ALTER TABLE pipeline.model_edges ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.model_edges
    USING (EXISTS (SELECT 1 FROM pipeline.models m
                    WHERE m.model_id OPERATOR(pg_catalog.=) model_edges.model_id));
GRANT SELECT, INSERT, DELETE ON pipeline.model_edges TO PUBLIC;

-- pg_dump dumps the edges with the models (the run order needs them; the
-- model_ids are kept).  pg_restore writes them back (COPY) with the old
-- database's OIDs: an upstream_oid that does not name upstream_name any
-- more is looked up again by that name, so a restored database's lineage
-- and runs need nothing done by hand.
CREATE FUNCTION pipeline._model_edge_oid()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.upstream_oid IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = NEW.upstream_oid AND n.nspname || '.' || c.relname = NEW.upstream_name) THEN
        NEW.upstream_oid := coalesce((SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                       WHERE n.nspname || '.' || c.relname = NEW.upstream_name LIMIT 1),
                                     NEW.upstream_oid);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._model_edge_oid() IS
'trigger: an edge whose upstream_oid no longer names its upstream_name (restored by pg_restore) takes the OID of that name';
CREATE TRIGGER upstream_oid BEFORE INSERT ON pipeline.model_edges
    FOR EACH ROW EXECUTE FUNCTION pipeline._model_edge_oid();
SELECT pg_catalog.pg_extension_config_dump('pipeline.model_edges', '');
-- and the models' identity: without it, a model created after a restore
-- would be given a model_id the restored models have
SELECT pg_catalog.pg_extension_config_dump('pipeline.models_model_id_seq', '');

CREATE FUNCTION pipeline._model_analyze(model_id integer, check_privileges boolean DEFAULT false)
RETURNS TABLE(upstream_oid oid, upstream_name text, upstream_kind "char", direct boolean, via text)
AS 'MODULE_PATHNAME', 'pipeline_model_analyze_id'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._model_analyze(integer, boolean) IS
'the relations a model reads, from PostgreSQL''s analysis of its SQL as its owner with its search_path (check_privileges: the owner must be allowed to read them)';

CREATE FUNCTION pipeline._model_analyze(sql text, search_path text)
RETURNS TABLE(upstream_oid oid, upstream_name text, upstream_kind "char", direct boolean, via text)
AS 'MODULE_PATHNAME', 'pipeline_model_analyze'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._model_analyze(text, text) IS
'the relations a model with this SQL would read, analyzed as the current role with that search_path';

CREATE FUNCTION pipeline._model_output(sql text, search_path text)
RETURNS TABLE(column_position integer, column_name text, column_type regtype)
AS 'MODULE_PATHNAME', 'pipeline_model_output'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._model_output(text, text) IS
'the output columns of a model with this SQL (none while it reads a model not built yet)';

CREATE FUNCTION pipeline._model_column_lineage(model_id integer)
RETURNS TABLE(column_position integer, column_name text, upstream_oid oid, upstream text,
              upstream_column text, direct boolean, transform text, problem text)
AS 'MODULE_PATHNAME', 'pipeline_model_column_lineage'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._model_column_lineage(integer) IS
'for each output column of a model, the upstream columns it comes from (analyzed as its owner with its search_path)';

-- A model's name: 'schema.relation' or 'relation' (quoted as SQL quotes
-- identifiers).  For a new model an unqualified name takes the first of
-- the caller's schemas; for an existing one, the first of them that has a
-- model of that name.
CREATE FUNCTION pipeline._model_qualify(name text, schemas name[], existing boolean,
                                        OUT schema_name name, OUT relation_name name)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    IF _model_qualify.name IS NULL THEN
        RAISE EXCEPTION 'the name of a model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- a model's own name, as pipeline.models spells it
    IF existing THEN
        SELECT m.schema_name, m.relation_name INTO schema_name, relation_name
          FROM pipeline.models m WHERE m.name = _model_qualify.name;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    BEGIN
        parts := parse_ident(_model_qualify.name);
    EXCEPTION WHEN invalid_parameter_value THEN
        parts := NULL;
    END;
    IF parts IS NULL OR cardinality(parts) > 2 OR strpos(array_to_string(parts, ''), '.') > 0 THEN
        RAISE EXCEPTION 'invalid model name "%"', _model_qualify.name
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'A model is named by its relation: schema.relation, or relation in the current schema.',
                  HINT = 'Names with a dot are not allowed, even quoted.';
    END IF;
    relation_name := parts[cardinality(parts)];
    IF cardinality(parts) = 2 THEN
        schema_name := parts[1];
        RETURN;
    END IF;
    IF existing THEN
        SELECT m.schema_name INTO schema_name
          FROM unnest(schemas) WITH ORDINALITY s(nsp, pos)
          JOIN pipeline.models m ON m.schema_name = s.nsp AND m.relation_name = _model_qualify.relation_name
         ORDER BY s.pos LIMIT 1;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    SELECT s.nsp INTO schema_name FROM unnest(schemas) WITH ORDINALITY s(nsp, pos)
     WHERE s.nsp !~ '^pg_(toast_)?temp_' ORDER BY s.pos LIMIT 1;
    IF schema_name IS NULL THEN
        RAISE EXCEPTION 'no schema has been selected to create model "%" in', _model_qualify.name
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Qualify its name: ''schema.relation''.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._model_qualify(text, name[], boolean) IS
'the schema and relation of a model''s name, an unqualified one looked up in the given schemas';

-- A model's search_path, frozen when it is created: the creator's schemas
-- (current_schemas(false)) as a ready-to-SET string; temporary schemas are
-- the session's and left out.  create_model and create_seed both use it.
CREATE FUNCTION pipeline._model_search_path(schemas name[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce((SELECT string_agg(quote_ident(s.nsp), ', ' ORDER BY s.pos)
                        FROM unnest(schemas) WITH ORDINALITY s(nsp, pos)
                       WHERE s.nsp !~ '^pg_(toast_)?temp_'), '') $$;
COMMENT ON FUNCTION pipeline._model_search_path(name[]) IS
'the search_path a model keeps: the given schemas without temporary ones, quoted, as a ready-to-SET string';

-- Checks a model's options as they will be stored and fills the defaults
-- (strategy, hard_deletes); raises an error naming what is wrong.
CREATE FUNCTION pipeline._model_check(m pipeline.models)
RETURNS pipeline.models
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kinds CONSTANT text[] := '{view,table,incremental,materialized_view,ephemeral,snapshot,seed}';
    strategies CONSTANT text[] := '{append,merge,delete+insert,event_time}';
BEGIN
    IF m.sql IS NULL OR btrim(m.sql) = '' AND m.materialized IS DISTINCT FROM 'seed' THEN
        RAISE EXCEPTION 'the SQL of model "%" must not be empty', m.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF m.materialized IS NULL OR NOT m.materialized = ANY (kinds) THEN
        RAISE EXCEPTION 'invalid materialized "%" for model "%"', m.materialized, m.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'materialized is one of ' || array_to_string(kinds, ', ') || '.';
    END IF;

    -- incremental models
    IF m.strategy IS NOT NULL AND m.materialized <> 'incremental' THEN
        RAISE EXCEPTION 'strategy applies only to incremental models, and model "%" is materialized as %', m.name, m.materialized
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use materialized => ''incremental'', or leave strategy out.';
    END IF;
    IF m.materialized = 'incremental' THEN
        m.strategy := coalesce(m.strategy,
                               CASE WHEN m.incremental_by IS NOT NULL THEN 'event_time'
                                    WHEN m.unique_key IS NOT NULL THEN 'merge'
                                    ELSE 'append' END);
        IF NOT m.strategy = ANY (strategies) THEN
            RAISE EXCEPTION 'invalid strategy "%" for model "%"', m.strategy, m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'strategy is one of ' || array_to_string(strategies, ', ') || '.';
        END IF;
        IF m.strategy IN ('merge', 'delete+insert') AND coalesce(cardinality(m.unique_key), 0) = 0 THEN
            RAISE EXCEPTION 'strategy "%" of model "%" needs a unique_key', m.strategy, m.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'The new rows replace the rows with the same key.',
                      HINT = 'Give the key''s columns: unique_key => ''{order_id}''.';
        END IF;
        IF m.strategy = 'event_time' AND m.incremental_by IS NULL THEN
            RAISE EXCEPTION 'strategy "event_time" of model "%" needs incremental_by', m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name the output column that holds the event time: incremental_by => ''ordered_at''.';
        END IF;
        IF m.strategy = 'append' AND m.unique_key IS NOT NULL THEN
            RAISE EXCEPTION 'strategy "append" of model "%" takes no unique_key', m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use strategy => ''merge'' or ''delete+insert'' to replace rows by key.';
        END IF;
    END IF;
    IF m.incremental_by IS NOT NULL AND m.strategy IS DISTINCT FROM 'event_time' THEN
        RAISE EXCEPTION 'incremental_by applies only to strategy "event_time" (model "%")', m.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use materialized => ''incremental'', strategy => ''event_time''.';
    END IF;
    IF m.lookback IS NULL OR m.lookback < '0' THEN
        RAISE EXCEPTION 'lookback of model "%" must not be negative', m.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF m.lookback > '0' AND m.strategy IS DISTINCT FROM 'event_time' THEN
        RAISE EXCEPTION 'lookback applies only to strategy "event_time" (model "%")', m.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'lookback is how far before the high-water mark an event_time build reads again.';
    END IF;
    IF m.on_schema_change IS NULL
       OR m.on_schema_change NOT IN ('fail', 'append_new_columns', 'sync_all_columns', 'ignore') THEN
        RAISE EXCEPTION 'invalid on_schema_change "%" for model "%"', m.on_schema_change, m.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'on_schema_change is one of fail, append_new_columns, sync_all_columns, ignore.';
    END IF;
    IF m.on_schema_change <> 'fail' AND m.materialized <> 'incremental' THEN
        RAISE EXCEPTION 'on_schema_change applies only to incremental models (model "%")', m.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Other materializations are rebuilt whole from their SQL.';
    END IF;

    -- snapshots
    IF m.materialized = 'snapshot' THEN
        IF m.unique_key IS NULL THEN
            RAISE EXCEPTION 'snapshot "%" needs a unique_key', m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give the columns that identify a row: unique_key => ''{id}''.';
        END IF;
        IF m.snapshot_strategy IS NULL OR m.snapshot_strategy NOT IN ('timestamp', 'check') THEN
            RAISE EXCEPTION 'snapshot "%" needs snapshot_strategy ''timestamp'' or ''check''', m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'timestamp: a row changed when its updated_at_column did; check: when one of check_columns did.';
        END IF;
        IF m.snapshot_strategy = 'timestamp' AND (m.updated_at_column IS NULL OR m.check_columns IS NOT NULL) THEN
            RAISE EXCEPTION 'snapshot_strategy "timestamp" of snapshot "%" needs updated_at_column and no check_columns', m.name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF m.snapshot_strategy = 'check' AND (coalesce(cardinality(m.check_columns), 0) = 0 OR m.updated_at_column IS NOT NULL) THEN
            RAISE EXCEPTION 'snapshot_strategy "check" of snapshot "%" needs check_columns and no updated_at_column', m.name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        m.hard_deletes := coalesce(m.hard_deletes, 'ignore');
        IF m.hard_deletes NOT IN ('ignore', 'invalidate') THEN
            RAISE EXCEPTION 'invalid hard_deletes "%" for snapshot "%"', m.hard_deletes, m.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'hard_deletes is ignore or invalidate.';
        END IF;
    ELSIF m.snapshot_strategy IS NOT NULL OR m.updated_at_column IS NOT NULL
          OR m.check_columns IS NOT NULL OR m.hard_deletes IS NOT NULL THEN
        RAISE EXCEPTION 'snapshot_strategy, updated_at_column, check_columns and hard_deletes apply only to snapshots (model "%")', m.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use materialized => ''snapshot''.';
    END IF;

    IF m.unique_key IS NOT NULL AND m.materialized NOT IN ('incremental', 'snapshot') THEN
        RAISE EXCEPTION 'unique_key applies only to incremental models and snapshots (model "%")', m.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(m.unique_key, NULL) IS NOT NULL OR '' = ANY (m.unique_key)
       OR array_position(m.check_columns, NULL) IS NOT NULL OR '' = ANY (m.check_columns)
       OR cardinality(m.unique_key) = 0 THEN
        RAISE EXCEPTION 'unique_key and check_columns of model "%" must name columns', m.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    m.tags := coalesce(m.tags, '{}');
    IF array_position(m.tags, NULL) IS NOT NULL OR '' = ANY (m.tags) THEN
        RAISE EXCEPTION 'the tags of model "%" must not be null or empty', m.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN m;
END
$$;
COMMENT ON FUNCTION pipeline._model_check(pipeline.models) IS
'checks a model''s options (materialized, strategy and what it needs, snapshot options) and returns it with the defaults filled';

-- The relation a model will write: its schema exists and the owner may
-- create in it; a relation of that name that exists is the owner's and of
-- the materialization's kind (a new model), and an ephemeral model has no
-- relation of its name.  A role cannot make a model write into a relation
-- it does not own.
CREATE FUNCTION pipeline._model_check_relation(m pipeline.models, is_new boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    wanted text;
BEGIN
    IF m.materialized = 'ephemeral' THEN
        SELECT c.oid INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = m.schema_name AND c.relname = m.relation_name;
        IF FOUND THEN
            RAISE EXCEPTION 'relation "%" already exists', m.name
                USING ERRCODE = 'duplicate_table',
                      DETAIL = 'An ephemeral model creates no relation: other SQL naming it would read the existing relation instead.',
                      HINT = 'Choose another name.';
        END IF;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = m.schema_name) THEN
        RAISE EXCEPTION 'schema "%" does not exist', m.schema_name
            USING ERRCODE = 'invalid_schema_name',
                  HINT = format('Create it first: CREATE SCHEMA %I.', m.schema_name);
    END IF;
    IF NOT has_schema_privilege(m.schema_name, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied for schema %', m.schema_name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Model "%s" creates its relation in it, as its owner.', m.name);
    END IF;
    SELECT c.oid, c.relkind, c.relowner::regrole AS owner INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = m.schema_name AND c.relname = m.relation_name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT pg_has_role(rel.owner::oid, 'USAGE') THEN
        RAISE EXCEPTION 'relation "%" already exists and belongs to role %', m.name, rel.owner
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A model writes its relation: a role cannot make a model write into a relation it does not own.',
                  HINT = 'Choose another name for the model.';
    END IF;
    wanted := CASE m.materialized WHEN 'view' THEN 'v' WHEN 'materialized_view' THEN 'm' ELSE 'r' END;
    IF is_new AND NOT (rel.relkind = wanted OR rel.relkind = 'p' AND wanted = 'r') THEN
        RAISE EXCEPTION 'relation "%" already exists and is a %, not a %', m.name,
                CASE rel.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                                 WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
                                 ELSE 'relation of another kind' END,
                CASE wanted WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = format('Model "%s" is materialized as %s.', m.name, m.materialized),
                  HINT = 'Drop the relation first, or choose a materialization of its kind.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._model_check_relation(pipeline.models, boolean) IS
'checks the relation a model will write: schema, privilege, an existing relation''s owner and kind';

-- The options that name output columns name columns the SQL outputs; the
-- output columns have distinct names.  Not checked while the SQL reads a
-- model not built yet (then _model_output gives nothing).
CREATE FUNCTION pipeline._model_check_output(m pipeline.models)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols text[];
    types regtype[];
    col text;
BEGIN
    IF m.materialized = 'seed' THEN
        RETURN;
    END IF;
    SELECT array_agg(o.column_name ORDER BY o.column_position), array_agg(o.column_type ORDER BY o.column_position)
      INTO cols, types
      FROM pipeline._model_output(m.sql, m.search_path) o;
    IF cols IS NULL THEN
        RETURN;
    END IF;
    SELECT c INTO col FROM unnest(cols) c GROUP BY c HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the SQL of model "%" outputs column "%" more than once', m.name, col
            USING ERRCODE = 'duplicate_column',
                  HINT = 'Give each output column its own name with AS.';
    END IF;
    FOR col IN SELECT unnest(m.unique_key || m.check_columns || ARRAY[m.incremental_by::text, m.updated_at_column::text]) LOOP
        IF col IS NOT NULL AND NOT col = ANY (cols) THEN
            RAISE EXCEPTION 'column "%" is not an output column of model "%"', col, m.name
                USING ERRCODE = 'undefined_column',
                      DETAIL = 'unique_key, incremental_by, updated_at_column and check_columns name columns of the model''s result.',
                      HINT = 'The model outputs: ' || array_to_string(cols, ', ') || '.';
        END IF;
    END LOOP;
    FOR col IN SELECT unnest(ARRAY[m.incremental_by::text, m.updated_at_column::text]) LOOP
        IF col IS NOT NULL
           AND types[array_position(cols, col)] NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
            RAISE EXCEPTION 'column "%" of model "%" is of type %, not a time', col, m.name, types[array_position(cols, col)]
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'incremental_by and updated_at_column name a column of type timestamptz, timestamp or date.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._model_check_output(pipeline.models) IS
'checks that a model''s output columns have distinct names and include those its options name';

-- The model that builds a relation of this name, whoever owns it (only the
-- id: an edge to another role's model orders runs across roles).
CREATE FUNCTION pipeline._model_id_of(name text)
RETURNS integer
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT m.model_id FROM pipeline.models m WHERE m.name OPERATOR(pg_catalog.=) _model_id_of.name $$;
COMMENT ON FUNCTION pipeline._model_id_of(text) IS
'the id of the model named schema.relation, whoever owns it';

-- The shortest cycle through a model, as 'a -> b -> a' (each reads the
-- next), NULL when there is none.  A model reading its own relation (an
-- incremental model's "SELECT max(...) FROM itself") is no cycle.  Sees
-- the edges the caller sees: a cycle through another role's models is
-- found by the run that orders them.
CREATE FUNCTION pipeline._model_cycle(id integer)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    -- The paths are walked only among the models on a cycle through id
    -- (read by id, transitively, and reading it): walked over the whole
    -- graph, their number grows exponentially with the models (a model
    -- reading a view model has an edge to everything the view reads).
    WITH RECURSIVE up(model_id) AS (
        SELECT e.upstream_model_id FROM pipeline.model_edges e
         WHERE e.model_id = id AND e.upstream_model_id <> e.model_id
        UNION
        SELECT e.upstream_model_id FROM up JOIN pipeline.model_edges e ON e.model_id = up.model_id
         WHERE up.model_id <> id AND e.upstream_model_id <> e.model_id
    ), down(model_id) AS (
        SELECT e.model_id FROM pipeline.model_edges e
         WHERE e.upstream_model_id = id AND e.upstream_model_id <> e.model_id
        UNION
        SELECT e.model_id FROM down JOIN pipeline.model_edges e ON e.upstream_model_id = down.model_id
         WHERE down.model_id <> id AND e.upstream_model_id <> e.model_id
    ), on_cycle(model_id) AS (
        SELECT up.model_id FROM up INTERSECT SELECT down.model_id FROM down
    ), walk(model_id, path) AS (
        SELECT e.upstream_model_id, ARRAY[e.model_id, e.upstream_model_id]
          FROM pipeline.model_edges e JOIN on_cycle c ON c.model_id = e.upstream_model_id
         WHERE e.model_id = id AND e.upstream_model_id <> id
        UNION ALL
        SELECT e.upstream_model_id, w.path || e.upstream_model_id
          FROM walk w JOIN pipeline.model_edges e ON e.model_id = w.model_id
               JOIN on_cycle c ON c.model_id = e.upstream_model_id
         WHERE w.model_id <> id
           AND e.upstream_model_id <> e.model_id
           AND NOT e.upstream_model_id = ANY (w.path[2:])
    )
    SELECT string_agg(coalesce(m.name, '?'), ' -> ' ORDER BY p.pos)
      FROM (SELECT w.path FROM walk w WHERE w.model_id = id
             ORDER BY cardinality(w.path) LIMIT 1) c
     CROSS JOIN LATERAL unnest(c.path) WITH ORDINALITY p(model_id, pos)
      LEFT JOIN pipeline.models m ON m.model_id = p.model_id
     -- no model reads id (a new model, a leaf): no cycle, and no walk up
     -- through everything it reads, which made creating the n-th model of
     -- a chain cost O(n)
     WHERE EXISTS (SELECT 1 FROM pipeline.model_edges e
                    WHERE e.upstream_model_id = id AND e.model_id <> id)
$$;
COMMENT ON FUNCTION pipeline._model_cycle(integer) IS
'the shortest cycle of models through a model (''a -> b -> a''), NULL when there is none';

CREATE FUNCTION pipeline._model_graph_lock()
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_model_graph_lock'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline._model_graph_lock() IS
'waits for, then holds until the end of the transaction, the right to write pipeline.model_edges (one writer at a time)';

-- Records what a model reads now (its SQL analyzed as its owner with its
-- search_path) and refuses a cycle.
CREATE FUNCTION pipeline._model_refresh_edges(id integer, check_privileges boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m pipeline.models;
    cycle text;
BEGIN
    SELECT * INTO m FROM pipeline.models WHERE model_id = id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model % does not exist', id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM pipeline._model_graph_lock();
    DELETE FROM pipeline.model_edges e WHERE e.model_id = id;
    INSERT INTO pipeline.model_edges (model_id, upstream_oid, upstream_name, upstream_model_id,
                                      upstream_kind, direct, via)
    SELECT id, a.upstream_oid, a.upstream_name, pipeline._model_id_of(a.upstream_name),
           a.upstream_kind, a.direct, a.via
      FROM pipeline._model_analyze(id, check_privileges) a
     WHERE a.upstream_name <> m.name;
    cycle := pipeline._model_cycle(id);
    IF cycle IS NOT NULL THEN
        RAISE EXCEPTION 'model "%" would depend on itself: %', m.name, cycle
            USING ERRCODE = 'invalid_object_definition',
                  DETAIL = 'Each model in the cycle reads the next one (directly, or through views).',
                  HINT = 'Change the SQL of one of them to break the cycle.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._model_refresh_edges(integer, boolean) IS
'records the relations a model reads (pipeline.model_edges) and refuses a cycle of models';

CREATE FUNCTION pipeline._create_model(
    schemas             name[],
    name                text,
    sql                 text,
    materialized        text,
    strategy            text,
    unique_key          text[],
    incremental_by      name,
    lookback            interval,
    on_schema_change    text,
    tags                text[],
    description         text,
    snapshot_strategy   text,
    updated_at_column   name,
    check_columns       text[],
    hard_deletes        text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q record := pipeline._model_qualify(_create_model.name, schemas, false);
    m pipeline.models;
BEGIN
    m.name := q.schema_name || '.' || q.relation_name;
    m.schema_name := q.schema_name;
    m.relation_name := q.relation_name;
    m.sql := _create_model.sql;
    m.materialized := _create_model.materialized;
    m.strategy := _create_model.strategy;
    m.unique_key := _create_model.unique_key;
    m.incremental_by := _create_model.incremental_by;
    m.lookback := _create_model.lookback;
    m.on_schema_change := _create_model.on_schema_change;
    m.tags := _create_model.tags;
    m.description := _create_model.description;
    m.snapshot_strategy := _create_model.snapshot_strategy;
    m.updated_at_column := _create_model.updated_at_column;
    m.check_columns := _create_model.check_columns;
    m.hard_deletes := _create_model.hard_deletes;
    m.search_path := pipeline._model_search_path(schemas);
    m := pipeline._model_check(m);
    IF EXISTS (SELECT 1 FROM pipeline.models x WHERE x.name = m.name) THEN
        RAISE EXCEPTION 'model "%" already exists', m.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change it with pipeline.alter_model(), or drop it with pipeline.drop_model() first.';
    END IF;
    PERFORM pipeline._model_check_relation(m, true);
    BEGIN
        INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, strategy,
                                     unique_key, incremental_by, lookback, on_schema_change,
                                     snapshot_strategy, updated_at_column, check_columns,
                                     hard_deletes, search_path, tags, description)
        VALUES (m.name, m.schema_name, m.relation_name, m.sql, m.materialized, m.strategy,
                m.unique_key, m.incremental_by, m.lookback, m.on_schema_change,
                m.snapshot_strategy, m.updated_at_column, m.check_columns,
                m.hard_deletes, m.search_path, m.tags, m.description)
        RETURNING model_id INTO m.model_id;
    EXCEPTION WHEN unique_violation THEN
        -- a model of another role, which row-level security hides
        RAISE EXCEPTION 'model "%" already exists', m.name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'Model names are unique in a database, across roles.',
                  HINT = 'Choose another name.';
    END;
    IF m.materialized <> 'seed' THEN
        PERFORM pipeline._model_refresh_edges(m.model_id, true);
        PERFORM pipeline._model_check_output(m);
    END IF;
    RETURN m.model_id;
END
$$;
COMMENT ON FUNCTION pipeline._create_model(name[], text, text, text, text, text[], name, interval, text, text[], text, text, name, text[], text) IS
'create_model with the caller''s schemas (current_schemas(false)): the search_path the model keeps';

-- The caller's schemas are taken here, by a SQL function without a
-- search_path of its own: _create_model pins its own.
CREATE FUNCTION pipeline.create_model(
    name                text,
    sql                 text,
    materialized        text        DEFAULT 'view',
    strategy            text        DEFAULT NULL,
    unique_key          text[]      DEFAULT NULL,
    incremental_by      name        DEFAULT NULL,
    lookback            interval    DEFAULT '0',
    on_schema_change    text        DEFAULT 'fail',
    tags                text[]      DEFAULT '{}',
    description         text        DEFAULT NULL,
    snapshot_strategy   text        DEFAULT NULL,
    updated_at_column   name        DEFAULT NULL,
    check_columns       text[]      DEFAULT NULL,
    hard_deletes        text        DEFAULT NULL)
RETURNS integer
LANGUAGE sql VOLATILE
AS $$ SELECT pipeline._create_model(pg_catalog.current_schemas(false), $1, $2, $3, $4, $5, $6, $7,
                                    $8, $9, $10, $11, $12, $13, $14) $$;
COMMENT ON FUNCTION pipeline.create_model(text, text, text, text, text[], name, interval, text, text[], text, text, name, text[], text) IS
'creates a model (a named SELECT, built as a view, table, incremental table, materialized view, snapshot; or ephemeral); its search_path is the caller''s, frozen; returns its id';

CREATE FUNCTION pipeline._alter_model(
    schemas             name[],
    name                text,
    sql                 text,
    materialized        text,
    strategy            text,
    unique_key          text[],
    incremental_by      name,
    lookback            interval,
    on_schema_change    text,
    tags                text[],
    description         text,
    snapshot_strategy   text,
    updated_at_column   name,
    check_columns       text[],
    hard_deletes        text,
    enabled             boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q record := pipeline._model_qualify(_alter_model.name, schemas, true);
    old pipeline.models;
    m pipeline.models;
BEGIN
    SELECT * INTO old FROM pipeline.models x
     WHERE x.name = q.schema_name || '.' || q.relation_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', q.schema_name || '.' || q.relation_name
            USING ERRCODE = 'undefined_object';
    END IF;
    m := old;
    m.sql := coalesce(_alter_model.sql, old.sql);
    m.materialized := coalesce(_alter_model.materialized, old.materialized);
    m.strategy := coalesce(_alter_model.strategy,
                           CASE WHEN m.materialized = old.materialized THEN old.strategy END);
    m.unique_key := coalesce(_alter_model.unique_key,
                             CASE WHEN m.materialized IN ('incremental', 'snapshot') THEN old.unique_key END);
    m.incremental_by := coalesce(_alter_model.incremental_by,
                                 CASE WHEN m.materialized = 'incremental' THEN old.incremental_by END);
    m.lookback := coalesce(_alter_model.lookback,
                           CASE WHEN m.materialized = 'incremental' THEN old.lookback END, '0');
    m.on_schema_change := coalesce(_alter_model.on_schema_change,
                                   CASE WHEN m.materialized = 'incremental' THEN old.on_schema_change END, 'fail');
    m.tags := coalesce(_alter_model.tags, old.tags);
    m.description := coalesce(_alter_model.description, old.description);
    m.snapshot_strategy := coalesce(_alter_model.snapshot_strategy,
                                    CASE WHEN m.materialized = 'snapshot' THEN old.snapshot_strategy END);
    m.updated_at_column := coalesce(_alter_model.updated_at_column,
                                    CASE WHEN m.materialized = 'snapshot' THEN old.updated_at_column END);
    m.check_columns := coalesce(_alter_model.check_columns,
                                CASE WHEN m.materialized = 'snapshot' THEN old.check_columns END);
    m.hard_deletes := coalesce(_alter_model.hard_deletes,
                               CASE WHEN m.materialized = 'snapshot' THEN old.hard_deletes END);
    m.enabled := coalesce(_alter_model.enabled, old.enabled);
    m := pipeline._model_check(m);
    IF m.materialized <> old.materialized THEN
        PERFORM pipeline._model_check_relation(m, false);
    END IF;
    -- a new way to find the new rows starts from nothing
    IF m.strategy IS DISTINCT FROM old.strategy OR m.incremental_by IS DISTINCT FROM old.incremental_by THEN
        m.high_water_mark := NULL;
    END IF;
    m.updated_at := now();
    UPDATE pipeline.models x
       SET sql = m.sql, materialized = m.materialized, strategy = m.strategy,
           unique_key = m.unique_key, incremental_by = m.incremental_by, lookback = m.lookback,
           on_schema_change = m.on_schema_change, tags = m.tags, description = m.description,
           snapshot_strategy = m.snapshot_strategy, updated_at_column = m.updated_at_column,
           check_columns = m.check_columns, hard_deletes = m.hard_deletes, enabled = m.enabled,
           high_water_mark = m.high_water_mark, updated_at = m.updated_at
     WHERE x.model_id = old.model_id;
    IF m.materialized <> 'seed' THEN
        -- analyzed as the owner; the owner's privileges and the output
        -- columns are checked when the owner changes the model (another
        -- role only pauses or resumes it)
        PERFORM pipeline._model_refresh_edges(m.model_id, old.owner_oid = pipeline._current_role_oid());
        IF old.owner_oid = pipeline._current_role_oid() THEN
            PERFORM pipeline._model_check_output(m);
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._alter_model(name[], text, text, text, text, text[], name, interval, text, text[], text, text, name, text[], text, boolean) IS
'alter_model with the caller''s schemas (to find an unqualified name)';

CREATE FUNCTION pipeline.alter_model(
    name                text,
    sql                 text        DEFAULT NULL,
    materialized        text        DEFAULT NULL,
    strategy            text        DEFAULT NULL,
    unique_key          text[]      DEFAULT NULL,
    incremental_by      name        DEFAULT NULL,
    lookback            interval    DEFAULT NULL,
    on_schema_change    text        DEFAULT NULL,
    tags                text[]      DEFAULT NULL,
    description         text        DEFAULT NULL,
    snapshot_strategy   text        DEFAULT NULL,
    updated_at_column   name        DEFAULT NULL,
    check_columns       text[]      DEFAULT NULL,
    hard_deletes        text        DEFAULT NULL,
    enabled             boolean     DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pipeline._alter_model(pg_catalog.current_schemas(false), $1, $2, $3, $4, $5, $6, $7,
                                   $8, $9, $10, $11, $12, $13, $14, $15) $$;
COMMENT ON FUNCTION pipeline.alter_model(text, text, text, text, text[], name, interval, text, text[], text, text, name, text[], text, boolean) IS
'changes a model (NULL keeps an option; options of another materialization are dropped when it changes) and records again what it reads; its search_path stays the one it was created with';

CREATE FUNCTION pipeline._drop_model(schemas name[], name text, if_exists boolean, drop_relation boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q record := pipeline._model_qualify(_drop_model.name, schemas, true);
    m pipeline.models;
    dependents text;
    rel record;
BEGIN
    SELECT * INTO m FROM pipeline.models x
     WHERE x.name = q.schema_name || '.' || q.relation_name FOR UPDATE;
    IF NOT FOUND THEN
        IF if_exists THEN
            RAISE NOTICE 'model "%" does not exist, skipping', q.schema_name || '.' || q.relation_name;
            RETURN;
        END IF;
        RAISE EXCEPTION 'model "%" does not exist', q.schema_name || '.' || q.relation_name
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT string_agg(DISTINCT d.name, ', ') INTO dependents
      FROM pipeline.model_edges e JOIN pipeline.models d ON d.model_id = e.model_id
     WHERE e.upstream_model_id = m.model_id AND e.model_id <> m.model_id;
    IF dependents IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop model "%" because other models read it', m.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Models reading it: ' || dependents || '.',
                  HINT = 'Drop those models first, or change their SQL with pipeline.alter_model().';
    END IF;
    IF coalesce(drop_relation, true) AND m.materialized <> 'ephemeral' THEN
        SELECT c.relkind INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = m.schema_name AND c.relname = m.relation_name;
        -- only a relation of the model's kind: never someone's table that took a free name
        IF rel.relkind = 'v' AND m.materialized = 'view' THEN
            EXECUTE format('DROP VIEW %I.%I', m.schema_name, m.relation_name);
        ELSIF rel.relkind = 'm' AND m.materialized = 'materialized_view' THEN
            EXECUTE format('DROP MATERIALIZED VIEW %I.%I', m.schema_name, m.relation_name);
        ELSIF rel.relkind IN ('r', 'p') AND m.materialized IN ('table', 'incremental', 'snapshot', 'seed') THEN
            EXECUTE format('DROP TABLE %I.%I', m.schema_name, m.relation_name);
        ELSIF rel.relkind IS NOT NULL THEN
            RAISE NOTICE 'relation "%" is not a % and is kept', m.name, m.materialized;
        END IF;
    END IF;
    DELETE FROM pipeline.models x WHERE x.model_id = m.model_id;
END
$$;
COMMENT ON FUNCTION pipeline._drop_model(name[], text, boolean, boolean) IS
'drop_model with the caller''s schemas (to find an unqualified name)';

CREATE FUNCTION pipeline.drop_model(name text, if_exists boolean DEFAULT false, drop_relation boolean DEFAULT true)
RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pipeline._drop_model(pg_catalog.current_schemas(false), $1, $2, $3) $$;
COMMENT ON FUNCTION pipeline.drop_model(text, boolean, boolean) IS
'drops a model and (drop_relation) its relation; refused while other models read it';

-- Records again what every model the caller sees reads (after upstream
-- relations were dropped and created again).
CREATE FUNCTION pipeline.refresh_model_edges(name text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer;
    n integer := 0;
BEGIN
    FOR id IN SELECT m.model_id FROM pipeline.models m
               WHERE m.materialized <> 'seed'
                 AND (refresh_model_edges.name IS NULL OR m.name = refresh_model_edges.name)
               ORDER BY m.model_id LOOP
        PERFORM pipeline._model_refresh_edges(id);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pipeline.refresh_model_edges(text) IS
'records again what a model (schema.relation; default: every model the caller sees) reads; returns how many models';

-- The models a model reads (upstream) or that read it (downstream),
-- transitively, with the distance.
CREATE FUNCTION pipeline._model_upstream(id integer)
RETURNS TABLE(model_id integer, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
-- breadth first, each model once (walking every path would take
-- exponential time: a model reading a view model has an edge to
-- everything the view reads)
DECLARE
    seen integer[] := ARRAY[id];
    frontier integer[] := ARRAY[id];
    next integer[];
    d integer := 0;
BEGIN
    LOOP
        d := d + 1;
        SELECT array_agg(DISTINCT e.upstream_model_id) INTO next
          FROM pipeline.model_edges e
         WHERE e.model_id = ANY (frontier) AND e.upstream_model_id IS NOT NULL
           AND NOT e.upstream_model_id = ANY (seen);
        EXIT WHEN next IS NULL;
        RETURN QUERY SELECT n, d FROM unnest(next) n;
        seen := seen || next;
        frontier := next;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._model_upstream(integer) IS
'the models a model reads, directly (depth 1) or not';

CREATE FUNCTION pipeline._model_downstream(id integer)
RETURNS TABLE(model_id integer, depth integer)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
-- breadth first, each model once (walking every path would take
-- exponential time: a model reading a view model has an edge to
-- everything the view reads)
DECLARE
    seen integer[] := ARRAY[id];
    frontier integer[] := ARRAY[id];
    next integer[];
    d integer := 0;
BEGIN
    LOOP
        d := d + 1;
        SELECT array_agg(DISTINCT e.model_id) INTO next
          FROM pipeline.model_edges e
         WHERE e.upstream_model_id = ANY (frontier) AND e.model_id IS NOT NULL
           AND NOT e.model_id = ANY (seen);
        EXIT WHEN next IS NULL;
        RETURN QUERY SELECT n, d FROM unnest(next) n;
        seen := seen || next;
        frontier := next;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._model_downstream(integer) IS
'the models that read a model, directly (depth 1) or not';

-- What a relation is to pg_pipeline: a Kafka source's target, a window's
-- result, or by its kind.  A function (not inlined) rather than a join in
-- the view: the view does not depend on the columns of the other areas'
-- catalogs.
CREATE FUNCTION pipeline._relation_kind(rel oid)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.target_oid = c.oid) THEN 'source target'
                WHEN EXISTS (SELECT 1 FROM pipeline.windows w WHERE w.result::oid = c.oid) THEN 'window'
                WHEN c.relkind IN ('r', 'p') THEN 'table'
                WHEN c.relkind = 'v' THEN 'view'
                WHEN c.relkind = 'm' THEN 'materialized view'
                WHEN c.relkind = 'f' THEN 'foreign table'
                ELSE 'relation'
           END
      FROM pg_class c WHERE c.oid = rel
$$;
COMMENT ON FUNCTION pipeline._relation_kind(oid) IS
'what a relation is to pg_pipeline: source target, window, table, view, materialized view, foreign table';

-- Table-level lineage: one row per relation a model reads.  upstream is
-- the relation's name now (the name it had when recorded, if it is gone);
-- problem says when it was dropped or renamed since.
CREATE VIEW pipeline.lineage WITH (security_invoker = true) AS
SELECT m.name AS model,
       coalesce(n.nspname || '.' || c.relname, e.upstream_name) AS upstream,
       CASE WHEN e.upstream_model_id IS NOT NULL THEN 'model'
            ELSE pipeline._relation_kind(c.oid)
       END AS upstream_kind,
       e.direct,
       e.via,
       CASE WHEN e.upstream_oid IS NOT NULL AND c.oid IS NULL THEN
                format('upstream relation OID %s no longer exists (it was %s)', e.upstream_oid, e.upstream_name)
                || CASE WHEN now_named.oid IS NOT NULL THEN
                        format('; %s is now another relation: pipeline.alter_model(%L) records it',
                               e.upstream_name, m.name) ELSE '' END
            WHEN e.upstream_oid IS NOT NULL AND n.nspname || '.' || c.relname <> e.upstream_name THEN
                format('upstream relation %s (OID %s) was renamed to %s; the model''s SQL names it by its old name',
                       e.upstream_name, e.upstream_oid, n.nspname || '.' || c.relname)
            WHEN e.upstream_oid IS NULL AND e.upstream_model_id IS NULL THEN
                format('upstream model %s no longer exists', e.upstream_name)
       END AS problem,
       c.oid AS upstream_oid,
       e.upstream_model_id,
       m.model_id
  FROM pipeline.model_edges e
  JOIN pipeline.models m ON m.model_id = e.model_id
  LEFT JOIN pipeline.models u ON u.model_id = e.upstream_model_id AND e.upstream_oid IS NULL
  LEFT JOIN pg_catalog.pg_class c
         ON c.oid = coalesce(e.upstream_oid,
                             (SELECT c2.oid FROM pg_catalog.pg_class c2
                                JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
                               WHERE n2.nspname = u.schema_name AND c2.relname = u.relation_name))
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL (SELECT c3.oid FROM pg_catalog.pg_class c3
                       JOIN pg_catalog.pg_namespace n3 ON n3.oid = c3.relnamespace
                      WHERE c.oid IS NULL AND e.upstream_oid IS NOT NULL
                        AND n3.nspname || '.' || c3.relname = e.upstream_name) now_named ON true;
COMMENT ON VIEW pipeline.lineage IS
'table-level lineage: the relations each model reads (upstream_kind model, table, view, source target, window, ...; direct = named in its SQL, else through the view via), and problem when one was dropped or renamed';
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
GRANT SELECT ON pipeline.lineage TO PUBLIC;

CREATE VIEW pipeline.model_problems WITH (security_invoker = true) AS
SELECT l.model, l.upstream, l.problem FROM pipeline.lineage l WHERE l.problem IS NOT NULL;
COMMENT ON VIEW pipeline.model_problems IS
'upstream relations of models that were dropped or renamed since the model''s dependencies were recorded';
COMMENT ON COLUMN pipeline.model_problems.model IS 'the model';
COMMENT ON COLUMN pipeline.model_problems.upstream IS 'the upstream relation';
COMMENT ON COLUMN pipeline.model_problems.problem IS 'what happened to it';
GRANT SELECT ON pipeline.model_problems TO PUBLIC;

-- The column lineage of one model, or one row with the reason it cannot
-- be analyzed now (an upstream dropped, a column gone): one broken model
-- does not break the view.
CREATE FUNCTION pipeline._model_column_lineage_or_problem(id integer)
RETURNS TABLE(column_position integer, column_name text, upstream_oid oid, upstream text,
              upstream_column text, direct boolean, transform text, problem text)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM pipeline._model_column_lineage(id);
EXCEPTION WHEN OTHERS THEN
    RETURN QUERY SELECT NULL::integer, NULL::text, NULL::oid, NULL::text, NULL::text, NULL::boolean,
                        NULL::text, 'not analyzed: ' || SQLERRM;
END
$$;
COMMENT ON FUNCTION pipeline._model_column_lineage_or_problem(integer) IS
'_model_column_lineage, or one row with the error that prevents it';

CREATE VIEW pipeline.column_lineage WITH (security_invoker = true) AS
SELECT m.name AS model, l.column_position, l.column_name, l.upstream, l.upstream_column,
       l.transform, l.direct, l.problem, l.upstream_oid, m.model_id
  FROM pipeline.models m
 CROSS JOIN LATERAL pipeline._model_column_lineage_or_problem(m.model_id) l;
COMMENT ON VIEW pipeline.column_lineage IS
'column-level lineage: for each output column of each model, the upstream columns it comes from (transform copy or expression; direct = not through a view)';
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
GRANT SELECT ON pipeline.column_lineage TO PUBLIC;

