-- The seed's dbt project (NORTH-STAR.sql, section 5) as models, end to end
-- through the public API: create_model, run, build, lineage, column
-- lineage, status; then an incremental run with new and late rows, a
-- table rebuild that keeps a user's view, and a selection.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_pipeline;
RESET client_min_messages;

CREATE SCHEMA raw;
CREATE SCHEMA staging;
CREATE SCHEMA marts;
CREATE TABLE raw.orders (id int PRIMARY KEY, user_id int, amount numeric,
                         status text, created_at timestamptz);
CREATE TABLE raw.customers (id int PRIMARY KEY, name text);
INSERT INTO raw.customers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO raw.orders VALUES
    (1, 1, 10, 'paid', '2026-12-01 10:00+00'),
    (2, 2, 20, 'paid', '2026-12-01 11:00+00'),
    (3, 1, 30, 'cancelled', '2026-12-01 12:00+00');

SELECT pipeline.create_model('staging.stg_orders', $$
    SELECT id AS order_id, user_id AS customer_id, amount AS order_amount,
           status AS order_status, created_at AS ordered_at
      FROM raw.orders
     WHERE status <> 'cancelled' $$,
    materialized => 'view') > 0 AS created;

SELECT pipeline.create_model('marts.dim_customers', $$
    SELECT id AS customer_id, name AS customer_name FROM raw.customers $$,
    materialized => 'table', tags => '{daily}') > 0 AS created;

SELECT pipeline.create_model('marts.fact_orders', $$
    SELECT o.order_id, o.customer_id, c.customer_name, o.order_amount,
           o.order_amount * 1.1 AS amount_with_tax, o.order_status, o.ordered_at
      FROM staging.stg_orders o
      JOIN marts.dim_customers c USING (customer_id) $$,
    materialized   => 'incremental',
    unique_key     => '{order_id}',
    incremental_by => 'ordered_at',
    lookback       => '1 hour',
    tags           => '{daily}') > 0 AS created;

-- dependency order from the parser, not from declarations
SELECT * FROM pipeline.select_models('+marts.fact_orders');
SELECT model, status, rows FROM pipeline.run('') ORDER BY model;
SELECT order_id, customer_name, order_amount, amount_with_tax FROM marts.fact_orders ORDER BY 1;

SELECT model, upstream FROM pipeline.lineage ORDER BY 1, 2;
SELECT column_name, upstream_column FROM pipeline.column_lineage
 WHERE model = 'marts.fact_orders' AND column_name IN ('amount_with_tax', 'customer_name')
 ORDER BY 1, 2;

-- a user's view on the table model survives its rebuild
CREATE VIEW public.customer_names AS SELECT customer_name FROM marts.dim_customers;
SELECT 'marts.dim_customers'::regclass::oid AS dim_oid \gset
INSERT INTO raw.customers VALUES (3, 'Edsger');
-- new orders, and a late one within the lookback
INSERT INTO raw.orders VALUES
    (4, 3, 40, 'paid', '2026-12-01 13:00+00'),
    (5, 2, 50, 'paid', '2026-12-01 10:30+00');
UPDATE raw.orders SET amount = 11 WHERE id = 1;   -- outside the lookback: kept as built
SELECT model, status, rows FROM pipeline.build('tag:daily') ORDER BY model;
SELECT 'marts.dim_customers'::regclass::oid = :dim_oid AS same_relation;
SELECT * FROM public.customer_names ORDER BY 1;
SELECT order_id, customer_name, order_amount FROM marts.fact_orders ORDER BY 1;

-- a full refresh reads everything again
SELECT model, status FROM pipeline.run('marts.fact_orders', full_refresh => true);
SELECT order_id, order_amount FROM marts.fact_orders WHERE order_id = 1;

SELECT model, last_status FROM pipeline.model_status ORDER BY model;

-- NORTH-STAR's own form: the filter written in plain SQL, reading the
-- model's own table (not a cycle), which does not exist before the first run
SELECT pipeline.create_model('marts.fact_orders_by_hand', $$
    SELECT o.order_id, o.customer_id, o.order_amount, o.ordered_at
      FROM staging.stg_orders o
     WHERE NOT pipeline.is_incremental()
        OR o.ordered_at > (SELECT max(ordered_at) FROM marts.fact_orders_by_hand) $$,
    materialized => 'incremental', unique_key => '{order_id}') > 0 AS created;
SELECT model, status, rows FROM pipeline.run('marts.fact_orders_by_hand');
INSERT INTO raw.orders VALUES (6, 1, 60, 'paid', '2026-12-02 09:00+00');
SELECT model, status, rows FROM pipeline.run('marts.fact_orders_by_hand');
SELECT count(*) FROM marts.fact_orders_by_hand;
SELECT pipeline.drop_model('marts.fact_orders_by_hand');

-- what depends on a model keeps it: drop_model refuses while models read it
SELECT pipeline.drop_model('staging.stg_orders');

DROP VIEW public.customer_names;
SELECT pipeline.drop_model('marts.fact_orders');
SELECT pipeline.drop_model('marts.dim_customers');
SELECT pipeline.drop_model('staging.stg_orders');
DROP SCHEMA raw, staging, marts CASCADE;
