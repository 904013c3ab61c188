/*-------------------------------------------------------------------------
 *
 * supervisor.c
 *	  The coordinator's side of Kafka sources: run exactly the consumer
 *	  workers that pipeline.sources asks for.
 *
 * At every wake-up (a committed change to pipeline.sources sets its latch
 * through a statement trigger; the postmaster sets it when a consumer
 * starts or exits) the coordinator reads the sources and reconciles:
 *
 *	wanted, not running        start it (as the source's owner)
 *	running an older version   stop it; the next pass starts the new one
 *	running, no longer wanted  stop it (paused or dropped source)
 *	exited on its own          restart it after a doubling delay
 *
 * A consumer that leaves because its source changed marks itself
 * "no restart" and is replaced at once, without backoff.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

typedef struct ConsumerKey
{
	PipelineWorkerKind kind;	/* consumer (of a source) or sink */
	char		source[NAMEDATALEN];
	int32		index;
} ConsumerKey;

typedef struct ConsumerEntry
{
	ConsumerKey key;
	ConsumerParams params;		/* what it should run with */
	ConsumerParams running;		/* what the running worker runs with */
	Oid			owner;
	int			slot;
	BackgroundWorkerHandle *handle;
	bool		wanted;
	int			failures;
	TimestampTz started_at;
	TimestampTz next_start;		/* 0: start when wanted */
} ConsumerEntry;

static HTAB *consumers = NULL;
static MemoryContext supervisor_context = NULL;

static void
start_consumer(ConsumerEntry *entry, TimestampTz now)
{
	MemoryContext old = MemoryContextSwitchTo(supervisor_context);
	int			slot;

	slot = pp_worker_start(entry->key.kind, MyDatabaseId, entry->owner,
						   entry->key.source, &entry->params, sizeof(ConsumerParams),
						   entry->slot, &entry->handle);
	MemoryContextSwitchTo(old);
	entry->started_at = now;
	if (slot >= 0)
	{
		entry->slot = slot;
		entry->running = entry->params;
		entry->next_start = 0;
	}
	else
	{
		entry->handle = NULL;
		entry->next_start = TimestampTzPlusMilliseconds(now, pp_restart_delay(++entry->failures));
	}
}

/*
 * Are this version's catalogs there to read?  A database still at an older
 * version (before ALTER EXTENSION UPDATE) simply has no sources.
 */
static bool
catalogs_present(void)
{
	Oid			nsp;

	if (!pp_lock_extension())
		return false;
	nsp = get_namespace_oid("pipeline", true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("sources", nsp)) &&
		OidIsValid(get_relname_relid("sinks", nsp));
}

/* Read pipeline.sources: mark the consumers each active source wants. */
static void
read_sources(void)
{
	HASH_SEQ_STATUS status;
	ConsumerEntry *entry;

	hash_seq_init(&status, consumers);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->wanted = false;

	pp_worker_xact_start();
	if (!catalogs_present())
	{
		pp_worker_xact_commit();
		return;					/* nothing is wanted */
	}
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* consumers, sinks and, while some window exists, one maintainer */
	if (SPI_execute(psprintf("SELECT name, %s, consumers, config_version, %d FROM pipeline.sources "
							 "WHERE NOT paused UNION ALL "
							 "SELECT name, %s, 1, config_version, %d FROM pipeline.sinks "
							 "WHERE NOT paused%s",
							 pp_owner_name_sql("sources", ""), PP_WORKER_CONSUMER,
							 pp_owner_name_sql("sinks", ""), PP_WORKER_SINK,
							 OidIsValid(get_relname_relid("windows", get_namespace_oid("pipeline", false))) ?
							 psprintf(" UNION ALL SELECT 'windows', "
									  "(SELECT rolname::text FROM pg_catalog.pg_roles WHERE oid = 10), 1, 1, %d "
									  "WHERE EXISTS (SELECT FROM pipeline.windows)",
									  PP_WORKER_MAINTAINER) : ""),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.sources");

	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		Datum		owner_name = SPI_getbinval(tup, desc, 2, &isnull);
		Oid			owner = isnull ? InvalidOid : get_role_oid(TextDatumGetCString(owner_name), true);
		int			count = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		int			version = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		PipelineWorkerKind kind = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));

		if (!OidIsValid(owner))
			continue;			/* its owner was dropped */

		for (int i = 0; i < count; i++)
		{
			ConsumerKey key;
			bool		found;

			memset(&key, 0, sizeof(key));
			key.kind = kind;
			strlcpy(key.source, name, NAMEDATALEN);
			key.index = i;
			entry = hash_search(consumers, &key, HASH_ENTER, &found);
			if (!found)
			{
				entry->slot = -1;
				entry->handle = NULL;
				entry->failures = 0;
				entry->next_start = 0;
				memset(&entry->params, 0, sizeof(entry->params));
			}
			entry->wanted = true;
			entry->owner = owner;
			if (entry->params.config_version != version || entry->params.count != count)
			{
				/* a new definition: a fresh start, no backoff */
				strlcpy(entry->params.source, name, NAMEDATALEN);
				entry->params.index = i;
				entry->params.count = count;
				entry->params.config_version = version;
				entry->failures = 0;
				entry->next_start = 0;
			}
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
}

/*
 * pp_kafka_supervise
 *		Reconcile the consumers with pipeline.sources.  Returns the number of
 *		milliseconds until a restart is due, or -1.
 */
long
pp_kafka_supervise(void)
{
	HASH_SEQ_STATUS status;
	ConsumerEntry *entry;
	TimestampTz now;
	TimestampTz wake_at = 0;

	if (consumers == NULL)
	{
		HASHCTL		ctl;

		supervisor_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline consumers",
												   ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(ConsumerKey);
		ctl.entrysize = sizeof(ConsumerEntry);
		ctl.hcxt = supervisor_context;
		consumers = hash_create("pg_pipeline consumers", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	read_sources();
	now = GetCurrentTimestamp();

	hash_seq_init(&status, consumers);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		/* collect an exit */
		if (entry->handle != NULL)
		{
			pid_t		pid;
			bool		no_restart;

			if (GetBackgroundWorkerPid(entry->handle, &pid) != BGWH_STOPPED)
			{
				/* a sink may have new outbox rows to publish: wake it */
				if (entry->key.kind == PP_WORKER_SINK)
				{
					Latch	   *latch;

					LWLockAcquire(pp_shared->lock, LW_SHARED);
					latch = pp_shared->slots[entry->slot].latch;
					LWLockRelease(pp_shared->lock);
					if (latch)
						SetLatch(latch);
				}
				/* running: stop it if unwanted or outdated */
				if (!entry->wanted ||
					entry->running.config_version != entry->params.config_version ||
					entry->running.count != entry->params.count)
					TerminateBackgroundWorker(entry->handle);
				continue;
			}
			LWLockAcquire(pp_shared->lock, LW_SHARED);
			no_restart = pp_shared->slots[entry->slot].no_restart;
			LWLockRelease(pp_shared->lock);
			pfree(entry->handle);
			entry->handle = NULL;

			if (!entry->wanted || no_restart ||
				entry->running.config_version != entry->params.config_version)
			{
				pp_worker_release(entry->slot);
				entry->slot = -1;
				entry->failures = 0;
				entry->next_start = 0;
			}
			else
			{
				if (TimestampDifferenceExceeds(entry->started_at, now, pp_max_restart_delay_ms))
					entry->failures = 0;
				entry->next_start = TimestampTzPlusMilliseconds(now, pp_restart_delay(++entry->failures));
				pp_worker_backoff(entry->slot);
			}
		}

		if (!entry->wanted)
		{
			if (entry->handle == NULL)
				hash_search(consumers, &entry->key, HASH_REMOVE, NULL);
			continue;
		}
		if (entry->next_start <= now)
			start_consumer(entry, now);
		if (entry->handle == NULL && (wake_at == 0 || entry->next_start < wake_at))
			wake_at = entry->next_start;
	}

	if (wake_at == 0)
		return -1;
	return Max(1, TimestampDifferenceMilliseconds(now, wake_at));
}
