-- pg_pipeline 0.10.0 -> 0.11.0: performance round 3 (issue 15: jsonb
-- sources without jsonb's own parser, sync window maintenance in C).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.11.0'" to load this file. \quit

-- ==== sync window maintenance (helper W) ====

-- ==== kafka loading (helper J) ====

-- ==== lead ====
