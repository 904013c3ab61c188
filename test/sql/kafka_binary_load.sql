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

\c :regress_db
DROP DATABASE pp_binary WITH (FORCE);
