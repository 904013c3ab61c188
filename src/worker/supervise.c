/*-------------------------------------------------------------------------
 *
 * supervise.c
 *	  The one reconcile routine: run exactly the workers a subsystem wants.
 *
 * A subsystem says only which workers should run now, each as (kind, key,
 * index, role, parameters): pp_supervisor_begin(), then one
 * pp_supervisor_want() per worker, then pp_supervisor_reconcile(), which
 * compares that list with what runs and
 *
 *	wanted, not running          starts it (as the role), when its backoff is over
 *	running other parameters     stops it; it is started with the new ones
 *	                             at once, without backoff (a new definition)
 *	running, no longer wanted    stops it, and frees its slot once it exited
 *	exited on purpose            (no_restart) frees its slot; started again
 *	                             at once if still wanted
 *	exited otherwise (a failure) by its kind's restart policy (kinds.c):
 *	                             BACKOFF keeps the slot "restarting" and starts
 *	                             it after a doubling delay; ONCE does that once;
 *	                             NEVER frees the slot and leaves it stopped
 *	                             while it is wanted
 *	a worker whose kind is woken through its parent (PP_WAKE_PARENT: sinks)
 *	                             gets its latch set at every pass
 *
 * A failed start (no free slot, no background worker process) is retried
 * with the same doubling delay; pp_worker_start has recorded why in the
 * caller's own slot.  Errors of a worker are in its slot (pipeline.workers)
 * already: its emit_log_hook put them there.
 *
 * The coordinator holds one supervisor for every subsystem's workers; its
 * memory lives in a child of TopMemoryContext, so the handles outlive the
 * pass.  Call it outside a transaction: it waits for nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

typedef struct WorkerKey
{
	PipelineWorkerKind kind;
	char		key[NAMEDATALEN];	/* also its label (works_on) */
	int32		index;
} WorkerKey;

typedef struct WorkerEntry
{
	WorkerKey	key;
	Oid			role;
	Size		params_len;
	char		params[PP_MAX_PARAMS_LEN];	/* what it should run with */
	char		running[PP_MAX_PARAMS_LEN]; /* what its process runs with */
	bool		wanted;
	bool		finished;		/* exited for good (restart policy): wait to be unwanted */
	int			slot;			/* -1: none */
	BackgroundWorkerHandle *handle; /* NULL: no process */
	int			failures;		/* consecutive */
	TimestampTz started_at;
	TimestampTz next_start;		/* 0: start when wanted */
} WorkerEntry;

struct PipelineSupervisor
{
	MemoryContext context;
	HTAB	   *workers;
};

/*
 * pp_supervisor_create
 *		A supervisor with nothing wanted, living until the process exits;
 *		name names its table of workers.
 */
PipelineSupervisor *
pp_supervisor_create(const char *name)
{
	MemoryContext context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline supervisor",
												  ALLOCSET_DEFAULT_SIZES);
	PipelineSupervisor *sup = MemoryContextAllocZero(context, sizeof(PipelineSupervisor));
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(WorkerKey);
	ctl.entrysize = sizeof(WorkerEntry);
	ctl.hcxt = context;
	sup->context = context;
	sup->workers = hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return sup;
}

/*
 * pp_supervisor_begin
 *		A new list: nothing is wanted until pp_supervisor_want says so.
 */
void
pp_supervisor_begin(PipelineSupervisor *sup)
{
	HASH_SEQ_STATUS status;
	WorkerEntry *entry;

	hash_seq_init(&status, sup->workers);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->wanted = false;
}

/*
 * pp_supervisor_want
 *		This worker should run now: kind, key and index name it (the key is
 *		its works_on), role is the role it connects as, params what it finds
 *		in its PipelineWorkerArgs.  Other params than those of the process
 *		that runs make the reconcile replace it.
 */
void
pp_supervisor_want(PipelineSupervisor *sup, PipelineWorkerKind kind,
				   const char *key, int index, Oid role,
				   const void *params, Size params_len)
{
	WorkerKey	wkey;
	WorkerEntry *entry;
	bool		found;

	Assert(params_len <= PP_MAX_PARAMS_LEN);
	memset(&wkey, 0, sizeof(wkey));
	wkey.kind = kind;
	strlcpy(wkey.key, key, NAMEDATALEN);
	wkey.index = index;
	entry = hash_search(sup->workers, &wkey, HASH_ENTER, &found);
	if (!found)
	{
		entry->slot = -1;
		entry->handle = NULL;
		entry->failures = 0;
		entry->next_start = 0;
		entry->finished = false;
		entry->params_len = 0;
		memset(entry->params, 0, sizeof(entry->params));
		memset(entry->running, 0, sizeof(entry->running));
	}
	entry->wanted = true;
	entry->role = role;
	if (!found || entry->params_len != params_len ||
		memcmp(entry->params, params, params_len) != 0)
	{
		/* a new definition: a fresh start, no backoff */
		memset(entry->params, 0, sizeof(entry->params));
		memcpy(entry->params, params, params_len);
		entry->params_len = params_len;
		entry->failures = 0;
		entry->next_start = 0;
		entry->finished = false;
	}
}

static bool
outdated(WorkerEntry *entry)
{
	return memcmp(entry->running, entry->params, sizeof(entry->params)) != 0;
}

static void
start_worker(PipelineSupervisor *sup, WorkerEntry *entry, TimestampTz now)
{
	MemoryContext old = MemoryContextSwitchTo(sup->context);
	int			slot;

	slot = pp_worker_start(entry->key.kind, MyDatabaseId, entry->role,
						   entry->key.key, entry->params, entry->params_len,
						   entry->slot, &entry->handle);
	MemoryContextSwitchTo(old);
	entry->started_at = now;
	if (slot >= 0)
	{
		entry->slot = slot;
		memcpy(entry->running, entry->params, sizeof(entry->running));
		entry->next_start = 0;
		return;
	}
	entry->handle = NULL;		/* no slot or no process: try again later */
	entry->next_start = pp_restart_next(&entry->failures, 0, now);
}

static void
release(WorkerEntry *entry)
{
	if (entry->slot >= 0)
		pp_worker_release(entry->slot);
	entry->slot = -1;
	entry->failures = 0;
	entry->next_start = 0;
}

/* The process of entry exited: free its slot, or keep it for a restart. */
static void
worker_exited(WorkerEntry *entry, const PipelineWorkerExit *exit, TimestampTz now)
{
	PipelineRestart policy = pp_worker_kind_info(entry->key.kind)->restart;

	if (!entry->wanted || exit->no_restart || outdated(entry))
	{
		release(entry);
		return;
	}
	/* a failure */
	if (policy == PP_RESTART_NEVER ||
		(policy == PP_RESTART_ONCE && entry->failures >= 1))
	{
		release(entry);
		entry->finished = true;
		return;
	}
	entry->next_start = pp_restart_next(&entry->failures, entry->started_at, now);
	pp_worker_backoff(entry->slot);
}

/*
 * pp_supervisor_reconcile
 *		Start, stop, restart and reap (see the file header).  Returns the
 *		milliseconds until a start is due, or -1 when none is.
 */
long
pp_supervisor_reconcile(PipelineSupervisor *sup)
{
	HASH_SEQ_STATUS status;
	WorkerEntry *entry;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake_at = 0;

	hash_seq_init(&status, sup->workers);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->handle != NULL)
		{
			PipelineWorkerExit exit;

			if (!pp_worker_reap(&entry->handle, entry->slot, &exit))
			{
				if (pp_worker_kind_info(entry->key.kind)->wake == PP_WAKE_PARENT)
					pp_worker_slot_set_latch(entry->slot);
				if (!entry->wanted || outdated(entry))
					TerminateBackgroundWorker(entry->handle);
				continue;
			}
			worker_exited(entry, &exit, now);
		}

		if (!entry->wanted)
		{
			/* gone for good: a slot kept for a restart is freed too */
			release(entry);
			hash_search(sup->workers, &entry->key, HASH_REMOVE, NULL);
			continue;
		}
		if (entry->finished)
			continue;
		if (entry->next_start <= now)
			start_worker(sup, entry, now);
		if (entry->handle == NULL && (wake_at == 0 || entry->next_start < wake_at))
			wake_at = entry->next_start;
	}

	if (wake_at == 0)
		return -1;
	return Max(1, TimestampDifferenceMilliseconds(now, wake_at));
}
