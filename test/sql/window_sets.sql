-- The sets of count(DISTINCT x) (0.10.0, src/window/sets.c):
-- pipeline.distinct_set(x) builds a statement's sets and must equal
-- array_agg(DISTINCT x) FILTER (WHERE x IS NOT NULL) for every type and
-- collation, hashed or sorted, and as a window function;
-- pipeline.array_distinct merges two sorted runs in one pass and sorts
-- anything else.  Its support functions cannot be called from SQL by
-- anyone, and a window's sets are stored uncompressed out of line.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE SCHEMA wsets;
CREATE TABLE wsets.t (g int, i8 bigint, i4 int, tx text, nu numeric, ts timestamptz);
INSERT INTO wsets.t
SELECT n % 7, (n * 7919) % 53, CASE WHEN n % 11 = 0 THEN NULL ELSE (n * 31) % 17 - 8 END,
       CASE WHEN n % 13 = 0 THEN NULL ELSE chr(65 + n % 5) || chr(97 + n % 3) END,
       ((n * 13) % 23) / 4.0, '2026-01-01'::timestamptz + (n % 9) * interval '1 hour'
  FROM generate_series(1, 2000) n;
INSERT INTO wsets.t VALUES (99, NULL, NULL, NULL, NULL, NULL);   -- a group of NULLs only
ANALYZE wsets.t;

-- the same sets as array_agg(DISTINCT), sorted or hashed
CREATE FUNCTION wsets.compare() RETURNS TABLE (differ bigint) LANGUAGE sql AS $$
SELECT count(*) FROM (
  SELECT g, pipeline.distinct_set(i8) a, pipeline.distinct_set(i4) b, pipeline.distinct_set(tx) c,
         pipeline.distinct_set(tx COLLATE "C") d, pipeline.distinct_set(nu) e, pipeline.distinct_set(ts) f
    FROM wsets.t GROUP BY g
  EXCEPT ALL
  SELECT g, array_agg(DISTINCT i8) FILTER (WHERE i8 IS NOT NULL), array_agg(DISTINCT i4) FILTER (WHERE i4 IS NOT NULL),
         array_agg(DISTINCT tx) FILTER (WHERE tx IS NOT NULL),
         array_agg(DISTINCT tx COLLATE "C") FILTER (WHERE tx IS NOT NULL),
         array_agg(DISTINCT nu) FILTER (WHERE nu IS NOT NULL), array_agg(DISTINCT ts) FILTER (WHERE ts IS NOT NULL)
    FROM wsets.t GROUP BY g) x
$$;
SET enable_hashagg = on;  SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT g, pipeline.distinct_set(i8) FROM wsets.t GROUP BY g;
SELECT * FROM wsets.compare();
SET enable_hashagg = off; SET enable_sort = on;
SELECT * FROM wsets.compare();
RESET enable_hashagg; RESET enable_sort;
SELECT pipeline.distinct_set(i8) IS NULL AS null_only FROM wsets.t WHERE g = 99;
SELECT pipeline.distinct_set(i8) IS NULL AS no_rows FROM wsets.t WHERE false;
-- a window function finalizes the same state more than once
SELECT g, n, pipeline.distinct_set(n % 3) OVER (PARTITION BY g ORDER BY n)
  FROM (VALUES (1, 5), (1, 4), (1, 3), (2, 2)) v(g, n) ORDER BY g, n;
-- collations: the order of the column's collation
SELECT pipeline.distinct_set(x COLLATE "C") AS c FROM (VALUES ('b'), ('B'), ('a'), ('b')) v(x);

-- array_distinct: two sorted runs merged, anything else sorted, duplicates and NULLs out
SELECT pipeline.array_distinct('{1,3,5,7}'::bigint[] || '{2,3,8}'::bigint[]);
SELECT pipeline.array_distinct('{5,1,4,1,NULL,3,2}'::int[]);
SELECT pipeline.array_distinct('{1,2}'::int[] || '{0,5}'::int[] || '{1}'::int[]);
SELECT pipeline.array_distinct('{b,d}'::text[] || '{a,c,d}'::text[]);
SELECT pipeline.array_distinct('{NULL}'::int[]) IS NULL AS all_null;
-- the same as array_agg(DISTINCT) over the concatenation, for random runs
SELECT count(*) AS differ FROM (
  SELECT r, pipeline.array_distinct(a || b) = (SELECT array_agg(DISTINCT e ORDER BY e) FROM unnest(a || b) e) AS same
    FROM (SELECT r, ARRAY(SELECT DISTINCT (random() * 40)::int FROM generate_series(1, 1 + r % 17) ORDER BY 1) a,
                    ARRAY(SELECT DISTINCT (random() * 40)::int FROM generate_series(1, 1 + r % 5) ORDER BY 1) b
            FROM generate_series(1, 300) r) q) x WHERE NOT same;

-- a type without a btree comparison is refused, not crashed on
SELECT pipeline.distinct_set(p) FROM (VALUES (point(1, 2))) v(p);

-- the attack: a non-superuser feeding the final function a state it did
-- not build (it would read another aggregate's memory as a set).  The
-- support functions take "internal", which SQL cannot produce, and only a
-- superuser may create an aggregate whose state is "internal".
CREATE ROLE wsets_hostile LOGIN;
CREATE SCHEMA wsets_h AUTHORIZATION wsets_hostile;
SET ROLE wsets_hostile;
SELECT pipeline._distinct_set_final(pipeline._distinct_set_add(NULL, 1), 1);
CREATE AGGREGATE wsets_h.evil(anynonarray) (SFUNC = pg_catalog.array_agg_transfn, STYPE = internal,
    FINALFUNC = pipeline._distinct_set_final, FINALFUNC_EXTRA);
CREATE AGGREGATE wsets_h.evil2(anycompatible) (SFUNC = pipeline._distinct_set_add, STYPE = internal,
    FINALFUNC = pg_catalog.array_agg_finalfn, FINALFUNC_EXTRA);
RESET ROLE;

-- a window's sets: stored uncompressed out of line (attstorage 'e'), and right
CREATE TABLE wsets.ev (t timestamptz, k text, u bigint);
SELECT pipeline.create_window('wsets.w', 'wsets.ev', 't', pipeline.tumble('1 hour'),
    'count(*) AS n, count(DISTINCT u) AS users', group_by => '{k}');
SELECT attname, attstorage FROM pg_attribute
 WHERE attrelid = 'wsets.w'::regclass AND attname LIKE 'pp_set_%' ORDER BY 1;
INSERT INTO wsets.ev SELECT '2026-01-01 00:00+00'::timestamptz + n * interval '1 second', 'k' || n % 3, n % 1000
  FROM generate_series(1, 5000) n;
INSERT INTO wsets.ev SELECT '2026-01-01 00:10+00', 'k' || n % 3, n FROM generate_series(900, 3000) n;
SELECT k, n, users FROM wsets.w ORDER BY k;
SELECT count(*) AS differ FROM (
  SELECT window_start, k, n, users FROM wsets.w
  EXCEPT ALL
  SELECT date_bin('1 hour', t, '1970-01-01'), k, count(*), count(DISTINCT u) FROM wsets.ev GROUP BY 1, 2) x;

SELECT pipeline.drop_window('wsets.w');
DROP SCHEMA wsets CASCADE;
DROP SCHEMA wsets_h;
DROP ROLE wsets_hostile;
DROP EXTENSION pg_pipeline;
