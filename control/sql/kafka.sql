-- control/sql/kafka.sql: Kafka sources (topic -> table, with dead letters
-- and a raw archive) and sinks (committed rows of pipeline.outbox -> topic).
-- The workers are described in src/kafka/README.md; the roles and owners
-- model in docs/security.md.

------------------------------------------------------------------------
-- Connections: a foreign server of wrapper pipeline_kafka per cluster,
-- credentials in user mappings (the PostgreSQL convention).
------------------------------------------------------------------------
CREATE FUNCTION pipeline.kafka_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_kafka_fdw_validator'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pipeline.kafka_fdw_validator(text[], oid) IS
'checks the options of pipeline_kafka servers and user mappings';

CREATE FOREIGN DATA WRAPPER pipeline_kafka VALIDATOR pipeline.kafka_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER pipeline_kafka IS
'Kafka clusters for pg_pipeline sources: OPTIONS (brokers ''host:port,...'', any librdkafka property)';

------------------------------------------------------------------------
-- Sources: topic -> table.
------------------------------------------------------------------------
CREATE TABLE pipeline.sources (
    name            text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
    owner           name NOT NULL DEFAULT current_user,
    server          name NOT NULL,
    topic           text NOT NULL,
    target          text NOT NULL,
    format          text NOT NULL DEFAULT 'json'
                    CHECK (format IN ('json', 'jsonb', 'csv', 'text', 'bytea')),
    target_column   name,
    on_error        text NOT NULL DEFAULT 'dead_letter'
                    CHECK (on_error IN ('dead_letter', 'skip', 'stop')),
    properties      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    consumers       integer NOT NULL DEFAULT 1 CHECK (consumers BETWEEN 1 AND 64),
    batch_rows      integer NOT NULL DEFAULT 50000 CHECK (batch_rows BETWEEN 1 AND 1000000),
    batch_bytes     integer NOT NULL DEFAULT 16777216 CHECK (batch_bytes BETWEEN 1024 AND 268435456),
    batch_ms        integer NOT NULL DEFAULT 100 CHECK (batch_ms BETWEEN 1 AND 3600000),
    start_from      text NOT NULL DEFAULT 'earliest',
    archive         boolean NOT NULL DEFAULT false,
    paused          boolean NOT NULL DEFAULT false,
    error           text,
    config_version  integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    owner_oid       oid,                -- set by trigger _owner_oid
    target_oid      oid,                -- set by trigger _target_oid
    partitions      text                -- NULL: all (pipeline._check_partitions)
);
COMMENT ON TABLE pipeline.sources IS 'Kafka sources: which topic fills which table, how';
COMMENT ON COLUMN pipeline.sources.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.sources.target_oid IS
'the target table''s OID, taken when the source was written (target is its name then)';
COMMENT ON COLUMN pipeline.sources.name IS
'the source''s name: a letter or _, then up to 62 letters, digits, _, . or -; unique in the database';
COMMENT ON COLUMN pipeline.sources.owner IS
'the role the source''s consumers run as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.sources.server IS
'the pipeline_kafka foreign server (brokers and connection options)';
COMMENT ON COLUMN pipeline.sources.topic IS
'a topic, a comma-separated list of topics, or a regular expression starting with ^';
COMMENT ON COLUMN pipeline.sources.target IS
'the table the messages go into, schema-qualified (its name when the source was written)';
COMMENT ON COLUMN pipeline.sources.format IS 'json, jsonb, csv, text or bytea: how a message becomes a row';
COMMENT ON COLUMN pipeline.sources.target_column IS
'jsonb, text and bytea: the column the message goes into (NULL: the first column not starting with _)';
COMMENT ON COLUMN pipeline.sources.on_error IS
'dead_letter, skip or stop: what a message that cannot be loaded does';
COMMENT ON COLUMN pipeline.sources.properties IS 'librdkafka properties of this source (a JSON object)';
COMMENT ON COLUMN pipeline.sources.consumers IS 'how many workers share the partitions (1 to 64)';
COMMENT ON COLUMN pipeline.sources.batch_rows IS 'most messages per batch (1 to 1,000,000)';
COMMENT ON COLUMN pipeline.sources.batch_bytes IS 'most payload bytes per batch (1,024 to 268,435,456)';
COMMENT ON COLUMN pipeline.sources.batch_ms IS
'how long a batch stays open after its first message, in milliseconds';
COMMENT ON COLUMN pipeline.sources.start_from IS
'where the partitions of the first assignment start: earliest, latest or a timestamp';
COMMENT ON COLUMN pipeline.sources.archive IS
'whether every consumed batch is also kept in pipeline.source_archive';
COMMENT ON COLUMN pipeline.sources.paused IS 'set by pause_source: the consumers are stopped';
COMMENT ON COLUMN pipeline.sources.error IS
'why the source stopped (on_error stop, or a batch the target refused); NULL while it runs';
COMMENT ON COLUMN pipeline.sources.config_version IS
'incremented by every change of the definition, so that the consumers restart with it';
COMMENT ON COLUMN pipeline.sources.created_at IS 'when the source was created';
COMMENT ON COLUMN pipeline.sources.partitions IS
'the partitions this server reads: ''hash I of N'' (p % N = I), a list ''0,1,4'', ''none''; NULL: all (docs/scale-out.md)';

CREATE TABLE pipeline.source_offsets (
    source          text NOT NULL REFERENCES pipeline.sources ON DELETE CASCADE ON UPDATE CASCADE,
    topic           text NOT NULL,
    partition       integer NOT NULL CHECK (partition >= 0),
    next_offset     bigint NOT NULL CHECK (next_offset >= 0),
    high_watermark  bigint,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    handover        text CHECK (handover IN ('exported', 'imported')),
    PRIMARY KEY (source, topic, partition)
) WITH (fillfactor = 50);
COMMENT ON TABLE pipeline.source_offsets IS
'next offset to ingest per source and partition, written in the same transaction as the rows (exactly once)';
COMMENT ON COLUMN pipeline.source_offsets.source IS 'the source';
COMMENT ON COLUMN pipeline.source_offsets.topic IS 'the topic of the partition';
COMMENT ON COLUMN pipeline.source_offsets.partition IS 'the partition';
COMMENT ON COLUMN pipeline.source_offsets.next_offset IS
'the offset of the next message to ingest; written in the same transaction as the rows';
COMMENT ON COLUMN pipeline.source_offsets.high_watermark IS
'the partition''s end as librdkafka knew it at the last batch (NULL if unknown)';
COMMENT ON COLUMN pipeline.source_offsets.updated_at IS 'time of the last batch (or reset_offsets)';
COMMENT ON COLUMN pipeline.source_offsets.handover IS
'exported: handed over to another server, not read here whatever partitions says; imported: read here whatever it says; NULL: as it says';

CREATE TABLE pipeline.dead_letters (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint NOT NULL,
    key             bytea,
    payload         bytea,
    payload_size    integer NOT NULL,
    message_time    timestamptz,
    headers         jsonb,
    error           text NOT NULL,
    sqlstate        text,
    failed_at       timestamptz NOT NULL DEFAULT now(),
    owner           name NOT NULL DEFAULT current_user,
    owner_oid       oid                 -- set by trigger _owner_oid
);
CREATE INDEX ON pipeline.dead_letters (source, id);
COMMENT ON TABLE pipeline.dead_letters IS
'messages that could not be ingested, with the error; payload is zstd-compressed (read it with pipeline.zstd_decompress, or as text in pipeline.dead_letter_messages)';
COMMENT ON COLUMN pipeline.dead_letters.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.dead_letters.id IS 'the dead letter''s id (replay_dead_letters takes these)';
COMMENT ON COLUMN pipeline.dead_letters.source IS 'the source that could not load the message';
COMMENT ON COLUMN pipeline.dead_letters.topic IS 'the message''s topic';
COMMENT ON COLUMN pipeline.dead_letters.partition IS 'the message''s partition';
COMMENT ON COLUMN pipeline.dead_letters."offset" IS 'the message''s offset';
COMMENT ON COLUMN pipeline.dead_letters.key IS
'the message''s key, as Kafka gave it (NULL when there is none)';
COMMENT ON COLUMN pipeline.dead_letters.payload IS
'the message''s value, zstd-compressed (pipeline.zstd_decompress; as text in pipeline.dead_letter_messages)';
COMMENT ON COLUMN pipeline.dead_letters.payload_size IS 'the size of the value before compression, in bytes';
COMMENT ON COLUMN pipeline.dead_letters.message_time IS
'the message''s Kafka timestamp (NULL when unavailable)';
COMMENT ON COLUMN pipeline.dead_letters.headers IS 'the message''s headers as a JSON object (NULL when none)';
COMMENT ON COLUMN pipeline.dead_letters.error IS 'why the message could not be loaded';
COMMENT ON COLUMN pipeline.dead_letters.sqlstate IS 'the SQLSTATE of that error';
COMMENT ON COLUMN pipeline.dead_letters.failed_at IS 'when the message was dead-lettered';
COMMENT ON COLUMN pipeline.dead_letters.owner IS 'the source''s owner when the message was dead-lettered';

CREATE TABLE pipeline.source_archive (
    source          text NOT NULL REFERENCES pipeline.sources ON DELETE CASCADE ON UPDATE CASCADE,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    first_offset    bigint NOT NULL,
    last_offset     bigint NOT NULL,
    messages        integer NOT NULL,
    raw_bytes       bigint NOT NULL,
    data            bytea NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, topic, partition, first_offset)
);
ALTER TABLE pipeline.source_archive ALTER data SET STORAGE EXTERNAL;  -- already compressed
COMMENT ON TABLE pipeline.source_archive IS
'raw archive of sources created with archive => true: every consumed batch, zstd-compressed, per partition and offset range';
COMMENT ON COLUMN pipeline.source_archive.source IS 'the source';
COMMENT ON COLUMN pipeline.source_archive.topic IS 'the topic of the batch';
COMMENT ON COLUMN pipeline.source_archive.partition IS 'the partition of the batch';
COMMENT ON COLUMN pipeline.source_archive.first_offset IS 'the first offset of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.last_offset IS 'the last offset of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.messages IS 'the number of messages of the batch in that partition';
COMMENT ON COLUMN pipeline.source_archive.raw_bytes IS
'size before compression (offsets, timestamps, keys and values)';
COMMENT ON COLUMN pipeline.source_archive.data IS
'a zstd frame of the records (storage EXTERNAL: not compressed again)';
COMMENT ON COLUMN pipeline.source_archive.archived_at IS 'when the batch committed';

-- the catalogs are dumped by pg_dump, so a backup restores the pipeline
SELECT pg_catalog.pg_extension_config_dump('pipeline.sources', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.source_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.dead_letters_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.source_archive', '');

-- Row-level security: a role sees and changes its own sources;
-- pipeline_admin sees them all.  The rows that hang off a source (offsets,
-- archive, dead letters): the owner and pipeline_admin see them, only the
-- owner writes them (consumers run as the owner; superusers bypass row
-- security), so an operator cannot move offsets, which would lose or
-- double messages.
ALTER TABLE pipeline.sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.source_offsets ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.source_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.sources
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_or_admin ON pipeline.source_offsets FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source));
CREATE POLICY owner_writes ON pipeline.source_offsets
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.source_archive FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source));
CREATE POLICY owner_writes ON pipeline.source_archive
    USING (EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name = source AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.dead_letters FOR SELECT
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_writes ON pipeline.dead_letters
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid())
    WITH CHECK (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()
                AND EXISTS (SELECT 1 FROM pipeline.sources s WHERE s.name OPERATOR(pg_catalog.=) source
                              AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.sources, pipeline.source_offsets,
    pipeline.dead_letters, pipeline.source_archive TO PUBLIC;
GRANT USAGE ON SEQUENCE pipeline.dead_letters_id_seq TO PUBLIC;

-- The target was once kept only as a (qualified) name and looked up at
-- every batch: once the table was renamed or dropped, a table created
-- later under that name, by whoever may create in that schema, received
-- the source's rows.  Its OID is kept beside the name, taken when the row
-- is written; the consumer opens the table by OID (a renamed table keeps
-- its rows coming, a dropped one stops the source with a clear error).
-- Once that table is gone, the next write of the row by its owner
-- (resume_source, after the table was created again) takes the name's
-- table anew.
CREATE FUNCTION pipeline._target_oid()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.target IS DISTINCT FROM OLD.target THEN
        NEW.target_oid := pg_catalog.to_regclass(NEW.target);
        IF NEW.target_oid IS NULL THEN
            RAISE EXCEPTION 'relation "%" does not exist', NEW.target USING ERRCODE = 'undefined_table';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = OLD.target_oid)
          AND NOT NEW.paused AND NEW.error IS NULL
          AND NEW.config_version <> OLD.config_version
          AND OLD.owner_oid = pipeline._current_role_oid() THEN
        -- the table is gone and its owner resumes (or alters) the source:
        -- the name's table now, if there is one (never by itself, nor by
        -- a worker pausing it or an admin)
        NEW.target_oid := coalesce(pg_catalog.to_regclass(NEW.target), OLD.target_oid);
    ELSE
        NEW.target_oid := OLD.target_oid;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._target_oid() IS
'trigger: keeps a source''s target_oid the OID of the table its target named when written';

-- a role's sources have at most pg_pipeline.max_consumers_per_role
-- consumers (background workers) in all
CREATE FUNCTION pipeline._source_limits()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lim integer := pipeline._role_limit('max_consumers_per_role', 64);
    total bigint;
BEGIN
    SELECT coalesce(sum(s.consumers), 0) + NEW.consumers INTO total
      FROM pipeline.sources s
     WHERE s.owner = NEW.owner AND s.name <> NEW.name;
    IF total > lim THEN
        RAISE EXCEPTION 'role "%" would have % consumers, more than pg_pipeline.max_consumers_per_role (%)',
                NEW.owner, total, lim
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = 'Each consumer of a source is a background worker.',
                  HINT = 'Lower consumers of this or another source, or ask the administrator to raise the setting.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._source_limits() IS
'trigger: a role''s sources have at most pg_pipeline.max_consumers_per_role consumers in all';

-- BEFORE triggers fire by name: guard (the writer owns a new row; a
-- non-owner changes only paused, error, config_version), limits, owner_oid,
-- target_oid.  The coordinator, which runs the consumers, is woken at commit.
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('source', 'paused', 'error', 'config_version');
CREATE TRIGGER limits BEFORE INSERT OR UPDATE OF consumers, owner ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._source_limits();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER target_oid BEFORE INSERT OR UPDATE ON pipeline.sources
    FOR EACH ROW EXECUTE FUNCTION pipeline._target_oid();
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON pipeline.sources FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.dead_letters
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();

------------------------------------------------------------------------
-- What sources and sinks share: a new one takes its name, and a row is
-- locked, dropped, paused and resumed, the same way.  kind is 'source' or
-- 'sink': it names the catalog (pipeline.sources above, pipeline.sinks
-- below) and the object in messages.  Like the functions that call them,
-- these run as the caller, so row-level security decides which rows a role
-- may see, lock and change.
------------------------------------------------------------------------
-- the catalog of a kind; any other kind is an error
CREATE FUNCTION pipeline._kafka_catalog(kind text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF kind IS NULL OR kind NOT IN ('source', 'sink') THEN
        RAISE EXCEPTION 'invalid kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use source or sink.';
    END IF;
    RETURN 'pipeline.' || kind || 's';
END
$$;
COMMENT ON FUNCTION pipeline._kafka_catalog(text) IS
'the catalog of sources or of sinks (kind source or sink)';

CREATE FUNCTION pipeline._kafka_object_check_new(kind text, object_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_one boolean;
BEGIN
    IF object_name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % name "%"', kind, object_name
            USING ERRCODE = 'invalid_name',
                  DETAIL = format('A %s name starts with a letter or underscore and has at most 63 letters, digits, ''_'', ''.'' or ''-''.', kind);
    END IF;
    EXECUTE format('SELECT true FROM %s WHERE name = $1', pipeline._kafka_catalog(kind))
       INTO found_one USING object_name;
    IF found_one THEN
        RAISE EXCEPTION '% "%" already exists', kind, object_name
            USING ERRCODE = 'duplicate_object';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_check_new(text, text) IS
'raises an error for a name a new source or sink cannot take: invalid, or taken';

CREATE FUNCTION pipeline._kafka_object_for_update(kind text, object_name text,
                                                  missing_ok boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked boolean;
BEGIN
    EXECUTE format('SELECT true FROM %s WHERE name = $1 FOR UPDATE', pipeline._kafka_catalog(kind))
       INTO locked USING object_name;
    IF locked THEN
        RETURN true;
    ELSIF missing_ok THEN
        RETURN false;
    END IF;
    RAISE EXCEPTION '% "%" does not exist', kind, object_name
        USING ERRCODE = 'undefined_object',
              HINT = format('SELECT name FROM pipeline.%ss lists the %ss you can see.', kind, kind);
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_for_update(text, text, boolean) IS
'locks a source or sink row (waiting for a batch in flight); when there is none, raises undefined_object or, missing_ok, returns false';

CREATE FUNCTION pipeline._kafka_object_drop(kind text, object_name text, if_exists boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pipeline._kafka_object_for_update(kind, object_name, coalesce(if_exists, false)) THEN
        RAISE NOTICE '% "%" does not exist, skipping', kind, object_name;
        RETURN;
    END IF;
    EXECUTE format('DELETE FROM %s WHERE name = $1', pipeline._kafka_catalog(kind)) USING object_name;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_drop(text, text, boolean) IS
'drops a source or sink (the rows hanging off it go by cascade); with if_exists, a notice when there is none';

CREATE FUNCTION pipeline._kafka_object_set_paused(kind text, object_name text, paused boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_for_update(kind, object_name);
    -- resuming also clears the error that stopped it; either way its
    -- workers see a new config_version
    EXECUTE format('UPDATE %s SET paused = $2, error = CASE WHEN $2 THEN error END, '
                   'config_version = config_version + 1 WHERE name = $1', pipeline._kafka_catalog(kind))
      USING object_name, paused;
END
$$;
COMMENT ON FUNCTION pipeline._kafka_object_set_paused(text, text, boolean) IS
'pauses a source or sink, or resumes it (clearing its error); its workers restart or stop';

------------------------------------------------------------------------
-- The SQL interface of sources.
------------------------------------------------------------------------
CREATE FUNCTION pipeline._check_source(
    server name, topic text, target regclass, format text, target_column name,
    properties jsonb, start_from text)
RETURNS name
AS 'MODULE_PATHNAME', 'pipeline_check_source'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION pipeline._check_source(name, text, regclass, text, name, jsonb, text) IS
'validates a source definition (server, librdkafka properties, target table and column); returns the column for single-column formats';

CREATE FUNCTION pipeline._check_source_numbers(
    on_error text, consumers integer, batch_rows integer, batch_bytes integer, batch_ms integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF on_error IS NULL OR on_error NOT IN ('dead_letter', 'skip', 'stop') THEN
        RAISE EXCEPTION 'invalid on_error policy "%"', on_error
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use dead_letter, skip or stop.';
    END IF;
    IF consumers IS NULL OR consumers NOT BETWEEN 1 AND 64 THEN
        RAISE EXCEPTION 'consumers must be between 1 and 64, not %', consumers
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_rows IS NULL OR batch_rows NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'batch_rows must be between 1 and 1000000, not %', batch_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_bytes IS NULL OR batch_bytes NOT BETWEEN 1024 AND 268435456 THEN
        RAISE EXCEPTION 'batch_bytes must be between 1024 and 268435456 (256 MB), not %', batch_bytes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_ms IS NULL OR batch_ms NOT BETWEEN 1 AND 3600000 THEN
        RAISE EXCEPTION 'batch_ms must be between 1 and 3600000, not %', batch_ms
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._check_source_numbers(text, integer, integer, integer, integer) IS
'validates a source''s policy and sizes with clear errors';

-- The part of a topic a source reads on this server (docs/scale-out.md);
-- the consumer decides with the same C code (src/kafka/partitions.c).
CREATE FUNCTION pipeline._check_partitions(partitions text)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_check_partitions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._check_partitions(text) IS
'validates a source''s partitions (''hash I of N'', ''0,1,4'', ''all'', ''none'') and returns them as stored (NULL: all)';

CREATE FUNCTION pipeline._partition_read_here(partitions text, partition integer, handover text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pipeline_partition_read_here'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._partition_read_here(text, integer, text) IS
'does a source with these partitions read this one on this server, given its hand-over mark (exported: no; imported: yes)';

CREATE FUNCTION pipeline.create_source(
    name          text,
    server        name,
    topic         text,
    target        regclass,
    format        text    DEFAULT 'json',
    on_error      text    DEFAULT 'dead_letter',
    properties    jsonb   DEFAULT '{}',
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT 1,
    batch_rows    integer DEFAULT 50000,
    batch_bytes   integer DEFAULT 16777216,
    batch_ms      integer DEFAULT 100,
    start_from    text    DEFAULT 'earliest',
    archive       boolean DEFAULT false,
    expect        jsonb   DEFAULT NULL,
    partitions    text    DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
BEGIN
    IF create_source.name IS NULL OR create_source.server IS NULL
       OR create_source.topic IS NULL OR create_source.target IS NULL THEN
        RAISE EXCEPTION 'name, server, topic and target of a source must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('source', create_source.name);
    PERFORM pipeline._check_source_numbers(create_source.on_error, create_source.consumers,
        create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms);
    col := pipeline._check_source(create_source.server, create_source.topic, create_source.target,
                                  create_source.format, create_source.target_column,
                                  create_source.properties, create_source.start_from);
    INSERT INTO pipeline.sources (name, server, topic, target, format, target_column, on_error,
                                  properties, consumers, batch_rows, batch_bytes, batch_ms, start_from,
                                  archive, partitions)
    VALUES (create_source.name, create_source.server, create_source.topic,
            create_source.target::text, create_source.format, col, create_source.on_error,
            coalesce(create_source.properties, '{}'), create_source.consumers,
            create_source.batch_rows, create_source.batch_bytes, create_source.batch_ms,
            create_source.start_from, coalesce(create_source.archive, false),
            pipeline._check_partitions(create_source.partitions));
    IF create_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(create_source.name, create_source.target,
                                              create_source.expect);
    END IF;
    PERFORM pipeline._warn_without_workers(format('source "%s" will not consume until it is', create_source.name));
END
$$;
COMMENT ON FUNCTION pipeline.create_source(text, name, text, regclass, text, text, jsonb, name, integer, integer, integer, integer, text, boolean, jsonb, text) IS
'creates a Kafka source: a consumer worker keeps the target table filled from the topic, exactly once; expect: row-level expectations checked on each message (failing ones go to the dead letters); partitions: the part of the topic read on this server';

CREATE FUNCTION pipeline._source_for_update(source_name text)
RETURNS pipeline.sources
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
BEGIN
    PERFORM pipeline._kafka_object_for_update('source', source_name);
    SELECT * INTO s FROM pipeline.sources WHERE name = source_name;
    RETURN s;
END
$$;
COMMENT ON FUNCTION pipeline._source_for_update(text) IS
'locks a source row (waiting for a batch in flight) or raises undefined_object';

CREATE FUNCTION pipeline.alter_source(
    name          text,
    format        text    DEFAULT NULL,
    on_error      text    DEFAULT NULL,
    properties    jsonb   DEFAULT NULL,
    target_column name    DEFAULT NULL,
    consumers     integer DEFAULT NULL,
    batch_rows    integer DEFAULT NULL,
    batch_bytes   integer DEFAULT NULL,
    batch_ms      integer DEFAULT NULL,
    start_from    text    DEFAULT NULL,
    topic         text    DEFAULT NULL,
    archive       boolean DEFAULT NULL,
    expect        jsonb   DEFAULT NULL,
    partitions    text    DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    col name;
BEGIN
    s := pipeline._source_for_update(alter_source.name);
    s.format := coalesce(alter_source.format, s.format);
    s.on_error := coalesce(alter_source.on_error, s.on_error);
    s.properties := coalesce(alter_source.properties, s.properties);
    s.consumers := coalesce(alter_source.consumers, s.consumers);
    s.batch_rows := coalesce(alter_source.batch_rows, s.batch_rows);
    s.batch_bytes := coalesce(alter_source.batch_bytes, s.batch_bytes);
    s.batch_ms := coalesce(alter_source.batch_ms, s.batch_ms);
    s.start_from := coalesce(alter_source.start_from, s.start_from);
    s.topic := coalesce(alter_source.topic, s.topic);
    s.archive := coalesce(alter_source.archive, s.archive);
    IF alter_source.partitions IS NOT NULL THEN
        s.partitions := pipeline._check_partitions(alter_source.partitions);
    END IF;
    PERFORM pipeline._check_source_numbers(s.on_error, s.consumers, s.batch_rows,
                                           s.batch_bytes, s.batch_ms);
    col := pipeline._check_source(s.server, s.topic, s.target::regclass, s.format,
                                  coalesce(alter_source.target_column,
                                           CASE WHEN alter_source.format IS NULL THEN s.target_column END),
                                  s.properties, s.start_from);
    IF alter_source.topic IS NOT NULL AND alter_source.topic <> (SELECT t.topic FROM pipeline.sources t WHERE t.name = s.name) THEN
        -- offsets belong to the old topic
        DELETE FROM pipeline.source_offsets o WHERE o.source = s.name;
    END IF;
    UPDATE pipeline.sources AS u
       SET format = s.format, on_error = s.on_error, properties = s.properties,
           target_column = col, consumers = s.consumers, batch_rows = s.batch_rows,
           batch_bytes = s.batch_bytes, batch_ms = s.batch_ms, start_from = s.start_from,
           topic = s.topic, archive = s.archive, partitions = s.partitions,
           config_version = u.config_version + 1
     WHERE u.name = s.name;
    IF alter_source.expect IS NOT NULL THEN
        PERFORM pipeline._source_expectations(s.name, s.target::regclass, alter_source.expect);
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline.alter_source(text, text, text, jsonb, name, integer, integer, integer, integer, text, text, boolean, jsonb, text) IS
'changes a source''s options (NULL keeps one); its consumers restart with them; expect replaces its expectations at ingestion (''[]'': none); partitions: the part read on this server (''all'': every one)';

CREATE FUNCTION pipeline.drop_source(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_drop('source', drop_source.name, drop_source.if_exists);
    DELETE FROM pipeline.expectations e WHERE e.origin = 'source:' || drop_source.name;
END
$$;
COMMENT ON FUNCTION pipeline.drop_source(text, boolean) IS
'drops a source, its stored offsets and its expectations at ingestion; its dead letters are kept';

CREATE FUNCTION pipeline.pause_source(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('source', pause_source.name, true);
END
$$;
COMMENT ON FUNCTION pipeline.pause_source(text) IS
'stops a source''s consumers after the batch in flight; nothing is lost';

CREATE FUNCTION pipeline.resume_source(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('source', resume_source.name, false);
    PERFORM pipeline._warn_without_workers(format('source "%s" will not consume until it is', resume_source.name));
END
$$;
COMMENT ON FUNCTION pipeline.resume_source(text) IS
'restarts a paused or stopped source from its stored offsets';

CREATE FUNCTION pipeline.reset_offsets(name text, start_from text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
BEGIN
    s := pipeline._source_for_update(reset_offsets.name);
    PERFORM pipeline._check_source(s.server, s.topic, s.target::regclass, s.format,
                                   s.target_column, s.properties, reset_offsets.start_from);
    DELETE FROM pipeline.source_offsets o WHERE o.source = s.name;
    UPDATE pipeline.sources u SET start_from = reset_offsets.start_from,
           config_version = u.config_version + 1
     WHERE u.name = s.name;
END
$$;
COMMENT ON FUNCTION pipeline.reset_offsets(text, text) IS
'forgets a source''s stored offsets: every partition restarts at earliest, latest or a timestamp';

-- The partitions and offsets of a JSON object '{"0": 1200}' or
-- '{"orders:0": 1200}' (a key without a topic: the source's only topic).
CREATE FUNCTION pipeline._offsets_from_jsonb(source_name text, source_topic text, offsets jsonb,
                                             OUT topic text, OUT partition integer, OUT next_offset bigint)
RETURNS SETOF record
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    o jsonb;
    p text;
BEGIN
    IF jsonb_typeof(offsets) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'offsets must be a JSON object of partition: offset'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{"0": 1200, "3": 0}'', or ''{"orders:0": 1200}'' for a source of several topics.';
    END IF;
    FOR k, o IN SELECT key, value FROM jsonb_each(offsets) LOOP
        IF k ~ ':' THEN
            topic := split_part(k, ':', 1);
            p := split_part(k, ':', 2);
        ELSE
            topic := source_topic;
            p := k;
        END IF;
        IF topic ~ '[,^]' THEN
            RAISE EXCEPTION 'source "%" reads several topics: name the topic of partition %', source_name, k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use keys like ''topic:partition''.';
        END IF;
        IF p !~ '^\d{1,9}$' OR jsonb_typeof(o) <> 'number' OR o::text !~ '^\d{1,18}$' THEN
            RAISE EXCEPTION 'invalid partition offset "%": %', k, o
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Partitions and offsets are non-negative integers.';
        END IF;
        partition := p::integer;
        next_offset := o::text::bigint;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._offsets_from_jsonb(text, text, jsonb) IS
'the (topic, partition, next offset) of a JSON object of partition: offset, with clear errors';

CREATE FUNCTION pipeline.reset_offsets(name text, offsets jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    j record;
BEGIN
    s := pipeline._source_for_update(reset_offsets.name);
    FOR j IN SELECT * FROM pipeline._offsets_from_jsonb(s.name, s.topic, reset_offsets.offsets) LOOP
        INSERT INTO pipeline.source_offsets AS so (source, topic, partition, next_offset)
        VALUES (s.name, j.topic, j.partition, j.next_offset)
        ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = excluded.next_offset,
                                                             updated_at = now();
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
END
$$;
COMMENT ON FUNCTION pipeline.reset_offsets(text, jsonb) IS
'sets the next offset of the given partitions, e.g. ''{"0": 1200}'' or ''{"orders:0": 1200}''; others keep theirs';

------------------------------------------------------------------------
-- Hand-over: moving partitions of a source between PostgreSQL servers
-- (docs/scale-out.md).  export_offsets on the server that reads them
-- marks them 'exported' and returns their stored offsets; import_offsets
-- on the server that takes them over stores those offsets marked
-- 'imported'.  Each runs in one transaction with the source's row locked
-- FOR UPDATE, so it waits for a batch in flight; its new config_version
-- restarts the consumers, which then read (or no longer read) the moved
-- partitions.  A batch of a consumer that still reads an exported
-- partition is refused by the mark (consumer.c), a restart does not read
-- it again (the mark outlives the part), and an import never goes back
-- behind what this server already ingested.  Only the source's owner
-- moves offsets (like reset_offsets: an administrator could otherwise
-- lose or double messages), and row-level security hides other roles'
-- sources altogether.
------------------------------------------------------------------------
CREATE FUNCTION pipeline._source_for_handover(source_name text, what text)
RETURNS pipeline.sources
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
BEGIN
    s := pipeline._source_for_update(source_name);
    IF s.owner_oid IS DISTINCT FROM pipeline._current_role_oid()
       AND NOT coalesce((SELECT r.rolsuper FROM pg_roles r
                          WHERE r.oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()), false) THEN
        RAISE EXCEPTION 'only the owner of source "%" can % its offsets', s.name, what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Handing partitions over moves stored offsets, which decide what is loaded exactly once.',
                  HINT = format('Run it as role %I, the source''s owner.', s.owner);
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION pipeline._source_for_handover(text, text) IS
'locks a source row for export_offsets or import_offsets; raises unless the caller owns it (or is a superuser)';

CREATE FUNCTION pipeline.export_offsets(name text, partitions text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    item text;
    t text;
    p text;
    r record;
    found_one boolean;
    result jsonb := '{}';
BEGIN
    s := pipeline._source_for_handover(export_offsets.name, 'export');
    IF export_offsets.partitions IS NULL OR btrim(export_offsets.partitions) = '' THEN
        RAISE EXCEPTION 'no partition to export given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name them as a list: ''2'', ''2,5'', or ''orders:2'' for a source of several topics.';
    END IF;
    FOREACH item IN ARRAY string_to_array(export_offsets.partitions, ',') LOOP
        item := btrim(item);
        IF item ~ ':' THEN
            t := split_part(item, ':', 1);
            p := split_part(item, ':', 2);
        ELSE
            t := NULL;
            p := item;
        END IF;
        IF p !~ '^\d{1,9}$' THEN
            RAISE EXCEPTION 'invalid partition "%"', item
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name them as a list: ''2'', ''2,5'', or ''orders:2'' for a source of several topics.';
        END IF;
        found_one := false;
        FOR r IN SELECT o.topic, o.partition, o.next_offset, o.handover
                   FROM pipeline.source_offsets o
                  WHERE o.source = s.name AND o.partition = p::integer AND (t IS NULL OR o.topic = t)
                  ORDER BY o.topic
                    FOR UPDATE LOOP
            IF NOT pipeline._partition_read_here(s.partitions, r.partition, r.handover) THEN
                RAISE EXCEPTION 'source "%" does not read partition % of topic "%" on this server',
                        s.name, r.partition, r.topic
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = CASE WHEN r.handover = 'exported'
                                        THEN format('It was handed over at offset %s.', r.next_offset)
                                        ELSE format('Its partitions here are %s.', coalesce(s.partitions, 'all')) END,
                          HINT = 'Export a partition on the server that reads it.';
            END IF;
            UPDATE pipeline.source_offsets o SET handover = 'exported', updated_at = now()
             WHERE o.source = s.name AND o.topic = r.topic AND o.partition = r.partition;
            result := result || jsonb_build_object(r.topic || ':' || r.partition, r.next_offset);
            found_one := true;
        END LOOP;
        IF NOT found_one THEN
            RAISE EXCEPTION 'source "%" has no stored offset for partition %', s.name, item
                USING ERRCODE = 'undefined_object',
                      DETAIL = 'A partition is handed over from the server whose consumer has assigned it.',
                      HINT = format('SELECT * FROM pipeline.source_partitions WHERE source = %L lists them.', s.name);
        END IF;
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
    RETURN result;
END
$$;
COMMENT ON FUNCTION pipeline.export_offsets(text, text) IS
'hands partitions of a source (a list: ''2,5'') over to another server: stops reading them here and returns their stored offsets for import_offsets there';

CREATE FUNCTION pipeline.import_offsets(name text, offsets jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s pipeline.sources;
    j record;
    cur record;
    topic_wanted boolean;
BEGIN
    s := pipeline._source_for_handover(import_offsets.name, 'import');
    IF import_offsets.offsets = '{}' THEN
        RAISE EXCEPTION 'no partition to import given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass what export_offsets returned on the server that read them.';
    END IF;
    FOR j IN SELECT * FROM pipeline._offsets_from_jsonb(s.name, s.topic, import_offsets.offsets)
              ORDER BY 1, 2 LOOP
        topic_wanted := CASE WHEN left(s.topic, 1) = '^' THEN j.topic ~ s.topic AND left(j.topic, 1) <> '_'
                             ELSE j.topic = ANY (string_to_array(s.topic, ',')) END;
        IF NOT topic_wanted THEN
            RAISE EXCEPTION 'source "%" does not read topic "%"', s.name, j.topic
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Its topic is %s.', s.topic);
        END IF;
        SELECT o.next_offset, o.handover INTO cur
          FROM pipeline.source_offsets o
         WHERE o.source = s.name AND o.topic = j.topic AND o.partition = j.partition
           FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO pipeline.source_offsets (source, topic, partition, next_offset, handover)
            VALUES (s.name, j.topic, j.partition, j.next_offset, 'imported');
            CONTINUE;
        END IF;
        IF pipeline._partition_read_here(s.partitions, j.partition, cur.handover) THEN
            RAISE EXCEPTION 'source "%" already reads partition % of topic "%" on this server',
                    s.name, j.partition, j.topic
                USING ERRCODE = 'object_in_use',
                      DETAIL = format('Its stored next offset is %s.', cur.next_offset),
                      HINT = 'Import only partitions this server does not read: give the source partitions without them (or ''none'').';
        END IF;
        IF cur.next_offset > j.next_offset THEN
            -- a stale hand-over: this server already ingested past it
            RAISE EXCEPTION 'offset % of partition % of topic "%" is behind source "%" on this server',
                    j.next_offset, j.partition, j.topic, s.name
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('This server already ingested up to offset %s; importing %s would load offsets %s to %s a second time.',
                                      cur.next_offset, j.next_offset, j.next_offset, cur.next_offset - 1),
                      HINT = 'Import the offsets that the last export of the partition returned.';
        END IF;
        UPDATE pipeline.source_offsets o
           SET next_offset = j.next_offset, handover = 'imported', high_watermark = NULL, updated_at = now()
         WHERE o.source = s.name AND o.topic = j.topic AND o.partition = j.partition;
    END LOOP;
    UPDATE pipeline.sources u SET config_version = u.config_version + 1 WHERE u.name = s.name;
END
$$;
COMMENT ON FUNCTION pipeline.import_offsets(text, jsonb) IS
'takes partitions of a source over from another server, from the offsets export_offsets returned there; refuses offsets behind what this server ingested';

------------------------------------------------------------------------
-- Status.  The status views (these, and those of dead letters, the
-- archive and sinks) are security_invoker: each shows only what the reader
-- may see in the catalogs.
------------------------------------------------------------------------
CREATE VIEW pipeline.source_partitions WITH (security_invoker = true) AS
SELECT o.source,
       o.topic,
       o.partition,
       o.next_offset,
       o.high_watermark,
       greatest(o.high_watermark - o.next_offset, 0) AS lag,
       o.updated_at AS last_batch_at,
       o.handover
  FROM pipeline.source_offsets o;
COMMENT ON VIEW pipeline.source_partitions IS
'per source and partition: the stored next offset, the broker''s high watermark at the last batch, the lag';
COMMENT ON COLUMN pipeline.source_partitions.source IS 'the source';
COMMENT ON COLUMN pipeline.source_partitions.topic IS 'the topic';
COMMENT ON COLUMN pipeline.source_partitions.partition IS 'the partition';
COMMENT ON COLUMN pipeline.source_partitions.next_offset IS 'the offset of the next message to ingest';
COMMENT ON COLUMN pipeline.source_partitions.high_watermark IS
'the partition''s end as librdkafka knew it at the last batch';
COMMENT ON COLUMN pipeline.source_partitions.lag IS 'high_watermark - next_offset (as of the last batch)';
COMMENT ON COLUMN pipeline.source_partitions.last_batch_at IS 'time of the last batch (or reset_offsets)';
COMMENT ON COLUMN pipeline.source_partitions.handover IS
'exported: handed over to another server (not read here); imported: taken over from one; NULL: neither';

CREATE VIEW pipeline.source_status WITH (security_invoker = true) AS
SELECT s.name AS source,
       s.topic,
       s.target,
       s.format,
       CASE
           WHEN s.error IS NOT NULL THEN 'stopped'
           WHEN s.paused THEN 'paused'
           WHEN coalesce(w.running, 0) >= s.consumers AND w.errors = 0 THEN 'running'
           WHEN coalesce(w.restarting, 0) > 0 OR coalesce(w.errors, 0) > 0 THEN 'error'
           ELSE 'starting'
       END AS state,
       s.consumers,
       coalesce(w.running, 0) AS consumers_running,
       coalesce(p.lag, 0) AS lag,
       coalesce(w.rows, 0) AS rows_since_start,
       coalesce(w.rows_per_sec, 0) AS rows_per_sec,
       coalesce(w.bytes_per_sec, 0) AS bytes_per_sec,
       greatest(w.last_batch_at, p.last_batch_at) AS last_batch_at,
       coalesce(s.error, w.last_error) AS last_error,
       (SELECT count(*) FROM pipeline.dead_letters d WHERE d.source = s.name) AS dead_letters
  FROM pipeline.sources s
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE wk.state = 'running') AS running,
               count(*) FILTER (WHERE wk.state = 'restarting') AS restarting,
               count(*) FILTER (WHERE wk.last_error_at > coalesce(wk.last_batch_at, '-infinity')
                                  AND wk.last_error_at > now() - interval '1 minute') AS errors,
               sum(wk.items) AS rows,
               round(sum(wk.items_per_sec)::numeric, 1) AS rows_per_sec,
               round(sum(wk.bytes_per_sec)::numeric, 1) AS bytes_per_sec,
               max(wk.last_batch_at) AS last_batch_at,
               (array_agg(wk.last_error ORDER BY wk.last_error_at DESC NULLS LAST))[1] AS last_error
          FROM pipeline.get_workers() wk
         WHERE wk.kind = 'consumer' AND wk.label = s.name) w ON true
  LEFT JOIN LATERAL (
        SELECT sum(greatest(o.high_watermark - o.next_offset, 0)) AS lag,
               max(o.updated_at) AS last_batch_at
          FROM pipeline.source_offsets o WHERE o.source = s.name) p ON true;
COMMENT ON VIEW pipeline.source_status IS
'per source: state, consumers, lag, rows/s, last batch, last error, dead letters';
COMMENT ON COLUMN pipeline.source_status.source IS 'the source''s name';
COMMENT ON COLUMN pipeline.source_status.topic IS 'the source''s topic';
COMMENT ON COLUMN pipeline.source_status.target IS 'the source''s target table';
COMMENT ON COLUMN pipeline.source_status.format IS 'the source''s format';
COMMENT ON COLUMN pipeline.source_status.state IS
'stopped, paused, running, error or starting (docs/kafka.md)';
COMMENT ON COLUMN pipeline.source_status.consumers IS 'workers configured';
COMMENT ON COLUMN pipeline.source_status.consumers_running IS 'workers whose slot is running';
COMMENT ON COLUMN pipeline.source_status.lag IS 'sum of the partitions'' lag (as of their last batch)';
COMMENT ON COLUMN pipeline.source_status.rows_since_start IS
'messages in committed batches since the consumers last started (dead-lettered and skipped ones included)';
COMMENT ON COLUMN pipeline.source_status.rows_per_sec IS
'moving average over about 5 s, summed over the consumers';
COMMENT ON COLUMN pipeline.source_status.bytes_per_sec IS
'moving average over about 5 s, summed over the consumers';
COMMENT ON COLUMN pipeline.source_status.last_batch_at IS 'last committed batch';
COMMENT ON COLUMN pipeline.source_status.last_error IS
'sources.error if the source is stopped, else the most recent error of its consumers';
COMMENT ON COLUMN pipeline.source_status.dead_letters IS 'dead letters of the source';
GRANT SELECT ON pipeline.source_partitions, pipeline.source_status TO PUBLIC;

------------------------------------------------------------------------
-- Dead letters.
------------------------------------------------------------------------
CREATE FUNCTION pipeline.zstd_decompress(bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pipeline_zstd_decompress'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline.zstd_decompress(bytea) IS
'decompresses a zstd frame, such as pipeline.dead_letters.payload';

CREATE FUNCTION pipeline.replay_dead_letters(source text, ids bigint[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_replay_dead_letters'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION pipeline.replay_dead_letters(text, bigint[]) IS
'loads a source''s dead letters (all, or the given ids) into its target again; returns how many loaded and left the dead letters';

CREATE VIEW pipeline.dead_letter_messages WITH (security_invoker = true) AS
SELECT d.id, d.source, d.topic, d.partition, d."offset",
       encode(d.key, 'escape') AS key,
       CASE WHEN d.payload IS NULL THEN NULL
            ELSE encode(pipeline.zstd_decompress(d.payload), 'escape') END AS payload,
       d.payload_size, d.message_time, d.error, d.sqlstate, d.failed_at
  FROM pipeline.dead_letters d;
COMMENT ON VIEW pipeline.dead_letter_messages IS
'pipeline.dead_letters with key and payload readable (payload as text, bytes escaped)';
COMMENT ON COLUMN pipeline.dead_letter_messages.id IS 'the dead letter''s id';
COMMENT ON COLUMN pipeline.dead_letter_messages.source IS 'the source';
COMMENT ON COLUMN pipeline.dead_letter_messages.topic IS 'the message''s topic';
COMMENT ON COLUMN pipeline.dead_letter_messages.partition IS 'the message''s partition';
COMMENT ON COLUMN pipeline.dead_letter_messages."offset" IS 'the message''s offset';
COMMENT ON COLUMN pipeline.dead_letter_messages.key IS 'the key as text (bytes that are not text escaped)';
COMMENT ON COLUMN pipeline.dead_letter_messages.payload IS
'the value, decompressed, as text (bytes that are not text escaped)';
COMMENT ON COLUMN pipeline.dead_letter_messages.payload_size IS 'the size of the value, in bytes';
COMMENT ON COLUMN pipeline.dead_letter_messages.message_time IS 'the message''s Kafka timestamp';
COMMENT ON COLUMN pipeline.dead_letter_messages.error IS 'why the message could not be loaded';
COMMENT ON COLUMN pipeline.dead_letter_messages.sqlstate IS 'the SQLSTATE of that error';
COMMENT ON COLUMN pipeline.dead_letter_messages.failed_at IS 'when the message was dead-lettered';
GRANT SELECT ON pipeline.dead_letter_messages TO PUBLIC;

------------------------------------------------------------------------
-- Raw archive.
------------------------------------------------------------------------
CREATE FUNCTION pipeline.replay_archive(source text, target regclass DEFAULT NULL,
                                        from_offset bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pipeline_replay_archive'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION pipeline.replay_archive(text, regclass, bigint) IS
'loads a source''s archived messages (from an offset on) into a table, by default its own target; returns the rows loaded';

CREATE VIEW pipeline.source_archive_stats WITH (security_invoker = true) AS
SELECT a.source,
       count(*) AS batches,
       sum(a.messages) AS messages,
       sum(a.raw_bytes) AS raw_bytes,
       sum(octet_length(a.data)) AS stored_bytes,
       round(sum(a.raw_bytes)::numeric / nullif(sum(octet_length(a.data)), 0), 2) AS compression_ratio,
       min(a.archived_at) AS oldest,
       max(a.archived_at) AS newest
  FROM pipeline.source_archive a
 GROUP BY a.source;
COMMENT ON VIEW pipeline.source_archive_stats IS
'per archived source: batches, messages, raw and stored bytes, zstd compression ratio';
COMMENT ON COLUMN pipeline.source_archive_stats.source IS 'the source';
COMMENT ON COLUMN pipeline.source_archive_stats.batches IS 'archived batches (one per batch and partition)';
COMMENT ON COLUMN pipeline.source_archive_stats.messages IS 'archived messages';
COMMENT ON COLUMN pipeline.source_archive_stats.raw_bytes IS 'their size before compression';
COMMENT ON COLUMN pipeline.source_archive_stats.stored_bytes IS 'their size compressed';
COMMENT ON COLUMN pipeline.source_archive_stats.compression_ratio IS 'raw_bytes / stored_bytes';
COMMENT ON COLUMN pipeline.source_archive_stats.oldest IS 'the oldest archived batch';
COMMENT ON COLUMN pipeline.source_archive_stats.newest IS 'the newest archived batch';
GRANT SELECT ON pipeline.source_archive_stats TO PUBLIC;


------------------------------------------------------------------------
-- Sinks: publish committed rows of pipeline.outbox to a topic.
------------------------------------------------------------------------
CREATE TABLE pipeline.sinks (
    name            text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
    owner           name NOT NULL DEFAULT current_user,
    server          name NOT NULL,
    topic           text NOT NULL,
    properties      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    batch_rows      integer NOT NULL DEFAULT 1000 CHECK (batch_rows BETWEEN 1 AND 100000),
    paused          boolean NOT NULL DEFAULT false,
    error           text,
    config_version  integer NOT NULL DEFAULT 1,
    -- A sink's restart check signs its messages with a key that includes
    -- created_at: two incarnations of a name (drop_sink and create_sink in
    -- one transaction) must not share it, so the time of the insert, not
    -- of the transaction.
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    owner_oid       oid                 -- set by trigger _owner_oid
);
COMMENT ON TABLE pipeline.sinks IS 'Kafka sinks: which topic the committed rows of pipeline.outbox go to';
COMMENT ON COLUMN pipeline.sinks.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.sinks.name IS
'the sink''s name: same rules as a source''s; unique in the database';
COMMENT ON COLUMN pipeline.sinks.owner IS
'the role the sink''s worker runs as (its name; owner_oid is its OID)';
COMMENT ON COLUMN pipeline.sinks.server IS 'the pipeline_kafka foreign server';
COMMENT ON COLUMN pipeline.sinks.topic IS 'the topic the messages go to';
COMMENT ON COLUMN pipeline.sinks.properties IS 'librdkafka properties of this sink (a JSON object)';
COMMENT ON COLUMN pipeline.sinks.batch_rows IS
'most messages the worker reads from the outbox at once (1 to 100,000)';
COMMENT ON COLUMN pipeline.sinks.paused IS
'set by pause_sink: the worker is stopped, the outbox keeps filling';
COMMENT ON COLUMN pipeline.sinks.error IS 'why the sink stopped; NULL while it runs';
COMMENT ON COLUMN pipeline.sinks.config_version IS
'incremented by every change of the definition, so that the worker restarts with it';
COMMENT ON COLUMN pipeline.sinks.created_at IS 'when the sink was created (the time of the insert)';

CREATE TABLE pipeline.outbox (
    id              bigserial PRIMARY KEY,
    sink            text NOT NULL REFERENCES pipeline.sinks ON DELETE CASCADE ON UPDATE CASCADE,
    key             text,
    payload         text,
    headers         jsonb CHECK (headers IS NULL OR jsonb_typeof(headers) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    seq             bigint,
    partition       integer,
    owner           name NOT NULL DEFAULT current_user,
    owner_oid       oid                 -- set by trigger _owner_oid
);
CREATE INDEX ON pipeline.outbox (sink, seq, id);
COMMENT ON TABLE pipeline.outbox IS
'messages waiting to be published; a row leaves once Kafka acknowledged it (seq and partition are the sink''s)';
COMMENT ON COLUMN pipeline.outbox.owner_oid IS 'the owner''s OID (set by pg_pipeline; the owner column is its name)';
COMMENT ON COLUMN pipeline.outbox.id IS 'the message''s id (returned by publish)';
COMMENT ON COLUMN pipeline.outbox.sink IS 'the sink';
COMMENT ON COLUMN pipeline.outbox.key IS 'the message''s key';
COMMENT ON COLUMN pipeline.outbox.payload IS 'the message''s value';
COMMENT ON COLUMN pipeline.outbox.headers IS 'the message''s headers, a JSON object of strings';
COMMENT ON COLUMN pipeline.outbox.created_at IS 'when the message was enqueued';
COMMENT ON COLUMN pipeline.outbox.seq IS
'the sequence number the sink gave the message (NULL until the sink took it)';
COMMENT ON COLUMN pipeline.outbox.partition IS
'the partition the sink sends it to (NULL until the sink took it)';
COMMENT ON COLUMN pipeline.outbox.owner IS 'the role that enqueued the message';

CREATE TABLE pipeline.sink_progress (
    sink            text PRIMARY KEY REFERENCES pipeline.sinks ON DELETE CASCADE ON UPDATE CASCADE,
    last_seq        bigint NOT NULL DEFAULT 0,
    published       bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pipeline.sink_progress IS
'per sink: the last sequence number given to a message, and how many were published';
COMMENT ON COLUMN pipeline.sink_progress.sink IS 'the sink';
COMMENT ON COLUMN pipeline.sink_progress.last_seq IS 'the last sequence number given to a message';
COMMENT ON COLUMN pipeline.sink_progress.published IS 'messages published and acknowledged by Kafka';
COMMENT ON COLUMN pipeline.sink_progress.updated_at IS 'when the sink last recorded progress';

SELECT pg_catalog.pg_extension_config_dump('pipeline.sinks', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.sink_progress', '');

-- A role sees and changes its own sinks; pipeline_admin sees them all.
-- The outbox (what a sink publishes, under its owner's credentials) and the
-- progress: admins see them, only the sink's owner writes them.
ALTER TABLE pipeline.sinks ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline.sink_progress ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON pipeline.sinks
    USING (owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid() OR pipeline.is_admin());
CREATE POLICY owner_or_admin ON pipeline.outbox FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name OPERATOR(pg_catalog.=) sink));
CREATE POLICY owner_writes ON pipeline.outbox
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name OPERATOR(pg_catalog.=) sink
                     AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
CREATE POLICY owner_or_admin ON pipeline.sink_progress FOR SELECT
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = sink));
CREATE POLICY owner_writes ON pipeline.sink_progress
    USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = sink AND s.owner_oid OPERATOR(pg_catalog.=) pipeline._current_role_oid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON pipeline.sinks, pipeline.outbox, pipeline.sink_progress TO PUBLIC;
GRANT USAGE ON SEQUENCE pipeline.outbox_id_seq TO PUBLIC;

-- guard: the writer owns a new sink; a non-owner changes only paused,
-- error, config_version
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON pipeline.sinks
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_guard('sink', 'paused', 'error', 'config_version');
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.sinks
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER owner_oid BEFORE INSERT OR UPDATE ON pipeline.outbox
    FOR EACH ROW EXECUTE FUNCTION pipeline._owner_oid();
CREATE TRIGGER wake_coordinator AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON pipeline.sinks FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();
CREATE TRIGGER wake_coordinator AFTER INSERT
    ON pipeline.outbox FOR EACH STATEMENT EXECUTE FUNCTION pipeline.wake_coordinator();

CREATE FUNCTION pipeline.create_sink(
    name       text,
    server     name,
    topic      text,
    properties jsonb   DEFAULT '{}',
    batch_rows integer DEFAULT 1000)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF create_sink.name IS NULL OR create_sink.server IS NULL OR create_sink.topic IS NULL THEN
        RAISE EXCEPTION 'name, server and topic of a sink must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pipeline._kafka_object_check_new('sink', create_sink.name);
    IF batch_rows IS NULL OR batch_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch_rows must be between 1 and 100000, not %', batch_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pipeline._check_sink(create_sink.server, create_sink.topic, create_sink.properties);
    INSERT INTO pipeline.sinks (name, server, topic, properties, batch_rows)
    VALUES (create_sink.name, create_sink.server, create_sink.topic,
            coalesce(create_sink.properties, '{}'), create_sink.batch_rows);
    INSERT INTO pipeline.sink_progress (sink) VALUES (create_sink.name);
    PERFORM pipeline._warn_without_workers(format('sink "%s" will not publish until it is', create_sink.name));
END
$$;
COMMENT ON FUNCTION pipeline.create_sink(text, name, text, jsonb, integer) IS
'creates a Kafka sink: a worker publishes the committed rows of pipeline.outbox for it, each exactly once';

CREATE FUNCTION pipeline._check_sink(server name, topic text, properties jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'pipeline_check_sink'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION pipeline._check_sink(name, text, jsonb) IS
'validates a sink definition (server, topic name, librdkafka properties)';

CREATE FUNCTION pipeline.drop_sink(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_drop('sink', drop_sink.name, drop_sink.if_exists);
END
$$;
COMMENT ON FUNCTION pipeline.drop_sink(text, boolean) IS
'drops a sink and the messages still waiting in its outbox';

CREATE FUNCTION pipeline.pause_sink(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('sink', pause_sink.name, true);
END
$$;
COMMENT ON FUNCTION pipeline.pause_sink(text) IS 'stops publishing; the outbox keeps filling';

CREATE FUNCTION pipeline.resume_sink(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pipeline._kafka_object_set_paused('sink', resume_sink.name, false);
    PERFORM pipeline._warn_without_workers(format('sink "%s" will not publish until it is', resume_sink.name));
END
$$;
COMMENT ON FUNCTION pipeline.resume_sink(text) IS 'publishes again, from the oldest waiting message';

CREATE FUNCTION pipeline.publish(sink text, payload text, key text DEFAULT NULL, headers jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = publish.sink) THEN
        RAISE EXCEPTION 'sink "%" does not exist', publish.sink
            USING ERRCODE = 'undefined_object';
    END IF;
    IF jsonb_path_exists(publish.headers, '$.* ? (@.type() == "object" || @.type() == "array")') THEN
        RAISE EXCEPTION 'header values must be strings, numbers, booleans or null'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kafka headers are flat: turn nested values into text first.';
    END IF;
    INSERT INTO pipeline.outbox (sink, key, payload, headers)
    VALUES (publish.sink, publish.key, publish.payload, publish.headers)
    RETURNING id INTO new_id;
    PERFORM pipeline._warn_without_workers(format('messages for sink "%s" wait in the outbox until it is', publish.sink));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION pipeline.publish(text, text, text, jsonb) IS
'enqueues a message for a sink; it is published only if and after this transaction commits';

CREATE VIEW pipeline.sink_status WITH (security_invoker = true) AS
SELECT s.name AS sink,
       s.topic,
       CASE
           WHEN s.error IS NOT NULL THEN 'stopped'
           WHEN s.paused THEN 'paused'
           WHEN w.state = 'running' AND NOT w.failing THEN 'running'
           WHEN w.state = 'restarting' OR w.failing THEN 'error'
           ELSE 'starting'
       END AS state,
       (SELECT count(*) FROM pipeline.outbox o WHERE o.sink = s.name) AS waiting,
       p.published,
       p.last_seq,
       CASE WHEN p.published > 0 THEN p.updated_at END AS last_publish_at,
       coalesce(s.error, w.last_error) AS last_error
  FROM pipeline.sinks s
  LEFT JOIN pipeline.sink_progress p ON p.sink = s.name
  LEFT JOIN LATERAL (
        SELECT wk.state, wk.last_error,
               coalesce(wk.last_error_at > coalesce(wk.last_batch_at, '-infinity')
                        AND wk.last_error_at > now() - interval '1 minute', false) AS failing
          FROM pipeline.get_workers() wk
         WHERE wk.kind = 'sink' AND wk.label = s.name LIMIT 1) w ON true;
COMMENT ON VIEW pipeline.sink_status IS
'per sink: state (error while it cannot publish), messages waiting, published, last confirmed publish, last error';
COMMENT ON COLUMN pipeline.sink_status.sink IS 'the sink''s name';
COMMENT ON COLUMN pipeline.sink_status.topic IS 'the sink''s topic';
COMMENT ON COLUMN pipeline.sink_status.state IS
'stopped, paused, running, error (it cannot publish) or starting';
COMMENT ON COLUMN pipeline.sink_status.waiting IS 'messages in the outbox';
COMMENT ON COLUMN pipeline.sink_status.published IS 'messages published';
COMMENT ON COLUMN pipeline.sink_status.last_seq IS 'the last sequence number given to a message';
COMMENT ON COLUMN pipeline.sink_status.last_publish_at IS 'the last confirmed publish';
COMMENT ON COLUMN pipeline.sink_status.last_error IS
'sinks.error if the sink is stopped, else the worker''s last error';
GRANT SELECT ON pipeline.sink_status TO PUBLIC;
