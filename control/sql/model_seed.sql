------------------------------------------------------------------------
-- Models: seeds (CSV loaded through COPY) and snapshots (SCD type 2).
------------------------------------------------------------------------

-- ==== seeds and snapshots (helper D) ====

-- A seed's CSV options, kept so that a reload reads its CSV the way the
-- seed was made.  (A seed's sql column holds its column list.)
ALTER TABLE pipeline.models
    ADD COLUMN seed_delimiter text,
    ADD COLUMN seed_header    boolean;
COMMENT ON COLUMN pipeline.models.seed_delimiter IS 'seeds: the CSV''s delimiter';
COMMENT ON COLUMN pipeline.models.seed_header IS
'seeds: whether the CSV starts with a header line naming the columns, in order';

-- Seeds: a CSV loaded through COPY into a table that the caller creates
-- and owns; everything runs as the caller (src/model/seed.c).
CREATE FUNCTION pipeline.create_seed(
    name        text,
    csv         text,
    columns     text,
    delimiter   text    DEFAULT ',',
    header      boolean DEFAULT true,
    tags        text[]  DEFAULT '{}',
    description text    DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'pipeline_create_seed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.create_seed(text, text, text, text, boolean, text[], text) IS
'creates a seed: a table with the given columns, loaded from CSV text through COPY; returns its model_id';

CREATE FUNCTION pipeline.load_seed(name text, csv text, truncate boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_load_seed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.load_seed(text, text, boolean) IS
'reloads a seed from CSV text (emptied first unless truncate is false), in one transaction; returns the rows loaded';

CREATE FUNCTION pipeline.load_seed_file(name text, path text, truncate boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_load_seed_file'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline.load_seed_file(text, text, boolean) IS
'reloads a seed from a CSV file on the server (superusers and pg_read_server_files only); returns the rows loaded';

-- Snapshots (SCD type 2): models with materialized = 'snapshot', built by
-- pipeline._model_build through _snapshot_build, or directly by
-- pipeline.snapshot(name) (src/model/snapshot.c).
CREATE FUNCTION pipeline._snapshot_build(model_id integer)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_snapshot_build'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline._snapshot_build(integer) IS
'builds a snapshot model as its owner: closes changed and (invalidate) deleted versions, inserts new ones; returns the rows written';

CREATE FUNCTION pipeline.snapshot(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_snapshot'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION pipeline.snapshot(text) IS
'builds one snapshot model now (see _snapshot_build); returns the rows written';
