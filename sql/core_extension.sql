-- The extension itself: schema, version, parameters.
CREATE EXTENSION pg_pipeline;

-- the library and the installed SQL objects agree on the version
SELECT pipeline.version() = e.extversion AS same_version,
       pipeline.version() ~ '^\d+\.\d+\.\d+$' AS semver
  FROM pg_extension e WHERE e.extname = 'pg_pipeline';

-- everything lives in schema pipeline, belongs to the extension and is
-- documented
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member
  FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
 WHERE e.extname = 'pg_pipeline' AND d.deptype = 'e' ORDER BY 1;
SELECT p.oid::regprocedure AS function, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace ORDER BY p.proname;

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
