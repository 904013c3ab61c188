/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  The raw archive of a source: every consumed batch kept
 *	  zstd-compressed with its offset range, so a target can be rebuilt
 *	  after Kafka's retention has expired.
 *
 * The consumer appends one row per partition and batch to
 * pipeline.source_archive in the batch's own transaction, so the archive
 * holds each message exactly once, like the target.  A row's data is a
 * zstd frame of records, each:
 *
 *	int64 offset | int64 timestamp_ms (-1: none) |
 *	int32 key length (-1: null) | key | int32 value length (-1: null) | value |
 *	int32 headers length (-1: none) | headers as a JSON object
 *
 * in native byte order (the archive is read back by the same server).
 * pipeline.replay_archive() loads archived messages into a table through
 * the consumer's loader (load.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

static void
append_chunk(StringInfo buf, const char *data, size_t len)
{
	int32		n = data ? (int32) len : -1;

	appendBinaryStringInfo(buf, (char *) &n, sizeof(n));
	if (data)
		appendBinaryStringInfo(buf, data, len);
}

/*
 * pp_kafka_archive_batch
 *		Archive the records of a batch, one row per partition.  Runs inside
 *		the batch's transaction, with SPI connected.
 */
void
pp_kafka_archive_batch(const char *source, KafkaRecord *recs, int n)
{
	static SPIPlanPtr plan = NULL;
	bool	   *done = palloc0(sizeof(bool) * n);

	if (plan == NULL)
	{
		Oid			argtypes[8] = {TEXTOID, INT4OID, INT8OID, INT8OID, INT4OID, INT8OID, BYTEAOID, TEXTOID};

		plan = SPI_prepare("INSERT INTO pipeline.source_archive (source, partition, first_offset, "
						   "last_offset, messages, raw_bytes, data, topic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
						   8, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the archive insert");
	}

	for (int i = 0; i < n; i++)
	{
		StringInfoData buf;
		int32		partition = recs[i].partition;
		const char *topic = recs[i].topic;
		int64		first = PG_INT64_MAX,
					last = -1;
		int			count = 0;
		Datum		values[8];

		if (done[i])
			continue;
		initStringInfo(&buf);
		for (int j = i; j < n; j++)
		{
			KafkaRecord *rec = &recs[j];

			if (done[j] || rec->partition != partition || strcmp(rec->topic, topic) != 0)
				continue;
			done[j] = true;
			appendBinaryStringInfo(&buf, (char *) &rec->offset, sizeof(int64));
			appendBinaryStringInfo(&buf, (char *) &rec->timestamp_ms, sizeof(int64));
			append_chunk(&buf, rec->key, rec->key_len);
			append_chunk(&buf, rec->payload, rec->len);
			(void) pp_kafka_record_headers(rec);
			append_chunk(&buf, rec->headers, rec->headers_len);
			first = Min(first, rec->offset);
			last = Max(last, rec->offset);
			count++;
		}
		values[0] = CStringGetTextDatum(source);
		values[1] = Int32GetDatum(partition);
		values[2] = Int64GetDatum(first);
		values[3] = Int64GetDatum(last);
		values[4] = Int32GetDatum(count);
		values[5] = Int64GetDatum(buf.len);
		values[6] = PointerGetDatum(pp_zstd_compress(buf.data, buf.len));
		values[7] = CStringGetTextDatum(topic);
		if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not archive a batch of source \"%s\"", source);
		pfree(buf.data);
	}
	pfree(done);
}

/* Read the records of an archive frame; they point into data. */
static int
unpack(bytea *data, KafkaRecord **out)
{
	const char *p = VARDATA(data);
	const char *end = p + VARSIZE(data) - VARHDRSZ;
	int			n = 0,
				cap = 1024;
	KafkaRecord *recs = palloc0(sizeof(KafkaRecord) * cap);

	while (p < end)
	{
		KafkaRecord *rec;
		int32		len;

		if (n == cap)
		{
			cap *= 2;
			recs = repalloc(recs, sizeof(KafkaRecord) * cap);
		}
		rec = &recs[n++];
		memset(rec, 0, sizeof(*rec));
		if (end - p < 2 * (int) sizeof(int64) + (int) sizeof(int32))
			goto corrupt;
		memcpy(&rec->offset, p, sizeof(int64));
		p += sizeof(int64);
		memcpy(&rec->timestamp_ms, p, sizeof(int64));
		p += sizeof(int64);
		for (int part = 0; part < 3; part++)
		{
			if (end - p < (int) sizeof(int32))
				goto corrupt;
			memcpy(&len, p, sizeof(int32));
			p += sizeof(int32);
			if (len > end - p)
				goto corrupt;
			if (part == 0)
			{
				rec->key = len < 0 ? NULL : p;
				rec->key_len = Max(len, 0);
			}
			else if (part == 1)
			{
				rec->payload = len < 0 ? NULL : p;
				rec->len = Max(len, 0);
			}
			else
			{
				rec->headers = len < 0 ? NULL : p;
				rec->headers_len = Max(len, 0);
				rec->headers_done = true;
			}
			p += Max(len, 0);
		}
	}
	*out = recs;
	return n;

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt archive record")));
	return 0;
}

/* Archived messages that do not load are reported, not stored. */
static bool
report_bad(KafkaRecord *rec, const char *error, const char *sqlstate, void *arg)
{
	int64	   *bad = arg;

	(*bad)++;
	ereport(WARNING,
			(errmsg("archived message at partition %d offset " INT64_FORMAT " was not loaded",
					rec->partition, rec->offset),
			 errdetail("%s", error)));
	return true;
}

/*
 * pipeline.replay_archive(source text, target regclass DEFAULT NULL,
 *                         from_offset bigint DEFAULT 0) returns bigint
 *		Load the archived messages of a source (at or after from_offset in
 *		each partition) into target, by default the source's own target.
 *		Returns how many rows loaded; messages that fail are reported as
 *		warnings.
 */
PG_FUNCTION_INFO_V1(pipeline_replay_archive);
Datum
pipeline_replay_archive(PG_FUNCTION_ARGS)
{
	char	   *source;
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	int64		from_offset = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	Relation	rel;
	TargetLayout layout;
	int64		loaded = 0,
				bad = 0;
	uint64		nrows;
	SPITupleTable *rows;

	source = pp_kafka_replay_source(fcinfo);
	values[0] = CStringGetTextDatum(source);
	values[1] = Int64GetDatum(from_offset);

	SPI_connect();
	rel = pp_kafka_open_replay_target(source, PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1),
									  &layout);

	if (SPI_execute_with_args("SELECT partition, data, topic FROM pipeline.source_archive "
							  "WHERE source = $1 AND last_offset >= $2 "
							  "ORDER BY topic, partition, first_offset",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.source_archive");
	rows = SPI_tuptable;
	nrows = SPI_processed;

	for (uint64 r = 0; r < nrows; r++)
	{
		bool		isnull;
		int32		partition = DatumGetInt32(SPI_getbinval(rows->vals[r], rows->tupdesc, 1, &isnull));
		bytea	   *data = pp_zstd_decompress(DatumGetByteaPP(SPI_getbinval(rows->vals[r], rows->tupdesc, 2, &isnull)));
		char	   *row_topic = SPI_getvalue(rows->vals[r], rows->tupdesc, 3);
		KafkaRecord *recs;
		int			n = unpack(data, &recs);
		int			kept = 0;

		for (int i = 0; i < n; i++)
		{
			if (recs[i].offset < from_offset)
				continue;
			recs[kept] = recs[i];
			recs[kept].partition = partition;
			recs[kept].topic = row_topic;
			kept++;
		}
		(void) pp_kafka_load(rel, &layout, recs, kept, report_bad, &bad, false);
		for (int i = 0; i < kept; i++)
			if (!recs[i].bad)
				loaded++;
		pfree(recs);
		pfree(data);
	}
	table_close(rel, NoLock);
	SPI_finish();
	PG_RETURN_INT64(loaded);
}
