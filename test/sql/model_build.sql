-- Building one model (pipeline._model_build): each materialization and
-- incremental strategy, the atomic rebuild that keeps what depends on a
-- table, on_schema_change, event time with late rows, a partitioned
-- target.  Models are inserted into pipeline.models directly (the row a
-- create_model call would write); the attacks are in model_build_security.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE mb_owner LOGIN;
CREATE ROLE mb_reader LOGIN;
CREATE SCHEMA mb AUTHORIZATION mb_owner;
GRANT USAGE ON SCHEMA mb TO mb_reader;

-- the row create_model would write, as the current role, path "mb"
CREATE FUNCTION public.mb_model(name text, sql text, materialized text, strategy text DEFAULT NULL,
                                unique_key text[] DEFAULT NULL, incremental_by name DEFAULT NULL,
                                lookback interval DEFAULT '0', on_schema_change text DEFAULT 'fail')
RETURNS integer LANGUAGE sql AS $$
    INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, strategy,
                                 unique_key, incremental_by, lookback, on_schema_change, search_path)
    VALUES (name, split_part(name, '.', 1), split_part(name, '.', 2), sql, materialized, strategy,
            unique_key, incremental_by, lookback, on_schema_change, '"mb"')
    RETURNING model_id $$;
CREATE FUNCTION public.mb_build(name text, full_refresh boolean DEFAULT false,
                                s timestamptz DEFAULT NULL, e timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
    SELECT pipeline._model_build(model_id, full_refresh, s, e) FROM pipeline.models m
     WHERE m.name = mb_build.name $$;

SET ROLE mb_owner;
CREATE TABLE mb.orders (id int, customer text, amount numeric, status text, ordered_at timestamptz);
INSERT INTO mb.orders
SELECT g, 'c' || g % 3, g * 10, CASE WHEN g % 4 = 0 THEN 'cancelled' ELSE 'paid' END,
       '2026-01-01 00:00+00'::timestamptz + g * interval '1 hour'
  FROM generate_series(1, 8) g;

-- outside a build: not incremental, no interval
SELECT pipeline.is_incremental(), pipeline.model_interval_start(), pipeline.model_interval_end();

-- ---------------------------------------------------------------- view
SELECT mb_model('mb.stg_orders', $$
    SELECT id AS order_id, customer, amount, ordered_at FROM orders
     WHERE status <> 'cancelled' -- comment after the query
    ;$$, 'view') AS stg \gset
SELECT mb_build('mb.stg_orders') AS rows;
SELECT count(*) FROM mb.stg_orders;
-- a compatible change (a column at the end) replaces the view
UPDATE pipeline.models SET sql = 'SELECT id AS order_id, customer, amount, ordered_at, status FROM orders'
 WHERE name = 'mb.stg_orders';
SELECT mb_build('mb.stg_orders') AS rows;
SELECT count(*), count(status) FROM mb.stg_orders;
-- an incompatible one (a column dropped) is refused, saying so
UPDATE pipeline.models SET sql = 'SELECT id AS order_id, amount FROM orders' WHERE name = 'mb.stg_orders';
SELECT mb_build('mb.stg_orders');
UPDATE pipeline.models SET sql = 'SELECT id AS order_id, customer, amount, ordered_at, status FROM orders'
 WHERE name = 'mb.stg_orders';

-- --------------------------------------------------------------- table
SELECT mb_model('mb.by_customer', $$
    SELECT customer, sum(amount) AS total, count(*) AS n FROM stg_orders GROUP BY customer $$, 'table');
SELECT mb_build('mb.by_customer') AS rows;
SELECT * FROM mb.by_customer ORDER BY customer;
-- what depends on it: a user's view, a grant, an index, a comment,
-- a row policy, a CHECK constraint
CREATE VIEW mb.big_customers AS SELECT customer, total FROM mb.by_customer WHERE total > 100;
GRANT SELECT ON mb.by_customer, mb.big_customers TO mb_reader;
CREATE UNIQUE INDEX by_customer_key ON mb.by_customer (customer);
COMMENT ON TABLE mb.by_customer IS 'revenue per customer';
COMMENT ON COLUMN mb.by_customer.total IS 'sum of amount';
ALTER TABLE mb.by_customer ENABLE ROW LEVEL SECURITY;
CREATE POLICY not_c0 ON mb.by_customer FOR SELECT TO mb_reader USING (customer <> 'c0');
ALTER TABLE mb.by_customer ADD CONSTRAINT positive CHECK (total > 0);
SELECT 'mb.by_customer'::regclass::oid AS oid_before \gset
INSERT INTO mb.orders VALUES (9, 'c9', 1000, 'paid', '2026-01-01 09:00+00');
SELECT mb_build('mb.by_customer') AS rows;
SELECT 'mb.by_customer'::regclass::oid = :oid_before AS same_oid,
       obj_description('mb.by_customer'::regclass, 'pg_class') AS comment,
       col_description('mb.by_customer'::regclass, 2) AS column_comment,
       (SELECT count(*) FROM pg_index WHERE indrelid = 'mb.by_customer'::regclass) AS indexes,
       (SELECT count(*) FROM pg_policy WHERE polrelid = 'mb.by_customer'::regclass) AS policies,
       pg_get_userbyid((SELECT relowner FROM pg_class WHERE oid = 'mb.by_customer'::regclass)) AS owner;
SELECT * FROM mb.big_customers ORDER BY customer;
-- the index is rebuilt with the new rows: it finds c9
SET enable_seqscan = off;
SELECT customer, total FROM mb.by_customer WHERE customer = 'c9';
RESET enable_seqscan;
RESET ROLE;
SET ROLE mb_reader;
SELECT customer FROM mb.by_customer ORDER BY customer;   -- grant and policy kept
SELECT customer FROM mb.big_customers ORDER BY customer;
RESET ROLE;
SET ROLE mb_owner;
-- constraints are checked on the new rows: CHECK, unique (by the index)
INSERT INTO mb.orders VALUES (10, 'c10', -5000, 'paid', '2026-01-01 10:00+00');
SELECT mb_build('mb.by_customer');
DELETE FROM mb.orders WHERE id = 10;
UPDATE pipeline.models SET sql = $$SELECT 'same' AS customer, amount AS total, 1::bigint AS n FROM stg_orders$$
 WHERE name = 'mb.by_customer';
SELECT mb_build('mb.by_customer');
-- a new column in the query is added to the table, the view survives
UPDATE pipeline.models SET sql = $$
    SELECT customer, sum(amount) AS total, count(*) AS n, max(ordered_at) AS last_order
      FROM stg_orders GROUP BY customer $$ WHERE name = 'mb.by_customer';
SELECT mb_build('mb.by_customer') AS rows;
SELECT 'mb.by_customer'::regclass::oid = :oid_before AS same_oid;
SELECT customer, total, n, last_order FROM mb.by_customer ORDER BY customer;
SELECT * FROM mb.big_customers ORDER BY customer;
-- a column the user's view reads cannot go: PostgreSQL says which view
UPDATE pipeline.models SET sql = 'SELECT customer, count(*) AS n FROM stg_orders GROUP BY customer'
 WHERE name = 'mb.by_customer';
SELECT mb_build('mb.by_customer');
-- a table model built over a view of the same name: refused, unless full_refresh
CREATE VIEW mb.was_view AS SELECT 1 AS x;
SELECT mb_model('mb.was_view', 'SELECT 2 AS x', 'table');
SELECT mb_build('mb.was_view');
SELECT mb_build('mb.was_view', true) AS rows;
SELECT relkind, (SELECT x FROM mb.was_view) FROM pg_class WHERE oid = 'mb.was_view'::regclass;

-- ---------------------------------------------------- materialized_view
SELECT mb_model('mb.mv_customers', 'SELECT customer, count(*) AS n FROM orders GROUP BY customer',
                'materialized_view');
SELECT mb_build('mb.mv_customers') AS rows;
INSERT INTO mb.orders VALUES (11, 'c11', 1, 'paid', '2026-01-01 11:00+00');
SELECT mb_build('mb.mv_customers') AS rows;
-- a changed query needs full_refresh (which drops and creates it)
UPDATE pipeline.models SET sql = 'SELECT customer, sum(amount) AS n FROM orders GROUP BY customer'
 WHERE name = 'mb.mv_customers';
SELECT mb_build('mb.mv_customers');
SELECT mb_build('mb.mv_customers', true) AS rows;
SELECT n FROM mb.mv_customers WHERE customer = 'c11';

-- ------------------------------------------------- incremental: append
CREATE TABLE mb.events (id int, kind text, at timestamptz);
INSERT INTO mb.events SELECT g, 'k' || g % 2, '2026-01-01 00:00+00'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 5) g;
SELECT mb_model('mb.events_log', $$
    SELECT id, kind, at, pipeline.is_incremental() AS inc FROM events
     WHERE NOT pipeline.is_incremental() OR id > (SELECT max(id) FROM events_log) $$,
    'incremental', 'append');
SELECT mb_build('mb.events_log') AS rows;         -- first build: a table
INSERT INTO mb.events VALUES (6, 'k0', '2026-01-01 00:06+00'), (7, 'k1', '2026-01-01 00:07+00');
SELECT mb_build('mb.events_log') AS rows;         -- the two new rows
SELECT id, inc FROM mb.events_log ORDER BY id;
SELECT mb_build('mb.events_log', true) AS rows;   -- full_refresh: rebuilt, not incremental
SELECT count(*), bool_or(inc) FROM mb.events_log;

-- -------------------------------------------------- incremental: merge
CREATE TABLE mb.customers (id int, region text, name text, updated_at timestamptz);
INSERT INTO mb.customers VALUES (1, 'eu', 'ann', '2026-01-01'), (2, 'eu', 'bob', '2026-01-01'),
    (3, NULL, 'cy', '2026-01-01'), (4, 'us', 'dee', '2026-01-01');
SELECT mb_model('mb.dim_customers', $$
    SELECT region, id, upper(name) AS name, updated_at FROM customers
     WHERE NOT pipeline.is_incremental()
        OR updated_at > (SELECT max(updated_at) FROM dim_customers) $$,
    'incremental', 'merge', '{region,id}');
SELECT mb_build('mb.dim_customers') AS rows;
-- an update of a row whose key has a NULL (matched null-safely), an
-- update, an insert
UPDATE mb.customers SET name = 'cyd', updated_at = '2026-01-02' WHERE id = 3;
UPDATE mb.customers SET name = 'bobby', updated_at = '2026-01-02' WHERE id = 2;
INSERT INTO mb.customers VALUES (5, NULL, 'eve', '2026-01-02');
SELECT mb_build('mb.dim_customers') AS rows;
SELECT region, id, name FROM mb.dim_customers ORDER BY id;
-- duplicate keys in the new rows: refused before anything is written,
-- naming them (a NULL part of a key counts as equal)
INSERT INTO mb.customers VALUES (7, NULL, 'gus', '2026-01-03'), (7, NULL, 'gus2', '2026-01-03'),
    (4, 'us', 'dee2', '2026-01-03'), (4, 'us', 'dee3', '2026-01-03'), (6, 'eu', 'fay', '2026-01-03');
SELECT mb_build('mb.dim_customers');
SELECT count(*) FROM mb.dim_customers;
DELETE FROM mb.customers WHERE name IN ('gus2', 'dee3');
SELECT mb_build('mb.dim_customers') AS rows;
SELECT region, id, name FROM mb.dim_customers ORDER BY id;
-- every column a key: matched rows are left as they are
SELECT mb_model('mb.regions', 'SELECT DISTINCT region FROM customers', 'incremental', 'merge', '{region}');
SELECT mb_build('mb.regions') AS rows;
SELECT mb_build('mb.regions') AS rows;
SELECT region FROM mb.regions ORDER BY 1;

-- -------------------------------------------- incremental: delete+insert
SELECT mb_model('mb.order_lines', $$
    SELECT customer, id, amount FROM orders
     WHERE NOT pipeline.is_incremental() OR customer IN ('c1', 'c9') $$,
    'incremental', 'delete+insert', '{customer}');
SELECT mb_build('mb.order_lines') AS rows;
UPDATE mb.orders SET amount = amount + 1 WHERE customer = 'c1';
DELETE FROM mb.orders WHERE id = 1;      -- c1 loses a row: delete+insert drops it too
SELECT mb_build('mb.order_lines') AS rows;
SELECT customer, count(*), sum(amount) FROM mb.order_lines GROUP BY 1 ORDER BY 1;
SELECT customer, count(*), sum(amount) FROM mb.orders GROUP BY 1 ORDER BY 1;
-- without a unique key: refused
SELECT mb_model('mb.no_key', 'SELECT id FROM orders', 'incremental', 'delete+insert');
SELECT mb_build('mb.no_key');
SELECT mb_build('mb.no_key');

-- ----------------------------------------------- incremental: event_time
CREATE TABLE mb.clicks (id int, page text, at timestamptz);
CREATE INDEX ON mb.clicks (at);
INSERT INTO mb.clicks SELECT g, 'p' || g % 3, '2026-01-01 00:00+00'::timestamptz + g * interval '10 minutes'
  FROM generate_series(1, 12) g;                   -- 00:10 .. 02:00
-- no filter in the query: the extension reads after high_water_mark - lookback
SELECT mb_model('mb.fact_clicks', $$
    SELECT id, page, at, pipeline.model_interval_start() AS read_from FROM clicks $$,
    'incremental', 'event_time', incremental_by => 'at', lookback => '30 minutes');
SELECT mb_build('mb.fact_clicks') AS rows;
SELECT high_water_mark FROM pipeline.models WHERE name = 'mb.fact_clicks';
-- new rows, a late row inside the lookback (01:40 > 02:00 - 30 min), a
-- late row outside it (00:05), and a change of an old row inside it
INSERT INTO mb.clicks VALUES (13, 'p1', '2026-01-01 02:10+00'), (14, 'late', '2026-01-01 01:40+00'),
    (15, 'too late', '2026-01-01 00:05+00');
UPDATE mb.clicks SET page = 'changed' WHERE id = 11;   -- 01:50
SELECT mb_build('mb.fact_clicks') AS rows;         -- 01:40, 01:50, 02:00, 02:10 and the late 01:40
SELECT high_water_mark FROM pipeline.models WHERE name = 'mb.fact_clicks';
SELECT id, page, at, read_from FROM mb.fact_clicks WHERE at > '2026-01-01 01:00+00' OR id > 12 ORDER BY at, id;
SELECT count(*) AS rows, count(*) FILTER (WHERE id = 15) AS too_late FROM mb.fact_clicks;
-- a rebuild of one interval, [01:00, 01:30): the interval is the window
UPDATE mb.clicks SET page = 'fixed' WHERE at >= '2026-01-01 01:00+00' AND at < '2026-01-01 01:30+00';
SELECT mb_build('mb.fact_clicks', false, '2026-01-01 01:00+00', '2026-01-01 01:30+00') AS rows;
SELECT id, page, read_from FROM mb.fact_clicks WHERE page = 'fixed' ORDER BY id;
SELECT high_water_mark FROM pipeline.models WHERE name = 'mb.fact_clicks';   -- unchanged
SELECT mb_build('mb.fact_clicks', false, '2026-01-01 02:00+00', '2026-01-01 01:00+00');
-- full_refresh reads everything, and the mark follows
SELECT mb_build('mb.fact_clicks', true) AS rows;
SELECT count(*), count(*) FILTER (WHERE id = 15) AS too_late FROM mb.fact_clicks;
-- the column must be in the query's output, and a time
SELECT mb_model('mb.no_time', 'SELECT id FROM clicks', 'incremental', 'event_time', incremental_by => 'at');
SELECT mb_build('mb.no_time');
SELECT mb_build('mb.no_time');
UPDATE pipeline.models SET sql = 'SELECT id, id AS at FROM clicks' WHERE name = 'mb.no_time';
SELECT mb_build('mb.no_time', true);

-- --------------------------------------------------- on_schema_change
CREATE TABLE mb.src (id int, a text, b int);
INSERT INTO mb.src VALUES (1, 'x', 10);
SELECT mb_model('mb.sc', 'SELECT id, a, b FROM src WHERE NOT pipeline.is_incremental() OR id > 1',
                'incremental', 'append');
SELECT mb_build('mb.sc') AS rows;
INSERT INTO mb.src VALUES (2, 'y', 20);
-- fail: the differences are named
UPDATE pipeline.models SET sql = $$SELECT id, a::int AS a, 'new' AS c FROM src
                                    WHERE NOT pipeline.is_incremental() OR id > 1$$ WHERE name = 'mb.sc';
SELECT mb_build('mb.sc');
-- ignore: the common columns are written (a is cast back to text)
UPDATE pipeline.models SET on_schema_change = 'ignore',
       sql = $$SELECT id, a, 'new' AS c FROM src WHERE NOT pipeline.is_incremental() OR id > 1$$
 WHERE name = 'mb.sc';
SELECT mb_build('mb.sc') AS rows;
SELECT * FROM mb.sc ORDER BY id;
-- append_new_columns: c is added, b stays (NULL in new rows)
INSERT INTO mb.src VALUES (3, 'z', 30);
UPDATE pipeline.models SET on_schema_change = 'append_new_columns',
       sql = $$SELECT id, a, 'new' AS c FROM src WHERE NOT pipeline.is_incremental() OR id > 2$$
 WHERE name = 'mb.sc';
SELECT mb_build('mb.sc') AS rows;
SELECT * FROM mb.sc ORDER BY id;
-- sync_all_columns: b is dropped, a retyped, d added
INSERT INTO mb.src VALUES (4, '40', 40);
UPDATE pipeline.models SET on_schema_change = 'sync_all_columns',
       sql = $$SELECT id, NULLIF(a, 'x')::text AS a, 'new' AS c, b * 2 AS d FROM src
                 WHERE NOT pipeline.is_incremental() OR id > 3$$
 WHERE name = 'mb.sc';
SELECT mb_build('mb.sc') AS rows;
SELECT * FROM mb.sc ORDER BY id;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'mb.sc'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- ------------------------------------------------- a partitioned target
CREATE TABLE mb.sales (day date, shop text, amount numeric) PARTITION BY RANGE (day);
CREATE TABLE mb.sales_1 PARTITION OF mb.sales FOR VALUES FROM ('2026-01-01') TO ('2026-01-03');
CREATE TABLE mb.sales_2 PARTITION OF mb.sales FOR VALUES FROM ('2026-01-03') TO ('2026-01-05');
CREATE TABLE mb.sales_raw (day date, shop text, amount numeric);
INSERT INTO mb.sales_raw VALUES ('2026-01-01', 'a', 1), ('2026-01-02', 'b', 2), ('2026-01-03', 'a', 3);
SELECT mb_model('mb.sales', $$SELECT day, shop, sum(amount) AS amount FROM sales_raw GROUP BY day, shop$$,
                'incremental', 'merge', '{day,shop}');
SELECT mb_build('mb.sales') AS rows;
INSERT INTO mb.sales_raw VALUES ('2026-01-02', 'b', 10), ('2026-01-04', 'c', 4);
SELECT mb_build('mb.sales') AS rows;
SELECT tableoid::regclass, * FROM mb.sales ORDER BY day, shop;
UPDATE pipeline.models SET strategy = 'delete+insert', unique_key = '{day}' WHERE name = 'mb.sales';
INSERT INTO mb.sales_raw VALUES ('2026-01-04', 'c', 100);
SELECT mb_build('mb.sales') AS rows;
SELECT tableoid::regclass, * FROM mb.sales ORDER BY day, shop;
UPDATE pipeline.models SET strategy = 'append', unique_key = NULL,
       sql = $$SELECT day, shop, amount FROM sales_raw WHERE NOT pipeline.is_incremental() OR amount > 50$$
 WHERE name = 'mb.sales';
SELECT mb_build('mb.sales') AS rows;
SELECT count(*) FROM mb.sales;
-- a table model over a partitioned table: replaced in the transaction
UPDATE pipeline.models SET materialized = 'table', strategy = NULL,
       sql = 'SELECT day, shop, amount FROM sales_raw WHERE amount < 50' WHERE name = 'mb.sales';
SELECT mb_build('mb.sales') AS rows;
SELECT tableoid::regclass, * FROM mb.sales ORDER BY day, shop;
SELECT relkind FROM pg_class WHERE oid = 'mb.sales'::regclass;

-- ------------------------------------------- the others, and built_at
SELECT mb_model('mb.a_seed', 'SELECT 1', 'seed');
SELECT mb_model('mb.an_ephemeral', 'SELECT 1 AS x', 'ephemeral');
SELECT mb_build('mb.a_seed') AS seed, mb_build('mb.an_ephemeral') AS ephemeral,
       to_regclass('mb.an_ephemeral') IS NULL AS nothing_created;
SELECT mb_model('mb.a_snapshot', 'SELECT 1 AS x', 'snapshot');
-- a snapshot is built by pipeline._snapshot_build (model_snapshot.sql tests it)
UPDATE pipeline.models SET unique_key = '{x}', snapshot_strategy = 'check'
 WHERE name = 'mb.a_snapshot';
SELECT mb_build('mb.a_snapshot') AS snapshot_rows;
SELECT x, is_current, valid_to IS NULL AS open FROM mb.a_snapshot;
SELECT name FROM pipeline.models
 WHERE built_at IS NULL AND materialized NOT IN ('snapshot') ORDER BY name;
SELECT pipeline._model_build(NULL);
SELECT pipeline._model_build(-1);
RESET ROLE;

DROP SCHEMA mb CASCADE;
DELETE FROM pipeline.models;
DROP FUNCTION public.mb_model, public.mb_build;
DROP ROLE mb_owner, mb_reader;
DROP EXTENSION pg_pipeline;
