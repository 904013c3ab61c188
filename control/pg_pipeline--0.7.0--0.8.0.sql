-- pg_pipeline 0.7.0 -> 0.8.0: data quality (issue 13).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.8.0'" to load this file. \quit

-- ==== quality engine (helper Q) ====

-- ==== contracts (helper C) ====

-- ==== gating and ingestion (lead) ====
