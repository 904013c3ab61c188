------------------------------------------------------------------------
-- Quality: data contracts (ODCS v3.1 and the Data Contract
-- Specification) applied as expectations (docs/quality/contracts.md).
------------------------------------------------------------------------

-- ==== contracts (helper C) ====
--
-- What this section adds: pipeline.parse_yaml (C, libyaml),
-- contract_expectations, apply_contract and their helpers _contract_*,
-- _apply_contract (docs/quality/contracts.md).

-- YAML read by libyaml into jsonb (src/quality/yaml.c): one document,
-- YAML 1.2 core schema typing, aliases expanded within a bound.
CREATE FUNCTION pipeline.parse_yaml(document text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pipeline_parse_yaml'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.parse_yaml(text) IS
'reads one YAML document into jsonb (libyaml; YAML 1.2 core schema types; aliases expanded up to a bound; malformed YAML is error 22P02 naming line and column)';

-- A contract's text as jsonb: JSON when it starts with "{", else YAML.
-- Which standard it follows is told by its marker field: apiVersion v3.x
-- with kind DataContract (ODCS) or dataContractSpecification (DCS).
CREATE FUNCTION pipeline._contract_document(contract text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb;
BEGIN
    IF ltrim(contract, E' \t\r\n') LIKE '{%' THEN
        doc := contract::jsonb;
    ELSE
        doc := pipeline.parse_yaml(contract);
    END IF;
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
        RAISE EXCEPTION 'a data contract is a mapping (a JSON object), not %', coalesce(jsonb_typeof(doc), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF doc ? 'dataContractSpecification' THEN
        IF jsonb_typeof(doc -> 'models') NOT IN ('object', 'null') THEN
            RAISE EXCEPTION 'models of a Data Contract Specification contract must be a mapping of model names'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSIF doc ? 'apiVersion' THEN
        IF coalesce(doc ->> 'kind', 'DataContract') <> 'DataContract' THEN
            RAISE EXCEPTION 'kind "%" is not a data contract', doc ->> 'kind'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'An ODCS contract has kind: DataContract.';
        END IF;
        IF doc ->> 'apiVersion' !~ '^v?3\.' THEN
            RAISE EXCEPTION 'ODCS apiVersion "%" is not supported', doc ->> 'apiVersion'
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'ODCS v3.0 and v3.1 contracts are read; convert older ones (dataset:) to v3 (schema:).';
        END IF;
        IF jsonb_typeof(doc -> 'schema') NOT IN ('array', 'null') THEN
            RAISE EXCEPTION 'schema of an ODCS contract must be a list of objects'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSE
        RAISE EXCEPTION 'not a data contract: neither apiVersion (ODCS) nor dataContractSpecification is set'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Open Data Contract Standard v3 (apiVersion: v3.1.0, kind: DataContract) and the Data Contract Specification (dataContractSpecification: 1.2.1) are read.';
    END IF;
    IF coalesce(doc ->> 'id', '') = '' THEN
        RAISE EXCEPTION 'a data contract needs an id'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Its expectations are marked with it (origin contract:<id>), so that applying it again finds them.';
    END IF;
    RETURN doc;
END
$$;
COMMENT ON FUNCTION pipeline._contract_document(text) IS
'a data contract (YAML or JSON, ODCS v3 or the Data Contract Specification) as jsonb, its format and id checked';

-- A physical name as SQL: "schema.table" or "table" (a dot separates the
-- schema; each part is taken literally and quoted), qualified by
-- default_schema when it has no schema.
CREATE FUNCTION pipeline._contract_relation(name text, default_schema text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN name IS NULL OR name = '' THEN NULL
                  WHEN strpos(name, '.') > 0
                  THEN quote_ident(split_part(name, '.', 1)) || '.' || quote_ident(substr(name, strpos(name, '.') + 1))
                  WHEN default_schema IS NOT NULL THEN quote_ident(default_schema) || '.' || quote_ident(name)
                  ELSE quote_ident(name) END $$;
COMMENT ON FUNCTION pipeline._contract_relation(text, text) IS
'a contract''s object name as a quoted SQL name (a dot separates the schema)';

-- A quality rule's operators (ODCS mustBe... and the Data Contract
-- Specification's spellings) as bounds: lo/hi with inclusive flags, or
-- unsupported saying why.
CREATE FUNCTION pipeline._contract_bounds(q jsonb,
    OUT lo numeric, OUT lo_incl boolean, OUT hi numeric, OUT hi_incl boolean,
    OUT negated text, OUT unsupported text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    n integer := 0;
BEGIN
    FOR k, v IN SELECT * FROM jsonb_each(q) WHERE key LIKE 'must%' LOOP
        n := n + 1;
        IF k IN ('mustBeBetween', 'mustNotBeBetween') THEN
            IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) <> 2
               OR jsonb_typeof(v -> 0) <> 'number' OR jsonb_typeof(v -> 1) <> 'number'
               OR (v ->> 0)::numeric > (v ->> 1)::numeric THEN
                unsupported := k || ' is not a list of two numbers, the smaller first';
                RETURN;
            END IF;
            IF k = 'mustNotBeBetween' THEN
                negated := k;
            END IF;
            lo := v ->> 0; lo_incl := true; hi := v ->> 1; hi_incl := true;
            CONTINUE;
        END IF;
        IF jsonb_typeof(v) <> 'number' THEN
            unsupported := k || ' is not a number';
            RETURN;
        END IF;
        CASE k
            WHEN 'mustBe' THEN lo := v::text; lo_incl := true; hi := v::text; hi_incl := true;
            WHEN 'mustNotBe' THEN lo := v::text; lo_incl := true; hi := v::text; hi_incl := true; negated := k;
            WHEN 'mustBeGreaterThan' THEN lo := v::text; lo_incl := false;
            WHEN 'mustBeGreaterOrEqualTo', 'mustBeGreaterThanOrEqualTo' THEN lo := v::text; lo_incl := true;
            WHEN 'mustBeLessThan' THEN hi := v::text; hi_incl := false;
            WHEN 'mustBeLessOrEqualTo', 'mustBeLessThanOrEqualTo' THEN hi := v::text; hi_incl := true;
            ELSE unsupported := 'unknown operator ' || k; RETURN;
        END CASE;
    END LOOP;
    IF n = 0 THEN
        unsupported := 'no operator (mustBe, mustBeLessThan, mustBeBetween ...)';
    ELSIF negated IS NOT NULL AND n > 1 THEN
        unsupported := negated || ' with another operator';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._contract_bounds(jsonb) IS
'the bounds a contract quality rule''s operators (mustBe, mustBeLessThan, mustBeBetween ...) give';

-- A SQL quality rule's query, its placeholders ({object}, {table},
-- {model}; {property}, {column}, {field}; also as ${...}) replaced by the
-- quoted relation and column, a trailing semicolon dropped.
CREATE FUNCTION pipeline._contract_query(query text, relation text, column_name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT regexp_replace(regexp_replace(regexp_replace(query,
                 '\$?\{(object|table|model)\}', replace(relation, '\', '\\'), 'g'),
                 '\$?\{(property|column|field)\}', replace(coalesce(quote_ident(column_name), '{column}'), '\', '\\'), 'g'),
                 '[\s;]+$', '') $$;
COMMENT ON FUNCTION pipeline._contract_query(text, text, text) IS
'a contract''s SQL quality query with its placeholders replaced by the quoted relation and column';

-- One quality rule (ODCS quality[] item or DCS Quality Object, the same
-- library metrics in both) as at most a few expectation rows, or one
-- unmapped row (kind NULL, the reason in note).  columns: the property's
-- column, or for schema-level rules NULL.
CREATE FUNCTION pipeline._contract_quality(q jsonb, in_path text, in_relation text, in_column text)
RETURNS TABLE(path text, relation text, name text, column_name text, kind text,
              options jsonb, severity text, threshold text, note text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    qtype text := coalesce(q ->> 'type', CASE WHEN q ? 'metric' OR q ? 'rule' THEN 'library' END, 'library');
    metric text := coalesce(q ->> 'metric', q ->> 'rule');
    unit text := lower(coalesce(q ->> 'unit', 'rows'));
    args jsonb := coalesce(q -> 'arguments', '{}');
    b record;
    col text := in_column;
    cols text;
    max_failing numeric;
    sql text;
    cond text;
BEGIN
    path := in_path;
    relation := in_relation;
    column_name := col;
    name := coalesce(q ->> 'id', q ->> 'name');
    severity := CASE WHEN lower(q ->> 'severity') IN ('warn', 'warning', 'info', 'low', 'minor', 'medium') THEN 'warn'
                     ELSE 'error' END;
    IF jsonb_typeof(q) <> 'object' THEN
        note := 'unmapped: a quality rule is a mapping';
        RETURN NEXT; RETURN;
    END IF;
    IF q ? 'severity' AND lower(q ->> 'severity') NOT IN ('warn', 'warning', 'info', 'low', 'minor', 'medium',
                                                          'error', 'critical', 'fatal', 'high', 'blocker') THEN
        note := format('severity "%s" read as error; ', q ->> 'severity');
    END IF;
    IF qtype = 'text' THEN
        note := 'unmapped: a text rule is for people: ' || coalesce(q ->> 'description', '');
        RETURN NEXT; RETURN;
    ELSIF qtype = 'custom' THEN
        note := format('unmapped: custom rule for engine "%s"', coalesce(q ->> 'engine', '?'));
        RETURN NEXT; RETURN;
    ELSIF qtype NOT IN ('library', 'sql') THEN
        note := format('unmapped: unknown quality type "%s"', qtype);
        RETURN NEXT; RETURN;
    END IF;

    b := pipeline._contract_bounds(q);
    IF b.unsupported IS NOT NULL THEN
        note := 'unmapped: ' || b.unsupported;
        RETURN NEXT; RETURN;
    END IF;

    IF qtype = 'sql' THEN
        IF coalesce(q ->> 'query', '') = '' THEN
            note := 'unmapped: a sql rule needs a query';
            RETURN NEXT; RETURN;
        END IF;
        sql := pipeline._contract_query(q ->> 'query', relation, col);
        kind := 'custom_value';
        column_name := NULL;
        name := coalesce(name, 'custom_value' || CASE WHEN col IS NOT NULL THEN '_' || col ELSE '' END);
        IF b.negated IS NULL AND coalesce(b.lo_incl, true) AND coalesce(b.hi_incl, true) THEN
            options := jsonb_strip_nulls(jsonb_build_object('sql', sql, 'min', b.lo, 'max', b.hi));
        ELSE
            -- a strict or negated bound, which custom_value's inclusive
            -- min/max cannot say: the comparison is made in the query
            cond := concat_ws(' AND ',
                CASE WHEN b.lo IS NOT NULL THEN format('v %s %s', CASE WHEN b.lo_incl THEN '>=' ELSE '>' END, b.lo) END,
                CASE WHEN b.hi IS NOT NULL THEN format('v %s %s', CASE WHEN b.hi_incl THEN '<=' ELSE '<' END, b.hi) END);
            IF b.negated IS NOT NULL THEN
                cond := format('NOT (%s)', cond);
            END IF;
            options := jsonb_build_object('sql',
                format('SELECT CASE WHEN %s THEN 1 ELSE 0 END FROM (%s) AS contract_query(v)', cond, sql),
                'min', 1, 'max', 1);
            note := coalesce(note, '') || 'the bound is tested in the query (1 = holds); ';
        END IF;
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        RETURN NEXT; RETURN;
    END IF;

    -- library metrics
    IF metric IS NULL THEN
        note := 'unmapped: a library rule needs a metric';
        RETURN NEXT; RETURN;
    END IF;
    IF b.negated IS NOT NULL THEN
        note := format('unmapped: %s on metric %s', b.negated, metric);
        RETURN NEXT; RETURN;
    END IF;
    IF unit NOT IN ('rows', 'percent', '%') THEN
        note := format('unmapped: unit "%s" (rows or percent)', q ->> 'unit');
        RETURN NEXT; RETURN;
    END IF;

    IF metric = 'rowCount' THEN
        IF col IS NOT NULL OR unit <> 'rows' THEN
            note := 'unmapped: rowCount is a schema-level metric counted in rows';
            RETURN NEXT; RETURN;
        END IF;
        kind := 'row_count';
        column_name := NULL;
        name := coalesce(name, 'row_count');
        options := jsonb_strip_nulls(jsonb_build_object(
            'min', CASE WHEN b.lo_incl THEN ceil(b.lo) ELSE floor(b.lo) + 1 END,
            'max', CASE WHEN b.hi_incl THEN floor(b.hi) ELSE ceil(b.hi) - 1 END));
        IF (options ->> 'min')::numeric < 0 THEN
            options := options - 'min';
        END IF;
        IF options = '{}' OR (options ->> 'max')::numeric < 0 THEN
            note := 'unmapped: rowCount bounds allow no row count';
            kind := NULL;
            RETURN NEXT; RETURN;
        END IF;
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        RETURN NEXT; RETURN;
    END IF;

    IF metric NOT IN ('nullValues', 'missingValues', 'invalidValues', 'duplicateValues') THEN
        note := format('unmapped: unknown metric "%s"', metric);
        RETURN NEXT; RETURN;
    END IF;

    -- the other metrics count failing rows: the bounds must allow 0 and
    -- give the most that may fail (the threshold)
    IF b.lo IS NOT NULL AND NOT (b.lo < 0 OR b.lo = 0 AND b.lo_incl) THEN
        note := format('unmapped: a lower bound on the %s', metric);
        RETURN NEXT; RETURN;
    END IF;
    IF unit = 'rows' THEN
        max_failing := CASE WHEN b.hi IS NULL THEN NULL WHEN b.hi_incl THEN floor(b.hi) ELSE ceil(b.hi) - 1 END;
    ELSE
        max_failing := b.hi;
        IF b.hi > 100 THEN
            max_failing := NULL;
        END IF;
    END IF;
    IF b.hi IS NOT NULL AND max_failing IS NULL OR max_failing < 0 OR b.hi IS NULL THEN
        note := format('unmapped: %s bounds allow no count of failing rows', metric);
        RETURN NEXT; RETURN;
    END IF;
    threshold := CASE WHEN max_failing = 0 THEN NULL
                      WHEN unit = 'rows' THEN max_failing::text
                      ELSE max_failing::text || '%' END;
    IF unit <> 'rows' AND NOT b.hi_incl AND max_failing > 0 THEN
        note := coalesce(note, '') || 'a percentage bound is kept inclusive; ';
    END IF;

    IF metric = 'duplicateValues' THEN
        IF col IS NULL THEN
            SELECT string_agg(quote_ident(x), ', ') INTO cols
              FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(args -> 'properties') = 'array'
                                                  THEN args -> 'properties' ELSE '[]' END) x;
            IF cols IS NULL THEN
                note := 'unmapped: schema-level duplicateValues needs arguments.properties';
                RETURN NEXT; RETURN;
            END IF;
        ELSE
            cols := quote_ident(col);
        END IF;
        kind := 'unique';
        column_name := cols;
        name := coalesce(name, 'unique_' || replace(replace(cols, '"', ''), ', ', '_'));
        options := '{}';
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        RETURN NEXT; RETURN;
    END IF;

    IF col IS NULL THEN
        note := format('unmapped: %s is a property-level metric', metric);
        RETURN NEXT; RETURN;
    END IF;
    column_name := quote_ident(col);

    IF metric = 'nullValues' THEN
        kind := 'not_null';
        options := '{}';
        name := coalesce(name, 'not_null_' || col);
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        RETURN NEXT; RETURN;
    ELSIF metric = 'missingValues' THEN
        IF jsonb_typeof(args -> 'missingValues') <> 'array' THEN
            note := 'unmapped: missingValues needs arguments.missingValues, a list';
            column_name := col;
            RETURN NEXT; RETURN;
        END IF;
        -- rows whose value is missing: NULL (when listed) or one of the
        -- listed values, compared as text
        SELECT concat_ws(' OR ',
                   CASE WHEN bool_or(jsonb_typeof(x) = 'null') THEN format('%I IS NULL', col) END,
                   CASE WHEN bool_or(jsonb_typeof(x) <> 'null')
                        THEN format('%I::text IN (%s)', col,
                                    string_agg(quote_literal(x #>> '{}'), ', ') FILTER (WHERE jsonb_typeof(x) <> 'null')) END)
          INTO cond
          FROM jsonb_array_elements(args -> 'missingValues') x;
        IF coalesce(cond, '') = '' THEN
            note := 'unmapped: missingValues lists no value';
            column_name := col;
            RETURN NEXT; RETURN;
        END IF;
        kind := 'custom_rows';
        column_name := NULL;
        name := coalesce(name, 'missing_values_' || col);
        options := jsonb_build_object('sql', format('SELECT * FROM %s WHERE %s', relation, cond));
        IF threshold LIKE '%\%' THEN
            note := 'unmapped: missingValues in percent (custom_rows counts rows, out of no total)';
            kind := NULL; options := NULL; threshold := NULL;
            RETURN NEXT; RETURN;
        END IF;
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        RETURN NEXT; RETURN;
    ELSE -- invalidValues
        IF NOT (args ? 'validValues' OR args ? 'pattern') THEN
            note := 'unmapped: invalidValues needs arguments.validValues or arguments.pattern';
            column_name := col;
            RETURN NEXT; RETURN;
        END IF;
        note := path || coalesce('; ' || rtrim(note, '; '), '');
        IF args ? 'validValues' THEN
            kind := 'accepted_values';
            options := jsonb_build_object('values', args -> 'validValues');
            name := coalesce(q ->> 'id', q ->> 'name', 'accepted_values_' || col);
            RETURN NEXT;
        END IF;
        IF args ? 'pattern' THEN
            kind := 'regex';
            options := jsonb_build_object('pattern', args -> 'pattern');
            name := coalesce(coalesce(q ->> 'id', q ->> 'name')
                             || CASE WHEN args ? 'validValues' THEN '_pattern' ELSE '' END, 'regex_' || col);
            RETURN NEXT;
        END IF;
        RETURN;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._contract_quality(jsonb, text, text, text) IS
'one contract quality rule (library metric or SQL) as expectation rows, or an unmapped row saying why';

-- A reference to a column elsewhere in the contract (ODCS relationships
-- "to": shorthand table.column or schema/<id>/properties/<id>; DCS
-- references: model.field) as its relation and column, or NULLs.
CREATE FUNCTION pipeline._contract_ref(doc jsonb, ref text, default_schema text,
    OUT relation text, OUT column_name text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
    obj jsonb;
    prop jsonb;
    tbl text;
BEGIN
    IF ref IS NULL OR ref LIKE '%#%' THEN
        RETURN;                         -- another file's element
    END IF;
    IF ref ~ '^/?schema/[^/]+/properties/[^/]+$' THEN
        parts := string_to_array(ltrim(ref, '/'), '/');
        SELECT o INTO obj FROM jsonb_array_elements(doc -> 'schema') o WHERE o ->> 'id' = parts[2];
        SELECT p INTO prop FROM jsonb_array_elements(obj -> 'properties') p WHERE p ->> 'id' = parts[4];
        IF prop IS NULL THEN
            RETURN;
        END IF;
        relation := pipeline._contract_relation(coalesce(obj ->> 'physicalName', obj ->> 'name'), default_schema);
        column_name := coalesce(prop ->> 'physicalName', prop ->> 'name');
        RETURN;
    END IF;
    IF strpos(ref, '.') = 0 THEN
        RETURN;
    END IF;
    tbl := regexp_replace(ref, '\.[^.]*$', '');
    column_name := regexp_replace(ref, '^.*\.', '');
    IF doc ? 'dataContractSpecification' THEN
        relation := pipeline._contract_relation(tbl, default_schema);
        RETURN;
    END IF;
    SELECT o INTO obj FROM jsonb_array_elements(doc -> 'schema') o WHERE o ->> 'name' = tbl;
    SELECT p INTO prop FROM jsonb_array_elements(obj -> 'properties') p WHERE p ->> 'name' = column_name;
    relation := pipeline._contract_relation(coalesce(obj ->> 'physicalName', tbl), default_schema);
    column_name := coalesce(prop ->> 'physicalName', column_name);
END
$$;
COMMENT ON FUNCTION pipeline._contract_ref(jsonb, text, text) IS
'the relation and column a contract reference (table.column, schema/<id>/properties/<id>) names';

-- The schema a contract's unqualified names are in: the schema of its
-- PostgreSQL servers, when they name exactly one.
CREATE FUNCTION pipeline._contract_default_schema(doc jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN count(DISTINCT s ->> 'schema') = 1 THEN min(s ->> 'schema') END
        FROM (SELECT s FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'servers') = 'array'
                                                     THEN doc -> 'servers' ELSE '[]' END) s
              UNION ALL
              SELECT s FROM jsonb_each(CASE WHEN jsonb_typeof(doc -> 'servers') = 'object'
                                            THEN doc -> 'servers' ELSE '{}' END) e(k, s)) x
       WHERE lower(s ->> 'type') IN ('postgres', 'postgresql') AND s ->> 'schema' IS NOT NULL $$;
COMMENT ON FUNCTION pipeline._contract_default_schema(jsonb) IS
'the schema named by a contract''s PostgreSQL servers, if they agree on one';

-- A duration of an ODCS SLA (value and unit: d, day, days; y, yr, years
-- ...) as an interval's text, or NULL.
CREATE FUNCTION pipeline._contract_duration(value jsonb, unit text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u text := CASE lower(btrim(coalesce(unit, '')))
                  WHEN 'y' THEN 'years' WHEN 'yr' THEN 'years' WHEN 'year' THEN 'years' WHEN 'years' THEN 'years'
                  WHEN 'mo' THEN 'months' WHEN 'month' THEN 'months' WHEN 'months' THEN 'months'
                  WHEN 'w' THEN 'weeks' WHEN 'week' THEN 'weeks' WHEN 'weeks' THEN 'weeks'
                  WHEN 'd' THEN 'days' WHEN 'day' THEN 'days' WHEN 'days' THEN 'days'
                  WHEN 'h' THEN 'hours' WHEN 'hr' THEN 'hours' WHEN 'hour' THEN 'hours' WHEN 'hours' THEN 'hours'
                  WHEN 'min' THEN 'minutes' WHEN 'minute' THEN 'minutes' WHEN 'minutes' THEN 'minutes'
                  WHEN 's' THEN 'seconds' WHEN 'sec' THEN 'seconds' WHEN 'second' THEN 'seconds'
                  WHEN 'seconds' THEN 'seconds' WHEN '' THEN '' END;
    d text;
BEGIN
    IF u IS NULL OR jsonb_typeof(value) NOT IN ('number', 'string') THEN
        RETURN NULL;
    END IF;
    d := btrim((value #>> '{}') || ' ' || u);
    PERFORM d::interval;
    RETURN d;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pipeline._contract_duration(jsonb, text) IS
'an SLA value and unit (4, d) as an interval''s text (4 days), or NULL';

-- Everything a contract says that maps, or does not map, to expectations:
-- one row per expectation (kind set) or per unmapped item (kind NULL, note
-- "unmapped: why"), with the contract path it comes from, in document
-- order.  Names are not yet made unique (contract_expectations does).
CREATE FUNCTION pipeline._contract_items(doc jsonb)
RETURNS TABLE(path text, relation text, name text, column_name text, kind text,
              options jsonb, severity text, threshold text, note text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dcs constant boolean := doc ? 'dataContractSpecification';
    dschema constant text := pipeline._contract_default_schema(doc);
    obj jsonb; prop jsonb; q jsonb; r jsonb; item jsonb;
    n bigint;
    opath text; ppath text;
    rel text; col text; oname text;
    k text; v jsonb;
    bounds jsonb; lengths jsonb;
    is_int boolean;
    pk text[];
    ref record;
    dur text;
    el text;
BEGIN
    -- objects (ODCS schema[]) and models (DCS models{}) alike
    FOR opath, oname, obj IN
        SELECT format('schema[%s]', o.i - 1), coalesce(o.x ->> 'physicalName', o.x ->> 'name'), o.x
          FROM jsonb_array_elements(CASE WHEN NOT dcs AND jsonb_typeof(doc -> 'schema') = 'array'
                                         THEN doc -> 'schema' ELSE '[]' END) WITH ORDINALITY o(x, i)
        UNION ALL
        SELECT format('models.%s', m.k), m.k, m.x
          FROM jsonb_each(CASE WHEN dcs AND jsonb_typeof(doc -> 'models') = 'object'
                               THEN doc -> 'models' ELSE '{}' END) m(k, x)
    LOOP
        rel := pipeline._contract_relation(oname, dschema);
        IF rel IS NULL OR jsonb_typeof(obj) <> 'object' THEN
            RETURN QUERY SELECT opath, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                'unmapped: an object without a name'::text;
            CONTINUE;
        END IF;
        pk := '{}';
        FOR ppath, col, prop IN
            SELECT format('%s.properties[%s]', opath, p.i - 1), coalesce(p.x ->> 'physicalName', p.x ->> 'name'), p.x
              FROM jsonb_array_elements(CASE WHEN NOT dcs AND jsonb_typeof(obj -> 'properties') = 'array'
                                             THEN obj -> 'properties' ELSE '[]' END) WITH ORDINALITY p(x, i)
            UNION ALL
            -- a DCS field inherits what its $ref definition says, and overrides it
            SELECT format('%s.fields.%s', opath, f.k), f.k,
                   CASE WHEN f.x ->> '$ref' LIKE '#/definitions/%'
                        THEN coalesce(doc #> ARRAY['definitions', substr(f.x ->> '$ref', 15)], '{}') || f.x
                        ELSE f.x END
              FROM jsonb_each(CASE WHEN dcs AND jsonb_typeof(obj -> 'fields') = 'object'
                                   THEN obj -> 'fields' ELSE '{}' END) f(k, x)
        LOOP
            IF col IS NULL OR jsonb_typeof(prop) <> 'object' THEN
                RETURN QUERY SELECT ppath, rel, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                    'unmapped: a property without a name'::text;
                CONTINUE;
            END IF;
            IF prop -> 'required' = 'true' THEN
                RETURN QUERY SELECT ppath || '.required', rel, 'not_null_' || col, quote_ident(col), 'not_null'::text,
                                    '{}'::jsonb, 'error'::text, NULL::text, ppath || '.required';
            END IF;
            IF prop -> 'unique' = 'true' THEN
                RETURN QUERY SELECT ppath || '.unique', rel, 'unique_' || col, quote_ident(col), 'unique'::text,
                                    '{}'::jsonb, 'error'::text, NULL::text, ppath || '.unique';
            END IF;
            IF prop -> 'primaryKey' = 'true' THEN
                pk := pk || ARRAY[lpad(coalesce(CASE WHEN (prop ->> 'primaryKeyPosition') ~ '^\d{1,6}$'
                                                     THEN prop ->> 'primaryKeyPosition' END, '999999'), 6, '0')
                                  || lpad(cardinality(pk)::text, 6, '0') || col];
            END IF;
            IF dcs AND jsonb_typeof(prop -> 'enum') = 'array' THEN
                RETURN QUERY SELECT ppath || '.enum', rel, 'accepted_values_' || col, quote_ident(col),
                                    'accepted_values'::text, jsonb_build_object('values', prop -> 'enum'),
                                    'error'::text, NULL::text, ppath || '.enum';
            END IF;

            -- value constraints: ODCS logicalTypeOptions, DCS field keywords
            is_int := lower(coalesce(prop ->> 'logicalType', prop ->> 'type', ''))
                      IN ('integer', 'int', 'long', 'bigint');
            bounds := '{}';
            lengths := '{}';
            FOR k, v IN
                SELECT e.key, e.value FROM jsonb_each(CASE WHEN NOT dcs AND jsonb_typeof(prop -> 'logicalTypeOptions') = 'object'
                                                           THEN prop -> 'logicalTypeOptions' ELSE '{}' END) e
                UNION ALL
                SELECT e.key, e.value FROM jsonb_each(CASE WHEN dcs THEN prop ELSE '{}' END) e
                 WHERE e.key IN ('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
                                 'minLength', 'maxLength', 'pattern', 'format', 'precision', 'scale')
            LOOP
                el := CASE WHEN dcs THEN ppath || '.' || k ELSE ppath || '.logicalTypeOptions.' || k END;
                IF k IN ('minimum', 'maximum') AND jsonb_typeof(v) IN ('number', 'string') THEN
                    bounds := bounds || jsonb_build_object(CASE k WHEN 'minimum' THEN 'min' ELSE 'max' END, v);
                ELSIF k IN ('exclusiveMinimum', 'exclusiveMaximum') AND is_int AND jsonb_typeof(v) = 'number'
                      AND v::text ~ '^-?\d+$' THEN
                    -- on integers a strict bound is the next integer, inclusive
                    bounds := bounds || jsonb_build_object(CASE k WHEN 'exclusiveMinimum' THEN 'min' ELSE 'max' END,
                                  v::text::numeric + CASE k WHEN 'exclusiveMinimum' THEN 1 ELSE -1 END);
                ELSIF k IN ('minLength', 'maxLength') AND jsonb_typeof(v) = 'number' THEN
                    lengths := lengths || jsonb_build_object(CASE k WHEN 'minLength' THEN 'min' ELSE 'max' END, v);
                ELSIF k = 'pattern' AND jsonb_typeof(v) = 'string' THEN
                    RETURN QUERY SELECT el, rel, 'regex_' || col, quote_ident(col), 'regex'::text,
                                        jsonb_build_object('pattern', v), 'error'::text, NULL::text, el;
                ELSIF k IN ('precision', 'scale') THEN
                    NULL;               -- part of the type, checked by apply_contract
                ELSE
                    RETURN QUERY SELECT el, rel, NULL::text, col, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                        CASE WHEN k IN ('exclusiveMinimum', 'exclusiveMaximum')
                                             THEN 'unmapped: a strict bound on a non-integer (between is inclusive)'
                                             ELSE format('unmapped: %s is not checked', k) END;
                END IF;
            END LOOP;
            IF bounds <> '{}' THEN
                RETURN QUERY SELECT ppath || CASE WHEN dcs THEN '' ELSE '.logicalTypeOptions' END, rel,
                                    'between_' || col, quote_ident(col), 'between'::text, bounds, 'error'::text, NULL::text,
                                    ppath || CASE WHEN dcs THEN '.minimum/maximum' ELSE '.logicalTypeOptions.minimum/maximum' END;
            END IF;
            IF lengths <> '{}' THEN
                RETURN QUERY SELECT ppath, rel, 'length_' || col, quote_ident(col), 'length'::text, lengths,
                                    'error'::text, NULL::text,
                                    ppath || CASE WHEN dcs THEN '.minLength/maxLength' ELSE '.logicalTypeOptions.minLength/maxLength' END;
            END IF;

            -- foreign keys: ODCS relationships[].to, DCS references
            FOR el, item IN
                SELECT format('%s.relationships[%s]', ppath, x.i - 1), x.r
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(prop -> 'relationships') = 'array'
                                                 THEN prop -> 'relationships' ELSE '[]' END) WITH ORDINALITY x(r, i)
                UNION ALL
                SELECT ppath || '.references', jsonb_build_object('to', prop -> 'references')
                 WHERE dcs AND jsonb_typeof(prop -> 'references') = 'string'
            LOOP
                ref := pipeline._contract_ref(doc, CASE WHEN jsonb_typeof(item -> 'to') = 'string' THEN item ->> 'to' END, dschema);
                IF ref.relation IS NULL OR coalesce(item ->> 'type', 'foreignKey') <> 'foreignKey' OR item ? 'from' THEN
                    RETURN QUERY SELECT el, rel, NULL::text, col, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                        format('unmapped: relationship to %s (a single column of this contract''s tables, table.column or schema/<id>/properties/<id>, is mapped)',
                                               coalesce(item ->> 'to', '?'));
                ELSE
                    RETURN QUERY SELECT el, rel, 'relationships_' || col, quote_ident(col), 'relationships'::text,
                                        jsonb_build_object('to', ref.relation, 'field', ref.column_name),
                                        'error'::text, NULL::text, el;
                END IF;
            END LOOP;

            FOR el, q IN
                SELECT format('%s.quality[%s]', ppath, x.i - 1), x.q
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(prop -> 'quality') = 'array'
                                                 THEN prop -> 'quality' ELSE '[]' END) WITH ORDINALITY x(q, i)
            LOOP
                RETURN QUERY SELECT * FROM pipeline._contract_quality(q, el, rel, col);
            END LOOP;

            IF prop ? 'items' OR prop ? 'properties' OR prop ? 'fields' THEN
                RETURN QUERY SELECT ppath || CASE WHEN prop ? 'items' THEN '.items' WHEN prop ? 'fields' THEN '.fields'
                                                  ELSE '.properties' END,
                                    rel, NULL::text, col, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                    'unmapped: nested elements are not checked'::text;
            END IF;
        END LOOP;

        -- the primary key: DCS models' primaryKey list, else the properties
        -- marked primaryKey (ODCS: by primaryKeyPosition)
        IF dcs AND jsonb_typeof(obj -> 'primaryKey') = 'array' THEN
            SELECT array_agg(x ORDER BY i) INTO pk
              FROM jsonb_array_elements_text(obj -> 'primaryKey') WITH ORDINALITY a(x, i);
            el := opath || '.primaryKey';
        ELSE
            SELECT array_agg(substr(x, 13) ORDER BY x) INTO pk FROM unnest(pk) x;
            el := opath || CASE WHEN dcs THEN '.fields.*.primaryKey' ELSE '.properties[*].primaryKey' END;
        END IF;
        IF cardinality(pk) > 0 THEN
            RETURN QUERY SELECT el, rel, 'unique_' || array_to_string(pk, '_'),
                                (SELECT string_agg(quote_ident(x), ', ' ORDER BY i) FROM unnest(pk) WITH ORDINALITY a(x, i)),
                                'unique'::text, '{}'::jsonb, 'error'::text, NULL::text, el;
            RETURN QUERY SELECT el, rel, 'not_null_' || x, quote_ident(x), 'not_null'::text, '{}'::jsonb,
                                'error'::text, NULL::text, el
                           FROM unnest(pk) WITH ORDINALITY a(x, i) ORDER BY i;
        END IF;

        -- rules on the object (rowCount, duplicateValues over several
        -- properties, SQL)
        FOR el, q IN
            SELECT format('%s.quality[%s]', opath, x.i - 1), x.q
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(obj -> 'quality') = 'array'
                                             THEN obj -> 'quality' ELSE '[]' END) WITH ORDINALITY x(q, i)
        LOOP
            RETURN QUERY SELECT * FROM pipeline._contract_quality(q, el, rel, NULL);
        END LOOP;

        -- ODCS schema-level relationships: from and to, single columns
        FOR el, item IN
            SELECT format('%s.relationships[%s]', opath, x.i - 1), x.r
              FROM jsonb_array_elements(CASE WHEN NOT dcs AND jsonb_typeof(obj -> 'relationships') = 'array'
                                             THEN obj -> 'relationships' ELSE '[]' END) WITH ORDINALITY x(r, i)
        LOOP
            ref := pipeline._contract_ref(doc, CASE WHEN jsonb_typeof(item -> 'to') = 'string' THEN item ->> 'to' END, dschema);
            SELECT f.relation, f.column_name INTO k, col
              FROM pipeline._contract_ref(doc, CASE WHEN jsonb_typeof(item -> 'from') = 'string' THEN item ->> 'from' END, dschema) f;
            IF ref.relation IS NULL OR k IS NULL OR coalesce(item ->> 'type', 'foreignKey') <> 'foreignKey' THEN
                RETURN QUERY SELECT el, rel, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                    format('unmapped: relationship from %s to %s (single columns of this contract''s tables are mapped)',
                                           coalesce(item ->> 'from', '?'), coalesce(item ->> 'to', '?'));
            ELSE
                RETURN QUERY SELECT el, k, 'relationships_' || col, quote_ident(col), 'relationships'::text,
                                    jsonb_build_object('to', ref.relation, 'field', ref.column_name),
                                    'error'::text, NULL::text, el;
            END IF;
        END LOOP;
    END LOOP;

    -- ODCS service levels: latency (the standard's name for freshness)
    -- on an element's time column
    n := 0;
    FOR el, item IN
        SELECT format('slaProperties[%s]', x.i - 1), x.s
          FROM jsonb_array_elements(CASE WHEN NOT dcs AND jsonb_typeof(doc -> 'slaProperties') = 'array'
                                         THEN doc -> 'slaProperties' ELSE '[]' END) WITH ORDINALITY x(s, i)
    LOOP
        IF lower(coalesce(item ->> 'property', '')) NOT IN ('latency', 'ly', 'freshness') THEN
            RETURN QUERY SELECT el, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                format('unmapped: SLA property "%s" is not a data check', item ->> 'property');
            CONTINUE;
        END IF;
        dur := pipeline._contract_duration(item -> 'value', item ->> 'unit');
        FOR k IN SELECT btrim(x) FROM unnest(string_to_array(coalesce(item ->> 'element', doc ->> 'slaDefaultElement'), ',')) x LOOP
            IF strpos(k, '.') > 0 THEN
                ref := pipeline._contract_ref(doc, k, dschema);
            ELSE
                SELECT pipeline._contract_relation(coalesce(o ->> 'physicalName', o ->> 'name'), dschema), k INTO ref
                  FROM jsonb_array_elements(doc -> 'schema') o
                 WHERE jsonb_array_length(doc -> 'schema') = 1;
            END IF;
            IF dur IS NULL OR ref.relation IS NULL THEN
                RETURN QUERY SELECT el, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                    format('unmapped: %s of %s %s on element "%s" (a duration, on table.column or a column of the only object)',
                                           item ->> 'property', item -> 'value', coalesce(item ->> 'unit', ''), k);
            ELSE
                RETURN QUERY SELECT el, ref.relation, 'freshness_' || ref.column_name, quote_ident(ref.column_name),
                                    'freshness'::text, jsonb_build_object('error_after', dur), 'error'::text, NULL::text, el;
            END IF;
            n := n + 1;
        END LOOP;
        IF n = 0 THEN
            RETURN QUERY SELECT el, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                'unmapped: latency without an element'::text;
        END IF;
        n := 0;
    END LOOP;

    -- DCS service levels: freshness (threshold, timestampField)
    FOR k, item IN
        SELECT s.k, s.x FROM jsonb_each(CASE WHEN dcs AND jsonb_typeof(doc -> 'servicelevels') = 'object'
                                             THEN doc -> 'servicelevels' ELSE '{}' END) s(k, x)
    LOOP
        el := 'servicelevels.' || k;
        ref := NULL;
        IF k = 'freshness' THEN
            IF strpos(item ->> 'timestampField', '.') > 0 THEN
                ref := pipeline._contract_ref(doc, item ->> 'timestampField', dschema);
            ELSE
                SELECT pipeline._contract_relation(m.k, dschema), item ->> 'timestampField' INTO ref
                  FROM jsonb_each(doc -> 'models') m(k, x)
                 WHERE (SELECT count(*) FROM jsonb_object_keys(doc -> 'models')) = 1;
            END IF;
            BEGIN
                PERFORM (item ->> 'threshold')::interval;
                dur := item ->> 'threshold';
            EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
                dur := NULL;
            END;
        END IF;
        IF k <> 'freshness' OR ref.relation IS NULL OR ref.column_name IS NULL OR dur IS NULL THEN
            RETURN QUERY SELECT el, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                                CASE WHEN k = 'freshness'
                                     THEN format('unmapped: freshness needs an interval threshold and a timestampField (model.field), not %s', item)
                                     ELSE format('unmapped: service level "%s" is not a data check', k) END;
        ELSE
            RETURN QUERY SELECT el, ref.relation, 'freshness_' || ref.column_name, quote_ident(ref.column_name),
                                'freshness'::text, jsonb_build_object('error_after', dur), 'error'::text, NULL::text, el;
        END IF;
    END LOOP;

    IF dcs AND doc ? 'quality' THEN
        RETURN QUERY SELECT 'quality'::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, NULL::text,
                            'unmapped: top-level quality is deprecated; put it on a model or field'::text;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._contract_items(jsonb) IS
'every expectation a parsed contract implies and every item it cannot map, with its contract path, in order';

-- The pure mapping, testable alone: the expectations a contract implies
-- (identical ones once, names made unique per relation by _2, _3 ...) and,
-- with kind NULL, what it could not map; note gives the contract path.
CREATE FUNCTION pipeline.contract_expectations(contract text)
RETURNS TABLE(relation text, name text, column_name text, kind text, options jsonb,
              severity text, threshold text, note text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH items AS (
        SELECT i.*
          FROM pipeline._contract_items(pipeline._contract_document(contract)) WITH ORDINALITY
               AS i(path, relation, name, column_name, kind, options, severity, threshold, note, o)
    ), kept AS (
        -- the same expectation said twice (required and nullValues
        -- mustBe 0) once: a quality rule's (it may carry a name) first
        SELECT DISTINCT ON (i.relation, i.column_name, i.kind, i.options, i.severity, i.threshold) i.*
          FROM items i
         WHERE i.kind IS NOT NULL
         ORDER BY i.relation, i.column_name, i.kind, i.options, i.severity, i.threshold,
                  i.path LIKE '%quality[%' DESC, i.o
    ), named AS (
        SELECT k.*, row_number() OVER (PARTITION BY k.relation, k.name ORDER BY k.o) AS nth FROM kept k
    )
    SELECT x.relation, x.name, x.column_name, x.kind, x.options, x.severity, x.threshold, x.note
      FROM (SELECT n.relation, n.name || CASE WHEN n.nth > 1 THEN '_' || n.nth ELSE '' END AS name,
                   n.column_name, n.kind, n.options, n.severity, n.threshold, n.note, n.o
              FROM named n
            UNION ALL
            SELECT i.relation, NULL, i.column_name, NULL, NULL, NULL, NULL,
                   i.path || ': ' || regexp_replace(i.note, '^unmapped: ', ''), i.o
              FROM items i WHERE i.kind IS NULL) x
     ORDER BY x.o
$$;
COMMENT ON FUNCTION pipeline.contract_expectations(text) IS
'the expectations a data contract (ODCS v3 or Data Contract Specification, YAML or JSON) implies, and with kind NULL what it cannot map; note names the contract path';

-- The columns a contract describes, with their types as written: ODCS
-- properties (logicalType, physicalType), DCS fields (type, also through
-- a $ref definition).
CREATE FUNCTION pipeline._contract_columns(doc jsonb)
RETURNS TABLE(path text, relation text, column_name text, logical_type text, physical_type text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('schema[%s].properties[%s]', o.i - 1, p.i - 1),
           pipeline._contract_relation(coalesce(o.x ->> 'physicalName', o.x ->> 'name'),
                                       pipeline._contract_default_schema(doc)),
           coalesce(p.x ->> 'physicalName', p.x ->> 'name'), p.x ->> 'logicalType', p.x ->> 'physicalType'
      FROM jsonb_array_elements(CASE WHEN NOT doc ? 'dataContractSpecification' AND jsonb_typeof(doc -> 'schema') = 'array'
                                     THEN doc -> 'schema' ELSE '[]' END) WITH ORDINALITY o(x, i),
           jsonb_array_elements(CASE WHEN jsonb_typeof(o.x -> 'properties') = 'array'
                                     THEN o.x -> 'properties' ELSE '[]' END) WITH ORDINALITY p(x, i)
     WHERE jsonb_typeof(p.x) = 'object'
    UNION ALL
    SELECT format('models.%s.fields.%s', m.k, f.k),
           pipeline._contract_relation(m.k, pipeline._contract_default_schema(doc)), f.k,
           coalesce(f.x ->> 'type', doc #>> ARRAY['definitions', substr(f.x ->> '$ref', 15), 'type']), NULL
      FROM jsonb_each(CASE WHEN doc ? 'dataContractSpecification' AND jsonb_typeof(doc -> 'models') = 'object'
                           THEN doc -> 'models' ELSE '{}' END) m(k, x),
           jsonb_each(CASE WHEN jsonb_typeof(m.x -> 'fields') = 'object' THEN m.x -> 'fields' ELSE '{}' END) f(k, x)
     WHERE jsonb_typeof(f.x) = 'object'
$$;
COMMENT ON FUNCTION pipeline._contract_columns(jsonb) IS
'the columns a contract describes, with the logical and physical types it gives';

-- Whether a column's type is what a contract says: its physicalType when
-- PostgreSQL knows that name (the type modifier is not compared), else its
-- logical type (ODCS logicalType, DCS type) by family.  NULL: nothing to
-- compare.
CREATE FUNCTION pipeline._contract_type_matches(typid oid, logical_type text, physical_type text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    phys oid;
    t pg_type;
BEGIN
    IF physical_type IS NOT NULL THEN
        BEGIN
            phys := to_regtype(physical_type);
        EXCEPTION WHEN OTHERS THEN
            phys := NULL;
        END;
        IF phys IS NOT NULL THEN
            RETURN phys = typid;
        END IF;
    END IF;
    SELECT * INTO t FROM pg_type WHERE oid = typid;
    RETURN CASE lower(logical_type)
        WHEN 'string' THEN t.typcategory IN ('S', 'E')
        WHEN 'text' THEN t.typcategory IN ('S', 'E')
        WHEN 'varchar' THEN t.typcategory IN ('S', 'E')
        WHEN 'integer' THEN typid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
        WHEN 'int' THEN typid IN ('int2'::regtype, 'int4'::regtype)
        WHEN 'long' THEN typid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
        WHEN 'bigint' THEN typid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
        WHEN 'number' THEN t.typcategory = 'N'
        WHEN 'decimal' THEN t.typcategory = 'N'
        WHEN 'numeric' THEN t.typcategory = 'N'
        WHEN 'float' THEN typid IN ('float4'::regtype, 'float8'::regtype)
        WHEN 'double' THEN typid = 'float8'::regtype
        WHEN 'boolean' THEN typid = 'bool'::regtype
        WHEN 'date' THEN typid = 'date'::regtype
        WHEN 'timestamp' THEN typid IN ('timestamp'::regtype, 'timestamptz'::regtype)
        WHEN 'timestamp_tz' THEN typid = 'timestamptz'::regtype
        WHEN 'timestamp_ntz' THEN typid = 'timestamp'::regtype
        WHEN 'time' THEN typid IN ('time'::regtype, 'timetz'::regtype)
        WHEN 'bytes' THEN typid = 'bytea'::regtype
        WHEN 'object' THEN typid IN ('json'::regtype, 'jsonb'::regtype) OR t.typtype = 'c'
        WHEN 'record' THEN typid IN ('json'::regtype, 'jsonb'::regtype) OR t.typtype = 'c'
        WHEN 'struct' THEN typid IN ('json'::regtype, 'jsonb'::regtype) OR t.typtype = 'c'
        WHEN 'array' THEN typid IN ('json'::regtype, 'jsonb'::regtype) OR t.typcategory = 'A'
        WHEN 'map' THEN typid IN ('json'::regtype, 'jsonb'::regtype) OR t.typname = 'hstore'
        WHEN 'json' THEN typid IN ('json'::regtype, 'jsonb'::regtype)
        WHEN 'variant' THEN typid IN ('json'::regtype, 'jsonb'::regtype)
        ELSE NULL END;
END
$$;
COMMENT ON FUNCTION pipeline._contract_type_matches(oid, text, text) IS
'whether a column type is the contract''s physicalType, else of its logical type''s family (NULL: nothing to compare)';

-- apply_contract's work, with the caller's schemas (the search_path the
-- expectations keep and their names are resolved with).  Runs as the
-- caller; a dry run does everything in a subtransaction and rolls it
-- back, so it reports what expect() would refuse, and writes nothing.
CREATE FUNCTION pipeline._apply_contract(schemas name[], contract text, dry_run boolean, strict boolean)
RETURNS TABLE(item text, action text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc constant jsonb := pipeline._contract_document(contract);
    v_origin constant text := 'contract:' || (doc ->> 'id');
    spath constant text := pipeline._model_search_path(schemas);
    me constant oid := pipeline._current_role_oid();
    items text[] := '{}';
    actions text[] := '{}';
    details text[] := '{}';
    rels jsonb := '{}';                 -- relation as written -> oid (null: missing)
    kept text[] := '{}';                -- 'oid/name' of the contract's expectations
    mismatches integer := 0;
    e record;
    c record;
    old pipeline.expectations;
    relid oid;
    att record;
    opts jsonb;
BEGIN
    BEGIN
        -- the relations, resolved as expect() resolves names
        FOR e IN SELECT DISTINCT x.relation FROM pipeline.contract_expectations(contract) x WHERE x.relation IS NOT NULL
                 UNION SELECT c2.relation FROM pipeline._contract_columns(doc) c2 WHERE c2.relation IS NOT NULL
        LOOP
            BEGIN
                relid := pipeline._expectation_resolve(e.relation, me, spath);
            EXCEPTION WHEN undefined_table OR invalid_schema_name OR insufficient_privilege THEN
                relid := NULL;
                items := items || e.relation; actions := actions || 'mismatch'::text;
                details := details || format('relation %s does not exist (or may not be read)', e.relation);
                mismatches := mismatches + 1;
            END;
            rels := rels || jsonb_build_object(e.relation, relid);
        END LOOP;

        -- the columns and their types
        FOR c IN SELECT * FROM pipeline._contract_columns(doc) LOOP
            relid := (rels ->> c.relation)::oid;
            CONTINUE WHEN relid IS NULL OR c.column_name IS NULL;
            SELECT a.atttypid, format_type(a.atttypid, a.atttypmod) AS type INTO att
              FROM pg_attribute a
             WHERE a.attrelid = relid AND a.attname = c.column_name AND a.attnum > 0 AND NOT a.attisdropped;
            IF NOT FOUND THEN
                items := items || format('%s.%I', relid::regclass, c.column_name); actions := actions || 'mismatch'::text;
                details := details || format('column %I is missing (%s)', c.column_name, c.path);
                mismatches := mismatches + 1;
            ELSIF NOT pipeline._contract_type_matches(att.atttypid, c.logical_type, c.physical_type) THEN
                items := items || format('%s.%I', relid::regclass, c.column_name); actions := actions || 'mismatch'::text;
                details := details || format('column %I is %s; the contract says %s (%s)', c.column_name, att.type,
                                             concat_ws(' / ', c.logical_type, c.physical_type), c.path);
                mismatches := mismatches + 1;
            END IF;
        END LOOP;

        -- the expectations
        FOR e IN SELECT * FROM pipeline.contract_expectations(contract) LOOP
            IF e.kind IS NULL THEN
                items := items || split_part(e.note, ': ', 1); actions := actions || 'unmapped'::text;
                details := details || substr(e.note, strpos(e.note, ': ') + 2);
                CONTINUE;
            END IF;
            relid := (rels ->> e.relation)::oid;
            CONTINUE WHEN relid IS NULL;
            e.relation := relid::regclass::text;
            SELECT * INTO old FROM pipeline.expectations x WHERE x.relation = relid AND x.name = e.name;
            IF FOUND AND old.origin IS DISTINCT FROM v_origin THEN
                items := items || format('%s: %s', e.relation, e.name); actions := actions || 'mismatch'::text;
                details := details || format('expectation "%s" exists and was made %s; left as it is (%s)', e.name,
                                             coalesce('by ' || old.origin, 'by hand'), e.note);
                mismatches := mismatches + 1;
                CONTINUE;
            END IF;
            kept := kept || (relid::text || '/' || e.name);
            opts := e.options;
            IF e.kind = 'relationships' THEN
                BEGIN
                    opts := jsonb_set(opts, '{to}', to_jsonb(
                        pipeline._expectation_resolve(opts ->> 'to', me, spath)::text));
                EXCEPTION WHEN OTHERS THEN
                    NULL;               -- expect() reports it below
                END;
            END IF;
            IF old.expectation_id IS NOT NULL AND old.columns = pipeline._expectation_columns(e.column_name) AND old.kind = e.kind
               AND old.options = opts AND old.severity = e.severity
               AND old.threshold IS NOT DISTINCT FROM e.threshold AND old.row_filter IS NULL
               AND old.key_columns IS NULL AND old.search_path = spath THEN
                items := items || format('%s: %s', e.relation, e.name); actions := actions || 'unchanged'::text;
                details := details || format('%s (%s)', e.kind, e.note);
                CONTINUE;
            END IF;
            BEGIN
                PERFORM pipeline._expect(schemas, relid::regclass, e.column_name, e.kind, e.options, e.severity,
                                         e.threshold, NULL, e.name, NULL, true, v_origin);
                items := items || format('%s: %s', e.relation, e.name);
                actions := actions || CASE WHEN old.expectation_id IS NOT NULL THEN 'updated' ELSE 'created' END;
                details := details || format('%s (%s)', e.kind, e.note);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE;
            WHEN OTHERS THEN
                items := items || format('%s: %s', e.relation, e.name); actions := actions || 'unmapped'::text;
                details := details || format('expect() refused it: %s (%s)', SQLERRM, e.note);
            END;
        END LOOP;

        -- what an earlier version of the contract made and this one no
        -- longer implies
        FOR old IN SELECT * FROM pipeline.expectations x
                    WHERE x.origin = v_origin AND NOT (x.relation::oid::text || '/' || x.name) = ANY (kept)
                    ORDER BY x.relation::text, x.name
        LOOP
            PERFORM pipeline.drop_expectation(old.relation, old.name);
            items := items || format('%s: %s', old.relation::text, old.name); actions := actions || 'removed'::text;
            details := details || format('%s, no longer in contract %s', old.kind, doc ->> 'id');
        END LOOP;

        IF strict AND mismatches > 0 THEN
            RAISE EXCEPTION 'contract "%" does not match the database: % mismatch%', doc ->> 'id', mismatches,
                            CASE WHEN mismatches > 1 THEN 'es' ELSE '' END
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = (SELECT string_agg(i || ': ' || d, E'\n')
                                  FROM unnest(items, actions, details) u(i, a, d) WHERE a = 'mismatch'),
                      HINT = 'Fix the tables or the contract, or apply it with strict => false.';
        END IF;
        IF dry_run THEN
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'PPDRY';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PPDRY' THEN
        NULL;                           -- the dry run's writes are rolled back
    END;
    RETURN QUERY SELECT * FROM unnest(items, actions, details);
END
$$;
COMMENT ON FUNCTION pipeline._apply_contract(name[], text, boolean, boolean) IS
'apply_contract() with the caller''s schemas (current_schemas(false))';

-- The caller's schemas are taken here, by a SQL function without a
-- search_path of its own, as expect() takes them.
CREATE FUNCTION pipeline.apply_contract(contract text, dry_run boolean DEFAULT false, strict boolean DEFAULT false)
RETURNS TABLE(item text, action text, detail text)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM pipeline._apply_contract(pg_catalog.current_schemas(false), $1, $2, $3) $$;
COMMENT ON FUNCTION pipeline.apply_contract(text, boolean, boolean) IS
'creates, updates and removes the expectations a data contract implies (origin contract:<id>), as the caller; reports mismatched columns and types and what it cannot map; dry_run writes nothing; strict makes a mismatch an error';
