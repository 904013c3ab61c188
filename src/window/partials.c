/*-------------------------------------------------------------------------
 *
 * partials.c
 *	  A sync statement's partial aggregates computed in C: one pass over
 *	  the trigger's transition table of inserted rows, grouped by window
 *	  and group in a hash table, handed to the merge statement as the
 *	  ephemeral relation pp_partials.
 *
 * The SQL path (sql.c, pp_window_merge_sql over the delta) has the
 * executor scan the transition table, call date_bin per row and hash
 * aggregate it: for a large COPY about as much work as a REFRESH of the
 * same GROUP BY.  Here each tuple is read once, its window start is
 * integer arithmetic, and the partials are kept per (window start, group)
 * in a hash table using the types' own hash and equality functions (the
 * type cache).  The result rows are exactly what the SQL path's pp_g
 * computes, column for column and bit for bit:
 *
 *	pp_ws, pp_we	date_bin(size, t, origin) and pp_ws + size (the end, per
 *					group, with timestamp(tz)_pl_interval: DST under a
 *					timestamptz day)
 *	groups			the first value seen of each group (as hash aggregation)
 *	pp_rows			rows, 0 for a window already final under drop (the
 *					merge then skips the group)
 *	count			rows / non-NULL values
 *	sum				int2, int4: int64 (wrapping as int4_sum); int8: int128 made
 *					numeric; numeric: an int128 of the values times 10^(4 * F)
 *					while every value is finite, of a display scale up to 4 * F
 *					and below 10^(16 - 4 * F) (F from the column's scale), made
 *					numeric once per group with the largest input scale (as the
 *					aggregate's); from the first other value on numeric_add
 *					(a sum past numeric's range, which sum() may come back
 *					from, leaves the statement to SQL);
 *					float4, float8:
 *					float4pl / float8pl from the first value, in row order
 *	avg				pp_s = the sum of the values cast to the result type,
 *					pp_c = the count; the merge divides, as before
 *	min, max		the type's comparison, keeping the new value on a tie (as
 *					int4smaller, numeric_smaller, text_smaller, ...)
 *	count(DISTINCT)	the sorted set, built by sets.c's DistinctSet
 *	pp_maxt			the largest time of the group's rows
 *	pp_nlate		its rows when its window was behind the watermark
 *
 * Only for what that is proven for: tumbling windows, a statement that
 * only inserted, no `other` aggregate, no side table, every aggregate
 * argument a plain column of a listed built-in type, group columns of
 * built-in types with built-in hash and equality (so no user code runs
 * here), a size without months.  Anything else returns false and takes
 * the SQL path.  Reads only the trigger's own transition table.
 *
 * Memory: the groups (keys, values, sets) are held until the statement's
 * rows are read.  Past get_hash_memory_limit(), where the SQL path's hash
 * aggregation would spill to disk, the statement is left to the SQL path:
 * a writer's rows of many groups or large values cost no more memory than
 * before (docs/security.md, 0.11.0: what an attacker tried).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/queryenvironment.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "common/pipeline.h"
#include "window/window.h"

/* 1970-01-01 00:00:00 (+00), the origin of date_bin in sql.c, in PostgreSQL's epoch */
#define ORIGIN_US	(-INT64CONST(946684800000000))

/* How one aggregate column is computed here. */
typedef enum AccKind
{
	ACC_COUNT_STAR,
	ACC_COUNT,					/* non-NULL values */
	ACC_INT_SUM,				/* int2 / int4 into int64 */
	ACC_INT8_SUM,				/* int8 into int128, output numeric */
	ACC_NUMERIC_SUM,			/* numeric_add */
	ACC_FLOAT4_SUM,				/* float4pl */
	ACC_FLOAT8_SUM,				/* float8pl (float4 values widened for avg) */
	ACC_MIN,
	ACC_MAX,
	ACC_DISTINCT
} AccKind;

typedef struct AccDef
{
	AccKind		kind;
	bool		avg;			/* also output the count (pp_c) */
	int			attno;			/* the argument's column (0-based), -1: count(*) */
	Oid			argtype;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo   *cmp;			/* min, max: the type's btree comparison */
	int			scale_digits;	/* numeric sums: F, the int128 counts 10^-(4 * F) */
} AccDef;

typedef struct Acc
{
	int64		count;			/* non-NULL values (rows for count(*)) */
	bool		has;			/* value is set */
	Datum		value;			/* sum, min, max */
	int64		isum;
#ifdef HAVE_INT128
	int128		lsum;
#endif
	int			dscale;			/* numeric sums in lsum: the largest input scale */
	bool		numeric;		/* numeric sums: in value, by numeric_add */
	DistinctSet set;			/* count(DISTINCT): values NULL until the first */
} Acc;

/*
 * One (window, group), allocated in one piece: the struct, the accumulators,
 * then the group values and their NULL flags, then the copies of the group
 * values kept by reference that fit (a lookup touches one allocation).
 */
typedef struct PartialGroup
{
	struct PartialGroup *next;	/* the group made after this one */
	int64		ws;
	int64		we;
	int64		rows;
	int64		maxt;
	bool		late;			/* its window was behind the watermark */
	bool		dropped;		/* ... and the policy drops such rows */
	Datum	   *keys;
	bool	   *keynulls;
	Acc			acc[FLEXIBLE_ARRAY_MEMBER];
} PartialGroup;

/* A slot of the hash table (open addressing): the group's hash at hand. */
typedef struct GroupSlot
{
	uint32		hash;
	PartialGroup *group;		/* NULL: free */
} GroupSlot;

/* What a statement needs, resolved once against the source's row type. */
typedef struct Partials
{
	PipelineWindow *def;
	int			time_attno;
	int			natts;			/* attributes to deform */
	int64		stride;			/* the size in microseconds */
	Interval   *size;
	int		   *key_attno;
	char	  **key_name;
	Oid		   *key_type;
	int32	   *key_typmod;
	Oid		   *key_coll;
	int16	   *key_len;
	bool	   *key_byval;
	FmgrInfo  **key_hash;
	FmgrInfo  **key_eq;
	bool	   *key_bytes;		/* text of a deterministic collation: its bytes */
	AccDef	   *accs;
	/* the hash table, at most half full */
	GroupSlot  *slots;
	uint32		nslots;
	PartialGroup *first;		/* the groups in the order they were made */
	PartialGroup *last;
	int64		last_ws;		/* the window start computed last, PG_INT64_MAX: none */
	uint64		ngroups;
	MemoryContext cxt;
	Size		mem_limit;		/* the SQL path's hash aggregation spills there */
	bool		give_up;		/* a value the SQL path computes otherwise */
} Partials;

static bool
builtin_oid(Oid oid)
{
	return OidIsValid(oid) && oid < FirstNormalObjectId;
}

/* The source column (0-based) a quoted name or plain-column argument names; -1 if none. */
static int
column_of(TupleDesc desc, const char *quoted)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(quote_identifier(NameStr(att->attname)), quoted) == 0)
			return i;
	}
	return -1;
}

/* The result type of sum(x) / of avg's sum for an argument type, and how. */
static bool
sum_kind(Oid argtype, bool avg, AccKind *kind, Oid *result)
{
	switch (argtype)
	{
		case INT2OID:
		case INT4OID:
			*kind = avg ? ACC_INT8_SUM : ACC_INT_SUM;
			*result = avg ? NUMERICOID : INT8OID;
#ifdef HAVE_INT128
			return true;
#else
			return !avg;		/* ACC_INT8_SUM needs int128 */
#endif
		case INT8OID:
			*kind = ACC_INT8_SUM;
			*result = NUMERICOID;
#ifdef HAVE_INT128
			return true;
#else
			return false;
#endif
		case NUMERICOID:
			*kind = ACC_NUMERIC_SUM;
			*result = NUMERICOID;
			return true;
		case FLOAT4OID:
			*kind = avg ? ACC_FLOAT8_SUM : ACC_FLOAT4_SUM;
			*result = avg ? FLOAT8OID : FLOAT4OID;
			return true;
		case FLOAT8OID:
			*kind = ACC_FLOAT8_SUM;
			*result = FLOAT8OID;
			return true;
		default:
			return false;
	}
}

/* min and max: types whose smaller / larger keep the second value on a tie */
static bool
min_max_type(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/* agg_types[i], written by create_window, names the type we would output */
static bool
same_type(PipelineWindow *def, int i, Oid type)
{
	return strcmp(def->agg_types[i], format_type_be(type)) == 0;
}

/*
 * Resolve the window against the source's row type; NULL when the C path
 * does not cover it.
 */
static Partials *
plan_partials(PipelineWindow *def, TupleDesc desc)
{
	Partials   *p;
	int			maxatt;

	if (def->kind != WIN_TUMBLE || def->has_other || def->late != NULL || def->size_value == NULL ||
		def->size_value->month != 0)
		return NULL;
	p = palloc0(sizeof(Partials));
	p->def = def;
	p->size = def->size_value;
	if (pg_mul_s64_overflow(p->size->day, USECS_PER_DAY, &p->stride) ||
		pg_add_s64_overflow(p->stride, p->size->time, &p->stride) || p->stride <= 0)
		return NULL;
	p->time_attno = column_of(desc, def->time_col);
	if (p->time_attno < 0 || TupleDescAttr(desc, p->time_attno)->atttypid != def->time_type)
		return NULL;
	maxatt = p->time_attno;

	p->key_attno = palloc(sizeof(int) * (def->ngroups + 1));
	p->key_name = palloc(sizeof(char *) * (def->ngroups + 1));
	p->key_type = palloc(sizeof(Oid) * (def->ngroups + 1));
	p->key_typmod = palloc(sizeof(int32) * (def->ngroups + 1));
	p->key_coll = palloc(sizeof(Oid) * (def->ngroups + 1));
	p->key_len = palloc(sizeof(int16) * (def->ngroups + 1));
	p->key_byval = palloc(sizeof(bool) * (def->ngroups + 1));
	p->key_hash = palloc(sizeof(FmgrInfo *) * (def->ngroups + 1));
	p->key_eq = palloc(sizeof(FmgrInfo *) * (def->ngroups + 1));
	p->key_bytes = palloc(sizeof(bool) * (def->ngroups + 1));
	for (int k = 0; k < def->ngroups; k++)
	{
		int			a = column_of(desc, def->groups[k]);
		Form_pg_attribute att;
		TypeCacheEntry *tc;

		if (a < 0)
			return NULL;
		att = TupleDescAttr(desc, a);
		if (!builtin_oid(att->atttypid))
			return NULL;
		tc = lookup_type_cache(att->atttypid, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
		if (!builtin_oid(tc->hash_proc_finfo.fn_oid) || !builtin_oid(tc->eq_opr_finfo.fn_oid))
			return NULL;
		p->key_attno[k] = a;
		p->key_name[k] = NameStr(att->attname);
		p->key_type[k] = att->atttypid;
		p->key_typmod[k] = att->atttypmod;
		p->key_coll[k] = att->attcollation;
		p->key_len[k] = att->attlen;
		p->key_byval[k] = att->attbyval;
		p->key_hash[k] = &tc->hash_proc_finfo;
		p->key_eq[k] = &tc->eq_opr_finfo;
		/* texteq and hashtext compare and hash the bytes then */
		p->key_bytes[k] = att->atttypid == TEXTOID && OidIsValid(att->attcollation) &&
			get_collation_isdeterministic(att->attcollation);
		maxatt = Max(maxatt, a);
	}

	p->accs = palloc0(sizeof(AccDef) * (def->naggs + 1));
	for (int i = 0; i < def->naggs; i++)
	{
		AccDef	   *a = &p->accs[i];
		Form_pg_attribute att;
		Oid			result;

		a->attno = -1;
		if (def->agg_kinds[i] == AGG_COUNT_STAR)
		{
			a->kind = ACC_COUNT_STAR;
			continue;
		}
		a->attno = column_of(desc, def->agg_args[i]);
		if (a->attno < 0)
			return NULL;		/* an expression: SQL */
		att = TupleDescAttr(desc, a->attno);
		a->argtype = att->atttypid;
		a->collation = att->attcollation;
		a->typlen = att->attlen;
		a->typbyval = att->attbyval;
		maxatt = Max(maxatt, a->attno);
		switch (def->agg_kinds[i])
		{
			case AGG_COUNT:
				a->kind = ACC_COUNT;
				break;
			case AGG_SUM:
			case AGG_AVG:
				a->avg = def->agg_kinds[i] == AGG_AVG;
				if (!sum_kind(a->argtype, a->avg, &a->kind, &result))
					return NULL;
				/* avg's column is sum / count: numeric or float8, as sum's */
				if (!same_type(def, i, result))
					return NULL;
				if (a->kind == ACC_NUMERIC_SUM)
				{
					/* numeric.c's numeric_typmod_scale (PostgreSQL 15: -1000 to 1000) */
					int			scale = att->atttypmod >= 0 ? (int) (((att->atttypmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024 : 0;

					a->scale_digits = Min(Max((scale + 3) / 4, 1), 3);
				}
				break;
			case AGG_MIN:
			case AGG_MAX:
				if (!min_max_type(a->argtype) || !same_type(def, i, a->argtype))
					return NULL;
				a->kind = def->agg_kinds[i] == AGG_MIN ? ACC_MIN : ACC_MAX;
				a->cmp = &lookup_type_cache(a->argtype, TYPECACHE_CMP_PROC_FINFO)->cmp_proc_finfo;
				if (!builtin_oid(a->cmp->fn_oid))
					return NULL;
				break;
			case AGG_COUNT_DISTINCT:
				{
					TypeCacheEntry *tc = lookup_type_cache(a->argtype, TYPECACHE_CMP_PROC);

					if (!builtin_oid(a->argtype) || !builtin_oid(tc->cmp_proc) ||
						!OidIsValid(get_array_type(a->argtype)))
						return NULL;
					a->kind = ACC_DISTINCT;
					break;
				}
			default:
				return NULL;
		}
	}
	p->natts = maxatt + 1;
	return p;
}

/* ------------------------------------------------------------ the groups */

/* a text value whose bytes are at hand: not compressed nor out of line */
#define PLAIN_TEXT(d)	(!VARATT_IS_EXTENDED(DatumGetPointer(d)) || VARATT_IS_SHORT(DatumGetPointer(d)))

static uint32
hash_key(Partials *p, int64 ws, Datum *keys, bool *nulls)
{
	uint32		h = murmurhash32((uint32) ws ^ (uint32) (ws >> 32));

	for (int k = 0; k < p->def->ngroups; k++)
	{
		uint32		kh = 0;

		if (nulls[k])
			;
		else if (p->key_bytes[k] && PLAIN_TEXT(keys[k]))
			kh = hash_bytes((const unsigned char *) VARDATA_ANY(DatumGetPointer(keys[k])),
							VARSIZE_ANY_EXHDR(DatumGetPointer(keys[k])));
		else
			kh = DatumGetUInt32(FunctionCall1Coll(p->key_hash[k], p->key_coll[k], keys[k]));
		h = hash_combine(h, kh);
	}
	return h;
}

static bool
equal_key(Partials *p, PartialGroup *g, int64 ws, Datum *keys, bool *nulls)
{
	if (g->ws != ws)
		return false;
	for (int k = 0; k < p->def->ngroups; k++)
	{
		if (g->keynulls[k] != nulls[k])
			return false;
		if (nulls[k])
			continue;
		if (p->key_bytes[k] && PLAIN_TEXT(keys[k]))
		{
			/* the stored value is detoasted: a 4-byte header */
			Size		len = VARSIZE_ANY_EXHDR(DatumGetPointer(keys[k]));

			if (len != VARSIZE_ANY_EXHDR(DatumGetPointer(g->keys[k])) ||
				memcmp(VARDATA_ANY(DatumGetPointer(keys[k])), VARDATA_ANY(DatumGetPointer(g->keys[k])), len) != 0)
				return false;
		}
		else if (!DatumGetBool(FunctionCall2Coll(p->key_eq[k], p->key_coll[k], g->keys[k], keys[k])))
			return false;
	}
	return true;
}

static void
grow(Partials *p)
{
	uint32		n = p->nslots * 2;
	GroupSlot  *slots = MemoryContextAllocZero(p->cxt, sizeof(GroupSlot) * n);

	for (uint32 i = 0; i < p->nslots; i++)
	{
		uint32		j = p->slots[i].hash & (n - 1);

		if (p->slots[i].group == NULL)
			continue;
		while (slots[j].group != NULL)
			j = (j + 1) & (n - 1);
		slots[j] = p->slots[i];
	}
	pfree(p->slots);
	p->slots = slots;
	p->nslots = n;
}

/* The end of the window starting at ws: ws + size, as the SQL's "+" computes it. */
static int64
window_end(Partials *p, int64 ws)
{
	if (p->def->time_type == TIMESTAMPTZOID)
		return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(ws),
													   IntervalPGetDatum(p->size)));
	return DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval, TimestampGetDatum(ws),
												 IntervalPGetDatum(p->size)));
}

static PartialGroup *
find_group(Partials *p, int64 ws, Datum *keys, bool *nulls)
{
	PipelineWindow *def = p->def;
	uint32		h = hash_key(p, ws, keys, nulls);
	uint32		i = h & (p->nslots - 1);
	PartialGroup *g;
	Size		size;
	Size		keys_at;
	char	   *copy;
	MemoryContext old;

	for (; p->slots[i].group != NULL; i = (i + 1) & (p->nslots - 1))
		if (p->slots[i].hash == h && equal_key(p, p->slots[i].group, ws, keys, nulls))
			return p->slots[i].group;

	/* a new group: its size with the group values kept by reference that fit */
	keys_at = MAXALIGN(offsetof(PartialGroup, acc) + sizeof(Acc) * (def->naggs + 1));
	size = MAXALIGN(keys_at + (sizeof(Datum) + sizeof(bool)) * (def->ngroups + 1));
	for (int k = 0; k < def->ngroups; k++)
		if (!nulls[k] && p->key_len[k] == -1 && PLAIN_TEXT(keys[k]))
			size += MAXALIGN(VARHDRSZ + VARSIZE_ANY_EXHDR(DatumGetPointer(keys[k])));
	g = MemoryContextAllocZero(p->cxt, size);
	g->keys = (Datum *) ((char *) g + keys_at);
	g->keynulls = (bool *) (g->keys + def->ngroups + 1);
	copy = (char *) g + MAXALIGN(keys_at + (sizeof(Datum) + sizeof(bool)) * (def->ngroups + 1));
	g->ws = ws;
	g->we = window_end(p, ws);
	g->maxt = PG_INT64_MIN;
	/* tumble: a row is late when its (only) window ends at or before the watermark */
	g->late = def->has_max && g->we <= pp_window_watermark(def);
	g->dropped = g->late && def->late_policy != LATE_UPDATE;
	old = MemoryContextSwitchTo(p->cxt);
	for (int k = 0; k < def->ngroups; k++)
	{
		g->keynulls[k] = nulls[k];
		if (nulls[k])
			g->keys[k] = (Datum) 0;
		else if (p->key_len[k] == -1 && PLAIN_TEXT(keys[k]))
		{
			/* as PG_DETOAST_DATUM_COPY: a 4-byte header */
			Size		len = VARSIZE_ANY_EXHDR(DatumGetPointer(keys[k]));

			SET_VARSIZE(copy, VARHDRSZ + len);
			memcpy(VARDATA(copy), VARDATA_ANY(DatumGetPointer(keys[k])), len);
			g->keys[k] = PointerGetDatum(copy);
			copy += MAXALIGN(VARHDRSZ + len);
		}
		else if (p->key_len[k] == -1)
			g->keys[k] = PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(keys[k])));
		else
			g->keys[k] = datumCopy(keys[k], p->key_byval[k], p->key_len[k]);
	}
	MemoryContextSwitchTo(old);
	p->slots[i].hash = h;
	p->slots[i].group = g;
	if (p->last)
		p->last->next = g;
	else
		p->first = g;
	p->last = g;
	p->ngroups++;
	if (p->ngroups * 2 > (uint64) p->nslots)
		grow(p);
	return g;
}

/* ----------------------------------------------------------- accumulating */

/*
 * numeric's on-disk format (numeric.c's NumericShort and NumericLong, kept
 * by pg_upgrade): after the varlena header a uint16 header, in the long
 * format then an int16 weight, then the base-10000 digits, most
 * significant first, the first of weight 10000^weight.
 */
#define NUM_FLAGS		0xC000
#define NUM_NEG			0x4000
#define NUM_SHORT		0x8000
#define NUM_SPECIAL		0xC000	/* NaN, +-Infinity */
#define NUM_BASE		10000
#define NUM_DSCALE		0x3FFF
#define NUM_SHORT_NEG	0x2000
#define NUM_SHORT_DSCALE(h)	(((h) & 0x1F80) >> 7)
#define NUM_SHORT_WEIGHT(h)	(((h) & 0x0040 ? ~0x003F : 0) | ((h) & 0x003F))

/*
 * A numeric value v as the integer v * 10^(4 * f), and its display scale;
 * false for NaN, infinities, a scale above 4 * f, |v| >= 10^(16 - 4 * f)
 * (so that any number of such values add up in an int128) or a compressed
 * or out-of-line value.
 */
static bool
numeric_scaled(Datum d, int f, int64 *scaled, int *dscale)
{
	const char *n;
	int			len;
	uint16		head;
	int			weight;
	bool		neg;
	int64		x = 0;
	int			ndigits;
	int			shift;

	if (!PLAIN_TEXT(d))
		return false;
	n = VARDATA_ANY(DatumGetPointer(d));
	len = VARSIZE_ANY_EXHDR(DatumGetPointer(d));
	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&head, n, sizeof(uint16));	/* a 1-byte varlena header: unaligned */
	if ((head & NUM_FLAGS) == NUM_SPECIAL)
		return false;
	if ((head & NUM_FLAGS) == NUM_SHORT)
	{
		neg = (head & NUM_SHORT_NEG) != 0;
		*dscale = NUM_SHORT_DSCALE(head);
		weight = NUM_SHORT_WEIGHT(head);
		n += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < (int) (sizeof(uint16) + sizeof(int16)))
			return false;
		neg = (head & NUM_FLAGS) == NUM_NEG;
		*dscale = head & NUM_DSCALE;
		memcpy(&w, n + sizeof(uint16), sizeof(int16));
		weight = w;
		n += sizeof(uint16) + sizeof(int16);
		len -= sizeof(uint16) + sizeof(int16);
	}
	ndigits = len / (int) sizeof(int16);
	*scaled = 0;
	if (ndigits == 0)
		return *dscale <= 4 * f;	/* zero */
	/* the last digit's power of 10000 in v * 10000^f, and the first's at most 3 */
	shift = weight - (ndigits - 1) + f;
	if (*dscale > 4 * f || shift < 0 || weight + f > 3)
		return false;
	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, n + i * sizeof(int16), sizeof(int16));
		x = x * NUM_BASE + digit;
	}
	while (shift-- > 0)
		x *= NUM_BASE;
	*scaled = neg ? -x : x;
	return true;
}

#ifdef HAVE_INT128
/*
 * v / 10^scale as a numeric of display scale scale: what numeric_in makes
 * of its digits with scale of them after the point.
 */
static Numeric
int128_to_numeric(int128 v, int scale)
{
	char		buf[48 + NUMERIC_MAX_DISPLAY_SCALE];
	char	   *c = buf + sizeof(buf) - 1;
	uint128		u = v < 0 ? -(uint128) v : (uint128) v;
	int			digits = 0;

	if (v >= PG_INT64_MIN && v <= PG_INT64_MAX)
		return int64_div_fast_to_numeric((int64) v, scale);
	*c = '\0';
	do
	{
		if (digits++ == scale && scale > 0)
			*--c = '.';
		*--c = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0 || digits <= scale);
	if (v < 0)
		*--c = '-';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(c),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * A numeric sum kept in lsum (the values times 10^(4 * F)) with the largest
 * display scale of its values, as numeric_add would have computed it: every
 * value had at most dscale decimals, so the division is exact.
 */
static Numeric
scaled_sum(Acc *acc, AccDef *a)
{
	int128		v = acc->lsum;

	for (int i = acc->dscale; i < 4 * a->scale_digits; i++)
		v /= 10;
	return int128_to_numeric(v, acc->dscale);
}
#endif

/* new min / max: keep the stored value only when it sorts strictly first / last */
static void
accumulate_min_max(Partials *p, AccDef *a, Acc *acc, Datum v)
{
	MemoryContext old;

	if (acc->has)
	{
		int			c = DatumGetInt32(FunctionCall2Coll(a->cmp, a->collation, acc->value, v));

		if (a->kind == ACC_MIN ? c < 0 : c > 0)
			return;
		if (!a->typbyval)
			pfree(DatumGetPointer(acc->value));
	}
	old = MemoryContextSwitchTo(p->cxt);
	acc->value = a->typlen == -1 ?
		PointerGetDatum(PG_DETOAST_DATUM_COPY(v)) :
		datumCopy(v, a->typbyval, a->typlen);
	MemoryContextSwitchTo(old);
	acc->has = true;
}

static void
accumulate(Partials *p, AccDef *a, Acc *acc, Datum v, bool isnull)
{
	MemoryContext old;

	if (a->kind == ACC_COUNT_STAR)
	{
		acc->count++;
		return;
	}
	if (isnull)
		return;
	acc->count++;
	switch (a->kind)
	{
		case ACC_COUNT_STAR:
		case ACC_COUNT:
			break;
		case ACC_INT_SUM:
			/* int2_sum / int4_sum: no overflow check */
			acc->isum = (int64) ((uint64) acc->isum +
								 (uint64) (a->argtype == INT2OID ? DatumGetInt16(v) : DatumGetInt32(v)));
			break;
		case ACC_INT8_SUM:
#ifdef HAVE_INT128
			acc->lsum += a->argtype == INT8OID ? DatumGetInt64(v) :
				a->argtype == INT4OID ? DatumGetInt32(v) : DatumGetInt16(v);
#endif
			break;
		case ACC_NUMERIC_SUM:
			{
				Numeric		sum;
				Numeric		from;
				bool		overflow = false;

#ifdef HAVE_INT128
				int64		x;
				int			dscale;

				if (!acc->numeric && numeric_scaled(v, a->scale_digits, &x, &dscale))
				{
					/* |x| < 10^16, fewer than 2^63 values: no overflow */
					acc->lsum += x;
					acc->dscale = Max(acc->dscale, dscale);
					break;
				}
#endif
				/* numeric_add from 0, or from the sum so far in lsum */
				from = acc->numeric ? DatumGetNumeric(acc->value) : int64_to_numeric(0);
#ifdef HAVE_INT128
				if (!acc->numeric && acc->count > 1)
					from = scaled_sum(acc, a);
#endif
				old = MemoryContextSwitchTo(p->cxt);
				/*
				 * A sum past numeric's range: sum() adds exactly and may
				 * come back into it (10^131072 - 1 twice, then its
				 * negative).
				 */
				sum = numeric_add_opt_error(from, DatumGetNumeric(v), &overflow);
				MemoryContextSwitchTo(old);
				if (overflow)
				{
					p->give_up = true;
					break;
				}
				if (acc->numeric)
					pfree(DatumGetPointer(acc->value));
				acc->value = NumericGetDatum(sum);
				acc->numeric = true;
				acc->has = true;
				break;
			}
		case ACC_FLOAT4_SUM:
			acc->value = Float4GetDatum(acc->has ? float4_pl(DatumGetFloat4(acc->value), DatumGetFloat4(v)) :
										DatumGetFloat4(v));
			acc->has = true;
			break;
		case ACC_FLOAT8_SUM:
			{
				float8		x = a->argtype == FLOAT4OID ? (float8) DatumGetFloat4(v) : DatumGetFloat8(v);

				acc->value = Float8GetDatum(acc->has ? float8_pl(DatumGetFloat8(acc->value), x) : x);
				acc->has = true;
				break;
			}
		case ACC_MIN:
		case ACC_MAX:
			accumulate_min_max(p, a, acc, v);
			break;
		case ACC_DISTINCT:
			if (acc->set.values == NULL)
			{
				old = MemoryContextSwitchTo(p->cxt);
				pp_distinct_set_init(&acc->set, a->argtype);
				MemoryContextSwitchTo(old);
			}
			pp_distinct_set_append(&acc->set, v, OidIsValid(a->collation) ? a->collation : DEFAULT_COLLATION_OID,
								   p->cxt);
			break;
	}
}


/*
 * date_bin(size, t, origin): arithmetic where it is exact, else the function.
 * The rows of a statement mostly come in time order: a time in the window
 * computed last is in that window.
 */
static int64
window_start(Partials *p, int64 t)
{
	int64		diff;

	if (t >= p->last_ws && !TIMESTAMP_NOT_FINITE(t) && t - p->last_ws < p->stride)
		return p->last_ws;
	if (t >= ORIGIN_US && !TIMESTAMP_NOT_FINITE(t) && !pg_sub_s64_overflow(t, ORIGIN_US, &diff))
		return p->last_ws = ORIGIN_US + (diff - diff % p->stride);
	if (p->def->time_type == TIMESTAMPTZOID)
		return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_bin, IntervalPGetDatum(p->size),
													   TimestampTzGetDatum(t), TimestampTzGetDatum(ORIGIN_US)));
	return DatumGetTimestamp(DirectFunctionCall3(timestamp_bin, IntervalPGetDatum(p->size),
												 TimestampGetDatum(t), TimestampGetDatum(ORIGIN_US)));
}


/* ---------------------------------------------------------------- output */

/*
 * The row type of pp_partials: the columns of the SQL path's pp_g, less
 * avg's quotient (the merge divides).  sig gets the type OIDs: they key
 * the merge statement's cached plan (sql.c), which was planned for them.
 */
static TupleDesc
output_desc(Partials *p, StringInfo sig)
{
	PipelineWindow *def = p->def;
	int			natts = 2 + def->ngroups + 1 + 2;
	TupleDesc	desc;
	AttrNumber	n = 0;

	for (int i = 0; i < def->naggs; i++)
		natts += p->accs[i].avg ? 2 : 1;
	desc = CreateTemplateTupleDesc(natts);
	TupleDescInitEntry(desc, ++n, "pp_ws", def->time_type, -1, 0);
	TupleDescInitEntry(desc, ++n, "pp_we", def->time_type, -1, 0);
	for (int k = 0; k < def->ngroups; k++)
	{
		TupleDescInitEntry(desc, ++n, p->key_name[k], p->key_type[k], p->key_typmod[k], 0);
		TupleDescInitEntryCollation(desc, n, p->key_coll[k]);
	}
	TupleDescInitEntry(desc, ++n, "pp_rows", INT8OID, -1, 0);
	for (int i = 0; i < def->naggs; i++)
	{
		AccDef	   *a = &p->accs[i];
		Oid			type = INT8OID;

		switch (a->kind)
		{
			case ACC_COUNT_STAR:
			case ACC_COUNT:
				break;
			case ACC_INT_SUM:
				break;
			case ACC_INT8_SUM:
			case ACC_NUMERIC_SUM:
				type = NUMERICOID;
				break;
			case ACC_FLOAT4_SUM:
				type = FLOAT4OID;
				break;
			case ACC_FLOAT8_SUM:
				type = FLOAT8OID;
				break;
			case ACC_MIN:
			case ACC_MAX:
				type = a->argtype;
				break;
			case ACC_DISTINCT:
				type = get_array_type(a->argtype);
				break;
		}
		TupleDescInitEntry(desc, ++n, psprintf(a->avg ? "pp_s%d" : a->kind == ACC_DISTINCT ? "pp_a%d" : "pp_v%d", i),
						   type, -1, 0);
		if (a->kind == ACC_MIN || a->kind == ACC_MAX)
			TupleDescInitEntryCollation(desc, n, a->collation);
		appendStringInfo(sig, "%s%u", i > 0 ? "," : "", type);
		if (a->avg)
			TupleDescInitEntry(desc, ++n, psprintf("pp_c%d", i), INT8OID, -1, 0);
	}
	for (int k = 0; k < def->ngroups; k++)
		appendStringInfo(sig, ";%u/%d/%u", p->key_type[k], p->key_typmod[k], p->key_coll[k]);
	TupleDescInitEntry(desc, ++n, "pp_maxt", def->time_type, -1, 0);
	TupleDescInitEntry(desc, ++n, "pp_nlate", INT8OID, -1, 0);
	return desc;
}

/* One group's row of pp_partials. */
static void
put_group(Partials *p, PartialGroup *g, Tuplestorestate *out, TupleDesc desc)
{
	PipelineWindow *def = p->def;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc0(sizeof(bool) * desc->natts);
	int			n = 0;

	values[n++] = Int64GetDatum(g->ws);
	values[n++] = Int64GetDatum(g->we);
	for (int k = 0; k < def->ngroups; k++)
	{
		nulls[n] = g->keynulls[k];
		values[n++] = g->keys[k];
	}
	values[n++] = Int64GetDatum(g->dropped ? 0 : g->rows);
	for (int i = 0; i < def->naggs; i++)
	{
		AccDef	   *a = &p->accs[i];
		Acc		   *acc = &g->acc[i];

		switch (a->kind)
		{
			case ACC_COUNT_STAR:
			case ACC_COUNT:
				values[n] = Int64GetDatum(acc->count);
				break;
			case ACC_INT_SUM:
				values[n] = Int64GetDatum(acc->isum);
				nulls[n] = acc->count == 0;
				break;
			case ACC_INT8_SUM:
#ifdef HAVE_INT128
				nulls[n] = acc->count == 0;
				if (!nulls[n])
					values[n] = NumericGetDatum(int128_to_numeric(acc->lsum, 0));
#endif
				break;
			case ACC_NUMERIC_SUM:
				nulls[n] = acc->count == 0;
				if (acc->numeric)
					values[n] = acc->value;
#ifdef HAVE_INT128
				else if (!nulls[n])
					values[n] = NumericGetDatum(scaled_sum(acc, a));
#endif
				break;
			case ACC_DISTINCT:
				{
					ArrayType  *set = pp_distinct_set_result(&acc->set, OidIsValid(a->collation) ?
															 a->collation : DEFAULT_COLLATION_OID);

					nulls[n] = set == NULL;
					values[n] = PointerGetDatum(set);
					break;
				}
			default:
				nulls[n] = !acc->has;
				values[n] = acc->value;
				break;
		}
		n++;
		if (a->avg)
			values[n++] = Int64GetDatum(acc->count);
	}
	values[n++] = Int64GetDatum(g->maxt);	/* a group has a row */
	values[n++] = Int64GetDatum(g->late ? g->rows : 0);
	tuplestore_putvalues(out, desc, values, nulls);
	pfree(values);
	pfree(nulls);
}

/*
 * pp_window_partials
 *		Aggregate the rows a statement inserted (the trigger's transition
 *		table "rows" of relation rel, the window's source) into partials per
 *		window and group and register them as the ephemeral relation
 *		pp_partials of the current SPI connection; def->partials_sig is set
 *		for pp_window_merge_sql.  The watermark must be loaded.  Returns
 *		false, having done nothing, when the window needs the SQL path.
 */
bool
pp_window_partials(PipelineWindow *def, Relation rel, Tuplestorestate *rows)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Partials   *p = plan_partials(def, desc);
	TupleTableSlot *slot;
	Datum	   *keys;
	bool	   *keynulls;
	TupleDesc	out_desc;
	Tuplestorestate *out;
	EphemeralNamedRelation enr;
	StringInfoData sig;
	MemoryContext rowcxt;
	MemoryContext old;
	uint64		nrows = 0;

	if (p == NULL || rows == NULL)
		return false;
	p->cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_pipeline window partials",
								   ALLOCSET_DEFAULT_SIZES);
	p->nslots = 128;
	p->last_ws = PG_INT64_MAX;	/* none yet */
	p->slots = MemoryContextAllocZero(p->cxt, sizeof(GroupSlot) * p->nslots);
	p->mem_limit = get_hash_memory_limit();
	keys = palloc(sizeof(Datum) * (def->ngroups + 1));
	keynulls = palloc(sizeof(bool) * (def->ngroups + 1));
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	/* what a row's hashing, comparing and detoasting allocates */
	rowcxt = AllocSetContextCreate(p->cxt, "pg_pipeline window partials row", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(rowcxt);

	tuplestore_rescan(rows);
	for (;;)
	{
		PartialGroup *g;
		int64		t;
		bool		more;

		CHECK_FOR_INTERRUPTS();
		/*
		 * Past the memory at which the SQL path's hash aggregation would
		 * spill to disk (values of the writer's choosing: groups of large
		 * keys, large minima), or a value the SQL path computes otherwise:
		 * leave the statement to the SQL path.
		 */
		if (p->give_up || MemoryContextMemAllocated(p->cxt, true) > p->mem_limit)
		{
			p->give_up = true;
			break;
		}
		/*
		 * A tuple read back from a spilled tuplestore is allocated in the
		 * current context and freed by the slot at the next read: not in
		 * the row context, which is reset here.
		 */
		MemoryContextSwitchTo(old);
		more = tuplestore_gettupleslot(rows, true, false, slot);
		MemoryContextSwitchTo(rowcxt);
		if (!more)
			break;
		if ((++nrows & 255) == 0 || MemoryContextMemAllocated(rowcxt, false) > ALLOCSET_DEFAULT_MAXSIZE)
			MemoryContextReset(rowcxt);	/* what the last rows allocated */
		slot_getsomeattrs(slot, p->natts);
		if (slot->tts_isnull[p->time_attno])
			continue;			/* no window: the delta leaves it out */
		t = DatumGetInt64(slot->tts_values[p->time_attno]);
		for (int k = 0; k < def->ngroups; k++)
		{
			keys[k] = slot->tts_values[p->key_attno[k]];
			keynulls[k] = slot->tts_isnull[p->key_attno[k]];
		}
		g = find_group(p, window_start(p, t), keys, keynulls);
		g->rows++;
		if (t > g->maxt)
			g->maxt = t;
		if (g->dropped)
			continue;			/* FILTER: no value of a final window's rows */
		for (int i = 0; i < def->naggs; i++)
		{
			AccDef	   *a = &p->accs[i];

			if (a->attno < 0)
				accumulate(p, a, &g->acc[i], (Datum) 0, false);
			else
				accumulate(p, a, &g->acc[i], slot->tts_values[a->attno], slot->tts_isnull[a->attno]);
		}
	}
	MemoryContextSwitchTo(old);
	tuplestore_rescan(rows);
	ExecDropSingleTupleTableSlot(slot);
	if (p->give_up)
	{
		MemoryContextDelete(p->cxt);
		return false;
	}

	/* the partials, in the SPI connection's memory (the ENR lives until SPI_finish) */
	initStringInfo(&sig);
	out_desc = output_desc(p, &sig);
	out = tuplestore_begin_heap(false, false, work_mem);
	for (PartialGroup *g = p->first; g; g = g->next)
		put_group(p, g, out, out_desc);

	enr = palloc0(sizeof(EphemeralNamedRelationData));
	enr->md.name = "pp_partials";
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = out_desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = (double) p->ngroups;
	enr->reldata = out;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the partial aggregates");
	def->partials_sig = sig.data;
	def->partials = out;
	def->partials_desc = out_desc;
	MemoryContextDelete(p->cxt);
	return true;
}

/*
 * pp_window_partials_insert
 *		Mode append: write the statement's partials (def->partials, made by
 *		pp_window_partials) into the window's partials table directly, a
 *		page at a time (table_multi_insert), instead of an INSERT ... SELECT
 *		of pp_partials: no executor, one WAL record and one buffer lock per
 *		page rather than per row, which concurrent writers contend on.  The
 *		rows, the columns and their order are the INSERT's: the table's
 *		columns are the first of pp_partials (sql.c append_partials_columns),
 *		groups with pp_rows = 0 are left out.  Only for the table as
 *		create_window made it (checked here, every time): a plain table the
 *		current role (the owner) may insert into, with those columns, and no
 *		index, trigger, rule, row security, CHECK, generated or identity
 *		column, partition constraint (the owner attached it to a partitioned
 *		table: the executor checks a row inserted into a partition directly)
 *		or NOT NULL beyond pp_ws, pp_we and pp_rows, in a transaction that
 *		may write (a temporary source takes rows in a READ ONLY one; the
 *		INSERT refuses them); anything else (an owner who added an index,
 *		say) returns false, having written nothing, and the caller runs the
 *		INSERT.  Sets the largest event time (*have_max,
 *		*max_t), the late rows and the rows written.
 */
bool
pp_window_partials_insert(PipelineWindow *def, bool *have_max, int64 *max_t, int64 *nlate,
						  uint64 *inserted)
{
#define PARTIALS_BATCH 64
	TupleDesc	in = def->partials_desc;
	int			rows_att = 2 + def->ngroups;	/* pp_rows */
	Oid			relid;
	Relation	rel;
	TupleDesc	td;
	bool		ok;
	TupleTableSlot *in_slot;
	TupleTableSlot *slots[PARTIALS_BATCH];
	int			nslots = 0;
	int			n = 0;
	BulkInsertState bistate;
	CommandId	cid;

	*have_max = false;
	*max_t = 0;
	*nlate = 0;
	*inserted = 0;
	if (def->partials == NULL || in == NULL)
		return false;
	relid = RangeVarGetRelid(makeRangeVarFromNameList(pp_qualified_name_list(def->delta)),
							 RowExclusiveLock, true);
	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, NoLock);
	td = RelationGetDescr(rel);
	ok = !XactReadOnly && rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relispartition &&
		!rel->rd_rel->relhasindex &&
		!rel->rd_rel->relhasrules && !rel->rd_rel->relrowsecurity && rel->trigdesc == NULL &&
		(td->constr == NULL || (td->constr->num_check == 0 && !td->constr->has_generated_stored)) &&
		td->natts == in->natts - 2 &&
		pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) == ACLCHECK_OK;
	for (int i = 0; ok && i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);
		Form_pg_attribute inatt = TupleDescAttr(in, i);

		ok = !att->attisdropped && att->attgenerated == '\0' && att->attidentity == '\0' &&
			!att->atthasdef &&
			att->atttypid == inatt->atttypid &&
			(att->atttypmod == -1 || att->atttypmod == inatt->atttypmod) &&
			(!att->attnotnull || i < 2 || i == rows_att);
	}
	if (!ok)
	{
		table_close(rel, NoLock);
		return false;
	}

	bistate = GetBulkInsertState();
	cid = GetCurrentCommandId(true);
	in_slot = MakeSingleTupleTableSlot(in, &TTSOpsMinimalTuple);
	tuplestore_rescan(def->partials);
	for (;;)
	{
		bool		more = tuplestore_gettupleslot(def->partials, true, false, in_slot);
		TupleTableSlot *out;

		if (more)
		{
			slot_getallattrs(in_slot);
			if (!in_slot->tts_isnull[in->natts - 2])
			{
				int64		t = DatumGetInt64(in_slot->tts_values[in->natts - 2]);

				if (!*have_max || t > *max_t)
					*max_t = t;
				*have_max = true;
			}
			if (!in_slot->tts_isnull[in->natts - 1])
				*nlate += DatumGetInt64(in_slot->tts_values[in->natts - 1]);
			if (DatumGetInt64(in_slot->tts_values[rows_att]) == 0)
				continue;		/* a window final under drop: nothing to add */
			if (n == nslots)
				slots[nslots++] = MakeSingleTupleTableSlot(td, table_slot_callbacks(rel));
			out = slots[n];
			ExecClearTuple(out);
			memcpy(out->tts_values, in_slot->tts_values, sizeof(Datum) * td->natts);
			memcpy(out->tts_isnull, in_slot->tts_isnull, sizeof(bool) * td->natts);
			ExecStoreVirtualTuple(out);
			ExecMaterializeSlot(out);	/* the next read frees in_slot's tuple */
			n++;
		}
		if (n > 0 && (n == PARTIALS_BATCH || !more))
		{
			table_multi_insert(rel, slots, n, cid, 0, bistate);
			*inserted += n;
			n = 0;
		}
		if (!more)
			break;
	}
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	ExecDropSingleTupleTableSlot(in_slot);
	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, 0);
	table_close(rel, NoLock);
	return true;
#undef PARTIALS_BATCH
}
