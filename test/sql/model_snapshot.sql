-- Snapshots (issue 12): SCD type 2 by timestamp or by check columns, with
-- hard deletes ignored or invalidated, over several builds; each history
-- compared with the one expected (EXCEPT ALL both ways).  The builds run
-- as the model's owner with its frozen search_path, whoever calls them.
-- The models are catalog rows inserted directly (create_model is tested
-- with the model definitions).
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE snap_alice LOGIN;
CREATE ROLE snap_bob LOGIN;
CREATE ROLE snap_op LOGIN IN ROLE pipeline_admin;
CREATE SCHEMA snap_a AUTHORIZATION snap_alice;
CREATE SCHEMA snap_o AUTHORIZATION snap_op;
GRANT CREATE ON SCHEMA public TO snap_alice, snap_bob;

-- A history with the build's times (valid_to of invalidated rows, every
-- time of a 'check' snapshot) shown as the build that set them: times
-- after 2025 are builds' clocks (the data's times are in 2024), numbered
-- in order.
CREATE FUNCTION public.snap_history(rel regclass)
RETURNS TABLE (id int, name text, tier text, valid_from text, valid_to text, is_current boolean)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT * FROM %s),
        builds AS (SELECT t, dense_rank() OVER (ORDER BY t) AS n
                   FROM (SELECT valid_from::timestamptz AS t FROM h
                         UNION SELECT valid_to::timestamptz FROM h) AS x
                   WHERE t > '2025-01-01')
        SELECT h.id, h.name, h.tier,
               coalesce('build ' || bf.n, h.valid_from::text),
               coalesce('build ' || bt.n, h.valid_to::text),
               h.is_current
        FROM h
        LEFT JOIN builds AS bf ON bf.t = h.valid_from::timestamptz
        LEFT JOIN builds AS bt ON bt.t = h.valid_to::timestamptz
        ORDER BY h.id, h.valid_from$q$, rel);
END
$$;

SET ROLE snap_alice;
SET search_path = snap_a;
CREATE TABLE snap_a.customers (id int, name text, tier text, updated_at timestamp);
INSERT INTO snap_a.customers VALUES
    (1, 'Ann', 'gold', '2024-01-01 10:00'),
    (2, 'Ben', 'silver', '2024-01-01 10:00'),
    (3, 'Cid', 'bronze', '2024-01-01 10:00');

------------------------------------------------------------------------
-- 1. Timestamp strategy, hard deletes invalidated.
------------------------------------------------------------------------
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, updated_at_column, hard_deletes, search_path)
VALUES ('snap_a.customers_ts', 'snap_a', 'customers_ts',
        'SELECT id, name, tier, updated_at FROM customers;', 'snapshot', '{id}',
        'timestamp', 'updated_at', 'invalidate', 'snap_a')
RETURNING model_id AS ts_id \gset
-- build 1 creates the table: every row current from its updated_at
SELECT pipeline._snapshot_build(:ts_id) AS written;
\d snap_a.customers_ts
SELECT pg_catalog.pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'snap_a.customers_ts'::regclass;
-- build 2: Ann changes tier (updated_at moves), Ben's name changes without
-- updated_at moving (not seen), Dee arrives
UPDATE customers SET tier = 'platinum', updated_at = '2024-02-01 09:00' WHERE id = 1;
UPDATE customers SET name = 'Benjamin' WHERE id = 2;
INSERT INTO customers VALUES (4, 'Dee', 'gold', '2024-02-01 12:00');
SELECT pipeline._snapshot_build(:ts_id) AS written;
-- build 3: Cid is deleted (invalidated at the build's time), Ann again
DELETE FROM customers WHERE id = 3;
UPDATE customers SET tier = 'gold', updated_at = '2024-03-01 08:00' WHERE id = 1;
SELECT pipeline._snapshot_build(:ts_id) AS written;
-- build 4: nothing changed
SELECT pipeline.snapshot('customers_ts') AS written;
-- build 5: Cid comes back, Ben's updated_at moves
INSERT INTO customers VALUES (3, 'Cid', 'gold', '2024-04-01 00:00');
UPDATE customers SET updated_at = '2024-04-02 00:00' WHERE id = 2;
SELECT pipeline.snapshot('snap_a.customers_ts') AS written;
SELECT * FROM public.snap_history('snap_a.customers_ts');
CREATE TEMP TABLE expected (id int, name text, tier text, valid_from text, valid_to text, is_current boolean);
INSERT INTO expected VALUES
    (1, 'Ann', 'gold', '2024-01-01 10:00:00', '2024-02-01 09:00:00', false),
    (1, 'Ann', 'platinum', '2024-02-01 09:00:00', '2024-03-01 08:00:00', false),
    (1, 'Ann', 'gold', '2024-03-01 08:00:00', NULL, true),
    (2, 'Ben', 'silver', '2024-01-01 10:00:00', '2024-04-02 00:00:00', false),
    (2, 'Benjamin', 'silver', '2024-04-02 00:00:00', NULL, true),
    (3, 'Cid', 'bronze', '2024-01-01 10:00:00', 'build 1', false),
    (3, 'Cid', 'gold', '2024-04-01 00:00:00', NULL, true),
    (4, 'Dee', 'gold', '2024-02-01 12:00:00', NULL, true);
(SELECT * FROM public.snap_history('snap_a.customers_ts') EXCEPT ALL SELECT * FROM expected)
UNION ALL
(SELECT * FROM expected EXCEPT ALL SELECT * FROM public.snap_history('snap_a.customers_ts'));
-- one scd_id per version; valid_to IS NULL exactly when current
SELECT count(DISTINCT scd_id) = count(*) AS distinct_ids,
       bool_and(is_current = (valid_to IS NULL)) AS current_is_open
FROM snap_a.customers_ts;
SELECT built_at IS NOT NULL AS built FROM pipeline.models WHERE name = 'snap_a.customers_ts';

------------------------------------------------------------------------
-- 2. Check strategy on named columns, hard deletes ignored (the default).
------------------------------------------------------------------------
TRUNCATE customers;
INSERT INTO customers VALUES
    (1, 'Ann', 'gold', NULL),
    (2, 'Ben', 'silver', NULL),
    (3, 'Cid', 'bronze', NULL);
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, check_columns, search_path)
VALUES ('snap_a.customers_ck', 'snap_a', 'customers_ck', 'SELECT id, name, tier FROM customers',
        'snapshot', '{id}', 'check', '{tier}', 'snap_a');
SELECT pipeline.snapshot('customers_ck') AS written;                       -- build 1
UPDATE customers SET tier = 'platinum' WHERE id = 1;   -- checked: a new version
UPDATE customers SET name = 'Benjamin' WHERE id = 2;   -- not checked: nothing
SELECT pipeline.snapshot('customers_ck') AS written;                       -- build 2
DELETE FROM customers WHERE id = 3;                     -- ignored: stays current
UPDATE customers SET tier = NULL WHERE id = 2;          -- to NULL is a change
INSERT INTO customers VALUES (4, 'Dee', 'gold', NULL);
SELECT pipeline.snapshot('customers_ck') AS written;                       -- build 3
UPDATE customers SET tier = NULL WHERE id = 2;          -- NULL to NULL is not
UPDATE customers SET tier = 'gold' WHERE id = 1;
SELECT pipeline.snapshot('customers_ck') AS written;                       -- build 4
SELECT * FROM public.snap_history('snap_a.customers_ck');
TRUNCATE expected;
INSERT INTO expected VALUES
    (1, 'Ann', 'gold', 'build 1', 'build 2', false),
    (1, 'Ann', 'platinum', 'build 2', 'build 4', false),
    (1, 'Ann', 'gold', 'build 4', NULL, true),
    (2, 'Ben', 'silver', 'build 1', 'build 3', false),
    (2, 'Benjamin', NULL, 'build 3', NULL, true),
    (3, 'Cid', 'bronze', 'build 1', NULL, true),
    (4, 'Dee', 'gold', 'build 3', NULL, true);
(SELECT * FROM public.snap_history('snap_a.customers_ck') EXCEPT ALL SELECT * FROM expected)
UNION ALL
(SELECT * FROM expected EXCEPT ALL SELECT * FROM public.snap_history('snap_a.customers_ck'));

------------------------------------------------------------------------
-- 3. Check strategy on every column, a composite key, invalidate; the
-- query gains a column (added to the table, NULL in older versions and a
-- change for every key); values compare by value (1.0 = 1.00).
------------------------------------------------------------------------
CREATE TABLE snap_a.prices (shop text, sku int, price numeric);
INSERT INTO snap_a.prices VALUES ('a', 1, 1.0), ('a', 2, 5), ('b', 1, 2);
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, hard_deletes, search_path)
VALUES ('snap_a.prices_hist', 'snap_a', 'prices_hist', 'SELECT shop, sku, price FROM prices',
        'snapshot', '{shop,sku}', 'check', 'invalidate', 'snap_a');
SELECT pipeline.snapshot('prices_hist') AS written;
UPDATE prices SET price = 1.00 WHERE sku = 1 AND shop = 'a';
UPDATE prices SET price = 6 WHERE sku = 2;
DELETE FROM prices WHERE shop = 'b';
SELECT pipeline.snapshot('prices_hist') AS written;
SELECT shop, sku, price, is_current, valid_to IS NOT NULL AS closed FROM prices_hist ORDER BY shop, sku, valid_from;
UPDATE pipeline.models SET sql = 'SELECT shop, sku, price, price * 2 AS double FROM prices'
WHERE name = 'snap_a.prices_hist';
SELECT pipeline.snapshot('prices_hist') AS written;
SELECT shop, sku, price, double, is_current FROM prices_hist ORDER BY shop, sku, valid_from;
-- a column whose type changes is refused
UPDATE pipeline.models SET sql = 'SELECT shop, sku, price::text AS price FROM prices'
WHERE name = 'snap_a.prices_hist';
SELECT pipeline.snapshot('prices_hist');

------------------------------------------------------------------------
-- 4. Errors: each leaves the snapshot as it was.
------------------------------------------------------------------------
-- a key the query returns twice
INSERT INTO customers VALUES (1, 'Ann twin', 'tin', NULL);
SELECT pipeline.snapshot('customers_ck');
DELETE FROM customers WHERE name = 'Ann twin';
SELECT count(*) AS versions FROM customers_ck;
-- a new key with a NULL updated_at
UPDATE customers SET updated_at = '2024-05-01';
INSERT INTO customers VALUES (5, 'Eve', 'gold', NULL);
SELECT pipeline.snapshot('customers_ts');
DELETE FROM customers WHERE id = 5;
SELECT count(*) AS versions FROM customers_ts;
-- misconfigured models
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, updated_at_column, search_path)
VALUES ('snap_a.bad', 'snap_a', 'bad', 'SELECT id, name, updated_at::date AS day FROM customers',
        'snapshot', '{id}', 'timestamp', 'updated_at', 'snap_a');
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET updated_at_column = 'name' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET updated_at_column = 'day', unique_key = '{nope}' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET unique_key = NULL WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET unique_key = '{id}', snapshot_strategy = NULL WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET snapshot_strategy = 'check', check_columns = '{nope}' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET check_columns = NULL, sql = 'SELECT id, true AS is_current FROM customers'
WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET sql = 'SELECT 1 AS id, 2 AS id' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET sql = 'SELECT 1 AS id; DROP TABLE snap_a.customers' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET sql = 'SELECT 1 AS id) AS x; DROP TABLE snap_a.customers; SELECT (1' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
UPDATE pipeline.models SET sql = 'DELETE FROM snap_a.customers RETURNING id' WHERE name = 'snap_a.bad';
SELECT pipeline.snapshot('bad');
SELECT count(*) AS customers_left FROM customers;
-- the table exists and is not a snapshot's
UPDATE pipeline.models SET sql = 'SELECT id FROM customers' WHERE name = 'snap_a.bad';
CREATE TABLE snap_a.bad (id int);
SELECT pipeline.snapshot('bad');
DROP TABLE snap_a.bad;
-- a snapshot built with one strategy, then switched to another
UPDATE pipeline.models SET snapshot_strategy = 'timestamp', updated_at_column = 'updated_at'
WHERE name = 'snap_a.customers_ck';
UPDATE pipeline.models SET sql = 'SELECT id, name, tier, updated_at FROM customers WHERE id <> 4'
WHERE name = 'snap_a.customers_ck';
SELECT pipeline.snapshot('customers_ck');
-- not a snapshot; no such model
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, search_path)
VALUES ('snap_a.a_view', 'snap_a', 'a_view', 'SELECT 1 AS one', 'view', 'snap_a');
SELECT pipeline.snapshot('a_view');
SELECT pipeline.snapshot('nope');
SELECT pipeline._snapshot_build(-1);
RESET search_path;

------------------------------------------------------------------------
-- 5. Whose build.  The query runs as the owner with the model's frozen
-- search_path: a pipeline_admin member building Alice's snapshot from its
-- own session (its own table and a temporary table named customers first
-- in its path) reads Alice's customers, as Alice.  Bob, neither owner nor
-- admin, does not see the model.  A model row cannot make its build write
-- into another role's table.
------------------------------------------------------------------------
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, search_path)
VALUES ('snap_a.who', 'snap_a', 'who', 'SELECT id, name, current_user AS built_by FROM customers',
        'snapshot', '{id}', 'check', 'snap_a')
RETURNING model_id AS who_id \gset
SET ROLE snap_op;
CREATE TABLE snap_o.customers (id int, name text);
INSERT INTO snap_o.customers VALUES (99, 'op''s row');
CREATE TEMP TABLE customers (id int, name text);
INSERT INTO customers VALUES (98, 'temporary row');
SET search_path = snap_o, snap_a;
SELECT pipeline._snapshot_build(:who_id) AS written;
RESET search_path;
DROP TABLE customers;
SET ROLE snap_alice;
SELECT id, name, built_by FROM snap_a.who ORDER BY id;
SELECT pg_catalog.pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'snap_a.who'::regclass;
SET ROLE snap_bob;
SELECT pipeline._snapshot_build(:who_id);
SELECT pipeline.snapshot('snap_a.who');
-- Bob's model naming Alice's table (he may write it) is refused
SET ROLE snap_alice;
CREATE TABLE public.snap_alice_tab (id int, scd_id text, valid_from timestamptz, valid_to timestamptz,
                                    is_current boolean);
GRANT SELECT, INSERT, UPDATE ON public.snap_alice_tab TO snap_bob;
SET ROLE snap_bob;
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, search_path)
VALUES ('public.snap_alice_tab', 'public', 'snap_alice_tab', 'SELECT 1 AS id', 'snapshot', '{id}',
        'check', 'public');
SELECT pipeline.snapshot('public.snap_alice_tab');
SET ROLE snap_alice;
SELECT count(*) FROM public.snap_alice_tab;
RESET ROLE;

-- Bob's traps (=, <> on jsonb, md5, now) in a schema that Alice's frozen
-- search_path puts before pg_catalog: the build's own SQL names only
-- pg_catalog's, so none of them runs
CREATE TABLE public.snap_sprung (by_role name, what text);
GRANT INSERT ON public.snap_sprung TO PUBLIC;
CREATE SCHEMA snap_t AUTHORIZATION snap_bob;
SET ROLE snap_bob;
GRANT USAGE ON SCHEMA snap_t TO PUBLIC;
CREATE FUNCTION snap_t.trap(text) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO public.snap_sprung VALUES (current_user, $1) $$;
CREATE FUNCTION snap_t.jeq(jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM snap_t.trap('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR snap_t.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = snap_t.jeq);
CREATE FUNCTION snap_t.jne(jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM snap_t.trap('<>'); RETURN $1 OPERATOR(pg_catalog.<>) $2; END $$;
CREATE OPERATOR snap_t.<> (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = snap_t.jne);
CREATE FUNCTION snap_t.md5(text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM snap_t.trap('md5'); RETURN pg_catalog.md5($1); END $$;
CREATE FUNCTION snap_t.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM snap_t.trap('now'); RETURN pg_catalog.now(); END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA snap_t TO PUBLIC;
SET ROLE snap_alice;
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, unique_key,
                             snapshot_strategy, hard_deletes, search_path)
VALUES ('snap_a.trapped', 'snap_a', 'trapped', 'SELECT id, name FROM customers', 'snapshot', '{id}',
        'check', 'invalidate', '"snap_t", pg_catalog, "snap_a"');
SELECT pipeline.snapshot('snap_a.trapped') AS written;
UPDATE snap_a.customers SET name = 'Ann B' WHERE id = 1;
DELETE FROM snap_a.customers WHERE id = 4;
SELECT pipeline.snapshot('snap_a.trapped') AS written;
RESET ROLE;
SELECT * FROM public.snap_sprung;

------------------------------------------------------------------------
-- cleanup
------------------------------------------------------------------------
DELETE FROM pipeline.models;
DROP TABLE expected;
DROP SCHEMA snap_a CASCADE;
DROP SCHEMA snap_o CASCADE;
DROP TABLE public.snap_alice_tab, public.snap_sprung;
DROP SCHEMA snap_t CASCADE;
DROP FUNCTION public.snap_history(regclass);
REVOKE CREATE ON SCHEMA public FROM snap_alice, snap_bob;
DROP ROLE snap_alice, snap_bob, snap_op;
DROP EXTENSION pg_pipeline;
