/*-------------------------------------------------------------------------
 *
 * hashes.c
 *	  unique in two steps: pipeline._repeated_rows, the rows of the scan
 *	  whose value's 64-bit hash another row's value has, by row id (ctid).
 *
 * A unique expectation on a column of millions of distinct values spent
 * most of check()'s time in _duplicates (aggregate.c): a hash table entry,
 * a copy of the value and of the row's key for every distinct value, and
 * in parallel every worker's table serialized to the leader and merged
 * (docs/benchmarks.md, "0.9.0 quality").  Nearly all those values are
 * unique, and nothing of them is ever reported.
 *
 * So where the relation's rows have row ids (a table, a materialized view,
 * a partitioned table or inheritance parent whose members are all such:
 * sql.c, pp_unique_two_steps), check() finds a unique expectation's
 * duplicates in two steps (check.c, scan_step):
 *
 *	1. in the one scan: _repeated_rows(value, ctid) appends the value's
 *	   64-bit hash and the row's ctid to an array (16 bytes a row, no copy,
 *	   no table); a parallel worker sorts its array by hash (radix sort)
 *	   before sending it, the leader merges the sorted arrays; the final
 *	   function returns the ctids of the rows whose hash another row has,
 *	   as tid[] (empty: every value is unique, and there is no second step);
 *	2. only when some hash repeats: _duplicates(key, value, ...) over those
 *	   rows alone, fetched by ctid (a TID scan, not a second scan of the
 *	   table) under the same snapshot.  _duplicates compares the values
 *	   themselves, so a collision of two different values' hashes is sorted
 *	   out there, and it counts and keeps exactly what it does when given
 *	   every row: the rows it is not given have values no other row has.
 *	   (With inheritance two members can have a row at the same ctid: the
 *	   second step then also reads the other member's row, whose value,
 *	   if another row has it too, is among the repeated ones anyway: an
 *	   extra row given to _duplicates changes nothing.)
 *
 * More than PP_REPEATED_ROWS_MAX such rows (a column of few distinct
 * values): the second step gives _duplicates every row, as one step did.
 *
 * The hash is the type's extended hash function (seed 0) with the value's
 * collation; for ROW(...) hash_record_extended, which hashes each column
 * with its own.  A type with only a 32-bit hash function has it widened:
 * more collisions, which the second step sorts out.  Memory: 16 bytes a
 * row given (32 while sorting), in the aggregate's context; a worker's
 * serialized state stays under 1 GB up to about 60 million rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "quality/quality.h"

/* one row given: its value's hash and its ctid */
typedef struct HashedRow
{
	uint64		hash;
	ItemPointerData row;
} HashedRow;

/* the state of _repeated_rows */
typedef struct HashedRows
{
	HashedRow  *rows;
	int64		n;
	int64		size;			/* room in rows */
	bool		sorted;			/* by hash */
} HashedRows;

/* how the aggregate hashes its values (in fn_extra) */
typedef struct ValueHasher
{
	Oid			type;
	bool		extended;		/* fn takes a seed and returns 64 bits */
	FmgrInfo	fn;
} ValueHasher;

/* the hasher of the call site, made at its first row (its argument's type is fixed) */
static ValueHasher *
value_hasher(FunctionCallInfo fcinfo, int arg)
{
	ValueHasher *h = (ValueHasher *) fcinfo->flinfo->fn_extra;
	Oid			type;
	TypeCacheEntry *tc;

	if (h != NULL)
		return h;
	type = get_fn_expr_argtype(fcinfo->flinfo, arg);
	h = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ValueHasher));
	h->type = type;
	h->extended = true;
	if (type == RECORDOID)
		fmgr_info_cxt(F_HASH_RECORD_EXTENDED, &h->fn, fcinfo->flinfo->fn_mcxt);
	else
	{
		tc = lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (OidIsValid(tc->hash_extended_proc_finfo.fn_oid))
			fmgr_info_copy(&h->fn, &tc->hash_extended_proc_finfo, fcinfo->flinfo->fn_mcxt);
		else if (OidIsValid(tc->hash_proc_finfo.fn_oid))
		{
			fmgr_info_copy(&h->fn, &tc->hash_proc_finfo, fcinfo->flinfo->fn_mcxt);
			h->extended = false;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a hash function for type %s", format_type_be(type))));
	}
	fcinfo->flinfo->fn_extra = h;
	return h;
}

static uint64
hash_value(FunctionCallInfo fcinfo, int arg)
{
	ValueHasher *h = value_hasher(fcinfo, arg);
	Oid			coll = PG_GET_COLLATION();

	if (h->extended)
		return DatumGetUInt64(FunctionCall2Coll(&h->fn, coll, PG_GETARG_DATUM(arg), UInt64GetDatum(0)));
	return (uint64) DatumGetUInt32(FunctionCall1Coll(&h->fn, coll, PG_GETARG_DATUM(arg)));
}

/* ---- the rows, by hash ---- */

static HashedRows *
hashed_rows_new(int64 size)
{
	HashedRows *l = palloc0(sizeof(HashedRows));

	l->size = Max(size, 1024);
	l->rows = palloc_extended(l->size * sizeof(HashedRow), MCXT_ALLOC_HUGE);
	l->sorted = true;
	return l;
}

/* room for n more rows */
static void
hashed_rows_room(HashedRows *l, int64 n)
{
	if (l->n + n <= l->size)
		return;
	l->size = Max(l->size * 2, l->n + n);
	l->rows = repalloc_huge(l->rows, l->size * sizeof(HashedRow));
}

/* by hash: LSD radix sort, 8 bits a pass, a pass where all rows agree skipped */
static void
sort_rows(HashedRows *l)
{
	HashedRow  *tmp;
	HashedRow  *from = l->rows;
	HashedRow  *to;

	if (l->sorted || l->n < 2)
	{
		l->sorted = true;
		return;
	}
	tmp = palloc_extended(l->n * sizeof(HashedRow), MCXT_ALLOC_HUGE);
	to = tmp;
	for (int shift = 0; shift < 64; shift += 8)
	{
		int64		count[256] = {0};
		int64		pos = 0;
		HashedRow  *swap;

		for (int64 i = 0; i < l->n; i++)
			count[(from[i].hash >> shift) & 0xFF]++;
		if (count[(from[0].hash >> shift) & 0xFF] == l->n)
			continue;
		for (int b = 0; b < 256; b++)
		{
			int64		c = count[b];

			count[b] = pos;
			pos += c;
		}
		for (int64 i = 0; i < l->n; i++)
			to[count[(from[i].hash >> shift) & 0xFF]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	if (from != l->rows)
		memcpy(l->rows, from, l->n * sizeof(HashedRow));
	pfree(tmp);
	l->sorted = true;
}

/* ---- the aggregate ---- */

PG_FUNCTION_INFO_V1(pipeline_repeated_rows_step);
Datum
pipeline_repeated_rows_step(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	MemoryContext old;
	HashedRows *l;
	HashedRow  *r;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "aggregate function called in non-aggregate context");
	old = MemoryContextSwitchTo(cxt);
	l = PG_ARGISNULL(0) ? hashed_rows_new(0) : (HashedRows *) PG_GETARG_POINTER(0);
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
	{
		hashed_rows_room(l, 1);
		r = &l->rows[l->n++];
		r->hash = hash_value(fcinfo, 1);
		ItemPointerCopy((ItemPointer) PG_GETARG_POINTER(2), &r->row);
		l->sorted = (l->n < 2);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(l);
}

/* the other state's rows merged into l's (both sorted first) */
PG_FUNCTION_INFO_V1(pipeline_repeated_rows_combine);
Datum
pipeline_repeated_rows_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt;
	MemoryContext old;
	HashedRows *l;
	HashedRows *other;
	HashedRow  *merged;
	int64		i = 0,
				j = 0,
				k = 0;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "aggregate function called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	other = (HashedRows *) PG_GETARG_POINTER(1);
	old = MemoryContextSwitchTo(cxt);
	l = PG_ARGISNULL(0) ? hashed_rows_new(0) : (HashedRows *) PG_GETARG_POINTER(0);
	sort_rows(l);
	sort_rows(other);
	merged = palloc_extended(Max(l->n + other->n, 1) * sizeof(HashedRow), MCXT_ALLOC_HUGE);
	while (i < l->n && j < other->n)
		merged[k++] = l->rows[i].hash <= other->rows[j].hash ? l->rows[i++] : other->rows[j++];
	while (i < l->n)
		merged[k++] = l->rows[i++];
	while (j < other->n)
		merged[k++] = other->rows[j++];
	pfree(l->rows);
	l->rows = merged;
	l->n = k;
	l->size = Max(k, 1);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(l);
}

/* sorted (in the worker, so that the workers sort in parallel), then the rows */
PG_FUNCTION_INFO_V1(pipeline_repeated_rows_serialize);
Datum
pipeline_repeated_rows_serialize(PG_FUNCTION_ARGS)
{
	HashedRows *l = (HashedRows *) PG_GETARG_POINTER(0);
	Size		size = l->n * sizeof(HashedRow);
	bytea	   *b;

	sort_rows(l);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rows for a unique expectation in one parallel worker"),
				 errhint("Run the check with SET max_parallel_workers_per_gather = 0.")));
	b = palloc(VARHDRSZ + size);
	SET_VARSIZE(b, VARHDRSZ + size);
	memcpy(VARDATA(b), l->rows, size);
	PG_RETURN_BYTEA_P(b);
}

PG_FUNCTION_INFO_V1(pipeline_repeated_rows_deserialize);
Datum
pipeline_repeated_rows_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	int64		n = VARSIZE_ANY_EXHDR(b) / sizeof(HashedRow);
	HashedRows *l;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "aggregate function called in non-aggregate context");
	l = hashed_rows_new(n);
	memcpy(l->rows, VARDATA_ANY(b), n * sizeof(HashedRow));
	l->n = n;
	l->sorted = true;
	PG_RETURN_POINTER(l);
}

/*
 * the ctids of the rows whose hash another row has, as tid[], at most
 * PP_REPEATED_ROWS_MAX + 1 of them (NULL: no row given)
 */
PG_FUNCTION_INFO_V1(pipeline_repeated_rows_final);
Datum
pipeline_repeated_rows_final(PG_FUNCTION_ARGS)
{
	HashedRows *l;
	Datum	   *repeated;
	int			n = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	l = (HashedRows *) PG_GETARG_POINTER(0);
	sort_rows(l);
	repeated = palloc(sizeof(Datum) * (Min(l->n, PP_REPEATED_ROWS_MAX + 1) + 1));
	for (int64 i = 0; i < l->n && n <= PP_REPEATED_ROWS_MAX; i++)
		if ((i > 0 && l->rows[i].hash == l->rows[i - 1].hash) ||
			(i + 1 < l->n && l->rows[i].hash == l->rows[i + 1].hash))
			repeated[n++] = PointerGetDatum(&l->rows[i].row);
	PG_RETURN_ARRAYTYPE_P(construct_array(repeated, n, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT));
}
