/*-------------------------------------------------------------------------
 *
 * window.h
 *	  Window aggregates: declarations shared by the files of src/window.
 *
 * See src/window/README.md and docs/window.md for the design.  In short: a
 * window aggregate is a row of pipeline.windows plus a state table (one row
 * per window and group), statement triggers on the source, and for async
 * windows a delta table that the maintainer worker drains.  Maintenance is
 * SQL that this code writes from the catalog row and runs through SPI.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_WINDOW_H
#define PP_WINDOW_H

#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/tuplestore.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

typedef enum WindowKind
{
	WIN_TUMBLE,
	WIN_HOP,
	WIN_CUMULATE,
	WIN_SESSION
} WindowKind;

/* How one aggregate column is kept. */
typedef enum AggKind
{
	AGG_COUNT_STAR,				/* count(*): partial counts added */
	AGG_COUNT,					/* count(x): partial counts added */
	AGG_SUM,					/* sum(x): partial sums added (NULL-aware) */
	AGG_AVG,					/* avg(x): sum and count kept, divided */
	AGG_MIN,					/* min(x): LEAST of partials */
	AGG_MAX,					/* max(x): GREATEST of partials */
	AGG_COUNT_DISTINCT,			/* count(DISTINCT x): the sorted array of
								 * distinct values kept, arrays unioned; the
								 * count is a generated column */
	AGG_OTHER					/* anything else (count(DISTINCT x)...):
								 * computed from the delta for new groups,
								 * recomputed from the source for others */
} AggKind;

typedef enum LatePolicy
{
	LATE_UPDATE,
	LATE_DROP,
	LATE_SIDE_TABLE
} LatePolicy;

/* A window aggregate as maintenance needs it; loaded from pipeline.windows. */
typedef struct PipelineWindow
{
	int32		id;
	char	   *name;			/* qualified and quoted */
	char	   *state;			/* qualified and quoted */
	char	   *delta;			/* async: the delta table; append: the partials
								 * table; else NULL */
	char	   *late;			/* side_table: the late-rows table, else NULL */
	char	   *source;			/* qualified and quoted */
	Oid			source_oid;
	char	   *time_col;		/* quoted */
	Oid			time_type;		/* TIMESTAMPTZOID or TIMESTAMPOID */
	WindowKind	kind;
	char	   *size;			/* SQL literals: '...'::interval */
	Interval   *size_value;		/* the size as a value */
	char	   *slide;
	int64		nsteps;			/* hop: size / slide; cumulate: size / step */
	int			ngroups;
	char	  **groups;			/* quoted */
	int			naggs;
	char	  **agg_names;		/* quoted */
	AggKind    *agg_kinds;
	char	  **agg_exprs;		/* the whole aggregate call, as SQL */
	char	  **agg_args;		/* its one argument (simple kinds) */
	char	  **agg_types;		/* the result type, as SQL */
	int			ncols;
	char	  **cols;			/* quoted source columns maintenance reads */
	bool		on_close;
	LatePolicy	late_policy;
	bool		async;
	bool		append;			/* mode append: writers append partials */
	char	   *retention;		/* literal or NULL */
	char	   *sink;			/* literal or NULL */
	Oid			owner;
	bool		has_other;		/* some AGG_OTHER column */
	bool		has_max;		/* max_event_time is set */
	int64		max_event_time; /* raw microseconds of the time column */
	int64		lateness_us;
	char	   *lateness;		/* the same, as an interval literal */
	bool		late_old_rows;	/* deleted rows count as late (not for an UPDATE) */
	/* set by pp_window_partials for the statement: pp_partials is registered */
	Tuplestorestate *partials;	/* its rows */
	TupleDesc	partials_desc;	/* their columns */
	char	   *partials_sig;	/* its column types (key the merge's plan) */
} PipelineWindow;

/* A window's relations, by OID (InvalidOid: the window has none). */
typedef struct WindowRelations
{
	Oid			source;
	Oid			result;			/* the state table, or the view over it */
	Oid			state;
	Oid			delta;			/* async */
	Oid			late;			/* side_table */
	char	  **cols;			/* the source columns maintenance reads */
	int			ncols;
	Oid			owner;			/* the catalog row's owner_oid */
} WindowRelations;

/*
 * A set of count(DISTINCT x) being built (sets.c): the state of
 * pipeline.distinct_set(), and of the C aggregation of a statement's rows
 * (partials.c).  The non-NULL values seen, in the aggregate's memory
 * context (copied there when passed by reference).  values[0..sorted) are
 * sorted and distinct, the rest as they came.  When the array is full its
 * duplicates are dropped (and freed) first, and it grows only if more than
 * a quarter of it is left: its memory follows the distinct values (at most
 * 4 times theirs), not the rows.  (Without that, a statement's rows of one
 * large value, which compress to little on disk, were each kept: 3,000
 * rows of one 100 kB text held 300 MB, and a writer's cheap INSERT could
 * take the server's memory.  array_agg(DISTINCT) sorted them within
 * work_mem.)
 */
typedef struct DistinctSet
{
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;
	int			sorted;
	int			cap;
	Datum	   *values;
} DistinctSet;

/* catalog.c: reading pipeline.windows */
extern PipelineWindow *pp_window_load(int32 id, bool missing_ok);
extern int32 pp_window_id_of(Oid result, bool missing_ok);
extern void pp_window_as_owner(PipelineWindow *def, PipelineAsRole *as);

/* sql.c: the statements of maintenance, as text */
extern char *pp_window_close_sql(PipelineWindow *def, const char *wm);
extern char *pp_window_merge_sql(PipelineWindow *def, const char *delta, bool mark_only,
								 bool apply_late, const char *extra_filter, bool close);
extern char *pp_window_append_sql(PipelineWindow *def, const char *delta);
extern char *pp_window_fold_sql(PipelineWindow *def);
extern char *pp_window_recompute_sql(PipelineWindow *def, bool announce);
extern char *pp_window_session_sql(PipelineWindow *def, const char *delta, bool apply_late);
extern void pp_window_append_announce(StringInfo buf, PipelineWindow *def, const char *wm,
									  const char *fix);
extern const char *pp_window_announce_counts(PipelineWindow *def);
extern char *pp_window_delta_select(PipelineWindow *def, const char *sign, const char *rel,
									const char *where);

/* apply.c: running them */
extern int	pp_window_spi_run(const char *sql, int nargs, Oid *argtypes, Datum *values,
							  const char *nulls, Snapshot snapshot);
extern int64 pp_window_watermark(PipelineWindow *def);
extern int	pp_window_raise_work_mem(void);
extern void pp_window_run(PipelineWindow *def, const char *sql, int nextra, Datum *extra,
						  int expect);
extern uint64 pp_window_apply(PipelineWindow *def, const char *delta_sql,
							  const char *delta_peek_sql, bool has_deletes,
							  bool is_update, bool locks);
extern bool pp_window_recomputed_now(int32 id);
extern bool pp_window_apply_inserted(PipelineWindow *def, Relation rel, Tuplestorestate *rows);
extern uint64 pp_window_rebuild(PipelineWindow *def, bool has_range,
								int64 from_us, int64 to_us);
extern uint64 pp_window_drain(PipelineWindow *def);
extern uint64 pp_window_fold(PipelineWindow *def);
extern bool pp_window_in_maintainer;	/* maintainer.c */
extern void pp_window_close(PipelineWindow *def);
extern uint64 pp_window_sweep(PipelineWindow *def);


/* sets.c: the sets of count(DISTINCT x) */
extern void pp_distinct_set_init(DistinctSet *set, Oid elemtype);
extern void pp_distinct_set_add(DistinctSet *set, Datum value, Oid collation, MemoryContext cxt);
extern ArrayType *pp_distinct_set_result(DistinctSet *set, Oid collation);

/* pp_distinct_set_add, without a call while a value kept by value fits */
static inline void
pp_distinct_set_append(DistinctSet *set, Datum value, Oid collation, MemoryContext cxt)
{
	if (set->typbyval && set->n < set->cap)
		set->values[set->n++] = value;
	else
		pp_distinct_set_add(set, value, collation, cxt);
}

/* partials.c: a statement's partial aggregates, in C */
extern bool pp_window_partials(PipelineWindow *def, Relation rel, Tuplestorestate *rows);
extern bool pp_window_partials_insert(PipelineWindow *def, bool *have_max, int64 *max_t, int64 *nlate,
									  uint64 *inserted);

/* depend.c: the window's dependencies in pg_depend */
extern bool pp_window_read_relations(int32 id, WindowRelations *rels, char **name);
extern Oid	pp_window_record_dependencies(int32 id, const WindowRelations *rels);
extern void pp_window_drop_triggers(int32 id, Oid source);


#endif							/* PP_WINDOW_H */
