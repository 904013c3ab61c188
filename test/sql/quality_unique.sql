-- Quality: unique in two steps (src/quality/hashes.c).  The scan gives
-- _repeated_rows every value with its row's ctid and gets back the ctids of
-- the rows whose value's hash another row has; _duplicates is then given
-- those rows alone, fetched by ctid (no second scan of the table).  The
-- results are those of _duplicates given every row: compared here with an
-- expectation on a view of the same table, which a view's lack of ctids
-- keeps in one step, and with a count from scratch.
\set VERBOSITY terse
CREATE EXTENSION pg_pipeline;
CREATE SCHEMA qu;
SET search_path = qu, public;
SET max_parallel_workers_per_gather = 0;

CREATE TABLE u (id int PRIMARY KEY, code text, a int, b text COLLATE "C");
-- code 'c1' in 21 rows (1, 100, 200, ..., 2000), NULL in 7; (a, b) repeats
INSERT INTO u
SELECT g, CASE WHEN g % 300 = 7 THEN NULL WHEN g % 100 = 0 THEN 'c1' ELSE 'c' || g END,
       g % 7, (g % 5)::text
  FROM generate_series(1, 2000) g;

-- 1. The aggregate: the rows behind repeated hashes; none; no row given
SELECT cardinality(pipeline._repeated_rows(code, ctid)) AS repeated,
       (SELECT count(*) FROM u WHERE code = 'c1') AS rows_of_c1
  FROM u;
SELECT pipeline._repeated_rows(code, ctid) AS none_repeated FROM u WHERE id < 50;
SELECT pipeline._repeated_rows(code, ctid) IS NULL AS no_row FROM u WHERE false;
-- the ctids are those of the rows with the repeated value
SELECT array(SELECT ctid FROM u WHERE code = 'c1' ORDER BY ctid) =
       array(SELECT unnest(pipeline._repeated_rows(code, ctid)) FROM u ORDER BY 1) AS same_rows
  FROM u LIMIT 1;
-- ROW(...): each column hashed with its own collation
SELECT cardinality(pipeline._repeated_rows(ROW(a, b), ctid)) AS repeated_pairs FROM u;

-- 2. check(): the same results as in one step (a view of the same rows)
CREATE VIEW uv AS SELECT * FROM u;
SELECT pipeline.expect('u', 'code', 'unique', key_columns => '{id}');
SELECT pipeline.expect('u', 'a, b', 'unique', row_filter => 'id <= 60', key_columns => '{id}');
SELECT pipeline.expect('u', 'b', 'unique', row_filter => 'id > 1990', key_columns => '{id}');
SELECT pipeline.expect('uv', 'code', 'unique', key_columns => '{id}');
SELECT pipeline.expect('uv', 'a, b', 'unique', row_filter => 'id <= 60', key_columns => '{id}');
SELECT pipeline.expect('uv', 'b', 'unique', row_filter => 'id > 1990', key_columns => '{id}');
CREATE TEMP TABLE t_res AS SELECT 'u' AS rel, * FROM pipeline.check('u');
INSERT INTO t_res SELECT 'uv', * FROM pipeline.check('uv');
SELECT rel, expectation, status, proven, failing, total FROM t_res ORDER BY expectation, rel;
-- from scratch
SELECT (SELECT count(*) FROM u WHERE code IN (SELECT code FROM u GROUP BY code HAVING count(*) > 1)) AS code_dups,
       (SELECT count(*) FROM u WHERE id <= 60 AND (a, b) IN
           (SELECT a, b FROM u WHERE id <= 60 GROUP BY a, b HAVING count(*) > 1)) AS pair_dups,
       (SELECT count(*) FROM u WHERE id > 1990 AND b IN
           (SELECT b FROM u WHERE id > 1990 GROUP BY b HAVING count(*) > 1)) AS b_dups;
-- the failing rows kept: the same keys and values, in the same order
SELECT e.expectation,
       (SELECT array_agg(f.key || f.value ORDER BY f.ordinal) FROM pipeline.check_failures f
         WHERE f.result_id = (SELECT result_id FROM t_res WHERE rel = 'u' AND expectation = e.expectation)) =
       (SELECT array_agg(f.key || f.value ORDER BY f.ordinal) FROM pipeline.check_failures f
         WHERE f.result_id = (SELECT result_id FROM t_res WHERE rel = 'uv' AND expectation = e.expectation))
         AS same_failures,
       (SELECT count(*) FROM pipeline.check_failures f
         WHERE f.result_id = (SELECT result_id FROM t_res WHERE rel = 'u' AND expectation = e.expectation)) AS kept
  FROM (SELECT DISTINCT expectation FROM t_res) e ORDER BY 1;

-- 3. Still one scan of the table: the second step fetches its rows by ctid
BEGIN;
SELECT pg_stat_get_xact_numscans('qu.u'::regclass) AS before \gset
SELECT count(*) AS expectations FROM pipeline.check('u');
SELECT pg_stat_get_xact_numscans('qu.u'::regclass) - :before AS scans_of_u;
COMMIT;

-- 4. What the transaction wrote before is seen by both steps
BEGIN;
UPDATE u SET code = 'c2' WHERE id IN (2, 3);
DELETE FROM u WHERE id = 100;
SELECT expectation, failing FROM pipeline.check('u') WHERE expectation = 'unique_code';
ROLLBACK;

-- 5. Partitions: two members can have a row at the same ctid; the
-- duplicates are those of the whole table
CREATE TABLE p (id int, code text) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (1000) TO (2000);
INSERT INTO p SELECT g, 'x' || g FROM generate_series(0, 1999) g;
-- row 1500 moves to the end of p2; the row of p2 at row 5's ctid (1005) is read too
UPDATE p SET code = 'x5' WHERE id = 1500;
SELECT pipeline.expect('p', 'code', 'unique', key_columns => '{id}');
SELECT expectation, status, failing, total FROM pipeline.check('p');
SELECT f.key, f.value FROM pipeline.check_failures f
  JOIN pipeline.check_results r USING (result_id)
 WHERE r.relation = 'qu.p' ORDER BY f.ordinal;

-- 6. In parallel (costs 0): the same counts
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT expectation, status, failing, total FROM pipeline.check('u') ORDER BY expectation;
RESET ALL;
SET search_path = qu, public;

-- 7. Row-level security forced on the owner: both steps read only the
-- rows its policy shows (a hidden duplicate is neither counted nor kept),
-- as in one step
CREATE ROLE qu_owner;
GRANT USAGE, CREATE ON SCHEMA qu TO qu_owner;
SET ROLE qu_owner;
CREATE TABLE r (id int PRIMARY KEY, code text, secret boolean);
INSERT INTO r VALUES (1, 'a', false), (2, 'a', false), (3, 'b', false), (4, 'b', true), (5, 'c', true), (6, 'c', true);
ALTER TABLE r ENABLE ROW LEVEL SECURITY;
ALTER TABLE r FORCE ROW LEVEL SECURITY;
CREATE POLICY shown ON r USING (NOT secret);
SELECT pipeline.expect('r', 'code', 'unique') > 0 AS ok;
SELECT expectation, status, failing, total FROM pipeline.check('r');
SELECT f.key, f.value FROM pipeline.check_failures f JOIN pipeline.check_results c USING (result_id)
 WHERE c.relation = 'qu.r' ORDER BY c.result_id, f.ordinal;
RESET ROLE;
-- the superuser's check() runs the scan as the owner too: the same
SELECT expectation, status, failing, total FROM pipeline.check('qu.r');
DROP TABLE r;

DROP SCHEMA qu CASCADE;
DROP ROLE qu_owner;
DROP EXTENSION pg_pipeline;
