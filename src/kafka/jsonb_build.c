/*-------------------------------------------------------------------------
 *
 * jsonb_build.c
 *	  Build a jsonb datum from a message's JSON text without jsonb's own
 *	  parser, for the jsonb columns of a binary-format load (load.c).
 *
 * A jsonb source hands COPY each message as a field of its binary format:
 * jsonb's version byte 1 and the JSON text.  jsonb_recv() would run the
 * generic JSON parser over it: a lexer that copies every token, semantic
 * callbacks, pushJsonbValue() growing and copying each container, then a
 * general qsort of each object's keys and numeric_in() on every number.
 * That was half of a jsonb source's CPU time (docs/benchmarks.md, 0.10.0).
 *
 * pp_kafka_jsonb_fast_receive() replaces the receive function of every
 * jsonb column in a COPY that load.c set up (only there: its input is
 * decode.c's, each field a message whose encoding was checked) by
 * jsonb_fast_recv(): one pass of a recursive-descent parser that builds
 * a JsonbValue tree in place, and JsonbValueToJsonb() turns it into the
 * datum exactly as jsonb_in() does at its end.  What the tree holds must
 * be what jsonb_in() would have built:
 *
 *	strings		the bytes between the quotes, pointing into COPY's buffer
 *				(convertToJsonb() copies them); the escapes \" \\ \/ \b \f
 *				\n \r \t unescaped into a copy
 *	objects		pairs sorted and de-duplicated as uniqueifyJsonbObject()
 *				does: shorter key first, then by bytes (memcmp), and of
 *				equal keys the LAST one wins
 *	numbers		the Numeric numeric_in() gives, dscale and all: an integer
 *				of at most 18 digits by int64_to_numeric(), a decimal of at
 *				most 15 digits with an exponent of at most 3 digits by
 *				int64_div_fast_to_numeric() (value and dscale =
 *				max(0, fraction digits - exponent) decide a Numeric, which
 *				make_result() normalises), other numbers of at most 1,000
 *				digits by numeric_in() itself
 *	true false null
 *
 * Anything else falls back to jsonb_recv() on the same bytes, so that
 * every error (its SQLSTATE, its message) and every odd case is
 * PostgreSQL's own: a \u escape (its meaning depends on the database
 * encoding), a syntax error of any kind, a control character in a string,
 * trailing garbage, a number outside the forms above (an exponent of 4
 * digits or more, more than 1,000 digits: where numeric_in() could fail),
 * nesting deeper than MAX_DEPTH, a text of MAX_FAST_BYTES (1 MB) or more
 * (so no jsonb limit can be reached on the fast path), bytes invalid in
 * the database encoding, a client_encoding that pq_getmsgtext() would
 * convert from.  The fast path accepts a subset of the JSON jsonb_in()
 * accepts and raises nothing but out of memory.  (At most 15 digits for
 * int64_div_fast_to_numeric(): times 1000, its largest factor, they still
 * fit an int64.)
 *
 * Memory: the tree and a scratch stack of the open containers' members,
 * in the per-row context COPY resets; about what jsonb_in() needs, and
 * linear in the text (an escaped string's copy is its own size).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/copyfrom_internal.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "kafka/kafka.h"

/* deeper nesting goes to jsonb_recv(), which checks the stack depth */
#define MAX_DEPTH 64
/*
 * Larger texts go to jsonb_recv().  The binary form of a JSON text is at
 * most about 6 times its size, far below jsonb's limits (JENTRY_OFFLENMASK,
 * the number of pairs); the tree of a text of 1 MB, at worst about 45
 * bytes per byte of text (an array of 0s: each a JsonbValue on the
 * scratch stack and in its array, and a Numeric), about jsonb_in()'s.
 */
#define MAX_FAST_BYTES (1024 * 1024)
/* objects of at most this many pairs are sorted by insertion */
#define INSERTION_SORT_MAX 16

typedef struct FastParse
{
	const char *p;				/* next byte */
	const char *end;
	/* members of the open containers, innermost last */
	JsonbValue *vals;
	int			nvals;
	int			maxvals;
	JsonbPair  *pairs;
	int			npairs;
	int			maxpairs;
} FastParse;

static bool parse_value(FastParse *fp, int depth, JsonbValue *out);

static inline void
skip_ws(FastParse *fp)
{
	while (fp->p < fp->end &&
		   (*fp->p == ' ' || *fp->p == '\n' || *fp->p == '\r' || *fp->p == '\t'))
		fp->p++;
}

/*
 * What may follow a scalar: whitespace, a structural character, the end.
 * Stricter than the lexer's rule (no letter, digit, '_' or high-bit byte),
 * and only valid JSON has anything else there anyway.
 */
static inline bool
at_delimiter(FastParse *fp)
{
	if (fp->p == fp->end)
		return true;
	switch (*fp->p)
	{
		case ' ':
		case '\n':
		case '\r':
		case '\t':
		case ',':
		case ':':
		case ']':
		case '}':
			return true;
		default:
			return false;
	}
}

/*
 * A string, fp->p on its opening quote; its value in out.  With escapes,
 * its extent is found first, so that the copy is the size of the string
 * (not of the rest of the message: many short strings would cost the
 * square of the message's size).
 */
static bool
parse_string(FastParse *fp, JsonbValue *out)
{
	const char *start = ++fp->p;
	const char *s = start;
	const char *close;
	char	   *copy;
	char	   *d;

	while (s < fp->end && *s != '"' && *s != '\\' && (unsigned char) *s >= 0x20)
		s++;
	if (s == fp->end || (unsigned char) *s < 0x20)
		return false;
	out->type = jbvString;
	if (*s == '"')
	{
		out->val.string.val = unconstify(char *, start);
		out->val.string.len = s - start;
		fp->p = s + 1;
		return true;
	}

	/* the closing quote: every backslash takes the next byte with it */
	for (close = s; close < fp->end && *close != '"'; close++)
	{
		if ((unsigned char) *close < 0x20)
			return false;
		if (*close == '\\' && ++close == fp->end)
			return false;
	}
	if (close == fp->end)
		return false;

	/* unescaped into a copy, never longer than the text */
	copy = palloc(close - start);
	memcpy(copy, start, s - start);
	d = copy + (s - start);
	while (s < close)
	{
		if (*s != '\\')
		{
			*d++ = *s++;
			continue;
		}
		switch (*++s)
		{
			case '"':
			case '\\':
			case '/':
				*d++ = *s;
				break;
			case 'b':
				*d++ = '\b';
				break;
			case 'f':
				*d++ = '\f';
				break;
			case 'n':
				*d++ = '\n';
				break;
			case 'r':
				*d++ = '\r';
				break;
			case 't':
				*d++ = '\t';
				break;
			default:			/* \u (PostgreSQL's, by encoding) or invalid */
				return false;
		}
		s++;
	}
	out->val.string.val = copy;
	out->val.string.len = d - copy;
	fp->p = close + 1;
	return true;
}

/* A number, fp->p on its first byte: its Numeric as numeric_in() gives it. */
static bool
parse_number(FastParse *fp, JsonbValue *out)
{
	const char *start = fp->p;
	const char *s = start;
	bool		negative = false;
	int64		mantissa = 0;
	int			ndigits = 0;	/* of the mantissa, integer and fraction */
	int			nfraction = 0;
	int			exponent = 0;
	int			nexponent = 0;
	bool		has_fraction = false;
	bool		has_exponent = false;

	if (*s == '-')
	{
		negative = true;
		s++;
	}
	/* 0, or a digit 1-9 and more digits */
	if (s == fp->end || *s < '0' || *s > '9')
		return false;
	if (*s == '0')
	{
		s++;
		ndigits = 1;
	}
	else
		while (s < fp->end && *s >= '0' && *s <= '9')
		{
			if (ndigits < 18)
				mantissa = mantissa * 10 + (*s - '0');
			ndigits++;
			s++;
		}
	if (s < fp->end && *s == '.')
	{
		has_fraction = true;
		s++;
		while (s < fp->end && *s >= '0' && *s <= '9')
		{
			if (ndigits < 18)
				mantissa = mantissa * 10 + (*s - '0');
			ndigits++;
			nfraction++;
			s++;
		}
		if (nfraction == 0)
			return false;
	}
	if (s < fp->end && (*s == 'e' || *s == 'E'))
	{
		bool		exp_negative = false;

		has_exponent = true;
		s++;
		if (s < fp->end && (*s == '+' || *s == '-'))
			exp_negative = (*s++ == '-');
		while (s < fp->end && *s >= '0' && *s <= '9')
		{
			if (nexponent < 3)
				exponent = exponent * 10 + (*s - '0');
			nexponent++;
			s++;
		}
		/* numeric_in() refuses an exponent beyond 1000: its error */
		if (nexponent == 0 || nexponent > 3)
			return false;
		if (exp_negative)
			exponent = -exponent;
	}
	fp->p = s;
	if (!at_delimiter(fp))
		return false;

	out->type = jbvNumeric;
	if (negative)
		mantissa = -mantissa;
	if (!has_fraction && !has_exponent && ndigits <= 18)
		out->val.numeric = int64_to_numeric(mantissa);
	else if (ndigits <= 15)
		/* mantissa / 10^(nfraction - exponent); never overflows in there */
		out->val.numeric = int64_div_fast_to_numeric(mantissa, nfraction - exponent);
	else if (ndigits <= 1000)
		out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
															   CStringGetDatum(pnstrdup(start, s - start)),
															   ObjectIdGetDatum(InvalidOid),
															   Int32GetDatum(-1)));
	else
		return false;
	return true;
}

/* true, false or null, fp->p on its first byte */
static bool
parse_literal(FastParse *fp, JsonbValue *out)
{
	Size		left = fp->end - fp->p;

	if (left >= 4 && memcmp(fp->p, "true", 4) == 0)
	{
		out->type = jbvBool;
		out->val.boolean = true;
		fp->p += 4;
	}
	else if (left >= 5 && memcmp(fp->p, "false", 5) == 0)
	{
		out->type = jbvBool;
		out->val.boolean = false;
		fp->p += 5;
	}
	else if (left >= 4 && memcmp(fp->p, "null", 4) == 0)
	{
		out->type = jbvNull;
		fp->p += 4;
	}
	else
		return false;
	return at_delimiter(fp);
}

/* uniqueifyJsonbObject()'s order: shorter key first, then bytes; of equal
 * keys the later one first (it is the one kept) */
static inline int
compare_pairs(const JsonbPair *a, const JsonbPair *b)
{
	int			res;

	if (a->key.val.string.len != b->key.val.string.len)
		return a->key.val.string.len > b->key.val.string.len ? 1 : -1;
	res = memcmp(a->key.val.string.val, b->key.val.string.val, a->key.val.string.len);
	if (res != 0)
		return res;
	return a->order > b->order ? -1 : 1;
}

static int
compare_pairs_qsort(const void *a, const void *b)
{
	return compare_pairs((const JsonbPair *) a, (const JsonbPair *) b);
}

/* Sort pairs[0..n) and keep the first of each key; returns how many are kept. */
static int
sort_unique_pairs(JsonbPair *pairs, int n)
{
	int			kept;

	if (n <= 1)
		return n;
	if (n <= INSERTION_SORT_MAX)
	{
		for (int i = 1; i < n; i++)
		{
			JsonbPair	pair = pairs[i];
			int			j = i;

			while (j > 0 && compare_pairs(&pairs[j - 1], &pair) > 0)
			{
				pairs[j] = pairs[j - 1];
				j--;
			}
			pairs[j] = pair;
		}
	}
	else
		qsort(pairs, n, sizeof(JsonbPair), compare_pairs_qsort);

	kept = 1;
	for (int i = 1; i < n; i++)
	{
		JsonbPair  *last = &pairs[kept - 1];

		if (pairs[i].key.val.string.len == last->key.val.string.len &&
			memcmp(pairs[i].key.val.string.val, last->key.val.string.val,
				   last->key.val.string.len) == 0)
			continue;
		if (i != kept)
			pairs[kept] = pairs[i];
		kept++;
	}
	return kept;
}

/* room for one more member on a scratch stack of n members of size bytes */
static void *
scratch_room(void *stack, int n, int *max, Size size)
{
	if (n < *max)
		return stack;
	*max *= 2;
	return repalloc(stack, size * *max);
}

/* A container's n members, off the scratch stack (NULL for none). */
static void *
members_copy(const void *from, int n, Size size)
{
	void	   *copy;

	if (n == 0)
		return NULL;
	copy = palloc(size * n);
	memcpy(copy, from, size * n);
	return copy;
}

/*
 * After a member of a container: whitespace, then a comma (true: another
 * member follows) or the closing character (false, *closed set); anything
 * else is not for the fast path (false, *closed unset).
 */
static inline bool
next_member(FastParse *fp, char closing, bool *closed)
{
	skip_ws(fp);
	*closed = false;
	if (fp->p == fp->end)
		return false;
	if (*fp->p == closing)
	{
		fp->p++;
		*closed = true;
		return false;
	}
	if (*fp->p != ',')
		return false;
	fp->p++;
	return true;
}

static bool
parse_array(FastParse *fp, int depth, JsonbValue *out)
{
	int			first = fp->nvals;
	int			n;

	fp->p++;
	skip_ws(fp);
	if (fp->p < fp->end && *fp->p == ']')
		fp->p++;
	else
	{
		bool		closed;

		do
		{
			JsonbValue	elem;

			if (!parse_value(fp, depth + 1, &elem))
				return false;
			fp->vals = scratch_room(fp->vals, fp->nvals, &fp->maxvals, sizeof(JsonbValue));
			fp->vals[fp->nvals++] = elem;
		} while (next_member(fp, ']', &closed));
		if (!closed)
			return false;
	}

	n = fp->nvals - first;
	out->type = jbvArray;
	out->val.array.rawScalar = false;
	out->val.array.nElems = n;
	out->val.array.elems = members_copy(fp->vals + first, n, sizeof(JsonbValue));
	fp->nvals = first;
	return true;
}

static bool
parse_object(FastParse *fp, int depth, JsonbValue *out)
{
	int			first = fp->npairs;
	int			n;

	fp->p++;
	skip_ws(fp);
	if (fp->p < fp->end && *fp->p == '}')
		fp->p++;
	else
	{
		bool		closed;

		do
		{
			JsonbPair	pair;

			skip_ws(fp);
			if (fp->p == fp->end || *fp->p != '"' || !parse_string(fp, &pair.key))
				return false;
			skip_ws(fp);
			if (fp->p == fp->end || *fp->p != ':')
				return false;
			fp->p++;
			if (!parse_value(fp, depth + 1, &pair.value))
				return false;
			pair.order = fp->npairs - first;
			fp->pairs = scratch_room(fp->pairs, fp->npairs, &fp->maxpairs, sizeof(JsonbPair));
			fp->pairs[fp->npairs++] = pair;
		} while (next_member(fp, '}', &closed));
		if (!closed)
			return false;
	}

	n = sort_unique_pairs(fp->pairs + first, fp->npairs - first);
	out->type = jbvObject;
	out->val.object.nPairs = n;
	out->val.object.pairs = members_copy(fp->pairs + first, n, sizeof(JsonbPair));
	fp->npairs = first;
	return true;
}

/* Any value, after optional whitespace. */
static bool
parse_value(FastParse *fp, int depth, JsonbValue *out)
{
	if (depth > MAX_DEPTH)
		return false;
	skip_ws(fp);
	if (fp->p == fp->end)
		return false;
	switch (*fp->p)
	{
		case '{':
			return parse_object(fp, depth, out);
		case '[':
			return parse_array(fp, depth, out);
		case '"':
			return parse_string(fp, out) && at_delimiter(fp);
		case 't':
		case 'f':
		case 'n':
			return parse_literal(fp, out);
		default:
			return parse_number(fp, out);
	}
}

/*
 * The jsonb of the JSON text s[0..len), or NULL when the fast path leaves
 * it to jsonb_recv().
 */
static Jsonb *
build_jsonb(const char *s, int len)
{
	FastParse	fp;
	JsonbValue	value;

	if (len >= MAX_FAST_BYTES)
		return NULL;
	/* what pq_getmsgtext() checks, without converting */
	if (pg_get_client_encoding() != GetDatabaseEncoding() &&
		pg_get_client_encoding() != PG_SQL_ASCII)
		return NULL;
	if (!pg_verify_mbstr(GetDatabaseEncoding(), s, len, true))
		return NULL;

	fp.p = s;
	fp.end = s + len;
	fp.maxvals = 32;
	fp.nvals = 0;
	fp.vals = palloc(sizeof(JsonbValue) * fp.maxvals);
	fp.maxpairs = 32;
	fp.npairs = 0;
	fp.pairs = palloc(sizeof(JsonbPair) * fp.maxpairs);

	if (!parse_value(&fp, 0, &value))
		return NULL;
	skip_ws(&fp);
	if (fp.p != fp.end)
		return NULL;
	pfree(fp.vals);
	pfree(fp.pairs);
	/* a scalar becomes a raw scalar array, as in jsonb_in() */
	return JsonbValueToJsonb(&value);
}

/*
 * jsonb_fast_recv
 *		jsonb's receive function for a load's jsonb columns: version 1 and
 *		the JSON text, built by build_jsonb() or else by jsonb_recv().
 */
static Datum
jsonb_fast_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Jsonb	   *jb;

	if (buf->len - buf->cursor < 1 || buf->data[buf->cursor] != 1)
		return jsonb_recv(fcinfo);
	jb = build_jsonb(buf->data + buf->cursor + 1, buf->len - buf->cursor - 1);
	if (jb == NULL)
		return jsonb_recv(fcinfo);
	buf->cursor = buf->len;
	PG_RETURN_JSONB_P(jb);
}

/*
 * pp_kafka_jsonb_fast_receive
 *		Make a binary-format COPY that load.c began read its jsonb columns
 *		with jsonb_fast_recv().  Only columns of type jsonb itself whose
 *		receive function is jsonb_recv() (not a domain: COPY would check
 *		its constraints through domain_recv()).
 */
void
pp_kafka_jsonb_fast_receive(CopyFromState cstate)
{
	/* CopyFromStateData's in_functions, one per attribute, in 15 to 17 */
#if PG_VERSION_NUM >= 150000 && PG_VERSION_NUM < 180000
	TupleDesc	tupdesc = RelationGetDescr(cstate->rel);

	if (!cstate->opts.binary)
		return;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && att->atttypid == JSONBOID &&
			cstate->in_functions[i].fn_addr == jsonb_recv)
			cstate->in_functions[i].fn_addr = jsonb_fast_recv;
	}
#endif
}
