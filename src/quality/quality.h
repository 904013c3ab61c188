/*-------------------------------------------------------------------------
 *
 * quality.h
 *	  Data quality (issue 13): expectations and their checks.
 *
 *	  expectation.c  the catalog: an expectation's row as a struct, its
 *	                 validation, the drop of its relation
 *	  sql.c          the SQL of an expectation: the failing-row predicate,
 *	                 the standalone failing-row query, the one-scan query
 *	  proven.c       expectations the catalog proves (no scan)
 *	  check.c        evaluation (one scan per owner), pipeline.check()
 *	  record.c       results, failing keys, NOTIFY, retention
 *	  aggregate.c    the scan's aggregates _first_keys and _duplicates
 *	  hashes.c       unique in two steps: _repeated_rows
 *
 * The C API for gating and ingestion (the lead's part) is the block
 * "API" below: evaluate without writing, record separately.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_QUALITY_H
#define PP_QUALITY_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"

typedef enum PPExpectKind
{
	PP_EXPECT_NOT_NULL,
	PP_EXPECT_UNIQUE,
	PP_EXPECT_ACCEPTED_VALUES,
	PP_EXPECT_RELATIONSHIPS,
	PP_EXPECT_BETWEEN,
	PP_EXPECT_REGEX,
	PP_EXPECT_LENGTH,
	PP_EXPECT_ROW_COUNT,
	PP_EXPECT_FRESHNESS,
	PP_EXPECT_CUSTOM_ROWS,
	PP_EXPECT_CUSTOM_VALUE
} PPExpectKind;

/* one row of pipeline.expectations (expectation.c) */
typedef struct PPExpectation
{
	int32		id;
	Oid			relid;
	char	   *name;
	List	   *columns;		/* char * */
	PPExpectKind kind;
	char	   *kind_name;
	Jsonb	   *options;
	char	   *severity;		/* "warn" or "error" */
	bool		has_max_failing;
	int64		max_failing;
	char	   *max_failing_percent;	/* numeric as text, NULL: none */
	char	   *row_filter;		/* NULL: every row */
	List	   *key_columns;	/* char *, NIL: the default (primary key) */
	Oid			owner;			/* InvalidOid: the role is gone */
	char	   *owner_name;
	char	   *search_path;
	Oid			to_relid;		/* relationships: to_relation, InvalidOid
								 * once that table is dropped */
	int			values_param;	/* relationships in the one scan: 0 = join
								 * the table; k = its values are the array
								 * $k (check.c, pp_relationship_values_query) */
} PPExpectation;

/* one failing row kept: its key and values, as JSON objects */
typedef struct PPCheckFailure
{
	Jsonb	   *key;
	Jsonb	   *value;
} PPCheckFailure;

/* the result of one expectation (check.c) */
typedef struct PPCheckResult
{
	int32		expectation_id;
	char	   *relation;		/* its qualified name */
	char	   *expectation;
	char	   *kind;
	List	   *columns;		/* char * */
	char	   *severity;
	char	   *status;			/* pass, warn, fail, error */
	bool		proven;
	int64		failing;
	bool		has_total;
	int64		total;
	char	   *percent;		/* numeric as text, NULL: no total */
	char	   *failing_sql;
	TimestampTz started_at;
	int64		duration_us;
	char	   *error;			/* status error only */
	char	   *sqlstate;
	Oid			owner;
	char	   *owner_name;
	List	   *failures;		/* PPCheckFailure *, at most check_failure_limit */
} PPCheckResult;

/* settings pg_pipeline.check_failure_limit and check_history_retention
 * (seconds, -1: forever) and pp_quality_relation_dropped: common/pipeline.h */

/* ---- API ---- */

/*
 * Evaluate every expectation of relid that the current role sees, as their
 * owners, without writing anything: PPCheckResult *, allocated in
 * CurrentMemoryContext.  An expectation that cannot be evaluated is a
 * result of status "error"; the others go on.
 */
extern List *pp_check_evaluate(Oid relid);

/*
 * Record results (pipeline.check_results, check_failures), NOTIFY
 * pipeline_checks of those not passing, prune old history; returns the
 * check_id.  model_invocation_id 0: none.  Sets each result's result_id
 * in result_ids (may be NULL), in the order of results.
 */
extern int64 pp_check_record(List *results, int64 model_invocation_id, int64 *result_ids);

/* whether any error-severity expectation failed, or a check errored */
extern bool pp_check_blocks(List *results);

/*
 * The error for blocking results, naming the expectations: SQLSTATE 23514
 * (check_violation) when one failed its data, else the SQLSTATE of the
 * first that could not be evaluated.
 */
extern void pp_check_raise_blocking(List *results, const char *hint) pg_attribute_noreturn();

/* the expectations of relid the current role sees (ordered by name) */
extern List *pp_expectations_load(Oid relid);

/*
 * An SQL boolean expression over the relation's columns, alias.column, true
 * when a row fails a row-level expectation (its row_filter included); NULL
 * for kinds that are not row-level (unique, row_count, freshness, custom).
 * Run it as the expectation's owner with its search_path
 * (pp_as_role_begin_path).
 */
extern char *pp_expectation_failing_sql(PPExpectation *e, const char *alias);

/* ---- inside src/quality ---- */

/* expectation.c */
extern PPExpectation *pp_expectation_from_datum(Datum row);
extern bool pp_expectation_row_level(PPExpectKind kind);
extern char *pp_expectation_option(PPExpectation *e, const char *key);

/* sql.c */
extern List *pp_expectation_key_columns(PPExpectation *e);
extern char *pp_expectation_pass_sql(PPExpectation *e, const char *alias);
extern char *pp_expectation_query(PPExpectation *e);
extern char *pp_scan_query(List *expectations, int limit);
extern char *pp_custom_query(PPExpectation *e, int limit);
extern char *pp_relationship_values_query(PPExpectation *e, int64 max);
extern bool pp_unique_two_steps(Oid relid);
extern char *pp_unique_rows_query(PPExpectation *e, int limit, bool by_row_id);

/*
 * hashes.c: _repeated_rows returns at most one more row than this; with
 * more, the second step of unique reads every row (check.c)
 */
#define PP_REPEATED_ROWS_MAX 1000000

/* proven.c */
extern bool pp_expectation_proven(PPExpectation *e);


#endif							/* PP_QUALITY_H */
