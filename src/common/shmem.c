/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  pg_pipeline's shared memory: the launcher's mailbox and the worker
 *	  slots.
 *
 * Reserved through shmem_request_hook (PostgreSQL 15+) and initialised in
 * shmem_startup_hook, so it exists only when the library is in
 * shared_preload_libraries; pp_shared is NULL otherwise and every caller
 * that needs it goes through pp_shmem_require(), which says so clearly.
 *
 * After a crash restart the postmaster builds shared memory anew, so the
 * slots start empty: nothing in here must outlive a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"

PipelineShared *pp_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
shared_size(void)
{
	return add_size(offsetof(PipelineShared, slots),
					mul_size(sizeof(PipelineWorkerSlot), pp_max_workers));
}

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche(PP_LIBRARY_NAME, 1);
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pp_shared = ShmemInitStruct("pg_pipeline", shared_size(), &found);
	if (!found)
	{
		memset(pp_shared, 0, shared_size());
		pp_shared->lock = &(GetNamedLWLockTranche(PP_LIBRARY_NAME))->lock;
		pp_shared->nslots = pp_max_workers;
		pp_shared->data_epoch = (uint64) GetCurrentTimestamp();
		for (int i = 0; i < pp_shared->nslots; i++)
			SpinLockInit(&pp_shared->slots[i].error_mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pp_shmem_init
 *		Install the hooks.  Only from _PG_init while preloading.
 */
void
pp_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

/*
 * pp_shmem_require
 *		Raise a clear error when the caller needs the workers but the library
 *		was not preloaded.
 */
void
pp_shmem_require(void)
{
	if (pp_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_pipeline's background workers are not available"),
				 errdetail("The pg_pipeline library was not loaded through "
						   "shared_preload_libraries."),
				 errhint("Add pg_pipeline to shared_preload_libraries in "
						 "postgresql.conf and restart the server.")));
}

const char *
pp_worker_state_name(PipelineWorkerState state)
{
	switch (state)
	{
		case PP_SLOT_FREE:
			return "free";
		case PP_SLOT_STARTING:
			return "starting";
		case PP_SLOT_RUNNING:
			return "running";
		case PP_SLOT_STOPPED:
			return "stopped";
		case PP_SLOT_BACKOFF:
			return "restarting";
	}
	return "unknown";
}
