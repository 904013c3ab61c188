/*-------------------------------------------------------------------------
 *
 * view.c
 *	  SQL functions over the worker slots: pipeline.workers and friends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

#define WORKERS_COLS 15

static void
put_timestamp(Datum *values, bool *nulls, int col, TimestampTz ts)
{
	nulls[col] = (ts == 0);
	values[col] = TimestampTzGetDatum(ts);
}

/*
 * pipeline.wake_coordinator(): statement trigger on the catalogs the
 * coordinator acts on; wakes it when the transaction commits.
 */
PG_FUNCTION_INFO_V1(pipeline_wake_coordinator);
Datum
pipeline_wake_coordinator(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.wake_coordinator() must be called as a trigger")));
	pp_wake_at_commit(PP_WORKER_COORDINATOR);
	return PointerGetDatum(NULL);
}

/*
 * Whether the caller may see a slot: the shared workers (coordinator,
 * maintainer) and its own roles' workers; all for a pipeline_admin member
 * (as pipeline.is_admin()).  A consumer's, sink's or runner's label and
 * last error are another role's business (review of 0.9.0: get_workers()
 * is executable by PUBLIC and showed them all).
 */
static bool
slot_visible(const PipelineWorkerSlot *slot, bool admin)
{
	return admin || !OidIsValid(slot->roleoid) ||
		slot->kind == PP_WORKER_COORDINATOR || slot->kind == PP_WORKER_MAINTAINER ||
		has_privs_of_role(GetUserId(), slot->roleoid);
}

/*
 * pipeline.get_workers() returns the launcher and every worker slot of the
 * current database, running or not, that the caller may see (slot_visible).
 */
PG_FUNCTION_INFO_V1(pipeline_get_workers);
Datum
pipeline_get_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PipelineWorkerSlot *copy;
	int			nslots;
	pid_t		launcher_pid;
	TimestampTz launcher_started_at;
	int			launcher_restarts;
	Oid			admin_role = get_role_oid("pipeline_admin", true);
	bool		admin = OidIsValid(admin_role) && is_member_of_role(GetUserId(), admin_role);

	pp_shmem_require();
	InitMaterializedSRF(fcinfo, 0);

	/* copy under the lock, build tuples without it */
	LWLockAcquire(pp_shared->lock, LW_SHARED);
	nslots = pp_shared->nslots;
	copy = palloc(sizeof(PipelineWorkerSlot) * nslots);
	memcpy(copy, pp_shared->slots, sizeof(PipelineWorkerSlot) * nslots);
	for (int i = 0; i < nslots; i++)
	{
		PipelineWorkerSlot *slot = &pp_shared->slots[i];

		SpinLockAcquire(&slot->error_mutex);
		memcpy(copy[i].last_error, slot->last_error, PP_MAX_ERROR_LEN);
		copy[i].last_error_at = slot->last_error_at;
		SpinLockRelease(&slot->error_mutex);
	}
	launcher_pid = pp_shared->launcher_pid;
	launcher_started_at = pp_shared->launcher_started_at;
	launcher_restarts = pp_shared->launcher_restarts;
	LWLockRelease(pp_shared->lock);

	{
		Datum		values[WORKERS_COLS];
		bool		nulls[WORKERS_COLS];

		memset(nulls, true, sizeof(nulls));
		if (launcher_pid != 0)
		{
			values[0] = Int32GetDatum(launcher_pid);
			nulls[0] = false;
		}
		values[1] = CStringGetTextDatum("launcher");
		nulls[1] = false;
		values[4] = CStringGetTextDatum(launcher_pid != 0 ? "running" : "stopped");
		nulls[4] = false;
		put_timestamp(values, nulls, 5, launcher_started_at);
		values[6] = Int32GetDatum(launcher_restarts);
		nulls[6] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	for (int i = 0; i < nslots; i++)
	{
		PipelineWorkerSlot *slot = &copy[i];
		Datum		values[WORKERS_COLS];
		bool		nulls[WORKERS_COLS];

		if (slot->state == PP_SLOT_FREE || slot->dboid != MyDatabaseId || !slot_visible(slot, admin))
			continue;
		memset(nulls, false, sizeof(nulls));
		values[0] = Int32GetDatum(slot->pid);
		nulls[0] = (slot->pid == 0);
		values[1] = CStringGetTextDatum(pp_worker_kind_name(slot->kind));
		values[2] = ObjectIdGetDatum(slot->dboid);
		values[3] = ObjectIdGetDatum(slot->roleoid);
		nulls[3] = !OidIsValid(slot->roleoid);
		values[4] = CStringGetTextDatum(pp_worker_state_name(slot->state));
		put_timestamp(values, nulls, 5, slot->started_at);
		values[6] = Int32GetDatum(slot->restarts);
		values[7] = CStringGetTextDatum(slot->last_error);
		nulls[7] = (slot->last_error[0] == '\0');
		put_timestamp(values, nulls, 8, slot->last_error_at);
		values[9] = CStringGetTextDatum(slot->label);
		nulls[9] = (slot->label[0] == '\0');
		values[10] = Int64GetDatum((int64) slot->items);
		values[11] = Int64GetDatum((int64) slot->bytes);
		values[12] = Float8GetDatum(slot->items_per_sec);
		values[13] = Float8GetDatum(slot->bytes_per_sec);
		put_timestamp(values, nulls, 14, slot->last_batch_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(copy);
	return (Datum) 0;
}
