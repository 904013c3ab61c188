-- pg_pipeline 0.7.0 -> 0.8.0: data quality (issue 13).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.8.0'" to load this file. \quit

-- ==== quality engine (helper Q) ====
--
-- What this section adds: tables pipeline.expectations (dumped),
-- pipeline.check_results and pipeline.check_failures (history, not
-- dumped), the view pipeline.check_status; expect, alter_expectation,
-- drop_expectation, check; the helpers _expect, _expectation_columns,
-- _expectation_threshold, _expectation_options, _expectation_guard; the C
-- functions _expectation_validate, _expectation_resolve; the aggregates
-- _first_keys and _duplicates.  The engine is src/quality/ (README.md
-- there, docs/quality/expectations.md).

-- One row per expectation.  An expectation belongs to a relation (by OID:
-- it follows a rename, pg_dump writes it by name) and to its owner, who
-- must own that relation; its SQL (row filter, custom SQL, the table a
-- relationship points to) is resolved with the search_path frozen when it
-- was created, and run as its owner.  A relationship's table is resolved
-- once, when "to" is named, and kept by OID (to_relation): a view put at
-- its old name after a rename or a drop is never read.
CREATE TABLE pipeline.expectations (
    expectation_id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relation            regclass NOT NULL,
    name                text NOT NULL,
    columns             text[] NOT NULL DEFAULT '{}',
    kind                text NOT NULL
                        CHECK (kind IN ('not_null', 'unique', 'accepted_values', 'relationships',
                                        'between', 'regex', 'length', 'row_count', 'freshness',
                                        'custom_rows', 'custom_value')),
    options             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    severity            text NOT NULL DEFAULT 'error' CHECK (severity IN ('warn', 'error')),
    threshold           text,
    max_failing         bigint,
    max_failing_percent numeric,
    row_filter          text,
    key_columns         text[],
    owner               name NOT NULL DEFAULT current_user,
    search_path         text NOT NULL DEFAULT '',
    origin              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    owner_oid           oid,                -- set by trigger owner_oid
    to_relation         regclass,           -- set by trigger validate
    UNIQUE (relation, name)
);
COMMENT ON TABLE pipeline.expectations IS
'data-quality expectations: what pipeline.check() verifies on a relation';
COMMENT ON COLUMN pipeline.expectations.expectation_id IS 'the expectation''s id (kept by replace and alter_expectation)';
COMMENT ON COLUMN pipeline.expectations.relation IS 'the relation checked (its owner''s only)';
COMMENT ON COLUMN pipeline.expectations.name IS 'unique per relation; by default <kind>_<column>_<column>, as dbt names tests';
COMMENT ON COLUMN pipeline.expectations.columns IS 'the columns checked (none for row_count, custom_rows, custom_value)';
COMMENT ON COLUMN pipeline.expectations.kind IS
'not_null, unique, accepted_values, relationships, between, regex, length, row_count, freshness, custom_rows or custom_value';
COMMENT ON COLUMN pipeline.expectations.options IS 'the kind''s options, validated by expect() (docs/quality/expectations.md)';
COMMENT ON COLUMN pipeline.expectations.severity IS 'error: over the threshold is a fail (and blocks a gated build); warn: a warn';
COMMENT ON COLUMN pipeline.expectations.threshold IS
'as given: ''10'' lets up to 10 failing rows pass, ''0.5%'' up to 0.5 % of the rows checked; NULL: none may fail';
COMMENT ON COLUMN pipeline.expectations.max_failing IS 'the threshold as a count of rows (from threshold)';
COMMENT ON COLUMN pipeline.expectations.max_failing_percent IS 'the threshold as a percentage of the rows checked (from threshold)';
COMMENT ON COLUMN pipeline.expectations.row_filter IS 'a boolean SQL expression over the relation''s columns: only rows where it is true are checked';
COMMENT ON COLUMN pipeline.expectations.key_columns IS
'the columns that identify a failing row in pipeline.check_failures; NULL: the primary key, else the expectation''s columns';
COMMENT ON COLUMN pipeline.expectations.owner IS 'the role the expectation''s SQL runs as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.expectations.search_path IS
'the search_path its SQL is resolved and run with: the creator''s, fixed when it is created';
COMMENT ON COLUMN pipeline.expectations.origin IS 'who made it: NULL by hand, ''contract:<name>'' by pipeline.apply_contract';
COMMENT ON COLUMN pipeline.expectations.created_at IS 'when it was created';
COMMENT ON COLUMN pipeline.expectations.updated_at IS 'when it was last changed';
COMMENT ON COLUMN pipeline.expectations.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.expectations.to_relation IS
'relationships: the table options."to" named, resolved as the owner when it was named (set by pg_pipeline; follows a rename); NULL once that table is dropped (the expectation is then in error until "to" is named again)';

SELECT pg_catalog.pg_extension_config_dump('pipeline.expectations', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.expectations_expectation_id_seq', '');

ALTER TABLE pipeline.expectations ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.expectations
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.expectations TO PUBLIC;

-- The columns of an expectation from expect()'s column_name: one column or
-- a comma-separated list ('a, b'), each as SQL writes an identifier
-- (unquoted: lower case; "Quoted": as is).  NULL or '': none.
CREATE FUNCTION pipeline._expectation_columns(column_name text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols text[] := '{}';
    part text;
    ident text[];
BEGIN
    IF column_name IS NULL OR btrim(column_name) = '' THEN
        RETURN cols;
    END IF;
    FOREACH part IN ARRAY string_to_array(column_name, ',') LOOP
        BEGIN
            ident := parse_ident(btrim(part));
        EXCEPTION WHEN invalid_parameter_value THEN
            ident := NULL;
        END;
        IF ident IS NULL OR cardinality(ident) <> 1 THEN
            RAISE EXCEPTION 'invalid column name "%"', btrim(part)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give one column, or several separated by commas: ''a, b''.';
        END IF;
        IF ident[1] = ANY (cols) THEN
            RAISE EXCEPTION 'column "%" is named twice', ident[1] USING ERRCODE = 'invalid_parameter_value';
        END IF;
        cols := cols || ident[1];
    END LOOP;
    RETURN cols;
END
$$;
COMMENT ON FUNCTION pipeline._expectation_columns(text) IS
'the column names of expect()''s column_name (''a, b''), parsed as SQL identifiers';

-- A threshold: 'N' rows or 'P%' of the rows checked, into max_failing and
-- max_failing_percent.
CREATE FUNCTION pipeline._expectation_threshold(e pipeline.expectations)
RETURNS pipeline.expectations
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    e.max_failing := NULL;
    e.max_failing_percent := NULL;
    IF e.threshold IS NULL THEN
        RETURN e;
    ELSIF e.kind IN ('row_count', 'freshness', 'custom_value') THEN
        RAISE EXCEPTION 'an expectation of kind % takes no threshold', e.kind
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It checks one value, not rows: its options give the bounds.';
    ELSIF e.threshold ~ '^\s*\d{1,18}\s*$' THEN
        e.max_failing := e.threshold::bigint;
    ELSIF e.threshold ~ '^\s*\d{1,3}(\.\d+)?\s*%\s*$' AND e.kind <> 'custom_rows' THEN
        e.max_failing_percent := rtrim(btrim(e.threshold), '%')::numeric;
        IF e.max_failing_percent > 100 THEN
            RAISE EXCEPTION 'threshold "%" is over 100%%', e.threshold USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSIF e.kind = 'custom_rows' AND e.threshold LIKE '%\%%' THEN
        RAISE EXCEPTION 'invalid threshold "%" for an expectation of kind custom_rows', e.threshold
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'custom_rows counts the rows its SQL returns, out of no total: no percentage.',
                  HINT = 'Give a number of rows (''10'').';
    ELSE
        RAISE EXCEPTION 'invalid threshold "%"', e.threshold
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A number of rows (''10'') or a percentage of the rows checked (''0.5%'').';
    END IF;
    RETURN e;
END
$$;
COMMENT ON FUNCTION pipeline._expectation_threshold(pipeline.expectations) IS
'an expectation with max_failing or max_failing_percent parsed from its threshold';

-- The options of each kind: which keys it takes, which it needs, and
-- their JSON types.  What needs the relation (the columns, their types, the
-- SQL) is checked by _expectation_validate, in C, as the owner.
CREATE FUNCTION pipeline._expectation_options(e pipeline.expectations)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed CONSTANT jsonb := '{"not_null": [], "unique": [], "accepted_values": ["values"],
        "relationships": ["to", "field"], "between": ["min", "max"], "regex": ["pattern"],
        "length": ["min", "max"], "row_count": ["min", "max"], "freshness": ["warn_after", "error_after"],
        "custom_rows": ["sql"], "custom_value": ["sql", "min", "max"]}';
    ncols CONSTANT integer := cardinality(e.columns);
    k text;
    v jsonb;
BEGIN
    FOR k, v IN SELECT * FROM jsonb_each(e.options) LOOP
        IF NOT allowed -> e.kind ? k THEN
            RAISE EXCEPTION 'unknown option "%" for an expectation of kind %', k, e.kind
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = CASE WHEN jsonb_array_length(allowed -> e.kind) = 0 THEN e.kind || ' takes no options.'
                                  ELSE e.kind || ' takes ' || (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(allowed -> e.kind) x) || '.' END;
        END IF;
        IF k IN ('min', 'max') AND jsonb_typeof(v) NOT IN ('number', 'string')
           OR k IN ('to', 'field', 'pattern', 'sql', 'warn_after', 'error_after') AND jsonb_typeof(v) <> 'string'
              AND NOT (k = 'to' AND jsonb_typeof(v) = 'null')  -- its table dropped
           OR k = 'values' AND (jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0
                                OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) x
                                            WHERE jsonb_typeof(x) NOT IN ('string', 'number', 'boolean'))) THEN
            RAISE EXCEPTION 'invalid option "%" for an expectation of kind %: %', k, e.kind, v
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = CASE k WHEN 'values' THEN 'values is a non-empty array of strings, numbers or booleans.'
                                    WHEN 'min' THEN 'min is a number, or a string in the column''s type.'
                                    WHEN 'max' THEN 'max is a number, or a string in the column''s type.'
                                    ELSE k || ' is a string.' END;
        END IF;
        IF k IN ('min', 'max') AND e.kind IN ('length', 'row_count')
           AND (jsonb_typeof(v) <> 'number' OR v::text !~ '^\d{1,18}$') THEN
            RAISE EXCEPTION 'option "%" of an expectation of kind % must be a whole number, not %', k, e.kind, v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF k IN ('warn_after', 'error_after') THEN
            BEGIN
                PERFORM (v ->> 0)::interval;
            EXCEPTION WHEN others THEN
                RAISE EXCEPTION 'invalid interval "%" for option "%"', v #>> '{}', k
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'Write an interval: ''1 hour'', ''2 days''.';
            END;
        END IF;
    END LOOP;
    IF e.kind = 'accepted_values' AND NOT e.options ? 'values'
       OR e.kind = 'relationships' AND NOT (e.options ? 'to' AND e.options ? 'field')
       OR e.kind = 'regex' AND NOT e.options ? 'pattern'
       OR e.kind IN ('custom_rows', 'custom_value') AND NOT e.options ? 'sql'
       OR e.kind IN ('between', 'length', 'row_count', 'custom_value') AND NOT (e.options ?| '{min,max}')
       OR e.kind = 'freshness' AND NOT (e.options ?| '{warn_after,error_after}') THEN
        RAISE EXCEPTION 'an expectation of kind % needs option%', e.kind,
            CASE e.kind WHEN 'accepted_values' THEN ' "values"' WHEN 'relationships' THEN 's "to" and "field"'
                        WHEN 'regex' THEN ' "pattern"' WHEN 'custom_rows' THEN ' "sql"'
                        WHEN 'freshness' THEN ' "warn_after" or "error_after"'
                        WHEN 'custom_value' THEN 's "sql" and "min" or "max"' ELSE ' "min" or "max"' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'docs/quality/expectations.md lists the options of each kind.';
    END IF;
    IF e.kind IN ('length', 'row_count') AND (e.options ->> 'min')::numeric > (e.options ->> 'max')::numeric THEN
        RAISE EXCEPTION 'min % is more than max %', e.options -> 'min', e.options -> 'max'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF e.kind = 'regex' THEN
        BEGIN
            PERFORM '' ~ (e.options ->> 'pattern');
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'invalid regular expression "%"', e.options ->> 'pattern'
                USING ERRCODE = 'invalid_regular_expression',
                      HINT = 'pattern is a POSIX regular expression, as for the ~ operator.';
        END;
    END IF;
    IF e.kind IN ('not_null', 'unique') AND ncols = 0
       OR e.kind IN ('accepted_values', 'relationships', 'between', 'regex', 'length', 'freshness') AND ncols <> 1
       OR e.kind IN ('row_count', 'custom_rows', 'custom_value') AND ncols <> 0 THEN
        RAISE EXCEPTION 'an expectation of kind % takes %', e.kind,
            CASE WHEN e.kind IN ('not_null', 'unique') THEN 'one column or more'
                 WHEN e.kind IN ('row_count', 'custom_rows', 'custom_value') THEN 'no column'
                 ELSE 'one column' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE WHEN e.kind IN ('row_count', 'custom_rows', 'custom_value')
                              THEN 'Pass column_name => NULL.' ELSE 'Name it in column_name.' END;
    END IF;
    IF e.kind IN ('custom_rows', 'custom_value') AND e.row_filter IS NOT NULL THEN
        RAISE EXCEPTION 'an expectation of kind % takes no row_filter', e.kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Write the condition in its SQL.';
    END IF;
    IF e.key_columns IS NOT NULL AND (e.kind IN ('row_count', 'freshness', 'custom_rows', 'custom_value')
                                      OR cardinality(e.key_columns) = 0) THEN
        RAISE EXCEPTION 'key_columns apply to row-level expectations and unique, and name columns'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A failing row of custom_rows is kept whole; row_count, freshness and custom_value have no failing rows.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._expectation_options(pipeline.expectations) IS
'checks an expectation''s options for its kind (names, JSON types, what it needs), its columns, row_filter and key_columns';

CREATE FUNCTION pipeline._expectation_validate(e pipeline.expectations)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_expectation_validate'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._expectation_validate(pipeline.expectations) IS
'checks an expectation against its relation as its owner with its search_path (columns, types, values, row filter, SQL); returns its failing-row SQL';

CREATE FUNCTION pipeline._expectation_resolve(name text, owner_oid oid, search_path text)
RETURNS regclass
AS 'MODULE_PATHNAME', 'pipeline_expectation_resolve'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pipeline._expectation_resolve(text, oid, text) IS
'the relation a name means for a role with a search_path (the role must be allowed to read it)';

-- Every write of pipeline.expectations (by expect() or straight into the
-- table) is checked here, after the guards made the row its writer's: the
-- owner must own the relation; the options, threshold, columns, row
-- filter and SQL must be valid.  A relationship's table is resolved, as
-- the owner with its search_path, only when "to" is named (an INSERT, an
-- UPDATE changing "to"; a restore names it by to_relation, which pg_dump
-- writes qualified) and kept by OID in to_relation; "to" shows the name
-- it had then.  Once that table is dropped (pp_quality_relation_dropped
-- sets to_relation and "to" to NULL) nothing is resolved until "to" is
-- named again: a view another role puts at the old name is never read.
CREATE FUNCTION pipeline._expectation_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
BEGIN
    -- the drop of a relationship's table (pp_quality_relation_dropped):
    -- nothing else changes, and nothing may refuse it (the drop would fail)
    IF TG_OP = 'UPDATE' AND NEW.to_relation IS NULL AND OLD.to_relation IS NOT NULL
       AND NEW.options = jsonb_set(OLD.options, '{to}', 'null')
       AND to_jsonb(NEW) - '{to_relation,options}'::text[] = to_jsonb(OLD) - '{to_relation,options}'::text[] THEN
        RETURN NEW;
    END IF;
    SELECT c.relkind, c.relowner, c.relpersistence, c.oid::regclass::text AS name INTO rel
      FROM pg_class c WHERE c.oid = NEW.relation;
    IF NOT FOUND OR rel.relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION 'expectations apply to tables, views, materialized views and foreign tables'
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- a temporary table goes at the end of its session without the drop
    -- hook seeing it: its expectations would outlive it (and break a restore)
    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'expectations cannot apply to temporary table %', rel.name
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NOT pg_has_role(NEW.owner_oid, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to put expectations on it', rel.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'An expectation can block builds of the relation and keeps its failing rows.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.relation <> OLD.relation THEN
        RAISE EXCEPTION 'the relation of an expectation cannot change' USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NEW.name IS NULL OR btrim(NEW.name) = '' THEN
        RAISE EXCEPTION 'the name of an expectation must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.kind IN ('row_count', 'freshness', 'custom_value') THEN
        NEW.severity := coalesce(NEW.severity, 'error');
    END IF;
    NEW.options := coalesce(NEW.options, '{}');
    NEW.columns := coalesce(NEW.columns, '{}');
    PERFORM pipeline._expectation_options(NEW);
    NEW := pipeline._expectation_threshold(NEW);
    IF NEW.kind <> 'relationships' THEN
        NEW.to_relation := NULL;
    ELSIF TG_OP = 'UPDATE' AND OLD.kind = 'relationships' AND NEW.options -> 'to' = OLD.options -> 'to' THEN
        -- "to" not named again: the table it named, or none once dropped
        NEW.to_relation := OLD.to_relation;
    ELSIF TG_OP = 'INSERT' AND NEW.to_relation IS NOT NULL THEN
        -- a restore: the same table, if its owner may read it
        NEW.to_relation := pipeline._expectation_resolve(NEW.to_relation::text, NEW.owner_oid, NEW.search_path);
    ELSIF jsonb_typeof(NEW.options -> 'to') = 'null' THEN
        NEW.to_relation := NULL;    -- a restore of one whose table was dropped
    ELSE
        NEW.to_relation := pipeline._expectation_resolve(NEW.options ->> 'to', NEW.owner_oid, NEW.search_path);
    END IF;
    IF NEW.to_relation IS NOT NULL THEN
        NEW.options := jsonb_set(NEW.options, '{to}', to_jsonb(NEW.to_relation::text));
    ELSIF NEW.kind = 'relationships' THEN
        NEW.options := jsonb_set(NEW.options, '{to}', 'null');
        RETURN NEW;             -- in error at each check (src/quality/sql.c)
    END IF;
    PERFORM pipeline._expectation_validate(NEW);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._expectation_guard() IS
'trigger: an expectation is on a relation its owner owns, with valid options, threshold, columns and SQL';

-- a non-owner (pipeline_admin) may only drop an expectation
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.expectations
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('expectation');
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.expectations
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER validate BEFORE INSERT OR UPDATE ON pipeline.expectations
    FOR EACH ROW EXECUTE FUNCTION pipeline._expectation_guard();

CREATE FUNCTION pipeline._expect(
    schemas         name[],
    relation        regclass,
    column_name     text,
    kind            text,
    options         jsonb,
    severity        text,
    threshold       text,
    row_filter      text,
    name            text,
    key_columns     text[],
    replace         boolean,
    origin          text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols text[] := pipeline._expectation_columns(column_name);
    e_name text := coalesce(_expect.name, concat_ws('_', VARIADIC _expect.kind || cols));
    id integer;
BEGIN
    IF _expect.relation IS NULL OR _expect.kind IS NULL THEN
        RAISE EXCEPTION 'relation and kind of an expectation must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF _expect.severity IS NULL OR _expect.severity NOT IN ('warn', 'error') THEN
        RAISE EXCEPTION 'invalid severity "%"', _expect.severity
            USING ERRCODE = 'invalid_parameter_value', HINT = 'severity is warn or error.';
    END IF;
    IF _expect.kind NOT IN ('not_null', 'unique', 'accepted_values', 'relationships', 'between', 'regex',
                            'length', 'row_count', 'freshness', 'custom_rows', 'custom_value') THEN
        RAISE EXCEPTION 'invalid kind "%" of expectation', _expect.kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'kind is one of not_null, unique, accepted_values, relationships, between, regex, length, row_count, freshness, custom_rows, custom_value.';
    END IF;
    SELECT e.expectation_id INTO id FROM pipeline.expectations e
     WHERE e.relation = _expect.relation AND e.name = e_name FOR UPDATE;
    IF FOUND AND NOT coalesce(replace, false) THEN
        RAISE EXCEPTION 'expectation "%" on % already exists', e_name, _expect.relation
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Pass replace => true to change it, or give another name.';
    ELSIF FOUND THEN
        UPDATE pipeline.expectations e
           SET columns = cols, kind = _expect.kind, options = coalesce(_expect.options, '{}'),
               severity = _expect.severity, threshold = _expect.threshold,
               row_filter = _expect.row_filter, key_columns = _expect.key_columns,
               search_path = pipeline._model_search_path(schemas), origin = _expect.origin,
               updated_at = now()
         WHERE e.expectation_id = id;
        RETURN id;
    END IF;
    BEGIN
        INSERT INTO pipeline.expectations (relation, name, columns, kind, options, severity, threshold,
                                           row_filter, key_columns, search_path, origin)
        VALUES (_expect.relation, e_name, cols, _expect.kind, coalesce(_expect.options, '{}'),
                _expect.severity, _expect.threshold, _expect.row_filter, _expect.key_columns,
                pipeline._model_search_path(schemas), _expect.origin)
        RETURNING expectation_id INTO id;
    EXCEPTION WHEN unique_violation THEN
        -- another role's expectation, which row-level security hides
        RAISE EXCEPTION 'expectation "%" on % already exists', e_name, _expect.relation
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'It belongs to another role.', HINT = 'Give another name.';
    END;
    RETURN id;
END
$$;
COMMENT ON FUNCTION pipeline._expect(name[], regclass, text, text, jsonb, text, text, text, text, text[], boolean, text) IS
'expect() with the caller''s schemas (current_schemas(false)): the search_path the expectation keeps';

-- The caller's schemas are taken here, by a SQL function without a
-- search_path of its own: _expect pins its own.
CREATE FUNCTION pipeline.expect(
    relation        regclass,
    column_name     text,
    kind            text,
    options         jsonb   DEFAULT '{}',
    severity        text    DEFAULT 'error',
    threshold       text    DEFAULT NULL,
    row_filter      text    DEFAULT NULL,
    name            text    DEFAULT NULL,
    key_columns     text[]  DEFAULT NULL,
    replace         boolean DEFAULT false,
    origin          text    DEFAULT NULL)
RETURNS integer
LANGUAGE sql VOLATILE
AS $$ SELECT pipeline._expect(pg_catalog.current_schemas(false), $1, $2, $3, $4, $5, $6, $7, $8, $9,
                              $10, $11) $$;
COMMENT ON FUNCTION pipeline.expect(regclass, text, text, jsonb, text, text, text, text, text[], boolean, text) IS
'puts an expectation on a relation the caller owns (replace => true changes the one of that name in place); its SQL keeps the caller''s search_path; returns its id';

-- NULL keeps an option; '' clears threshold and row_filter.
CREATE FUNCTION pipeline.alter_expectation(
    relation        regclass,
    name            text,
    severity        text    DEFAULT NULL,
    threshold       text    DEFAULT NULL,
    row_filter      text    DEFAULT NULL,
    options         jsonb   DEFAULT NULL,
    key_columns     text[]  DEFAULT NULL,
    new_name        text    DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pipeline.expectations e
       SET severity = coalesce(alter_expectation.severity, e.severity),
           threshold = CASE WHEN alter_expectation.threshold IS NULL THEN e.threshold
                            ELSE nullif(alter_expectation.threshold, '') END,
           row_filter = CASE WHEN alter_expectation.row_filter IS NULL THEN e.row_filter
                             ELSE nullif(alter_expectation.row_filter, '') END,
           options = coalesce(alter_expectation.options, e.options),
           key_columns = coalesce(alter_expectation.key_columns, e.key_columns),
           name = coalesce(alter_expectation.new_name, e.name),
           updated_at = now()
     WHERE e.relation = alter_expectation.relation AND e.name = alter_expectation.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expectation "%" on % does not exist', alter_expectation.name, alter_expectation.relation
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.alter_expectation(regclass, text, text, text, text, jsonb, text[], text) IS
'changes an expectation (NULL keeps an option; '''' clears threshold and row_filter)';

CREATE FUNCTION pipeline.drop_expectation(relation regclass, name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM pipeline.expectations e
     WHERE e.relation = drop_expectation.relation AND e.name = drop_expectation.name;
    IF NOT FOUND AND NOT coalesce(if_exists, false) THEN
        RAISE EXCEPTION 'expectation "%" on % does not exist', drop_expectation.name, drop_expectation.relation
            USING ERRCODE = 'undefined_object',
                  HINT = 'Pass if_exists => true to ignore a missing expectation.';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.drop_expectation(regclass, text, boolean) IS
'drops an expectation (its results stay, with expectation_id NULL)';

-- The results of every check, pass or not: one row per expectation per
-- check (check_id), written by pg_pipeline only (src/quality/record.c).
CREATE SEQUENCE pipeline.check_id_seq;
COMMENT ON SEQUENCE pipeline.check_id_seq IS 'check_id of pipeline.check_results: one per check';
CREATE TABLE pipeline.check_results (
    result_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id            bigint NOT NULL,
    expectation_id      integer REFERENCES pipeline.expectations ON DELETE SET NULL,
    relation            text NOT NULL,
    expectation         text NOT NULL,
    kind                text NOT NULL,
    columns             text[] NOT NULL DEFAULT '{}',
    severity            text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    proven              boolean NOT NULL DEFAULT false,
    failing             bigint,
    total               bigint,
    percent             numeric,
    failing_sql         text,
    started_at          timestamptz NOT NULL,
    duration            interval,
    error               text,
    sqlstate            text,
    model_invocation_id bigint,
    owner               name NOT NULL,
    owner_oid           oid NOT NULL
);
CREATE INDEX check_results_expectation ON pipeline.check_results (expectation_id, result_id);
CREATE INDEX check_results_started_at ON pipeline.check_results (started_at);
CREATE INDEX check_results_check_id ON pipeline.check_results (check_id);
COMMENT ON TABLE pipeline.check_results IS
'every result of every check (history, kept pg_pipeline.check_history_retention; not dumped)';
COMMENT ON COLUMN pipeline.check_results.result_id IS 'the result''s id';
COMMENT ON COLUMN pipeline.check_results.check_id IS 'one per check of a relation (pipeline.check or a gated build)';
COMMENT ON COLUMN pipeline.check_results.expectation_id IS 'the expectation (NULL once it is dropped)';
COMMENT ON COLUMN pipeline.check_results.relation IS 'the relation checked, by its name at the time';
COMMENT ON COLUMN pipeline.check_results.expectation IS 'the expectation''s name at the time';
COMMENT ON COLUMN pipeline.check_results.kind IS 'the expectation''s kind';
COMMENT ON COLUMN pipeline.check_results.columns IS 'the expectation''s columns';
COMMENT ON COLUMN pipeline.check_results.severity IS 'warn or error';
COMMENT ON COLUMN pipeline.check_results.status IS
'pass; warn or fail (over the threshold, by severity; freshness by warn_after and error_after); error: the check itself failed';
COMMENT ON COLUMN pipeline.check_results.proven IS 'passed without a scan: the catalog proves it (a constraint or an index)';
COMMENT ON COLUMN pipeline.check_results.failing IS 'failing rows (row_count, freshness, custom_value: 1 when out of bounds)';
COMMENT ON COLUMN pipeline.check_results.total IS 'rows checked (after row_filter; NULL when not counted)';
COMMENT ON COLUMN pipeline.check_results.percent IS 'failing as a percentage of total';
COMMENT ON COLUMN pipeline.check_results.failing_sql IS 'a query returning the failing rows (run as the owner with its search_path)';
COMMENT ON COLUMN pipeline.check_results.started_at IS 'when its evaluation began (shared by the expectations of one scan)';
COMMENT ON COLUMN pipeline.check_results.duration IS 'how long its evaluation took (the whole scan for those of one scan)';
COMMENT ON COLUMN pipeline.check_results.error IS 'status error: the error''s message';
COMMENT ON COLUMN pipeline.check_results.sqlstate IS 'status error: the error''s SQLSTATE';
COMMENT ON COLUMN pipeline.check_results.model_invocation_id IS 'the model build that checked it (gating), else NULL';
COMMENT ON COLUMN pipeline.check_results.owner IS 'the expectation''s owner';
COMMENT ON COLUMN pipeline.check_results.owner_oid IS 'the expectation''s owner''s OID';

-- The failing rows of a result: their keys and failing values, up to
-- pg_pipeline.check_failure_limit per expectation per check.
CREATE TABLE pipeline.check_failures (
    result_id   bigint NOT NULL REFERENCES pipeline.check_results ON DELETE CASCADE,
    ordinal     integer NOT NULL,
    key         jsonb,
    value       jsonb,
    PRIMARY KEY (result_id, ordinal)
);
COMMENT ON TABLE pipeline.check_failures IS
'the failing rows of each result: their keys and values (up to pg_pipeline.check_failure_limit per result)';
COMMENT ON COLUMN pipeline.check_failures.result_id IS 'the result';
COMMENT ON COLUMN pipeline.check_failures.ordinal IS '1, 2, ... in the order they were found';
COMMENT ON COLUMN pipeline.check_failures.key IS
'the key columns'' values ({"column": value}); custom_rows: the row returned';
COMMENT ON COLUMN pipeline.check_failures.value IS
'the failing values of the expectation''s columns; row_count, freshness, custom_value: the value out of bounds';

ALTER TABLE pipeline.check_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.check_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.check_results
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_or_admin ON pipeline.check_failures
    USING (EXISTS (SELECT 1 FROM pipeline.check_results r
                    WHERE r.result_id OPERATOR(pg_catalog.=) check_failures.result_id));
-- written by pg_pipeline only; owners may delete their history
GRANT SELECT, DELETE ON pipeline.check_results, pipeline.check_failures TO PUBLIC;

-- The latest result of each expectation, with its definition (NULL
-- result columns: never checked).
CREATE VIEW pipeline.check_status WITH (security_invoker = true) AS
SELECT e.expectation_id, e.relation, e.name AS expectation, e.kind, e.columns, e.severity,
       e.threshold, e.row_filter, e.owner, e.origin,
       r.status, r.proven, r.failing, r.total, r.percent,
       r.started_at AS checked_at, r.duration, r.error, r.sqlstate, r.check_id, r.result_id,
       r.model_invocation_id
  FROM pipeline.expectations e
  LEFT JOIN LATERAL (SELECT * FROM pipeline.check_results cr
                      WHERE cr.expectation_id OPERATOR(pg_catalog.=) e.expectation_id
                      ORDER BY cr.result_id DESC LIMIT 1) r ON true;
COMMENT ON VIEW pipeline.check_status IS
'each expectation with its latest result (status NULL: never checked)';
GRANT SELECT ON pipeline.check_status TO PUBLIC;

CREATE FUNCTION pipeline.check(relation regclass, fail_on_error boolean DEFAULT false)
RETURNS TABLE(expectation text, kind text, columns text[], severity text, status text,
              proven boolean, failing bigint, total bigint, percent numeric,
              failing_sql text, result_id bigint)
AS 'MODULE_PATHNAME', 'pipeline_check'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.check(regclass, boolean) IS
'evaluates every expectation of a relation the caller sees (the row-level ones of one owner in one scan), records and returns the results; fail_on_error: then an error (SQLSTATE 23514) when an error-severity one failed';

-- The aggregates of the scan (src/quality/aggregate.c): each keeps the
-- count of the rows it is given and the first pg_pipeline.check_failure_limit
-- of them as {"key": ..., "value": ...}; _duplicates is given every value
-- and keeps the rows whose value another row has.  Both are parallel safe
-- (partial aggregation in parallel workers, combined by the leader).
CREATE FUNCTION pipeline._first_keys_step(state internal, key "any", value "any", key_names text[],
                                          value_names text[], lim integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_first_keys_step'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._first_keys_step(internal, "any", "any", text[], text[], integer) IS
'transition function of pipeline._first_keys';
CREATE FUNCTION pipeline._duplicates_step(state internal, key "any", value "any", key_names text[],
                                          value_names text[], lim integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_duplicates_step'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._duplicates_step(internal, "any", "any", text[], text[], integer) IS
'transition function of pipeline._duplicates';
CREATE FUNCTION pipeline._failing_rows_final(state internal)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pipeline_failing_rows_final'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._failing_rows_final(internal) IS
'final function of pipeline._first_keys and pipeline._duplicates: {"failing": n, "rows": [{"key": ..., "value": ...}]}';
CREATE FUNCTION pipeline._failing_rows_combine(state internal, other internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_failing_rows_combine'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._failing_rows_combine(internal, internal) IS
'combine function of pipeline._first_keys and pipeline._duplicates (parallel aggregation): adds the other state''s counts and kept rows';
CREATE FUNCTION pipeline._failing_rows_serialize(state internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pipeline_failing_rows_serialize'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._failing_rows_serialize(internal) IS
'serialize function of pipeline._first_keys and pipeline._duplicates (parallel aggregation)';
CREATE FUNCTION pipeline._failing_rows_deserialize(state bytea, unused internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pipeline_failing_rows_deserialize'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._failing_rows_deserialize(bytea, internal) IS
'deserialize function of pipeline._first_keys and pipeline._duplicates (parallel aggregation)';
CREATE AGGREGATE pipeline._first_keys(key "any", value "any", key_names text[], value_names text[], lim integer) (
    SFUNC = pipeline._first_keys_step, STYPE = internal, FINALFUNC = pipeline._failing_rows_final,
    COMBINEFUNC = pipeline._failing_rows_combine, SERIALFUNC = pipeline._failing_rows_serialize,
    DESERIALFUNC = pipeline._failing_rows_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE pipeline._first_keys("any", "any", text[], text[], integer) IS
'check(): counts the failing rows it is given, keeps the keys and values of the first lim';
CREATE AGGREGATE pipeline._duplicates(key "any", value "any", key_names text[], value_names text[], lim integer) (
    SFUNC = pipeline._duplicates_step, STYPE = internal, FINALFUNC = pipeline._failing_rows_final,
    COMBINEFUNC = pipeline._failing_rows_combine, SERIALFUNC = pipeline._failing_rows_serialize,
    DESERIALFUNC = pipeline._failing_rows_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE pipeline._duplicates("any", "any", text[], text[], integer) IS
'check(): hashes the values it is given; counts the rows whose value another row has, keeps the first lim';

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

-- ==== gating and ingestion (lead) ====

-- Gating (write, audit, publish; src/quality/gate.c): pipeline.build and
-- start_build check each model's expectations inside the transaction that
-- built it, before it commits.
CREATE FUNCTION pipeline._model_checks(model_id integer, invocation_id bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'pipeline_model_checks'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._model_checks(integer, bigint) IS
'models: evaluates the expectations of a model just built, in its transaction, keeping the results in the session; an error (23514) when an error-severity one fails, which undoes the build';

CREATE FUNCTION pipeline._model_checks_record(model_id integer, invocation_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_model_checks_record'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._model_checks_record(integer, bigint) IS
'models: records the results pipeline._model_checks kept for that model and invocation (after the build committed or was undone); the check_id, or NULL';

-- pipeline.build checks each model before it is published
CREATE OR REPLACE FUNCTION pipeline._model_run(command text, selector text, full_refresh boolean, exclude text)
RETURNS SETOF pipeline.model_runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    invocation bigint;
    p record;
    r pipeline.model_runs;
    failed integer[] := '{}';       -- failed or skipped, with their names
    failed_names text[] := '{}';
    culprit integer;
    n bigint;
    ord integer := 0;
    outcome text := 'success';
BEGIN
    INSERT INTO pipeline.model_invocations (command, selector, exclude, full_refresh, in_session)
    VALUES (command, coalesce(selector, ''), exclude, full_refresh, true)
    RETURNING invocation_id INTO invocation;

    FOR p IN SELECT * FROM pipeline._model_plan(selector, exclude) x
              WHERE x.materialized <> 'ephemeral' LOOP
        r := NULL;
        r.invocation_id := invocation;
        r.model_id := p.model_id;
        r.model := p.model;
        ord := ord + 1;
        r.position := ord;
        r.upstream := p.upstream;
        r.started_at := clock_timestamp();
        culprit := (SELECT u FROM unnest(p.upstream) u WHERE u = ANY (failed) LIMIT 1);
        IF culprit IS NOT NULL THEN
            r.status := 'skipped';
            r.error := format('upstream model "%s" did not build',
                              failed_names[array_position(failed, culprit)]);
        ELSE
            BEGIN
                n := pipeline._model_build(p.model_id, full_refresh);
                -- pipeline.build: the model's checks, in the same
                -- subtransaction, before it is published: a blocking
                -- failure undoes the build (src/quality/gate.c)
                IF command = 'build' THEN
                    PERFORM pipeline._model_checks(p.model_id, invocation);
                END IF;
                r.status := 'success';
                r.rows := n;
            EXCEPTION WHEN OTHERS THEN
                r.status := 'error';
                GET STACKED DIAGNOSTICS
                    r.sqlstate = RETURNED_SQLSTATE, r.error = MESSAGE_TEXT,
                    r.error_detail = PG_EXCEPTION_DETAIL, r.error_hint = PG_EXCEPTION_HINT,
                    r.error_context = PG_EXCEPTION_CONTEXT;
                r.error_detail := nullif(r.error_detail, '');
                r.error_hint := nullif(r.error_hint, '');
                r.error_context := nullif(r.error_context, '');
            END;
            -- the checks' results, kept even when the build was undone
            IF command = 'build' THEN
                PERFORM pipeline._model_checks_record(p.model_id, invocation);
            END IF;
        END IF;
        IF r.status <> 'success' THEN
            failed := failed || p.model_id;
            failed_names := failed_names || p.model;
            outcome := 'error';
        END IF;
        r.ended_at := clock_timestamp();
        INSERT INTO pipeline.model_runs (invocation_id, model_id, model, status, rows, started_at,
                                         ended_at, error, sqlstate, error_detail, error_hint,
                                         error_context, position, upstream)
        VALUES (r.invocation_id, r.model_id, r.model, r.status, r.rows, r.started_at,
                r.ended_at, r.error, r.sqlstate, r.error_detail, r.error_hint,
                r.error_context, r.position, r.upstream)
        RETURNING * INTO r;
        RETURN NEXT r;
    END LOOP;

    UPDATE pipeline.model_invocations SET status = outcome, ended_at = clock_timestamp()
     WHERE invocation_id = invocation;
END
$$;
COMMENT ON FUNCTION pipeline.build(text, boolean, text, boolean) IS
'models: pipeline.run plus each model''s expectations checked on its new version before it is published: an error-severity failure keeps the previous version and skips the models downstream';
COMMENT ON FUNCTION pipeline.start_build(text, boolean, text, integer) IS
'models: pipeline.start_run plus each model''s expectations checked before it is published (as pipeline.build)';

-- ---- expectations at ingestion ----
-- Expectations at ingestion (src/kafka/expect.c): a source's row-level
-- expectations are rows of pipeline.expectations on its target with origin
-- 'source:<name>', checked on each message as COPY's WHERE clause.
CREATE FUNCTION pipeline._ingest_expectation(token bigint, expectation integer, fails boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline_ingest_expectation'
-- STABLE, not VOLATILE: it changes no data (it notes the failing line in
-- the loader's memory), and a volatile WHERE clause would make COPY insert
-- row by row instead of in batches
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._ingest_expectation(bigint, integer, boolean) IS
'sources: COPY''s WHERE clause at ingestion; true when the row passes, else, with the running COPY''s token, notes it for the dead letters (any other call: whether it passes)';

CREATE FUNCTION pipeline._ingest_expectations_check(source text, target regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_ingest_expectations_check'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline._ingest_expectations_check(text, regclass) IS
'sources: builds the expectations a load of the source would check, raising what it could not';

-- Sets the expectations of a source from its expect => argument: a JSON
-- array of {"column", "kind", "options", "name", "row_filter"}; the ones of
-- that source not named any more go.  Each is created by pipeline.expect
-- (its checks, its guard: the caller must own the target), with origin
-- 'source:<name>'.
CREATE FUNCTION pipeline._source_expectations(source text, target regclass, expect jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e jsonb;
    pos integer := 0;
    id integer;
    e_name text;
    kept text[] := '{}';
    other text;
BEGIN
    IF jsonb_typeof(expect) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'expect of source "%" must be a JSON array of expectations', source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''[{"column": "amount", "kind": "between", "options": {"min": 0}}]''; ''[]'' for none.';
    END IF;
    FOR e IN SELECT x FROM jsonb_array_elements(expect) x LOOP
        pos := pos + 1;
        IF jsonb_typeof(e) <> 'object' OR NOT e ? 'kind'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(e) k
                       WHERE k NOT IN ('column', 'kind', 'options', 'name', 'row_filter')) THEN
            RAISE EXCEPTION 'expectation % of source "%" is not an object of column, kind, options, name, row_filter',
                            pos, source
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It is %s.', e),
                      HINT = 'kind is required; options as pipeline.expect takes them.';
        END IF;
        IF e->>'kind' NOT IN ('not_null', 'accepted_values', 'between', 'regex', 'length') THEN
            RAISE EXCEPTION 'expectation % of source "%": kind "%" cannot be checked on one message',
                            pos, source, e->>'kind'
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'At ingestion: not_null, accepted_values, between, regex, length. Put the others on the table with pipeline.expect.';
        END IF;
        -- a name (given, or expect()'s default) taken by one that is not this source's
        e_name := coalesce(e->>'name', concat_ws('_', VARIADIC (e->>'kind')
                                                     || pipeline._expectation_columns(e->>'column')));
        SELECT coalesce(x.origin, 'made by hand') INTO other FROM pipeline.expectations x
         WHERE x.relation = target AND x.name = e_name
           AND x.origin IS DISTINCT FROM 'source:' || source;
        IF FOUND THEN
            RAISE EXCEPTION 'expectation "%" on % exists already (%)', e_name, target, other
                USING ERRCODE = 'duplicate_object', HINT = 'Give this one another name.';
        END IF;
        id := pipeline.expect(target, e->>'column', e->>'kind', coalesce(e->'options', '{}'),
                              row_filter => e->>'row_filter', name => e_name,
                              replace => true, origin => 'source:' || source);
        kept := kept || e_name;
    END LOOP;
    DELETE FROM pipeline.expectations x
     WHERE x.origin = 'source:' || source AND x.name <> ALL (kept);
    -- what the consumer will check, built now: refused now if it cannot be
    PERFORM pipeline._ingest_expectations_check(source, target);
END
$$;
COMMENT ON FUNCTION pipeline._source_expectations(text, regclass, jsonb) IS
'sources: sets a source''s expectations at ingestion from create_source / alter_source(expect => ...)';

-- create_source and alter_source take expect => (a new last parameter)
DROP FUNCTION pipeline.create_source(text, name, text, regclass, text, text, jsonb, name, integer, integer, integer, integer, text, boolean);
CREATE FUNCTION pipeline.create_source(
    name          text,
    server        name,
    topic         text,
    target        regclass,
    format        text    DEFAULT 'json',
    on_error      text    DEFAULT 'dead_letter',
    properties    jsonb   DEFAULT '{}',
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT 1,
    batch_rows    integer DEFAULT 50000,
    batch_bytes   integer DEFAULT 16777216,
    batch_ms      integer DEFAULT 100,
    start_from    text    DEFAULT 'earliest',
    archive       boolean DEFAULT false,
    expect        jsonb   DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
BEGIN
    IF create_source.name IS NULL OR create_source.server IS NULL
       OR create_source.topic IS NULL OR create_source.target IS NULL THEN
        RAISE EXCEPTION 'name, server, topic and target of a source must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('source', create_source.name);
    PERFORM pipeline._check_source_numbers(create_source.on_error, create_source.consumers,
        create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms);
    col := pipeline._check_source(create_source.server, create_source.topic, create_source.target,
                                  create_source.format, create_source.target_column,
                                  create_source.properties, create_source.start_from);
    INSERT INTO pipeline.sources (name, server, topic, target, format, target_column, on_error,
                                  properties, consumers, batch_rows, batch_bytes, batch_ms, start_from,
                                  archive)
    VALUES (create_source.name, create_source.server, create_source.topic,
            create_source.target::text, create_source.format, col, create_source.on_error,
            coalesce(create_source.properties, '{}'), create_source.consumers,
            create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms,
            create_source.start_from, coalesce(create_source.archive, false));
    IF create_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(create_source.name, create_source.target,
                                              create_source.expect);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.create_source(text, name, text, regclass, text, text, jsonb, name, integer, integer, integer, integer, text, boolean, jsonb) IS
'creates a Kafka source: a consumer worker keeps the target table filled from the topic, exactly once; expect: row-level expectations checked on each message (failing ones go to the dead letters)';

DROP FUNCTION pipeline.alter_source(text, text, text, jsonb, name, integer, integer, integer, integer, text, text, boolean);
CREATE FUNCTION pipeline.alter_source(
    name          text,
    format        text    DEFAULT NULL,
    on_error      text    DEFAULT NULL,
    properties    jsonb   DEFAULT NULL,
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT NULL,
    batch_rows    integer DEFAULT NULL,
    batch_bytes   integer DEFAULT NULL,
    batch_ms      integer DEFAULT NULL,
    start_from    text    DEFAULT NULL,
    topic         text    DEFAULT NULL,
    archive       boolean DEFAULT NULL,
    expect        jsonb   DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    col name;
BEGIN
    s := pipeline._source_for_update(alter_source.name);
    s.format := coalesce(alter_source.format, s.format);
    s.on_error := coalesce(alter_source.on_error, s.on_error);
    s.properties := coalesce(alter_source.properties, s.properties);
    s.consumers := coalesce(alter_source.consumers, s.consumers);
    s.batch_rows := coalesce(alter_source.batch_rows, s.batch_rows);
    s.batch_bytes := coalesce(alter_source.batch_bytes, s.batch_bytes);
    s.batch_ms := coalesce(alter_source.batch_ms, s.batch_ms);
    s.start_from := coalesce(alter_source.start_from, s.start_from);
    s.topic := coalesce(alter_source.topic, s.topic);
    s.archive := coalesce(alter_source.archive, s.archive);
    PERFORM pipeline._check_source_numbers(s.on_error, s.consumers, s.batch_rows,
                                           s.batch_bytes, s.batch_ms);
    col := pipeline._check_source(s.server, s.topic, s.target::regclass, s.format,
                                  coalesce(alter_source.target_column,
                                           CASE WHEN alter_source.format IS NULL THEN s.target_column END),
                                  s.properties, s.start_from);
    IF alter_source.topic IS NOT NULL AND alter_source.topic <> (SELECT t.topic FROM pipeline.sources t WHERE t.name = s.name) THEN
        -- offsets belong to the old topic
        DELETE FROM pipeline.source_offsets o WHERE o.source = s.name;
    END IF;
    UPDATE pipeline.sources AS u
       SET format = s.format, on_error = s.on_error, properties = s.properties,
           target_column = col, consumers = s.consumers, batch_rows = s.batch_rows,
           batch_bytes = s.batch_bytes, batch_ms = s.batch_ms, start_from = s.start_from,
           topic = s.topic, archive = s.archive, config_version = u.config_version + 1
     WHERE u.name = s.name;
    IF alter_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(s.name, s.target::regclass, alter_source.expect);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.alter_source(text, text, text, jsonb, name, integer, integer, integer, integer, text, text, boolean, jsonb) IS
'changes a source''s options (NULL keeps one); its consumers restart with them; expect replaces its expectations at ingestion (''[]'': none)';

CREATE OR REPLACE FUNCTION pipeline.drop_source(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_drop('source', drop_source.name, drop_source.if_exists);
    DELETE FROM pipeline.expectations e WHERE e.origin = 'source:' || drop_source.name;
END
$$;
COMMENT ON FUNCTION pipeline.drop_source(text, boolean) IS
'drops a source, its stored offsets and its expectations at ingestion; its dead letters are kept';

-- ---- models: no walk up through what a model reads when nothing reads it ----
CREATE OR REPLACE FUNCTION pipeline._model_cycle(id integer)
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
