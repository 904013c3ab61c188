/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The coordinator's side of the scheduler: one pass of the state
 *	  machine, the runners it starts, and data-aware triggers.
 *
 * The coordinator of each database calls pp_scheduler_pass() at every
 * wake-up.  A pass
 *
 *	0. takes pipeline._scheduler_lock() without waiting (drop_dag and
 *	   drop_task take it too: they delete runs a pass may be writing, in
 *	   another order) or comes back in 100 ms;
 *	1. reaps the runners that exited: the attempt a runner held, if left
 *	   "running" (the runner died, or was terminated past its timeout), is
 *	   failed with the worker's last error;
 *	2. calls pipeline._scheduler_tick() (the state machine, in SQL: due
 *	   fires, data triggers, DAG runs within max_active_runs, retries,
 *	   trigger rules, finished runs, retention); the first pass after a
 *	   start also fails the attempts a previous life left "running";
 *	3. takes queued attempts, oldest first, up to pg_pipeline.max_task_runs
 *	   running at once (pipeline._scheduler_dispatch), commits, and only
 *	   then starts their runners (a runner must see its attempt running),
 *	   each connected as the owner of the task's DAG.  A runner that
 *	   finishes an attempt may take the next queued one itself when it is
 *	   of its role (runner.c); it still counts as one of max_task_runs, and
 *	   tells which attempt it holds through its slot (pp_worker_set_item),
 *	   so that step 1 and the timeout backstop follow it.
 * It returns how long the coordinator may sleep: until the next fire,
 * retry, poke, data-trigger interval or timeout backstop.  Commits of the
 * SQL interface and the exits of runners set the coordinator's latch, so
 * nothing waits for a poll.
 *
 * Data-aware triggers: pipeline.dag_data_trigger(), a statement trigger on
 * the watched tables, notes the table (pp_wake_table_at_commit); at commit
 * (or COMMIT PREPARED) wake.c calls pp_scheduler_tables_written, which
 * bumps the table's version in shared memory, and wakes the coordinator.  Versions start at the
 * server's start time, so a version seen before a restart is never seen
 * again (and no run is made for data nobody wrote since); data seen but not
 * yet run for (inside trigger_interval) is kept in pipeline.dags as
 * data_pending, which a restart does not forget.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"
#include "worker/worker.h"

/* history retention runs at most this often */
#define CLEANUP_EVERY_MS	10000
/* after a runner could not start, try again this soon */
#define START_RETRY_MS		1000
/* while a drop holds the scheduler's lock, try again this soon */
#define LOCK_RETRY_MS		100

/*
 * ... but not for ever: the lock only keeps a pass from deadlocking with a
 * drop's cascade, and any role can take it (drop_dag in a transaction it
 * leaves open).  After this long without it a pass goes on regardless; a
 * deadlock, should one come, aborts one side and the pass is retried.
 */
#define LOCK_PATIENCE_MS	5000
static TimestampTz lock_missed_since = 0;

/*
 * A runner started by this coordinator.  It may go on to further attempts
 * of its role (runner.c); which one it holds, it says in its slot
 * (pp_worker_slot_item): 0 still the first, -1 none.
 */
typedef struct RunningTask
{
	int			slot;			/* hash key */
	int64		task_run_id;	/* the attempt it was started for */
	BackgroundWorkerHandle *handle;
	TimestampTz deadline;		/* of that attempt; 0: no timeout */
	bool		terminated;		/* past its deadline, we terminated it */
} RunningTask;

/* an attempt dispatched in this pass, to start once committed */
typedef struct Dispatched
{
	int64		task_run_id;
	Oid			owner;
	char		label[NAMEDATALEN];
	int64		timeout_ms;
} Dispatched;

int			pp_max_task_runs = 4;
int			pp_runner_max_tasks = 100;

static HTAB *running = NULL;
static MemoryContext scheduler_context = NULL;
static bool recovered = false;
static TimestampTz next_cleanup = 0;
static void prune_watched(void);
static TimestampTz next_due = 0;	/* the last pass's next instant with work */
static uint32 wakes_seen = 0;		/* our slot's wakes at the last pass */

static void
scheduler_init(void)
{
	HASHCTL		ctl;

	scheduler_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline scheduler",
											  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int);
	ctl.entrysize = sizeof(RunningTask);
	ctl.hcxt = scheduler_context;
	running = hash_create("pg_pipeline running tasks", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Which pipeline._scheduler_tick() the database has: the extension may be
 * at 0.3.0 (none), or at 0.4.0 or 0.5.0 (a tick that reads the clock
 * itself) while the library is already newer.
 */
typedef enum TickVersion
{
	TICK_NONE,
	TICK_READS_CLOCK,			/* _scheduler_tick(recover, cleanup) */
	TICK_TAKES_NOW				/* _scheduler_tick(recover, cleanup, now), 0.6.0 on */
} TickVersion;

/*
 * Which tick is installed?  Locks the extension against DROP EXTENSION
 * for the pass.
 */
static TickVersion
scheduler_installed(void)
{
	bool		isnull;
	HeapTuple	tuple;
	TupleDesc	desc;

	if (!pp_lock_extension())
		return TICK_NONE;
	if (SPI_execute("SELECT to_regprocedure('pipeline._scheduler_tick(boolean,boolean,timestamptz)') IS NOT NULL, "
					"to_regprocedure('pipeline._scheduler_tick(boolean,boolean)') IS NOT NULL",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for the scheduler's functions");
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetBool(SPI_getbinval(tuple, desc, 1, &isnull)))
		return TICK_TAKES_NOW;
	if (DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull)))
		return TICK_READS_CLOCK;
	return TICK_NONE;
}

/* Take pipeline._scheduler_lock() for the pass, without waiting. */
static bool
scheduler_lock(void)
{
	bool		isnull;

	if (SPI_execute("SELECT pipeline._scheduler_lock(false)", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not take the scheduler's lock");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
finish_failed(int64 task_run_id, const char *error)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(task_run_id), CStringGetTextDatum(error)};

	if (SPI_execute_with_args("SELECT pipeline._task_run_finish($1, 'failed', $2, NULL, NULL)",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the failure of task run " INT64_FORMAT, task_run_id);
}

/*
 * The attempt a runner holds now (0: none) and its deadline (0: none).
 */
static int64
runner_attempt(RunningTask *task, TimestampTz *deadline)
{
	int64		item = pp_worker_slot_item(task->slot, deadline);

	if (item == 0)
	{
		*deadline = task->deadline;
		return task->task_run_id;
	}
	return item > 0 ? item : 0;
}

/*
 * Step 1: forget the runners that exited; the attempt a runner held at its
 * exit, if still "running", failed.  Terminates runners past their deadline.
 */
static void
reap_runners(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	RunningTask *task;

	hash_seq_init(&seq, running);
	while ((task = hash_seq_search(&seq)) != NULL)
	{
		PipelineWorkerExit exit;
		char	   *error = exit.last_error;
		TimestampTz deadline;
		int64		attempt = runner_attempt(task, &deadline);

		if (!pp_worker_reap(&task->handle, task->slot, &exit))
		{
			if (attempt != 0 && deadline != 0 && now >= deadline && !task->terminated)
			{
				TerminateBackgroundWorker(task->handle);
				task->terminated = true;
			}
			continue;
		}
		/* (what it held at its exit: it cannot change any more) */
		attempt = runner_attempt(task, &deadline);
		/* a runner is never restarted (kinds.c): its exit ends the attempt */
		if (task->terminated)
			snprintf(error, sizeof(exit.last_error),
					 "the task ran past its timeout and its runner was terminated");
		else if (error[0] == '\0')
			strlcpy(error, "the runner exited without recording the task's outcome",
					sizeof(exit.last_error));
		if (attempt != 0)
			finish_failed(attempt, error);
		pp_worker_release(task->slot);
		hash_search(running, &task->slot, HASH_REMOVE, NULL);
	}
}

/*
 * Step 2: the state machine; returns the next instant it has work, or 0.
 * The tick reads no clock: it is handed the current time here, so that a
 * test can hand it any (sql/scheduler_tick.sql).
 */
static TimestampTz
tick(TickVersion version, TimestampTz now)
{
	Oid			argtypes[3] = {BOOLOID, BOOLOID, TIMESTAMPTZOID};
	Datum		args[3];
	bool		isnull;
	Datum		d;

	args[0] = BoolGetDatum(!recovered);
	args[1] = BoolGetDatum(now >= next_cleanup);
	args[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	if (SPI_execute_with_args(version == TICK_TAKES_NOW ?
							  "SELECT pipeline._scheduler_tick($1, $2, $3)" :
							  "SELECT pipeline._scheduler_tick($1, $2)",
							  version == TICK_TAKES_NOW ? 3 : 2,
							  argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "the scheduler's tick failed");
	recovered = true;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (now >= next_cleanup)
	{
		prune_watched();		/* (after reading the tick's result) */
		next_cleanup = TimestampTzPlusMilliseconds(now, CLEANUP_EVERY_MS);
	}
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/* Step 3: mark up to n queued attempts running; returns them. */
static List *
dispatch(int n)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(n)};
	List	   *result = NIL;

	if (n <= 0)
		return NIL;
	if (SPI_execute_with_args("SELECT * FROM pipeline._scheduler_dispatch($1)",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "the scheduler's dispatch failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(scheduler_context);
		Dispatched *task = palloc0(sizeof(Dispatched));
		bool		isnull;
		char	   *owner;
		Datum		d;

		task->task_run_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		owner = SPI_getvalue(tuple, desc, 2);
		task->owner = owner ? get_role_oid(owner, true) : InvalidOid;
		strlcpy(task->label, SPI_getvalue(tuple, desc, 3), NAMEDATALEN);
		d = SPI_getbinval(tuple, desc, 4, &isnull);
		task->timeout_ms = isnull ? 0 : DatumGetInt64(d);
		result = lappend(result, task);
		MemoryContextSwitchTo(old);

		if (!OidIsValid(task->owner))
			finish_failed(task->task_run_id,
						  psprintf("the owner of the task, role \"%s\", does not exist",
								   owner ? owner : ""));
	}
	return result;
}

static void
begin_pass(void)
{
	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_pass(void)
{
	PopActiveSnapshot();
	SPI_finish();
	pp_worker_xact_commit();
}

/* Start the runners of the attempts dispatched; false if one could not. */
static bool
start_runners(List *dispatched, TimestampTz now)
{
	ListCell   *lc;
	List	   *unstarted = NIL;

	foreach(lc, dispatched)
	{
		Dispatched *task = lfirst(lc);
		RunnerParams params;
		BackgroundWorkerHandle *handle = NULL;
		MemoryContext old;
		int			slot;
		RunningTask *entry;

		if (!OidIsValid(task->owner))
			continue;
		params.task_run_id = task->task_run_id;
		old = MemoryContextSwitchTo(scheduler_context);
		slot = pp_worker_start(PP_WORKER_RUNNER, MyDatabaseId, task->owner, task->label,
							   &params, sizeof(params), -1, &handle);
		MemoryContextSwitchTo(old);
		if (slot < 0)
		{
			unstarted = lappend(unstarted, task);
			continue;
		}
		entry = hash_search(running, &slot, HASH_ENTER, NULL);
		entry->task_run_id = task->task_run_id;
		entry->handle = handle;
		entry->terminated = false;
		entry->deadline = task->timeout_ms > 0 ?
			TimestampTzPlusMilliseconds(now, task->timeout_ms + PP_TASK_TIMEOUT_GRACE_MS) : 0;
	}

	/* no worker free: those attempts wait in the queue again */
	if (unstarted != NIL)
	{
		begin_pass();
		foreach(lc, unstarted)
		{
			Dispatched *task = lfirst(lc);
			Oid			argtypes[1] = {INT8OID};
			Datum		args[1] = {Int64GetDatum(task->task_run_id)};

			SPI_execute_with_args("UPDATE pipeline.task_runs SET status = 'queued' "
								  "WHERE task_run_id = $1 AND status = 'running'",
								  1, argtypes, args, NULL, false, 0);
		}
		end_pass();
	}
	list_free_deep(dispatched);
	return unstarted == NIL;
}

/*
 * Has anything happened since the last pass that a pass must look at: a
 * wake-up asked by a commit or a runner (pp_worker_wake counts them in our
 * slot), a runner's exit, a due instant?  The postmaster also sets our
 * latch when a runner starts; that alone needs no pass.
 */
static bool
pass_needed(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	RunningTask *task;
	uint32		wakes = pp_worker_slot_wakes(MyPipelineWorker->slot);
	bool		needed = false;

	if (wakes != wakes_seen || !recovered || next_due == 0 || now >= next_due)
		needed = true;
	hash_seq_init(&seq, running);
	while ((task = hash_seq_search(&seq)) != NULL)
	{
		if (!needed && pp_worker_reap(&task->handle, task->slot, NULL))
			needed = true;
	}
	wakes_seen = wakes;
	return needed;
}

/* A sleep of more than a second ends a second early (see below). */
static long
early(long ms)
{
	return ms > 1100 ? ms - 1000 : ms;
}

/* Milliseconds from now until an instant, rounded up (never wake early). */
static long
ms_until(TimestampTz instant)
{
	TimestampTz now = GetCurrentTimestamp();
	long		secs;
	int			usecs;

	if (instant <= now)
		return 0;
	TimestampDifference(now, instant, &secs, &usecs);
	return secs * 1000 + (usecs + 999) / 1000;
}

/*
 * pp_scheduler_pass
 *		One pass (see the file header); returns the milliseconds the
 *		coordinator may sleep, or -1 for "no scheduled work".
 *
 * A long sleep is cut one second short: Linux lets a sleep of t end up to
 * t / 1000 late (timer slack, at most 100 ms), so the last sleep before a
 * due instant is kept near one second, 1 ms of slack.
 */
long
pp_scheduler_pass(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake;
	List	   *dispatched;
	HASH_SEQ_STATUS seq;
	RunningTask *task;
	long		sleep_ms = -1;
	TickVersion version;

	if (running == NULL)
		scheduler_init();
	if (!pass_needed(now))
		return next_due != 0 ? early(ms_until(next_due)) : -1;

	begin_pass();
	version = scheduler_installed();
	if (version == TICK_NONE)
	{
		end_pass();
		return -1;
	}
	if (scheduler_lock())
		lock_missed_since = 0;
	else
	{
		if (lock_missed_since == 0)
			lock_missed_since = now;
		if (TimestampDifferenceMilliseconds(lock_missed_since, now) < LOCK_PATIENCE_MS)
		{
			/* a drop_dag or drop_task is deleting runs: come back soon */
			end_pass();
			next_due = TimestampTzPlusMilliseconds(now, LOCK_RETRY_MS);
			return LOCK_RETRY_MS;
		}
	}
	reap_runners(now);
	wake = tick(version, now);
	dispatched = dispatch(pp_max_task_runs - (int) hash_get_num_entries(running));
	end_pass();

	if (!start_runners(dispatched, now))
	{
		TimestampTz retry_at = TimestampTzPlusMilliseconds(now, START_RETRY_MS);

		if (wake == 0 || retry_at < wake)
			wake = retry_at;
	}

	/* sleep until the next due instant or the next deadline */
	hash_seq_init(&seq, running);
	while ((task = hash_seq_search(&seq)) != NULL)
	{
		TimestampTz deadline;

		if (runner_attempt(task, &deadline) != 0 && deadline != 0 && !task->terminated &&
			(wake == 0 || deadline < wake))
			wake = deadline;
	}
	next_due = wake;
	if (wake != 0)
	{
		long		ms = early(ms_until(wake));

		sleep_ms = sleep_ms < 0 ? ms : Min(sleep_ms, ms);
	}
	return sleep_ms;
}

/* ---------------------------------------------------------------------
 * Data-aware triggers
 * ---------------------------------------------------------------------
 */
/*
 * pp_scheduler_tables_written
 *		At the commit of a transaction that wrote watched tables (wake.c,
 *		also at COMMIT PREPARED): bump their data versions.
 */
void
pp_scheduler_tables_written(List *relids)
{
	static bool warned = false;
	bool		full = false;
	ListCell   *lc;

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		PipelineDataVersion *entry = NULL;

		for (int i = 0; i < pp_shared->nwatched && entry == NULL; i++)
		{
			if (pp_shared->watched[i].dboid == MyDatabaseId &&
				pp_shared->watched[i].relid == relid)
				entry = &pp_shared->watched[i];
		}
		if (entry == NULL && pp_shared->nwatched < PP_MAX_WATCHED)
		{
			entry = &pp_shared->watched[pp_shared->nwatched++];
			entry->dboid = MyDatabaseId;
			entry->relid = relid;
		}
		/* one clock for all tables: a pruned, re-created entry moves on */
		if (entry)
			entry->version = ++pp_shared->data_epoch;
		else
			full = true;
	}
	LWLockRelease(pp_shared->lock);

	/* after the commit: a WARNING cannot fail it any more */
	if (full && !warned)
	{
		warned = true;
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("pg_pipeline cannot track writes to more than %d tables watched by data-aware DAGs",
						PP_MAX_WATCHED),
				 errdetail("DAGs watching further tables are not triggered until the server restarts."),
				 errhint("Watch fewer tables, for example one table that a statement trigger of your own touches.")));
	}
}

/*
 * Does some DAG of this database watch relid?  The trigger function is
 * PUBLIC's: anyone can attach it to tables of their own, and each table
 * noted takes one of the server's PP_MAX_WATCHED entries.  A table with an
 * entry is watched (entries of tables no DAG watches are pruned by the
 * coordinator); otherwise the catalog says, read as the superuser (row
 * security hides other roles' DAGs) under the pinned search_path.
 */
static bool
table_is_watched(Oid relid)
{
	bool		watched = false;
	PipelineAsRole as;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (pp_shared == NULL)
		return false;
	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int i = 0; i < pp_shared->nwatched && !watched; i++)
		watched = pp_shared->watched[i].dboid == MyDatabaseId &&
			pp_shared->watched[i].relid == relid;
	LWLockRelease(pp_shared->lock);
	if (watched)
		return true;

	SPI_connect();
	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM pipeline.dags "
							  "WHERE $1::pg_catalog.regclass OPERATOR(pg_catalog.=) ANY (trigger_on))",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.dags");
	{
		bool		isnull;

		watched = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	pp_as_role_end(&as);
	SPI_finish();
	return watched;
}

/*
 * prune_watched
 *		The coordinator, now and then: forget the entries of this database's
 *		tables that no DAG watches any more (dropped DAGs, dropped tables),
 *		so the server's PP_MAX_WATCHED entries are not used up for ever.
 *		The caller is connected to SPI, as a superuser.  Versions only ever
 *		grow (data_clock), so a table watched again later starts above
 *		whatever a DAG saw of it before.
 */
static void
prune_watched(void)
{
	List	   *keep = NIL;
	int			n = 0;

	if (SPI_execute("SELECT DISTINCT t::pg_catalog.oid FROM pipeline.dags, "
					"pg_catalog.unnest(trigger_on) t", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.dags");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		keep = lappend_oid(keep, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
																 SPI_tuptable->tupdesc, 1, &isnull)));
	}
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pp_shared->nwatched; i++)
	{
		PipelineDataVersion *e = &pp_shared->watched[i];

		if (e->dboid != MyDatabaseId || list_member_oid(keep, e->relid))
			pp_shared->watched[n++] = *e;
	}
	pp_shared->nwatched = n;
	LWLockRelease(pp_shared->lock);
	list_free(keep);
}

/*
 * pipeline.dag_data_trigger(): statement trigger on a table that a
 * data-aware DAG watches.  Cheap: notes the table; the work is at commit.
 */
PG_FUNCTION_INFO_V1(pipeline_dag_data_trigger);
Datum
pipeline_dag_data_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.dag_data_trigger() must be called as a trigger")));
	relid = RelationGetRelid(trigdata->tg_relation);
	if (!pp_wake_table_noted(relid) && table_is_watched(relid))
		pp_wake_table_at_commit(relid); /* bumped at commit, or COMMIT PREPARED */
	return PointerGetDatum(NULL);
}

/*
 * pipeline._data_version(tables): the sum of the tables' versions, NULL
 * when none was written since the server started.
 */
PG_FUNCTION_INFO_V1(pipeline_data_version);
Datum
pipeline_data_version(PG_FUNCTION_ARGS)
{
	ArrayType  *tables = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint64		sum = 0;
	bool		found = false;

	pp_shmem_require();
	deconstruct_array(tables, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	LWLockAcquire(pp_shared->lock, LW_SHARED);
	for (int e = 0; e < n; e++)
	{
		if (nulls[e])
			continue;
		for (int i = 0; i < pp_shared->nwatched; i++)
		{
			if (pp_shared->watched[i].dboid == MyDatabaseId &&
				pp_shared->watched[i].relid == DatumGetObjectId(elems[e]))
			{
				sum += pp_shared->watched[i].version;
				found = true;
			}
		}
	}
	LWLockRelease(pp_shared->lock);
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) sum);
}
