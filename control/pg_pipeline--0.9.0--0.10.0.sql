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

-- ==== lead ====
