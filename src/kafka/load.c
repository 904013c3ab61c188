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
 * Whose fault an error is.  on_error (skip, dead_letter) may set aside
 * only what a message caused; an error of the target would otherwise
 * skip or dead-letter every good message of the batch.  By the SQLSTATE of
 * the COPY's error (blame()):
 *
 *	transient		08, 40, 53, 57, 58, XX, 55P03, 55006: raised; the batch
 *					fails whole and the consumer is restarted
 *	the target's	0A 0B 0L 0P 25 28 2B 2D 3B 3D 3F 42 55 F0: not about a
 *					row's values (no such column, no privilege, read-only,
 *					not supported); no bisection, the batch is refused
 *	the message's	22 (a value that does not fit) and every decoding
 *					error; 23505, 23P01, 23503 (a row against other rows: a
 *					batch of duplicates or orphans is ordinary data)
 *	unsure			the rest: 23502 NOT NULL, 23514 CHECK, P0001 a trigger's
 *					RAISE, 38/39 a routine's error, 54 a row too big, ...:
 *					the message's, unless every message the chunk tried to
 *					insert (two or more) failed with the same SQLSTATE: then
 *					the target's (a NOT NULL column added without default, a
 *					constraint or trigger that refuses every row).
 *
 * A validating BEFORE trigger that raises P0001 for some rows blames those
 * rows, which is what its author expects; one that raises for every row
 * is a property of the target.  So that a rule on uniform failure can be
 * applied, the failing messages of a chunk are collected first and handed
 * to the handler only after the whole chunk was tried: a handler never
 * skips or dead-letters a message of a batch that is then refused.  The
 * consumer gets a refusal as a NULL record and pauses the source; the
 * replays, which run in their caller's transaction, raise the error of the
 * target instead and do not apply the uniform rule (dead letters that
 * still fail are expected to fail alike).
 *
 * Expectations at ingestion (expect.c): the source's row-level
 * expectations are COPY's WHERE clause; a message that fails one is
 * skipped by COPY and set aside like a bad message (SQLSTATE 23514, the
 * expectation named), without a retry: it is the message's fault, never
 * the target's (the uniform rule below does not count it).
 *
 * Timestamps: a producer sets any int64 as a message's time.
 * pp_kafka_timestamp_from_ms() refuses what no timestamptz holds
 * (negative, or microseconds that overflow), so _timestamp and a dead
 * letter's message_time are NULL rather than a wrapped-around time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "mb/pg_wchar.h"

#include "access/xact.h"
#include "common/int.h"
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

/*
 * What copy_source() feeds to COPY: a head, the lines of recs[idx[0..count)]
 * and a tail (both empty in the text format), as segments 0..count+1.
 */
static struct
{
	StringInfo	buf;
	KafkaRecord *recs;
	int		   *idx;
	int			count;
	const char *head;
	int			head_len;
	const char *tail;
	int			tail_len;
	int			next;			/* next segment */
	int			done;			/* bytes of it already given */
	bool		eof;			/* COPY asked past the last record */
} feed;

/* COPY's binary format: the signature, no flags, no header extension */
static const char binary_head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
/* ... and the end of the data: a field count of -1 */
static const char binary_tail[2] = "\377\377";

/* Milliseconds from 1970-01-01 (Kafka's epoch) to 2000-01-01 (PostgreSQL's). */
#define EPOCH_SHIFT_MS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)

/*
 * pp_kafka_timestamp_from_ms
 *		A Kafka timestamp (milliseconds since 1970-01-01 UTC) as a
 *		timestamptz.  Returns false when it has none: negative (Kafka's -1
 *		for "no timestamp"; Kafka has no time before 1970), or beyond what a
 *		timestamptz holds: a producer may set any int64, and its microseconds
 *		can overflow.  The result is never infinity.
 */
bool
pp_kafka_timestamp_from_ms(int64 ms, TimestampTz *result)
{
	int64		us;

	if (ms < 0 || pg_mul_s64_overflow(ms, 1000, &us))
		return false;
	us -= EPOCH_SHIFT_MS * 1000;	/* us >= 0: cannot overflow */
	if (!IS_VALID_TIMESTAMP(us) || TIMESTAMP_NOT_FINITE(us))
		return false;
	*result = us;
	return true;
}

/*
 * pp_kafka_ms_from_timestamptz
 *		A timestamptz as a Kafka timestamp (milliseconds since 1970-01-01
 *		UTC, rounded down).  Returns false for infinity and for times before
 *		1970, which Kafka cannot search for (its negative timestamps are
 *		sentinels: -1 latest, -2 earliest).
 */
bool
pp_kafka_ms_from_timestamptz(TimestampTz ts, int64 *ms)
{
	int64		q;

	if (TIMESTAMP_NOT_FINITE(ts))
		return false;
	q = ts / 1000;
	if (ts % 1000 < 0)
		q--;
	q += EPOCH_SHIFT_MS;		/* |ts / 1000| is far below the int64 range */
	if (q < 0)
		return false;
	*ms = q;
	return true;
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
	rd_kafka_headers_t *hdrs;

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

/* Segment seg of the feed (see feed), or false past the last. */
static bool
feed_segment(int seg, const char **data, int *len)
{
	if (seg == 0)
	{
		*data = feed.head;
		*len = feed.head_len;
	}
	else if (seg <= feed.count)
	{
		KafkaRecord *rec = &feed.recs[feed.idx[seg - 1]];

		*data = feed.buf->data + rec->line_start;
		*len = rec->line_len;
	}
	else if (seg == feed.count + 1)
	{
		*data = feed.tail;
		*len = feed.tail_len;
	}
	else
		return false;
	return true;
}

/* COPY's data source: the segments of the feed, in order */
static int
copy_source(void *outbuf, int minread, int maxread)
{
	int			written = 0;
	const char *data;
	int			len;

	while (written < minread && feed_segment(feed.next, &data, &len))
	{
		int			n = Min(len - feed.done, maxread - written);

		memcpy((char *) outbuf + written, data + feed.done, n);
		written += n;
		feed.done += n;
		if (feed.done == len)
		{
			feed.next++;
			feed.done = 0;
		}
	}
	if (written == 0 && !feed_segment(feed.next, &data, &len))
		feed.eof = true;
	return written;
}

/*
 * COPY the given records into the target; raises on any bad row.  Every
 * line is in COPY's text format with its values escaped, or a tuple of its
 * binary format (see decode.c), so no byte of a message can end the data
 * or start a row.
 * As a second line of defence, a COPY that did not read to the end of
 * its input, or read another number of lines than there are messages,
 * raises too: the messages are then isolated like bad rows.
 * With the source's expectations (expect.c) COPY skips the rows that fail
 * one: returns them (KafkaExpectFailure *, their lines in this COPY).
 */
static List *
copy_records(Relation rel, TargetLayout *layout, uint64 missing,
			 KafkaRecord *recs, int *idx, int count, StringInfo buf)
{
	ParseState *pstate = make_parsestate(NULL);
	List	   *colnames = NIL;
	List	   *options = NIL;
	CopyFromState cstate;
	uint64		lines;
	KafkaExpectScope scope;
	List	   *volatile failing = NIL;

	for (int i = 0; i < layout->ncolumns; i++)
		if (i >= 64 || (missing & (UINT64CONST(1) << i)) == 0)
			colnames = lappend(colnames, makeString(layout->names[i]));
	/*
	 * The lines are in the database's encoding (decode.c checks and escapes
	 * them so): COPY must not read them in the session's client_encoding,
	 * which a role or the database may set (ALTER ROLE ... SET
	 * client_encoding), and which could turn an escaped backslash into the
	 * trail byte of a multi-byte character.  The binary format has no
	 * framing inside a field; its receive functions read text in the
	 * client_encoding, which pp_kafka_load() checked to be the database's
	 * (or SQL_ASCII, which they only verify).
	 */
	if (layout->binary)
		options = lappend(options, makeDefElem("format", (Node *) makeString("binary"), -1));
	else
		options = lappend(options, makeDefElem("encoding",
											   (Node *) makeString(pstrdup(GetDatabaseEncodingName())), -1));

	/* the range table COPY's executor needs; the caller checked privileges */
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);

	feed.buf = buf;
	feed.recs = recs;
	feed.idx = idx;
	feed.count = count;
	feed.head = layout->binary ? binary_head : "";
	feed.head_len = layout->binary ? sizeof(binary_head) : 0;
	feed.tail = layout->binary ? binary_tail : "";
	feed.tail_len = layout->binary ? sizeof(binary_tail) : 0;
	feed.next = 0;
	feed.done = 0;
	feed.eof = false;

	cstate = BeginCopyFrom(pstate, rel, (Node *) layout->expect_quals, NULL, false, copy_source,
						   colnames, options);
	/* jsonb columns without jsonb's own parser (jsonb_build.c) */
	if (layout->binary)
		pp_kafka_jsonb_fast_receive(cstate);
	pp_kafka_expect_begin(&scope, cstate, layout);
	PG_TRY();
	{
		(void) CopyFrom(cstate);
	}
	PG_FINALLY();
	{
		failing = pp_kafka_expect_end(&scope);
	}
	PG_END_TRY();
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
	return failing;
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
			return true;
		case ERRCODE_INTERNAL_ERROR:	/* XX */
			/*
			 * XX001/XX002: corrupted data or index.  XX000 itself is what
			 * elog() raises, and some input functions raise it on bad
			 * text (hstore, PostGIS): a message that always fails with it
			 * would otherwise stop its source for ever.  It is judged like
			 * a NOT NULL or CHECK failure (blame()).
			 */
			return sqlerrcode != ERRCODE_INTERNAL_ERROR;
		default:
			return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
				sqlerrcode == ERRCODE_OBJECT_IN_USE;
	}
}

/* Whose fault a non-transient error of a COPY is (see the file header). */
typedef enum Blame
{
	BLAME_MESSAGE,				/* the message's, however many fail alike */
	BLAME_TARGET,				/* the target's, whatever the messages */
	BLAME_UNSURE				/* the message's, unless all fail alike */
} Blame;

static Blame
blame(int sqlerrcode)
{
	/*
	 * Class 42 codes that input functions raise on a value's own text:
	 * tsquery, jsonpath and ltree syntax (42601), reg* names that do not
	 * exist (42P01, 42704, 42883, 42725) or cannot be names (42602).  One
	 * message can cause them, so one message is not the target's fault.
	 */
	if (sqlerrcode == ERRCODE_SYNTAX_ERROR ||
		sqlerrcode == ERRCODE_INVALID_NAME ||
		sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
		sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
		sqlerrcode == ERRCODE_UNDEFINED_FUNCTION ||
		sqlerrcode == ERRCODE_AMBIGUOUS_FUNCTION)
		return BLAME_UNSURE;

	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:	/* 22: a value that does not fit */
			return BLAME_MESSAGE;
		case ERRCODE_FEATURE_NOT_SUPPORTED: /* 0A */
		case ERRCODE_INVALID_TRANSACTION_INITIATION:	/* 0B */
		case ERRCODE_INVALID_GRANTOR:	/* 0L */
		case ERRCODE_INVALID_ROLE_SPECIFICATION:	/* 0P */
		case ERRCODE_INVALID_TRANSACTION_STATE: /* 25: read-only */
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:	/* 28 */
		case ERRCODE_DEPENDENT_PRIVILEGE_DESCRIPTORS_STILL_EXIST:	/* 2B */
		case ERRCODE_INVALID_TRANSACTION_TERMINATION:	/* 2D */
		case ERRCODE_SAVEPOINT_EXCEPTION:	/* 3B */
		case ERRCODE_INVALID_CATALOG_NAME:	/* 3D */
		case ERRCODE_INVALID_SCHEMA_NAME:	/* 3F */
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: /* 42: no such
															 * column, no
															 * privilege */
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:	/* 55 */
		case ERRCODE_CONFIG_FILE_ERROR: /* F0 */
			return BLAME_TARGET;
		default:
			/* a row against other rows: a duplicate, an orphan */
			if (sqlerrcode == ERRCODE_UNIQUE_VIOLATION ||
				sqlerrcode == ERRCODE_EXCLUSION_VIOLATION ||
				sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION)
				return BLAME_MESSAGE;
			/* NOT NULL, CHECK, a trigger's RAISE, a routine's error, ... */
			return BLAME_UNSURE;
	}
}

/* The loading of one chunk: what load_range() found. */
typedef struct ChunkLoad
{
	Relation	rel;
	TargetLayout *layout;
	KafkaRecord *recs;
	StringInfo	buf;
	/* messages that failed alone, in the order found */
	int		   *failed;			/* index in recs */
	char	  **errors;
	int		   *sqlstates;		/* packed */
	bool	   *expected;		/* it failed an expectation (COPY skipped it) */
	int			nfailed;
	/* an error of the target (BLAME_TARGET), or NULL */
	ErrorData  *target_error;
} ChunkLoad;

/* An error's text for the handler: its message and context. */
static char *
error_text(ErrorData *edata)
{
	return edata->context ?
		psprintf("%s (%s)", edata->message, edata->context) : pstrdup(edata->message);
}

/*
 * Load recs[idx[0..count)] in a subtransaction; when that fails, split the
 * range and retry each half, down to single messages, which are noted in
 * cl->failed (the caller hands them to the handler).  An error of the
 * target (BLAME_TARGET) is noted in cl->target_error and ends the loading;
 * the batch is lost anyway.  Transient errors are raised.
 */
static void
load_range(ChunkLoad *cl, uint64 missing, int *idx, int count)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;
	List	   *volatile failing = NIL;
	ListCell   *lc;

	if (count == 0 || cl->target_error != NULL)
		return;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		failing = copy_records(cl->rel, cl->layout, missing, cl->recs, idx, count, cl->buf);
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

	/*
	 * loaded: the messages COPY skipped for an expectation are set aside,
	 * each once (expect.c noted only lines of this COPY's own quals; the
	 * bounds are checked again all the same)
	 */
	foreach(lc, failing)
	{
		KafkaExpectFailure *f = (KafkaExpectFailure *) lfirst(lc);
		int			i;

		if (f->line < 1 || f->line > (uint64) count ||
			f->expectation < 0 || f->expectation >= list_length(cl->layout->expect_quals))
			elog(ERROR, "an expectation noted line " UINT64_FORMAT " of a COPY of %d messages",
				 f->line, count);
		i = idx[f->line - 1];
		if (cl->recs[i].bad)
			continue;
		cl->recs[i].bad = true;
		cl->failed[cl->nfailed] = i;
		cl->errors[cl->nfailed] = psprintf("the message fails expectation \"%s\" of its source",
										   cl->layout->expect_names[f->expectation]);
		cl->sqlstates[cl->nfailed] = ERRCODE_CHECK_VIOLATION;
		cl->expected[cl->nfailed] = true;
		cl->nfailed++;
	}

	if (edata == NULL)
		return;

	/*
	 * Not the message's fault: a cancel or shutdown, a deadlock or lock
	 * timeout, lack of memory or disk, a broken connection, an internal
	 * error.  The batch fails as a whole and is retried after a restart.
	 */
	if (transient_error(edata->sqlerrcode))
		ReThrowError(edata);

	if (blame(edata->sqlerrcode) == BLAME_TARGET)
	{
		cl->target_error = edata;
		return;
	}

	if (count == 1)
	{
		cl->recs[idx[0]].bad = true;
		cl->failed[cl->nfailed] = idx[0];
		cl->errors[cl->nfailed] = error_text(edata);
		cl->sqlstates[cl->nfailed] = edata->sqlerrcode;
		cl->expected[cl->nfailed] = false;
		cl->nfailed++;
		FreeErrorData(edata);
		return;
	}
	FreeErrorData(edata);

	load_range(cl, missing, idx, count / 2);
	load_range(cl, missing, idx + count / 2, count - count / 2);
}

/* qsort: failures (positions in ChunkLoad's arrays) in message order */
static int *sort_by;

static int
compare_failure(const void *a, const void *b)
{
	int			x = sort_by[*(const int *) a];
	int			y = sort_by[*(const int *) b];

	return (x > y) - (x < y);
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
		if (layout->converting >= 0)
			*error = psprintf("%s (column %s)", edata->message, layout->names[layout->converting]);
		else
			*error = psprintf("could not decode the message: %s", edata->message);
		layout->converting = -1;
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
 * Returns false when the handler said stop.  With target_to_handler, an
 * error of the target (by its class, or the same SQLSTATE of doubtful
 * class for every message loaded, two or more) goes to the handler with a
 * NULL record; without it, one by its class is raised and the uniform rule
 * does not apply.
 */
static bool
load_chunk(Relation rel, TargetLayout *layout, KafkaRecord *recs, int n,
		   TimestampTz now, StringInfo buf, BadRecordHandler bad, void *arg,
		   bool target_to_handler)
{
	uint64	   *groups = palloc(sizeof(uint64) * Max(n, 1));
	int			ngroups = 0;
	int		   *idx = palloc(sizeof(int) * Max(n, 1));
	int			nloaded = 0;
	int		   *order;
	char		code[6];		/* a SQLSTATE for the handler */
	ChunkLoad	cl;
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
		nloaded++;
		/* the column sets of this batch: nearly always just one */
		for (g = 0; g < ngroups; g++)
			if (groups[g] == rec->missing)
				break;
		if (g == ngroups)
			groups[ngroups++] = rec->missing;
	}
	MemoryContextDelete(message_context);

	memset(&cl, 0, sizeof(cl));
	cl.rel = rel;
	cl.layout = layout;
	cl.recs = recs;
	cl.buf = buf;
	cl.failed = palloc(sizeof(int) * Max(n, 1));
	cl.errors = palloc(sizeof(char *) * Max(n, 1));
	cl.sqlstates = palloc(sizeof(int) * Max(n, 1));
	cl.expected = palloc0(sizeof(bool) * Max(n, 1));
	for (int g = 0; g < ngroups && cl.target_error == NULL; g++)
	{
		int			count = 0;

		for (int i = 0; i < n; i++)
			if (!recs[i].bad && recs[i].missing == groups[g])
				idx[count++] = i;
		load_range(&cl, groups[g], idx, count);
	}

	/* the target refused the batch, by the class of its error */
	if (cl.target_error != NULL)
	{
		if (!target_to_handler)
			ReThrowError(cl.target_error);
		strlcpy(code, unpack_sql_state(cl.target_error->sqlerrcode), sizeof(code));
		return bad(NULL, psprintf("the target refused the batch: %s (SQLSTATE %s)",
								  error_text(cl.target_error), code),
				   code, arg);
	}

	/*
	 * every message loaded failed alike, with an error of doubtful class
	 * (a message that failed an expectation is the message's fault: none)
	 */
	if (target_to_handler && nloaded >= 2 && cl.nfailed == nloaded &&
		blame(cl.sqlstates[0]) == BLAME_UNSURE && !cl.expected[0])
	{
		bool		alike = true;

		for (int f = 1; f < cl.nfailed && alike; f++)
			alike = (cl.sqlstates[f] == cl.sqlstates[0] && !cl.expected[f]);
		if (alike)
		{
			strlcpy(code, unpack_sql_state(cl.sqlstates[0]), sizeof(code));
			return bad(NULL, psprintf("every one of the %d messages of the batch failed with SQLSTATE %s: %s",
									  nloaded, code, cl.errors[0]),
					   code, arg);
		}
	}

	/* the messages' own faults, in message order */
	order = palloc(sizeof(int) * Max(cl.nfailed, 1));
	for (int f = 0; f < cl.nfailed; f++)
		order[f] = f;
	sort_by = cl.failed;
	qsort(order, cl.nfailed, sizeof(int), compare_failure);
	for (int f = 0; f < cl.nfailed; f++)
	{
		int			k = order[f];

		strlcpy(code, unpack_sql_state(cl.sqlstates[k]), sizeof(code));
		if (!bad(&recs[cl.failed[k]], cl.errors[k], code, arg))
			return false;
	}
	pfree(order);
	pfree(cl.failed);
	pfree(cl.errors);
	pfree(cl.sqlstates);
	pfree(cl.expected);
	pfree(groups);
	pfree(idx);
	return true;
}

/*
 * pp_kafka_load
 *		Decode and load n records into rel, in the caller's transaction.
 *		Every record that cannot be loaded by its own fault is marked bad
 *		and given to the handler; returns false (the caller rolls back) when
 *		it said stop.  An error of the target (see the file header) goes to
 *		the handler with a NULL record when target_to_handler (the consumer:
 *		it pauses the source), else it is raised (the replays, in the
 *		caller's transaction); the uniform-failure rule applies only with
 *		target_to_handler.
 *		A batch whose COPY text could pass 1 GB (a palloc's limit) is
 *		loaded in several chunks of at most CHUNK_BYTES of message bytes
 *		each (the text of one is at most twice that, for bytea's hex);
 *		a single message is at most pg_pipeline.max_message_bytes.
 */
bool
pp_kafka_load(Relation rel, TargetLayout *layout, KafkaRecord *recs, int n,
			  BadRecordHandler bad, void *arg, bool target_to_handler)
{
	TimestampTz now = GetCurrentTimestamp();
	StringInfoData buf;
	Size		total = 0;
	int			start = 0;

	/*
	 * Deferred constraints (DEFERRABLE INITIALLY DEFERRED unique, foreign
	 * and exclusion constraints, deferred constraint triggers) would be
	 * checked at COMMIT, after the subtransactions that find the bad
	 * messages: one duplicate would fail every retry of its batch for ever.
	 * Checked at the end of each COPY instead, inside its subtransaction,
	 * like the immediate ones.  For this transaction only.
	 */
	{
		ConstraintsSetStmt immediate = {.type = T_ConstraintsSetStmt, .constraints = NIL,
		.deferred = false};

		AfterTriggerSetState(&immediate);
	}

	/* COPY FROM applies no row-level security: refuse, as COPY itself does */
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" has row-level security enabled", RelationGetRelationName(rel)),
				 errdetail("pg_pipeline loads through COPY, which does not apply row-level security policies.")));

	/*
	 * The binary format where the layout allows it, and where the receive
	 * functions of text, json and jsonb (pq_getmsgtext) take the bytes as
	 * they are: the session's client_encoding is the database's, or
	 * SQL_ASCII (they then verify the bytes in the database's encoding).
	 * A replay in a session with another client_encoding uses the text
	 * format, which does not depend on it.
	 */
	layout->binary = (layout->binary_kind != NULL &&
					  (pg_get_client_encoding() == GetDatabaseEncoding() ||
					   pg_get_client_encoding() == PG_SQL_ASCII));

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

		if (!load_chunk(rel, layout, recs + start, end - start, now, &buf, bad, arg,
						target_to_handler))
			return false;
		start = end;
	}
	pfree(buf.data);
	return true;
}
