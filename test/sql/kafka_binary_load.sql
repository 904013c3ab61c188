-- Loading in COPY's binary format (decode.c, load.c): the jsonb, text and
-- bytea formats with their metadata columns go to COPY as binary tuples,
-- each field its length and its bytes; other layouts keep COPY's text
-- format.  The replays of dead letters use the same loader as the
-- consumers, so they show both here without a broker.  In a UTF8
-- database, whatever the cluster's encoding.
\set regress_db :DBNAME
CREATE DATABASE pp_binary ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pp_binary
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
-- no broker: the sources read no partition on this server
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');

-- a dead letter of source s (the payload zstd-compressed, as the consumer keeps it)
CREATE FUNCTION plant(s text, z bytea, size int, p int, o bigint, k bytea DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO pipeline.dead_letters (source, topic, partition, "offset", key, payload, payload_size, message_time, error)
  VALUES (s, 't', p, o, k, z, size, '2026-01-01 00:00:00.123+00', 'planted')
$$;

-- text with every metadata column of a binary type: binary
CREATE TABLE bin_text (line text, _topic text, _partition int, _offset bigint, _key varchar(10),
                       _timestamp timestamptz, _timestamp_ms bigint, _ingested_at timestamptz);
SELECT pipeline.create_source('b_text', 'kafka', 't', 'bin_text', format => 'text', partitions => 'none');
SELECT plant('b_text', '\x28b52ffd0458690000636166c3a9206175206c616974b14795b8', 13, 3, 7, '\x6b31');
SELECT pipeline.replay_dead_letters('b_text') AS loaded;
SELECT line, octet_length(line) AS bytes, _topic, _partition, _offset, _key,
       _timestamp AT TIME ZONE 'UTC' AS ts_utc, _timestamp_ms, _ingested_at IS NOT NULL AS ingested
  FROM bin_text;

-- the session's client_encoding does not change what is loaded: a replay
-- in a LATIN1 session uses the text format (the binary receive functions
-- would read the text as LATIN1 and store "cafÃ©")
SET client_encoding = 'LATIN1';
SELECT plant('b_text', '\x28b52ffd0458690000636166c3a9206175206c616974b14795b8', 13, 3, 8);
SELECT pipeline.replay_dead_letters('b_text') AS loaded;
RESET client_encoding;
SELECT _offset, line = convert_from('\x636166c3a9206175206c616974', 'UTF8') AS same_text, octet_length(line) AS bytes
  FROM bin_text ORDER BY _offset;

-- a value too long for varchar(10): the message's fault, a dead letter
SELECT plant('b_text', '\x28b52ffd04584100006e6f74206a736f6e78ee04fc', 8, 0, 1, '\x6b6b6b6b6b6b6b6b6b6b6b');
SELECT pipeline.replay_dead_letters('b_text') AS loaded;
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'b_text';

-- jsonb into a jsonb column: the JSON text as the message holds it;
-- jsonb's receive function parses it, and refuses what is not JSON
CREATE TABLE bin_jsonb (doc jsonb, _offset bigint);
SELECT pipeline.create_source('b_jsonb', 'kafka', 't', 'bin_jsonb', format => 'jsonb', partitions => 'none');
SELECT plant('b_jsonb', '\x28b52ffd04589900007b2261223a20312c0a202262223a202278227da810609b', 19, 0, 1);  -- a line break
SELECT plant('b_jsonb', '\x28b52ffd04586900007b2261223a202262616401227d20aa2610', 13, 0, 2);  -- a control byte
SELECT plant('b_jsonb', '\x28b52ffd04581100005c2e3864b18e', 2, 0, 3);  -- \. COPY's end of data
SELECT plant('b_jsonb', '\x28b52ffd04584100006e6f74206a736f6e78ee04fc', 8, 0, 4);  -- not JSON
SELECT pipeline.replay_dead_letters('b_jsonb') AS loaded;
SELECT _offset, doc FROM bin_jsonb ORDER BY _offset;
-- the errors are jsonb's own; the context names the column, not the value
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'b_jsonb' ORDER BY "offset";

-- jsonb into a json column alone: kept byte for byte, line break included
CREATE TABLE bin_json (doc json);
SELECT pipeline.create_source('b_json', 'kafka', 't', 'bin_json', format => 'jsonb', partitions => 'none');
SELECT plant('b_json', '\x28b52ffd04589900007b2261223a20312c0a202262223a202278227da810609b', 19, 0, 1);
SELECT pipeline.replay_dead_letters('b_json') AS loaded;
SELECT doc::text = E'{"a": 1,\n "b": "x"}' AS byte_for_byte FROM bin_json;

-- bytea: the message's bytes as they are (NUL, \., a line break, 0xff)
CREATE TABLE bin_bytea (data bytea, _partition bigint);
SELECT pipeline.create_source('b_bytea', 'kafka', 't', 'bin_bytea', format => 'bytea', partitions => 'none');
SELECT plant('b_bytea', '\x28b52ffd04583900006100625c2e0aff43cc3746', 7, 5, 1);
SELECT pipeline.replay_dead_letters('b_bytea') AS loaded;
SELECT data, _partition FROM bin_bytea;

-- a metadata column of another type (_partition text): COPY's text format,
-- the same rows
CREATE TABLE text_path (line text, _partition text);
SELECT pipeline.create_source('b_textpath', 'kafka', 't', 'text_path', format => 'text', partitions => 'none');
SELECT plant('b_textpath', '\x28b52ffd0458690000636166c3a9206175206c616974b14795b8', 13, 3, 7);
SELECT plant('b_textpath', '\x28b52ffd04583900006100625c2e0aff43cc3746', 7, 3, 8);
SELECT pipeline.replay_dead_letters('b_textpath') AS loaded;
SELECT line, _partition FROM text_path;
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'b_textpath';

-- json into typed columns: each value converted as the column's input
-- function would (integers, plain decimals and ISO 8601 times with a zone
-- directly; anything else through the input function), then received by
-- COPY's binary path.  The same messages into a twin table whose domain
-- column keeps it in the text format must give the same rows and the
-- same dead letters (SQLSTATE).  Times without a zone use the session's
-- TimeZone in both.
SET TimeZone = 'America/New_York';
CREATE DOMAIN text_path_only AS int CHECK (VALUE > 0);
CREATE TABLE typed_bin (i8 bigint, i4 int, i2 smallint, n numeric, n2 numeric(10,2), ts timestamptz,
                        b bool, f float8, d date, u uuid, t text, j jsonb, c char(2), _offset bigint);
CREATE TABLE typed_text (LIKE typed_bin, x text_path_only);
SELECT pipeline.create_source('typed_bin', 'kafka', 't', 'typed_bin', partitions => 'none');
SELECT pipeline.create_source('typed_text', 'kafka', 't', 'typed_text', partitions => 'none');
SELECT plant(s, decode(z, 'hex'), size, 0, o)
  FROM (VALUES ('28b52ffd0458fd040012cd241d6049d4061a3f64fea07ab6998c8d0480a3c2c6b75f6e461a488a20583c876f72eb95db0e0569c301eb0f6eb0dee0b6ab75f710308972eb1193438865d5ee8196631721cc2ad09ea29052caae75c9ad7f6e3b92286fb90dd359cfdcb61e8482f57bdb05f22edde99d2606188910d19197b73ea170db8d824889b73e9ddb8c84d63bb711d667731b00b2be686ecbc27aa4b9210200a20701712ed41989104739', 223, 1),
  ('28b52ffd04587d0400024a1c197069db3e7af1505b00a80a55fd89741bb5c885e77909a04abc8b0fee7de13641c07bc46dbff7cb6d3f67ce993b431ecebd476e3b72ef09b9e9006a685a4d9b68458367105e62b90da91aea3d2ab7fd9271caa1300d2a74e4420a1dbcf728b9edeb56520aa575e4a1ca445473ef5772450a00440c616113827070d2669320643c9508ed1e250a82c15d730f841865dc', 213, 2),
  ('28b52ffd04587d0200d2c40f1690a7e9ab76acbd2a43cae7726f638e908d354b327386eb85cdd3e1a40608806e1eb86373769777594881c508da39070b06bb39b99b13eeb804f6e646b00a05002084403c10f8e58ab6a509b10c8987', 99, 3),
  ('28b52ffd0458c101007b226e223a2022316533222c20226e32223a2022302e303030222c20227473223a2022323032362d31312d32355431323a30303a3030227d1ac7a904', 56, 4),
  ('28b52ffd045815020042840e1590391dd73e6f05bf9fb78f485adbc2dde4e9dd2d13cb6db68042d91aa967f52c2c7e39927c668530b52086a58400d39763fbccec605fde56020100aae0a097196240', 73, 5),
  ('28b52ffd0458fd0100c2c40e14b0a539784474462085e2bdb449ca494229a6a202010e013aa6dca4bdf66ee1dc6c43ef5947a2600d9e9698721bebf8c41a6c4d21775bd631111000c6fb886b', 76, 6),
  ('28b52ffd04585900007b226e223a20222e35227dc7de959c', 11, 7),
  ('28b52ffd04585900007b226e223a2022352e227d9b506a78', 11, 8),
  ('28b52ffd04585100007b226e223a20222d227d20b44cd9', 10, 9),
  ('28b52ffd0458e900007b226938223a202239323233333732303336383534373735383038227d1b51e294', 29, 10),
  ('28b52ffd04587900007b226934223a20223132616263227d16ff6d3f', 15, 11),
  ('28b52ffd04586900007b226932223a2034303030307de669b75b', 13, 12),
  ('28b52ffd0458f100007b227473223a2022323032362d30322d33305430303a30303a30305a227d63422b6c', 30, 13),
  ('28b52ffd0458f100007b227473223a2022323032362d31312d32355432343a30303a30305a227ddc543dff', 30, 14),
  ('28b52ffd0458f100007b227473223a2022303030302d30312d30315430303a30303a30305a227d35f63488', 30, 15),
  ('28b52ffd04581901007b227473223a2022323032362d31312d32355431323a30303a30302b31363a3030227d5e536a80', 35, 16),
  ('28b52ffd04587900007b227473223a202265706f6368227d56493e51', 15, 17),
  ('28b52ffd0458f100007b227473223a2022323032362d31312d32355431323a30303a36305a227d23f67236', 30, 18),
  ('28b52ffd04589900007b2264223a2022323032362d31332d3031227da1fa8e37', 19, 19),
  ('28b52ffd04589900007b2275223a20226e6f742d612d75756964227dea5eb1d9', 19, 20),
  ('28b52ffd04587100007b2262223a20226d61796265227d996e1167', 14, 21),
  ('28b52ffd04586900007b2263223a202261626364227de01a9834', 13, 22),
  ('28b52ffd0458dd0000907b226e223a20313233343536373839302e7d0200380ba17459020895bd47', 47, 23),
  ('28b52ffd0458a100007b226e223a20222d3030302e303030313030227daaa22552', 20, 24),
  ('28b52ffd04585101007b227473223a2022323032362d31312d32355431323a30303a30302e3030303030312d30303a3330227d1c56d797', 42, 25)
  ) m(z, size, o), (VALUES ('typed_bin'), ('typed_text')) t(s);
SELECT pipeline.replay_dead_letters('typed_bin') AS loaded_bin, pipeline.replay_dead_letters('typed_text') AS loaded_text;
SELECT _offset, i8, i4, i2, n, n2, ts AT TIME ZONE 'UTC' AS ts_utc, b, f, d, u, t, j, c
  FROM typed_bin ORDER BY _offset;
-- the same rows both ways
(SELECT i8, i4, i2, n, n2, ts, b, f, d, u, t, j, c, _offset FROM typed_bin
 EXCEPT SELECT i8, i4, i2, n, n2, ts, b, f, d, u, t, j, c, _offset FROM typed_text)
UNION ALL
(SELECT i8, i4, i2, n, n2, ts, b, f, d, u, t, j, c, _offset FROM typed_text
 EXCEPT SELECT i8, i4, i2, n, n2, ts, b, f, d, u, t, j, c, _offset FROM typed_bin);
-- numeric's scale kept as numeric_in keeps it
SELECT _offset, n::text, n2::text FROM typed_bin ORDER BY _offset;
-- the same dead letters, with the same SQLSTATE
SELECT coalesce(b."offset", t."offset") AS "offset", b.sqlstate AS bin, t.sqlstate AS text
  FROM (SELECT * FROM pipeline.dead_letters WHERE source = 'typed_bin') b
  FULL JOIN (SELECT * FROM pipeline.dead_letters WHERE source = 'typed_text') t USING ("offset")
 WHERE b.sqlstate IS DISTINCT FROM t.sqlstate;
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'typed_bin' ORDER BY "offset";
RESET TimeZone;

-- csv into typed columns: the same conversions from each field's text;
-- the twin's metadata column of a domain type keeps it in the text format
SET TimeZone = 'America/New_York';
CREATE DOMAIN any_int AS int;
CREATE TABLE csv_bin (i8 bigint, i4 int, i2 smallint, n numeric, n2 numeric(10,2), ts timestamptz,
                      b bool, f float8, d date, u uuid, t text, j jsonb, c char(2), _offset bigint, _partition int);
CREATE TABLE csv_text (LIKE csv_bin);
ALTER TABLE csv_text ALTER _partition TYPE any_int;
SELECT pipeline.create_source('csv_bin', 'kafka', 't', 'csv_bin', format => 'csv', partitions => 'none');
SELECT pipeline.create_source('csv_text', 'kafka', 't', 'csv_text', format => 'csv', partitions => 'none');
SELECT plant(s, decode(z, 'hex'), size, 0, o)
  FROM (VALUES ('28b52ffd0458bd030042881b20a035e9ffb9aaba059b96ec6b904d88d5e30a304c965842f69624d8ace9fe8109cbee4641cf937014db60337c2fceed837d00021ab6f8990c93c4ecda458e41762f699abac565dd5acbb686ec899e62227c5320121f2822425410154dc1a1977988a2fe500969fe40f9f4c05d550100540605050c1da478', 138, 1),
  ('28b52ffd0458a50200a2861213b017da28b430e048e4d2ca9d1213f1b730e0048512060d04dae1191edb2f9a0ca3879a8a599022ada4153a203ff7d4fd56a6c8da84a748ee34bd228475355e34da5d1912f28fe8cf09020002319c013d2c5b1a86', 118, 2),
  ('28b52ffd0458990100203137202c2c2c302c2d302c313939392d31322d33315432333a30303a30302d30382c2c4e614e2c2c2c2c222222782222222c64ccb089', 51, 3),
  ('28b52ffd04583901002c2c2c3165332c302e3030302c323032362d31312d32355431323a30303a30302c2c2c2c2c2c2c017cf6ce', 39, 4),
  ('28b52ffd0458e900002c2c2c4e614e2c3132333435363738393031322e352c2c2c2c2c2c2c2c74e5c079', 29, 5),
  ('28b52ffd0458d901002c2c2c30303031322e333430302c2d313233342e3030352c323032362d31312d32355431323a30303a30302e313233343536375a2c2c2c2c2c2c2ce77e58ac', 59, 6),
  ('28b52ffd04586500003031326162632c0100062802b3d65978', 17, 7),
  ('28b52ffd04580101002c2c2c2c2c323032362d30322d33305430303a30303a30305a2c2c2c2c2c2c2c8d1faafe', 32, 8),
  ('28b52ffd04581902002c2c2c2d3030302e3030303130302c2c323032362d31312d32355431323a30303a30302e3030303030312d30303a33302c2c2c2c2c226d756c74690a6c696e65222c2c024d40c2', 67, 9),
  ('28b52ffd0458750000402c2c34303030302c010005e0022b95d665', 17, 10),
  ('28b52ffd0458190000612c6260ccbb78', 3, 11)
  ) m(z, size, o), (VALUES ('csv_bin'), ('csv_text')) t(s);
SELECT pipeline.replay_dead_letters('csv_bin') AS loaded_bin, pipeline.replay_dead_letters('csv_text') AS loaded_text;
SELECT _offset, i8, i4, i2, n, n2, ts AT TIME ZONE 'UTC' AS ts_utc, b, f, d, u, t, j, c
  FROM csv_bin ORDER BY _offset;
-- the same rows both ways, NULL and empty strings included
(SELECT i8, i4, i2, n::text, n2, ts, b, f, d, u, t, j, c, _offset FROM csv_bin
 EXCEPT SELECT i8, i4, i2, n::text, n2, ts, b, f, d, u, t, j, c, _offset FROM csv_text)
UNION ALL
(SELECT i8, i4, i2, n::text, n2, ts, b, f, d, u, t, j, c, _offset FROM csv_text
 EXCEPT SELECT i8, i4, i2, n::text, n2, ts, b, f, d, u, t, j, c, _offset FROM csv_bin);
SELECT _offset, t IS NULL AS t_null, t = '' AS t_empty FROM csv_bin WHERE _offset IN (2, 3) ORDER BY 1;
SELECT coalesce(b."offset", t."offset") AS "offset", b.sqlstate AS bin, t.sqlstate AS text
  FROM (SELECT * FROM pipeline.dead_letters WHERE source = 'csv_bin') b
  FULL JOIN (SELECT * FROM pipeline.dead_letters WHERE source = 'csv_text') t USING ("offset")
 WHERE b.sqlstate IS DISTINCT FROM t.sqlstate;
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'csv_bin' ORDER BY "offset";
-- the twin went through COPY's text format: its error is COPY's, with the value
SELECT source, error FROM pipeline.dead_letters WHERE "offset" = 7 AND source IN ('csv_bin', 'csv_text') ORDER BY source;
RESET TimeZone;

-- json's fast path (0.11.0): flat objects without escapes are read
-- without PostgreSQL's lexer, everything else by it.  Whatever the path,
-- the same values, and exactly what PostgreSQL's JSON parser refuses is
-- refused, with its message: offsets 1-9 load (escapes, nesting,
-- exponents, duplicate keys, whitespace, an empty object), 10-32 are
-- dead letters (a number with a leading zero or a letter after it, a word
-- that is not true, false or null, a trailing comma or text, a control
-- byte in a string, two objects in one message, ...).
CREATE TABLE lex (i bigint, n numeric, t text, b bool, j jsonb, _offset bigint);
SELECT pipeline.create_source('lex', 'kafka', 't', 'lex', partitions => 'none');
SELECT plant('lex', decode(z, 'hex'), size, 0, o)
  FROM (VALUES
  ('28b52ffd00586101007b2269223a20312c202274223a2022706c61696e222c20226e223a20312e35302c202262223a20747275657d', 44, 1),
  ('28b52ffd005861010020090a7b20227422203a202273706163657322202c202269223a2d30202c226222203a66616c73657d200d0a', 44, 2),
  ('28b52ffd00585901007b2269223a20322c202269223a20332c202274223a20226c617374206f66206475706c696361746573227d', 43, 3),
  ('28b52ffd00580901007b2274223a20226573635c2261706564205c7530306539222c202269223a20347d', 33, 4),
  ('28b52ffd00585102007b2269223a20352c202278223a207b2274223a20226e6573746564227d2c202274223a20226166746572206e6573746564222c20226a223a205b312c207b2261223a206e756c6c7d5d7d', 74, 5),
  ('28b52ffd00585101007b226e223a20312e3565322c202269223a20362c202274223a206e756c6c2c202262223a206e756c6c7d', 42, 6),
  ('28b52ffd00582901007b2274223a2022c3a974c3a9222c202269223a20372c20226e223a202d302e3235452d317d', 37, 7),
  ('28b52ffd0058c100007b22756e6b6e6f776e223a202278222c202269223a20387d', 24, 8),
  ('28b52ffd00581100007b7d', 2, 9),
  ('28b52ffd00584900007b2269223a2030317d', 9, 10),
  ('28b52ffd00584900007b2269223a2031787d', 9, 11),
  ('28b52ffd00586100007b2262223a2074727565787d', 12, 12),
  ('28b52ffd00584900007b2269223a20312c7d', 9, 13),
  ('28b52ffd00585100007b2269223a20317d2078', 10, 14),
  ('28b52ffd00588900007b2274223a20227461620968657265227d', 17, 15),
  ('28b52ffd00584100007b2269223a202d7d', 8, 16),
  ('28b52ffd00584900007b2269223a20312e7d', 9, 17),
  ('28b52ffd00583900007b22692220317d', 7, 18),
  ('28b52ffd00583900007b2269223a2031', 7, 19),
  ('28b52ffd00584900007b2269223a202e357d', 9, 20),
  ('28b52ffd00584900007b226e223a2031657d', 9, 21),
  ('28b52ffd0058a100007b2274223a2022756e7465726d696e617465647d', 20, 22),
  ('28b52ffd00588100007b2269223a20317d7b2269223a20327d', 16, 23),
  ('28b52ffd0058d900007b2269223a20312c202274223a202278227d0a7b2269223a20327d', 27, 24),
  ('28b52ffd00583100007b693a20317d', 6, 25),
  ('28b52ffd00588900007b2269223a2031202274223a202278227d', 17, 26),
  ('28b52ffd00585100007b2262223a206e756c7d', 10, 27),
  ('28b52ffd00585900007b2262223a20547275657d', 11, 28),
  ('28b52ffd0058a100007b2269223a20312c202c202274223a202278227d', 20, 29),
  ('28b52ffd00584900007b2269223a20317d7d', 9, 30),
  ('28b52ffd00585100007b2274223a202278225d', 10, 31),
  ('28b52ffd00584100005b2269222c20315d', 8, 32)
  ) m(z, size, o);
SELECT pipeline.replay_dead_letters('lex') AS loaded;
SELECT _offset, i, n, t, b, j FROM lex ORDER BY _offset;
SELECT "offset", sqlstate, error FROM pipeline.dead_letters WHERE source = 'lex' ORDER BY "offset";

\c :regress_db
DROP DATABASE pp_binary WITH (FORCE);
