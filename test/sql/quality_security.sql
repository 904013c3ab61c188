-- Quality and roles: an expectation's SQL (row filter, custom SQL, the
-- table of a relationship) runs as its owner with the search_path frozen
-- at creation, never as whoever calls check(): a superuser or a
-- pipeline_admin member with a hostile path checking another role's table
-- runs nothing as itself.  Only a relation's owner puts expectations on
-- it; results and failing keys are their owner's; users never write them.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
CREATE ROLE qs_owner LOGIN;
CREATE ROLE qs_admin LOGIN;
CREATE ROLE qs_evil LOGIN;
GRANT pipeline_admin TO qs_admin;
CREATE SCHEMA qs AUTHORIZATION qs_owner;
GRANT USAGE ON SCHEMA qs TO PUBLIC;
CREATE SCHEMA qs_evil AUTHORIZATION qs_evil;
CREATE SCHEMA qs_adm AUTHORIZATION qs_admin;
CREATE TABLE public.qs_trap (who text, what text);
GRANT INSERT, SELECT ON public.qs_trap TO PUBLIC;

-- the owner's table and expectations, resolved in its schema qs
SET ROLE qs_owner;
SET search_path = qs;
CREATE TABLE t (id int PRIMARY KEY, name text);
INSERT INTO t VALUES (1, 'Ann'), (2, 'bob'), (3, NULL);
GRANT SELECT ON t TO qs_evil, qs_admin;
SELECT pipeline.expect('t', 'name', 'not_null', row_filter => 'lower(name) <> ''x'' OR name IS NULL') > 0 AS ok;
SELECT pipeline.expect('t', NULL, 'custom_value', '{"sql": "SELECT count(*) FROM t", "max": 3}', name => 'small') > 0 AS ok;
SELECT pipeline.expect('t', 'name', 'regex', '{"pattern": "^[A-Z]"}') > 0 AS ok;
RESET search_path;
RESET ROLE;

-- 1. A pipeline_admin member whose path puts its own lower() before
-- pg_catalog, with a temporary table "t" of its own: check() runs the
-- owner's SQL as the owner, with the owner's path
SET ROLE qs_admin;
CREATE FUNCTION qs_adm.lower(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.qs_trap VALUES (current_user, 'lower');
    RETURN 'pwned';
END $$;
CREATE TEMPORARY TABLE t (id int);
INSERT INTO t SELECT generate_series(1, 100);
SET search_path = qs_adm, pg_catalog, public;
SELECT expectation, status, failing, total FROM pipeline.check('qs.t') ORDER BY expectation;
RESET search_path;
DROP TABLE pg_temp.t;
RESET ROLE;
SELECT who, what FROM public.qs_trap;          -- nothing ran as the admin
-- its results are the owner's
SET ROLE qs_owner;
SELECT expectation, status, owner FROM pipeline.check_results ORDER BY result_id;
SELECT count(*) AS failures_seen FROM pipeline.check_failures;
RESET ROLE;

-- 2. A hostile role's custom SQL, checked by a superuser, runs as that
-- role: it cannot make itself a superuser
SET ROLE qs_evil;
CREATE TABLE qs_evil.mine (id int);
INSERT INTO qs_evil.mine VALUES (1);
CREATE FUNCTION qs_evil.escalate() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.qs_trap VALUES (current_user, 'custom sql');
    BEGIN
        ALTER ROLE qs_evil SUPERUSER;
        INSERT INTO public.qs_trap VALUES (current_user, 'became superuser');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO public.qs_trap VALUES (current_user, 'refused: ' || SQLSTATE);
    END;
    RETURN 1;
END $$;
SELECT pipeline.expect('qs_evil.mine', NULL, 'custom_rows', '{"sql": "SELECT qs_evil.escalate() AS x"}',
                       name => 'escalate') > 0 AS ok;
SELECT pipeline.expect('qs_evil.mine', 'id', 'not_null', row_filter => 'qs_evil.escalate() = 1') > 0 AS ok;
RESET ROLE;
TRUNCATE public.qs_trap;
SELECT expectation, status, failing FROM pipeline.check('qs_evil.mine') ORDER BY expectation;
SELECT who, what FROM public.qs_trap ORDER BY what;
SELECT rolsuper FROM pg_roles WHERE rolname = 'qs_evil';

-- 2b. The same function in a CHECK constraint of the hostile role's table:
-- proving an expectation from the constraints never runs it as the
-- superuser who checks (a constraint calling a function that is not built
-- in proves nothing; proofs run as the expectation's owner)
SET ROLE qs_evil;
-- (immutable, so the planner folds it; it calls the volatile escalate())
CREATE FUNCTION qs_evil.zero() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    PERFORM qs_evil.escalate();
    RETURN 0;
END $$;
CREATE TABLE qs_evil.checked (v int CHECK (v >= qs_evil.zero()));
INSERT INTO qs_evil.checked VALUES (1);
SELECT pipeline.expect('qs_evil.checked', 'v', 'between', '{"min": 0}') > 0 AS ok;
RESET ROLE;
TRUNCATE public.qs_trap;
SELECT expectation, status, proven, failing FROM pipeline.check('qs_evil.checked');
SELECT who, what FROM public.qs_trap ORDER BY what;
SELECT rolsuper FROM pg_roles WHERE rolname = 'qs_evil';

-- 3. Expectations only on a relation one owns: not through expect(), not
-- straight into the catalog (naming another owner changes nothing)
SET ROLE qs_evil;
SELECT pipeline.expect('qs.t', 'id', 'not_null');
INSERT INTO pipeline.expectations (relation, name, kind, columns, owner)
VALUES ('qs.t', 'sneaky', 'not_null', '{id}', 'qs_owner');
-- and it sees, checks and changes none of the owner's
SELECT count(*) AS visible FROM pipeline.expectations;
SELECT count(*) AS checked FROM pipeline.check('qs.t');
SELECT count(*) AS results_visible FROM pipeline.check_results WHERE relation = 'qs.t';
UPDATE pipeline.expectations SET row_filter = 'false' WHERE name = 'not_null_name';
SELECT pipeline.drop_expectation('qs.t', 'not_null_name');
-- nor writes history
INSERT INTO pipeline.check_results (check_id, relation, expectation, kind, severity, status, started_at, owner, owner_oid)
VALUES (1, 'qs.t', 'forged', 'not_null', 'error', 'pass', now(), 'qs_owner', 0);
RESET ROLE;

-- 3b. The guard's helpers switch only to a role the caller acts for: no
-- locking or resolving names in another's tables as that role
SET ROLE qs_evil;
SELECT pipeline._expectation_resolve('qs.t', 'qs_owner'::regrole, '"qs"');
SELECT pipeline._expectation_resolve('qs.t', 10, '');
RESET ROLE;
-- nor on a temporary table (it would outlive its session)
CREATE TEMP TABLE qs_tmp (v int);
SELECT pipeline.expect('pg_temp.qs_tmp', 'v', 'not_null');
DROP TABLE qs_tmp;

-- 4. pipeline_admin may drop the owner's expectation, not change it
SET ROLE qs_admin;
UPDATE pipeline.expectations SET row_filter = 'false' WHERE name = 'regex_name';
SELECT pipeline.alter_expectation('qs.t', 'regex_name', severity => 'warn');
SELECT pipeline.drop_expectation('qs.t', 'regex_name');
RESET ROLE;
SELECT name, owner FROM pipeline.expectations ORDER BY name;

-- 5. A relationship's table is resolved as the owner, who must read it
REVOKE SELECT ON qs.t FROM qs_evil;
SET ROLE qs_evil;
SELECT pipeline.expect('qs_evil.mine', 'id', 'relationships', '{"to": "qs.t", "field": "id"}');
RESET ROLE;

-- 6. A relationship keeps its table by OID, resolved once as the owner
-- when it is named: a rename is followed, and a view that a role with
-- CREATE on the schema puts at the old name is never read.  After the
-- table is dropped the expectation is in error (never resolved again by
-- name, not even by a superuser's check or an alter) until its "to" is
-- named again.
GRANT CREATE ON SCHEMA qs TO qs_evil;
TRUNCATE public.qs_trap;
SET ROLE qs_owner;
CREATE TABLE qs.parent (id int PRIMARY KEY);
INSERT INTO qs.parent VALUES (1), (2);
CREATE TABLE qs.child (id int, parent_id int);
INSERT INTO qs.child VALUES (1, 1), (2, 2), (3, 3), (4, NULL);
SELECT pipeline.expect('qs.child', 'parent_id', 'relationships', '{"to": "qs.parent", "field": "id"}') > 0 AS ok;
SELECT options, to_relation FROM pipeline.expectations WHERE relation = 'qs.child'::regclass;
SELECT expectation, status, failing, total FROM pipeline.check('qs.child');
ALTER TABLE qs.parent RENAME TO parent_renamed;
RESET ROLE;
SET ROLE qs_evil;
CREATE FUNCTION qs_evil.spy() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.qs_trap VALUES (current_user, 'relationship');
    RETURN 3;
END $$;
CREATE VIEW qs.parent AS SELECT qs_evil.spy() AS id;
GRANT SELECT ON qs.parent TO PUBLIC;
RESET ROLE;
-- the renamed table is checked (3 is still missing from it)
SET ROLE qs_owner;
SELECT to_relation FROM pipeline.expectations WHERE relation = 'qs.child'::regclass;
SELECT expectation, status, failing, total FROM pipeline.check('qs.child');
RESET ROLE;
SELECT expectation, status, failing, total FROM pipeline.check('qs.child');
SELECT who, what FROM public.qs_trap;          -- the view was never read
-- the table dropped: an error, said, as the owner and as a superuser
SET ROLE qs_owner;
DROP TABLE qs.parent_renamed;
SELECT options, to_relation FROM pipeline.expectations WHERE relation = 'qs.child'::regclass;
SELECT expectation, status, severity FROM pipeline.check('qs.child');
SELECT expectation, status, error, sqlstate FROM pipeline.check_results ORDER BY result_id DESC LIMIT 1;
-- an alter that does not name "to" again resolves nothing
SELECT pipeline.alter_expectation('qs.child', 'relationships_parent_id', severity => 'warn');
SELECT expectation, status, severity FROM pipeline.check('qs.child');
SELECT expectation, status, error FROM pipeline.check_results ORDER BY result_id DESC LIMIT 1;
RESET ROLE;
SELECT expectation, status, severity FROM pipeline.check('qs.child');
SELECT expectation, status, error FROM pipeline.check_results ORDER BY result_id DESC LIMIT 1;
SELECT who, what FROM public.qs_trap;          -- still never read
-- nor can the owner point it elsewhere by writing to_relation
SET ROLE qs_owner;
CREATE TABLE qs.other (id int);
UPDATE pipeline.expectations SET to_relation = 'qs.other' WHERE relation = 'qs.child'::regclass;
SELECT to_relation FROM pipeline.expectations WHERE relation = 'qs.child'::regclass;
-- naming "to" again resolves it, as the owner, now
SELECT pipeline.alter_expectation('qs.child', 'relationships_parent_id',
                                  options => '{"to": "qs.other", "field": "id"}');
SELECT options, to_relation FROM pipeline.expectations WHERE relation = 'qs.child'::regclass;
SELECT expectation, status, failing FROM pipeline.check('qs.child');
RESET ROLE;
SELECT who, what FROM public.qs_trap;

DROP SCHEMA qs CASCADE;
DROP SCHEMA qs_evil CASCADE;
DROP SCHEMA qs_adm CASCADE;
DROP TABLE public.qs_trap;
DROP EXTENSION pg_pipeline;
DROP ROLE qs_owner;
DROP ROLE qs_admin;
DROP ROLE qs_evil;
