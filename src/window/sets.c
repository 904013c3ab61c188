/*-------------------------------------------------------------------------
 *
 * sets.c
 *	  The sets of count(DISTINCT x) in a window: pipeline.distinct_set(x)
 *	  (the aggregate that builds one) and pipeline.array_distinct() (an
 *	  array's distinct elements, sorted).
 *
 * count(DISTINCT x) in a window keeps the set of values of each group as a
 * sorted array without duplicates.  A statement's sets are built by
 * pipeline.distinct_set(x): its state is a plain list of the values (in
 * the aggregate's memory), sorted and made unique once, by its final
 * function.  Unlike array_agg(DISTINCT x), which PostgreSQL computes by
 * sorting the input by group and then each group's values again, it lets
 * the planner hash the groups.  Merging a statement's set into the stored
 * one is array_distinct(old || new): two sorted runs, merged in one pass
 * (any other input is sorted).  pipeline.array_union() (final function
 * array_distinct) combines the sets of several panes.  Sorting uses the
 * element type's default btree comparison and the call's collation, the
 * same equality count(DISTINCT x) uses.  NULL elements are left out: count
 * ignores NULLs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/qunique.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "common/pipeline.h"
#include "window/window.h"

typedef struct SortContext
{
	FmgrInfo   *cmp;
	Oid			collation;
} SortContext;

static int
compare_elements(const void *a, const void *b, void *arg)
{
	SortContext *ctx = (SortContext *) arg;

	return DatumGetInt32(FunctionCall2Coll(ctx->cmp, ctx->collation,
										   *(const Datum *) a, *(const Datum *) b));
}

/* bigint and integer, the usual ids, without a function call per comparison */
static int
compare_int8(const void *a, const void *b, void *arg)
{
	int64		x = DatumGetInt64(*(const Datum *) a);
	int64		y = DatumGetInt64(*(const Datum *) b);

	return (x > y) - (x < y);
}

static int
compare_int4(const void *a, const void *b, void *arg)
{
	int32		x = DatumGetInt32(*(const Datum *) a);
	int32		y = DatumGetInt32(*(const Datum *) b);

	return (x > y) - (x < y);
}

/* the same orders, sorted with the comparison inlined (lib/sort_template.h) */
#define ST_SORT sort_int8_datums
#define ST_ELEMENT_TYPE Datum
#define ST_COMPARE(a, b) compare_int8(a, b, NULL)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT sort_int4_datums
#define ST_ELEMENT_TYPE Datum
#define ST_COMPARE(a, b) compare_int4(a, b, NULL)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* qsort_arg of elems[0..n) by cmp, inlined for bigint and integer */
static void
sort_datums(Datum *elems, int n, qsort_arg_comparator cmp, SortContext *ctx)
{
	if (cmp == compare_int8)
		sort_int8_datums(elems, n);
	else if (cmp == compare_int4)
		sort_int4_datums(elems, n);
	else
		qsort_arg(elems, n, sizeof(Datum), cmp, ctx);
}

/* The comparison of elemtype's default btree opclass, and its context. */
static qsort_arg_comparator
element_comparator(Oid elemtype, Oid collation, SortContext *ctx)
{
	TypeCacheEntry *typentry;

	if (elemtype == INT8OID)
		return compare_int8;
	if (elemtype == INT4OID)
		return compare_int4;
	typentry = lookup_type_cache(elemtype, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(typentry->cmp_proc_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a comparison function for type %s",
						format_type_be(elemtype))));
	ctx->cmp = &typentry->cmp_proc_finfo;
	ctx->collation = OidIsValid(collation) ? collation : DEFAULT_COLLATION_OID;
	return compare_elements;
}

/*
 * Sort elems[0..n).  Input that is two sorted runs (a stored set followed
 * by a statement's) is merged in one pass into a new array instead.
 */
static void
sort_values(Datum *elems, int n, qsort_arg_comparator cmp, SortContext *ctx)
{
	int			split = 1;

	while (split < n && cmp(&elems[split - 1], &elems[split], ctx) <= 0)
		split++;
	if (split < n)
	{
		int			rest = split + 1;

		while (rest < n && cmp(&elems[rest - 1], &elems[rest], ctx) <= 0)
			rest++;
		if (rest == n)
		{
			Datum	   *merged = palloc(sizeof(Datum) * n);
			int			i = 0;
			int			j = split;
			int			k = 0;

			while (i < split || j < n)
			{
				if (j >= n || (i < split && cmp(&elems[i], &elems[j], ctx) <= 0))
					merged[k++] = elems[i++];
				else
					merged[k++] = elems[j++];
			}
			memcpy(elems, merged, sizeof(Datum) * n);
			pfree(merged);
		}
		else
			sort_datums(elems, n, cmp, ctx);
	}
}

/* Sort elems[0..n) and drop duplicates; returns how many are kept. */
static int
sort_unique(Datum *elems, int n, qsort_arg_comparator cmp, SortContext *ctx)
{
	sort_values(elems, n, cmp, ctx);
	return (int) qunique_arg(elems, n, sizeof(Datum), cmp, ctx);
}

/*
 * array_distinct of a one-dimensional array of bigint or integer without
 * NULLs (the sets of ids, merged at every statement): the same result as
 * the general path, read and written in place (no Datum array, one
 * allocation): two sorted runs are merged, anything else is sorted, and
 * duplicates are dropped as they are written.
 */
#define DISTINCT_INTS(name, type, cmp) \
static ArrayType * \
name(ArrayType *in, int n) \
{ \
	const type *a = (const type *) ((const char *) in + ARR_OVERHEAD_NONULLS(1)); \
	ArrayType  *out = palloc(ARR_OVERHEAD_NONULLS(1) + sizeof(type) * n); \
	type	   *o = (type *) ((char *) out + ARR_OVERHEAD_NONULLS(1)); \
	int			split = 1; \
	int			kept = 0; \
	\
	while (split < n && a[split - 1] <= a[split]) \
		split++; \
	if (split < n) \
	{ \
		int			rest = split + 1; \
		\
		while (rest < n && a[rest - 1] <= a[rest]) \
			rest++; \
		if (rest < n) \
		{ \
			type	   *t = palloc(sizeof(type) * n); \
			\
			memcpy(t, a, sizeof(type) * n); \
			qsort_arg(t, n, sizeof(type), cmp, NULL); \
			a = t; \
			split = n; \
		} \
	} \
	{ \
		int			i = 0; \
		int			j = split; \
		\
		while (i < split || j < n) \
		{ \
			type		v = (j >= n || (i < split && a[i] <= a[j])) ? a[i++] : a[j++]; \
			\
			if (kept == 0 || o[kept - 1] != v) \
				o[kept++] = v; \
		} \
	} \
	SET_VARSIZE(out, ARR_OVERHEAD_NONULLS(1) + sizeof(type) * kept); \
	out->ndim = 1; \
	out->dataoffset = 0; \
	out->elemtype = ARR_ELEMTYPE(in); \
	ARR_DIMS(out)[0] = kept; \
	ARR_LBOUND(out)[0] = 1; \
	return out; \
}

static int
compare_int8_values(const void *a, const void *b, void *arg)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static int
compare_int4_values(const void *a, const void *b, void *arg)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

DISTINCT_INTS(distinct_int8s, int64, compare_int8_values)
DISTINCT_INTS(distinct_int4s, int32, compare_int4_values)

PG_FUNCTION_INFO_V1(pipeline_array_distinct);
Datum
pipeline_array_distinct(PG_FUNCTION_ARGS)
{
	ArrayType  *in = PG_GETARG_ARRAYTYPE_P(0);
	Oid			elemtype = ARR_ELEMTYPE(in);
	SortContext ctx;
	qsort_arg_comparator cmp;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	if ((elemtype == INT8OID || elemtype == INT4OID) && ARR_NDIM(in) == 1 && !ARR_HASNULL(in))
	{
		int			n = ArrayGetNItems(ARR_NDIM(in), ARR_DIMS(in));

		if (n == 0)
			PG_RETURN_NULL();
		PG_RETURN_ARRAYTYPE_P(elemtype == INT8OID ? distinct_int8s(in, n) : distinct_int4s(in, n));
	}
	cmp = element_comparator(elemtype, PG_GET_COLLATION(), &ctx);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(in, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			elems[kept++] = elems[i];
	if (kept == 0)
		PG_RETURN_NULL();

	kept = sort_unique(elems, kept, cmp, &ctx);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, kept, elemtype, typlen, typbyval, typalign));
}

/*
 * Sort set's values and drop (and free) the duplicates.  Only the values
 * added since the last time are sorted; they are then merged with the
 * sorted ones.
 */
static void
compact_set(DistinctSet *set, Oid collation)
{
	SortContext ctx;
	qsort_arg_comparator cmp = element_comparator(set->elemtype, collation, &ctx);
	int			kept = 0;

	sort_datums(set->values + set->sorted, set->n - set->sorted, cmp, &ctx);
	sort_values(set->values, set->n, cmp, &ctx);
	for (int i = 0; i < set->n; i++)
	{
		if (kept > 0 && cmp(&set->values[kept - 1], &set->values[i], &ctx) == 0)
		{
			if (!set->typbyval)
				pfree(DatumGetPointer(set->values[i]));
			continue;
		}
		set->values[kept++] = set->values[i];
	}
	set->n = set->sorted = kept;
}

/* An empty set of elemtype's values (in the current memory context). */
void
pp_distinct_set_init(DistinctSet *set, Oid elemtype)
{
	set->elemtype = elemtype;
	get_typlenbyvalalign(elemtype, &set->typlen, &set->typbyval, &set->typalign);
	set->n = 0;
	set->sorted = 0;
	set->cap = 8;
	set->values = palloc(sizeof(Datum) * set->cap);
}

/*
 * Add a non-NULL value to set, whose memory is in context cxt; when the
 * array is full, drop its duplicates first (comparing in the caller's
 * memory, so what comparisons allocate is not kept).
 */
void
pp_distinct_set_add(DistinctSet *set, Datum value, Oid collation, MemoryContext cxt)
{
	MemoryContext old;

	if (set->n == set->cap)
	{
		compact_set(set, collation);
		if (set->n > set->cap / 4)
		{
			if ((Size) set->cap > MaxArraySize / 2)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many distinct values for an array in pipeline.distinct_set")));
			set->cap *= 2;
			set->values = repalloc_huge(set->values, sizeof(Datum) * set->cap);
		}
	}
	old = MemoryContextSwitchTo(cxt);
	/* a value kept by reference is detoasted once, here */
	if (set->typlen == -1)
		set->values[set->n++] = PointerGetDatum(PG_DETOAST_DATUM_COPY(value));
	else
		set->values[set->n++] = datumCopy(value, set->typbyval, set->typlen);
	MemoryContextSwitchTo(old);
}

/*
 * The set's values as a sorted array without duplicates; NULL when there
 * is none (as array_agg).  The set itself is left as it was.
 */
ArrayType *
pp_distinct_set_result(DistinctSet *set, Oid collation)
{
	SortContext ctx;
	qsort_arg_comparator cmp;
	Datum	   *elems;
	int			kept;

	if (set == NULL || set->n == 0)
		return NULL;
	/* the state may be finalized again (window functions): sort a copy */
	elems = palloc(sizeof(Datum) * set->n);
	memcpy(elems, set->values, sizeof(Datum) * set->n);
	cmp = element_comparator(set->elemtype, collation, &ctx);
	/* the values added since the last compaction, then merged with the rest */
	sort_datums(elems + set->sorted, set->n - set->sorted, cmp, &ctx);
	kept = sort_unique(elems, set->n, cmp, &ctx);
	return construct_array(elems, kept, set->elemtype, set->typlen, set->typbyval, set->typalign);
}

PG_FUNCTION_INFO_V1(pipeline_distinct_set_add);
Datum
pipeline_distinct_set_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	MemoryContext old;
	DistinctSet *set;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "pipeline._distinct_set_add called in a non-aggregate context");
	set = PG_ARGISNULL(0) ? NULL : (DistinctSet *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
	{
		if (set == NULL)
			PG_RETURN_NULL();	/* no value yet */
		PG_RETURN_POINTER(set);
	}

	if (set == NULL)
	{
		Oid			elemtype = get_fn_expr_argtype(fcinfo->flinfo, 1);

		if (!OidIsValid(elemtype))
			elog(ERROR, "could not determine the input type of pipeline.distinct_set");
		old = MemoryContextSwitchTo(aggcontext);
		set = palloc(sizeof(DistinctSet));
		pp_distinct_set_init(set, elemtype);
		MemoryContextSwitchTo(old);
	}
	pp_distinct_set_add(set, PG_GETARG_DATUM(1), PG_GET_COLLATION(), aggcontext);
	PG_RETURN_POINTER(set);
}

PG_FUNCTION_INFO_V1(pipeline_distinct_set_final);
Datum
pipeline_distinct_set_final(PG_FUNCTION_ARGS)
{
	ArrayType  *result;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "pipeline._distinct_set_final called in a non-aggregate context");
	result = pp_distinct_set_result(PG_ARGISNULL(0) ? NULL : (DistinctSet *) PG_GETARG_POINTER(0),
									PG_GET_COLLATION());
	if (result == NULL)
		PG_RETURN_NULL();		/* no value: NULL, as array_agg */
	PG_RETURN_ARRAYTYPE_P(result);
}
