-- The coordinator of this database, seen through pipeline.workers.
CREATE EXTENSION pg_pipeline;

-- CREATE EXTENSION wakes the launcher at commit: the coordinator is up in
-- well under 10 seconds (the TAP tests measure the latency itself)
CREATE FUNCTION pg_temp.wait_for(cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE cond INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END $$;

SELECT pg_temp.wait_for($$SELECT count(*) = 1 FROM pipeline.workers
                           WHERE kind = 'coordinator' AND state = 'running'$$) AS coordinator_running;

SELECT kind, database = current_database() AS this_database, role IS NOT NULL AS has_role,
       state, pid IS NOT NULL AS has_pid, started_at <= now() AS started, restarts, last_error
  FROM pipeline.workers ORDER BY kind;

-- the same processes, as PostgreSQL shows them
SELECT a.backend_type, a.datname = current_database() AS this_database
  FROM pg_stat_activity a JOIN pipeline.workers w USING (pid)
 ORDER BY 1;

-- any role may look at the status
CREATE ROLE pp_regress_reader;
SET ROLE pp_regress_reader;
SELECT kind, state FROM pipeline.workers ORDER BY kind;
RESET ROLE;
DROP ROLE pp_regress_reader;

-- DROP EXTENSION stops the coordinator at commit
DROP EXTENSION pg_pipeline;
SELECT pg_temp.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity
                           WHERE backend_type = 'pg_pipeline coordinator'
                             AND datname = current_database()$$) AS coordinator_gone;
