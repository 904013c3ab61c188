/*-------------------------------------------------------------------------
 *
 * sql.c
 *	  The SQL of expectations: one builder for the predicate that says a
 *	  row fails, the standalone query returning the failing rows, and the
 *	  one scan that evaluates many expectations at once.
 *
 * Every expectation of a row-level kind has a pass predicate P over one
 * row, NULL-tolerant as dbt's tests are (a NULL value passes): between
 * "c >= min AND c <= max", accepted_values "c = ANY (ARRAY[...])", regex
 * "c::text ~ pattern", length "char_length(c::text) >= min AND ...".  A row
 * fails when "(P) IS FALSE".  The same P is what proven.c asks the
 * planner's predicate prover about against the table's CHECK constraints.
 * not_null fails on "c IS NULL"; relationships on "c IS NOT NULL AND NOT
 * EXISTS (SELECT FROM to WHERE field = c)".  A row filter F narrows:
 * "(F) AND (fails)".  pp_expectation_failing_sql returns that expression:
 * check() and ingestion use the same one.
 *
 * The scan (pp_scan_query) is one SELECT over the relation, "FROM rel t"
 * (with its partitions and inheritance children, as a query of the table
 * sees them), with, per expectation i, four columns:
 *
 *	count(*) FILTER (WHERE F)                                  rows checked
 *	pipeline._first_keys(key, value, ..., limit)
 *	    FILTER (WHERE F AND fails)          failing rows, first keys (JSON)
 *	  or, for unique, pipeline._repeated_rows(value, t.ctid)
 *	    FILTER (WHERE F AND value IS NOT NULL)      hashes every value:
 *	    the ctids of the rows whose hash repeats, for check.c's second
 *	    step (pp_unique_rows_query: _duplicates of those rows, by ctid);
 *	    on a view or foreign table (no ctids: pp_unique_two_steps)
 *	    pipeline._duplicates(key, value, ..., limit) FILTER (...) itself
 *	a verdict (row_count, freshness: 'pass', 'warn', 'fail')
 *	the value behind it (the count, the newest time), as text
 *
 * FILTER is evaluated before an aggregate's arguments, so only failing rows
 * build their keys.  A relationship whose table has few distinct values
 * (check.c reads them first, pp_relationship_values_query) is given them
 * as an array parameter $k, which the planner folds into a constant and
 * hashes once per process: its rows fail where "c IS NOT NULL AND NOT (c =
 * ANY ($k))", a hash probe in the scan (twice as fast as a join, measured
 * in docs/benchmarks.md).  Otherwise it joins, instead of a subplan per
 * row, the distinct values of its field: "LEFT JOIN (SELECT DISTINCT field
 * FROM to) pp_r<i> ON c = pp_r<i>.pp_k", which the planner hashes
 * (spilling to disk past work_mem) or merges; its rows fail where c is not
 * NULL and pp_r<i>.pp_k is.
 *
 * Names: the relation and the tables of relationships are written
 * schema-qualified; types, functions and operators pg_catalog-qualified
 * (OPERATOR(pg_catalog.=)); values are literals cast to the column's type;
 * row filters and custom SQL are the owner's own text, resolved with the
 * owner's frozen search_path (the caller runs all of it as the owner:
 * pp_as_role_begin_path).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "access/relation.h"

#include "quality/quality.h"

#define SCAN_ALIAS "t"

/* ---- names and values ---- */

static char *
relation_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/* a column's type; an error naming it when the relation has no such column */
static Oid
column_type(Oid relid, const char *col)
{
	AttrNumber	att = get_attnum(relid, col);

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", col, relation_name(relid))));
	return get_atttype(relid, att);
}

static char *
column_ref(const char *alias, const char *col)
{
	return psprintf("%s.%s", alias, quote_identifier(col));
}

/* 'text'::schema.type */
static char *
literal_as(const char *value, Oid type)
{
	return psprintf("%s::%s", quote_literal_cstr(value), format_type_be_qualified(type));
}

/* "t.a, t.b" */
static char *
column_list(const char *alias, List *cols)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, cols)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", column_ref(alias, (const char *) lfirst(lc)));
	return buf.data;
}

/* the expression of one column, or ROW(...) of several */
static char *
columns_expr(const char *alias, List *cols)
{
	if (cols == NIL)
		return "NULL::pg_catalog.int4";
	if (list_length(cols) == 1)
		return column_ref(alias, (const char *) linitial(cols));
	return psprintf("ROW(%s)", column_list(alias, cols));
}

/* ARRAY['a', 'b']::pg_catalog.text[] */
static char *
names_array(List *cols)
{
	StringInfoData buf;
	ListCell   *lc;

	if (cols == NIL)
		return "'{}'::pg_catalog.text[]";
	initStringInfo(&buf);
	foreach(lc, cols)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "ARRAY[", quote_literal_cstr((const char *) lfirst(lc)));
	appendStringInfoString(&buf, "]::pg_catalog.text[]");
	return buf.data;
}

/* "a IS NOT NULL AND b IS NOT NULL" (or IS NULL ... OR) */
static char *
nulls_test(const char *alias, List *cols, bool is_null)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, cols)
		appendStringInfo(&buf, "%s%s IS %sNULL", buf.len ? (is_null ? " OR " : " AND ") : "",
						 column_ref(alias, (const char *) lfirst(lc)), is_null ? "" : "NOT ");
	return buf.data;
}

/*
 * pp_expectation_key_columns
 *		The columns that identify a failing row: key_columns, else the
 *		primary key, else the expectation's columns.
 */
List *
pp_expectation_key_columns(PPExpectation *e)
{
	Relation	rel;
	Oid			pk;
	List	   *cols = NIL;

	if (e->key_columns != NIL)
		return e->key_columns;
	rel = relation_open(e->relid, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	relation_close(rel, NoLock);
	if (OidIsValid(pk))
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
		Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);

		for (int i = 0; i < index->indnkeyatts; i++)
			cols = lappend(cols, get_attname(e->relid, index->indkey.values[i], false));
		ReleaseSysCache(tup);
		return cols;
	}
	return e->columns;
}

/* ---- predicates ---- */

/* accepted_values: ARRAY['a'::type, ...] from the JSON array */
static char *
values_array(PPExpectation *e, Oid type)
{
	JsonbValue	v;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	StringInfoData buf;

	if (!getKeyJsonValueFromContainer(&e->options->root, "values", 6, &v) || v.type != jbvBinary)
		elog(ERROR, "accepted_values without values");
	initStringInfo(&buf);
	it = JsonbIteratorInit(v.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *s;

		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvString)
			s = pnstrdup(v.val.string.val, v.val.string.len);
		else if (v.type == jbvNumeric)
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		else
			s = v.val.boolean ? "true" : "false";
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "ARRAY[", literal_as(s, type));
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* "x >= min AND x <= max" with the bounds the options give */
static char *
bounds(PPExpectation *e, const char *x, Oid type)
{
	char	   *min = pp_expectation_option(e, "min");
	char	   *max = pp_expectation_option(e, "max");
	char	   *lo = min ? psprintf("%s OPERATOR(pg_catalog.>=) %s", x, literal_as(min, type)) : NULL;
	char	   *hi = max ? psprintf("%s OPERATOR(pg_catalog.<=) %s", x, literal_as(max, type)) : NULL;

	if (lo && hi)
		return psprintf("%s AND %s", lo, hi);
	return lo ? lo : hi;
}

/*
 * pass_predicate
 *		P of between, accepted_values, regex and length (file header): not
 *		false for a passing row (a NULL passes).
 */
static char *
pass_predicate(PPExpectation *e, const char *alias)
{
	const char *col = (const char *) linitial(e->columns);
	Oid			type = column_type(e->relid, col);
	char	   *c = column_ref(alias, col);
	char	   *as_text = psprintf("CAST(%s AS pg_catalog.text)", c);

	switch (e->kind)
	{
		case PP_EXPECT_BETWEEN:
			return bounds(e, c, type);
		case PP_EXPECT_ACCEPTED_VALUES:
			return psprintf("%s OPERATOR(pg_catalog.=) ANY (%s)", c, values_array(e, type));
		case PP_EXPECT_REGEX:
			return psprintf("%s OPERATOR(pg_catalog.~) %s", as_text,
							quote_literal_cstr(pp_expectation_option(e, "pattern")));
		case PP_EXPECT_LENGTH:
			return bounds(e, psprintf("pg_catalog.char_length(%s)", as_text), INT4OID);
		default:
			return NULL;
	}
}

/*
 * the table and field of a relationship, quoted: the table by its OID
 * (to_relation, resolved once when "to" was named), never by the name in
 * "to", which another role may have taken since
 */
static void
relationship_target(PPExpectation *e, char **to, char **field)
{
	if (!OidIsValid(e->to_relid) || get_rel_name(e->to_relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table of relationship \"%s\" was dropped", e->name),
				 errhint("Name its table again with pipeline.alter_expectation(options => ...), or drop it.")));
	*to = relation_name(e->to_relid);
	*field = (char *) quote_identifier(pp_expectation_option(e, "field"));
}

/* whether a row fails, without the row filter */
static char *
fails(PPExpectation *e, const char *alias)
{
	char	   *to;
	char	   *field;

	switch (e->kind)
	{
		case PP_EXPECT_NOT_NULL:
			return psprintf("(%s)", nulls_test(alias, e->columns, true));
		case PP_EXPECT_RELATIONSHIPS:
			relationship_target(e, &to, &field);
			return psprintf("%s IS NOT NULL AND NOT EXISTS (SELECT FROM %s pp_to WHERE pp_to.%s "
							"OPERATOR(pg_catalog.=) %s)",
							column_ref(alias, linitial(e->columns)), to, field,
							column_ref(alias, linitial(e->columns)));
		default:
			return psprintf("(%s) IS FALSE", pass_predicate(e, alias));
	}
}

/* "(F) AND (x)", or x without a row filter */
static char *
filtered(PPExpectation *e, const char *x)
{
	return e->row_filter ? psprintf("(%s) AND (%s)", e->row_filter, x) : pstrdup(x);
}

char *
pp_expectation_failing_sql(PPExpectation *e, const char *alias)
{
	if (!pp_expectation_row_level(e->kind))
		return NULL;
	return filtered(e, fails(e, alias));
}

/* the pass predicate, for proven.c (NULL: none for the kind) */
char *
pp_expectation_pass_sql(PPExpectation *e, const char *alias)
{
	if (e->kind == PP_EXPECT_BETWEEN || e->kind == PP_EXPECT_ACCEPTED_VALUES ||
		e->kind == PP_EXPECT_REGEX || e->kind == PP_EXPECT_LENGTH)
		return pass_predicate(e, alias);
	return NULL;
}

/* ---- standalone queries ---- */

/* freshness: "newest < now() - after" for warn_after or error_after */
static char *
stale(PPExpectation *e, const char *newest, const char *option)
{
	char	   *after = pp_expectation_option(e, option);

	if (after == NULL)
		return NULL;
	return psprintf("%s OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) %s)",
					newest, literal_as(after, INTERVALOID));
}

static char *
where_filter(PPExpectation *e)
{
	return e->row_filter ? psprintf(" WHERE (%s)", e->row_filter) : "";
}

/*
 * pp_expectation_query
 *		A query returning the failing rows of an expectation, what dbt
 *		runs for a test: row-level kinds and unique the rows themselves,
 *		row_count, freshness and custom_value one row when out of bounds,
 *		custom_rows its own SQL.
 */
char *
pp_expectation_query(PPExpectation *e)
{
	char	   *rel = relation_name(e->relid);
	char	   *cols;
	char	   *warn;

	switch (e->kind)
	{
		case PP_EXPECT_UNIQUE:
			cols = column_list(SCAN_ALIAS, e->columns);
			return psprintf("SELECT t.* FROM %s t WHERE %s(%s) IN (SELECT %s FROM %s t WHERE %s%s "
							"GROUP BY %s HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1)",
							rel, e->row_filter ? psprintf("(%s) AND ", e->row_filter) : "",
							cols, cols, rel, e->row_filter ? psprintf("(%s) AND ", e->row_filter) : "",
							nulls_test(SCAN_ALIAS, e->columns, false), cols);
		case PP_EXPECT_ROW_COUNT:
			return psprintf("SELECT pg_catalog.count(*) AS row_count FROM %s t%s HAVING NOT (%s)",
							rel, where_filter(e), bounds(e, "pg_catalog.count(*)", INT8OID));
		case PP_EXPECT_FRESHNESS:
			cols = psprintf("pg_catalog.max(%s)", column_ref(SCAN_ALIAS, linitial(e->columns)));
			warn = stale(e, cols, "warn_after");
			return psprintf("SELECT %s AS newest FROM %s t%s HAVING %s IS NULL OR %s",
							cols, rel, where_filter(e), cols, warn ? warn : stale(e, cols, "error_after"));
		case PP_EXPECT_CUSTOM_ROWS:
			return pp_expectation_option(e, "sql");
		case PP_EXPECT_CUSTOM_VALUE:
			return psprintf("SELECT q.value FROM (%s) q(value) WHERE NOT (%s)",
							pp_expectation_option(e, "sql"),
							bounds(e, "CAST(q.value AS pg_catalog.numeric)", NUMERICOID));
		default:
			return psprintf("SELECT t.* FROM %s t WHERE %s", rel, pp_expectation_failing_sql(e, SCAN_ALIAS));
	}
}

/*
 * pp_custom_query
 *		What check() runs for a custom kind: custom_rows, the failing rows
 *		counted and the first kept (as _first_keys keeps them); custom_value,
 *		its value as text and whether it is within bounds.
 */
char *
pp_custom_query(PPExpectation *e, int limit)
{
	char	   *sql = pp_expectation_option(e, "sql");

	if (e->kind == PP_EXPECT_CUSTOM_ROWS)
		return psprintf("SELECT pipeline._first_keys(q, NULL::pg_catalog.int4, '{}'::pg_catalog.text[], "
						"'{}'::pg_catalog.text[], %d) FROM (%s) q", limit, sql);
	return psprintf("SELECT CAST(q.value AS pg_catalog.text), %s FROM (%s) q(value)",
					bounds(e, "CAST(q.value AS pg_catalog.numeric)", NUMERICOID), sql);
}

/*
 * pp_relationship_values_query
 *		The distinct non-NULL values of a relationship's field, as one array
 *		(empty, never NULL, when the table has none: every value then
 *		fails), at most max + 1 of them (more: the scan joins instead).
 */
char *
pp_relationship_values_query(PPExpectation *e, int64 max)
{
	char	   *to;
	char	   *field;

	relationship_target(e, &to, &field);
	return psprintf("SELECT COALESCE(pg_catalog.array_agg(s.k), '{}') FROM "
					"(SELECT DISTINCT pp_to.%s AS k FROM %s pp_to WHERE pp_to.%s IS NOT NULL LIMIT " INT64_FORMAT ") s",
					field, to, field, max + 1);
}

/* ---- the one scan ---- */

/* the value unique hashes: one column with its collation, or ROW(...) */
static char *
hashed_value(PPExpectation *e)
{
	const char *col = (const char *) linitial(e->columns);
	Oid			type;
	int32		typmod;
	Oid			coll;

	if (list_length(e->columns) > 1)
		return columns_expr(SCAN_ALIAS, e->columns);
	get_atttypetypmodcoll(e->relid, get_attnum(e->relid, col), &type, &typmod, &coll);
	if (!OidIsValid(coll))
		return column_ref(SCAN_ALIAS, col);
	return psprintf("%s COLLATE %s", column_ref(SCAN_ALIAS, col), generate_collation_name(coll));
}

/*
 * pp_unique_two_steps
 *		Whether check() finds the duplicates of a unique expectation on
 *		relid in two steps (hashes.c): its rows, and those of every member
 *		of its inheritance tree, have row ids (tables, materialized views,
 *		partitioned tables).  A view or a foreign table: in one step, by
 *		_duplicates alone.
 */
bool
pp_unique_two_steps(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		char		kind = get_rel_relkind(lfirst_oid(lc));

		if (kind != RELKIND_RELATION && kind != RELKIND_MATVIEW && kind != RELKIND_PARTITIONED_TABLE)
			return false;
	}
	return true;
}

/* "pipeline._duplicates(key, value, names, lim)" of e */
static char *
duplicates_call(PPExpectation *e, int limit)
{
	List	   *keys = pp_expectation_key_columns(e);

	return psprintf("pipeline._duplicates(%s, %s, %s, %s, %d)", columns_expr(SCAN_ALIAS, keys), hashed_value(e),
					names_array(keys), names_array(e->columns), limit);
}

/*
 * the aggregate keeping the failing rows of expectation e (the i-th); for
 * unique in two steps, the row ids of its candidates (hashes.c)
 */
static char *
failing_rows(PPExpectation *e, int i, int limit)
{
	List	   *keys;
	char	   *which;

	if (e->kind == PP_EXPECT_UNIQUE)
	{
		which = filtered(e, nulls_test(SCAN_ALIAS, e->columns, false));
		if (pp_unique_two_steps(e->relid))
			return psprintf("pipeline._repeated_rows(%s, " SCAN_ALIAS ".ctid) FILTER (WHERE %s)",
							hashed_value(e), which);
		return psprintf("%s FILTER (WHERE %s)", duplicates_call(e, limit), which);
	}
	if (e->kind == PP_EXPECT_RELATIONSHIPS && e->values_param > 0)
		which = filtered(e, psprintf("%s IS NOT NULL AND NOT (%s OPERATOR(pg_catalog.=) ANY ($%d))",
									 column_ref(SCAN_ALIAS, linitial(e->columns)),
									 column_ref(SCAN_ALIAS, linitial(e->columns)), e->values_param));
	else if (e->kind == PP_EXPECT_RELATIONSHIPS)
		which = filtered(e, psprintf("%s IS NOT NULL AND pp_r%d.pp_k IS NULL",
									 column_ref(SCAN_ALIAS, linitial(e->columns)), i));
	else
		which = pp_expectation_failing_sql(e, SCAN_ALIAS);
	keys = pp_expectation_key_columns(e);
	return psprintf("pipeline._first_keys(%s, %s, %s, %s, %d) FILTER (WHERE %s)",
					columns_expr(SCAN_ALIAS, keys), columns_expr(SCAN_ALIAS, e->columns),
					names_array(keys), names_array(e->columns), limit, which);
}

/*
 * pp_unique_rows_query
 *		The second step of a unique expectation in two steps (hashes.c):
 *		_duplicates of the rows whose ctid is in the array $1 (by_row_id: a
 *		TID scan), or of every row.  One row, one column: the JSON of the
 *		failing rows, as the scan's column of any other kind.
 */
char *
pp_unique_rows_query(PPExpectation *e, int limit, bool by_row_id)
{
	return psprintf("SELECT %s FILTER (WHERE %s) FROM %s " SCAN_ALIAS "%s", duplicates_call(e, limit),
					filtered(e, nulls_test(SCAN_ALIAS, e->columns, false)), relation_name(e->relid),
					by_row_id ? " WHERE " SCAN_ALIAS ".ctid OPERATOR(pg_catalog.=) ANY ($1)" : "");
}

/* the four columns of expectation e in the scan (file header) */
static void
scan_columns(StringInfo buf, PPExpectation *e, int i, int limit)
{
	char	   *total = e->row_filter ?
		psprintf("pg_catalog.count(*) FILTER (WHERE %s)", e->row_filter) : "pg_catalog.count(*)";
	char	   *newest;
	char	   *err;
	char	   *warn;

	appendStringInfo(buf, "%s%s", buf->len ? ", " : "", total);
	switch (e->kind)
	{
		case PP_EXPECT_ROW_COUNT:
			appendStringInfo(buf, ", NULL::pg_catalog.jsonb, CASE WHEN %s THEN 'pass' ELSE 'fail' END, "
							 "CAST(%s AS pg_catalog.text)", bounds(e, total, INT8OID), total);
			break;
		case PP_EXPECT_FRESHNESS:
			newest = psprintf("pg_catalog.max(%s)%s", column_ref(SCAN_ALIAS, linitial(e->columns)),
							  e->row_filter ? psprintf(" FILTER (WHERE %s)", e->row_filter) : "");
			err = stale(e, newest, "error_after");
			warn = stale(e, newest, "warn_after");
			appendStringInfo(buf, ", NULL::pg_catalog.jsonb, CASE WHEN %s IS NULL THEN 'fail' "
							 "WHEN %s THEN 'fail' WHEN %s THEN 'warn' ELSE 'pass' END, CAST(%s AS pg_catalog.text)",
							 newest, err ? err : "false", warn ? warn : "false", newest);
			break;
		default:
			appendStringInfo(buf, ", %s, NULL::pg_catalog.text, NULL::pg_catalog.text",
							 failing_rows(e, i, limit));
	}
}

/*
 * pp_scan_query
 *		The one query evaluating expectations (all row-level kinds, unique,
 *		row_count and freshness) of one relation: four columns per
 *		expectation, in the order of the list (file header).
 */
char *
pp_scan_query(List *expectations, int limit)
{
	StringInfoData cols;
	StringInfoData joins;
	ListCell   *lc;
	PPExpectation *first = (PPExpectation *) linitial(expectations);

	initStringInfo(&cols);
	initStringInfo(&joins);
	foreach(lc, expectations)
	{
		PPExpectation *e = (PPExpectation *) lfirst(lc);
		int			i = foreach_current_index(lc);

		scan_columns(&cols, e, i, limit);
		if (e->kind == PP_EXPECT_RELATIONSHIPS && e->values_param == 0)
		{
			char	   *to;
			char	   *field;

			relationship_target(e, &to, &field);
			appendStringInfo(&joins, " LEFT JOIN (SELECT DISTINCT pp_to.%s AS pp_k FROM %s pp_to) pp_r%d "
							 "ON %s OPERATOR(pg_catalog.=) pp_r%d.pp_k",
							 field, to, i, column_ref(SCAN_ALIAS, linitial(e->columns)), i);
		}
	}
	return psprintf("SELECT %s FROM %s " SCAN_ALIAS "%s", cols.data, relation_name(first->relid), joins.data);
}
