/*-------------------------------------------------------------------------
 *
 * wake.c
 *	  Wake-ups: the one way a backend tells pg_pipeline's workers that
 *	  something changed, now or when its transaction commits.
 *
 * pp_wake(kind, dboid) follows the kind's row in pp_worker_kinds: the
 * running worker's latch (PP_WAKE_LATCH) or, when none runs or the kind is
 * woken through its parent (PP_WAKE_PARENT), its parent's; the launcher's
 * "wake-up" is a request to look at that database.  So a commit into a
 * window's source reaches the maintainer, or the coordinator that starts
 * one, or the launcher that starts the coordinator.
 *
 * At commit.  A worker woken during the transaction would look before the
 * change is visible and sleep again, so the SQL functions, triggers and
 * hooks only note what to wake (pp_wake_at_commit, pp_wake_table_at_commit,
 * pp_wake_launcher_at_end_of_xact) and one transaction callback does it:
 *
 *	COMMIT                 every noted wake-up; written tables of
 *	                       data-aware DAGs get their version bumped first
 *	ABORT                  only the end-of-transaction ones (a paused
 *	                       database resumes, the launcher looks again);
 *	                       the rest is forgotten
 *	PREPARE TRANSACTION    as ABORT for this session; every wake-up and
 *	                       table is kept in shared memory under the GID
 *	                       (the utility hook tells us the GID first)
 *	COMMIT PREPARED gid    (any session of the database) does what was
 *	                       kept; when nothing was (more than
 *	                       PP_MAX_PREPARED prepared at once, or the server
 *	                       restarted since), wakes every kind a commit can
 *	                       wake in the database, to be safe
 *	ROLLBACK PREPARED gid  forgets what was kept
 *
 * What does not fit in a prepared entry (more than PP_PREPARED_WAKES
 * wake-ups, PP_PREPARED_RELS tables) is not kept: a missed run of the
 * writer's own data-aware DAGs, never a run of every other role's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "worker/worker.h"

typedef struct PendingWake
{
	PipelineWorkerKind kind;
	Oid			dboid;
	bool		always;			/* at abort and PREPARE too */
	bool		resume;			/* first take dboid off the paused list */
} PendingWake;

#define MAX_PENDING 16
static PendingWake pending[MAX_PENDING];
static int	npending = 0;
static List *written_tables = NIL;	/* in TopMemoryContext */
static bool callback_registered = false;
static char preparing_gid[sizeof(((PipelinePrepared *) NULL)->gid)];

/*
 * pp_wake
 *		Wake a worker of kind in dboid now (see the file header).
 */
void
pp_wake(PipelineWorkerKind kind, Oid dboid)
{
	if (pp_shared == NULL)
		return;
	for (;;)
	{
		const PipelineWorkerKindInfo *info = pp_worker_kind_info(kind);

		if (kind == PP_WORKER_LAUNCHER)
		{
			pp_launcher_request(dboid);
			return;
		}
		if (info->wake == PP_WAKE_NONE ||
			(info->wake == PP_WAKE_LATCH && pp_worker_wake(kind, dboid)))
			return;
		kind = info->parent;	/* none runs, or it is woken through its parent */
	}
}

static void
keep_prepared(void)
{
	PipelinePrepared *entry = NULL;
	ListCell   *lc;

	if (pp_shared == NULL || preparing_gid[0] == '\0' ||
		(npending == 0 && written_tables == NIL))
		return;
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PP_MAX_PREPARED && entry == NULL; i++)
		if (pp_shared->prepared[i].gid[0] == '\0')
			entry = &pp_shared->prepared[i];
	if (entry != NULL)
	{
		entry->dboid = MyDatabaseId;
		strlcpy(entry->gid, preparing_gid, sizeof(entry->gid));
		entry->nwakes = 0;
		for (int i = 0; i < npending && entry->nwakes < PP_PREPARED_WAKES; i++)
		{
			entry->wakes[entry->nwakes].kind = pending[i].kind;
			entry->wakes[entry->nwakes].dboid = pending[i].dboid;
			entry->nwakes++;
		}
		entry->nrels = 0;
		foreach(lc, written_tables)
		{
			if (entry->nrels == PP_PREPARED_RELS)
				break;
			entry->relids[entry->nrels++] = lfirst_oid(lc);
		}
	}
	LWLockRelease(pp_shared->lock);
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	bool		commit = (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT);
	bool		prepare = (event == XACT_EVENT_PREPARE);

	if (!commit && !prepare &&
		event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT)
		return;

	if (prepare)
		keep_prepared();
	if (commit && written_tables != NIL && pp_shared != NULL)
	{
		pp_scheduler_tables_written(written_tables);
		pp_wake(PP_WORKER_COORDINATOR, MyDatabaseId);
	}
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].resume)
			pp_database_resume(pending[i].dboid);
		if (commit || pending[i].always)
			pp_wake(pending[i].kind, pending[i].dboid);
	}
	npending = 0;
	list_free(written_tables);
	written_tables = NIL;
	preparing_gid[0] = '\0';
}

static void
note(PipelineWorkerKind kind, Oid dboid, bool always, bool resume)
{
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].kind == kind && pending[i].dboid == dboid)
		{
			pending[i].always |= always;
			pending[i].resume |= resume;
			return;
		}
	}
	/* a few kinds, and database-wide statements run outside transaction blocks */
	if (npending >= MAX_PENDING)
		elog(ERROR, "too many pending pg_pipeline wake-ups");
	pending[npending].kind = kind;
	pending[npending].dboid = dboid;
	pending[npending].always = always;
	pending[npending].resume = resume;
	npending++;
}

/*
 * pp_wake_at_commit
 *		Wake this database's worker of kind when the transaction commits
 *		(at COMMIT PREPARED for a prepared one); nothing on abort.
 */
void
pp_wake_at_commit(PipelineWorkerKind kind)
{
	if (pp_shared == NULL)
		return;
	/* the coordinator's own writes (the scheduler's) are acted on already */
	if (kind == PP_WORKER_COORDINATOR && MyPipelineWorker != NULL &&
		MyPipelineWorker->kind == PP_WORKER_COORDINATOR)
		return;
	note(kind, MyDatabaseId, false, false);
}

/*
 * pp_wake_launcher_at_end_of_xact
 *		When the transaction ends, committed or not: take dboid off the
 *		paused list (resume), then ask the launcher to look at it.  For the
 *		utility hook: the launcher must see what the statement committed (a
 *		new or renamed database), and a failed statement must resume too.
 */
void
pp_wake_launcher_at_end_of_xact(Oid dboid, bool resume)
{
	note(PP_WORKER_LAUNCHER, dboid, true, resume);
}

/*
 * pp_wake_table_at_commit
 *		A table that a data-aware DAG watches was written: at commit its
 *		data version is bumped (scheduler.c) and the coordinator woken.
 */
void
pp_wake_table_at_commit(Oid relid)
{
	MemoryContext old;

	if (pp_shared == NULL || list_member_oid(written_tables, relid))
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	written_tables = lappend_oid(written_tables, relid);
	MemoryContextSwitchTo(old);
}

/* pp_wake_table_noted: was relid noted in this transaction already? */
bool
pp_wake_table_noted(Oid relid)
{
	return list_member_oid(written_tables, relid);
}

/*
 * pp_wake_preparing
 *		From the utility hook, before PREPARE TRANSACTION gid runs.
 */
void
pp_wake_preparing(const char *gid)
{
	strlcpy(preparing_gid, gid ? gid : "", sizeof(preparing_gid));
}

/*
 * pp_wake_prepared_end
 *		From the utility hook, after COMMIT PREPARED or ROLLBACK PREPARED of
 *		gid succeeded: do (or forget) what its PREPARE kept.
 */
void
pp_wake_prepared_end(const char *gid, bool commit)
{
	PipelinePrepared kept;
	bool		found = false;

	if (pp_shared == NULL || gid == NULL)
		return;
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PP_MAX_PREPARED && !found; i++)
	{
		PipelinePrepared *p = &pp_shared->prepared[i];

		if (p->gid[0] == '\0' || p->dboid != MyDatabaseId || strcmp(p->gid, gid) != 0)
			continue;
		kept = *p;
		p->gid[0] = '\0';
		found = true;
	}
	LWLockRelease(pp_shared->lock);
	if (!commit)
		return;

	if (!found)
	{
		/* nothing kept: wake whatever a commit could have woken here */
		for (int kind = PP_WORKER_LAUNCHER + 1; kind < PP_WORKER_NKINDS; kind++)
			if (pp_worker_kind_info(kind)->wake != PP_WAKE_NONE)
				pp_wake(kind, MyDatabaseId);
		return;
	}
	if (kept.nrels > 0)
	{
		List	   *rels = NIL;

		for (int r = 0; r < kept.nrels; r++)
			rels = lappend_oid(rels, kept.relids[r]);
		pp_scheduler_tables_written(rels);
		list_free(rels);
		pp_wake(PP_WORKER_COORDINATOR, MyDatabaseId);
	}
	for (int i = 0; i < kept.nwakes; i++)
		pp_wake(kept.wakes[i].kind, kept.wakes[i].dboid);
}
