/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Reading the window catalog: a window aggregate's definition from
 *	  pipeline.windows into a PipelineWindow (pp_window_load), a window's
 *	  id from its result relation (pp_window_id_of), and the switch to the
 *	  window's owner that maintenance runs under (pp_window_as_owner).
 *
 * Maintenance writes no definition: pipeline.windows is written by
 * create_window and drop_window (define.c), and by drains (maintained_at,
 * last_error: apply.c, maintainer.c).  The watermark
 * (pipeline.window_progress) is read and appended by apply.c, in the
 * snapshot of the work that needs it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/pipeline.h"
#include "window/window.h"

static char **
text_array(Datum d, int *n)
{
	char	  **out = pp_text_array_cstrings(d, n, false);

	for (int i = 0; i < *n; i++)
		if (out[i] == NULL)
			out[i] = pstrdup("");
	return out;
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
quoted_all(char **in, int n, char ***out)
{
	*out = palloc0(sizeof(char *) * (n + 1));
	for (int i = 0; i < n; i++)
		(*out)[i] = pstrdup(quote_identifier(in[i]));
}

#define QUALIFIED(col) \
	"(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c " \
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = w." col ")"


/*
 * pp_window_load
 *		Read a window aggregate's definition.  The caller is connected to
 *		SPI; the result lives in the caller's memory context.  The catalog
 *		is read as the bootstrap superuser (a writer to the source need not
 *		see the row under row-level security), through pp_as_role_begin:
 *		pinned search_path, so the session's functions and operators never
 *		run with the superuser's rights.  The watermark is not read
 *		here: the work that needs it does (load_watermark), so an async
 *		window's trigger, which only appends to the delta, does not.
 */
PipelineWindow *
pp_window_load(int32 id, bool missing_ok)
{
	static char *sql = NULL;
	static const char *sql_head =
		"SELECT w.id, w.name, " QUALIFIED("state_table") ", " QUALIFIED("delta_table") ", "
		QUALIFIED("late_table") ", " QUALIFIED("source") ", w.source::oid, w.time_column::text, "
		"(SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid = w.source "
		"   AND a.attname = w.time_column AND NOT a.attisdropped), "
		"w.kind, w.size::text, w.slide::text, "
		"coalesce((extract(epoch FROM w.size) / nullif(extract(epoch FROM w.slide), 0))::bigint, 0), "
		"w.group_by::text[], w.agg_names, w.agg_kinds, w.agg_exprs, w.agg_args, w.agg_types, "
		"w.columns::text[], w.emit, w.late_rows, w.mode, w.retention::text, w.sink, "
		"(SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = ";
	/* ... the owner's name (pp_owner_name_sql), then: */
	static const char *sql_tail = "), "
		"(extract(epoch FROM w.allowed_lateness) * 1000000)::bigint "
		"FROM pipeline.windows w WHERE w.id = $1";
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(id)};
	PipelineAsRole as;
	PipelineWindow  *def;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *s;
	char	  **raw;
	int			n;

	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	if (sql == NULL)			/* the owner by OID once the catalog has it */
		sql = MemoryContextStrdup(TopMemoryContext,
								  psprintf("%s%s%s", sql_head,
										   pp_owner_name_sql("windows", "w."), sql_tail));
	if (pp_window_spi_run(sql, 1, argtypes, values, NULL, InvalidSnapshot) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.windows");
	if (SPI_processed == 0)
	{
		pp_as_role_end(&as);
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("window aggregate %d does not exist", id)));
	}

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	def = palloc0(sizeof(PipelineWindow));
	def->id = id;
	def->name = get_text(tup, desc, 2);
	def->state = get_text(tup, desc, 3);
	def->delta = get_text(tup, desc, 4);
	def->late = get_text(tup, desc, 5);
	def->source = get_text(tup, desc, 6);
	if (def->state == NULL || def->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("window aggregate \"%s\" lost its state table or its source", def->name),
				 errhint("A superuser removes it with pipeline._window_fix_dependencies(%d); "
						 "then create it again.", id)));
	def->source_oid = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
	def->time_col = pstrdup(quote_identifier(get_text(tup, desc, 8)));
	def->time_type = DatumGetObjectId(SPI_getbinval(tup, desc, 9, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the time column of window aggregate \"%s\" was dropped from its source", def->name)));
	s = get_text(tup, desc, 10);
	def->kind = strcmp(s, "tumble") == 0 ? WIN_TUMBLE :
		strcmp(s, "hop") == 0 ? WIN_HOP :
		strcmp(s, "cumulate") == 0 ? WIN_CUMULATE : WIN_SESSION;
	s = get_text(tup, desc, 11);
	def->size_value = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(s),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	def->size = quote_literal_cstr(s);
	def->size = psprintf("%s::interval", def->size);
	s = get_text(tup, desc, 12);
	def->slide = s ? psprintf("%s::interval", quote_literal_cstr(s)) : NULL;
	def->nsteps = DatumGetInt64(SPI_getbinval(tup, desc, 13, &isnull));

	raw = text_array(SPI_getbinval(tup, desc, 14, &isnull), &def->ngroups);
	quoted_all(raw, def->ngroups, &def->groups);
	raw = text_array(SPI_getbinval(tup, desc, 15, &isnull), &def->naggs);
	quoted_all(raw, def->naggs, &def->agg_names);
	raw = text_array(SPI_getbinval(tup, desc, 16, &isnull), &n);
	def->agg_kinds = palloc0(sizeof(AggKind) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		def->agg_kinds[i] = strcmp(raw[i], "count_star") == 0 ? AGG_COUNT_STAR :
			strcmp(raw[i], "count") == 0 ? AGG_COUNT :
			strcmp(raw[i], "sum") == 0 ? AGG_SUM :
			strcmp(raw[i], "avg") == 0 ? AGG_AVG :
			strcmp(raw[i], "min") == 0 ? AGG_MIN :
			strcmp(raw[i], "max") == 0 ? AGG_MAX :
			strcmp(raw[i], "count_distinct") == 0 ? AGG_COUNT_DISTINCT : AGG_OTHER;
		if (def->agg_kinds[i] == AGG_OTHER)
			def->has_other = true;
	}
	def->agg_exprs = text_array(SPI_getbinval(tup, desc, 17, &isnull), &n);
	def->agg_args = text_array(SPI_getbinval(tup, desc, 18, &isnull), &n);
	def->agg_types = text_array(SPI_getbinval(tup, desc, 19, &isnull), &n);
	raw = text_array(SPI_getbinval(tup, desc, 20, &isnull), &def->ncols);
	quoted_all(raw, def->ncols, &def->cols);
	def->on_close = strcmp(get_text(tup, desc, 21), "on_close") == 0;
	s = get_text(tup, desc, 22);
	def->late_policy = strcmp(s, "drop") == 0 ? LATE_DROP :
		strcmp(s, "side_table") == 0 ? LATE_SIDE_TABLE : LATE_UPDATE;
	s = get_text(tup, desc, 23);
	def->async = strcmp(s, "async") == 0;
	def->append = strcmp(s, "append") == 0;
	s = get_text(tup, desc, 24);
	def->retention = s ? psprintf("%s::interval", quote_literal_cstr(s)) : NULL;
	s = get_text(tup, desc, 25);
	def->sink = s ? quote_literal_cstr(s) : NULL;
	def->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 26, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of window aggregate \"%s\" no longer exists", def->name)));
	def->lateness_us = DatumGetInt64(SPI_getbinval(tup, desc, 27, &isnull));
	def->lateness = psprintf("'" INT64_FORMAT " microseconds'::interval", def->lateness_us);
	pp_as_role_end(&as);
	return def;
}

/*
 * pp_window_id_of
 *		The id of the window aggregate whose result relation is "result".
 */
int32
pp_window_id_of(Oid result, bool missing_ok)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(result)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT id FROM pipeline.windows WHERE result = $1::regclass",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.windows");
	if (SPI_processed == 1)
		return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"%s\" is not a window aggregate", get_rel_name(result)),
				 errhint("pipeline.windows lists the window aggregates you can see.")));
	return -1;
}

/*
 * pp_window_as_owner
 *		Run what follows as the window's owner, in a security-restricted
 *		operation under the pinned search_path (pp_as_role_begin): a writer
 *		of the source, whose session this may be, chooses no name it
 *		resolves.  The caller ends it with pp_as_role_end(as).
 */
void
pp_window_as_owner(PipelineWindow *def, PipelineAsRole *as)
{
	pp_as_role_begin(as, def->owner);
}

