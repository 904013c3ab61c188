-- Building models and roles: a model's SQL runs as its owner with the
-- search_path frozen in the model, never the caller's (a pipeline_admin
-- member with hostile functions and temporary tables first in its path
-- builds another role's model and gets nothing); a role cannot build a
-- model it cannot see; a model writes only a relation its owner owns; a
-- model's SQL is one query, run in a security-restricted operation.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
CREATE ROLE mbs_owner LOGIN;
CREATE ROLE mbs_admin LOGIN;
CREATE ROLE mbs_other LOGIN;
GRANT pipeline_admin TO mbs_admin;
CREATE SCHEMA mbs AUTHORIZATION mbs_owner;
CREATE SCHEMA mbs_evil AUTHORIZATION mbs_admin;
CREATE SCHEMA mbs_o AUTHORIZATION mbs_other;
CREATE TABLE public.mbs_trap (who text, what text);
GRANT INSERT, SELECT ON public.mbs_trap TO PUBLIC;

CREATE FUNCTION public.mbs_model(name text, sql text, materialized text, strategy text DEFAULT NULL,
                                 unique_key text[] DEFAULT NULL)
RETURNS integer LANGUAGE sql AS $$
    INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, strategy,
                                 unique_key, search_path)
    VALUES (name, split_part(name, '.', 1), split_part(name, '.', 2), sql, materialized, strategy,
            unique_key, '"mbs"')
    RETURNING model_id $$;

SET ROLE mbs_owner;
CREATE TABLE mbs.src (id int, name text);
INSERT INTO mbs.src VALUES (1, 'Ann'), (2, 'Bob');
SELECT mbs_model('mbs.names', 'SELECT id, lower(name) AS name FROM src', 'table') AS names_id \gset
SELECT mbs_model('mbs.names_inc', 'SELECT id, lower(name) AS name FROM src', 'incremental', 'merge', '{id}')
    AS names_inc_id \gset
RESET ROLE;

-- a pipeline_admin member whose path puts its own lower() before
-- pg_catalog, with a temporary table "src" of its own
SET ROLE mbs_admin;
CREATE FUNCTION mbs_evil.lower(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.mbs_trap VALUES (current_user, 'lower');
    RETURN 'pwned';
END $$;
CREATE TEMPORARY TABLE src (id int, name text);
INSERT INTO src VALUES (1, 'FAKE'), (99, 'FAKE');
SET search_path = mbs_evil, pg_catalog, public;
SELECT lower('X') AS in_its_own_session;       -- its function, as itself
SELECT pipeline._model_build(:names_id) AS rows;
SELECT pipeline._model_build(:names_inc_id) AS rows;
SELECT pipeline._model_build(:names_inc_id) AS rows;
RESET search_path;
DROP TABLE pg_temp.src;
RESET ROLE;
SELECT * FROM mbs.names ORDER BY id;             -- the owner's src, pg_catalog's lower
SELECT * FROM mbs.names_inc ORDER BY id;
SELECT who, what FROM public.mbs_trap;           -- only the admin's own call
SELECT name, built_at IS NOT NULL AS built FROM pipeline.models ORDER BY name;
-- the staging table of merge is gone
SELECT count(*) AS staging_tables FROM pg_class WHERE relname LIKE 'pp_model_stage%';

-- a role that cannot see the model cannot build it
SET ROLE mbs_other;
SELECT pipeline._model_build(:names_id);
RESET ROLE;

-- a model cannot write a relation its owner does not own, even one its
-- owner may write
SET ROLE mbs_other;
CREATE TABLE mbs_o.target (id int, name text);
INSERT INTO mbs_o.target VALUES (1, 'keep me');
GRANT USAGE ON SCHEMA mbs_o TO mbs_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON mbs_o.target TO mbs_owner;
CREATE VIEW mbs_o.v AS SELECT 1 AS x;
RESET ROLE;
SET ROLE mbs_owner;
SELECT mbs_model('mbs_o.target', 'SELECT id, name FROM mbs.src', 'table') AS t1 \gset
SELECT pipeline._model_build(:t1);
SELECT pipeline._model_build(:t1, true);
UPDATE pipeline.models SET materialized = 'incremental', strategy = 'append' WHERE model_id = :t1;
SELECT pipeline._model_build(:t1);
UPDATE pipeline.models SET strategy = 'merge', unique_key = '{id}' WHERE model_id = :t1;
SELECT pipeline._model_build(:t1);
SELECT mbs_model('mbs_o.v', 'SELECT 2 AS x', 'view') AS v1 \gset
SELECT pipeline._model_build(:v1);
SELECT pipeline._model_build(:v1, true);
RESET ROLE;
SELECT * FROM mbs_o.target;
SELECT x FROM mbs_o.v;

-- a model is one query: nothing else runs, nothing is written through it
SET ROLE mbs_owner;
SELECT mbs_model('mbs.bad1', 'DELETE FROM src RETURNING id', 'table') AS bad1 \gset
SELECT pipeline._model_build(:bad1);
SELECT mbs_model('mbs.bad2', 'SELECT 1 AS x; DELETE FROM src', 'table') AS bad2 \gset
SELECT pipeline._model_build(:bad2);
SELECT mbs_model('mbs.bad3', 'WITH d AS (DELETE FROM src RETURNING id) SELECT id FROM d', 'table') AS bad3 \gset
SELECT pipeline._model_build(:bad3);
SELECT mbs_model('mbs.bad4', 'SELECT 1 AS x) q; DELETE FROM src; SELECT (1', 'view') AS bad4 \gset
SELECT pipeline._model_build(:bad4);
SELECT mbs_model('mbs.bad5', 'SELECT 1 AS x INTO mbs.sneaky', 'table') AS bad5 \gset
SELECT pipeline._model_build(:bad5);
SELECT count(*) AS src_rows FROM mbs.src;
-- the owner's SQL runs restricted: it leaves nothing in the caller's
-- session (no temporary table, no SET ROLE)
CREATE FUNCTION mbs.leave_temp() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMPORARY TABLE planted (x int);
    RETURN 1;
END $$;
SELECT mbs_model('mbs.planter', 'SELECT leave_temp() AS x', 'table') AS planter \gset
RESET ROLE;
SET ROLE mbs_admin;
SELECT pipeline._model_build(:planter);
RESET ROLE;

DROP SCHEMA mbs, mbs_evil, mbs_o CASCADE;
DELETE FROM pipeline.models;
DROP TABLE public.mbs_trap;
DROP FUNCTION public.mbs_model;
DROP ROLE mbs_owner, mbs_admin, mbs_other;
DROP EXTENSION pg_pipeline;
