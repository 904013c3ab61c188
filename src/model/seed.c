/*-------------------------------------------------------------------------
 *
 * seed.c
 *	  Seeds: a CSV loaded into a table through COPY, from text passed in
 *	  (pipeline.create_seed, pipeline.load_seed) or from a file on the
 *	  server (pipeline.load_seed_file).
 *
 * A seed is a model (a row of pipeline.models, materialized = 'seed')
 * whose table is not computed by a query but filled from a CSV.  Its
 * column list ('id integer PRIMARY KEY, name text') is kept in the row's
 * sql column; its CSV options (delimiter, header) in seed_delimiter and
 * seed_header, so that a reload reads the CSV the way the seed was made.
 *
 * Everything runs as the caller, in the caller's transaction: the table is
 * created by the caller, who owns it; a load needs the caller's INSERT
 * (and TRUNCATE) privileges on it, checked as COPY checks them.  A load
 * truncates and copies in one transaction, so a bad row leaves the rows
 * that were there.
 *
 * The text goes to COPY through BeginCopyFrom with a data-source callback,
 * as src/kafka/load.c feeds Kafka batches: COPY's own CSV parser, type
 * input, constraints, triggers and partition routing.  Its error context
 * (CopyFromErrorCallback: "COPY t, line 3, column amount: "x"") is left in
 * place, so a bad row's error names its line (the CSV's own line number,
 * the header being line 1) and its column.  The text is in the database's
 * encoding already: COPY is told so, whatever the session's
 * client_encoding.  A file is read in client_encoding, as COPY FROM a file
 * reads it, and only by superusers and members of pg_read_server_files,
 * as COPY FROM a file.
 *
 * With header => true the header line must name the table's columns in
 * order (COPY's HEADER MATCH): a CSV whose columns are in another order is
 * refused instead of loaded into the wrong columns.
 *
 * A line holding only \. ends COPY's data.  COPY then ignores the rest;
 * a seed would silently lose its last rows, so a load that did not read
 * its input to the end is an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "common/compat.h"
#include "common/pipeline.h"
#include "model/model.h"

/* A seed, as its catalog row says. */
typedef struct Seed
{
	int32		model_id;
	char	   *name;			/* schema.relation, the model's name */
	char	   *schema;
	char	   *relation;
	Oid			owner;
	char	   *delimiter;
	bool		header;
} Seed;

/* What text_source() feeds to COPY: data[pos..len). */
static struct
{
	const char *data;
	int			len;
	int			pos;
} feed;

/* A required argument, or an error naming it. */
static char *
required_text(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * The column list must be what a CREATE TABLE's parentheses hold, and
 * nothing after them: parsed alone, as "CREATE TABLE x (<columns>)", it is
 * one statement without INHERITS, PARTITION BY, WITH, TABLESPACE, ....
 * (It runs as the caller, so this is about clear errors, not privileges.)
 */
static void
check_columns(const char *columns)
{
	char	   *sql = psprintf("CREATE TABLE pp_seed (\n%s\n)", columns);
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	RawStmt    *rs = list_length(raw) == 1 ? linitial_node(RawStmt, raw) : NULL;
	CreateStmt *cs = rs && IsA(rs->stmt, CreateStmt) ? (CreateStmt *) rs->stmt : NULL;

	if (cs == NULL || cs->tableElts == NIL || cs->inhRelations || cs->partbound ||
		cs->partspec || cs->ofTypename || cs->options || cs->oncommit != ONCOMMIT_NOOP ||
		cs->tablespacename || cs->accessMethod || strcmp(cs->relation->relname, "pp_seed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns must be a list of column definitions"),
				 errhint("For example: 'id integer PRIMARY KEY, name text, amount numeric'.")));
}

/* COPY's data source: the seed's text */
static int
text_source(void *outbuf, int minread, int maxread)
{
	int			n = Min(maxread, feed.len - feed.pos);

	memcpy(outbuf, feed.data + feed.pos, n);
	feed.pos += n;
	return n;
}

/*
 * Did COPY stop before the end of its input (a line holding only \.)?
 * Without encoding conversion raw_buf is input_buf, and raw_buf_index
 * catches up with input_buf_index only at the next read.
 */
static bool
stopped_early(CopyFromState cstate)
{
	int			left;

	if (cstate->raw_buf == cstate->input_buf)
		left = cstate->raw_buf_len - cstate->input_buf_index;
	else
		left = INPUT_BUF_BYTES(cstate) + RAW_BUF_BYTES(cstate);
	if (left > 0)
		return true;
	if (cstate->copy_file != NULL)
		return fgetc(cstate->copy_file) != EOF;
	return feed.pos < feed.len;
}

/*
 * BeginCopyFrom .. EndCopyFrom, fed from csv or reading filename.  The feed
 * of an outer load (a trigger on a seed's table loading another seed) is
 * restored whatever happens.
 */
static uint64
run_copy(ParseState *pstate, Relation rel, text *csv, const char *filename, List *options,
		 const char *name)
{
	const char *saved_data = feed.data;
	int			saved_len = feed.len;
	int			saved_pos = feed.pos;
	uint64		rows = 0;

	PG_TRY();
	{
		CopyFromState cstate;

		if (csv != NULL)
		{
			feed.data = VARDATA_ANY(csv);
			feed.len = VARSIZE_ANY_EXHDR(csv);
			feed.pos = 0;
		}
		cstate = BeginCopyFrom(pstate, rel, NULL, filename, false,
							   csv != NULL ? text_source : NULL, NIL, options);
		rows = CopyFrom(cstate);
		if (stopped_early(cstate))
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("the CSV of seed \"%s\" ends at line " UINT64_FORMAT ", before its last line",
							name, cstate->cur_lineno),
					 errdetail("A line holding only \\. marks the end of COPY data; "
							   "the lines after it were not loaded."),
					 errhint("Quote the value: \"\\.\".")));
		EndCopyFrom(cstate);
	}
	PG_FINALLY();
	{
		feed.data = saved_data;
		feed.len = saved_len;
		feed.pos = saved_pos;
	}
	PG_END_TRY();
	return rows;
}

static void
seed_error_callback(void *arg)
{
	errcontext("loading seed \"%s\"", (const char *) arg);
}

/*
 * Load the seed's table from csv (or, when csv is NULL, from the server
 * file "filename") through COPY, as the caller.  Returns the rows loaded.
 */
static uint64
copy_seed(Seed *seed, Oid relid, text *csv, const char *filename)
{
	ErrorContextCallback errcb = {.callback = seed_error_callback, .arg = seed->name,
	.previous = error_context_stack};
	Relation	rel;
	ParseState *pstate;
	List	   *options = NIL;
	AclResult	aclresult;
	uint64		rows;

	error_context_stack = &errcb;
	rel = table_open(relid, RowExclusiveLock);

	/* COPY FROM's own checks (DoCopy): INSERT privilege, no row security */
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot load seed \"%s\": row-level security applies to its table", seed->name),
				 errdetail("COPY FROM is not supported with row-level security.")));

	options = lappend(options, makeDefElem("format", (Node *) makeString("csv"), -1));
	options = lappend(options, makeDefElem("delimiter", (Node *) makeString(seed->delimiter), -1));
	options = lappend(options, makeDefElem("header",
										   (Node *) makeString(seed->header ? "match" : "false"), -1));
	if (csv != NULL)
		options = lappend(options, makeDefElem("encoding",
											   (Node *) makeString(pstrdup(GetDatabaseEncodingName())), -1));

	/* the range table COPY's executor needs; privileges are checked above */
	pstate = make_parsestate(NULL);
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);

	rows = run_copy(pstate, rel, csv, filename, options, seed->name);
	free_parsestate(pstate);
	table_close(rel, NoLock);
	error_context_stack = errcb.previous;
	return rows;
}

/*
 * Read the seed "name" (visible to the caller: its owner, or
 * pipeline_admin), and return its table's OID.  Connected to SPI.
 */
static Oid
read_seed(const char *name, Seed *seed)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *materialized;
	Oid			nsp;
	Oid			relid;
	HeapTuple	reltup;

	tup = pp_model_find(name, "model_id, schema_name::text, relation_name::text, materialized, "
						"owner_oid, seed_delimiter, seed_header", "seed", &seed->name);
	desc = SPI_tuptable->tupdesc;
	materialized = SPI_getvalue(tup, desc, 4);
	if (strcmp(materialized, "seed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is not a seed", seed->name),
				 errdetail("It is materialized as %s.", materialized)));
	seed->model_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	seed->schema = SPI_getvalue(tup, desc, 2);
	seed->relation = SPI_getvalue(tup, desc, 3);
	seed->owner = pp_model_owner(tup, desc, 5, seed->name, true);
	seed->delimiter = SPI_getvalue(tup, desc, 6);
	seed->header = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
	if (seed->delimiter == NULL || isnull)
		elog(ERROR, "seed \"%s\" has no CSV options", seed->name);

	nsp = get_namespace_oid(seed->schema, true);
	relid = OidIsValid(nsp) ? get_relname_relid(seed->relation, nsp) : InvalidOid;
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table of seed \"%s\" does not exist", seed->name),
				 errhint("Drop the seed and create it again.")));

	/* a seed loads into its owner's table, not one put in its place */
	reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(reltup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	if (((Form_pg_class) GETSTRUCT(reltup))->relowner != seed->owner)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" is not owned by the owner of seed \"%s\"",
						seed->relation, seed->name),
				 errdetail("A seed loads only into a table of its owner.")));
	ReleaseSysCache(reltup);
	return relid;
}

/*
 * Reload a seed: empty its table (truncate), then COPY.  One transaction,
 * the caller's: an error keeps the rows that were there.  Connected to SPI.
 */
static uint64
reload_seed(const char *name, text *csv, const char *filename, bool truncate)
{
	Seed		seed;
	Oid			relid = read_seed(name, &seed);
	uint64		rows;

	if (truncate &&
		SPI_execute(psprintf("TRUNCATE TABLE %s", quote_qualified_identifier(seed.schema, seed.relation)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not truncate the table of seed \"%s\"", seed.name);
	rows = copy_seed(&seed, relid, csv, filename);
	pp_model_set_built(seed.model_id, false, false, 0);
	return rows;
}

/*
 * pipeline.create_seed(name, csv, columns, delimiter, header, tags,
 * description): create the table (as the caller, who owns it), record the
 * seed, load the CSV (when not NULL).  Returns the model_id.
 */
PG_FUNCTION_INFO_V1(pipeline_create_seed);
Datum
pipeline_create_seed(PG_FUNCTION_ARGS)
{
	char	   *name = required_text(fcinfo, 0, "name");
	text	   *csv = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	char	   *columns = required_text(fcinfo, 2, "columns");
	Seed		seed = {0};
	Oid			nsp;
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID,
	TEXTOID, BOOLOID};
	Datum		values[9];
	char		nulls[9] = "         ";
	char	   *search_path;
	bool		isnull;

	seed.delimiter = required_text(fcinfo, 3, "delimiter");
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("header must not be NULL")));
	seed.header = PG_GETARG_BOOL(4);
	SPI_connect();
	seed.name = pp_model_qualify(name, false, &seed.schema, &seed.relation);
	nsp = get_namespace_oid(seed.schema, false);
	if (isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("a seed cannot be a temporary table")));
	check_columns(columns);

	/* the creator's schemas, frozen as every model's (model.sql) */
	if (SPI_execute("SELECT pipeline._model_search_path(pg_catalog.current_schemas(false))",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the search_path");
	search_path = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	values[0] = CStringGetTextDatum(seed.name);
	if (SPI_execute_with_args("SELECT 1 FROM pipeline.models WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.models");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", seed.name),
				 errhint("pipeline.load_seed() reloads a seed.")));

	/* the table, as the caller: its types resolved in the caller's path */
	if (SPI_execute(psprintf("CREATE TABLE %s (\n%s\n)",
							 quote_qualified_identifier(seed.schema, seed.relation), columns),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the table of seed \"%s\"", seed.name);

	values[1] = CStringGetTextDatum(seed.schema);
	values[2] = CStringGetTextDatum(seed.relation);
	values[3] = CStringGetTextDatum(columns);
	values[4] = CStringGetTextDatum(search_path ? search_path : "");
	if (PG_ARGISNULL(5))
		nulls[5] = 'n';
	else
		values[5] = PG_GETARG_DATUM(5);
	if (PG_ARGISNULL(6))
		nulls[6] = 'n';
	else
		values[6] = PG_GETARG_DATUM(6);
	values[7] = CStringGetTextDatum(seed.delimiter);
	values[8] = BoolGetDatum(seed.header);
	if (SPI_execute_with_args("INSERT INTO pipeline.models (name, schema_name, relation_name, sql, "
							  "materialized, search_path, tags, description, seed_delimiter, seed_header, built_at) "
							  "VALUES ($1, $2, $3, $4, 'seed', $5, COALESCE($6, '{}'), $7, $8, $9, pg_catalog.now()) "
							  "RETURNING model_id",
							  9, argtypes, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert into pipeline.models");
	seed.model_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	if (csv != NULL)
	{
		Oid			relid = get_relname_relid(seed.relation, nsp);

		seed.owner = GetUserId();
		(void) copy_seed(&seed, relid, csv, NULL);
	}
	SPI_finish();
	PG_RETURN_INT32(seed.model_id);
}

/* pipeline.load_seed(name, csv, truncate): reload from text; the rows loaded */
PG_FUNCTION_INFO_V1(pipeline_load_seed);
Datum
pipeline_load_seed(PG_FUNCTION_ARGS)
{
	char	   *name = required_text(fcinfo, 0, "name");
	text	   *csv;
	uint64		rows;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv must not be NULL")));
	csv = PG_GETARG_TEXT_PP(1);
	SPI_connect();
	rows = reload_seed(name, csv, NULL, PG_ARGISNULL(2) || PG_GETARG_BOOL(2));
	SPI_finish();
	PG_RETURN_INT64((int64) rows);
}

/*
 * pipeline.load_seed_file(name, path, truncate): reload from a file on the
 * server, for those COPY FROM a file allows: superusers and members of
 * pg_read_server_files.
 */
PG_FUNCTION_INFO_V1(pipeline_load_seed_file);
Datum
pipeline_load_seed_file(PG_FUNCTION_ARGS)
{
	char	   *name = required_text(fcinfo, 0, "name");
	char	   *path = required_text(fcinfo, 1, "path");
	uint64		rows;

	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load a seed from a file on the server"),
				 errdetail("Only superusers and members of pg_read_server_files may read files on the server."),
				 errhint("pipeline.load_seed() loads a seed from text that the client sends.")));
	SPI_connect();
	rows = reload_seed(name, NULL, path, PG_ARGISNULL(2) || PG_GETARG_BOOL(2));
	SPI_finish();
	PG_RETURN_INT64((int64) rows);
}
