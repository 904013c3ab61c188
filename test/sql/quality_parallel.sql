-- Quality (issue 13): check()'s one scan in parallel.  _first_keys and
-- _duplicates have combine, serialize and deserialize functions, so the
-- scan runs as Partial Aggregate in parallel workers and Finalize Aggregate
-- in the leader.  With parallel plans forced (costs 0), check() gives the
-- same status, failing and total as with max_parallel_workers_per_gather =
-- 0 on 200,000 rows whose duplicates are far apart (row g and row g +
-- 150,000: read by different workers), keeps min(limit, failing) failing
-- keys, distinct and really failing, and its scan is read by workers: a
-- parallel safe row filter says so (NOTICE, relayed by the leader) when a
-- process other than the leader reads row 1; with
-- parallel_leader_participation off only workers read the table.
\set VERBOSITY terse
SET client_min_messages = notice;
CREATE EXTENSION pg_pipeline;

CREATE SCHEMA qpar;
SET search_path = qpar, public;
CREATE TABLE cust (cust int PRIMARY KEY);
INSERT INTO cust SELECT generate_series(0, 999);
CREATE TABLE big (
    id     int PRIMARY KEY,
    code   int,
    x      int,
    y      text COLLATE "C",
    email  text,
    status text,
    amount int,
    cust   int);
INSERT INTO big
SELECT g,
       g % 150000,                                  -- 50,000 values twice, far apart
       g % 100000,
       CASE WHEN g % 100000 < 5000 THEN 'd' ELSE g::text END,  -- (x, y): 5,000 pairs twice
       CASE WHEN g % 1000 = 0 THEN NULL ELSE 'u' || g END,
       CASE WHEN g % 10000 = 0 THEN 'lost' ELSE 'shipped' END,
       g % 1000,
       g % 1010
  FROM generate_series(1, 200000) g;
ANALYZE big;
ANALYZE cust;

-- who reads row 1: the leader (serial) or a worker (NOTICE)
CREATE TABLE leader (pid int);
INSERT INTO leader SELECT pg_backend_pid();
CREATE FUNCTION read_by(id int) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF id = 1 AND pg_backend_pid() <> (SELECT pid FROM qpar.leader) THEN
        RAISE NOTICE 'row 1 read by a parallel worker';
    END IF;
    RETURN true;
END $$;

SELECT pipeline.expect('big', 'code', 'unique');
SELECT pipeline.expect('big', 'x, y', 'unique');
SELECT pipeline.expect('big', 'email', 'not_null', row_filter => 'qpar.read_by(id)');
SELECT pipeline.expect('big', 'status', 'accepted_values', '{"values": ["shipped"]}');
SELECT pipeline.expect('big', 'amount', 'between', '{"min": 0, "max": 990}');
SELECT pipeline.expect('big', 'cust', 'relationships', '{"to": "qpar.cust", "field": "cust"}');

SET pg_pipeline.check_failure_limit = 5;

-- 1. Serial
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial AS
SELECT expectation, status, failing, total, result_id FROM pipeline.check('big');

-- 2. Parallel, forced: row 1 is read by a worker (the NOTICE twice: the row
-- filter is in the count and in the failing rows' FILTER)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET max_parallel_workers_per_gather = 2;
CREATE TABLE par AS
SELECT expectation, status, failing, total, result_id FROM pipeline.check('big');

-- the same status, failing and total
SELECT p.expectation, p.status, p.failing, p.total,
       (s.status, s.failing, s.total) = (p.status, p.failing, p.total) AS same_as_serial
  FROM par p JOIN serial s USING (expectation) ORDER BY 1;

-- failing keys: min(limit, failing), distinct, and failing rows
SELECT r.expectation, r.failing,
       count(f.*) AS kept, count(DISTINCT f.key) AS distinct_keys,
       bool_and(CASE r.expectation
           WHEN 'unique_code' THEN (SELECT count(*) FROM big b2
                                     WHERE b2.code = (SELECT code FROM big WHERE id = (f.key->>'id')::int)) >= 2
           WHEN 'unique_x_y' THEN (SELECT count(*) FROM big b2, big b1
                                    WHERE b1.id = (f.key->>'id')::int AND (b2.x, b2.y) = (b1.x, b1.y)) >= 2
           WHEN 'not_null_email' THEN (SELECT email IS NULL FROM big WHERE id = (f.key->>'id')::int)
           WHEN 'accepted_values_status' THEN (SELECT status <> 'shipped' FROM big WHERE id = (f.key->>'id')::int)
           WHEN 'between_amount' THEN (SELECT amount > 990 FROM big WHERE id = (f.key->>'id')::int)
           WHEN 'relationships_cust' THEN (SELECT cust >= 1000 FROM big WHERE id = (f.key->>'id')::int)
       END) AS all_failing
  FROM par p JOIN pipeline.check_results r USING (result_id)
  LEFT JOIN pipeline.check_failures f USING (result_id)
 GROUP BY 1, 2 ORDER BY 1;

-- 3. Parallel, a limit above every failing count: every failing row is kept,
-- once (also the rows whose value is a duplicate only across workers: the
-- combine keeps the first key of each side), and the keys of unique_code
-- are exactly the rows whose code another row has
SET pg_pipeline.check_failure_limit = 200000;
CREATE TABLE par_all AS
SELECT expectation, status, failing, total, result_id FROM pipeline.check('big');
SELECT p.expectation, p.failing, count(f.*) AS kept, count(DISTINCT f.key) AS distinct_keys
  FROM par_all p LEFT JOIN pipeline.check_failures f USING (result_id)
 GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS kept_not_duplicate
  FROM (SELECT (f.key->>'id')::int AS id
          FROM par_all p JOIN pipeline.check_failures f USING (result_id)
         WHERE p.expectation = 'unique_code'
        EXCEPT
        SELECT id FROM big WHERE code IN (SELECT code FROM big GROUP BY code HAVING count(*) >= 2)) d;
SET pg_pipeline.check_failure_limit = 5;

-- 4. Above 20 million estimated rows (reltuples, faked here), a scan with a
-- unique expectation is serial (each worker would send every distinct value
-- it read in one message of at most 1 GB): no NOTICE, the same results;
-- without its unique expectations, the same table is scanned in parallel
UPDATE pg_class SET reltuples = 30000000 WHERE oid = 'qpar.big'::regclass;
SELECT expectation, status, failing, total FROM pipeline.check('big') ORDER BY 1;
SELECT pipeline.drop_expectation('big', 'unique_code');
SELECT pipeline.drop_expectation('big', 'unique_x_y');
SELECT expectation, status, failing, total FROM pipeline.check('big') ORDER BY 1;
ANALYZE big;

-- the aggregates themselves: partial in the workers, combined in the leader
EXPLAIN (COSTS OFF)
SELECT pipeline._duplicates(id, code, '{id}', '{code}', 5),
       pipeline._first_keys(id, email, '{id}', '{email}', 5) FILTER (WHERE email IS NULL)
  FROM big;

-- the aggregates called directly (whatever the plan): a value seen twice
-- is two failing rows, at most lim kept; ROW(...) values; limit 0; no row
SELECT pipeline._duplicates(id, code, '{id}', '{code}', 3)->'failing' AS failing,
       jsonb_array_length(pipeline._duplicates(id, code, '{id}', '{code}', 3)->'rows') AS kept
  FROM big WHERE id IN (1, 150001, 2, 3, 150003);
SELECT pipeline._duplicates(id, ROW(x, y), '{id}', '{x,y}', 3)->'failing' AS failing
  FROM big;
SELECT pipeline._first_keys(id, email, '{id}', '{email}', 0) FILTER (WHERE email IS NULL) AS none_kept,
       pipeline._first_keys(id, email, '{id}', '{email}', 2) FILTER (WHERE false) AS no_row
  FROM big;

RESET ALL;
DROP SCHEMA qpar CASCADE;
DROP EXTENSION pg_pipeline;
