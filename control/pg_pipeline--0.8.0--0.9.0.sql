-- pg_pipeline 0.8.0 -> 0.9.0: a newcomer's path and one place to see the
-- pipeline (issue 14).
--
-- What changes for SQL (each section lists its own objects):

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.9.0'" to load this file. \quit

-- ==== status and first errors (helper S) ====

-- ==== lineage (helper L) ====

-- ==== dump and restore (helper P) ====
-- No SQL change: the fixes are in the library (a restore's window triggers
-- record the window's dependencies; a restoring session pauses its
-- database's workers until it ends; docs/backup.md).

-- ==== reference and comments (helper D) ====

-- ==== lead ====
