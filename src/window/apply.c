/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  Incremental maintenance of window aggregates: running the SQL that
 *	  merges what a statement changed into the state table (apply), the
 *	  watermark and closing of windows (advance, close, retention), the
 *	  full and range rebuild, the async drain, the append fold and the
 *	  sweep.
 *
 * The other files of maintenance: catalog.c reads a window's definition
 * (pp_window_load), sql.c writes its statements (pp_window_merge_sql,
 * pp_window_recompute_sql, pp_window_session_sql, pp_window_append_sql,
 * pp_window_fold_sql), trigger.c is the statement trigger on the source
 * that calls pp_window_apply (sync, append) or appends to the delta
 * (async).  The design of maintenance as a whole:
 *
 * The state table holds one row per (window_start, window_end, group): the
 * aggregate columns, pp_rows (source rows in it), is_final, pp_recompute,
 * and for avg its sum and count (pp_sum_N, pp_cnt_N).  A unique index on
 * the key, NULLS NOT DISTINCT, lets INSERT ... ON CONFLICT merge.
 *
 * Every change arrives as a "delta": rows (pp_sign, the source columns that
 * maintenance reads), +1 for an inserted row and -1 for a deleted one.  In
 * sync mode (and append) the delta is the statement's transition tables;
 * in async mode the triggers append it to a delta table and the maintainer
 * worker (or pipeline.flush_window) drains it.  Both run the same SQL:
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
 * Mode append.  An insert-only statement computes its partials (pp_g, as
 * above) but appends them to the partials table (pp_window_append_sql)
 * instead of merging them: no upsert, no row shared with any writer.  It
 * records the watermark and late rows, and does not close (advance).  The
 * result is a view of the state plus the partials, so readers see the
 * statement at its commit.  The maintainer's fold (pp_window_fold, under
 * the drain's lock) deletes the partials, combines and merges them into
 * the state, and closes and announces, in one statement.  Updates and
 * deletes mark and recompute as in sync mode; the recompute also deletes
 * the partials of its groups that its snapshot sees.  A rebuild takes the
 * drain's lock and one snapshot for deleting the partials and reading the
 * source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"

#include "common/pipeline.h"
#include "window/window.h"
#include "worker/worker.h"

/*
 * Locks in pg_pipeline's own key space (pp_xact_lock): "drain this
 * window's delta" (key: window id), and a session window's group (class:
 * this plus the window id, key: hash of the group).
 */
#define DRAIN_LOCK_CLASS	0x70705749
#define SESSION_LOCK_CLASS	0x10000000


/*
 * When set, every statement of pp_window_run() sees this snapshot (the
 * drain of an async window: what it consumes from the delta and what it
 * recomputes from the source must be the same committed rows).
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
int
pp_window_spi_run(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
				  Snapshot snapshot)
{
	SPIPlanPtr	plan = cached_plan(sql, nargs, argtypes);

	if (snapshot != InvalidSnapshot)
		return SPI_execute_snapshot(plan, values, nulls, snapshot, InvalidSnapshot, false, true, 0);
	return SPI_execute_plan(plan, values, nulls, false, 0);
}

/* ------------------------------------------------------------- watermark */

static void retention(PipelineWindow *def);

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

	if (pp_window_spi_run("SELECT max(max_event_time) FROM pipeline.window_progress WHERE window_id = $1",
						  1, argtypes, values, NULL, run_snapshot) != SPI_OK_SELECT)
		elog(ERROR, "could not read the watermark of %s", def->name);
	def->max_event_time = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	def->has_max = !isnull;
}

/* ------------------------------------------------------------- execution */

/*
 * Give maintenance statements pg_pipeline.window_work_mem when the session
 * has less, so a large statement's aggregation stays in memory, and no JIT:
 * a maintenance statement over many rows is estimated past jit_above_cost,
 * and LLVM compiled it at every execution (a cached plan is compiled again
 * each time): 41 % of the maintainer's CPU in a profile of append writers'
 * folds, more than the fold itself.  Undone by AtEOXact_GUC(true, level),
 * or by the abort of the transaction.
 */
int
pp_window_raise_work_mem(void)
{
	int			level = NewGUCNestLevel();

	if (pp_window_work_mem_kb > work_mem)
		(void) set_config_option("work_mem", psprintf("%d", pp_window_work_mem_kb),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/*
 * pp_window_watermark
 *		The watermark: the largest event time less the allowed lateness.
 *		Meaningful when def->has_max.  From an event time of -infinity the
 *		int64 difference wrapped around to later than every time: the next
 *		statement's rows were all late and every window closed.  It is
 *		-infinity then.
 */
int64
pp_window_watermark(PipelineWindow *def)
{
	int64		wm;

	if (pg_sub_s64_overflow(def->max_event_time, def->lateness_us, &wm))
		return def->lateness_us > 0 ? DT_NOBEGIN : DT_NOEND;
	return wm;
}

/* Run one statement with $1 = the watermark (time type) and more args. */
void
pp_window_run(PipelineWindow *def, const char *sql, int nextra, Datum *extra, int expect)
{
	Oid			argtypes[3];
	Datum		values[3];
	char		nulls[3];
	int64		wm = pp_window_watermark(def);
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
	rc = pp_window_spi_run(sql, 1 + nextra, argtypes, values, nulls, run_snapshot);
	if (rc != expect)
		elog(ERROR, "window maintenance statement failed (%d): %s", rc, sql);
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
		if (pp_window_spi_run("INSERT INTO pipeline.window_progress (window_id, max_event_time, late) "
							  "VALUES ($1, $2, $3)", 3, argtypes, values, moved ? NULL : " n ",
							  run_snapshot) != SPI_OK_INSERT)
			elog(ERROR, "could not record the progress of %s", def->name);
	}
	if (moved)
	{
		def->max_event_time = max_t;
		def->has_max = true;
	}
	if (def->append)
		return;					/* the fold closes: partials may be pending */
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
	appendStringInfo(&buf, "WITH pp_closed AS (%s)", pp_window_close_sql(def, "$1"));
	pp_window_append_announce(&buf, def, "$1", "false");
	appendStringInfo(&buf, " SELECT 1%s", pp_window_announce_counts(def));
	pp_window_run(def, buf.data, 0, NULL, SPI_OK_SELECT);
	retention(def);
}

/* Drop the windows retention no longer keeps (rows others hold: later). */
static void
retention(PipelineWindow *def)
{
	if (def->has_max && def->retention)
		pp_window_run(def, psprintf("DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s "
									"WHERE window_end < $1 - %s FOR UPDATE SKIP LOCKED))",
									def->state, def->state, def->retention),
					  0, NULL, SPI_OK_DELETE);
}

/*
 * Read pp_window_merge_sql / pp_window_session_sql's result row, recompute the marked groups
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
		pp_window_run(def, pp_window_recompute_sql(def, announce), 0, NULL, SPI_OK_SELECT);
	advance(def, have_max, max_t, nlate, closed);
	return written;
}

/*
 * The windows recomputed by the statement running now (its transaction's
 * lxid and the statement's start): a statement that deletes or updates
 * rows and inserts others (INSERT ... ON CONFLICT DO UPDATE, a WITH of a
 * DELETE and an INSERT) fires its DELETE or UPDATE trigger first, whose
 * recompute reads the source with the inserted rows already in it; the
 * INSERT trigger that follows must not add them again.  It takes the
 * recompute path too (mark, recompute: idempotent).  Also statements of
 * one client message (a function's, a multi-statement query string) share
 * the start: they recompute more than needed, never count twice.
 */
static LocalTransactionId recomputed_lxid = InvalidLocalTransactionId;
static TimestampTz recomputed_stmt = 0;
static List *recomputed_ids = NIL;	/* in TopTransactionContext */

static void
note_recompute(PipelineWindow *def)
{
	MemoryContext old;

	if (recomputed_lxid != PP_MY_LXID || recomputed_stmt != GetCurrentStatementStartTimestamp())
	{
		recomputed_lxid = PP_MY_LXID;
		recomputed_stmt = GetCurrentStatementStartTimestamp();
		recomputed_ids = NIL;	/* the old list went with its transaction's memory */
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	recomputed_ids = list_append_unique_int(recomputed_ids, def->id);
	MemoryContextSwitchTo(old);
}

/* Did the statement running now recompute window id? */
bool
pp_window_recomputed_now(int32 id)
{
	return recomputed_lxid == PP_MY_LXID &&
		recomputed_stmt == GetCurrentStatementStartTimestamp() &&
		list_member_int(recomputed_ids, id);
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
	int			level = pp_window_raise_work_mem();

	/*
	 * Mode append, an update or delete: its recompute locks the state rows
	 * of its groups, then deletes their partials; a fold deletes the
	 * partials first, then writes the state rows.  In opposite orders they
	 * deadlock, so they exclude each other: this statement holds the
	 * fold's lock in share mode (writers do not wait for each other) to
	 * its commit.
	 */
	if (def->append && has_deletes)
		(void) pp_xact_lock_mode(DRAIN_LOCK_CLASS, def->id, ShareLock, true);
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
				pp_window_run(def, buf.data, 0, NULL, SPI_OK_SELECT);
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
		pp_window_run(def, pp_window_session_sql(def, delta_sql, true), 0, NULL, SPI_OK_SELECT);
		written = finish(def, false, false, true);
	}
	else if (def->append && !has_deletes)
	{
		pp_window_run(def, pp_window_append_sql(def, delta_sql), 0, NULL, SPI_OK_SELECT);
		written = finish(def, false, false, true);
		if (written > 0)
			pp_wake_at_commit(PP_WORKER_MAINTAINER);	/* to fold them */
	}
	else
	{
		bool		close = !has_deletes && !def->has_other;

		if (has_deletes || def->has_other)
			note_recompute(def);
		pp_window_run(def, pp_window_merge_sql(def, delta_sql, has_deletes, true, NULL, close), 0, NULL, SPI_OK_SELECT);
		written = finish(def, has_deletes || def->has_other, close, true);
	}
	AtEOXact_GUC(true, level);
	return written;
}

/*
 * pp_window_apply_inserted
 *		Maintain a sync window from the rows one statement inserted (the
 *		trigger's transition table of relation rel) with the partial
 *		aggregates computed in C (partials.c), merged by the same statement
 *		as pp_window_apply's, which also closes.  Returns false, having
 *		done nothing, when the window needs the SQL path (pp_window_apply).
 */
bool
pp_window_apply_inserted(PipelineWindow *def, Relation rel, Tuplestorestate *rows)
{
	int			level;

	if (def->kind != WIN_TUMBLE || def->has_other || def->late != NULL || rows == NULL)
		return false;
	level = pp_window_raise_work_mem();
	def->late_old_rows = true;
	load_watermark(def);
	if (!pp_window_partials(def, rel, rows))
	{
		AtEOXact_GUC(true, level);
		elog(DEBUG1, "window aggregate \"%s\": partials in SQL", def->name);
		return false;
	}
	elog(DEBUG1, "window aggregate \"%s\": partials in C", def->name);
	if (def->append)
	{
		bool		have_max;
		int64		max_t;
		int64		nlate;
		uint64		appended;

		/* written directly; else (a table its owner changed) by the INSERT */
		if (pp_window_partials_insert(def, &have_max, &max_t, &nlate, &appended))
		{
			elog(DEBUG1, "window aggregate \"%s\": partials written directly", def->name);
			advance(def, have_max, max_t, nlate, false);
		}
		else
		{
			elog(DEBUG1, "window aggregate \"%s\": partials by INSERT", def->name);
			pp_window_run(def, pp_window_append_sql(def, NULL), 0, NULL, SPI_OK_SELECT);
			appended = finish(def, false, false, true);
		}
		if (appended > 0)
			pp_wake_at_commit(PP_WORKER_MAINTAINER);	/* to fold them */
	}
	else
	{
		pp_window_run(def, pp_window_merge_sql(def, NULL, false, true, NULL, true), 0, NULL, SPI_OK_SELECT);
		(void) finish(def, false, true, true);
	}
	SPI_unregister_relation("pp_partials");
	tuplestore_end(def->partials);
	def->partials = NULL;
	AtEOXact_GUC(true, level);
	return true;
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
	int			level;

	if (def->append)
	{
		/*
		 * Mode append: the partials of the rebuilt windows are dropped
		 * and their rows read from the source, with one snapshot for
		 * both (a writer committing after it keeps its partials, which
		 * the source rows read here do not include); no fold meanwhile.
		 */
		volatile uint64 rebuilt = 0;

		(void) pp_xact_lock(DRAIN_LOCK_CLASS, def->id, true);
		run_snapshot = RegisterSnapshot(GetLatestSnapshot());
		PG_TRY();
		{
			if (has_range)
				pp_window_run(def, psprintf("DELETE FROM %s WHERE pp_ws < $3 AND pp_we > $2", def->delta),
							  2, range, SPI_OK_DELETE);
			else
				pp_window_run(def, psprintf("DELETE FROM %s", def->delta), 0, NULL, SPI_OK_DELETE);
			def->append = false;	/* rebuilt like a sync window's */
			rebuilt = pp_window_rebuild(def, has_range, from_us, to_us);
		}
		PG_FINALLY();
		{
			def->append = true;
			UnregisterSnapshot(run_snapshot);
			run_snapshot = InvalidSnapshot;
		}
		PG_END_TRY();
		return rebuilt;
	}
	level = pp_window_raise_work_mem();

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

		pp_window_run(def, psprintf("DELETE FROM pipeline.window_progress WHERE window_id = %d", def->id),
					  0, NULL, SPI_OK_DELETE);
		pp_window_run(def, psprintf("SELECT max(%s) FROM %s", def->time_col, def->source), 0, NULL, SPI_OK_SELECT);
		def->max_event_time = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
														  &isnull));
		def->has_max = !isnull;
		if (def->has_max)
		{
			Oid			argtypes[2] = {INT4OID, TIMESTAMPTZOID};
			Datum		values[2] = {Int32GetDatum(def->id), Int64GetDatum(def->max_event_time)};

			if (pp_window_spi_run("INSERT INTO pipeline.window_progress (window_id, max_event_time) VALUES ($1, $2)",
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
			pp_window_run(def, psprintf("WITH d AS (DELETE FROM %s WHERE window_start < $3 AND window_end > $2 "
										"RETURNING window_start, window_end) "
										"SELECT LEAST($2, min(window_start)), GREATEST($3, max(window_end)) FROM d",
										def->state), 2, range, SPI_OK_SELECT);
			range[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			range[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			delta = pp_window_delta_select(def, "1", def->source,
										   psprintf("%s >= $2 AND %s < $3", def->time_col, def->time_col));
		}
		else
		{
			pp_window_run(def, psprintf("DELETE FROM %s", def->state), 0, NULL, SPI_OK_DELETE);
			delta = pp_window_delta_select(def, "1", def->source, NULL);
		}
		pp_window_run(def, pp_window_session_sql(def, delta, false), 2, range, SPI_OK_SELECT);
	}
	else
	{
		if (has_range)
		{
			pp_window_run(def, psprintf("DELETE FROM %s WHERE window_start < $3 AND window_end > $2", def->state),
						  2, range, SPI_OK_DELETE);
			pp_window_run(def, pp_window_merge_sql(def,
												   pp_window_delta_select(def, "1", def->source,
																		  psprintf("%s >= $2 - %s AND %s < $3 + %s", def->time_col,
																				   def->size, def->time_col, def->size)),
												   false, false, "x.pp_ws < $3 AND x.pp_we > $2", false),
						  2, range, SPI_OK_SELECT);
		}
		else
		{
			pp_window_run(def, psprintf("DELETE FROM %s", def->state), 0, NULL, SPI_OK_DELETE);
			pp_window_run(def, pp_window_merge_sql(def, pp_window_delta_select(def, "1", def->source, NULL), false, false, NULL, false),
						  0, NULL, SPI_OK_SELECT);
		}
	}

	written = finish(def, def->kind != WIN_SESSION && def->has_other, false, false);
	AtEOXact_GUC(true, level);
	return written;
}

/* A drain or fold merged rows: when (window_status), and no last error. */
static void
mark_maintained(PipelineWindow *def)
{
	pp_window_run(def, psprintf("UPDATE pipeline.windows SET maintained_at = now(), last_error = NULL "
								"WHERE id = %d", def->id), 0, NULL, SPI_OK_UPDATE);
}

/*
 * The window's delta or partials table, locked for writing, still there?
 * A drop_window() that committed while the maintainer waited for it
 * (it locks the window's tables) took it: the maintainer's drain or fold
 * then has nothing to do, where its statement failed on the missing table.
 */
static bool
delta_still_there(PipelineWindow *def)
{
	return OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(pp_qualified_name_list(def->delta)),
									   RowExclusiveLock, true));
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
	if (!delta_still_there(def))
		return 0;

	/* one snapshot, taken once the previous drain committed, for it all */
	run_snapshot = RegisterSnapshot(GetLatestSnapshot());
	PG_TRY();
	{
		load_watermark(def);
		pp_window_run(def, psprintf("SELECT coalesce(bool_or(pp_sign < 0), false), count(*) FROM %s", def->delta),
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
			mark_maintained(def);
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
 * pp_window_fold
 *		Mode append: fold the partials committed so far into the state
 *		table and close the windows the watermark passed, in the current
 *		transaction (pp_window_fold_sql).  One fold at a time per window
 *		(the drain's lock).  Returns the state rows written.
 */
uint64
pp_window_fold(PipelineWindow *def)
{
	bool		isnull;
	uint64		written;
	int			level;

	/*
	 * The maintainer does not wait for writers' updates and deletes (which
	 * hold the lock in share mode to their commit): it folds at its next
	 * pass.  flush_window() waits, in a session or in a scheduled job's
	 * runner (a background worker too).
	 */
	if (!pp_xact_lock(DRAIN_LOCK_CLASS, def->id, !pp_window_in_maintainer) || !delta_still_there(def))
		return 0;
	level = pp_window_raise_work_mem();
	load_watermark(def);
	pp_window_run(def, pp_window_fold_sql(def), 0, NULL, SPI_OK_SELECT);
	written = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	retention(def);
	/* as a drain: a fold that folded something mends the last error */
	if (written > 0)
		mark_maintained(def);
	AtEOXact_GUC(true, level);
	return written;
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

	if (def->append)
		merged = pp_window_fold(def);	/* closes too */
	else
	{
		if (def->async)
			merged = pp_window_drain(def);	/* reads the watermark in its snapshot */
		else
			load_watermark(def);
		pp_window_close(def);
	}
	pp_window_run(def, psprintf("WITH d AS (DELETE FROM pipeline.window_progress WHERE window_id = %d "
								"AND (SELECT count(*) FROM pipeline.window_progress WHERE window_id = %d) > 1 "
								"RETURNING max_event_time, late) "
								"INSERT INTO pipeline.window_progress (window_id, max_event_time, late) "
								"SELECT %d, max(max_event_time), sum(late) FROM d HAVING count(*) > 0",
								def->id, def->id, def->id),
				  0, NULL, SPI_OK_INSERT);
	return merged;
}

