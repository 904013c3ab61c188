/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  Snapshots: a model whose table keeps the history of its query's rows
 *	  (slowly changing dimension, type 2).
 *
 * A snapshot model (materialized = 'snapshot') names its rows by a
 * unique_key and says how a change is seen: snapshot_strategy 'timestamp'
 * (the row's updated_at_column grew) or 'check' (one of check_columns, or
 * of all the query's columns when NULL, differs).  Its table holds the
 * query's columns and four more:
 *
 *	scd_id		text: a hash of the key and valid_from, one per version
 *	valid_from	when this version starts: the row's updated_at ('timestamp',
 *				of that column's type) or the build's time ('check',
 *				timestamptz)
 *	valid_to	when it ends (the next version's valid_from, or the build's
 *				time for a row gone from the query); NULL while current
 *	is_current	valid_to IS NULL, for readers' convenience
 *
 * A build (pipeline._snapshot_build, called by pipeline._model_build, or
 * pipeline.snapshot(name)) creates the table the first time, then in ONE
 * statement, so that the query is read once and every part sees the same
 * rows: closes the current version of each changed key and inserts its
 * new version, inserts keys not seen before (and keys that come back after
 * being invalidated), and with hard_deletes = 'invalidate' closes the
 * current version of keys the query no longer returns ('ignore', the
 * default, leaves them current).  Columns the query gained are added to
 * the table (as dbt does); columns it lost stay, NULL in new versions.
 *
 * Keys and checked values are compared as jsonb arrays
 * (jsonb_build_array(k1, k2)): null-safe, for every type, and through
 * operators of pg_catalog only, so nothing in the model's search_path can
 * stand in for an equality.  (Values compare by their JSON form: numeric
 * 1.0 equals 1.00; a citext key 'A' differs from 'a'.)  A key the query
 * returns twice would leave two current versions: checked after the
 * statement, with an error naming the keys, which rolls the build back.
 *
 * The build runs as the model's owner, in a security-restricted operation,
 * with the model's frozen search_path (pg_temp last), in the caller's
 * transaction; the table is created by, and must belong to, the owner.
 * A SHARE ROW EXCLUSIVE lock on the table serializes builds of one
 * snapshot; readers are not blocked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "common/pipeline.h"
#include "model/model.h"

/* A snapshot model, as its catalog row and its query say. */
typedef struct SnapshotModel
{
	int32		model_id;
	char	   *name;
	char	   *schema;
	char	   *relation;
	char	   *table_q;		/* quoted, qualified */
	Oid			owner;
	char	   *sql;
	char	   *search_path;
	List	   *unique_key;		/* of char * */
	bool		by_timestamp;	/* else 'check' */
	char	   *updated_at;
	List	   *check_columns;	/* NIL: every column of the query */
	bool		invalidate;		/* hard_deletes = 'invalidate' */
	/* the query's columns */
	int			ncols;
	char	  **colnames;
	Oid		   *coltypes;
	int32	   *coltypmods;
	Oid			time_type;		/* of valid_from and valid_to */
} SnapshotModel;

/* the columns a snapshot adds, and the names its build uses */
static const char *const reserved[] = {"scd_id", "valid_from", "valid_to", "is_current",
"pp_key", "pp_check"};

/* a text[] as a List of C strings; NULL is NIL */
static List *
text_array_list(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	char	  **names;
	int			n;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	names = pp_text_array_cstrings(d, &n, true);
	for (int i = 0; i < n; i++)
		result = lappend(result, names[i]);
	return result;
}

/*
 * Read model "model_id" (as the caller: its owner, or pipeline_admin) and
 * check it is a snapshot with what a snapshot needs.  Connected to SPI.
 */
static void
read_model(int32 model_id, SnapshotModel *m)
{
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *materialized;
	char	   *strategy;
	char	   *hard_deletes;

	tup = pp_model_get(model_id, "m.name, m.schema_name::text, m.relation_name::text, m.owner_oid, "
					   "m.sql, m.search_path, m.materialized, m.unique_key, m.snapshot_strategy, "
					   "m.updated_at_column::text, m.check_columns, m.hard_deletes");
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %d does not exist", model_id)));
	desc = SPI_tuptable->tupdesc;
	m->model_id = model_id;
	m->name = SPI_getvalue(tup, desc, 1);
	m->schema = SPI_getvalue(tup, desc, 2);
	m->relation = SPI_getvalue(tup, desc, 3);
	m->table_q = quote_qualified_identifier(m->schema, m->relation);
	m->owner = pp_model_owner(tup, desc, 4, m->name, false);
	m->sql = SPI_getvalue(tup, desc, 5);
	m->search_path = SPI_getvalue(tup, desc, 6);
	materialized = SPI_getvalue(tup, desc, 7);
	m->unique_key = text_array_list(tup, desc, 8);
	strategy = SPI_getvalue(tup, desc, 9);
	m->updated_at = SPI_getvalue(tup, desc, 10);
	m->check_columns = text_array_list(tup, desc, 11);
	hard_deletes = SPI_getvalue(tup, desc, 12);

	if (strcmp(materialized, "snapshot") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is not a snapshot", m->name),
				 errdetail("It is materialized as %s.", materialized)));
	if (m->unique_key == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot \"%s\" has no unique_key", m->name),
				 errdetail("A snapshot follows each row of its query by its unique key.")));
	if (strategy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot \"%s\" has no snapshot_strategy", m->name),
				 errhint("Set snapshot_strategy to 'timestamp' (with updated_at_column) or 'check'.")));
	m->by_timestamp = strcmp(strategy, "timestamp") == 0;
	if (m->by_timestamp && m->updated_at == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot \"%s\" has snapshot_strategy 'timestamp' but no updated_at_column", m->name)));
	m->invalidate = hard_deletes != NULL && strcmp(hard_deletes, "invalidate") == 0;
}

/*
 * The model's SQL, to be read as a subquery: one SELECT statement (a
 * trailing semicolon dropped).  Parsed alone, it cannot close the
 * parentheses it is put in.
 */
static void
check_sql(SnapshotModel *m)
{
	ModelParse	what = {.kind = "snapshot", .what = m->name};
	ErrorContextCallback errcb = {.callback = pp_model_error_callback, .arg = &what,
	.previous = error_context_stack};
	int			len = strlen(m->sql);
	List	   *raw;
	RawStmt    *rs;

	while (len > 0 && (m->sql[len - 1] == ';' || isspace((unsigned char) m->sql[len - 1])))
		len--;
	m->sql = pnstrdup(m->sql, len);
	what.sql = m->sql;
	error_context_stack = &errcb;
	raw = raw_parser(m->sql, RAW_PARSE_DEFAULT);
	error_context_stack = errcb.previous;
	rs = list_length(raw) == 1 ? linitial_node(RawStmt, raw) : NULL;
	if (rs == NULL || !IsA(rs->stmt, SelectStmt) || ((SelectStmt *) rs->stmt)->intoClause)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the SQL of snapshot \"%s\" must be one SELECT statement", m->name)));
}

/* The query's columns (planned, not run), checked against the reserved names. */
static void
describe_query(SnapshotModel *m)
{
	TupleDesc	desc;

	if (SPI_execute(psprintf("SELECT * FROM (\n%s\n) AS pp_q LIMIT 0", m->sql), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not describe the query of snapshot \"%s\"", m->name);
	desc = SPI_tuptable->tupdesc;
	m->ncols = desc->natts;
	m->colnames = palloc(sizeof(char *) * m->ncols);
	m->coltypes = palloc(sizeof(Oid) * m->ncols);
	m->coltypmods = palloc(sizeof(int32) * m->ncols);
	for (int i = 0; i < m->ncols; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		m->colnames[i] = pstrdup(NameStr(att->attname));
		m->coltypes[i] = att->atttypid;
		m->coltypmods[i] = att->atttypmod;
		for (int r = 0; r < (int) lengthof(reserved); r++)
			if (strcmp(m->colnames[i], reserved[r]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("the query of snapshot \"%s\" has a column named \"%s\"", m->name, reserved[r]),
						 errdetail("A snapshot adds the columns scd_id, valid_from, valid_to and is_current; "
								   "pp_key and pp_check are used by its build."),
						 errhint("Rename the column in the query.")));
		for (int j = 0; j < i; j++)
			if (strcmp(m->colnames[i], m->colnames[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("the query of snapshot \"%s\" has two columns named \"%s\"", m->name, m->colnames[i]),
						 errhint("Give each column of the query its own name.")));
	}
}

/* The index of the query's column "col" (named by the model's "what"), or an error. */
static int
query_column(SnapshotModel *m, const char *col, const char *what)
{
	for (int i = 0; i < m->ncols; i++)
		if (strcmp(m->colnames[i], col) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s \"%s\" of snapshot \"%s\" is not a column of its query", what, col, m->name)));
	return -1;					/* keep the compiler quiet */
}

/* Every column the model names is one of the query's; the time type. */
static void
check_columns(SnapshotModel *m)
{
	ListCell   *lc;

	foreach(lc, m->unique_key)
		(void) query_column(m, lfirst(lc), "unique_key column");
	foreach(lc, m->check_columns)
		(void) query_column(m, lfirst(lc), "check column");
	if (m->by_timestamp)
	{
		int			i = query_column(m, m->updated_at, "updated_at_column");

		m->time_type = m->coltypes[i];
		if (m->time_type != TIMESTAMPTZOID && m->time_type != TIMESTAMPOID && m->time_type != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("updated_at_column \"%s\" of snapshot \"%s\" is of type %s",
							m->updated_at, m->name, format_type_be(m->time_type)),
					 errdetail("It must be a timestamp with or without time zone, or a date.")));
	}
	else
		m->time_type = TIMESTAMPTZOID;
}

/* "pg_catalog.jsonb_build_array(alias.c1, alias.c2, ...)" over cols */
static char *
json_of(const char *alias, List *cols)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog.jsonb_build_array(");
	foreach(lc, cols)
		appendStringInfo(&buf, "%s%s.%s", foreach_current_index(lc) > 0 ? ", " : "",
						 alias, quote_identifier(lfirst(lc)));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* the query's columns, as a List */
static List *
query_columns(SnapshotModel *m)
{
	List	   *cols = NIL;

	for (int i = 0; i < m->ncols; i++)
		cols = lappend(cols, m->colnames[i]);
	return cols;
}

/* the type of the table's column "col", InvalidOid when it has none */
static Oid
column_type(Oid relid, const char *col)
{
	AttrNumber	attnum = get_attnum(relid, col);

	return attnum == InvalidAttrNumber ? InvalidOid : get_atttype(relid, attnum);
}

/*
 * The first build: the table, empty, with the query's columns and the
 * snapshot's own.  As the owner.
 */
static void
create_table(SnapshotModel *m)
{
	const char *time = m->by_timestamp ?
		psprintf("pp_q.%s", quote_identifier(m->updated_at)) : "pg_catalog.now()";

	if (SPI_execute(psprintf("CREATE TABLE %s AS SELECT pp_q.*, NULL::pg_catalog.text AS scd_id, "
							 "%s AS valid_from, %s AS valid_to, true AS is_current "
							 "FROM (\n%s\n) AS pp_q WITH NO DATA",
							 m->table_q, time, time, m->sql), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the table of snapshot \"%s\"", m->name);
}

/*
 * A later build: the table is the owner's, a table, and a snapshot's of
 * this strategy; the query's columns have the table's types; the columns
 * the query gained are added.  As the owner.
 */
static void
check_table(SnapshotModel *m, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	static const char *const meta[] = {"scd_id", "valid_from", "valid_to", "is_current"};
	Oid			meta_types[4] = {TEXTOID, m->time_type, m->time_type, BOOLOID};

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	form = (Form_pg_class) GETSTRUCT(tup);
	if (form->relowner != m->owner)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" is not owned by the owner of snapshot \"%s\"", m->relation, m->name),
				 errdetail("A model writes only into a relation of its owner.")));
	if (form->relkind != RELKIND_RELATION && form->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", m->relation),
				 errdetail("Snapshot \"%s\" keeps its history in a table of that name.", m->name)));
	ReleaseSysCache(tup);

	for (int i = 0; i < (int) lengthof(meta); i++)
	{
		Oid			type = column_type(relid, meta[i]);

		if (type != meta_types[i])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("table \"%s\" is not the table of snapshot \"%s\"", m->relation, m->name),
					 type == InvalidOid ?
					 errdetail("It has no column \"%s\".", meta[i]) :
					 errdetail("Its column \"%s\" is of type %s, where the snapshot's strategy needs %s.",
							   meta[i], format_type_be(type), format_type_be(meta_types[i])),
					 errhint("Drop the table to build the snapshot again from its query.")));
	}
	for (int i = 0; i < m->ncols; i++)
	{
		Oid			type = column_type(relid, m->colnames[i]);

		if (type == InvalidOid)
		{
			if (SPI_execute(psprintf("ALTER TABLE %s ADD COLUMN %s %s", m->table_q,
									 quote_identifier(m->colnames[i]),
									 format_type_with_typemod(m->coltypes[i], m->coltypmods[i])),
							false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not add a column to snapshot \"%s\"", m->name);
		}
		else if (type != m->coltypes[i])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of snapshot \"%s\" is of type %s but its query gives %s",
							m->colnames[i], m->name, format_type_be(type), format_type_be(m->coltypes[i])),
					 errhint("Cast the column in the query, or alter the column of the table.")));
	}
}

/*
 * The build's statement; $1 is the build's time (timestamptz).  See the
 * file's header.
 */
static char *
build_sql(SnapshotModel *m)
{
	List	   *all = query_columns(m);
	List	   *checked = m->check_columns != NIL ? m->check_columns : all;
	const char *updated_at = m->by_timestamp ? quote_identifier(m->updated_at) : NULL;
	StringInfoData sql;
	StringInfoData cols;
	ListCell   *lc;

	initStringInfo(&cols);
	foreach(lc, all)
		appendStringInfo(&cols, "%s%s", foreach_current_index(lc) > 0 ? ", " : "", quote_identifier(lfirst(lc)));

	initStringInfo(&sql);
	/* the query's rows, read once, with their keys */
	appendStringInfo(&sql, "WITH pp_src AS MATERIALIZED (SELECT pp_q.*, %s AS pp_key",
					 json_of("pp_q", m->unique_key));
	if (!m->by_timestamp)
		appendStringInfo(&sql, ", %s AS pp_check", json_of("pp_q", checked));
	appendStringInfo(&sql, " FROM (\n%s\n) AS pp_q), ", m->sql);

	/* the current versions */
	appendStringInfo(&sql, "pp_cur AS (SELECT %s AS pp_key, t.valid_from AS pp_valid_from",
					 json_of("t", m->unique_key));
	if (!m->by_timestamp)
		appendStringInfo(&sql, ", %s AS pp_check", json_of("t", checked));
	appendStringInfo(&sql, " FROM %s AS t WHERE t.is_current), ", m->table_q);

	/* the keys whose row changed, with the new version's start */
	appendStringInfo(&sql, "pp_changed AS (SELECT s.pp_key, %s AS pp_time FROM pp_src AS s "
					 "JOIN pp_cur AS c ON s.pp_key OPERATOR(pg_catalog.=) c.pp_key WHERE %s), ",
					 m->by_timestamp ? psprintf("s.%s", updated_at) : "$1",
					 m->by_timestamp ?
					 psprintf("s.%s OPERATOR(pg_catalog.>) c.pp_valid_from", updated_at) :
					 "s.pp_check OPERATOR(pg_catalog.<>) c.pp_check");

	/* close their current version */
	appendStringInfo(&sql, "pp_closed AS (UPDATE %s AS t SET valid_to = c.pp_time, is_current = false "
					 "FROM pp_changed AS c WHERE t.is_current AND %s OPERATOR(pg_catalog.=) c.pp_key "
					 "RETURNING 1), ", m->table_q, json_of("t", m->unique_key));

	/* close the current version of keys gone from the query */
	if (m->invalidate)
		appendStringInfo(&sql, "pp_invalidated AS (UPDATE %s AS t SET valid_to = $1, is_current = false "
						 "WHERE t.is_current AND NOT EXISTS (SELECT FROM pp_src AS s "
						 "WHERE s.pp_key OPERATOR(pg_catalog.=) %s) RETURNING 1), ",
						 m->table_q, json_of("t", m->unique_key));

	/* new versions: of changed keys, and of keys without a current version */
	appendStringInfo(&sql, "pp_inserted AS (INSERT INTO %s (%s, scd_id, valid_from, valid_to, is_current) "
					 "SELECT ", m->table_q, cols.data);
	foreach(lc, all)
		appendStringInfo(&sql, "s.%s, ", quote_identifier(lfirst(lc)));
	appendStringInfo(&sql, "pg_catalog.md5(pg_catalog.jsonb_build_array(s.pp_key, %s)::pg_catalog.text), "
					 "%s, NULL, true FROM pp_src AS s "
					 "WHERE NOT EXISTS (SELECT FROM pp_cur AS c WHERE c.pp_key OPERATOR(pg_catalog.=) s.pp_key) "
					 "OR EXISTS (SELECT FROM pp_changed AS c WHERE c.pp_key OPERATOR(pg_catalog.=) s.pp_key) "
					 "RETURNING 1) ",
					 m->by_timestamp ? psprintf("s.%s", updated_at) : "$1",
					 m->by_timestamp ? psprintf("s.%s", updated_at) : "$1");

	appendStringInfoString(&sql, "SELECT (SELECT pg_catalog.count(*) FROM pp_closed) ");
	if (m->invalidate)
		appendStringInfoString(&sql, "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pp_invalidated) ");
	appendStringInfoString(&sql, "OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pp_inserted)");
	return sql.data;
}

/* Up to five keys of current versions that "where" selects, as text; NULL when none. */
static char *
current_keys(SnapshotModel *m, const char *having, const char *where)
{
	StringInfoData keys;

	if (SPI_execute(psprintf("SELECT %s::pg_catalog.text FROM %s AS t WHERE t.is_current %s "
							 "GROUP BY 1 %s LIMIT 5",
							 json_of("t", m->unique_key), m->table_q, where, having),
					false, 0) != SPI_OK_SELECT)	/* not read-only: see the build's rows */
		elog(ERROR, "could not check snapshot \"%s\"", m->name);
	if (SPI_processed == 0)
		return NULL;
	initStringInfo(&keys);
	for (uint64 i = 0; i < SPI_processed; i++)
		appendStringInfo(&keys, "%s%s", i > 0 ? ", " : "",
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	return keys.data;
}

/*
 * What no statement-level constraint says: one current version per key,
 * and (timestamp) a start for every version.  An error rolls the build
 * back.
 */
static void
check_versions(SnapshotModel *m)
{
	char	   *keys = current_keys(m, "HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1", "");

	if (keys != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the query of snapshot \"%s\" returns more than one row for a unique_key", m->name),
				 errdetail("Keys returned more than once: %s.", keys),
				 errhint("The unique_key must name each row of the query once.")));
	if (m->by_timestamp &&
		(keys = current_keys(m, "", "AND t.valid_from IS NULL")) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("updated_at_column \"%s\" of snapshot \"%s\" is NULL", m->updated_at, m->name),
				 errdetail("Keys whose updated_at is NULL: %s.", keys),
				 errhint("A version starts at its row's updated_at: filter those rows out or coalesce the column.")));
}

/*
 * Build snapshot "model_id" in the caller's transaction.  Returns the rows
 * written (versions closed and inserted).  Connected to SPI.
 */
static int64
build_snapshot(int32 model_id)
{
	SnapshotModel m = {0};
	PipelineAsRole as;
	Oid			nsp;
	Oid			relid;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	bool		isnull;
	int64		rows;

	read_model(model_id, &m);
	nsp = get_namespace_oid(m.schema, false);
	values[0] = TimestampTzGetDatum(GetCurrentTimestamp());

	pp_as_role_begin_path(&as, m.owner, m.search_path);
	check_sql(&m);
	describe_query(&m);
	check_columns(&m);
	relid = get_relname_relid(m.relation, nsp);
	if (!OidIsValid(relid))
	{
		create_table(&m);
		relid = get_relname_relid(m.relation, nsp);
	}
	LockRelationOid(relid, ShareRowExclusiveLock);
	check_table(&m, relid);

	if (SPI_execute_with_args(build_sql(&m), 1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not build snapshot \"%s\"", m.name);
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (rows > 0)
		check_versions(&m);
	pp_as_role_end(&as);
	return rows;
}

/* pipeline._snapshot_build(model_id): called by pipeline._model_build */
PG_FUNCTION_INFO_V1(pipeline_snapshot_build);
Datum
pipeline_snapshot_build(PG_FUNCTION_ARGS)
{
	int64		rows;

	SPI_connect();
	rows = build_snapshot(PG_GETARG_INT32(0));
	SPI_finish();
	PG_RETURN_INT64(rows);
}

/* pipeline.snapshot(name): build one snapshot now, and record it built */
PG_FUNCTION_INFO_V1(pipeline_snapshot);
Datum
pipeline_snapshot(PG_FUNCTION_ARGS)
{
	char	   *name;
	HeapTuple	tup;
	bool		isnull;
	int32		model_id;
	int64		rows;

	SPI_connect();
	tup = pp_model_find(text_to_cstring(PG_GETARG_TEXT_PP(0)), "model_id", "snapshot", &name);
	model_id = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
	rows = build_snapshot(model_id);
	pp_model_set_built(model_id, false, false, 0);
	SPI_finish();
	PG_RETURN_INT64(rows);
}
