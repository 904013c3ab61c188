-- Scale-out (docs/scale-out.md): the part of a topic a source reads on
-- this server, and the hand-over of partitions between servers.  No broker
-- is needed: the offsets are written as a consumer would, with
-- reset_offsets.  The attacks: another role (and an operator) moving
-- a source's partitions, a stale or double hand-over.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SERVER so_kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
CREATE TABLE so_events (payload jsonb);

-- the part: validated and stored one way
SELECT p AS given, pipeline._check_partitions(p) AS stored
  FROM unnest(ARRAY['hash 1 of 3', ' HASH 0  OF 1 ', '4, 1,1,0', 'all', 'ALL', 'none']) p;
SELECT pipeline._check_partitions('hash 3 of 3');
SELECT pipeline._check_partitions('hash 0 of 0');
SELECT pipeline._check_partitions('hash 1 of');
SELECT pipeline._check_partitions('');
SELECT pipeline._check_partitions('1,,2');
SELECT pipeline._check_partitions('1,-2');
SELECT pipeline._check_partitions('2147483648');
SELECT pipeline._check_partitions('none 2');
SELECT pipeline.create_source('so_bad', 'so_kafka', 'ev', 'so_events', format => 'jsonb',
                              partitions => 'hash 2 of 2');
SELECT count(*) AS stored FROM pipeline.sources;

-- which partitions a server reads: its part, unless handed over
SELECT p, pipeline._partition_read_here('hash 1 of 3', p, NULL) AS hash_1_of_3,
          pipeline._partition_read_here('0,4', p, NULL) AS list_0_4,
          pipeline._partition_read_here(NULL, p, NULL) AS all_,
          pipeline._partition_read_here('none', p, 'imported') AS imported,
          pipeline._partition_read_here(NULL, p, 'exported') AS exported
  FROM generate_series(0, 4) p;

SELECT pipeline.create_source('so', 'so_kafka', 'ev', 'so_events', format => 'jsonb',
                              partitions => 'hash 0 of 2');
SELECT partitions FROM pipeline.sources WHERE name = 'so';
SELECT pipeline.alter_source('so', partitions => 'all');
SELECT partitions IS NULL AS all_partitions FROM pipeline.sources WHERE name = 'so';
SELECT pipeline.alter_source('so', partitions => 'bad');
SELECT pipeline.alter_source('so', partitions => '0,2');
SELECT pipeline.alter_source('so', batch_rows => 100);
SELECT partitions FROM pipeline.sources WHERE name = 'so';

-- as a consumer would have stored them
SELECT pipeline.reset_offsets('so', '{"0": 5, "ev:2": 7, "1": 3}'::jsonb);

-- export: only what this server reads, each partition once
SELECT pipeline.export_offsets('so', NULL);
SELECT pipeline.export_offsets('so', ' ');
SELECT pipeline.export_offsets('so', 'x');
SELECT pipeline.export_offsets('so', '1');
SELECT pipeline.export_offsets('so', '6');
SELECT config_version AS version_before FROM pipeline.sources WHERE name = 'so' \gset
SELECT pipeline.export_offsets('so', '0, ev:2');
SELECT config_version > :version_before AS consumers_restart FROM pipeline.sources WHERE name = 'so';
SELECT pipeline.export_offsets('so', '0');
SELECT partition, next_offset, handover FROM pipeline.source_partitions WHERE source = 'so' ORDER BY 1;
-- the part alone does not bring an exported partition back
SELECT pipeline.alter_source('so', partitions => '0,1,2');
SELECT partition, pipeline._partition_read_here(s.partitions, o.partition, o.handover) AS read_here
  FROM pipeline.source_offsets o JOIN pipeline.sources s ON s.name = o.source ORDER BY 1;

-- import: never behind what this server ingested, never onto a partition
-- it reads, only the source's topics
SELECT pipeline.import_offsets('so', '{}');
SELECT pipeline.import_offsets('so', '[1]');
SELECT pipeline.import_offsets('so', '{"0": 4}');
SELECT pipeline.import_offsets('so', '{"1": 30}');
SELECT pipeline.import_offsets('so', '{"other:3": 1}');
SELECT pipeline.import_offsets('so', '{"0": -1}');
SELECT pipeline.import_offsets('so', '{"0": 5, "ev:9": 11}');
SELECT partition, next_offset, handover FROM pipeline.source_partitions WHERE source = 'so' ORDER BY 1;
-- a second import of the same hand-over: refused (it reads them now)
SELECT pipeline.import_offsets('so', '{"0": 5}');
-- handed back: the export of an imported partition, then its import
SELECT pipeline.export_offsets('so', '9');
SELECT pipeline.import_offsets('so', '{"9": 10}');
SELECT pipeline.import_offsets('so', '{"9": 12}');
SELECT partition, next_offset, handover FROM pipeline.source_partitions WHERE source = 'so' ORDER BY 1;

-- a source of several topics: keys name their topic
SELECT pipeline.create_source('so_list', 'so_kafka', 'ev,ev2', 'so_events', format => 'jsonb',
                              partitions => 'none');
SELECT pipeline.import_offsets('so_list', '{"0": 1}');
SELECT pipeline.import_offsets('so_list', '{"ev2:0": 1, "ev:0": 2}');
SELECT pipeline.export_offsets('so_list', '0');
SELECT pipeline.drop_source('so_list');

------------------------------------------------------------------------
-- Attacks: Bob moving Alice's partitions, an operator moving them, Bob
-- writing hand-over marks himself.
------------------------------------------------------------------------
CREATE ROLE so_alice LOGIN;
CREATE ROLE so_bob LOGIN;
CREATE ROLE so_op LOGIN IN ROLE pipeline_admin;
GRANT USAGE ON FOREIGN SERVER so_kafka TO so_alice, so_bob;
GRANT INSERT ON so_events TO so_alice;
SET ROLE so_alice;
SELECT pipeline.create_source('so_a', 'so_kafka', 'ev', 'so_events', format => 'jsonb',
                              partitions => '0');
SELECT pipeline.reset_offsets('so_a', '{"0": 100}'::jsonb);
RESET ROLE;
SET ROLE so_bob;
SELECT pipeline.export_offsets('so_a', '0');
SELECT pipeline.import_offsets('so_a', '{"1": 0}');
UPDATE pipeline.source_offsets SET handover = 'exported' WHERE source = 'so_a';
INSERT INTO pipeline.source_offsets (source, topic, partition, next_offset, handover)
VALUES ('so_a', 'ev', 1, 0, 'imported');
RESET ROLE;
SET ROLE so_op;
SELECT partition, next_offset, handover FROM pipeline.source_partitions WHERE source = 'so_a';
SELECT pipeline.export_offsets('so_a', '0');
SELECT pipeline.import_offsets('so_a', '{"1": 0}');
RESET ROLE;
SET ROLE so_alice;
SELECT pipeline.export_offsets('so_a', '0');
SELECT pipeline.import_offsets('so_a', '{"0": 100}');
SELECT partition, next_offset, handover FROM pipeline.source_partitions WHERE source = 'so_a';
SELECT pipeline.drop_source('so_a');
RESET ROLE;

DROP EXTENSION pg_pipeline CASCADE;
DROP TABLE so_events;
DROP ROLE so_alice, so_bob, so_op;
