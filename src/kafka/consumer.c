/*-------------------------------------------------------------------------
 *
 * consumer.c
 *	  The consumer worker: keeps a source's target table filled from its
 *	  topic, exactly once.
 *
 * Design.  A source has `consumers` workers; worker i of n reads the
 * partitions p with p % n == i (new partitions are picked up every few
 * seconds without a restart) among those the source reads on this server:
 * its `partitions` part and the hand-over marks of its stored offsets
 * (partitions.c; several servers sharing a topic, docs/scale-out.md).  The worker connects as the source's owner,
 * so it can do nothing the owner could not.  It assigns its partitions
 * itself (no consumer-group rebalancing) at the offsets stored in
 * pipeline.source_offsets, then loops:
 *
 *	1. fill a batch: up to batch_rows messages or batch_bytes bytes, or
 *	   whatever came within batch_ms of the first message, held until the
 *	   batch ends (librdkafka prefetches one batch ahead meanwhile:
 *	   size_fetch_queue());
 *	2. one transaction: lock the source's row (FOR SHARE, so alter, pause
 *	   and reset wait for the batch and the batch sees their result), decode
 *	   every message into COPY input (decode.c), load it through the COPY
 *	   machinery (triggers, constraints, partition routing, multi-insert),
 *	   store bad messages as dead letters, and upsert the next offset of
 *	   every partition in the batch;
 *	3. commit; only then mirror the offsets to Kafka (for lag tools).
 *
 * Exactly once: rows and offsets commit together, and a restarted worker
 * seeks to the stored offsets, so a crash at any point neither loses nor
 * doubles a message.
 *
 * Bad messages without losing the batch (PostgreSQL 15 has no soft input
 * errors): messages that do not decode are set aside before loading; the
 * rest is loaded in a subtransaction and, only when that fails, split in
 * halves recursively until each failing message is alone.  A failing
 * message is handled by the source's on_error policy: dead_letter (the
 * raw payload, zstd-compressed, with the error), skip (a WARNING), or stop
 * (the batch is rolled back and the source is paused with the error).
 * An error of the target rather than of a message (load.c decides: by
 * SQLSTATE class, or every message failing alike) pauses the source the
 * same way whatever the policy, so skip and dead_letter never pass over
 * good messages.
 *
 * Errors of the worker itself (target dropped, no privilege) end it; the
 * coordinator restarts it with backoff and the error stays visible in
 * pipeline.workers and pipeline.source_status.  An unreachable broker or
 * topic does not end it: it keeps asking for metadata every few seconds
 * and shows librdkafka's complaint as its last error.  librdkafka's own threads never touch
 * PostgreSQL: its log and error callbacks are served from this process's
 * poll calls (log.queue), and every librdkafka call has a short timeout.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/copy.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/pmsignal.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

#define POLL_TIMEOUT_MS 100
#define METADATA_TIMEOUT_MS 2000
#define METADATA_INTERVAL_MS 5000
#define MAX_MESSAGE_BUFFER 1000000

typedef enum OnError
{
	ON_ERROR_DEAD_LETTER,
	ON_ERROR_SKIP,
	ON_ERROR_STOP
} OnError;

/* The source's definition, read at start. */
typedef struct SourceConfig
{
	char	   *server;
	char	   *topic;
	char	   *target;
	Oid			target_oid;		/* 0: by name (catalogs before 0.5.0) */
	SourceFormat format;
	char	   *target_column;
	OnError		on_error;
	Jsonb	   *properties;
	int			batch_rows;
	int			batch_bytes;
	int			batch_ms;
	char	   *start_from;
	bool		archive;
	PartitionSet partitions;	/* read on this server (partitions.c) */
	bool		has_handover;	/* source_offsets.handover exists (0.9.0) */
} SourceConfig;

static ConsumerParams params;
static SourceConfig config;
static rd_kafka_t *rk = NULL;
static rd_kafka_queue_t *queue = NULL;

/*
 * The records of the batch in flight.  Each points into its message,
 * held until the batch ends: the payload and key are read in place (no
 * copy), and the headers are parsed only when something asks for them (a
 * _headers column, a dead letter, the archive), because librdkafka
 * allocates for every message whose headers are looked at, even empty
 * ones.  librdkafka's destroy waits until every message is freed, so a
 * worker leaving mid-batch frees them first.
 */
static KafkaRecord *inflight = NULL;
static int	ninflight = 0;
static rd_kafka_topic_partition_list_t *assigned;	/* what we read */
static MemoryContext batch_context;
static bool wake_after_full_batch = false;	/* see size_fetch_queue() */

/* Does a jsonb object have this key?  (the source's own properties) */
static bool
jsonb_has_key(Jsonb *jb, const char *key)
{
	JsonbValue	k;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return false;
	k.type = jbvString;
	k.val.string.val = unconstify(char *, key);
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k) != NULL;
}

static rd_kafka_topic_partition_list_t *batch_offsets(KafkaRecord *items, int n);

/* ---- librdkafka plumbing ---- */

/* Report (once) what librdkafka complained about since the last call. */
static void
report_kafka_error(void)
{
	if (pp_kafka_error[0] == '\0')
		return;
	ereport(WARNING,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("source \"%s\": Kafka reported a problem", params.source),
			 errdetail("librdkafka: %s", pp_kafka_error)));
	pp_worker_record_error(MyPipelineWorker->slot, psprintf("Kafka: %s", pp_kafka_error));
	pp_kafka_error[0] = '\0';
}

static void
free_inflight(void)
{
	for (int i = 0; i < ninflight; i++)
	{
		if (inflight[i].msg)
			rd_kafka_message_destroy(unconstify(rd_kafka_message_t *, inflight[i].msg));
		inflight[i].msg = NULL;
	}
	ninflight = 0;
}

static void
destroy_kafka(int code, Datum arg)
{
	free_inflight();
	if (queue)
		rd_kafka_queue_destroy(queue);
	if (rk)
		rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	queue = NULL;
	rk = NULL;
}

/* ---- catalog access, each inside the caller's transaction ---- */

static char *
spi_text(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Lock the source's row and check it still wants this worker: returns
 * false when it was dropped, paused or changed (the coordinator starts
 * the right workers).
 */
static bool
lock_source(bool load)
{
	bool		isnull;

	if (!pp_kafka_lock_wanted(&params, "source",
							  psprintf("SELECT config_version, paused, server::text, topic, target, format, "
									   "target_column::text, on_error, properties, batch_rows, batch_bytes, "
									   "batch_ms, start_from, archive, %s, %s FROM pipeline.sources "
									   "WHERE name = $1 FOR SHARE",
									   pp_catalog_has_column("sources", "target_oid") ?
									   "target_oid" : "0::oid",
									   pp_catalog_has_column("sources", "partitions") ?
									   "partitions" : "NULL::text")))
		return false;

	if (load)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		char	   *on_error;

		config.server = spi_text(3);
		config.topic = spi_text(4);
		config.target = spi_text(5);
		config.format = pp_kafka_parse_format(spi_text(6));
		config.target_column = spi_text(7);
		on_error = spi_text(8);
		config.on_error = strcmp(on_error, "skip") == 0 ? ON_ERROR_SKIP :
			strcmp(on_error, "stop") == 0 ? ON_ERROR_STOP : ON_ERROR_DEAD_LETTER;
		config.properties = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 9, &isnull));
		config.batch_rows = Min(DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10, &isnull)),
								MAX_MESSAGE_BUFFER);
		config.batch_bytes = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 11, &isnull));
		config.batch_ms = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 12, &isnull));
		config.start_from = spi_text(13);
		config.archive = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 14, &isnull));
		config.target_oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 15, &isnull));
		if (isnull)
			config.target_oid = InvalidOid;
		pp_kafka_parse_partitions(spi_text(16), &config.partitions);
		config.has_handover = pp_catalog_has_column("source_offsets", "handover");
		MemoryContextSwitchTo(old);
	}
	return true;
}

/*
 * Stored next offset of a partition, or -1.  *handover (when asked for)
 * is its hand-over mark: "exported", "imported" or NULL.
 */
static int64
stored_offset(const char *topic, int partition, bool for_update, char **handover)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(params.source), Int32GetDatum(partition),
	CStringGetTextDatum(topic)};
	bool		isnull;

	if (SPI_execute_with_args(psprintf("SELECT next_offset, %s FROM pipeline.source_offsets "
									   "WHERE source = $1 AND partition = $2 AND topic = $3%s",
									   config.has_handover ? "handover" : "NULL::text",
									   for_update ? " FOR UPDATE" : ""),
							  3, argtypes, values, NULL, !for_update, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the offsets of source \"%s\"", params.source);
	if (handover)
		*handover = SPI_processed == 0 ? NULL : spi_text(2);
	if (SPI_processed == 0)
		return -1;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
store_offset(const char *topic, int partition, int64 next_offset, int64 high_watermark)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', high_watermark < 0 ? 'n' : ' ', ' '};

	if (plan == NULL)
	{
		Oid			argtypes[5] = {TEXTOID, INT4OID, INT8OID, INT8OID, TEXTOID};

		plan = SPI_prepare("INSERT INTO pipeline.source_offsets AS o "
						   "(source, partition, next_offset, high_watermark, topic) VALUES ($1, $2, $3, $4, $5) "
						   "ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, "
						   "high_watermark = excluded.high_watermark, updated_at = now()",
						   5, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the offset update");
	}
	values[0] = CStringGetTextDatum(params.source);
	values[1] = Int32GetDatum(partition);
	values[2] = Int64GetDatum(next_offset);
	values[3] = Int64GetDatum(high_watermark);
	values[4] = CStringGetTextDatum(topic);
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the offset of partition %d", partition);
}

static void
store_dead_letter(KafkaRecord *msg, const char *error, const char *sqlstate)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[11];
	char		nulls[11];
	if (plan == NULL)
	{
		Oid			argtypes[11] = {TEXTOID, TEXTOID, INT4OID, INT8OID, BYTEAOID,
		BYTEAOID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID};

		plan = SPI_prepare("INSERT INTO pipeline.dead_letters (source, topic, partition, \"offset\", key, "
						   "payload, payload_size, message_time, error, sqlstate, headers, owner) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, current_user)",
						   11, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the dead letter insert");
	}
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(params.source);
	values[1] = CStringGetTextDatum(msg->topic);
	values[2] = Int32GetDatum(msg->partition);
	values[3] = Int64GetDatum(msg->offset);
	if (msg->key)
	{
		bytea	   *key = palloc(VARHDRSZ + msg->key_len);

		SET_VARSIZE(key, VARHDRSZ + msg->key_len);
		memcpy(VARDATA(key), msg->key, msg->key_len);
		values[4] = PointerGetDatum(key);
	}
	else
		nulls[4] = 'n';
	if (msg->payload)
		values[5] = PointerGetDatum(pp_zstd_compress(msg->payload, msg->len));
	else
		nulls[5] = 'n';
	values[6] = Int32GetDatum((int32) msg->len);
	{
		TimestampTz ts;

		/* none, or one a timestamptz cannot hold: NULL */
		if (pp_kafka_timestamp_from_ms(msg->timestamp_ms, &ts))
			values[7] = TimestampTzGetDatum(ts);
		else
			nulls[7] = 'n';
	}
	values[8] = CStringGetTextDatum(error);
	if (sqlstate)
		values[9] = CStringGetTextDatum(sqlstate);
	else
		nulls[9] = 'n';
	if (pp_kafka_record_headers(msg))
		values[10] = PointerGetDatum(cstring_to_text_with_len(msg->headers, msg->headers_len));
	else
		nulls[10] = 'n';
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store a dead letter");
}

/* Why a batch stopped the source (the loader's handler fills it). */
typedef struct StopReason
{
	char	   *error;
	bool		target;			/* the target refused the batch */
} StopReason;

/*
 * The source is stopped by a bad message (on_error = stop) or by its
 * target, whatever the policy: pause it with the error.
 */
static void
stop_source(const StopReason *why)
{
	const char *error = why->error;

	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(params.source), CStringGetTextDatum(error)};

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("UPDATE pipeline.sources SET paused = true, error = $2, "
							  "config_version = config_version + 1 WHERE name = $1",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not stop source \"%s\"", params.source);
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
	if (why->target)
		ereport(LOG,
				(errmsg("source \"%s\" paused: its target refused a batch", params.source),
				 errdetail("%s", error),
				 errhint("Nothing was skipped and no offset moved. Fix the target, then SELECT pipeline.resume_source('%s').",
						 params.source)));
	else
		ereport(LOG,
				(errmsg("source \"%s\" stopped on a bad message (on_error = stop)", params.source),
				 errdetail("%s", error),
				 errhint("Fix the cause, then SELECT pipeline.resume_source('%s').", params.source)));
	pp_worker_record_error(MyPipelineWorker->slot, error);
}

/*
 * The source's on_error policy, for the loader.  A batch the target
 * refused (rec NULL) stops the source whatever the policy: neither
 * skipped nor dead-lettered, it loads again after resume_source().
 */
static bool
handle_bad_message(KafkaRecord *rec, const char *error, const char *sqlstate, void *arg)
{
	StopReason *stop = arg;

	if (rec == NULL)
	{
		stop->error = pstrdup(error);
		stop->target = true;
		return false;
	}
	switch (config.on_error)
	{
		case ON_ERROR_DEAD_LETTER:
			store_dead_letter(rec, error, sqlstate);
			break;
		case ON_ERROR_SKIP:
			ereport(WARNING,
					(errmsg("source \"%s\" skipped the message at partition %d offset " INT64_FORMAT,
							params.source, rec->partition, rec->offset),
					 errdetail("%s", error)));
			break;
		case ON_ERROR_STOP:
			stop->error = psprintf("partition %d offset " INT64_FORMAT ": %s",
								   rec->partition, rec->offset, error);
			return false;
	}
	return true;
}

/*
 * Ingest one batch in one transaction.  Returns false when this worker
 * must stop (the source changed, was paused, dropped or stopped).
 */
static bool
process_batch(KafkaRecord *items, int n, uint64 *bytes)
{
	RangeVar   *rv;
	Relation	rel;
	TargetLayout layout;
	StopReason	stop = {NULL, false};
	rd_kafka_topic_partition_list_t *offsets;

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());

	if (!lock_source(false))
	{
		SPI_finish();
		PopActiveSnapshot();
		AbortCurrentTransaction();
		return false;
	}

	if (OidIsValid(config.target_oid))
	{
		/* by OID: renamed, it is still the target; dropped, the source stops */
		LockRelationOid(config.target_oid, RowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(config.target_oid)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the target table of source \"%s\" (\"%s\") was dropped",
							params.source, config.target),
					 errhint("Create the table again, then SELECT pipeline.resume_source('%s').",
							 params.source)));
		rel = table_open(config.target_oid, NoLock);
	}
	else
	{
		rv = makeRangeVarFromNameList(pp_qualified_name_list(config.target));
		rel = table_openrv(rv, RowExclusiveLock);
	}
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel)),
				 errdetail("Source \"%s\" inserts as its owner.", params.source)));
	pp_kafka_layout_init(&layout, rel, config.format, config.target_column, config.topic);
	pp_kafka_layout_expectations(&layout, rel, params.source);

	*bytes = 0;
	for (int i = 0; i < n; i++)
		*bytes += items[i].len;

	if (!pp_kafka_load(rel, &layout, items, n, handle_bad_message, &stop, true))
	{
		table_close(rel, NoLock);
		SPI_finish();
		PopActiveSnapshot();
		AbortCurrentTransaction();
		stop_source(&stop);
		return false;
	}

	if (config.archive)
		pp_kafka_archive_batch(params.source, items, n);

	/* the next offset of every partition in the batch, with the rows */
	offsets = batch_offsets(items, n);
	for (int i = 0; i < offsets->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &offsets->elems[i];
		int64		first = (int64) (intptr_t) tp->opaque;
		char	   *handover;
		int64		stored = stored_offset(tp->topic, tp->partition, true, &handover);
		int64		low,
					high;

		/*
		 * Never by a stale owner: the partition was handed over to another
		 * server (export_offsets) after this worker assigned it.  The
		 * export also changed config_version, so lock_source() normally
		 * stops the worker first; this holds whatever the timing.
		 */
		if (handover != NULL && strcmp(handover, "exported") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("partition %d of topic \"%s\" was handed over by source \"%s\" at offset " INT64_FORMAT,
							tp->partition, tp->topic, params.source, stored),
					 errdetail("This batch is rolled back; the consumer restarts without the partition.")));

		/* never twice: someone else stored past this batch's start */
		if (stored > first)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("partition %d of topic \"%s\" was ingested by source \"%s\" up to offset " INT64_FORMAT " meanwhile",
							tp->partition, tp->topic, params.source, stored),
					 errdetail("This batch starts at offset " INT64_FORMAT "; it is rolled back and the consumer restarts from the stored offset.",
							   first)));
		if (rd_kafka_get_watermark_offsets(rk, tp->topic, tp->partition, &low, &high) !=
			RD_KAFKA_RESP_ERR_NO_ERROR)
			high = -1;
		store_offset(tp->topic, tp->partition, tp->offset, high);
	}
	rd_kafka_topic_partition_list_destroy(offsets);

	table_close(rel, NoLock);
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
	return true;
}

/* ---- partitions ---- */

/*
 * Does a topic belong to the source?  Its topic is one name, a list
 * "a,b,c", or a regular expression starting with '^' (PostgreSQL's).
 */
static bool
topic_wanted(const char *name)
{
	if (config.topic[0] == '^')
		return name[0] != '_' &&
			DatumGetBool(DirectFunctionCall2Coll(textregexeq, C_COLLATION_OID,
												 CStringGetTextDatum(name),
												 CStringGetTextDatum(config.topic)));
	else
	{
		char	   *copy = pstrdup(config.topic);
		char	   *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (strcmp(t, name) == 0)
				return true;
		return false;
	}
}

/*
 * Every (topic, partition) of the source the broker knows about now: for a
 * name or a list, those topics; for a pattern, every matching topic.
 * Problems (an unknown topic) are noted for the status, not raised.
 */
static rd_kafka_topic_partition_list_t *
discover_partitions(void)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *found = rd_kafka_topic_partition_list_new(16);
	rd_kafka_resp_err_t err;
	bool		pattern = (config.topic[0] == '^');

	if (pattern || strchr(config.topic, ',') != NULL)
		err = rd_kafka_metadata(rk, 1, NULL, &md, METADATA_TIMEOUT_MS);
	else
	{
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, config.topic, NULL);

		err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
		rd_kafka_topic_destroy(rkt);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(pp_kafka_error, sizeof(pp_kafka_error), "metadata of topic \"%s\": %s",
				 config.topic, rd_kafka_err2str(err));
		return found;
	}
	for (int t = 0; t < md->topic_cnt; t++)
	{
		const struct rd_kafka_metadata_topic *mt = &md->topics[t];

		if (!topic_wanted(mt->topic))
			continue;
		if (mt->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			snprintf(pp_kafka_error, sizeof(pp_kafka_error), "topic \"%s\": %s",
					 mt->topic, rd_kafka_err2str(mt->err));
			continue;
		}
		for (int p = 0; p < mt->partition_cnt; p++)
			rd_kafka_topic_partition_list_add(found, mt->topic, mt->partitions[p].id);
	}
	rd_kafka_metadata_destroy(md);
	return found;
}

/* Is this (topic, partition) one of this worker's?  Stable across topics. */
static bool
mine(const char *topic, int partition)
{
	uint32		h = hash_bytes((const unsigned char *) topic, strlen(topic));

	return (h + (uint32) partition) % (uint32) params.count == (uint32) params.index;
}

/*
 * Where a partition without a stored offset starts.  start_from applies to
 * the first assignment only (first = the source has no stored offset at
 * all); a partition found later starts at its beginning.
 */
static int64
start_offset(const char *topic, int partition, bool first)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	int64		offset;
	int64		ms;

	if (!first || strcmp(config.start_from, "earliest") == 0)
		return RD_KAFKA_OFFSET_BEGINNING;
	if (strcmp(config.start_from, "latest") == 0)
		return RD_KAFKA_OFFSET_END;

	/*
	 * A timestamp: ask the broker for the first offset at or after it.
	 * Checked again here (create_source checks it too): a value written
	 * straight into the catalog must not become a wrapped-around time.
	 */
	if (!pp_kafka_ms_from_timestamptz(DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																			  CStringGetDatum(config.start_from),
																			  ObjectIdGetDatum(InvalidOid),
																			  Int32GetDatum(-1))),
									  &ms))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_from \"%s\" of source \"%s\" is not a time Kafka can search for",
						config.start_from, params.source),
				 errhint("Use earliest, latest, or a finite time from 1970 on.")));
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = ms;
	err = rd_kafka_offsets_for_times(rk, list, METADATA_TIMEOUT_MS);
	offset = list->elems[0].offset;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		err = list->elems[0].err;
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not find the offset of %s in partition %d of topic \"%s\"",
						config.start_from, partition, topic),
				 errdetail("librdkafka: %s", rd_kafka_err2str(err))));
	return offset < 0 ? RD_KAFKA_OFFSET_END : offset;
}

/*
 * Does the source have a stored offset for any partition?  Until it has,
 * its partitions are being assigned for the first time.
 */
static bool
source_has_offsets(void)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(params.source)};

	/* hand-over rows (import_offsets, export_offsets) do not count */
	if (SPI_execute_with_args(config.has_handover ?
							  "SELECT 1 FROM pipeline.source_offsets WHERE source = $1 AND handover IS NULL LIMIT 1" :
							  "SELECT 1 FROM pipeline.source_offsets WHERE source = $1 LIMIT 1",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the offsets of source \"%s\"", params.source);
	return SPI_processed > 0;
}

/* Store a partition's first offset unless someone already stored one. */
static void
store_offset_if_absent(const char *topic, int partition, int64 next_offset)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(params.source), CStringGetTextDatum(topic),
	Int32GetDatum(partition), Int64GetDatum(next_offset)};

	if (SPI_execute_with_args("INSERT INTO pipeline.source_offsets (source, topic, partition, next_offset) "
							  "VALUES ($1, $2, $3, $4) ON CONFLICT (source, topic, partition) DO NOTHING",
							  4, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the offset of partition %d", partition);
}

/*
 * Assign the partitions of this worker that it does not read yet, at their
 * stored offsets.  Runs in its own transaction.
 *
 * A partition without a stored offset starts at start_from only in the
 * source's first assignment, while the source has no stored offset at all;
 * one found later (a partition added to a topic, a new topic of a list or
 * a pattern) starts at its beginning, as Flink does with discovered
 * partitions: 'latest' there would skip whatever was written to it before
 * the next metadata look-up.  For that rule to hold across workers and
 * restarts, the worker that makes the first assignment stores where every
 * partition found then starts, its own and those of the source's other
 * workers (unless they stored theirs already), in one transaction and in
 * (topic, partition) order, so that workers doing this at once wait for
 * each other without deadlocking.  Workers doing this at once may each
 * take it for the first assignment (neither sees the other's offsets
 * yet): each stores only where nothing is stored, so the first commit
 * wins for every partition and a stored offset never moves here.
 * reset_offsets(name, text) deletes every offset: the next assignment is
 * a first one again.
 */
static void
assign_new_partitions(void)
{
	rd_kafka_topic_partition_list_t *found = discover_partitions();
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(Max(found->cnt, 1));
	rd_kafka_error_t *error;
	bool		first;

	rd_kafka_topic_partition_list_sort(found, NULL, NULL);
	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	first = !source_has_offsets();
	for (int i = 0; i < found->cnt; i++)
	{
		const char *topic = found->elems[i].topic;
		int			p = found->elems[i].partition;
		bool		own = mine(topic, p);
		char	   *handover;
		int64		offset;

		if (own ? rd_kafka_topic_partition_list_find(assigned, topic, p) != NULL : !first)
			continue;
		offset = stored_offset(topic, p, false, &handover);
		/* another server's (its part, or handed over): not even stored */
		if (!pp_kafka_partition_read_here(&config.partitions, p, handover))
			continue;
		if (offset < 0)
		{
			/*
			 * Resolve where it starts and store it at once, so a restart
			 * before the first batch starts at the same place (not at a
			 * newer "latest"), and the first batch is checked like others.
			 */
			int64		low,
						high;

			offset = start_offset(topic, p, first);
			if ((offset == RD_KAFKA_OFFSET_BEGINNING || offset == RD_KAFKA_OFFSET_END) &&
				rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high,
												 METADATA_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
				offset = (offset == RD_KAFKA_OFFSET_BEGINNING) ? low : high;
			/* the first assignment is stored whole, or not at all */
			if (offset < 0 && first)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("could not find where partition %d of topic \"%s\" starts", p, topic),
						 errdetail("The watermark offsets of the partition could not be read.")));

			/*
			 * Never over an offset stored meanwhile: another worker of the
			 * source, assigning at the same time, may have committed this
			 * partition's offset after this transaction's snapshot was
			 * taken, and a 'latest' resolved now is later than its one:
			 * what was written in between would never be loaded.  The
			 * first to store wins; an owner then starts where the stored
			 * offset says, read with a new snapshot (FOR UPDATE).
			 */
			if (offset >= 0)
			{
				store_offset_if_absent(topic, p, offset);
				if (own)
				{
					offset = stored_offset(topic, p, true, &handover);
					if (offset < 0)
						elog(ERROR, "the offset of partition %d of topic \"%s\" was not stored",
							 p, topic);
					if (!pp_kafka_partition_read_here(&config.partitions, p, handover))
						continue;
				}
			}
		}
		if (own)
			rd_kafka_topic_partition_list_add(list, topic, p)->offset = offset;
	}
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
	rd_kafka_topic_partition_list_destroy(found);

	if (list->cnt > 0)
	{
		error = rd_kafka_incremental_assign(rk, list);
		if (error)
		{
			char	   *msg = pstrdup(rd_kafka_error_string(error));

			rd_kafka_error_destroy(error);
			rd_kafka_topic_partition_list_destroy(list);
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not assign the partitions of source \"%s\"", params.source),
					 errdetail("librdkafka: %s", msg)));
		}
		for (int i = 0; i < list->cnt; i++)
			rd_kafka_topic_partition_list_add(assigned, list->elems[i].topic,
											  list->elems[i].partition);
		ereport(pp_log_level,
				(errmsg("source \"%s\" reads %d more partition(s) of \"%s\"",
						params.source, list->cnt, config.topic)));
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* The next offset after a batch, per (topic, partition) it touched. */
static rd_kafka_topic_partition_list_t *
batch_offsets(KafkaRecord *items, int n)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(Max(assigned->cnt, 1));
	rd_kafka_topic_partition_t *tp = NULL;
	const char *tp_topic = NULL;

	for (int i = 0; i < n; i++)
	{
		/* runs of one partition are the rule: no look-up for those */
		if (tp == NULL || items[i].partition != tp->partition ||
			(items[i].topic != tp_topic && strcmp(items[i].topic, tp->topic) != 0))
		{
			tp = rd_kafka_topic_partition_list_find(list, items[i].topic, items[i].partition);
			tp_topic = items[i].topic;
		}

		if (tp == NULL)
		{
			tp = rd_kafka_topic_partition_list_add(list, items[i].topic, items[i].partition);
			tp->offset = items[i].offset + 1;
			tp->metadata = NULL;
			/* remember the batch's first offset there too */
			tp->opaque = (void *) (intptr_t) items[i].offset;
		}
		else
		{
			tp->offset = Max(tp->offset, items[i].offset + 1);
			if (items[i].offset < (int64) (intptr_t) tp->opaque)
				tp->opaque = (void *) (intptr_t) items[i].offset;
		}
	}
	return list;
}

/* Mirror the stored offsets to Kafka, for lag tools only. */
static void
mirror_offsets(KafkaRecord *items, int n)
{
	rd_kafka_topic_partition_list_t *list = batch_offsets(items, n);

	if (list->cnt > 0)
		(void) rd_kafka_commit(rk, list, 1);	/* async: failures do not matter */
	rd_kafka_topic_partition_list_destroy(list);
}

/* ---- the fetch queue ---- */

/* What sizes librdkafka's fetch queue: set one, and the user owns them all. */
static const char *const fetch_queue_properties[] = {
	"queued.min.messages", "queued.max.messages.kbytes",
	"fetch.max.bytes", "fetch.message.max.bytes"
};

/* An integer property of conf, or -1. */
static int64
conf_int(rd_kafka_conf_t *conf, const char *name)
{
	char		value[64];
	size_t		len = sizeof(value);

	if (rd_kafka_conf_get(conf, name, value, &len) != RD_KAFKA_CONF_OK)
		return -1;
	return strtoll(value, NULL, 10);
}

static void
conf_set_int(rd_kafka_conf_t *conf, const char *name, int64 value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, psprintf(INT64_FORMAT, value), errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK)
		elog(ERROR, "could not set %s to " INT64_FORMAT ": %s", name, value, errstr);
}

/*
 * Size librdkafka's fetch queue from the source's batch limits, unless the
 * user set one of fetch_queue_properties (on the server, the user mapping
 * or the source: any value other than librdkafka's default counts).
 *
 * librdkafka fetches ahead into a queue until it holds queued.min.messages
 * messages or queued.max.messages.kbytes of (uncompressed) payload; one
 * fetch response, at most fetch.max.bytes of compressed data, can overshoot
 * that.  Each message costs librdkafka a few hundred bytes besides its
 * payload, and the batch being loaded keeps its messages until it commits.
 * With librdkafka's defaults and 0.8's queued.min.messages of 1,000,000, a
 * consumer behind a backlog of small messages held about 300 MB.  Now the
 * queue holds one batch ahead: batch_rows messages or batch_bytes of
 * payload, fetched in responses of batch_bytes / 16 (never less than
 * message.max.bytes, which librdkafka requires), a quarter of that per
 * partition.
 *
 * A queue that small fills up behind a backlog, and librdkafka before 2.2
 * then stops fetching until something wakes its broker thread, or for up
 * to a second: the consumer would wait.  librdkafka 2.2 and later take
 * fetch.queue.backoff.ms (how soon to look again); before, the consumer
 * wakes the fetcher itself after each full batch (wake_fetcher()).
 */
static void
size_fetch_queue(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_t *defaults = rd_kafka_conf_new();
	char		errstr[512];
	bool		user_set = false;
	int64		fetch_max;

	for (size_t i = 0; i < lengthof(fetch_queue_properties); i++)
		if (conf_int(conf, fetch_queue_properties[i]) !=
			conf_int(defaults, fetch_queue_properties[i]))
			user_set = true;
	rd_kafka_conf_destroy(defaults);
	if (user_set)
		return;

	/* librdkafka wants message.max.bytes <= it <= receive.message.max.bytes - 512 */
	fetch_max = Min(config.batch_bytes / 16, conf_int(conf, "receive.message.max.bytes") - 512);
	fetch_max = Max(fetch_max, conf_int(conf, "message.max.bytes"));
	conf_set_int(conf, "queued.min.messages", config.batch_rows);
	conf_set_int(conf, "queued.max.messages.kbytes", Max(config.batch_bytes / 1024, 1));
	conf_set_int(conf, "fetch.max.bytes", fetch_max);
	conf_set_int(conf, "fetch.message.max.bytes", Max(fetch_max / 4, 65536));
	wake_after_full_batch = rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "10", errstr,
											  sizeof(errstr)) != RD_KAFKA_CONF_OK;
}

/*
 * Wake librdkafka's fetcher (before 2.2; see size_fetch_queue()).  After a
 * full batch its queue may have been full, and its broker threads then
 * sleep for up to a second.  Any request to a partition's leader wakes
 * that leader's thread, which then sees the room the batch made: ask for
 * the latest offsets of the assigned partitions (one request per leader,
 * sent at once).  The answer does not matter and is not waited for: with
 * no time to wait, librdkafka sends the requests and returns, and drops
 * the answers when they come.
 */
static void
wake_fetcher(void)
{
	rd_kafka_topic_partition_list_t *list;

	if (assigned->cnt == 0)
		return;
	list = rd_kafka_topic_partition_list_copy(assigned);
	for (int i = 0; i < list->cnt; i++)
		list->elems[i].offset = RD_KAFKA_OFFSET_END;	/* "latest" */
	(void) rd_kafka_offsets_for_times(rk, list, 0);
	rd_kafka_topic_partition_list_destroy(list);
}

/* ---- the worker ---- */

static void
create_consumer(void)
{
	rd_kafka_conf_t *conf;
	char		errstr[512];
	char		value[256];
	size_t		len = sizeof(value);

	pp_worker_xact_start();
	conf = pp_kafka_build_conf(config.server, GetUserId(), config.properties, "source", false);
	pp_worker_xact_commit();

	/* exactly-once needs these; the user cannot set them (fdw.c) */
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof(errstr));
	if (rd_kafka_conf_get(conf, "group.id", value, &len) != RD_KAFKA_CONF_OK || value[0] == '\0')
		rd_kafka_conf_set(conf, "group.id", psprintf("pg_pipeline.%s", params.source),
						  errstr, sizeof(errstr));
	/* stored offsets older than the retention: keep what is left, not skip it */
	len = sizeof(value);
	if (rd_kafka_conf_get(conf, "auto.offset.reset", value, &len) == RD_KAFKA_CONF_OK &&
		strcmp(value, "largest") == 0 && !jsonb_has_key(config.properties, "auto.offset.reset"))
		rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
	size_fetch_queue(conf);
	rd_kafka_conf_set_error_cb(conf, pp_kafka_error_cb);

	rk = pp_kafka_new_client(conf, RD_KAFKA_CONSUMER, "source", params.source);
	before_shmem_exit(destroy_kafka, 0);
	rd_kafka_poll_set_consumer(rk);
	queue = rd_kafka_queue_get_consumer(rk);
}

/*
 * Fill items[] with the next batch; returns how many, and in *full whether
 * it reached batch_rows or batch_bytes.  Waits at most POLL_TIMEOUT_MS when
 * nothing comes, so interrupts are seen promptly.
 */
static int
fill_batch(KafkaRecord *items, bool *full)
{
	rd_kafka_message_t **msgs = palloc(sizeof(rd_kafka_message_t *) * config.batch_rows);
	int			n = 0;
	int64		bytes = 0;
	TimestampTz deadline = 0;

	while (n < config.batch_rows && bytes < config.batch_bytes)
	{
		int			timeout = POLL_TIMEOUT_MS;
		int			want = config.batch_rows - n;
		ssize_t		got;

		/*
		 * librdkafka waits its whole timeout for a full request: wait for
		 * one message first, then for the rest until batch_ms after it.
		 */
		if (deadline == 0)
			want = 1;
		else
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

			if (left <= 0)
				break;
			timeout = (int) left;
		}
		got = rd_kafka_consume_batch_queue(queue, timeout, msgs, want);
		for (ssize_t i = 0; i < got; i++)
		{
			rd_kafka_message_t *msg = msgs[i];

			if (msg->err)
			{
				if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
					snprintf(pp_kafka_error, sizeof(pp_kafka_error), "%s", rd_kafka_message_errstr(msg));
				rd_kafka_message_destroy(msg);
				continue;
			}
			pp_kafka_record_from_message(&items[n], msg);
			bytes += msg->len;
			n++;
			inflight = items;
			ninflight = n;
		}
		if (n > 0 && deadline == 0)
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), config.batch_ms);
		if (n == 0)
			break;				/* nothing within the poll timeout */
		CHECK_FOR_INTERRUPTS();
	}
	pfree(msgs);
	*full = (n >= config.batch_rows || bytes >= config.batch_bytes);
	return n;
}

/*
 * pp_kafka_consumer_main
 *		Main loop of a consumer worker.
 */
void
pp_kafka_consumer_main(PipelineWorkerArgs *args)
{
	KafkaRecord  *items;
	TimestampTz next_metadata = 0;
	bool		wanted;

	memcpy(&params, args->params, sizeof(params));
	pgstat_report_appname(psprintf("pg_pipeline source %s", params.source));

	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	wanted = lock_source(true);
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
	if (!wanted)
	{
		pp_worker_set_no_restart();
		proc_exit(0);
	}
	pp_worker_announce(psprintf("source \"%s\" (%d of %d)", params.source,
								params.index + 1, params.count));

	create_consumer();
	assigned = rd_kafka_topic_partition_list_new(16);
	batch_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline batch",
										  ALLOCSET_DEFAULT_SIZES);
	items = MemoryContextAllocZero(TopMemoryContext, sizeof(KafkaRecord) * config.batch_rows);

	for (;;)
	{
		int			n;
		bool		full;
		uint64		bytes = 0;
		TimestampTz batch_start;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		/* it waits in librdkafka, not on its latch: look for itself */
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (GetCurrentTimestamp() >= next_metadata)
		{
			pgstat_report_activity(STATE_RUNNING, "reading topic metadata");
			assign_new_partitions();
			next_metadata = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), METADATA_INTERVAL_MS);
		}

		pgstat_report_activity(STATE_IDLE, NULL);
		old = MemoryContextSwitchTo(batch_context);
		n = fill_batch(items, &full);
		report_kafka_error();
		/* librdkafka refills its queue while this batch loads */
		if (full && wake_after_full_batch)
			wake_fetcher();
		if (n == 0)
		{
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_context);
			continue;
		}

		batch_start = GetCurrentTimestamp();
		pgstat_report_activity(STATE_RUNNING, "ingesting a batch");
		wanted = process_batch(items, n, &bytes);
		MemoryContextSwitchTo(old);
		if (wanted)
		{
			mirror_offsets(items, n);
			pp_worker_report_progress(n, bytes, batch_start);
		}
		free_inflight();
		MemoryContextReset(batch_context);
		if (!wanted)
		{
			/* the coordinator starts whatever the source now needs */
			pp_worker_set_no_restart();
			break;
		}
	}
	proc_exit(0);
}
