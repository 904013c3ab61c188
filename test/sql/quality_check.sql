-- Quality (issue 13, engine): every kind with thresholds (count and
-- percent) and row filters, catalog proofs, one scan, result history and
-- failing keys (limit respected), check_status, NOTIFY, fail_on_error,
-- drop of the table, and the errors of bad input (SQLSTATE, hint).
\set VERBOSITY default
SET client_min_messages = warning;
CREATE EXTENSION pg_pipeline;

CREATE SCHEMA qc;
SET search_path = qc, public;
CREATE TABLE customers (customer_id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g;
CREATE TABLE orders (
    id          int PRIMARY KEY,
    customer_id int,
    amount      numeric CHECK (amount >= 0),
    status      text,
    email       text,
    code        text NOT NULL,
    created_at  timestamptz);
INSERT INTO orders
SELECT g, g % 12, g * 1.5,
       CASE WHEN g % 7 = 0 THEN 'lost' ELSE 'shipped' END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'u' || g || '@x.org' END,
       'c' || (g % 30), now() - g * interval '1 hour'
  FROM generate_series(1, 100) g;

-- 1. One expectation of every kind
SELECT pipeline.expect('orders', 'id', 'unique') AS unique_id \gset
SELECT pipeline.expect('orders', 'code', 'unique');
SELECT pipeline.expect('orders', 'customer_id, code', 'unique', key_columns => '{id}');
SELECT pipeline.expect('orders', 'code', 'not_null');
SELECT pipeline.expect('orders', 'email', 'not_null', severity => 'warn');
SELECT pipeline.expect('orders', 'status', 'accepted_values', '{"values": ["shipped", "returned"]}');
SELECT pipeline.expect('orders', 'customer_id', 'relationships',
                       '{"to": "customers", "field": "customer_id"}', threshold => '20%');
SELECT pipeline.expect('orders', 'amount', 'between', '{"min": 0, "max": 100}');
SELECT pipeline.expect('orders', 'amount', 'between', '{"min": -1}', name => 'amount_not_negative');
SELECT pipeline.expect('orders', 'email', 'regex', '{"pattern": "^u[0-9]+@x\\.org$"}', row_filter => 'id > 50');
SELECT pipeline.expect('orders', 'email', 'length', '{"min": 9, "max": 11}', threshold => '10');
SELECT pipeline.expect('orders', NULL, 'row_count', '{"min": 1, "max": 50}');
SELECT pipeline.expect('orders', NULL, 'row_count', '{"min": 1}', row_filter => 'status = ''lost''',
                       name => 'some_lost');
SELECT pipeline.expect('orders', 'created_at', 'freshness', '{"warn_after": "10 minutes", "error_after": "1 day"}');
SELECT pipeline.expect('orders', NULL, 'custom_rows', '{"sql": "SELECT id, amount FROM orders WHERE amount > 140"}',
                       name => 'big_orders');
SELECT pipeline.expect('orders', NULL, 'custom_value', '{"sql": "SELECT avg(amount) FROM orders", "max": 50}',
                       name => 'avg_amount');
SELECT name, columns, kind, options, severity, threshold, max_failing, max_failing_percent, row_filter,
       key_columns, search_path, owner, origin
  FROM pipeline.expectations ORDER BY name;

-- 2. check(): status by severity and threshold; the proven ones not scanned
SELECT expectation, kind, columns, severity, status, proven, failing, total, percent
  FROM pipeline.check('orders') ORDER BY expectation;
-- the failing keys, values and counts (primary key by default, key_columns when given)
SELECT r.expectation, count(*) AS kept, min(f.ordinal) AS first, max(f.ordinal) AS last,
       (array_agg(f.key ORDER BY f.ordinal))[1] AS first_key,
       (array_agg(CASE WHEN r.kind <> 'freshness' THEN f.value END ORDER BY f.ordinal))[1] AS first_value
  FROM pipeline.check_failures f JOIN pipeline.check_results r USING (result_id)
 WHERE r.check_id = (SELECT max(check_id) FROM pipeline.check_results)
 GROUP BY 1 ORDER BY 1;
-- unique keeps every row of a duplicated value: 30 codes, each 3 or 4 times
SELECT count(*) AS rows_kept, count(DISTINCT value) AS values_kept
  FROM pipeline.check_failures f JOIN pipeline.check_results r USING (result_id)
 WHERE r.check_id = (SELECT max(check_id) FROM pipeline.check_results) AND r.expectation = 'unique_code';
-- the failing SQL returns what check() counted
DO $$
DECLARE
    r record;
    n bigint;
BEGIN
    FOR r IN SELECT * FROM pipeline.check('orders') WHERE kind NOT IN ('row_count', 'freshness', 'custom_value') LOOP
        EXECUTE format('SELECT count(*) FROM (%s) x', r.failing_sql) INTO n;
        IF n <> r.failing THEN
            RAISE EXCEPTION '% counted % failing rows, its SQL returns %', r.expectation, r.failing, n;
        END IF;
    END LOOP;
END
$$;

-- 3. The failure limit
SET pg_pipeline.check_failure_limit = 3;
CREATE TEMPORARY TABLE limited AS SELECT * FROM pipeline.check('orders');
SELECT expectation, failing, (SELECT count(*) FROM pipeline.check_failures f WHERE f.result_id = c.result_id) AS kept
  FROM limited c WHERE failing > 0 ORDER BY expectation;
RESET pg_pipeline.check_failure_limit;

-- 4. One scan: the table is read once by check() (its expectations of one
-- owner; the custom ones run their own query, which reads it too)
SELECT pipeline.drop_expectation('orders', 'big_orders');
SELECT pipeline.drop_expectation('orders', 'avg_amount');
BEGIN;
SELECT pg_stat_get_xact_numscans('qc.orders'::regclass) AS before \gset
SELECT count(*) AS expectations FROM pipeline.check('orders');
SELECT pg_stat_get_xact_numscans('qc.orders'::regclass) - :before AS scans_of_orders;
COMMIT;

-- 4b. A relationship to a small table is probed in its values (an array,
-- read first), to a large one by a join: the same answer either way.  The
-- planner's estimate of customers is faked above 4 million rows (check.c,
-- RELATIONSHIP_VALUES_MAX) to take the join.
SELECT failing, failing_sql IS NOT NULL AS has_sql FROM pipeline.check('orders')
 WHERE expectation = 'relationships_customer_id';
BEGIN;
UPDATE pg_class SET reltuples = 5e6 WHERE oid = 'qc.customers'::regclass;
SELECT failing FROM pipeline.check('orders') WHERE expectation = 'relationships_customer_id';
ROLLBACK;
-- a parent with no row: every value fails (an empty array, not NULL)
CREATE TABLE no_customers (customer_id int);
SELECT pipeline.expect('orders', 'customer_id', 'relationships',
                       '{"to": "no_customers", "field": "customer_id"}', name => 'no_parent') > 0 AS ok;
SELECT failing, total FROM pipeline.check('orders') WHERE expectation = 'no_parent';
SELECT pipeline.drop_expectation('orders', 'no_parent');
DROP TABLE no_customers;

-- 5. Proofs: NOT NULL, a unique index, a validated CHECK, a validated
-- foreign key; an unvalidated one proves nothing
CREATE TABLE lines (line_id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders,
                    qty int CHECK (qty BETWEEN 1 AND 10), sku text CHECK (sku IN ('a', 'b')),
                    note text);
ALTER TABLE lines ADD CONSTRAINT note_short CHECK (char_length(note) <= 5) NOT VALID;
SELECT pipeline.expect('lines', 'order_id', 'not_null');
SELECT pipeline.expect('lines', 'line_id, order_id', 'unique');
SELECT pipeline.expect('lines', 'order_id', 'relationships', '{"to": "qc.orders", "field": "id"}');
SELECT pipeline.expect('lines', 'qty', 'between', '{"min": 0, "max": 20}', row_filter => 'sku = ''a''');
SELECT pipeline.expect('lines', 'qty', 'between', '{"min": 2}', name => 'qty_from_2');
SELECT pipeline.expect('lines', 'sku', 'accepted_values', '{"values": ["a", "b", "c"]}');
SELECT pipeline.expect('lines', 'note', 'length', '{"max": 5}');
SELECT pipeline.expect('lines', 'order_id', 'unique');
SELECT expectation, status, proven, failing, total FROM pipeline.check('lines') ORDER BY expectation;

-- 6. History, check_status, NOTIFY on warn/fail/error (names and states only)
SELECT count(DISTINCT check_id) > 3 AS several_checks, bool_and(owner = 'postgres') AS owner_recorded
  FROM pipeline.check_results;
SELECT expectation, status, proven, failing, checked_at IS NOT NULL AS checked
  FROM pipeline.check_status WHERE relation = 'lines'::regclass ORDER BY expectation;
\getenv abs_builddir PG_ABS_BUILDDIR
\set notify_file :abs_builddir '/quality_check.notify'
CREATE FUNCTION qc.notifications(file text)
RETURNS TABLE (payload jsonb) LANGUAGE sql AS $$
    SELECT m[1]::jsonb - 'check_id'
      FROM regexp_split_to_table(pg_read_file(file), E'\n') AS line,
           LATERAL regexp_match(line, '^Asynchronous notification "pipeline_checks" with payload "(.*)" received from server process with PID (\d+)\.$') AS m
     WHERE m IS NOT NULL ORDER BY 1
$$;
LISTEN pipeline_checks;
\o :notify_file
SELECT count(*) FROM pipeline.check('orders');
\o
UNLISTEN pipeline_checks;
SELECT * FROM qc.notifications(:'notify_file');

-- 7. An expectation that breaks is status error, the others go on
ALTER TABLE orders ADD COLUMN flag int DEFAULT 1;
SELECT pipeline.expect('orders', NULL, 'custom_value', '{"sql": "SELECT 1 / (flag - 1) FROM orders LIMIT 1", "min": 0}',
                       name => 'breaks');
SELECT pipeline.expect('orders', 'flag', 'not_null', row_filter => '1 / (flag - 1) > 0', name => 'breaks_too');
SELECT expectation, status, failing FROM pipeline.check('orders') ORDER BY expectation;
SELECT expectation, error, sqlstate FROM pipeline.check_status WHERE status = 'error' ORDER BY 1;

-- 8. fail_on_error: an error after the results (23514 when data failed),
-- which undoes them
SELECT count(*) AS results_before FROM pipeline.check_results \gset
SELECT * FROM pipeline.check('orders', fail_on_error => true);
SELECT count(*) - :results_before AS results_kept FROM pipeline.check_results;
SELECT pipeline.drop_expectation('orders', 'breaks');
SELECT pipeline.drop_expectation('orders', 'breaks_too');
SELECT count(*) FROM pipeline.check('lines', fail_on_error => true);

-- 9. replace, alter, drop; the results outlive an expectation
SELECT pipeline.expect('orders', 'id', 'unique');
SELECT pipeline.expect('orders', 'id', 'unique', severity => 'warn', replace => true) = :unique_id AS same_id;
SELECT severity FROM pipeline.expectations WHERE expectation_id = :unique_id;
SELECT pipeline.alter_expectation('orders', 'unique_id', threshold => '5', row_filter => 'id > 10');
SELECT name, severity, threshold, max_failing, row_filter FROM pipeline.expectations WHERE name = 'unique_id';
SELECT pipeline.alter_expectation('orders', 'unique_id', threshold => '', row_filter => '', new_name => 'ids');
SELECT name, severity, threshold, max_failing, row_filter FROM pipeline.expectations WHERE expectation_id = :unique_id;
SELECT pipeline.alter_expectation('orders', 'nosuch', severity => 'warn');
SELECT pipeline.drop_expectation('orders', 'nosuch');
SELECT pipeline.drop_expectation('orders', 'nosuch', if_exists => true);
SELECT pipeline.drop_expectation('orders', 'ids');
SELECT count(*) > 0 AS results_kept FROM pipeline.check_results WHERE expectation = 'unique_id' AND expectation_id IS NULL;

-- 10. Bad input: each refused with its SQLSTATE and hint (on a table of
-- its own: no name is taken)
CREATE TABLE bad (id int PRIMARY KEY, amount numeric, email text, status text, customer_id int,
                  created_at timestamptz);
CREATE SEQUENCE qc.seq;
-- each error as SQLSTATE: message (detail) [hint]
CREATE FUNCTION qc.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    detail text;
    hint text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || coalesce(' (' || nullif(detail, '') || ')', '')
           || coalesce(' [' || nullif(hint, '') || ']', '');
END $$;
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'nosuch')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'unique', severity => 'fatal')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'nosuch', 'not_null')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id, "Nosuch', 'not_null')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id, id', 'unique')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', '{"values": [1]}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'status', 'accepted_values')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'status', 'accepted_values', '{"values": []}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'status', 'accepted_values', '{"values": [null]}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'accepted_values', '{"values": ["x"]}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'amount', 'between', '{"min": "lots"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'amount', 'between', '{"min": [1]}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'amount', 'between', '{}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'amount, id', 'between', '{"min": 1}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'email', 'regex', '{"pattern": "(["}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'email', 'length', '{"min": -1}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'email', 'length', '{"min": 5, "max": 2}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'customer_id', 'relationships', '{"to": "nosuch", "field": "customer_id"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'customer_id', 'relationships', '{"to": "customers", "field": "nosuch"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'customer_id', 'relationships', '{"to": "customers"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'amount', 'freshness', '{"error_after": "1 day"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'created_at', 'freshness', '{"error_after": "soon"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'row_count', '{"min": 1}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'row_count', '{"min": 1}', threshold => '5')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', threshold => 'a few')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', threshold => '101%')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_rows', '{"sql": "SELECT 1"}', threshold => '5%')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', row_filter => 'id > 1) OR (true')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', row_filter => 'true FROM pg_class')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', row_filter => 'nosuch > 1')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', row_filter => 'count(*) > 1')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null', row_filter => 'id')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_rows', '{"sql": "DELETE FROM bad RETURNING *"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_rows', '{"sql": "WITH d AS (DELETE FROM bad RETURNING *) SELECT * FROM d"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_rows', '{"sql": "SELECT 1; SELECT 2"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_rows', '{"sql": "SELECT 1"}', row_filter => 'true')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'custom_value', '{"sql": "SELECT 1"}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'unique', key_columns => '{nosuch}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('bad', NULL, 'row_count', '{"min": 1}', key_columns => '{id}')$q$);
SELECT qc.err($q$SELECT pipeline.expect('qc.seq', 'id', 'not_null')$q$);
SELECT pipeline.expect('bad', 'id', 'not_null') > 0 AS created;
SELECT qc.err($q$SELECT pipeline.expect('bad', 'id', 'not_null')$q$);
SELECT count(*) AS bad_expectations FROM pipeline.expectations WHERE relation = 'bad'::regclass;

-- 11. Dropping the table drops its expectations; the results stay
SELECT count(*) AS lines_expectations FROM pipeline.expectations WHERE relation = 'lines'::regclass;
DROP TABLE lines;
SELECT count(*) AS expectations_left, count(*) FILTER (WHERE relation IS NULL) AS dangling
  FROM pipeline.expectations;
SELECT count(*) > 0 AS results_left FROM pipeline.check_results WHERE relation = 'qc.lines';

RESET search_path;
DROP SCHEMA qc CASCADE;
DROP EXTENSION pg_pipeline;
