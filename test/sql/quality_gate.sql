-- Gating (write, audit, publish): pipeline.build checks each model's
-- expectations on its new version before it is published.  An
-- error-severity failure keeps the previous version, records the failure
-- (results and failing keys kept, with the invocation), and skips the
-- models downstream; a warn-severity failure is recorded and publishes.
-- pipeline.run does not check.
\set VERBOSITY default
SET client_min_messages = warning;
CREATE EXTENSION pg_pipeline;
CREATE ROLE gate_owner LOGIN;
CREATE SCHEMA gate AUTHORIZATION gate_owner;
SET ROLE gate_owner;
SET search_path = gate;
CREATE TABLE raw_orders (id int, customer_id int, amount numeric);
INSERT INTO raw_orders SELECT g, g % 3, g * 10 FROM generate_series(1, 5) g;

SELECT pipeline.create_model('gate.fact_orders',
    'SELECT id AS order_id, customer_id, amount FROM raw_orders', materialized => 'table') > 0 AS created;
SELECT model, status FROM pipeline.build('gate.fact_orders');
SELECT pipeline.create_model('gate.customer_totals',
    'SELECT customer_id, sum(amount) AS total FROM fact_orders GROUP BY customer_id',
    materialized => 'table') > 0 AS created;
SELECT pipeline.create_model('gate.order_view',
    'SELECT order_id, amount FROM fact_orders WHERE amount > 0') > 0 AS created;

-- expectations on the models' relations
SELECT pipeline.expect('gate.fact_orders', 'order_id', 'unique') > 0 AS expect_unique;
SELECT pipeline.expect('gate.fact_orders', 'amount', 'between', '{"max": 1000}', severity => 'warn') > 0 AS expect_warn;

-- 1. clean data: every model published, the checks' results kept with the invocation
SELECT model, status, rows, error FROM pipeline.build('') ORDER BY model;
SELECT r.expectation, r.status, r.failing, r.total, r.model_invocation_id IS NOT NULL AS with_invocation
  FROM pipeline.check_results r ORDER BY r.result_id;

-- 2. a duplicate key and a warn-level outlier: fact_orders is not
-- published (the previous 5 rows stay), customer_totals is skipped,
-- order_view (also downstream) too
INSERT INTO raw_orders VALUES (3, 0, 31), (6, 0, 5000);
SELECT model, status, error FROM pipeline.build('') ORDER BY model;
SELECT count(*) AS rows_still_published, max(order_id) AS newest FROM gate.fact_orders;
SELECT m.model, m.status, m.sqlstate, m.error_detail, m.error_hint IS NOT NULL AS has_hint,
       m.error_context LIKE '%checking model "gate.fact_orders" before it is published%' AS context_names_model
  FROM pipeline.model_runs m
 WHERE m.invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY m.position;
-- the results of the undone build are kept, linked to the invocation,
-- with the failing rows' keys
SELECT r.expectation, r.status, r.failing, r.total
  FROM pipeline.check_results r
 WHERE r.model_invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY r.expectation;
SELECT r.expectation, f.key, f.value
  FROM pipeline.check_failures f JOIN pipeline.check_results r USING (result_id)
 WHERE r.model_invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY r.expectation, f.ordinal;
SELECT expectation, status FROM pipeline.check_status ORDER BY expectation;

-- 3. warn only: published, the warning recorded
DELETE FROM raw_orders WHERE amount = 31;
SELECT model, status FROM pipeline.build('gate.fact_orders');
SELECT count(*) AS rows_published, max(order_id) AS newest FROM gate.fact_orders;
SELECT expectation, status, failing FROM pipeline.check_status ORDER BY expectation;

-- 4. pipeline.run does not check: a duplicate is published
INSERT INTO raw_orders VALUES (3, 0, 31);
SELECT model, status FROM pipeline.run('gate.fact_orders');
SELECT count(*) AS rows_published FROM gate.fact_orders;
DELETE FROM raw_orders WHERE amount = 31;
SELECT model, status FROM pipeline.run('gate.fact_orders');

-- 5. fail_on_error: the build ends in the gate's error (a scheduler task fails)
INSERT INTO raw_orders VALUES (4, 0, 41);
SELECT model, status FROM pipeline.build('gate.fact_orders', fail_on_error => true);
SELECT count(*) AS rows_published FROM gate.fact_orders;

-- 6. a view model and an incremental one are gated the same way
DELETE FROM raw_orders WHERE amount = 41;
SELECT model, status FROM pipeline.build('gate.fact_orders');
SELECT pipeline.expect('gate.order_view', 'order_id', 'unique') > 0 AS expect_view;
SELECT pipeline.alter_model('gate.order_view',
    sql => 'SELECT order_id, amount FROM fact_orders UNION ALL SELECT order_id, amount FROM fact_orders');
SELECT model, status, error FROM pipeline.build('gate.order_view');
SELECT pg_get_viewdef('gate.order_view'::regclass) NOT LIKE '%UNION%' AS old_view_kept;
SELECT pipeline.create_model('gate.orders_inc',
    'SELECT id, amount FROM raw_orders WHERE NOT pipeline.is_incremental() OR id > (SELECT max(id) FROM orders_inc)',
    materialized => 'incremental', strategy => 'append') > 0 AS created;
SELECT model, status FROM pipeline.build('gate.orders_inc');
SELECT pipeline.expect('gate.orders_inc', 'id', 'unique') > 0 AS expect_inc;
INSERT INTO raw_orders VALUES (7, 1, 70), (7, 1, 71);
SELECT model, status, error FROM pipeline.build('gate.orders_inc');
SELECT count(*) AS rows_kept, max(id) AS newest FROM gate.orders_inc;

-- 7. a model without expectations builds as with run; an ephemeral one is not checked
DELETE FROM raw_orders WHERE id = 7;
SELECT model, status FROM pipeline.build('gate.customer_totals');

-- 8. the gate's functions record only under a running build of one's own
SELECT pipeline._model_checks(model_id, 999999) FROM pipeline.models WHERE name = 'gate.fact_orders';
SELECT pipeline._model_checks(m.model_id, i.invocation_id)
  FROM pipeline.models m, pipeline.model_invocations i
 WHERE m.name = 'gate.fact_orders' AND i.invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations);

RESET ROLE;
RESET search_path;
DROP SCHEMA gate CASCADE;
DELETE FROM pipeline.models;
DROP ROLE gate_owner;
DROP EXTENSION pg_pipeline;
