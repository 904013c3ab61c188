/*-------------------------------------------------------------------------
 *
 * aggregate.c
 *	  The aggregates of check()'s one scan: pipeline._first_keys and
 *	  pipeline._duplicates.
 *
 * Both are given, per row, a key (the key columns: one value, or ROW(...)
 * of several), a value (the expectation's columns, the same way), the
 * names of both, and a limit; both return
 *
 *	{"failing": n, "rows": [{"key": {...}, "value": {...}}, ...]}
 *
 * with at most limit rows, or NULL when they were given no row.
 *
 * _first_keys counts every row it is given (the scan's FILTER gives it the
 * failing ones only, and evaluates its arguments for those only) and turns
 * the first limit into JSON.
 *
 * _duplicates is given every row whose value has no NULL (on a table: only
 * the rows whose value's hash another row's has, hashes.c).  It hashes the
 * value (the type's hash and equality functions from the type cache; the
 * record ones for ROW(...), which hash each column with its own collation)
 * in a simplehash table of the distinct values seen, each with the key of
 * the first row that had it and the number of rows that had it.  A value
 * seen a second time makes two failing rows (the first, kept, and this
 * one); a third time one more.  Memory: one entry (about 40 bytes, plus a
 * copy of a value and key passed by reference) per distinct value, in the
 * aggregate's memory context: a table of 10 million distinct bigint values
 * takes about 0.5 GB while the scan runs (docs/quality/expectations.md).
 *
 * Parallel (Partial and Finalize Aggregate): both have a combine function
 * and serialize the state (failing count, the JSON of the rows kept with
 * where each ends, names, types, limit, collation, and _duplicates' entries
 * as value, first key and count, the datums by datumSerialize; a ROW(...)
 * keeps its record typmod, which parallel workers share with the leader).
 * Combining adds the counts: the failing count stays exact (a value seen
 * once in each of two workers is a duplicate of two rows); the rows kept
 * are those of the first state, then of the second, then the first keys of
 * values that became duplicates only by the combine, while fewer than limit
 * are kept.  So every state keeps min(limit, failing) rows, but which ones
 * (and their order) depends on how the rows were split among the workers:
 * no longer "the first limit" of the scan.  The serialized state of
 * _duplicates holds every distinct value a worker saw: it must stay under
 * 1 GB (about 30 million distinct bigint values per worker).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "quality/quality.h"

typedef struct DupEntry
{
	Datum		value;
	Datum		key;
	int64		count;			/* rows with this value */
	uint32		hash;
	char		status;			/* simplehash's */
	bool		key_null;
} DupEntry;

struct dups_hash;

typedef struct FailingRows
{
	MemoryContext cxt;			/* the aggregate's */
	int64		failing;
	int			limit;
	int			nrows;
	StringInfoData rows;		/* the JSON of the rows kept, comma-separated */
	int		   *row_ends;		/* where each row of rows ends */
	int			max_rows;		/* room in row_ends */
	char	  **key_names;
	int			nkey_names;
	char	  **value_names;
	int			nvalue_names;
	Oid			key_type;
	Oid			value_type;
	/* _duplicates only */
	struct dups_hash *hash;
	int16		key_len;
	bool		key_byval;
	int16		value_len;
	bool		value_byval;
	FmgrInfo	hash_fn;
	FmgrInfo	eq_fn;
	Oid			collation;
	/* a deserialized state of _duplicates: its entries, not hashed */
	DupEntry   *flat;
	int64		nflat;
} FailingRows;

static inline uint32
dup_hash(FailingRows *s, Datum value)
{
	return DatumGetUInt32(FunctionCall1Coll(&s->hash_fn, s->collation, value));
}

static inline bool
dup_equal(FailingRows *s, Datum a, Datum b)
{
	return DatumGetBool(FunctionCall2Coll(&s->eq_fn, s->collation, a, b));
}

#define SH_PREFIX dups
#define SH_ELEMENT_TYPE DupEntry
#define SH_KEY_TYPE Datum
#define SH_KEY value
#define SH_HASH_KEY(tb, key) dup_hash((FailingRows *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b) dup_equal((FailingRows *) (tb)->private_data, a, b)
#define SH_SCOPE static inline
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#define DUPS_MAX_SIZE (((uint64) PG_UINT32_MAX) + 1)	/* simplehash's */

/* ---- JSON of keys and values ---- */

/* to_jsonb(d) of type "type", as text */
static void
append_jsonb(StringInfo buf, Datum d, Oid type)
{
	FmgrInfo	flinfo;
	Jsonb	   *j;

	/* to_jsonb reads its argument's type from its call expression */
	fmgr_info(F_TO_JSONB, &flinfo);
	flinfo.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
										   list_make1(makeNullConst(type, -1, InvalidOid)),
										   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	j = DatumGetJsonbP(FunctionCall1(&flinfo, d));
	appendStringInfoString(buf, JsonbToCString(NULL, &j->root, VARSIZE(j)));
}

static void
append_member(StringInfo buf, int i, const char *name)
{
	if (i > 0)
		appendStringInfoString(buf, ", ");
	escape_json(buf, name);
	appendStringInfoString(buf, ": ");
}

/*
 * append_object
 *		{"name": value, ...} of one value (one name) or of a ROW(...) (a
 *		name per column); without names, to_jsonb of the value as it is (a
 *		custom_rows row has its own column names).
 */
static void
append_object(StringInfo buf, Datum d, bool isnull, Oid type, char **names, int nnames)
{
	HeapTupleHeader th;
	TupleDesc	desc;
	HeapTupleData tup;
	Datum	   *values;
	bool	   *nulls;

	if (nnames == 0 || (isnull && type == RECORDOID))
	{
		if (isnull)
			appendStringInfoString(buf, "null");
		else
			append_jsonb(buf, d, type);
		return;
	}
	appendStringInfoChar(buf, '{');
	if (type != RECORDOID)
	{
		append_member(buf, 0, names[0]);
		if (isnull)
			appendStringInfoString(buf, "null");
		else
			append_jsonb(buf, d, type);
		appendStringInfoChar(buf, '}');
		return;
	}
	th = DatumGetHeapTupleHeader(d);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	tup.t_data = th;
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	values = palloc(desc->natts * sizeof(Datum));
	nulls = palloc(desc->natts * sizeof(bool));
	heap_deform_tuple(&tup, desc, values, nulls);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		append_member(buf, i, i < nnames ? names[i] : NameStr(att->attname));
		if (nulls[i])
			appendStringInfoString(buf, "null");
		else
			append_jsonb(buf, values[i], att->atttypid);
	}
	appendStringInfoChar(buf, '}');
	ReleaseTupleDesc(desc);
}

/* one more row kept: it ends where rows ends now (in s->cxt) */
static void
remember_row_end(FailingRows *s)
{
	if (s->nrows >= s->max_rows)
	{
		s->max_rows = Min(Max(s->max_rows * 2, 16), s->limit);
		s->row_ends = s->row_ends ? repalloc(s->row_ends, s->max_rows * sizeof(int)) :
			palloc(s->max_rows * sizeof(int));
	}
	s->row_ends[s->nrows++] = s->rows.len;
}

/* keep one failing row, while fewer than limit are kept */
static void
keep_row(FailingRows *s, Datum key, bool key_null, Datum value, bool value_null)
{
	MemoryContext old;

	if (s->nrows >= s->limit)
		return;
	old = MemoryContextSwitchTo(s->cxt);
	appendStringInfoString(&s->rows, s->nrows > 0 ? ", {\"key\": " : "{\"key\": ");
	append_object(&s->rows, key, key_null, s->key_type, s->key_names, s->nkey_names);
	appendStringInfoString(&s->rows, ", \"value\": ");
	append_object(&s->rows, value, value_null, s->value_type, s->value_names, s->nvalue_names);
	appendStringInfoChar(&s->rows, '}');
	remember_row_end(s);
	MemoryContextSwitchTo(old);
}

/* ---- the transition state ---- */

static char **
names_arg(FunctionCallInfo fcinfo, int arg, int *n)
{
	Datum	   *elems;
	char	  **names;

	*n = 0;
	if (PG_ARGISNULL(arg))
		return NULL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(arg), TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, n);
	names = palloc(Max(*n, 1) * sizeof(char *));
	for (int i = 0; i < *n; i++)
		names[i] = TextDatumGetCString(elems[i]);
	return names;
}

/* the state of (state, key, value, key_names, value_names, lim), made at the first row */
static FailingRows *
failing_rows_state(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;
	MemoryContext old;
	FailingRows *s;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "aggregate function called in non-aggregate context");
	if (!PG_ARGISNULL(0))
		return (FailingRows *) PG_GETARG_POINTER(0);
	old = MemoryContextSwitchTo(cxt);
	s = palloc0(sizeof(FailingRows));
	s->cxt = cxt;
	initStringInfo(&s->rows);
	s->key_names = names_arg(fcinfo, 3, &s->nkey_names);
	s->value_names = names_arg(fcinfo, 4, &s->nvalue_names);
	s->limit = PG_ARGISNULL(5) ? 0 : Max(PG_GETARG_INT32(5), 0);
	s->key_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	s->value_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	MemoryContextSwitchTo(old);
	return s;
}

PG_FUNCTION_INFO_V1(pipeline_first_keys_step);
Datum
pipeline_first_keys_step(PG_FUNCTION_ARGS)
{
	FailingRows *s = failing_rows_state(fcinfo);

	s->failing++;
	keep_row(s, PG_GETARG_DATUM(1), PG_ARGISNULL(1), PG_GETARG_DATUM(2), PG_ARGISNULL(2));
	PG_RETURN_POINTER(s);
}

/* the hash table of _duplicates, with the value type's functions */
static void
duplicates_init(FailingRows *s, Oid collation, uint64 size)
{
	TypeCacheEntry *tc;

	/*
	 * ROW(a, b): the type cache does not claim hashing for anonymous
	 * records; expect() made sure that each column's type has it.
	 */
	if (s->value_type == RECORDOID)
	{
		fmgr_info_cxt(F_HASH_RECORD, &s->hash_fn, s->cxt);
		fmgr_info_cxt(F_RECORD_EQ, &s->eq_fn, s->cxt);
	}
	else
	{
		tc = lookup_type_cache(s->value_type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
		if (!OidIsValid(tc->hash_proc_finfo.fn_oid) || !OidIsValid(tc->eq_opr_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a hash function for type %s", format_type_be(s->value_type))));
		fmgr_info_copy(&s->hash_fn, &tc->hash_proc_finfo, s->cxt);
		fmgr_info_copy(&s->eq_fn, &tc->eq_opr_finfo, s->cxt);
	}
	get_typlenbyval(s->value_type, &s->value_len, &s->value_byval);
	get_typlenbyval(s->key_type, &s->key_len, &s->key_byval);
	s->collation = collation;
	s->hash = dups_create(s->cxt, Max(size, 1024), s);
}

/* failing rows a value seen count times makes */
static inline int64
dup_failing(int64 count)
{
	return count >= 2 ? count : 0;
}

PG_FUNCTION_INFO_V1(pipeline_duplicates_step);
Datum
pipeline_duplicates_step(PG_FUNCTION_ARGS)
{
	FailingRows *s = failing_rows_state(fcinfo);
	Datum		key = PG_GETARG_DATUM(1);
	bool		key_null = PG_ARGISNULL(1);
	DupEntry   *entry;
	bool		found;

	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(s);
	if (s->hash == NULL)
		duplicates_init(s, PG_GET_COLLATION(), 0);
	entry = dups_insert(s->hash, PG_GETARG_DATUM(2), &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(s->cxt);

		entry->value = datumCopy(entry->value, s->value_byval, s->value_len);
		entry->key = key_null ? (Datum) 0 : datumCopy(key, s->key_byval, s->key_len);
		entry->key_null = key_null;
		entry->count = 1;
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s);
	}
	if (entry->count++ == 1)
	{
		s->failing++;
		keep_row(s, entry->key, entry->key_null, entry->value, false);
	}
	s->failing++;
	keep_row(s, key, key_null, PG_GETARG_DATUM(2), false);
	PG_RETURN_POINTER(s);
}

/* ---- parallel aggregation: combine, serialize, deserialize ---- */

static char **
copy_names(char **names, int n)
{
	char	  **copy = palloc(Max(n, 1) * sizeof(char *));

	for (int i = 0; i < n; i++)
		copy[i] = pstrdup(names[i]);
	return copy;
}

/* an empty state like from's (names, types, limit), in cxt */
static FailingRows *
empty_like(FailingRows *from, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	FailingRows *s = palloc0(sizeof(FailingRows));

	s->cxt = cxt;
	initStringInfo(&s->rows);
	s->limit = from->limit;
	s->key_type = from->key_type;
	s->value_type = from->value_type;
	s->collation = from->collation;
	s->nkey_names = from->nkey_names;
	s->key_names = copy_names(from->key_names, from->nkey_names);
	s->nvalue_names = from->nvalue_names;
	s->value_names = copy_names(from->value_names, from->nvalue_names);
	MemoryContextSwitchTo(old);
	return s;
}

/* the rows kept by from, after those of s, while fewer than limit are kept */
static void
combine_rows(FailingRows *s, FailingRows *from)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);

	for (int i = 0; i < from->nrows && s->nrows < s->limit; i++)
	{
		int			start = i == 0 ? 0 : from->row_ends[i - 1] + 2;	/* past ", " */

		if (s->nrows > 0)
			appendStringInfoString(&s->rows, ", ");
		appendBinaryStringInfo(&s->rows, from->rows.data + start, from->row_ends[i] - start);
		remember_row_end(s);
	}
	MemoryContextSwitchTo(old);
}

/*
 * room in the hash table of s for n more entries (at once, not by doubling
 * as they come); the table first
 */
static void
duplicates_room(FailingRows *s, uint64 n)
{
	uint64		size;

	if (s->hash == NULL)
	{
		duplicates_init(s, s->collation, n);
		return;
	}
	size = pg_nextpower2_64((uint64) ((s->hash->members + n) / 0.9) + 1);
	if (size > s->hash->size && s->hash->size < DUPS_MAX_SIZE)
		dups_grow(s->hash, Min(size, DUPS_MAX_SIZE));
}

/*
 * one entry of another state of _duplicates added to s (file header); its
 * hash is the one s computes (the same type and collation)
 */
static void
combine_entry(FailingRows *s, DupEntry *e)
{
	DupEntry   *entry;
	bool		found;
	MemoryContext old;

	entry = dups_insert_hash(s->hash, e->value, e->hash, &found);
	if (!found)
	{
		old = MemoryContextSwitchTo(s->cxt);
		entry->value = datumCopy(e->value, s->value_byval, s->value_len);
		entry->key = e->key_null ? (Datum) 0 : datumCopy(e->key, s->key_byval, s->key_len);
		entry->key_null = e->key_null;
		entry->count = e->count;
		MemoryContextSwitchTo(old);
		return;
	}
	/* both failing counts hold dup_failing() of their own count */
	s->failing += entry->count + e->count - dup_failing(entry->count) - dup_failing(e->count);
	/* a first key not kept yet: its value was seen once on one side */
	if (entry->count == 1)
		keep_row(s, entry->key, entry->key_null, entry->value, false);
	if (e->count == 1)
		keep_row(s, e->key, e->key_null, entry->value, false);
	entry->count += e->count;
}

PG_FUNCTION_INFO_V1(pipeline_failing_rows_combine);
Datum
pipeline_failing_rows_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	FailingRows *s;
	FailingRows *from;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "aggregate function called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	from = (FailingRows *) PG_GETARG_POINTER(1);
	s = PG_ARGISNULL(0) ? empty_like(from, cxt) : (FailingRows *) PG_GETARG_POINTER(0);
	s->failing += from->failing;
	combine_rows(s, from);
	if (from->hash != NULL)
	{
		dups_iterator it;
		DupEntry   *e;

		duplicates_room(s, from->hash->members);
		dups_start_iterate(from->hash, &it);
		while ((e = dups_iterate(from->hash, &it)) != NULL)
			combine_entry(s, e);
	}
	if (from->nflat > 0)
		duplicates_room(s, from->nflat);
	for (int64 i = 0; i < from->nflat; i++)
		combine_entry(s, &from->flat[i]);
	PG_RETURN_POINTER(s);
}

static void
send_names(StringInfo buf, char **names, int n)
{
	pq_sendint32(buf, n);
	for (int i = 0; i < n; i++)
		pq_sendstring(buf, names[i]);
}

static char **
get_names(StringInfo buf, int *n)
{
	char	  **names;

	*n = pq_getmsgint(buf, 4);
	names = palloc(Max(*n, 1) * sizeof(char *));
	for (int i = 0; i < *n; i++)
		names[i] = pstrdup(pq_getmsgstring(buf));
	return names;
}

/* a datum: passed by value, as it is; else by datumSerialize */
static void
send_datum(StringInfo buf, Datum d, bool isnull, bool byval, int16 len)
{
	Size		size;
	char	   *p;

	if (byval)
	{
		pq_sendbyte(buf, isnull);
		pq_sendint64(buf, isnull ? 0 : (int64) d);
		return;
	}
	size = datumEstimateSpace(d, isnull, byval, len);

	enlargeStringInfo(buf, size);
	p = buf->data + buf->len;
	datumSerialize(d, isnull, byval, len, &p);
	buf->len += size;
	buf->data[buf->len] = '\0';
}

static Datum
get_datum(StringInfo buf, bool byval, bool *isnull)
{
	char	   *p;
	Datum		d;

	if (byval)
	{
		*isnull = pq_getmsgbyte(buf);
		return (Datum) pq_getmsgint64(buf);
	}
	p = buf->data + buf->cursor;
	d = datumRestore(&p, isnull);
	buf->cursor = p - buf->data;
	return d;
}

PG_FUNCTION_INFO_V1(pipeline_failing_rows_serialize);
Datum
pipeline_failing_rows_serialize(PG_FUNCTION_ARGS)
{
	FailingRows *s = (FailingRows *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, s->failing);
	pq_sendint32(&buf, s->limit);
	pq_sendint32(&buf, s->key_type);
	pq_sendint32(&buf, s->value_type);
	pq_sendint32(&buf, s->collation);
	send_names(&buf, s->key_names, s->nkey_names);
	send_names(&buf, s->value_names, s->nvalue_names);
	pq_sendint32(&buf, s->nrows);
	for (int i = 0; i < s->nrows; i++)
		pq_sendint32(&buf, s->row_ends[i]);
	pq_sendint32(&buf, s->rows.len);
	pq_sendbytes(&buf, s->rows.data, s->rows.len);
	pq_sendint64(&buf, s->hash ? s->hash->members : 0);
	if (s->hash != NULL)
	{
		dups_iterator it;
		DupEntry   *e;

		dups_start_iterate(s->hash, &it);
		while ((e = dups_iterate(s->hash, &it)) != NULL)
		{
			pq_sendint64(&buf, e->count);
			pq_sendint32(&buf, e->hash);
			send_datum(&buf, e->value, false, s->value_byval, s->value_len);
			send_datum(&buf, e->key, e->key_null, s->key_byval, s->key_len);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(pipeline_failing_rows_deserialize);
Datum
pipeline_failing_rows_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	FailingRows *s = palloc0(sizeof(FailingRows));
	StringInfoData buf;
	int			len;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "aggregate function called in non-aggregate context");
	buf.data = VARDATA_ANY(b);
	buf.len = buf.maxlen = VARSIZE_ANY_EXHDR(b);
	buf.cursor = 0;
	s->cxt = CurrentMemoryContext;
	s->failing = pq_getmsgint64(&buf);
	s->limit = pq_getmsgint(&buf, 4);
	s->key_type = pq_getmsgint(&buf, 4);
	s->value_type = pq_getmsgint(&buf, 4);
	s->collation = pq_getmsgint(&buf, 4);
	s->key_names = get_names(&buf, &s->nkey_names);
	s->value_names = get_names(&buf, &s->nvalue_names);
	s->nrows = s->max_rows = pq_getmsgint(&buf, 4);
	s->row_ends = palloc(Max(s->nrows, 1) * sizeof(int));
	for (int i = 0; i < s->nrows; i++)
		s->row_ends[i] = pq_getmsgint(&buf, 4);
	len = pq_getmsgint(&buf, 4);
	initStringInfo(&s->rows);
	appendBinaryStringInfo(&s->rows, pq_getmsgbytes(&buf, len), len);
	s->nflat = pq_getmsgint64(&buf);
	if (s->nflat > 0)
	{
		get_typlenbyval(s->value_type, &s->value_len, &s->value_byval);
		get_typlenbyval(s->key_type, &s->key_len, &s->key_byval);
		s->flat = palloc_extended(s->nflat * sizeof(DupEntry), MCXT_ALLOC_HUGE);
	}
	for (int64 i = 0; i < s->nflat; i++)
	{
		bool		isnull;

		s->flat[i].count = pq_getmsgint64(&buf);
		s->flat[i].hash = pq_getmsgint(&buf, 4);
		s->flat[i].value = get_datum(&buf, s->value_byval, &isnull);
		s->flat[i].key = get_datum(&buf, s->key_byval, &s->flat[i].key_null);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(pipeline_failing_rows_final);
Datum
pipeline_failing_rows_final(PG_FUNCTION_ARGS)
{
	FailingRows *s;
	char	   *json;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (FailingRows *) PG_GETARG_POINTER(0);
	json = psprintf("{\"failing\": " INT64_FORMAT ", \"rows\": [%s]}", s->failing, s->rows.data);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
