/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The pg_pipeline launcher: one static background worker, connected to
 *	  no database, that keeps one coordinator running in every database
 *	  where the extension is installed.
 *
 * The launcher cannot read pg_extension of other databases, so it learns
 * where the extension lives by probing: it starts a coordinator in every
 * connectable, non-template database (two at a time); a coordinator that
 * finds no extension exits at once and marks its slot "no restart", and the
 * launcher remembers that database as ABSENT.  CREATE EXTENSION wakes the
 * launcher at commit (see hooks.c), which probes that database again, so a
 * new coordinator runs well within a second of the commit, without any
 * polling.
 *
 * Per-database state machine, driven by one switch in launcher_step():
 *
 *	   PROBE ──start──> STARTED ──exit, no_restart──> ABSENT
 *		 ^                 │  ^                         │
 *		 │             exit│  │start when due           │ request
 *		 │                 v  │                         │ (CREATE EXTENSION)
 *		 │               BACKOFF                        │
 *		 └──────────────────────────────────────────────┘
 *
 * A database that pg_pipeline.enabled, pg_pipeline.databases or a pause
 * (DROP DATABASE, ALTER DATABASE ... RENAME/SET TABLESPACE, CREATE DATABASE
 * ... TEMPLATE in progress) rules out has its coordinator stopped and goes
 * back to PROBE when it is wanted again.  A coordinator that exits for any
 * other reason (an error, SIGTERM) is restarted after a delay that doubles
 * at every consecutive failure, from pg_pipeline.restart_delay up to
 * pg_pipeline.max_restart_delay.  A kill -9 makes the postmaster restart
 * everything, this launcher included, which then probes every database.
 *
 * The launcher starts only when recovery has finished, so a standby runs
 * no coordinator until it is promoted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "worker/worker.h"

/* How many databases may be probed at the same time. */
#define MAX_CONCURRENT_PROBES 2

typedef enum CoordinatorState
{
	COORD_PROBE,				/* start one to learn whether it has work */
	COORD_STARTED,				/* registered or running */
	COORD_BACKOFF,				/* exited; restart at next_start */
	COORD_ABSENT				/* the extension is not installed there */
} CoordinatorState;

typedef struct DatabaseEntry
{
	Oid			dboid;			/* hash key */
	char		dbname[NAMEDATALEN];
	CoordinatorState state;
	bool		seen;			/* found by the last pg_database scan */
	int			slot;			/* our worker slot, or -1 */
	BackgroundWorkerHandle *handle;
	int			failures;		/* consecutive failed runs */
	TimestampTz started_at;
	TimestampTz next_start;
} DatabaseEntry;

static HTAB *databases = NULL;
static MemoryContext launcher_context = NULL;

/*
 * pp_launcher_register
 *		Register the launcher with the postmaster.  From _PG_init only.
 */
void
pp_launcher_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	strlcpy(bgw.bgw_library_name, PP_LIBRARY_NAME, BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "pp_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "pg_pipeline launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "pg_pipeline launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/*
 * pp_launcher_request
 *		Ask the launcher to look at a database again (start its coordinator
 *		if it has the extension).  Any backend may call it.
 */
void
pp_launcher_request(Oid dboid)
{
	Latch	   *latch;
	bool		queued = false;

	if (pp_shared == NULL)
		return;

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pp_shared->nrequests; i++)
		if (pp_shared->requests[i] == dboid)
			queued = true;
	if (!queued)
	{
		if (pp_shared->nrequests < PP_MAX_DB_REQUESTS)
			pp_shared->requests[pp_shared->nrequests++] = dboid;
		else
			pp_shared->rescan_all = true;
	}
	latch = pp_shared->launcher_latch;
	LWLockRelease(pp_shared->lock);

	if (latch)
		SetLatch(latch);
}

/*
 * pp_database_paused
 *		Is a statement that needs the database to itself running there?
 */
bool
pp_database_paused(Oid dboid)
{
	bool		paused = false;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int i = 0; i < pp_shared->npaused; i++)
		if (pp_shared->paused[i] == dboid)
			paused = true;
	LWLockRelease(pp_shared->lock);
	return paused;
}

/*
 * pp_database_resume
 *		The statement that paused a database has ended (wake.c, at the end
 *		of its transaction): take it off the paused list.
 */
void
pp_database_resume(Oid dboid)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pp_shared->npaused; i++)
	{
		if (pp_shared->paused[i] == dboid)
		{
			pp_shared->paused[i] = pp_shared->paused[--pp_shared->npaused];
			break;
		}
	}
	LWLockRelease(pp_shared->lock);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	pp_shared->launcher_pid = 0;
	pp_shared->launcher_latch = NULL;
	LWLockRelease(pp_shared->lock);
	ereport(pp_log_level, (errmsg("pg_pipeline launcher stopped")));
}

/*
 * A database's coordinator is gone and will not be restarted (the
 * database was dropped or is not wanted, the extension was dropped): stop
 * the consumers, sinks, maintainer and runners it started and free their
 * slots.  Nobody else would: a coordinator frees its predecessor's workers
 * only when one starts again.  Waits for them (at most 10 s).
 */
static void
stop_database_workers(Oid dboid)
{
	pp_worker_terminate_database(dboid, -1);
}

/*
 * Read pg_database (a shared catalog, readable without a database
 * connection): add databases we have not seen, forget dropped ones.
 */
static void
scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS status;
	DatabaseEntry *entry;

	hash_seq_init(&status, databases);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->seen = false;

	pp_worker_xact_start();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		bool		found;

		if (!db->datallowconn || db->datistemplate || PP_DATABASE_IS_INVALID(db))
			continue;
		entry = hash_search(databases, &db->oid, HASH_ENTER, &found);
		if (!found)
		{
			entry->state = COORD_PROBE;
			entry->slot = -1;
			entry->handle = NULL;
			entry->failures = 0;
			entry->next_start = 0;
		}
		strlcpy(entry->dbname, NameStr(db->datname), NAMEDATALEN);
		entry->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	pp_worker_xact_commit();

	hash_seq_init(&status, databases);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->seen)
			continue;
		/* dropped (or made a template): its coordinator is gone or going */
		if (entry->handle)
			TerminateBackgroundWorker(entry->handle);
		if (entry->slot >= 0)
			pp_worker_release(entry->slot);
		stop_database_workers(entry->dboid);
		hash_search(databases, &entry->dboid, HASH_REMOVE, NULL);
	}
}

/*
 * Take the requests other backends queued.  Returns whether pg_database
 * must be read again.
 */
static bool
take_requests(void)
{
	Oid			requests[PP_MAX_DB_REQUESTS];
	int			n;
	bool		rescan;
	bool		overflow;

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	n = pp_shared->nrequests;
	memcpy(requests, pp_shared->requests, n * sizeof(Oid));
	overflow = pp_shared->rescan_all;
	rescan = overflow || n > 0;
	pp_shared->nrequests = 0;
	pp_shared->rescan_all = false;
	LWLockRelease(pp_shared->lock);

	if (rescan)
		scan_databases();

	if (overflow)
	{
		/* requests were lost: look again at every database we gave up on */
		HASH_SEQ_STATUS status;
		DatabaseEntry *entry;

		hash_seq_init(&status, databases);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry->state == COORD_ABSENT)
				entry->state = COORD_PROBE;
	}

	for (int i = 0; i < n; i++)
	{
		DatabaseEntry *entry = hash_search(databases, &requests[i],
										   HASH_FIND, NULL);

		if (entry == NULL || entry->state == COORD_STARTED)
			continue;
		entry->state = COORD_PROBE;
		entry->failures = 0;
	}
	return rescan;
}

static bool
database_wanted(DatabaseEntry *entry)
{
	return pp_enabled && pp_guc_database_allowed(entry->dbname) &&
		!pp_database_paused(entry->dboid);
}

/*
 * Schedule the next start of a coordinator that failed (to run or to
 * start): the delay doubles at every consecutive failure.  Returns it.
 */
static int
schedule_restart(DatabaseEntry *entry, TimestampTz started_at, TimestampTz now)
{
	entry->next_start = pp_restart_next(&entry->failures, started_at, now);
	entry->state = COORD_BACKOFF;
	return (int) TimestampDifferenceMilliseconds(now, entry->next_start);
}

/* The coordinator of entry has exited (reaped): decide what comes next. */
static void
coordinator_exited(DatabaseEntry *entry, bool no_restart, TimestampTz now)
{
	int			delay_ms;

	if (!database_wanted(entry))
	{
		pp_worker_release(entry->slot);
		entry->slot = -1;
		entry->state = COORD_PROBE;
		stop_database_workers(entry->dboid);
		return;
	}
	if (no_restart)
	{
		pp_worker_release(entry->slot);
		entry->slot = -1;
		entry->state = COORD_ABSENT;
		entry->failures = 0;
		stop_database_workers(entry->dboid);
		return;
	}

	/* a failure: a run longer than the longest delay resets the count */
	delay_ms = schedule_restart(entry, entry->started_at, now);
	pp_worker_backoff(entry->slot);
	ereport(pp_log_level,
			(errmsg("pg_pipeline coordinator for database \"%s\" exited, restarting in %d ms",
					entry->dbname, delay_ms)));
}

static void
start_coordinator(DatabaseEntry *entry, TimestampTz now)
{
	MemoryContext old = MemoryContextSwitchTo(launcher_context);
	int			slot;

	slot = pp_worker_start(PP_WORKER_COORDINATOR, entry->dboid, InvalidOid,
						   entry->dbname, NULL, 0, entry->slot, &entry->handle);
	MemoryContextSwitchTo(old);

	entry->started_at = now;
	if (slot >= 0)
	{
		entry->slot = slot;
		entry->state = COORD_STARTED;
		return;
	}
	/* no slot or no process: try again later, with the usual backoff */
	entry->handle = NULL;
	(void) schedule_restart(entry, 0, now);
}

/*
 * One pass over every database; returns how long the launcher may sleep
 * (-1: until woken).
 */
static long
launcher_step(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake_at = 0;
	HASH_SEQ_STATUS status;
	DatabaseEntry *entry;
	int			probing = 0;

	/* count probes still in flight: started coordinators not yet running */
	hash_seq_init(&status, databases);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->state == COORD_STARTED &&
			pp_worker_slot_state(entry->slot) == PP_SLOT_STARTING)
			probing++;
	}

	hash_seq_init(&status, databases);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bool		wanted = database_wanted(entry);

		switch (entry->state)
		{
			case COORD_STARTED:
				{
					PipelineWorkerExit exit;

					if (pp_worker_reap(&entry->handle, entry->slot, &exit))
					{
						coordinator_exited(entry, exit.no_restart, now);
						if (entry->state == COORD_BACKOFF)
							wake_at = (wake_at == 0 || entry->next_start < wake_at) ?
								entry->next_start : wake_at;
					}
					else if (!wanted)
						TerminateBackgroundWorker(entry->handle);
					break;
				}
			case COORD_PROBE:
				if (wanted && probing < MAX_CONCURRENT_PROBES)
				{
					start_coordinator(entry, now);
					probing++;
				}
				else if (wanted)
					wake_at = TimestampTzPlusMilliseconds(now, 100);
				break;
			case COORD_BACKOFF:
				if (!wanted)
				{
					if (entry->slot >= 0)
						pp_worker_release(entry->slot);
					entry->slot = -1;
					entry->state = COORD_PROBE;
					stop_database_workers(entry->dboid);
				}
				else if (entry->next_start <= now)
					start_coordinator(entry, now);
				else if (wake_at == 0 || entry->next_start < wake_at)
					wake_at = entry->next_start;
				break;
			case COORD_ABSENT:
				break;
		}
	}

	if (wake_at == 0)
		return -1;
	return Max(1, TimestampDifferenceMilliseconds(now, wake_at));
}

/*
 * pp_launcher_main
 *		Entry point of the launcher.
 */
void
pp_launcher_main(Datum main_arg)
{
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_context = AllocSetContextCreate(TopMemoryContext,
											 "pg_pipeline launcher",
											 ALLOCSET_DEFAULT_SIZES);

	/* a predecessor's coordinators cannot be adopted: stop them */
	pp_worker_terminate_database(InvalidOid, -1);

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (pp_shared->launcher_started_at != 0)
		pp_shared->launcher_restarts++;
	pp_shared->launcher_pid = MyProcPid;
	pp_shared->launcher_latch = MyLatch;
	pp_shared->launcher_started_at = GetCurrentTimestamp();
	pp_shared->rescan_all = true;
	LWLockRelease(pp_shared->lock);
	before_shmem_exit(launcher_detach, 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DatabaseEntry);
	ctl.hcxt = launcher_context;
	databases = hash_create("pg_pipeline databases", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ereport(pp_log_level, (errmsg("pg_pipeline launcher started")));

	for (;;)
	{
		long		timeout;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			scan_databases();	/* pg_pipeline.databases may have changed */
		}

		pgstat_report_activity(STATE_RUNNING, "managing coordinators");
		take_requests();
		timeout = launcher_step();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (timeout >= 0)
			events |= WL_TIMEOUT;
		(void) WaitLatch(MyLatch, events, timeout, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
	}
}
