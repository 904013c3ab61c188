/*-------------------------------------------------------------------------
 *
 * sql.c
 *	  The SQL builders of window maintenance: the text of each statement
 *	  that apply.c runs, written from a window's definition
 *	  (PipelineWindow).
 *
 * pp_window_merge_sql (tumble, hop, cumulate: merge a delta into the state
 * table, or mark the groups it touches), pp_window_recompute_sql (recompute
 * marked groups from the source), pp_window_session_sql (delete and rebuild
 * the sessions a delta touches), pp_window_append_announce (the NOTIFY and
 * publish CTEs of windows a statement closed) and pp_window_delta_select
 * (a delta query over a relation).  The helpers before them write the
 * pieces each aggregate kind needs (values from rows, combined from panes,
 * the ON CONFLICT merge); src/window/README.md draws the statements and
 * says what to add here for a new aggregate kind.  Every statement reads
 * the watermark as $1; nothing here runs SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "common/pipeline.h"
#include "window/window.h"

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
				/* NULLs left out; NULL when there is no value */
				appendStringInfo(buf, ", pipeline.distinct_set(%s)%s AS pp_a%d", arg, f, i);
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
 * "RETURNING s.window_start, s.window_end, s.<groups>, s.<aggregates>,
 * s.is_final, s.pp_recompute": what pp_window_append_announce reads of
 * the rows a statement changed.  Not s.*: the sets of count(DISTINCT)
 * would be copied into the CTE for nothing.
 */
static char *
returning_announced(PipelineWindow *def)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "RETURNING s.window_start, s.window_end");
	append_groups(&buf, def, "s");
	for (int i = 0; i < def->naggs; i++)
		appendStringInfo(&buf, ", s.%s", def->agg_names[i]);
	appendStringInfoString(&buf, ", s.is_final, s.pp_recompute");
	return buf.data;
}

/*
 * UPDATE marking final the open rows of windows that end at or before wm
 * (an expression), skipping rows other transactions hold (locked in key
 * order), returning what announcing reads.  The rows are found through the partial index on
 * window_end and updated by their ctids (a TID scan): a join with the state
 * table would read all of it when nothing is to close, which is most
 * statements.
 */
char *
pp_window_close_sql(PipelineWindow *def, const char *wm)
{
	return psprintf("UPDATE %s s SET is_final = true WHERE s.ctid = ANY (ARRAY("
					"SELECT ctid FROM %s WHERE NOT is_final AND window_end <= %s "
					"ORDER BY window_start, window_end FOR UPDATE SKIP LOCKED)) %s",
					def->state, def->state, wm, returning_announced(def));
}

/*
 * The merge statement of tumble / hop / cumulate windows.  The delta comes
 * from the CTE pp_delta.  $1 is the watermark (NULL: none yet).
 * mark_only: mark the touched groups for recompute instead of merging
 * values (deltas with deletes).  apply_late: the late-rows policy applies
 * (not when rebuilding).  extra_filter: which (row, window) pairs count.
 * delta NULL: the statement's partials are the ephemeral relation
 * pp_partials (pp_window_partials; tumble, insert-only, no side table).
 * Returns one row: the largest event time inserted, the late rows, the
 * groups written.
 */
/*
 * "WITH ... pp_g AS (...)": per window and group, pp_rows, the partials
 * (append_values' columns), pp_maxt and pp_nlate, from the delta (a query,
 * as the CTE pp_delta) or, delta NULL, from the ephemeral relation
 * pp_partials (partials.c).  The arguments as pp_window_merge_sql's.
 */
static void
append_pp_g(StringInfo buf, PipelineWindow *def, const char *delta, bool mark_only, bool apply_late,
			const char *extra_filter)
{
	char	   *keep = NULL;
	bool		panes = (def->kind == WIN_HOP || def->kind == WIN_CUMULATE) &&
		!def->has_other && !(apply_late && def->late);

	if (apply_late && def->late_policy != LATE_UPDATE)
		keep = "NOT ($1 IS NOT NULL AND x.pp_we <= $1)";
	if (extra_filter)
		keep = keep ? psprintf("%s AND %s", keep, extra_filter) : (char *) extra_filter;

	if (delta == NULL)
	{
		/*
		 * The partials computed in C (partials.c): pp_g's columns but avg's
		 * quotient.  Their types are in the text, so a cached plan is only
		 * reused for the row type it was planned for.
		 */
		appendStringInfoString(buf, "WITH pp_g AS (SELECT p.*");
		for (int i = 0; i < def->naggs; i++)
			if (def->agg_kinds[i] == AGG_AVG)
				appendStringInfo(buf, ", p.pp_s%d / NULLIF(p.pp_c%d, 0) AS pp_v%d", i, i, i);
		appendStringInfo(buf, " FROM pp_partials p /* %s */", def->partials_sig);
	}
	else
		appendStringInfo(buf, "WITH pp_delta AS (%s), ", delta);
	if (delta != NULL && panes)
	{
		/*
		 * Hopping and cumulating windows from panes: group the rows by pane
		 * (slide or step) first, then combine each window's panes.  A row
		 * is aggregated once, not once per window it is in.
		 */
		const char *t = def->time_col;

		appendStringInfo(buf, "pp_p AS (SELECT date_bin(%s, d.%s, %s) AS pp_pane",
						 def->slide, t, origin(def));
		append_groups(buf, def, "d");
		appendStringInfo(buf, ", count(*) AS pp_rows, count(*) FILTER (WHERE %s) AS pp_lrows, "
						 "max(d.%s) FILTER (WHERE d.pp_sign > 0) AS pp_maxt",
						 def->late_old_rows ? "true" : "d.pp_sign > 0", t);
		if (!mark_only)
			append_values(buf, def, NULL);
		appendStringInfoString(buf, " FROM pp_delta d GROUP BY 1");
		append_groups(buf, def, "d");
		if (def->kind == WIN_HOP)
			appendStringInfo(buf,
							 "), pp_x AS (SELECT p.*, p.pp_pane - pp_k * %s AS pp_ws, p.pp_pane - pp_k * %s + %s AS pp_we, "
							 "p.pp_pane + %s AS pp_fe FROM pp_p p CROSS JOIN generate_series(0, " INT64_FORMAT ") pp_k)",
							 def->slide, def->slide, def->size, def->slide, def->nsteps - 1);
		else
			appendStringInfo(buf,
							 "), pp_x AS (SELECT q.* FROM (SELECT p.*, date_bin(%s, p.pp_pane, %s) AS pp_ws, "
							 "date_bin(%s, p.pp_pane, %s) + pp_k * %s AS pp_we, p.pp_pane + %s AS pp_fe FROM pp_p p "
							 "CROSS JOIN generate_series(1, " INT64_FORMAT ") pp_k) q WHERE q.pp_we > q.pp_pane)",
							 def->size, origin(def), def->size, origin(def), def->slide, def->slide, def->nsteps);
		appendStringInfoString(buf, ", pp_g AS (SELECT x.pp_ws, x.pp_we");
		append_groups(buf, def, "x");
		appendStringInfo(buf, ", (sum(x.pp_rows)%s%s%s)::bigint AS pp_rows",
						 keep ? " FILTER (WHERE " : "", keep ? keep : "", keep ? ")" : "");
		if (!mark_only)
			append_combined(buf, def, keep);
		appendStringInfo(buf,
						 ", max(x.pp_maxt) AS pp_maxt"
						 ", coalesce(sum(x.pp_lrows) FILTER (WHERE %s AND $1 IS NOT NULL AND x.pp_fe <= $1 "
						 "AND x.pp_we = x.pp_fe), 0) AS pp_nlate "
						 "FROM pp_x x GROUP BY x.pp_ws, x.pp_we", apply_late ? "true" : "false");
		append_groups(buf, def, "x");
	}
	else if (delta != NULL)
	{
		appendStringInfoString(buf, "pp_x AS (");
		append_expand(buf, def, "pp_delta");
		appendStringInfoString(buf, ")");
		if (apply_late && def->late)
		{
			appendStringInfo(buf,
							 ", pp_side AS (INSERT INTO %s (reason, watermark, %s",
							 def->late, def->time_col);
			append_groups(buf, def, NULL);
			appendStringInfo(buf,
							 ", \"row\") SELECT CASE WHEN x.pp_sign > 0 THEN 'late insert' ELSE 'late delete' END, "
							 "$1, x.%s", def->time_col);
			append_groups(buf, def, "x");
			appendStringInfoString(buf,
								   ", to_jsonb(x) - '{pp_sign,pp_ws,pp_we,pp_fe,pp_pane,pp_ws0}'::text[] "
								   "FROM pp_x x WHERE $1 IS NOT NULL AND x.pp_fe <= $1 AND x.pp_we = x.pp_fe "
								   "RETURNING 1)");
		}
		appendStringInfoString(buf, ", pp_g AS (SELECT x.pp_ws, x.pp_we");
		append_groups(buf, def, "x");
		appendStringInfo(buf, ", count(*)%s%s%s AS pp_rows",
						 keep ? " FILTER (WHERE " : "", keep ? keep : "", keep ? ")" : "");
		if (!mark_only)
			append_values(buf, def, keep);
		appendStringInfo(buf,
						 ", max(x.%s) FILTER (WHERE x.pp_sign > 0) AS pp_maxt"
						 ", count(*) FILTER (WHERE %s AND %s AND $1 IS NOT NULL AND x.pp_fe <= $1 AND x.pp_we = x.pp_fe) "
						 "AS pp_nlate FROM pp_x x GROUP BY x.pp_ws, x.pp_we",
						 def->time_col, apply_late ? "true" : "false",
						 def->late_old_rows ? "true" : "x.pp_sign > 0");
		append_groups(buf, def, "x");
	}
	appendStringInfoString(buf, ")");
}

/*
 * The rest of the merge statement after pp_g: the upsert into the state
 * table and, with close, the closing and announcing.  fix: SQL over
 * q.window_end telling a window announced again (a late fix) from one
 * closed now.
 */
static void
append_merge_tail(StringInfo buf, PipelineWindow *def, bool mark_only, bool apply_late, bool close,
				  const char *fix)
{

	/* closing here: the watermark this statement moves */
	if (close)
		appendStringInfo(buf, ", pp_w AS (SELECT GREATEST($1, (SELECT max(pp_maxt) FROM pp_g) - %s) AS wm)",
						 def->lateness);
	appendStringInfo(buf, ", pp_m AS (INSERT INTO %s AS s (", def->state);
	append_key_columns(buf, def);
	appendStringInfoString(buf, ", pp_rows");
	if (!mark_only)
		append_value_columns(buf, def, false, NULL);
	appendStringInfoString(buf, ", is_final, pp_recompute) SELECT g.pp_ws, g.pp_we");
	append_groups(buf, def, "g");
	if (mark_only)
		appendStringInfoString(buf, ", 0");
	else
	{
		appendStringInfoString(buf, ", g.pp_rows");
		append_value_columns(buf, def, true, "g");
	}
	/*
	 * A row into a window already final (a late fix) stays final; when
	 * closing here, so does a row the new watermark passed.
	 */
	if (close)
		appendStringInfo(buf,
						 ", COALESCE(g.pp_we <= (SELECT wm FROM pp_w), false), %s "
						 "FROM pp_g g WHERE g.pp_rows > 0 ORDER BY g.pp_ws, g.pp_we",
						 mark_only ? "true" : "false");
	else
		appendStringInfo(buf,
						 ", ($1 IS NOT NULL AND g.pp_we <= $1), %s "
						 "FROM pp_g g WHERE g.pp_rows > 0 ORDER BY g.pp_ws, g.pp_we",
						 mark_only ? "true" : "false");
	append_groups(buf, def, "g");
	appendStringInfoString(buf, " ON CONFLICT (");
	append_key_columns(buf, def);
	appendStringInfoString(buf, ") DO UPDATE SET ");
	if (mark_only)
		appendStringInfoString(buf, "pp_recompute = true");
	else
		append_merge_set(buf, def);
	appendStringInfoString(buf, ", is_final = s.is_final OR excluded.is_final");
	if (!close && !apply_late)
	{
		appendStringInfoString(buf,
							   " RETURNING 1) SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, "
							   "(SELECT count(*) FROM pp_m) FROM pp_g");
			return;
	}
	if (!close)
	{
		/* late fixes that need no recompute are announced now, the rest by it */
		appendStringInfo(buf, " %s), pp_closed AS (SELECT * FROM pp_m WHERE is_final AND NOT pp_recompute)",
						 returning_announced(def));
		pp_window_append_announce(buf, def, "$1", "true");
		appendStringInfo(buf,
						 " SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, (SELECT count(*) FROM pp_m)%s "
						 "FROM pp_g", pp_window_announce_counts(def));
			return;
	}

	/*
	 * Close in the same statement: the rows the merge wrote behind the new
	 * watermark are final already; the other rows of windows it passed are
	 * marked here, skipping rows other writers hold, and rows the merge
	 * itself updated (a row is changed once per statement).  Announced
	 * together, one notification per window; so are the final windows a
	 * late row fixed (late_rows = update), with "fix": true.
	 */
	appendStringInfo(buf, " %s), pp_u AS (%s), "
					 "pp_closed AS (SELECT * FROM pp_m WHERE is_final UNION ALL SELECT * FROM pp_u)",
					 returning_announced(def), pp_window_close_sql(def, "(SELECT wm FROM pp_w)"));
	pp_window_append_announce(buf, def, "(SELECT wm FROM pp_w)", fix);
	appendStringInfo(buf,
					 " SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, (SELECT count(*) FROM pp_m)%s "
					 "FROM pp_g", pp_window_announce_counts(def));
}

char *
pp_window_merge_sql(PipelineWindow *def, const char *delta, bool mark_only, bool apply_late,
					const char *extra_filter, bool close)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_pp_g(&buf, def, delta, mark_only, apply_late, extra_filter);
	append_merge_tail(&buf, def, mark_only, apply_late, close, "COALESCE(q.window_end <= $1, false)");
	return buf.data;
}

/* ", pp_ws, pp_we, <groups>, pp_rows, <the partials' columns>" of a partials table, in order */
static void
append_partials_columns(StringInfo buf, PipelineWindow *def, const char *alias)
{
	const char *a = alias ? alias : "";
	const char *dot = alias ? "." : "";

	appendStringInfo(buf, "%s%spp_ws, %s%spp_we", a, dot, a, dot);
	append_groups(buf, def, alias);
	appendStringInfo(buf, ", %s%spp_rows", a, dot);
	for (int i = 0; i < def->naggs; i++)
	{
		switch (def->agg_kinds[i])
		{
			case AGG_AVG:
				appendStringInfo(buf, ", %s%spp_s%d, %s%spp_c%d", a, dot, i, a, dot, i);
				break;
			case AGG_COUNT_DISTINCT:
				appendStringInfo(buf, ", %s%spp_a%d", a, dot, i);
				break;
			case AGG_OTHER:
				elog(ERROR, "mode append cannot keep this aggregate");
				break;
			default:
				appendStringInfo(buf, ", %s%spp_v%d", a, dot, i);
				break;
		}
	}
}

/*
 * Mode append, an insert-only statement: its partials (pp_g, from the
 * delta or, delta NULL, from pp_partials) appended to the partials table,
 * one row per window and group, no row shared with another writer.  Same
 * result row as pp_window_merge_sql (the third column: partial rows
 * appended).
 */
char *
pp_window_append_sql(PipelineWindow *def, const char *delta)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_pp_g(&buf, def, delta, false, true, NULL);
	appendStringInfo(&buf, ", pp_i AS (INSERT INTO %s (", def->delta);
	append_partials_columns(&buf, def, NULL);
	appendStringInfoString(&buf, ") SELECT ");
	append_partials_columns(&buf, def, "g");
	appendStringInfoString(&buf, " FROM pp_g g WHERE g.pp_rows > 0 RETURNING 1) "
						   "SELECT max(pp_maxt), coalesce(sum(pp_nlate), 0)::bigint, "
						   "(SELECT count(*) FROM pp_i) FROM pp_g");
	return buf.data;
}

/*
 * Mode append: fold the partials committed so far into the state table,
 * one statement: taken out of the partials table (DELETE ... RETURNING),
 * combined per window and group, merged as a statement's partials are in
 * sync mode, and the windows behind the watermark ($1) closed and
 * announced.  Lateness was judged by the writers.  A window is announced
 * as a fix when some of its groups were final before.
 */
char *
pp_window_fold_sql(PipelineWindow *def)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "WITH pp_f AS (DELETE FROM %s RETURNING *), pp_g AS (SELECT x.pp_ws, x.pp_we",
					 def->delta);
	append_groups(&buf, def, "x");
	appendStringInfoString(&buf, ", (sum(x.pp_rows))::bigint AS pp_rows");
	append_combined(&buf, def, NULL);
	appendStringInfo(&buf, ", NULL::%s AS pp_maxt, 0::bigint AS pp_nlate FROM pp_f x GROUP BY x.pp_ws, x.pp_we",
					 def->time_type == TIMESTAMPTZOID ? "timestamptz" : "timestamp");
	append_groups(&buf, def, "x");
	appendStringInfoString(&buf, ")");
	append_merge_tail(&buf, def, false, false, true,
					  psprintf("EXISTS (SELECT 1 FROM %s o WHERE o.is_final AND o.window_start = q.window_start "
							   "AND o.window_end = q.window_end)", def->state));
	return buf.data;
}

/*
 * Recompute the groups marked pp_recompute from the source rows of their
 * windows; delete those left without rows.
 */
char *
pp_window_recompute_sql(PipelineWindow *def, bool announce)
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

	/*
	 * Mode append: the recompute counted every source row its snapshot
	 * sees, so the partials of those groups that the same snapshot sees
	 * are taken out (their rows are counted); partials of writers that
	 * commit later are folded on top.
	 */
	if (def->append)
		appendStringInfo(&buf, ", pp_dp AS (DELETE FROM %s p WHERE EXISTS (SELECT 1 FROM pp_k k WHERE k.pp_key = %s) "
						 "RETURNING 1)",
						 def->delta, key_record(def, "p", "pp_ws", "pp_we"));
	/* final windows a late change fixed are announced again */
	if (announce)
	{
		appendStringInfoString(&buf, ", pp_closed AS (SELECT * FROM pp_u WHERE is_final)");
		pp_window_append_announce(&buf, def, "$1", "true");
	}
	appendStringInfo(&buf, " SELECT (SELECT count(*) FROM pp_d)%s", announce ? pp_window_announce_counts(def) : "");
	return buf.data;
}

/*
 * The statement of session windows: delete the sessions the delta touches
 * and rebuild them, with the delta's rows, from the source.  Same result
 * row as pp_window_merge_sql.
 */
char *
pp_window_session_sql(PipelineWindow *def, const char *delta, bool apply_late)
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
	pp_window_append_announce(&buf, def, "$1", "true");
	appendStringInfo(&buf,
					 " SELECT (SELECT max(%s) FROM pp_d0 WHERE pp_sign > 0), "
					 "(SELECT count(*) FROM pp_d0 WHERE pp_late AND (%s OR pp_sign > 0)), (SELECT count(*) FROM pp_m)%s",
					 t, def->late_old_rows ? "true" : "false", pp_window_announce_counts(def));
	return buf.data;
}

/*
 * ", pp_n AS (NOTIFY per window of pp_closed), pp_p AS (publish each row)":
 * CTEs of a statement whose CTE pp_closed holds the state rows it just
 * closed, or fixed (a late row changed a window already final); its SELECT
 * must read them (pp_window_announce_counts).  wm is the watermark to report, fix
 * tells the two apart (SQL over q.window_end).
 */
void
pp_window_append_announce(StringInfo buf, PipelineWindow *def, const char *wm, const char *fix)
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

/* ", (SELECT count(*) FROM pp_n) ...": makes the statement run pp_window_append_announce's CTEs */
const char *
pp_window_announce_counts(PipelineWindow *def)
{
	return def->sink ? ", (SELECT count(*) FROM pp_n), (SELECT count(*) FROM pp_p)" :
		", (SELECT count(*) FROM pp_n)";
}

/* SELECT 1 AS pp_sign, <columns> FROM <rel> [WHERE ...] */
char *
pp_window_delta_select(PipelineWindow *def, const char *sign, const char *rel, const char *where)
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

