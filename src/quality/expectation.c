/*-------------------------------------------------------------------------
 *
 * expectation.c
 *	  The catalog of expectations: a row of pipeline.expectations as a
 *	  struct, its validation as its owner, and what happens to it when its
 *	  relation is dropped.
 *
 * The checks that need no relation (kind, options' names and JSON types,
 * threshold) are SQL, in control/sql/quality.sql (_expectation_options,
 * _expectation_threshold), run by the trigger that guards every write of
 * the table.  That trigger then calls pipeline._expectation_validate (here)
 * which, as the expectation's owner and under its frozen search_path
 * (pp_as_role_begin_path, common/asrole.c, as models run), builds the
 * query that finds its failing rows (sql.c) and has PostgreSQL analyze
 * it: an unknown column, a value that is not of the column's type, a row
 * filter that is not one boolean expression, a type without ordering or
 * hashing, custom SQL that is not one SELECT (models' own check,
 * pp_model_parse) all fail here, with the error PostgreSQL gives, before
 * anything is stored.
 *
 * Drop: the object access hook (worker/hooks.c) calls
 * pp_quality_relation_dropped for each relation dropped; its expectations
 * are deleted (their results stay, expectation_id NULL), and the
 * relationships pointing to it lose their table (to_relation and "to"
 * NULL): they stay, in error at each check, until "to" is named again, so
 * that nothing ever resolves the old name again (a role with CREATE on
 * the schema could put a view there, run as their owners).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "common/pipeline.h"
#include "model/model.h"
#include "quality/quality.h"

static const char *const kind_names[] = {
	"not_null", "unique", "accepted_values", "relationships", "between", "regex",
	"length", "row_count", "freshness", "custom_rows", "custom_value"
};

static PPExpectKind
kind_of(const char *name)
{
	for (int i = 0; i < (int) lengthof(kind_names); i++)
		if (strcmp(name, kind_names[i]) == 0)
			return (PPExpectKind) i;
	elog(ERROR, "unknown expectation kind \"%s\"", name);
	return PP_EXPECT_NOT_NULL;	/* keep the compiler quiet */
}

/* the row-level kinds: a predicate over one row says whether it fails */
bool
pp_expectation_row_level(PPExpectKind kind)
{
	return kind == PP_EXPECT_NOT_NULL || kind == PP_EXPECT_ACCEPTED_VALUES ||
		kind == PP_EXPECT_RELATIONSHIPS || kind == PP_EXPECT_BETWEEN ||
		kind == PP_EXPECT_REGEX || kind == PP_EXPECT_LENGTH;
}

/* ---- a row as a struct ---- */

static Datum
field(HeapTupleHeader row, const char *name, bool *isnull)
{
	return GetAttributeByName(row, name, isnull);
}

static char *
text_field(HeapTupleHeader row, const char *name)
{
	bool		isnull;
	Datum		d = field(row, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* a text[] column as a List of char * (NIL when NULL or empty) */
static List *
list_field(HeapTupleHeader row, const char *name)
{
	bool		isnull;
	Datum		d = field(row, name, &isnull);
	Datum	   *elems;
	int			n;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	for (int i = 0; i < n; i++)
		result = lappend(result, TextDatumGetCString(elems[i]));
	return result;
}

/*
 * pp_expectation_from_datum
 *		A row of pipeline.expectations (a composite datum), copied into
 *		CurrentMemoryContext.
 */
PPExpectation *
pp_expectation_from_datum(Datum datum)
{
	HeapTupleHeader row = DatumGetHeapTupleHeader(datum);
	PPExpectation *e = palloc0(sizeof(PPExpectation));
	bool		isnull;
	Datum		d;

	d = field(row, "expectation_id", &isnull);
	e->id = isnull ? 0 : DatumGetInt32(d);
	e->relid = DatumGetObjectId(field(row, "relation", &isnull));
	e->name = text_field(row, "name");
	e->columns = list_field(row, "columns");
	e->kind_name = text_field(row, "kind");
	e->kind = kind_of(e->kind_name);
	e->options = DatumGetJsonbPCopy(field(row, "options", &isnull));
	e->severity = text_field(row, "severity");
	d = field(row, "max_failing", &isnull);
	e->has_max_failing = !isnull;
	e->max_failing = isnull ? 0 : DatumGetInt64(d);
	d = field(row, "max_failing_percent", &isnull);
	e->max_failing_percent = isnull ? NULL : DatumGetCString(DirectFunctionCall1(numeric_out, d));
	e->row_filter = text_field(row, "row_filter");
	e->key_columns = list_field(row, "key_columns");
	d = field(row, "owner_oid", &isnull);
	e->owner = isnull ? InvalidOid : DatumGetObjectId(d);
	if (OidIsValid(e->owner) && !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(e->owner)))
		e->owner = InvalidOid;
	d = field(row, "owner", &isnull);
	e->owner_name = isnull ? NULL : pstrdup(NameStr(*DatumGetName(d)));
	e->search_path = text_field(row, "search_path");
	if (e->search_path == NULL)
		e->search_path = "";
	d = field(row, "to_relation", &isnull);
	e->to_relid = isnull ? InvalidOid : DatumGetObjectId(d);
	return e;
}

/*
 * pp_expectation_option
 *		An option's value as text (a JSON string unquoted, a number as
 *		written), NULL when absent or null.
 */
char *
pp_expectation_option(PPExpectation *e, const char *key)
{
	JsonbValue	v;

	if (!getKeyJsonValueFromContainer(&e->options->root, key, strlen(key), &v))
		return NULL;
	switch (v.type)
	{
		case jbvString:
			return pnstrdup(v.val.string.val, v.val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		case jbvBool:
			return pstrdup(v.val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/*
 * pp_expectations_load
 *		The expectations of relid that the current role sees (row-level
 *		security of pipeline.expectations: its own, or all for
 *		pipeline_admin), by name, in CurrentMemoryContext.
 */
List *
pp_expectations_load(Oid relid)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *result = NIL;
	int			level;

	SPI_connect();
	level = pp_pinned_search_path_begin();
	if (SPI_execute_with_args("SELECT e FROM pipeline.expectations e "
							  "WHERE e.relation OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
							  "ORDER BY e.name",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.expectations");
	pp_pinned_search_path_end(level);
	MemoryContextSwitchTo(caller);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		row = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		result = lappend(result, pp_expectation_from_datum(row));
	}
	SPI_finish();
	return result;
}

/* ---- validation ---- */

/*
 * check_row_filter
 *		A row filter is one boolean expression: parsed as the only target
 *		of "SELECT <filter>", with nothing else, so that no text can close
 *		the parenthesis it is put in and add a clause.
 */
static void
check_row_filter(PPExpectation *e)
{
	char	   *sql = psprintf("SELECT %s", e->row_filter);
	ModelParse	where = {.sql = sql, .what = e->name, .kind = "row filter of expectation"};
	ErrorContextCallback callback = {error_context_stack, pp_model_error_callback, &where};
	List	   *stmts;
	SelectStmt *s;

	/* a syntax error points into the filter, as into a model's SQL */
	error_context_stack = &callback;
	stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	error_context_stack = callback.previous;
	s = list_length(stmts) == 1 ? (SelectStmt *) ((RawStmt *) linitial(stmts))->stmt : NULL;

	if (s == NULL || !IsA(s, SelectStmt) || list_length(s->targetList) != 1 ||
		s->fromClause || s->whereClause || s->groupClause || s->havingClause ||
		s->windowClause || s->sortClause || s->limitCount || s->limitOffset ||
		s->intoClause || s->op != SETOP_NONE || s->distinctClause ||
		s->lockingClause || s->withClause ||
		((ResTarget *) linitial(s->targetList))->name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a row filter must be one boolean expression"),
				 errdetail("It was: %s", e->row_filter),
				 errhint("Write a condition on the relation's columns, as after WHERE: 'status = ''shipped'''.")));
}

/* the column types a unique expectation hashes must be hashable */
static void
check_hashable(PPExpectation *e)
{
	ListCell   *lc;

	foreach(lc, e->columns)
	{
		const char *col = (const char *) lfirst(lc);
		AttrNumber	att = get_attnum(e->relid, col);
		Oid			type = att != InvalidAttrNumber ? get_atttype(e->relid, att) : InvalidOid;
		TypeCacheEntry *tc;

		if (!OidIsValid(type))
			continue;			/* the analysis names it */
		tc = lookup_type_cache(type, TYPECACHE_HASH_PROC | TYPECACHE_EQ_OPR);
		if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("column \"%s\" of type %s cannot be checked for uniqueness", col,
							format_type_be(type)),
					 errdetail("unique hashes the values: the type needs a hash operator class.")));
	}
}

/* freshness needs a time column */
static void
check_time_column(PPExpectation *e)
{
	const char *col = (const char *) linitial(e->columns);
	AttrNumber	att = get_attnum(e->relid, col);
	Oid			type = att != InvalidAttrNumber ? get_atttype(e->relid, att) : InvalidOid;

	if (OidIsValid(type) && type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("freshness needs a column of type timestamptz, timestamp or date, and \"%s\" is %s",
						col, format_type_be(type))));
}

/*
 * validate
 *		As the owner, under its search_path: what PostgreSQL says of the
 *		expectation's queries.  Returns the failing-row SQL.
 */
static char *
validate(PPExpectation *e)
{
	bool		custom = (e->kind == PP_EXPECT_CUSTOM_ROWS || e->kind == PP_EXPECT_CUSTOM_VALUE);
	char	   *sql;

	if (e->row_filter)
		check_row_filter(e);
	if (custom)
	{
		ModelParse	parse;

		pp_model_parse_kind(pp_expectation_option(e, "sql"), e->name, "expectation", &parse);
	}
	if (e->kind == PP_EXPECT_UNIQUE)
		check_hashable(e);
	if (e->kind == PP_EXPECT_FRESHNESS)
		check_time_column(e);
	sql = pp_expectation_query(e);
	SPI_connect();
	if (SPI_prepare(custom ? pp_custom_query(e, 1) : pp_scan_query(list_make1(e), 1), 0, NULL) == NULL ||
		SPI_prepare(sql, 0, NULL) == NULL ||
		(e->kind == PP_EXPECT_UNIQUE && SPI_prepare(pp_unique_rows_query(e, 1, false), 0, NULL) == NULL))
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_finish();
	return sql;
}

/*
 * The two functions below switch to a role given by their caller (the guard
 * trigger, as the writer of the row): only to one whose privileges the
 * caller has, or a role could lock, and resolve names in, another's
 * relations as that role.
 */
static void
check_may_act_as(Oid role)
{
	if (!has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to check an expectation as role \"%s\"",
						GetUserNameFromId(role, true) ? GetUserNameFromId(role, true) : "?"),
				 errdetail("Expectations are checked as their owner; only the owner (or a member) writes them.")));
}

/*
 * pipeline._expectation_validate(e pipeline.expectations) RETURNS text:
 * from the trigger that guards the catalog (after the owner is set); the
 * failing-row SQL of a valid expectation, an error otherwise.
 */
PG_FUNCTION_INFO_V1(pipeline_expectation_validate);
Datum
pipeline_expectation_validate(PG_FUNCTION_ARGS)
{
	PPExpectation *e = pp_expectation_from_datum(PG_GETARG_DATUM(0));
	PipelineAsRole as;
	char	   *sql;

	if (!OidIsValid(e->owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", e->owner_name ? e->owner_name : "?")));
	check_may_act_as(e->owner);
	pp_as_role_begin_path(&as, e->owner, e->search_path);
	sql = validate(e);
	pp_as_role_end(&as);
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

/*
 * pipeline._expectation_resolve(name, owner_oid, search_path) RETURNS
 * regclass: a relationship's table, as its owner would resolve it; the
 * owner must be allowed to read it.
 */
PG_FUNCTION_INFO_V1(pipeline_expectation_resolve);
Datum
pipeline_expectation_resolve(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PipelineAsRole as;
	RangeVar   *rv;
	Oid			relid;

	check_may_act_as(PG_GETARG_OID(1));
	pp_as_role_begin_path(&as, PG_GETARG_OID(1), text_to_cstring(PG_GETARG_TEXT_PP(2)));
	rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	relid = RangeVarGetRelid(rv, AccessShareLock, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	pp_as_role_end(&as);
	PG_RETURN_OID(relid);
}

/* ---- drop ---- */

/*
 * write_where: "<write> WHERE e.<column> = relid" on pipeline.expectations
 * when a row matches (a write of nothing would still fire statement
 * triggers); in SPI, as the caller is
 */
static void
write_where(Oid relid, const char *column, const char *write, int ok)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *where = psprintf(" WHERE e.%s OPERATOR(pg_catalog.=) $1::pg_catalog.regclass", column);

	if (SPI_execute_with_args(psprintf("SELECT 1 FROM pipeline.expectations e%s", where),
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.expectations");
	if (SPI_processed > 0 &&
		SPI_execute_with_args(psprintf("%s%s", write, where), 1, types, values, NULL, false, 0) != ok)
		elog(ERROR, "could not write pipeline.expectations");
}

/*
 * pp_quality_relation_dropped
 *		From the object access hook: a relation that a DROP removes takes
 *		its expectations with it, and the relationships pointing to it lose
 *		their table (as the bootstrap superuser: the role dropping it may
 *		not see them; their results stay).  Nothing for PostgreSQL's
 *		internal drops, the extension's own tables, or a database without
 *		the extension.
 */
void
pp_quality_relation_dropped(Oid relid, int dropflags)
{
	Oid			nsp = get_namespace_oid("pipeline", true);
	PipelineAsRole as;
	char		relkind;

	if ((dropflags & PERFORM_DELETION_INTERNAL) || creating_extension || IsBinaryUpgrade ||
		!OidIsValid(nsp) || get_rel_namespace(relid) == nsp)
		return;
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE)
		return;
	if (!OidIsValid(get_relname_relid("expectations", nsp)) ||
		!OidIsValid(get_extension_oid("pg_pipeline", true)))
		return;
	SPI_connect();
	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	write_where(relid, "relation", "DELETE FROM pipeline.expectations e", SPI_OK_DELETE);
	write_where(relid, "to_relation",
				"UPDATE pipeline.expectations e "
				"SET to_relation = NULL, options = pg_catalog.jsonb_set(e.options, '{to}', 'null')",
				SPI_OK_UPDATE);
	pp_as_role_end(&as);
	SPI_finish();
}
