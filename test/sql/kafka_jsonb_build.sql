-- jsonb sources without jsonb's own parser (jsonb_build.c): a binary-format
-- load builds each jsonb value itself and leaves anything unusual to
-- jsonb_recv().  Every message here goes through the real loader (the
-- replay of dead letters uses it, as in kafka_binary_load) and what is
-- stored must be what raw_text::jsonb gives: the same value, the same text
-- (numeric scales, key order, the last of duplicate keys) and the same
-- size; a message jsonb refuses must be a dead letter with jsonb's own
-- SQLSTATE and message.  In a UTF8 database.
\set regress_db :DBNAME
CREATE DATABASE pp_jsonb_build ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pp_jsonb_build
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');

-- a zstd frame of raw (uncompressed) blocks of at most 128 kB, no checksum
CREATE FUNCTION zframe(b bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
  out bytea := '\x28b52ffd0058';
  len int := length(b);
  pos int := 1;
  n int;
  h int;
BEGIN
  LOOP
    n := least(131072, len - pos + 1);
    h := (n << 3) | CASE WHEN pos + n > len THEN 1 ELSE 0 END;
    out := out || set_byte(set_byte(set_byte('\x000000'::bytea, 0, h & 255), 1, (h >> 8) & 255), 2, h >> 16)
               || substr(b, pos, n);
    pos := pos + n;
    EXIT WHEN pos > len;
  END LOOP;
  RETURN out;
END $$;

-- jsonb's own verdict on a text: the value, or the error
CREATE FUNCTION verdict(raw text, OUT doc jsonb, OUT state text, OUT msg text) LANGUAGE plpgsql AS $$
BEGIN
  doc := raw::jsonb;
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
END $$;

-- load every text of corpus as a message of a jsonb source into got, and
-- what jsonb_in says of each into want
CREATE TABLE corpus (id int PRIMARY KEY, raw text);
CREATE TABLE got (doc jsonb, _offset bigint);
CREATE TABLE want (id int, doc jsonb, state text, msg text);
SELECT pipeline.create_source('jb', 'kafka', 't', 'got', format => 'jsonb', partitions => 'none');
CREATE FUNCTION load_corpus() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM got;
  DELETE FROM want;
  DELETE FROM pipeline.dead_letters WHERE source = 'jb';
  INSERT INTO pipeline.dead_letters (source, topic, partition, "offset", payload, payload_size, message_time, error)
    SELECT 'jb', 't', 0, id, zframe(convert_to(raw, 'UTF8')), octet_length(raw), now(), 'planted'
      FROM corpus ORDER BY id;
  INSERT INTO want SELECT id, (verdict(raw)).* FROM corpus;
  RETURN pipeline.replay_dead_letters('jb');
END $$;
-- every difference: a value stored unlike jsonb_in's, or not stored, or a
-- dead letter unlike jsonb_in's error
CREATE VIEW differences AS
  SELECT w.id, c.raw, g.doc::text AS got, w.doc::text AS want, d.sqlstate, d.error, w.state, w.msg
    FROM want w JOIN corpus c USING (id)
    LEFT JOIN got g ON g._offset = w.id
    LEFT JOIN pipeline.dead_letters d ON d.source = 'jb' AND d."offset" = w.id
   WHERE CASE WHEN w.state IS NULL
              THEN g.doc IS NULL OR g.doc <> w.doc OR g.doc::text <> w.doc::text
                   OR pg_column_size(g.doc) <> pg_column_size(w.doc) OR d.id IS NOT NULL
              ELSE g.doc IS NOT NULL OR d.id IS NULL OR d.sqlstate <> w.state
                   OR d.error NOT LIKE replace(replace(w.msg, '\', '\\'), '%', '\%') || '%' END;

-- the hand-made corpus
INSERT INTO corpus VALUES
  -- objects: key order (shorter first, then bytes), duplicates (the last wins)
  (1, '{"b":1,"a":2,"aa":3,"":4,"B":5}'),
  (2, '{"a":1,"a":2}'),
  (3, '{"a":1,"b":2,"a":3,"b":{"x":1},"a":[4]}'),
  (4, '{"k":{"z":1,"y":2,"z":3},"k":{"y":4,"y":5}}'),
  (5, '{"x1":1,"x2":2,"x3":3,"x4":4,"x5":5,"x6":6,"x7":7,"x8":8,"x9":9,"x10":10,"x11":11,"x12":12,"x13":13,"x14":14,"x15":15,"x16":16,"x17":17,"x3":"last","x20":20,"x1":"last"}'),
  (6, '{"é":1,"e":2,"ключ":3,"z":4,"€":5}'),
  (7, '{}'), (8, '[]'), (9, '{"a":{},"b":[],"c":[{}],"d":[[]]}'),
  (10, '[[[[[[[[[[1]]]]]]]]]]'),
  (11, '[1,"a",true,false,null,{"a":null},[null]]'),
  -- whitespace everywhere (space, tab, line feed, carriage return)
  (12, E' \t\n\r{ \t"a" \n: \r[ 1 ,\t2 , { "b" : null } ] ,"c":"d" } \n\t '),
  (13, E'\n[\n]\n'), (14, E'{\r}'),
  -- top-level scalars
  (15, '1'), (16, '"text"'), (17, 'true'), (18, 'false'), (19, 'null'), (20, '  -0.50  '),
  -- every number form
  (21, '[0,-0,0.0,-0.0,1,-1,10,100,1000,10000,100000000,-123456789012345678]'),
  (22, '[1e3,1E3,1e+3,1e-3,1E-3,1.5e2,1.50e-2,-2.5E+10,0e0,0.0e5,1e0,1e-0,12e-10]'),
  (23, '[123456789012345678,1234567890123456789,99999999999999999999999999,-9223372036854775808,9223372036854775807,9223372036854775808]'),
  (24, '[0.1,0.10,0.100,1.000000000000000,3.141592653589793,3.1415926535897932384626433832795028841971]'),
  (25, '[1e999,1e-999,-1e999,123.456e-999,0.000000000000000000000000000001,1e007,1E-007]'),
  (26, '[100000000000000000000000000000000000000000000000000000000000000000000000.5,1234567890123456789e999,-0.00000000000000000001e-999,12345678901234567.8E+2]'),
  (27, '{"amount":0.00,"a2":12.30,"a3":499.99,"a4":-0.01}'),
  -- numbers jsonb refuses or that numeric_in refuses (jsonb_recv's errors)
  (28, '[1e1001]'), (29, '[1e-1001]'), (30, '[01]'), (31, '[-]'), (32, '[1.]'), (33, '[.5]'),
  (34, '[1e]'), (35, '[+1]'), (36, '[1.5e+]'), (37, '[0x10]'), (38, '[1e0001]'), (39, '[-01]'),
  (40, '[NaN]'), (41, '[Infinity]'), (42, '[1,2'), (43, '1 2'),
  -- strings: escapes unescaped, \u left to jsonb_recv
  (44, '["a\"b","c\\d","e\/f","\b\f\n\r\t","\u0041\u00e9\u20ac","\ud83d\ude00",""]'),
  (45, '{"k\"ey":1,"k\\ey":2,"k\u0065y":3,"key":4}'),
  (46, '["caf\u00e9","café","日本語","🎉","\u0000"]'),
  (47, '["\x"]'), (48, '["\ud800"]'), (49, E'["tab\there"]'), (50, '["\'']'),
  (51, E'["line\nbreak"]'), (52, '["unterminated'), (53, '"a" "b"'),
  -- syntax errors of every kind
  (54, '{"a":1,}'), (55, '[1,]'), (56, '{"a"}'), (57, '{"a":}'), (58, '{a:1}'), (59, '{"a" 1}'),
  (60, '[1 2]'), (61, 'tru'), (62, 'truex'), (63, 'nul'), (64, '[true1]'), (65, 'True'),
  (66, '{"a":1}}'), (67, '{"a":1} x'), (68, '{"a":1'), (69, ']'), (70, '}'),
  (72, '   '), (73, '{"a":1,"a"'), (74, '[1]]'), (75, '"a":1'), (76, '[,1]'), (77, '{,}'),
  (78, '[-x]'), (79, '{"a":1 "b":2}'), (80, '[null,]'),
  -- nesting: at the fast path's limit, beyond it, far beyond it
  (81, repeat('[', 64) || repeat(']', 64)), (82, repeat('[', 65) || '1' || repeat(']', 65)),
  (83, repeat('{"a":', 70) || '1' || repeat('}', 70)), (84, repeat('[', 1000) || repeat(']', 1000)),
  (85, repeat('[', 200) || repeat(']', 199)), (91, repeat('[', 100000) || repeat(']', 100000)),
  -- large: a long string, a long key, many elements, many keys (qsort)
  (86, '["' || repeat('x', 300000) || '"]'), (87, '{"' || repeat('k', 100000) || '":1,"' || repeat('k', 100000) || '":2}'),
  (88, '[' || (SELECT string_agg(i::text, ',') FROM generate_series(1, 20000) i) || ']'),
  (89, '{' || (SELECT string_agg(format('"k%s":%s', (i * 7919) % 3001, i), ',') FROM generate_series(1, 5000) i) || '}'),
  (90, '["' || repeat('é\"', 50000) || '"]');
SELECT load_corpus() AS loaded;
SELECT count(*) AS documents, count(*) FILTER (WHERE state IS NULL) AS valid FROM want;
SELECT * FROM differences;
-- what was stored, for the eye (the large ones by size)
SELECT _offset, CASE WHEN length(doc::text) > 200 THEN 'length ' || length(doc::text) ELSE doc::text END AS doc
  FROM got ORDER BY _offset;
-- the dead letters: jsonb's own errors
SELECT "offset", sqlstate, left(split_part(error, E'\n', 1), 100) AS error
  FROM pipeline.dead_letters WHERE source = 'jb' ORDER BY "offset";

-- a generated corpus: 3,000 random documents (nested objects and arrays,
-- keys that repeat, numbers of every form, escapes, whitespace), and one
-- in ten broken by cutting it short
SELECT setseed(0.15);
CREATE FUNCTION ws() RETURNS text LANGUAGE sql AS $$
  SELECT (ARRAY['', '', '', ' ', E'\n', E'\t', E' \r\n '])[1 + floor(random() * 7)::int] $$;
CREATE FUNCTION random_scalar() RETURNS text LANGUAGE sql AS $$
  SELECT CASE floor(random() * 14)::int
    WHEN 0 THEN (floor(random() * 2000000) - 1000000)::text
    WHEN 1 THEN round((random() * 1000)::numeric, floor(random() * 6)::int)::text
    WHEN 2 THEN '-' || (floor(random() * 100))::text || '.' || lpad((floor(random() * 1000))::text, 3, '0')
    WHEN 3 THEN (floor(random() * 100))::text || (ARRAY['e', 'E'])[1 + floor(random() * 2)::int]
                || (ARRAY['', '+', '-'])[1 + floor(random() * 3)::int] || (floor(random() * 40))::text
    WHEN 4 THEN (floor(random() * 9) + 1)::text || repeat((floor(random() * 10))::text, (floor(random() * 30))::int)
    WHEN 5 THEN '0.' || repeat('0', (floor(random() * 20))::int) || (floor(random() * 1000))::text
    WHEN 6 THEN (ARRAY['true', 'false', 'null', '0', '-0', '0.0', '-0.0'])[1 + floor(random() * 7)::int]
    WHEN 7 THEN '"' || (ARRAY['', 'a', 'é', '日本', 'x y', '\"', '\\', '\/', '\n', '\t\r', '\b\f', '\u00e9', '🎉'])
                         [1 + floor(random() * 13)::int] || md5(random()::text) || '"'
    WHEN 8 THEN '"' || repeat('ab', (floor(random() * 100))::int) || '"'
    ELSE (floor(random() * 1000000000000))::text || '.' || (floor(random() * 100))::text
  END $$;
CREATE FUNCTION random_doc(depth int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r float8 := random();
  n int;
  parts text[] := '{}';
BEGIN
  IF depth > 3 OR r < 0.35 THEN
    RETURN random_scalar();
  END IF;
  IF r < 0.7 THEN
    n := CASE WHEN random() < 0.1 THEN 25 ELSE floor(random() * 6)::int END;
    FOR i IN 1..n LOOP
      parts := parts || (ws() || '"' || (ARRAY['a', 'b', 'aa', 'ab', 'ba', 'id', 'name', 'é', 'e', 'A', '', 'k\"', 'long_key_name'])
                                          [1 + floor(random() * 13)::int] || '"' || ws() || ':' || ws() || random_doc(depth + 1) || ws());
    END LOOP;
    RETURN '{' || ws() || array_to_string(parts, ',') || '}';
  END IF;
  n := floor(random() * 5)::int;
  FOR i IN 1..n LOOP
    parts := parts || (ws() || random_doc(depth + 1) || ws());
  END LOOP;
  RETURN '[' || ws() || array_to_string(parts, ',') || ']';
END $$;
DELETE FROM corpus;
INSERT INTO corpus
  SELECT i, CASE WHEN i % 10 = 0 THEN left(d, greatest(1, (length(d) * random())::int)) ELSE d END
    FROM (SELECT i, ws() || random_doc(0) || ws() AS d FROM generate_series(1, 3000) i) g;
SELECT load_corpus() AS loaded;
SELECT count(*) AS documents, count(*) FILTER (WHERE state IS NULL) AS valid FROM want;
SELECT count(*) AS differences FROM differences;
SELECT * FROM differences LIMIT 5;

-- what a hostile producer can send (a fresh backend, for its peak memory):
-- many short strings with escapes (each unescaped into a copy of its own
-- size: one of the rest of the message each would take gigabytes), the
-- largest array of 0s the fast path takes and one byte more (jsonb_recv),
-- 100,000 duplicates of one key (the last wins), 20,000 keys, 64 and 65
-- levels of objects
\c pp_jsonb_build
DELETE FROM corpus;
INSERT INTO corpus VALUES
  (1, '[' || repeat('"\n",', 150000) || '"x"]'),
  (2, '[' || repeat('0,', 524286) || '0]'),
  (3, '[' || repeat('0,', 524287) || '0]'),
  (4, '{' || repeat('"a":1,', 100000) || '"a":2}'),
  (5, '{' || (SELECT string_agg(format('"%s":%s', md5(i::text), i), ',') FROM generate_series(1, 20000) i) || '}'),
  (6, repeat('{"a":', 64) || '[]' || repeat('}', 64)),
  (7, repeat('{"a":', 65) || '[]' || repeat('}', 65));
SELECT id, octet_length(raw) AS bytes FROM corpus ORDER BY id;
SELECT load_corpus() AS loaded;
SELECT count(*) AS differences FROM differences;
SELECT doc FROM got WHERE _offset = 4;
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+) kB'))[1]::bigint
       < 250000 AS peak_under_250_mb;

\c :regress_db
DROP DATABASE pp_jsonb_build;
