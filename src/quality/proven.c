/*-------------------------------------------------------------------------
 *
 * proven.c
 *	  Expectations the catalog proves: they pass without a scan.
 *
 *	not_null        every column attnotnull
 *	unique          a valid, immediate, non-partial unique index on plain
 *	                columns, all of them among the expectation's columns
 *	relationships   a validated single-column foreign key from the column
 *	                to the same table and field
 *	between, accepted_values, regex, length
 *	                the pass predicate (sql.c) weakly implied by the
 *	                validated CHECK constraints: PostgreSQL's own prover
 *	                (optimizer/optimizer.h), as it proves a partition
 *	                constraint from CHECK constraints (a CHECK is "not
 *	                false" for every row, and so is then the predicate)
 *
 * A row filter never breaks a proof: it only narrows the rows checked.
 * Only tables and partitioned tables have such constraints; a table with
 * inheritance children proves nothing by a unique index or a foreign key
 * (neither covers the children) nor by a NO INHERIT CHECK.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "common/pipeline.h"
#include "quality/quality.h"

static bool
has_children(Relation rel)
{
	return rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relhassubclass;
}

static bool
is_column_of(const char *name, List *cols)
{
	ListCell   *lc;

	foreach(lc, cols)
		if (strcmp(name, (const char *) lfirst(lc)) == 0)
			return true;
	return false;
}

static bool
not_null_proven(PPExpectation *e)
{
	ListCell   *lc;

	foreach(lc, e->columns)
	{
		HeapTuple	tup = SearchSysCacheAttName(e->relid, (const char *) lfirst(lc));
		bool		notnull;

		if (!HeapTupleIsValid(tup))
			return false;
		notnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
		ReleaseSysCache(tup);
		if (!notnull)
			return false;
	}
	return true;
}

/* a unique index whose key columns are all among the expectation's */
static bool
unique_proven(PPExpectation *e, Relation rel)
{
	ListCell   *lc;

	foreach(lc, RelationGetIndexList(rel))
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);
		bool		covered = index->indisunique && index->indisvalid && index->indimmediate &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL);

		for (int i = 0; covered && i < index->indnkeyatts; i++)
			covered = is_column_of(get_attname(e->relid, index->indkey.values[i], false), e->columns);
		ReleaseSysCache(tup);
		if (covered)
			return true;
	}
	return false;
}

/* a validated foreign key (column) REFERENCES to (field) */
static bool
relationship_proven(PPExpectation *e, Relation rel)
{
	Oid			to = e->to_relid;
	AttrNumber	col = get_attnum(e->relid, (const char *) linitial(e->columns));
	AttrNumber	field = OidIsValid(to) ? get_attnum(to, pp_expectation_option(e, "field")) : InvalidAttrNumber;
	ListCell   *lc;

	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = (ForeignKeyCacheInfo *) lfirst(lc);
		HeapTuple	tup;
		bool		valid;

		if (fk->confrelid != to || fk->nkeys != 1 || fk->conkey[0] != col || fk->confkey[0] != field)
			continue;
		tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk->conoid));
		valid = HeapTupleIsValid(tup) && ((Form_pg_constraint) GETSTRUCT(tup))->convalidated;
		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		if (valid)
			return true;
	}
	return false;
}

/* the pass predicate of e as implicitly-ANDed clauses over the relation (varno 1) */
static List *
pass_clauses(PPExpectation *e)
{
	char	   *sql = psprintf("SELECT FROM ONLY %s t WHERE %s",
							   quote_qualified_identifier(get_namespace_name(get_rel_namespace(e->relid)),
														  get_rel_name(e->relid)),
							   pp_expectation_pass_sql(e, "t"));
	RawStmt    *raw = linitial_node(RawStmt, raw_parser(sql, RAW_PARSE_DEFAULT));
	Query	   *query = parse_analyze_fixedparams(raw, sql, NULL, 0, NULL);
	Node	   *quals = eval_const_expressions(NULL, query->jointree->quals);

	return make_ands_implicit((Expr *) canonicalize_qual((Expr *) quals, false));
}

/* check_functions_in_node: a function that is not built in */
static bool
not_builtin(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* does expression node call a function (or operator) that is not built in? */
static bool
calls_user_function(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, not_builtin, context))
		return true;
	return expression_tree_walker(node, calls_user_function, context);
}

/*
 * The validated CHECK constraints of rel, as plancat.c reads them; only
 * those that call built-in functions alone: constant folding runs the
 * functions of a constraint, and the constraint is the table owner's code,
 * not the code of whoever checks (a superuser must not run it).
 */
static List *
check_clauses(Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;
	List	   *clauses = NIL;

	for (int i = 0; constr != NULL && i < constr->num_check; i++)
	{
		Node	   *expr;

		if (!constr->check[i].ccvalid || (constr->check[i].ccnoinherit && has_children(rel)))
			continue;
		expr = stringToNode(constr->check[i].ccbin);
		if (calls_user_function(expr, NULL))
			continue;
		expr = eval_const_expressions(NULL, expr);
		expr = (Node *) canonicalize_qual((Expr *) expr, true);
		clauses = list_concat(clauses, make_ands_implicit((Expr *) expr));
	}
	return clauses;
}

/*
 * pp_expectation_proven
 *		Whether the catalog proves e (file header).  Reads only the
 *		catalog and e's own generated predicate, under the pinned
 *		search_path.
 */
bool
pp_expectation_proven(PPExpectation *e)
{
	Relation	rel = relation_open(e->relid, AccessShareLock);
	char		relkind = rel->rd_rel->relkind;
	bool		proven = false;
	List	   *checks;
	int			level;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
	{
		relation_close(rel, NoLock);
		return false;
	}
	switch (e->kind)
	{
		case PP_EXPECT_NOT_NULL:
			proven = not_null_proven(e);
			break;
		case PP_EXPECT_UNIQUE:
			proven = !has_children(rel) && unique_proven(e, rel);
			break;
		case PP_EXPECT_RELATIONSHIPS:
			proven = !has_children(rel) && relationship_proven(e, rel);
			break;
		case PP_EXPECT_BETWEEN:
		case PP_EXPECT_ACCEPTED_VALUES:
		case PP_EXPECT_REGEX:
		case PP_EXPECT_LENGTH:
			checks = check_clauses(rel);
			if (checks == NIL)
				break;
			level = pp_pinned_search_path_begin();
			proven = predicate_implied_by(pass_clauses(e), checks, true);
			pp_pinned_search_path_end(level);
			break;
		default:
			break;
	}
	relation_close(rel, NoLock);
	return proven;
}
