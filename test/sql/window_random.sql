-- Windowed aggregates against from-scratch queries: every window kind, sync,
-- async and append, on_update and on_close, over a source that many
-- statements change at random (setseed: the same run each time): inserts,
-- late rows, updates of values, groups and times, deletes, a delete and an
-- insert in one statement, rolled-back subtransactions, TRUNCATE.  After each
-- phase every maintained relation must equal a GROUP BY over the source
-- (EXCEPT ALL both ways: missing and extra are 0), with is_final where
-- window_end <= watermark, and the watermark must be the largest time
-- inserted minus the allowed lateness.  Integers and numeric only: no float
-- rounding.
-- Mode append: the data must be right WITHOUT a fold (flush_window only
-- makes is_final and the announcements current), so its windows are also
-- checked after every step of the churn, inside its transaction (the
-- statement's partials are not folded there: the maintainer cannot see
-- them), and after each phase before the flush.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE SCHEMA wr;

-- autovacuum off: the same plans, so the same random rows, each run
CREATE TABLE wr.ev (
    id      bigserial PRIMARY KEY,
    ts      timestamptz NOT NULL,
    g       text,              -- group, NULL sometimes
    k       int,               -- second group column
    x       int,               -- NULL sometimes
    amount  numeric(10,2),     -- NULL sometimes
    flag    boolean,           -- NULL sometimes
    bits    int) WITH (autovacuum_enabled = false);
CREATE INDEX ON wr.ev (ts);
-- the largest time ever inserted (committed) since the last TRUNCATE
CREATE TABLE wr.seen (max_ts timestamptz);
INSERT INTO wr.seen VALUES (NULL);

\set aggs 'count(*) AS n, count(x) AS nx, count(DISTINCT x) AS dx, sum(x) AS sx, sum(amount) AS sa, avg(amount) AS aa, min(x) AS lo, max(amount) AS hi, min(ts) AS first_at, bool_and(flag) AS ba, bit_or(bits) AS bo'
-- mode append keeps the aggregates whose partials combine: all but the last two
\set paggs 'count(*) AS n, count(x) AS nx, count(DISTINCT x) AS dx, sum(x) AS sx, sum(amount) AS sa, avg(amount) AS aa, min(x) AS lo, max(amount) AS hi, min(ts) AS first_at'

-- A from-scratch query for a window kind over wr.ev: groups is a column
-- list ('' for none), size and step as for the window functions.
CREATE FUNCTION wr.scratch(kind text, size interval, step interval, groups text, aggs text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k int := CASE WHEN step IS NULL THEN 1 ELSE (extract(epoch FROM size) / extract(epoch FROM step))::int END;
    gsel text := CASE WHEN groups = '' THEN '' ELSE groups || ', ' END;
    gby text := CASE WHEN groups = '' THEN '' ELSE ', ' || groups END;
    wins text;
BEGIN
    IF kind = 'session' THEN
        RETURN format($q$
SELECT min(ts) AS window_start, max(ts) + %1$L::interval AS window_end, %2$s%3$s
  FROM (SELECT *, sum(brk) OVER (%4$s ORDER BY ts, id) AS sid
          FROM (SELECT *, CASE WHEN ts - lag(ts) OVER (%4$s ORDER BY ts, id) < %1$L::interval THEN 0 ELSE 1 END AS brk
                  FROM wr.ev) b) s
 GROUP BY sid%5$s $q$, size, gsel, aggs,
            CASE WHEN groups = '' THEN '' ELSE 'PARTITION BY ' || groups END, gby);
    END IF;
    wins := CASE kind
        WHEN 'tumble' THEN format($q$SELECT date_bin(%1$L, ts, '1970-01-01 00:00+00') AS ws,
                                            date_bin(%1$L, ts, '1970-01-01 00:00+00') + %1$L::interval AS we$q$, size)
        WHEN 'hop' THEN format($q$SELECT date_bin(%2$L, ts, '1970-01-01 00:00+00') - i * %2$L::interval AS ws,
                                         date_bin(%2$L, ts, '1970-01-01 00:00+00') - i * %2$L::interval + %1$L::interval AS we
                                    FROM generate_series(0, %3$s - 1) i$q$, size, step, k)
        WHEN 'cumulate' THEN format($q$SELECT date_bin(%1$L, ts, '1970-01-01 00:00+00') AS ws,
                                              date_bin(%1$L, ts, '1970-01-01 00:00+00') + j * %2$L::interval AS we
                                         FROM generate_series(1, %3$s) j$q$, size, step, k)
    END;
    RETURN format($q$
SELECT w.ws AS window_start, w.we AS window_end, %1$s%2$s
  FROM wr.ev, LATERAL (%3$s) w
 WHERE ts >= w.ws AND ts < w.we
 GROUP BY w.ws, w.we%4$s $q$, gsel, aggs, wins, gby);
END
$$;

-- missing/extra rows of a window relation against a from-scratch query;
-- is_final is expected where window_end <= the window's watermark;
-- final_only: only those rows are expected (emit on_close)
CREATE FUNCTION wr.mismatch(win regclass, expected text, final_only boolean,
                            OUT missing bigint, OUT extra bigint, OUT "rows" bigint, OUT finals bigint)
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
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE is_final) FROM %s', win) INTO "rows", finals;
END
$$;

-- Mode append without a fold: the rows of a window relation against a
-- from-scratch query, is_final left out (the fold sets it).  Emit on_close
-- shows the windows folded final, so without a fold some of the expected
-- rows may be missing: only extra rows count there.  partials: the rows
-- waiting in the partials table.
CREATE FUNCTION wr.mismatch_data(win regclass, expected text, final_only boolean,
                                 OUT missing bigint, OUT extra bigint, OUT partials bigint)
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
    IF final_only THEN
        missing := 0;
    ELSE
        EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', expected, act) INTO missing;
    END IF;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', act, expected) INTO extra;
    EXECUTE format('SELECT count(*) FROM %s', (SELECT delta_table FROM pipeline.windows WHERE result = win)) INTO partials;
END
$$;

-- Random rows around a clock: most near it, some up to 40 minutes behind
-- (late for most windows); returns the largest time inserted.
CREATE FUNCTION wr.insert_random(clock timestamptz, nrows int) RETURNS timestamptz
LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO wr.ev (ts, g, k, x, amount, flag, bits)
        SELECT clock - floor(random() ^ 3 * 2400) * interval '1 second',
               CASE WHEN random() < 0.15 THEN NULL ELSE (ARRAY['a', 'b', 'c', 'd'])[1 + floor(random() * 4)::int] END,
               floor(random() * 3)::int,
               CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 30)::int END,
               CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
               CASE WHEN random() < 0.05 THEN NULL ELSE random() < 0.9 END,
               1 << floor(random() * 10)::int
          FROM generate_series(1, nrows)
        RETURNING ts)
    SELECT max(ts) FROM ins
$$;

-- the append windows' data without a fold, at every step of wr.churn
CREATE TABLE wr.steps (win regclass NOT NULL, missing bigint NOT NULL, extra bigint NOT NULL, partials bigint NOT NULL);
CREATE PROCEDURE wr.check_append()
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO wr.steps
    SELECT c.win, m.missing, m.extra, m.partials
      FROM wr.checks c JOIN pipeline.windows w ON w.result = c.win AND w.mode = 'append',
           LATERAL wr.mismatch_data(c.win, c.query, c.final_only) m;
END
$$;
-- what wr.steps saw: the steps with a mismatch (0 expected) and whether
-- partials were pending (the view combined them), since the last look
CREATE VIEW wr.steps_report AS
SELECT win, count(*) AS steps, count(*) FILTER (WHERE missing > 0 OR extra > 0) AS wrong_steps,
       bool_or(partials > 0) AS saw_partials
  FROM wr.steps GROUP BY win;

-- steps statements groups of changes, committing every third; each step
-- moves the clock 6 minutes on; the append windows checked before each
-- commit
CREATE PROCEDURE wr.churn(start timestamptz, steps int)
LANGUAGE plpgsql AS $$
DECLARE
    clock timestamptz := start;
    top timestamptz;
    maxid bigint;
BEGIN
    FOR i IN 1..steps LOOP
        clock := clock + interval '6 min';
        top := wr.insert_random(clock, 1 + floor(random() * 20)::int);
        UPDATE wr.seen SET max_ts = greatest(max_ts, top);
        SELECT max(id) INTO maxid FROM wr.ev;
        -- new values for a few rows
        UPDATE wr.ev SET x = CASE WHEN random() < 0.2 THEN NULL ELSE floor(random() * 30)::int END,
                         amount = CASE WHEN random() < 0.2 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
                         flag = random() < 0.7, bits = 1 << floor(random() * 10)::int
         WHERE id IN (SELECT 1 + floor(random() * maxid)::bigint FROM generate_series(1, 3));
        -- another group
        UPDATE wr.ev SET g = CASE WHEN random() < 0.3 THEN NULL ELSE (ARRAY['a', 'b', 'c', 'd'])[1 + floor(random() * 4)::int] END,
                         k = floor(random() * 3)::int
         WHERE id = (SELECT 1 + floor(random() * maxid)::bigint);
        -- an earlier time (never later: the largest time stays an inserted one)
        UPDATE wr.ev SET ts = ts - floor(random() * 900) * interval '1 second'
         WHERE id IN (SELECT 1 + floor(random() * maxid)::bigint FROM generate_series(1, 2));
        DELETE FROM wr.ev WHERE id IN (SELECT 1 + floor(random() * maxid)::bigint FROM generate_series(1, 2));
        IF i % 5 = 0 THEN
            -- many rows at once, in many (also final) windows
            UPDATE wr.ev SET x = coalesce(x, 0) + 1, amount = amount * 2 WHERE id % 11 = i % 11;
            DELETE FROM wr.ev WHERE id % 17 = i % 17 AND ts < clock - interval '30 min';
            -- a delete and an insert in one statement
            WITH moved AS (
                DELETE FROM wr.ev WHERE id IN (SELECT 1 + floor(random() * maxid)::bigint FROM generate_series(1, 4))
                RETURNING *)
            INSERT INTO wr.ev (ts, g, k, x, amount, flag, bits)
            SELECT ts - interval '1 min', g, k, x + 100, amount, flag, bits FROM moved;
        END IF;
        IF i % 4 = 0 THEN
            -- rolled back: rows a day ahead must neither count nor move the watermark
            BEGIN
                PERFORM wr.insert_random(clock + interval '1 day', 5);
                DELETE FROM wr.ev WHERE id IN (SELECT 1 + floor(random() * maxid)::bigint FROM generate_series(1, 5));
                RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN
                NULL;
            END;
        END IF;
        CALL wr.check_append();
        IF i % 3 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END
$$;

SELECT setseed(0.4242);
-- rows before the windows exist: aggregated at creation
SELECT wr.insert_random('2024-03-01 00:00+00', 40) IS NOT NULL AS inserted;
UPDATE wr.seen SET max_ts = (SELECT max(ts) FROM wr.ev);

CREATE TABLE wr.checks (win regclass PRIMARY KEY, query text NOT NULL, final_only boolean NOT NULL DEFAULT false);
-- synchronous
SELECT pipeline.create_window('wr.s_tumble', 'wr.ev', 'ts', pipeline.tumble('5 min'), :'aggs', group_by => '{g}');
SELECT pipeline.create_window('wr.s_tumble2', 'wr.ev', 'ts', pipeline.tumble('7 min'), :'aggs', group_by => '{g,k}',
                              allowed_lateness => '4 min');
SELECT pipeline.create_window('wr.s_global', 'wr.ev', 'ts', pipeline.tumble('1 hour'), :'aggs');
SELECT pipeline.create_window('wr.s_hop', 'wr.ev', 'ts', pipeline.hop('10 min', '5 min'), :'aggs', group_by => '{g}',
                              allowed_lateness => '15 min');
SELECT pipeline.create_window('wr.s_cumulate', 'wr.ev', 'ts', pipeline.cumulate('5 min', '20 min'), :'aggs', group_by => '{g}');
SELECT pipeline.create_window('wr.s_session', 'wr.ev', 'ts', pipeline.session('3 min'), :'aggs', group_by => '{g}');
SELECT pipeline.create_window('wr.s_session2', 'wr.ev', 'ts', pipeline.session('10 min'), :'aggs', group_by => '{g,k}',
                              allowed_lateness => '5 min');
SELECT pipeline.create_window('wr.s_close', 'wr.ev', 'ts', pipeline.tumble('5 min'), :'aggs', group_by => '{g}',
                              emit => 'on_close');
-- asynchronous
SELECT pipeline.create_window('wr.a_tumble', 'wr.ev', 'ts', pipeline.tumble('5 min'), :'aggs', group_by => '{g}', mode => 'async');
SELECT pipeline.create_window('wr.a_hop', 'wr.ev', 'ts', pipeline.hop('15 min', '5 min'), :'aggs', group_by => '{g,k}',
                              mode => 'async', allowed_lateness => '2 min');
SELECT pipeline.create_window('wr.a_cumulate', 'wr.ev', 'ts', pipeline.cumulate('10 min', '30 min'), :'aggs', group_by => '{g,k}',
                              mode => 'async');
SELECT pipeline.create_window('wr.a_session', 'wr.ev', 'ts', pipeline.session('3 min'), :'aggs', group_by => '{g}', mode => 'async');
SELECT pipeline.create_window('wr.a_close', 'wr.ev', 'ts', pipeline.hop('10 min', '5 min'), :'aggs', group_by => '{g}',
                              mode => 'async', emit => 'on_close');
-- append (tumble: the writers' partials in C; hop and cumulate: in SQL)
SELECT pipeline.create_window('wr.p_tumble', 'wr.ev', 'ts', pipeline.tumble('5 min'), :'paggs', group_by => '{g}', mode => 'append');
SELECT pipeline.create_window('wr.p_tumble2', 'wr.ev', 'ts', pipeline.tumble('7 min'), :'paggs', group_by => '{g,k}',
                              mode => 'append', allowed_lateness => '4 min');
SELECT pipeline.create_window('wr.p_global', 'wr.ev', 'ts', pipeline.tumble('1 hour'), :'paggs', mode => 'append');
SELECT pipeline.create_window('wr.p_hop', 'wr.ev', 'ts', pipeline.hop('15 min', '5 min'), :'paggs', group_by => '{g,k}',
                              mode => 'append', allowed_lateness => '2 min');
SELECT pipeline.create_window('wr.p_cumulate', 'wr.ev', 'ts', pipeline.cumulate('10 min', '30 min'), :'paggs', group_by => '{g}',
                              mode => 'append');
SELECT pipeline.create_window('wr.p_close', 'wr.ev', 'ts', pipeline.hop('10 min', '5 min'), :'paggs', group_by => '{g}',
                              mode => 'append', emit => 'on_close');
INSERT INTO wr.checks VALUES ('wr.s_tumble',   wr.scratch('tumble', '5 min', NULL, 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_tumble2',  wr.scratch('tumble', '7 min', NULL, 'g, k', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_global',   wr.scratch('tumble', '1 hour', NULL, '', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_hop',      wr.scratch('hop', '10 min', '5 min', 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_cumulate', wr.scratch('cumulate', '20 min', '5 min', 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_session',  wr.scratch('session', '3 min', NULL, 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_session2', wr.scratch('session', '10 min', NULL, 'g, k', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.s_close',    wr.scratch('tumble', '5 min', NULL, 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.a_tumble',   wr.scratch('tumble', '5 min', NULL, 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.a_hop',      wr.scratch('hop', '15 min', '5 min', 'g, k', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.a_cumulate', wr.scratch('cumulate', '30 min', '10 min', 'g, k', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.a_session',  wr.scratch('session', '3 min', NULL, 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.a_close',    wr.scratch('hop', '10 min', '5 min', 'g', :'aggs'));
INSERT INTO wr.checks VALUES ('wr.p_tumble',   wr.scratch('tumble', '5 min', NULL, 'g', :'paggs'));
INSERT INTO wr.checks VALUES ('wr.p_tumble2',  wr.scratch('tumble', '7 min', NULL, 'g, k', :'paggs'));
INSERT INTO wr.checks VALUES ('wr.p_global',   wr.scratch('tumble', '1 hour', NULL, '', :'paggs'));
INSERT INTO wr.checks VALUES ('wr.p_hop',      wr.scratch('hop', '15 min', '5 min', 'g, k', :'paggs'));
INSERT INTO wr.checks VALUES ('wr.p_cumulate', wr.scratch('cumulate', '30 min', '10 min', 'g', :'paggs'));
INSERT INTO wr.checks VALUES ('wr.p_close',    wr.scratch('hop', '10 min', '5 min', 'g', :'paggs'));
UPDATE wr.checks SET final_only = true WHERE win IN ('wr.s_close'::regclass, 'wr.a_close'::regclass, 'wr.p_close'::regclass);

-- every maintained relation against its from-scratch query (after merging
-- the async deltas), and the watermarks against the largest time inserted
CREATE VIEW wr.report AS
SELECT c.win, m.missing, m.extra, m."rows" > 0 AS some_rows,
       CASE WHEN c.final_only THEN m.finals = m."rows" ELSE m.finals > 0 AND m.finals < m."rows" END AS finals_ok
  FROM wr.checks c, LATERAL wr.mismatch(c.win, c.query, c.final_only) m;
CREATE VIEW wr.watermarks AS
SELECT w.result AS win, st.max_event_time IS NOT DISTINCT FROM s.max_ts AS max_event_time_ok,
       st.watermark IS NOT DISTINCT FROM s.max_ts - w.allowed_lateness AS watermark_ok
  FROM pipeline.windows w JOIN pipeline.window_status st ON st.name = w.name, wr.seen s;
-- the append windows' data before a fold, as wr.report (without is_final);
-- their watermarks move with the writers' statements, not with the fold
CREATE VIEW wr.report_append AS
SELECT c.win, m.missing, m.extra, wm.max_event_time_ok, wm.watermark_ok
  FROM wr.checks c JOIN pipeline.windows w ON w.result = c.win AND w.mode = 'append'
       JOIN wr.watermarks wm ON wm.win = c.win,
       LATERAL wr.mismatch_data(c.win, c.query, c.final_only) m;

SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT * FROM wr.report ORDER BY win::text;
SELECT * FROM wr.watermarks ORDER BY win::text;

-- phase 1: 24 steps
CALL wr.churn('2024-03-01 00:00+00', 24);
SELECT * FROM wr.steps_report ORDER BY win::text;
DELETE FROM wr.steps;
SELECT * FROM wr.report_append ORDER BY win::text;
SELECT pipeline.flush_window('wr.a_tumble') >= 0 AS flushed;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT * FROM wr.report ORDER BY win::text;
SELECT * FROM wr.watermarks ORDER BY win::text;
SELECT name, late_rows > 0 AS saw_late_rows, pending_delta FROM pipeline.window_status ORDER BY name;

-- a full rebuild changes nothing
SELECT pipeline.rebuild_window('wr.s_session') > 0 AS rebuilt;
SELECT pipeline.rebuild_window('wr.a_hop') > 0 AS rebuilt;
SELECT pipeline.rebuild_window('wr.p_hop') > 0 AS rebuilt;
SELECT * FROM wr.report WHERE win IN ('wr.s_session'::regclass, 'wr.a_hop'::regclass, 'wr.p_hop'::regclass) ORDER BY win::text;

-- phase 2: TRUNCATE, then 15 more steps from an earlier clock
TRUNCATE wr.ev;
UPDATE wr.seen SET max_ts = NULL;
SELECT * FROM wr.report_append ORDER BY win::text;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT win, missing, extra FROM wr.report ORDER BY win::text;
SELECT * FROM wr.watermarks ORDER BY win::text;
CALL wr.churn('2024-02-01 00:00+00', 15);
SELECT * FROM wr.steps_report ORDER BY win::text;
DELETE FROM wr.steps;
SELECT * FROM wr.report_append ORDER BY win::text;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT * FROM wr.report ORDER BY win::text;
SELECT * FROM wr.watermarks ORDER BY win::text;

-- phase 3: one transaction, many statements, rolled back: nothing changes
SELECT * INTO TEMP before_rollback FROM wr.s_hop;
SELECT * INTO TEMP before_rollback_p FROM wr.p_hop;
BEGIN;
SELECT wr.insert_random('2024-02-01 03:00+00', 50) IS NOT NULL AS inserted;
DELETE FROM wr.ev WHERE id % 3 = 0;
UPDATE wr.ev SET g = NULL WHERE id % 5 = 0;
SELECT win, missing, extra FROM wr.report_append ORDER BY win::text;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
ROLLBACK;
SELECT pipeline.flush_window(NULL) >= 0 AS flushed;
SELECT * FROM wr.report ORDER BY win::text;
SELECT * FROM wr.watermarks ORDER BY win::text;
SELECT count(*) AS changed FROM ((TABLE before_rollback EXCEPT ALL TABLE wr.s_hop) UNION ALL
                                 (TABLE wr.s_hop EXCEPT ALL TABLE before_rollback)) d;
SELECT count(*) AS changed FROM ((TABLE before_rollback_p EXCEPT ALL TABLE wr.p_hop) UNION ALL
                                 (TABLE wr.p_hop EXCEPT ALL TABLE before_rollback_p)) d;
SELECT count(*) AS partials FROM wr.p_hop_partials;

SELECT pipeline.drop_window(win) FROM wr.checks ORDER BY win::text;
SELECT count(*) AS windows FROM pipeline.windows;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'wr.ev'::regclass;
SET client_min_messages = warning;
DROP SCHEMA wr CASCADE;
DROP EXTENSION pg_pipeline;
