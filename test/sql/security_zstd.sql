-- zstd decompression is bounded (issue 10, item 3).  A few kilobytes of
-- zstd can expand to a gigabyte: pipeline.zstd_decompress(bytea) is
-- callable by anyone, and replay_dead_letters/replay_archive decompress
-- what is stored in catalogs their caller may write.  The output is capped
-- by pg_pipeline.max_decompressed_size (256MB by default, only a superuser
-- may change it), checked before any of it is allocated.
--
-- The frames are built here from raw zstd blocks, each an RLE block of
-- 128 kB of zeros (block header 02 00 10, the byte 00; the last one 03 00
-- 10): 4 input bytes per 128 kB of output.  The zstd CLI decodes both to
-- zeros (checked when this file was written).
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
\set sqlstate '\\echo SQLSTATE :LAST_ERROR_SQLSTATE'

-- 300 MB of zeros in 9,610 bytes, its size in the frame header (the frames
-- pg_pipeline writes have it): refused before anything is allocated
CREATE TABLE zstd_bomb AS
SELECT decode('28b52ffd80580000c012' || repeat('02001000', 2399) || '03001000', 'hex') AS big,
       decode('28b52ffd0058' || repeat('02001000', 15) || '03001000', 'hex') AS small;
SELECT length(big) AS big_bytes, length(small) AS small_bytes FROM zstd_bomb;
SHOW pg_pipeline.max_decompressed_size;
SELECT length(pipeline.zstd_decompress(big)) FROM zstd_bomb;
:sqlstate

-- 2 MB of zeros in a frame that does not say its size (zstd's streaming
-- form): under the default limit it decompresses
SELECT length(pipeline.zstd_decompress(small)) AS small_len,
       pipeline.zstd_decompress(small) = decode(repeat('00', 2097152), 'hex') AS all_zeros
  FROM zstd_bomb;

-- with a lower limit: exactly at the limit it passes, one byte less is refused
SET pg_pipeline.max_decompressed_size = '2MB';
SELECT length(pipeline.zstd_decompress(small)) FROM zstd_bomb;
SET pg_pipeline.max_decompressed_size = 2097151;
SELECT length(pipeline.zstd_decompress(small)) FROM zstd_bomb;
:sqlstate
SET pg_pipeline.max_decompressed_size = '1MB';
SELECT length(pipeline.zstd_decompress(big)) FROM zstd_bomb;
:sqlstate
-- a small frame is still fine
SELECT convert_from(pipeline.zstd_decompress('\x28b52ffd04582900006162636465ebc78d0c'::bytea), 'UTF8') AS decompressed;
RESET pg_pipeline.max_decompressed_size;

-- broken frames are still refused as corrupt
SELECT pipeline.zstd_decompress('\x28b52ffd0058020010'::bytea);
:sqlstate
SELECT pipeline.zstd_decompress('\x00010203'::bytea);
:sqlstate

-- the limit protects the public function: an ordinary role cannot raise it
CREATE ROLE pp_zstd_user;
GRANT SELECT ON zstd_bomb TO pp_zstd_user;
SET ROLE pp_zstd_user;
SET pg_pipeline.max_decompressed_size = '1GB';
:sqlstate
SELECT length(pipeline.zstd_decompress(big)) FROM zstd_bomb;
:sqlstate
RESET ROLE;

-- out of range
SET pg_pipeline.max_decompressed_size = '1100MB';
:sqlstate

DROP TABLE zstd_bomb;
DROP ROLE pp_zstd_user;
DROP EXTENSION pg_pipeline CASCADE;
