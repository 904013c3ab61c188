-- pg_pipeline 0.9.0 -> 0.10.0: performance round 2 (issue 15: loading
-- without COPY's text, sync window maintenance) and the data-quality
-- benchmark target (issue 13).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.10.0'" to load this file. \quit

-- ==== sync window maintenance (helper W) ====

-- ==== quality (helper Q) ====

-- ==== lead ====
