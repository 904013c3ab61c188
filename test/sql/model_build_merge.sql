-- merge through the table's unique index on the key (a plain INSERT when
-- every key is new, else one INSERT ... ON CONFLICT, no staging): the same
-- rows and the same errors as the staged MERGE -- duplicate keys named,
-- NULL key parts matched null-safely, a trigger on the table keeping the
-- staged path.
CREATE EXTENSION pg_pipeline;
SET client_min_messages = warning;
CREATE ROLE mbm_owner LOGIN;
CREATE SCHEMA mbm AUTHORIZATION mbm_owner;
SET ROLE mbm_owner;
CREATE TABLE mbm.src (k int, r text, v text, seq int);
INSERT INTO mbm.src VALUES (1, 'a', 'one', 1), (2, 'a', 'two', 1), (3, NULL, 'three', 1);
INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, strategy,
                             unique_key, search_path)
VALUES ('mbm.dim', 'mbm', 'dim', $$
    SELECT k, r, v, seq FROM src
     WHERE NOT pipeline.is_incremental() OR seq > (SELECT max(seq) FROM dim) $$,
        'incremental', 'merge', '{k,r}', '"mbm"');
CREATE FUNCTION mbm.build() RETURNS bigint LANGUAGE sql AS $$
    SELECT pipeline._model_build(model_id) FROM pipeline.models WHERE name = 'mbm.dim' $$;
SELECT mbm.build() AS rows;
CREATE UNIQUE INDEX dim_key ON mbm.dim (k, r);
-- only new keys: the plain INSERT
INSERT INTO mbm.src VALUES (8, 'd', 'eight', 2), (9, 'd', 'nine', 2);
SELECT mbm.build() AS rows;
SELECT * FROM mbm.dim ORDER BY k;
DELETE FROM mbm.src WHERE k IN (8, 9);
DELETE FROM mbm.dim WHERE k IN (8, 9);
-- an update, an insert: the plain INSERT meets the existing key, undone;
-- ON CONFLICT then
INSERT INTO mbm.src VALUES (2, 'a', 'two!', 2), (4, 'b', 'four', 2);
SELECT mbm.build() AS rows;
SELECT * FROM mbm.dim ORDER BY k;
-- a NULL key part: the index does not match it, the staged MERGE does
INSERT INTO mbm.src VALUES (3, NULL, 'three!', 3), (5, 'b', 'five', 3);
SELECT mbm.build() AS rows;
SELECT * FROM mbm.dim ORDER BY k;
-- duplicate keys, new and existing: named, nothing written
INSERT INTO mbm.src VALUES (6, 'c', 'six', 4), (6, 'c', 'six?', 4), (1, 'a', 'one!', 4), (1, 'a', 'one?', 4);
SELECT mbm.build();
SELECT count(*), max(seq) FROM mbm.dim;
DELETE FROM mbm.src WHERE v IN ('six?', 'one?');
-- the index NULLS NOT DISTINCT: NULL parts matched through it
DROP INDEX mbm.dim_key;
CREATE UNIQUE INDEX dim_key ON mbm.dim (k, r) NULLS NOT DISTINCT;
UPDATE mbm.src SET v = 'three!!', seq = 4 WHERE k = 3 AND seq = 3;
SELECT mbm.build() AS rows;
SELECT * FROM mbm.dim ORDER BY k;
-- another constraint's violation is raised as it is
ALTER TABLE mbm.dim ADD CHECK (v <> 'bad');
INSERT INTO mbm.src VALUES (7, 'c', 'bad', 5);
\set VERBOSITY terse
SELECT mbm.build();
\set VERBOSITY default
DELETE FROM mbm.src WHERE v = 'bad';
-- a trigger on the table: the staged MERGE (its UPDATE trigger fires, no INSERT trigger)
CREATE TABLE mbm.fired (op text, k int);
CREATE FUNCTION mbm.log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO mbm.fired VALUES (TG_OP, NEW.k); RETURN NEW; END $$;
CREATE TRIGGER log BEFORE INSERT OR UPDATE ON mbm.dim FOR EACH ROW EXECUTE FUNCTION mbm.log();
INSERT INTO mbm.src VALUES (4, 'b', 'four!', 6);
SELECT mbm.build() AS rows;
SELECT * FROM mbm.fired;
RESET ROLE;
DROP SCHEMA mbm CASCADE;
DELETE FROM pipeline.models;
DROP ROLE mbm_owner;
DROP EXTENSION pg_pipeline;
