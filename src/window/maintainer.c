/*-------------------------------------------------------------------------
 *
 * maintainer.c
 *	  The maintainer worker: merges the delta of async window aggregates,
 *	  folds the partials of append ones, and sweeps every window aggregate.
 *
 * One per database, started by the coordinator while the database has a
 * window aggregate.  Writers append their rows to the window's delta
 * table and, at commit, set this worker's latch; it then waits until
 * pg_pipeline.window_delay has passed since its previous pass (so bursts
 * of small commits are merged together) and drains every async window (and
 * folds every append window's partials), each in its own transaction, as
 * the window's owner.  A window that fails
 * records its error in pipeline.windows (window_status shows it) and is
 * tried again at the next pass; the others go on.  Every second, woken or
 * not, it sweeps every window (pp_window_sweep): it closes the windows the
 * watermark passed whose rows writers found locked, folds the progress
 * rows, and catches a wake-up that a lock wait consumed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/compat.h"
#include "common/pipeline.h"
#include "window/window.h"
#include "worker/catch.h"
#include "worker/worker.h"

int			pp_window_delay_ms = 200;
int			pp_window_fold_interval_ms = 1000;
bool		pp_window_in_maintainer = false;	/* this process is the maintainer */

#define SWEEP_INTERVAL_MS	1000
int			pp_window_work_mem_kb = 65536;

/*
 * pp_window_wanted
 *		The window area's wanted worker, for the coordinator's supervision
 *		pass: one maintainer while pipeline.windows has a row, as the
 *		bootstrap superuser (it merges each window as the window's owner).
 *		In the caller's transaction, connected to SPI.
 */
void
pp_window_wanted(PipelineSupervisor *sup)
{
	Oid			nsp = get_namespace_oid("pipeline", true);
	bool		isnull;

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("windows", nsp)))
		return;					/* not updated to 0.3.0 yet */
	if (SPI_execute("SELECT EXISTS (SELECT FROM pipeline.windows)", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.windows");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		pp_supervisor_want(sup, PP_WORKER_MAINTAINER, "windows", 0,
						   BOOTSTRAP_SUPERUSERID, NULL, 0);
}

/* The windows of this database, in a fresh transaction. */
static List *
all_windows(void)
{
	List	   *ids = NIL;
	MemoryContext caller = CurrentMemoryContext;

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT id FROM pipeline.windows ORDER BY id", true, 0) == SPI_OK_SELECT)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			ids = lappend_int(ids, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
															   SPI_tuptable->tupdesc, 1, &isnull)));
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	MemoryContextSwitchTo(caller);
	ids = list_copy(ids);		/* out of the transaction's memory */
	pp_worker_xact_commit();
	MemoryContextSwitchTo(caller);
	return ids;
}

/*
 * Record a window's failure where users look (window_status), in a
 * transaction of its own: the error's SQLSTATE, message, detail, hint and
 * context (the message alone in a database whose extension is not
 * updated to 0.6.0 yet).
 */
static void
record_failure(int32 id, ErrorData *edata)
{
	Oid			argtypes[1 + PP_ERROR_NFIELDS] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[1 + PP_ERROR_NFIELDS];
	char		nulls[1 + PP_ERROR_NFIELDS];

	values[0] = Int32GetDatum(id);
	nulls[0] = ' ';
	pp_error_fields(edata, values + 1, nulls + 1);

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (pp_catalog_has_column("windows", "last_error_detail"))
		SPI_execute_with_args("UPDATE pipeline.windows SET last_error_at = now(), "
							  "last_error_sqlstate = $2, last_error = $3, last_error_detail = $4, "
							  "last_error_hint = $5, last_error_context = $6 WHERE id = $1",
							  1 + PP_ERROR_NFIELDS, argtypes, values, nulls, false, 0);
	else
		SPI_execute_with_args("UPDATE pipeline.windows SET last_error = $3, last_error_at = now() "
							  "WHERE id = $1", 3, argtypes, values, nulls, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
}

/*
 * When this maintainer last folded each append window (its id), so that it
 * folds one at most once per pg_pipeline.window_fold_interval: a fold
 * rewrites the state rows of every group with partials (count(DISTINCT)
 * sets whole, out of line), which at every window_delay under a steady
 * stream of writers cost more than the writers' own appending.
 */
typedef struct FoldTime
{
	int32		id;
	TimestampTz at;
} FoldTime;

static FoldTime *fold_times = NULL;
static int	nfold_times = 0;

/* id's entry, or NULL: a window never folded here (or not an append one) */
static FoldTime *
find_fold_time(int32 id)
{
	for (int i = 0; i < nfold_times; i++)
		if (fold_times[i].id == id)
			return &fold_times[i];
	return NULL;
}

static void
note_fold_time(int32 id, TimestampTz at)
{
	FoldTime   *ft = find_fold_time(id);

	if (ft == NULL)
	{
		fold_times = fold_times ?
			repalloc(fold_times, sizeof(FoldTime) * (nfold_times + 1)) :
			MemoryContextAlloc(TopMemoryContext, sizeof(FoldTime));
		ft = &fold_times[nfold_times++];
		ft->id = id;
	}
	ft->at = at;
}

/* Drain one window; on error record it and go on.  Returns rows merged. */
static uint64
drain_one(int32 id, MemoryContext scratch)
{
	volatile uint64 merged = 0;
	MemoryContext old = CurrentMemoryContext;
	FoldTime   *ft = find_fold_time(id);

	/* an append window folded lately: at a later pass, without a transaction */
	if (ft && !TimestampDifferenceExceeds(ft->at, GetCurrentTimestamp(), pp_window_fold_interval_ms))
		return 0;

	PG_TRY();
	{
		PipelineWindow *def;
		PipelineAsRole as;

		pp_worker_xact_start();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		def = pp_window_load(id, true);
		if (def)
		{
			if (def->append)
				note_fold_time(id, GetCurrentTimestamp());
			pgstat_report_activity(STATE_RUNNING, psprintf("maintaining %s", def->name));
			pp_window_as_owner(def, &as);
			merged = pp_window_sweep(def);
			pp_as_role_end(&as);
		}
		SPI_finish();
		PopActiveSnapshot();
		pp_worker_xact_commit();
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		ErrorData  *edata = pp_worker_catch(scratch);

		record_failure(id, edata);
		ereport(LOG,
				(errmsg("pg_pipeline maintainer: window aggregate %d failed: %s", id, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return merged;
}

void
pp_window_maintainer_main(PipelineWorkerArgs *args)
{
	MemoryContext scratch = AllocSetContextCreate(TopMemoryContext, "pg_pipeline maintainer pass",
												  ALLOCSET_DEFAULT_SIZES);
	TimestampTz last_pass = 0;

	pp_window_in_maintainer = true;
	pp_worker_announce("async window aggregates");
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		since = TimestampDifferenceMilliseconds(last_pass, now);
		List	   *ids;
		ListCell   *lc;
		uint64		merged = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* batch: at most one pass per window_delay */
		if (last_pass != 0 && since < pp_window_delay_ms)
		{
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 pp_window_delay_ms - since, PP_WAIT_EVENT);
			CHECK_FOR_INTERRUPTS();
		}
		last_pass = GetCurrentTimestamp();
		MemoryContextReset(scratch);
		MemoryContextSwitchTo(scratch);

		ids = all_windows();
		if (ids == NIL)
		{
			pp_worker_set_no_restart();
			break;				/* no window left: the coordinator knows */
		}
		foreach(lc, ids)
			merged += drain_one(lfirst_int(lc), scratch);
		if (merged > 0)
			pp_worker_report_progress(merged, 0, last_pass);
		pgstat_report_activity(STATE_IDLE, NULL);

		/*
		 * Merged something: go again (after window_delay), since a wake-up
		 * that came while this pass waited on a lock was consumed by that
		 * wait.  Otherwise sleep until woken, at most a second: the sweep
		 * closes the windows writers skipped, and catches such a lost
		 * wake-up too.
		 */
		if (merged > 0)
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(pp_naptime_ms, SWEEP_INTERVAL_MS), PP_WAIT_EVENT);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
