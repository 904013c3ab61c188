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
 * start, the worker therefore looks for its own last message in every
 * partition that has such rows: the idempotent producer keeps each
 * partition in order, so every row of that partition with a sequence
 * number up to that message's was delivered, and is deleted instead of
 * being sent again.
 *
 * Its own messages, not anyone's.  Whoever may write to the topic can add
 * a message with any pg_pipeline_seq header: trusted, a high number would
 * make the worker delete rows it never sent, and any foreign message at
 * the end of a partition would hide the worker's last one.  So each
 * message also carries pg_pipeline_sig, an HMAC-SHA256 (128 bits, in hex)
 * of its topic, partition and sequence number under a key only the
 * database server can compute:
 *
 *	key = HMAC-SHA256(the cluster's mock authentication nonce,
 *					  "pg_pipeline sink" | database OID | sink name | created_at)
 *
 * The nonce is 32 random bytes that initdb writes into pg_control (the
 * secret behind SCRAM's answers for unknown roles); no SQL function shows
 * it, and HMAC outputs do not reveal it.  Physical standbys share it, so a
 * promoted standby recognises the messages its primary sent.  The sink's
 * name and created_at (the clock time of its insert, since 0.5.0: a drop
 * and a create in one transaction differ) make each incarnation of a sink
 * its own key, so the
 * messages of a dropped sink of the same name, or of another sink on the
 * same topic, are not taken for its own.  The restart check reads windows
 * of growing size backwards from the end of the partition until one holds
 * a message whose signature matches, and trusts only that message's
 * number.  A copied genuine message says nothing false (its rows were
 * delivered), and no one without the key can sign another number.  What
 * this costs: a new cluster (pg_upgrade, dump and restore) has a new nonce,
 * so rows sent but not yet deleted when the old one stopped are sent once
 * more; nothing is lost.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/hmac.h"
#include "common/sha2.h"
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
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

#define SEQ_HEADER "pg_pipeline_seq"
#define SIG_HEADER "pg_pipeline_sig"
#define SIG_BYTES 16			/* of the HMAC-SHA256, shown in hex */
#define FLUSH_POLL_MS 100
#define TAIL_TIMEOUT_MS 5000
#define UNACKED_REPORT_MS 5000	/* a batch unacknowledged this long is reported */

static ConsumerParams params;	/* the sink's name travels as "source" */
static char *server;
static char *topic;
static Jsonb *properties;
static int	batch_rows;
static int	npartitions;
static rd_kafka_t *producer = NULL;
static int	failed_deliveries;
static char delivery_error[512];	/* of a failed delivery report */
static TimestampTz reported_at = 0;	/* last report_unpublished(), 0: none */
static MemoryContext batch_context;	/* the rows of the batch in flight */
static uint8 sink_key[PG_SHA256_DIGEST_LENGTH];	/* signs the messages */

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

/*
 * While the sink cannot publish, say so where users look, as a source
 * does: "why" (librdkafka's latest complaint when it made one) goes into
 * the worker's last_error, again every second for as long as it lasts, so
 * pipeline.sink_status shows "error" until a delivery report confirms a
 * batch (which moves the slot's last_batch_at past it).  One WARNING in
 * the server log per episode.
 */
static void
report_unpublished(const char *why)
{
	TimestampTz now = GetCurrentTimestamp();
	char		message[PP_MAX_ERROR_LEN];

	if (!TimestampDifferenceExceeds(reported_at, now, 1000))
		return;
	snprintf(message, sizeof(message), "sink \"%s\" cannot publish to topic \"%s\": %s%s%s",
			 params.source, topic, why,
			 pp_kafka_error[0] ? "; librdkafka: " : "", pp_kafka_error);
	if (reported_at == 0)
		ereport(WARNING,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("sink \"%s\" cannot publish to topic \"%s\"", params.source, topic),
				 errdetail("%s%s%s", why, pp_kafka_error[0] ? "; librdkafka: " : "", pp_kafka_error),
				 errhint("The messages wait in pipeline.outbox and are sent once the broker answers.")));
	pp_worker_record_error(MyPipelineWorker->slot, message);
	reported_at = now;
}

/* librdkafka complained while the sink was idle: show it, once. */
static void
report_idle_complaint(void)
{
	char		message[PP_MAX_ERROR_LEN];

	if (pp_kafka_error[0] == '\0')
		return;
	snprintf(message, sizeof(message), "Kafka: %s", pp_kafka_error);
	pp_worker_record_error(MyPipelineWorker->slot, message);
	pp_kafka_error[0] = '\0';
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

/*
 * HMAC-SHA256 of data under key into out (PG_SHA256_DIGEST_LENGTH bytes).
 * Call inside a transaction: the context belongs to its resource owner.
 */
static void
hmac_sha256(const uint8 *key, size_t keylen, const void *data, size_t len, uint8 *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);

	if (ctx == NULL)
		elog(ERROR, "out of memory for an HMAC");
	if (pg_hmac_init(ctx, key, keylen) < 0 ||
		pg_hmac_update(ctx, data, len) < 0 ||
		pg_hmac_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
}

/* The key of this incarnation of the sink (see the file header). */
static void
derive_key(TimestampTz created_at)
{
	StringInfoData id;

	initStringInfo(&id);
	appendStringInfo(&id, "pg_pipeline sink\n%u\n%s\n" INT64_FORMAT,
					 MyDatabaseId, params.source, (int64) created_at);
	hmac_sha256((const uint8 *) GetMockAuthenticationNonce(), MOCK_AUTH_NONCE_LEN,
				id.data, id.len, sink_key);
	pfree(id.data);
}

/* The pg_pipeline_sig of a message: hex of SIG_BYTES bytes, NUL-terminated. */
static void
sign(int partition, int64 seq, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	char	   *what = psprintf("%s\n%d\n" INT64_FORMAT, topic, partition, seq);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];

	hmac_sha256(sink_key, sizeof(sink_key), what, strlen(what), mac);
	pfree(what);
	for (int i = 0; i < SIG_BYTES; i++)
	{
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[2 * SIG_BYTES] = '\0';
}

/*
 * The sequence number a message of this sink carries, or 0 when it is not
 * one of its own (no headers, or a signature that does not match).
 */
static int64
own_seq(const rd_kafka_message_t *msg, int partition)
{
	rd_kafka_headers_t *hdrs;
	const void *seqv;
	const void *sigv;
	size_t		seqlen;
	size_t		siglen;
	char		seqtext[32];
	char		expected[2 * SIG_BYTES + 1];
	char	   *end;
	int64		seq;
	int			diff = 0;

	if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		rd_kafka_header_get_last(hdrs, SEQ_HEADER, &seqv, &seqlen) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		rd_kafka_header_get_last(hdrs, SIG_HEADER, &sigv, &siglen) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		seqv == NULL || sigv == NULL || seqlen == 0 || seqlen >= sizeof(seqtext) ||
		siglen != 2 * SIG_BYTES)
		return 0;
	memcpy(seqtext, seqv, seqlen);
	seqtext[seqlen] = '\0';
	errno = 0;
	seq = strtoi64(seqtext, &end, 10);
	if (errno != 0 || *end != '\0' || seq <= 0)
		return 0;
	sign(partition, seq, expected);
	for (int i = 0; i < 2 * SIG_BYTES; i++)
		diff |= expected[i] ^ ((const char *) sigv)[i];
	return diff == 0 ? seq : 0;
}

/* Lock the sink's row; false when it changed, was paused or dropped. */
static bool
lock_sink(bool load)
{
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	if (!pp_kafka_lock_wanted(&params, "sink",
							  "SELECT config_version, paused, server::text, topic, properties, batch_rows, "
							  "created_at FROM pipeline.sinks WHERE name = $1 FOR SHARE"))
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (load)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		server = SPI_getvalue(tup, desc, 3);
		topic = SPI_getvalue(tup, desc, 4);
		properties = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
		batch_rows = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		MemoryContextSwitchTo(old);
		derive_key(DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull)));
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
	rd_kafka_conf_set_error_cb(conf, pp_kafka_error_cb);
	producer = pp_kafka_new_client(conf, RD_KAFKA_PRODUCER, "sink", params.source);
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
		rd_kafka_resp_err_t err;

		err = rd_kafka_metadata(producer, 0, rkt, &md, 2000);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
			err = md->topics[0].err;
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
			count = md->topics[0].partition_cnt;
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
		if (count > 0)
			return count;
		rd_kafka_poll(producer, 0);	/* serve the log: why */
		{
			char		why[128];

			snprintf(why, sizeof(why), "no metadata for the topic (%s)", rd_kafka_err2str(err));
			report_unpublished(why);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PP_WAIT_EVENT);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * The highest sequence number of this sink's own messages in offsets
 * [start, end) of a partition, or 0.  Waits at most TAIL_TIMEOUT_MS for
 * each message.
 */
static int64
scan_range(rd_kafka_t *consumer, int partition, int64 start, int64 end)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), TAIL_TIMEOUT_MS);
	int64		found = 0;

	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = start;
	rd_kafka_assign(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	for (;;)
	{
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer, FLUSH_POLL_MS);
		bool		done = false;

		CHECK_FOR_INTERRUPTS();
		if (msg == NULL)
		{
			if (GetCurrentTimestamp() < deadline)
				continue;
			rd_kafka_assign(consumer, NULL);
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not read partition %d of topic \"%s\" from offset " INT64_FORMAT,
							partition, topic, start)));
		}
		if (msg->partition == partition && msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			done = true;
		else if (msg->partition == partition && msg->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
				 msg->offset >= start)
		{
			if (msg->offset < end)
				found = Max(found, own_seq(msg, partition));
			done = (msg->offset >= end - 1);
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), TAIL_TIMEOUT_MS);
		}
		rd_kafka_message_destroy(msg);
		if (done)
			break;
	}
	rd_kafka_assign(consumer, NULL);
	return found;
}

/*
 * The sequence number of this sink's own last message in a partition (0
 * when there is none): windows of 16, 128, 1024, ... messages, read
 * backwards from the end until one holds a message of the sink.  Messages
 * of anyone else (whatever headers they carry) are passed over.
 */
static int64
last_own_seq(rd_kafka_t *consumer, int partition)
{
	int64		low,
				high,
				window = 16;
	rd_kafka_resp_err_t err;

	err = rd_kafka_query_watermark_offsets(consumer, topic, partition, &low, &high, TAIL_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read the end of partition %d of topic \"%s\"", partition, topic),
				 errdetail("librdkafka: %s", rd_kafka_err2str(err))));
	while (high > low)
	{
		int64		start = Max(low, high - window);
		int64		seq = scan_range(consumer, partition, start, high);

		if (seq > 0)
			return seq;
		high = start;
		window *= 8;
	}
	return 0;
}

/*
 * After a restart: rows that were sent before the worker stopped (their
 * sequence number is at most that of the sink's own last message in their
 * partition) are done.  Only partitions with numbered rows are read.
 */
static void
forget_delivered(void)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		values[3];
	int			nparts;
	int		   *parts;
	int64	   *tails;
	rd_kafka_conf_t *conf;
	char		errstr[512];
	rd_kafka_t *consumer;

	/* the partitions whose rows may have been sent */
	begin();
	values[0] = CStringGetTextDatum(params.source);
	values[1] = Int32GetDatum(npartitions);
	if (SPI_execute_with_args("SELECT DISTINCT partition FROM pipeline.outbox WHERE sink = $1 "
							  "AND seq IS NOT NULL AND partition >= 0 AND partition < $2 ORDER BY 1",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox of sink \"%s\"", params.source);
	nparts = (int) SPI_processed;
	parts = MemoryContextAlloc(TopMemoryContext, sizeof(int) * Max(nparts, 1));
	for (int i = 0; i < nparts; i++)
	{
		bool		isnull;

		parts[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	commit();
	if (nparts == 0)
	{
		pfree(parts);
		return;
	}

	conf = sink_conf();
	rd_kafka_conf_set(conf, "group.id", psprintf("pg_pipeline.sink.%s", params.source), errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
	rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr));
	consumer = pp_kafka_new_client(conf, RD_KAFKA_CONSUMER, "sink", params.source);
	tails = MemoryContextAllocZero(TopMemoryContext, sizeof(int64) * nparts);
	PG_TRY();
	{
		/* a transaction for the signatures' HMAC contexts */
		begin();
		for (int i = 0; i < nparts; i++)
			tails[i] = last_own_seq(consumer, parts[i]);
		commit();
	}
	PG_FINALLY();
	{
		rd_kafka_destroy(consumer);
	}
	PG_END_TRY();

	begin();
	values[0] = CStringGetTextDatum(params.source);	/* the first was SPI's */
	for (int i = 0; i < nparts; i++)
	{
		if (tails[i] <= 0)
			continue;
		values[1] = Int32GetDatum(parts[i]);
		values[2] = Int64GetDatum(tails[i]);
		if (SPI_execute_with_args("WITH gone AS (DELETE FROM pipeline.outbox WHERE sink = $1 "
								  "AND partition = $2 AND seq <= $3 RETURNING 1) "
								  "UPDATE pipeline.sink_progress SET published = published + "
								  "(SELECT count(*) FROM gone), updated_at = now() WHERE sink = $1",
								  3, argtypes, values, NULL, false, 0) < 0)
			elog(ERROR, "could not forget the delivered messages of sink \"%s\"", params.source);
	}
	commit();
	pfree(parts);
	pfree(tails);
}

typedef struct OutboxRow
{
	int64		seq;
	int32		partition;
	char	   *key;
	char	   *payload;
	Jsonb	   *headers;
	char		sig[2 * SIG_BYTES + 1];	/* pg_pipeline_sig */
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
		for (int i = 0; i < n; i++)
			sign(rows[i].partition, rows[i].seq, rows[i].sig);
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
	TimestampTz produced_at = GetCurrentTimestamp();

	failed_deliveries = 0;
	delivery_error[0] = '\0';
	pp_kafka_error[0] = '\0';
	reported_at = 0;
	for (int i = 0; i < n; i++)
	{
		rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
		char		seqtext[32];
		rd_kafka_resp_err_t err;

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
		/* last, so that they are what a reader's "last header" finds */
		snprintf(seqtext, sizeof(seqtext), INT64_FORMAT, rows[i].seq);
		rd_kafka_header_add(hdrs, SEQ_HEADER, -1, seqtext, -1);
		rd_kafka_header_add(hdrs, SIG_HEADER, -1, rows[i].sig, -1);
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
	/*
	 * Wait for the acknowledgements, interruptibly.  A broker that does not
	 * answer keeps them out until message.timeout.ms; meanwhile the sink
	 * says why it is not publishing.
	 */
	while (rd_kafka_outq_len(producer) > 0)
	{
		rd_kafka_poll(producer, FLUSH_POLL_MS);
		CHECK_FOR_INTERRUPTS();
		if (pp_kafka_error[0] != '\0' ||
			TimestampDifferenceExceeds(produced_at, GetCurrentTimestamp(), UNACKED_REPORT_MS))
		{
			char		why[64];

			snprintf(why, sizeof(why), "%d messages not acknowledged yet",
					 rd_kafka_outq_len(producer));
			report_unpublished(why);
		}
	}
	if (failed_deliveries > 0)
		return false;
	pp_kafka_error[0] = '\0';		/* what it said is over: all delivered */
	return true;
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
		report_idle_complaint();
	}
	proc_exit(0);
}
