/*-------------------------------------------------------------------------
 *
 * load.c
 *	  Load a batch of Kafka messages into a table through the COPY
 *	  machinery, setting bad messages aside without losing the batch.
 *
 * Shared by the consumer worker (live batches) and
 * pipeline.replay_dead_letters() (messages that failed before).
 *
 * Every message is decoded into one line of COPY input (decode.c);
 * messages that do not decode are bad at once.  The others are grouped by
 * the set of columns they fill (json messages may lack keys whose columns
 * have defaults; nearly always there is one group) and each group goes
 * through BeginCopyFrom/CopyFrom with a data-source callback, so
 * triggers, constraints, partition routing and multi-insert buffering
 * are COPY's own.  PostgreSQL 15 has no soft input errors, so a group is
 * loaded in a subtransaction and, only when that fails, split in halves
 * recursively until each failing message is alone: k bad messages in n
 * cost about k * log2(n) extra COPY calls, and a clean batch costs one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lockdefs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

/* What copy_source() feeds to COPY: the lines of recs[idx[0..count)]. */
static struct
{
	StringInfo	buf;
	KafkaRecord *recs;
	int		   *idx;
	int			count;
	int			next;			/* next record */
	int			done;			/* bytes of it already given */
	bool		eof;			/* COPY asked past the last record */
} feed;

/* Unix milliseconds (Kafka's timestamps) to a timestamptz Datum. */
Datum
pp_kafka_timestamp_datum(int64 ms)
{
	return TimestampTzGetDatum((TimestampTz) ms * 1000 -
							   ((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY));
}

/* A record of a consumed message; the message must outlive it. */
void
pp_kafka_record_from_message(KafkaRecord *rec, const rd_kafka_message_t *msg)
{
	rd_kafka_timestamp_type_t tstype;
	int64		ms = rd_kafka_message_timestamp(msg, &tstype);
	memset(rec, 0, sizeof(*rec));
	rec->topic = rd_kafka_topic_name(msg->rkt);
	rec->payload = msg->payload;
	rec->len = msg->len;
	rec->key = msg->key;
	rec->key_len = msg->key_len;
	rec->partition = msg->partition;
	rec->offset = msg->offset;
	rec->timestamp_ms = (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) ? -1 : ms;
	rec->msg = msg;

	rec->headers = NULL;
	rec->headers_len = 0;
	rec->headers_done = false;	/* built on demand: most targets want none */
}

/* Append a header name or value to a JSON object as a string: as itself
 * when it is text, else as "\\x" and its bytes in hex (for dead letters). */
static const char *
append_header_string(StringInfo json, const char *s, size_t len)
{
	char	   *problem = pp_kafka_text_problem(s, len);

	if (problem == NULL)
		escape_json(json, pnstrdup(s, len));
	else
	{
		char	   *hex = palloc(len * 2 + 1);

		hex[hex_encode(s, len, hex)] = '\0';
		appendStringInfo(json, "\"\\\\x%s\"", hex);
	}
	return problem;
}

/*
 * pp_kafka_record_headers
 *		The headers of a record as a JSON object of name to value (string or
 *		null), or NULL when it has none; built once, on first use, in the
 *		current memory context (which must live as long as the record).  A
 *		name or value that is not text (a NUL byte, invalid in the database
 *		encoding) appears as "\\x" and its hex, and rec->headers_error says
 *		which: such a message cannot fill a _headers column.
 */
const char *
pp_kafka_record_headers(KafkaRecord *rec)
{
	rd_kafka_headers_t *hdrs = NULL;

	if (rec->headers_done || rec->msg == NULL)
		return rec->headers;
	rec->headers_done = true;
	if (rd_kafka_message_headers(rec->msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		StringInfoData json;
		const char *name;
		const void *value;
		size_t		size;

		initStringInfo(&json);
		appendStringInfoChar(&json, '{');
		for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
		{
			const char *problem;

			if (i > 0)
				appendStringInfoString(&json, ", ");
			problem = append_header_string(&json, name, strlen(name));
			if (problem && rec->headers_error == NULL)
				rec->headers_error = psprintf("the name of header %zu %s", i + 1, problem);
			appendStringInfoString(&json, ": ");
			if (value == NULL)
				appendStringInfoString(&json, "null");
			else if ((problem = append_header_string(&json, value, size)) != NULL &&
					 rec->headers_error == NULL)
				rec->headers_error = psprintf("the value of header %zu %s", i + 1, problem);
		}
		appendStringInfoChar(&json, '}');
		rec->headers = json.data;
		rec->headers_len = json.len;
	}
	return rec->headers;
}

/* COPY's data source: the lines of feed.idx[], in order */
static int
copy_source(void *outbuf, int minread, int maxread)
{
	int			written = 0;

	while (written < minread && feed.next < feed.count)
	{
		KafkaRecord *rec = &feed.recs[feed.idx[feed.next]];
		int			n = Min(rec->line_len - feed.done, maxread - written);

		memcpy((char *) outbuf + written, feed.buf->data + rec->line_start + feed.done, n);
		written += n;
		feed.done += n;
		if (feed.done == rec->line_len)
		{
			feed.next++;
			feed.done = 0;
		}
	}
	if (written == 0 && feed.next == feed.count)
		feed.eof = true;
	return written;
}

/*
 * COPY the given records into the target; raises on any bad row.  Every
 * line is in COPY's text format, except the jsonb fast path's CSV (see
 * decode.c), so no byte of a message can end the data or start a row.
 * As a second line of defence, a COPY that did not read to the end of
 * its input, or read another number of lines than there are messages,
 * raises too: the messages are then isolated like bad rows.
 */
static void
copy_records(Relation rel, TargetLayout *layout, uint64 missing,
			 KafkaRecord *recs, int *idx, int count, StringInfo buf)
{
	ParseState *pstate = make_parsestate(NULL);
	List	   *colnames = NIL;
	List	   *options = NIL;
	CopyFromState cstate;
	uint64		lines;

	for (int i = 0; i < layout->ncolumns; i++)
		if (i >= 64 || (missing & (UINT64CONST(1) << i)) == 0)
			colnames = lappend(colnames, makeString(layout->names[i]));
	if (layout->raw_json_lines)
	{
		options = lappend(options, makeDefElem("format", (Node *) makeString("csv"), -1));
		options = lappend(options, makeDefElem("quote", (Node *) makeString("\x01"), -1));
		options = lappend(options, makeDefElem("delimiter", (Node *) makeString("\x02"), -1));
	}

	/* the range table COPY's executor needs; the caller checked privileges */
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);

	feed.buf = buf;
	feed.recs = recs;
	feed.idx = idx;
	feed.count = count;
	feed.next = 0;
	feed.done = 0;
	feed.eof = false;

	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_source, colnames, options);
	(void) CopyFrom(cstate);
	/* NextCopyFrom counts the line it finds at the end of the data too */
	lines = cstate->cur_lineno - 1;
	EndCopyFrom(cstate);
	free_parsestate(pstate);

	if (!feed.eof || lines != (uint64) count)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("the COPY input of %d message%s was read as " UINT64_FORMAT " line%s%s",
						count, count == 1 ? "" : "s", lines, lines == 1 ? "" : "s",
						feed.eof ? "" : " and not to its end"),
				 errdetail("A message's bytes reached COPY's framing.")));
}

static bool
transient_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:	/* 08 */
		case ERRCODE_TRANSACTION_ROLLBACK:	/* 40: deadlocks, serialization */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* 53 */
		case ERRCODE_OPERATOR_INTERVENTION:	/* 57: cancel, shutdown */
		case ERRCODE_SYSTEM_ERROR:	/* 58 */
		case ERRCODE_INTERNAL_ERROR:	/* XX */
			return true;
		default:
			return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
				sqlerrcode == ERRCODE_OBJECT_IN_USE;
	}
}

/*
 * Load recs[idx[0..count)] in a subtransaction; when that fails, split the
 * range and retry each half, down to single bad messages, which go to the
 * handler.  Returns false when the handler said stop.
 */
static bool
load_range(Relation rel, TargetLayout *layout, uint64 missing, KafkaRecord *recs,
		   int *idx, int count, StringInfo buf, BadRecordHandler bad, void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;
	bool		go_on = true;

	if (count == 0)
		return true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		copy_records(rel, layout, missing, recs, idx, count, buf);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;

	if (edata == NULL)
		return true;

	/*
	 * Not the message's fault: a cancel or shutdown, a deadlock or lock
	 * timeout, lack of memory or disk, a broken connection, an internal
	 * error.  The batch fails as a whole and is retried after a restart.
	 */
	if (transient_error(edata->sqlerrcode))
		ReThrowError(edata);

	if (count == 1)
	{
		KafkaRecord *rec = &recs[idx[0]];
		char	   *error = edata->context ?
			psprintf("%s (%s)", edata->message, edata->context) : pstrdup(edata->message);

		rec->bad = true;
		go_on = bad(rec, error, unpack_sql_state(edata->sqlerrcode), arg);
		FreeErrorData(edata);
		return go_on;
	}
	FreeErrorData(edata);

	return load_range(rel, layout, missing, recs, idx, count / 2, buf, bad, arg) &&
		load_range(rel, layout, missing, recs, idx + count / 2, count - count / 2, buf, bad, arg);
}

/*
 * Decode one record into buf, catching an error raised inside the decoder
 * (PostgreSQL's JSON parser checks the stack depth, an encoding conversion
 * can fail): that is the message's fault, like a soft decoding error.  The
 * decoder only computes over memory in the current context (which the
 * caller resets), so nothing else needs cleaning up.  Errors that are not
 * about the message (cancel, shutdown, out of memory) are re-thrown.
 */
static bool
decode_one(TargetLayout *layout, KafkaRecord *rec, TimestampTz now, StringInfo buf,
		   char **error, const char **sqlstate)
{
	MemoryContext context = CurrentMemoryContext;
	int			start_len = buf->len;
	uint32		holdoff = InterruptHoldoffCount;
	volatile bool ok = false;

	PG_TRY();
	{
		ok = pp_kafka_decode(layout, rec, now, buf, &rec->missing, error, sqlstate);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		if (transient_error(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		InterruptHoldoffCount = holdoff;
		buf->len = start_len;
		buf->data[start_len] = '\0';
		*error = psprintf("could not decode the message: %s", edata->message);
		*sqlstate = unpack_sql_state(edata->sqlerrcode);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* The most bytes a batch's COPY text may reach before it is loaded. */
#define CHUNK_BYTES (256 * 1024 * 1024)

/*
 * Decode recs[0..n) into buf and load them; bad ones go to the handler.
 * Returns false when the handler said stop.
 */
static bool
load_chunk(Relation rel, TargetLayout *layout, KafkaRecord *recs, int n,
		   TimestampTz now, StringInfo buf, BadRecordHandler bad, void *arg)
{
	uint64	   *groups = palloc(sizeof(uint64) * Max(n, 1));
	int			ngroups = 0;
	int		   *idx = palloc(sizeof(int) * Max(n, 1));
	MemoryContext message_context;
	MemoryContext old;

	/*
	 * Decode everything; undecodable messages are bad before loading.  The
	 * lexer's allocations for one message live in a context reset after it,
	 * so a batch reuses the same few blocks instead of faulting in new pages.
	 */
	resetStringInfo(buf);
	message_context = AllocSetContextCreate(CurrentMemoryContext, "pg_pipeline message",
											ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < n; i++)
	{
		KafkaRecord *rec = &recs[i];
		char	   *error = NULL;
		const char *sqlstate = NULL;
		int			g;

		/* built here, not in the message context: dead letters use them */
		if (layout->has_headers)
			(void) pp_kafka_record_headers(rec);
		rec->line_start = buf->len;
		old = MemoryContextSwitchTo(message_context);
		rec->bad = !decode_one(layout, rec, now, buf, &error, &sqlstate);
		MemoryContextSwitchTo(old);
		rec->line_len = buf->len - rec->line_start;
		if (rec->bad)
		{
			char		state[6];

			error = pstrdup(error);
			strlcpy(state, sqlstate, sizeof(state));
			MemoryContextReset(message_context);
			if (!bad(rec, error, state, arg))
				return false;
			continue;
		}
		MemoryContextReset(message_context);
		/* the column sets of this batch: nearly always just one */
		for (g = 0; g < ngroups; g++)
			if (groups[g] == rec->missing)
				break;
		if (g == ngroups)
			groups[ngroups++] = rec->missing;
	}
	MemoryContextDelete(message_context);

	for (int g = 0; g < ngroups; g++)
	{
		int			count = 0;

		for (int i = 0; i < n; i++)
			if (!recs[i].bad && recs[i].missing == groups[g])
				idx[count++] = i;
		if (!load_range(rel, layout, groups[g], recs, idx, count, buf, bad, arg))
			return false;
	}
	pfree(groups);
	pfree(idx);
	return true;
}

/*
 * pp_kafka_load
 *		Decode and load n records into rel, in the caller's transaction.
 *		Every record that cannot be loaded is marked bad and given to the
 *		handler; returns false (the caller rolls back) when it said stop.
 *		A batch whose COPY text could pass 1 GB (a palloc's limit) is
 *		loaded in several chunks of at most CHUNK_BYTES of message bytes
 *		each (the text of one is at most twice that, for bytea's hex);
 *		a single message is at most pg_pipeline.max_message_bytes.
 */
bool
pp_kafka_load(Relation rel, TargetLayout *layout, KafkaRecord *recs, int n,
			  BadRecordHandler bad, void *arg)
{
	TimestampTz now = GetCurrentTimestamp();
	StringInfoData buf;
	Size		total = 0;
	int			start = 0;

	/* COPY FROM applies no row-level security: refuse, as COPY itself does */
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" has row-level security enabled", RelationGetRelationName(rel)),
				 errdetail("pg_pipeline loads through COPY, which does not apply row-level security policies.")));

	for (int i = 0; i < n; i++)
		total += Min(recs[i].len, (Size) pp_max_message_bytes) + 64;
	initStringInfo(&buf);
	enlargeStringInfo(&buf, Min(total + total / 4, (Size) CHUNK_BYTES));

	while (start < n)
	{
		Size		bytes = 0;
		int			end = start;

		/* at least one record per chunk; oversized ones cost nothing */
		do
		{
			if (recs[end].len + recs[end].key_len <= (Size) pp_max_message_bytes)
				bytes += recs[end].len + recs[end].key_len + 64;
			end++;
		} while (end < n && bytes + recs[end].len + recs[end].key_len + 64 <= CHUNK_BYTES);

		if (!load_chunk(rel, layout, recs + start, end - start, now, &buf, bad, arg))
			return false;
		start = end;
	}
	pfree(buf.data);
	return true;
}
