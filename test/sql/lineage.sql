-- Lineage: the graph of topics, sources, tables, windows, models,
-- expectations, sinks and DAGs as DOT and Mermaid (lineage_html is
-- test/t/085_lineage_html.pl's, in a browser).  Names chosen to break
-- DOT, Mermaid and HTML must come out as text; each role sees its own
-- objects only.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE SERVER ln_kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE ROLE ln_alice LOGIN;
CREATE ROLE ln_mallory LOGIN;
GRANT USAGE ON FOREIGN SERVER ln_kafka TO ln_alice, ln_mallory;
CREATE SCHEMA ln AUTHORIZATION ln_alice;
CREATE SCHEMA "ln<m>" AUTHORIZATION ln_mallory;
-- The state of a source or sink is its worker's, which meets the missing
-- broker at its own pace (starting, then failing): masked here, with its
-- colour and Mermaid class; every other node's state is the catalog's.
CREATE FUNCTION public.ln_steady(g text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n text;
BEGIN
    g := regexp_replace(g, '(\\n(source|sink)): [a-z ]+", shape=(\w+), fillcolor="#[0-9a-f]+"',
                        '\1: (worker)", shape=\3, fillcolor="(worker)"', 'g');
    FOR n IN SELECT m[1] FROM regexp_matches(g, '(n[0-9]+)>"[^"]*<br/>(source|sink):', 'g') m LOOP
        g := regexp_replace(g, '(class ' || n || ') [a-z_]+', '\1 (worker)');
    END LOOP;
    RETURN regexp_replace(g, '(<br/>(source|sink)): [a-z ]+"', '\1: (worker)"', 'g');
END $$;

-- alice's pipeline: topic -> source -> table -> window -> sink -> topic,
-- table -> model -> model (which also reads the window) -> expectations,
-- and two DAGs: one triggered by the source's table, one building models
SET ROLE ln_alice;
SET search_path = ln;
CREATE TABLE ln.orders (id int, amount numeric, ts timestamptz);
CREATE TABLE ln.customers (id int, name text);
SELECT pipeline.create_source('orders_src', server => 'ln_kafka', topic => 'orders', target => 'ln.orders');
SELECT pipeline.create_sink('per_minute_out', server => 'ln_kafka', topic => 'orders_per_minute');
SELECT pipeline.create_window('ln.per_minute', 'ln.orders', 'ts', pipeline.tumble('1 minute'),
                              'count(*) AS n, sum(amount) AS total', sink => 'per_minute_out');
SELECT pipeline.create_model('ln.stg_orders', 'SELECT id, amount, ts FROM ln.orders') > 0 AS created;
SELECT pipeline.create_model('ln.daily', $$
    SELECT date_trunc('day', s.ts) AS day, sum(s.amount) AS amount, max(w.n) AS busiest_minute
      FROM ln.stg_orders s CROSS JOIN ln.per_minute w GROUP BY 1 $$) > 0 AS created;
SELECT model, status FROM pipeline.run();
SELECT pipeline.expect('ln.daily', 'day', 'not_null') > 0 AS expected;
SELECT pipeline.expect('ln.orders', 'id', 'relationships', '{"to": "ln.customers", "field": "id"}') > 0 AS expected;
SELECT pipeline.create_dag('on_orders', trigger_on => '{orders_src}') > 0 AS dag;
SELECT pipeline.add_task('on_orders', 'check_orders', $$SELECT * FROM pipeline.check('ln.orders')$$);
SELECT pipeline.create_dag('nightly', schedule => '0 3 * * *') > 0 AS dag;
SELECT pipeline.add_task('nightly', 'models', $$SELECT * FROM pipeline.build('ln.stg_orders+')$$);
SELECT pipeline.add_task('nightly', 'flush', $$SELECT pipeline.flush_window('ln.per_minute')$$,
                         upstream => '{models}');
SELECT pipeline.add_task('nightly', 'notify', $$SELECT pipeline.publish('per_minute_out', 'done')$$,
                         upstream => '{flush}');
-- a job whose SQL names nothing of the pipeline draws nothing
SELECT pipeline.schedule('vacuum', '0 4 * * *', 'VACUUM ln.orders') > 0 AS job;

-- how the task calls are read: pipeline.* calls with a constant first argument
SELECT * FROM pipeline._lineage_task_calls($q$
    SELECT pipeline.run('a+'), pipeline.check(relation => 'x.y'::regclass), pipeline.run(),
           pipeline.check(some_column), run('not ours'), public.run('nor this');
    CALL pipeline.publish('s', 'p'); DO $do$ BEGIN PERFORM pipeline.run('hidden'); END $do$$q$);
SELECT pipeline._lineage_resolve('ln.orders') = 'ln.orders'::regclass AS qualified,
       pipeline._lineage_resolve('customers') = 'ln.customers'::regclass AS unqualified,
       pipeline._lineage_resolve('no_such_relation'), pipeline._lineage_resolve('a.b.c.d');

\pset format unaligned
\pset tuples_only on
SELECT public.ln_steady(pipeline.lineage_dot());
SELECT public.ln_steady(pipeline.lineage_mermaid());
-- up- and downstream of one relation: the window
SELECT public.ln_steady(pipeline.lineage_mermaid('ln.per_minute'));
-- a table that nothing reads: itself alone
SELECT pipeline.lineage_mermaid('ln.customers'::regclass);
\pset format aligned
\pset tuples_only off

-- mallory's objects, named to break out of each language
RESET ROLE;
SET ROLE ln_mallory;
SET search_path = "ln<m>";
CREATE TABLE "ln<m>"."<img src=x onerror=alert(1)>" (id int, "a\" text);
CREATE TABLE "ln<m>"."""];evil[" (id int);
SELECT pipeline.create_model('"ln<m>"."--> x"', $$SELECT t.id FROM "ln<m>"."<img src=x onerror=alert(1)>" t
                                                   JOIN "ln<m>"."""];evil[" e USING (id)$$) > 0 AS created;
SELECT model, status FROM pipeline.run();
SELECT pipeline.expect('"ln<m>"."--> x"', 'id', 'not_null', name => '"];evil[ n9 --> n1 \N') > 0 AS expected;
SELECT pipeline.expect('"ln<m>"."--> x"', 'id', 'unique', name => '<script>alert(1)</script> #quot; &amp; `x`') > 0 AS expected;
SELECT pipeline.create_dag('m_dag', schedule => '0 5 * * *') > 0 AS dag;
SELECT pipeline.add_task('m_dag', 'm_run', $$SELECT * FROM pipeline.run()$$);
SELECT pipeline.add_task('m_dag', 'm_check', $$SELECT * FROM pipeline.check('ln.orders')$$);

\pset format unaligned
\pset tuples_only on
-- mallory sees her objects only: none of alice's (her task's check of
-- alice's table, in a schema she may not use, is not drawn)
SELECT pipeline.lineage_dot();
SELECT pipeline.lineage_mermaid();
\pset format aligned
\pset tuples_only off
-- the HTML page escapes them too (the browser test opens it)
SELECT position('<img src' IN h) AS img_tag, position('<script>' IN h) AS script_tag,
       position('&lt;img src=x onerror=alert(1)&gt;' IN h) > 0 AS img_as_text,
       position('&lt;script&gt;alert(1)&lt;/script&gt;' IN h) > 0 AS script_as_text
  FROM pipeline.lineage_html() h;
-- alice sees none of mallory's
RESET ROLE;
SET ROLE ln_alice;
SELECT count(*) AS mallory_nodes FROM pipeline._lineage_graph(NULL) WHERE name LIKE '%<%' OR name LIKE '%evil%';
SELECT count(*) AS alice_nodes FROM pipeline._lineage_graph(NULL);
-- a superuser sees everything
RESET ROLE;
SELECT count(*) AS all_nodes FROM pipeline._lineage_graph(NULL);

-- clean up
SET ROLE ln_mallory;
SELECT pipeline.drop_dag('m_dag');
SELECT pipeline.drop_model(name) FROM pipeline.models ORDER BY model_id DESC;
SET ROLE ln_alice;
SELECT pipeline.drop_dag('on_orders'), pipeline.drop_dag('nightly'), pipeline.unschedule('vacuum');
SELECT pipeline.drop_model(name) FROM pipeline.models ORDER BY model_id DESC;
SELECT pipeline.drop_window('ln.per_minute');
SELECT pipeline.drop_sink('per_minute_out'), pipeline.drop_source('orders_src');
RESET ROLE;
RESET search_path;
DROP SCHEMA ln CASCADE;
DROP SCHEMA "ln<m>" CASCADE;
DROP SERVER ln_kafka CASCADE;
DROP FUNCTION public.ln_steady(text);
DROP ROLE ln_alice, ln_mallory;
DROP EXTENSION pg_pipeline;
