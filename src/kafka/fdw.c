/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  Kafka connection settings: the pipeline_kafka foreign data wrapper's
 *	  validator, the librdkafka configuration of a source, and the checks
 *	  a source definition passes before it is stored.
 *
 * Connection settings follow the PostgreSQL convention for remote
 * credentials: a foreign server carries the cluster's settings (brokers,
 * any librdkafka property), a user mapping the role's credentials
 * (sasl_username, sasl_password, any librdkafka property), and a source's
 * own properties come last.  Every property is checked with librdkafka's
 * own rd_kafka_conf_set() when it is stored, so a typo is refused by
 * CREATE SERVER or create_source(), not discovered later by a worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "common/pipeline.h"
#include "kafka/kafka.h"

#define KAFKA_FDW_NAME "pipeline_kafka"

/* Properties pg_pipeline sets itself: exactly-once depends on them. */
static const char *const managed_properties[] = {
	"enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof",
	"log.queue", NULL
};

/* Our option names that are spelled differently in librdkafka. */
static const char *
property_name(const char *option)
{
	if (strcmp(option, "brokers") == 0)
		return "bootstrap.servers";
	if (strcmp(option, "sasl_username") == 0)
		return "sasl.username";
	if (strcmp(option, "sasl_password") == 0)
		return "sasl.password";
	return option;
}

/* Set one property, or raise a clear error with librdkafka's reason. */
static void
set_property(rd_kafka_conf_t *conf, const char *name, const char *value,
			 const char *where)
{
	char		errstr[512];
	const char *prop = property_name(name);

	for (int i = 0; managed_properties[i]; i++)
		if (strcmp(prop, managed_properties[i]) == 0)
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Kafka property \"%s\" is managed by pg_pipeline", prop),
					 errdetail("Offsets are stored in PostgreSQL, in the same transaction as the rows."),
					 errhint("Remove it from the %s.", where)));
		}

	if (rd_kafka_conf_set(conf, prop, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kafka property \"%s\" in the %s", name, where),
				 errdetail("librdkafka: %s", errstr),
				 errhint("Any librdkafka configuration property may be given; see its CONFIGURATION.md.")));
	}
}

static void
set_options(rd_kafka_conf_t *conf, List *options, const char *where)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		set_property(conf, def->defname, defGetString(def), where);
	}
}

/*
 * pipeline.kafka_fdw_validator(options text[], catalog oid): checks the
 * options of the wrapper, its servers and user mappings.
 */
PG_FUNCTION_INFO_V1(pipeline_kafka_fdw_validator);
Datum
pipeline_kafka_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	rd_kafka_conf_t *conf;

	if (catalog == ForeignDataWrapperRelationId && options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("the pipeline_kafka wrapper takes no options"),
				 errhint("Give connection settings to CREATE SERVER and credentials to CREATE USER MAPPING.")));
	if (catalog != ForeignServerRelationId && catalog != UserMappingRelationId)
	{
		if (options != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("pipeline_kafka servers have no foreign tables"),
					 errhint("Use pipeline.create_source() to ingest a topic.")));
		PG_RETURN_VOID();
	}

	conf = rd_kafka_conf_new();
	set_options(conf, options,
				catalog == ForeignServerRelationId ? "server options" : "user mapping options");
	rd_kafka_conf_destroy(conf);
	PG_RETURN_VOID();
}

/* The user mapping of a role (or PUBLIC) for a server, or NIL. */
static List *
user_mapping_options(Oid userid, Oid serverid)
{
	HeapTuple	tp;
	List	   *options = NIL;
	Datum		datum;
	bool		isnull;

	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
						 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		return NIL;
	datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
							Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		options = untransformRelOptions(datum);
	ReleaseSysCache(tp);
	return options;
}

/*
 * pp_kafka_build_conf
 *		The librdkafka configuration of a source: server options, then the
 *		user mapping of userid, then the source's or sink's ("what")
 *		properties.  Raises a
 *		clear error for a missing or foreign server, a missing USAGE
 *		privilege, an invalid property or missing brokers.  With check_only
 *		the configuration is destroyed and NULL returned.
 */
rd_kafka_conf_t *
pp_kafka_build_conf(const char *server, Oid userid, Jsonb *properties,
					const char *what, bool check_only)
{
	ForeignServer *fs = GetForeignServerByName(server, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(fs->fdwid);
	rd_kafka_conf_t *conf;
	char		value[512];
	size_t		len = sizeof(value);

	if (strcmp(fdw->fdwname, KAFKA_FDW_NAME) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a Kafka server", server),
				 errdetail("Its foreign-data wrapper is \"%s\".", fdw->fdwname),
				 errhint("Create it with CREATE SERVER ... FOREIGN DATA WRAPPER pipeline_kafka.")));
	if (pp_server_aclcheck(fs->serverid, userid, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for server \"%s\"", server),
				 errhint("GRANT USAGE ON FOREIGN SERVER %s to the source's owner.",
						 quote_identifier(server))));

	conf = rd_kafka_conf_new();
	set_options(conf, fs->options, "server options");
	set_options(conf, user_mapping_options(userid, fs->serverid), "user mapping options");

	if (properties && !JB_ROOT_IS_SCALAR(properties))
	{
		JsonbIterator *it = JsonbIteratorInit(&properties->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				key = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE)
			{
				char	   *val = NULL;

				if (v.type == jbvString)
					val = pnstrdup(v.val.string.val, v.val.string.len);
				else if (v.type == jbvNumeric)
					val = DatumGetCString(DirectFunctionCall1(numeric_out,
															  NumericGetDatum(v.val.numeric)));
				else if (v.type == jbvBool)
					val = v.val.boolean ? "true" : "false";
				else
				{
					rd_kafka_conf_destroy(conf);
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("Kafka property \"%s\" must be a string, number or boolean", key)));
				}
				set_property(conf, key, val, psprintf("%s properties", what));
			}
		}
	}

	if (rd_kafka_conf_get(conf, "bootstrap.servers", value, &len) != RD_KAFKA_CONF_OK ||
		value[0] == '\0')
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server \"%s\" names no Kafka brokers", server),
				 errhint("ALTER SERVER %s OPTIONS (ADD brokers 'host:9092');",
						 quote_identifier(server))));
	}

	if (check_only)
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/*
 * pp_kafka_new_client
 *		Create a librdkafka client from conf (which it takes over) with its
 *		log routed to a queue served by this process's own poll calls, never
 *		from librdkafka's threads; raise a clear error when it cannot.
 */
rd_kafka_t *
pp_kafka_new_client(rd_kafka_conf_t *conf, rd_kafka_type_t type,
					void (*log_cb) (const rd_kafka_t *, int, const char *, const char *),
					const char *what, const char *name)
{
	char		errstr[512];
	rd_kafka_t *rk;

	rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof(errstr));
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not create a Kafka %s for %s \"%s\"",
						type == RD_KAFKA_PRODUCER ? "producer" : "consumer", what, name),
				 errdetail("librdkafka: %s", errstr)));
	rd_kafka_set_log_queue(rk, NULL);
	return rk;
}

SourceFormat
pp_kafka_parse_format(const char *format)
{
	if (strcmp(format, "json") == 0)
		return FORMAT_JSON;
	if (strcmp(format, "jsonb") == 0)
		return FORMAT_JSONB;
	if (strcmp(format, "csv") == 0)
		return FORMAT_CSV;
	if (strcmp(format, "text") == 0)
		return FORMAT_TEXT;
	if (strcmp(format, "bytea") == 0)
		return FORMAT_BYTEA;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid source format \"%s\"", format),
			 errhint("Use json, jsonb, csv, text or bytea.")));
	return FORMAT_JSON;			/* keep compiler quiet */
}

static void
check_one_topic_name(const char *topic)
{
	if (strlen(topic) == 0 || strlen(topic) > 249 ||
		strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(topic))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kafka topic name \"%s\"", topic),
				 errdetail("Topic names are 1 to 249 characters among letters, digits, '.', '_' and '-'."),
				 errhint("A source also takes a list \"a,b\" or a regular expression starting with '^'.")));
}

/*
 * A source's topic: one name, a comma-separated list of names, or (when
 * patterns are allowed) a regular expression starting with '^'.
 */
static void
check_topic_name(const char *topic, bool allow_many)
{
	if (allow_many && topic[0] == '^')
	{
		/* compile it: an invalid pattern raises PostgreSQL's own error */
		(void) DirectFunctionCall2Coll(textregexeq, C_COLLATION_OID,
									   CStringGetTextDatum(""), CStringGetTextDatum(topic));
		return;
	}
	if (allow_many && strchr(topic, ',') != NULL)
	{
		char	   *copy = pstrdup(topic);
		char	   *save = NULL;

		if (topic[strlen(topic) - 1] == ',' || topic[0] == ',' || strstr(topic, ",,"))
			check_one_topic_name("");
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			check_one_topic_name(t);
		return;
	}
	check_one_topic_name(topic);
}

/*
 * pipeline._check_sink(server, topic, properties): validate a sink
 * definition for the current user.
 */
PG_FUNCTION_INFO_V1(pipeline_check_sink);
Datum
pipeline_check_sink(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server and topic of a sink must not be null")));
	check_topic_name(text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
	pp_kafka_build_conf(NameStr(*PG_GETARG_NAME(0)), GetUserId(),
						PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), "sink", true);
	PG_RETURN_VOID();
}

/* The first column a single-column format may fill, or NULL. */
static char *
default_data_column(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && !att->attgenerated &&
			NameStr(att->attname)[0] != '_')
			return pstrdup(NameStr(att->attname));
	}
	return NULL;
}

/*
 * pipeline._check_source(server, topic, target, format, target_column,
 * properties, start_from) -> name
 *		Validate a source definition for the current user; returns the
 *		column single-column formats fill (NULL for json and csv).
 */
PG_FUNCTION_INFO_V1(pipeline_check_source);
Datum
pipeline_check_source(PG_FUNCTION_ARGS)
{
	char	   *server;
	char	   *topic;
	Oid			relid;
	SourceFormat format;
	char	   *column = PG_ARGISNULL(4) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(4)));
	Jsonb	   *properties = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5);
	char	   *start_from = PG_ARGISNULL(6) ? "earliest" : text_to_cstring(PG_GETARG_TEXT_PP(6));
	Relation	rel;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("server, topic, target and format of a source must not be null")));
	server = NameStr(*PG_GETARG_NAME(0));
	topic = text_to_cstring(PG_GETARG_TEXT_PP(1));
	relid = PG_GETARG_OID(2);
	format = pp_kafka_parse_format(text_to_cstring(PG_GETARG_TEXT_PP(3)));

	check_topic_name(topic, true);

	if (strcmp(start_from, "earliest") != 0 && strcmp(start_from, "latest") != 0)
		(void) DirectFunctionCall3(timestamptz_in, CStringGetDatum(start_from),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	pp_kafka_build_conf(server, GetUserId(), properties, "source", true);

	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("A source fills a plain or partitioned table.")));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", RelationGetRelationName(rel)),
				 errdetail("The source's consumer inserts as the role that creates the source.")));
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("target \"%s\" has row-level security enabled", RelationGetRelationName(rel)),
				 errdetail("Sources load through COPY, which does not apply row-level security policies.")));

	if (format == FORMAT_JSON || format == FORMAT_CSV)
	{
		if (column != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target_column applies only to the jsonb, text and bytea formats"),
					 errhint("The json format fills columns named like the message's keys; csv fills columns in order.")));
	}
	else
	{
		AttrNumber	attnum;
		Oid			typid;

		if (column == NULL)
			column = default_data_column(rel);
		if (column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target \"%s\" has no column for the messages", RelationGetRelationName(rel))));
		attnum = get_attnum(relid, column);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of target \"%s\" does not exist",
							column, RelationGetRelationName(rel))));
		typid = get_atttype(relid, attnum);
		if ((format == FORMAT_JSONB && typid != JSONBOID && typid != JSONOID && typid != TEXTOID) ||
			(format == FORMAT_BYTEA && typid != BYTEAOID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, which the %s format cannot fill",
							column, format_type_be(typid),
							format == FORMAT_JSONB ? "jsonb" : "bytea"),
					 errhint(format == FORMAT_JSONB ? "Use a jsonb, json or text column." : "Use a bytea column.")));
	}
	table_close(rel, AccessShareLock);

	if (column == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(column)));
}
