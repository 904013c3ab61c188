/*-------------------------------------------------------------------------
 *
 * define.c
 *	  pipeline.create_window(), drop_window(), rebuild_window() and
 *	  flush_window(): what a user calls.
 *
 * create_window() is a list of steps, as pg_ivm's create_immv is:
 *	parse	parse_arguments: the options, the window kind and its sizes;
 *	check	check_definition: the source, its time and group columns, the
 *			aggregates read with PostgreSQL's own parser (parse analysis of
 *			"SELECT <aggregates> FROM <source>", so unknown columns and bad
 *			calls get PostgreSQL's errors) and how each is kept (window.h,
 *			AggKind); name_relations, check_sink;
 *	create	create_relations: the state table and its indexes, and the view,
 *			delta and late tables the options ask for; insert_catalog_row;
 *			create_triggers: the statement triggers on the source;
 *			record_dependencies: in pg_depend, as a view's (depend.c);
 *	fill	fill: the state from the rows already in the source.
 * Everything runs as the calling user, who owns what is created.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/indexing.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "common/compat.h"
#include "common/pipeline.h"
#include "window/window.h"

/* One aggregate column, as create_window() reads it. */
typedef struct AggColumn
{
	char	   *name;
	const char *kind;			/* as stored in pipeline.windows.agg_kinds */
	char	   *expr;
	char	   *arg;
	char	   *type;
	char	   *set_type;		/* count_distinct: the array of values */
} AggColumn;

static char *
qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/* An interval as microseconds; months and years have no fixed length. */
static int64
interval_us(Interval *iv, const char *what, bool positive)
{
	int64		us;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot be given in months or years", what),
				 errhint("Windows have a fixed length: use days, for example '30 days'.")));
	us = iv->day * USECS_PER_DAY + iv->time;
	if (positive ? us <= 0 : us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", what, positive ? "positive" : "zero or positive")));
	return us;
}

static char *
text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return TextDatumGetCString(PG_GETARG_DATUM(n));
}

static void
check_choice(const char *value, const char *what, const char *const *choices)
{
	StringInfoData list;

	for (int i = 0; choices[i]; i++)
		if (strcmp(value, choices[i]) == 0)
			return;
	initStringInfo(&list);
	for (int i = 0; choices[i]; i++)
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", choices[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\"", what, value),
			 errhint("Valid values: %s.", list.data)));
}

/* Names the state table uses itself. */
static void
check_column_name(const char *name, const char *what)
{
	if (strcmp(name, "window_start") == 0 || strcmp(name, "window_end") == 0 ||
		strcmp(name, "is_final") == 0 || strncmp(name, "pp_", 3) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s \"%s\" clashes with a column of the window table", what, name),
				 errhint("window_start, window_end, is_final and names starting with pp_ are taken; "
						 "rename it (group by an expression through a view or a generated column).")));
}

/* Column type as SQL, with its collation when it is not the type's. */
static char *
column_type(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	Form_pg_attribute att;
	char	   *type;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, relid);
	att = (Form_pg_attribute) GETSTRUCT(tup);
	type = format_type_with_typemod(att->atttypid, att->atttypmod);
	if (OidIsValid(att->attcollation) && att->attcollation != get_typcollation(att->atttypid))
		type = psprintf("%s COLLATE %s", type, generate_collation_name(att->attcollation));
	ReleaseSysCache(tup);
	return type;
}

static AttrNumber
source_column(Oid source, const char *name)
{
	AttrNumber	attnum = get_attnum(source, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", name, get_rel_name(source))));
	return attnum;
}

/* Errors in the aggregates point into the query we built, not the caller's. */
static void
aggregates_error_callback(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery((const char *) arg);
	}
	errcontext("reading the aggregates of a window");
}

/*
 * Read the aggregates text: a SELECT list of single aggregate calls, each
 * with a name.  Returns the AggColumns; adds the source columns they read
 * to *attnos.
 */
static List *
read_aggregates(Oid source, const char *aggregates, Bitmapset **attnos)
{
	char	   *sql = psprintf("SELECT %s FROM %s", aggregates, qualified_name(source));
	ErrorContextCallback errcb = {.callback = aggregates_error_callback, .arg = sql,
	.previous = error_context_stack};
	List	   *raw;
	RawStmt    *rs;
	SelectStmt *sel;
	Query	   *query;
	List	   *ctx;
	List	   *result = NIL;
	ListCell   *lc;
	int			pin_level;

	error_context_stack = &errcb;
	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	rs = list_length(raw) == 1 ? linitial_node(RawStmt, raw) : NULL;
	sel = rs && IsA(rs->stmt, SelectStmt) ? (SelectStmt *) rs->stmt : NULL;
	if (sel == NULL || sel->op != SETOP_NONE || list_length(sel->fromClause) != 1 ||
		sel->whereClause || sel->groupClause || sel->havingClause || sel->sortClause ||
		sel->limitCount || sel->limitOffset || sel->withClause || sel->distinctClause ||
		sel->windowClause || sel->intoClause || sel->lockingClause)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("aggregates must be a list of aggregate calls"),
				 errhint("For example: 'count(*) AS views, count(DISTINCT user_id) AS users'.")));

	query = parse_analyze_fixedparams(rs, sql, NULL, 0, NULL);
	error_context_stack = errcb.previous;
	if (query->hasSubLinks || query->hasWindowFuncs || query->hasTargetSRFs)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregates cannot contain subqueries, window functions or set-returning functions")));
	ctx = deparse_context_for(get_rel_name(source), source);

	/*
	 * Analysed in the caller's search_path, stored as text deparsed under
	 * the pinned one: every function, operator and type outside pg_catalog
	 * comes out schema-qualified, so maintenance (which runs this text
	 * under the same pinned path, as the owner, maybe in another role's
	 * session) binds exactly what the caller meant, whatever path is set
	 * later.
	 */
	pin_level = pp_pinned_search_path_begin();
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Aggref	   *agg;
		AggColumn  *col;
		char	   *fname;
		bool		builtin;
		ListCell   *other;

		if (tle->resjunk)
			continue;
		if (!IsA(tle->expr, Aggref))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not an aggregate call", tle->resname),
					 errdetail("Each output column of a window must be one aggregate call, such as sum(amount)."),
					 errhint("Compute expressions over aggregates when reading the table, or in a view.")));
		agg = (Aggref *) tle->expr;
		if (agg->aggkind != AGGKIND_NORMAL || agg->aggorder != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregate \"%s\" depends on the order of its input", tle->resname),
					 errdetail("Ordered-set aggregates and ORDER BY inside an aggregate cannot be maintained incrementally.")));
		if (agg->aggfilter != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("FILTER is not supported in window aggregates"),
					 errhint("Put the condition inside the call: sum(CASE WHEN ... THEN amount END).")));
		check_column_name(tle->resname, "aggregate name");
		foreach(other, result)
			if (strcmp(((AggColumn *) lfirst(other))->name, tle->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("aggregate name \"%s\" is used twice", tle->resname),
						 errhint("Name each aggregate with AS.")));

		col = palloc0(sizeof(AggColumn));
		col->name = pstrdup(tle->resname);
		col->expr = deparse_expression((Node *) agg, ctx, false, false);
		col->arg = "";
		col->type = format_type_be(agg->aggtype);
		fname = get_func_name(agg->aggfnoid);
		builtin = get_func_namespace(agg->aggfnoid) == PG_CATALOG_NAMESPACE;
		col->kind = "other";
		if (builtin && strcmp(fname, "count") == 0 && agg->aggstar)
			col->kind = "count_star";
		else if (builtin && strcmp(fname, "count") == 0 && agg->aggdistinct != NIL &&
				 list_length(agg->args) == 1)
		{
			Oid			argtype = exprType((Node *) linitial_node(TargetEntry, agg->args)->expr);

			if (OidIsValid(get_array_type(argtype)))
			{
				col->kind = "count_distinct";
				col->set_type = format_type_be(get_array_type(argtype));
			}
		}
		else if (builtin && agg->aggdistinct == NIL && list_length(agg->args) == 1)
		{
			if (strcmp(fname, "count") == 0)
				col->kind = "count";
			else if (strcmp(fname, "sum") == 0)
				col->kind = "sum";
			else if (strcmp(fname, "avg") == 0)
				col->kind = "avg";
			else if (strcmp(fname, "min") == 0)
				col->kind = "min";
			else if (strcmp(fname, "max") == 0)
				col->kind = "max";
		}
		if (strcmp(col->kind, "other") == 0)
		{
			HeapTuple	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg->aggfnoid));
			Oid			combine;

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for aggregate %u", agg->aggfnoid);
			combine = ((Form_pg_aggregate) GETSTRUCT(tup))->aggcombinefn;
			ReleaseSysCache(tup);
			if (!OidIsValid(combine))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("aggregate %s has no combine function", format_procedure(agg->aggfnoid)),
						 errdetail("A window keeps partial aggregates per statement and combines them; "
								   "an aggregate without a combine function cannot be combined."),
						 errhint("Use an aggregate that has one (CREATE AGGREGATE ... COMBINEFUNC), "
								 "or count, sum, avg, min, max.")));
		}
		else if (strcmp(col->kind, "count_star") != 0)
			col->arg = deparse_expression((Node *) linitial_node(TargetEntry, agg->args)->expr,
										  ctx, false, false);
		result = lappend(result, col);
	}
	pp_pinned_search_path_end(pin_level);
	if (result == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a window needs at least one aggregate")));

	pull_varattnos((Node *) query->targetList, 1, attnos);
	for (int x = -1; (x = bms_next_member(*attnos, x)) >= 0;)
		if (x + FirstLowInvalidHeapAttributeNumber <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aggregates cannot read system columns or whole rows")));
	return result;
}

/* append a name to a list of names unless it is there */
static List *
add_name(List *names, char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return names;
	return lappend(names, name);
}

static Datum
text_array_datum(List *strings)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(strings) + 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, strings)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
exec(const char *sql)
{
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run: %s", sql);
}

/* a relation name with a suffix, kept under NAMEDATALEN */
static char *
with_suffix(const char *rel, const char *suffix)
{
	int			room = NAMEDATALEN - 1 - strlen(suffix);
	int			len = pg_mbcliplen(rel, strlen(rel), room);

	return psprintf("%.*s%s", len, rel, suffix);
}

/*
 * A window aggregate being created: what create_window() reads from its
 * arguments (parse_arguments), what the checks derive from the source and
 * the aggregates (check_definition), the names of the relations it
 * creates (name_relations), and its id once the catalog has it.
 */
typedef struct NewWindow
{
	/* the arguments */
	char	   *name;
	Oid			source;
	char	   *time_column;
	char	   *kind;			/* tumble, hop, cumulate or session */
	Interval   *size;
	Interval   *slide;			/* hop: the slide; cumulate: the step */
	char	   *aggregates;
	List	   *groups;			/* group column names */
	Datum		allowed_lateness;	/* interval */
	char	   *emit;
	char	   *late_rows;
	char	   *mode;
	bool		has_retention;
	Datum		retention;		/* interval */
	char	   *sink;			/* or NULL */

	/* from the checks */
	AttrNumber	time_attnum;
	char	   *ttype;			/* the time column's type, as SQL */
	char	   *source_q;		/* qualified and quoted */
	List	   *aggs;			/* AggColumns */
	List	   *cols;			/* the source columns maintenance reads */

	/* what is created */
	RangeVar   *rv;				/* the result */
	bool		append;			/* mode append */
	char	   *result_q,
			   *state_q,
			   *delta_q,		/* async: the delta; append: the partials */
			   *late_q;			/* side_table only */
	int32		id;
} NewWindow;

/*
 * Step 1, parse: the arguments, the options' values, the window kind and
 * its sizes.  Nothing is looked up yet.
 */
static void
parse_arguments(FunctionCallInfo fcinfo, NewWindow *w)
{
	static const char *const emits[] = {"on_update", "on_close", NULL};
	static const char *const lates[] = {"update", "drop", "side_table", NULL};
	static const char *const modes[] = {"sync", "async", "append", NULL};
	HeapTupleHeader spec;
	bool		isnull;
	Datum		d;
	int64		size_us,
				slide_us = 0;

	w->name = text_arg(fcinfo, 0, "name");
	w->aggregates = text_arg(fcinfo, 4, "aggregates");
	w->emit = text_arg(fcinfo, 7, "emit");
	w->late_rows = text_arg(fcinfo, 8, "late_rows");
	w->mode = text_arg(fcinfo, 9, "mode");
	w->sink = PG_ARGISNULL(11) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(11));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source, time_column and window_spec must not be NULL")));
	w->source = PG_GETARG_OID(1);
	w->time_column = NameStr(*PG_GETARG_NAME(2));
	spec = PG_GETARG_HEAPTUPLEHEADER(3);

	check_choice(w->emit, "emit", emits);
	check_choice(w->late_rows, "late_rows", lates);
	check_choice(w->mode, "mode", modes);
	if (strcmp(w->mode, "sync") != 0)
		pp_shmem_require();		/* the maintainer merges or folds */

	/* the window kind and its sizes */
	d = GetAttributeByName(spec, "kind", &isnull);
	w->kind = isnull ? "" : TextDatumGetCString(d);
	d = GetAttributeByName(spec, "size", &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the window size must not be NULL")));
	w->size = DatumGetIntervalP(d);
	if (strcmp(w->kind, "session") == 0)
		size_us = interval_us(w->size, "the session gap", true);
	else if (strcmp(w->kind, "tumble") == 0 || strcmp(w->kind, "hop") == 0 ||
			 strcmp(w->kind, "cumulate") == 0)
	{
		bool		cumulate = strcmp(w->kind, "cumulate") == 0;

		size_us = interval_us(w->size, cumulate ? "the largest window size" : "the window size", true);
		d = GetAttributeByName(spec, "slide", &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the window %s must not be NULL", cumulate ? "step" : "slide")));
		w->slide = DatumGetIntervalP(d);
		slide_us = interval_us(w->slide, cumulate ? "the window step" : "the window slide", true);
		if (slide_us > size_us)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the window %s is larger than the window size", cumulate ? "step" : "slide")));
		if (size_us % slide_us != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the window size must be a multiple of the %s", cumulate ? "step" : "slide"),
					 errhint("Windows are made of whole %ss, as in Flink.", cumulate ? "step" : "slide")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid window kind \"%s\"", w->kind),
				 errhint("Build the window_spec with pipeline.tumble(), hop(), cumulate() or session().")));
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("allowed_lateness must not be NULL"),
				 errhint("Use '0' for no lateness.")));
	w->allowed_lateness = PG_GETARG_DATUM(6);
	(void) interval_us(DatumGetIntervalP(w->allowed_lateness), "allowed_lateness", false);
	w->has_retention = !PG_ARGISNULL(10);
	if (w->has_retention)
	{
		w->retention = PG_GETARG_DATUM(10);
		(void) interval_us(DatumGetIntervalP(w->retention), "retention", true);
	}
	if (!PG_ARGISNULL(5))
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(5), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			w->groups = lappend(w->groups, nulls[i] ? "" : pstrdup(NameStr(*DatumGetName(elems[i]))));
	}
}

/*
 * Step 2, check: the source is a table the caller may read, its time
 * column has a time type, the group columns exist (once each), the
 * aggregates are aggregate calls PostgreSQL's parser accepts over the
 * source (read_aggregates, which decides how each is kept); collects the
 * source columns maintenance reads: time, groups, aggregate inputs.
 */
static void
check_definition(NewWindow *w)
{
	Oid			source = w->source;
	char		relkind;
	Oid			time_type;
	Bitmapset  *attnos = NULL;
	List	   *groups = NIL;
	ListCell   *lc;

	relkind = get_rel_relkind(source);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(source)),
				 errdetail("A window aggregate is maintained by triggers on a table.")));
	if (pg_class_aclcheck(source, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(source))));
	w->source_q = qualified_name(source);
	w->time_attnum = source_column(source, w->time_column);
	time_type = get_atttype(source, w->time_attnum);
	if (time_type != TIMESTAMPTZOID && time_type != TIMESTAMPOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time column \"%s\" is of type %s", w->time_column, format_type_be(time_type)),
				 errhint("The time column must be timestamptz or timestamp.")));
	w->ttype = format_type_be(time_type);
	w->cols = lappend(NIL, w->time_column);
	foreach(lc, w->groups)
	{
		char	   *g = lfirst(lc);
		ListCell   *seen;

		(void) source_column(source, g);
		check_column_name(g, "group column");
		foreach(seen, groups)
			if (strcmp(lfirst(seen), g) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("group column \"%s\" is listed twice", g)));
		groups = lappend(groups, g);
	}

	w->aggs = read_aggregates(source, w->aggregates, &attnos);
	foreach(lc, w->aggs)
	{
		ListCell   *lg;

		foreach(lg, w->groups)
			if (strcmp(((AggColumn *) lfirst(lc))->name, lfirst(lg)) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("aggregate name \"%s\" is also a group column", (char *) lfirst(lg))));
	}
	if (strcmp(w->mode, "append") == 0)
	{
		if (strcmp(w->kind, "session") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("mode append does not keep session windows"),
					 errdetail("A session's bounds depend on the rows around it, so writers cannot append partials of it."),
					 errhint("Use mode sync or async for session windows.")));
		foreach(lc, w->aggs)
		{
			AggColumn  *a = lfirst(lc);

			if (strcmp(a->kind, "other") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("mode append cannot keep aggregate \"%s\"", a->name),
						 errdetail("Mode append keeps count, sum, avg, min, max and count(DISTINCT), whose partials combine."),
						 errhint("Use mode sync or async for other aggregates.")));
		}
	}
	/* the source columns maintenance reads: time, groups, aggregate inputs */
	foreach(lc, w->groups)
		w->cols = add_name(w->cols, lfirst(lc));
	for (int x = -1; (x = bms_next_member(attnos, x)) >= 0;)
	{
		char	   *c = get_attname(source, x + FirstLowInvalidHeapAttributeNumber, false);

		if (strncmp(c, "pp_", 3) == 0)
			check_column_name(c, "source column");
		w->cols = add_name(w->cols, c);
	}
}

/*
 * Step 2, check (continued): the names of what is created, all in the
 * result's schema (with_suffix), and the result's name is free.
 */
static void
name_relations(NewWindow *w)
{
	Oid			nsp;
	char	   *nspname;
	char	   *relname;

	w->rv = makeRangeVarFromNameList(pp_qualified_name_list(w->name));
	nsp = RangeVarGetCreationNamespace(w->rv);
	nspname = get_namespace_name(nsp);
	relname = w->rv->relname;
	w->result_q = quote_qualified_identifier(nspname, relname);
	w->append = strcmp(w->mode, "append") == 0;
	w->state_q = strcmp(w->emit, "on_close") == 0 || w->append ?
		quote_qualified_identifier(nspname, with_suffix(relname, "_state")) : w->result_q;
	if (strcmp(w->mode, "async") == 0)
		w->delta_q = quote_qualified_identifier(nspname, with_suffix(relname, "_delta"));
	if (w->append)
		w->delta_q = quote_qualified_identifier(nspname, with_suffix(relname, "_partials"));
	if (strcmp(w->late_rows, "side_table") == 0)
		w->late_q = quote_qualified_identifier(nspname, with_suffix(relname, "_late"));

	if (OidIsValid(RangeVarGetRelid(w->rv, NoLock, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", relname),
				 errhint("Choose another name, or drop it first (pipeline.drop_window() for a window).")));
}

/* Step 2, check (continued): the sink exists.  Connected to SPI. */
static void
check_sink(NewWindow *w)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	if (w->sink == NULL)
		return;
	values[0] = CStringGetTextDatum(w->sink);
	if (SPI_execute_with_args("SELECT 1 FROM pipeline.sinks WHERE name = $1", 1, argtypes, values,
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sink \"%s\" does not exist", w->sink),
				 errhint("Create it first with pipeline.create_sink().")));
}

/*
 * Mode append: the partials table, one row per statement, window and
 * group, with the columns of a statement's partials (sql.c's
 * append_partials_columns, in that order): pp_ws, pp_we, the groups,
 * pp_rows, then per aggregate pp_v<i> (count, sum, min, max), pp_s<i> and
 * pp_c<i> (avg's sum and count) or pp_a<i> (count(DISTINCT)'s set, kept
 * out of line uncompressed, as the state's).  No index: a fold reads it
 * all.
 */
static void
create_partials(NewWindow *w)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE TABLE %s (pp_ws %s NOT NULL, pp_we %s NOT NULL",
					 w->delta_q, w->ttype, w->ttype);
	foreach(lc, w->groups)
		appendStringInfo(&buf, ", %s %s", quote_identifier(lfirst(lc)),
						 column_type(w->source, get_attnum(w->source, lfirst(lc))));
	appendStringInfoString(&buf, ", pp_rows bigint NOT NULL");
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		if (strcmp(a->kind, "avg") == 0)
			appendStringInfo(&buf, ", pp_s%d %s, pp_c%d bigint", i, a->type, i);
		else if (a->set_type)
			appendStringInfo(&buf, ", pp_a%d %s", i, a->set_type);
		else
			appendStringInfo(&buf, ", pp_v%d %s", i, a->type);
		i++;
	}
	/*
	 * A queue: filled by writers, emptied by every fold.  Vacuum's
	 * truncation of its empty end would take an exclusive lock that the
	 * next writer waits for (autovacuum then gives up, with an ERROR in
	 * the server log): the pages stay for the next rows instead.
	 */
	appendStringInfoString(&buf, ") WITH (vacuum_truncate = false, toast.vacuum_truncate = false)");
	exec(buf.data);
	i = 0;
	foreach(lc, w->aggs)
	{
		if (((AggColumn *) lfirst(lc))->set_type)
			exec(psprintf("ALTER TABLE %s ALTER pp_a%d SET STORAGE EXTERNAL", w->delta_q, i));
		i++;
	}
	exec(psprintf("COMMENT ON TABLE %s IS %s", w->delta_q,
				  quote_literal_cstr(psprintf("partial aggregates appended by the writers of %s, "
											  "folded into %s by pg_pipeline's maintainer",
											  w->source_q, w->state_q))));
}

/* ", a.g1, a.g2": the group columns, quoted, each after alias */
static void
append_group_columns(StringInfo buf, NewWindow *w, const char *alias)
{
	ListCell   *lc;

	foreach(lc, w->groups)
		appendStringInfo(buf, ", %s.%s", alias, quote_identifier(lfirst(lc)));
}

/*
 * Mode append: the result is a view of the state plus the partials not
 * folded yet, so a reader sees every committed statement as in sync mode.
 * Partials exist for the few windows written since the last fold (pp_w,
 * their distinct bounds): the state rows of the other windows are read as
 * they are (an anti-join on the window's bounds with a handful of rows);
 * the state rows of those windows and the partials are grouped per window
 * and group and combined per aggregate (counts and sums added, min, max,
 * avg from its sum and count, count(DISTINCT) by uniting the sets): what
 * the fold will write.  GROUP BY matches the groups as the fold's GROUP
 * BY and the state's unique index do (NULLs one group; NaN, -0, numeric
 * scales, collations by the types' own equality), and needs no estimate
 * of the partials to plan well: matching state rows to grouped partials
 * by a join (IS NOT DISTINCT FROM per column, whole records, arrays of
 * each group) was planned from the partials table's statistics, mostly of
 * an empty table, and took 0.8 s to 48 s with 100,000 partials waiting.
 * emit on_close: the final rows only.
 */
static void
create_append_view(NewWindow *w)
{
	StringInfoData buf;
	StringInfoData inwin;
	ListCell   *lc;
	int			i;

	initStringInfo(&inwin);
	appendStringInfoString(&inwin, "EXISTS (SELECT 1 FROM pp_w w WHERE w.pp_ws = s.window_start AND w.pp_we = s.window_end)");

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE VIEW %s AS WITH pp_w AS (SELECT DISTINCT p.pp_ws, p.pp_we FROM %s p) "
					 "SELECT * FROM (SELECT s.window_start, s.window_end", w->result_q, w->delta_q);
	append_group_columns(&buf, w, "s");
	foreach(lc, w->aggs)
		appendStringInfo(&buf, ", s.%s", quote_identifier(((AggColumn *) lfirst(lc))->name));
	appendStringInfo(&buf, ", s.is_final FROM %s s WHERE NOT %s", w->state_q, inwin.data);

	/* the windows with partials: state and partials combined */
	appendStringInfoString(&buf, " UNION ALL SELECT u.pp_ws, u.pp_we");
	append_group_columns(&buf, w, "u");
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		if (strcmp(a->kind, "count") == 0 || strcmp(a->kind, "count_star") == 0 ||
			strcmp(a->kind, "sum") == 0)
			appendStringInfo(&buf, ", (sum(u.pp_v%d))::%s", i, a->type);
		else if (strcmp(a->kind, "min") == 0 || strcmp(a->kind, "max") == 0)
			appendStringInfo(&buf, ", %s(u.pp_v%d)", a->kind, i);
		else if (strcmp(a->kind, "avg") == 0)
			appendStringInfo(&buf, ", ((sum(u.pp_s%d))::%s / NULLIF((sum(u.pp_c%d))::bigint, 0))::%s",
							 i, a->type, i, a->type);
		else if (a->set_type)
			appendStringInfo(&buf, ", (coalesce(cardinality(pipeline.array_union(u.pp_a%d)), 0))::%s", i, a->type);
		else
			elog(ERROR, "mode append cannot keep aggregate \"%s\"", a->name);
		i++;
	}
	appendStringInfoString(&buf, ", bool_or(u.is_final) FROM (SELECT s.window_start AS pp_ws, s.window_end AS pp_we");
	append_group_columns(&buf, w, "s");
	appendStringInfoString(&buf, ", s.is_final");
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		if (strcmp(a->kind, "avg") == 0)
			appendStringInfo(&buf, ", s.pp_sum_%d AS pp_s%d, s.pp_cnt_%d AS pp_c%d", i, i, i, i);
		else if (a->set_type)
			appendStringInfo(&buf, ", s.pp_set_%d AS pp_a%d", i, i);
		else
			appendStringInfo(&buf, ", s.%s AS pp_v%d", quote_identifier(a->name), i);
		i++;
	}
	appendStringInfo(&buf, " FROM %s s WHERE %s UNION ALL SELECT p.pp_ws, p.pp_we", w->state_q, inwin.data);
	append_group_columns(&buf, w, "p");
	appendStringInfoString(&buf, ", false");
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		if (strcmp(a->kind, "avg") == 0)
			appendStringInfo(&buf, ", p.pp_s%d, p.pp_c%d", i, i);
		else if (a->set_type)
			appendStringInfo(&buf, ", p.pp_a%d", i);
		else
			appendStringInfo(&buf, ", p.pp_v%d", i);
		i++;
	}
	appendStringInfo(&buf, " FROM %s p) u GROUP BY u.pp_ws, u.pp_we", w->delta_q);
	append_group_columns(&buf, w, "u");
	appendStringInfo(&buf, ") r%s", strcmp(w->emit, "on_close") == 0 ? " WHERE r.is_final" : "");
	exec(buf.data);
}

/*
 * Step 3, create: the state table (window, groups, aggregates, is_final,
 * internals) and its indexes, then the view (on_close), the delta table
 * (async) and the late-rows table (side_table).  As the caller, who owns
 * them.  Connected to SPI.
 */
static void
create_relations(NewWindow *w)
{
	Oid			source = w->source;
	StringInfoData buf;
	ListCell   *lc;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE TABLE %s (window_start %s NOT NULL, window_end %s NOT NULL",
					 w->state_q, w->ttype, w->ttype);
	foreach(lc, w->groups)
		appendStringInfo(&buf, ", %s %s", quote_identifier(lfirst(lc)),
						 column_type(source, get_attnum(source, lfirst(lc))));
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		appendStringInfo(&buf, ", %s %s", quote_identifier(a->name), a->type);
		if (a->set_type)
			appendStringInfo(&buf, " GENERATED ALWAYS AS (coalesce(cardinality(pp_set_%d), 0)) STORED", i);
		i++;
	}
	appendStringInfoString(&buf, ", is_final boolean NOT NULL DEFAULT false, "
						   "pp_rows bigint NOT NULL DEFAULT 0, pp_recompute boolean NOT NULL DEFAULT false");
	i = 0;
	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		if (strcmp(a->kind, "avg") == 0)
			appendStringInfo(&buf, ", pp_sum_%d %s, pp_cnt_%d bigint", i, a->type, i);
		if (a->set_type)
			appendStringInfo(&buf, ", pp_set_%d %s", i, a->set_type);
		i++;
	}
	appendStringInfoString(&buf, ")");
	exec(buf.data);

	/*
	 * A count(DISTINCT) set is rewritten by every statement that adds to
	 * its group; a large one compressed costs milliseconds to decompress
	 * and compress again each time (a set of random ids hardly compresses):
	 * kept out of line, uncompressed.
	 */
	i = 0;
	foreach(lc, w->aggs)
	{
		if (((AggColumn *) lfirst(lc))->set_type)
			exec(psprintf("ALTER TABLE %s ALTER pp_set_%d SET STORAGE EXTERNAL", w->state_q, i));
		i++;
	}

	resetStringInfo(&buf);
	appendStringInfo(&buf, "CREATE UNIQUE INDEX ON %s (window_start, window_end", w->state_q);
	foreach(lc, w->groups)
		appendStringInfo(&buf, ", %s", quote_identifier(lfirst(lc)));
	appendStringInfoString(&buf, ") NULLS NOT DISTINCT");
	exec(buf.data);
	exec(psprintf("CREATE INDEX ON %s (window_end) WHERE NOT is_final", w->state_q));
	exec(psprintf("CREATE INDEX ON %s (window_start) WHERE pp_recompute", w->state_q));
	if (strcmp(w->kind, "session") == 0 && w->groups != NIL)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf, "CREATE INDEX ON %s (", w->state_q);
		foreach(lc, w->groups)
			appendStringInfo(&buf, "%s, ", quote_identifier(lfirst(lc)));
		appendStringInfoString(&buf, "window_end)");
		exec(buf.data);
	}
	exec(psprintf("COMMENT ON TABLE %s IS %s", w->state_q,
				  quote_literal_cstr(psprintf("window aggregate of %s, kept up to date by pg_pipeline: "
											  "see pipeline.windows", w->source_q))));

	if (w->append)
	{
		create_partials(w);
		create_append_view(w);
	}
	else if (strcmp(w->emit, "on_close") == 0)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf, "CREATE VIEW %s AS SELECT window_start, window_end", w->result_q);
		foreach(lc, w->groups)
			appendStringInfo(&buf, ", %s", quote_identifier(lfirst(lc)));
		foreach(lc, w->aggs)
			appendStringInfo(&buf, ", %s", quote_identifier(((AggColumn *) lfirst(lc))->name));
		appendStringInfo(&buf, ", is_final FROM %s WHERE is_final", w->state_q);
		exec(buf.data);
	}
	if (w->delta_q && !w->append)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf, "CREATE TABLE %s (pp_id bigserial, pp_sign smallint NOT NULL", w->delta_q);
		foreach(lc, w->cols)
			appendStringInfo(&buf, ", %s %s", quote_identifier(lfirst(lc)),
							 column_type(source, get_attnum(source, lfirst(lc))));
		appendStringInfoString(&buf, ")");
		exec(buf.data);
	}
	if (w->late_q)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf,
						 "CREATE TABLE %s (recorded_at timestamptz NOT NULL DEFAULT now(), "
						 "reason text NOT NULL, watermark %s, %s %s",
						 w->late_q, w->ttype, quote_identifier(w->time_column), w->ttype);
		foreach(lc, w->groups)
			appendStringInfo(&buf, ", %s %s", quote_identifier(lfirst(lc)),
							 column_type(source, get_attnum(source, lfirst(lc))));
		appendStringInfoString(&buf, ", \"row\" jsonb)");
		exec(buf.data);
	}
}

/*
 * Step 3, create (continued): the catalog row, as the caller (row-level
 * security and the guard trigger of pipeline.windows make it the caller's).
 * Returns the window's id.  Connected to SPI.
 */
static int32
insert_catalog_row(NewWindow *w)
{
	List	   *l_names = NIL,
			   *l_kinds = NIL,
			   *l_exprs = NIL,
			   *l_args = NIL,
			   *l_types = NIL;
	Oid			argtypes[24];
	Datum		values[24];
	char		nulls[24];
	bool		isnull;
	ListCell   *lc;
	int			i;

	foreach(lc, w->aggs)
	{
		AggColumn  *a = lfirst(lc);

		l_names = lappend(l_names, a->name);
		l_kinds = lappend(l_kinds, (char *) a->kind);
		l_exprs = lappend(l_exprs, a->expr);
		l_args = lappend(l_args, a->arg);
		l_types = lappend(l_types, a->type);
	}
	memset(nulls, ' ', sizeof(nulls));
	for (i = 0; i < 24; i++)
		argtypes[i] = TEXTOID;
	values[0] = CStringGetTextDatum(w->result_q);
	values[1] = CStringGetTextDatum(w->result_q);
	values[2] = CStringGetTextDatum(w->state_q);
	values[3] = w->delta_q ? CStringGetTextDatum(w->delta_q) : (Datum) 0;
	nulls[3] = w->delta_q ? ' ' : 'n';
	values[4] = w->late_q ? CStringGetTextDatum(w->late_q) : (Datum) 0;
	nulls[4] = w->late_q ? ' ' : 'n';
	argtypes[5] = OIDOID;
	values[5] = ObjectIdGetDatum(w->source);
	values[6] = CStringGetTextDatum(w->time_column);
	values[7] = CStringGetTextDatum(w->kind);
	argtypes[8] = INTERVALOID;
	values[8] = IntervalPGetDatum(w->size);
	argtypes[9] = INTERVALOID;
	values[9] = w->slide ? IntervalPGetDatum(w->slide) : (Datum) 0;
	nulls[9] = w->slide ? ' ' : 'n';
	argtypes[10] = TEXTARRAYOID;
	values[10] = text_array_datum(w->groups);
	values[11] = CStringGetTextDatum(w->aggregates);
	for (i = 12; i <= 17; i++)
		argtypes[i] = TEXTARRAYOID;
	values[12] = text_array_datum(l_names);
	values[13] = text_array_datum(l_kinds);
	values[14] = text_array_datum(l_exprs);
	values[15] = text_array_datum(l_args);
	values[16] = text_array_datum(l_types);
	values[17] = text_array_datum(w->cols);
	values[18] = CStringGetTextDatum(w->emit);
	values[19] = CStringGetTextDatum(w->late_rows);
	values[20] = CStringGetTextDatum(w->mode);
	argtypes[21] = INTERVALOID;
	values[21] = w->allowed_lateness;
	argtypes[22] = INTERVALOID;
	values[22] = w->has_retention ? w->retention : (Datum) 0;
	nulls[22] = w->has_retention ? ' ' : 'n';
	values[23] = w->sink ? CStringGetTextDatum(w->sink) : (Datum) 0;
	nulls[23] = w->sink ? ' ' : 'n';
	if (SPI_execute_with_args("INSERT INTO pipeline.windows (name, result, state_table, delta_table, "
							  "late_table, source, time_column, kind, size, slide, group_by, aggregates, "
							  "agg_names, agg_kinds, agg_exprs, agg_args, agg_types, columns, emit, "
							  "late_rows, mode, allowed_lateness, retention, sink) "
							  "VALUES ($1, $2::regclass, $3::regclass, $4::regclass, $5::regclass, "
							  "$6::regclass, $7, $8, $9, $10, $11::name[], $12, $13, $14, $15, $16, $17, "
							  "$18::name[], $19, $20, $21, $22, $23, $24) RETURNING id",
							  24, argtypes, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the window");
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Step 3, create (continued): the statement triggers on the source that
 * maintain the window (record_dependencies makes them depend on the
 * source columns the window reads).  Connected to SPI.
 */
static void
create_triggers(NewWindow *w)
{
	int32		id = w->id;
	const char *source_q = w->source_q;

	exec(psprintf("CREATE TRIGGER pp_window_%d_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS pp_new "
				  "FOR EACH STATEMENT EXECUTE FUNCTION pipeline.window_maintain('%d')", id, source_q, id));
	exec(psprintf("CREATE TRIGGER pp_window_%d_update AFTER UPDATE ON %s "
				  "REFERENCING OLD TABLE AS pp_old NEW TABLE AS pp_new "
				  "FOR EACH STATEMENT EXECUTE FUNCTION pipeline.window_maintain('%d')", id, source_q, id));
	exec(psprintf("CREATE TRIGGER pp_window_%d_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS pp_old "
				  "FOR EACH STATEMENT EXECUTE FUNCTION pipeline.window_maintain('%d')", id, source_q, id));
	exec(psprintf("CREATE TRIGGER pp_window_%d_truncate AFTER TRUNCATE ON %s "
				  "FOR EACH STATEMENT EXECUTE FUNCTION pipeline.window_maintain('%d')", id, source_q, id));
	CommandCounterIncrement();
}

/*
 * Step 3, create (continued): the window's dependencies in pg_depend, as
 * a view has them (depend.c): its relations and triggers cannot be dropped
 * apart from it, and CASCADE drops it whole; its triggers depend on the
 * source columns it reads, as a trigger's WHEN clause does, so DROP
 * COLUMN and ALTER COLUMN TYPE of one of them are refused with
 * PostgreSQL's own messages instead of breaking every later write.
 * Connected to SPI.
 */
static void
record_dependencies(NewWindow *w)
{
	WindowRelations rels;

	if (!pp_window_read_relations(w->id, &rels, NULL))
		elog(ERROR, "could not read window aggregate %d", w->id);
	if (OidIsValid(pp_window_record_dependencies(w->id, &rels)))
		elog(ERROR, "window aggregate %d does not own its relations", w->id);
}

/*
 * Recomputes read the source by time: a NOTICE when no index on the time
 * column helps them.  Connected to SPI.
 */
static void
notice_without_time_index(NewWindow *w)
{
	Oid			argtypes[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(w->source), Int16GetDatum(w->time_attnum)};

	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_index WHERE indrelid = $1 AND indkey[0] = $2",
							  2, argtypes, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 0)
		ereport(NOTICE,
				(errmsg("table \"%s\" has no index on \"%s\"", get_rel_name(w->source), w->time_column),
				 errdetail("Updates, deletes, session windows, rebuilds and aggregates other than "
						   "count, sum, avg, min, max and count(DISTINCT) read the source rows of "
						   "the windows they touch."),
				 errhint("CREATE INDEX ON %s (%s);", w->source_q, quote_identifier(w->time_column))));
}

/*
 * Step 4, fill: the state from the rows already in the source, as a full
 * rebuild, as the window's owner.  Connected to SPI.
 */
static void
fill(NewWindow *w)
{
	PipelineWindow *def = pp_window_load(w->id, false);
	PipelineAsRole as;

	pp_window_as_owner(def, &as);
	pp_window_rebuild(def, false, 0, 0);
	pp_as_role_end(&as);
}

/*
 * pipeline.create_window(): parse the arguments, check the definition and
 * name what it creates, create the relations, the catalog row, the
 * triggers and the dependencies, then fill the state from the source.
 * Everything runs as the caller, who owns what is created, in the caller's
 * transaction: an error in any step leaves nothing behind.
 */
PG_FUNCTION_INFO_V1(pipeline_create_window);
Datum
pipeline_create_window(PG_FUNCTION_ARGS)
{
	NewWindow	w = {0};

	parse_arguments(fcinfo, &w);
	check_definition(&w);
	name_relations(&w);

	SPI_connect();
	check_sink(&w);
	create_relations(&w);
	w.id = insert_catalog_row(&w);
	create_triggers(&w);
	record_dependencies(&w);
	notice_without_time_index(&w);
	fill(&w);
	SPI_finish();
	PG_RETURN_OID(RangeVarGetRelid(w.rv, NoLock, false));
}

/* The window's id, from the regclass argument, or an error. */
static int32
window_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	return pp_window_id_of(PG_GETARG_OID(n), false);
}

PG_FUNCTION_INFO_V1(pipeline_drop_window);
Datum
pipeline_drop_window(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	int32		id;
	WindowRelations w;
	Oid			rels[4];

	SPI_connect();
	id = window_arg(fcinfo, 0);
	values[0] = Int32GetDatum(id);
	if (!pp_window_read_relations(id, &w, NULL))
		elog(ERROR, "could not read pipeline.windows");
	rels[0] = w.result;
	rels[1] = w.state;
	rels[2] = w.delta;
	rels[3] = w.late;

	/*
	 * Lock in the order maintenance does (source, then the window's tables,
	 * then the catalog row, which maintenance reaches last, through the
	 * foreign key of pipeline.window_progress): wait for writers and the
	 * maintainer to finish instead of deadlocking with them (the maintainer
	 * then finds the window gone).
	 */
	if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(w.source)))
		LockRelationOid(w.source, ShareRowExclusiveLock);
	{
		/* delta (triggers, then the drain), late table, state, result */
		static const int order[4] = {2, 3, 1, 0};

		for (int i = 0; i < 4; i++)
		{
			Oid			rel = rels[order[i]];

			if (OidIsValid(rel) && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rel)))
				LockRelationOid(rel, AccessExclusiveLock);
		}
	}
	if (SPI_execute_with_args("DELETE FROM pipeline.windows WHERE id = $1", 1, argtypes, values, NULL,
							  false, 0) != SPI_OK_DELETE || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of a window aggregate can drop it")));
	pp_window_drop_triggers(id, w.source);

	/*
	 * The result takes the window's other relations with it (depend.c);
	 * those of a window made before 0.6.0 without its dependencies are
	 * dropped one by one.
	 */
	for (int i = 0; i < 4; i++)
	{
		char	   *q = OidIsValid(rels[i]) ? qualified_name(rels[i]) : NULL;

		if (q == NULL || (i > 1 && rels[i] == rels[0]))
			continue;
		if (i == 1 && rels[1] == rels[0])
			continue;			/* on_update: result and state are one table */
		exec(psprintf("DROP %s %s", get_rel_relkind(rels[i]) == RELKIND_VIEW ? "VIEW" : "TABLE", q));
	}
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pipeline_rebuild_window);
Datum
pipeline_rebuild_window(PG_FUNCTION_ARGS)
{
	PipelineWindow  *def;
	PipelineAsRole as;
	bool		has_range = !PG_ARGISNULL(1) || !PG_ARGISNULL(2);
	int64		from = DT_NOBEGIN;
	int64		to = DT_NOEND;
	uint64		written;

	SPI_connect();
	def = pp_window_load(window_arg(fcinfo, 0), false);
	if (!PG_ARGISNULL(1))
		from = PG_GETARG_INT64(1);
	if (!PG_ARGISNULL(2))
		to = PG_GETARG_INT64(2);
	if (def->time_type == TIMESTAMPOID)
	{
		if (!PG_ARGISNULL(1))
			from = DatumGetInt64(DirectFunctionCall1(timestamptz_timestamp, Int64GetDatum(from)));
		if (!PG_ARGISNULL(2))
			to = DatumGetInt64(DirectFunctionCall1(timestamptz_timestamp, Int64GetDatum(to)));
	}
	if (has_range && from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_time must be before to_time")));
	pp_window_as_owner(def, &as);
	written = pp_window_rebuild(def, has_range, from, to);
	pp_as_role_end(&as);
	SPI_finish();
	PG_RETURN_INT64((int64) written);
}

PG_FUNCTION_INFO_V1(pipeline_flush_window);
Datum
pipeline_flush_window(PG_FUNCTION_ARGS)
{
	List	   *ids = NIL;
	uint64		merged = 0;
	ListCell   *lc;

	SPI_connect();
	if (!PG_ARGISNULL(0))
		ids = list_make1_int(window_arg(fcinfo, 0));
	else
	{
		if (SPI_execute("SELECT id FROM pipeline.windows ORDER BY id", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pipeline.windows");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			ids = lappend_int(ids, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
															   SPI_tuptable->tupdesc, 1, &isnull)));
		}
	}
	foreach(lc, ids)
	{
		PipelineWindow  *def = pp_window_load(lfirst_int(lc), false);
		PipelineAsRole as;

		pp_window_as_owner(def, &as);
		merged += pp_window_sweep(def);
		pp_as_role_end(&as);
	}
	SPI_finish();
	PG_RETURN_INT64((int64) merged);
}
