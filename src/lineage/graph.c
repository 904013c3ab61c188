/*-------------------------------------------------------------------------
 *
 * graph.c
 *	  Reading the lineage graph, and the pipeline.* calls of a task's SQL.
 *
 * What the graph holds is decided in SQL (control/sql/lineage.sql,
 * pipeline._lineage_graph), as the caller, so row-level security on the
 * catalogs decides which objects appear.  This file only reads its rows
 * into a LineageGraph for the writers (write.c, layout.c).
 *
 * pipeline._lineage_task_calls(command) finds, in a task's SQL, the calls
 * of pipeline functions and their first argument when it is a string
 * constant, from PostgreSQL's raw parse tree: nothing is looked up, run or
 * resolved (the task's owner and search_path are not the caller's); the
 * SQL decides what the argument names.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "common/pipeline.h"
#include "lineage/lineage.h"

static char *
spi_text(HeapTuple tuple, int column)
{
	return SPI_getvalue(tuple, SPI_tuptable->tupdesc, column);
}

/*
 * pp_lineage_read
 *		The graph the caller may see (all of it when relation is InvalidOid,
 *		else what is up- and downstream of it), in the caller's memory
 *		context.
 */
LineageGraph *
pp_lineage_read(Oid relation)
{
	LineageGraph *graph = palloc0(sizeof(LineageGraph));
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relation)};
	int			level;
	int			edges_allocated = 16;

	SPI_connect();
	level = pp_pinned_search_path_begin();
	if (SPI_execute_with_args("SELECT node, kind, name, detail, state, upstream, labels "
							  "FROM pipeline._lineage_graph($1)",
							  1, argtypes, values, OidIsValid(relation) ? " " : "n",
							  true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the lineage graph");
	pp_pinned_search_path_end(level);

	MemoryContextSwitchTo(caller);
	graph->nnodes = (int) SPI_processed;
	graph->nodes = palloc0(sizeof(LineageNode) * Max(graph->nnodes, 1));
	graph->edges = palloc(sizeof(LineageEdge) * edges_allocated);
	for (int i = 0; i < graph->nnodes; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		LineageNode *node = &graph->nodes[i];
		bool		isnull;
		Datum		upstream;
		Datum		labels;

		/* the SQL numbers the nodes 1, 2, ... in the order it returns them */
		if (DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull)) != i + 1)
			elog(ERROR, "lineage graph nodes out of order");
		node->kind = spi_text(tuple, 2);
		node->name = spi_text(tuple, 3);
		node->detail = spi_text(tuple, 4);
		node->state = spi_text(tuple, 5);

		upstream = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 6, &isnull);
		labels = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 7, &isnull);
		if (!isnull)
		{
			Datum	   *from;
			bool	   *from_nulls;
			int			nfrom;
			int			nlabels;
			char	  **label = pp_text_array_cstrings(labels, &nlabels, false);

			deconstruct_array(DatumGetArrayTypeP(upstream), INT4OID, 4, true, TYPALIGN_INT,
							  &from, &from_nulls, &nfrom);
			for (int j = 0; j < nfrom; j++)
			{
				int			n = DatumGetInt32(from[j]);

				if (from_nulls[j] || n < 1 || n > graph->nnodes)
					elog(ERROR, "lineage graph edge to an unknown node");
				if (graph->nedges == edges_allocated)
				{
					edges_allocated *= 2;
					graph->edges = repalloc(graph->edges, sizeof(LineageEdge) * edges_allocated);
				}
				graph->edges[graph->nedges].from = n - 1;
				graph->edges[graph->nedges].to = i;
				graph->edges[graph->nedges].label = j < nlabels ? label[j] : NULL;
				graph->nedges++;
			}
		}
	}
	SPI_finish();
	return graph;
}

/* the string constant of a (possibly cast or named) argument, or NULL */
static const char *
constant_text(Node *arg)
{
	if (IsA(arg, NamedArgExpr))
		arg = (Node *) ((NamedArgExpr *) arg)->arg;
	if (IsA(arg, TypeCast))
		arg = ((TypeCast *) arg)->arg;
	if (IsA(arg, A_Const) && !((A_Const *) arg)->isnull &&
		IsA(&((A_Const *) arg)->val, String))
		return strVal(&((A_Const *) arg)->val);
	return NULL;
}

typedef struct TaskCalls
{
	ReturnSetInfo *rsinfo;
} TaskCalls;

static bool
task_calls_walker(Node *node, TaskCalls *calls)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		FuncCall   *call = (FuncCall *) node;

		if (list_length(call->funcname) == 2 &&
			strcmp(strVal(linitial(call->funcname)), "pipeline") == 0)
		{
			Datum		values[2];
			bool		nulls[2] = {false, false};
			const char *argument = call->args ? constant_text(linitial(call->args)) : NULL;

			values[0] = CStringGetTextDatum(strVal(lsecond(call->funcname)));
			if (argument)
				values[1] = CStringGetTextDatum(argument);
			else
				nulls[1] = true;
			/* a call with arguments that are not constants names nothing */
			if (argument || call->args == NIL)
				tuplestore_putvalues(calls->rsinfo->setResult, calls->rsinfo->setDesc,
									 values, nulls);
		}
	}
	return raw_expression_tree_walker(node, task_calls_walker, (void *) calls);
}

/*
 * pipeline._lineage_task_calls(command text) -> (function, argument)
 *
 * Only statements whose raw trees raw_expression_tree_walker knows are
 * searched (SELECT, INSERT, UPDATE, DELETE, and CALL's call); a DO block
 * or a function's body is not looked into.
 */
PG_FUNCTION_INFO_V1(pipeline_lineage_task_calls);
Datum
pipeline_lineage_task_calls(PG_FUNCTION_ARGS)
{
	char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TaskCalls	calls;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	calls.rsinfo = rsinfo;
	foreach(lc, raw_parser(command, RAW_PARSE_DEFAULT))
	{
		Node	   *stmt = ((RawStmt *) lfirst(lc))->stmt;

		switch (nodeTag(stmt))
		{
			case T_SelectStmt:
			case T_InsertStmt:
			case T_UpdateStmt:
			case T_DeleteStmt:
				(void) task_calls_walker(stmt, &calls);
				break;
			case T_CallStmt:
				(void) task_calls_walker((Node *) ((CallStmt *) stmt)->funccall, &calls);
				break;
			default:
				break;
		}
	}
	return (Datum) 0;
}
