/*-------------------------------------------------------------------------
 *
 * gate.c
 *	  Gating a model's build (write, audit, publish): pipeline.build checks
 *	  each model's expectations on its new version before that version is
 *	  published.
 *
 * A model is built in a transaction of its own: a subtransaction of the
 * caller's for pipeline.build (model_run.sql), a model runner's for
 * pipeline.start_build (src/model/run.c).  Right after pipeline._model_build,
 * still inside it, pipeline._model_checks evaluates the expectations of the
 * model's relation on the rows just written, which only that transaction
 * sees.  When an error-severity expectation fails (or cannot be
 * evaluated), it raises the error, the transaction is undone and readers
 * keep the previous version; the run records the model as failed, which
 * skips the models that depend on it.  Warn-severity failures are kept and
 * do not block.
 *
 * The results must outlive the undone transaction, so they are evaluated
 * into a memory context of the session (the "stash") and written after it
 * by pipeline._model_checks_record, in the caller's transaction (in the
 * session) or in the runner's bookkeeping transaction (after a failure) or
 * in the build's own (after a success).  The stash is tagged with the model
 * and the invocation, so a stash that a failed call left behind is never
 * recorded for another build.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/pipeline.h"
#include "quality/quality.h"

static MemoryContext stash_context = NULL;
static List *stash_results = NIL;
static int32 stash_model = 0;
static int64 stash_invocation = 0;

static void
stash_reset(void)
{
	if (stash_context == NULL)
		stash_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline gate",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(stash_context);
	stash_results = NIL;
	stash_model = 0;
	stash_invocation = 0;
}

/*
 * The model's relation and qualified name, as the caller sees pipeline.models
 * (row security: its own models, or every one for pipeline_admin); InvalidOid
 * for an ephemeral model or one whose relation does not exist.
 */
static Oid
model_relation(int32 model_id, int64 invocation_id, char **name)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	Oid			inv_types[1] = {INT8OID};
	Datum		inv_args[1] = {Int64GetDatum(invocation_id)};
	bool		isnull;
	Oid			relid = InvalidOid;
	int			level;

	*name = NULL;
	SPI_connect();
	level = pp_pinned_search_path_begin();

	/*
	 * a running build of the caller's own (row security: its invocations,
	 * or every one for pipeline_admin): results are recorded under that
	 * invocation, as the extension, so no one tags another's run
	 */
	if (SPI_execute_with_args("SELECT 1 FROM pipeline.model_invocations i "
							  "WHERE i.invocation_id OPERATOR(pg_catalog.=) $1 "
							  "AND i.status OPERATOR(pg_catalog.=) 'running' "
							  "AND i.command OPERATOR(pg_catalog.=) 'build'",
							  1, inv_types, inv_args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read invocation " INT64_FORMAT, invocation_id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no running build " INT64_FORMAT " of yours", invocation_id),
				 errhint("pipeline.build and pipeline.start_build check models; use pipeline.check otherwise.")));

	if (SPI_execute_with_args("SELECT m.name, pg_catalog.to_regclass(pg_catalog.quote_ident(m.schema_name) "
							  "OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
							  "pg_catalog.quote_ident(m.relation_name)) "
							  "FROM pipeline.models m WHERE m.model_id OPERATOR(pg_catalog.=) $1 "
							  "AND m.materialized OPERATOR(pg_catalog.<>) 'ephemeral'",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model %d", model_id);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		*name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*name = *name ? MemoryContextStrdup(TopTransactionContext, *name) : NULL;
		relid = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	pp_pinned_search_path_end(level);
	SPI_finish();
	return relid;
}

static void
gate_error_context(void *arg)
{
	errcontext("checking model \"%s\" before it is published: its new version is undone, "
			   "readers keep the previous one", (const char *) arg);
}

/*
 * pipeline._model_checks(model_id integer, invocation_id bigint) RETURNS
 * integer: evaluate the model's expectations into the stash; the error of
 * pp_check_raise_blocking when one blocks.  Returns how many were checked.
 */
PG_FUNCTION_INFO_V1(pipeline_model_checks);
Datum
pipeline_model_checks(PG_FUNCTION_ARGS)
{
	int32		model_id = PG_GETARG_INT32(0);
	int64		invocation_id = PG_GETARG_INT64(1);
	char	   *name;
	Oid			relid;
	MemoryContext old;
	ErrorContextCallback callback;

	stash_reset();
	relid = model_relation(model_id, invocation_id, &name);
	if (!OidIsValid(relid))
		PG_RETURN_INT32(0);

	old = MemoryContextSwitchTo(stash_context);
	stash_results = pp_check_evaluate(relid);
	MemoryContextSwitchTo(old);
	stash_model = model_id;
	stash_invocation = invocation_id;

	if (pp_check_blocks(stash_results))
	{
		callback.callback = gate_error_context;
		callback.arg = name;
		callback.previous = error_context_stack;
		error_context_stack = &callback;
		pp_check_raise_blocking(stash_results,
								psprintf("The results and the failing rows' keys are in pipeline.check_results "
										 "and pipeline.check_failures (model_invocation_id " INT64_FORMAT ").",
										 invocation_id));
	}
	PG_RETURN_INT32(list_length(stash_results));
}

/*
 * pipeline._model_checks_record(model_id integer, invocation_id bigint)
 * RETURNS bigint: record what pipeline._model_checks stashed for that model
 * and invocation (the check_id), NULL when nothing is stashed for them.
 */
PG_FUNCTION_INFO_V1(pipeline_model_checks_record);
Datum
pipeline_model_checks_record(PG_FUNCTION_ARGS)
{
	int64		check_id;

	if (stash_model == 0 || stash_model != PG_GETARG_INT32(0) ||
		stash_invocation != PG_GETARG_INT64(1) || stash_results == NIL)
	{
		if (stash_context)
			stash_reset();
		PG_RETURN_NULL();
	}
	check_id = pp_check_record(stash_results, stash_invocation, NULL);
	stash_reset();
	PG_RETURN_INT64(check_id);
}
