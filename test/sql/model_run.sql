-- Model runs (issue 12, helper C): the selection grammar against a fixed
-- graph, run order, skip propagation, failure isolation, history, status,
-- NOTIFY, the plan of a parallel invocation, and row security.
--
-- The graph is written straight into pipeline.models and
-- pipeline.model_edges (no create_model), so this file tests selection and
-- runs alone.  Each model's SQL reads no other model: the edges are the
-- graph.
\set VERBOSITY default
-- (the builds' own notices are not this file's business)
SET client_min_messages = warning;
CREATE EXTENSION pg_pipeline;


CREATE SCHEMA mr;
CREATE SCHEMA mr_staging;
CREATE SCHEMA mr_marts;

-- a model, straight into the catalog
CREATE FUNCTION mr.model(name text, sql text DEFAULT 'SELECT 1 AS x', materialized text DEFAULT 'table',
                         tags text[] DEFAULT '{}', enabled boolean DEFAULT true)
RETURNS integer LANGUAGE sql AS $$
    INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, tags,
                                 search_path, enabled)
    VALUES (name, split_part(name, '.', 1), split_part(name, '.', 2), sql, materialized, tags,
            '"' || split_part(name, '.', 1) || '", "public"', enabled)
    RETURNING model_id
$$;
-- model reads upstream
CREATE FUNCTION mr.edge(model text, upstream text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO pipeline.model_edges (model_id, upstream_oid, upstream_name, upstream_model_id)
    SELECT m.model_id, 0, u.name, u.model_id
      FROM pipeline.models m, pipeline.models u WHERE m.name = model AND u.name = upstream
$$;
-- every selector of a list, with what it selects in order
CREATE FUNCTION mr.selects(VARIADIC selectors text[])
RETURNS TABLE (selector text, models text) LANGUAGE sql AS $$
    SELECT s, array_to_string(ARRAY(SELECT pipeline.select_models(s)), ' ')
      FROM unnest(selectors) WITH ORDINALITY AS u(s, i) ORDER BY i
$$;

-- The fixed graph:
--
--   stg_orders ────────────────┐
--   stg_customers ─ dim_customers ─ fact_orders ─ revenue ─ report
--   stg_payments ──────────────┘                    └ off (disabled)
--   stg_payments ─ eph (ephemeral) ─ uses_eph
--   mr_staging.dup, mr_marts.dup (same relation name, no edges)
SELECT count(*) FROM (VALUES
    (mr.model('mr_staging.stg_orders', materialized => 'view', tags => '{daily}')),
    (mr.model('mr_staging.stg_customers', materialized => 'view', tags => '{daily}')),
    (mr.model('mr_staging.stg_payments', materialized => 'view', tags => '{hourly}')),
    (mr.model('mr_marts.dim_customers', tags => '{daily}')),
    (mr.model('mr_marts.fact_orders', tags => '{daily,finance}')),
    (mr.model('mr_marts.revenue', tags => '{finance}')),
    (mr.model('mr_marts.report')),
    (mr.model('mr_marts.off', enabled => false)),
    (mr.model('mr_marts.eph', materialized => 'ephemeral')),
    (mr.model('mr_marts.uses_eph')),
    (mr.model('mr_staging.dup')),
    (mr.model('mr_marts.dup'))) v(id);
SELECT mr.edge('mr_marts.dim_customers', 'mr_staging.stg_customers'),
       mr.edge('mr_marts.fact_orders', 'mr_staging.stg_orders'),
       mr.edge('mr_marts.fact_orders', 'mr_marts.dim_customers'),
       mr.edge('mr_marts.fact_orders', 'mr_staging.stg_payments'),
       mr.edge('mr_marts.revenue', 'mr_marts.fact_orders'),
       mr.edge('mr_marts.report', 'mr_marts.revenue'),
       mr.edge('mr_marts.off', 'mr_marts.revenue'),
       mr.edge('mr_marts.eph', 'mr_staging.stg_payments'),
       mr.edge('mr_marts.uses_eph', 'mr_marts.eph');

-- 1. The grammar: each selector and the models it means, in dependency
-- order (level, then name).
SELECT * FROM mr.selects(
    'fact_orders',                      -- a relation name alone, when unique
    'mr_marts.fact_orders',             -- qualified
    'name:fact_orders',
    '+fact_orders',                     -- all ancestors
    '1+fact_orders',                    -- parents only
    '2+report',                         -- two generations
    'fact_orders+',                     -- all descendants (not the disabled one)
    'fact_orders+1',
    '1+dim_customers+1',
    'stg_customers+1',
    '@dim_customers',                   -- descendants and all their ancestors
    'tag:daily',
    'tag:finance+',
    'schema:mr_staging',
    'tag:daily,schema:mr_marts',        -- intersection
    '+revenue,tag:daily',
    'stg_orders stg_customers',         -- union
    'stg_orders  stg_orders',           -- union is a set
    'stg_payments+',                    -- through the ephemeral
    'off',                              -- disabled: never selected
    'tag:nothing',                      -- an empty tag selects nothing
    '');                                -- empty: everything

-- exclusion
SELECT pipeline.select_models('tag:daily', exclude => 'dim_customers');
SELECT pipeline.select_models('+report', exclude => 'schema:mr_staging fact_orders');
SELECT pipeline.select_models('', exclude => '+fact_orders');
SELECT pipeline.select_models('stg_orders', exclude => 'tag:daily');

-- errors
SELECT pipeline.select_models('fact_order');          -- a typo: the closest name as hint
SELECT pipeline.select_models('zzzzzzzzzzzzzzzzzzzz');
SELECT pipeline.select_models('dup');                 -- two schemas have one
SELECT pipeline.select_models('mr_marts.dup');        -- qualified is fine
SELECT pipeline.select_models('+');
SELECT pipeline.select_models('@report+');
SELECT pipeline.select_models('tag:');
SELECT pipeline.select_models('path:models/marts');
SELECT pipeline.select_models('report,,revenue');
SELECT pipeline.select_models('re+port');
SELECT pipeline.select_models('tag:daily', exclude => 'nosuch');

-- the plan a run follows: level, and the selected models each waits for
-- (through models not selected and the ephemeral one)
SELECT model, materialized, level, upstream = '{}' AS independent,
       ARRAY(SELECT m.name FROM pipeline.models m WHERE m.model_id = ANY (p.upstream) ORDER BY 1) AS waits_for
  FROM pipeline._model_plan('stg_payments stg_customers report uses_eph', NULL) p;

-- 2. Runs in the session: dependency order, history, status.
SELECT model, status, error FROM pipeline.run('+fact_orders');
SELECT x FROM mr_marts.fact_orders;
SELECT r.model, r.rows FROM pipeline.model_runs r JOIN pipeline.models m USING (model_id)
 WHERE m.materialized = 'table' ORDER BY r.model_run_id;
SELECT i.command, i.selector, i.in_session, i.status, i.ended_at >= i.started_at AS ended,
       (SELECT array_agg(r.model ORDER BY r.position) FROM pipeline.model_runs r
         WHERE r.invocation_id = i.invocation_id) AS models
  FROM pipeline.model_invocations i ORDER BY i.invocation_id;
-- build is run (plus checks, once they exist)
SELECT model, status FROM pipeline.build('revenue', full_refresh => true);
-- ephemeral models are never built
SELECT model, status FROM pipeline.run('stg_payments+');

-- 3. A failure skips what depends on it (through the ephemeral too) and
-- nothing else; the caller's transaction goes on; NOTIFY with the
-- SQLSTATE, never the message.
UPDATE pipeline.models SET sql = 'SELECT 1/0 AS x' WHERE name = 'mr_marts.dim_customers';
UPDATE pipeline.models SET sql = 'SELECT nosuch FROM nowhere' WHERE name = 'mr_staging.stg_payments';
\getenv abs_builddir PG_ABS_BUILDDIR
\set notify_file :abs_builddir '/model_run.notify'
CREATE FUNCTION mr.notifications(file text)
RETURNS TABLE (payload jsonb, from_this_session boolean) LANGUAGE sql AS $$
    SELECT m[1]::jsonb - 'model_run_id' - 'invocation_id', m[2]::int = pg_backend_pid()
      FROM regexp_split_to_table(pg_read_file(file), E'\n') AS line,
           LATERAL regexp_match(line, '^Asynchronous notification "pipeline_models" with payload "(.*)" received from server process with PID (\d+)\.$') AS m
     WHERE m IS NOT NULL ORDER BY 1
$$;
LISTEN pipeline_models;
\o :notify_file
SELECT model, status, error FROM pipeline.run('');
\o
UNLISTEN pipeline_models;
SELECT * FROM mr.notifications(:'notify_file');
SELECT r.model, r.status, r.sqlstate, CASE WHEN r.status = 'skipped' THEN r.error END AS why_skipped
  FROM pipeline.model_runs r
 WHERE r.invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY r.position;
SELECT status FROM pipeline.model_invocations ORDER BY invocation_id DESC LIMIT 1;
SELECT model, materialized, enabled, last_status, last_sqlstate,
       last_success_at IS NOT NULL AS succeeded_once, last_duration >= '0' AS timed
  FROM pipeline.model_status ORDER BY model;

-- fail_on_error (a scheduler task that runs models): the run ends in an
-- error with the first failure's SQLSTATE (22012, division by zero here),
-- the failed models named; everything it did is undone, history too
SELECT count(*) AS invocations_before FROM pipeline.model_invocations \gset
SELECT model, status FROM pipeline.run('dim_customers', fail_on_error => true);
DO $$
BEGIN
    PERFORM * FROM pipeline.run('dim_customers', fail_on_error => true);
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'SQLSTATE %', SQLSTATE;
END
$$;
SELECT count(*) = :invocations_before AS history_undone FROM pipeline.model_invocations;
-- nothing failed: no error, the same rows as without it
SELECT model, status FROM pipeline.run('stg_orders', fail_on_error => true);

-- a failed model's subtransaction is rolled back, the rest of the caller's
-- transaction is kept
BEGIN;
CREATE TABLE mr.kept AS SELECT 1 AS x;
SELECT model, status FROM pipeline.run('dim_customers stg_orders');
SELECT count(*) AS kept FROM mr.kept;
ROLLBACK;

-- 4. A parallel invocation queues its plan as pending runs (the workers
-- take it once the caller commits: here it is rolled back).
BEGIN;
SELECT pipeline.start_run('+revenue', workers => 3) IS NOT NULL AS started;
SELECT i.command, i.in_session, i.workers, i.status FROM pipeline.model_invocations i
 ORDER BY invocation_id DESC LIMIT 1;
SELECT r.position, r.model, r.status,
       ARRAY(SELECT m.name FROM pipeline.models m WHERE m.model_id = ANY (r.upstream) ORDER BY 1) AS waits_for
  FROM pipeline.model_runs r
 WHERE r.invocation_id = (SELECT max(invocation_id) FROM pipeline.model_invocations)
 ORDER BY r.position;
SELECT pipeline.cancel_run(max(invocation_id)) FROM pipeline.model_invocations;
SELECT status FROM pipeline.model_invocations ORDER BY invocation_id DESC LIMIT 1;
ROLLBACK;
-- (ids differ from run to run: errors show their SQLSTATE)
SELECT max(invocation_id) AS session_invocation FROM pipeline.model_invocations \gset
\set VERBOSITY sqlstate
SELECT pipeline.cancel_run(:session_invocation);    -- in-session runs are not canceled so
\set VERBOSITY default
SELECT pipeline.start_run('', workers => 0);

-- 5. Row security: a role selects, runs and sees only its own models and
-- runs, and cannot forge another role's history.
CREATE ROLE mr_alice;
CREATE ROLE mr_bob;
GRANT USAGE, CREATE ON SCHEMA mr_staging TO mr_alice, mr_bob;
GRANT EXECUTE ON FUNCTION mr.model(text, text, text, text[], boolean) TO mr_alice, mr_bob;
GRANT USAGE ON SCHEMA mr TO mr_alice, mr_bob;
SET ROLE mr_alice;
SELECT mr.model('mr_staging.alice_m') > 0 AS created;
SELECT pipeline.select_models('');
SELECT model, status FROM pipeline.run('');
RESET ROLE;
SELECT model_id AS alice_model FROM pipeline.models WHERE name = 'mr_staging.alice_m' \gset
SELECT max(invocation_id) AS alice_invocation FROM pipeline.model_invocations \gset
SET ROLE mr_bob;
SELECT pipeline.select_models('');
SELECT pipeline.select_models('alice_m');
SELECT model, status FROM pipeline.run('');
SELECT count(*) FROM pipeline.model_runs;
SELECT count(*) FROM pipeline.model_invocations;
SELECT count(*) FROM pipeline.model_status;
-- forging: a run of alice's model, in bob's or alice's invocation
\set VERBOSITY sqlstate
INSERT INTO pipeline.model_runs (invocation_id, model_id, model, status)
SELECT max(invocation_id), :alice_model, 'x', 'success' FROM pipeline.model_invocations;
INSERT INTO pipeline.model_runs (invocation_id, model_id, model, status)
VALUES (:alice_invocation, :alice_model, 'x', 'error');
\set VERBOSITY default
-- the workers' bookkeeping is the extension's
SELECT pipeline._model_run_claim(:alice_invocation, pg_backend_pid());
SELECT pipeline._model_run_finish(1, 0);
SELECT pipeline._model_invocation_done(:alice_invocation);
-- an invocation keeps its owner
UPDATE pipeline.model_invocations SET owner = 'mr_alice';
RESET ROLE;
SELECT owner, status FROM pipeline.model_invocations WHERE owner LIKE 'mr_%' ORDER BY invocation_id;

-- clean up
DROP EXTENSION pg_pipeline;
DROP SCHEMA mr, mr_staging, mr_marts CASCADE;
DROP ROLE mr_alice, mr_bob;
