------------------------------------------------------------------------
-- Models: building one model (materializations and incremental
-- strategies).  See model.sql for the catalog.
------------------------------------------------------------------------

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
