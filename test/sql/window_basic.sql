-- Windowed aggregates (issue 4): bad definitions refused with clear errors;
-- each window kind over a small fixed dataset; watermark and finality; late
-- rows under each policy; emit on close; NOTIFY payloads; retention,
-- rebuild, alter, drop; TRUNCATE, UPDATE and DELETE of the source; a
-- timestamp (without time zone) source, async mode and a sink.
-- Every maintained result is also compared with a from-scratch query over
-- the source (EXCEPT ALL both ways: missing = rows the window lacks,
-- extra = rows it should not have).
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SELECT count(*) AS pipeline_relations FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace \gset
CREATE SCHEMA wb;

-- a time on 2024-01-01 UTC
CREATE FUNCTION wb.t(hhmm text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT ('2024-01-01 ' || hhmm || '+00')::timestamptz $$;

-- the rows of a window relation that a from-scratch query does not give
-- (missing) and those it should not have (extra); the from-scratch query
-- names the columns to compare; is_final is expected where window_end <=
-- the window's watermark; final_only: only those rows are expected (emit
-- on_close)
CREATE FUNCTION wb.mismatch(win regclass, expected text, final_only boolean DEFAULT false,
                            OUT missing bigint, OUT extra bigint, OUT "rows" bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    exp text;
    act text;
BEGIN
    EXECUTE format('CREATE TEMP VIEW mismatch_expected AS %s', expected);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = 'mismatch_expected'::regclass AND attnum > 0;
    DROP VIEW mismatch_expected;
    exp := format('SELECT e.*, e.window_end <= s.watermark AS is_final
                     FROM (%s) e, pipeline.windows w JOIN pipeline.window_status s ON s.name = w.name
                    WHERE w.result::oid = %s AND (NOT %L OR e.window_end <= s.watermark)',
                  expected, win::oid, final_only);
    act := format('SELECT %s, is_final FROM %s', cols, win);
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', exp, act) INTO missing;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', act, exp) INTO extra;
    EXECUTE format('SELECT count(*) FROM %s', win) INTO "rows";
END
$$;

-- The NOTIFY payloads psql printed into a file (\o), one row each: psql
-- prints "Asynchronous notification ... received from server process with
-- PID n", and the PID changes from run to run, so the lines are parsed
-- here; any other line shows as unexpected.
CREATE FUNCTION wb.notifications(file text)
RETURNS TABLE (payload jsonb, from_this_session boolean, unexpected text)
LANGUAGE sql AS $$
    SELECT m[1]::jsonb, m[2]::int = pg_backend_pid(), CASE WHEN m IS NULL THEN line END
      FROM regexp_split_to_table(pg_read_file(file), E'\n') AS line,
           LATERAL regexp_match(line, '^Asynchronous notification "pipeline_window_closed" with payload "(.*)" received from server process with PID (\d+)\.$') AS m
     WHERE line <> ''
     ORDER BY m[1]::jsonb->>'window', m[1]::jsonb->>'window_start', m[1]::jsonb->>'window_end', line
$$;
\getenv abs_builddir PG_ABS_BUILDDIR
\set notify_file :abs_builddir '/window_basic.notify'

CREATE TABLE wb.ev (
    id      serial PRIMARY KEY,
    ts      timestamptz,
    page    text,
    user_id int,
    amount  numeric,
    note    text,
    day     date);
CREATE VIEW wb.ev_view AS SELECT * FROM wb.ev;
-- an aggregate without a combine function
CREATE AGGREGATE wb.plain_sum(int) (SFUNC = int4pl, STYPE = int);

--
-- Bad definitions: each refused with a clear error, nothing created.
--
-- unknown columns
SELECT pipeline.create_window('wb.w', 'wb.ev', 'nope', pipeline.tumble('5 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', group_by => '{nope}');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'sum(nope) AS s');
-- a time column that is not a timestamp
SELECT pipeline.create_window('wb.w', 'wb.ev', 'page', pipeline.tumble('5 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'user_id', pipeline.tumble('5 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'day', pipeline.tumble('5 min'), 'count(*) AS n');
-- zero, negative, month-based sizes
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('0'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('-5 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('1 mon'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.session('0'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.session('-1 min'), 'count(*) AS n');
-- hop: slide larger than size, size not a multiple of the slide, zero slide
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.hop('5 min', '10 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.hop('10 min', '3 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.hop('10 min', '0'), 'count(*) AS n');
-- cumulate: step larger than the maximum size, maximum not a multiple of the step
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.cumulate('10 min', '5 min'), 'count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.cumulate('4 min', '10 min'), 'count(*) AS n');
-- aggregates without a combine function (a user-defined one, string_agg, an
-- ordered-set one), something that is not an aggregate, bad syntax, nothing
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n, wb.plain_sum(user_id) AS s');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'string_agg(page, '','') AS pages');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'lower(page) AS p');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n,');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n) FROM wb.ev; DROP TABLE wb.ev; --');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n FROM wb.ev; DROP TABLE wb.ev; SELECT count(*) AS n');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), '');
-- bad option values
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', emit => 'sometimes');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', late_rows => 'ignore');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', mode => 'eventually');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', allowed_lateness => '-1 min');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', retention => '-1 day');
SELECT pipeline.create_window('wb.w', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', sink => 'no_such_sink');
-- the result would overwrite an existing relation
SELECT pipeline.create_window('wb.ev_view', 'wb.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n');
-- nothing was created
SELECT count(*) AS windows FROM pipeline.windows;
SELECT to_regclass('wb.w') AS w, to_regclass('wb.w_late') AS w_late;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'wb.ev'::regclass;
SELECT count(*) = :pipeline_relations AS no_new_pipeline_relations FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace;

--
-- Each window kind over a small fixed dataset, by page (NULL is a page too);
-- the rows already there are aggregated at creation, then COPY adds more.
--
INSERT INTO wb.ev (id, ts, page, user_id, amount) VALUES
    (1, wb.t('00:01'), 'a', 1, 10),
    (2, wb.t('00:02'), 'a', 2, 5),
    (3, wb.t('00:04'), 'b', 1, 7),
    (4, wb.t('00:06'), 'a', 1, 3),
    (7, wb.t('00:03'), NULL, 4, 4),
    (8, wb.t('00:07'), 'b', 1, 6),
    (10, NULL, 'a', 9, 100);          -- no time: in no window
SELECT pipeline.create_window('wb.a_tumble', 'wb.ev', 'ts', pipeline.tumble('5 min'),
    'count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top',
    group_by => '{page}');
-- (that notice once is enough: an index on the time column)
CREATE INDEX ON wb.ev (ts);
SELECT pipeline.create_window('wb.a_hop', 'wb.ev', 'ts', pipeline.hop('10 min', '5 min'),
    'count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top',
    group_by => '{page}');
SELECT pipeline.create_window('wb.a_cumulate', 'wb.ev', 'ts', pipeline.cumulate('5 min', '15 min'),
    'count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top',
    group_by => '{page}');
SELECT pipeline.create_window('wb.a_session', 'wb.ev', 'ts', pipeline.session('3 min'),
    'count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top',
    group_by => '{page}');
-- the same name again
SELECT pipeline.create_window('wb.a_tumble', 'wb.ev', 'ts', pipeline.tumble('10 min'), 'count(*) AS n');

-- from-scratch queries for each kind
-- (win as text: alter_window makes a new relation)
CREATE TABLE wb.expect (win text PRIMARY KEY, query text NOT NULL);
INSERT INTO wb.expect VALUES
('wb.a_tumble', $q$
SELECT date_bin('5 min', ts, '1970-01-01 00:00+00') AS window_start,
       date_bin('5 min', ts, '1970-01-01 00:00+00') + interval '5 min' AS window_end, page,
       count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top
  FROM wb.ev WHERE ts IS NOT NULL GROUP BY 1, 2, 3 $q$),
('wb.a_hop', $q$
SELECT w.ws AS window_start, w.ws + interval '10 min' AS window_end, page,
       count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top
  FROM wb.ev, LATERAL (SELECT date_bin('5 min', ts, '1970-01-01 00:00+00') - i * interval '5 min' AS ws
                         FROM generate_series(0, 1) i) w
 WHERE ts IS NOT NULL GROUP BY 1, 2, 3 $q$),
('wb.a_cumulate', $q$
SELECT date_bin('15 min', ts, '1970-01-01 00:00+00') AS window_start,
       date_bin('15 min', ts, '1970-01-01 00:00+00') + j * interval '5 min' AS window_end, page,
       count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top
  FROM wb.ev, generate_series(1, 3) j
 WHERE ts < date_bin('15 min', ts, '1970-01-01 00:00+00') + j * interval '5 min'
 GROUP BY 1, 2, 3 $q$),
('wb.a_session', $q$
SELECT min(ts) AS window_start, max(ts) + interval '3 min' AS window_end, page,
       count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount, avg(amount) AS avg_amount, max(amount) AS top
  FROM (SELECT *, sum(brk) OVER (PARTITION BY page ORDER BY ts, id) AS sid
          FROM (SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY page ORDER BY ts, id) < interval '3 min'
                               THEN 0 ELSE 1 END AS brk
                  FROM wb.ev WHERE ts IS NOT NULL) b) s
 GROUP BY page, sid $q$);
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;

COPY wb.ev (id, ts, page, user_id, amount) FROM stdin;
5	2024-01-01 00:11:00+00	b	3	1
6	2024-01-01 00:12:00+00	a	2	2
9	2024-01-01 00:10:00+00	a	1	\N
\.
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_tumble ORDER BY window_start, window_end, page;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_hop ORDER BY window_start, window_end, page;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_cumulate ORDER BY window_start, window_end, page;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_session ORDER BY page, window_start;
-- the visible columns, and the unique index on the window and groups
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'wb.a_tumble'::regclass AND attnum > 0 AND NOT attisdropped
   AND attname NOT LIKE 'pp\_%' ORDER BY attnum;
SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \S+ ON', 'INDEX ON') AS unique_index
  FROM pg_index WHERE indrelid = 'wb.a_tumble'::regclass AND indisunique;
SELECT name, kind, size, slide, group_by, emit, late_rows, mode, allowed_lateness, retention
  FROM pipeline.windows ORDER BY name;
SELECT name, kind, mode, emit, watermark, max_event_time FROM pipeline.window_status ORDER BY name;

-- UPDATE and DELETE of source rows
UPDATE wb.ev SET note = 'seen';                                  -- no column a window reads
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
UPDATE wb.ev SET page = 'a' WHERE id = 5;                        -- another group
UPDATE wb.ev SET ts = wb.t('00:09'), amount = 8 WHERE id = 9;    -- another window, a final one
UPDATE wb.ev SET user_id = 2 WHERE id = 4;                       -- distinct users change
DELETE FROM wb.ev WHERE id = 2;                                  -- from a final window
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_tumble ORDER BY window_start, window_end, page;
SELECT window_start, window_end, page, views, users, amount, round(avg_amount, 2) AS avg_amount, top, is_final
  FROM wb.a_session ORDER BY page, window_start;
DELETE FROM wb.ev WHERE page = 'b';                              -- a whole group goes
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
SELECT count(*) AS b_rows_left FROM wb.a_tumble WHERE page = 'b';
UPDATE wb.ev SET ts = NULL WHERE id = 7;                         -- out of every window
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
UPDATE wb.ev SET ts = wb.t('00:03') WHERE id = 7;                -- and back
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;

-- TRUNCATE empties every window and resets the watermark; new rows count again
TRUNCATE wb.ev;
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
SELECT name, watermark, max_event_time, open_windows, final_windows FROM pipeline.window_status ORDER BY name;
INSERT INTO wb.ev (ts, page, user_id, amount) VALUES
    (wb.t('01:01'), 'a', 1, 1), (wb.t('01:02'), 'b', 2, 2), (wb.t('01:09'), 'a', 3, 3);
SELECT win, (wb.mismatch(win::regclass, query)).* FROM wb.expect ORDER BY win;
SELECT name, watermark, max_event_time FROM pipeline.window_status ORDER BY name;

SELECT pipeline.drop_window('wb.a_tumble');
SELECT pipeline.drop_window('wb.a_hop');
SELECT pipeline.drop_window('wb.a_cumulate');
SELECT pipeline.drop_window('wb.a_session');
DELETE FROM wb.expect;

--
-- Watermark, finality, late rows, emit on close, NOTIFY: four tumbling
-- windows of 5 minutes with 2 minutes of allowed lateness over one source,
-- one per late-row policy and one emitting on close.
--
CREATE TABLE wb.clicks (id serial PRIMARY KEY, ts timestamptz NOT NULL, page text NOT NULL, n int NOT NULL DEFAULT 1);
CREATE INDEX ON wb.clicks (ts);
SELECT pipeline.create_window('wb.c_update', 'wb.clicks', 'ts', pipeline.tumble('5 min'),
    'count(*) AS clicks, sum(n) AS n', group_by => '{page}', allowed_lateness => '2 min');
SELECT pipeline.create_window('wb.c_drop', 'wb.clicks', 'ts', pipeline.tumble('5 min'),
    'count(*) AS clicks, sum(n) AS n', group_by => '{page}', allowed_lateness => '2 min', late_rows => 'drop');
SELECT pipeline.create_window('wb.c_side', 'wb.clicks', 'ts', pipeline.tumble('5 min'),
    'count(*) AS clicks, sum(n) AS n', group_by => '{page}', allowed_lateness => '2 min', late_rows => 'side_table');
SELECT pipeline.create_window('wb.c_close', 'wb.clicks', 'ts', pipeline.tumble('5 min'),
    'count(*) AS clicks, sum(n) AS n', group_by => '{page}', allowed_lateness => '2 min', emit => 'on_close');
INSERT INTO wb.expect VALUES ('wb.c_update', $q$
SELECT date_bin('5 min', ts, '1970-01-01 00:00+00') AS window_start,
       date_bin('5 min', ts, '1970-01-01 00:00+00') + interval '5 min' AS window_end, page,
       count(*) AS clicks, sum(n) AS n
  FROM wb.clicks GROUP BY 1, 2, 3 $q$);
-- on close: a view of the final rows, without internal columns; its state
-- table lives in schema pipeline
SELECT relkind FROM pg_class WHERE oid = 'wb.c_close'::regclass;
SELECT attname FROM pg_attribute WHERE attrelid = 'wb.c_close'::regclass AND attnum > 0 ORDER BY attnum;
-- the side table
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'wb.c_side_late'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- nothing but the results and the side table in the user's schema: the
-- on-close state table lives in schema pipeline
SELECT relname, relkind FROM pg_class WHERE relnamespace = 'wb'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
SELECT count(*) AS state_tables FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace AND relkind = 'r'
   AND oid NOT IN (SELECT c.oid FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
                    WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_pipeline') AND d.deptype = 'e');
LISTEN pipeline_window_closed;

-- 1. max 00:03, watermark 00:01: nothing final
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:01'), 'a'), (wb.t('00:02'), 'b'), (wb.t('00:03'), 'a');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, watermark, max_event_time, open_windows, final_windows, late_rows FROM pipeline.window_status ORDER BY name;
SELECT * FROM wb.c_close;
-- 2. max 00:06, watermark 00:04: [00:00, 00:05) still open
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:06'), 'a');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT watermark, max_event_time FROM pipeline.window_status WHERE name::text LIKE '%c_update';
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_update ORDER BY 1, 2, 3;
SELECT * FROM wb.c_close;
-- 3. max 00:07, watermark 00:05: [00:00, 00:05) is final in every window, announced once per window
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:07'), 'b');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, watermark, max_event_time, open_windows, final_windows, late_rows FROM pipeline.window_status ORDER BY name;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_update ORDER BY 1, 2, 3;
SELECT * FROM wb.c_close ORDER BY 1, 2, 3;
-- 4. a late row (00:04, final window) and one behind the watermark but in an
-- open window (00:05:30): only the first is late
\o :notify_file
INSERT INTO wb.clicks (ts, page, n) VALUES (wb.t('00:04'), 'a', 10), (wb.t('00:05:30'), 'b', 100);
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, watermark, max_event_time, late_rows FROM pipeline.window_status ORDER BY name;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_update ORDER BY 1, 2, 3;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_drop ORDER BY 1, 2, 3;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_side ORDER BY 1, 2, 3;
SELECT * FROM wb.c_close ORDER BY 1, 2, 3;
SELECT reason, watermark, ts, page, "row" - 'id' AS "row" FROM wb.c_side_late ORDER BY ts;
SELECT (wb.mismatch('wb.c_update', query)).* FROM wb.expect WHERE win = 'wb.c_update';
SELECT (wb.mismatch('wb.c_close', query, final_only => true)).* FROM wb.expect WHERE win = 'wb.c_update';
-- 5. the watermark never goes back: another late row (00:02) and an on-time
-- one (00:09, max 00:09, watermark 00:07)
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:02'), 'b');
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:09'), 'c');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, watermark, max_event_time, late_rows FROM pipeline.window_status ORDER BY name;
-- 6. max 00:13, watermark 00:11: [00:05, 00:10) closes with 3 pages
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:13'), 'c');
\o
SELECT * FROM wb.notifications(:'notify_file');
-- 7. max 00:31, watermark 00:29: [00:10, 00:15) closes; the empty windows
-- between are not announced
\o :notify_file
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:31'), 'a');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, watermark, max_event_time, open_windows, final_windows, late_rows FROM pipeline.window_status ORDER BY name;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_update ORDER BY 1, 2, 3;
SELECT * FROM wb.c_close ORDER BY 1, 2, 3;
-- 8. UPDATE and DELETE touching a final window follow the late-row policy:
-- the 00:01 row moves to page c (update fixes; drop and side_table ignore
-- and count), then the 00:03 row is deleted
\o :notify_file
UPDATE wb.clicks SET page = 'c' WHERE ts = wb.t('00:01');
DELETE FROM wb.clicks WHERE ts = wb.t('00:03');
\o
SELECT * FROM wb.notifications(:'notify_file');
SELECT name, late_rows FROM pipeline.window_status ORDER BY name;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_update WHERE window_end <= wb.t('00:05') ORDER BY 1, 2, 3;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_drop WHERE window_end <= wb.t('00:05') ORDER BY 1, 2, 3;
SELECT window_start, window_end, page, clicks, n, is_final FROM wb.c_side WHERE window_end <= wb.t('00:05') ORDER BY 1, 2, 3;
SELECT * FROM wb.c_close WHERE window_end <= wb.t('00:05') ORDER BY 1, 2, 3;
SELECT reason, watermark, ts, page, "row" - 'id' AS "row" FROM wb.c_side_late ORDER BY ts, reason;
SELECT (wb.mismatch('wb.c_update', query)).* FROM wb.expect WHERE win = 'wb.c_update';
SELECT (wb.mismatch('wb.c_close', query, final_only => true)).* FROM wb.expect WHERE win = 'wb.c_update';
UNLISTEN *;

-- drop: the side table and the state table of the on-close window go too;
-- the source has no trigger left and takes rows as before
SELECT pipeline.drop_window('wb.c_update');
SELECT pipeline.drop_window('wb.c_drop');
SELECT pipeline.drop_window('wb.c_side');
SELECT pipeline.drop_window('wb.c_close');
SELECT pipeline.drop_window('wb.c_close');
SELECT pipeline.drop_window('wb.clicks');
SELECT to_regclass('wb.c_update') AS c_update, to_regclass('wb.c_side_late') AS c_side_late, to_regclass('wb.c_close') AS c_close;
SELECT count(*) AS windows FROM pipeline.windows;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'wb.clicks'::regclass;
SELECT count(*) = :pipeline_relations AS no_pipeline_relations_left FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace;
INSERT INTO wb.clicks (ts, page) VALUES (wb.t('00:40'), 'a');
DELETE FROM wb.expect;

--
-- Retention: windows whose end is before watermark - retention are dropped,
-- also at creation.
--
CREATE TABLE wb.r (id serial PRIMARY KEY, ts timestamptz NOT NULL, page text, v int);
CREATE INDEX ON wb.r (ts);
INSERT INTO wb.r (ts, page, v) VALUES
    (wb.t('00:01'), 'a', 1), (wb.t('00:06'), 'a', 2), (wb.t('00:11'), 'b', 3), (wb.t('00:16'), 'a', 4), (wb.t('00:20'), 'b', 5);
-- watermark 00:20, retention 10 min: [00:00, 00:05) goes, [00:05, 00:10) ends exactly at 00:10 and stays
SELECT pipeline.create_window('wb.r_kept', 'wb.r', 'ts', pipeline.tumble('5 min'), 'count(*) AS n, sum(v) AS v',
    retention => '10 min', late_rows => 'drop');
SELECT window_start, window_end, n, v, is_final FROM wb.r_kept ORDER BY 1;
INSERT INTO wb.r (ts, page, v) VALUES (wb.t('00:21'), 'a', 6);
SELECT window_start, window_end, n, v, is_final FROM wb.r_kept ORDER BY 1;
INSERT INTO wb.r (ts, page, v) VALUES (wb.t('00:02'), 'a', 7);   -- late, dropped
SELECT window_start, window_end, n, v, is_final FROM wb.r_kept ORDER BY 1;
SELECT name, retention FROM pipeline.windows;
SELECT name, watermark, late_rows FROM pipeline.window_status;
SELECT pipeline.drop_window('wb.r_kept');

--
-- rebuild_window: a damaged result is rebuilt from the source, for a time
-- range or all of it; alter_window changes the definition and rebuilds.
--
SELECT pipeline.create_window('wb.r_all', 'wb.r', 'ts', pipeline.tumble('5 min'), 'count(*) AS n, sum(v) AS v');
INSERT INTO wb.expect VALUES ('wb.r_all', $q$
SELECT date_bin('5 min', ts, '1970-01-01 00:00+00') AS window_start,
       date_bin('5 min', ts, '1970-01-01 00:00+00') + interval '5 min' AS window_end,
       count(*) AS n, sum(v) AS v
  FROM wb.r GROUP BY 1, 2 $q$);
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
UPDATE wb.r_all SET v = -1;
DELETE FROM wb.r_all WHERE window_start IN (wb.t('00:05'), wb.t('00:15'));
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
SELECT pipeline.rebuild_window('wb.r_all', wb.t('00:05'), wb.t('00:15'));
SELECT window_start, window_end, n, v, is_final FROM wb.r_all ORDER BY 1;
SELECT pipeline.rebuild_window('wb.r_all');
SELECT window_start, window_end, n, v, is_final FROM wb.r_all ORDER BY 1;
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
SELECT pipeline.rebuild_window('wb.r');
-- alter: a 10-minute hopping window by page with other aggregates
SELECT pipeline.alter_window('wb.r_all', window_spec => pipeline.hop('10 min', '5 min'),
    aggregates => 'count(*) AS n, max(v) AS top, count(DISTINCT v) AS distinct_v', group_by => '{page}');
SELECT attname FROM pg_attribute WHERE attrelid = 'wb.r_all'::regclass AND attnum > 0 AND NOT attisdropped
   AND attname NOT LIKE 'pp\_%' ORDER BY attnum;
SELECT window_start, window_end, page, n, top, distinct_v, is_final FROM wb.r_all ORDER BY 1, 2, 3;
UPDATE wb.expect SET query = $q$
SELECT w.ws AS window_start, w.ws + interval '10 min' AS window_end, page,
       count(*) AS n, max(v) AS top, count(DISTINCT v) AS distinct_v
  FROM wb.r, LATERAL (SELECT date_bin('5 min', ts, '1970-01-01 00:00+00') - i * interval '5 min' AS ws
                        FROM generate_series(0, 1) i) w
 GROUP BY 1, 2, 3 $q$;
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
INSERT INTO wb.r (ts, page, v) VALUES (wb.t('00:24'), 'b', 8), (wb.t('00:30'), 'a', 9);
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
-- a bad alter changes nothing
SELECT pipeline.alter_window('wb.r_all', emit => 'never');
SELECT pipeline.alter_window('wb.r_all', window_spec => pipeline.hop('10 min', '4 min'));
SELECT pipeline.alter_window('wb.r_all', aggregates => 'string_agg(page, '','') AS pages');
SELECT name, kind, size, slide, group_by, aggregates, emit FROM pipeline.windows;
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
-- alter to async: maintained by the worker, flush_window merges now
SELECT pipeline.alter_window('wb.r_all', mode => 'async');
INSERT INTO wb.r (ts, page, v) VALUES (wb.t('00:26'), 'b', 10), (wb.t('00:33'), NULL, 11);
DELETE FROM wb.r WHERE v = 2;
SELECT pipeline.flush_window('wb.r_all') >= 0 AS flushed;
SELECT name, mode, pending_delta FROM pipeline.window_status;
-- the delta lives in schema pipeline, as window_delta_<id>
SELECT count(*) AS delta_tables FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace AND relname ~ '^window_delta_[0-9]+$';
SELECT relname FROM pg_class WHERE relnamespace = 'wb'::regnamespace AND relkind IN ('r', 'v') AND relname LIKE 'r%' ORDER BY 1;
SELECT (wb.mismatch(win::regclass, query)).* FROM wb.expect;
SELECT pipeline.drop_window('wb.r_all');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'wb.r'::regclass;
DELETE FROM wb.expect;

--
-- A timestamp (without time zone) column, no group, and a quoted name with
-- a side table; closed windows published to a (paused) sink as JSON.
--
CREATE TABLE wb.lt (ts timestamp, v int);
CREATE INDEX ON wb.lt (ts);
INSERT INTO wb.lt VALUES ('2024-01-01 00:10', 1), ('2024-01-01 00:50', 2), ('2024-01-01 01:20', 3);
SELECT pipeline.create_window('wb."Hourly Sums"', 'wb.lt', 'ts', pipeline.hop('1 hour', '30 min'),
    'count(*) AS n, sum(v) AS v', late_rows => 'side_table');
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
 WHERE attrelid = 'wb."Hourly Sums"'::regclass AND attname IN ('window_start', 'window_end') ORDER BY attname;
SELECT window_start, window_end, n, v, is_final FROM wb."Hourly Sums" ORDER BY 1;
INSERT INTO wb.lt VALUES ('2024-01-01 00:20', 4);   -- late for [00:00, 01:00)
SELECT window_start, window_end, n, v, is_final FROM wb."Hourly Sums" ORDER BY 1;
SELECT reason, ts, "row" FROM wb."Hourly Sums_late";
SELECT pipeline.drop_window('wb."Hourly Sums"');
SELECT to_regclass('wb."Hourly Sums_late"') AS side_table;

CREATE SERVER wb_kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
BEGIN;
SELECT pipeline.create_sink('wb_sink', 'wb_kafka', 'windows');
SELECT pipeline.pause_sink('wb_sink');
COMMIT;
CREATE TABLE wb.s (ts timestamptz, page text);
CREATE INDEX ON wb.s (ts);
SELECT pipeline.create_window('wb.sunk', 'wb.s', 'ts', pipeline.tumble('5 min'), 'count(*) AS clicks', group_by => '{page}', sink => 'wb_sink');
INSERT INTO wb.s (ts, page) VALUES (wb.t('00:41'), 'b'), (wb.t('00:42'), 'a'), (wb.t('00:43'), 'b');
SELECT count(*) AS published FROM pipeline.outbox WHERE sink = 'wb_sink';
INSERT INTO wb.s (ts, page) VALUES (wb.t('00:52'), 'a');
SELECT payload::jsonb FROM pipeline.outbox WHERE sink = 'wb_sink' ORDER BY id;
SELECT pipeline.drop_window('wb.sunk');
SELECT pipeline.drop_sink('wb_sink');
DROP SERVER wb_kafka;

SELECT count(*) AS windows FROM pipeline.windows;
SELECT count(*) = :pipeline_relations AS no_pipeline_relations_left FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace;
SET client_min_messages = warning;
DROP SCHEMA wb CASCADE;
DROP EXTENSION pg_pipeline;
