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
 * pp_coordinator_wake_at_commit(), so it never polls; pg_pipeline.naptime
 * is only a safety net.  At every wake-up it runs one short transaction:
 * it checks the extension is still there (DROP EXTENSION ends it) and, as
 * the subsystems land, starts and supervises their workers through the
 * dynamic worker API of worker.c.
 *
 * Signals: SIGTERM ends it (die(), so even a long catalog query is
 * interrupted); SIGHUP reloads the configuration at the next wake-up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "common/pipeline.h"

static bool wake_pending = false;
static bool xact_callback_registered = false;

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

		pgstat_report_activity(STATE_RUNNING, "supervising workers");
		due = pp_kafka_supervise();
		if (due >= 0)
			timeout = Min(timeout, due);
		pgstat_report_activity(STATE_RUNNING, "scheduling");
		due = pp_scheduler_pass();
		if (due >= 0)
			timeout = Min(timeout, due);
		pgstat_report_activity(STATE_IDLE, NULL);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
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
 *		launcher to start one.
 */
void
pp_coordinator_wake(Oid dboid)
{
	if (pp_shared == NULL)
		return;
	if (!pp_worker_wake(PP_WORKER_COORDINATOR, dboid))
		pp_launcher_request(dboid);
}

static void
wake_at_commit_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
				pp_coordinator_wake(MyDatabaseId);
			wake_pending = false;
			break;
		case XACT_EVENT_PREPARE:
			/* nothing is visible yet: COMMIT PREPARED wakes (hooks.c) */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			break;
		default:
			break;
	}
}

/*
 * pp_coordinator_wake_at_commit
 *		Wake this database's coordinator when the current transaction
 *		commits, so it sees the catalog change it made.  Nothing happens if
 *		the transaction aborts.
 */
void
pp_coordinator_wake_at_commit(void)
{
	if (pp_shared == NULL)
		return;
	/* the coordinator's own writes (the scheduler's) are acted on already */
	if (MyPipelineWorker != NULL && MyPipelineWorker->kind == PP_WORKER_COORDINATOR)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_at_commit_callback, NULL);
		xact_callback_registered = true;
	}
	wake_pending = true;
}
