-- 0.11.0 as a hostile writer sees it (docs/security.md, "0.11.0: what an
-- attacker tried"): a sync tumbling window's inserted rows aggregated in C
-- (src/window/partials.c).  The writer owns nothing but INSERT on the
-- sources; every window is paired with a hopping window whose slide is its
-- size (the same windows, kept by the SQL path).  Each block is an attack;
-- the expected output is what holds.
\set regress_db :DBNAME
CREATE DATABASE pp_attack11 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pp_attack11
CREATE EXTENSION pg_pipeline;
\set VERBOSITY terse
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET extra_float_digits = 3;
CREATE ROLE pp_writer11 LOGIN;

-- Whole rows of two windows' state tables, as text: rows of a only / of b only.
CREATE FUNCTION diff(a regclass, b regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
    extra bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL SELECT x::text FROM %s x) d', a, b)
        INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL SELECT x::text FROM %s x) d', b, a)
        INTO extra;
    RETURN missing || '/' || extra;
END $$;

-- 1. A sum past numeric's range that comes back into it: sum() adds
-- exactly (1e131072 - 1 twice, then its negative: the largest numeric),
-- the C path added pairwise and failed the writer's INSERT with "value
-- overflows numeric format".  It now leaves such a statement to the SQL
-- path: the same state as the hopping window's.
CREATE TABLE big_sum (ts timestamptz, nm numeric);
GRANT INSERT ON big_sum TO pp_writer11;
SELECT pipeline.create_window('t_sum', 'big_sum', 'ts', pipeline.tumble('1 hour'),
                              'count(*) AS n, sum(nm) AS s, avg(nm) AS a, max(nm) AS hi') IS NOT NULL AS t_sum;
SELECT pipeline.create_window('h_sum', 'big_sum', 'ts', pipeline.hop('1 hour', '1 hour'),
                              'count(*) AS n, sum(nm) AS s, avg(nm) AS a, max(nm) AS hi') IS NOT NULL AS h_sum;
SET ROLE pp_writer11;
INSERT INTO big_sum VALUES ('2026-01-01 10:00+00', repeat('9', 131072)::numeric),
                           ('2026-01-01 10:01+00', repeat('9', 131072)::numeric),
                           ('2026-01-01 10:02+00', -repeat('9', 131072)::numeric);
RESET ROLE;
SELECT n, s = repeat('9', 131072)::numeric AS sum_is_the_largest, length(a::text) AS avg_length
  FROM t_sum;
SELECT diff('t_sum', 'h_sum') AS t_sum_h_sum;

-- 2. Memory: the C path kept every group (its key, its min) in memory
-- whatever work_mem, where the SQL path's hash aggregation spills to disk
-- at work_mem x hash_mem_multiplier (work_mem being at least
-- pg_pipeline.window_work_mem there).  200 rows of distinct groups, each
-- with a text of 1 MB that compresses to little on disk, held 200 MB in
-- the writer's backend; more rows, the server's memory.  The C path now
-- leaves the statement to the SQL path at that limit.  Read from the
-- backend's peak memory, in a fresh backend (Linux's /proc).
CREATE TABLE big_min (ts timestamptz, g int, tx text);
GRANT INSERT ON big_min TO pp_writer11;
SELECT pipeline.create_window('t_min', 'big_min', 'ts', pipeline.tumble('1 hour'),
                              'count(*) AS n, min(tx) AS lo', group_by => '{g}') IS NOT NULL AS t_min;
\c pp_attack11
SET ROLE pp_writer11;
SET work_mem = '1MB';
SET pg_pipeline.window_work_mem = '8MB';
INSERT INTO big_min SELECT '2026-01-01 10:00+00', g, repeat(md5(g::text), 32768) FROM generate_series(1, 200) g;
RESET ROLE;
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
       < 100000 AS peak_under_100_mb;
SELECT count(*) AS groups, sum(n) AS n, bool_and(lo = repeat(md5(g::text), 32768)) AS every_min FROM t_min;

-- 3. The watermark is the largest event time less the allowed lateness.
-- After a row at -infinity it wrapped around to later than every time:
-- the next statement's rows were all late, dropped (late_rows = drop)
-- and every window closed, in both paths.  It is now -infinity.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE TABLE ninf (ts timestamptz, v int);
GRANT INSERT ON ninf TO pp_writer11;
SELECT pipeline.create_window('t_ninf', 'ninf', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n, sum(v) AS s',
                              allowed_lateness => '5 minutes', late_rows => 'drop') IS NOT NULL AS t_ninf;
SELECT pipeline.create_window('h_ninf', 'ninf', 'ts', pipeline.hop('1 hour', '1 hour'), 'count(*) AS n, sum(v) AS s',
                              allowed_lateness => '5 minutes', late_rows => 'drop') IS NOT NULL AS h_ninf;
SET ROLE pp_writer11;
INSERT INTO ninf VALUES ('-infinity', 1);
INSERT INTO ninf VALUES ('2026-01-01 10:00+00', 2), ('2026-01-01 10:30+00', 3);
INSERT INTO ninf VALUES ('2026-01-01 11:10+00', 4);
RESET ROLE;
SELECT window_start, window_end, n, s, is_final FROM t_ninf ORDER BY window_start;
SELECT diff('t_ninf', 'h_ninf') AS t_ninf_h_ninf;
SELECT w.result, max(p.max_event_time) AS watermark_time, sum(p.late) AS late
  FROM pipeline.window_progress p JOIN pipeline.windows w ON w.id = p.window_id
 WHERE w.result IN ('t_ninf'::regclass, 'h_ninf'::regclass) GROUP BY w.result ORDER BY w.result::text;

-- Held: after a row at infinity the watermark is past every time (not
-- infinity: infinity less the lateness), the later rows are late and
-- load, final, in both paths.
CREATE TABLE pinf (ts timestamptz, v int);
GRANT INSERT ON pinf TO pp_writer11;
SELECT pipeline.create_window('t_pinf', 'pinf', 'ts', pipeline.tumble('1 hour'), 'count(*) AS n, sum(v) AS s',
                              allowed_lateness => '5 minutes') IS NOT NULL AS t_pinf;
SELECT pipeline.create_window('h_pinf', 'pinf', 'ts', pipeline.hop('1 hour', '1 hour'), 'count(*) AS n, sum(v) AS s',
                              allowed_lateness => '5 minutes') IS NOT NULL AS h_pinf;
SET ROLE pp_writer11;
INSERT INTO pinf VALUES ('infinity', 1);
INSERT INTO pinf VALUES ('2026-01-01 10:00+00', 2);
INSERT INTO pinf VALUES ('2026-01-01 10:10+00', 3);
RESET ROLE;
SELECT window_start, window_end, n, s, is_final FROM t_pinf ORDER BY window_start;
SELECT diff('t_pinf', 'h_pinf') AS t_pinf_h_pinf;

-- 4. Held: group keys the C path hashes and compares itself (float NaN,
-- -0 and infinities, numeric NaN and scales, text of a nondeterministic
-- collation: the first value seen of a group is kept, so compared by
-- value), int sums past the range of their type, and times at both ends
-- of timestamptz's range, windows of odd sizes, in a zone with summer
-- time.  Whatever one path stores or refuses, the other does too.
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FUNCTION odd_pair(sfx text, size interval) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE oc_%s (ts timestamptz, gf float8, gn numeric, gt text COLLATE ci, i4 int, i8 bigint, f8 float8)', sfx);
    EXECUTE format('CREATE TABLE os_%s (LIKE oc_%1$s)', sfx);
    EXECUTE format('GRANT INSERT ON oc_%s, os_%1$s TO pp_writer11', sfx);
    PERFORM pipeline.create_window('t_' || sfx, ('oc_' || sfx)::regclass, 'ts', pipeline.tumble(size),
                                   'count(*) AS n, sum(i4) AS s4, sum(i8) AS s8, avg(i8) AS a8, sum(f8) AS sf, min(f8) AS lo, max(gt) AS hi',
                                   group_by => '{gf,gn,gt}');
    PERFORM pipeline.create_window('h_' || sfx, ('os_' || sfx)::regclass, 'ts', pipeline.hop(size, size),
                                   'count(*) AS n, sum(i4) AS s4, sum(i8) AS s8, avg(i8) AS a8, sum(f8) AS sf, min(f8) AS lo, max(gt) AS hi',
                                   group_by => '{gf,gn,gt}');
    RETURN sfx || ' ' || size;
END $$;
-- one statement into both sources: what each stored, or its error
CREATE FUNCTION odd_insert(sfx text, rows text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c text := 'stored';
    s text := 'stored';
BEGIN
    BEGIN
        EXECUTE format('INSERT INTO oc_%s %s', sfx, rows);
    EXCEPTION WHEN others THEN c := SQLERRM;
    END;
    BEGIN
        EXECUTE format('INSERT INTO os_%s %s', sfx, rows);
    EXCEPTION WHEN others THEN s := SQLERRM;
    END;
    RETURN CASE WHEN c = s THEN 'both ' || c ELSE 'C: ' || c || ', SQL: ' || s END;
END $$;
GRANT EXECUTE ON FUNCTION odd_insert(text, text) TO pp_writer11;
-- by value: the group values and the max of text as lower case
CREATE FUNCTION odd_diff(sfx text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q text := 'SELECT window_start, window_end, gf, gn::float8, lower(gt), n, s4, s8, a8, sf, lo, lower(hi), is_final FROM %s';
    missing bigint;
    extra bigint;
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', 't_' || sfx) INTO n;
    EXECUTE format('SELECT count(*) FROM (' || q || ' EXCEPT ALL ' || q || ') d', 't_' || sfx, 'h_' || sfx) INTO missing;
    EXECUTE format('SELECT count(*) FROM (' || q || ' EXCEPT ALL ' || q || ') d', 'h_' || sfx, 't_' || sfx) INTO extra;
    RETURN sfx || ': ' || missing || '/' || extra || ' of ' || n || ' rows';
END $$;
SELECT odd_pair(sfx, size) FROM (VALUES ('hour', interval '1 hour'), ('us7', interval '7 microseconds'),
                                        ('day_us', interval '1 day 00:00:00.000001'),
                                        ('mixed', interval '-1 day +25:00:00')) v(sfx, size);
SET timezone = 'America/Santiago';
SET ROLE pp_writer11;
SELECT sfx, r.n, odd_insert(sfx, r.rows)
  FROM unnest(ARRAY['hour', 'us7', 'day_us', 'mixed']) sfx,
       (VALUES
        (1, $$VALUES ('2026-04-04 20:59:59.999999-04', 'NaN', 'NaN', 'A', 2147483647, 9223372036854775807, 1e308),
                     ('2026-04-04 21:00:00-04', 'NaN', 'NaN', 'a', 2147483647, 9223372036854775807, -1e308),
                     ('2026-04-04 23:30:00-04', '-0', 1.0, 'b', -2147483648, -9223372036854775808, 'Infinity'),
                     ('2026-04-04 23:59:00-03', '0', 1.00, 'B', -2147483648, -9223372036854775808, '-Infinity'),
                     ('2026-04-05 00:10:00-04', 'Infinity', 'NaN', NULL, NULL, NULL, 'NaN'),
                     ('2026-04-05 00:20:00-04', '-Infinity', -0.0, 'ẞ', 1, 1, -0.0),
                     ('1969-12-31 23:59:59.999999+00', 'NaN', 0, 'ss', 1, 1, 1)$$),
        (2, $$VALUES ('4713-11-24 00:00:00+00 BC', 1, 1, 'x', 1, 1, 1)$$),
        (3, $$VALUES ('4713-11-24 00:59:59.999999+00 BC', 1, 1, 'x', 1, 1, 1)$$),
        (4, $$VALUES ('294276-12-31 23:59:59.999999+00', 1, 1, 'x', 1, 1, 1)$$),
        (5, $$VALUES ('294276-12-31 22:00:00+00', 1, 1, 'x', 1, 1, 1)$$),
        (6, $$VALUES ('infinity', 1, 1, 'x', 1, 1, 1), ('-infinity', 1, 1, 'x', 1, 1, 1)$$)) r(n, rows)
 ORDER BY 1, 2;
RESET ROLE;
SELECT odd_diff(sfx) FROM unnest(ARRAY['hour', 'us7', 'day_us', 'mixed']) sfx;
SET timezone = 'UTC';
SELECT window_start, window_end, gf, gn, lower(gt) AS gt, n, s4, s8, a8, sf, lo FROM t_hour
 WHERE window_start > '1000-01-01' OR window_start = '-infinity'
 ORDER BY window_start, gf, gn, lower(gt);

\c :regress_db
DROP DATABASE pp_attack11 WITH (FORCE);
DROP ROLE pp_writer11;
