/*-------------------------------------------------------------------------
 *
 * sets.c
 *	  pipeline.array_distinct(): an array's distinct elements, sorted.
 *
 * count(DISTINCT x) in a window keeps the set of values of each group as a
 * sorted array without duplicates; merging a statement's values is
 * array_distinct(old || new), and pipeline.array_union() (its final
 * function) combines the sets of several panes.  Sorting uses the element
 * type's default btree comparison and the call's collation, the same
 * equality count(DISTINCT x) uses.  NULL elements are left out: count
 * ignores NULLs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "lib/qunique.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

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

PG_FUNCTION_INFO_V1(pipeline_array_distinct);
Datum
pipeline_array_distinct(PG_FUNCTION_ARGS)
{
	ArrayType  *in = PG_GETARG_ARRAYTYPE_P(0);
	Oid			elemtype = ARR_ELEMTYPE(in);
	TypeCacheEntry *typentry;
	SortContext ctx;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	typentry = lookup_type_cache(elemtype, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(typentry->cmp_proc_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a comparison function for type %s",
						format_type_be(elemtype))));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(in, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			elems[kept++] = elems[i];
	if (kept == 0)
		PG_RETURN_NULL();

	ctx.cmp = &typentry->cmp_proc_finfo;
	ctx.collation = OidIsValid(PG_GET_COLLATION()) ? PG_GET_COLLATION() : DEFAULT_COLLATION_OID;
	qsort_arg(elems, kept, sizeof(Datum), compare_elements, &ctx);
	kept = qunique_arg(elems, kept, sizeof(Datum), compare_elements, &ctx);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, kept, elemtype, typlen, typbyval, typalign));
}
