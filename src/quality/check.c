/*-------------------------------------------------------------------------
 *
 * check.c
 *	  Evaluating the expectations of a relation: pp_check_evaluate (no
 *	  writes) and the SQL function pipeline.check (evaluate, record,
 *	  return).
 *
 * For each expectation the caller sees (row-level security: its own, or
 * all for pipeline_admin), in order of name:
 *
 *	the owner is gone                 -> status error
 *	custom_rows, custom_value         -> its own query
 *	proven by the catalog (proven.c)  -> pass, proven, no scan
 *	otherwise                         -> into the group of its owner and
 *	                                     search_path
 *
 * then one scan (sql.c, pp_scan_query) per group, as the group's owner
 * under its frozen search_path (pp_as_role_begin_path, as models run):
 * never as the caller, so that a superuser checking a table runs nobody's
 * SQL as a superuser.  Every query runs in a subtransaction: a scan that
 * fails is run again one expectation at a time, so that only the
 * expectation at fault gets status error (with its SQLSTATE and message)
 * and the others their result.
 *
 * Status: failing rows over the threshold (none, a count, or a percentage
 * of the rows checked) -> fail for severity error, warn for warn;
 * row_count and custom_value: out of bounds is one failing row; freshness:
 * its own verdict (warn past warn_after, fail past error_after or with no
 * row), whatever the severity.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "common/pipeline.h"
#include "quality/quality.h"

/* what one evaluation works on: results[i] is the result of the i-th expectation */
typedef struct Eval
{
	List	   *exps;			/* PPExpectation * */
	PPCheckResult **results;
	int			limit;
} Eval;

/* the expectations of one scan */
typedef struct ScanGroup
{
	Oid			owner;
	const char *search_path;
	List	   *which;			/* int: indexes into Eval */
} ScanGroup;

typedef void (*EvalStep) (Eval *ev, List *which);

#define EXP(ev, i)		((PPExpectation *) list_nth((ev)->exps, (i)))

/* ---- results ---- */

static PPCheckResult *
new_result(PPExpectation *e, const char *relation)
{
	PPCheckResult *r = palloc0(sizeof(PPCheckResult));

	r->expectation_id = e->id;
	r->relation = pstrdup(relation);
	r->expectation = e->name;
	r->kind = e->kind_name;
	r->columns = e->columns;
	r->severity = e->severity;
	r->status = "pass";
	r->owner = e->owner;
	r->owner_name = e->owner_name;
	r->started_at = GetCurrentTimestamp();
	return r;
}

static void
set_error(PPCheckResult *r, ErrorData *edata)
{
	r->status = "error";
	r->error = pstrdup(edata->message ? edata->message : "unknown error");
	r->sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
	r->failing = 0;
	r->has_total = false;
	r->failures = NIL;
}

/* one failure of a single value: {"<what>": value} */
static void
add_value_failure(PPCheckResult *r, const char *what, const char *value)
{
	StringInfoData buf;
	PPCheckFailure *f = palloc0(sizeof(PPCheckFailure));

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	escape_json(&buf, what);
	appendStringInfoString(&buf, ": ");
	if (value)
		escape_json(&buf, value);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');
	f->value = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	r->failures = lappend(r->failures, f);
}

/* a member of a JSON object as a Jsonb of its own (NULL when absent) */
static Jsonb *
member(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!getKeyJsonValueFromContainer(obj, key, strlen(key), &v) || v.type == jbvNull)
		return NULL;
	return JsonbValueToJsonb(&v);
}

/* failing and failures from {"failing": n, "rows": [{"key": .., "value": ..}]} */
static void
set_failures(PPCheckResult *r, Jsonb *j)
{
	JsonbValue	v;
	JsonbIterator *it;
	JsonbIteratorToken tok;

	r->failing = 0;
	if (j == NULL)
		return;
	if (getKeyJsonValueFromContainer(&j->root, "failing", 7, &v) && v.type == jbvNumeric)
		r->failing = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));
	if (!getKeyJsonValueFromContainer(&j->root, "rows", 4, &v) || v.type != jbvBinary)
		return;
	it = JsonbIteratorInit(v.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		PPCheckFailure *f;

		if (tok != WJB_ELEM || v.type != jbvBinary)
			continue;
		f = palloc0(sizeof(PPCheckFailure));
		f->key = member(v.val.binary.data, "key");
		f->value = member(v.val.binary.data, "value");
		r->failures = lappend(r->failures, f);
	}
}

/* over the threshold: more failing rows than max_failing, or a larger percentage */
static bool
over_threshold(PPCheckResult *r, PPExpectation *e, Numeric percent)
{
	if (e->max_failing_percent != NULL)
		return percent != NULL &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(percent),
											  DirectFunctionCall3(numeric_in,
																  CStringGetDatum(e->max_failing_percent),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)))) > 0;
	return r->failing > (e->has_max_failing ? e->max_failing : 0);
}

/* percent and status from failing and total (a verdict already set stays) */
static void
judge(PPCheckResult *r, PPExpectation *e)
{
	Numeric		percent = NULL;
	bool		rows = (e->kind != PP_EXPECT_ROW_COUNT && e->kind != PP_EXPECT_FRESHNESS);

	if (rows && r->has_total && r->total > 0)
	{
		percent = DatumGetNumeric(DirectFunctionCall2(numeric_div,
													  NumericGetDatum(int64_to_numeric(r->failing * 100)),
													  NumericGetDatum(int64_to_numeric(r->total))));
		r->percent = DatumGetCString(DirectFunctionCall1(numeric_out,
														 DirectFunctionCall2(numeric_round, NumericGetDatum(percent),
																			 Int32GetDatum(4))));
	}
	else if (rows && r->has_total)
		r->percent = "0";
	if (e->kind == PP_EXPECT_FRESHNESS)
		return;
	if (over_threshold(r, e, percent))
		r->status = strcmp(e->severity, "error") == 0 ? "fail" : "warn";
	else
		r->status = "pass";
}

static void
set_duration(PPCheckResult *r, TimestampTz start)
{
	r->started_at = start;
	r->duration_us = GetCurrentTimestamp() - start;
}

/* ---- steps, each run in a subtransaction ---- */

/*
 * run_caught
 *		step(ev, which) in a subtransaction; its error (copied into the
 *		caller's memory context) or NULL.  The subtransaction's abort undoes
 *		the role switch and the GUC level the step opened.
 */
static ErrorData *
run_caught(EvalStep step, Eval *ev, List *which)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		step(ev, which);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return edata;
}

/* the failing-row SQL, and whether the catalog proves the expectation */
static void
prove_step(Eval *ev, List *which)
{
	int			i = linitial_int(which);
	PPCheckResult *r = ev->results[i];
	PipelineAsRole as;

	r->failing_sql = pp_expectation_query(EXP(ev, i));
	/* as the expectation's owner, as everything else of it (file header) */
	if (!OidIsValid(EXP(ev, i)->owner))
		return;
	pp_as_role_begin_path(&as, EXP(ev, i)->owner, EXP(ev, i)->search_path);
	r->proven = pp_expectation_proven(EXP(ev, i));
	pp_as_role_end(&as);
}

/*
 * the four columns of expectation e from column col of the scan, the
 * failing rows (the second column, or unique's second pass) given as rows
 */
static void
read_scan(PPCheckResult *r, PPExpectation *e, HeapTuple tup, TupleDesc desc, int col, Jsonb *rows)
{
	bool		isnull;
	char	   *verdict = SPI_getvalue(tup, desc, col + 2);
	char	   *value = SPI_getvalue(tup, desc, col + 3);

	r->has_total = true;
	r->total = DatumGetInt64(SPI_getbinval(tup, desc, col, &isnull));
	set_failures(r, rows);
	if (verdict != NULL)
	{
		r->failing = strcmp(verdict, "pass") == 0 ? 0 : 1;
		if (r->failing)
			add_value_failure(r, e->kind == PP_EXPECT_ROW_COUNT ? "row_count" : "newest", value);
		if (e->kind == PP_EXPECT_FRESHNESS)
			r->status = verdict;
	}
	judge(r, e);
}

/*
 * Above this many rows (the estimate of the relation and its children), a
 * scan with a unique expectation runs without parallel workers: each
 * worker would send the leader every distinct value it read in one message
 * of at most 1 GB (aggregate.c).  20 million rows: a third of them per
 * process, values up to about 100 bytes.
 */
#define PARALLEL_UNIQUE_MAX_ROWS 20000000.0

/* the scan's rows as the planner estimates them: reltuples, or blocks when never analyzed */
static double
estimated_rows(Oid relid)
{
	double		rows = 0;
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);

		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
			rows += rel->rd_rel->reltuples >= 0 ? rel->rd_rel->reltuples :
				(double) RelationGetNumberOfBlocks(rel) * (BLCKSZ / 32);
		table_close(rel, AccessShareLock);
	}
	return rows;
}

/* whether the scan of exps must not be parallel (PARALLEL_UNIQUE_MAX_ROWS) */
static bool
serial_unique(List *exps)
{
	ListCell   *lc;

	foreach(lc, exps)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);

		if (e->kind == PP_EXPECT_UNIQUE)
			return estimated_rows(e->relid) > PARALLEL_UNIQUE_MAX_ROWS;
	}
	return false;
}

/*
 * A relationship's table of at most RELATIONSHIP_VALUES_MAX distinct values
 * is read first and its values given to the scan as an array (sql.c, file
 * header): about 8 MB for a million integers, hashed once per process.  A
 * table estimated above 4 times as many rows is joined without trying.
 */
#define RELATIONSHIP_VALUES_MAX 1000000

/*
 * the values of each relationship of exps that has few enough of them, as
 * the parameters of the scan: sets e->values_param, returns how many
 * (*types and *values allocated for all of exps).  Read under the scan's
 * snapshot (scan_step): it sees what this transaction wrote before, as the
 * join would (a build checks a model against one it wrote in the same
 * transaction).
 */
static int
relationship_values(List *exps, Oid **types, Datum **values, char **nulls)
{
	int			n = 0;
	ListCell   *lc;

	*types = palloc0(sizeof(Oid) * list_length(exps));
	*values = palloc0(sizeof(Datum) * list_length(exps));
	*nulls = palloc0(list_length(exps) + 1);
	foreach(lc, exps)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);
		bool		isnull;
		Datum		d;

		e->values_param = 0;
		if (e->kind != PP_EXPECT_RELATIONSHIPS || !OidIsValid(e->to_relid) ||
			get_rel_name(e->to_relid) == NULL ||
			estimated_rows(e->to_relid) > 4.0 * RELATIONSHIP_VALUES_MAX)
			continue;
		if (SPI_execute(pp_relationship_values_query(e, RELATIONSHIP_VALUES_MAX), true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "the values of relationship \"%s\" could not be read", e->name);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull || ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d)), ARR_DIMS(DatumGetArrayTypeP(d))) >
			RELATIONSHIP_VALUES_MAX)
			continue;
		(*types)[n] = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
		(*values)[n] = datumCopy(d, false, -1);
		(*nulls)[n] = ' ';
		e->values_param = ++n;
	}
	return n;
}

/*
 * The failing rows of a unique expectation in two steps (hashes.c), in cxt,
 * from its column of the scan, the ctids of the rows whose value's hash
 * another row has: NULL when there are none (or no row had a value: as
 * _duplicates, no failing row), else the second step, _duplicates of those
 * rows fetched by ctid (of every row past PP_REPEATED_ROWS_MAX of them).
 * Run as the scan is, under its snapshot, in the GUC level of the role
 * switch (scan_step), which undoes enable_seqscan.
 */
static Jsonb *
unique_rows(PPExpectation *e, Datum row_ids, bool isnull, int limit, MemoryContext cxt)
{
	Oid			type = TIDARRAYOID;
	ArrayType  *a;
	int			n;
	bool		by_row_id;
	Datum		d;
	MemoryContext old;
	Jsonb	   *rows;

	if (isnull)
		return NULL;
	a = DatumGetArrayTypeP(row_ids);
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (n == 0)
		return NULL;
	by_row_id = (n <= PP_REPEATED_ROWS_MAX);
	/* a few rows by ctid: a TID scan, which a small table's seq scan would outcost */
	if (by_row_id)
		(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
								 false);
	if (SPI_execute_with_args(pp_unique_rows_query(e, limit, by_row_id), by_row_id ? 1 : 0, &type, &row_ids,
							  NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the second step of unique expectation \"%s\" returned no row", e->name);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	rows = DatumGetJsonbPCopy(d);
	MemoryContextSwitchTo(old);
	return rows;
}

/*
 * one scan, as the owner of the expectations in which (one group): the
 * relationships' values, the scan and unique's second steps all under one
 * snapshot, taken after what this transaction wrote before (as each
 * statement of a non-read-only SPI call would take it)
 */
static void
scan_step(Eval *ev, List *which)
{
	PPExpectation *first = EXP(ev, linitial_int(which));
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz start = GetCurrentTimestamp();
	List	   *exps = NIL;
	PipelineAsRole as;
	ListCell   *lc;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	int			nvalues;
	SPITupleTable *scan;
	Jsonb	  **rows;

	foreach(lc, which)
		exps = lappend(exps, EXP(ev, lfirst_int(lc)));
	SPI_connect();
	pp_as_role_begin_path(&as, first->owner, first->search_path);
	if (serial_unique(exps))
		(void) set_config_option("max_parallel_workers_per_gather", "0", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	nvalues = relationship_values(exps, &types, &values, &nulls);
	if (SPI_execute_with_args(pp_scan_query(exps, ev->limit), nvalues, types, values, nulls, true, 0) !=
		SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the scan of expectations returned no row");
	scan = SPI_tuptable;
	rows = palloc0(sizeof(Jsonb *) * list_length(exps));
	foreach(lc, exps)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);
		int			col = 4 * foreach_current_index(lc) + 2;
		bool		isnull;
		Datum		d = SPI_getbinval(scan->vals[0], scan->tupdesc, col, &isnull);

		if (SPI_gettypeid(scan->tupdesc, col) == TIDARRAYOID)
			rows[foreach_current_index(lc)] = unique_rows(e, d, isnull, ev->limit, cxt);
		else if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			rows[foreach_current_index(lc)] = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	PopActiveSnapshot();
	pp_as_role_end(&as);
	MemoryContextSwitchTo(cxt);
	foreach(lc, which)
	{
		int			i = lfirst_int(lc);

		set_duration(ev->results[i], start);
		read_scan(ev->results[i], EXP(ev, i), scan->vals[0], scan->tupdesc, 4 * foreach_current_index(lc) + 1,
				  rows[foreach_current_index(lc)]);
	}
	SPI_finish();
}

/* custom_rows or custom_value: its own query, as its owner */
static void
custom_step(Eval *ev, List *which)
{
	int			i = linitial_int(which);
	PPExpectation *e = EXP(ev, i);
	PPCheckResult *r = ev->results[i];
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz start = GetCurrentTimestamp();
	PipelineAsRole as;
	bool		isnull;
	Datum		d;

	r->failing_sql = pp_expectation_query(e);
	SPI_connect();
	pp_as_role_begin_path(&as, e->owner, e->search_path);
	if (SPI_execute(pp_custom_query(e, ev->limit), false, 0) != SPI_OK_SELECT)
		elog(ERROR, "the SQL of expectation \"%s\" is not a query", e->name);
	pp_as_role_end(&as);
	MemoryContextSwitchTo(cxt);
	if (e->kind == PP_EXPECT_CUSTOM_VALUE && SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the SQL of expectation \"%s\" returned " UINT64_FORMAT " rows, not one",
						e->name, SPI_processed),
				 errhint("custom_value runs a query returning one number.")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, e->kind == PP_EXPECT_CUSTOM_ROWS ? 1 : 2,
					  &isnull);
	if (e->kind == PP_EXPECT_CUSTOM_ROWS)
		set_failures(r, isnull ? NULL : DatumGetJsonbPCopy(d));
	else
	{
		r->failing = (isnull || !DatumGetBool(d)) ? 1 : 0;
		if (r->failing)
			add_value_failure(r, "value", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	}
	set_duration(r, start);
	judge(r, e);
	SPI_finish();
}

/* ---- evaluation ---- */

static ScanGroup *
group_of(List **groups, PPExpectation *e)
{
	ListCell   *lc;
	ScanGroup	   *g;

	foreach(lc, *groups)
	{
		g = (ScanGroup *) lfirst(lc);
		if (g->owner == e->owner && strcmp(g->search_path, e->search_path) == 0)
			return g;
	}
	g = palloc0(sizeof(ScanGroup));
	g->owner = e->owner;
	g->search_path = e->search_path;
	*groups = lappend(*groups, g);
	return g;
}

/* one scan per group; a group whose scan fails, again one by one */
static void
scan_groups(Eval *ev, List *groups)
{
	ListCell   *lc;
	ListCell   *lc2;

	foreach(lc, groups)
	{
		ScanGroup	   *g = (ScanGroup *) lfirst(lc);
		ErrorData  *edata = run_caught(scan_step, ev, g->which);

		if (edata == NULL)
			continue;
		foreach(lc2, g->which)
		{
			int			i = lfirst_int(lc2);

			if (list_length(g->which) > 1)
				edata = run_caught(scan_step, ev, list_make1_int(i));
			if (edata != NULL)
				set_error(ev->results[i], edata);
		}
	}
}

List *
pp_check_evaluate(Oid relid)
{
	Eval		ev;
	List	   *groups = NIL;
	List	   *results = NIL;
	char	   *relation;
	ListCell   *lc;

	relation = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
	ev.exps = pp_expectations_load(relid);
	ev.results = palloc0(Max(list_length(ev.exps), 1) * sizeof(PPCheckResult *));
	ev.limit = pp_check_failure_limit;
	foreach(lc, ev.exps)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);
		int			i = foreach_current_index(lc);
		List	   *which = list_make1_int(i);
		ErrorData  *edata = NULL;

		ev.results[i] = new_result(e, relation);
		results = lappend(results, ev.results[i]);
		if (!OidIsValid(e->owner))
		{
			ev.results[i]->status = "error";
			ev.results[i]->error = psprintf("the owner of expectation \"%s\" no longer exists", e->name);
			ev.results[i]->sqlstate = "42704";
			continue;
		}
		if (e->kind == PP_EXPECT_CUSTOM_ROWS || e->kind == PP_EXPECT_CUSTOM_VALUE)
			edata = run_caught(custom_step, &ev, which);
		else if ((edata = run_caught(prove_step, &ev, which)) == NULL && !ev.results[i]->proven)
		{
			ScanGroup	   *g = group_of(&groups, e);

			g->which = lappend_int(g->which, i);
		}
		if (edata != NULL)
			set_error(ev.results[i], edata);
	}
	scan_groups(&ev, groups);
	return results;
}

bool
pp_check_blocks(List *results)
{
	ListCell   *lc;

	foreach(lc, results)
	{
		PPCheckResult *r = (PPCheckResult *) lfirst(lc);

		if (strcmp(r->severity, "error") == 0 &&
			(strcmp(r->status, "fail") == 0 || strcmp(r->status, "error") == 0))
			return true;
	}
	return false;
}

/* ---- pipeline.check ---- */

/*
 * fail_on_error: an error naming the error-severity expectations that
 * failed: SQLSTATE 23514 (check_violation) when one failed its data, else
 * the SQLSTATE of the first that could not be evaluated.  The transaction
 * is then undone, the results recorded too: the error says what failed.
 */
void
pp_check_raise_blocking(List *results, const char *hint)
{
	StringInfoData names;
	PPCheckResult *first = NULL;
	bool		data_failed = false;
	ListCell   *lc;
	int			n = 0;

	initStringInfo(&names);
	foreach(lc, results)
	{
		PPCheckResult *r = (PPCheckResult *) lfirst(lc);

		if (!pp_check_blocks(list_make1(r)))
			continue;
		appendStringInfo(&names, "%s%s", n++ ? ", " : "", r->expectation);
		data_failed |= strcmp(r->status, "fail") == 0;
		if (first == NULL || (strcmp(r->status, "fail") == 0 && strcmp(first->status, "fail") != 0))
			first = r;
	}
	ereport(ERROR,
			(errcode(data_failed ? ERRCODE_CHECK_VIOLATION : MAKE_SQLSTATE(first->sqlstate[0], first->sqlstate[1],
																	  first->sqlstate[2], first->sqlstate[3],
																	  first->sqlstate[4])),
			 errmsg("%d expectation%s of %s failed: %s", n, n > 1 ? "s" : "", first->relation, names.data),
			 first->error ? errdetail("Expectation \"%s\": %s", first->expectation, first->error) :
			 errdetail("Expectation \"%s\": " INT64_FORMAT " failing rows.", first->expectation, first->failing),
			 errhint("%s", hint)));
}

#define CHECK_COLS 11

static void
put_result(ReturnSetInfo *rsinfo, PPCheckResult *r, int64 result_id)
{
	Datum		values[CHECK_COLS];
	bool		nulls[CHECK_COLS];
	ListCell   *lc;
	ArrayBuildState *cols = initArrayResult(TEXTOID, CurrentMemoryContext, false);

	foreach(lc, r->columns)
		accumArrayResult(cols, CStringGetTextDatum((char *) lfirst(lc)), false, TEXTOID, CurrentMemoryContext);
	memset(nulls, false, sizeof(nulls));
	values[0] = CStringGetTextDatum(r->expectation);
	values[1] = CStringGetTextDatum(r->kind);
	values[2] = makeArrayResult(cols, CurrentMemoryContext);
	values[3] = CStringGetTextDatum(r->severity);
	values[4] = CStringGetTextDatum(r->status);
	values[5] = BoolGetDatum(r->proven);
	values[6] = Int64GetDatum(r->failing);
	values[7] = Int64GetDatum(r->total);
	nulls[7] = !r->has_total;
	nulls[8] = (r->percent == NULL);
	values[8] = nulls[8] ? (Datum) 0 :
		DirectFunctionCall3(numeric_in, CStringGetDatum(r->percent), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	nulls[9] = (r->failing_sql == NULL);
	values[9] = nulls[9] ? (Datum) 0 : CStringGetTextDatum(r->failing_sql);
	values[10] = Int64GetDatum(result_id);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pipeline.check(relation regclass, fail_on_error boolean): evaluate,
 * record, return one row per expectation.
 */
PG_FUNCTION_INFO_V1(pipeline_check);
Datum
pipeline_check(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	List	   *results;
	int64	   *ids;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	results = pp_check_evaluate(relid);
	ids = palloc0(Max(list_length(results), 1) * sizeof(int64));
	(void) pp_check_record(results, 0, ids);
	foreach(lc, results)
		put_result((ReturnSetInfo *) fcinfo->resultinfo, (PPCheckResult *) lfirst(lc),
				   ids[foreach_current_index(lc)]);
	if (PG_GETARG_BOOL(1) && pp_check_blocks(results))
		pp_check_raise_blocking(results, "Without fail_on_error the results are kept in pipeline.check_results.");
	return (Datum) 0;
}
