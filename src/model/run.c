/*-------------------------------------------------------------------------
 *
 * run.c
 *	  The model runner worker: builds the models of one invocation of
 *	  pipeline.start_run / start_build, in parallel with its siblings, each
 *	  model committed on its own.
 *
 * Two ways to run models (docs/models/runs.md):
 *
 *	pipeline.run / build        in the caller's session and transaction, one
 *	                            model after the other, each in a
 *	                            subtransaction (PL/pgSQL, model_run.sql);
 *	pipeline.start_run / build  queues an invocation: its plan is written as
 *	                            "pending" rows of pipeline.model_runs, and
 *	                            once the caller commits, model runner workers
 *	                            build them, independent branches at once.
 *
 * The coordinator wants, for each invocation still running (oldest first),
 * as many model runners as the invocation asked for, all of them together
 * at most pg_pipeline.model_workers in the database (pp_model_wanted); they
 * connect as the role that started the invocation.  Each runner loops:
 *
 *	1. claim, as the extension (pipeline._model_run_claim), the first
 *	   pending model whose upstream models of the invocation all succeeded:
 *	   it is marked "running" with the runner's pid and committed, so the
 *	   siblings skip it and pipeline.model_runs shows it;
 *	2. build it in one transaction: pipeline._model_build(model_id,
 *	   full_refresh) (which runs the model's SQL as the model's owner),
 *	   for start_build its expectations checked before it is published
 *	   (src/quality/gate.c: an error-severity failure undoes it), then
 *	   the outcome recorded as the extension (pipeline._model_run_finish),
 *	   committed together: the model's new rows and its "success" are one
 *	   commit;
 *	   a failure: pp_worker_catch logs it and aborts, a fresh transaction
 *	   records it (its SQLSTATE, message, detail, hint, context), which
 *	   skips the pending models that depend on it and NOTIFYs
 *	   pipeline_models;
 *	3. wake the siblings (through the coordinator, PP_WAKE_PARENT): a model
 *	   they wait for may be done;
 *	4. when nothing is ready: when nothing is pending or running either,
 *	   mark the invocation's outcome (pipeline._model_invocation_done) and
 *	   exit on purpose; else sleep until woken.
 *
 * A runner that dies while building leaves its model "running" with a pid
 * that no longer exists: a claim takes such a model again (the coordinator
 * restarts a failed runner once).  A canceled invocation
 * (pipeline.cancel_run) has its pending models skipped at the next claim;
 * what is being built finishes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "model/model.h"
#include "worker/catch.h"
#include "worker/worker.h"

int			pp_model_workers = 2;

/* What a model runner finds in its PipelineWorkerArgs. */
typedef struct ModelRunnerParams
{
	int64		invocation_id;
} ModelRunnerParams;

/* One claimed model. */
typedef struct ModelClaim
{
	int64		model_run_id;
	int32		model_id;
	char	   *model;
	bool		full_refresh;
	bool		checks;			/* start_build: gate it (src/quality/gate.c) */
	int64		invocation_id;
} ModelClaim;

typedef enum ClaimResult
{
	CLAIMED,					/* a model to build */
	WAIT,						/* nothing ready: models of siblings pending */
	DONE						/* the invocation is over */
} ClaimResult;

/*
 * The coordinator's wanted list: see the file header.  Called in its
 * supervision pass (a transaction, SPI connected, as the bootstrap
 * superuser).
 */
void
pp_model_wanted(PipelineSupervisor *sup)
{
	int			budget = pp_model_workers;

	/* a database whose extension is not updated to 0.7.0 yet */
	if (!pp_catalog_has_column("model_invocations", "in_session"))
		return;

	/*
	 * Running invocations, and canceled ones whose runners still build a
	 * model (stopping them would abort the build) or have pending models
	 * to skip (a runner between two models, stopped before its next claim,
	 * would leave them pending for ever).
	 */
	if (SPI_execute("SELECT i.invocation_id, "
					"LEAST(i.workers, (SELECT pg_catalog.count(*) FROM pipeline.model_runs r "
					"    WHERE r.invocation_id OPERATOR(pg_catalog.=) i.invocation_id)::integer), "
					"i.owner_oid "
					"FROM pipeline.model_invocations i "
					"WHERE NOT i.in_session AND i.owner_oid IS NOT NULL "
					"AND (i.status OPERATOR(pg_catalog.=) 'running' OR EXISTS ("
					"    SELECT 1 FROM pipeline.model_runs r LEFT JOIN pg_catalog.pg_stat_activity a "
					"        ON a.pid OPERATOR(pg_catalog.=) r.runner_pid "
					"     WHERE r.invocation_id OPERATOR(pg_catalog.=) i.invocation_id "
					"       AND (r.status OPERATOR(pg_catalog.=) 'pending' "
					"            OR (r.status OPERATOR(pg_catalog.=) 'running' AND a.pid IS NOT NULL)))) "
					"ORDER BY i.invocation_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.model_invocations");

	for (uint64 i = 0; i < SPI_processed && budget > 0; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		ModelRunnerParams params;
		int			workers;
		Oid			role;
		char		label[NAMEDATALEN];

		memset(&params, 0, sizeof(params));
		params.invocation_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		workers = Min(DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull)), budget);
		role = DatumGetObjectId(SPI_getbinval(tuple, desc, 3, &isnull));
		snprintf(label, sizeof(label), "model run " INT64_FORMAT, params.invocation_id);
		for (int k = 0; k < Max(workers, 1); k++)
			pp_supervisor_want(sup, PP_WORKER_MODEL_RUNNER, label, k, role,
							   &params, sizeof(params));
		budget -= Max(workers, 1);
	}
}

/* Step 1 (and 4): claim the next model, in a transaction of its own. */
static ClaimResult
claim_next(int64 invocation_id, ModelClaim *claim, MemoryContext into)
{
	PipelineAsRole as;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2] = {Int64GetDatum(invocation_id), Int32GetDatum(MyProcPid)};
	ClaimResult result = WAIT;
	bool		isnull;

	pp_worker_bookkeeping_begin(&as);
	if (SPI_execute_with_args("SELECT * FROM pipeline._model_run_claim($1, $2)",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not claim a model of invocation " INT64_FORMAT, invocation_id);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		claim->model_run_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		claim->model_id = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
		claim->model = MemoryContextStrdup(into, SPI_getvalue(tuple, desc, 3));
		claim->full_refresh = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
		claim->checks = strcmp(SPI_getvalue(tuple, desc, 5), "build") == 0;
		claim->invocation_id = invocation_id;
		result = CLAIMED;
	}
	else
	{
		if (SPI_execute_with_args("SELECT pipeline._model_invocation_done($1)",
								  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read invocation " INT64_FORMAT, invocation_id);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			result = DONE;
	}
	pp_worker_bookkeeping_end(&as);
	return result;
}

/* pipeline._model_run_finish: the outcome, with the error's five fields. */
static void
finish_run(int64 model_run_id, int64 rows, ErrorData *error)
{
	Oid			argtypes[2 + PP_ERROR_NFIELDS] = {INT8OID, INT8OID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[2 + PP_ERROR_NFIELDS];
	char		nulls[2 + PP_ERROR_NFIELDS];

	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(model_run_id);
	args[1] = Int64GetDatum(rows);
	if (error)
	{
		nulls[1] = 'n';
		/* $3 .. $7: SQLSTATE, message, detail, hint, context */
		pp_error_fields(error, args + 2, nulls + 2);
		if (nulls[3] == 'n')
		{
			nulls[3] = ' ';
			args[3] = CStringGetTextDatum("unknown error");
		}
	}
	else
		memset(nulls + 2, 'n', PP_ERROR_NFIELDS);
	if (SPI_execute_with_args("SELECT pipeline._model_run_finish($1, $2, $3, $4, $5, $6, $7)",
							  2 + PP_ERROR_NFIELDS, argtypes, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record model run " INT64_FORMAT, model_run_id);
}

/* start_build's gate (src/quality/gate.c): sql takes the model and invocation */
static void
check_model(ModelClaim *claim, const char *sql)
{
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		args[2] = {Int32GetDatum(claim->model_id), Int64GetDatum(claim->invocation_id)};

	if (SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\" for model %s", sql, claim->model);
}

static void
model_error_context(void *arg)
{
	errcontext("while building model \"%s\" in a model runner", (const char *) arg);
}

/*
 * Step 2: build the claimed model and record its outcome (see the file
 * header).  Returns out of any transaction.
 */
static void
build_claimed(ModelClaim *claim, MemoryContext context)
{
	TimestampTz started = GetCurrentTimestamp();

	PG_TRY();
	{
		ErrorContextCallback callback;
		PipelineAsRole as;
		Oid			argtypes[2] = {INT4OID, BOOLOID};
		Datum		args[2] = {Int32GetDatum(claim->model_id), BoolGetDatum(claim->full_refresh)};
		bool		isnull;
		Datum		rows;

		callback.callback = model_error_context;
		callback.arg = claim->model;
		callback.previous = error_context_stack;
		error_context_stack = &callback;

		pp_worker_xact_start();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, psprintf("building model %s", claim->model));

		/* as the role that started the invocation; the model's own SQL as its owner */
		if (SPI_execute_with_args("SELECT pipeline._model_build($1, $2)",
								  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "pipeline._model_build returned no row");
		rows = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/*
		 * start_build: the model's expectations, in the same transaction,
		 * before it commits (an error-severity failure raises), their
		 * results recorded in it
		 */
		if (claim->checks)
		{
			check_model(claim, "SELECT pipeline._model_checks($1, $2)");
			check_model(claim, "SELECT pipeline._model_checks_record($1, $2)");
		}

		error_context_stack = callback.previous;
		pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
		finish_run(claim->model_run_id, isnull ? 0 : DatumGetInt64(rows), NULL);
		pp_as_role_end(&as);
		PopActiveSnapshot();
		SPI_finish();
		pp_worker_xact_commit();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		PipelineAsRole as;

		/* (PG_CATCH has taken the error context callback off already) */
		edata = pp_worker_catch(context);
		pp_worker_bookkeeping_begin(&as);
		finish_run(claim->model_run_id, 0, edata);
		/* the results of checks that failed the build (gate.c keeps them) */
		if (claim->checks)
			check_model(claim, "SELECT pipeline._model_checks_record($1, $2)");
		pp_worker_bookkeeping_end(&as);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pp_worker_report_progress(1, 0, started);
}

/*
 * pp_model_runner_main
 *		Main of a model runner; called by pp_worker_main once connected as
 *		the role that started the invocation.
 */
void
pp_model_runner_main(PipelineWorkerArgs *args)
{
	ModelRunnerParams params;
	MemoryContext scratch;
	bool		announced = false;

	memcpy(&params, args->params, sizeof(params));
	scratch = AllocSetContextCreate(TopMemoryContext, "pg_pipeline model runner",
									ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ModelClaim	claim;
		ClaimResult result;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(scratch);
		MemoryContextSwitchTo(scratch);

		pgstat_report_activity(STATE_RUNNING, "claiming a model");
		result = claim_next(params.invocation_id, &claim, scratch);
		if (result == DONE)
			break;
		if (result == CLAIMED)
		{
			if (!announced)
				pp_worker_announce(psprintf("model run " INT64_FORMAT, params.invocation_id));
			announced = true;
			build_claimed(&claim, scratch);
			/* its dependents may be ready now, for a sibling too */
			pp_wake(PP_WORKER_MODEL_RUNNER, MyDatabaseId);
			continue;
		}

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pp_naptime_ms, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
	}

	/* over: the coordinator stops wanting this invocation's runners */
	pp_worker_set_no_restart();
	pp_coordinator_wake(MyDatabaseId);
	proc_exit(0);
}
