-- pg_pipeline 0.7.0 -> 0.8.0: data quality (issue 13).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.8.0'" to load this file. \quit

-- ==== quality engine (helper Q) ====

-- ==== contracts (helper C) ====

-- YAML read by libyaml into jsonb (src/quality/yaml.c).
CREATE FUNCTION pipeline.parse_yaml(document text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pipeline_parse_yaml'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.parse_yaml(text) IS
'reads one YAML document into jsonb (libyaml; YAML 1.2 core schema types; aliases expanded up to a bound; malformed YAML is error 22P02 naming line and column)';

-- ==== gating and ingestion (lead) ====
