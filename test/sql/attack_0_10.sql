-- 0.10.0 as a hostile role and a hostile producer sees it (docs/security.md,
-- "0.10.0: what an attacker tried"): COPY's binary format, sync window
-- sets and unique in two steps.  Each block is an attack; the expected
-- output is what holds.
\set regress_db :DBNAME
CREATE DATABASE pp_attack ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pp_attack
CREATE EXTENSION pg_pipeline;
\set VERBOSITY terse
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE FUNCTION plant(s text, z text, size int, o bigint) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO pipeline.dead_letters (source, topic, partition, "offset", payload, payload_size, message_time, error)
  VALUES (s, 't', 0, o, decode(z, 'hex'), size, '2026-01-01 00:00:00+00', 'planted')
$$;

-- 1. A json message with none of the target's keys, every column with a
-- default: COPY reads an empty column list as every column.  The text
-- format took the empty line as the one column's value (an empty string,
-- not its default); the binary format refused it as a malformed tuple.
-- Both now refuse the message with the same error; a message with one
-- key loads, the others taking their defaults.
CREATE TABLE only_defaults (a text DEFAULT 'dflt', b int DEFAULT 7);
CREATE TABLE one_default (a text DEFAULT 'dflt');
SELECT pipeline.create_source('only_defaults', 'kafka', 't', 'only_defaults', partitions => 'none');
SELECT pipeline.create_source('one_default', 'kafka', 't', 'one_default', partitions => 'none');
SELECT plant(s, z, size, o)
  FROM (VALUES ('28b52ffd04581100007b7dd194f27a', 2, 1),                   -- {}
               ('28b52ffd04584100007b2278223a20317dfa770f2d', 8, 2),       -- {"x": 1}
               ('28b52ffd04587100007b2261223a2022676976656e227d8c8a89f0', 14, 3)  -- {"a": "given"}
       ) m(z, size, o), (VALUES ('only_defaults'), ('one_default')) t(s);
SELECT pipeline.replay_dead_letters('only_defaults') AS loaded, pipeline.replay_dead_letters('one_default') AS loaded_one;
-- the text format: a replay in a LATIN1 session
SET client_encoding = 'LATIN1';
UPDATE pipeline.dead_letters SET error = 'planted' WHERE source = 'one_default';
SELECT pipeline.replay_dead_letters('one_default') AS loaded_text;
RESET client_encoding;
SELECT a, b FROM only_defaults;
SELECT a FROM one_default;
SELECT source, "offset", sqlstate, error FROM pipeline.dead_letters ORDER BY source, "offset";
DELETE FROM pipeline.dead_letters;

-- 2. Conversions done by pg_pipeline for the binary format (json into
-- numeric and timestamptz) against the input functions of the text format
-- (a twin table whose domain column keeps it): negative zero, 1000 and
-- 1001 digits in either part (the direct path stops at 1000), leading
-- zeros, a JSON number of 1001 digits, rounding to a typmod, offsets at
-- and past +15:59, years 1 and 9999, leap days, leap seconds, fractions
-- of 7 digits.  The same rows and the same dead letters.
SET TimeZone = 'America/New_York';
CREATE DOMAIN text_path_only AS int CHECK (VALUE > 0);
CREATE TABLE conv_bin (n numeric, n2 numeric(10,2), ts timestamptz, ts0 timestamptz(0), _offset bigint);
CREATE TABLE conv_text (LIKE conv_bin, x text_path_only);
SELECT pipeline.create_source('conv_bin', 'kafka', 't', 'conv_bin', partitions => 'none');
SELECT pipeline.create_source('conv_text', 'kafka', 't', 'conv_text', partitions => 'none');
SELECT plant(s, z, size, o) FROM (VALUES
  ('28b52ffd04685900007b226e223a20222d30227ded09c45a', 11, 1),
  ('28b52ffd04687900007b226e223a20222d302e303030227dc1c54b20', 15, 2),
  ('28b52ffd04689900007b226e223a202230303031322e33343030227d5174a8c8', 19, 3),
  ('28b52ffd04688d0000507b226e223a202231227d0100e42bc0059926cc64', 1009, 4),
  ('28b52ffd04688d0000507b226e223a202231227d0100e52bc0056df56828', 1010, 5),
  ('28b52ffd04689d0000607b226e223a2022302e31227d0100e42b8004375d1f34', 1011, 6),
  ('28b52ffd04689d0000607b226e223a2022302e31227d0100e52b8004460d6bac', 1012, 7),
  ('28b52ffd0468950000587b226e223a20223130227d0100e32b7004620f77e0', 1009, 8),
  ('28b52ffd0468950000587b226e223a20223031227d0100ccff800b98b5fb56', 2010, 9),
  ('28b52ffd04685900007b226e223a2022352e227d9b506a78', 11, 10),
  ('28b52ffd04685100007b226e223a20222d227d20b44cd9', 10, 11),
  ('28b52ffd04685900007b226e223a20222b31227dc6c5c237', 11, 12),
  ('28b52ffd04685900007b226e223a20222031227de48fdb2e', 11, 13),
  ('28b52ffd04687d0000407b226e223a20377d0100e52b6004aadfdb87', 1008, 14),
  ('28b52ffd04684900007b226e223a202d307d16f5852d', 9, 15),
  ('28b52ffd0468950000587b226e223a20302e30317d0100e32b7004c8a7bf87', 1009, 16),
  ('28b52ffd04687900007b226e32223a2022312e303035227dda3ba8a5', 15, 17),
  ('28b52ffd04688100007b226e32223a20222d302e303031227d60ea6c8a', 16, 18),
  ('28b52ffd0468b100007b226e32223a202239393939393939392e393935227dd0190bef', 22, 19),
  ('28b52ffd0468450100f201070cd03d718f02a866e5f950c0387ddd808933b412fc93ea7f00866e70030047890f84f0725fa0aafca7', 71, 20),
  ('28b52ffd046875010062820810b0370758df1ca1383e28b91b4a9a641867cc5228b1b302f5ffb82fa2fed215b326030038f50c1c61ebbeaeb0a52c', 85, 21),
  ('28b52ffd0468850100b2820910b0a903396aa0a5fc94228bed485c2a1e6ba0441078afc416f7ee997288b142ec9fe088125502009cfadf059c289bd191', 85, 22),
  ('28b52ffd04684d01009202080cd03d718f02a4bae7cf0880107b4c43f8b75f7efbedbfb9cca5e86430635a03010038a22a0300436620', 71, 23),
  ('28b52ffd04685501009242080cd03d718f02a4bae7727238387ddd80891fafe4c71fffac539dce6e0118bac101010038a22a039157fd07', 71, 24),
  ('28b52ffd04684d01009202080cd03d718f02a4bae7727238387ddd80891ffef2e38f7fd6e94e67b7000cdde0010038a22a0320d6c20b', 71, 25),
  ('28b52ffd04682d01004202070cd01d0371df1c60d7fca100e03b6680c47d7dbdd143cf7f400566680100138b7a0292370f01', 61, 26),
  ('28b52ffd046865010044027b227473223a2022323032332d30322d32395431323a30303a30305a222c20227473307d0100138b7a02760b902e', 61, 27),
  ('28b52ffd046865010044027b227473223a2022323032362d30362d30315432333a35393a36305a222c20227473307d0100138b7a0253dc6415', 61, 28),
  ('28b52ffd04686d010024027b227473223a2022323032362d30362d30315430303a2e39355a222c20227473307d03004a8de30ae6e59ad7365bc3', 77, 29),
  ('28b52ffd04686d010034027b227473223a2022323032362d30362d30315430303a2b30353330222c20227473307d020046dd44c13501256c12e4', 69, 30)
  ) m(z, size, o), (VALUES ('conv_bin'), ('conv_text')) t(s);
SELECT pipeline.replay_dead_letters('conv_bin') AS loaded_bin, pipeline.replay_dead_letters('conv_text') AS loaded_text;
(SELECT n::text, n2::text, ts, ts0, _offset FROM conv_bin EXCEPT SELECT n::text, n2::text, ts, ts0, _offset FROM conv_text)
UNION ALL
(SELECT n::text, n2::text, ts, ts0, _offset FROM conv_text EXCEPT SELECT n::text, n2::text, ts, ts0, _offset FROM conv_bin);
SELECT _offset, left(n::text, 12) AS n, length(n::text) AS n_chars, n2, ts AT TIME ZONE 'UTC' AS ts_utc, ts0 AT TIME ZONE 'UTC' AS ts0_utc
  FROM conv_bin ORDER BY _offset;
SELECT coalesce(b."offset", t."offset") AS "offset", b.sqlstate AS bin, t.sqlstate AS text
  FROM (SELECT * FROM pipeline.dead_letters WHERE source = 'conv_bin') b
  FULL JOIN (SELECT * FROM pipeline.dead_letters WHERE source = 'conv_text') t USING ("offset")
 ORDER BY 1;
RESET TimeZone;

-- 3. The C functions callable from SQL, given odd input by a role that
-- owns nothing: errors, never a crash or a read of memory.
CREATE ROLE pp_attacker;
SET ROLE pp_attacker;
SELECT pipeline.distinct_set(x) FROM (VALUES ('1,1'::point)) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES ('{}'::json)) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES ('a'::cstring)) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES (ROW(1, 'a'::text)), (ROW(1, 'a'::text)), (NULL), (ROW(0, 'b'::text))) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES (1.5::float8), ('NaN'), ('-0'), ('0'), ('NaN')) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES ('(0,1)'::tid), ('(4294967295,65535)'), ('(0,1)')) v(x);
SELECT pipeline.distinct_set(x) FROM (VALUES (NULL::int)) v(x);
SELECT pipeline.distinct_set(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM generate_series(1, 3) x;
SELECT pipeline.array_distinct('[5:7]={3,2,1}'::int[]), pipeline.array_distinct('{{1,2},{2,1}}'::int[]),
       pipeline.array_distinct('{}'::text[]), pipeline.array_distinct('{1,2,3,1,2,3}'::int8[]);
SELECT pipeline.array_distinct('{"(1,1)"}'::point[]);
SELECT pipeline._repeated_rows(1, t) FROM (VALUES ('(4294967295,65535)'::tid), ('(0,0)'), (NULL)) v(t);
SELECT pipeline._repeated_rows('abc', '(0,1)'::tid);
SELECT pipeline._repeated_rows('1,1'::point, '(0,1)'::tid);
SELECT pipeline._repeated_rows(x, '(0,1)'::tid) OVER (ORDER BY x) FROM generate_series(1, 2) x;
-- the support functions take internal, which no SQL expression gives
SELECT pipeline._repeated_rows_final(NULL::internal);
RESET ROLE;

-- 4. check() sets enable_seqscan (and max_parallel_workers_per_gather)
-- only in its role switch's GUC level: nothing of it reaches the caller,
-- in or out of a transaction, whatever the caller had set.
CREATE TABLE u (id int PRIMARY KEY, code text);
INSERT INTO u SELECT g, CASE WHEN g % 100 = 0 THEN 'c1' ELSE 'c' || g END FROM generate_series(1, 500) g;
SELECT pipeline.expect('u', 'code', 'unique', key_columns => '{id}');
BEGIN;
SET LOCAL max_parallel_workers_per_gather = 3;
SELECT expectation, status, failing, total FROM pipeline.check('u');
SELECT current_setting('enable_seqscan') AS seqscan, current_setting('max_parallel_workers_per_gather') AS workers;
COMMIT;
SET enable_seqscan = off;
SELECT expectation, status, failing FROM pipeline.check('u');
SHOW enable_seqscan;
RESET enable_seqscan;
SELECT expectation, status, failing FROM pipeline.check('u');
SHOW enable_seqscan;

-- 5. A writer's statement of many rows of one large value (it compresses
-- to little on disk) into a sync window with count(DISTINCT): the
-- statement's set was built by distinct_set, which kept a copy of every
-- row's value until its final function (3,000 rows of one 100 kB text
-- held 300 MB; more rows, the server's memory).  It now drops the
-- duplicates as its array fills.  Read from the backend's peak memory, in
-- a fresh backend (Linux's /proc).
\c pp_attack
SELECT cardinality(pipeline.distinct_set(repeat(md5('a'), 3200) || g % 2)) AS two_values
  FROM generate_series(1, 3000) g;
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
       < 100000 AS peak_under_100_mb;
-- the same sets as array_agg(DISTINCT), whatever the order and the duplicates
SELECT pipeline.distinct_set(x % 37) = array(SELECT DISTINCT x % 37 FROM generate_series(1, 20000) x ORDER BY 1) AS few,
       pipeline.distinct_set(x) = array(SELECT x FROM generate_series(1, 20000) x ORDER BY 1) AS all_distinct,
       pipeline.distinct_set(md5((x % 3000)::text)) = array(SELECT DISTINCT md5((x % 3000)::text) FROM generate_series(1, 20000) x ORDER BY 1) AS text_values
  FROM (SELECT x FROM generate_series(1, 20000) x ORDER BY md5(x::text)) s;

\c :regress_db
DROP DATABASE pp_attack WITH (FORCE);
DROP ROLE pp_attacker;
