/*-------------------------------------------------------------------------
 *
 * runner.c
 *	  The runner worker: one attempt of one task, as the task's owner.
 *
 * The coordinator marks a queued attempt "running" and starts a runner
 * connected as the owner of the task's DAG (never a superuser acting on its
 * behalf).  The runner
 *
 *	1. reads what to run and stamps started_at and its pid
 *	   (pipeline._task_run_start),
 *	2. runs it:
 *	   - a command, at top level like a client's simple query: each
 *	     statement of the text in turn, in one implicit transaction when
 *	     there are several, so VACUUM and procedures that COMMIT work as in
 *	     psql -c; the task's timeout arms STATEMENT_TIMEOUT once for the
 *	     whole text;
 *	   - a sensor: one poke, its query's first column of its first row;
 *	     false means "scheduled again after poke_interval" and the worker
 *	     exits, so no worker is held between pokes,
 *	3. resets its session as DISCARD ALL does (settings, role, temporary
 *	   tables, prepared statements, cursors, advisory locks, sequence and
 *	   plan caches), so that nothing the task left steers what follows: a
 *	   task's "SET default_transaction_read_only = on" would otherwise
 *	   make its own outcome unrecordable,
 *	4. records the outcome in a fresh transaction
 *	   (pipeline._task_run_finish), which NOTIFYs failures, and in the same
 *	   transaction takes the next attempt itself (pipeline._task_run_next)
 *	   when the oldest queued attempt is one of its role's, its parent
 *	   coordinator still runs and it has run fewer than
 *	   pg_pipeline.runner_max_tasks; it wakes the coordinator,
 *	5. with a next attempt goes back to 2; without one it exits.  Its exit
 *	   sets the coordinator's latch (bgw_notify_pid).
 *
 * Why step 3 takes the next attempt: a new runner per attempt pays a fork,
 * a connection and its bookkeeping in a cold backend, about twice the CPU
 * of a one-row task (docs/benchmarks.md, "0.9.0 scheduler").  A runner
 * only ever runs attempts of the one role it connected as, so what a task
 * leaves in the session could reach only a later task of the same owner,
 * and step 3 clears that, as a connection pooler between clients.
 *
 * Steps 1 and 4 are the extension's bookkeeping and run as the bootstrap
 * superuser (SetUserIdAndSecContext); only step 2 runs as the owner.  The
 * runner tells the coordinator which attempt it holds through its worker
 * slot (pp_worker_set_item, right after the commit that took it, with
 * interrupts held): a runner that dies between 1 and 4 leaves that attempt
 * "running", and the coordinator, seeing the exit, fails it with the
 * worker's last error.
 *
 * While a task runs, pipeline.logical_date() and data_interval_end() return
 * its run's data interval.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/discard.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"
#include "worker/catch.h"

/* What one attempt runs; read by _task_run_start or _task_run_next. */
typedef struct TaskAttempt
{
	int64		task_run_id;
	char		label[NAMEDATALEN]; /* dag.task, for pipeline.workers */
	char	   *command;		/* NULL for a sensor */
	char	   *sensor;
	int64		timeout_ms;		/* 0: none */
	int64		poke_interval_ms;
	int64		elapsed_ms;		/* a sensor: since its first poke */
	int32		pokes;
	TimestampTz logical_date;
	TimestampTz data_interval_end;
} TaskAttempt;

/* How it ended; written by _task_run_finish. */
typedef struct TaskOutcome
{
	const char *status;			/* success, failed or scheduled (next poke) */
	ErrorData  *error;			/* failed: why (SQLSTATE, message, detail...) */
	bool		has_rows;
	uint64		rows;
	int64		next_poke_ms;
} TaskOutcome;

/* the database has pipeline._task_run_next (0.9.0 on) */
static bool has_next_function = false;

/* the data interval of the task this process runs */
static bool in_task = false;
static TimestampTz task_logical_date;
static TimestampTz task_interval_end;

static int64
int8_column(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static TimestampTz
timestamptz_column(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

/*
 * What to run, from the columns of _task_run_start (or those of
 * _task_run_next after its first `skip`): command, sensor, timeout,
 * poke interval, data interval, elapsed, pokes.  The texts are kept in
 * TopMemoryContext, the previous attempt's freed.
 */
static void
read_attempt(HeapTuple tuple, TupleDesc desc, int skip, TaskAttempt *task)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	char	   *command = SPI_getvalue(tuple, desc, skip + 1);
	char	   *sensor = SPI_getvalue(tuple, desc, skip + 2);

	if (task->command)
		pfree(task->command);
	if (task->sensor)
		pfree(task->sensor);
	task->command = command ? pstrdup(command) : NULL;
	task->sensor = sensor ? pstrdup(sensor) : NULL;
	MemoryContextSwitchTo(old);
	task->timeout_ms = int8_column(tuple, desc, skip + 3);
	task->poke_interval_ms = int8_column(tuple, desc, skip + 4);
	task->logical_date = timestamptz_column(tuple, desc, skip + 5);
	task->data_interval_end = timestamptz_column(tuple, desc, skip + 6);
	task->elapsed_ms = int8_column(tuple, desc, skip + 7);
	task->pokes = (int32) int8_column(tuple, desc, skip + 8);
}

/*
 * Mark the attempt started; false when it is not "running" any more (the
 * coordinator gave up on it meanwhile).
 */
static bool
start_attempt(TaskAttempt *task)
{
	PipelineAsRole as;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(task->task_run_id)};
	bool		found = false;

	pp_worker_bookkeeping_begin(&as);
	if (SPI_execute_with_args("SELECT * FROM pipeline._task_run_start($1)",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not start task run " INT64_FORMAT, task->task_run_id);
	if (SPI_processed == 1)
	{
		read_attempt(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 0, task);
		found = true;
	}
	/* not in a database whose extension is older than the library (0.9.0) */
	if (found &&
		SPI_execute("SELECT pg_catalog.to_regprocedure('pipeline._task_run_next(pg_catalog.oid)') IS NOT NULL",
					true, 1) == SPI_OK_SELECT)
	{
		bool		isnull;

		has_next_function = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1, &isnull));
	}
	pp_worker_bookkeeping_end(&as);
	return found;
}

/*
 * Take the next attempt (pipeline._task_run_next) into *task, in the
 * bookkeeping transaction; false when there is none for this runner.
 */
static bool
next_attempt(TaskAttempt *task, Oid role)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(role)};

	if (SPI_execute_with_args("SELECT * FROM pipeline._task_run_next($1)",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not take the next task run");
	if (SPI_processed != 1)
		return false;
	task->task_run_id = int8_column(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	strlcpy(task->label, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
			NAMEDATALEN);
	read_attempt(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, task);
	return true;
}

/*
 * Record the outcome (pipeline._task_run_finish): with the error's five
 * fields, or its message and SQLSTATE alone in a database whose extension
 * is not updated to 0.6.0 yet.  With take_next, in the same transaction,
 * take the next attempt of role into *task; returns whether it did.  What
 * the runner holds from then on goes to its slot right after the commit,
 * interrupts held, so the coordinator always knows which attempt to fail
 * if the runner dies.
 */
static bool
finish_attempt(TaskAttempt *task, TaskOutcome *outcome, bool take_next, Oid role)
{
	bool		next = false;
	PipelineAsRole as;
	Oid			argtypes[4 + PP_ERROR_NFIELDS] = {INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4 + PP_ERROR_NFIELDS];
	char		nulls[4 + PP_ERROR_NFIELDS];
	const char *sql;

	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(task->task_run_id);
	args[1] = CStringGetTextDatum(outcome->status);
	if (outcome->has_rows)
		args[2] = Int64GetDatum((int64) outcome->rows);
	else
		nulls[2] = 'n';
	if (strcmp(outcome->status, "scheduled") == 0)
		args[3] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																  outcome->next_poke_ms));
	else
		nulls[3] = 'n';
	/* $5 .. $9: SQLSTATE, message, detail, hint, context */
	if (outcome->error)
		pp_error_fields(outcome->error, args + 4, nulls + 4);
	else
		memset(nulls + 4, 'n', PP_ERROR_NFIELDS);

	pp_worker_bookkeeping_begin(&as);
	if (pp_catalog_has_column("task_runs", "error_detail"))
		sql = "SELECT pipeline._task_run_finish($1, $2, $6, $5, $3, $4, "
			"err_detail => $7, err_hint => $8, err_context => $9)";
	else
		sql = "SELECT pipeline._task_run_finish($1, $2, $6, $5, $3, $4)";
	if (SPI_execute_with_args(sql, 4 + PP_ERROR_NFIELDS, argtypes, args, nulls,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of task run " INT64_FORMAT,
			 task->task_run_id);
	if (take_next)
		next = next_attempt(task, role);
	HOLD_INTERRUPTS();
	pp_worker_bookkeeping_end(&as);
	pp_worker_set_item(next ? task->task_run_id : -1, next ? task->label : NULL,
					   next && task->timeout_ms > 0 ?
					   TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   task->timeout_ms + PP_TASK_TIMEOUT_GRACE_MS) : 0);
	RESUME_INTERRUPTS();
	return next;
}

/*
 * May this runner take another attempt?  Not past runner_max_tasks, not
 * when asked to stop, not when the coordinator that started it is gone (its
 * successor fails every attempt it finds running at its first pass), not
 * in a database whose extension has no _task_run_next yet.
 */
static bool
may_take_next(int done)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	if (done >= pp_runner_max_tasks || ProcDiePending || !pp_worker_parent_alive())
		return false;
	return has_next_function;
}

/*
 * After each attempt: what the task left in the session goes, as
 * DISCARD ALL does it (a connection pooler's reset between clients):
 * settings (search_path, role, session characteristics, custom variables)
 * back to the role's and database's defaults, temporary objects dropped,
 * prepared statements, cursors, LISTEN, session advisory locks, sequence
 * and plan caches cleared.
 */
static void
reset_session(void)
{
	DiscardStmt stmt;

	memset(&stmt, 0, sizeof(stmt));
	stmt.type = T_DiscardStmt;
	stmt.target = DISCARD_ALL;
	pp_worker_xact_start();
	DiscardCommand(&stmt, true);
	pp_worker_xact_commit();
}

/*
 * Run a command's statements as a client's simple query would: see the
 * file header.  Adds the rows of every statement that reports a count.
 */
static void
execute_top_level(const char *sql, uint64 *rows)
{
	MemoryContext task_context;
	List	   *parsetrees;
	bool		implicit_block;
	bool		xact_started = false;
	ListCell   *lc;

	task_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline task",
										 ALLOCSET_DEFAULT_SIZES);

	pp_worker_xact_start();
	xact_started = true;
	MemoryContextSwitchTo(task_context);
	parsetrees = pg_parse_query(sql);
	implicit_block = list_length(parsetrees) > 1;

	foreach(lc, parsetrees)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);
		CommandTag	tag = CreateCommandTag(raw->stmt);
		MemoryContext statement_context;
		List	   *queries;
		List	   *plans;
		bool		snapshot_set = false;
		Portal		portal;
		DestReceiver *receiver;
		QueryCompletion qc;
		int16		format = 0;

		if (!xact_started)
		{
			pp_worker_xact_start();
			xact_started = true;
		}
		if (implicit_block)
			BeginImplicitTransactionBlock();

		/* planning memory goes with the statement (COMMIT ends the xact's) */
		statement_context = AllocSetContextCreate(task_context, "pg_pipeline statement",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(statement_context);
		if (analyze_requires_snapshot(raw))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			snapshot_set = true;
		}
		queries = pg_analyze_and_rewrite_fixedparams(raw, sql, NULL, 0, NULL);
		plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, NULL);
		if (snapshot_set)
			PopActiveSnapshot();
		CHECK_FOR_INTERRUPTS();

		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql, tag, plans, NULL);
		PortalStart(portal, NULL, 0, InvalidSnapshot);
		PortalSetResultFormat(portal, 1, &format);
		receiver = CreateDestReceiver(DestNone);
		InitializeQueryCompletion(&qc);
		(void) PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, &qc);
		receiver->rDestroy(receiver);
		PortalDrop(portal, false);
		if (command_tag_display_rowcount(qc.commandTag))
			*rows += qc.nprocessed;

		if (lnext(parsetrees, lc) == NULL)
		{
			if (implicit_block)
				EndImplicitTransactionBlock();
			pp_worker_xact_commit();
			xact_started = false;
		}
		else if (IsA(raw->stmt, TransactionStmt))
		{
			pp_worker_xact_commit();
			xact_started = false;
		}
		else
			CommandCounterIncrement();
		MemoryContextSwitchTo(task_context);
		MemoryContextDelete(statement_context);
	}
	if (xact_started)
		pp_worker_xact_commit();	/* an empty command */

	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("the task's command left a transaction block open"),
				 errhint("End the command with COMMIT, or drop its BEGIN.")));
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(task_context);
}

/* One poke of a sensor: does its query return true? */
static bool
poke(const char *sql)
{
	bool		result = false;

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute(sql, false, 1) < 0)
		elog(ERROR, "sensor query failed");
	if (SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts < 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a sensor's query must return a boolean column")));
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		result = !isnull && DatumGetBool(d);
	}
	PopActiveSnapshot();
	SPI_finish();
	pp_worker_xact_commit();
	return result;
}

static char *
interval_text(int64 ms)
{
	if (ms % 1000 == 0)
		return psprintf(INT64_FORMAT " s", ms / 1000);
	return psprintf(INT64_FORMAT " ms", ms);
}

/*
 * Run the attempt; an error becomes a failed outcome, its transaction
 * aborted (STYLE: record the failure in a fresh transaction).
 */
static void
run_attempt(TaskAttempt *task, TaskOutcome *outcome)
{
	MemoryContext context = CurrentMemoryContext;
	TimestampTz started = GetCurrentTimestamp();
	uint64		rows = 0;
	bool		done = false;

	outcome->status = "success";
	in_task = true;
	task_logical_date = task->logical_date;
	task_interval_end = task->data_interval_end;

	PG_TRY();
	{
		if (task->command)
		{
			int64		limit = task->timeout_ms;

			debug_query_string = task->command;
			pgstat_report_activity(STATE_RUNNING, task->command);
			if (limit > 0)
				enable_timeout_after(STATEMENT_TIMEOUT, (int) Min(limit, INT_MAX));
			execute_top_level(task->command, &rows);
			disable_timeout(STATEMENT_TIMEOUT, false);
			outcome->has_rows = true;
			outcome->rows = rows;
		}
		else
		{
			debug_query_string = task->sensor;
			pgstat_report_activity(STATE_RUNNING, task->sensor);
			done = poke(task->sensor);
			if (!done && task->timeout_ms > 0 && task->elapsed_ms >= task->timeout_ms)
			{
				outcome->status = "failed";
				outcome->error = palloc0(sizeof(ErrorData));
				outcome->error->sqlerrcode = ERRCODE_QUERY_CANCELED;
				outcome->error->message = psprintf("sensor timed out after %s (%d pokes)",
												   interval_text(task->timeout_ms), task->pokes);
			}
			else if (!done)
			{
				outcome->status = "scheduled";
				outcome->next_poke_ms = task->poke_interval_ms;
			}
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata = pp_worker_catch(context);

		outcome->status = "failed";
		outcome->error = edata;
		/* the task's own timeout, rather than "canceling statement ..." */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && task->timeout_ms > 0 &&
			TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
									   (int) Min(task->timeout_ms, INT_MAX)))
			edata->message = psprintf("task timed out after %s",
									  interval_text(task->timeout_ms));
	}
	PG_END_TRY();

	in_task = false;
	debug_query_string = NULL;
	pgstat_report_activity(STATE_RUNNING, "recording the task's outcome");
}

/*
 * pp_scheduler_runner_main
 *		Main of a runner worker; called by pp_worker_main once connected as
 *		the task's owner.
 */
void
pp_scheduler_runner_main(PipelineWorkerArgs *args)
{
	RunnerParams params;
	TaskAttempt task;
	Oid			role = GetUserId();
	MemoryContext attempt_context;
	int			done = 0;
	bool		more;

	memcpy(&params, args->params, sizeof(params));
	memset(&task, 0, sizeof(task));
	task.task_run_id = params.task_run_id;

	/* the coordinator alone decides about another attempt */
	pp_worker_set_no_restart();

	if (!start_attempt(&task))
		proc_exit(0);
	attempt_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline attempt",
											ALLOCSET_DEFAULT_SIZES);
	do
	{
		TaskOutcome outcome;

		memset(&outcome, 0, sizeof(outcome));
		MemoryContextSwitchTo(attempt_context);
		run_attempt(&task, &outcome);
		if (strcmp(outcome.status, "failed") == 0)
			ereport(LOG,
					(errmsg("pg_pipeline task run " INT64_FORMAT " failed: %s",
							task.task_run_id, outcome.error->message)));
		/* before the bookkeeping, which the task's settings must not steer */
		reset_session();
		more = finish_attempt(&task, &outcome, may_take_next(++done), role);
		pp_coordinator_wake(MyDatabaseId);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(attempt_context);
	} while (more);
	proc_exit(0);
}

/*
 * pipeline.logical_date(): in a task, the start of its run's data interval.
 */
PG_FUNCTION_INFO_V1(pipeline_logical_date);
Datum
pipeline_logical_date(PG_FUNCTION_ARGS)
{
	if (!in_task)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(task_logical_date);
}

/*
 * pipeline.data_interval_end(): in a task, the end of its run's data
 * interval (exclusive).
 */
PG_FUNCTION_INFO_V1(pipeline_data_interval_end);
Datum
pipeline_data_interval_end(PG_FUNCTION_ARGS)
{
	if (!in_task)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(task_interval_end);
}

static void
check_sql_context(void *arg)
{
	errcontext("in the task's %s", (const char *) arg);
}

/*
 * pipeline._check_sql(sql, what): a syntax error in a task's SQL is
 * reported when the task is written, not when it first runs.
 */
PG_FUNCTION_INFO_V1(pipeline_check_sql);
Datum
pipeline_check_sql(PG_FUNCTION_ARGS)
{
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *what = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ErrorContextCallback callback;
	MemoryContext context = CurrentMemoryContext;
	List	   *volatile parsetrees = NIL;

	callback.callback = check_sql_context;
	callback.arg = what;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	PG_TRY();
	{
		parsetrees = pg_parse_query(sql);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* point into the task's text, not into the statement calling us */
		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->cursorpos > 0 || edata->internalpos > 0)
		{
			/* (SPI's callback may have moved it to internalpos already) */
			edata->internalpos = Max(edata->cursorpos, edata->internalpos);
			edata->internalquery = sql;
			edata->cursorpos = 0;
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
	error_context_stack = callback.previous;

	if (parsetrees == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the task's %s is empty", what)));
	if (strcmp(what, "sensor") == 0 &&
		(list_length(parsetrees) != 1 ||
		 !IsA(linitial_node(RawStmt, parsetrees)->stmt, SelectStmt)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a sensor is one SELECT returning a boolean"),
				 errhint("For example: SELECT count(*) > 0 FROM raw.orders WHERE created_at >= pipeline.logical_date()")));
	PG_RETURN_VOID();
}
