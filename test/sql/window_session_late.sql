-- Session windows and finality.  A row can be less than a gap after a final
-- session without being late by the general rule (time + gap > watermark),
-- when the session ended less than a gap before the watermark.  Under
-- late_rows 'drop' such a row is late: a final session never changes.
-- Under 'update' it joins the session, which grows past the watermark and
-- is open again, to be announced when the watermark passes its new end.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE SCHEMA sl;
CREATE TABLE sl.ev (t timestamptz, k text);
SELECT pipeline.create_window('sl.s_drop', 'sl.ev', 't', pipeline.session('3 min'),
    'count(*) AS n', group_by => '{k}', late_rows => 'drop');
SELECT pipeline.create_window('sl.s_update', 'sl.ev', 't', pipeline.session('3 min'),
    'count(*) AS n', group_by => '{k}');
-- a's session [10:00, 10:04); b's row at 10:05 moves the watermark to
-- 10:05: a's session is final
INSERT INTO sl.ev VALUES ('2026-01-01 10:00+00', 'a'), ('2026-01-01 10:01+00', 'a'),
                         ('2026-01-01 10:05+00', 'b');
SELECT window_start::time, window_end::time, k, n, is_final FROM sl.s_drop ORDER BY 1, 3;
-- a row of a at 10:03: 10:03 + 3 min > 10:05, but it would join the final
-- session [10:00, 10:04)
INSERT INTO sl.ev VALUES ('2026-01-01 10:03+00', 'a');
SELECT name, late_rows FROM pipeline.window_status ORDER BY name;
-- drop: the final session is unchanged, the row counted late
SELECT window_start::time, window_end::time, k, n, is_final FROM sl.s_drop ORDER BY 1, 3;
-- update: the session grew to [10:00, 10:06), 3 rows, open again
SELECT window_start::time, window_end::time, k, n, is_final FROM sl.s_update ORDER BY 1, 3;
-- b at 10:07 moves the watermark to 10:07: update's session closes again
INSERT INTO sl.ev VALUES ('2026-01-01 10:07+00', 'b');
SELECT window_start::time, window_end::time, k, n, is_final FROM sl.s_update ORDER BY 1, 3;
SELECT pipeline.drop_window('sl.s_drop');
SELECT pipeline.drop_window('sl.s_update');
DROP SCHEMA sl CASCADE;
DROP EXTENSION pg_pipeline;
