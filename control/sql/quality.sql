------------------------------------------------------------------------
-- Quality: expectations, checks in one scan, results and failing keys
-- (src/quality/).
------------------------------------------------------------------------

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
COMMENT ON COLUMN pipeline.check_status.expectation_id IS 'the expectation''s id';
COMMENT ON COLUMN pipeline.check_status.relation IS 'the relation checked';
COMMENT ON COLUMN pipeline.check_status.expectation IS 'the expectation''s name';
COMMENT ON COLUMN pipeline.check_status.kind IS 'the expectation''s kind';
COMMENT ON COLUMN pipeline.check_status.columns IS 'the columns checked';
COMMENT ON COLUMN pipeline.check_status.severity IS 'warn or error';
COMMENT ON COLUMN pipeline.check_status.threshold IS 'the threshold as given (NULL: none may fail)';
COMMENT ON COLUMN pipeline.check_status.row_filter IS 'only rows where it is true are checked';
COMMENT ON COLUMN pipeline.check_status.owner IS 'the expectation''s owner';
COMMENT ON COLUMN pipeline.check_status.origin IS
'who made it: NULL by hand, ''contract:<name>'' by apply_contract';
COMMENT ON COLUMN pipeline.check_status.status IS
'the latest result: pass, warn, fail or error (NULL: never checked)';
COMMENT ON COLUMN pipeline.check_status.proven IS 'passed without a scan: the catalog proves it';
COMMENT ON COLUMN pipeline.check_status.failing IS 'failing rows';
COMMENT ON COLUMN pipeline.check_status.total IS 'rows checked';
COMMENT ON COLUMN pipeline.check_status.percent IS 'failing as a percentage of total';
COMMENT ON COLUMN pipeline.check_status.checked_at IS 'when the latest check began';
COMMENT ON COLUMN pipeline.check_status.duration IS 'how long it took';
COMMENT ON COLUMN pipeline.check_status.error IS 'status error: the error''s message';
COMMENT ON COLUMN pipeline.check_status.sqlstate IS 'status error: the error''s SQLSTATE';
COMMENT ON COLUMN pipeline.check_status.check_id IS 'the check the latest result belongs to';
COMMENT ON COLUMN pipeline.check_status.result_id IS 'the latest result (pipeline.check_results)';
COMMENT ON COLUMN pipeline.check_status.model_invocation_id IS
'the model build that checked it (gating), else NULL';
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
