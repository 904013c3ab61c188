/*-------------------------------------------------------------------------
 *
 * catch.c
 *	  Catch and continue: how a worker survives one failed unit of work
 *	  (a task's attempt, one window's maintenance) and goes on with the
 *	  next.
 *
 * Called first thing in PG_CATCH, as autovacuum's do_autovacuum does for a
 * table that failed and TimescaleDB's job worker for a job: with interrupts
 * held, the original error goes to the server log with its context and
 * detail (EmitErrorReport, before anything can replace it, which also
 * leaves its message in the worker's slot for pipeline.workers); a copy of
 * it is kept in the caller's memory context; the timeouts the failed work
 * armed are disarmed, as PostgresMain's error recovery does; the
 * transaction is aborted (which resets the memory of the transaction and
 * of its portals) and the error state flushed.  The caller then records
 * the copy in its status catalog, in a transaction of its own, and goes
 * on:
 *
 *		PG_CATCH();
 *		{
 *			ErrorData  *edata = pp_worker_catch(scratch);
 *
 *			... record edata (pp_error_fields) in a fresh transaction ...
 *			FreeErrorData(edata);
 *		}
 *		PG_END_TRY();
 *
 * Only for workers, at the level of their main loop: never inside a
 * function a session calls, whose transaction is not ours to abort.
 * A worker that cannot go on re-throws instead (STYLE.md 11).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timeout.h"

#include "worker/catch.h"

/*
 * pp_worker_catch
 *		In PG_CATCH of a worker: log the error being handled, abort the
 *		transaction, and return a copy of the error allocated in keep_in
 *		(a context that outlives the transaction), to be stored by the
 *		caller.  Returns in keep_in, out of any transaction.
 */
ErrorData *
pp_worker_catch(MemoryContext keep_in)
{
	ErrorData  *edata;

	HOLD_INTERRUPTS();

	/* a statement timeout that fired must not cancel what comes next */
	disable_all_timeouts(false);
	QueryCancelPending = false;

	/* the original error, with its context, before anything replaces it */
	EmitErrorReport();

	MemoryContextSwitchTo(keep_in);
	edata = CopyErrorData();

	AbortOutOfAnyTransaction();
	FlushErrorState();
	MemoryContextSwitchTo(keep_in);

	RESUME_INTERRUPTS();
	return edata;
}

/*
 * pp_error_fields
 *		The fields a status catalog keeps of an error, as SPI arguments
 *		(text each, 'n' in nulls when absent), in the order of
 *		PP_ERROR_NFIELDS: SQLSTATE, message, detail, hint, context.
 */
void
pp_error_fields(const ErrorData *edata, Datum *values, char *nulls)
{
	const char *fields[PP_ERROR_NFIELDS];

	fields[0] = edata->sqlerrcode != 0 ? unpack_sql_state(edata->sqlerrcode) : NULL;
	fields[1] = edata->message;
	fields[2] = edata->detail;
	fields[3] = edata->hint;
	fields[4] = edata->context;
	for (int i = 0; i < PP_ERROR_NFIELDS; i++)
	{
		nulls[i] = fields[i] ? ' ' : 'n';
		values[i] = fields[i] ? CStringGetTextDatum(fields[i]) : (Datum) 0;
	}
}
