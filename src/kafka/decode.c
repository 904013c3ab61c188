/*-------------------------------------------------------------------------
 *
 * decode.c
 *	  Turn Kafka messages into lines of COPY input for a source's target.
 *
 * Rows go into the target through the COPY machinery (see consumer.c), so
 * every format is decoded here into one line of COPY text (or CSV) per
 * message, in the column order of a TargetLayout built once per batch:
 *
 *	json	the message must be a JSON object; each top-level key fills the
 *			column of the same name, through the column's input function
 *			(COPY's), nested objects and arrays as their JSON text; a
 *			missing key takes the column's default, or NULL.  The message
 *			is lexed once by PostgreSQL's own JSON parser with semantic
 *			callbacks: no jsonb or record is built.
 *	jsonb	the message, checked to be JSON, into one column
 *	text	the message into one column
 *	bytea	the message's bytes into one bytea column
 *	csv		the message is one CSV record for the columns in order
 *
 * Metadata columns (_topic, _partition, _offset, _key, _timestamp,
 * _headers, _ingested_at) are filled when the target has them.
 *
 * A message that cannot be decoded is reported through *error and never
 * raises: the caller sends it to the dead letters and goes on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_attribute.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/rel.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

static const struct
{
	const char *name;
	MetaColumn	meta;
}			meta_columns[] = {
	{"_topic", META_TOPIC},
	{"_partition", META_PARTITION},
	{"_offset", META_OFFSET},
	{"_key", META_KEY},
	{"_timestamp", META_TIMESTAMP},
	{"_headers", META_HEADERS},
	{"_ingested_at", META_INGESTED_AT},
	{NULL, META_NONE}
};

static MetaColumn
meta_column(const char *name)
{
	for (int i = 0; meta_columns[i].name; i++)
		if (strcmp(name, meta_columns[i].name) == 0)
			return meta_columns[i].meta;
	return META_NONE;
}

/*
 * pp_kafka_layout_init
 *		The COPY column list of a batch: for json every column, for csv the
 *		data columns in order, else the data column; metadata columns last.
 */
void
pp_kafka_layout_init(TargetLayout *layout, Relation rel, SourceFormat format,
					 const char *data_column, const char *topic)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			n = 0;

	memset(layout, 0, sizeof(*layout));
	layout->format = format;
	layout->topic = pstrdup(topic);
	layout->names = palloc0(sizeof(char *) * desc->natts);
	layout->meta = palloc0(sizeof(MetaColumn) * desc->natts);
	layout->has_default = palloc0(sizeof(bool) * desc->natts);
	layout->data_column = -1;

	/* data columns first, then metadata columns, each in table order */
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			char	   *name = NameStr(att->attname);
			MetaColumn	meta;

			if (att->attisdropped || att->attgenerated)
				continue;
			meta = meta_column(name);
			if ((pass == 0) != (meta == META_NONE))
				continue;
			if (meta == META_NONE && format != FORMAT_JSON && format != FORMAT_CSV)
			{
				if (data_column == NULL || strcmp(name, data_column) != 0)
					continue;
				layout->data_column = n;
			}
			layout->names[n] = pstrdup(name);
			layout->meta[n] = meta;
			layout->has_default[n] = att->atthasdef || att->attidentity;
			layout->colnames = lappend(layout->colnames, makeString(layout->names[n]));
			n++;
		}
	}
	layout->ncolumns = n;
}

/* Append s to out escaped for COPY's text format. */
void
pp_kafka_escape_text(StringInfo out, const char *s, int len)
{
	const char *start = s;
	const char *end = s + len;

	enlargeStringInfo(out, len);
	for (; s < end; s++)
	{
		char		c = *s;
		const char *esc;

		switch (c)
		{
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				continue;
		}
		appendBinaryStringInfo(out, start, s - start);
		appendStringInfoString(out, esc);
		start = s + 1;
	}
	appendBinaryStringInfo(out, start, end - start);
}

/* Append s to out as a quoted CSV field. */
static void
escape_csv(StringInfo out, const char *s, int len)
{
	appendStringInfoChar(out, '"');
	for (int i = 0; i < len; i++)
	{
		if (s[i] == '"')
			appendStringInfoChar(out, '"');
		appendStringInfoChar(out, s[i]);
	}
	appendStringInfoChar(out, '"');
}

/* ---- json: one lexing pass with semantic callbacks ---- */

typedef struct JsonField
{
	const char *value;
	int			len;
	bool		present;
	bool		isnull;
} JsonField;

typedef struct JsonDecodeState
{
	JsonLexContext *lex;
	TargetLayout *layout;
	JsonField  *fields;
	int			current;		/* column of the top-level key being read */
	const char *nested_start;
	bool		is_object;
} JsonDecodeState;

static PP_JSON_CB_TYPE
json_object_start(void *arg)
{
	JsonDecodeState *st = arg;

	if (st->lex->lex_level == 0)
		st->is_object = true;
	else if (st->lex->lex_level == 1 && st->current >= 0)
		st->nested_start = st->lex->token_start;
	PP_JSON_CB_RETURN;
}

static PP_JSON_CB_TYPE
json_nested_end(void *arg)
{
	JsonDecodeState *st = arg;

	if (st->lex->lex_level == 1 && st->current >= 0 && st->nested_start)
	{
		JsonField  *f = &st->fields[st->current];

		f->value = st->nested_start;
		f->len = st->lex->prev_token_terminator - st->nested_start;
		f->present = true;
		f->isnull = false;
		st->nested_start = NULL;
	}
	PP_JSON_CB_RETURN;
}

static PP_JSON_CB_TYPE
json_array_start(void *arg)
{
	JsonDecodeState *st = arg;

	if (st->lex->lex_level == 1 && st->current >= 0)
		st->nested_start = st->lex->token_start;
	PP_JSON_CB_RETURN;
}

static PP_JSON_CB_TYPE
json_field_start(void *arg, char *fname, bool isnull)
{
	JsonDecodeState *st = arg;

	if (st->lex->lex_level != 1)
		PP_JSON_CB_RETURN;
	st->current = -1;
	for (int i = 0; i < st->layout->ncolumns; i++)
	{
		if (st->layout->meta[i] == META_NONE &&
			strcmp(st->layout->names[i], fname) == 0)
		{
			st->current = i;
			break;
		}
	}
	PP_JSON_CB_RETURN;
}

static PP_JSON_CB_TYPE
json_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	JsonDecodeState *st = arg;

	if (st->lex->lex_level == 1 && st->current >= 0)
	{
		JsonField  *f = &st->fields[st->current];

		f->present = true;
		f->isnull = (tokentype == JSON_TOKEN_NULL);
		f->value = token;
		f->len = strlen(token);
	}
	PP_JSON_CB_RETURN;
}

static bool
decode_json_fields(TargetLayout *layout, const char *payload, int len,
				   JsonField *fields, char **error)
{
	JsonDecodeState st;
	JsonSemAction sem;
	JsonParseErrorType rc;

	memset(&st, 0, sizeof(st));
	st.lex = pp_make_json_lex(unconstify(char *, payload), len, true);
	st.layout = layout;
	st.fields = fields;
	st.current = -1;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = json_object_start;
	sem.object_end = json_nested_end;
	sem.array_start = json_array_start;
	sem.array_end = json_nested_end;
	sem.object_field_start = json_field_start;
	sem.scalar = json_scalar;

	rc = pg_parse_json(st.lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("invalid JSON: %s", json_errdetail(rc, st.lex));
		return false;
	}
	if (!st.is_object)
	{
		*error = pstrdup("the message is not a JSON object");
		return false;
	}
	return true;
}

static bool
valid_json(const char *payload, int len, char **error)
{
	JsonLexContext *lex = pp_make_json_lex(unconstify(char *, payload), len, false);
	JsonParseErrorType rc = pg_parse_json(lex, &nullSemAction);

	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("invalid JSON: %s", json_errdetail(rc, lex));
		return false;
	}
	return true;
}

/* Append the value of a metadata column. */
static void
append_meta(StringInfo out, MetaColumn meta, TargetLayout *layout,
			const KafkaRecord *rec, const char *ingested_at, bool csv)
{
	switch (meta)
	{
		case META_TOPIC:
			if (csv)
				escape_csv(out, layout->topic, strlen(layout->topic));
			else
				pp_kafka_escape_text(out, layout->topic, strlen(layout->topic));
			break;
		case META_PARTITION:
			appendStringInfo(out, "%d", (int) rec->partition);
			break;
		case META_OFFSET:
			appendStringInfo(out, INT64_FORMAT, rec->offset);
			break;
		case META_KEY:
			if (rec->key == NULL)
				appendStringInfoString(out, csv ? "" : "\\N");
			else if (csv)
				escape_csv(out, rec->key, rec->key_len);
			else
				pp_kafka_escape_text(out, rec->key, rec->key_len);
			break;
		case META_TIMESTAMP:
			if (rec->timestamp_ms < 0)
				appendStringInfoString(out, csv ? "" : "\\N");
			else
				appendStringInfoString(out,
									   timestamptz_to_str(DatumGetTimestampTz(pp_kafka_timestamp_datum(rec->timestamp_ms))));
			break;
		case META_HEADERS:
			{
				rd_kafka_headers_t *hdrs = NULL;
				StringInfoData json;
				const char *name;
				const void *value;
				size_t		size;

				if (rec->msg == NULL ||
					rd_kafka_message_headers(rec->msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
				{
					appendStringInfoString(out, csv ? "" : "\\N");
					break;
				}
				initStringInfo(&json);
				appendStringInfoChar(&json, '{');
				for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
				{
					if (i > 0)
						appendStringInfoString(&json, ", ");
					escape_json(&json, name);
					appendStringInfoString(&json, ": ");
					if (value == NULL)
						appendStringInfoString(&json, "null");
					else
						escape_json(&json, pnstrdup(value, size));
				}
				appendStringInfoChar(&json, '}');
				if (csv)
					escape_csv(out, json.data, json.len);
				else
					pp_kafka_escape_text(out, json.data, json.len);
				pfree(json.data);
				break;
			}
		case META_INGESTED_AT:
			appendStringInfoString(out, ingested_at);
			break;
		case META_NONE:
			break;
	}
}

/*
 * pp_kafka_decode
 *		Append the COPY line of one message to out.  Returns false (out
 *		untouched, *error set) when the message cannot be decoded.
 *		*missing gets a bit per column (of the first 64) whose JSON key was
 *		absent and that has a default: the line leaves those columns out,
 *		and the caller loads it with a column list without them.
 */
bool
pp_kafka_decode(TargetLayout *layout, const KafkaRecord *rec,
				TimestampTz ingested_at, StringInfo out, uint64 *missing,
				char **error)
{
	const char *payload = rec->payload;
	int			len = (int) rec->len;
	int			start_len = out->len;
	JsonField  *fields = NULL;
	bool		csv = (layout->format == FORMAT_CSV);
	bool		first = true;
	static TimestampTz ingested_cached = 0;
	static char ingested_text[MAXDATELEN + 1];

	*missing = 0;
	if (ingested_at != ingested_cached)
	{
		strlcpy(ingested_text, timestamptz_to_str(ingested_at), sizeof(ingested_text));
		ingested_cached = ingested_at;
	}

	if (payload == NULL && layout->format != FORMAT_TEXT && layout->format != FORMAT_BYTEA)
	{
		*error = pstrdup("the message has no value");
		return false;
	}

	switch (layout->format)
	{
		case FORMAT_JSON:
			if (len == 0)
			{
				*error = pstrdup("the message is empty");
				return false;
			}
			fields = palloc0(sizeof(JsonField) * layout->ncolumns);
			if (!decode_json_fields(layout, payload, len, fields, error))
				return false;
			break;
		case FORMAT_JSONB:
			if (!valid_json(payload, len, error))
				return false;
			break;
		case FORMAT_CSV:
			/* one record per message: a trailing line break is not data */
			while (len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == '\r'))
				len--;
			if (memchr(payload, '\n', len) != NULL || memchr(payload, '\r', len) != NULL)
			{
				/* quoted line breaks are fine, COPY reads them */
				bool		quoted = false;

				for (int i = 0; i < len; i++)
				{
					if (payload[i] == '"')
						quoted = !quoted;
					else if (!quoted && (payload[i] == '\n' || payload[i] == '\r'))
					{
						*error = pstrdup("the message holds more than one CSV record");
						return false;
					}
				}
			}
			appendBinaryStringInfo(out, payload, len);
			first = false;
			break;
		default:
			break;
	}

	for (int i = 0; i < layout->ncolumns; i++)
	{
		MetaColumn	meta = layout->meta[i];

		if (meta == META_NONE && csv)
			continue;			/* the record itself */

		if (meta == META_NONE && layout->format == FORMAT_JSON &&
			!fields[i].present && layout->has_default[i] && i < 64)
		{
			*missing |= UINT64CONST(1) << i;
			continue;
		}

		if (!first)
			appendStringInfoChar(out, csv ? ',' : '\t');
		first = false;

		if (meta != META_NONE)
			append_meta(out, meta, layout, rec, ingested_text, csv);
		else if (layout->format == FORMAT_JSON)
		{
			if (!fields[i].present || fields[i].isnull)
				appendStringInfoString(out, "\\N");
			else
				pp_kafka_escape_text(out, fields[i].value, fields[i].len);
		}
		else if (layout->format == FORMAT_BYTEA)
		{
			/* \\x then hex: the backslash itself escaped for COPY */
			char	   *hex = palloc(len * 2 + 1);

			appendStringInfoString(out, "\\\\x");
			hex[hex_encode(payload ? payload : "", len, hex)] = '\0';
			appendBinaryStringInfo(out, hex, len * 2);
			pfree(hex);
		}
		else if (payload == NULL)
			appendStringInfoString(out, "\\N");
		else
			pp_kafka_escape_text(out, payload, len);
	}
	appendStringInfoChar(out, '\n');

	if (fields)
		pfree(fields);
	(void) start_len;
	return true;
}
