-- pg_pipeline 0.9.0 -> 0.10.0: performance round 2 (issue 15: loading
-- without COPY's text, sync window maintenance) and the data-quality
-- benchmark target (issue 13).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.10.0'" to load this file. \quit

-- ==== sync window maintenance (helper W) ====

-- count(DISTINCT x) in a window: the statement's sets built by an aggregate
-- that can be hashed (src/window/sets.c)
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

-- ==== quality (helper Q) ====

-- unique in two steps (src/quality/hashes.c): the scan gives every value
-- and its row's ctid to _repeated_rows, which keeps the value's 64-bit hash
-- only and returns the ctids of the rows whose hash another row has;
-- _duplicates is then given those rows alone, fetched by ctid.
CREATE FUNCTION pipeline._repeated_rows_step(state internal, value "any", row_id tid)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_repeated_rows_step'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._repeated_rows_step(internal, "any", tid) IS
'transition function of pipeline._repeated_rows';
CREATE FUNCTION pipeline._repeated_rows_final(state internal)
RETURNS tid[]
AS 'MODULE_PATHNAME', 'pipeline_repeated_rows_final'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._repeated_rows_final(internal) IS
'final function of pipeline._repeated_rows: the ctids of the rows whose value''s hash another row''s value has';
CREATE FUNCTION pipeline._repeated_rows_combine(state internal, other internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_repeated_rows_combine'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._repeated_rows_combine(internal, internal) IS
'combine function of pipeline._repeated_rows (parallel aggregation): merges two states sorted by hash';
CREATE FUNCTION pipeline._repeated_rows_serialize(state internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pipeline_repeated_rows_serialize'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._repeated_rows_serialize(internal) IS
'serialize function of pipeline._repeated_rows (parallel aggregation): the hashes and ctids, sorted by hash';
CREATE FUNCTION pipeline._repeated_rows_deserialize(state bytea, unused internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_repeated_rows_deserialize'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._repeated_rows_deserialize(bytea, internal) IS
'deserialize function of pipeline._repeated_rows (parallel aggregation)';
CREATE AGGREGATE pipeline._repeated_rows(value "any", row_id tid) (
    SFUNC = pipeline._repeated_rows_step, STYPE = internal, FINALFUNC = pipeline._repeated_rows_final,
    COMBINEFUNC = pipeline._repeated_rows_combine, SERIALFUNC = pipeline._repeated_rows_serialize,
    DESERIALFUNC = pipeline._repeated_rows_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE pipeline._repeated_rows("any", tid) IS
'check(): the ctids of the rows given whose value''s 64-bit hash another row''s value has (the first step of a unique expectation)';

-- ==== lead ====
