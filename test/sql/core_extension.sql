-- The extension itself: schema, version, parameters.
CREATE EXTENSION pg_pipeline;

-- the library and the installed SQL objects agree on the version
SELECT pipeline.version() = e.extversion AS same_version,
       pipeline.version() ~ '^\d+\.\d+\.\d+$' AS semver
  FROM pg_extension e WHERE e.extname = 'pg_pipeline';

-- everything lives in schema pipeline and belongs to the extension: the
-- only members outside it are the schema itself and the Kafka wrapper
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member
  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
 WHERE e.extname = 'pg_pipeline' AND d.deptype = 'e'
   AND pg_describe_object(d.classid, d.objid, d.objsubid) NOT LIKE '% pipeline.%'
 ORDER BY 1;
SELECT count(*) > 30 AS many_members
  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
 WHERE e.extname = 'pg_pipeline' AND d.deptype = 'e';

-- every function, table and view is documented
SELECT p.oid::regprocedure AS undocumented_function
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.oid::regclass AS undocumented_relation
  FROM pg_class c WHERE c.relnamespace = 'pipeline'::regnamespace
   AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL;

-- the parameters, with their defaults and when they can change
SELECT name, setting, unit, context, vartype
  FROM pg_settings WHERE name LIKE 'pg_pipeline.%' ORDER BY name;

-- bad values are refused with a clear message
ALTER SYSTEM SET pg_pipeline.naptime = 0;
ALTER SYSTEM SET pg_pipeline.log_level = 'warning';
ALTER SYSTEM SET pg_pipeline.databases = '"unterminated';
SET pg_pipeline.no_such_setting = 1;
-- reloadable parameters cannot be set per session
SET pg_pipeline.enabled = off;

DROP EXTENSION pg_pipeline;
SELECT count(*) AS schema_left FROM pg_namespace WHERE nspname = 'pipeline';
