/*-------------------------------------------------------------------------
 *
 * expect.c
 *	  Expectations at ingestion: a source's row-level expectations checked
 *	  on each message as it is loaded; a message that fails one goes to the
 *	  source's dead letters (on_error) with the expectation named, the
 *	  others load.
 *
 * A source's expectations are rows of pipeline.expectations on its target
 * with origin 'source:<name>' (create_source / alter_source(expect => ...),
 * control/sql/quality.sql), so that pipeline.check and check_status see
 * them too.  Only the row-level kinds that need nothing but the row can be
 * checked on one message: not_null, accepted_values, between, regex,
 * length (relationships would read another table for each message, and
 * its rows may arrive later).
 *
 * How.  The loader already hands each batch to COPY FROM (load.c); COPY
 * has a WHERE clause, evaluated on each row after its input functions,
 * before any trigger or constraint.  The expectations become that clause:
 * one qual per expectation, pipeline._ingest_expectation(token, i, <fails>),
 * which is true when the row passes and otherwise notes COPY's current
 * line and the expectation, and is false: COPY skips the row.  After a COPY
 * that succeeded, the loader takes the noted lines (pp_kafka_expect_end)
 * and sets their messages aside like any bad message, with SQLSTATE 23514
 * and the expectation's name.  A COPY that failed is retried in halves
 * (load.c); what it noted is thrown away and noted again by the retries.
 *
 * The function is callable by anyone, and a target's triggers, defaults
 * and constraints run inside the COPY: it notes only when called with the
 * token of the COPY running (a random 64-bit number, a constant of the
 * quals, which no SQL can read), and the loader takes a note only for an
 * expectation it has and a line of its COPY, once per line.  A COPY
 * inside the COPY (a trigger replaying dead letters) has its own scope,
 * which ends before the outer one goes on.
 *
 * The failing-row expression is the engine's own (pp_expectation_failing_sql,
 * src/quality/sql.c), parsed as the expectation's owner with its frozen
 * search_path.  Only expectations owned by the role that loads (the
 * source's owner: the consumer and the replays run as it) are applied: no
 * one makes another role evaluate their expressions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "port.h"
#include "commands/copyfrom_internal.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"
#include "quality/quality.h"

/* the innermost COPY running with expectations (its scope is the loader's) */
static KafkaExpectScope *active = NULL;

/* the ids of the expectations of source, on relid, owned by the current role */
static List *
source_expectation_ids(Oid relid, const char *source)
{
	Oid			types[3] = {OIDOID, TEXTOID, OIDOID};
	Datum		values[3] = {ObjectIdGetDatum(relid), CStringGetTextDatum(psprintf("source:%s", source)),
	ObjectIdGetDatum(GetUserId())};
	List	   *ids = NIL;
	MemoryContext caller = CurrentMemoryContext;
	int			level;

	SPI_connect();
	level = pp_pinned_search_path_begin();
	if (SPI_execute_with_args("SELECT e.expectation_id FROM pipeline.expectations e "
							  "WHERE e.relation OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
							  "AND e.origin OPERATOR(pg_catalog.=) $2 "
							  "AND e.owner_oid OPERATOR(pg_catalog.=) $3",
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.expectations");
	pp_pinned_search_path_end(level);
	MemoryContextSwitchTo(caller);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		ids = lappend_int(ids, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull)));
	}
	SPI_finish();
	return ids;
}

/*
 * The qual of expectation number i: "SELECT pipeline._ingest_expectation(i,
 * <fails>) FROM ONLY <rel> t" analyzed as its owner with its search_path;
 * its Vars are those of the relation, range table entry 1, as in COPY's.
 */
static Node *
expectation_qual(PPExpectation *e, int i, Relation rel, uint64 token, const char *source)
{
	PipelineAsRole as;
	char	   *sql;
	RawStmt    *raw;
	Query	   *query;
	Node	   *qual;

	sql = psprintf("SELECT pipeline._ingest_expectation(" INT64_FORMAT ", %d, (%s)) FROM ONLY %s t",
				   (int64) token, i, pp_expectation_failing_sql(e, "t"),
				   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											  RelationGetRelationName(rel)));
	pp_as_role_begin_path(&as, e->owner, e->search_path);
	raw = linitial_node(RawStmt, pg_parse_query(sql));
	query = parse_analyze_fixedparams(raw, sql, NULL, 0, NULL);
	pp_as_role_end(&as);
	if (query->hasSubLinks)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("expectation \"%s\" of source \"%s\" cannot be checked on one message: its row filter has a subquery",
						e->name, source),
				 errhint("At ingestion a row filter reads the message's own columns only.")));
	qual = (Node *) linitial_node(TargetEntry, query->targetList)->expr;
	return qual;
}

/*
 * pp_kafka_layout_expectations
 *		Set layout->expect_quals (COPY's WHERE clause) and expect_names from
 *		the expectations of source on rel; none: NIL.
 */
void
pp_kafka_layout_expectations(TargetLayout *layout, Relation rel, const char *source)
{
	List	   *ids = source_expectation_ids(RelationGetRelid(rel), source);
	List	   *all;
	ListCell   *lc;
	int			n = 0;

	layout->expect_quals = NIL;
	layout->expect_names = NULL;
	if (ids == NIL)
		return;
	if (!pg_strong_random(&layout->expect_token, sizeof(layout->expect_token)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random number")));
	all = pp_expectations_load(RelationGetRelid(rel));
	layout->expect_names = palloc0(sizeof(char *) * list_length(all));
	foreach(lc, all)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);

		if (!list_member_int(ids, e->id) || !pp_expectation_row_level(e->kind) ||
			e->kind == PP_EXPECT_RELATIONSHIPS)
			continue;
		layout->expect_names[n] = e->name;
		layout->expect_quals = lappend(layout->expect_quals,
									   expectation_qual(e, n, rel, layout->expect_token, source));
		n++;
	}
}

/*
 * Before a COPY with layout's expectations: its scope (the caller's
 * memory), inside the one running, if any.
 */
void
pp_kafka_expect_begin(KafkaExpectScope *scope, CopyFromState cstate, TargetLayout *layout)
{
	scope->copy = cstate;
	scope->token = layout->expect_token;
	scope->nquals = list_length(layout->expect_quals);
	scope->noted = NIL;
	scope->context = CurrentMemoryContext;
	scope->outer = active;
	active = scope;
}

/*
 * After it (failed too): what its WHERE clause noted (KafkaExpectFailure *,
 * in line order); the outer scope is active again.
 */
List *
pp_kafka_expect_end(KafkaExpectScope *scope)
{
	active = scope->outer;
	return scope->noted;
}

/*
 * pipeline._ingest_expectation(token bigint, expectation integer, fails
 * boolean) RETURNS boolean: COPY's WHERE clause at ingestion.  Without the
 * running COPY's token (any other call) it only says whether the row
 * passes.
 */
PG_FUNCTION_INFO_V1(pipeline_ingest_expectation);
Datum
pipeline_ingest_expectation(PG_FUNCTION_ARGS)
{
	KafkaExpectFailure *f;
	int32		i;

	if (PG_ARGISNULL(2) || !PG_GETARG_BOOL(2))
		PG_RETURN_BOOL(true);
	if (active == NULL || PG_ARGISNULL(0) || PG_ARGISNULL(1) ||
		(uint64) PG_GETARG_INT64(0) != active->token)
		PG_RETURN_BOOL(false);
	i = PG_GETARG_INT32(1);
	if (i >= 0 && i < active->nquals)
	{
		MemoryContext old = MemoryContextSwitchTo(active->context);

		f = palloc(sizeof(KafkaExpectFailure));
		f->line = active->copy->cur_lineno;
		f->expectation = i;
		active->noted = lappend(active->noted, f);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_BOOL(false);
}

/*
 * pipeline._ingest_expectations_check(source text, target regclass)
 * RETURNS void: builds the quals a load of source into target would use,
 * so that create_source / alter_source refuse what the consumer could not
 * check.
 */
PG_FUNCTION_INFO_V1(pipeline_ingest_expectations_check);
Datum
pipeline_ingest_expectations_check(PG_FUNCTION_ARGS)
{
	Relation	rel = table_open(PG_GETARG_OID(1), AccessShareLock);
	TargetLayout layout;

	memset(&layout, 0, sizeof(layout));
	pp_kafka_layout_expectations(&layout, rel, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	table_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}
