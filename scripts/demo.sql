-- pg_pipeline demo: what a user types in psql.  Grows with each capability.
\set QUIET on
\pset footer off

\echo
\echo '-- 1. Install the extension in this database'
CREATE EXTENSION pg_pipeline;
SELECT pipeline.version();

-- CREATE EXTENSION woke the launcher at commit; give the coordinator a moment
\o /dev/null
SELECT pg_sleep(0.5);
\o

\echo '-- 2. Its workers: the launcher (no database) and this database''s coordinator'
SELECT kind, database, role, state, pid, restarts, last_error FROM pipeline.workers ORDER BY kind;

\echo '-- 3. The same processes, as PostgreSQL shows them'
SELECT pid, backend_type, datname, backend_start::time(0)
  FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%' ORDER BY backend_type;

\echo '-- 4. Its configuration'
SELECT name, setting, unit, short_desc FROM pg_settings
 WHERE name LIKE 'pg_pipeline.%' ORDER BY name;

\echo '-- 5. The test Kafka broker the next steps will ingest from:' :'bootstrap'
