-- Attacks by non-superusers on 0.4.0, each of which must now fail with a
-- clear error and leave nothing behind (issue 10, docs/security.md):
--   1. search_path shadowing with exact-signature functions and operators
--      placed before pg_catalog, against every place the extension runs
--      SQL as another role: the window catalog read (as the bootstrap
--      superuser) in create_window, rebuild, flush and a writer's trigger;
--      maintenance (as the window's owner) in another role's session;
--   2. a stored aggregate re-bound by a later search_path;
--   3. direct writes of the catalogs: re-owning objects, rewriting a
--      window's SQL, moving another role's offsets;
--   4. absurd intervals that would make every scheduler pass fail.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE sec_alice LOGIN;
CREATE ROLE sec_bob LOGIN;
CREATE ROLE sec_op LOGIN IN ROLE pipeline_admin;
CREATE SCHEMA sec_a AUTHORIZATION sec_alice;
CREATE SCHEMA sec_b AUTHORIZATION sec_bob;
GRANT USAGE ON SCHEMA sec_a TO sec_bob;

-- Every trap records who ran it here; nobody but the trap's author may
-- ever appear in it, and in this test no trap may run at all.
CREATE TABLE public.sec_sprung (by_role name, as_role name, what text);
GRANT INSERT, SELECT ON public.sec_sprung TO PUBLIC;

------------------------------------------------------------------------
-- 1a. Alice (owns one table) shadows format(), = on integer, + and
-- date_bin() in her schema, puts it before pg_catalog, and creates a
-- window: the catalog read ran as the bootstrap superuser with her path.
------------------------------------------------------------------------
SET ROLE sec_alice;
CREATE FUNCTION sec_a.trap(text) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO public.sec_sprung VALUES (session_user, current_user, $1) $$;
CREATE FUNCTION sec_a.format(text, name, name) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_a.trap('format'); RETURN pg_catalog.format($1, $2, $3); END $$;
CREATE FUNCTION sec_a.int_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_a.trap('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR sec_a.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = sec_a.int_eq);
CREATE FUNCTION sec_a.ts_plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_a.trap('+'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE OPERATOR sec_a.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = sec_a.ts_plus);
CREATE FUNCTION sec_a.date_bin(interval, timestamptz, timestamptz) RETURNS timestamptz
  LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_a.trap('date_bin'); RETURN pg_catalog.date_bin($1, $2, $3); END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sec_a TO PUBLIC;
CREATE TABLE sec_a.ev (t timestamptz, k text, v int);
GRANT SELECT, INSERT, UPDATE, DELETE ON sec_a.ev TO sec_bob;
SET search_path = sec_a, pg_catalog, public;
SELECT pipeline.create_window('sec_a.w', 'sec_a.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}') IS NOT NULL AS created;
INSERT INTO sec_a.ev VALUES ('2026-01-01 00:00:10+00', 'a', 1);
SELECT pipeline.rebuild_window('sec_a.w');
SELECT pipeline.flush_window('sec_a.w');
RESET search_path;
RESET ROLE;
SELECT rolsuper AS alice_is_superuser FROM pg_roles WHERE rolname = 'sec_alice';
SELECT * FROM public.sec_sprung;

------------------------------------------------------------------------
-- 1b. Bob may write Alice's source.  He shadows the same names in his own
-- schema and writes: maintenance runs as Alice in his session, so his
-- functions would run with her rights.
------------------------------------------------------------------------
SET ROLE sec_bob;
CREATE FUNCTION sec_b.trap(text) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO public.sec_sprung VALUES (session_user, current_user, $1) $$;
CREATE FUNCTION sec_b.date_bin(interval, timestamptz, timestamptz) RETURNS timestamptz
  LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_b.trap('date_bin'); RETURN pg_catalog.date_bin($1, $2, $3); END $$;
CREATE FUNCTION sec_b.ts_plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_b.trap('+'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE OPERATOR sec_b.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = sec_b.ts_plus);
CREATE FUNCTION sec_b.int_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM sec_b.trap('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR sec_b.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = sec_b.int_eq);
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sec_b TO PUBLIC;
SET search_path = sec_b, pg_catalog, public;
INSERT INTO sec_a.ev VALUES ('2026-01-01 00:00:20+00', 'a', 2), ('2026-01-01 00:01:30+00', 'b', 5);
UPDATE sec_a.ev SET v = 3 WHERE t = '2026-01-01 00:00:20+00';
DELETE FROM sec_a.ev WHERE k = 'b';
RESET search_path;
RESET ROLE;
SELECT * FROM public.sec_sprung;
-- and the window is right: maintained as Alice, with the built-in functions
SELECT window_start, k, n, s FROM sec_a.w ORDER BY 1, 2;

------------------------------------------------------------------------
-- 2. The stored aggregates are bound at creation: a user-defined
-- aggregate is stored schema-qualified, a later path changes nothing.
------------------------------------------------------------------------
SET ROLE sec_alice;
CREATE AGGREGATE sec_a.total(int) (SFUNC = int4pl, STYPE = int, COMBINEFUNC = int4pl, INITCOND = '0');
SET search_path = sec_a, public;
SELECT pipeline.create_window('sec_a.w2', 'sec_a.ev', 't', pipeline.tumble('1 minute'),
    'total(v) AS t') IS NOT NULL AS created;
RESET search_path;
SELECT agg_exprs FROM pipeline.windows WHERE name = 'sec_a.w2';
INSERT INTO sec_a.ev VALUES ('2026-01-01 00:00:40+00', 'a', 10);
SELECT window_start, t FROM sec_a.w2 ORDER BY 1;

------------------------------------------------------------------------
-- 3. The catalogs: nobody rewrites a window's SQL or re-owns an object;
-- an operator operates and changes nothing else.
------------------------------------------------------------------------
-- the owner cannot rewrite what maintenance runs
UPDATE pipeline.windows SET agg_exprs = '{"count(*)"}' WHERE name = 'sec_a.w2';
UPDATE pipeline.windows SET owner = 'sec_bob' WHERE name = 'sec_a.w2';
-- nor give a new row to someone else
INSERT INTO pipeline.sinks (name, server, topic, owner) VALUES ('sec_sink', 'nowhere', 't', 'postgres');
SELECT name, owner FROM pipeline.sinks WHERE name = 'sec_sink';
DELETE FROM pipeline.sinks WHERE name = 'sec_sink';
RESET ROLE;

-- pipeline_admin: sees Alice's window, cannot re-own it or change it
SET ROLE sec_op;
SELECT name, owner FROM pipeline.windows WHERE name LIKE 'sec_a.%' ORDER BY 1;
UPDATE pipeline.windows SET owner = 'postgres' WHERE name = 'sec_a.w';
UPDATE pipeline.windows SET last_error = 'looked at' WHERE name = 'sec_a.w';
SELECT count(*) > 0 AS admin_sees_progress FROM pipeline.window_progress;
DELETE FROM pipeline.window_progress;
RESET ROLE;
SELECT owner, last_error FROM pipeline.windows WHERE name = 'sec_a.w';
SELECT count(*) > 0 AS progress_kept FROM pipeline.window_progress;

-- a source: Alice's, on a server she may use (no broker needed to define it)
CREATE SERVER sec_kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
GRANT USAGE ON FOREIGN SERVER sec_kafka TO sec_alice;
SET ROLE sec_alice;
CREATE TABLE sec_a.raw (payload jsonb);
SELECT pipeline.create_source('sec_src', server => 'sec_kafka', topic => 't',
    target => 'sec_a.raw', format => 'jsonb', start_from => 'latest');
INSERT INTO pipeline.source_offsets VALUES ('sec_src', 't', 0, 42);
RESET ROLE;
SET ROLE sec_op;
-- operator actions work
SELECT pipeline.pause_source('sec_src');
SELECT pipeline.resume_source('sec_src');
-- what runs, and as whom, does not change
UPDATE pipeline.sources SET owner = 'postgres' WHERE name = 'sec_src';
UPDATE pipeline.sources SET format = 'text' WHERE name = 'sec_src';
SELECT pipeline.alter_source('sec_src', batch_rows => 10);
-- nor do the offsets: losing or doubling messages is not an operator's
UPDATE pipeline.source_offsets SET next_offset = 0 WHERE source = 'sec_src';
DELETE FROM pipeline.source_offsets WHERE source = 'sec_src';
RESET ROLE;
SELECT owner, format, batch_rows, paused FROM pipeline.sources WHERE name = 'sec_src';
SELECT next_offset FROM pipeline.source_offsets WHERE source = 'sec_src';
-- nobody but a superuser locks a catalog beyond reading: ACCESS EXCLUSIVE
-- on pipeline.sources, held in an open transaction, would stop every
-- role's consumers and the scheduler
SET ROLE sec_bob;
BEGIN;
LOCK TABLE pipeline.sources IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE pipeline.dag_runs, pipeline.task_runs IN SHARE ROW EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE pipeline.sources IN ACCESS SHARE MODE;
ROLLBACK;
-- nor through a view of one's own (LOCK of a view locks what it reads,
-- checked as the view's owner), even one that reads it in a subquery
BEGIN;
CREATE TEMP VIEW sec_v AS SELECT * FROM pipeline.sources;
LOCK TABLE sec_v IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
CREATE TEMP VIEW sec_v0 AS SELECT 1 AS one WHERE EXISTS (SELECT FROM pipeline.dag_runs);
CREATE TEMP VIEW sec_v1 AS SELECT * FROM sec_v0;
LOCK TABLE sec_v1 IN EXCLUSIVE MODE;
ROLLBACK;
-- a view of one's own tables may be locked as before
BEGIN;
CREATE TABLE sec_b.mine (x int);
CREATE TEMP VIEW sec_v2 AS SELECT * FROM sec_b.mine;
LOCK TABLE sec_v2 IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
-- the data trigger of DAGs on a table no DAG watches notes nothing: it
-- cannot fill the server's array of watched tables
CREATE TABLE sec_b.noise (x int);
CREATE TRIGGER pipeline_dag_data AFTER INSERT ON sec_b.noise
    FOR EACH STATEMENT EXECUTE FUNCTION pipeline.dag_data_trigger();
INSERT INTO sec_b.noise VALUES (1);
RESET ROLE;
SELECT pipeline._data_version('{sec_b.noise}') IS NULL AS noise_not_tracked;
-- one role's share of the workers and of the watched-table array is
-- bounded (pg_pipeline.max_consumers_per_role, max_watched_per_role)
SHOW pg_pipeline.max_consumers_per_role;
SHOW pg_pipeline.max_watched_per_role;
SET ROLE sec_alice;
SELECT pipeline.alter_source('sec_src', consumers => 40);
SELECT pipeline.create_source('sec_src2', server => 'sec_kafka', topic => 't2',
    target => 'sec_a.raw', format => 'jsonb', consumers => 30);
SELECT count(*) AS alices_sources FROM pipeline.sources;
DO $$ BEGIN FOR i IN 1..65 LOOP EXECUTE format('CREATE TABLE sec_a.wt%s (x int)', i); END LOOP; END $$;
SELECT pipeline.create_dag('sec_watch', trigger_on => (SELECT array_agg('sec_a.wt' || i) FROM generate_series(1, 65) i));
SELECT pipeline.create_dag('sec_watch', trigger_on => (SELECT array_agg('sec_a.wt' || i) FROM generate_series(1, 64) i)) > 0 AS created;
SELECT pipeline.drop_dag('sec_watch');
SELECT pipeline.alter_source('sec_src', consumers => 1);
RESET ROLE;
-- an operator may not lose, rewrite or inject a sink's messages: they go
-- out under the sink owner's credentials
SET ROLE sec_alice;
SELECT pipeline.create_sink('sec_out', server => 'sec_kafka', topic => 'out');
SELECT pipeline.publish('sec_out', 'hello') > 0 AS published;
RESET ROLE;
SET ROLE sec_op;
SELECT count(*) AS admin_sees_outbox FROM pipeline.outbox WHERE sink = 'sec_out';
DELETE FROM pipeline.outbox WHERE sink = 'sec_out';
UPDATE pipeline.outbox SET payload = 'forged' WHERE sink = 'sec_out';
INSERT INTO pipeline.outbox (sink, payload) VALUES ('sec_out', 'injected');
RESET ROLE;
SELECT payload FROM pipeline.outbox WHERE sink = 'sec_out';
-- nor may Bob plant a dead letter for Alice's source, for a replay to load
SET ROLE sec_bob;
INSERT INTO pipeline.dead_letters (source, topic, partition, "offset", payload, payload_size, error)
VALUES ('sec_src', 't', 0, 1, '\x7b7d', 2, 'planted');
RESET ROLE;
SELECT pipeline.drop_sink('sec_out');
-- Bob sees nothing of it
SET ROLE sec_bob;
SELECT count(*) AS sources_bob_sees FROM pipeline.sources;
SELECT count(*) AS offsets_bob_sees FROM pipeline.source_offsets;
RESET ROLE;

------------------------------------------------------------------------
-- 3b. Owners by OID: a DAG's owner cannot be forged through owner_oid,
-- and a role dropped while it owned a DAG does not leave it to the next
-- role created with its name.
------------------------------------------------------------------------
CREATE ROLE sec_carol LOGIN;
SET ROLE sec_carol;
SELECT pipeline.create_dag('carol_dag') > 0 AS created;
SELECT pipeline.add_task('carol_dag', 'work', 'SELECT 1');
UPDATE pipeline.dags SET owner_oid = 10 WHERE name = 'carol_dag';
INSERT INTO pipeline.sinks (name, server, topic, owner_oid) VALUES ('carol_sink', 'nowhere', 't', 10);
SELECT d.name, d.owner, r.rolname AS owner_by_oid
  FROM pipeline.dags d JOIN pg_roles r ON r.oid = d.owner_oid WHERE d.name = 'carol_dag'
UNION ALL
SELECT s.name, s.owner, r.rolname FROM pipeline.sinks s JOIN pg_roles r ON r.oid = s.owner_oid
 WHERE s.name = 'carol_sink';
DELETE FROM pipeline.sinks WHERE name = 'carol_sink';
RESET ROLE;
DROP ROLE sec_carol;
CREATE ROLE sec_carol LOGIN;
SET ROLE sec_carol;
SELECT count(*) AS dags_the_new_carol_sees FROM pipeline.dags;
SELECT pipeline.run_now('carol_dag');
RESET ROLE;
SELECT name, owner, NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = d.owner_oid) AS orphaned
  FROM pipeline.dags d WHERE name = 'carol_dag';
SELECT pipeline.drop_dag('carol_dag');
DROP ROLE sec_carol;

------------------------------------------------------------------------
-- 4. Intervals a scheduler pass adds to now() are bounded.
------------------------------------------------------------------------
SET ROLE sec_alice;
SELECT pipeline.create_dag('sec_dag', history_retention => '100000000 years');
SELECT pipeline.create_dag('sec_dag', trigger_interval => '5000 years');
SELECT pipeline.create_dag('sec_dag') > 0 AS created;
SELECT pipeline.add_task('sec_dag', 't1', 'SELECT 1', timeout => '100000000 years');
SELECT pipeline.add_task('sec_dag', 't1', poke_interval => '2 years', sensor => 'SELECT true');
SELECT pipeline.add_task('sec_dag', 't1', 'SELECT 1', retry_delay => '1000 years');
UPDATE pipeline.dags SET history_retention = '100000000 years' WHERE name = 'sec_dag';
SELECT pipeline.drop_dag('sec_dag');
RESET ROLE;

-- nothing was left behind by the refused attempts
SELECT * FROM public.sec_sprung;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'sec\_%' ORDER BY 1;

SELECT pipeline.drop_source('sec_src');
SELECT pipeline.drop_window('sec_a.w2');
SELECT pipeline.drop_window('sec_a.w');
DROP SERVER sec_kafka;
DROP TABLE public.sec_sprung;
DROP SCHEMA sec_a CASCADE;
DROP SCHEMA sec_b CASCADE;
DROP ROLE sec_alice, sec_bob, sec_op;
DROP EXTENSION pg_pipeline;
