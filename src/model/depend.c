/*-------------------------------------------------------------------------
 *
 * depend.c
 *	  A model's dependencies, from PostgreSQL's own parse and analysis of
 *	  its SQL: every relation it reads, after search_path, including
 *	  through views.
 *
 * No templates and no ref(): a model is plain SQL, and what it reads is
 * what PostgreSQL's parser says it reads.  pp_model_parse does, with the
 * model's frozen search_path and as the model's owner (the caller sets
 * both up with pp_as_role_begin_path, common/asrole.c):
 *
 *	raw_parser: one SELECT (or VALUES, or WITH ... SELECT), nothing else;
 *	every relation name in the raw tree (RangeVar) that is not a CTE's
 *	  resolved as the analyzer will resolve it (RangeVarGetRelid); a name
 *	  that resolves to no relation but is a model's (the relation that
 *	  model will build: a model not built yet, or the model itself, as an
 *	  incremental model reads its own table) is kept by name;
 *	when every name resolved: parse_analyze, the same analysis a view's
 *	  definition gets.  Otherwise the query is not analyzed yet (its
 *	  dependencies are the names; column lineage waits for the build).
 *
 * pp_model_relations walks the analyzed query (every range table entry,
 * in subqueries, CTEs and sublinks) and, for each view it reads, the
 * view's own query, recursively: a model reading a user's view depends on
 * the view (direct) and on the view's tables (indirect, "via" the view).
 * A view that is another model's relation is not walked into: that model's
 * edges hold what it reads.
 * Materialized views are not entered: their rows are stored.
 *
 * What the parser cannot see is not a dependency: relations read inside
 * functions (a SQL or PL/pgSQL function called by the model), and
 * relations named in dynamic SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "common/pipeline.h"
#include "model/model.h"

/*
 * pp_model_error_callback
 *		Error context while a model's SQL is parsed or analyzed: the error
 *		position points into the model's SQL (shown as an internal query),
 *		not into the statement that called create_model.  As PostgreSQL's
 *		own SQL functions do (sql_function_parse_error_callback).
 *		arg: the ModelParse.
 */
void
pp_model_error_callback(void *arg)
{
	ModelParse *parse = (ModelParse *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(parse->sql);
	}
	if (parse->what)
		errcontext("SQL of %s \"%s\"", parse->kind ? parse->kind : "model", parse->what);
	else
		errcontext("SQL of a model");
}

/* "schema.relation" of a relation (NULL when it does not exist) */
char *
pp_model_qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		return NULL;
	nsp = get_namespace_name(get_rel_namespace(relid));
	return psprintf("%s.%s", nsp, rel);
}

/* ---- the raw tree: relation names ---- */

typedef struct RawNames
{
	List	   *rangevars;
	List	   *ctenames;
} RawNames;

static bool
raw_names_walker(Node *node, RawNames *names)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeVar))
	{
		names->rangevars = lappend(names->rangevars, node);
		return false;
	}
	if (IsA(node, CommonTableExpr))
		names->ctenames = lappend(names->ctenames, ((CommonTableExpr *) node)->ctename);
	return raw_expression_tree_walker(node, raw_names_walker, (void *) names);
}

static bool
is_cte_name(RawNames *names, const RangeVar *rv)
{
	ListCell   *lc;

	if (rv->schemaname != NULL)
		return false;
	foreach(lc, names->ctenames)
	{
		if (strcmp((char *) lfirst(lc), rv->relname) == 0)
			return true;
	}
	return false;
}

/*
 * model_materialized
 *		The materialization of the model whose relation would be
 *		schema.relation, NULL when no model (that the current role sees) has
 *		that name.
 */
static char *
model_materialized(const char *schema, const char *relation)
{
	Oid			types[2] = {NAMEOID, NAMEOID};
	Datum		values[2];
	char	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(relation));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT m.materialized FROM pipeline.models m "
							  "WHERE m.schema_name OPERATOR(pg_catalog.=) $1 "
							  "AND m.relation_name OPERATOR(pg_catalog.=) $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed");
	if (SPI_processed > 0)
	{
		char	   *m = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		result = MemoryContextStrdup(caller, m);
	}
	SPI_finish();
	return result;
}

/*
 * resolve_unbuilt
 *		A relation name that resolves to no relation: the model that will
 *		build it (its qualified name), or an error as the analyzer's.
 */
static char *
resolve_unbuilt(ModelParse *parse, RangeVar *rv)
{
	List	   *schemas = NIL;
	ListCell   *lc;

	if (rv->schemaname != NULL)
		schemas = list_make1(rv->schemaname);
	else
	{
		foreach(lc, fetch_search_path(false))
		{
			Oid			nsp = lfirst_oid(lc);

			if (!isAnyTempNamespace(nsp))
				schemas = lappend(schemas, get_namespace_name(nsp));
		}
	}
	foreach(lc, schemas)
	{
		char	   *schema = (char *) lfirst(lc);
		char	   *materialized = model_materialized(schema, rv->relname);

		if (materialized == NULL)
			continue;
		if (strcmp(materialized, "ephemeral") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("model \"%s.%s\" is ephemeral: it is not a relation that other models can read",
							schema, rv->relname),
					 errdetail("An ephemeral model is recorded with its SQL and its dependencies, and nothing is created for it."),
					 errhint("Materialize it as a view (pipeline.alter_model(..., materialized => 'view')), or write its SQL as a CTE."),
					 errposition(rv->location + 1)));
		return psprintf("%s.%s", schema, rv->relname);
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 rv->schemaname ?
			 errmsg("relation \"%s.%s\" does not exist", rv->schemaname, rv->relname) :
			 errmsg("relation \"%s\" does not exist", rv->relname),
			 errdetail("A model reads relations that exist, or models created before it."),
			 errhint("Create the relation, or the model that builds it, first.  Unqualified names are looked up in the search_path the model was created with."),
			 errposition(rv->location + 1)));
	return NULL;				/* keep the compiler quiet */
}

/*
 * pp_model_parse
 *		Parse the SQL of a model and analyze it when every relation it reads
 *		exists (see the file header).  Errors point into the SQL.  The
 *		caller has set up the model's role and search_path.
 */
void
pp_model_parse(const char *sql, const char *what, ModelParse *parse)
{
	pp_model_parse_kind(sql, what, NULL, parse);
}

/*
 * pp_model_parse_kind
 *		The same for the SQL of something else than a model (an
 *		expectation's custom SQL): kind names it in error contexts.
 */
void
pp_model_parse_kind(const char *sql, const char *what, const char *kind, ModelParse *parse)
{
	ErrorContextCallback callback;
	List	   *stmts;
	SelectStmt *select;
	RawNames	names = {NIL, NIL};
	ListCell   *lc;

	memset(parse, 0, sizeof(*parse));
	parse->sql = sql;
	parse->what = what;
	parse->kind = kind;
	callback.callback = pp_model_error_callback;
	callback.arg = parse;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the SQL of a model must be one SELECT statement"),
				 errdetail("It has %d statements.", list_length(stmts))));
	if (!IsA(((RawStmt *) linitial(stmts))->stmt, SelectStmt) ||
		((SelectStmt *) ((RawStmt *) linitial(stmts))->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the SQL of a model must be one SELECT statement"),
				 errdetail("It is not a SELECT, or it is a SELECT INTO."),
				 errhint("A model is a query: pg_pipeline creates and fills its relation.")));
	parse->raw = (RawStmt *) linitial(stmts);
	select = (SelectStmt *) parse->raw->stmt;

	(void) raw_names_walker((Node *) select, &names);
	foreach(lc, names.rangevars)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);
		Oid			relid;

		if (is_cte_name(&names, rv))
			continue;
		relid = RangeVarGetRelid(rv, AccessShareLock, true);
		if (OidIsValid(relid))
			parse->resolved = list_append_unique_oid(parse->resolved, relid);
		else
		{
			char	   *qualified = resolve_unbuilt(parse, rv);

			if (!list_member(parse->unbuilt, makeString(qualified)))
				parse->unbuilt = lappend(parse->unbuilt, makeString(qualified));
		}
	}

	if (parse->unbuilt == NIL)
	{
		Query	   *query = parse_analyze_fixedparams(parse->raw, sql, NULL, 0, NULL);

		if (query->commandType != CMD_SELECT || query->utilityStmt != NULL ||
			query->hasModifyingCTE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the SQL of a model must not modify data"),
					 errhint("Remove the INSERT, UPDATE or DELETE in its WITH clause.")));
		parse->query = query;
	}
	error_context_stack = callback.previous;
}

/* ---- the analyzed tree: relations read ---- */

typedef struct EdgeWalk
{
	List	   *edges;			/* ModelEdge * */
	bool		direct;
	Oid			via;
	Oid			expanding;		/* the view whose query is walked */
	List	   *direct_rtes;	/* relation entries of the model's own query */
} EdgeWalk;

static bool edges_walker(Node *node, EdgeWalk *walk);

static void
expand_view(EdgeWalk *walk, Oid view)
{
	Relation	rel = relation_open(view, AccessShareLock);
	Query	   *query = copyObject(get_view_query(rel));
	EdgeWalk	saved = *walk;

	relation_close(rel, NoLock);
	walk->direct = false;
	if (!OidIsValid(walk->via))
		walk->via = view;
	walk->expanding = view;
	(void) edges_walker((Node *) query, walk);
	walk->direct = saved.direct;
	walk->via = saved.via;
	walk->expanding = saved.expanding;
}

static void
add_relation(EdgeWalk *walk, Oid relid, char relkind)
{
	ModelEdge  *edge = NULL;
	ListCell   *lc;

	/* a view's query holds the view itself (OLD and NEW, before PG 16) */
	if (relid == walk->expanding)
		return;
	foreach(lc, walk->edges)
	{
		if (((ModelEdge *) lfirst(lc))->relid == relid)
		{
			edge = (ModelEdge *) lfirst(lc);
			break;
		}
	}
	if (edge != NULL)
	{
		if (walk->direct && !edge->direct)
		{
			edge->direct = true;
			edge->via = InvalidOid;
		}
		return;
	}
	edge = palloc0(sizeof(ModelEdge));
	edge->relid = relid;
	edge->name = pp_model_qualified_name(relid);
	edge->relkind = relkind;
	edge->direct = walk->direct;
	edge->via = walk->direct ? InvalidOid : walk->via;
	walk->edges = lappend(walk->edges, edge);

	/*
	 * A user's view is walked into: what it reads is read through it.  A
	 * view that is a model's relation is not: its own edges say what it
	 * reads, and the graph is walked transitively (walking it would give a
	 * chain of n view models n^2 / 2 edges).
	 */
	if (relkind == RELKIND_VIEW &&
		model_materialized(get_namespace_name(get_rel_namespace(relid)),
						   get_rel_name(relid)) == NULL)
		expand_view(walk, relid);
}

static bool
edges_walker(Node *node, EdgeWalk *walk)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, edges_walker, (void *) walk,
								 QTW_EXAMINE_RTES_BEFORE);
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
		{
			if (walk->direct)
				walk->direct_rtes = lappend(walk->direct_rtes, rte);
			add_relation(walk, rte->relid, rte->relkind);
		}
		return false;
	}
	return expression_tree_walker(node, edges_walker, (void *) walk);
}

/*
 * pp_model_relations
 *		The relations a parsed model reads (ModelEdge *), those it names
 *		first; models not built yet last, by name.  With check_privileges,
 *		the current role must be allowed to read what the model names (as
 *		its build will): PostgreSQL's own check, ExecCheckRTPerms, on an
 *		analyzed query; SELECT on the table or some of its columns when the
 *		query waits for a model to be built.
 */
List *
pp_model_relations(ModelParse *parse, bool check_privileges)
{
	EdgeWalk	walk = {NIL, true, InvalidOid, InvalidOid, NIL};
	ListCell   *lc;

	if (parse->query != NULL)
	{
		(void) edges_walker((Node *) parse->query, &walk);
		if (check_privileges)
			(void) ExecCheckRTPerms(walk.direct_rtes, true);
	}
	else
	{
		foreach(lc, parse->resolved)
		{
			Oid			relid = lfirst_oid(lc);

			if (check_privileges &&
				pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
				pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT,
										  ACLMASK_ANY) != ACLCHECK_OK)
				aclcheck_error(ACLCHECK_NO_PRIV,
							   get_relkind_objtype(get_rel_relkind(relid)),
							   get_rel_name(relid));
			add_relation(&walk, relid, get_rel_relkind(relid));
		}
	}
	foreach(lc, parse->unbuilt)
	{
		ModelEdge  *edge = palloc0(sizeof(ModelEdge));

		edge->relid = InvalidOid;
		edge->name = strVal(lfirst(lc));
		edge->direct = true;
		walk.edges = lappend(walk.edges, edge);
	}
	return walk.edges;
}

/* ---- SQL: pipeline._model_analyze ---- */

/*
 * pp_model_parse_args
 *		For the SQL functions taking (sql text, search_path text): set up
 *		the materialized result, resolve as the current role with that
 *		search_path (the caller ends it: pp_as_role_end) and parse.
 */
void
pp_model_parse_args(FunctionCallInfo fcinfo, PipelineAsRole *as, ModelParse *parse)
{
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *search_path = text_to_cstring(PG_GETARG_TEXT_PP(1));

	InitMaterializedSRF(fcinfo, 0);
	pp_as_role_begin_path(as, GetUserId(), search_path);
	pp_model_parse(sql, NULL, parse);
}

#define ANALYZE_COLS 5

static void
put_edges(FunctionCallInfo fcinfo, List *edges)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	foreach(lc, edges)
	{
		ModelEdge  *edge = (ModelEdge *) lfirst(lc);
		Datum		values[ANALYZE_COLS];
		bool		nulls[ANALYZE_COLS];
		char	   *via = OidIsValid(edge->via) ? pp_model_qualified_name(edge->via) : NULL;

		memset(nulls, false, sizeof(nulls));
		values[0] = ObjectIdGetDatum(edge->relid);
		nulls[0] = !OidIsValid(edge->relid);
		values[1] = CStringGetTextDatum(edge->name);
		values[2] = CharGetDatum(edge->relkind);
		nulls[2] = !OidIsValid(edge->relid);
		values[3] = BoolGetDatum(edge->direct);
		values[4] = via ? CStringGetTextDatum(via) : (Datum) 0;
		nulls[4] = (via == NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * pipeline._model_analyze(sql text, search_path text): the relations a
 * model with this SQL would read, analyzed as the current role with that
 * search_path (create_model and alter_model call it as the model's owner);
 * the current role must be allowed to read them.
 */
PG_FUNCTION_INFO_V1(pipeline_model_analyze);
Datum
pipeline_model_analyze(PG_FUNCTION_ARGS)
{
	PipelineAsRole as;
	ModelParse	parse;
	List	   *edges;

	pp_model_parse_args(fcinfo, &as, &parse);
	edges = pp_model_relations(&parse, true);
	put_edges(fcinfo, edges);
	pp_as_role_end(&as);
	return (Datum) 0;
}

/*
 * pipeline._model_analyze(model_id integer): the relations a model reads
 * now, analyzed as its owner with its search_path (the model must be
 * visible to the caller: its owner or pipeline_admin).
 */
PG_FUNCTION_INFO_V1(pipeline_model_analyze_id);
Datum
pipeline_model_analyze_id(PG_FUNCTION_ARGS)
{
	ModelDef	def;
	PipelineAsRole as;
	ModelParse	parse;
	List	   *edges;

	InitMaterializedSRF(fcinfo, 0);
	if (!pp_model_fetch(PG_GETARG_INT32(0), &def))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %d does not exist", PG_GETARG_INT32(0))));
	if (!OidIsValid(def.owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of model \"%s\" no longer exists", def.name),
				 errdetail("A model runs as its owner.")));
	if (strcmp(def.materialized, "seed") == 0)
		return (Datum) 0;
	pp_as_role_begin_path(&as, def.owner, def.search_path);
	pp_model_parse(def.sql, def.name, &parse);
	edges = pp_model_relations(&parse, PG_GETARG_BOOL(1));
	put_edges(fcinfo, edges);
	pp_as_role_end(&as);
	return (Datum) 0;
}

/*
 * pipeline._model_graph_lock(): one writer of pipeline.model_edges at a
 * time, until the end of the transaction, so that two models created at
 * once cannot close a cycle neither sees.  A lock in pg_pipeline's own key
 * space (pp_xact_lock): no role can take it to hold every create_model up,
 * and readers of the graph are not blocked.
 */
#define MODEL_GRAPH_LOCK_CLASS	0x70704D47	/* "ppMG" */

PG_FUNCTION_INFO_V1(pipeline_model_graph_lock);
Datum
pipeline_model_graph_lock(PG_FUNCTION_ARGS)
{
	(void) pp_xact_lock(MODEL_GRAPH_LOCK_CLASS, 0, true);
	PG_RETURN_VOID();
}
