-- Kafka sources: definitions and their validation (no broker needed: the
-- consumers of these sources are never given a reachable broker).
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- connection settings are checked by librdkafka when stored
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1', "fetch.wait.max.ms" 'soon');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (no_such_property 'x');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER pipeline_kafka OPTIONS ("enable.auto.commit" 'true');
CREATE FOREIGN DATA WRAPPER pipeline_kafka_2 VALIDATOR pipeline.kafka_fdw_validator OPTIONS (brokers 'x');
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE USER MAPPING FOR current_user SERVER kafka OPTIONS (sasl_username 'etl', sasl_password 'secret');
ALTER USER MAPPING FOR current_user SERVER kafka OPTIONS (ADD "sasl.mechanism" 'CHEESE');
CREATE SERVER nobrokers FOREIGN DATA WRAPPER pipeline_kafka;
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;

CREATE TABLE events (user_id text, action text, amount numeric, payload jsonb,
                     _partition int, _offset bigint, _ingested_at timestamptz);
CREATE VIEW events_view AS SELECT * FROM events;

-- bad definitions: each refused with a clear error, nothing stored
SELECT pipeline.create_source('s', server => 'nope', topic => 't', target => 'events');
SELECT pipeline.create_source('s', server => 'other', topic => 't', target => 'events');
SELECT pipeline.create_source('s', server => 'nobrokers', topic => 't', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', properties => '{"fetch.wait.max.ms": "x"}');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', properties => '{"enable.auto.offset.store": true}');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', properties => '{"a": [1]}');
SELECT pipeline.create_source('s', server => 'kafka', topic => 'bad topic!', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', format => 'xml');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', on_error => 'ignore');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events_view');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'no_such_table');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', target_column => 'payload');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', format => 'jsonb', target_column => 'nope');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', format => 'jsonb', target_column => 'amount');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', format => 'bytea');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', start_from => 'yesterday-ish');
-- a time Kafka cannot search for: infinite, or before 1970
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', start_from => 'infinity');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', start_from => '1969-12-31 23:59:59.999+00');
SELECT pipeline.create_source('bad name!', server => 'kafka', topic => 't', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', consumers => 0);
SELECT pipeline.create_source('s', server => 'kafka', topic => 't', target => 'events', batch_rows => 0);
SELECT pipeline.create_source(NULL, server => 'kafka', topic => 't', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => 'a,,b', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => 'a,b c', target => 'events');
SELECT pipeline.create_source('s', server => 'kafka', topic => '^orders-(', target => 'events');
SELECT count(*) AS stored FROM pipeline.sources;

-- good ones; defaults filled in; single-column formats pick their column
SELECT pipeline.create_source('s_json', server => 'kafka', topic => 'events', target => 'events');
SELECT pipeline.create_source('s_jsonb', server => 'kafka', topic => 'events', target => 'events',
                              format => 'jsonb', target_column => 'payload', on_error => 'skip');
SELECT pipeline.create_source('s_text', server => 'kafka', topic => 'events', target => 'events', format => 'text');
SELECT pipeline.create_source('s_json', server => 'kafka', topic => 'events', target => 'events');
-- several topics: a list, or a pattern
SELECT pipeline.create_source('s_list', server => 'kafka', topic => 'orders,returns', target => 'events');
SELECT pipeline.create_source('s_pattern', server => 'kafka', topic => '^orders-[a-z]+$', target => 'events');
SELECT pipeline.reset_offsets('s_list', '{"0": 5}'::jsonb);
SELECT pipeline.reset_offsets('s_list', '{"orders:0": 5, "returns:3": 7}'::jsonb);
SELECT source, topic, partition, next_offset FROM pipeline.source_offsets WHERE source = 's_list' ORDER BY 2, 3;
SELECT pipeline.drop_source('s_list');
SELECT pipeline.drop_source('s_pattern');
SELECT name, server, topic, target, format, target_column, on_error, consumers, batch_rows, start_from, paused
  FROM pipeline.sources ORDER BY name;

-- alter, pause, resume, reset: each bumps the version the workers follow
SELECT pipeline.alter_source('s_json', batch_rows => 1000, on_error => 'stop');
SELECT pipeline.alter_source('s_json', on_error => 'never');
SELECT pipeline.alter_source('nope', batch_rows => 1);
SELECT pipeline.pause_source('s_text');
SELECT pipeline.reset_offsets('s_jsonb', '{"0": 10, "2": 0}'::jsonb);
SELECT pipeline.reset_offsets('s_jsonb', '{"0": -1}'::jsonb);
SELECT pipeline.reset_offsets('s_jsonb', '[1]'::jsonb);
SELECT source, topic, partition, next_offset FROM pipeline.source_offsets ORDER BY 1, 2, 3;
SELECT pipeline.reset_offsets('s_jsonb', 'latest');
SELECT count(*) AS offsets_left FROM pipeline.source_offsets;
SELECT name, on_error, batch_rows, start_from, paused, config_version FROM pipeline.sources ORDER BY name;
SELECT pipeline.resume_source('s_text');

-- another role sees only its own sources (row-level security)
CREATE ROLE pp_regress_other;
GRANT USAGE ON FOREIGN SERVER kafka TO pp_regress_other;
SET ROLE pp_regress_other;
SELECT count(*) AS visible FROM pipeline.sources;
SELECT pipeline.pause_source('s_json');
SELECT pipeline.create_source('mine', server => 'kafka', topic => 't', target => 'events');
RESET ROLE;
GRANT INSERT ON events TO pp_regress_other;
SET ROLE pp_regress_other;
SELECT pipeline.create_source('mine', server => 'kafka', topic => 't', target => 'events');
SELECT name, owner FROM pipeline.sources;
SELECT pipeline.drop_source('mine');
RESET ROLE;
REVOKE ALL ON events FROM pp_regress_other;
REVOKE ALL ON FOREIGN SERVER kafka FROM pp_regress_other;
DROP ROLE pp_regress_other;

-- drop
SELECT pipeline.drop_source('s_text');
SELECT pipeline.drop_source('s_text');
SELECT pipeline.drop_source('s_text', if_exists => true);
SELECT name FROM pipeline.sources ORDER BY name;

-- dead letters can be read and replayed (none here)
SELECT pipeline.replay_dead_letters('s_json');
SELECT pipeline.replay_dead_letters('nope');
SELECT convert_from(pipeline.zstd_decompress('\x28b52ffd04582900006162636465ebc78d0c'::bytea), 'UTF8') AS decompressed;

DROP EXTENSION pg_pipeline CASCADE;
DROP VIEW events_view;
DROP TABLE events;
DROP SERVER other;
DROP FOREIGN DATA WRAPPER other_fdw;
