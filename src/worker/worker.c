/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The dynamic worker API: start a worker of a given kind for a given
 *	  database and role, with parameters, and keep its slot.
 *
 * A parent (the launcher for coordinators, a coordinator for everything
 * else) calls pp_worker_start(), which claims a PipelineWorkerSlot, puts
 * the slot number, its generation and the parameters into bgw_extra and
 * registers a BGW_NEVER_RESTART dynamic worker whose bgw_notify_pid is the
 * parent: the postmaster then sets the parent's latch when the worker
 * starts and when it exits, and the parent reads the exit from its
 * BackgroundWorkerHandle.  The parent alone decides whether and when to
 * restart (pp_worker_backoff keeps the slot, pp_worker_release frees it).
 *
 * Every worker starts in pp_worker_main(), which attaches to its slot,
 * installs the signal handlers, connects to the database as the role and
 * calls the main function of its kind's row in pp_worker_kinds (kinds.c).  An emit_log_hook copies every
 * ERROR or FATAL the worker raises into its slot, so the last error of a
 * worker that died stays visible in pipeline.workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

PipelineWorkerArgs *MyPipelineWorker = NULL;

static PipelineWorkerArgs my_args;
static bool announced = false;
static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * pp_worker_start
 *		Start a dynamic worker; returns its slot number, or -1 (after a
 *		WARNING) when no slot or no background worker process is free.
 *
 * reuse_slot is the slot of a worker being restarted (its restart count
 * and last error are kept), or -1 to claim a free one.  The handle is
 * allocated in CurrentMemoryContext, which must outlive the worker.
 */
/*
 * A worker that could not start its child says so where users look: its
 * own last_error in pipeline.workers (the coordinator's row, which every
 * role sees: the kind only, never another role's object), not only in the
 * server log.  The launcher has no slot of its own: its WARNING is it.
 */
static void
start_failed(const char *message)
{
	if (MyPipelineWorker != NULL)
		pp_worker_record_error(MyPipelineWorker->slot, message);
}

int
pp_worker_start(PipelineWorkerKind kind, Oid dboid, Oid roleoid,
				const char *label, const void *params, Size params_len,
				int reuse_slot, BackgroundWorkerHandle **handle)
{
	BackgroundWorker bgw;
	PipelineWorkerArgs args;
	PipelineWorkerSlot *slot = NULL;
	int			slotno = reuse_slot;

	pp_shmem_require();
	if (kind <= PP_WORKER_LAUNCHER || kind >= PP_WORKER_NKINDS ||
		pp_worker_kind_info(kind)->main == NULL)
		elog(ERROR, "pg_pipeline worker kind %d has no main function", kind);
	if (params_len > PP_MAX_PARAMS_LEN)
		elog(ERROR, "worker parameters of %zu bytes exceed %d",
			 params_len, PP_MAX_PARAMS_LEN);

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (slotno < 0)
	{
		for (int i = 0; i < pp_shared->nslots; i++)
		{
			if (pp_shared->slots[i].state == PP_SLOT_FREE)
			{
				slotno = i;
				break;
			}
		}
		if (slotno < 0)
		{
			LWLockRelease(pp_shared->lock);
			start_failed(psprintf("no free pg_pipeline worker slot for a %s (all %d in use): "
								  "raise pg_pipeline.max_workers",
								  pp_worker_kind_name(kind), pp_shared->nslots));
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("no free pg_pipeline worker slot for a %s",
							pp_worker_kind_name(kind)),
					 errhint("Raise pg_pipeline.max_workers.")));
			return -1;
		}
		slot = &pp_shared->slots[slotno];
		slot->restarts = 0;
		slot->last_error[0] = '\0';
		slot->last_error_at = 0;
	}
	slot = &pp_shared->slots[slotno];
	slot->state = PP_SLOT_STARTING;
	slot->kind = kind;
	slot->generation++;
	slot->dboid = dboid;
	slot->roleoid = roleoid;
	slot->pid = 0;
	slot->latch = NULL;
	slot->no_restart = false;
	slot->started_at = 0;
	slot->stopped_at = 0;
	slot->item = 0;
	slot->item_deadline = 0;
	strlcpy(slot->label, label ? label : "", NAMEDATALEN);
	slot->items = 0;
	slot->bytes = 0;
	slot->last_batch_at = 0;
	slot->items_per_sec = 0;
	slot->bytes_per_sec = 0;

	memset(&args, 0, sizeof(args));
	args.slot = slotno;
	args.generation = slot->generation;
	args.dboid = dboid;
	args.roleoid = roleoid;
	args.kind = kind;
	args.params_len = params_len;
	if (params_len > 0)
		memcpy(args.params, params, params_len);
	LWLockRelease(pp_shared->lock);

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	bgw.bgw_notify_pid = MyProcPid;
	strlcpy(bgw.bgw_library_name, PP_LIBRARY_NAME, BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "pp_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_pipeline %s",
			 pp_worker_kind_name(kind));
	if (label && label[0] && kind != PP_WORKER_COORDINATOR)
		snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_pipeline %s \"%s\"",
				 pp_worker_kind_name(kind), label);
	else
		snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_pipeline %s for database \"%s\"",
				 pp_worker_kind_name(kind), label ? label : "");
	memcpy(bgw.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&bgw, handle))
	{
		LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
		slot->state = reuse_slot >= 0 ? PP_SLOT_BACKOFF : PP_SLOT_FREE;
		LWLockRelease(pp_shared->lock);
		start_failed(psprintf("could not start a pg_pipeline %s: all background worker slots "
							  "are in use: raise max_worker_processes",
							  pp_worker_kind_name(kind)));
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a pg_pipeline %s",
						pp_worker_kind_name(kind)),
				 errdetail("All background worker slots are in use."),
				 errhint("Raise max_worker_processes.")));
		return -1;
	}
	return slotno;
}

/*
 * pp_restart_delay
 *		How long a parent waits before the nth consecutive restart of a
 *		failed worker: pg_pipeline.restart_delay, doubled at every failure,
 *		at most pg_pipeline.max_restart_delay.
 */
int
pp_restart_delay(int failures)
{
	int			delay_ms = pp_restart_delay_ms;

	for (int i = 1; i < failures && delay_ms < pp_max_restart_delay_ms; i++)
		delay_ms *= 2;
	return Min(delay_ms, pp_max_restart_delay_ms);
}

/*
 * pp_restart_next
 *		When to start again a worker that failed: to run (started_at, when
 *		its start was asked) or to start (started_at 0).  Counts the failure
 *		in *failures; a run longer than the longest delay starts the count
 *		again, so a worker that fails once a day waits restart_delay, not a
 *		delay earned days ago.
 */
TimestampTz
pp_restart_next(int *failures, TimestampTz started_at, TimestampTz now)
{
	if (started_at != 0 &&
		TimestampDifferenceExceeds(started_at, now, pp_max_restart_delay_ms))
		*failures = 0;
	return TimestampTzPlusMilliseconds(now, pp_restart_delay(++(*failures)));
}

/*
 * pp_worker_reap
 *		Has the worker started with *handle (in slot) exited?  If so, frees
 *		the handle, sets *handle to NULL and fills *exit from its slot; the
 *		slot itself stays as it is, for the caller to release or back off.
 *		With exit NULL, only says whether it runs.
 */
bool
pp_worker_reap(BackgroundWorkerHandle **handle, int slotno, PipelineWorkerExit *exit)
{
	PipelineWorkerSlot *slot = &pp_shared->slots[slotno];
	pid_t		pid;

	if (GetBackgroundWorkerPid(*handle, &pid) != BGWH_STOPPED)
		return false;
	if (exit == NULL)
		return true;
	LWLockAcquire(pp_shared->lock, LW_SHARED);
	exit->no_restart = slot->no_restart;
	LWLockRelease(pp_shared->lock);
	SpinLockAcquire(&slot->error_mutex);
	strlcpy(exit->last_error, slot->last_error, sizeof(exit->last_error));
	SpinLockRelease(&slot->error_mutex);
	pfree(*handle);
	*handle = NULL;
	return true;
}

/* pp_worker_slot_state: the state of a slot, as pipeline.workers shows it. */
PipelineWorkerState
pp_worker_slot_state(int slotno)
{
	PipelineWorkerState state;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	state = pp_shared->slots[slotno].state;
	LWLockRelease(pp_shared->lock);
	return state;
}

/* pp_worker_slot_set_latch: wake the process in a slot, if any. */
void
pp_worker_slot_set_latch(int slotno)
{
	Latch	   *latch;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	latch = pp_shared->slots[slotno].latch;
	LWLockRelease(pp_shared->lock);
	if (latch)
		SetLatch(latch);
}

/*
 * pp_worker_slot_wakes: how often pp_worker_wake() asked the worker in a
 * slot to look again; a changed count means "something happened".
 */
uint32
pp_worker_slot_wakes(int slotno)
{
	uint32		wakes;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	wakes = pp_shared->slots[slotno].wakes;
	LWLockRelease(pp_shared->lock);
	return wakes;
}

/*
 * pp_worker_release
 *		Free the slot of a worker that exited and will not be restarted.
 */
void
pp_worker_release(int slotno)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	pp_shared->slots[slotno].state = PP_SLOT_FREE;
	pp_shared->slots[slotno].generation++;	/* a late exit must not re-take it */
	pp_shared->slots[slotno].pid = 0;
	pp_shared->slots[slotno].latch = NULL;
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_backoff
 *		Keep the slot of a worker that exited and will be restarted; it shows
 *		as "restarting" with its last error meanwhile.
 */
void
pp_worker_backoff(int slotno)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	pp_shared->slots[slotno].state = PP_SLOT_BACKOFF;
	pp_shared->slots[slotno].restarts++;
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_signal_database
 *		Send a signal to every pg_pipeline worker connected to a database.
 */
void
pp_worker_signal_database(Oid dboid, int signo)
{
	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int i = 0; i < pp_shared->nslots; i++)
	{
		PipelineWorkerSlot *slot = &pp_shared->slots[i];

		if (slot->dboid == dboid && slot->pid != 0)
			kill(slot->pid, signo);
	}
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_terminate_database
 *		Stop the workers a predecessor left behind and free their slots:
 *		every worker of dboid but except_slot (InvalidOid: of every
 *		database).  A new launcher or coordinator calls it, since it holds
 *		no handle for them and cannot adopt them.  Waits up to 10 seconds.
 */
void
pp_worker_terminate_database(Oid dboid, int except_slot)
{
#define MATCHES(i) ((i) != except_slot && \
					(!OidIsValid(dboid) || pp_shared->slots[i].dboid == dboid))
	for (int waited_ms = 0;; waited_ms += 10)
	{
		int			alive = 0;

		LWLockAcquire(pp_shared->lock, LW_SHARED);
		for (int i = 0; i < pp_shared->nslots; i++)
		{
			if (MATCHES(i) && pp_shared->slots[i].pid != 0)
			{
				alive++;
				if (waited_ms == 0)
					kill(pp_shared->slots[i].pid, SIGTERM);
			}
		}
		LWLockRelease(pp_shared->lock);
		if (alive == 0 || waited_ms >= 10000)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pp_shared->nslots; i++)
	{
		if (!MATCHES(i) || pp_shared->slots[i].state == PP_SLOT_FREE)
			continue;
		pp_shared->slots[i].state = PP_SLOT_FREE;
		pp_shared->slots[i].generation++;
		pp_shared->slots[i].pid = 0;
		pp_shared->slots[i].latch = NULL;
	}
	LWLockRelease(pp_shared->lock);
#undef MATCHES
}

/*
 * pp_worker_set_no_restart
 *		Called by a worker that exits on purpose (nothing to do): its parent
 *		must not restart it.
 */
void
pp_worker_set_no_restart(void)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (pp_shared->slots[my_args.slot].generation == my_args.generation)
		pp_shared->slots[my_args.slot].no_restart = true;
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_set_item
 *		A worker that takes one unit of work after another says which it
 *		holds now (-1: none), what pipeline.workers shows as its label, and
 *		when its parent must stop it (0: never).  The parent reads it with
 *		pp_worker_slot_item, also after the worker exited.
 */
void
pp_worker_set_item(int64 item, const char *label, TimestampTz deadline)
{
	PipelineWorkerSlot *slot = &pp_shared->slots[my_args.slot];

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (slot->generation == my_args.generation)
	{
		slot->item = item;
		slot->item_deadline = deadline;
		if (label)
			strlcpy(slot->label, label, NAMEDATALEN);
	}
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_slot_item
 *		What the worker in a slot holds (pp_worker_set_item): 0 the unit it
 *		was started for, -1 none, else its id; *deadline when to stop it.
 */
int64
pp_worker_slot_item(int slotno, TimestampTz *deadline)
{
	int64		item;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	item = pp_shared->slots[slotno].item;
	*deadline = pp_shared->slots[slotno].item_deadline;
	LWLockRelease(pp_shared->lock);
	return item;
}

/*
 * pp_worker_parent_alive
 *		Does the worker that started this one (bgw_notify_pid: a worker of
 *		its kind's parent kind, in this database) still run?  A worker that
 *		would take more work on its own stops when it does not: a new parent
 *		may already have decided about that work.
 */
bool
pp_worker_parent_alive(void)
{
	PipelineWorkerKind parent = pp_worker_kind_info(my_args.kind)->parent;
	pid_t		pid = MyBgworkerEntry->bgw_notify_pid;
	bool		alive = false;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int i = 0; i < pp_shared->nslots && !alive; i++)
	{
		PipelineWorkerSlot *slot = &pp_shared->slots[i];

		alive = slot->kind == parent && slot->dboid == MyDatabaseId &&
			slot->state == PP_SLOT_RUNNING && slot->pid == pid;
	}
	LWLockRelease(pp_shared->lock);
	return alive;
}

/*
 * pp_worker_record_error
 *		Keep a worker's last error in its slot.  Runs inside error reporting,
 *		so it takes only the slot's spinlock.
 */
void
pp_worker_record_error(int slotno, const char *message)
{
	PipelineWorkerSlot *slot = &pp_shared->slots[slotno];
	TimestampTz now = GetCurrentTimestamp();
	int			len;

	if (message == NULL)
		message = "";
	/* cut at a character boundary: the view must show valid text */
	len = pg_mbcliplen(message, strlen(message), PP_MAX_ERROR_LEN - 1);

	SpinLockAcquire(&slot->error_mutex);
	memcpy(slot->last_error, message, len);
	slot->last_error[len] = '\0';
	slot->last_error_at = now;
	SpinLockRelease(&slot->error_mutex);
}

/*
 * pp_worker_wake
 *		Set the latch of the running worker of this kind in a database (the
 *		first found).  Returns false when there is none.  Takes the lock.
 */
bool
pp_worker_wake(PipelineWorkerKind kind, Oid dboid)
{
	Latch	   *latch = NULL;

	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int i = 0; i < pp_shared->nslots && latch == NULL; i++)
	{
		PipelineWorkerSlot *slot = &pp_shared->slots[i];

		if (slot->kind == kind && slot->dboid == dboid &&
			slot->state == PP_SLOT_RUNNING && slot->latch != NULL)
		{
			latch = slot->latch;
			slot->wakes++;		/* a torn read only causes an extra pass */
		}
	}
	LWLockRelease(pp_shared->lock);
	if (latch)
		SetLatch(latch);
	return latch != NULL;
}

/*
 * pp_worker_report_progress
 *		A worker reports a finished batch: its counts and when it began.
 *		Rates are moving averages, so pipeline.workers shows current speed.
 */
void
pp_worker_report_progress(uint64 items, uint64 bytes, TimestampTz batch_start)
{
	PipelineWorkerSlot *slot = &pp_shared->slots[my_args.slot];
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz since = slot->last_batch_at ? slot->last_batch_at : batch_start;
	double		secs = Max((double) (now - since) / USECS_PER_SEC, 0.001);
	double		weight = Min(secs / 5.0, 1.0);	/* about a 5 s window */

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	slot->items += items;
	slot->bytes += bytes;
	slot->items_per_sec = weight * (items / secs) + (1 - weight) * slot->items_per_sec;
	slot->bytes_per_sec = weight * (bytes / secs) + (1 - weight) * slot->bytes_per_sec;
	slot->last_batch_at = now;
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_announce
 *		Log the worker's one start line (its stop line follows at exit).
 *		Workers that exit at once because they have nothing to do stay quiet.
 */
void
pp_worker_announce(const char *what)
{
	announced = true;
	ereport(pp_log_level,
			(errmsg("pg_pipeline %s started for %s",
					pp_worker_kind_name(my_args.kind), what)));
}

static void
record_error_hook(ErrorData *edata)
{
	if (edata->elevel >= ERROR && MyPipelineWorker != NULL)
		pp_worker_record_error(MyPipelineWorker->slot, edata->message);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* before_shmem_exit callback: leave the slot, keep what it shows. */
static void
detach_slot(int code, Datum arg)
{
	PipelineWorkerSlot *slot = &pp_shared->slots[my_args.slot];

	if (announced)
		ereport(pp_log_level,
				(errmsg("pg_pipeline %s stopped",
						pp_worker_kind_name(my_args.kind))));

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (slot->generation == my_args.generation)
	{
		slot->pid = 0;
		slot->latch = NULL;
		slot->state = PP_SLOT_STOPPED;
		slot->stopped_at = GetCurrentTimestamp();
	}
	LWLockRelease(pp_shared->lock);
}

/*
 * pp_worker_xact_start / pp_worker_xact_commit
 *		Every worker's transactions, the worker_spi way (STYLE.md 18): a new
 *		statement start time first (else now() and every timestamp the pass
 *		writes stay at the worker's start), and after the commit the
 *		statistics of what it wrote (else autovacuum and autoanalyze never
 *		see a table that only workers write).  pgstat_report_stat limits
 *		itself to one flush a second.
 *
 *		In a database, each transaction first takes a share lock on the
 *		extension (pp_lock_extension): DROP EXTENSION locks the extension
 *		before any of its tables, so it waits for the workers' transactions
 *		in flight and new ones wait for it, instead of a worker holding a
 *		table the drop needs while waiting for a catalog the drop holds (a
 *		deadlock, seen in t/046 under load).
 */
void
pp_worker_xact_start(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (OidIsValid(MyDatabaseId))
		(void) pp_lock_extension();
}

void
pp_worker_xact_commit(void)
{
	CommitTransactionCommand();
	if (!IsTransactionOrTransactionBlock())
		pgstat_report_stat(false);
}

/*
 * pp_worker_bookkeeping_begin / _end
 *		A worker's own catalog writes (a runner's start and outcome), in a
 *		transaction of their own, as the bootstrap superuser: the writes are
 *		the extension's, not the role's the worker runs as.  Through
 *		pp_as_role_begin, so the path that role (or the database's owner)
 *		set for the session resolves nothing.  SPI connected, a snapshot
 *		pushed.
 */
void
pp_worker_bookkeeping_begin(PipelineAsRole *as)
{
	pp_worker_xact_start();
	pp_as_role_begin(as, BOOTSTRAP_SUPERUSERID);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
pp_worker_bookkeeping_end(PipelineAsRole *as)
{
	PopActiveSnapshot();
	SPI_finish();
	pp_as_role_end(as);
	pp_worker_xact_commit();
}

/*
 * pp_worker_main
 *		Entry point of every dynamic pg_pipeline worker.
 */
void
pp_worker_main(Datum main_arg)
{
	const PipelineWorkerKindInfo *info;
	PipelineWorkerSlot *slot;
	bool		mine;

	memcpy(&my_args, MyBgworkerEntry->bgw_extra, sizeof(my_args));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (pp_shared == NULL || my_args.slot < 0 ||
		my_args.slot >= pp_shared->nslots)
		elog(FATAL, "pg_pipeline worker started without its slot");
	if (my_args.kind <= PP_WORKER_LAUNCHER || my_args.kind >= PP_WORKER_NKINDS ||
		pp_worker_kind_info(my_args.kind)->main == NULL)
		elog(FATAL, "pg_pipeline worker kind %d is not supported", my_args.kind);

	slot = &pp_shared->slots[my_args.slot];
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	mine = (slot->generation == my_args.generation &&
			slot->state == PP_SLOT_STARTING);
	if (mine)
	{
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
		slot->started_at = GetCurrentTimestamp();
	}
	LWLockRelease(pp_shared->lock);
	if (!mine)
		proc_exit(0);			/* the parent gave the slot away meanwhile */

	MyPipelineWorker = &my_args;
	before_shmem_exit(detach_slot, 0);
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = record_error_hook;

	BackgroundWorkerInitializeConnectionByOid(my_args.dboid, my_args.roleoid, 0);

	info = pp_worker_kind_info(my_args.kind);

	/*
	 * The worker's own statements resolve no name in a path that a role or
	 * the database's owner set (ALTER ROLE/DATABASE ... SET search_path).
	 * A runner runs its owner's commands as that owner would in psql: it
	 * pins only its bookkeeping (pp_as_role_begin).
	 */
	if (info->pin_search_path)
		pp_pin_session_search_path();

	/*
	 * The coordinator and the maintainer work for every role: a row or
	 * table lock some role keeps in a transaction it leaves open must not
	 * hold them for ever.  Their passes give up after a while, show the
	 * error (pipeline.workers, windows.last_error) and come back.
	 */
	if (info->lock_timeout)
		SetConfigOption("lock_timeout", PP_WORKER_LOCK_TIMEOUT, PGC_USERSET, PGC_S_SESSION);

	/* "running" means connected: the role is known from here on */
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	slot->roleoid = GetUserId();
	slot->state = PP_SLOT_RUNNING;
	LWLockRelease(pp_shared->lock);

	info->main(&my_args);
	proc_exit(0);
}
