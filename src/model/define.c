/*-------------------------------------------------------------------------
 *
 * define.c
 *	  Defining a model: its catalog row (found by id or by name, the name
 *	  qualified one way), its owner, recording a build, and the columns
 *	  it outputs.
 *
 * create_model, alter_model and drop_model are PL/pgSQL
 * (control/sql/model.sql): they check the options and write the catalog;
 * C does what needs the parser (depend.c, lineage.c and here).
 *
 * The search_path of a model is frozen when the model is created: the
 * creator's schemas (current_schemas(false), without temporary schemas)
 * as a ready-to-SET string, pipeline.models.search_path.  Whoever later
 * analyses or runs the model's SQL sets that path, with pg_temp last (a
 * temporary table never shadows a model's input), as the model's owner,
 * in a security-restricted operation: pp_as_role_begin_path
 * (src/common/asrole.c), the one role switch of every model file.  Neither
 * the search_path of the session that calls alter_model or reads the
 * lineage nor a schema another role put first in it changes what the
 * model's names mean.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "model/model.h"

/*
 * model_row
 *		The row of pipeline.models whose "key" column equals "value", with
 *		"columns" (an SQL select list), as the caller sees it (row security:
 *		its owner's, or any for pipeline_admin); NULL when none.  Read under
 *		the pinned search_path.  Connected to SPI; the row is SPI's
 *		(SPI_tuptable->tupdesc describes it).
 */
static HeapTuple
model_row(const char *key, Oid type, Datum value, const char *columns)
{
	int			level = pp_pinned_search_path_begin();

	if (SPI_execute_with_args(psprintf("SELECT %s FROM pipeline.models m "
									   "WHERE m.%s OPERATOR(pg_catalog.=) $1", columns, key),
							  1, &type, &value, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.models");
	pp_pinned_search_path_end(level);
	return SPI_processed > 0 ? SPI_tuptable->vals[0] : NULL;
}

/*
 * pp_model_get
 *		Model "model_id"'s row with "columns" (model_row), NULL when the
 *		caller sees none.  Connected to SPI.
 */
HeapTuple
pp_model_get(int32 model_id, const char *columns)
{
	return model_row("model_id", INT4OID, Int32GetDatum(model_id), columns);
}

/*
 * pp_model_find
 *		The row of model "name" (qualified by pp_model_qualify, as an
 *		existing model's) with "columns"; an error calling it a "what"
 *		(model, seed, snapshot) when the caller sees none.  Sets *qualified.
 *		Connected to SPI.
 */
HeapTuple
pp_model_find(const char *name, const char *columns, const char *what, char **qualified)
{
	HeapTuple	tup;

	*qualified = pp_model_qualify(name, true, NULL, NULL);
	tup = model_row("name", TEXTOID, CStringGetTextDatum(*qualified), columns);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", what, *qualified)));
	return tup;
}

/*
 * pp_model_qualify
 *		A model's name as pipeline.models keeps it, schema.relation, by
 *		pipeline._model_qualify (control/sql/model.sql), the one resolution
 *		of create_model, alter_model and drop_model: as given when qualified;
 *		an unqualified one in the first of the caller's schemas (for an
 *		"existing" model: the first of them that has a model of that name).
 *		Sets *schema and *relname when given.  Connected to SPI.
 */
char *
pp_model_qualify(const char *name, bool existing, char **schema, char **relname)
{
	Oid			types[2] = {TEXTOID, BOOLOID};
	Datum		values[2] = {CStringGetTextDatum(name), BoolGetDatum(existing)};
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *nsp;
	char	   *rel;

	if (SPI_execute_with_args("SELECT q.schema_name::text, q.relation_name::text "
							  "FROM pipeline._model_qualify($1, pg_catalog.current_schemas(false), $2) q",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not run pipeline._model_qualify");
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	nsp = SPI_getvalue(tup, desc, 1);
	rel = SPI_getvalue(tup, desc, 2);
	if (schema)
		*schema = nsp;
	if (relname)
		*relname = rel;
	return psprintf("%s.%s", nsp, rel);
}

/*
 * pp_model_owner
 *		The owner of a model's row (column "col" of it holds owner_oid):
 *		InvalidOid when that role is gone and "missing_ok", else an error.
 */
Oid
pp_model_owner(HeapTuple tup, TupleDesc desc, int col, const char *name, bool missing_ok)
{
	bool		isnull;
	Oid			owner = DatumGetObjectId(SPI_getbinval(tup, desc, col, &isnull));

	if (!isnull && SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		return owner;
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of model \"%s\" no longer exists", name),
				 errdetail("A model runs as its owner.")));
	return InvalidOid;
}

/*
 * pp_model_fetch
 *		A model's row as the current role sees it (row security: its owner
 *		or pipeline_admin).  False when there is none.  The owner is
 *		InvalidOid when its role is gone.  Not connected to SPI.
 */
bool
pp_model_fetch(int32 model_id, ModelDef *def)
{
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	tuple;

	memset(def, 0, sizeof(*def));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	tuple = pp_model_get(model_id, "m.name, m.sql, m.search_path, m.materialized, m.owner_oid");
	if (tuple != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		def->model_id = model_id;
		def->name = pstrdup(SPI_getvalue(tuple, desc, 1));
		def->sql = pstrdup(SPI_getvalue(tuple, desc, 2));
		def->search_path = pstrdup(SPI_getvalue(tuple, desc, 3));
		def->materialized = pstrdup(SPI_getvalue(tuple, desc, 4));
		def->owner = pp_model_owner(tuple, desc, 5, def->name, true);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return tuple != NULL;
}

/*
 * pp_model_set_built
 *		Record that a model was built (loaded) now, and with "set_hwm" its
 *		high_water_mark (NULL unless "has_hwm").  As the bootstrap
 *		superuser: a pipeline_admin member building or loading another
 *		role's model may not write those columns itself (the guard
 *		trigger).  Connected to SPI.
 */
void
pp_model_set_built(int32 model_id, bool set_hwm, bool has_hwm, TimestampTz hwm)
{
	Oid			argtypes[3] = {INT4OID, BOOLOID, TIMESTAMPTZOID};
	Datum		values[3] = {Int32GetDatum(model_id), BoolGetDatum(set_hwm), TimestampTzGetDatum(hwm)};
	char		nulls[3] = {' ', ' ', has_hwm ? ' ' : 'n'};
	PipelineAsRole as;

	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	if (SPI_execute_with_args("UPDATE pipeline.models SET built_at = pg_catalog.clock_timestamp(), "
							  "high_water_mark = CASE WHEN $2 THEN $3 ELSE high_water_mark END "
							  "WHERE model_id OPERATOR(pg_catalog.=) $1",
							  3, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update pipeline.models");
	pp_as_role_end(&as);
}

/*
 * pipeline._model_output(sql text, search_path text): the columns a model
 * with this SQL outputs (position, name, type), analyzed as the current
 * role with that search_path; no rows while the SQL reads a model not built
 * yet.  create_model checks its options (unique_key, incremental_by, ...)
 * and the column names against them.
 */
PG_FUNCTION_INFO_V1(pipeline_model_output);
Datum
pipeline_model_output(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PipelineAsRole as;
	ModelParse	parse;
	ListCell   *lc;

	pp_model_parse_args(fcinfo, &as, &parse);
	pp_as_role_end(&as);
	if (parse.query == NULL)
		return (Datum) 0;
	foreach(lc, parse.query->targetList)
	{
		TargetEntry *te = (TargetEntry *) lfirst(lc);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (te->resjunk)
			continue;
		values[0] = Int32GetDatum(te->resno);
		values[1] = CStringGetTextDatum(te->resname ? te->resname : "?column?");
		values[2] = ObjectIdGetDatum(exprType((Node *) te->expr));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
