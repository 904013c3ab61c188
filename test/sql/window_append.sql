-- Window aggregates in mode append (0.12.0): what create_window refuses; the
-- relations it makes (a view over the state and the partials); writers'
-- statements leaving partial rows that the view combines, right before any
-- fold; flush_window folding them (the view unchanged); the announcements
-- made by the fold, with "fix" for a late row into a final window; the
-- late-row policies; emit on_close; NULL groups; TRUNCATE; rebuild_window
-- with pending partials; alter_window between the modes; drop_window and
-- DROP TABLE ... CASCADE; window_status.pending_delta; a writer without
-- rights on the window's tables and a reader of the view only; a statement
-- that deletes or updates rows and inserts rows of the same source.
--
-- The maintainer folds committed partials on its own, at a time of its
-- choosing: what depends on whether a fold happened (partial rows,
-- is_final, NOTIFY) is shown inside a transaction, whose partials only
-- this session sees, and folded there with flush_window.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE SCHEMA wp;

-- a time on 2024-01-01 UTC
CREATE FUNCTION wp.t(hhmm text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$ SELECT ('2024-01-01 ' || hhmm || '+00')::timestamptz $$;

-- a statement's error as SQLSTATE and message ('ok' when it succeeds)
CREATE FUNCTION wp.try(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- The rows of a window relation that a from-scratch query does not give
-- (missing) and those it should not have (extra), is_final left out (the
-- fold sets it, at a time of the maintainer's choosing).
CREATE FUNCTION wp.mismatch(win regclass, expected text,
                            OUT missing bigint, OUT extra bigint, OUT "rows" bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    act text;
BEGIN
    EXECUTE format('CREATE TEMP VIEW mismatch_expected AS %s', expected);
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = 'mismatch_expected'::regclass AND attnum > 0;
    DROP VIEW mismatch_expected;
    act := format('SELECT %s FROM %s', cols, win);
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', expected, act) INTO missing;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', act, expected) INTO extra;
    EXECUTE format('SELECT count(*) FROM %s', win) INTO "rows";
END
$$;

-- The NOTIFY payloads psql printed into a file (\o), one row each (as in
-- window_basic: the PID changes from run to run, so the lines are parsed).
CREATE FUNCTION wp.notifications(file text)
RETURNS TABLE (payload jsonb, from_this_session boolean, unexpected text)
LANGUAGE sql AS $$
    SELECT m[1]::jsonb, m[2]::int = pg_backend_pid(), CASE WHEN m IS NULL THEN line END
      FROM regexp_split_to_table(pg_read_file(file), E'\n') AS line,
           LATERAL regexp_match(line, '^Asynchronous notification "pipeline_window_closed" with payload "(.*)" received from server process with PID (\d+)\.$') AS m
     WHERE line <> ''
     ORDER BY m[1]::jsonb->>'window', m[1]::jsonb->>'window_start', m[1]::jsonb->>'window_end', line
$$;
\getenv abs_builddir PG_ABS_BUILDDIR
\set notify_file :abs_builddir '/window_append.notify'

CREATE TABLE wp.ev (
    id      serial PRIMARY KEY,
    ts      timestamptz NOT NULL,
    page    text,
    user_id int,
    amount  numeric(10,2));
CREATE INDEX ON wp.ev (ts);
-- an aggregate without a combine function
CREATE AGGREGATE wp.plain_sum(int) (SFUNC = int4pl, STYPE = int);
\set aggs 'count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS total, avg(amount) AS mean, min(user_id) AS lo, max(amount) AS hi'
-- the from-scratch query of a 5-minute tumbling window by page
\set scratch 'SELECT date_bin(''5 min'', ts, ''1970-01-01 00:00+00'') AS window_start, date_bin(''5 min'', ts, ''1970-01-01 00:00+00'') + interval ''5 min'' AS window_end, page, count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS total, avg(amount) AS mean, min(user_id) AS lo, max(amount) AS hi FROM wp.ev GROUP BY 1, 2, 3'

--
-- Refused: session windows and aggregates whose partials do not combine
-- (those without a combine function are refused for every mode, the others
-- that append does not keep by its own check), with SQLSTATE 0A000 and a
-- hint; nothing is created.
--
SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.session('5 min'), 'count(*) AS n', mode => 'append');
SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.tumble('5 min'),
    'count(*) AS n, string_agg(page, '','') AS pages', mode => 'append');
SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.hop('10 min', '5 min'),
    'wp.plain_sum(user_id) AS s', mode => 'append');
SELECT wp.try($$SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.session('5 min'), 'count(*) AS n', mode => 'append')$$);
SELECT wp.try($$SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.tumble('5 min'), 'string_agg(page, '','') AS pages', mode => 'append')$$);
SELECT wp.try($$SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.cumulate('5 min', '20 min'), 'wp.plain_sum(user_id) AS s', mode => 'append')$$);
SELECT wp.try($$SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.tumble('5 min'), 'bool_and(amount > 0) AS b', mode => 'append')$$);
SELECT wp.try($$SELECT pipeline.create_window('wp.bad', 'wp.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n', mode => 'appendix')$$);
SELECT count(*) AS windows FROM pipeline.windows;
SELECT relname FROM pg_class WHERE relnamespace = 'wp'::regnamespace AND relname LIKE 'bad%';

--
-- The relations: the result is a view, beside it the state table and the
-- partials table (the catalog's delta_table).
--
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES
    (wp.t('00:00:30'), 'a', 1, 1.50), (wp.t('00:01'), 'b', 2, 2.25);
SELECT pipeline.create_window('wp.w', 'wp.ev', 'ts', pipeline.tumble('5 min'), :'aggs',
    group_by => '{page}', mode => 'append', allowed_lateness => '2 min');
\d wp.w
\d wp.w_state
\d wp.w_partials
SELECT relname, relkind FROM pg_class WHERE relnamespace = 'wp'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
SELECT result, state_table, delta_table, late_table, mode FROM pipeline.windows;
-- filled at creation, into the state: no partials
SELECT count(*) AS partials FROM wp.w_partials;
SELECT window_start, window_end, page, n, users, total, mean, lo, hi, is_final FROM wp.w ORDER BY 1, 2, 3;

--
-- Writers append partials (one row per statement, window and group; INSERT
-- and COPY); the view combines them with the state: right before any fold.
--
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES
    (wp.t('00:01:30'), 'a', 3, 4.00), (wp.t('00:02'), 'b', 2, 1.00), (wp.t('00:02:30'), 'a', 1, 2.50);
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:03'), NULL, 4, 10.00);
COPY wp.ev (ts, page, user_id, amount) FROM stdin;
2024-01-01 00:03:10+00	a	5	0.75
2024-01-01 00:03:20+00	c	6	\N
\.
-- 2 + 1 + 2 partial rows; the state as it was
SELECT count(*) AS partials, count(DISTINCT (pp_ws, pp_we, page)) AS groups FROM wp.w_partials;
SELECT window_start, page, n, is_final FROM wp.w_state ORDER BY 1, 2;
SELECT name, mode, pending_delta, max_event_time, watermark FROM pipeline.window_status;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT window_start, window_end, page, n, users, total, mean, lo, hi, is_final FROM wp.w ORDER BY 1, 2, 3;
CREATE TEMP TABLE before_fold AS SELECT * FROM wp.w;
-- the fold: partials into the state; the view the same
SELECT pipeline.flush_window('wp.w') AS state_rows_written;
SELECT count(*) AS partials FROM wp.w_partials;
SELECT name, pending_delta FROM pipeline.window_status;
SELECT count(*) AS changed FROM ((TABLE before_fold EXCEPT ALL TABLE wp.w) UNION ALL (TABLE wp.w EXCEPT ALL TABLE before_fold)) d;
SELECT window_start, page, n, users, total, is_final FROM wp.w_state ORDER BY 1, 2;
COMMIT;
DROP TABLE before_fold;
SELECT * FROM wp.mismatch('wp.w', :'scratch');

--
-- Announcements come from the fold.  Max 00:08, watermark 00:06: the writer
-- does not close [00:00, 00:05); the fold does, and announces it.
--
LISTEN pipeline_window_closed;
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:08'), 'a', 1, 3.00);
SELECT name, pending_delta, watermark FROM pipeline.window_status;
SELECT window_start, page, n, is_final FROM wp.w ORDER BY 1, 2;
\o :notify_file
SELECT pipeline.flush_window('wp.w') AS folded \gset
COMMIT;
\o
SELECT * FROM wp.notifications(:'notify_file');
SELECT window_start, page, n, is_final FROM wp.w ORDER BY 1, 2;
-- a late row (00:04, final window): counted at once, announced again by
-- the fold as a fix
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:04'), 'b', 9, 5.00);
SELECT count(*) AS partials FROM wp.w_partials;
SELECT window_start, page, n, users, total, is_final FROM wp.w WHERE page = 'b' ORDER BY 1;
SELECT name, late_rows FROM pipeline.window_status;
\o :notify_file
SELECT pipeline.flush_window('wp.w') AS folded \gset
COMMIT;
\o
SELECT * FROM wp.notifications(:'notify_file');
SELECT * FROM wp.mismatch('wp.w', :'scratch');
-- nothing to fold: nothing announced
\o :notify_file
SELECT pipeline.flush_window('wp.w') AS folded \gset
\o
SELECT * FROM wp.notifications(:'notify_file');
UNLISTEN *;

--
-- Late rows under drop and side_table (the writer judges lateness), and
-- emit on_close (only the final rows, which the fold makes).
--
SELECT pipeline.create_window('wp.w_drop', 'wp.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n, sum(amount) AS total',
    group_by => '{page}', mode => 'append', allowed_lateness => '2 min', late_rows => 'drop');
SELECT pipeline.create_window('wp.w_side', 'wp.ev', 'ts', pipeline.tumble('5 min'), 'count(*) AS n, sum(amount) AS total',
    group_by => '{page}', mode => 'append', allowed_lateness => '2 min', late_rows => 'side_table');
SELECT pipeline.create_window('wp.w_close', 'wp.ev', 'ts', pipeline.hop('10 min', '5 min'), 'count(*) AS n, max(amount) AS hi',
    group_by => '{page}', mode => 'append', emit => 'on_close');
SELECT relname, relkind FROM pg_class WHERE relnamespace = 'wp'::regnamespace AND relname LIKE 'w\_%' AND relkind IN ('r', 'v') ORDER BY 1;
BEGIN;
-- late (window [00:00, 00:05) is final, watermark 00:06) and on time
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:02'), 'a', 7, 100.00), (wp.t('00:07'), 'a', 7, 1.00);
SELECT name, late_rows, pending_delta FROM pipeline.window_status ORDER BY name;
SELECT window_start, page, n, total, is_final FROM wp.w_drop WHERE page = 'a' ORDER BY 1;
SELECT window_start, page, n, total, is_final FROM wp.w_side WHERE page = 'a' ORDER BY 1;
SELECT reason, watermark, ts, page, "row" - 'id' AS "row" FROM wp.w_side_late;
-- on_close: max 00:08, watermark 00:08: [23:55, 00:05) and [00:00, 00:10) not final yet
SELECT * FROM wp.w_close ORDER BY 1, 2, 3;
-- max 00:12: [00:00, 00:10) passes the watermark, but only the fold shows it
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:12'), 'c', 1, 1.00);
SELECT * FROM wp.w_close ORDER BY 1, 2, 3;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT * FROM wp.w_close ORDER BY 1, 2, 3;
SELECT window_start, page, n, total, is_final FROM wp.w_drop WHERE page = 'a' ORDER BY 1;
SELECT window_start, page, n, total, is_final FROM wp.w_side WHERE page = 'a' ORDER BY 1;
COMMIT;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT pipeline.drop_window('wp.w_drop');
SELECT pipeline.drop_window('wp.w_side');
SELECT pipeline.drop_window('wp.w_close');

--
-- NULL is one group: partials of several statements and the state's row
-- make one row of the view.
--
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:13'), NULL, 1, 1.00);
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:14'), NULL, 2, 2.00);
SELECT count(*) AS partials FROM wp.w_partials WHERE page IS NULL;
SELECT window_start, page, n, users, total FROM wp.w WHERE page IS NULL ORDER BY 1;
SELECT pipeline.flush_window('wp.w') >= 0 AS flushed;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:14:30'), NULL, 2, 3.00);
SELECT window_start, page, n, users, total FROM wp.w WHERE page IS NULL ORDER BY 1;
SELECT window_start, page, n FROM wp.w_state WHERE page IS NULL ORDER BY 1;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT pipeline.flush_window('wp.w') >= 0 AS flushed;
COMMIT;

--
-- UPDATE and DELETE recompute from the source and take out the partials of
-- the groups they recompute (never counted twice).
--
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:11'), 'a', 8, 8.00), (wp.t('00:11:30'), 'b', 8, 8.00);
SELECT count(*) AS partials FROM wp.w_partials;
UPDATE wp.ev SET amount = amount + 1 WHERE ts = wp.t('00:11');
SELECT count(*) AS partials FROM wp.w_partials;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
DELETE FROM wp.ev WHERE ts = wp.t('00:11:30');
UPDATE wp.ev SET page = 'b' WHERE ts = wp.t('00:14:30');
SELECT count(*) AS partials FROM wp.w_partials;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
COMMIT;
SELECT * FROM wp.mismatch('wp.w', :'scratch');

--
-- rebuild_window with pending partials: those of the range rebuilt are
-- dropped (their rows are read from the source), the others stay.
--
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:06'), 'c', 3, 3.00), (wp.t('00:16'), 'c', 3, 3.00);
SELECT pp_ws, page, pp_rows FROM wp.w_partials ORDER BY 1, 2;
SELECT pipeline.rebuild_window('wp.w', wp.t('00:05'), wp.t('00:10')) AS rebuilt;
SELECT pp_ws, page, pp_rows FROM wp.w_partials ORDER BY 1, 2;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT pipeline.rebuild_window('wp.w') AS rebuilt;
SELECT count(*) AS partials FROM wp.w_partials;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
COMMIT;

--
-- TRUNCATE of the source empties the state and the partials.
--
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:21'), 'a', 1, 1.00);
SELECT count(*) AS partials FROM wp.w_partials;
TRUNCATE wp.ev;
SELECT count(*) AS partials FROM wp.w_partials;
SELECT count(*) AS state_rows FROM wp.w_state;
SELECT count(*) AS view_rows FROM wp.w;
SELECT name, max_event_time, watermark, pending_delta FROM pipeline.window_status;
ROLLBACK;
SELECT * FROM wp.mismatch('wp.w', :'scratch');

--
-- A statement that deletes (or updates) rows of the source and inserts
-- others: the inserted rows count once.  The DELETE's (UPDATE's) trigger
-- recomputes the groups from the source, which holds the inserted rows
-- already; the INSERT's trigger then adds them again.  A sync window with
-- aggregates that all combine (its inserts take the same path) is checked
-- beside.
--
SELECT pipeline.create_window('wp.w_sync', 'wp.ev', 'ts', pipeline.tumble('5 min'), :'aggs', group_by => '{page}');
-- a delete and an insert in one statement (a data-modifying WITH)
WITH moved AS (DELETE FROM wp.ev WHERE ts = wp.t('00:02:30') RETURNING *)
INSERT INTO wp.ev (ts, page, user_id, amount) SELECT ts - interval '1 min', page, user_id + 100, amount FROM moved;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT * FROM wp.mismatch('wp.w_sync', :'scratch');
-- INSERT ... ON CONFLICT DO UPDATE: one row updated, one inserted
INSERT INTO wp.ev (id, ts, page, user_id, amount)
SELECT id, ts, page, user_id, amount FROM wp.ev WHERE ts = wp.t('00:00:30')
UNION ALL SELECT 1000, wp.t('00:01:45'), 'a', 50, 0.50
ON CONFLICT (id) DO UPDATE SET amount = excluded.amount + 1;
SELECT * FROM wp.mismatch('wp.w', :'scratch');
SELECT * FROM wp.mismatch('wp.w_sync', :'scratch');
SELECT pipeline.drop_window('wp.w_sync');
-- a rebuild puts the result right again
SELECT pipeline.rebuild_window('wp.w') > 0 AS rebuilt;
SELECT * FROM wp.mismatch('wp.w', :'scratch');

--
-- A writer with rights on the source only: maintenance runs as the
-- window's owner.  A reader granted SELECT on the view only reads it, not
-- the state or the partials.  The window's owner is not a superuser.
--
CREATE ROLE pp_append_owner;
CREATE ROLE pp_append_writer;
CREATE ROLE pp_append_reader;
GRANT USAGE, CREATE ON SCHEMA wp TO pp_append_owner;
GRANT USAGE ON SCHEMA wp TO pp_append_writer, pp_append_reader;
SET ROLE pp_append_owner;
CREATE TABLE wp.owned (id serial PRIMARY KEY, ts timestamptz NOT NULL, page text, v int);
CREATE INDEX ON wp.owned (ts);
SELECT pipeline.create_window('wp.o', 'wp.owned', 'ts', pipeline.hop('10 min', '5 min'),
    'count(*) AS n, sum(v) AS v, count(DISTINCT v) AS dv', group_by => '{page}', mode => 'append');
GRANT SELECT, INSERT, UPDATE, DELETE ON wp.owned TO pp_append_writer;
GRANT USAGE ON SEQUENCE wp.owned_id_seq TO pp_append_writer;
GRANT SELECT ON wp.o TO pp_append_reader;
RESET ROLE;
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relacl FROM pg_class c
 WHERE c.relnamespace = 'wp'::regnamespace AND c.relname LIKE 'o%' AND c.relkind IN ('r', 'v') ORDER BY 1;
\set scratch_o 'SELECT w.ws AS window_start, w.ws + interval ''10 min'' AS window_end, page, count(*) AS n, sum(v) AS v, count(DISTINCT v) AS dv FROM wp.owned, LATERAL (SELECT date_bin(''5 min'', ts, ''1970-01-01 00:00+00'') - i * interval ''5 min'' AS ws FROM generate_series(0, 1) i) w GROUP BY 1, 2, 3'
SET ROLE pp_append_writer;
BEGIN;
INSERT INTO wp.owned (ts, page, v) VALUES (wp.t('00:01'), 'a', 1), (wp.t('00:06'), 'a', 2), (wp.t('00:07'), NULL, 3);
UPDATE wp.owned SET v = 10 WHERE v = 1;
DELETE FROM wp.owned WHERE v = 3;
INSERT INTO wp.owned (ts, page, v) VALUES (wp.t('00:16'), 'b', 4);
-- the window's tables are not the writer's
SELECT wp.try($$SELECT count(*) FROM wp.o$$) AS read_view;
SELECT wp.try($$SELECT count(*) FROM wp.o_partials$$) AS read_partials;
SELECT wp.try($$INSERT INTO wp.o_partials (pp_ws, pp_we, page, pp_rows, pp_v0) VALUES (now(), now(), 'a', 1000, 1000)$$) AS forge_partials;
SELECT wp.try($$DELETE FROM wp.o_partials$$) AS drop_partials;
SELECT wp.try($$UPDATE wp.o_state SET n = 1000$$) AS forge_state;
-- nor is the fold: the writer does not see the window
SELECT wp.try($$SELECT pipeline.flush_window('wp.o')$$) AS writer_flush;
COMMIT;
RESET ROLE;
SELECT * FROM wp.mismatch('wp.o', :'scratch_o');
SET ROLE pp_append_reader;
SELECT window_start, window_end, page, n, v, dv FROM wp.o ORDER BY 1, 2, 3;
SELECT wp.try($$SELECT count(*) FROM wp.o_state$$) AS read_state;
SELECT wp.try($$SELECT count(*) FROM wp.o_partials$$) AS read_partials;
SELECT wp.try($$SELECT count(*) FROM wp.owned$$) AS read_source;
RESET ROLE;
SELECT pipeline.flush_window('wp.o') >= 0 AS flushed;
SELECT * FROM wp.mismatch('wp.o', :'scratch_o');
SELECT name, last_error FROM pipeline.window_status WHERE name = 'wp.o';

--
-- DROP TABLE ... CASCADE of the source drops the window whole, partials
-- table included.
--
DROP TABLE wp.owned CASCADE;
SELECT to_regclass('wp.o') AS o, to_regclass('wp.o_state') AS o_state, to_regclass('wp.o_partials') AS o_partials;
SELECT name FROM pipeline.windows ORDER BY 1;
DROP OWNED BY pp_append_owner, pp_append_writer, pp_append_reader;
DROP ROLE pp_append_owner, pp_append_writer, pp_append_reader;

--
-- alter_window between the modes, the result right at every step: sync,
-- append (the partials table made), async (the partials table gone, a
-- delta made), sync again.
--
SELECT pipeline.create_window('wp.m', 'wp.ev', 'ts', pipeline.tumble('5 min'), :'aggs', group_by => '{page}');
SELECT * FROM wp.mismatch('wp.m', :'scratch');
SELECT pipeline.alter_window('wp.m', mode => 'append');
SELECT mode, delta_table FROM pipeline.windows WHERE result = 'wp.m'::regclass;
SELECT relkind FROM pg_class WHERE oid = 'wp.m'::regclass;
SELECT * FROM wp.mismatch('wp.m', :'scratch');
BEGIN;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:22'), 'a', 1, 1.00), (wp.t('00:23'), 'd', 2, 2.00);
SELECT count(*) > 0 AS has_partials FROM wp.m_partials;
SELECT * FROM wp.mismatch('wp.m', :'scratch');
COMMIT;
SELECT pipeline.alter_window('wp.m', mode => 'async');
SELECT mode, delta_table IS NOT NULL AS has_delta FROM pipeline.windows WHERE result = 'wp.m'::regclass;
SELECT to_regclass('wp.m_partials') AS m_partials, to_regclass('wp.m_state') AS m_state;
SELECT relkind FROM pg_class WHERE oid = 'wp.m'::regclass;
SELECT * FROM wp.mismatch('wp.m', :'scratch');
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:24'), 'd', 3, 3.00);
SELECT pipeline.flush_window('wp.m') >= 0 AS flushed;
SELECT * FROM wp.mismatch('wp.m', :'scratch');
SELECT pipeline.alter_window('wp.m', mode => 'sync');
SELECT mode, delta_table FROM pipeline.windows WHERE result = 'wp.m'::regclass;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:25'), 'a', 4, 4.00);
SELECT * FROM wp.mismatch('wp.m', :'scratch');
SELECT pipeline.drop_window('wp.m');

--
-- A tumbling window's C partials are written into the partials table
-- directly (table_multi_insert), only while the table is as create_window
-- made it: with an index, a trigger or a CHECK its owner added, they go
-- through an INSERT, which keeps the index and fires the trigger (DEBUG1
-- names the way).  An index the direct way skipped would miss rows.  In
-- one transaction: the maintainer folds nothing meanwhile.
--
SELECT pipeline.create_window('wp.d', 'wp.ev', 'ts', pipeline.tumble('5 min'), :'aggs',
    group_by => '{page}', mode => 'append') IS NOT NULL AS created;
BEGIN;
SET LOCAL client_min_messages = debug1;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:26'), 'a', 5, 5.00), (wp.t('00:26'), 'b', 6, 6.00);
SET LOCAL client_min_messages = notice;
CREATE INDEX d_partials_page ON wp.d_partials (page);
CREATE TABLE wp.d_seen (page text);
CREATE FUNCTION wp.d_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO wp.d_seen VALUES (NEW.page); RETURN NEW; END $$;
CREATE TRIGGER d_seen AFTER INSERT ON wp.d_partials FOR EACH ROW EXECUTE FUNCTION wp.d_seen();
SET LOCAL client_min_messages = debug1;
INSERT INTO wp.ev (ts, page, user_id, amount) VALUES (wp.t('00:27'), 'a', 7, 7.00), (wp.t('00:27'), 'c', 8, 8.00);
SET LOCAL client_min_messages = notice;
SELECT page FROM wp.d_seen ORDER BY 1;
SET LOCAL enable_seqscan = off;
SELECT count(*) AS by_index FROM wp.d_partials WHERE page IN ('a', 'b', 'c');
SET LOCAL enable_seqscan = on;
SELECT count(*) AS by_scan FROM wp.d_partials;
SELECT * FROM wp.mismatch('wp.d', :'scratch');
COMMIT;
SELECT pipeline.flush_window('wp.d') >= 0 AS flushed;
SELECT count(*) AS left_to_fold FROM wp.d_partials;
SELECT * FROM wp.mismatch('wp.d', :'scratch');
SELECT pipeline.drop_window('wp.d');

--
-- drop_window takes the view, the state and the partials; the source has
-- no trigger left.
--
SELECT pipeline.drop_window('wp.w');
SELECT to_regclass('wp.w') AS w, to_regclass('wp.w_state') AS w_state, to_regclass('wp.w_partials') AS w_partials;
SELECT count(*) AS windows FROM pipeline.windows;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'wp.ev'::regclass;
SELECT relname FROM pg_class WHERE relnamespace = 'wp'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA wp CASCADE;
DROP EXTENSION pg_pipeline;
