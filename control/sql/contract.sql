------------------------------------------------------------------------
-- Quality: data contracts (ODCS v3.1 and the Data Contract
-- Specification) applied as expectations (docs/quality/contracts.md).
------------------------------------------------------------------------

-- ==== contracts (helper C) ====

-- YAML read by libyaml into jsonb (src/quality/yaml.c): one document,
-- YAML 1.2 core schema typing, aliases expanded within a bound.
CREATE FUNCTION pipeline.parse_yaml(document text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pipeline_parse_yaml'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.parse_yaml(text) IS
'reads one YAML document into jsonb (libyaml; YAML 1.2 core schema types; aliases expanded up to a bound; malformed YAML is error 22P02 naming line and column)';
