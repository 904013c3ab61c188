-- pg_pipeline: lineage you can look at: the graph of topics, tables,
-- windows, models, expectations, sinks and DAG tasks as DOT, Mermaid and a
-- self-contained HTML page (issue 14).  Area file: each object in its
-- final form (Makefile, "the SQL").
--
-- Everything here reads the catalogs as the caller (no SECURITY DEFINER):
-- row-level security decides which objects a role sees, its own or, for
-- pipeline_admin, all.  The graph is built in SQL (_lineage_edges,
-- _lineage_nodes, _lineage_graph) and written out in C (src/lineage/):
-- the C functions only escape and lay out what the SQL returns.
-- docs/lineage.md says what the graph shows and how it is derived.

-- The pipeline.* calls of a task's command, from PostgreSQL's raw parse
-- (nothing is resolved or run): function name and its first argument
-- when that is a string constant.
CREATE FUNCTION pipeline._lineage_task_calls(command text,
    OUT function text, OUT argument text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pipeline_lineage_task_calls'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._lineage_task_calls(text) IS
'lineage: the calls of pipeline functions in a task''s SQL (raw parse only) with their first argument when it is a string constant';

-- A relation named in a task's SQL, without the task owner's search_path:
-- a qualified name as it stands; an unqualified one only when exactly one
-- relation of the database has that name (then every search_path that
-- finds it finds that one).
CREATE FUNCTION pipeline._lineage_resolve(name text)
RETURNS oid
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    parts := parse_ident(name);
    IF cardinality(parts) = 2 THEN
        RETURN to_regclass(quote_ident(parts[1]) || '.' || quote_ident(parts[2]));
    ELSIF cardinality(parts) = 1 THEN
        RETURN (SELECT min(c.oid) FROM pg_class c
                 WHERE c.relname = parts[1] AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                HAVING count(*) = 1);
    END IF;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;        -- not a name (parse_ident refused it)
END
$$;
COMMENT ON FUNCTION pipeline._lineage_resolve(text) IS
'lineage: the relation a task''s SQL names: a qualified name, or an unqualified one only when a single relation has it';

-- The node of a relation: its window, its model, or the relation itself.
CREATE FUNCTION pipeline._lineage_relation_node(rel oid)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT 'window:' || w.id FROM pipeline.windows w WHERE w.result::oid = rel LIMIT 1),
        (SELECT 'model:' || m.model_id FROM pipeline.models m
           JOIN pg_namespace n ON n.nspname = m.schema_name
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = m.relation_name
          WHERE c.oid = rel LIMIT 1),
        'relation:' || rel)
$$;
COMMENT ON FUNCTION pipeline._lineage_relation_node(oid) IS
'lineage: the node id of a relation: window:<id> for a window''s result, model:<id> for a model''s relation, else relation:<oid>';

-- Every edge the caller may see, upstream -> downstream, with a label.
CREATE FUNCTION pipeline._lineage_edges(OUT upstream text, OUT downstream text, OUT label text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    call record;
    rel oid;
BEGIN
    -- Kafka: topic -> source -> target table; window -> sink -> topic
    RETURN QUERY
    SELECT 'topic:' || jsonb_build_array(s.server, s.topic)::text, 'source:' || s.name, NULL::text
      FROM pipeline.sources s;
    RETURN QUERY
    SELECT 'source:' || s.name, pipeline._lineage_relation_node(c.oid), NULL::text
      FROM pipeline.sources s JOIN pg_class c ON c.oid = s.target_oid;
    RETURN QUERY
    SELECT 'sink:' || k.name, 'topic:' || jsonb_build_array(k.server, k.topic)::text, NULL::text
      FROM pipeline.sinks k;
    -- windows: source table -> window -> its sink
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(w.source), 'window:' || w.id, NULL::text
      FROM pipeline.windows w;
    RETURN QUERY
    SELECT 'window:' || w.id, 'sink:' || w.sink, 'closed windows'
      FROM pipeline.windows w WHERE w.sink IS NOT NULL;
    -- models: what each reads (pipeline.lineage, from PostgreSQL's parse);
    -- a relation read through a view is drawn as read by that view
    RETURN QUERY
    SELECT coalesce('model:' || l.upstream_model_id, pipeline._lineage_relation_node(l.upstream_oid)),
           CASE WHEN l.direct THEN 'model:' || l.model_id
                ELSE pipeline._lineage_relation_node(to_regclass(l.via)) END,
           NULL::text
      FROM pipeline.lineage l
     WHERE (l.upstream_model_id IS NOT NULL OR l.upstream_oid IS NOT NULL)
       AND (l.direct OR to_regclass(l.via) IS NOT NULL);
    -- expectations: the relation checked (and a relationship's table)
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(e.relation), 'expectation:' || e.expectation_id, NULL::text
      FROM pipeline.expectations e;
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(e.to_relation), 'expectation:' || e.expectation_id, 'to'
      FROM pipeline.expectations e WHERE e.to_relation IS NOT NULL;
    -- DAGs: the tables a data-aware DAG watches ...
    RETURN QUERY
    SELECT pipeline._lineage_relation_node(w.rel), 'dag:' || d.dag_id, 'triggers'
      FROM pipeline.dags d CROSS JOIN LATERAL unnest(d.trigger_on) AS w(rel)
     WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = w.rel);
    -- ... and what its tasks' SQL runs: pipeline.run/build (the models the
    -- selector means, of the DAG's owner), check, rebuild_window,
    -- flush_window, snapshot, load_seed, publish.  A command that does not
    -- parse, or a selector that means nothing, draws no edge.
    FOR t IN SELECT d.dag_id, d.owner_oid, k.name, k.command
               FROM pipeline.dags d JOIN pipeline.tasks k ON k.dag_id = d.dag_id
              WHERE k.command IS NOT NULL
              ORDER BY d.dag_id, k.name LOOP
        BEGIN
            FOR call IN SELECT * FROM pipeline._lineage_task_calls(t.command) LOOP
                IF call.function IN ('run', 'build') THEN
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'model:' || m.model_id, t.name || ': ' || call.function
                      FROM pipeline.select_models(coalesce(call.argument, '')) AS s(model)
                      JOIN pipeline.models m ON m.name = s.model
                     WHERE m.owner_oid = t.owner_oid;
                ELSIF call.function IN ('check', 'rebuild_window', 'flush_window') THEN
                    rel := pipeline._lineage_resolve(call.argument);
                    IF rel IS NOT NULL THEN
                        RETURN QUERY SELECT 'dag:' || t.dag_id, pipeline._lineage_relation_node(rel),
                                            t.name || ': ' || call.function;
                    END IF;
                ELSIF call.function IN ('snapshot', 'load_seed') THEN
                    rel := pipeline._lineage_resolve(call.argument);
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'model:' || m.model_id, t.name || ': ' || call.function
                      FROM pipeline.models m
                     WHERE m.owner_oid = t.owner_oid
                       AND (m.name = call.argument OR pipeline._lineage_relation_node(rel) = 'model:' || m.model_id);
                ELSIF call.function = 'publish' THEN
                    RETURN QUERY
                    SELECT 'dag:' || t.dag_id, 'sink:' || k.name, t.name || ': publish'
                      FROM pipeline.sinks k WHERE k.name = call.argument AND k.owner_oid = t.owner_oid;
                END IF;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            NULL;       -- a command or selector that does not resolve draws nothing
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pipeline._lineage_edges() IS
'lineage: every edge of the graph the caller may see (row-level security applies), upstream node id, downstream node id, label';

-- The objects of the graph the caller may see, each as a node: sources,
-- windows, models, expectations, sinks, DAGs and jobs.  Relations and
-- topics become nodes when an edge names them (_lineage_graph).
CREATE FUNCTION pipeline._lineage_nodes(OUT node text, OUT kind text, OUT name text,
                                        OUT detail text, OUT relation regclass)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'source:' || s.name, 'source', s.name, 'source', c.oid::regclass
      FROM pipeline.sources s LEFT JOIN pg_class c ON c.oid = s.target_oid
    UNION ALL
    SELECT 'window:' || w.id, 'window', w.result::text, 'window', w.result
      FROM pipeline.windows w
    UNION ALL
    SELECT 'model:' || m.model_id, 'model', coalesce(c.oid::regclass::text, m.name),
           'model, ' || m.materialized, c.oid::regclass
      FROM pipeline.models m
      LEFT JOIN pg_namespace n ON n.nspname = m.schema_name
      LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = m.relation_name
    UNION ALL
    SELECT 'expectation:' || e.expectation_id, 'expectation', e.name, 'expectation, ' || e.kind, e.relation
      FROM pipeline.expectations e
    UNION ALL
    SELECT 'sink:' || k.name, 'sink', k.name, 'sink', NULL::regclass
      FROM pipeline.sinks k
    UNION ALL
    SELECT 'dag:' || d.dag_id, CASE WHEN d.is_job THEN 'job' ELSE 'dag' END, d.name,
           CASE WHEN d.is_job THEN 'job' ELSE 'DAG' END, NULL::regclass
      FROM pipeline.dags d
$$;
COMMENT ON FUNCTION pipeline._lineage_nodes() IS
'lineage: the caller''s sources, windows, models, expectations, sinks, DAGs and jobs as graph nodes (node id, kind, name, label detail, relation)';

-- The graph, or the part of it up- and downstream of one relation: one
-- row per node (numbered from 1 in a stable order) with its incoming
-- edges.  A DAG or job is drawn only when an edge reaches it.
CREATE FUNCTION pipeline._lineage_subgraph(relation regclass,
    OUT node integer, OUT kind text, OUT name text, OUT detail text, OUT object regclass,
    OUT upstream integer[], OUT labels text[])
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE
edges AS (
    SELECT e.upstream, e.downstream,
           string_agg(DISTINCT e.label, ', ' ORDER BY e.label) AS label
      FROM pipeline._lineage_edges() e
     WHERE e.upstream IS NOT NULL AND e.downstream IS NOT NULL
     GROUP BY e.upstream, e.downstream
),
objects AS (SELECT * FROM pipeline._lineage_nodes()),
-- relations and topics named by an edge, and every object but idle DAGs
ids AS (
    SELECT o.node FROM objects o WHERE o.kind NOT IN ('dag', 'job')
    UNION SELECT upstream FROM edges
    UNION SELECT downstream FROM edges
),
start AS (SELECT pipeline._lineage_relation_node(relation) AS node WHERE relation IS NOT NULL),
up AS (SELECT s.node FROM start s
       UNION SELECT e.upstream FROM edges e JOIN up ON e.downstream = up.node),
down AS (SELECT s.node FROM start s
         UNION SELECT e.downstream FROM edges e JOIN down ON e.upstream = down.node),
kept AS (
    SELECT i.node FROM ids i WHERE relation IS NULL
    UNION SELECT node FROM up UNION SELECT node FROM down
),
nodes AS (
    SELECT k.node,
           coalesce(o.kind, CASE WHEN k.node LIKE 'topic:%' THEN 'topic'
                                 WHEN c.relkind IN ('v') THEN 'view'
                                 WHEN c.relkind IN ('m') THEN 'materialized view'
                                 ELSE 'table' END) AS kind,
           coalesce(o.name, c.oid::regclass::text, k.node) AS name,
           coalesce(o.detail, CASE WHEN k.node LIKE 'topic:%' THEN 'topic on ' || ((substr(k.node, 7)::jsonb) ->> 0)
                                   WHEN c.relkind = 'v' THEN 'view'
                                   WHEN c.relkind = 'm' THEN 'materialized view'
                                   ELSE 'table' END) AS detail,
           coalesce(o.relation, c.oid::regclass) AS object
      FROM kept k
      LEFT JOIN objects o ON o.node = k.node
      LEFT JOIN pg_class c
             ON c.oid = CASE WHEN k.node LIKE 'relation:%' THEN substr(k.node, 10)::oid END
     WHERE o.node IS NOT NULL OR k.node LIKE 'topic:%' OR c.oid IS NOT NULL
),
named AS (
    SELECT n.*,
           CASE WHEN n.kind = 'topic' THEN (substr(n.node, 7)::jsonb) ->> 1 ELSE n.name END AS shown,
           array_position(ARRAY['topic', 'source', 'table', 'view', 'materialized view', 'window',
                                'model', 'expectation', 'sink', 'job', 'dag'], n.kind) AS rank
      FROM nodes n
),
numbered AS (
    SELECT n.*, row_number() OVER (ORDER BY n.rank, n.shown COLLATE "C", n.node COLLATE "C")::integer AS number
      FROM named n
)
SELECT n.number, n.kind, n.shown, n.detail, n.object,
       coalesce((SELECT array_agg(u.number ORDER BY u.number)
                   FROM edges e JOIN numbered u ON u.node = e.upstream
                  WHERE e.downstream = n.node), '{}'),
       coalesce((SELECT array_agg(e.label ORDER BY u.number)
                   FROM edges e JOIN numbered u ON u.node = e.upstream
                  WHERE e.downstream = n.node), '{}')
  FROM numbered n
 ORDER BY n.number
$$;
COMMENT ON FUNCTION pipeline._lineage_subgraph(regclass) IS
'lineage: the graph (all of it, or what is up- and downstream of a relation) as numbered nodes, each with its upstream nodes and edge labels';

-- The graph with each object's state from pipeline.status, joined on
-- (kind, name) and, for an expectation (whose name is unique per relation
-- only), its relation.  Without the view every state is NULL.
CREATE FUNCTION pipeline._lineage_graph(relation regclass,
    OUT node integer, OUT kind text, OUT name text, OUT detail text, OUT state text,
    OUT upstream integer[], OUT labels text[])
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('pipeline.status') IS NULL THEN
        RETURN QUERY SELECT g.node, g.kind, g.name, g.detail, NULL::text, g.upstream, g.labels
                       FROM pipeline._lineage_subgraph(relation) g ORDER BY g.node;
    ELSE
        RETURN QUERY EXECUTE
            'SELECT g.node, g.kind, g.name, g.detail,
                    (SELECT s.state::text FROM pipeline.status s
                      WHERE s.kind OPERATOR(pg_catalog.=) g.kind
                        AND s.name OPERATOR(pg_catalog.=) g.name
                        AND (g.kind OPERATOR(pg_catalog.<>) ''expectation''
                             OR s.relation OPERATOR(pg_catalog.=) g.object)
                      LIMIT 1),
                    g.upstream, g.labels
               FROM pipeline._lineage_subgraph($1) g ORDER BY g.node'
            USING relation;
    END IF;
END
$$;
COMMENT ON FUNCTION pipeline._lineage_graph(regclass) IS
'lineage: _lineage_subgraph with each node''s state from pipeline.status (NULL where the view or a row is missing)';

CREATE FUNCTION pipeline.lineage_dot(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_dot'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_dot(regclass) IS
'lineage: the graph of topics, sources, tables, windows, models, expectations, sinks and DAGs the caller sees, as Graphviz DOT (with a relation: only what is up- and downstream of it)';

CREATE FUNCTION pipeline.lineage_mermaid(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_mermaid'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_mermaid(regclass) IS
'lineage: the graph of lineage_dot as a Mermaid flowchart (for Markdown pages)';

CREATE FUNCTION pipeline.lineage_html(relation regclass DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pipeline_lineage_html'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION pipeline.lineage_html(regclass) IS
'lineage: the graph of lineage_dot as a self-contained HTML page: inline SVG laid out by Graphviz, nodes coloured by their state in pipeline.status, no script, no network fetch';
