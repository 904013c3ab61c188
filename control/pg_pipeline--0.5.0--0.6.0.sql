-- pg_pipeline 0.5.0 -> 0.6.0: structure and lifecycle (issue 11).
--
-- What changes for SQL:
--   * supervision: pipeline.sink_status says "error" while its worker
--     cannot publish (an error newer than its last published batch, in the
--     last minute: the rule of pipeline.source_status), and
--     last_publish_at is null until a delivery was confirmed (it showed the
--     sink's creation time).

\echo Use "ALTER EXTENSION pg_pipeline UPDATE TO '0.6.0'" to load this file. \quit

-- ==== supervision: sink_status as source_status ====

CREATE OR REPLACE VIEW pipeline.sink_status AS
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
-- CREATE OR REPLACE VIEW resets the options it is not given
ALTER VIEW pipeline.sink_status SET (security_invoker = true);
COMMENT ON VIEW pipeline.sink_status IS
'per sink: state (error while it cannot publish), messages waiting, published, last confirmed publish, last error';
