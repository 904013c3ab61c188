/*-------------------------------------------------------------------------
 *
 * decode.c
 *	  Turn Kafka messages into lines of COPY input for a source's target.
 *
 * Rows go into the target through the COPY machinery (see load.c), so
 * every message is decoded here into exactly one line of COPY input, in
 * the column order of a TargetLayout built once per batch:
 *
 *	json	the message must be a JSON object; each top-level key fills the
 *			column of the same name, as the column's input function would
 *			(in the binary format converted here: append_json_value()), nested
 *			objects and arrays as their JSON text; a
 *			missing key takes the column's default, or NULL (a message
 *			with none of the target's keys, into columns that all have a
 *			default, is refused: COPY cannot be given no column).  The message
 *			is read once, no jsonb or record is built: a flat object without
 *			escapes by fast_json_fields(), anything else by PostgreSQL's own
 *			JSON lexer, which also says what is wrong with a bad one.
 *	jsonb	the message, checked to be JSON, into one column
 *	text	the message into one column
 *	bytea	the message's bytes into one bytea column
 *	csv		the message is one CSV record for the data columns in order;
 *			it is parsed here and its fields converted like json's values
 *
 * Metadata columns (_topic, _partition, _offset, _key, _timestamp,
 * _timestamp_ms, _headers, _ingested_at) are filled when the target has
 * them.  A producer sets a message's timestamp to any int64: _timestamp is
 * NULL when it is none or no valid timestamptz (negative, or its
 * microseconds overflow), never a wrong or infinite time; _timestamp_ms
 * keeps the raw value (NULL only for Kafka's -1, "no timestamp").
 *
 * One message, one line.  The bytes of a message come from whoever can
 * write to the topic, so none of them may reach COPY's framing.  Where
 * every column of the layout has a type whose receive function takes what
 * the text path would give its input function (binary_kind(): the jsonb,
 * text and bytea formats with their metadata, into text, varchar, json,
 * jsonb, bytea, int4, int8 and timestamptz columns), the line is a tuple
 * of COPY's binary format: each field is its length and its bytes, so
 * nothing in them is read as framing, and nothing is escaped, re-parsed
 * or hex-encoded.  Otherwise (json and csv, other types) every value is
 * written in COPY's text format with backslash, tab and line breaks
 * escaped (so no end-of-data marker \. and no row or column break can
 * come from the data).  Text that PostgreSQL could not store (a NUL byte, bytes invalid in
 * the database encoding), in the value of a text-like format, the key or
 * the headers, is refused here with its position, and so is a message
 * larger than pg_pipeline.max_message_bytes.  load.c checks after each
 * COPY that it read exactly one line per message up to the end.
 *
 * A message that cannot be decoded is reported through *error and
 * *sqlstate and normally does not raise; load.c catches what does (the
 * JSON parser's stack depth check, a conversion error) and blames the
 * message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "libpq/pqformat.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "port/pg_bitutils.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
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
	{"_timestamp_ms", META_TIMESTAMP_MS},
	{"_headers", META_HEADERS},
	{"_ingested_at", META_INGESTED_AT},
	{NULL, META_NONE}
};

/* binary_kind: how a column is written in COPY's binary format */
#define BIN_NONE	'\0'		/* it cannot be */
#define BIN_BYTES	'b'			/* the bytes as they are */
#define BIN_JSONB	'j'			/* jsonb's version 1, then the JSON text */
#define BIN_INT4	'4'
#define BIN_INT8	'8'			/* int8, or a timestamptz's microseconds */
/* ... and for a json message's values, which are text to convert */
#define BIN_PARSE_INT2	'h'		/* pg_strtoint16, as int2in */
#define BIN_PARSE_INT4	'i'		/* pg_strtoint32, as int4in */
#define BIN_PARSE_INT8	'l'		/* pg_strtoint64, as int8in */
#define BIN_NUMERIC		'n'		/* a plain decimal directly, else numeric_in */
#define BIN_TIMESTAMPTZ 't'		/* ISO 8601 with a zone directly, else timestamptz_in */
#define BIN_INPUT		'g'		/* the type's input, then its send function */

static MetaColumn
meta_column(const char *name)
{
	for (int i = 0; meta_columns[i].name; i++)
		if (strcmp(name, meta_columns[i].name) == 0)
			return meta_columns[i].meta;
	return META_NONE;
}

/*
 * How a column is written in COPY's binary format.  Only where its
 * receive function takes exactly what the text path would have given its
 * input function: text, varchar, bpchar and json take the bytes (and check
 * them against the encoding; json also parses them, bpchar and varchar
 * apply the typmod), jsonb takes version 1 and the JSON text, bytea the
 * bytes of a bytea message; the numbers and times of the metadata are
 * their own.  A json message's values and a csv message's fields are
 * text: converted here as the column's input function would (the same
 * function, or for integers, numeric and ISO 8601 times a direct path
 * that gives the same value and leaves anything else to it), and the
 * typmod is applied by the receive
 * function as the input function would have.  Only built-in base types
 * whose input errors are all about the value (class 22): a domain (its
 * constraints), a reg* type (names that depend on the catalog), arrays,
 * enums and any other type keep the whole layout in the text format,
 * where COPY judges their errors.
 */
static char
binary_kind(SourceFormat format, MetaColumn meta, Oid type)
{
	switch (meta)
	{
		case META_NONE:
			if (format == FORMAT_BYTEA)
				return type == BYTEAOID ? BIN_BYTES : BIN_NONE;
			if (format == FORMAT_JSON || format == FORMAT_CSV)
			{
				switch (type)
				{
					case INT2OID:
						return BIN_PARSE_INT2;
					case INT4OID:
						return BIN_PARSE_INT4;
					case INT8OID:
						return BIN_PARSE_INT8;
					case NUMERICOID:
						return BIN_NUMERIC;
					case TIMESTAMPTZOID:
						return BIN_TIMESTAMPTZ;
					case BOOLOID:
					case FLOAT4OID:
					case FLOAT8OID:
					case DATEOID:
					case TIMESTAMPOID:
					case UUIDOID:
						return BIN_INPUT;
					case BPCHAROID:
						return BIN_BYTES;
					default:
						break;
				}
			}
			else if (format != FORMAT_JSONB && format != FORMAT_TEXT)
				return BIN_NONE;
			break;
		case META_TOPIC:
		case META_KEY:
		case META_HEADERS:
			break;
		case META_PARTITION:
			return type == INT4OID ? BIN_INT4 : type == INT8OID ? BIN_INT8 : BIN_NONE;
		case META_OFFSET:
		case META_TIMESTAMP_MS:
			return type == INT8OID ? BIN_INT8 : BIN_NONE;
		case META_TIMESTAMP:
		case META_INGESTED_AT:
			return type == TIMESTAMPTZOID ? BIN_INT8 : BIN_NONE;
	}
	if (type == JSONBOID)
		return BIN_JSONB;
	if (type == TEXTOID || type == VARCHAROID || type == JSONOID)
		return BIN_BYTES;
	return BIN_NONE;
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
	Oid		   *types = palloc(sizeof(Oid) * desc->natts);
	int			n = 0;

	memset(layout, 0, sizeof(*layout));
	layout->format = format;
	layout->topic = pstrdup(topic);
	layout->names = palloc0(sizeof(char *) * desc->natts);
	layout->name_lens = palloc0(sizeof(int) * desc->natts);
	layout->meta = palloc0(sizeof(MetaColumn) * desc->natts);
	layout->has_default = palloc0(sizeof(bool) * desc->natts);
	layout->data_column = -1;
	layout->converting = -1;

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
			if (meta == META_NONE)
				layout->ndata++;
			layout->has_key |= (meta == META_KEY);
			layout->has_headers |= (meta == META_HEADERS);
			layout->names[n] = pstrdup(name);
			layout->name_lens[n] = strlen(name);
			layout->meta[n] = meta;
			types[n] = att->atttypid;
			layout->has_default[n] = att->atthasdef || att->attidentity;
			layout->colnames = lappend(layout->colnames, makeString(layout->names[n]));
			n++;
		}
	}
	layout->ncolumns = n;

	/* COPY's binary format when every column's type allows it */
	layout->binary_kind = palloc(n);
	for (int i = 0; i < n && layout->binary_kind; i++)
	{
		layout->binary_kind[i] = binary_kind(format, layout->meta[i], types[i]);
		if (layout->binary_kind[i] == BIN_NONE)
		{
			pfree(layout->binary_kind);
			layout->binary_kind = NULL;
		}
		else if (layout->binary_kind[i] == BIN_INPUT || layout->binary_kind[i] == BIN_NUMERIC ||
				 layout->binary_kind[i] == BIN_TIMESTAMPTZ)
		{
			Oid			func;
			bool		varlena;

			if (layout->input == NULL)
			{
				layout->input = palloc0(sizeof(FmgrInfo) * n);
				layout->send = palloc0(sizeof(FmgrInfo) * n);
				layout->ioparam = palloc0(sizeof(Oid) * n);
			}
			getTypeInputInfo(types[i], &func, &layout->ioparam[i]);
			fmgr_info(func, &layout->input[i]);
			getTypeBinaryOutputInfo(types[i], &func, &varlena);
			fmgr_info(func, &layout->send[i]);
		}
	}
	pfree(types);
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
 * The layout's data column named key[0..keylen), or -1.  Keys usually come
 * in the order of the columns: *hint (the column after the last one found)
 * is tried first.
 */
static inline bool
json_key_is(TargetLayout *layout, int i, const char *key, int keylen)
{
	const char *name = layout->names[i];

	if (layout->meta[i] != META_NONE || layout->name_lens[i] != keylen)
		return false;
	/* column names are short: no call to memcmp */
	for (int k = 0; k < keylen; k++)
		if (name[k] != key[k])
			return false;
	return true;
}

static int
json_key_column(TargetLayout *layout, const char *key, int keylen, int *hint)
{
	int			h = *hint;

	if (h < layout->ncolumns && json_key_is(layout, h, key, keylen))
	{
		*hint = h + 1;
		return h;
	}
	for (int i = 0; i < layout->ncolumns; i++)
	{
		if (json_key_is(layout, i, key, keylen))
		{
			*hint = i + 1;
			return i;
		}
	}
	return -1;
}

/* JSON's whitespace, as PostgreSQL's lexer skips it */
#define JSON_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
/* what PostgreSQL's lexer reads as part of a number or a word */
#define JSON_WORD_CHAR(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
						   ((c) >= '0' && (c) <= '9') || (c) == '_' || IS_HIGHBIT_SET(c))

/*
 * The fast path of decode_json_fields(): a flat object whose strings hold
 * no backslash, read in one pass without PostgreSQL's lexer.  It accepts
 * only a strict subset of what PostgreSQL's parser accepts, and gives the
 * same values for it (the raw text of strings, numbers and true/false,
 * null as NULL, the last of duplicate keys); anything else (an escape, a
 * nested object or array, a control byte in a string, a number or word
 * PostgreSQL might read differently, any error) returns false with fields[]
 * cleared, and the full lexer decides.  The encoding was checked before.
 */
static bool
fast_json_fields(TargetLayout *layout, const char *s, int len, JsonField *fields)
{
	const char *p = s;
	const char *end = s + len;
	int			hint = 0;

#define SKIP_SPACE() while (p < end && JSON_SPACE(*p)) p++
	SKIP_SPACE();
	if (p == end || *p != '{')
		goto slow;
	p++;
	SKIP_SPACE();
	if (p < end && *p == '}')
		p++;
	else
	{
		for (;;)
		{
			const char *key;
			const char *value;
			int			vlen;
			int			keylen;
			int			column;
			bool		isnull = false;

			/* the key: a string without escapes or control bytes */
			if (p == end || *p != '"')
				goto slow;
			key = ++p;
			while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
				p++;
			if (p == end || *p != '"')
				goto slow;
			keylen = p - key;
			p++;
			SKIP_SPACE();
			if (p == end || *p != ':')
				goto slow;
			p++;
			SKIP_SPACE();
			if (p == end)
				goto slow;

			/* the value: its text is value[0..vlen) */
			value = p;
			if (*p == '"')
			{
				value = ++p;
				while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
					p++;
				if (p == end || *p != '"')
					goto slow;
				vlen = p - value;
				p++;
			}
			else
			{
				if (*p == '-' || (*p >= '0' && *p <= '9'))
				{
					/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
					if (*p == '-')
						p++;
					if (p < end && *p == '0')
						p++;
					else if (p < end && *p >= '1' && *p <= '9')
						while (p < end && *p >= '0' && *p <= '9')
							p++;
					else
						goto slow;
					if (p < end && *p == '.')
					{
						const char *digits = ++p;

						while (p < end && *p >= '0' && *p <= '9')
							p++;
						if (p == digits)
							goto slow;
					}
					if (p < end && (*p == 'e' || *p == 'E'))
					{
						const char *digits;

						p++;
						if (p < end && (*p == '+' || *p == '-'))
							p++;
						digits = p;
						while (p < end && *p >= '0' && *p <= '9')
							p++;
						if (p == digits)
							goto slow;
					}
				}
				else if (end - p >= 4 && memcmp(p, "true", 4) == 0)
					p += 4;
				else if (end - p >= 5 && memcmp(p, "false", 5) == 0)
					p += 5;
				else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
				{
					p += 4;
					isnull = true;
				}
				else
					goto slow;	/* an object, an array, or not JSON */
				/* "01", "1x", "truex": one token for PostgreSQL, an error */
				if (p < end && JSON_WORD_CHAR(*p))
					goto slow;
				vlen = p - value;
			}
			column = json_key_column(layout, key, keylen, &hint);
			if (column >= 0)
			{
				fields[column].value = value;
				fields[column].len = vlen;
				fields[column].present = true;
				fields[column].isnull = isnull;
			}

			SKIP_SPACE();
			if (p < end && *p == ',')
			{
				p++;
				SKIP_SPACE();
				continue;
			}
			if (p < end && *p == '}')
			{
				p++;
				break;
			}
			goto slow;
		}
	}
	SKIP_SPACE();
	if (p == end)
		return true;
#undef SKIP_SPACE

slow:
	memset(fields, 0, sizeof(JsonField) * layout->ncolumns);
	return false;
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
	JsonLexContext *lex;
	JsonParseErrorType rc;

	if (fast_json_fields(layout, payload, len, fields))
		return true;
	lex = pp_make_json_lex(unconstify(char *, payload), len, false);

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

/*
 * pp_kafka_text_problem
 *		NULL when s[0..len) is text PostgreSQL can store (valid in the
 *		database encoding, no NUL byte), else what is wrong with it, for an
 *		error message ("holds a NUL byte at byte 3").
 */
char *
pp_kafka_text_problem(const char *s, size_t len)
{
	int			encoding = GetDatabaseEncoding();
	int			valid;
	int			bad_len;
	StringInfoData bytes;

	if (len > (size_t) MaxAllocSize)
		return pstrdup("is too large for a text value");
	valid = pg_encoding_verifymbstr(encoding, s, (int) len);
	if (valid == (int) len)
		return NULL;
	if (s[valid] == '\0')
		return psprintf("holds a NUL byte at byte %d", valid);

	/* the bytes of the bad character, as PostgreSQL's own message shows them */
	bad_len = Min(pg_encoding_mblen(encoding, s + valid), (int) len - valid);
	initStringInfo(&bytes);
	for (int i = 0; i < Max(bad_len, 1); i++)
		appendStringInfo(&bytes, "%s0x%02x", i > 0 ? " " : "", (unsigned char) s[valid + i]);
	return psprintf("is not valid %s: invalid byte sequence %s at byte %d",
					GetDatabaseEncodingName(), bytes.data, valid);
}

/*
 * The fields of a message that must be exactly one CSV record, unquoted,
 * into fields[0..max) (their values in scratch: valid until it grows
 * again).  The rules are COPY's CSV defaults: delimiter ',', quote and
 * escape '"' (a quote may open a quoted section anywhere in a field), an
 * unquoted empty field is NULL, line breaks are data only inside quotes.
 * Returns the number of fields (those beyond max are counted, not kept),
 * or -1 with *error set when the message is not one record.  The caller
 * has dropped trailing line breaks.
 */
static int
csv_record_fields(const char *s, int len, JsonField *fields, int max, StringInfo scratch,
				  char **error)
{
	int			nfields = 0;
	int			i = 0;
	int		   *starts = palloc(sizeof(int) * Max(max, 1));

	resetStringInfo(scratch);
	for (;;)
	{
		bool		in_quote = false;
		bool		saw_quote = false;
		int			value_start = scratch->len;
		const char *run = s + i;

		for (; i < len; i++)
		{
			char		c = s[i];

			if (in_quote)
			{
				if (c != '"')
					continue;
				appendBinaryStringInfo(scratch, run, s + i - run);
				if (i + 1 < len && s[i + 1] == '"')
				{
					appendStringInfoChar(scratch, '"');
					i++;
				}
				else
					in_quote = false;
				run = s + i + 1;
			}
			else if (c == '"' || c == ',' || c == '\n' || c == '\r')
			{
				if (c == '\n' || c == '\r')
				{
					*error = pstrdup("the message holds more than one CSV record (a line break outside quotes)");
					return -1;
				}
				appendBinaryStringInfo(scratch, run, s + i - run);
				if (c == ',')
					break;
				in_quote = saw_quote = true;
				run = s + i + 1;
			}
		}
		if (in_quote)
		{
			*error = pstrdup("the message is not a CSV record: a quoted field is not closed");
			return -1;
		}
		if (i >= len)
			appendBinaryStringInfo(scratch, run, s + i - run);
		if (nfields < max)
		{
			starts[nfields] = value_start;
			fields[nfields].len = scratch->len - value_start;
			fields[nfields].present = true;
			fields[nfields].isnull = (!saw_quote && scratch->len == value_start);
		}
		nfields++;
		if (i >= len)
			break;
		i++;					/* past the comma */
	}
	for (int k = 0; k < Min(nfields, max); k++)
		fields[k].value = scratch->data + starts[k];
	return nfields;
}

/* Append the value of a metadata column, in COPY's text format. */
static void
append_meta(StringInfo out, MetaColumn meta, TargetLayout *layout,
			KafkaRecord *rec, const char *ingested_at)
{
	switch (meta)
	{
		case META_TOPIC:
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
				appendStringInfoString(out, "\\N");
			else
				pp_kafka_escape_text(out, rec->key, rec->key_len);
			break;
		case META_TIMESTAMP:
			{
				TimestampTz ts;

				if (pp_kafka_timestamp_from_ms(rec->timestamp_ms, &ts))
					appendStringInfoString(out, timestamptz_to_str(ts));
				else
					appendStringInfoString(out, "\\N");
			}
			break;
		case META_TIMESTAMP_MS:
			if (rec->timestamp_ms == -1)
				appendStringInfoString(out, "\\N");
			else
				appendStringInfo(out, INT64_FORMAT, rec->timestamp_ms);
			break;
		case META_HEADERS:
			if (pp_kafka_record_headers(rec) == NULL)
				appendStringInfoString(out, "\\N");
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
 * Room for n more bytes in out: the pq_write* calls that follow write at
 * most that many.  (pq_send* would enlarge, in a call, at every value.)
 */
static inline void
reserve(StringInfo out, int n)
{
	if (out->len + n >= out->maxlen)
		enlargeStringInfo(out, n);
}

/* A field of 2, 4 or 8 bytes (int2, int4, int8, timestamptz) */
static inline void
append_int_field(StringInfo out, int size, int64 value)
{
	reserve(out, 4 + size);
	pq_writeint32(out, size);
	if (size == 2)
		pq_writeint16(out, (int16) value);
	else if (size == 4)
		pq_writeint32(out, (int32) value);
	else
		pq_writeint64(out, value);
}

/* One field of COPY's binary format: NULL, or its bytes. */
static void
append_binary_field(StringInfo out, char kind, const char *s, int len)
{
	if (s == NULL)
	{
		reserve(out, 4);
		pq_writeint32(out, -1);
		return;
	}
	reserve(out, 5 + len);
	if (kind == BIN_JSONB)
	{
		pq_writeint32(out, len + 1);
		pq_writeint8(out, 1);
	}
	else
		pq_writeint32(out, len);
	memcpy(out->data + out->len, s, len);
	out->len += len;
}

/*
 * A plain decimal ([-]digits[.digits], as JSON writes most numbers) as
 * numeric's binary form: base-10000 digits around the decimal point, the
 * scale its fraction's digits, as numeric_in would give (numeric_recv then
 * applies the column's typmod, as numeric_in would have).  False for
 * anything else (exponents, NaN, spaces, very long numbers): numeric_in
 * decides those.
 */
static bool
append_decimal(StringInfo out, const char *s, int len)
{
	const char *p = s;
	const char *end = s + len;
	const char *ip;
	const char *ipend;
	const char *fp = NULL;
	const char *fpend = NULL;
	bool		negative = false;
	bool		nonzero = false;
	int			nint;
	int			nfrac;
	int			igroups;
	int			fgroups;
	int			start;

	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	ip = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	ipend = p;
	if (ipend == ip)
		return false;
	if (p < end)
	{
		if (*p != '.')
			return false;
		fp = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		fpend = p;
		if (fpend == fp || p != end)
			return false;
	}
	while (ip < ipend && *ip == '0')
		ip++;
	nint = ipend - ip;
	nfrac = fp ? fpend - fp : 0;
	if (nint > 1000 || nfrac > 1000)
		return false;
	igroups = (nint + 3) / 4;
	fgroups = (nfrac + 3) / 4;
	for (const char *q = ip; q < ipend && !nonzero; q++)
		nonzero = (*q != '0');
	for (const char *q = fp; q && q < fpend && !nonzero; q++)
		nonzero = (*q != '0');

	reserve(out, 4 + 8 + 2 * (igroups + fgroups));
	pq_writeint32(out, 8 + 2 * (igroups + fgroups));
	pq_writeint16(out, igroups + fgroups);
	pq_writeint16(out, igroups - 1);	/* weight: of the first group */
	pq_writeint16(out, negative && nonzero ? 0x4000 : 0x0000);	/* NUMERIC_NEG, _POS */
	pq_writeint16(out, nfrac);	/* dscale */
	/* the first integer group takes what is left over from groups of 4 */
	start = nint % 4 ? nint % 4 : 4;
	for (int g = 0; g < igroups; g++)
	{
		int			digits = g == 0 ? start : 4;
		int			v = 0;

		while (digits-- > 0)
			v = v * 10 + (*ip++ - '0');
		pq_writeint16(out, v);
	}
	/* fraction groups of 4, the last one padded with zeros */
	for (int g = 0; g < fgroups; g++)
	{
		int			v = 0;

		for (int k = 0; k < 4; k++)
			v = v * 10 + (fp < fpend ? *fp++ - '0' : 0);
		pq_writeint16(out, v);
	}
	return true;
}

/*
 * An ISO 8601 time with its zone, YYYY-MM-DD[T ]HH:MM:SS[.ffffff] then Z or
 * +HH[:MM] or -HH[:MM], as microseconds since 2000-01-01 UTC: exactly
 * what timestamptz_in gives for it (the zone is explicit, so neither the
 * session's TimeZone nor DateStyle matters).  False for anything else (no
 * zone, more than 6 fractional digits, a leap second, 24:00, year 0,
 * words): timestamptz_in decides those.
 */
static bool
iso_timestamptz(const char *s, int len, int64 *result)
{
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int64		fraction = 0;
	int			offset = 0;
	int			p = 19;

#define DIGIT(i) (s[i] >= '0' && s[i] <= '9')
#define TWO(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
	if (len < 20 ||
		!DIGIT(0) || !DIGIT(1) || !DIGIT(2) || !DIGIT(3) || s[4] != '-' ||
		!DIGIT(5) || !DIGIT(6) || s[7] != '-' || !DIGIT(8) || !DIGIT(9) ||
		(s[10] != 'T' && s[10] != ' ') ||
		!DIGIT(11) || !DIGIT(12) || s[13] != ':' || !DIGIT(14) || !DIGIT(15) ||
		s[16] != ':' || !DIGIT(17) || !DIGIT(18))
		return false;
	year = TWO(0) * 100 + TWO(2);
	month = TWO(5);
	day = TWO(8);
	hour = TWO(11);
	minute = TWO(14);
	second = TWO(17);
	if (s[p] == '.')
	{
		int			n = 0;

		p++;
		while (p < len && DIGIT(p) && n < 6)
		{
			fraction = fraction * 10 + (s[p++] - '0');
			n++;
		}
		if (n == 0 || (p < len && DIGIT(p)))
			return false;
		while (n++ < 6)
			fraction *= 10;
	}
	if (p < len && s[p] == 'Z')
		p++;
	else if (p + 3 <= len && (s[p] == '+' || s[p] == '-') && DIGIT(p + 1) && DIGIT(p + 2))
	{
		int			sign = s[p] == '-' ? -1 : 1;
		int			minutes = 0;
		int			hours = TWO(p + 1);

		p += 3;
		if (p < len && s[p] == ':')
		{
			if (p + 3 > len || !DIGIT(p + 1) || !DIGIT(p + 2))
				return false;
			minutes = TWO(p + 1);
			p += 3;
		}
		if (hours > 15 || minutes > 59)
			return false;
		offset = sign * (hours * 3600 + minutes * 60);
	}
	else
		return false;
	if (p != len || year < 1 || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1] || hour > 23 || minute > 59 || second > 59)
		return false;
#undef DIGIT
#undef TWO
	*result = ((((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * 24 + hour) * 60 +
				minute) * 60 + second - offset) * USECS_PER_SEC + fraction;
	return true;
}

/*
 * The value of a json message's key for column i in COPY's binary format,
 * converted as the column's input function would (see binary_kind()).  An
 * error of the input function is the message's: layout->converting tells
 * the caller which column it was about.
 */
static void
append_json_value(StringInfo out, TargetLayout *layout, int i, const char *value, int len)
{
	char		kind = layout->binary_kind[i];
	char		small[64];
	char	   *str;
	int64		v;

	switch (kind)
	{
		case BIN_BYTES:
		case BIN_JSONB:
			append_binary_field(out, kind, value, len);
			return;
		case BIN_NUMERIC:
			if (append_decimal(out, value, len))
				return;
			break;
		case BIN_TIMESTAMPTZ:
			if (iso_timestamptz(value, len, &v))
			{
				append_int_field(out, 8, v);
				return;
			}
			break;
		default:
			break;
	}

	/* the input functions take a C string */
	str = len < (int) sizeof(small) ? small : palloc(len + 1);
	memcpy(str, value, len);
	str[len] = '\0';
	layout->converting = i;
	switch (kind)
	{
		case BIN_PARSE_INT2:
			{
				int16		n = pg_strtoint16(str);

				append_int_field(out, 2, n);
			}
			break;
		case BIN_PARSE_INT4:
			{
				int32		n = pg_strtoint32(str);

				append_int_field(out, 4, n);
			}
			break;
		case BIN_PARSE_INT8:
			{
				int64		n = pg_strtoint64(str);

				append_int_field(out, 8, n);
			}
			break;
		default:
			{
				Datum		d = InputFunctionCall(&layout->input[i], str, layout->ioparam[i], -1);
				bytea	   *b = SendFunctionCall(&layout->send[i], d);

				append_binary_field(out, BIN_BYTES, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
			break;
	}
	layout->converting = -1;
}

/* The value of a metadata column in COPY's binary format */
static void
append_meta_binary(StringInfo out, char kind, MetaColumn meta, KafkaRecord *rec,
				   TimestampTz ingested_at)
{
	int64		value = 0;
	const char *headers;

	switch (meta)
	{
		case META_TOPIC:
			append_binary_field(out, kind, rec->topic, strlen(rec->topic));
			return;
		case META_KEY:
			append_binary_field(out, kind, rec->key, rec->key_len);
			return;
		case META_HEADERS:
			headers = pp_kafka_record_headers(rec);
			append_binary_field(out, kind, headers, headers ? rec->headers_len : 0);
			return;
		case META_PARTITION:
			value = rec->partition;
			break;
		case META_OFFSET:
			value = rec->offset;
			break;
		case META_TIMESTAMP_MS:
			if (rec->timestamp_ms == -1)
			{
				append_binary_field(out, kind, NULL, 0);
				return;
			}
			value = rec->timestamp_ms;
			break;
		case META_TIMESTAMP:
			if (!pp_kafka_timestamp_from_ms(rec->timestamp_ms, &value))
			{
				append_binary_field(out, kind, NULL, 0);
				return;
			}
			break;
		case META_INGESTED_AT:
			value = ingested_at;
			break;
		case META_NONE:
			elog(ERROR, "not a metadata column");
	}
	append_int_field(out, kind == BIN_INT4 ? 4 : 8, value);
}

/*
 * pp_kafka_decode
 *		Append the COPY line (text format, or a binary tuple) of
 *		one message to out.  Returns false (out untouched, *error and
 *		*sqlstate set) when the message cannot be decoded.  *missing gets a
 *		bit per column (of the first 64) whose JSON key was absent and that
 *		has a default: the line leaves those columns out, and the caller
 *		loads it with a column list without them.
 */
bool
pp_kafka_decode(TargetLayout *layout, KafkaRecord *rec,
				TimestampTz ingested_at, StringInfo out, uint64 *missing,
				char **error, const char **sqlstate)
{
	const char *payload = rec->payload;
	int			len;
	JsonField  *fields = NULL;
	bool		first = true;
	StringInfoData scratch;
	char	   *problem;
	static TimestampTz ingested_cached = 0;
	static char ingested_text[MAXDATELEN + 1];

	*missing = 0;
	*sqlstate = "22P02";

	/* checked before anything is allocated for it */
	if (rec->len + (rec->key ? rec->key_len : 0) > (size_t) pp_max_message_bytes)
	{
		*error = psprintf("the message is %zu bytes (value and key), more than pg_pipeline.max_message_bytes (%d)",
						  rec->len + (rec->key ? rec->key_len : 0), pp_max_message_bytes);
		*sqlstate = "54000";
		return false;
	}
	len = (int) rec->len;

	if (ingested_at != ingested_cached)
	{
		strlcpy(ingested_text, timestamptz_to_str(ingested_at), sizeof(ingested_text));
		ingested_cached = ingested_at;
	}

	/* the metadata the target takes must be text too */
	if (layout->has_key && rec->key != NULL &&
		(problem = pp_kafka_text_problem(rec->key, rec->key_len)) != NULL)
	{
		*error = psprintf("the message key %s", problem);
		*sqlstate = "22021";
		return false;
	}
	if (layout->has_headers && pp_kafka_record_headers(rec) != NULL && rec->headers_error)
	{
		*error = pstrdup(rec->headers_error);
		*sqlstate = "22021";
		return false;
	}

	if (payload == NULL && layout->format != FORMAT_TEXT && layout->format != FORMAT_BYTEA)
	{
		*error = pstrdup("the message has no value");
		return false;
	}
	if (payload != NULL && len == 0 &&
		(layout->format == FORMAT_JSON || layout->format == FORMAT_JSONB))
	{
		*error = pstrdup("the message is empty");
		return false;
	}

	/* one validating pass over text-like values */
	if (payload != NULL && layout->format != FORMAT_BYTEA &&
		(problem = pp_kafka_text_problem(payload, len)) != NULL)
	{
		*error = psprintf("the message %s", problem);
		*sqlstate = "22021";
		return false;
	}

	switch (layout->format)
	{
		case FORMAT_JSON:
			fields = palloc0(sizeof(JsonField) * layout->ncolumns);
			if (!decode_json_fields(layout, payload, len, fields, error))
				return false;
			break;
		case FORMAT_JSONB:
			/* a json or jsonb column validates it; a text column would not */
			if (!layout->data_validates_json && !valid_json(payload, len, false, error))
				return false;
			break;
		case FORMAT_CSV:
			{
				int			nfields;

				/* one record per message: a trailing line break is not data */
				while (len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == '\r'))
					len--;
				*sqlstate = "22P04";	/* bad_copy_file_format, as COPY says */
				if (len == 2 && payload[0] == '\\' && payload[1] == '.')
				{
					*error = pstrdup("the message is COPY's end-of-data marker \\., not a CSV record");
					return false;
				}
				/* the data columns come first in the layout, in table order */
				fields = palloc0(sizeof(JsonField) * Max(layout->ncolumns, 1));
				initStringInfo(&scratch);
				nfields = csv_record_fields(payload, len, fields, layout->ndata, &scratch, error);
				if (nfields >= 0 && nfields != layout->ndata)
					*error = psprintf("the message has %d CSV field%s, the target has %d data column%s",
									  nfields, nfields == 1 ? "" : "s",
									  layout->ndata, layout->ndata == 1 ? "" : "s");
				if (nfields != layout->ndata)
					return false;
				break;
			}
		default:
			break;
	}

	/*
	 * A json message leaves out of COPY's column list the columns (of the
	 * first 64) whose key it lacks and that have a default.  Not every
	 * column: COPY reads an empty list as every column, and would take the
	 * message's empty line as the one column's value (an empty string, not
	 * its default) or refuse the tuple as malformed.
	 */
	if (layout->format == FORMAT_JSON)
	{
		for (int i = 0; i < Min(layout->ncolumns, 64); i++)
			if (layout->meta[i] == META_NONE && !fields[i].present && layout->has_default[i])
				*missing |= UINT64CONST(1) << i;
		if (layout->ncolumns > 0 && pg_popcount64(*missing) == layout->ncolumns)
		{
			*error = pstrdup("the message has none of the target's columns, and a row of defaults alone is not loaded");
			*sqlstate = "22P04";	/* bad_copy_file_format, as COPY said */
			*missing = 0;
			pfree(fields);
			return false;
		}
	}

	/* One tuple of COPY's binary format: a field count, then the fields */
	if (layout->binary)
	{
		reserve(out, 2);
		pq_writeint16(out, layout->ncolumns - pg_popcount64(*missing));
		for (int i = 0; i < layout->ncolumns; i++)
		{
			char		kind = layout->binary_kind[i];

			if (i < 64 && (*missing & (UINT64CONST(1) << i)) != 0)
				continue;
			if (layout->meta[i] != META_NONE)
				append_meta_binary(out, kind, layout->meta[i], rec, ingested_at);
			else if (layout->format != FORMAT_JSON && layout->format != FORMAT_CSV)
				append_binary_field(out, kind, payload, len);
			else if (!fields[i].present || fields[i].isnull)
				append_binary_field(out, kind, NULL, 0);
			else
				append_json_value(out, layout, i, fields[i].value, fields[i].len);
		}
		if (fields)
			pfree(fields);
		return true;
	}

	for (int i = 0; i < layout->ncolumns; i++)
	{
		MetaColumn	meta = layout->meta[i];

		if (i < 64 && (*missing & (UINT64CONST(1) << i)) != 0)
			continue;			/* left out: its default */

		if (!first)
			appendStringInfoChar(out, '\t');
		first = false;

		if (meta != META_NONE)
			append_meta(out, meta, layout, rec, ingested_text);
		else if (layout->format == FORMAT_JSON || layout->format == FORMAT_CSV)
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
		else
			pp_kafka_escape_text(out, payload, len);
	}
	appendStringInfoChar(out, '\n');

	if (fields)
		pfree(fields);
	return true;
}
