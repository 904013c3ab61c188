/*-------------------------------------------------------------------------
 *
 * lineage.c
 *	  Column-level lineage of a model: which upstream columns feed each of
 *	  its output columns, from the analyzed query tree.
 *
 * For each output column (a target entry of the model's query) every
 * column reference (Var) in its expression is followed to where its value
 * comes from:
 *
 *	a table, a materialized view, a foreign table: that column (the end);
 *	a view: the view's column (direct), then the expression of that
 *	  column in the view's query, recursively (indirect, through the view);
 *	a subquery in FROM, a CTE (of this query or an enclosing one): the
 *	  expression of that output column of the subquery; a set operation
 *	  (UNION, ...) or a recursive CTE: that column of every branch;
 *	a join's column (JOIN ... USING, NATURAL): the columns it merges;
 *	a function in FROM (unnest(t.a), LATERAL): the columns its arguments
 *	  reference; VALUES: the columns each row references at that position;
 *	a scalar subquery in the expression ((SELECT max(x) FROM t)): the
 *	  columns its own output columns come from; a reference to an outer
 *	  query inside it is followed in that query.
 *
 * transform is 'copy' when the output column is an upstream column passed
 * through unchanged (only column references all the way down), otherwise
 * 'expression' (computed, aggregated, cast, ...).
 *
 * Not resolved: columns that only filter or join (WHERE, ON, GROUP BY,
 * HAVING, a subquery's WHERE) are not listed as feeding a column; what a
 * function reads inside its body; whole-row references to a table are
 * given as upstream_column '*'; system columns by their names.  A model
 * that reads a model not built yet is not analyzed (problem says so).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/sysattr.h"
#include "catalog/heap.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "model/model.h"

/* a column an output column comes from */
typedef struct ColumnSource
{
	Oid			relid;
	AttrNumber	attnum;			/* 0: the whole row */
	bool		direct;			/* not through a view */
} ColumnSource;

typedef struct LineageWalk
{
	List	   *sources;		/* ColumnSource * */
	bool		direct;
	bool		copy;			/* column references only, so far */
	List	   *visited;		/* "query:attno" already resolved (recursive CTEs) */
	int			depth;
} LineageWalk;

#define LINEAGE_MAX_DEPTH 200

static void collect_vars(LineageWalk *walk, Node *expr, Query *query, List *stack);
static void resolve_output(LineageWalk *walk, Query *query, List *stack, AttrNumber attno);

static void
add_source(LineageWalk *walk, Oid relid, AttrNumber attnum)
{
	ListCell   *lc;
	ColumnSource *source;

	foreach(lc, walk->sources)
	{
		source = (ColumnSource *) lfirst(lc);
		if (source->relid == relid && source->attnum == attnum)
		{
			source->direct |= walk->direct;
			return;
		}
	}
	source = palloc(sizeof(ColumnSource));
	source->relid = relid;
	source->attnum = attnum;
	source->direct = walk->direct;
	walk->sources = lappend(walk->sources, source);
}

/* a column of a view: the view's column, then its expression in the view */
static void
resolve_view_column(LineageWalk *walk, Oid view, AttrNumber attno)
{
	Relation	rel = relation_open(view, AccessShareLock);
	Query	   *query = copyObject(get_view_query(rel));
	bool		direct = walk->direct;

	relation_close(rel, NoLock);
	walk->direct = false;
	resolve_output(walk, query, NIL, attno);
	walk->direct = direct;
}

/*
 * resolve_var
 *		Column attno of range table entry varno of query (whose enclosing
 *		queries are stack, innermost first).
 */
static void
resolve_var(LineageWalk *walk, Query *query, List *stack, Index varno, AttrNumber attno)
{
	RangeTblEntry *rte = rt_fetch(varno, query->rtable);
	ListCell   *lc;

	if (++walk->depth > LINEAGE_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("the column lineage of this model is nested too deeply")));
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			add_source(walk, rte->relid, attno);
			if (rte->relkind == RELKIND_VIEW && attno > 0)
				resolve_view_column(walk, rte->relid, attno);
			break;
		case RTE_SUBQUERY:
			resolve_output(walk, rte->subquery, lcons(query, stack), attno);
			break;
		case RTE_JOIN:
			if (attno > 0)
				collect_vars(walk, list_nth(rte->joinaliasvars, attno - 1), query, stack);
			else
				collect_vars(walk, (Node *) rte->joinaliasvars, query, stack);
			break;
		case RTE_CTE:
			{
				Query	   *owner = rte->ctelevelsup == 0 ? query :
				(Query *) list_nth(stack, rte->ctelevelsup - 1);
				List	   *owner_stack = rte->ctelevelsup == 0 ? stack :
				list_copy_tail(stack, rte->ctelevelsup);

				foreach(lc, owner->cteList)
				{
					CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);

					if (strcmp(cte->ctename, rte->ctename) == 0)
					{
						resolve_output(walk, (Query *) cte->ctequery,
									   lcons(owner, owner_stack), attno);
						break;
					}
				}
				break;
			}
		case RTE_FUNCTION:
			walk->copy = false;
			foreach(lc, rte->functions)
				collect_vars(walk, ((RangeTblFunction *) lfirst(lc))->funcexpr, query, stack);
			break;
		case RTE_VALUES:
			walk->copy = false;
			foreach(lc, rte->values_lists)
			{
				List	   *row = (List *) lfirst(lc);

				if (attno > 0 && attno <= list_length(row))
					collect_vars(walk, list_nth(row, attno - 1), query, stack);
			}
			break;
		default:
			/* table functions, tuplestores, RTE_RESULT: nothing to follow */
			walk->copy = false;
			break;
	}
	walk->depth--;
}

/* the leaves of a set operation's tree (RangeTblRef of its branches) */
static void
set_operation_leaves(Node *node, List **leaves)
{
	if (IsA(node, RangeTblRef))
		*leaves = lappend_int(*leaves, ((RangeTblRef *) node)->rtindex);
	else if (IsA(node, SetOperationStmt))
	{
		set_operation_leaves(((SetOperationStmt *) node)->larg, leaves);
		set_operation_leaves(((SetOperationStmt *) node)->rarg, leaves);
	}
}

/*
 * resolve_output
 *		Output column attno (0: all) of query, whose enclosing queries are
 *		stack.
 */
static void
resolve_output(LineageWalk *walk, Query *query, List *stack, AttrNumber attno)
{
	char	   *key = psprintf("%p:%d", (void *) query, attno);
	ListCell   *lc;

	foreach(lc, walk->visited)
	{
		if (strcmp((char *) lfirst(lc), key) == 0)
			return;
	}
	walk->visited = lappend(walk->visited, key);

	if (query->setOperations != NULL)
	{
		List	   *leaves = NIL;

		set_operation_leaves(query->setOperations, &leaves);
		foreach(lc, leaves)
		{
			RangeTblEntry *rte = rt_fetch(lfirst_int(lc), query->rtable);

			resolve_output(walk, rte->subquery, lcons(query, stack), attno);
		}
		return;
	}
	foreach(lc, query->targetList)
	{
		TargetEntry *te = (TargetEntry *) lfirst(lc);

		if (!te->resjunk && (attno == 0 || te->resno == attno))
			collect_vars(walk, (Node *) te->expr, query, stack);
	}
}

typedef struct VarCollect
{
	LineageWalk *walk;
	Query	   *query;
	List	   *stack;
} VarCollect;

static bool
collect_vars_walker(Node *node, VarCollect *c)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup == 0)
			resolve_var(c->walk, c->query, c->stack, var->varno, var->varattno);
		else
			resolve_var(c->walk, (Query *) list_nth(c->stack, var->varlevelsup - 1),
						list_copy_tail(c->stack, var->varlevelsup),
						var->varno, var->varattno);
		return false;
	}
	if (IsA(node, SubLink))
	{
		SubLink    *sublink = (SubLink *) node;

		(void) collect_vars_walker(sublink->testexpr, c);
		resolve_output(c->walk, (Query *) sublink->subselect, lcons(c->query, c->stack), 0);
		return false;
	}
	return expression_tree_walker(node, collect_vars_walker, (void *) c);
}

static void
collect_vars(LineageWalk *walk, Node *expr, Query *query, List *stack)
{
	VarCollect	c = {walk, query, stack};

	if (expr == NULL)
		return;
	if (!IsA(expr, Var))
		walk->copy = false;
	(void) collect_vars_walker(expr, &c);
}

static char *
column_name(Oid relid, AttrNumber attnum)
{
	if (attnum == 0)
		return "*";
	if (attnum < 0)
		return pstrdup(NameStr(SystemAttributeDefinition(attnum)->attname));
	return get_attname(relid, attnum, true);
}

#define LINEAGE_COLS 8

static void
put_row(ReturnSetInfo *rsinfo, TargetEntry *te, ColumnSource *source, bool copy,
		const char *problem)
{
	Datum		values[LINEAGE_COLS];
	bool		nulls[LINEAGE_COLS];
	char	   *upstream = source ? pp_model_qualified_name(source->relid) : NULL;
	char	   *column = source ? column_name(source->relid, source->attnum) : NULL;

	memset(nulls, true, sizeof(nulls));
	if (te != NULL)
	{
		values[0] = Int32GetDatum(te->resno);
		values[1] = CStringGetTextDatum(te->resname ? te->resname : "?column?");
		values[6] = CStringGetTextDatum(copy ? "copy" : "expression");
		nulls[0] = nulls[1] = nulls[6] = false;
	}
	if (source != NULL)
	{
		values[2] = ObjectIdGetDatum(source->relid);
		values[5] = BoolGetDatum(source->direct);
		nulls[2] = nulls[5] = false;
	}
	if (upstream != NULL)
	{
		values[3] = CStringGetTextDatum(upstream);
		nulls[3] = false;
	}
	if (column != NULL)
	{
		values[4] = CStringGetTextDatum(column);
		nulls[4] = false;
	}
	if (problem != NULL)
	{
		values[7] = CStringGetTextDatum(problem);
		nulls[7] = false;
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pipeline._model_column_lineage(model_id integer): for each output column
 * of a model, the upstream columns it comes from (one row each; one row
 * with no upstream for a column computed from none), analyzed as the
 * model's owner with its search_path.  A model that cannot be analyzed yet
 * gives one row with only problem set.
 */
PG_FUNCTION_INFO_V1(pipeline_model_column_lineage);
Datum
pipeline_model_column_lineage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ModelDef	def;
	PipelineAsRole as;
	ModelParse	parse;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (!pp_model_fetch(PG_GETARG_INT32(0), &def) || strcmp(def.materialized, "seed") == 0)
		return (Datum) 0;
	if (!OidIsValid(def.owner))
	{
		put_row(rsinfo, NULL, NULL, false, "the model's owner does not exist");
		return (Datum) 0;
	}

	pp_as_role_begin_path(&as, def.owner, def.search_path);
	pp_model_parse(def.sql, def.name, &parse);
	if (parse.query == NULL)
	{
		put_row(rsinfo, NULL, NULL, false,
				psprintf("not analyzed: it reads model %s, which is not built yet",
						 strVal(linitial(parse.unbuilt))));
		pp_as_role_end(&as);
		return (Datum) 0;
	}
	foreach(lc, parse.query->targetList)
	{
		TargetEntry *te = (TargetEntry *) lfirst(lc);
		LineageWalk walk = {NIL, true, true, NIL, 0};
		ListCell   *lc2;

		if (te->resjunk)
			continue;
		resolve_output(&walk, parse.query, NIL, te->resno);
		if (walk.sources == NIL)
			put_row(rsinfo, te, NULL, false, NULL);
		foreach(lc2, walk.sources)
			put_row(rsinfo, te, (ColumnSource *) lfirst(lc2), walk.copy, NULL);
	}
	pp_as_role_end(&as);
	return (Datum) 0;
}
