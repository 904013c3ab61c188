-- The C aggregation of a sync tumbling window's inserted rows
-- (src/window/partials.c) against the SQL path, bit for bit.  Each source
-- carries pairs of windows with the same aggregates and groups: a tumbling
-- window (its INSERTs aggregated in C) and a hopping window whose slide is
-- its size (the same windows, maintained by the SQL path), or under
-- late_rows = drop a tumbling window with a side table (SQL path, same
-- state).  After many random statements (inserts with NULLs, numeric
-- scales, float NaN / -0 / infinities, ties of equal values, late rows,
-- updates, deletes) every pair's state tables must be equal as text (scale,
-- float bits, the avg and set columns, is_final, pp_rows), their progress
-- (watermark, late rows) too, and the exact aggregates must equal a
-- from-scratch GROUP BY.  Last, a writer's temporary table named
-- pp_partials is not read by the merge.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET extra_float_digits = 3;
-- transition tables larger than this are kept in a file: read back from it
SET work_mem = '64kB';
CREATE SCHEMA wp;

CREATE TABLE wp.ev (
    id    bigserial,
    gone  int,                 -- dropped below: attribute numbers with a hole
    ts    timestamptz,         -- NULL sometimes: no window
    g     text,
    gn    numeric,             -- group values equal at different scales
    gi    int,
    gf    float8,              -- 0 and -0 group together
    gb    boolean,
    i2    smallint,
    i4    int,
    i8    bigint,
    nm    numeric,
    f4    real,
    f8    double precision,
    tx    text,
    tc    text COLLATE "C",
    d     date,
    tsn   timestamp) WITH (autovacuum_enabled = false);
ALTER TABLE wp.ev DROP COLUMN gone;

\set aggs 'count(*) AS n, count(i4) AS c4, count(DISTINCT i8) AS d8, count(DISTINCT tx) AS dtx, count(DISTINCT nm) AS dnm, sum(i2) AS s2, sum(i4) AS s4, sum(i8) AS s8, sum(nm) AS snm, sum(f4) AS sf4, sum(f8) AS sf8, avg(i2) AS a2, avg(i4) AS a4, avg(i8) AS a8, avg(nm) AS anm, avg(f4) AS af4, avg(f8) AS af8, min(i2) AS lo2, max(i8) AS hi8, min(nm) AS lonm, max(nm) AS hinm, min(f4) AS lof4, max(f8) AS hif8, min(tx) AS lotx, max(tc) AS hitc, min(d) AS lod, max(tsn) AS hitsn, min(ts) AS first_at'

-- late_rows = update: C path and hop(size, size) through the SQL path
SELECT pipeline.create_window('wp.t1', 'wp.ev', 'ts', pipeline.tumble('10 minutes'), :'aggs',
                              group_by => '{g,gn}', allowed_lateness => '5 minutes') IS NOT NULL AS t1;
SELECT pipeline.create_window('wp.h1', 'wp.ev', 'ts', pipeline.hop('10 minutes', '10 minutes'), :'aggs',
                              group_by => '{g,gn}', allowed_lateness => '5 minutes') IS NOT NULL AS h1;
-- late_rows = drop against side_table (the SQL path; the same state)
SELECT pipeline.create_window('wp.t2', 'wp.ev', 'ts', pipeline.tumble('1 hour'), :'aggs',
                              group_by => '{gi,gf,gb}', late_rows => 'drop') IS NOT NULL AS t2;
SELECT pipeline.create_window('wp.s2', 'wp.ev', 'ts', pipeline.tumble('1 hour'), :'aggs',
                              group_by => '{gi,gf,gb}', late_rows => 'side_table') IS NOT NULL AS s2;
-- no group; whole days of a timestamptz in a zone with summer time
SELECT pipeline.create_window('wp.t3', 'wp.ev', 'ts', pipeline.tumble('1 day'), :'aggs') IS NOT NULL AS t3;
SELECT pipeline.create_window('wp.h3', 'wp.ev', 'ts', pipeline.hop('1 day', '1 day'), :'aggs') IS NOT NULL AS h3;

-- which windows take the C path: tumble, sync, no side table, no `other`
SELECT name, kind, late_rows FROM pipeline.windows ORDER BY id;

-- Equal as text, both ways (0 and 0), and the same progress.  cols: the
-- columns compared (of alias x), NULL: the whole row.
CREATE FUNCTION wp.diff(a regclass, b regclass, cols text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r text := coalesce('ROW(' || cols || ')', 'x') || '::text';
    missing bigint;
    extra bigint;
    pa text;
    pb text;
BEGIN
    EXECUTE format('SELECT count(*) FROM (SELECT %s FROM %s x EXCEPT ALL SELECT %1$s FROM %3$s x) d', r, a, b)
        INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT %s FROM %s x EXCEPT ALL SELECT %1$s FROM %3$s x) d', r, b, a)
        INTO extra;
    SELECT max(p.max_event_time)::text || ' ' || coalesce(sum(p.late), 0)
      INTO pa FROM pipeline.window_progress p JOIN pipeline.windows w ON w.id = p.window_id
     WHERE w.result = a;
    SELECT max(p.max_event_time)::text || ' ' || coalesce(sum(p.late), 0)
      INTO pb FROM pipeline.window_progress p JOIN pipeline.windows w ON w.id = p.window_id
     WHERE w.result = b;
    RETURN format('%s/%s %s', missing, extra, CASE WHEN pa IS NOT DISTINCT FROM pb THEN 'same progress'
                                                   ELSE 'progress ' || pa || ' vs ' || pb END);
END $$;

-- exact: whole rows; else (after updates and deletes, which recompute
-- from the source, where a hopping and a tumbling window's plans add floats
-- and meet equal numerics and group values in other orders): the exact
-- columns, group values by value
CREATE FUNCTION wp.check(phase text, exact boolean DEFAULT true)
RETURNS TABLE (phase text, t1_h1 text, t2_s2 text, t3_h3 text, t1_rows bigint)
LANGUAGE sql AS $$
    SELECT phase,
           wp.diff('wp.t1', 'wp.h1', CASE WHEN NOT exact THEN
               'x.window_start, x.window_end, x.g, trim_scale(x.gn), x.n, x.c4, x.d8, x.dtx, x.dnm, x.s2, x.s4, '
               'x.s8, x.snm, x.a2, x.a4, x.a8, x.anm, x.lo2, x.hi8, x.lotx, x.hitc, x.lod, x.hitsn, x.first_at, '
               'x.is_final, x.pp_rows' END),
           wp.diff('wp.t2', 'wp.s2'),
           wp.diff('wp.t3', 'wp.h3', CASE WHEN NOT exact THEN
               'x.window_start, x.window_end, x.n, x.c4, x.d8, x.dtx, x.dnm, x.s2, x.s4, x.s8, x.snm, x.a2, '
               'x.a4, x.a8, x.anm, x.lo2, x.hi8, x.lotx, x.hitc, x.lod, x.hitsn, x.first_at, x.is_final, x.pp_rows' END),
           (SELECT count(*) FROM wp.t1)
$$;

-- The exact aggregates of t1 (late_rows = update keeps every row) against a
-- from-scratch GROUP BY, as text: numeric scales included (a group's
-- value is the first one stored, which a full GROUP BY does not know: by
-- value).
CREATE VIEW wp.scratch AS
SELECT date_bin('10 minutes', ts, '1970-01-01 00:00+00') AS window_start, g, trim_scale(gn) AS gn, count(*) AS n, count(i4) AS c4,
       count(DISTINCT i8) AS d8, count(DISTINCT tx) AS dtx, count(DISTINCT nm) AS dnm,
       sum(i2) AS s2, sum(i4) AS s4, sum(i8) AS s8, sum(nm) AS snm, avg(i4) AS a4, avg(i8) AS a8,
       avg(nm) AS anm, min(i2) AS lo2, max(i8) AS hi8, min(tx) AS lotx, max(tc) AS hitc,
       min(d) AS lod, max(tsn) AS hitsn, min(ts) AS first_at
  FROM wp.ev WHERE ts IS NOT NULL GROUP BY 1, 2, 3;
CREATE VIEW wp.kept AS
SELECT window_start, g, trim_scale(gn) AS gn, n, c4, d8, dtx, dnm, s2, s4, s8, snm, a4, a8, anm, lo2, hi8, lotx, hitc,
       lod, hitsn, first_at FROM wp.t1;
CREATE FUNCTION wp.scratch_diff() RETURNS text LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT s::text FROM wp.scratch s EXCEPT ALL SELECT k::text FROM wp.kept k) d)
           || '/' ||
           (SELECT count(*) FROM (SELECT k::text FROM wp.kept k EXCEPT ALL SELECT s::text FROM wp.scratch s) d)
$$;

-- one random statement's rows: n rows from base, spread over span, some NULLs
CREATE FUNCTION wp.insert(n int, base timestamptz, span interval) RETURNS void
LANGUAGE sql AS $$
INSERT INTO wp.ev (ts, g, gn, gi, gf, gb, i2, i4, i8, nm, f4, f8, tx, tc, d, tsn)
SELECT CASE WHEN random() < 0.03 THEN NULL ELSE base + random() * span END,
       (ARRAY['a', 'b', 'c', NULL])[1 + floor(random() * 4)::int],
       (ARRAY[1, 1.0, 1.00, 2.5, NULL]::numeric[])[1 + floor(random() * 5)::int],
       (ARRAY[1, 2, NULL])[1 + floor(random() * 3)::int],
       (ARRAY['0', '-0', '1.5', NULL]::float8[])[1 + floor(random() * 4)::int],
       (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int],
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 2000 - 1000)::smallint END,
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 2e9 - 1e9)::int END,
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 9e18 - 4.5e18)::bigint END,
       CASE WHEN random() < 0.1 THEN NULL
            WHEN random() < 0.3 THEN (ARRAY[1, 1.0, 1.000, 7.25, 7.250, -0.5])[1 + floor(random() * 6)::int]::numeric
            ELSE round((random() * 1000)::numeric, floor(random() * 4)::int) END,
       CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.1 THEN '-0'::real
            ELSE (random() * 100)::real END,
       CASE WHEN random() < 0.1 THEN NULL
            WHEN random() < 0.05 THEN '-0'::float8
            ELSE random() * 1e6 END,
       CASE WHEN random() < 0.1 THEN NULL ELSE md5(floor(random() * 20)::text) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE (ARRAY['Z', 'a', 'b', 'B'])[1 + floor(random() * 4)::int] END,
       CASE WHEN random() < 0.1 THEN NULL ELSE date '2026-01-01' + floor(random() * 100)::int END,
       CASE WHEN random() < 0.1 THEN NULL ELSE timestamp '2026-01-01' + random() * interval '30 days' END
  FROM generate_series(1, n)
$$;

SELECT setseed(0.15);
SET timezone = 'Europe/Paris';
-- one large statement, then many small ones moving forward (late rows
-- behind the watermark among them), across a change of summer time
SELECT wp.insert(3000, '2026-03-27 00:00+00', '2 days');
SELECT * FROM wp.check('one statement');
SELECT wp.insert(40, timestamptz '2026-03-29 00:00+00' + i * interval '20 minutes', '30 minutes')
  FROM generate_series(1, 40) i;
SELECT wp.insert(30, '2026-03-29 00:00+00', '1 hour');       -- late
SELECT * FROM wp.check('small statements, late rows');
SELECT w.name, sum(p.late) > 0 AS late_rows_counted FROM pipeline.window_progress p
  JOIN pipeline.windows w ON w.id = p.window_id GROUP BY w.id, w.name ORDER BY w.id;
SELECT wp.scratch_diff() AS t1_from_scratch;

-- updates and deletes (the SQL path for every window), then inserts again
UPDATE wp.ev SET nm = nm * 2, i4 = i4 + 1 WHERE id % 7 = 0;
UPDATE wp.ev SET ts = ts + interval '3 hours' WHERE id % 11 = 0;
DELETE FROM wp.ev WHERE id % 13 = 0;
SELECT wp.insert(500, '2026-03-30 00:00+00', '1 day');
SELECT * FROM wp.check('updates, deletes, inserts', false);
SELECT wp.scratch_diff() AS t1_from_scratch;

-- rows before the origin (1970), NaN and infinities, in a multi-row VALUES
INSERT INTO wp.ev (ts, g, gn, i4, nm, f4, f8, tx) VALUES
    ('1969-12-31 23:55:00+00', 'a', 1, 1, 1.5, 'NaN', 2, 'x'),
    ('1969-12-31 23:55:00+00', 'a', 1.0, NULL, 1.50, 1, '-0', 'y'),
    ('1960-06-01 12:00:00+00', NULL, NULL, 3, 'NaN', '-Infinity', 'Infinity', NULL),
    ('1960-06-01 12:01:00+00', NULL, NULL, 3, 2.25, 'Infinity', '-Infinity', NULL),
    ('1970-01-01 00:00:00+00', 'b', 2.5, 4, 0.001, 1, 'NaN', 'z'),
    ('1970-01-01 00:01:00+00', 'b', 2.5, 4, 'Infinity', NULL, 'Infinity', 'z');
SELECT * FROM wp.check('before 1970', false);
SELECT wp.scratch_diff() AS t1_from_scratch;
SELECT window_start, window_end, g, gn, n, snm, lonm, hinm, sf4, sf8, af8 FROM wp.t1
 WHERE window_start < '1971-01-01' ORDER BY window_start, g, gn;

-- a statement that inserts nothing, and one of only NULL times
INSERT INTO wp.ev (ts) SELECT NULL WHERE false;
INSERT INTO wp.ev (ts, g) VALUES (NULL, 'a'), (NULL, 'b');
SELECT * FROM wp.check('nothing', false);

-- The C path runs no user code and reads only plain columns: a group of a
-- user's type (here a domain) or an expression as argument takes the SQL
-- path (DEBUG1 names the path of each window).
CREATE DOMAIN wp.label AS text;
CREATE TABLE wp.ev2 (ts timestamptz, g text, l wp.label, v int);
SELECT pipeline.create_window('wp.plain', 'wp.ev2', 'ts', pipeline.tumble('1 hour'), 'sum(v) AS s',
                              group_by => '{g}') IS NOT NULL AS plain;
SELECT pipeline.create_window('wp.domain', 'wp.ev2', 'ts', pipeline.tumble('1 hour'), 'sum(v) AS s',
                              group_by => '{l}') IS NOT NULL AS domain;
SELECT pipeline.create_window('wp.expr', 'wp.ev2', 'ts', pipeline.tumble('1 hour'), 'sum(v * 2) AS s',
                              group_by => '{g}') IS NOT NULL AS expr;
SET client_min_messages = debug1;
INSERT INTO wp.ev2 VALUES ('2026-01-01 10:00+00', 'a', 'x', 1), ('2026-01-01 10:30+00', 'a', 'x', 2);
RESET client_min_messages;
SELECT (SELECT s FROM wp.plain) AS plain, (SELECT s FROM wp.domain) AS domain, (SELECT s FROM wp.expr) AS expr;

-- numeric sums in an int128 (partials.c): scales from the column's typmod,
-- mixed scales without one, negative values, NULLs, zeros of a scale,
-- values too large for it (numeric_add from there on), NaN and infinities
-- after values summed in it, sums past int64 (made numeric from text).
-- The C path (tumble) against the SQL path (hop, slide = size) as text, and
-- against a GROUP BY.
CREATE TABLE wp.ev3 (ts timestamptz, g text, m2 numeric(10,2), m0 numeric(12,0), m6 numeric(20,6),
                     mx numeric, mb numeric(16,2), mn numeric(4,-2));
\set naggs 'sum(m2) AS s2, avg(m2) AS a2, sum(m0) AS s0, avg(m0) AS a0, sum(m6) AS s6, avg(m6) AS a6, sum(mx) AS sx, avg(mx) AS ax, sum(mb) AS sb, avg(mb) AS ab, sum(mn) AS sn, count(*) AS n'
SELECT pipeline.create_window('wp.tn', 'wp.ev3', 'ts', pipeline.tumble('1 hour'), :'naggs',
                              group_by => '{g}') IS NOT NULL AS tn;
SELECT pipeline.create_window('wp.hn', 'wp.ev3', 'ts', pipeline.hop('1 hour', '1 hour'), :'naggs',
                              group_by => '{g}') IS NOT NULL AS hn;
SELECT setseed(0.5);
INSERT INTO wp.ev3
SELECT timestamptz '2026-05-01 00:00+00' + random() * interval '3 hours',
       (ARRAY['p', 'q', 'r', NULL])[1 + floor(random() * 4)::int],
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2e8 - 1e8)::numeric, 2) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2e11 - 1e11)::numeric) END,
       CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.05 THEN round((random() * 1e13)::numeric, 6)
            ELSE round((random() * 2e7 - 1e7)::numeric, floor(random() * 7)::int) END,
       CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.05 THEN (random() * 1e20)::numeric
            WHEN random() < 0.05 THEN round((random() - 0.5)::numeric, 5 + floor(random() * 4)::int)
            ELSE round((random() * 2e6 - 1e6)::numeric, floor(random() * 5)::int) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2e11 - 1e11)::numeric, 2) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2e6 - 1e6)::numeric, -2) END
  FROM generate_series(1, 2000);
-- zeros of a scale, and a group of only the largest values of the fast path
INSERT INTO wp.ev3 (ts, g, m2, m6, mx, mb)
SELECT '2026-05-01 05:10+00', 'zero', 0.00, 0.000000, CASE WHEN i % 2 = 0 THEN 0.000 ELSE -0.0 END, 0
  FROM generate_series(1, 5) i;
INSERT INTO wp.ev3 (ts, g, m2, m0, mx, mb)
SELECT '2026-05-01 06:10+00', 'big', 99999999.99, 999999999999, 999999999999.9999, 99999999999999.99
  FROM generate_series(1, 2000);
INSERT INTO wp.ev3 (ts, g, m2, m0, mx, mb)
SELECT '2026-05-01 06:20+00', 'big', -99999999.99, -999999999999, -999999999999.9999, -99999999999999.99
  FROM generate_series(1, 3);
-- special values after summed ones: NaN, then +Infinity and -Infinity
INSERT INTO wp.ev3 (ts, g, mx) VALUES ('2026-05-01 07:00+00', 's', 1.5), ('2026-05-01 07:01+00', 's', 'NaN'),
    ('2026-05-01 07:02+00', 's', 2.25), ('2026-05-01 08:00+00', 'i', 1), ('2026-05-01 08:01+00', 'i', 'Infinity'),
    ('2026-05-01 08:02+00', 'j', 1), ('2026-05-01 08:03+00', 'j', 'Infinity'), ('2026-05-01 08:04+00', 'j', '-Infinity'),
    ('2026-05-01 09:00+00', 'k', NULL), ('2026-05-01 09:01+00', 'k', 10000000000000000.5);
-- one more statement into the same windows: merged with the stored sums
INSERT INTO wp.ev3 (ts, g, m2, mx, mb)
SELECT '2026-05-01 06:30+00', 'big', 0.01, 0.00001, 0.1 FROM generate_series(1, 3);
SELECT wp.diff('wp.tn', 'wp.hn') AS tn_hn;
SELECT (SELECT count(*) FROM (SELECT ROW(window_start, g, s2, s0, s6, sx, sb, sn, n)::text FROM wp.tn
                              EXCEPT ALL
                              SELECT ROW(date_bin('1 hour', ts, '1970-01-01 00:00+00'), g, sum(m2), sum(m0), sum(m6),
                                         sum(mx), sum(mb), sum(mn), count(*))::text
                                FROM wp.ev3 GROUP BY date_bin('1 hour', ts, '1970-01-01 00:00+00'), g) d) AS tn_not_scratch;
SELECT g, s2, s0, s6, sx, sb, sn, n FROM wp.tn WHERE g IN ('zero', 'big', 's', 'i', 'j', 'k')
 ORDER BY window_start, g;

-- A writer's temporary table named pp_partials: the merge reads the
-- statement's own partials (an ephemeral relation takes precedence over
-- any table of that name), not the writer's rows.
CREATE ROLE wp_writer LOGIN;
GRANT USAGE ON SCHEMA wp TO wp_writer;
GRANT INSERT, SELECT ON wp.ev TO wp_writer;
GRANT USAGE ON SEQUENCE wp.ev_id_seq TO wp_writer;
SET ROLE wp_writer;
CREATE TEMP TABLE pp_partials AS SELECT * FROM wp.ev LIMIT 0;
INSERT INTO pg_temp.pp_partials (ts, g) VALUES ('2026-03-30 12:00+00', 'forged');
INSERT INTO wp.ev (ts, g, gn, i4) VALUES ('2026-03-30 12:01+00', 'a', 1, 10);
RESET ROLE;
SELECT count(*) AS forged_groups FROM wp.t1 WHERE g = 'forged';
SELECT * FROM wp.check('writer with a pp_partials table', false);
SELECT wp.scratch_diff() AS t1_from_scratch;

RESET timezone;
SET client_min_messages = warning;
DROP SCHEMA wp CASCADE;
DROP OWNED BY wp_writer;
DROP ROLE wp_writer;
DROP EXTENSION pg_pipeline;
