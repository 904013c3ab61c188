/*-------------------------------------------------------------------------
 *
 * build.c
 *	  Building one model: pipeline._model_build(model_id, full_refresh,
 *	  interval_start, interval_end), in the caller's transaction.
 *
 * A model is a SELECT and a way to materialize it (pipeline.models).  The
 * SELECT is the owner's: it runs as the model's owner, in a
 * security-restricted operation, with the search_path frozen when the model
 * was created (pp_as_role_begin_path), never the caller's.  Whoever can see
 * the model's row (its owner, a pipeline_admin member) may build it; the
 * relation it writes must be owned by the model's owner.
 *
 *	view				CREATE OR REPLACE VIEW
 *	table				first: CREATE TABLE AS.  Then a new heap filled with
 *						the query's rows and swapped in (make_new_heap,
 *						finish_heap_swap, as REFRESH MATERIALIZED VIEW does):
 *						the relation keeps its OID, so views on it, grants,
 *						indexes (rebuilt), policies, comments and owner stay;
 *						the rows are written frozen, so a reader that waited
 *						for the swap sees the new rows, never none.
 *						Partitioned: DELETE and INSERT in the transaction.
 *	materialized_view	CREATE, then REFRESH (full_refresh: drop, create)
 *	incremental			first or full_refresh: as table.  Then by strategy:
 *		append			INSERT the query's rows
 *		merge			stage the rows in a temporary table, refuse
 *						duplicate keys (naming some), MERGE on the key;
 *						with a unique index on the key, first a plain
 *						INSERT (every key new), then one INSERT ... ON
 *						CONFLICT, each undone on a conflict (merge_direct)
 *		delete+insert	stage, DELETE the rows with the staged keys, INSERT
 *		event_time		DELETE and INSERT the rows whose incremental_by
 *						time is after high_water_mark - lookback (or in
 *						[interval_start, interval_end)), one statement
 *	snapshot			pipeline._snapshot_build(model_id)
 *	seed, ephemeral		nothing
 *
 * Keys match null-safely: rows whose keys are all non-NULL join with the
 * key type's equality operator (hash or index joins), the few with a NULL
 * key by IS NOT DISTINCT FROM.  With incremental_by, every strategy reads
 * only the rows after the bound: the user's SELECT is wrapped as
 * SELECT ... FROM (<sql>) q WHERE q.<incremental_by> > $1, which the planner
 * pushes down to the tables it reads; the column must be in the output.
 * on_schema_change compares the query's columns with the table's.
 *
 * While a build runs, pipeline.is_incremental(), model_interval_start()
 * and model_interval_end() read its state (backend-local).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/cluster.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "parser/analyze.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "common/pipeline.h"
#include "model/model.h"

/* pp_xact_lock class: one build of a model at a time */
#define MODEL_BUILD_LOCK_CLASS	0x7070424D

/* at most this many duplicate keys named in the error */
#define MAX_DUPLICATES_NAMED	5

/* A model as _model_build reads it from pipeline.models. */
typedef struct Model
{
	int32		id;
	char	   *name;			/* schema.relation, for messages */
	char	   *schema;
	char	   *relname;
	char	   *qualified;		/* "schema"."relation", quoted */
	Oid			owner;
	char	   *sql;
	char	   *materialized;
	char	   *strategy;		/* incremental: never NULL once loaded */
	int			nkeys;
	char	  **keys;			/* unique_key */
	char	   *incremental_by;
	char	   *on_schema_change;
	char	   *search_path;
	bool		has_hwm;
	TimestampTz hwm;			/* high_water_mark */
	Interval   *lookback;
} Model;

/* The columns of a query or a table. */
typedef struct Columns
{
	int			n;
	char	  **names;
	Oid		   *types;
	int32	   *typmods;
	AttrNumber *attnums;		/* a table's; a query's: 1..n */
} Columns;

/* What the model's SQL reads through the functions below while it builds. */
typedef struct BuildState
{
	bool		incremental;
	bool		has_start;
	bool		has_end;
	TimestampTz start;
	TimestampTz end;
} BuildState;

static BuildState *current_build = NULL;

/* ------------------------------------------------------------ utilities */

static void
exec(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "could not run: %s (%s)", sql, SPI_result_code_string(rc));
}

static char *
text_col(HeapTuple tup, TupleDesc desc, int col)
{
	return SPI_getvalue(tup, desc, col);
}

/*
 * The error context of a build: the model's name; and a syntax error in
 * its SQL points into that SQL, not into the caller's statement (as SPI's
 * own callback does).
 */
typedef struct BuildContext
{
	const char *name;
	const char *parsing;		/* the text being parsed, if any */
} BuildContext;

static void
build_error_context(void *arg)
{
	BuildContext *ctx = (BuildContext *) arg;
	int			pos = geterrposition();

	if (ctx->parsing && pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(ctx->parsing);
	}
	errcontext("building model \"%s\"", ctx->name);
}

static BuildContext *build_context = NULL;

/* raw_parser, with errors pointing into the text */
static List *
parse_text(const char *text)
{
	List	   *raw;

	if (build_context)
		build_context->parsing = text;
	raw = raw_parser(text, RAW_PARSE_DEFAULT);
	if (build_context)
		build_context->parsing = NULL;
	return raw;
}

/* the type's name as SQL, schema-qualified: binds the same under any path */
static char *
type_sql(Oid type, int32 typmod)
{
	return format_type_extended(type, typmod,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

static int
column_index(Columns *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return i;
	return -1;
}

/* "a", "b": the quoted names, each with a prefix ("s." or "") */
static char *
column_list(char **names, int n, const char *prefix)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s%s", i ? ", " : "", prefix, quote_identifier(names[i]));
	return buf.data;
}

/* ------------------------------------------------------------- the model */

/*
 * load_model
 *		Read the model's row as the caller, under row-level security: a role
 *		builds only the models it can see (its own; every one for a
 *		pipeline_admin member or a superuser).
 */
static Model *
load_model(int32 id)
{
	Model	   *m;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;
	bool		isnull;

	tup = pp_model_get(id, "m.name, m.schema_name::text, m.relation_name::text, m.owner_oid, "
					   "m.sql, m.materialized, m.strategy, m.unique_key, m.incremental_by::text, "
					   "m.on_schema_change, m.search_path, m.high_water_mark, m.lookback");
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %d does not exist", id),
				 errhint("pipeline.models lists the models you can see.")));
	desc = SPI_tuptable->tupdesc;
	m = palloc0(sizeof(Model));
	m->id = id;
	m->name = text_col(tup, desc, 1);
	m->schema = text_col(tup, desc, 2);
	m->relname = text_col(tup, desc, 3);
	m->qualified = quote_qualified_identifier(m->schema, m->relname);
	m->owner = pp_model_owner(tup, desc, 4, m->name, false);
	m->sql = text_col(tup, desc, 5);
	m->materialized = text_col(tup, desc, 6);
	m->strategy = text_col(tup, desc, 7);
	d = SPI_getbinval(tup, desc, 8, &isnull);
	if (!isnull)
	{
		m->keys = pp_text_array_cstrings(d, &m->nkeys, false);
		for (int i = 0; i < m->nkeys; i++)
			if (m->keys[i] == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the unique key of model \"%s\" has a NULL column name", m->name)));
	}
	m->incremental_by = text_col(tup, desc, 9);
	m->on_schema_change = text_col(tup, desc, 10);
	m->search_path = text_col(tup, desc, 11);
	d = SPI_getbinval(tup, desc, 12, &isnull);
	m->has_hwm = !isnull;
	m->hwm = isnull ? 0 : DatumGetTimestampTz(d);
	m->lookback = DatumGetIntervalP(datumCopy(SPI_getbinval(tup, desc, 13, &isnull), false, sizeof(Interval)));

	if (strcmp(m->materialized, "incremental") == 0 && m->strategy == NULL)
		m->strategy = m->nkeys > 0 ? "merge" : m->incremental_by ? "event_time" : "append";
	return m;
}

/* does a raw parse tree contain INSERT, UPDATE, DELETE or MERGE? */
static bool
modifies_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, InsertStmt) || IsA(node, UpdateStmt) || IsA(node, DeleteStmt) ||
		IsA(node, MergeStmt))
		return true;
	return raw_expression_tree_walker(node, modifies_walker, context);
}

/*
 * model_select
 *		The model's SQL as one SELECT statement, without what surrounds it
 *		(comments, a final semicolon), ready to be wrapped as a subquery.
 *		Anything else is refused: the text is the owner's, but it must not
 *		close the statement it is put in.
 */
static char *
model_select(Model *m)
{
	List	   *raw = parse_text(m->sql);
	RawStmt    *rs;
	int			len;

	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt) ||
		((SelectStmt *) linitial_node(RawStmt, raw)->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the SQL of model \"%s\" is not one SELECT statement", m->name),
				 errdetail("A model is a query: SELECT, VALUES or a set operation, with WITH if needed.")));
	rs = linitial_node(RawStmt, raw);
	if (modifies_walker(rs->stmt, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the SQL of model \"%s\" modifies data", m->name),
				 errdetail("A model's query may not contain INSERT, UPDATE, DELETE or MERGE in WITH.")));
	len = rs->stmt_len > 0 ? rs->stmt_len : (int) strlen(m->sql) - rs->stmt_location;
	return pnstrdup(m->sql + rs->stmt_location, len);
}

/*
 * analyze_select
 *		Parse analysis of the SELECT (as the owner, under the model's path):
 *		its output columns.  A data-modifying WITH is refused: a model
 *		writes only its own relation.
 */
static void
query_columns(Model *m, Query *q, Columns *out)
{
	ListCell   *lc;
	int			n = list_length(q->targetList);

	out->names = palloc(sizeof(char *) * (n + 1));
	out->types = palloc(sizeof(Oid) * (n + 1));
	out->typmods = palloc(sizeof(int32) * (n + 1));
	out->attnums = palloc(sizeof(AttrNumber) * (n + 1));
	out->n = n = 0;
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		if (column_index(out, tle->resname) >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("the query of model \"%s\" has two columns named \"%s\"", m->name, tle->resname),
					 errhint("Give each output column its own name with AS.")));
		out->names[n] = tle->resname;
		out->types[n] = exprType((Node *) tle->expr);
		out->typmods[n] = exprTypmod((Node *) tle->expr);
		out->attnums[n] = n + 1;
		out->n = ++n;
	}
}

static Query *
analyze_select(Model *m, const char *select, Columns *out)
{
	List	   *raw = parse_text(select);
	Query	   *q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), select, NULL, 0, NULL);

	if (q->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the SQL of model \"%s\" modifies data", m->name),
				 errdetail("A model's query may not contain INSERT, UPDATE, DELETE or MERGE in WITH.")));
	query_columns(m, q, out);
	return q;
}

/* the live columns of a table */
static void
table_columns(Oid relid, Columns *out)
{
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int			n = 0;

	out->names = palloc(sizeof(char *) * (desc->natts + 1));
	out->types = palloc(sizeof(Oid) * (desc->natts + 1));
	out->typmods = palloc(sizeof(int32) * (desc->natts + 1));
	out->attnums = palloc(sizeof(AttrNumber) * (desc->natts + 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		out->names[n] = pstrdup(NameStr(att->attname));
		out->types[n] = att->atttypid;
		out->typmods[n] = att->atttypmod;
		out->attnums[n] = att->attnum;
		n++;
	}
	out->n = n;
	table_close(rel, NoLock);
}

/* the model's relation, InvalidOid when there is none yet */
static Oid
model_relation(Model *m)
{
	Oid			nsp = get_namespace_oid(m->schema, false);

	return get_relname_relid(m->relname, nsp);
}

/*
 * check_owner
 *		The relation a model writes must be its owner's: a model cannot be
 *		pointed at another role's table, even one its owner may INSERT into.
 */
static void
check_owner(Model *m, Oid relid)
{
	if (!pg_class_ownercheck(relid, m->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("model \"%s\" cannot write relation %s: its owner %s does not own it",
						m->name, m->qualified, GetUserNameFromId(m->owner, false)),
				 errdetail("A model writes only a relation owned by the model's owner.")));
}

/*
 * replace_relation
 *		The model's relation exists but is of another kind than the
 *		materialization makes (a view that became a table): with
 *		full_refresh, drop it (without CASCADE: what depends on it is
 *		named in the error); otherwise say so.  Returns InvalidOid once
 *		dropped.
 */
static Oid
replace_relation(Model *m, Oid relid, char want, bool full_refresh)
{
	char		kind = get_rel_relkind(relid);

	if (kind == want || (want == RELKIND_RELATION && kind == RELKIND_PARTITIONED_TABLE))
		return relid;
	if (!full_refresh)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %s of model \"%s\" is not a %s", m->qualified, m->name,
						want == RELKIND_VIEW ? "view" :
						want == RELKIND_MATVIEW ? "materialized view" : "table"),
				 errhint("Build it with full_refresh => true to drop and create it.")));
	exec(psprintf("DROP %s %s",
				  kind == RELKIND_VIEW ? "VIEW" :
				  kind == RELKIND_MATVIEW ? "MATERIALIZED VIEW" :
				  kind == RELKIND_FOREIGN_TABLE ? "FOREIGN TABLE" : "TABLE", m->qualified),
		 SPI_OK_UTILITY);
	return InvalidOid;
}

/* ------------------------------------------------- schema of the table */

/*
 * reconcile_columns
 *		Compare the query's columns with the table's and apply "mode":
 *		"fail" (refuse any difference), "ignore", "append_new_columns" (add
 *		the new ones), "sync_all_columns" (add, drop, retype), or "exact"
 *		(a table model: as sync_all_columns, types with their modifiers).
 *		The table's columns after it are left in *tc.
 */
static void
reconcile_columns(Model *m, Oid relid, Columns *qc, Columns *tc, const char *mode)
{
	bool		exact = strcmp(mode, "exact") == 0;
	bool		sync = exact || strcmp(mode, "sync_all_columns") == 0;
	bool		add = sync || strcmp(mode, "append_new_columns") == 0;
	StringInfoData added,
				removed,
				retyped,
				alter;

	table_columns(relid, tc);
	initStringInfo(&added);
	initStringInfo(&removed);
	initStringInfo(&retyped);
	initStringInfo(&alter);
	for (int i = 0; i < qc->n; i++)
	{
		int			t = column_index(tc, qc->names[i]);
		const char *col = quote_identifier(qc->names[i]);
		const char *type = type_sql(qc->types[i], qc->typmods[i]);
		const char *shown = format_type_with_typemod(qc->types[i], qc->typmods[i]);

		if (t < 0)
		{
			appendStringInfo(&added, "%s%s %s", added.len ? ", " : "", col, shown);
			if (add)
				appendStringInfo(&alter, "%sADD COLUMN %s %s", alter.len ? ", " : "", col, type);
		}
		else if (tc->types[t] != qc->types[i] ||
				 (exact && tc->typmods[t] != qc->typmods[i]))
		{
			appendStringInfo(&retyped, "%s%s %s to %s", retyped.len ? ", " : "", col,
							 format_type_with_typemod(tc->types[t], tc->typmods[t]), shown);
			if (sync)
				appendStringInfo(&alter, "%sALTER COLUMN %s TYPE %s USING %s::%s",
								 alter.len ? ", " : "", col, type, col, type);
		}
	}
	for (int t = 0; t < tc->n; t++)
		if (column_index(qc, tc->names[t]) < 0)
		{
			appendStringInfo(&removed, "%s%s", removed.len ? ", " : "", quote_identifier(tc->names[t]));
			if (sync)
				appendStringInfo(&alter, "%sDROP COLUMN %s", alter.len ? ", " : "",
								 quote_identifier(tc->names[t]));
		}
	if (added.len == 0 && removed.len == 0 && retyped.len == 0)
		return;
	if (strcmp(mode, "fail") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the columns of model \"%s\" differ from those of its table %s",
						m->name, m->qualified),
				 errdetail("New in the query: %s.  Not in the query: %s.  Changed type: %s.",
						   added.len ? added.data : "none", removed.len ? removed.data : "none",
						   retyped.len ? retyped.data : "none"),
				 errhint("Set on_schema_change to append_new_columns, sync_all_columns or ignore, "
						 "or build it with full_refresh => true.")));
	if (alter.len == 0)
		return;
	exec(psprintf("ALTER TABLE %s %s", m->qualified, alter.data), SPI_OK_UTILITY);
	table_columns(relid, tc);
}

/* ------------------------------------------- the new heap of a rebuild */

/*
 * A DestReceiver that writes the query's rows into the new heap of a
 * rebuild, frozen (as matview.c's transientrel receiver): a reader whose
 * snapshot is older than the rebuild, and which waited for the swap, sees
 * the new rows rather than none.  Columns are placed by name (the table
 * may have dropped columns); NOT NULL and CHECK constraints of the table
 * are checked here, since nothing else would (unique ones are checked when
 * the swap rebuilds the indexes).
 */
typedef struct HeapReceiver
{
	DestReceiver pub;
	Relation	target;			/* the model's table: its constraints */
	Oid			newheap;
	Relation	heap;
	AttrNumber *map;			/* query column i -> attribute number */
	int			ncols;
	TupleTableSlot *slot;
	EState	   *estate;
	ResultRelInfo *rri;
	bool		constrained;
	CommandId	cid;
	BulkInsertState bistate;
	uint64		rows;
} HeapReceiver;

#define HEAP_RECEIVER_OPTIONS	(TABLE_INSERT_SKIP_FSM | TABLE_INSERT_FROZEN)

static void
heap_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	HeapReceiver *r = (HeapReceiver *) self;

	if (typeinfo->natts != r->ncols)
		elog(ERROR, "the query of the model returned %d columns, expected %d", typeinfo->natts, r->ncols);
	r->heap = table_open(r->newheap, NoLock);
	r->slot = MakeSingleTupleTableSlot(RelationGetDescr(r->heap), &TTSOpsVirtual);
	r->estate = CreateExecutorState();
	r->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(r->rri, r->target, 0, NULL, 0);
	r->constrained = RelationGetDescr(r->target)->constr != NULL;
	r->cid = GetCurrentCommandId(true);
	r->bistate = GetBulkInsertState();
}

static bool
heap_receive(TupleTableSlot *in, DestReceiver *self)
{
	HeapReceiver *r = (HeapReceiver *) self;
	TupleTableSlot *out = r->slot;
	int			natts = out->tts_tupleDescriptor->natts;

	slot_getallattrs(in);
	ExecClearTuple(out);
	for (int a = 0; a < natts; a++)
		out->tts_isnull[a] = true;
	for (int i = 0; i < r->ncols; i++)
	{
		out->tts_values[r->map[i] - 1] = in->tts_values[i];
		out->tts_isnull[r->map[i] - 1] = in->tts_isnull[i];
	}
	ExecStoreVirtualTuple(out);
	if (r->constrained)
	{
		ResetPerTupleExprContext(r->estate);
		ExecConstraints(r->rri, out, r->estate);
	}
	table_tuple_insert(r->heap, out, r->cid, HEAP_RECEIVER_OPTIONS, r->bistate);
	r->rows++;
	return true;
}

static void
heap_shutdown(DestReceiver *self)
{
	HeapReceiver *r = (HeapReceiver *) self;

	FreeBulkInsertState(r->bistate);
	table_finish_bulk_insert(r->heap, HEAP_RECEIVER_OPTIONS);
	ExecDropSingleTupleTableSlot(r->slot);
	FreeExecutorState(r->estate);
	table_close(r->heap, NoLock);
	r->heap = NULL;
}

static void
heap_destroy(DestReceiver *self)
{
	pfree(self);
}

/*
 * swap_in_rows
 *		Rebuild a table keeping its OID: fill a new heap with the query's
 *		rows while readers still read the old one (ExclusiveLock: no other
 *		writer), then take AccessExclusiveLock and swap the heaps; the
 *		indexes are rebuilt.  The caller is the owner in a restricted
 *		operation under the model's path, and has reconciled the columns.
 */
static uint64
swap_in_rows(Oid relid, const char *select, Columns *qc, Columns *tc)
{
	Relation	rel = table_open(relid, NoLock);
	char		persistence = rel->rd_rel->relpersistence;
	Oid			newheap;
	HeapReceiver *r = palloc0(sizeof(HeapReceiver));
	SPIExecuteOptions options = {0};
	uint64		rows;

	newheap = make_new_heap(relid, rel->rd_rel->reltablespace, rel->rd_rel->relam,
							persistence, ExclusiveLock);
	LockRelationOid(newheap, AccessExclusiveLock);

	r->pub.receiveSlot = heap_receive;
	r->pub.rStartup = heap_startup;
	r->pub.rShutdown = heap_shutdown;
	r->pub.rDestroy = heap_destroy;
	r->pub.mydest = DestTransientRel;
	r->target = rel;
	r->newheap = newheap;
	r->ncols = qc->n;
	r->map = palloc(sizeof(AttrNumber) * (qc->n + 1));
	for (int i = 0; i < qc->n; i++)
		r->map[i] = tc->attnums[column_index(tc, qc->names[i])];

	options.dest = (DestReceiver *) r;
	if (SPI_execute_extended(select, &options) != SPI_OK_SELECT)
		elog(ERROR, "could not run the query of the model");
	rows = r->rows;

	LockRelationOid(relid, AccessExclusiveLock);
	finish_heap_swap(relid, newheap, false, false, true, true,
					 RecentXmin, ReadNextMultiXactId(), persistence);
	table_close(rel, NoLock);
	return rows;
}

/* ------------------------------------------------------ materializations */

/*
 * A model that reads its own table (an incremental one's filter,
 * "WHERE NOT pipeline.is_incremental() OR t > (SELECT max(t) FROM me)")
 * cannot be analysed before that table exists.  Its first build takes the
 * table's columns from the query with every reference to itself replaced
 * by a stand-in of the same columns: the query's own select list over its
 * FROM, without WHERE and HAVING, LIMIT 0 (a WITH item named
 * SELF_STANDIN).  The empty table is created with those columns, and then
 * filled by the query itself, which now finds it.
 */
#define SELF_STANDIN "pp_model_self"

typedef struct SelfRefs
{
	Model	   *m;
	bool		rename;			/* point them at the stand-in */
	int			found;
} SelfRefs;

static bool
self_refs_walker(Node *node, SelfRefs *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeVar))
	{
		RangeVar   *rv = (RangeVar *) node;

		if (strcmp(rv->relname, ctx->m->relname) == 0 && rv->catalogname == NULL &&
			(rv->schemaname == NULL || strcmp(rv->schemaname, ctx->m->schema) == 0))
		{
			ctx->found++;
			if (ctx->rename)
			{
				rv->schemaname = NULL;
				rv->relname = SELF_STANDIN;
			}
		}
		return false;
	}
	return raw_expression_tree_walker(node, self_refs_walker, (void *) ctx);
}

/*
 * shape_without_self
 *		The columns of a SELECT that reads its own (missing) table, or
 *		false when it does not read it.
 */
static bool
shape_without_self(Model *m, const char *select, Columns *qc)
{
	RawStmt    *rs = linitial_node(RawStmt, parse_text(select));
	SelectStmt *top = (SelectStmt *) rs->stmt;
	SelectStmt *standin;
	A_Const    *zero;
	CommonTableExpr *cte;
	SelfRefs	ctx = {m, false, 0};
	Query	   *q;
	ListCell   *lc;

	(void) self_refs_walker((Node *) top, &ctx);
	if (ctx.found == 0)
		return false;
	standin = copyObject(top);
	standin->whereClause = NULL;
	standin->havingClause = NULL;
	standin->withClause = NULL;
	standin->sortClause = NIL;
	standin->limitOffset = NULL;
	zero = makeNode(A_Const);
	zero->val.ival.type = T_Integer;
	zero->val.ival.ival = 0;
	zero->location = -1;
	standin->limitCount = (Node *) zero;
	ctx.found = 0;
	(void) self_refs_walker((Node *) standin, &ctx);
	if (ctx.found > 0 || top->op != SETOP_NONE || top->valuesLists != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("model \"%s\" reads its own table %s, which does not exist yet", m->name, m->qualified),
				 errdetail("Only a reference in WHERE or HAVING (a filter) can be built before the table exists."),
				 errhint("Create the table first, or build the model once without the reference.")));
	ctx.rename = true;
	(void) self_refs_walker((Node *) top, &ctx);
	cte = makeNode(CommonTableExpr);
	cte->ctename = SELF_STANDIN;
	cte->ctequery = (Node *) standin;
	cte->location = -1;
	if (top->withClause == NULL)
	{
		top->withClause = makeNode(WithClause);
		top->withClause->location = -1;
	}
	foreach(lc, top->withClause->ctes)
		if (strcmp(lfirst_node(CommonTableExpr, lc)->ctename, SELF_STANDIN) == 0)
			elog(ERROR, "a WITH item is already named %s", SELF_STANDIN);
	top->withClause->ctes = lappend(top->withClause->ctes, cte);
	q = parse_analyze_fixedparams(rs, select, NULL, 0, NULL);
	query_columns(m, q, qc);
	return true;
}

/* CREATE TABLE with the columns, then the query's rows */
static uint64
create_then_fill(Model *m, const char *select, Columns *qc)
{
	StringInfoData def;

	initStringInfo(&def);
	for (int i = 0; i < qc->n; i++)
		appendStringInfo(&def, "%s%s %s", i ? ", " : "", quote_identifier(qc->names[i]),
						 type_sql(qc->types[i], qc->typmods[i]));
	exec(psprintf("CREATE TABLE %s (%s)", m->qualified, def.data), SPI_OK_UTILITY);
	exec(psprintf("INSERT INTO %s SELECT * FROM (%s) q", m->qualified, select), SPI_OK_INSERT);
	return SPI_processed;
}

/*
 * build_table
 *		A table model, or an incremental model's first (or full) build.
 *		Runs as the owner under the model's path.
 */
static uint64
build_table(Model *m, Oid relid, const char *select, bool full_refresh)
{
	Columns		qc,
				tc;

	if (OidIsValid(relid))
		relid = replace_relation(m, relid, RELKIND_RELATION, full_refresh);
	if (!OidIsValid(relid))
	{
		if (shape_without_self(m, select, &qc))
			return create_then_fill(m, select, &qc);
		exec(psprintf("CREATE TABLE %s AS %s", m->qualified, select), SPI_OK_UTILITY);
		return SPI_processed;
	}
	LockRelationOid(relid, ExclusiveLock);
	(void) analyze_select(m, select, &qc);
	reconcile_columns(m, relid, &qc, &tc, "exact");
	if (get_rel_relkind(relid) == RELKIND_RELATION)
		return swap_in_rows(relid, select, &qc, &tc);

	/* a partitioned table: replaced row by row, in the transaction */
	exec(psprintf("DELETE FROM %s", m->qualified), SPI_OK_DELETE);
	exec(psprintf("INSERT INTO %s (%s) SELECT %s FROM (%s) q", m->qualified,
				  column_list(qc.names, qc.n, ""), column_list(qc.names, qc.n, "q."), select),
		 SPI_OK_INSERT);
	return SPI_processed;
}

static uint64
build_view(Model *m, Oid relid, const char *select, bool full_refresh)
{
	if (OidIsValid(relid))
		(void) replace_relation(m, relid, RELKIND_VIEW, full_refresh);
	exec(psprintf("CREATE OR REPLACE VIEW %s AS %s", m->qualified, select), SPI_OK_UTILITY);
	return 0;
}

/* a view's definition, for comparison: no surrounding blanks or ';' */
static char *
trimmed(char *s)
{
	int			len;

	while (*s == ' ' || *s == '\n')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ';' || s[len - 1] == ' ' || s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

/*
 * as_stored
 *		The query as PostgreSQL 15 stores it as a view's rule (view.c,
 *		UpdateRangeTableOfViewParse): with the view as "old" and "new" in
 *		front of its range table, which changes how it is deparsed.
 */
static Query *
as_stored(Query *q, Oid relid)
{
	Query	   *copy = copyObject(q);
	Relation	rel = relation_open(relid, AccessShareLock);
	ParseState *pstate = make_parsestate(NULL);
	RangeTblEntry *old_rte = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
														  makeAlias("old", NIL), false, false)->p_rte;
	RangeTblEntry *new_rte = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
														  makeAlias("new", NIL), false, false)->p_rte;

	OffsetVarNodes((Node *) copy, 2, 0);
	copy->rtable = lcons(old_rte, lcons(new_rte, copy->rtable));
	relation_close(rel, NoLock);
	return copy;
}

/*
 * build_materialized_view
 *		CREATE it, or REFRESH it when its stored query is the model's (both
 *		deparsed under the model's path); a changed query needs
 *		full_refresh, which drops and creates it.
 */
static uint64
build_materialized_view(Model *m, Oid relid, const char *select, bool full_refresh)
{
	if (OidIsValid(relid))
		relid = replace_relation(m, relid, RELKIND_MATVIEW, full_refresh);
	if (OidIsValid(relid) && full_refresh)
	{
		exec(psprintf("DROP MATERIALIZED VIEW %s", m->qualified), SPI_OK_UTILITY);
		relid = InvalidOid;
	}
	if (!OidIsValid(relid))
	{
		exec(psprintf("CREATE MATERIALIZED VIEW %s AS %s", m->qualified, select), SPI_OK_UTILITY);
		return SPI_processed;
	}
	else
	{
		Columns		qc;
		Query	   *q = analyze_select(m, select, &qc);
		char	   *stored = TextDatumGetCString(DirectFunctionCall1(pg_get_viewdef,
																	 ObjectIdGetDatum(relid)));

		if (strcmp(trimmed(stored), trimmed(pg_get_querydef(as_stored(q, relid), false))) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the query of model \"%s\" changed since its materialized view was created",
							m->name),
					 errhint("Build it with full_refresh => true to drop and create it "
							 "(drop what depends on it first).")));
	}
	exec(psprintf("REFRESH MATERIALIZED VIEW %s", m->qualified), SPI_OK_UTILITY);
	exec(psprintf("SELECT pg_catalog.count(*) FROM %s", m->qualified), SPI_OK_SELECT);
	{
		bool		isnull;

		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
}

/* ------------------------------------------------------------ incremental */

static bool table_max_time(Model *m, TimestampTz *out);

/* The rows an incremental build reads, by incremental_by. */
typedef struct Window
{
	const char *column;			/* quoted; NULL: no filter */
	bool		has_lower;		/* col > lower, or col >= lower (strict false) */
	bool		strict;
	TimestampTz lower;
	bool		has_upper;		/* col < upper */
	TimestampTz upper;
} Window;

/* "<alias>.col > $1 AND <alias>.col < $2", or "true" */
static char *
window_sql(Window *w, const char *alias)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (w->column && w->has_lower)
		appendStringInfo(&buf, "%s.%s OPERATOR(pg_catalog.%s) $1", alias, w->column,
						 w->strict ? ">" : ">=");
	if (w->column && w->has_upper)
		appendStringInfo(&buf, "%s%s.%s OPERATOR(pg_catalog.<) $2", buf.len ? " AND " : "",
						 alias, w->column);
	return buf.len ? buf.data : "true";
}

static int
run_in_window(const char *sql, Window *w, int expected)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2] = {TimestampTzGetDatum(w->lower), TimestampTzGetDatum(w->upper)};
	int			rc = SPI_execute_with_args(sql, 2, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "could not run: %s (%s)", sql, SPI_result_code_string(rc));
	return rc;
}

/* the quoted schema of an operator */
static const char *
operator_schema(Oid opr)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opr);
	nsp = ((Form_pg_operator) GETSTRUCT(tup))->oprnamespace;
	ReleaseSysCache(tup);
	return quote_identifier(get_namespace_name(nsp));
}

/*
 * key_match
 *		The join of target t and staged s on the unique key: with each key
 *		type's equality operator (hashable, indexable) for rows without a
 *		NULL key, IS NOT DISTINCT FROM for the others.
 */
static char *
key_match(Model *m, Columns *qc, bool nulls)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < m->nkeys; k++)
	{
		const char *col = quote_identifier(m->keys[k]);

		if (nulls)
			appendStringInfo(&buf, "%st.%s IS NOT DISTINCT FROM s.%s", k ? " AND " : "", col, col);
		else
		{
			Oid			type = qc->types[column_index(qc, m->keys[k])];
			TypeCacheEntry *tce = lookup_type_cache(type, TYPECACHE_EQ_OPR);

			if (!OidIsValid(tce->eq_opr))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FUNCTION),
						 errmsg("column \"%s\" of the unique key of model \"%s\" has no equality operator",
								m->keys[k], m->name)));
			appendStringInfo(&buf, "%st.%s OPERATOR(%s.=) s.%s", k ? " AND " : "", col,
							 operator_schema(tce->eq_opr), col);
		}
	}
	return buf.data;
}

/* "s.k1 IS NULL OR s.k2 IS NULL" */
static char *
key_has_null(Model *m)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < m->nkeys; k++)
		appendStringInfo(&buf, "%ss.%s IS NULL", k ? " OR " : "", quote_identifier(m->keys[k]));
	return buf.data;
}

/* is the column part of the model's unique key? */
static bool
is_key_column(Model *m, const char *name)
{
	for (int k = 0; k < m->nkeys; k++)
		if (strcmp(m->keys[k], name) == 0)
			return true;
	return false;
}

/* refuse a key that appears twice among the staged rows, naming some */
static void
check_duplicates(Model *m, const char *stage)
{
	char	   *keys = column_list(m->keys, m->nkeys, "s.");
	StringInfoData named;
	int64		total = 0;

	exec(psprintf("SELECT d.k, pg_catalog.count(*) OVER () FROM "
				  "(SELECT ROW(%s)::text AS k FROM %s s GROUP BY %s "
				  "HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1) d ORDER BY d.k LIMIT %d",
				  keys, stage, keys, MAX_DUPLICATES_NAMED), SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	initStringInfo(&named);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		appendStringInfo(&named, "%s%s", r ? ", " : "",
						 SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
		total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}
	ereport(ERROR,
			(errcode(ERRCODE_CARDINALITY_VIOLATION),
			 errmsg("the unique key (%s) of model \"%s\" is not unique in the new rows",
					column_list(m->keys, m->nkeys, ""), m->name),
			 errdetail_plural("%lld key appears more than once: %s.",
							  "%lld keys appear more than once, among them: %s.",
							  total, (long long) total, named.data),
			 errhint("Make the model's query return one row per key, "
					 "or use strategy 'delete+insert', which keeps every row.")));
}

/*
 * write_staged
 *		merge and delete+insert: the rows are staged in a temporary table
 *		(created by the owner before the restricted operation, as
 *		matview.c does), checked, then written.  The caller is back in the
 *		restricted operation when it returns.
 */
static uint64
write_staged(Model *m, const char *select, Columns *qc, Columns *cols, Window *w,
			 PipelineAsRole *as)
{
	char	   *stage = psprintf("pg_temp.%s", quote_identifier(psprintf("pp_model_stage_%d", m->id)));
	StringInfoData def;
	char	   *names = column_list(cols->names, cols->n, "");
	char	   *snames = column_list(cols->names, cols->n, "s.");
	const char *nonnull;
	bool		has_nulls;
	uint64		rows = 0;
	bool		isnull;

	initStringInfo(&def);
	for (int i = 0; i < qc->n; i++)
		appendStringInfo(&def, "%s%s %s", i ? ", " : "", quote_identifier(qc->names[i]),
						 type_sql(qc->types[i], qc->typmods[i]));
	pp_as_role_end(as);
	pp_as_role_begin_ddl(as, m->owner);
	exec(psprintf("CREATE TEMPORARY TABLE %s (%s)", stage, def.data), SPI_OK_UTILITY);
	pp_as_role_end(as);
	pp_as_role_begin_path(as, m->owner, m->search_path);

	run_in_window(psprintf("INSERT INTO %s SELECT q.* FROM (%s) q WHERE %s", stage, select,
						   window_sql(w, "q")), w, SPI_OK_INSERT);
	/* not analysed: like dbt's temporary table; see docs/models/build.md */
	if (strcmp(m->strategy, "merge") == 0)
		check_duplicates(m, stage);
	exec(psprintf("SELECT EXISTS (SELECT FROM %s s WHERE %s)", stage, key_has_null(m)), SPI_OK_SELECT);
	has_nulls = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	nonnull = psprintf("(SELECT * FROM %s s WHERE NOT (%s))", stage, key_has_null(m));

	if (strcmp(m->strategy, "merge") == 0)
	{
		StringInfoData set;
		int			nset = 0;

		initStringInfo(&set);
		for (int i = 0; i < cols->n; i++)
			if (!is_key_column(m, cols->names[i]))
				appendStringInfo(&set, "%s%s = s.%s", nset++ ? ", " : "",
								 quote_identifier(cols->names[i]), quote_identifier(cols->names[i]));
		for (int pass = 0; pass < (has_nulls ? 2 : 1); pass++)
		{
			exec(psprintf("MERGE INTO %s t USING %s s ON %s "
						  "WHEN MATCHED THEN %s%s "
						  "WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)",
						  m->qualified,
						  pass == 0 ? nonnull : psprintf("(SELECT * FROM %s s WHERE %s)", stage, key_has_null(m)),
						  key_match(m, qc, pass == 1),
						  nset ? "UPDATE SET " : "DO NOTHING", set.data, names, snames),
				 SPI_OK_MERGE);
			rows += SPI_processed;
		}
	}
	else
	{
		exec(psprintf("DELETE FROM %s t WHERE EXISTS (SELECT FROM %s s WHERE %s)",
					  m->qualified, nonnull, key_match(m, qc, false)), SPI_OK_DELETE);
		if (has_nulls)
			exec(psprintf("DELETE FROM %s t WHERE EXISTS (SELECT FROM %s s WHERE (%s) AND %s)",
						  m->qualified, stage, key_has_null(m), key_match(m, qc, true)), SPI_OK_DELETE);
		exec(psprintf("INSERT INTO %s (%s) SELECT %s FROM %s s", m->qualified, names, snames, stage),
			 SPI_OK_INSERT);
		rows = SPI_processed;
	}
	exec(psprintf("DROP TABLE %s", stage), SPI_OK_UTILITY);
	return rows;
}

/*
 * merge_arbiter
 *		Can merge write the new rows in one INSERT ... ON CONFLICT (key) DO
 *		UPDATE, without staging them?  Only where that statement does what
 *		the staged MERGE does: a plain table (no inheritance children, no
 *		rules, no row security, no triggers but the system's: a BEFORE
 *		INSERT trigger would see the rows that end as updates) with an
 *		immediate unique index on exactly the key columns, plain columns of
 *		the query's types with their default operator class and collation
 *		(so the index's equality is the key's), and a column besides the
 *		key (DO NOTHING would let duplicates through).  *nulls_equal: the
 *		index is NULLS NOT DISTINCT, so it matches NULL parts null-safely.
 */
static bool
merge_arbiter(Model *m, Oid relid, Columns *qc, Columns *cols, bool *nulls_equal)
{
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	if (cols->n <= m->nkeys)
		return false;
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relrowsecurity || rel->rd_rules != NULL)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	if (rel->trigdesc)
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
			if (!rel->trigdesc->triggers[i].tgisinternal)
			{
				table_close(rel, AccessShareLock);
				return false;
			}
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;
		oidvector  *opclass;
		oidvector  *collation;
		bool		isnull;
		bool		fits;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		fits = idx->indisunique && idx->indimmediate && idx->indisvalid && idx->indisready &&
			idx->indislive && idx->indnkeyatts == m->nkeys &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL);
		if (fits)
		{
			opclass = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup,
																	Anum_pg_index_indclass, &isnull));
			collation = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup,
																	  Anum_pg_index_indcollation, &isnull));
			for (int k = 0; fits && k < m->nkeys; k++)
			{
				int			attno = idx->indkey.values[k];
				Form_pg_attribute att;

				if (attno <= 0)
				{
					fits = false;
					break;
				}
				att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
				fits = is_key_column(m, NameStr(att->attname)) && att->atttypid == qc->types[column_index(qc, NameStr(att->attname))] &&
					opclass->values[k] == GetDefaultOpClass(att->atttypid, BTREE_AM_OID) &&
					collation->values[k] == att->attcollation;
			}
		}
		if (fits)
		{
			found = true;
			*nulls_equal = idx->indnullsnotdistinct;
		}
		ReleaseSysCache(tup);
		if (found)
			break;
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * merge_direct
 *		merge by the table's unique index on the key (merge_arbiter): one
 *		statement reads the query and writes its rows, no staging, no join.
 *		With plain, a plain INSERT: the unique index's own check on insert
 *		is the only lookup of each key, so when every key is new (the usual
 *		incremental batch) this is the cheapest merge there is; a key that
 *		exists already ends it in a unique violation.  Without plain, an
 *		INSERT ... ON CONFLICT (key) DO UPDATE: matched rows updated, others
 *		inserted, at the price of speculative insertion (a lookup before
 *		each insert, about 1.5 times a plain INSERT's cost).
 *		The statement runs in a subtransaction and is undone, returning
 *		false (the caller then tries the next way: ON CONFLICT, then
 *		staging, which names duplicate keys or raises the error again), when
 *		it fails on a constraint ("cannot affect row a second time" or a
 *		unique violation) or when a new row has a NULL key part that the
 *		index does not match null-safely (*null_key set: only staging
 *		matches it).  No trigger sees the undone rows (merge_arbiter).
 */
static bool
merge_direct(Model *m, const char *select, Columns *cols, Window *w, bool nulls_equal,
			 bool plain, bool *null_key, uint64 *rows)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	StringInfoData set;
	char	   *keys = column_list(m->keys, m->nkeys, "");
	char	   *nulls = key_has_null(m);
	char	   *sql;
	volatile bool done = false;

	initStringInfo(&set);
	if (!plain)
	{
		appendStringInfo(&set, "ON CONFLICT (%s) DO UPDATE SET ", keys);
		for (int i = 0, n = 0; i < cols->n; i++)
			if (!is_key_column(m, cols->names[i]))
				appendStringInfo(&set, "%s%s = EXCLUDED.%s", n++ ? ", " : "",
								 quote_identifier(cols->names[i]), quote_identifier(cols->names[i]));
	}
	sql = psprintf("WITH pp_w AS (INSERT INTO %s AS s (%s) SELECT %s FROM (%s) q WHERE %s "
				   "%s RETURNING %s AS pp_null) "
				   "SELECT pg_catalog.count(*), pg_catalog.bool_or(pp_w.pp_null) FROM pp_w",
				   m->qualified, column_list(cols->names, cols->n, ""),
				   column_list(cols->names, cols->n, "q."), select, window_sql(w, "q"),
				   set.data, nulls);
	*null_key = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		bool		isnull;

		run_in_window(sql, w, SPI_OK_SELECT);
		*rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		done = nulls_equal ||
			!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) ||
			isnull;
		*null_key = !done;
		if (done)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_CARDINALITY_VIOLATION &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return done;
}

/*
 * check_incremental
 *		What an incremental model needs, checked before its first build
 *		too: a unique key for merge and delete+insert, an incremental_by
 *		time column for event_time, and those columns in the query.
 *		Returns the query's columns in *qc.
 */
static void
check_incremental(Model *m, const char *select, Columns *qc, bool exists)
{
	bool		keyed = strcmp(m->strategy, "merge") == 0 || strcmp(m->strategy, "delete+insert") == 0;

	if (keyed && m->nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" has strategy '%s' but no unique_key", m->name, m->strategy)));
	if (strcmp(m->strategy, "event_time") == 0 && m->incremental_by == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" has strategy 'event_time' but no incremental_by column", m->name)));

	if (exists || !shape_without_self(m, select, qc))
		(void) analyze_select(m, select, qc);
	if (m->incremental_by)
	{
		int			i = column_index(qc, m->incremental_by);

		if (i < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the query of model \"%s\" has no column \"%s\"", m->name, m->incremental_by),
					 errdetail("incremental_by names an output column of the query.")));
		if (qc->types[i] != TIMESTAMPTZOID && qc->types[i] != TIMESTAMPOID && qc->types[i] != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of model \"%s\" is of type %s", m->incremental_by, m->name,
							format_type_be(qc->types[i])),
					 errdetail("incremental_by is a timestamptz, timestamp or date column.")));
	}
	for (int k = 0; k < m->nkeys; k++)
		if (column_index(qc, m->keys[k]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the query of model \"%s\" has no column \"%s\" of its unique key",
							m->name, m->keys[k])));
}

/*
 * build_incremental
 *		Write the new rows into the existing table by the model's strategy.
 *		*new_hwm gets the largest event time written (event_time).
 */
static uint64
build_incremental(Model *m, Oid relid, const char *select, Columns *qc, BuildState *st,
				  PipelineAsRole *as, bool *has_new_hwm, TimestampTz *new_hwm)
{
	Columns		tc,
				cols;
	Window		w = {0};
	bool		keyed = strcmp(m->strategy, "merge") == 0 || strcmp(m->strategy, "delete+insert") == 0;
	bool		event_time = strcmp(m->strategy, "event_time") == 0;
	char	   *names;
	uint64		rows;

	if (m->incremental_by)
		w.column = quote_identifier(m->incremental_by);
	check_owner(m, relid);
	reconcile_columns(m, relid, qc, &tc, m->on_schema_change);

	/* the columns written: the query's that the table has */
	cols.names = palloc(sizeof(char *) * (qc->n + 1));
	cols.n = 0;
	for (int i = 0; i < qc->n; i++)
		if (column_index(&tc, qc->names[i]) >= 0)
			cols.names[cols.n++] = qc->names[i];
	for (int k = 0; k < m->nkeys; k++)
		if (column_index(&tc, m->keys[k]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the table of model \"%s\" has no column \"%s\" of its unique key",
							m->name, m->keys[k])));
	if (w.column && column_index(&tc, m->incremental_by) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the table of model \"%s\" has no column \"%s\"", m->name, m->incremental_by)));
	names = column_list(cols.names, cols.n, "");

	/* the rows read: [interval_start, interval_end), or after hwm - lookback */
	if (w.column && (st->has_start || st->has_end))
	{
		w.has_lower = st->has_start;
		w.lower = st->start;
		w.has_upper = st->has_end;
		w.upper = st->end;
	}
	else if (w.column)
	{
		if (!m->has_hwm)		/* a table the model did not fill: what it has is built */
			m->has_hwm = table_max_time(m, &m->hwm);
		if (m->has_hwm)
		{
			w.has_lower = true;
			w.strict = true;
			w.lower = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
															  TimestampTzGetDatum(m->hwm),
															  IntervalPGetDatum(m->lookback)));
			st->has_start = true;
			st->start = w.lower;
		}
	}

	if (strcmp(m->strategy, "merge") == 0)
	{
		bool		nulls_equal = false;

		bool		null_key = false;

		/* a plain INSERT when every key is new, else ON CONFLICT, else staged */
		if (merge_arbiter(m, relid, qc, &cols, &nulls_equal) &&
			(merge_direct(m, select, &cols, &w, nulls_equal, true, &null_key, &rows) ||
			 (!null_key && merge_direct(m, select, &cols, &w, nulls_equal, false, &null_key, &rows))))
			return rows;
	}
	if (keyed)
		return write_staged(m, select, qc, &cols, &w, as);

	if (!event_time)
	{
		run_in_window(psprintf("INSERT INTO %s (%s) SELECT %s FROM (%s) q WHERE %s", m->qualified,
							   names, column_list(cols.names, cols.n, "q."), select, window_sql(&w, "q")),
					  &w, SPI_OK_INSERT);
		rows = SPI_processed;
	}
	else
	{
		bool		isnull;
		Datum		d;

		/* the window is rebuilt: its old rows out, the query's in */
		run_in_window(psprintf("WITH pp_d AS (DELETE FROM %s t WHERE %s), "
							   "pp_i AS (INSERT INTO %s (%s) SELECT %s FROM (%s) q WHERE %s RETURNING %s) "
							   "SELECT pg_catalog.count(*), pg_catalog.max(pp_i.%s)::pg_catalog.timestamptz "
							   "FROM pp_i",
							   m->qualified, window_sql(&w, "t"),
							   m->qualified, names, column_list(cols.names, cols.n, "q."), select,
							   window_sql(&w, "q"), w.column, w.column),
					  &w, SPI_OK_SELECT);
		rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		*has_new_hwm = !isnull;
		*new_hwm = isnull ? 0 : DatumGetTimestampTz(d);
	}
	return rows;
}

/* the largest event time in the model's table (after a full build) */
static bool
table_max_time(Model *m, TimestampTz *out)
{
	bool		isnull;
	Datum		d;

	exec(psprintf("SELECT pg_catalog.max(%s)::pg_catalog.timestamptz FROM %s",
				  quote_identifier(m->incremental_by), m->qualified), SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*out = isnull ? 0 : DatumGetTimestampTz(d);
	return !isnull;
}

/* --------------------------------------------------------------- the API */

/* pipeline._snapshot_build(model_id), when the snapshots' part is installed */
static uint64
build_snapshot(Model *m)
{
	int			level = pp_pinned_search_path_begin();
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(m->id)};
	bool		isnull;
	uint64		rows;

	exec("SELECT pg_catalog.to_regprocedure('pipeline._snapshot_build(integer)') IS NOT NULL",
		 SPI_OK_SELECT);
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" is a snapshot, and snapshots cannot be built here", m->name),
				 errdetail("pipeline._snapshot_build(integer) does not exist.")));
	if (SPI_execute_with_args("SELECT pipeline._snapshot_build($1)", 1, argtypes, values, NULL,
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run pipeline._snapshot_build");
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pp_pinned_search_path_end(level);
	return isnull ? 0 : rows;
}

/*
 * build
 *		One model, as its owner under its path (the caller holds SPI).
 */
static uint64
build(Model *m, bool full_refresh, BuildState *st)
{
	PipelineAsRole as;
	Oid			relid;
	const char *select;
	Columns		qc;
	bool		set_hwm = false;
	bool		has_hwm = false;
	TimestampTz hwm = 0;
	uint64		rows = 0;
	bool		incremental = strcmp(m->materialized, "incremental") == 0;

	if (strcmp(m->materialized, "seed") == 0 || strcmp(m->materialized, "ephemeral") == 0)
		return 0;
	if (strcmp(m->materialized, "snapshot") == 0)
	{
		rows = build_snapshot(m);
		pp_model_set_built(m->id, false, false, 0);
		return rows;
	}

	select = model_select(m);
	pp_as_role_begin_path(&as, m->owner, m->search_path);
	relid = model_relation(m);
	if (OidIsValid(relid))
		check_owner(m, relid);
	if (incremental)
		check_incremental(m, select, &qc, OidIsValid(relid));

	if (strcmp(m->materialized, "view") == 0)
		rows = build_view(m, relid, select, full_refresh);
	else if (strcmp(m->materialized, "materialized_view") == 0)
		rows = build_materialized_view(m, relid, select, full_refresh);
	else if (!incremental || !OidIsValid(relid) || full_refresh ||
			 (get_rel_relkind(relid) != RELKIND_RELATION &&
			  get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE))
	{
		rows = build_table(m, relid, select, full_refresh);
		/* an event-time model's mark: what the new table has */
		set_hwm = incremental && m->incremental_by != NULL;
		if (set_hwm)
			has_hwm = table_max_time(m, &hwm);
	}
	else
	{
		st->incremental = true;
		rows = build_incremental(m, relid, select, &qc, st, &as, &has_hwm, &hwm);
		if (m->has_hwm && (!has_hwm || hwm < m->hwm))
			hwm = m->hwm;		/* the mark never goes back */
		has_hwm |= m->has_hwm;
		set_hwm = has_hwm;
	}
	pp_as_role_end(&as);
	pp_model_set_built(m->id, set_hwm, has_hwm, hwm);
	return rows;
}

PG_FUNCTION_INFO_V1(pipeline__model_build);
Datum
pipeline__model_build(PG_FUNCTION_ARGS)
{
	BuildState	st = {0};
	BuildState *volatile previous = current_build;
	BuildContext *volatile previous_context = build_context;
	ErrorContextCallback callback;
	BuildContext ctx = {0};
	Model	   *m;
	uint64		rows = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model_id must not be NULL")));
	st.has_start = !PG_ARGISNULL(2);
	st.start = st.has_start ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	st.has_end = !PG_ARGISNULL(3);
	st.end = st.has_end ? PG_GETARG_TIMESTAMPTZ(3) : 0;
	if (st.has_start && st.has_end && st.start >= st.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("interval_start must be before interval_end")));

	SPI_connect();
	m = load_model(PG_GETARG_INT32(0));
	(void) pp_xact_lock(MODEL_BUILD_LOCK_CLASS, (uint32) m->id, true);

	ctx.name = m->name;
	callback.callback = build_error_context;
	callback.arg = &ctx;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	current_build = &st;
	build_context = &ctx;
	PG_TRY();
	{
		rows = build(m, !PG_ARGISNULL(1) && PG_GETARG_BOOL(1), &st);
	}
	PG_FINALLY();
	{
		current_build = previous;
		build_context = previous_context;
	}
	PG_END_TRY();
	error_context_stack = callback.previous;
	SPI_finish();
	PG_RETURN_INT64((int64) rows);
}

PG_FUNCTION_INFO_V1(pipeline_is_incremental);
Datum
pipeline_is_incremental(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(current_build != NULL && current_build->incremental);
}

PG_FUNCTION_INFO_V1(pipeline_model_interval_start);
Datum
pipeline_model_interval_start(PG_FUNCTION_ARGS)
{
	if (current_build == NULL || !current_build->has_start)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(current_build->start);
}

PG_FUNCTION_INFO_V1(pipeline_model_interval_end);
Datum
pipeline_model_interval_end(PG_FUNCTION_ARGS)
{
	if (current_build == NULL || !current_build->has_end)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(current_build->end);
}

/*
 * pipeline._model_state_support: the planner support function of the three
 * above.  While a model builds, its query is planned for that build only,
 * and the functions are replaced by their values (SupportRequestSimplify):
 * "WHERE NOT pipeline.is_incremental() OR ordered_at > (...)" becomes
 * "WHERE ordered_at > (...)", which an index on ordered_at serves, and
 * "t >= pipeline.model_interval_start()" prunes partitions.  Outside a
 * build they are left as calls.
 */
PG_FUNCTION_INFO_V1(pipeline__model_state_support);
Datum
pipeline__model_state_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	FuncExpr   *call;
	const char *name;

	if (!IsA(rawreq, SupportRequestSimplify) || current_build == NULL)
		PG_RETURN_POINTER(NULL);
	call = ((SupportRequestSimplify *) rawreq)->fcall;
	name = get_func_name(call->funcid);
	if (name == NULL)
		PG_RETURN_POINTER(NULL);
	if (strcmp(name, "is_incremental") == 0)
		PG_RETURN_POINTER(makeBoolConst(current_build->incremental, false));
	if (strcmp(name, "model_interval_start") == 0)
		PG_RETURN_POINTER(makeConst(TIMESTAMPTZOID, -1, InvalidOid, sizeof(TimestampTz),
									TimestampTzGetDatum(current_build->start),
									!current_build->has_start, true));
	if (strcmp(name, "model_interval_end") == 0)
		PG_RETURN_POINTER(makeConst(TIMESTAMPTZOID, -1, InvalidOid, sizeof(TimestampTz),
									TimestampTzGetDatum(current_build->end),
									!current_build->has_end, true));
	PG_RETURN_POINTER(NULL);
}
