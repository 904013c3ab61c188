/*-------------------------------------------------------------------------
 *
 * record.c
 *	  Recording results: pipeline.check_results, pipeline.check_failures,
 *	  NOTIFY pipeline_checks, and the retention of that history.
 *
 * Results are written as the bootstrap superuser (pp_as_role_begin: pinned
 * search_path, security-restricted): users may read and delete their
 * history, never write it.  Each row carries the expectation's owner, who
 * then sees it (row-level security), whoever ran the check (the owner, a
 * pipeline_admin member, a superuser, a gated build).
 *
 * Retention as the scheduler's run history: rows older than
 * pg_pipeline.check_history_retention (default 7 days, -1 keeps all) go,
 * each time results are recorded.
 *
 * NOTIFY pipeline_checks, at commit, for each result that is not pass:
 * {"check_id", "relation", "expectation", "status", "sqlstate"}: names and
 * states only, never a value of the data (every listener of the database
 * receives it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "quality/quality.h"

#define RESULT_ARGS 20

static Datum
text_or_null(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

static Datum
text_array(List *items)
{
	ArrayBuildState *a = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	ListCell   *lc;

	foreach(lc, items)
		accumArrayResult(a, CStringGetTextDatum((char *) lfirst(lc)), false, TEXTOID, CurrentMemoryContext);
	return makeArrayResult(a, CurrentMemoryContext);
}

static Datum
interval_of(int64 us)
{
	Interval   *i = palloc0(sizeof(Interval));

	i->time = us;
	return IntervalPGetDatum(i);
}

static int64
insert_result(PPCheckResult *r, int64 check_id, int64 model_invocation_id)
{
	static Oid	types[RESULT_ARGS] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID,
		TEXTOID, TEXTOID, BOOLOID, INT8OID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
	INTERVALOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, OIDOID};
	Datum		v[RESULT_ARGS];
	char		n[RESULT_ARGS];
	bool		isnull;

	memset(n, ' ', sizeof(n));
	v[0] = Int64GetDatum(check_id);
	v[1] = Int32GetDatum(r->expectation_id);
	n[1] = r->expectation_id > 0 ? ' ' : 'n';
	v[2] = CStringGetTextDatum(r->relation);
	v[3] = CStringGetTextDatum(r->expectation);
	v[4] = CStringGetTextDatum(r->kind);
	v[5] = text_array(r->columns);
	v[6] = CStringGetTextDatum(r->severity);
	v[7] = CStringGetTextDatum(r->status);
	v[8] = BoolGetDatum(r->proven);
	v[9] = Int64GetDatum(r->failing);
	v[10] = Int64GetDatum(r->total);
	n[10] = r->has_total ? ' ' : 'n';
	v[11] = text_or_null(r->percent, &n[11]);
	v[12] = text_or_null(r->failing_sql, &n[12]);
	v[13] = TimestampTzGetDatum(r->started_at);
	v[14] = interval_of(r->duration_us);
	v[15] = text_or_null(r->error, &n[15]);
	v[16] = text_or_null(r->sqlstate, &n[16]);
	v[17] = Int64GetDatum(model_invocation_id);
	n[17] = model_invocation_id > 0 ? ' ' : 'n';
	v[18] = text_or_null(r->owner_name ? r->owner_name : "", &n[18]);
	v[19] = ObjectIdGetDatum(r->owner);
	if (SPI_execute_with_args("INSERT INTO pipeline.check_results (check_id, expectation_id, relation, "
							  "expectation, kind, columns, severity, status, proven, failing, total, percent, "
							  "failing_sql, started_at, duration, error, sqlstate, model_invocation_id, owner, "
							  "owner_oid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
							  "CAST($12 AS pg_catalog.numeric), $13, $14, $15, $16, $17, $18, "
							  "CAST($19 AS pg_catalog.name), $20) RETURNING result_id",
							  RESULT_ARGS, types, v, n, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert into pipeline.check_results");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* the failing rows of a result, in one INSERT */
static void
insert_failures(int64 result_id, List *failures)
{
	Oid			types[3] = {INT8OID, JSONBARRAYOID, JSONBARRAYOID};
	Datum		v[3];
	int			n = list_length(failures);
	Datum	   *keys = palloc(n * sizeof(Datum));
	Datum	   *values = palloc(n * sizeof(Datum));
	bool	   *key_nulls = palloc(n * sizeof(bool));
	bool	   *value_nulls = palloc(n * sizeof(bool));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ListCell   *lc;

	if (n == 0)
		return;
	foreach(lc, failures)
	{
		PPCheckFailure *f = (PPCheckFailure *) lfirst(lc);
		int			i = foreach_current_index(lc);

		keys[i] = JsonbPGetDatum(f->key);
		key_nulls[i] = (f->key == NULL);
		values[i] = JsonbPGetDatum(f->value);
		value_nulls[i] = (f->value == NULL);
	}
	v[0] = Int64GetDatum(result_id);
	v[1] = PointerGetDatum(construct_md_array(keys, key_nulls, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
	v[2] = PointerGetDatum(construct_md_array(values, value_nulls, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("INSERT INTO pipeline.check_failures (result_id, ordinal, key, value) "
							  "SELECT $1, f.o, f.k, f.v FROM ROWS FROM (pg_catalog.unnest($2), "
							  "pg_catalog.unnest($3)) WITH ORDINALITY f(k, v, o)",
							  3, types, v, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into pipeline.check_failures");
}

/* the history older than pg_pipeline.check_history_retention */
static void
prune(void)
{
	Oid			types[1] = {INTERVALOID};
	Datum		v[1];

	if (pp_check_history_retention < 0)
		return;
	v[0] = interval_of((int64) pp_check_history_retention * USECS_PER_SEC);
	if (SPI_execute_with_args("DELETE FROM pipeline.check_results r WHERE r.started_at "
							  "OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1)",
							  1, types, v, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from pipeline.check_results");
}

/*
 * A name in a NOTIFY payload, at most NOTIFY_NAME_BYTES of it: a payload
 * over 8000 bytes is an error, and an expectation's name has no limit.
 */
#define NOTIFY_NAME_BYTES 256

static char *
clipped(const char *name)
{
	return pnstrdup(name, pg_mbcliplen(name, strlen(name), NOTIFY_NAME_BYTES));
}

static void
notify(int64 check_id, PPCheckResult *r)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"check_id\": " INT64_FORMAT ", \"relation\": ", check_id);
	escape_json(&buf, clipped(r->relation));
	appendStringInfoString(&buf, ", \"expectation\": ");
	escape_json(&buf, clipped(r->expectation));
	appendStringInfoString(&buf, ", \"status\": ");
	escape_json(&buf, r->status);
	appendStringInfoString(&buf, ", \"sqlstate\": ");
	if (r->sqlstate)
		escape_json(&buf, r->sqlstate);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');
	Async_Notify("pipeline_checks", buf.data);
}

int64
pp_check_record(List *results, int64 model_invocation_id, int64 *result_ids)
{
	PipelineAsRole as;
	int64		check_id;
	bool		isnull;
	ListCell   *lc;

	SPI_connect();
	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	if (SPI_execute("SELECT pg_catalog.nextval('pipeline.check_id_seq')", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.check_id_seq");
	check_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	foreach(lc, results)
	{
		PPCheckResult *r = (PPCheckResult *) lfirst(lc);
		int64		id = insert_result(r, check_id, model_invocation_id);

		insert_failures(id, r->failures);
		if (result_ids)
			result_ids[foreach_current_index(lc)] = id;
	}
	prune();
	pp_as_role_end(&as);
	SPI_finish();
	foreach(lc, results)
	{
		PPCheckResult *r = (PPCheckResult *) lfirst(lc);

		if (strcmp(r->status, "pass") != 0)
			notify(check_id, r);
	}
	return check_id;
}
