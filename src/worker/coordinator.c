/*-------------------------------------------------------------------------
 *
 * coordinator.c
 *	  The per-database coordinator: the one long-lived worker of each
 *	  database where pg_pipeline is installed.
 *
 * The launcher starts it; it first checks that the extension is installed
 * in its database and exits at once, marked "no restart", when it is not
 * (that is how the launcher learns where the extension lives).  Then it
 * sleeps on its latch.  Catalog changes wake it at commit through
 * pp_wake_at_commit() (wake.c), so it never polls; pg_pipeline.naptime
 * is only a safety net.  At every wake-up it checks the extension is
 * still there (DROP EXTENSION ends it), asks each subsystem which workers
 * it wants (Kafka: consumers and sinks; windows: the maintainer; models:
 * the runners of pipeline.start_run invocations) and lets
 * the one reconcile routine (supervise.c) run exactly those, then runs a
 * pass of the scheduler, which starts its runners itself.
 *
 * Wake-ups that come less than PP_MIN_PASS_INTERVAL_MS after the end of
 * a pass wait for the rest of that interval (never past the next due
 * instant), so that a burst of commits or of runners' ends (hundreds a
 * second) costs one pass per interval instead of one pass each: every pass
 * is three transactions and a tick that looks at every running DAG run.
 *
 * Signals: SIGTERM ends it (die(), so even a long catalog query is
 * interrupted); SIGHUP reloads the configuration at the next wake-up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "worker/worker.h"

static PipelineSupervisor *supervisor = NULL;

/* wake-ups within this long after a pass are taken together (file header) */
#define PP_MIN_PASS_INTERVAL_MS	20

/* Is the extension installed in this database?  Opens a transaction. */
static bool
extension_installed(void)
{
	bool		installed;

	pp_worker_xact_start();
	installed = OidIsValid(get_extension_oid(PP_EXTENSION_NAME, true));
	pp_worker_xact_commit();
	return installed;
}

/*
 * One supervision pass: every subsystem names the workers it wants, in one
 * short transaction that holds the extension (a DROP EXTENSION waits for
 * it, and a pass after the drop wants nothing), then the one reconcile
 * routine makes it so.  Returns the milliseconds until a restart is due,
 * or -1.
 */
static long
supervise(void)
{
	if (supervisor == NULL)
		supervisor = pp_supervisor_create("pg_pipeline workers");
	pp_supervisor_begin(supervisor);

	pp_worker_xact_start();
	if (pp_lock_extension())
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pp_kafka_wanted(supervisor);	/* consumers, sinks */
		pp_window_wanted(supervisor); /* the maintainer */
		pp_model_wanted(supervisor);	/* model runners */
		PopActiveSnapshot();
		SPI_finish();
	}
	pp_worker_xact_commit();
	return pp_supervisor_reconcile(supervisor);
}

/*
 * pp_coordinator_main
 *		Main loop of the coordinator; called by pp_worker_main once connected.
 */
void
pp_coordinator_main(PipelineWorkerArgs *args)
{
	char	   *dbname;

	if (!pp_enabled || pp_database_paused(MyDatabaseId))
		proc_exit(0);			/* the launcher sees it is not wanted */

	if (!extension_installed())
	{
		pp_worker_set_no_restart();
		proc_exit(0);
	}

	pp_worker_xact_start();
	dbname = MemoryContextStrdup(TopMemoryContext,
								 get_database_name(MyDatabaseId));
	pp_worker_xact_commit();
	pp_worker_announce(psprintf("database \"%s\"", dbname));

	/* workers of a predecessor cannot be adopted: stop them */
	pp_worker_terminate_database(MyDatabaseId, MyPipelineWorker->slot);

	for (;;)
	{
		long		timeout = pp_naptime_ms;
		long		due;
		long		since;
		TimestampTz pass_end;
		int			rc;

		pgstat_report_activity(STATE_RUNNING, "supervising workers");
		due = supervise();
		if (due >= 0)
			timeout = Min(timeout, due);
		pgstat_report_activity(STATE_RUNNING, "scheduling");
		due = pp_scheduler_pass();
		if (due >= 0)
			timeout = Min(timeout, due);
		pgstat_report_activity(STATE_IDLE, NULL);
		pass_end = GetCurrentTimestamp();

		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   timeout, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
		if (rc & WL_LATCH_SET)
		{
			since = TimestampDifferenceMilliseconds(pass_end, GetCurrentTimestamp());
			if (since < Min(PP_MIN_PASS_INTERVAL_MS, timeout))
				(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 Min(PP_MIN_PASS_INTERVAL_MS, timeout) - since,
								 PP_WAIT_EVENT);
		}
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!pp_enabled || pp_database_paused(MyDatabaseId))
			break;

		pgstat_report_activity(STATE_RUNNING, "reading pipeline catalogs");
		if (!extension_installed())
		{
			ereport(pp_log_level,
					(errmsg("pg_pipeline was dropped from database \"%s\"",
							dbname)));
			pp_worker_set_no_restart();
			break;
		}
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	proc_exit(0);
}

/*
 * pp_lock_extension
 *		In a transaction: is the extension installed?  Takes a share lock on
 *		it first, so a DROP EXTENSION waits for the caller's (short)
 *		transaction instead of dropping the catalogs under it.
 */
bool
pp_lock_extension(void)
{
	Oid			extoid = get_extension_oid(PP_EXTENSION_NAME, true);

	if (!OidIsValid(extoid))
		return false;
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	return OidIsValid(get_extension_oid(PP_EXTENSION_NAME, true));	/* not dropped while we waited */
}

/*
 * pp_coordinator_wake
 *		Set the latch of a database's coordinator; when it has none, ask the
 *		launcher to start one.  (pp_wake, for the coordinator.)
 */
void
pp_coordinator_wake(Oid dboid)
{
	pp_wake(PP_WORKER_COORDINATOR, dboid);
}
