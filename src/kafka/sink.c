/*-------------------------------------------------------------------------
 *
 * sink.c
 *	  The sink worker: publishes the committed rows of pipeline.outbox to
 *	  a topic, each exactly once.
 *
 * Only committed rows are ever visible to the worker, so nothing of an
 * aborted transaction is sent.  Each message is published with an
 * idempotent, zstd-compressing producer and leaves the outbox only after
 * Kafka acknowledged it.  What makes a restart neither lose nor repeat a
 * message is the sequence number:
 *
 *	1. in one transaction, the next batch of waiting rows gets increasing
 *	   sequence numbers and a fixed partition (from its key, or round
 *	   robin), stored in the rows and in pipeline.sink_progress;
 *	2. the rows are produced in sequence order to their partitions, each
 *	   with a header pg_pipeline_seq, and the worker waits for every
 *	   acknowledgement;
 *	3. in a second transaction the acknowledged rows are deleted.
 *
 * A worker killed between 2 and 3 leaves sent rows in the outbox.  At
 * start, the worker therefore reads the last message of every partition:
 * the idempotent producer keeps each partition in order, so every row of
 * that partition with a sequence number up to that message's was
 * delivered, and is deleted instead of being sent again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

#define SEQ_HEADER "pg_pipeline_seq"
#define FLUSH_POLL_MS 100
#define TAIL_TIMEOUT_MS 5000

static ConsumerParams params;	/* the sink's name travels as "source" */
static char *server;
static char *topic;
static Jsonb *properties;
static int	batch_rows;
static int	npartitions;
static rd_kafka_t *producer = NULL;
static int	failed_deliveries;
static char delivery_error[512];
static MemoryContext batch_context;	/* the rows of the batch in flight */

static void
destroy_producer(int code, Datum arg)
{
	if (producer)
		rd_kafka_destroy(producer);
	producer = NULL;
}

/* served from our own poll calls, never from librdkafka's threads */
static void
delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	if (msg->err)
	{
		failed_deliveries++;
		strlcpy(delivery_error, rd_kafka_err2str(msg->err), sizeof(delivery_error));
	}
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		strlcpy(delivery_error, buf, sizeof(delivery_error));
}

static void
begin(void)
{
	pp_worker_xact_start();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	pp_worker_xact_commit();
}

/* Lock the sink's row; false when it changed, was paused or dropped. */
static bool
lock_sink(bool load)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(params.source)};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	if (SPI_execute_with_args("SELECT config_version, paused, server::text, topic, properties, batch_rows "
							  "FROM pipeline.sinks WHERE name = $1 FOR SHARE",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read sink \"%s\"", params.source);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)) != params.config_version ||
		DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull)))
		return false;
	if (load)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		server = SPI_getvalue(tup, desc, 3);
		topic = SPI_getvalue(tup, desc, 4);
		properties = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
		batch_rows = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		MemoryContextSwitchTo(old);
	}
	return true;
}

static rd_kafka_conf_t *
sink_conf(void)
{
	rd_kafka_conf_t *conf;

	pp_worker_xact_start();
	conf = pp_kafka_build_conf(server, GetUserId(), properties, "sink", false);
	pp_worker_xact_commit();
	return conf;
}

static void
create_producer(void)
{
	rd_kafka_conf_t *conf = sink_conf();
	char		errstr[512];

	rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "compression.codec", "zstd", errstr, sizeof(errstr));
	rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
	producer = pp_kafka_new_client(conf, RD_KAFKA_PRODUCER, log_cb, "sink", params.source);
	before_shmem_exit(destroy_producer, 0);
}

/* The topic's partition count; retries (interruptibly) until known. */
static int
partition_count(void)
{
	for (;;)
	{
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, topic, NULL);
		const struct rd_kafka_metadata *md = NULL;
		int			count = -1;

		if (rd_kafka_metadata(producer, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			count = md->topics[0].partition_cnt;
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
		if (count > 0)
			return count;
		pp_worker_record_error(MyPipelineWorker->slot,
							   psprintf("Kafka: no metadata for topic \"%s\" yet", topic));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * The sequence number of the last message of a partition (0 when empty
 * or not ours), read with a short-lived consumer.
 */
static int64
tail_seq(rd_kafka_t *consumer, int partition)
{
	int64		low,
				high,
				seq = 0;
	rd_kafka_topic_partition_list_t *list;
	TimestampTz deadline;
	rd_kafka_resp_err_t err;

	err = rd_kafka_query_watermark_offsets(consumer, topic, partition, &low, &high, TAIL_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read the end of partition %d of topic \"%s\"", partition, topic),
				 errdetail("librdkafka: %s", rd_kafka_err2str(err))));
	if (high <= low)
		return 0;

	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = high - 1;
	rd_kafka_assign(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), TAIL_TIMEOUT_MS);
	while (GetCurrentTimestamp() < deadline)
	{
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, FLUSH_POLL_MS);
		rd_kafka_headers_t *hdrs;
		const void *value;
		size_t		size;

		CHECK_FOR_INTERRUPTS();
		if (msg == NULL)
			continue;
		if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR && msg->partition == partition &&
			rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			rd_kafka_header_get_last(hdrs, SEQ_HEADER, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			value != NULL && size < 32)
			seq = strtoi64(pnstrdup(value, size), NULL, 10);
		rd_kafka_message_destroy(msg);
		rd_kafka_assign(consumer, NULL);
		return seq;
	}
	rd_kafka_assign(consumer, NULL);
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("could not read the last message of partition %d of topic \"%s\"", partition, topic)));
	return 0;
}

/*
 * After a restart: rows that were sent before the worker stopped (their
 * sequence number is at most the last one in their partition) are done.
 */
static void
forget_delivered(void)
{
	rd_kafka_conf_t *conf = sink_conf();
	char		errstr[512];
	rd_kafka_t *consumer;
	int64	   *tails = palloc0(sizeof(int64) * npartitions);

	rd_kafka_conf_set(conf, "group.id", psprintf("pg_pipeline.sink.%s", params.source), errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
	consumer = pp_kafka_new_client(conf, RD_KAFKA_CONSUMER, log_cb, "sink", params.source);
	PG_TRY();
	{
		for (int p = 0; p < npartitions; p++)
			tails[p] = tail_seq(consumer, p);
	}
	PG_FINALLY();
	{
		rd_kafka_destroy(consumer);
	}
	PG_END_TRY();

	begin();
	for (int p = 0; p < npartitions; p++)
	{
		Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
		Datum		values[3] = {CStringGetTextDatum(params.source), Int32GetDatum(p), Int64GetDatum(tails[p])};

		if (tails[p] <= 0)
			continue;
		if (SPI_execute_with_args("WITH gone AS (DELETE FROM pipeline.outbox WHERE sink = $1 "
								  "AND partition = $2 AND seq <= $3 RETURNING 1) "
								  "UPDATE pipeline.sink_progress SET published = published + "
								  "(SELECT count(*) FROM gone), updated_at = now() WHERE sink = $1",
								  3, argtypes, values, NULL, false, 0) < 0)
			elog(ERROR, "could not forget the delivered messages of sink \"%s\"", params.source);
	}
	commit();
}

typedef struct OutboxRow
{
	int64		seq;
	int32		partition;
	char	   *key;
	char	   *payload;
	Jsonb	   *headers;
} OutboxRow;

/*
 * Take the next batch: rows already numbered (sent before a failure)
 * first, then new rows, numbered now.  Returns how many; 0 when the
 * outbox is empty, -1 when the worker must stop.
 */
static int
take_batch(OutboxRow *rows)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(params.source), Int32GetDatum(batch_rows)};
	int			n;
	int64		last_seq;
	bool		isnull;

	begin();
	if (!lock_sink(false))
	{
		commit();
		return -1;
	}
	if (SPI_execute_with_args("SELECT last_seq FROM pipeline.sink_progress WHERE sink = $1 FOR UPDATE",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "sink \"%s\" has no progress row", params.source);
	last_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (SPI_execute_with_args("SELECT id, seq, partition, key, payload, headers FROM pipeline.outbox "
							  "WHERE sink = $1 ORDER BY seq NULLS LAST, id LIMIT $2 FOR UPDATE",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox of sink \"%s\"", params.source);
	n = (int) SPI_processed;
	{
		SPITupleTable *tt = SPI_tuptable;
		MemoryContext old;
		int64	   *ids;

		MemoryContextReset(batch_context);
		old = MemoryContextSwitchTo(batch_context);
		ids = palloc(sizeof(int64) * Max(n, 1));

		for (int i = 0; i < n; i++)
		{
			HeapTuple	tup = tt->vals[i];
			Datum		d;

			ids[i] = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
			d = SPI_getbinval(tup, tt->tupdesc, 2, &isnull);
			rows[i].seq = isnull ? 0 : DatumGetInt64(d);
			d = SPI_getbinval(tup, tt->tupdesc, 3, &isnull);
			rows[i].partition = isnull ? -1 : DatumGetInt32(d);
			rows[i].key = SPI_getvalue(tup, tt->tupdesc, 4);
			rows[i].payload = SPI_getvalue(tup, tt->tupdesc, 5);
			d = SPI_getbinval(tup, tt->tupdesc, 6, &isnull);
			rows[i].headers = isnull ? NULL : DatumGetJsonbPCopy(d);
		}
		MemoryContextSwitchTo(old);

		/* number the new ones and fix their partition */
		for (int i = 0; i < n; i++)
		{
			Oid			uargtypes[3] = {INT8OID, INT8OID, INT4OID};
			Datum		uvalues[3];

			if (rows[i].seq != 0)
				continue;
			rows[i].seq = ++last_seq;
			rows[i].partition = rows[i].key ?
				(int) (hash_bytes((const unsigned char *) rows[i].key, strlen(rows[i].key)) % npartitions) :
				(int) (rows[i].seq % npartitions);
			uvalues[0] = Int64GetDatum(ids[i]);
			uvalues[1] = Int64GetDatum(rows[i].seq);
			uvalues[2] = Int32GetDatum(rows[i].partition);
			if (SPI_execute_with_args("UPDATE pipeline.outbox SET seq = $2, partition = $3 WHERE id = $1",
									  3, uargtypes, uvalues, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not number an outbox row");
		}
	}
	{
		Oid			pargtypes[2] = {TEXTOID, INT8OID};
		Datum		pvalues[2] = {CStringGetTextDatum(params.source), Int64GetDatum(last_seq)};

		if (SPI_execute_with_args("UPDATE pipeline.sink_progress SET last_seq = $2 WHERE sink = $1",
								  2, pargtypes, pvalues, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the progress of sink \"%s\"", params.source);
	}
	commit();
	return n;
}

/* Produce the batch and wait for every acknowledgement; false on failure. */
static bool
send_batch(OutboxRow *rows, int n)
{
	failed_deliveries = 0;
	delivery_error[0] = '\0';
	for (int i = 0; i < n; i++)
	{
		rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
		char		seqtext[32];
		rd_kafka_resp_err_t err;

		snprintf(seqtext, sizeof(seqtext), INT64_FORMAT, rows[i].seq);
		rd_kafka_header_add(hdrs, SEQ_HEADER, -1, seqtext, -1);
		if (rows[i].headers && !JB_ROOT_IS_SCALAR(rows[i].headers))
		{
			JsonbIterator *it = JsonbIteratorInit(&rows[i].headers->root);
			JsonbValue	v;
			JsonbIteratorToken tok;
			char	   *name = NULL;

			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				if (tok == WJB_KEY)
					name = pnstrdup(v.val.string.val, v.val.string.len);
				else if (tok == WJB_VALUE && v.type == jbvString)
					rd_kafka_header_add(hdrs, name, -1, v.val.string.val, v.val.string.len);
				else if (tok == WJB_VALUE && v.type == jbvNull)
					rd_kafka_header_add(hdrs, name, -1, NULL, 0);
				else if (tok == WJB_VALUE && v.type == jbvBool)
					rd_kafka_header_add(hdrs, name, -1, v.val.boolean ? "true" : "false", -1);
				else if (tok == WJB_VALUE && v.type == jbvNumeric)
					rd_kafka_header_add(hdrs, name, -1,
										DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v.val.numeric))), -1);
			}
		}
		for (;;)
		{
			err = rd_kafka_producev(producer,
									RD_KAFKA_V_TOPIC(topic),
									RD_KAFKA_V_PARTITION(rows[i].partition),
									RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
									RD_KAFKA_V_VALUE(rows[i].payload, rows[i].payload ? strlen(rows[i].payload) : 0),
									RD_KAFKA_V_KEY(rows[i].key, rows[i].key ? strlen(rows[i].key) : 0),
									RD_KAFKA_V_HEADERS(hdrs),
									RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(producer, FLUSH_POLL_MS);
			CHECK_FOR_INTERRUPTS();
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			rd_kafka_headers_destroy(hdrs);
			strlcpy(delivery_error, rd_kafka_err2str(err), sizeof(delivery_error));
			return false;
		}
	}
	/* wait for the acknowledgements, interruptibly */
	while (rd_kafka_outq_len(producer) > 0)
	{
		rd_kafka_poll(producer, FLUSH_POLL_MS);
		CHECK_FOR_INTERRUPTS();
	}
	return failed_deliveries == 0;
}

/* The batch is acknowledged: its rows leave the outbox. */
static void
finish_batch(OutboxRow *rows, int n)
{
	Oid			argtypes[4] = {TEXTOID, INT8OID, INT8OID, INT8OID};
	Datum		values[4];
	int64		lo = PG_INT64_MAX,
				hi = 0;

	for (int i = 0; i < n; i++)
	{
		lo = Min(lo, rows[i].seq);
		hi = Max(hi, rows[i].seq);
	}
	values[0] = CStringGetTextDatum(params.source);
	values[1] = Int64GetDatum(lo);
	values[2] = Int64GetDatum(hi);
	values[3] = Int64GetDatum(n);
	begin();
	if (SPI_execute_with_args("DELETE FROM pipeline.outbox WHERE sink = $1 AND seq BETWEEN $2 AND $3",
							  3, argtypes, values, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("UPDATE pipeline.sink_progress SET published = published + $4, "
							  "updated_at = now() WHERE sink = $1",
							  4, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not finish a batch of sink \"%s\"", params.source);
	commit();
}

/*
 * pp_kafka_sink_main
 *		Main loop of a sink worker.
 */
void
pp_kafka_sink_main(PipelineWorkerArgs *args)
{
	OutboxRow  *rows;
	bool		wanted;

	memcpy(&params, args->params, sizeof(params));
	pgstat_report_appname(psprintf("pg_pipeline sink %s", params.source));

	begin();
	wanted = lock_sink(true);
	commit();
	if (!wanted)
	{
		pp_worker_set_no_restart();
		proc_exit(0);
	}
	pp_worker_announce(psprintf("sink \"%s\"", params.source));

	create_producer();
	npartitions = partition_count();
	pgstat_report_activity(STATE_RUNNING, "finding what was already published");
	forget_delivered();
	rows = MemoryContextAllocZero(TopMemoryContext, sizeof(OutboxRow) * batch_rows);
	batch_context = AllocSetContextCreate(TopMemoryContext, "pg_pipeline sink batch",
										  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			n;
		TimestampTz start;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		pgstat_report_activity(STATE_RUNNING, "publishing");
		start = GetCurrentTimestamp();
		n = take_batch(rows);
		if (n < 0)
		{
			pp_worker_set_no_restart();
			break;
		}
		if (n > 0)
		{
			uint64		bytes = 0;

			if (!send_batch(rows, n))
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("sink \"%s\" could not publish to topic \"%s\"", params.source, topic),
						 errdetail("librdkafka: %s", delivery_error),
						 errhint("The messages stay in pipeline.outbox; the sink restarts and sends them once.")));
			finish_batch(rows, n);
			for (int i = 0; i < n; i++)
				bytes += rows[i].payload ? strlen(rows[i].payload) : 0;
			pp_worker_report_progress(n, bytes, start);
			continue;			/* more may be waiting */
		}
		/* empty: sleep until an outbox insert commits (the coordinator wakes us) */
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pp_naptime_ms, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
		rd_kafka_poll(producer, 0);
	}
	proc_exit(0);
}
