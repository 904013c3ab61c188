/*-------------------------------------------------------------------------
 *
 * maintain.c
 *	  Incremental maintenance of window aggregates: the SQL that merges
 *	  what a statement changed into the state table, and the triggers and
 *	  the drain that run it.
 *
 * The state table holds one row per (window_start, window_end, group): the
 * aggregate columns, pp_rows (source rows in it), is_final, pp_recompute,
 * and for avg its sum and count (pp_sum_N, pp_cnt_N).  A unique index on
 * the key, NULLS NOT DISTINCT, lets INSERT ... ON CONFLICT merge.
 *
 * Every change arrives as a "delta": rows (pp_sign, the source columns that
 * maintenance reads), +1 for an inserted row and -1 for a deleted one.  In
 * sync mode the delta is the statement's transition tables; in async mode
 * the triggers append it to a delta table and the maintainer worker (or
 * pipeline.flush_window) drains it.  Both run the same SQL:
 *
 *	insert-only delta, tumble / hop / cumulate: one statement expands each
 *	  row to its windows (hop and cumulate: one row per window it is in),
 *	  groups by window and group, computes partial aggregates and merges
 *	  them with ON CONFLICT DO UPDATE: counts and sums are added, min and
 *	  max take LEAST / GREATEST, avg adds its sum and count, count(DISTINCT
 *	  x) unions its sorted set of values (pp_set_N; the count is a
 *	  generated column).  Hopping and cumulating windows group the rows by
 *	  pane (slide, step) first and combine panes, when every aggregate
 *	  allows it.  Other aggregates (any aggregate with a combine function)
 *	  are exact for a group the statement creates; a group that already
 *	  existed is marked pp_recompute.
 *	delta with deletes: the touched groups are marked pp_recompute (an
 *	  upsert of placeholder rows, which also locks them).
 *	recompute: a second statement recomputes the marked groups from the
 *	  source, reading only the rows of their windows (through an index on
 *	  the time column when there is one), and deletes groups left empty.
 *	session windows: the touched sessions and the delta rows of a group
 *	  make a time range per group; the sessions in it are deleted and
 *	  rebuilt from the source rows in it (gaps and islands).
 *
 * Then the watermark moves (max event time - allowed lateness; appended to
 * pipeline.window_progress, never updated in place), windows whose end it
 * passed are marked final, announced by NOTIFY and, with a sink, published
 * (for an insert-only statement, inside its merge statement; otherwise by
 * pp_window_close after the recompute).  Final windows a late row fixed are
 * announced again with "fix": true.  Closing skips rows other writers hold
 * (SKIP LOCKED); the maintainer's sweep, every second, closes what was
 * skipped.  Group keys are compared as whole records (key_record), which
 * treat NULLs as equal and can be merge-joined.
 *
 * Concurrency (sync mode).  Writers never lock the state table as a whole:
 * the merge takes row locks, in key order, so two writers never deadlock
 * on it.  A recompute must see every committed row of its groups: the
 * marking upsert locks the group rows first and waits for any writer
 * holding them; the recompute is a new statement, so in READ COMMITTED it
 * takes a new snapshot that includes what those writers committed.  In
 * REPEATABLE READ and SERIALIZABLE, a concurrent change of the same group
 * makes the upsert fail with a serialization error instead.  Sessions lock
 * their groups with transaction locks in pg_pipeline's own key space
 * (pp_xact_lock, which no SQL can take; key: window id, hash of the
 * group), taken in hash order, before their statement.  No writer
 * updates a row shared with writers of other groups.  An async drain runs
 * every statement with one registered snapshot (run_snapshot).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "window/window.h"

/*
 * Locks in pg_pipeline's own key space (pp_xact_lock): "drain this
 * window's delta" (key: window id), and a session window's group (class:
 * this plus the window id, key: hash of the group).
 */
#define DRAIN_LOCK_CLASS	0x70705749
#define SESSION_LOCK_CLASS	0x10000000

static bool maintainer_wake_pending = false;
static bool xact_callback_registered = false;

/*
 * When set, every statement of run() sees this snapshot (the drain of an
 * async window: what it consumes from the delta and what it recomputes from
 * the source must be the same committed rows).
 */
static Snapshot run_snapshot = InvalidSnapshot;

/* ------------------------------------------------------------ plan cache */

/*
 * Maintenance statements are long WITH queries; planning them took most of
 * a small statement's maintenance.  Their text is fixed for a window and a
 * kind of statement, so each is prepared once per backend and kept
 * (SPI_keepplan): PostgreSQL's plan cache replans it when a table it uses
 * changes.  Keyed by a hash of the text; the text is kept to rule out
 * collisions.
 */
typedef struct PlanEntry
{
	uint64		key;
	char	   *sql;
	SPIPlanPtr	plan;
} PlanEntry;

static HTAB *plan_cache = NULL;

static SPIPlanPtr
cached_plan(const char *sql, int nargs, Oid *argtypes)
{
	uint64		key = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	PlanEntry  *entry;
	bool		found;
	SPIPlanPtr	plan;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PlanEntry);
		ctl.hcxt = CacheMemoryContext;
		plan_cache = hash_create("pg_pipeline window plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(plan_cache, &key, HASH_FIND, &found);
	if (found && strcmp(entry->sql, sql) == 0)
		return entry->plan;

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare a window maintenance statement (%d): %s", SPI_result, sql);
	if (found)
		return plan;			/* a hash collision: run it uncached */
	SPI_keepplan(plan);
	entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	entry->sql = MemoryContextStrdup(CacheMemoryContext, sql);
	entry->plan = plan;
	return plan;
}

/* Run a statement through the plan cache; with a snapshot when given. */
static int
spi_run(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
		Snapshot snapshot)
{
	SPIPlanPtr	plan = cached_plan(sql, nargs, argtypes);

	if (snapshot != InvalidSnapshot)
		return SPI_execute_snapshot(plan, values, nulls, snapshot, InvalidSnapshot, false, true, 0);
	return SPI_execute_plan(plan, values, nulls, false, 0);
}

/* ---------------------------------------------------------------- catalog */

static char **
text_array(Datum d, int *n)
{
	ArrayType  *a = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc0(sizeof(char *) * (*n + 1));
	for (int i = 0; i < *n; i++)
		out[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
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
 * The largest event time seen: the largest of the rows the statements that
 * moved it appended to pipeline.window_progress (an index scan).  Appended,
 * never updated, so concurrent writers never wait on one hot row.
 */
static void
load_watermark(PipelineWindow *def)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(def->id)};
	bool		isnull;

	if (spi_run("SELECT max(max_event_time) FROM pipeline.window_progress WHERE window_id = $1",
				1, argtypes, values, NULL, run_snapshot) != SPI_OK_SELECT)
		elog(ERROR, "could not read the watermark of %s", def->name);
	def->max_event_time = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	def->has_max = !isnull;
}

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
	if (spi_run(sql, 1, argtypes, values, NULL, InvalidSnapshot) != SPI_OK_SELECT)
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
				 errhint("Drop it with pipeline.drop_window() and create it again.")));
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
	def->size = quote_literal_cstr(get_text(tup, desc, 11));
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
	def->async = strcmp(get_text(tup, desc, 23), "async") == 0;
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

/* ------------------------------------------------------------- SQL pieces */

static void append_announce(StringInfo buf, PipelineWindow *def, const char *wm, const char *fix);
static const char *announce_counts(PipelineWindow *def);
static void retention(PipelineWindow *def);

static const char *
origin(PipelineWindow *def)
{
	return def->time_type == TIMESTAMPTZOID ?
		"'1970-01-01 00:00:00+00'::timestamptz" : "'1970-01-01 00:00:00'::timestamp";
}

/*
 * SELECT of the rows of "input" (a relation name or parenthesized query
 * with the source columns) each with one of its windows: pp_ws, pp_we,
 * and pp_fe, the end of the first window the row is in (its pair with
 * pp_we = pp_fe is its "first"; a row is late when pp_fe <= watermark).
 */
static void
append_expand(StringInfo buf, PipelineWindow *def, const char *input)
{
	const char *t = def->time_col;

	switch (def->kind)
	{
		case WIN_TUMBLE:
			appendStringInfo(buf,
							 "SELECT x.*, x.pp_ws + %s AS pp_we, x.pp_ws + %s AS pp_fe FROM "
							 "(SELECT d.*, date_bin(%s, d.%s, %s) AS pp_ws FROM %s d) x",
							 def->size, def->size, def->size, t, origin(def), input);
			break;
		case WIN_HOP:
			appendStringInfo(buf,
							 "SELECT x.*, x.pp_ws + %s AS pp_we FROM "
							 "(SELECT p.*, p.pp_pane - pp_k * %s AS pp_ws, p.pp_pane + %s AS pp_fe FROM "
							 "(SELECT d.*, date_bin(%s, d.%s, %s) AS pp_pane FROM %s d) p "
							 "CROSS JOIN generate_series(0, " INT64_FORMAT ") pp_k) x",
							 def->size, def->slide, def->slide, def->slide, t, origin(def), input,
							 def->nsteps - 1);
			break;
		case WIN_CUMULATE:
			appendStringInfo(buf,
							 "SELECT x.* FROM "
							 "(SELECT p.*, p.pp_ws0 AS pp_ws, p.pp_ws0 + pp_k * %s AS pp_we, p.pp_pane + %s AS pp_fe FROM "
							 "(SELECT d.*, date_bin(%s, d.%s, %s) AS pp_ws0, date_bin(%s, d.%s, %s) AS pp_pane FROM %s d) p "
							 "CROSS JOIN generate_series(1, " INT64_FORMAT ") pp_k) x WHERE x.pp_we > x.%s",
							 def->slide, def->slide, def->size, t, origin(def), def->slide, t, origin(def),
							 input, def->nsteps, t);
			break;
		case WIN_SESSION:
			elog(ERROR, "session windows are not expanded");
	}
}

/*
 * A window key (or only the group) as one record: "ROW(a.ws, a.we, a.g1,
 * ...)".  Two records compare equal when every field is, NULLs included,
 * and the planner can merge-join on them, where IS NOT DISTINCT FROM per
 * column leaves it a nested loop.  Compare a record with a column holding
 * one (or a ROW() with such a column): two ROW() constructors would be
 * compared field by field, NULLs unequal.
 */
static char *
key_record(PipelineWindow *def, const char *alias, const char *ws, const char *we)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ROW(");
	if (ws)
	{
		appendStringInfo(&buf, "%s.%s, %s.%s", alias, ws, alias, we);
		first = false;
	}
	for (int i = 0; i < def->ngroups; i++)
	{
		appendStringInfo(&buf, "%s%s.%s", first ? "" : ", ", alias, def->groups[i]);
		first = false;
	}
	appendStringInfoString(&buf, ")");
	return buf.data;
}

/* ", a.g1, a.g2" (alias may be NULL) */
static void
append_groups(StringInfo buf, PipelineWindow *def, const char *alias)
{
	for (int i = 0; i < def->ngroups; i++)
		appendStringInfo(buf, ", %s%s%s", alias ? alias : "", alias ? "." : "", def->groups[i]);
}

/* "PARTITION BY a.g1, a.g2" or nothing; "GROUP BY a.g1, a.g2" or "GROUP BY ()" */
static void
append_group_clause(StringInfo buf, PipelineWindow *def, const char *clause, const char *alias)
{
	if (def->ngroups == 0)
	{
		if (strcmp(clause, "GROUP BY") == 0)
			appendStringInfoString(buf, " GROUP BY ()");
		return;
	}
	appendStringInfo(buf, " %s ", clause);
	for (int i = 0; i < def->ngroups; i++)
		appendStringInfo(buf, "%s%s.%s", i > 0 ? ", " : "", alias, def->groups[i]);
}

/*
 * The aggregate columns computed over the rows in scope, as pp_v<i> (and
 * pp_s<i>, pp_c<i> for avg), each with FILTER (WHERE filter) when given.
 */
static void
append_values(StringInfo buf, PipelineWindow *def, const char *filter)
{
	char	   *f = filter ? psprintf(" FILTER (WHERE %s)", filter) : "";

	for (int i = 0; i < def->naggs; i++)
	{
		const char *arg = def->agg_args[i];

		switch (def->agg_kinds[i])
		{
			case AGG_COUNT_STAR:
				appendStringInfo(buf, ", count(*)%s AS pp_v%d", f, i);
				break;
			case AGG_COUNT:
				appendStringInfo(buf, ", count(%s)%s AS pp_v%d", arg, f, i);
				break;
			case AGG_SUM:
				appendStringInfo(buf, ", sum(%s)%s AS pp_v%d", arg, f, i);
				break;
			case AGG_MIN:
				appendStringInfo(buf, ", min(%s)%s AS pp_v%d", arg, f, i);
				break;
			case AGG_MAX:
				appendStringInfo(buf, ", max(%s)%s AS pp_v%d", arg, f, i);
				break;
			case AGG_AVG:
				appendStringInfo(buf,
								 ", sum((%s)::%s)%s AS pp_s%d, count(%s)%s AS pp_c%d"
								 ", sum((%s)::%s)%s / NULLIF(count(%s)%s, 0) AS pp_v%d",
								 arg, def->agg_types[i], f, i, arg, f, i,
								 arg, def->agg_types[i], f, arg, f, i);
				break;
			case AGG_COUNT_DISTINCT:
				appendStringInfo(buf, ", array_agg(DISTINCT (%s)) FILTER (WHERE (%s) IS NOT NULL%s%s) AS pp_a%d",
								 arg, arg, filter ? " AND " : "", filter ? filter : "", i);
				break;
			case AGG_OTHER:
				appendStringInfo(buf, ", %s%s AS pp_v%d", def->agg_exprs[i], f, i);
				break;
		}
	}
}

/*
 * The aggregate columns of a window from the partials of its panes (the
 * rows of append_values grouped by pane), same names as append_values.
 */
static void
append_combined(StringInfo buf, PipelineWindow *def, const char *filter)
{
	char	   *f = filter ? psprintf(" FILTER (WHERE %s)", filter) : "";

	for (int i = 0; i < def->naggs; i++)
	{
		switch (def->agg_kinds[i])
		{
			case AGG_COUNT_STAR:
			case AGG_COUNT:
				appendStringInfo(buf, ", (sum(x.pp_v%d)%s)::bigint AS pp_v%d", i, f, i);
				break;
			case AGG_SUM:
				appendStringInfo(buf, ", sum(x.pp_v%d)%s AS pp_v%d", i, f, i);
				break;
			case AGG_MIN:
				appendStringInfo(buf, ", min(x.pp_v%d)%s AS pp_v%d", i, f, i);
				break;
			case AGG_MAX:
				appendStringInfo(buf, ", max(x.pp_v%d)%s AS pp_v%d", i, f, i);
				break;
			case AGG_AVG:
				appendStringInfo(buf,
								 ", sum(x.pp_s%d)%s AS pp_s%d, (sum(x.pp_c%d)%s)::bigint AS pp_c%d"
								 ", sum(x.pp_s%d)%s / NULLIF(sum(x.pp_c%d)%s, 0) AS pp_v%d",
								 i, f, i, i, f, i, i, f, i, f, i);
				break;
			case AGG_COUNT_DISTINCT:
				appendStringInfo(buf, ", pipeline.array_union(x.pp_a%d)%s AS pp_a%d", i, f, i);
				break;
			case AGG_OTHER:
				elog(ERROR, "panes cannot combine this aggregate");
		}
	}
}

/* the state columns that append_values fills, in its order */
static void
append_value_columns(StringInfo buf, PipelineWindow *def, bool from_values, const char *alias)
{
	for (int i = 0; i < def->naggs; i++)
	{
		if (def->agg_kinds[i] == AGG_COUNT_DISTINCT)
		{
			/* the count is generated from the set */
			if (from_values)
				appendStringInfo(buf, ", %s.pp_a%d", alias, i);
			else
				appendStringInfo(buf, ", pp_set_%d", i);
		}
		else if (from_values)
		{
			if (def->agg_kinds[i] == AGG_AVG)
				appendStringInfo(buf, ", %s.pp_s%d, %s.pp_c%d", alias, i, alias, i);
			appendStringInfo(buf, ", %s.pp_v%d", alias, i);
		}
		else
		{
			if (def->agg_kinds[i] == AGG_AVG)
				appendStringInfo(buf, ", pp_sum_%d, pp_cnt_%d", i, i);
			appendStringInfo(buf, ", %s", def->agg_names[i]);
		}
	}
}

/* "x + y" where NULL means "no rows yet" (sum of no rows is NULL) */
static char *
null_add(const char *x, const char *y)
{
	return psprintf("CASE WHEN %s IS NULL THEN %s WHEN %s IS NULL THEN %s ELSE %s + %s END",
					x, y, y, x, x, y);
}

/* ON CONFLICT ... DO UPDATE SET list of an insert-only merge */
static void
append_merge_set(StringInfo buf, PipelineWindow *def)
{
	appendStringInfoString(buf, "pp_rows = s.pp_rows + excluded.pp_rows");
	for (int i = 0; i < def->naggs; i++)
	{
		const char *c = def->agg_names[i];

		switch (def->agg_kinds[i])
		{
			case AGG_COUNT_STAR:
			case AGG_COUNT:
				appendStringInfo(buf, ", %s = s.%s + excluded.%s", c, c, c);
				break;
			case AGG_SUM:
				appendStringInfo(buf, ", %s = %s", c,
								 null_add(psprintf("s.%s", c), psprintf("excluded.%s", c)));
				break;
			case AGG_MIN:
				appendStringInfo(buf, ", %s = LEAST(s.%s, excluded.%s)", c, c, c);
				break;
			case AGG_MAX:
				appendStringInfo(buf, ", %s = GREATEST(s.%s, excluded.%s)", c, c, c);
				break;
			case AGG_AVG:
				{
					char	   *sum = null_add(psprintf("s.pp_sum_%d", i), psprintf("excluded.pp_sum_%d", i));

					appendStringInfo(buf,
									 ", pp_sum_%d = %s, pp_cnt_%d = s.pp_cnt_%d + excluded.pp_cnt_%d"
									 ", %s = (%s) / NULLIF(s.pp_cnt_%d + excluded.pp_cnt_%d, 0)",
									 i, sum, i, i, i, c, sum, i, i);
					break;
				}
			case AGG_COUNT_DISTINCT:
				appendStringInfo(buf, ", pp_set_%d = pipeline.array_distinct(s.pp_set_%d || excluded.pp_set_%d)",
								 i, i, i);
				break;
			case AGG_OTHER:
				break;			/* recomputed: the group is marked */
		}
	}
	if (def->has_other)
		appendStringInfoString(buf, ", pp_recompute = true");
}

static void
append_key_columns(StringInfo buf, PipelineWindow *def)
{
	appendStringInfoString(buf, "window_start, window_end");
	append_groups(buf, def, NULL);
}

/*
 * The merge statement of tumble / hop / cumulate windows.  The delta comes
 * from the CTE pp_delta.  $1 is the watermark (NULL: none yet).
 * mark_only: mark the touched groups for recompute instead of merging
 * values (deltas with deletes).  apply_late: the late-rows policy applies
 * (not when rebuilding).  extra_filter: which (row, window) pairs count.
 * Returns one row: the largest event time inserted, the late rows, the
 * groups written.
 */
static char *
merge_sql(PipelineWindow *def, const char *delta, bool mark_only, bool apply_late,
		  const char *extra_filter, bool close)
{
	StringInfoData buf;
	char	   *keep = NULL;
	bool		panes = (def->kind == WIN_HOP || def->kind == WIN_CUMULATE) &&
		!def->has_other && !(apply_late && def->late);

	if (apply_late && def->late_policy != LATE_UPDATE)
		keep = "NOT ($1 IS NOT NULL AND x.pp_we <= $1)";
	if (extra_filter)
		keep = keep ? psprintf("%s AND %s", keep, extra_filter) : (char *) extra_filter;

	initStringInfo(&buf);
	appendStringInfo(&buf, "WITH pp_delta AS (%s), ", delta);
	if (panes)
	{
		/*
		 * Hopping and cumulating windows from panes: group the rows by pane
		 * (slide or step) first, then combine each window's panes.  A row
		 * is aggregated once, not once per window it is in.
		 */
		const char *t = def->time_col;

		appendStringInfo(&buf, "pp_p AS (SELECT date_bin(%s, d.%s, %s) AS pp_pane",
						 def->slide, t, origin(def));
		append_groups(&buf, def, "d");
		appendStringInfo(&buf, ", count(*) AS pp_rows, count(*) FILTER (WHERE %s) AS pp_lrows, "
						 "max(d.%s) FILTER (WHERE d.pp_sign > 0) AS pp_maxt",
						 def->late_old_rows ? "true" : "d.pp_sign > 0", t);
		if (!mark_only)
			append_values(&buf, def, NULL);
		appendStringInfoString(&buf, " FROM pp_delta d GROUP BY 1");
		append_groups(&buf, def, "d");
		if (def->kind == WIN_HOP)
			appendStringInfo(&buf,
							 "), pp_x AS (SELECT p.*, p.pp_pane - pp_k * %s AS pp_ws, p.pp_pane - pp_k * %s + %s AS pp_we, "
							 "p.pp_pane + %s AS pp_fe FROM pp_p p CROSS JOIN generate_series(0, " INT64_FORMAT ") pp_k)",
							 def->slide, def->slide, def->size, def->slide, def->nsteps - 1);
		else
			appendStringInfo(&buf,
							 "), pp_x AS (SELECT q.* FROM (SELECT p.*, date_bin(%s, p.pp_pane, %s) AS pp_ws, "
							 "date_bin(%s, p.pp_pane, %s) + pp_k * %s AS pp_we, p.pp_pane + %s AS pp_fe FROM pp_p p "
							 "CROSS JOIN generate_series(1, " INT64_FORMAT ") pp_k) q WHERE q.pp_we > q.pp_pane)",
							 def->size, origin(def), def->size, origin(def), def->slide, def->slide, def->nsteps);
		appendStringInfoString(&buf, ", pp_g AS (SELECT x.pp_ws, x.pp_we");
		append_groups(&buf, def, "x");
		appendStringInfo(&buf, ", (sum(x.pp_rows)%s%s%s)::bigint AS pp_rows",
						 keep ? " FILTER (WHERE " : "", keep ? keep : "", keep ? ")" : "");
		if (!mark_only)
			append_combined(&buf, def, keep);
		appendStringInfo(&buf,
						 ", max(x.pp_maxt) AS pp_maxt"
						 ", coalesce(sum(x.pp_lrows) FILTER (WHERE %s AND $1 IS NOT NULL AND x.pp_fe <= $1 "
						 "AND x.pp_we = x.pp_fe), 0) AS pp_nlate "
						 "FROM pp_x x GROUP BY x.pp_ws, x.pp_we", apply_late ? "true" : "false");
		append_groups(&buf, def, "x");
	}
	else
	{
		appendStringInfoString(&buf, "pp_x AS (");
		append_expand(&buf, def, "pp_delta");
		appendStringInfoString(&buf, ")");
		if (apply_late && def->late)
		{
			appendStringInfo(&buf,
							 ", pp_side AS (INSERT INTO %s (reason, watermark, %s",
							 def->late, def->time_col);
			append_groups(&buf, def, NULL);
			appendStringInfo(&buf,
							 ", \"row\") SELECT CASE WHEN x.pp_sign > 0 THEN 'late insert' ELSE 'late delete' END, "
							 "$1, x.%s", def->time_col);
			append_groups(&buf, def, "x");
			appendStringInfoString(&buf,
								   ", to_jsonb(x) - '{pp_sign,pp_ws,pp_we,pp_fe,pp_pane,pp_ws0}'::text[] "
								   "FROM pp_x x WHERE $1 IS NOT NULL AND x.pp_fe <= $1 AND x.pp_we = x.pp_fe "
								   "RETURNING 1)");
		}
		appendStringInfoString(&buf, ", pp_g AS (SELECT x.pp_ws, x.pp_we");
		append_groups(&buf, def, "x");
		appendStringInfo(&buf, ", count(*)%s%s%s AS pp_rows",
						 keep ? " FILTER (WHERE " : "", keep ? keep : "", keep ? ")" : "");
		if (!mark_only)
			append_values(&buf, def, keep);
		appendStringInfo(&buf,
						 ", max(x.%s) FILTER (WHERE x.pp_sign > 0) AS pp_maxt"
						 ", count(*) FILTER (WHERE %s AND %s AND $1 IS NOT NULL AND x.pp_fe <= $1 AND x.pp_we = x.pp_fe) "
						 "AS pp_nlate FROM pp_x x GROUP BY x.pp_ws, x.pp_we",
						 def->time_col, apply_late ? "true" : "false",
						 def->late_old_rows ? "true" : "x.pp_sign > 0");
		append_groups(&buf, def, "x");
	}
	appendStringInfoString(&buf, ")");
	/* closing here: the watermark this statement moves */
	if (close)
		appendStringInfo(&buf, ", pp_w AS (SELECT GREATEST($1, (SELECT max(pp_maxt) FROM pp_g) - %s) AS wm)",
						 def->lateness);
	appendStringInfo(&buf, ", pp_m AS (INSERT INTO %s AS s (", def->state);
	append_key_columns(&buf, def);
	appendStringInfoString(&buf, ", pp_rows");
	if (!mark_only)
		append_value_columns(&buf, def, false, NULL);
	appendStringInfoString(&buf, ", is_final, pp_recompute) SELECT g.pp_ws, g.pp_we");
	append_groups(&buf, def, "g");
	if (mark_only)
		appendStringInfoString(&buf, ", 0");
	else
	{
		appendStringInfoString(&buf, ", g.pp_rows");
		append_value_columns(&buf, def, true, "g");
	}
	/*
	 * A row into a window already final (a late fix) stays final; when
	 * closing here, so does a row the new watermark passed.
	 */
	if (close)
		appendStringInfo(&buf,
						 ", COALESCE(g.pp_we <= (SELECT wm FROM pp_w), false), %s "
						 "FROM pp_g g WHERE g.pp_rows > 0 ORDER BY g.pp_ws, g.pp_we",
						 mark_only ? "true" : "false");
	else
		appendStringInfo(&buf,
						 ", ($1 IS NOT NULL AND g.pp_we <= $1), %s "
						 "FROM pp_g g WHERE g.pp_rows > 0 ORDER BY g.pp_ws, g.pp_we",
						 mark_only ? "true" : "false");
	append_groups(&buf, def, "g");
	appendStringInfoString(&buf, " ON CONFLICT (");
	append_key_columns(&buf, def);
	appendStringInfoString(&buf, ") DO UPDATE SET ");
	if (mark_only)
		appendStringInfoString(&buf, "pp_recompute = true");
	else
		append_merge_set(&buf, def);
	appendStringInfoString(&buf, ", is_final = s.is_final OR excluded.is_final");
	if (!close && !apply_late)
	{
		appendStringInfoString(&buf,
							   " RETURNING 1) SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, "
							   "(SELECT count(*) FROM pp_m) FROM pp_g");
		return buf.data;
	}
	if (!close)
	{
		/* late fixes that need no recompute are announced now, the rest by it */
		appendStringInfoString(&buf,
							   " RETURNING s.*), pp_closed AS (SELECT * FROM pp_m WHERE is_final AND NOT pp_recompute)");
		append_announce(&buf, def, "$1", "true");
		appendStringInfo(&buf,
						 " SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, (SELECT count(*) FROM pp_m)%s "
						 "FROM pp_g", announce_counts(def));
		return buf.data;
	}

	/*
	 * Close in the same statement: the rows the merge wrote behind the new
	 * watermark are final already; the other rows of windows it passed are
	 * marked here, skipping rows other writers hold, and rows the merge
	 * itself updated (a row is changed once per statement).  Announced
	 * together, one notification per window; so are the final windows a
	 * late row fixed (late_rows = update), with "fix": true.
	 */
	appendStringInfo(&buf,
					 " RETURNING s.*), pp_u AS (UPDATE %s s SET is_final = true FROM "
					 "(SELECT ctid FROM %s WHERE NOT is_final AND window_end <= (SELECT wm FROM pp_w) "
					 "ORDER BY window_start, window_end FOR UPDATE SKIP LOCKED) l WHERE s.ctid = l.ctid "
					 "RETURNING s.*), "
					 "pp_closed AS (SELECT * FROM pp_m WHERE is_final UNION ALL SELECT * FROM pp_u)",
					 def->state, def->state);
	append_announce(&buf, def, "(SELECT wm FROM pp_w)", "COALESCE(q.window_end <= $1, false)");
	appendStringInfo(&buf,
					 " SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, (SELECT count(*) FROM pp_m)%s "
					 "FROM pp_g", announce_counts(def));
	return buf.data;
}

/*
 * Recompute the groups marked pp_recompute from the source rows of their
 * windows; delete those left without rows.
 */
static char *
recompute_sql(PipelineWindow *def, bool announce)
{
	StringInfoData buf;
	StringInfoData input;

	initStringInfo(&input);
	appendStringInfoString(&input, "(SELECT 1 AS pp_sign");
	for (int i = 0; i < def->ncols; i++)
		appendStringInfo(&input, ", %s", def->cols[i]);
	appendStringInfo(&input,
					 " FROM %s WHERE %s >= (SELECT min(window_start) FROM pp_k) "
					 "AND %s < (SELECT max(window_end) FROM pp_k))",
					 def->source, def->time_col, def->time_col);

	initStringInfo(&buf);
	appendStringInfo(&buf, "WITH pp_k AS (SELECT window_start, window_end, %s AS pp_key FROM %s "
					 "WHERE pp_recompute), pp_x AS (SELECT e.*, %s AS pp_key FROM (",
					 key_record(def, def->state, "window_start", "window_end"), def->state,
					 key_record(def, "e", "pp_ws", "pp_we"));
	append_expand(&buf, def, input.data);
	appendStringInfoString(&buf, ") e), pp_g AS (SELECT x.pp_key, x.pp_ws, x.pp_we");
	append_groups(&buf, def, "x");
	appendStringInfoString(&buf, ", count(*) AS pp_rows");
	append_values(&buf, def, NULL);
	appendStringInfoString(&buf,
						   " FROM pp_x x WHERE x.pp_key IN (SELECT k.pp_key FROM pp_k k) "
						   "GROUP BY x.pp_key, x.pp_ws, x.pp_we");
	append_groups(&buf, def, "x");
	appendStringInfo(&buf, "), pp_u AS (UPDATE %s s SET pp_rows = g.pp_rows", def->state);
	for (int i = 0; i < def->naggs; i++)
	{
		if (def->agg_kinds[i] == AGG_COUNT_DISTINCT)
		{
			appendStringInfo(&buf, ", pp_set_%d = g.pp_a%d", i, i);
			continue;
		}
		if (def->agg_kinds[i] == AGG_AVG)
			appendStringInfo(&buf, ", pp_sum_%d = g.pp_s%d, pp_cnt_%d = g.pp_c%d", i, i, i, i);
		appendStringInfo(&buf, ", %s = g.pp_v%d", def->agg_names[i], i);
	}
	appendStringInfo(&buf,
					 ", pp_recompute = false FROM pp_g g WHERE s.pp_recompute AND %s = g.pp_key "
					 "RETURNING s.*), pp_d AS (DELETE FROM %s s WHERE s.pp_recompute AND NOT EXISTS "
					 "(SELECT 1 FROM pp_g g WHERE g.pp_key = %s) RETURNING 1)",
					 key_record(def, "s", "window_start", "window_end"), def->state,
					 key_record(def, "s", "window_start", "window_end"));
	/* final windows a late change fixed are announced again */
	if (announce)
	{
		appendStringInfoString(&buf, ", pp_closed AS (SELECT * FROM pp_u WHERE is_final)");
		append_announce(&buf, def, "$1", "true");
	}
	appendStringInfo(&buf, " SELECT (SELECT count(*) FROM pp_d)%s", announce ? announce_counts(def) : "");
	return buf.data;
}

/*
 * The statement of session windows: delete the sessions the delta touches
 * and rebuild them, with the delta's rows, from the source.  Same result
 * row as merge_sql.
 */
static char *
session_sql(PipelineWindow *def, const char *delta, bool apply_late)
{
	StringInfoData buf;
	bool		drop_late = apply_late && def->late_policy != LATE_UPDATE;
	const char *t = def->time_col;
	const char *gap = def->size;

	initStringInfo(&buf);
	/*
	 * A row is late when the session it would start is over (time + gap <=
	 * watermark).  Under drop and side_table, so is a row that would join or
	 * extend a final session: final sessions never change there.
	 */
	appendStringInfo(&buf,
					 "WITH pp_delta AS (%s), "
					 "pp_d0 AS (SELECT d.*, (%s AND $1 IS NOT NULL AND (d.%s + %s <= $1",
					 delta, apply_late ? "true" : "false", t, gap);
	if (drop_late && def->ngroups > 0)
		appendStringInfo(&buf,
						 " OR (d.%s < $1 AND EXISTS (SELECT 1 FROM %s s WHERE s.is_final AND %s IS NOT DISTINCT FROM %s "
						 "AND d.%s > s.window_start - %s AND d.%s < s.window_end))",
						 t, def->state, key_record(def, "s", NULL, NULL), key_record(def, "d", NULL, NULL),
						 t, gap, t);
	else if (drop_late)
		appendStringInfo(&buf,
						 " OR (d.%s < $1 AND EXISTS (SELECT 1 FROM %s s WHERE s.is_final "
						 "AND d.%s > s.window_start - %s AND d.%s < s.window_end))",
						 t, def->state, t, gap, t);
	appendStringInfoString(&buf, ")) AS pp_late FROM pp_delta d), ");
	if (apply_late && def->late)
	{
		appendStringInfo(&buf, "pp_side AS (INSERT INTO %s (reason, watermark, %s", def->late, t);
		append_groups(&buf, def, NULL);
		appendStringInfo(&buf,
						 ", \"row\") SELECT CASE WHEN x.pp_sign > 0 THEN 'late insert' ELSE 'late delete' END, "
						 "$1, x.%s", t);
		append_groups(&buf, def, "x");
		appendStringInfoString(&buf,
							   ", to_jsonb(x) - '{pp_sign,pp_late}'::text[] FROM pp_d0 x WHERE x.pp_late "
							   "RETURNING 1), ");
	}
	appendStringInfo(&buf, "pp_d AS (SELECT * FROM pp_d0%s), ", drop_late ? " WHERE NOT pp_late" : "");
	/*
	 * Per group, the time range of the delta rows; the sessions that reach
	 * into it (a row less than gap from it) are rebuilt with it.
	 */
	appendStringInfo(&buf, "pp_r0 AS (SELECT min(d.%s) AS pp_lo, max(d.%s) AS pp_hi, %s AS pp_gk",
					 t, t, key_record(def, "d", NULL, NULL));
	append_groups(&buf, def, "d");
	appendStringInfoString(&buf, " FROM pp_d d");
	append_group_clause(&buf, def, "GROUP BY", "d");
	appendStringInfo(&buf, "), pp_a AS (SELECT s.window_start, s.window_end, %s AS pp_key",
					 key_record(def, "s", "window_start", "window_end"));
	append_groups(&buf, def, "s");
	appendStringInfo(&buf, " FROM %s s JOIN pp_r0 r ON %s = r.pp_gk AND s.window_end > r.pp_lo "
					 "AND s.window_start < r.pp_hi + %s",
					 def->state, key_record(def, "s", NULL, NULL), gap);
	appendStringInfoString(&buf, "), pp_r AS (SELECT min(u.pp_lo) AS pp_lo, max(u.pp_hi) AS pp_hi, "
						   "u.pp_gk");
	append_groups(&buf, def, "u");
	appendStringInfoString(&buf, " FROM (SELECT r.pp_lo, r.pp_hi, r.pp_gk");
	append_groups(&buf, def, "r");
	appendStringInfo(&buf, " FROM pp_r0 r UNION ALL SELECT a.window_start, a.window_end - %s, %s",
					 gap, key_record(def, "a", NULL, NULL));
	append_groups(&buf, def, "a");
	appendStringInfoString(&buf, " FROM pp_a a) u GROUP BY u.pp_gk");
	append_groups(&buf, def, "u");
	appendStringInfo(&buf, "), pp_del AS (DELETE FROM %s s USING pp_a a WHERE %s = a.pp_key",
					 def->state, key_record(def, "s", "window_start", "window_end"));
	/* the source rows of the ranges, split into sessions */
	appendStringInfoString(&buf, " RETURNING 1), pp_src AS (SELECT ");
	for (int i = 0; i < def->ncols; i++)
		appendStringInfo(&buf, "%ssrc.%s", i > 0 ? ", " : "", def->cols[i]);
	appendStringInfo(&buf, " FROM %s src JOIN pp_r r ON %s = r.pp_gk AND src.%s >= r.pp_lo AND src.%s <= r.pp_hi",
					 def->source, key_record(def, "src", NULL, NULL), t, t);
	appendStringInfo(&buf,
					 "), pp_b AS (SELECT s.*, CASE WHEN s.%s - lag(s.%s) OVER (",
					 t, t);
	append_group_clause(&buf, def, "PARTITION BY", "s");
	appendStringInfo(&buf, " ORDER BY s.%s) < %s THEN 0 ELSE 1 END AS pp_brk FROM pp_src s), "
					 "pp_s AS (SELECT b.*, sum(b.pp_brk) OVER (", t, gap);
	append_group_clause(&buf, def, "PARTITION BY", "b");
	appendStringInfo(&buf, " ORDER BY b.%s ROWS UNBOUNDED PRECEDING) AS pp_sid FROM pp_b b), "
					 "pp_g AS (SELECT min(x.%s) AS pp_ws, max(x.%s) + %s AS pp_we", t, t, t, gap);
	append_groups(&buf, def, "x");
	appendStringInfoString(&buf, ", count(*) AS pp_rows");
	append_values(&buf, def, NULL);
	appendStringInfoString(&buf, " FROM pp_s x GROUP BY x.pp_sid");
	append_groups(&buf, def, "x");
	appendStringInfo(&buf, "), pp_m AS (INSERT INTO %s (", def->state);
	append_key_columns(&buf, def);
	appendStringInfoString(&buf, ", pp_rows");
	append_value_columns(&buf, def, false, NULL);
	appendStringInfoString(&buf, ", is_final) SELECT g.pp_ws, g.pp_we");
	append_groups(&buf, def, "g");
	appendStringInfoString(&buf, ", g.pp_rows");
	append_value_columns(&buf, def, true, "g");
	appendStringInfoString(&buf,
						   ", ($1 IS NOT NULL AND g.pp_we <= $1) FROM pp_g g "
						   "WHERE (SELECT count(*) FROM pp_del) >= 0 ORDER BY g.pp_ws, g.pp_we");
	append_groups(&buf, def, "g");
	if (!apply_late)
	{
		appendStringInfo(&buf,
						 " RETURNING 1) SELECT (SELECT max(%s) FROM pp_d0 WHERE pp_sign > 0), "
						 "(SELECT count(*) FROM pp_d0 WHERE pp_late AND (%s OR pp_sign > 0)), (SELECT count(*) FROM pp_m)",
						 t, def->late_old_rows ? "true" : "false");
		return buf.data;
	}
	/* sessions written final (behind the watermark): a late change fixed them */
	appendStringInfoString(&buf, " RETURNING *), pp_closed AS (SELECT * FROM pp_m WHERE is_final)");
	append_announce(&buf, def, "$1", "true");
	appendStringInfo(&buf,
					 " SELECT (SELECT max(%s) FROM pp_d0 WHERE pp_sign > 0), "
					 "(SELECT count(*) FROM pp_d0 WHERE pp_late AND (%s OR pp_sign > 0)), (SELECT count(*) FROM pp_m)%s",
					 t, def->late_old_rows ? "true" : "false", announce_counts(def));
	return buf.data;
}

/* ------------------------------------------------------------- execution */

/*
 * Give maintenance statements pg_pipeline.window_work_mem when the session
 * has less, so a large statement's aggregation stays in memory.  Undone by
 * AtEOXact_GUC(true, level), or by the abort of the transaction.
 */
static int
raise_work_mem(void)
{
	int			level = NewGUCNestLevel();

	if (pp_window_work_mem_kb > work_mem)
		(void) set_config_option("work_mem", psprintf("%d", pp_window_work_mem_kb),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* Run one statement with $1 = the watermark (time type) and more args. */
static void
run(PipelineWindow *def, const char *sql, int nextra, Datum *extra, int expect)
{
	Oid			argtypes[3];
	Datum		values[3];
	char		nulls[3];
	int64		wm = def->max_event_time - def->lateness_us;
	int			rc;

	argtypes[0] = def->time_type;
	values[0] = Int64GetDatum(wm);
	nulls[0] = def->has_max ? ' ' : 'n';
	for (int i = 0; i < nextra; i++)
	{
		argtypes[i + 1] = def->time_type;
		values[i + 1] = extra[i];
		nulls[i + 1] = ' ';
	}
	rc = spi_run(sql, 1 + nextra, argtypes, values, nulls, run_snapshot);
	if (rc != expect)
		elog(ERROR, "window maintenance statement failed (%d): %s", rc, sql);
}

/*
 * ", pp_n AS (NOTIFY per window of pp_closed), pp_p AS (publish each row)":
 * CTEs of a statement whose CTE pp_closed holds the state rows it just
 * closed, or fixed (a late row changed a window already final); its SELECT
 * must read them (announce_counts).  wm is the watermark to report, fix
 * tells the two apart (SQL over q.window_end).
 */
static void
append_announce(StringInfo buf, PipelineWindow *def, const char *wm, const char *fix)
{
	appendStringInfo(buf,
					 ", pp_n AS (SELECT pg_notify('pipeline_window_closed', json_build_object("
					 "'window', %s, 'window_start', q.window_start, 'window_end', q.window_end, "
					 "'groups', q.n, 'watermark', %s, 'fix', %s)::text) FROM "
					 "(SELECT window_start, window_end, count(*) AS n FROM pp_closed GROUP BY 1, 2 ORDER BY 1, 2) q)",
					 quote_literal_cstr(def->name), wm, fix);
	if (def->sink)
	{
		appendStringInfoString(buf, ", pp_p AS (SELECT pipeline.publish(");
		appendStringInfo(buf, "%s, jsonb_build_object('window_start', c.window_start, 'window_end', c.window_end",
						 def->sink);
		for (int i = 0; i < def->ngroups; i++)
			appendStringInfo(buf, ", %s, c.%s", quote_literal_cstr(def->groups[i]), def->groups[i]);
		for (int i = 0; i < def->naggs; i++)
			appendStringInfo(buf, ", %s, c.%s", quote_literal_cstr(def->agg_names[i]), def->agg_names[i]);
		appendStringInfoString(buf, ")::text, key => ");
		if (def->ngroups == 0)
			appendStringInfoString(buf, "NULL");
		else if (def->ngroups == 1)
			appendStringInfo(buf, "c.%s::text", def->groups[0]);
		else
		{
			appendStringInfoString(buf, "jsonb_build_array(");
			for (int i = 0; i < def->ngroups; i++)
				appendStringInfo(buf, "%sc.%s", i > 0 ? ", " : "", def->groups[i]);
			appendStringInfoString(buf, ")::text");
		}
		appendStringInfo(buf, ") FROM (SELECT * FROM pp_closed ORDER BY window_start, window_end) c "
						 "WHERE EXISTS (SELECT 1 FROM pipeline.sinks k WHERE k.name = %s))", def->sink);
	}
}

/* ", (SELECT count(*) FROM pp_n) ...": makes the statement run append_announce's CTEs */
static const char *
announce_counts(PipelineWindow *def)
{
	return def->sink ? ", (SELECT count(*) FROM pp_n), (SELECT count(*) FROM pp_p)" :
		", (SELECT count(*) FROM pp_n)";
}

/*
 * Move the watermark to max_t (when it is later), count late rows, then
 * close the windows it passed: mark them final, NOTIFY, publish, and drop
 * those retention no longer keeps.
 */
static void
advance(PipelineWindow *def, bool have_max, int64 max_t, int64 nlate, bool closed)
{
	bool		moved = have_max && (!def->has_max || max_t > def->max_event_time);

	if (moved || nlate > 0)
	{
		Oid			argtypes[3] = {INT4OID, TIMESTAMPTZOID, INT8OID};
		Datum		values[3] = {Int32GetDatum(def->id), Int64GetDatum(max_t), Int64GetDatum(nlate)};

		/* appended, never updated: writers do not queue on a shared row */
		if (spi_run("INSERT INTO pipeline.window_progress (window_id, max_event_time, late) "
					"VALUES ($1, $2, $3)", 3, argtypes, values, moved ? NULL : " n ",
					run_snapshot) != SPI_OK_INSERT)
			elog(ERROR, "could not record the progress of %s", def->name);
	}
	if (moved)
	{
		def->max_event_time = max_t;
		def->has_max = true;
	}
	if (closed)
		retention(def);			/* the merge closed the windows */
	else
		pp_window_close(def);
}

/*
 * pp_window_close
 *		Mark final the windows the watermark passed, announce them (NOTIFY)
 *		and publish them to the window's sink, then drop what retention no
 *		longer keeps.  Rows another transaction has locked are skipped, not
 *		waited for (so writers never deadlock here): whoever comes next
 *		(the next statement, the maintainer's sweep) closes them.  So one
 *		window may be announced in parts, "groups" counting the groups this
 *		statement closed.
 */
void
pp_window_close(PipelineWindow *def)
{
	StringInfoData buf;

	if (!def->has_max)
		return;
	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "WITH pp_closed AS (UPDATE %s s SET is_final = true FROM "
					 "(SELECT ctid FROM %s WHERE NOT is_final AND window_end <= $1 "
					 "ORDER BY window_start, window_end FOR UPDATE SKIP LOCKED) l WHERE s.ctid = l.ctid "
					 "RETURNING s.*)",
					 def->state, def->state);
	append_announce(&buf, def, "$1", "false");
	appendStringInfo(&buf, " SELECT 1%s", announce_counts(def));
	run(def, buf.data, 0, NULL, SPI_OK_SELECT);
	retention(def);
}

/* Drop the windows retention no longer keeps (rows others hold: later). */
static void
retention(PipelineWindow *def)
{
	if (def->has_max && def->retention)
		run(def, psprintf("DELETE FROM %s s USING (SELECT ctid FROM %s WHERE window_end < $1 - %s "
						  "FOR UPDATE SKIP LOCKED) l WHERE s.ctid = l.ctid",
						  def->state, def->state, def->retention),
			0, NULL, SPI_OK_DELETE);
}

/*
 * Read merge_sql / session_sql's result row, recompute the marked groups
 * when asked (before windows close, so what is announced and published is
 * recomputed already), then advance the watermark.
 */
static uint64
finish(PipelineWindow *def, bool recompute, bool closed, bool announce)
{
	HeapTuple	tup = SPI_tuptable->vals[0];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	bool		have_max;
	int64		max_t;
	int64		nlate;
	uint64		written;

	max_t = DatumGetInt64(SPI_getbinval(tup, desc, 1, &have_max));
	have_max = !have_max;
	nlate = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		nlate = 0;
	written = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	if (recompute)
		run(def, recompute_sql(def, announce), 0, NULL, SPI_OK_SELECT);
	advance(def, have_max, max_t, nlate, closed);
	return written;
}

/*
 * pp_window_apply
 *		Maintain a window from a delta (a query of pp_sign and the source
 *		columns; it may be a DELETE ... RETURNING).  delta_peek_sql reads the
 *		same rows without consuming them (session locks).  is_update: the
 *		delta is one UPDATE's old and new rows (a late row counts once).
 *		locks: take the
 *		session advisory locks (sync mode).  The caller is connected to SPI
 *		and runs as the owner.  Returns the state rows written.
 */
uint64
pp_window_apply(PipelineWindow *def, const char *delta_sql, const char *delta_peek_sql,
				bool has_deletes, bool is_update, bool locks)
{
	uint64		written;
	int			level = raise_work_mem();

	/* an UPDATE counts a late row once (its new version), not twice */
	def->late_old_rows = !is_update;
	load_watermark(def);

	if (def->kind == WIN_SESSION)
	{
		if (locks)
		{
			/*
			 * The groups' locks, in hash order (no deadlock between two
			 * writers), in pg_pipeline's own lock space: no role can take
			 * them from SQL to stall this window's writers.
			 */
			if (def->ngroups == 0)
				(void) pp_xact_lock(SESSION_LOCK_CLASS + def->id, 0, true);
			else
			{
				StringInfoData buf;
				uint32	   *hashes;
				uint64		nh;

				initStringInfo(&buf);
				appendStringInfoString(&buf, "SELECT DISTINCT hashtext(ROW(");
				for (int i = 0; i < def->ngroups; i++)
					appendStringInfo(&buf, "%sd.%s", i > 0 ? ", " : "", def->groups[i]);
				appendStringInfo(&buf, ")::text) AS h FROM (%s) d ORDER BY 1", delta_peek_sql);
				run(def, buf.data, 0, NULL, SPI_OK_SELECT);
				nh = SPI_processed;
				hashes = palloc(sizeof(uint32) * (nh + 1));
				for (uint64 r = 0; r < nh; r++)
				{
					bool		isnull;

					hashes[r] = (uint32) DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
																	 SPI_tuptable->tupdesc, 1, &isnull));
				}
				for (uint64 r = 0; r < nh; r++)
					(void) pp_xact_lock(SESSION_LOCK_CLASS + def->id, hashes[r], true);
			}
		}
		run(def, session_sql(def, delta_sql, true), 0, NULL, SPI_OK_SELECT);
		written = finish(def, false, false, true);
	}
	else
	{
		bool		close = !has_deletes && !def->has_other;

		run(def, merge_sql(def, delta_sql, has_deletes, true, NULL, close), 0, NULL, SPI_OK_SELECT);
		written = finish(def, has_deletes || def->has_other, close, true);
	}
	AtEOXact_GUC(true, level);
	return written;
}

/* SELECT 1 AS pp_sign, <columns> FROM <rel> [WHERE ...] */
static char *
delta_select(PipelineWindow *def, const char *sign, const char *rel, const char *where)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s AS pp_sign", sign);
	for (int i = 0; i < def->ncols; i++)
		appendStringInfo(&buf, ", %s", def->cols[i]);
	appendStringInfo(&buf, " FROM %s WHERE %s IS NOT NULL%s%s", rel, def->time_col,
					 where ? " AND " : "", where ? where : "");
	return buf.data;
}

/*
 * pp_window_rebuild
 *		Recompute from the source the windows that overlap [from, to) (all
 *		when !has_range).  The late-rows policy does not apply: the source
 *		is the truth.  Returns the state rows written.
 */
uint64
pp_window_rebuild(PipelineWindow *def, bool has_range, int64 from_us, int64 to_us)
{
	Datum		range[2] = {Int64GetDatum(from_us), Int64GetDatum(to_us)};
	uint64		written;
	int			level = raise_work_mem();

	/*
	 * A full rebuild starts the watermark again from the source, before
	 * writing: the rows it writes are final at once where the watermark
	 * passed them (history is not announced again, nor marked twice).
	 */
	if (has_range)
		load_watermark(def);
	else
	{
		bool		isnull;

		run(def, psprintf("DELETE FROM pipeline.window_progress WHERE window_id = %d", def->id),
			0, NULL, SPI_OK_DELETE);
		run(def, psprintf("SELECT max(%s) FROM %s", def->time_col, def->source), 0, NULL, SPI_OK_SELECT);
		def->max_event_time = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
														  &isnull));
		def->has_max = !isnull;
		if (def->has_max)
		{
			Oid			argtypes[2] = {INT4OID, TIMESTAMPTZOID};
			Datum		values[2] = {Int32GetDatum(def->id), Int64GetDatum(def->max_event_time)};

			if (spi_run("INSERT INTO pipeline.window_progress (window_id, max_event_time) VALUES ($1, $2)",
						2, argtypes, values, NULL, run_snapshot) != SPI_OK_INSERT)
				elog(ERROR, "could not record the progress of %s", def->name);
		}
	}

	if (def->kind == WIN_SESSION)
	{
		char	   *delta;
		bool		isnull;

		if (has_range)
		{
			/* widen the range to the sessions it cuts */
			run(def, psprintf("WITH d AS (DELETE FROM %s WHERE window_start < $3 AND window_end > $2 "
							  "RETURNING window_start, window_end) "
							  "SELECT LEAST($2, min(window_start)), GREATEST($3, max(window_end)) FROM d",
							  def->state), 2, range, SPI_OK_SELECT);
			range[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			range[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			delta = delta_select(def, "1", def->source,
								 psprintf("%s >= $2 AND %s < $3", def->time_col, def->time_col));
		}
		else
		{
			run(def, psprintf("DELETE FROM %s", def->state), 0, NULL, SPI_OK_DELETE);
			delta = delta_select(def, "1", def->source, NULL);
		}
		run(def, session_sql(def, delta, false), 2, range, SPI_OK_SELECT);
	}
	else
	{
		if (has_range)
		{
			run(def, psprintf("DELETE FROM %s WHERE window_start < $3 AND window_end > $2", def->state),
				2, range, SPI_OK_DELETE);
			run(def, merge_sql(def,
							   delta_select(def, "1", def->source,
											psprintf("%s >= $2 - %s AND %s < $3 + %s", def->time_col,
													 def->size, def->time_col, def->size)),
							   false, false, "x.pp_ws < $3 AND x.pp_we > $2", false),
				2, range, SPI_OK_SELECT);
		}
		else
		{
			run(def, psprintf("DELETE FROM %s", def->state), 0, NULL, SPI_OK_DELETE);
			run(def, merge_sql(def, delta_select(def, "1", def->source, NULL), false, false, NULL, false),
				0, NULL, SPI_OK_SELECT);
		}
	}

	written = finish(def, def->kind != WIN_SESSION && def->has_other, false, false);
	AtEOXact_GUC(true, level);
	return written;
}

/*
 * pp_window_drain
 *		Async windows: merge the delta rows committed so far, in the current
 *		transaction.  One drain at a time per window (advisory lock).  Deltas
 *		with deletes go through recompute; an insert-only pass leaves delete
 *		rows that committed meanwhile for the next pass.  Returns the delta
 *		rows merged.
 */
uint64
pp_window_drain(PipelineWindow *def)
{
	bool		isnull;
	bool		has_deletes;
	volatile int64 n = 0;
	char	   *cols;
	StringInfoData buf;

	if (def->delta == NULL)
		return 0;
	(void) pp_xact_lock(DRAIN_LOCK_CLASS, def->id, true);

	/* one snapshot, taken once the previous drain committed, for it all */
	run_snapshot = RegisterSnapshot(GetLatestSnapshot());
	PG_TRY();
	{
		load_watermark(def);
		run(def, psprintf("SELECT coalesce(bool_or(pp_sign < 0), false), count(*) FROM %s", def->delta),
			0, NULL, SPI_OK_SELECT);
		has_deletes = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (n > 0)
		{
			initStringInfo(&buf);
			appendStringInfoString(&buf, "pp_sign");
			for (int i = 0; i < def->ncols; i++)
				appendStringInfo(&buf, ", %s", def->cols[i]);
			cols = buf.data;
			pp_window_apply(def,
							psprintf("DELETE FROM %s RETURNING %s", def->delta, cols),
							psprintf("SELECT %s FROM %s", cols, def->delta),
							has_deletes, false, false);
			run(def, psprintf("UPDATE pipeline.windows SET maintained_at = now(), last_error = NULL "
							  "WHERE id = %d", def->id), 0, NULL, SPI_OK_UPDATE);
		}
	}
	PG_FINALLY();
	{
		UnregisterSnapshot(run_snapshot);
		run_snapshot = InvalidSnapshot;
	}
	PG_END_TRY();
	return (uint64) n;
}

/*
 * pp_window_sweep
 *		The maintainer's pass over a window (and pipeline.flush_window()'s):
 *		merge an async window's delta; close the windows the watermark
 *		passed that writers skipped (rows they found locked); fold the
 *		progress rows (watermark, late counts) into one.  Returns the delta
 *		rows merged.
 */
uint64
pp_window_sweep(PipelineWindow *def)
{
	uint64		merged = 0;

	if (def->async)
		merged = pp_window_drain(def);	/* reads the watermark in its snapshot */
	else
		load_watermark(def);
	pp_window_close(def);
	run(def, psprintf("WITH d AS (DELETE FROM pipeline.window_progress WHERE window_id = %d "
					  "AND (SELECT count(*) FROM pipeline.window_progress WHERE window_id = %d) > 1 "
					  "RETURNING max_event_time, late) "
					  "INSERT INTO pipeline.window_progress (window_id, max_event_time, late) "
					  "SELECT %d, max(max_event_time), sum(late) FROM d HAVING count(*) > 0",
					  def->id, def->id, def->id),
		0, NULL, SPI_OK_INSERT);
	return merged;
}

/* ---------------------------------------------------------------- trigger */

static void
maintainer_wake_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (maintainer_wake_pending && pp_shared != NULL &&
			!pp_worker_wake(PP_WORKER_MAINTAINER, MyDatabaseId))
			pp_coordinator_wake(MyDatabaseId);	/* it starts one */
		maintainer_wake_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		maintainer_wake_pending = false;
}

/*
 * pp_window_wake_maintainer_at_commit
 *		Wake this database's maintainer when the transaction commits (or
 *		the coordinator, which starts one).
 */
void
pp_window_wake_maintainer_at_commit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(maintainer_wake_callback, NULL);
		xact_callback_registered = true;
	}
	maintainer_wake_pending = true;
}

/*
 * pipeline.window_maintain(): AFTER ... FOR EACH STATEMENT trigger on a
 * window's source, with its id as argument and the transition tables
 * pp_new / pp_old.
 */
PG_FUNCTION_INFO_V1(pipeline_window_maintain);
Datum
pipeline_window_maintain(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	PipelineWindow  *def;
	PipelineAsRole as;
	int32		id;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.window_maintain() must be an AFTER statement trigger made by pipeline.create_window()")));
	id = pg_strtoint32(td->tg_trigger->tgargs[0]);
	ev = td->tg_event & TRIGGER_EVENT_OPMASK;

	SPI_connect();
	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables");
	def = pp_window_load(id, true);
	if (def == NULL)
	{
		SPI_finish();
		return PointerGetDatum(NULL);	/* being dropped */
	}
	/* only on its own source: never feed another table's rows to a window */
	if (RelationGetRelid(td->tg_relation) != def->source_oid)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.window_maintain(%d) fired on table \"%s\", which is not the source of window aggregate \"%s\"",
						id, RelationGetRelationName(td->tg_relation), def->name),
				 errhint("Window triggers are made by pipeline.create_window(); drop this one.")));
	/* an error unwinds the role and the search_path with the (sub)transaction */
	pp_window_as_owner(def, &as);
	{
		if (ev == TRIGGER_EVENT_TRUNCATE)
		{
			run(def, psprintf("TRUNCATE %s", def->state), 0, NULL, SPI_OK_UTILITY);
			if (def->delta)
				run(def, psprintf("TRUNCATE %s", def->delta), 0, NULL, SPI_OK_UTILITY);
			run(def, psprintf("DELETE FROM pipeline.window_progress WHERE window_id = %d", id),
				0, NULL, SPI_OK_DELETE);
		}
		else
		{
			char	   *delta;

			if (ev == TRIGGER_EVENT_INSERT)
				delta = delta_select(def, "1", "pp_new", NULL);
			else if (ev == TRIGGER_EVENT_DELETE)
				delta = delta_select(def, "-1", "pp_old", NULL);
			else
				delta = psprintf("%s UNION ALL %s", delta_select(def, "-1", "pp_old", NULL),
								 delta_select(def, "1", "pp_new", NULL));

			if (def->async)
			{
				StringInfoData buf;

				initStringInfo(&buf);
				appendStringInfo(&buf, "INSERT INTO %s (pp_sign", def->delta);
				for (int i = 0; i < def->ncols; i++)
					appendStringInfo(&buf, ", %s", def->cols[i]);
				appendStringInfo(&buf, ") %s", delta);
				run(def, buf.data, 0, NULL, SPI_OK_INSERT);
				if (SPI_processed > 0)
					pp_window_wake_maintainer_at_commit();
			}
			else
				pp_window_apply(def, delta, delta, ev != TRIGGER_EVENT_INSERT,
								ev == TRIGGER_EVENT_UPDATE, true);
		}
	}
	pp_as_role_end(&as);
	SPI_finish();
	return PointerGetDatum(NULL);
}
