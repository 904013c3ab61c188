-- Seeds (issue 12): a CSV loaded into a table through COPY, from text or
-- from a file on the server.  Types, header, delimiter, quoting; a bad row
-- named by its line and column; a reload that fails keeps the old rows;
-- the file variant only for superusers and pg_read_server_files; who may
-- load what.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE seed_alice LOGIN;
CREATE ROLE seed_bob LOGIN;
CREATE ROLE seed_op LOGIN IN ROLE pipeline_admin;
CREATE SCHEMA seed_a AUTHORIZATION seed_alice;
GRANT CREATE ON SCHEMA public TO seed_alice, seed_bob;

------------------------------------------------------------------------
-- 1. Types, header, quoting.  The table is the caller's, in the schema
-- the name gives; the model row records the seed.
------------------------------------------------------------------------
SET ROLE seed_alice;
SET search_path = seed_a, public;
SELECT pipeline.create_seed('countries',
$csv$code,name,population,joined,eu,note
FR,France,68.2,1958-01-01,true,
DE,"Germany, Federal Republic",84.4,1958-01-01,t,""
CH,Switzerland,8.8,,false,"says ""no"""
NO,Norway,5.5,,f,"two
lines"
$csv$,
    'code char(2) PRIMARY KEY, name text NOT NULL, population numeric(6,1), joined date, eu boolean, note text') > 0 AS created;
SELECT code, name, population, joined, eu, note, note IS NULL AS note_null
FROM seed_a.countries ORDER BY code;
SELECT name, schema_name, relation_name, owner, materialized, sql, search_path, seed_delimiter,
       seed_header, built_at IS NOT NULL AS built
FROM pipeline.models;
SELECT pg_catalog.pg_get_userbyid(relowner) AS table_owner FROM pg_class WHERE oid = 'seed_a.countries'::regclass;

-- another delimiter, no header, tags and description; a qualified name
SELECT pipeline.create_seed('public.seed_rates', E'1;0.5;low\n2;0,75;mid\n', 'id int, rate text, band text',
    delimiter => ';', header => false, tags => '{finance}', description => 'rates') > 0 AS created;
SELECT * FROM public.seed_rates ORDER BY id;
SELECT pipeline.create_seed('public.seed_tabs', E'k\tv\na\t1\nb\t\n', 'k text, v int', delimiter => E'\t') > 0 AS created;
SELECT k, v, v IS NULL AS v_null FROM public.seed_tabs ORDER BY k;
SELECT name, tags, description, seed_delimiter = E'\t' AS tab, seed_header FROM pipeline.models
WHERE name LIKE 'public.%' ORDER BY name;
-- an empty seed, to be loaded later
SELECT pipeline.create_seed('seed_empty', NULL, 'a int, b text') > 0 AS created;
SELECT count(*) FROM seed_a.seed_empty;

------------------------------------------------------------------------
-- 2. A bad row: the error names its line (the CSV's own: the header is
-- line 1, a quoted line break counts) and its column; nothing is created.
------------------------------------------------------------------------
SELECT pipeline.create_seed('seed_bad', E'id,note,amount\n1,a,10\n2,"two\nlines",11\n3,c,abc\n4,d,13\n',
    'id int, note text, amount int');
SELECT pipeline.create_seed('seed_bad', E'id,amount\n1,10\n2,11\n3,oops\n', 'id int, amount int');
SELECT pipeline.create_seed('seed_bad', E'id,amount\n1,10\n2\n', 'id int, amount int');
SELECT pipeline.create_seed('seed_bad', E'id,amount\n1,10,99\n', 'id int, amount int');
SELECT pipeline.create_seed('seed_bad', E'id,amount\n1,10\n1,11\n', 'id int PRIMARY KEY, amount int');
-- the header must name the columns, in order
SELECT pipeline.create_seed('seed_bad', E'amount,id\n10,1\n', 'id int, amount int');
-- nothing was left behind
SELECT to_regclass('seed_a.seed_bad') IS NULL AS no_table,
       NOT EXISTS (SELECT FROM pipeline.models WHERE name = 'seed_a.seed_bad') AS no_model;

------------------------------------------------------------------------
-- 3. Reloads: a bad row loses nothing (one transaction); truncate => false
-- appends; a line holding only \. would end COPY's data early: refused.
------------------------------------------------------------------------
SELECT pipeline.load_seed('countries', E'code,name,population,joined,eu,note\nIT,Italy,59,1958-01-01,true,\nES,Spain,many,1986-01-01,true,\n');
SELECT code FROM seed_a.countries ORDER BY code;
SELECT pipeline.load_seed('countries', E'code,name,population,joined,eu,note\nIT,Italy,59,1958-01-01,true,\n\\.\nES,Spain,48,1986-01-01,true,\n');
SELECT code FROM seed_a.countries ORDER BY code;
SELECT pipeline.load_seed('countries', E'code,name,population,joined,eu,note\nIT,Italy,59,1958-01-01,true,\nES,Spain,48,1986-01-01,true,');
SELECT code FROM seed_a.countries ORDER BY code;
SELECT pipeline.load_seed('seed_a.countries', E'code,name,population,joined,eu,note\nPT,Portugal,10.4,1986-01-01,true,\n', truncate => false);
SELECT code FROM seed_a.countries ORDER BY code;
-- "\." inside quotes is data
SELECT pipeline.load_seed('seed_empty', E'a,b\n1,"\\."\n2,x\n');
SELECT * FROM seed_a.seed_empty ORDER BY a;

------------------------------------------------------------------------
-- 4. Wrong calls.
------------------------------------------------------------------------
SELECT pipeline.create_seed('countries', E'code\nFR\n', 'code text');
SELECT pipeline.create_seed('seed_x', E'a\n1\n', 'a int) INHERITS (seed_a.seed_empty');
SELECT pipeline.create_seed('seed_x', E'a\n1\n', 'a int); DROP TABLE seed_a.countries; CREATE TABLE seed_a.y (a int');
SELECT pipeline.create_seed('seed_x', E'a\n1\n', 'a int) PARTITION BY RANGE (a');
SELECT pipeline.create_seed('seed_x', E'a\n1\n', '');
SELECT pipeline.create_seed('seed_x', E'a\n1\n', 'a int', delimiter => '||');
SELECT pipeline.create_seed('pg_temp.seed_x', E'a\n1\n', 'a int');
SELECT pipeline.create_seed(NULL, E'a\n1\n', 'a int');
SELECT pipeline.load_seed('seed_nope', E'a\n1\n');
SELECT pipeline.load_seed('countries', NULL);
-- a model that is not a seed
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, search_path)
VALUES ('seed_a.a_view', 'seed_a', 'a_view', 'SELECT 1 AS one', 'view', 'seed_a');
SELECT pipeline.load_seed('seed_a.a_view', E'one\n1\n');
DELETE FROM pipeline.models WHERE name = 'seed_a.a_view';
-- the table dropped by hand
DROP TABLE seed_a.seed_empty;
SELECT pipeline.load_seed('seed_empty', E'a,b\n1,x\n');
DELETE FROM pipeline.models WHERE name = 'seed_a.seed_empty';
RESET search_path;

------------------------------------------------------------------------
-- 5. Who may load what.  Bob does not see Alice's seeds and cannot
-- create one in her schema; a pipeline_admin member sees them and loads
-- as itself: with the table's privileges only.  A seed row pointing at
-- another role's table loads nothing.
------------------------------------------------------------------------
SET ROLE seed_bob;
SELECT pipeline.load_seed('seed_a.countries', E'code\nFR\n');
SELECT pipeline.create_seed('seed_a.bobs', E'a\n1\n', 'a int');
SELECT count(*) FROM pipeline.models;
SET ROLE seed_op;
SELECT pipeline.load_seed('seed_a.countries', E'code,name,population,joined,eu,note\nFR,France,68.2,1958-01-01,true,\n');
SET ROLE seed_alice;
GRANT USAGE ON SCHEMA seed_a TO seed_op;
GRANT INSERT, TRUNCATE ON seed_a.countries TO seed_op;
SET ROLE seed_op;
SELECT pipeline.load_seed('seed_a.countries', E'code,name,population,joined,eu,note\nFR,France,68.2,1958-01-01,true,\n');
SET ROLE seed_alice;
SELECT code FROM seed_a.countries;
SELECT owner, built_at IS NOT NULL AS built FROM pipeline.models WHERE name = 'seed_a.countries';
-- Alice's own table, writable by Bob: Bob's seed row naming it is his,
-- not Alice's, and loads nothing into it
CREATE TABLE public.seed_alice_tab (a int);
INSERT INTO public.seed_alice_tab VALUES (42);
GRANT INSERT, TRUNCATE ON public.seed_alice_tab TO seed_bob;
SET ROLE seed_bob;
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, search_path, seed_delimiter, seed_header)
VALUES ('public.seed_alice_tab', 'public', 'seed_alice_tab', 'a int', 'seed', 'public', ',', true);
SELECT pipeline.load_seed('public.seed_alice_tab', E'a\n1\n');
SET ROLE seed_alice;
SELECT * FROM public.seed_alice_tab;
RESET ROLE;
DELETE FROM pipeline.models WHERE name = 'public.seed_alice_tab';

------------------------------------------------------------------------
-- 6. From a file on the server: superusers and members of
-- pg_read_server_files only.
------------------------------------------------------------------------
SELECT current_setting('data_directory') || '/pp_seed_rates.csv' AS seed_file \gset
COPY (VALUES (7, '0.1', 'new'), (8, '0.2', 'new')) TO :'seed_file' WITH (FORMAT csv, DELIMITER ';');
SET ROLE seed_alice;
SELECT pipeline.load_seed_file('public.seed_rates', :'seed_file');
SELECT id FROM public.seed_rates ORDER BY id;
RESET ROLE;
GRANT pg_read_server_files TO seed_alice;
SET ROLE seed_alice;
SELECT pipeline.load_seed_file('public.seed_rates', :'seed_file');
SELECT * FROM public.seed_rates ORDER BY id;
RESET ROLE;
REVOKE pg_read_server_files FROM seed_alice;
SELECT pipeline.load_seed_file('public.seed_rates', :'seed_file', truncate => false);
SELECT count(*) FROM public.seed_rates;
-- (a relative path is read from the data directory, as by COPY)
SELECT pipeline.load_seed_file('public.seed_rates', 'pp_no_such_file.csv');

------------------------------------------------------------------------
-- cleanup
------------------------------------------------------------------------
DELETE FROM pipeline.models;
DROP SCHEMA seed_a CASCADE;
DROP TABLE public.seed_rates, public.seed_tabs, public.seed_alice_tab;
REVOKE CREATE ON SCHEMA public FROM seed_alice, seed_bob;
DROP ROLE seed_alice, seed_bob, seed_op;
DROP EXTENSION pg_pipeline;
