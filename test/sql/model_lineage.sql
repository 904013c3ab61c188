-- Models: dependencies from PostgreSQL's parse and analysis, table- and
-- column-level lineage, cycles, an upstream dropped or renamed.  Nothing is
-- built by pg_pipeline here: where a model must exist as a relation, the
-- test creates the view itself (building is model_build*.sql's).
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE ROLE ml_alice LOGIN;
CREATE ROLE ml_bob LOGIN;
CREATE SCHEMA ml AUTHORIZATION ml_alice;
SET ROLE ml_alice;
SET search_path = ml;
CREATE TABLE ml.orders (id int, customer_id int, amount numeric, status text, ordered_at timestamptz);
CREATE TABLE ml.customers (id int, name text, country text);
CREATE TABLE ml.refunds (order_id int, amount numeric);
CREATE VIEW ml.paid AS SELECT o.id, o.amount - coalesce(r.amount, 0) AS net, o.customer_id
                         FROM ml.orders o LEFT JOIN ml.refunds r ON r.order_id = o.id
                        WHERE o.status = 'paid';
CREATE VIEW ml.paid_fr AS SELECT p.* FROM ml.paid p JOIN ml.customers c ON c.id = p.customer_id
                           WHERE c.country = 'FR';
CREATE MATERIALIZED VIEW ml.mv AS SELECT id FROM ml.customers;

-- the edges a model's SQL has, whatever its form (CTE, subquery, sublink,
-- set operation, join); a CTE's name is not a relation
CREATE FUNCTION ml.edges(m text) RETURNS TABLE(upstream text, kind text, direct boolean, via text)
LANGUAGE sql AS $$
    SELECT l.upstream, l.upstream_kind, l.direct, l.via FROM pipeline.lineage l
     WHERE l.model = m ORDER BY l.direct DESC, l.upstream $$;
SELECT pipeline.create_model('ml.cte', $$
    WITH customers AS (SELECT id FROM ml.customers WHERE country = 'FR'),
         big AS (SELECT * FROM orders WHERE amount > (SELECT avg(amount) FROM ml.refunds))
    SELECT b.id FROM big b JOIN customers c ON c.id = b.customer_id
     WHERE EXISTS (SELECT 1 FROM ml.mv WHERE mv.id = c.id)
    UNION ALL SELECT order_id FROM (SELECT order_id FROM ml.refunds) s $$) > 0 AS created;
SELECT * FROM ml.edges('ml.cte');
-- through views: the view (direct) and what it reads (via the first view)
SELECT pipeline.create_model('ml.fr', 'SELECT id, net FROM paid_fr') > 0 AS created;
SELECT * FROM ml.edges('ml.fr');
SELECT upstream_name, upstream_kind, direct, via FROM pipeline._model_analyze('SELECT 1 FROM paid, orders', 'ml')
 ORDER BY 1;

-- ---- models reading models ----
-- a model not built yet is read by its name (its relation does not exist)
SELECT pipeline.create_model('ml.stg', 'SELECT id, customer_id, amount, ordered_at FROM orders') > 0 AS created;
SELECT pipeline.create_model('ml.fact', $$
    SELECT s.id, s.amount * 1.1 AS amount_with_tax, c.name
      FROM stg s JOIN customers c ON c.id = s.customer_id
     WHERE s.ordered_at > (SELECT coalesce(max(f.ordered_at), '-infinity') FROM ml.fact f) $$,
    materialized => 'table') > 0 AS created;
SELECT * FROM ml.edges('ml.fact');
SELECT model, problem FROM pipeline.column_lineage WHERE model = 'ml.fact';
-- built (here by hand): the same edge, now with the relation
CREATE VIEW ml.stg AS SELECT id, customer_id, amount, ordered_at FROM orders;
SELECT * FROM ml.edges('ml.fact');
SELECT pipeline.alter_model('ml.fact', description => 'refreshed');
SELECT upstream_name, upstream_oid = 'ml.stg'::regclass AS has_oid,
       upstream_model_id = (SELECT model_id FROM pipeline.models WHERE name = 'ml.stg') AS is_model
  FROM pipeline.model_edges WHERE model_id = (SELECT model_id FROM pipeline.models WHERE name = 'ml.fact')
 ORDER BY 1;
SELECT (SELECT name FROM pipeline.models WHERE model_id = u.model_id), u.depth
  FROM pipeline._model_upstream((SELECT model_id FROM pipeline.models WHERE name = 'ml.fact')) u;
SELECT (SELECT name FROM pipeline.models WHERE model_id = d.model_id), d.depth
  FROM pipeline._model_downstream((SELECT model_id FROM pipeline.models WHERE name = 'ml.stg')) d;
-- a model reading a user view over a model depends on that model
CREATE VIEW ml.user_view AS SELECT id FROM ml.stg;
SELECT pipeline.create_model('ml.via_user_view', 'SELECT id FROM user_view') > 0 AS created;
SELECT * FROM ml.edges('ml.via_user_view');

-- ---- cycles are refused, naming the cycle ----
SELECT pipeline.create_model('ml.a', 'SELECT id FROM orders') > 0 AS created;
SELECT pipeline.create_model('ml.b', 'SELECT id FROM ml.a') > 0 AS created;
SELECT pipeline.create_model('ml.c', 'SELECT id FROM ml.b') > 0 AS created;
SELECT pipeline.alter_model('ml.a', sql => 'SELECT id FROM ml.a');
SELECT pipeline.alter_model('ml.a', sql => 'SELECT id FROM ml.b');
SELECT pipeline.alter_model('ml.a', sql => 'SELECT id FROM orders UNION SELECT id FROM ml.c');
-- through a view: ml.b built as a view reading ml.a, ml.a reading a user view over ml.c
CREATE VIEW ml.a AS SELECT id FROM orders;
CREATE VIEW ml.b AS SELECT id FROM ml.a;
CREATE VIEW ml.c AS SELECT id FROM ml.b;
CREATE VIEW ml.over_c AS SELECT id FROM ml.c;
SELECT pipeline.alter_model('ml.a', sql => 'SELECT id FROM ml.over_c');
SELECT sql FROM pipeline.models WHERE name = 'ml.a';

-- ---- alter_model records the new dependencies ----
SELECT pipeline.alter_model('ml.c', sql => 'SELECT id FROM ml.customers');
SELECT * FROM ml.edges('ml.c');

-- ---- column lineage ----
SELECT pipeline.create_model('ml.cols', $$
    WITH per_customer AS (
        SELECT customer_id, sum(amount) AS total, count(*) AS n FROM orders GROUP BY customer_id)
    SELECT c.id,
           upper(c.name) AS name,
           p.total * 1.1 AS total_with_tax,
           p.n,
           CASE WHEN c.country = 'FR' THEN p.total END AS total_fr,
           (SELECT max(r.amount) FROM refunds r WHERE r.order_id = c.id) AS max_refund,
           rank() OVER (ORDER BY p.total) AS rank,
           42 AS answer,
           f.net
      FROM customers c
      JOIN per_customer p ON p.customer_id = c.id
      LEFT JOIN paid f USING (id) $$) > 0 AS created;
SELECT column_position, column_name, upstream, upstream_column, transform, direct
  FROM pipeline.column_lineage WHERE model = 'ml.cols' ORDER BY 1, 6 DESC, 3, 4;
-- joins with USING, set operations, subqueries in FROM, lateral functions, VALUES
SELECT pipeline.create_model('ml.cols2', $$
    SELECT id, amount FROM (SELECT o.id, o.amount FROM orders o) s
    UNION ALL
    SELECT order_id, amount FROM refunds
    UNION ALL
    SELECT v.a, t.x::numeric FROM (VALUES (1), (2)) v(a), unnest(ARRAY[v.a]) t(x) $$) > 0 AS created;
SELECT column_position, column_name, upstream, upstream_column, transform
  FROM pipeline.column_lineage WHERE model = 'ml.cols2' ORDER BY 1, 3, 4;
SELECT pipeline.create_model('ml.cols3', $$
    WITH RECURSIVE r(id, depth) AS (SELECT id, 0 FROM customers UNION ALL SELECT id, depth + 1 FROM r WHERE depth < 3)
    SELECT coalesce(a.id, b.id) AS id, r.depth
      FROM orders a FULL JOIN customers b USING (id) JOIN r ON r.id = a.id $$) > 0 AS created;
SELECT column_position, column_name, upstream, upstream_column, transform
  FROM pipeline.column_lineage WHERE model = 'ml.cols3' ORDER BY 1, 3, 4;

-- ---- an upstream dropped or renamed is reported, not silently broken ----
CREATE TABLE ml.scratch (id int, v text);
CREATE TABLE ml.scratch2 (id int);
SELECT pipeline.create_model('ml.reads_scratch', 'SELECT s.id, s.v FROM scratch s JOIN scratch2 USING (id)') > 0 AS created;
SELECT * FROM pipeline.model_problems;
ALTER TABLE ml.scratch RENAME TO scratch_renamed;
DROP TABLE ml.scratch2;
SELECT model, upstream, regexp_replace(problem, 'OID \d+', 'OID n') AS problem
  FROM pipeline.model_problems ORDER BY 2;
SELECT model, upstream_kind, regexp_replace(problem, 'OID \d+', 'OID n') AS problem
  FROM pipeline.lineage WHERE model = 'ml.reads_scratch' ORDER BY upstream;
SELECT column_name, regexp_replace(problem, 'OID \d+', 'OID n') AS problem
  FROM pipeline.column_lineage WHERE model = 'ml.reads_scratch';
-- a relation of the old name again: said so, and alter_model records it
CREATE TABLE ml.scratch2 (id int);
SELECT model, upstream, regexp_replace(problem, 'OID \d+', 'OID n', 'g') AS problem
  FROM pipeline.model_problems WHERE upstream = 'ml.scratch2';
ALTER TABLE ml.scratch_renamed RENAME TO scratch;
SELECT pipeline.alter_model('ml.reads_scratch');
SELECT count(*) AS problems FROM pipeline.model_problems;
-- refresh_model_edges records every model again (after a restore, say)
SELECT pipeline.refresh_model_edges() > 0 AS refreshed;
SELECT count(*) AS problems FROM pipeline.model_problems;

-- ---- another role sees none of it ----
SET ROLE ml_bob;
SELECT count(*) AS lineage FROM pipeline.lineage;
SELECT count(*) AS column_lineage FROM pipeline.column_lineage;
SELECT count(*) AS edges FROM pipeline.model_edges;
SELECT * FROM pipeline._model_analyze((SELECT min(model_id) FROM pipeline.models));
SELECT * FROM pipeline._model_column_lineage(1);
-- nor analyzes alice's SQL as alice: _model_analyze(sql, path) runs as the caller
SELECT * FROM pipeline._model_analyze('SELECT * FROM ml.orders', 'ml');
SET ROLE ml_alice;

SELECT pipeline.drop_model(name, drop_relation => false) FROM pipeline.models
 ORDER BY model_id DESC;
RESET ROLE;
RESET search_path;
DROP SCHEMA ml CASCADE;
DROP ROLE ml_alice, ml_bob;
DROP EXTENSION pg_pipeline;
