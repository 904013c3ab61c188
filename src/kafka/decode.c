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
#include "catalog/pg_type.h"
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
	layout->name_lens = palloc0(sizeof(int) * desc->natts);
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
				layout->data_validates_json = (att->atttypid == JSONBOID ||
											   att->atttypid == JSONOID);
			}
			layout->names[n] = pstrdup(name);
			layout->name_lens[n] = strlen(name);
			layout->meta[n] = meta;
			layout->has_default[n] = att->atthasdef || att->attidentity;
			layout->colnames = lappend(layout->colnames, makeString(layout->names[n]));
			n++;
		}
	}
	layout->ncolumns = n;

	/*
	 * The jsonb format into a json or jsonb column, with no metadata
	 * column: the message goes to COPY as it is, in CSV with quote and
	 * delimiter set to control bytes that valid JSON never holds (only
	 * line breaks, which JSON allows only as whitespace, become spaces).
	 * No escaping, and COPY's parse is a scan for those bytes.  Invalid
	 * JSON fails in the column's input function and is set aside like any
	 * bad row.
	 */
	layout->raw_json_lines = (format == FORMAT_JSONB && layout->data_validates_json &&
							  n == 1 && layout->data_column == 0);
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

/* ---- json: one pass of PostgreSQL's JSON lexer over the message ---- */

typedef struct JsonField
{
	const char *value;
	int			len;
	bool		present;
	bool		isnull;
} JsonField;

static bool valid_json(const char *payload, int len, bool escapes, char **error);

/*
 * The de-escaped text of a string token whose raw text (without quotes)
 * holds a backslash: PostgreSQL's lexer does the de-escaping.
 */
static bool
unescape(const char *start, int len, const char **out, int *outlen)
{
	JsonLexContext *lex = pp_make_json_lex(unconstify(char *, start - 1), len + 2, true);

	if (json_lex(lex) != JSON_SUCCESS || lex->token_type != JSON_TOKEN_STRING)
		return false;
	*out = lex->strval->data;
	*outlen = lex->strval->len;
	return true;
}

/*
 * Read the message's top-level keys into fields[], driving json_lex()
 * directly: without de-escaping (which PostgreSQL's parser does a
 * character at a time) unless a string holds a backslash, and without a
 * token copy per value.  Values are the raw text in the message; nested
 * objects and arrays are checked by the full parser and kept as JSON text.
 * On any grammar error the full parser says what is wrong.
 */
static bool
decode_json_fields(TargetLayout *layout, const char *payload, int len,
				   JsonField *fields, char **error)
{
	JsonLexContext *lex = pp_make_json_lex(unconstify(char *, payload), len, false);
	JsonParseErrorType rc;

#define NEXT_TOKEN() \
	do { \
		if ((rc = json_lex(lex)) != JSON_SUCCESS) \
			goto invalid; \
	} while (0)

	NEXT_TOKEN();
	if (lex->token_type != JSON_TOKEN_OBJECT_START)
		goto not_object;
	NEXT_TOKEN();
	while (lex->token_type != JSON_TOKEN_OBJECT_END)
	{
		const char *key;
		int			keylen;
		int			column = -1;

		if (lex->token_type != JSON_TOKEN_STRING)
			goto invalid;
		key = lex->token_start + 1;
		keylen = lex->token_terminator - lex->token_start - 2;
		if (memchr(key, '\\', keylen) != NULL && !unescape(key, keylen, &key, &keylen))
			goto invalid;
		for (int i = 0; i < layout->ncolumns; i++)
		{
			if (layout->meta[i] == META_NONE && layout->name_lens[i] == keylen &&
				memcmp(layout->names[i], key, keylen) == 0)
			{
				column = i;
				break;
			}
		}

		NEXT_TOKEN();
		if (lex->token_type != JSON_TOKEN_COLON)
			goto invalid;
		NEXT_TOKEN();
		{
			const char *value = lex->token_start;
			int			vlen = lex->token_terminator - lex->token_start;
			bool		isnull = false;

			switch (lex->token_type)
			{
				case JSON_TOKEN_STRING:
					value++;
					vlen -= 2;
					if (column >= 0 && memchr(value, '\\', vlen) != NULL &&
						!unescape(value, vlen, &value, &vlen))
						goto invalid;
					break;
				case JSON_TOKEN_NUMBER:
				case JSON_TOKEN_TRUE:
				case JSON_TOKEN_FALSE:
					break;
				case JSON_TOKEN_NULL:
					isnull = true;
					break;
				case JSON_TOKEN_OBJECT_START:
				case JSON_TOKEN_ARRAY_START:
					{
						int			depth = 1;
						char	   *nested_error;

						while (depth > 0)
						{
							NEXT_TOKEN();
							if (lex->token_type == JSON_TOKEN_OBJECT_START ||
								lex->token_type == JSON_TOKEN_ARRAY_START)
								depth++;
							else if (lex->token_type == JSON_TOKEN_OBJECT_END ||
									 lex->token_type == JSON_TOKEN_ARRAY_END)
								depth--;
							else if (lex->token_type == JSON_TOKEN_END)
								goto invalid;
						}
						vlen = lex->token_terminator - value;
						if (!valid_json(value, vlen, false, &nested_error))
							goto invalid;
						break;
					}
				default:
					goto invalid;
			}
			if (column >= 0)
			{
				fields[column].value = value;
				fields[column].len = vlen;
				fields[column].present = true;
				fields[column].isnull = isnull;
			}
		}

		NEXT_TOKEN();
		if (lex->token_type == JSON_TOKEN_COMMA)
		{
			NEXT_TOKEN();
			if (lex->token_type == JSON_TOKEN_OBJECT_END)
				goto invalid;	/* a trailing comma */
		}
		else if (lex->token_type != JSON_TOKEN_OBJECT_END)
			goto invalid;
	}
	NEXT_TOKEN();
	if (lex->token_type != JSON_TOKEN_END)
		goto invalid;
	return true;

not_object:
	if (!valid_json(payload, len, true, error))
		return false;
	*error = pstrdup("the message is not a JSON object");
	return false;

invalid:
	/* let the full parser explain; it cannot accept what we refused */
	if (!valid_json(payload, len, true, error))
		return false;
	*error = pstrdup("invalid JSON");
	return false;
#undef NEXT_TOKEN
}

/*
 * Check JSON with PostgreSQL's full (recursive) parser.  A message nested
 * deeper than the stack allows raises "stack depth limit exceeded": that
 * is the message's fault too, so it is caught here (the parser holds no
 * resources but memory, which the caller's per-message context frees).
 */
static bool
valid_json(const char *payload, int len, bool escapes, char **error)
{
	MemoryContext context = CurrentMemoryContext;
	JsonLexContext *lex = pp_make_json_lex(unconstify(char *, payload), len, escapes);
	volatile JsonParseErrorType rc = JSON_SUCCESS;
	volatile bool too_deep = false;

	PG_TRY();
	{
		rc = pg_parse_json(lex, &nullSemAction);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_STATEMENT_TOO_COMPLEX)
			PG_RE_THROW();
		FlushErrorState();
		*error = psprintf("invalid JSON: %s", edata->message);
		too_deep = true;
	}
	PG_END_TRY();

	if (too_deep)
		return false;
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
			KafkaRecord *rec, const char *ingested_at, bool csv)
{
	switch (meta)
	{
		case META_TOPIC:
			if (csv)
				escape_csv(out, rec->topic, strlen(rec->topic));
			else
				pp_kafka_escape_text(out, rec->topic, strlen(rec->topic));
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
			if (pp_kafka_record_headers(rec) == NULL)
				appendStringInfoString(out, csv ? "" : "\\N");
			else if (csv)
				escape_csv(out, rec->headers, rec->headers_len);
			else
				pp_kafka_escape_text(out, rec->headers, rec->headers_len);
			break;
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
pp_kafka_decode(TargetLayout *layout, KafkaRecord *rec,
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
			if (len == 0)
			{
				*error = pstrdup("the message is empty");
				return false;
			}
			if (layout->raw_json_lines)
			{
				const char *p = payload;
				const char *end = payload + len;

				/*
				 * A line break is harmless only as whitespace between
				 * tokens: a raw one inside a string (invalid JSON) must not
				 * turn into a valid space.  Such messages are checked first.
				 */
				if ((memchr(payload, '\n', len) || memchr(payload, '\r', len)) &&
					!valid_json(payload, len, false, error))
					return false;

				enlargeStringInfo(out, len + 1);
				while (p < end)
				{
					const char *brk = p;

					while (brk < end && *brk != '\n' && *brk != '\r')
						brk++;
					appendBinaryStringInfo(out, p, brk - p);
					if (brk < end)
						appendStringInfoChar(out, ' ');
					p = brk + 1;
				}
				appendStringInfoChar(out, '\n');
				return true;
			}
			/* a json or jsonb column validates it; a text column would not */
			if (!layout->data_validates_json && !valid_json(payload, len, false, error))
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
		else if (payload == NULL)
			appendStringInfoString(out, "\\N");
		else if (layout->format == FORMAT_BYTEA)
		{
			/* \\x then hex: the backslash itself escaped for COPY */
			char	   *hex = palloc(len * 2 + 1);

			appendStringInfoString(out, "\\\\x");
			hex[hex_encode(payload, len, hex)] = '\0';
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
