/*-------------------------------------------------------------------------
 *
 * define.c
 *	  Defining a model: the role and search_path its SQL is resolved with,
 *	  reading its catalog row, and the columns it outputs.
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
 * in a security-restricted operation: pp_model_context_begin.  Neither
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
#include "utils/guc.h"
#include "utils/syscache.h"

#include "model/model.h"

/*
 * pp_model_context_begin
 *		Resolve what follows as "role", with search_path = the model's
 *		frozen path, then pg_temp; in a security-restricted operation (no
 *		SET ROLE, no temporary objects, as REFRESH MATERIALIZED VIEW).
 *		Undo with pp_model_context_end (or an abort).
 */
void
pp_model_context_begin(ModelContext *save, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&save->user, &save->sec);
	SetUserIdAndSecContext(role, save->sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path",
							 psprintf("%s%spg_temp", search_path,
									  search_path[0] != '\0' ? ", " : ""),
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
pp_model_context_end(ModelContext *save)
{
	AtEOXact_GUC(false, save->guc_level);
	SetUserIdAndSecContext(save->user, save->sec);
}

/*
 * pp_model_fetch
 *		A model's row as the current role sees it (row security: its owner
 *		or pipeline_admin).  False when there is none.  The owner is
 *		InvalidOid when its role is gone.
 */
bool
pp_model_fetch(int32 model_id, ModelDef *def)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model_id)};
	MemoryContext caller = CurrentMemoryContext;
	bool		found = false;

	memset(def, 0, sizeof(*def));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT m.name, m.sql, m.search_path, m.materialized, m.owner_oid "
							  "FROM pipeline.models m "
							  "WHERE m.model_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed");
	if (SPI_processed > 0)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		owner = SPI_getbinval(tuple, desc, 5, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		def->model_id = model_id;
		def->name = pstrdup(SPI_getvalue(tuple, desc, 1));
		def->sql = pstrdup(SPI_getvalue(tuple, desc, 2));
		def->search_path = pstrdup(SPI_getvalue(tuple, desc, 3));
		def->materialized = pstrdup(SPI_getvalue(tuple, desc, 4));
		def->owner = isnull ? InvalidOid : DatumGetObjectId(owner);
		if (OidIsValid(def->owner) &&
			!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(def->owner)))
			def->owner = InvalidOid;
		MemoryContextSwitchTo(spi);
		found = true;
	}
	SPI_finish();
	return found;
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
	ModelContext context;
	ModelParse	parse;
	ListCell   *lc;

	pp_model_parse_args(fcinfo, &context, &parse);
	pp_model_context_end(&context);
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
