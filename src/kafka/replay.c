/*-------------------------------------------------------------------------
 *
 * replay.c
 *	  pipeline.replay_dead_letters(): load a source's dead letters again,
 *	  after the user fixed what made them fail.
 *
 * Runs in the caller's transaction and as the caller, through the same
 * loader as the consumer (load.c): messages that now load leave the dead
 * letters, the others stay with their new error.  Row-level security on
 * pipeline.sources and pipeline.dead_letters limits a role to its own.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

/* pipeline.zstd_decompress(bytea) -> bytea */
PG_FUNCTION_INFO_V1(pipeline_zstd_decompress);
Datum
pipeline_zstd_decompress(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(pp_zstd_decompress(PG_GETARG_BYTEA_PP(0)));
}

/*
 * pp_kafka_replay_source
 *		The source a replay function (replay_dead_letters, replay_archive)
 *		names in its first argument, which must not be null.
 */
char *
pp_kafka_replay_source(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the source to replay must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/*
 * pp_kafka_open_replay_target
 *		For a replay: read the source's definition (row-level security lets
 *		a role see only its own), open the table to load (target, or the
 *		source's own when InvalidOid), check INSERT on it and build its
 *		layout.  SPI must be connected.
 */
Relation
pp_kafka_open_replay_target(const char *source, Oid target, TargetLayout *layout)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(source)};
	char	   *own_target,
			   *column,
			   *topic;
	SourceFormat format;
	Relation	rel;

	if (SPI_execute_with_args(psprintf("SELECT target, format, target_column::text, topic, %s "
									   "FROM pipeline.sources WHERE name = $1",
									   pp_catalog_has_column("sources", "target_oid") ?
									   "target_oid" : "0::oid"),
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.sources");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source),
				 errhint("A replay loads into the source's target table, or the table given.")));
	own_target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	format = pp_kafka_parse_format(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	topic = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);

	if (!OidIsValid(target))
	{
		bool		isnull;

		/* the source's own target, by OID (by name before 0.5.0) */
		target = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
		if (isnull)
			target = InvalidOid;
		if (OidIsValid(target) && !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(target)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the target table of source \"%s\" (\"%s\") was dropped", source, own_target),
					 errhint("Give another table to load into.")));
	}
	if (OidIsValid(target))
		rel = table_open(target, RowExclusiveLock);
	else
		rel = table_openrv(makeRangeVarFromNameList(pp_qualified_name_list(own_target)),
						   RowExclusiveLock);
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel))));
	if (format != FORMAT_JSON && format != FORMAT_CSV &&
		(column == NULL || get_attnum(RelationGetRelid(rel), column) == InvalidAttrNumber))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"%s\" for the messages",
						RelationGetRelationName(rel), column ? column : "")));
	pp_kafka_layout_init(layout, rel, format, column, topic);
	pp_kafka_layout_expectations(layout, rel, source);
	return rel;
}

typedef struct ReplayState
{
	int64	   *ids;			/* dead letter id of each record */
	KafkaRecord *recs;
} ReplayState;

/* A message that still fails: it stays, with its new error. */
static bool
still_bad(KafkaRecord *rec, const char *error, const char *sqlstate, void *arg)
{
	ReplayState *st = arg;
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = Int64GetDatum(st->ids[rec - st->recs]);
	values[1] = CStringGetTextDatum(error);
	values[2] = CStringGetTextDatum(sqlstate);
	if (SPI_execute_with_args("UPDATE pipeline.dead_letters SET error = $2, sqlstate = $3, "
							  "failed_at = now() WHERE id = $1",
							  3, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update a dead letter");
	return true;
}

/*
 * pipeline.replay_dead_letters(source text, ids bigint[] DEFAULT NULL)
 * returns bigint: how many dead letters loaded now (and left the table).
 */
PG_FUNCTION_INFO_V1(pipeline_replay_dead_letters);
Datum
pipeline_replay_dead_letters(PG_FUNCTION_ARGS)
{
	char	   *source;
	Datum		ids_arg = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	Oid			argtypes[2] = {TEXTOID, INT8ARRAYOID};
	Datum		values[2];
	char		nulls[2] = {' ', PG_ARGISNULL(1) ? 'n' : ' '};
	Relation	rel;
	TargetLayout layout;
	ReplayState st;
	uint64		n;
	int64		replayed = 0;
	bool		isnull;

	source = pp_kafka_replay_source(fcinfo);
	values[0] = CStringGetTextDatum(source);
	values[1] = ids_arg;

	SPI_connect();
	rel = pp_kafka_open_replay_target(source, InvalidOid, &layout);

	if (SPI_execute_with_args("SELECT id, partition, \"offset\", key, payload, "
							  "CASE WHEN isfinite(message_time) THEN floor(extract(epoch FROM message_time) * 1000)::bigint END, "
							  "headers::text, topic "
							  "FROM pipeline.dead_letters WHERE source = $1 "
							  "AND ($2 IS NULL OR id = ANY ($2)) ORDER BY id FOR UPDATE",
							  2, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.dead_letters");
	n = SPI_processed;
	st.ids = palloc(sizeof(int64) * Max(n, 1));
	st.recs = palloc0(sizeof(KafkaRecord) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		KafkaRecord *rec = &st.recs[i];
		Datum		d;

		st.ids[i] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		rec->partition = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		rec->offset = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
		{
			bytea	   *key = DatumGetByteaPCopy(d);

			rec->key = VARDATA_ANY(key);
			rec->key_len = VARSIZE_ANY_EXHDR(key);
		}
		d = SPI_getbinval(tup, desc, 5, &isnull);
		if (!isnull)
		{
			bytea	   *payload = pp_zstd_decompress(DatumGetByteaPP(d));

			rec->payload = VARDATA(payload);
			rec->len = VARSIZE(payload) - VARHDRSZ;
		}
		d = SPI_getbinval(tup, desc, 6, &isnull);
		rec->timestamp_ms = isnull ? -1 : DatumGetInt64(d);
		rec->headers = SPI_getvalue(tup, desc, 7);
		rec->headers_len = rec->headers ? strlen(rec->headers) : 0;
		rec->topic = SPI_getvalue(tup, desc, 8);
	}

	(void) pp_kafka_load(rel, &layout, st.recs, (int) n, still_bad, &st, false);
	table_close(rel, NoLock);

	for (uint64 i = 0; i < n; i++)
	{
		Oid			delargtypes[1] = {INT8OID};
		Datum		delvalues[1];

		if (st.recs[i].bad)
			continue;
		delvalues[0] = Int64GetDatum(st.ids[i]);
		if (SPI_execute_with_args("DELETE FROM pipeline.dead_letters WHERE id = $1",
								  1, delargtypes, delvalues, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete a replayed dead letter");
		replayed++;
	}
	SPI_finish();
	PG_RETURN_INT64(replayed);
}
