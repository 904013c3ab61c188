-- Schedules (src/scheduler/cron.c): every form of cron field and interval,
-- pipeline.cron_next() and cron_prev() in UTC and across the DST changes of
-- 2026 in America/New_York (Mar 8 02:00 EST -> 03:00 EDT, i.e. 07:00 UTC;
-- Nov 1 02:00 EDT -> 01:00 EST, i.e. 06:00 UTC) and Europe/Paris (Mar 29
-- 02:00 CET -> 03:00 CEST and Oct 25 03:00 CEST -> 02:00 CET, both at 01:00
-- UTC), cron_prev as the inverse of cron_next, and every error.
-- Each expected value is written in the query (columns n, p) and was worked
-- out by hand; "ok" compares.  2026-01-01 is a Thursday.
CREATE EXTENSION IF NOT EXISTS pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- every field form, next and previous fire around Thursday 2026-01-15 10:07:30
SELECT s AS schedule, pipeline.cron_next(s, at) AS next, pipeline.cron_prev(s, at) AS prev,
       pipeline.cron_next(s, at) = n::timestamptz AND pipeline.cron_prev(s, at) = p::timestamptz AS ok
  FROM (VALUES
    (1, '* * * * *', '2026-01-15 10:08', '2026-01-15 10:07'),
    (2, '*/5 * * * *', '2026-01-15 10:10', '2026-01-15 10:05'),
    (3, '7 * * * *', '2026-01-15 11:07', '2026-01-15 10:07'),
    (4, '8,20,40 * * * *', '2026-01-15 10:08', '2026-01-15 09:40'),
    (5, '10-12 * * * *', '2026-01-15 10:10', '2026-01-15 09:12'),
    (6, '0-30/15 * * * *', '2026-01-15 10:15', '2026-01-15 10:00'),
    (7, '20/15 * * * *', '2026-01-15 10:20', '2026-01-15 09:50'),     -- 20,35,50
    (8, '0 9-17/4 * * *', '2026-01-15 13:00', '2026-01-15 09:00'),    -- 9,13,17
    (9, '0 0 1 * *', '2026-02-01 00:00', '2026-01-01 00:00'),
    (10, '0 0 * * mon', '2026-01-19 00:00', '2026-01-12 00:00'),
    (11, '0 0 * * 0', '2026-01-18 00:00', '2026-01-11 00:00'),
    (12, '0 0 * * 7', '2026-01-18 00:00', '2026-01-11 00:00'),       -- 7 is Sunday too
    (13, '0 0 * * SUN', '2026-01-18 00:00', '2026-01-11 00:00'),
    (14, '0 0 * * 1-5', '2026-01-16 00:00', '2026-01-15 00:00'),
    (15, '0 0 * * fri-sat', '2026-01-16 00:00', '2026-01-10 00:00'),
    (16, '0 0 * * 5-7', '2026-01-16 00:00', '2026-01-11 00:00'),     -- Fri, Sat, Sun
    (17, '0 0 * * */2', '2026-01-17 00:00', '2026-01-15 00:00'),     -- Sun, Tue, Thu, Sat
    (18, '0 0 * * mon/2', '2026-01-16 00:00', '2026-01-14 00:00'),   -- Mon, Wed, Fri
    (19, '0 0 1 jun *', '2026-06-01 00:00', '2025-06-01 00:00'),
    (20, '0 0 1 JUN-aug/2 *', '2026-06-01 00:00', '2025-08-01 00:00'),
    (21, '0 0 1 */4 *', '2026-05-01 00:00', '2026-01-01 00:00'),     -- Jan, May, Sep
    (22, '0 0 1 2/5 *', '2026-02-01 00:00', '2025-12-01 00:00'),     -- Feb, Jul, Dec
    (23, '0 0 $ * *', '2026-01-31 00:00', '2025-12-31 00:00'),
    (24, '0 0 15,$ * *', '2026-01-31 00:00', '2026-01-15 00:00'),
    (25, '0 0 $ feb *', '2026-02-28 00:00', '2025-02-28 00:00'),
    (26, '45 7 10 * * *', '2026-01-15 10:07:45', '2026-01-14 10:07:45'),
    (27, '*/20 * * * * *', '2026-01-15 10:07:40', '2026-01-15 10:07:20'),
    (28, '0 0 0 1 1 *', '2027-01-01 00:00', '2026-01-01 00:00'),
    (29, '@yearly', '2027-01-01 00:00', '2026-01-01 00:00'),
    (30, '@annually', '2027-01-01 00:00', '2026-01-01 00:00'),
    (31, '@monthly', '2026-02-01 00:00', '2026-01-01 00:00'),
    (32, '@weekly', '2026-01-18 00:00', '2026-01-11 00:00'),
    (33, '@daily', '2026-01-16 00:00', '2026-01-15 00:00'),
    (34, '@midnight', '2026-01-16 00:00', '2026-01-15 00:00'),
    (35, '@hourly', '2026-01-15 11:00', '2026-01-15 10:00'),
    (36, '@Daily', '2026-01-16 00:00', '2026-01-15 00:00'),
    (37, E'  0\t6   * *  *  ', '2026-01-16 06:00', '2026-01-15 06:00'),
    -- both day fields restricted: a day matching either fires (Vixie cron)
    (38, '0 0 13 * fri', '2026-01-16 00:00', '2026-01-13 00:00'),
    (39, '0 0 17 * mon', '2026-01-17 00:00', '2026-01-12 00:00'),
    (40, '0 0 20 * mon', '2026-01-19 00:00', '2026-01-12 00:00'),
    (41, '0 0 $ * fri', '2026-01-16 00:00', '2026-01-09 00:00'),
    -- a day field beginning with '*' is not restricted: both must match
    (42, '0 0 */2 * fri', '2026-01-23 00:00', '2026-01-09 00:00'),   -- odd Fridays
    (43, '0 0 1-7 * */7', '2026-02-01 00:00', '2026-01-04 00:00'),   -- first Sundays
    -- intervals: multiples since 1970-01-01 00:00 UTC (2026-01-15 is day 20468)
    (44, '30 seconds', '2026-01-15 10:08:00', '2026-01-15 10:07:00'),
    (45, '30s', '2026-01-15 10:08:00', '2026-01-15 10:07:00'),
    (46, '45 secs', '2026-01-15 10:08:15', '2026-01-15 10:06:45'),
    (47, '1 sec', '2026-01-15 10:07:31', '2026-01-15 10:07:29'),
    (48, '5 minutes', '2026-01-15 10:10', '2026-01-15 10:05'),
    (49, '10 MIN', '2026-01-15 10:10', '2026-01-15 10:00'),
    (50, '7 minutes', '2026-01-15 10:09', '2026-01-15 10:02'),       -- day 20468 = 2924 weeks
    (51, '90 minutes', '2026-01-15 10:30', '2026-01-15 09:00'),
    (52, '1 hour', '2026-01-15 11:00', '2026-01-15 10:00'),
    (53, '2 h', '2026-01-15 12:00', '2026-01-15 10:00'),
    (54, '1 day', '2026-01-16 00:00', '2026-01-15 00:00'),
    (55, '2 days', '2026-01-17 00:00', '2026-01-15 00:00'),          -- day 20468 is even
    (56, '36500 days', '2069-12-07 00:00', '1970-01-01 00:00')
  ) v(i, s, n, p), (VALUES ('2026-01-15 10:07:30+00'::timestamptz)) a(at)
 ORDER BY i;

-- month ends, leap days, year rollover, strictness, fractional seconds
SELECT s AS schedule, at, pipeline.cron_next(s, at) AS next, pipeline.cron_prev(s, at) AS prev,
       pipeline.cron_next(s, at) = n::timestamptz AND pipeline.cron_prev(s, at) = p::timestamptz AS ok
  FROM (VALUES
    (1, '0 0 31 * *', '2026-01-31 12:00'::timestamptz, '2026-03-31 00:00', '2026-01-31 00:00'),
    (2, '0 0 30 * *', '2026-01-30 12:00', '2026-03-30 00:00', '2026-01-30 00:00'),
    (3, '0 0 29 2 *', '2026-03-01 00:00', '2028-02-29 00:00', '2024-02-29 00:00'),
    (4, '0 0 29 2 *', '2096-03-01 00:00', '2104-02-29 00:00', '2096-02-29 00:00'),  -- 2100 is not leap
    (5, '0 0 $ 2 *', '2028-02-28 12:00', '2028-02-29 00:00', '2027-02-28 00:00'),
    (6, '0 0 29 2 mon', '2026-03-01 00:00', '2027-02-01 00:00', '2026-02-23 00:00'),  -- or a Monday of February
    (7, '59 23 31 12 *', '2026-12-31 23:59', '2027-12-31 23:59', '2025-12-31 23:59'),
    (8, '* * * * *', '2026-12-31 23:59:30', '2027-01-01 00:00', '2026-12-31 23:59'),
    (9, '0 0 1 1 *', '2027-01-01 00:00', '2028-01-01 00:00', '2026-01-01 00:00'),
    (10, '*/10 * * * * *', '2026-12-31 23:59:55', '2027-01-01 00:00', '2026-12-31 23:59:50'),
    (11, '0 6 * * *', '2026-01-15 06:00', '2026-01-16 06:00', '2026-01-14 06:00'),
    (12, '* * * * * *', '2026-01-15 10:07:30', '2026-01-15 10:07:31', '2026-01-15 10:07:29'),
    (13, '* * * * * *', '2026-01-15 10:07:30.25', '2026-01-15 10:07:31', '2026-01-15 10:07:30'),
    (14, '1 day', '2026-01-15 00:00:00.5', '2026-01-16 00:00', '2026-01-15 00:00')
  ) v(i, s, at, n, p)
 ORDER BY i;

-- cron fields are read on the zone's wall clock; intervals ignore the zone
SELECT s AS schedule, z AS zone, pipeline.cron_next(s, at, z) AS next, pipeline.cron_prev(s, at, z) AS prev,
       pipeline.cron_next(s, at, z) = n::timestamptz AND pipeline.cron_prev(s, at, z) = p::timestamptz AS ok
  FROM (VALUES
    (1, '0 6 * * *', 'Asia/Kolkata', '2026-01-16 00:30', '2026-01-15 00:30'),      -- +05:30
    (2, '0 6 * * *', 'America/New_York', '2026-01-15 11:00', '2026-01-14 11:00'),  -- -05:00
    (3, '0 6 * * *', 'europe/paris', '2026-01-16 05:00', '2026-01-15 05:00'),      -- +01:00
    (4, '7 minutes', 'Asia/Kolkata', '2026-01-15 10:09', '2026-01-15 10:02'),
    (5, '1 day', 'America/New_York', '2026-01-16 00:00', '2026-01-15 00:00')
  ) v(i, s, z, n, p), (VALUES ('2026-01-15 10:07:30+00'::timestamptz)) a(at)
 ORDER BY i;

-- the first n fires after a time, in UTC and on the zone's wall clock; back:
-- cron_prev of each fire is the fire before it (of the first: <= after)
CREATE FUNCTION pg_temp.fires(sched text, after timestamptz, zone text, n int)
RETURNS TABLE (utc timestamptz, wall timestamp, back boolean)
LANGUAGE sql AS $$
    WITH RECURSIVE f(i, t) AS (
        SELECT 1, pipeline.cron_next(sched, after, zone)
        UNION ALL
        SELECT i + 1, pipeline.cron_next(sched, t, zone) FROM f WHERE i < n)
    SELECT t, t AT TIME ZONE zone,
           coalesce(pipeline.cron_prev(sched, t, zone) = lag(t) OVER (ORDER BY i),
                    pipeline.cron_prev(sched, t, zone) <= after)
      FROM f ORDER BY i
$$;

-- New York, spring forward on 2026-03-08: 02:00-02:59 EST does not exist.
-- 02:30 fires at 03:00 EDT (07:00 UTC), the end of the gap
SELECT * FROM pg_temp.fires('30 2 * * *', '2026-03-06 12:00+00', 'America/New_York', 3);
-- expected: 03-07 07:30 (02:30 EST), 03-08 07:00 (03:00 EDT), 03-09 06:30 (02:30 EDT)
-- 01:30 exists every day
SELECT * FROM pg_temp.fires('30 1 * * *', '2026-03-06 12:00+00', 'America/New_York', 3);
-- expected: 03-07 06:30 (EST), 03-08 06:30 (EST), 03-09 05:30 (EDT)
-- 02:00, 02:15, 02:30 and 02:45 all fire once, at 03:00 EDT, with 03:00 itself
SELECT * FROM pg_temp.fires('*/15 * * * *', '2026-03-08 06:20+00', 'America/New_York', 5);
-- expected: 06:30, 06:45 (01:30, 01:45 EST), 07:00, 07:15, 07:30 (03:00.. EDT)
SELECT * FROM pg_temp.fires('0 * * * *', '2026-03-08 05:30+00', 'America/New_York', 3);
-- expected: 06:00 (01:00 EST), 07:00 (02:00 skipped, and 03:00 EDT), 08:00 (04:00 EDT)

-- New York, fall back on 2026-11-01: 01:00-01:59 occurs twice, first EDT
-- (05:00-05:59 UTC) then EST (06:00-06:59 UTC).
-- 02:30 is not repeated
SELECT * FROM pg_temp.fires('30 2 * * *', '2026-10-30 12:00+00', 'America/New_York', 3);
-- expected: 10-31 06:30 (EDT), 11-01 07:30 (EST), 11-02 07:30 (EST)
-- 01:30 fires once, at its first occurrence
SELECT * FROM pg_temp.fires('30 1 * * *', '2026-10-30 12:00+00', 'America/New_York', 3);
-- expected: 10-31 05:30 (EDT), 11-01 05:30 (EDT), 11-02 06:30 (EST)
-- hour field '*': fires at both occurrences, every 15 real minutes
SELECT * FROM pg_temp.fires('*/15 * * * *', '2026-11-01 05:20+00', 'America/New_York', 7);
-- expected: 05:30, 05:45 (01:30, 01:45 EDT), 06:00 .. 06:45 (01:00 .. 01:45 EST), 07:00
SELECT * FROM pg_temp.fires('0 * * * *', '2026-11-01 03:30+00', 'America/New_York', 4);
-- expected: 04:00 (00:00 EDT), 05:00 (01:00 EDT), 06:00 (01:00 EST), 07:00 (02:00 EST)
-- hour field 1, not '*': the repeated hour fires once
SELECT * FROM pg_temp.fires('*/15 1 * * *', '2026-11-01 04:50+00', 'America/New_York', 5);
-- expected: 05:00, 05:15, 05:30, 05:45 (EDT), then 11-02 06:00 (01:00 EST)

-- Paris, spring forward on 2026-03-29: 02:00-02:59 CET does not exist
SELECT * FROM pg_temp.fires('30 2 * * *', '2026-03-27 12:00+00', 'Europe/Paris', 3);
-- expected: 03-28 01:30 (02:30 CET), 03-29 01:00 (03:00 CEST), 03-30 00:30 (02:30 CEST)
SELECT * FROM pg_temp.fires('30 1 * * *', '2026-03-27 12:00+00', 'Europe/Paris', 3);
-- expected: 03-28 00:30 (CET), 03-29 00:30 (CET), 03-29 23:30 (03-30 01:30 CEST)
SELECT * FROM pg_temp.fires('*/15 * * * *', '2026-03-29 00:20+00', 'Europe/Paris', 4);
-- expected: 00:30, 00:45 (01:30, 01:45 CET), 01:00 (03:00 CEST), 01:15
SELECT * FROM pg_temp.fires('0 * * * *', '2026-03-28 23:30+00', 'Europe/Paris', 3);
-- expected: 00:00 (01:00 CET), 01:00 (02:00 skipped, and 03:00 CEST), 02:00 (04:00 CEST)

-- Paris, fall back on 2026-10-25: 02:00-02:59 occurs twice, first CEST
-- (00:00-00:59 UTC) then CET (01:00-01:59 UTC)
SELECT * FROM pg_temp.fires('30 2 * * *', '2026-10-23 12:00+00', 'Europe/Paris', 3);
-- expected: 10-24 00:30 (CEST), 10-25 00:30 (CEST, once), 10-26 01:30 (CET)
SELECT * FROM pg_temp.fires('30 1 * * *', '2026-10-23 12:00+00', 'Europe/Paris', 3);
-- expected: 10-23 23:30, 10-24 23:30 (01:30 CEST), 10-26 00:30 (01:30 CET)
SELECT * FROM pg_temp.fires('*/15 * * * *', '2026-10-25 00:20+00', 'Europe/Paris', 7);
-- expected: 00:30, 00:45 (02:30, 02:45 CEST), 01:00 .. 01:45 (02:00 .. 02:45 CET), 02:00
SELECT * FROM pg_temp.fires('0 * * * *', '2026-10-24 23:30+00', 'Europe/Paris', 3);
-- expected: 00:00 (02:00 CEST), 01:00 (02:00 CET), 02:00 (03:00 CET)
-- an hour field beginning with '*' counts as '*' (Vixie cron): 02:00 twice
SELECT * FROM pg_temp.fires('0 */2 * * *', '2026-10-24 21:30+00', 'Europe/Paris', 4);
-- expected: 22:00 (00:00 CEST), 00:00 (02:00 CEST), 01:00 (02:00 CET), 03:00 (04:00 CET)

-- Lord Howe Island moves by 30 minutes: 2026-10-04 02:00 +10:30 -> 02:30 +11
SELECT * FROM pg_temp.fires('*/15 * * * *', '2026-10-03 15:10+00', 'Australia/Lord_Howe', 3);
-- expected: 15:15 (01:45), 15:30 (02:00 and 02:15 skipped, and 02:30), 15:45

-- single points in and around the changes, New York
SELECT f AS fn, s AS schedule, at, CASE f WHEN 'next' THEN pipeline.cron_next(s, at, 'America/New_York')
                                    ELSE pipeline.cron_prev(s, at, 'America/New_York') END AS fire,
       CASE f WHEN 'next' THEN pipeline.cron_next(s, at, 'America/New_York')
              ELSE pipeline.cron_prev(s, at, 'America/New_York') END = e::timestamptz AS ok
  FROM (VALUES
    (1, 'next', '30 1 * * *', '2026-11-01 05:45+00'::timestamptz, '2026-11-02 06:30+00'),  -- not 01:30 EST
    (2, 'prev', '30 1 * * *', '2026-11-01 06:45+00', '2026-11-01 05:30+00'),
    (3, 'next', '30 * * * *', '2026-11-01 05:40+00', '2026-11-01 06:30+00'),              -- 01:30 EST
    (4, 'prev', '30 * * * *', '2026-11-01 06:00+00', '2026-11-01 05:30+00'),
    (5, 'prev', '45 1 * * *', '2026-11-01 06:00+00', '2026-11-01 05:45+00'),              -- at 01:00 EST
    (6, 'next', '45 1 * * *', '2026-11-01 06:00+00', '2026-11-02 06:45+00'),
    (7, 'next', '15,45 2 * * *', '2026-03-08 06:00+00', '2026-03-08 07:00+00'),
    (8, 'next', '15,45 2 * * *', '2026-03-08 07:00+00', '2026-03-09 06:15+00'),           -- once
    (9, 'prev', '15,45 2 * * *', '2026-03-09 00:00+00', '2026-03-08 07:00+00'),
    (10, 'prev', '15,45 2 * * *', '2026-03-08 07:00+00', '2026-03-07 07:45+00')
  ) v(i, f, s, at, e)
 ORDER BY i;

-- fires in the local year 2026: a gap merges 02:00 into 03:00 for '0 * * * *'
-- (-1) and nothing else; a repeated hour adds its fires when the hour field
-- begins with '*' (+4 for '*/15', +1 for '0 *' and '0 */2')
CREATE FUNCTION pg_temp.count_fires(sched text, zone text, from_ts timestamptz, to_ts timestamptz)
RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE f(t) AS (
        SELECT pipeline.cron_next(sched, from_ts - interval '1 microsecond', zone)
        UNION ALL
        SELECT pipeline.cron_next(sched, t, zone) FROM f WHERE t < to_ts)
    SELECT count(*) FROM f WHERE t < to_ts
$$;
SELECT z AS zone, s AS schedule, d AS local_dates, fires, fires = e AS ok
  FROM (VALUES
    (1, 'America/New_York', '*/15 * * * *', '2026-01-01', '2027-01-01', 35040),  -- 35040 - 4 + 4
    (2, 'America/New_York', '0 * * * *', '2026-01-01', '2027-01-01', 8760),      -- 8760 - 1 + 1
    (3, 'America/New_York', '30 2 * * *', '2026-01-01', '2027-01-01', 365),
    (4, 'America/New_York', '30 1 * * *', '2026-01-01', '2027-01-01', 365),
    (5, 'America/New_York', '*/15 1 * * *', '2026-01-01', '2027-01-01', 1460),
    (6, 'America/New_York', '*/10 * * * * *', '2026-03-08', '2026-03-09', 8280),  -- 23 hours
    (7, 'America/New_York', '*/10 * * * * *', '2026-11-01', '2026-11-02', 9000),  -- 25 hours
    (8, 'Europe/Paris', '*/15 * * * *', '2026-01-01', '2027-01-01', 35040),
    (9, 'Europe/Paris', '30 * * * *', '2026-01-01', '2027-01-01', 8761),
    (10, 'Europe/Paris', '0 */2 * * *', '2026-01-01', '2027-01-01', 4381),
    (11, 'Europe/Paris', '30 2 * * *', '2026-01-01', '2027-01-01', 365)
  ) v(i, z, s, d1, d2, e),
  LATERAL (SELECT d1 || ' .. ' || d2 AS d,
                  pg_temp.count_fires(s, z, timezone(z, d1::timestamp), timezone(z, d2::timestamp)) AS fires) c
 ORDER BY i;

-- cron_prev and cron_next are inverse.  Points: 200 spread over 2026, 200
-- within 4 hours of a change in New York, Paris or Lord Howe (whole and
-- fractional seconds), and the fire after each of them.  Checked:
-- next(t) > t > prev(t); prev(next(t)) is t if t fires, else prev(t);
-- next(prev(t)) is t if t fires, else next(t).
WITH base AS (
    SELECT z, s, b
      FROM (VALUES ('UTC'), ('America/New_York'), ('Europe/Paris'), ('Australia/Lord_Howe')) zz(z),
           (VALUES ('30 2 * * *'), ('30 1 * * *'), ('*/15 * * * *'), ('0 * * * *'), ('*/15 1 * * *'),
                   ('*/20 * * * * *'), ('0 0 $ 2 *'), ('0 9 * * mon-fri'), ('2 hours')) ss(s),
           generate_series(1, 200) i,
           LATERAL (VALUES
               ('2026-01-01 00:00+00'::timestamptz + (i * 157837 % 31536000) * interval '1 second'),
               ((ARRAY['2026-03-08 07:00+00', '2026-11-01 06:00+00', '2026-03-29 01:00+00',
                       '2026-10-25 01:00+00', '2026-04-04 15:00+00', '2026-10-03 15:30+00']::timestamptz[])[i % 6 + 1]
                + (i * 7919 % 28800 - 14400) * interval '1 second'
                + (i % 3) * interval '0.25 second')) bb(b)),
pts AS (
    SELECT z, s, t, pipeline.cron_next(s, t, z) AS n, pipeline.cron_prev(s, t, z) AS p,
           pipeline.cron_next(s, t - interval '1 second', z) = t AS fires
      FROM base, LATERAL (VALUES (b), (pipeline.cron_next(s, b, z))) tt(t))
SELECT count(*) AS checks,
       bool_and(n > t AND p < t
                AND pipeline.cron_prev(s, n, z) = CASE WHEN fires THEN t ELSE p END
                AND pipeline.cron_next(s, p, z) = CASE WHEN fires THEN t ELSE n END) AS inverse,
       count(*) FILTER (WHERE fires) >= count(*) / 2 AS half_fire
  FROM pts;

-- errors
SELECT pipeline.cron_next('', '2026-01-01');
SELECT pipeline.cron_next(' ', '2026-01-01');
SELECT pipeline.cron_next('* * * *', '2026-01-01');
SELECT pipeline.cron_next('* * * * * * *', '2026-01-01');
SELECT pipeline.cron_next('5', '2026-01-01');
SELECT pipeline.cron_next('60 * * * * *', '2026-01-01');
SELECT pipeline.cron_next('61 * * * *', '2026-01-01');
SELECT pipeline.cron_next('0 24 * * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 0 * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 32 * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 1 13 *', '2026-01-01');
SELECT pipeline.cron_next('0 0 * * 8', '2026-01-01');
SELECT pipeline.cron_next('0 0 1 foo *', '2026-01-01');
SELECT pipeline.cron_next('0 0 * * monday', '2026-01-01');
SELECT pipeline.cron_next('abc * * * *', '2026-01-01');
SELECT pipeline.cron_next('*/0 * * * *', '2026-01-01');
SELECT pipeline.cron_next('*/ * * * *', '2026-01-01');
SELECT pipeline.cron_next('5-2 * * * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 * * fri-sun', '2026-01-01');
SELECT pipeline.cron_next('1,,2 * * * *', '2026-01-01');
SELECT pipeline.cron_next('1- * * * *', '2026-01-01');
SELECT pipeline.cron_next('*-5 * * * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 ? * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 1 * 1#2', '2026-01-01');
SELECT pipeline.cron_next('$ * * * *', '2026-01-01');
SELECT pipeline.cron_next('0 0 1-$ * *', '2026-01-01');
SELECT pipeline.cron_next('@reboot', '2026-01-01');
SELECT pipeline.cron_next('@daily 5', '2026-01-01');
SELECT pipeline.cron_next('1 hour 30 minutes', '2026-01-01');
SELECT pipeline.cron_next('2 days 3 hours', '2026-01-01');
SELECT pipeline.cron_next('0 seconds', '2026-01-01');
SELECT pipeline.cron_next('-5 minutes', '2026-01-01');
SELECT pipeline.cron_next('1.5 hours', '2026-01-01');
SELECT pipeline.cron_next('5 fortnights', '2026-01-01');
SELECT pipeline.cron_next('5 minutes ago', '2026-01-01');
SELECT pipeline.cron_next('36501 days', '2026-01-01');
SELECT pipeline.cron_next('0 0 30 2 *', '2026-01-01');
SELECT pipeline.cron_prev('0 0 31 4,6,9,11 *', '2026-01-01');
SELECT pipeline.cron_next('0 0 * * *', '2026-01-01', 'Mars/Olympus');
SELECT pipeline.cron_next('0 0 * * *', 'infinity');
SELECT pipeline.cron_next('0 0 * * *', '294276-12-31 12:00+00');

DROP EXTENSION pg_pipeline;
