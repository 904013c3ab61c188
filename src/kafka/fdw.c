/*-------------------------------------------------------------------------
 *
 * fdw.c
 *	  Kafka connection settings: the pipeline_kafka foreign data wrapper's
 *	  validator, the librdkafka configuration of a source, and the checks
 *	  a source definition passes before it is stored.
 *
 * Connection settings follow the PostgreSQL convention for remote
 * credentials: a foreign server carries the cluster's settings (brokers,
 * TLS and SASL policy), a user mapping the role's credentials
 * (sasl_username, sasl_password, other secrets), and a source's or sink's
 * own properties come last.
 *
 * librdkafka's properties reach far beyond the connection: some name files,
 * run commands (sasl.kerberos.kinit.cmd), load libraries
 * (plugin.library.paths, ssl.engine.location) or contact other endpoints,
 * all as the database server's OS user.  So one allow-list,
 * kafka_properties[], says for every property pg_pipeline passes on what
 * kind it is, and kind_rules[] where each kind may be set: tuning at every
 * level, brokers on the server, TLS/SASL policy and credentials on the
 * server or a user mapping, secrets only on user mappings, and anything
 * that touches the host only on a server, set by a superuser.  Anything
 * else is refused.  check_property() applies it when options are stored
 * (the validator, _check_source, _check_sink) and again every time a
 * configuration is built for a worker, before any value reaches
 * rd_kafka_conf_set(); then librdkafka checks the value itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "commands/extension.h"

#include "catalog/pg_authid.h"

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

/*
 * Where a property is given.  A server's options are checked with
 * "superuser" = the role running CREATE/ALTER SERVER is one (the validator)
 * or the server's owner is one (when the options are used).
 */
typedef enum KafkaLevel
{
	KAFKA_LEVEL_SERVER,			/* CREATE/ALTER SERVER ... OPTIONS */
	KAFKA_LEVEL_MAPPING,		/* CREATE/ALTER USER MAPPING ... OPTIONS */
	KAFKA_LEVEL_PROPERTIES		/* a source's or sink's properties jsonb */
} KafkaLevel;

#define AT_SERVER		0x01	/* in a server's options */
#define AT_SERVER_SU	0x02	/* in a server's options, by a superuser only */
#define AT_MAPPING		0x04	/* in a user mapping's options */
#define AT_PROPERTIES	0x08	/* in a source's or sink's properties */

/*
 * What a property does decides where it may be set.  Each kind's levels,
 * and the sentences that explain a refusal, are in kind_rules[].
 */
typedef enum KafkaPropertyKind
{
	KIND_TUNING,				/* sizes, timeouts, names: nothing outside the
								 * client */
	KIND_BROKERS,				/* which hosts are contacted */
	KIND_SECURITY,				/* how the connection and credentials are
								 * protected */
	KIND_CREDENTIAL,			/* who connects (not secret) */
	KIND_SECRET,				/* passwords and private keys */
	KIND_HOST					/* a file, command, library or endpoint of the
								 * database server's host, or its log */
} KafkaPropertyKind;

static const struct
{
	int			levels;
	const char *detail;
	const char *hint;
}			kind_rules[] = {
	[KIND_TUNING] = {AT_SERVER | AT_MAPPING | AT_PROPERTIES, NULL, NULL},
	[KIND_BROKERS] = {AT_SERVER,
		"The brokers and how they are reached are part of the server's definition.",
	"Set it with CREATE SERVER or ALTER SERVER."},
	[KIND_SECURITY] = {AT_SERVER | AT_MAPPING,
		"How the connection and its credentials are protected is for the server and the user mapping to decide, not for a source or sink.",
	"Set it in the server's options or in a user mapping's."},
	[KIND_CREDENTIAL] = {AT_SERVER | AT_MAPPING,
		"Credentials belong to the server or to a user mapping, not to a source or sink.",
	"Set it in a user mapping's options (CREATE USER MAPPING) or in the server's."},
	[KIND_SECRET] = {AT_MAPPING,
		"Secrets belong in user mappings, whose options only the mapped role, the server's owner and superusers can read.",
	"Set it with CREATE USER MAPPING or ALTER USER MAPPING."},
	[KIND_HOST] = {AT_SERVER_SU,
		"It names a file, a command, a library or an endpoint of the database server's host, or writes to its log.",
	"Only a superuser may set it, in the options of a server that a superuser owns (CREATE SERVER or ALTER SERVER)."},
};

/*
 * The allow-list: every librdkafka property pg_pipeline passes on, and what
 * it does (so where it may be set).  A property that is not here is refused
 * at every level, whatever librdkafka would make of it (a local offset
 * file, a signal handler, callbacks).  superuser_value: a value that only
 * a superuser may set on a server, wherever else the property may be set
 * (GSSAPI runs the kinit command and uses the host's Kerberos identity).
 * Keep it in step with "Which properties may be set where" in
 * docs/kafka.md.
 */
static const struct
{
	const char *name;
	KafkaPropertyKind kind;
	const char *superuser_value;
}			kafka_properties[] = {
	/* client-wide tuning */
	{"client.id", KIND_TUNING},
	{"client.rack", KIND_TUNING},
	{"message.max.bytes", KIND_TUNING},
	{"message.copy.max.bytes", KIND_TUNING},
	{"receive.message.max.bytes", KIND_TUNING},
	{"max.in.flight.requests.per.connection", KIND_TUNING},
	{"max.in.flight", KIND_TUNING},
	{"topic.metadata.refresh.interval.ms", KIND_TUNING},
	{"metadata.max.age.ms", KIND_TUNING},
	{"topic.metadata.refresh.fast.interval.ms", KIND_TUNING},
	{"topic.metadata.refresh.sparse", KIND_TUNING},
	{"topic.metadata.propagation.max.ms", KIND_TUNING},
	{"socket.timeout.ms", KIND_TUNING},
	{"socket.send.buffer.bytes", KIND_TUNING},
	{"socket.receive.buffer.bytes", KIND_TUNING},
	{"socket.keepalive.enable", KIND_TUNING},
	{"socket.nagle.disable", KIND_TUNING},
	{"socket.max.fails", KIND_TUNING},
	{"socket.connection.setup.timeout.ms", KIND_TUNING},
	{"connections.max.idle.ms", KIND_TUNING},
	{"reconnect.backoff.ms", KIND_TUNING},
	{"reconnect.backoff.max.ms", KIND_TUNING},
	{"api.version.request", KIND_TUNING},
	{"api.version.request.timeout.ms", KIND_TUNING},
	{"api.version.fallback.ms", KIND_TUNING},
	{"broker.version.fallback", KIND_TUNING},
	{"allow.auto.create.topics", KIND_TUNING},
	{"log.connection.close", KIND_TUNING},
	/* consumer tuning */
	{"group.id", KIND_TUNING},
	{"group.instance.id", KIND_TUNING},
	{"partition.assignment.strategy", KIND_TUNING},
	{"session.timeout.ms", KIND_TUNING},
	{"heartbeat.interval.ms", KIND_TUNING},
	{"coordinator.query.interval.ms", KIND_TUNING},
	{"max.poll.interval.ms", KIND_TUNING},
	{"auto.commit.interval.ms", KIND_TUNING},
	{"queued.min.messages", KIND_TUNING},
	{"queued.max.messages.kbytes", KIND_TUNING},
	{"fetch.wait.max.ms", KIND_TUNING},
	{"fetch.message.max.bytes", KIND_TUNING},
	{"max.partition.fetch.bytes", KIND_TUNING},
	{"fetch.max.bytes", KIND_TUNING},
	{"fetch.min.bytes", KIND_TUNING},
	{"fetch.error.backoff.ms", KIND_TUNING},
	{"isolation.level", KIND_TUNING},
	{"check.crcs", KIND_TUNING},
	{"auto.offset.reset", KIND_TUNING},
	/* producer tuning */
	{"queue.buffering.max.messages", KIND_TUNING},
	{"queue.buffering.max.kbytes", KIND_TUNING},
	{"queue.buffering.max.ms", KIND_TUNING},
	{"linger.ms", KIND_TUNING},
	{"message.send.max.retries", KIND_TUNING},
	{"retries", KIND_TUNING},
	{"retry.backoff.ms", KIND_TUNING},
	{"queue.buffering.backpressure.threshold", KIND_TUNING},
	{"compression.codec", KIND_TUNING},
	{"compression.type", KIND_TUNING},
	{"compression.level", KIND_TUNING},
	{"batch.num.messages", KIND_TUNING},
	{"batch.size", KIND_TUNING},
	{"sticky.partitioning.linger.ms", KIND_TUNING},
	{"request.required.acks", KIND_TUNING},
	{"acks", KIND_TUNING},
	{"request.timeout.ms", KIND_TUNING},
	{"message.timeout.ms", KIND_TUNING},
	{"delivery.timeout.ms", KIND_TUNING},
	{"partitioner", KIND_TUNING},
	/* the cluster */
	{"bootstrap.servers", KIND_BROKERS},
	{"metadata.broker.list", KIND_BROKERS},
	{"broker.address.family", KIND_BROKERS},
	{"broker.address.ttl", KIND_BROKERS},
	/* protection of the connection */
	{"security.protocol", KIND_SECURITY},
	{"sasl.mechanism", KIND_SECURITY, "GSSAPI"},
	{"sasl.mechanisms", KIND_SECURITY, "GSSAPI"},
	{"ssl.cipher.suites", KIND_SECURITY},
	{"ssl.curves.list", KIND_SECURITY},
	{"ssl.sigalgs.list", KIND_SECURITY},
	{"enable.ssl.certificate.verification", KIND_SECURITY},
	{"ssl.endpoint.identification.algorithm", KIND_SECURITY},
	{"ssl.ca.pem", KIND_SECURITY},
	/* who connects */
	{"sasl.username", KIND_CREDENTIAL},
	{"ssl.certificate.pem", KIND_CREDENTIAL},
	{"sasl.oauthbearer.client.id", KIND_CREDENTIAL},
	{"sasl.oauthbearer.scope", KIND_CREDENTIAL},
	{"sasl.oauthbearer.extensions", KIND_CREDENTIAL},
	/* secrets */
	{"sasl.password", KIND_SECRET},
	{"ssl.key.password", KIND_SECRET},
	{"ssl.keystore.password", KIND_SECRET},
	{"ssl.key.pem", KIND_SECRET},
	{"sasl.oauthbearer.client.secret", KIND_SECRET},
	/* files, commands, libraries, endpoints, the server log */
	{"ssl.key.location", KIND_HOST},
	{"ssl.certificate.location", KIND_HOST},
	{"ssl.ca.location", KIND_HOST},
	{"ssl.ca.certificate.stores", KIND_HOST},
	{"ssl.crl.location", KIND_HOST},
	{"ssl.keystore.location", KIND_HOST},
	{"ssl.engine.location", KIND_HOST},
	{"ssl.engine.id", KIND_HOST},
	{"ssl.providers", KIND_HOST},
	{"sasl.kerberos.kinit.cmd", KIND_HOST},
	{"sasl.kerberos.keytab", KIND_HOST},
	{"sasl.kerberos.principal", KIND_HOST},	/* substituted into kinit.cmd */
	{"sasl.kerberos.service.name", KIND_HOST},
	{"sasl.kerberos.min.time.before.relogin", KIND_HOST},
	{"sasl.oauthbearer.method", KIND_HOST},
	{"sasl.oauthbearer.token.endpoint.url", KIND_HOST},
	{"sasl.oauthbearer.config", KIND_HOST},
	{"enable.sasl.oauthbearer.unsecure.jwt", KIND_HOST},
	{"plugin.library.paths", KIND_HOST},
	{"client.dns.lookup", KIND_HOST},
	{"debug", KIND_HOST},
	{"log_level", KIND_HOST},
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

/* Does librdkafka know this property?  (Asking never sets anything.) */
static bool
librdkafka_knows(const char *prop)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
	size_t		size = 0;
	bool		known;

	known = rd_kafka_conf_get(conf, prop, NULL, &size) != RD_KAFKA_CONF_UNKNOWN ||
		rd_kafka_topic_conf_get(tconf, prop, NULL, &size) != RD_KAFKA_CONF_UNKNOWN;
	rd_kafka_topic_conf_destroy(tconf);
	rd_kafka_conf_destroy(conf);
	return known;
}

/*
 * check_property
 *		Raise a clear error unless the property may be given at this level:
 *		it must be on the allow-list, allowed at the level, and a superuser-
 *		only one (or value) needs a server set by (or owned by) a superuser.
 *		Nothing is given to librdkafka before this check has passed: some
 *		properties act as soon as they are set (plugin.library.paths loads
 *		its libraries).  Destroys conf before raising.
 */
static void
check_property(rd_kafka_conf_t *conf, const char *name, const char *prop,
			   const char *value, KafkaLevel level, bool superuser,
			   const char *where)
{
	int			i;
	int			levels;
	int			at;
	const char *su_value;

	for (i = 0; managed_properties[i]; i++)
		if (strcmp(prop, managed_properties[i]) == 0)
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Kafka property \"%s\" is managed by pg_pipeline", prop),
					 errdetail("Offsets are stored in PostgreSQL, in the same transaction as the rows."),
					 errhint("Remove it from the %s.", where)));
		}

	for (i = 0; i < (int) lengthof(kafka_properties); i++)
		if (strcmp(prop, kafka_properties[i].name) == 0)
			break;
	if (i == (int) lengthof(kafka_properties))
	{
		rd_kafka_conf_destroy(conf);
		if (!librdkafka_knows(prop))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Kafka property \"%s\" in the %s", name, where),
					 errdetail("librdkafka: No such configuration property: \"%s\"", prop),
					 errhint("See \"Which properties may be set where\" in pg_pipeline's docs/kafka.md.")));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Kafka property \"%s\" is not supported by pg_pipeline", prop),
				 errdetail("pg_pipeline gives librdkafka only the properties on its list, and \"%s\" is not on it.", prop),
				 errhint("See \"Which properties may be set where\" in pg_pipeline's docs/kafka.md.")));
	}

	levels = kind_rules[kafka_properties[i].kind].levels;
	su_value = kafka_properties[i].superuser_value;
	at = level == KAFKA_LEVEL_SERVER ? AT_SERVER :
		level == KAFKA_LEVEL_MAPPING ? AT_MAPPING : AT_PROPERTIES;

	if (level == KAFKA_LEVEL_SERVER && (levels & AT_SERVER_SU) && !superuser)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set Kafka property \"%s\" in the %s", prop, where),
				 errdetail("%s", kind_rules[kafka_properties[i].kind].detail),
				 errhint("%s", kind_rules[kafka_properties[i].kind].hint)));
	}
	if (!(levels & at) && !(level == KAFKA_LEVEL_SERVER && (levels & AT_SERVER_SU)))
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode((levels & AT_SERVER_SU) ? ERRCODE_INSUFFICIENT_PRIVILEGE :
						 ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Kafka property \"%s\" cannot be set in the %s", prop, where),
				 errdetail("%s", kind_rules[kafka_properties[i].kind].detail),
				 errhint("%s", kind_rules[kafka_properties[i].kind].hint)));
	}
	if (su_value && pg_strcasecmp(value, su_value) == 0 &&
		!(level == KAFKA_LEVEL_SERVER && superuser))
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set Kafka property \"%s\" to \"%s\" in the %s",
						prop, value, where),
				 errdetail("%s runs a Kerberos command on the database server's host and authenticates with that host's credentials.",
						   su_value),
				 errhint("%s", kind_rules[KIND_HOST].hint)));
	}
}

/*
 * Set one property after check_property(), or raise a clear error with
 * librdkafka's reason.  superuser: see KafkaLevel.
 */
static void
set_property(rd_kafka_conf_t *conf, const char *name, const char *value,
			 KafkaLevel level, bool superuser, const char *where)
{
	char		errstr[512];
	const char *prop = property_name(name);

	check_property(conf, name, prop, value, level, superuser, where);

	if (rd_kafka_conf_set(conf, prop, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kafka property \"%s\" in the %s", name, where),
				 errdetail("librdkafka: %s", errstr),
				 errhint("See librdkafka's CONFIGURATION.md for the values it takes.")));
	}
}

static void
set_options(rd_kafka_conf_t *conf, List *options, KafkaLevel level,
			bool superuser, const char *where)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		set_property(conf, def->defname, defGetString(def), level, superuser, where);
	}
}

/*
 * pipeline.kafka_fdw_validator(options text[], catalog oid): checks the
 * options of the wrapper, its servers and user mappings.  It runs in the
 * session of CREATE/ALTER SERVER or USER MAPPING, with the whole list the
 * object will have, so superuser() is the role that writes it: a server's
 * owner who is not a superuser cannot add a superuser-only property, nor
 * change the options of a server that holds one.
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
	if (catalog == ForeignServerRelationId)
		set_options(conf, options, KAFKA_LEVEL_SERVER, superuser(), "server options");
	else
		set_options(conf, options, KAFKA_LEVEL_MAPPING, false, "user mapping options");
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

	/*
	 * Every level is checked again here, not only when it was stored: a
	 * catalog row written by an older version, or pipeline.sources updated
	 * directly, must not reach librdkafka with a property its level may
	 * not give.  A server's superuser-only options count only on a server
	 * a superuser owns.
	 */
	conf = rd_kafka_conf_new();

	/*
	 * librdkafka's own default SASL mechanism is GSSAPI, which runs kinit
	 * as the server's OS user with the host's Kerberos identity: a user
	 * mapping that only asked for security.protocol SASL_PLAINTEXT would
	 * get it.  The default here is PLAIN; GSSAPI only when a superuser's
	 * server says so (check_property).
	 */
	if (rd_kafka_conf_set(conf, "sasl.mechanisms", "PLAIN", value, sizeof(value)) != RD_KAFKA_CONF_OK)
		elog(ERROR, "could not set librdkafka's default SASL mechanism: %s", value);
	set_options(conf, fs->options, KAFKA_LEVEL_SERVER, superuser_arg(fs->owner),
				"server options");
	set_options(conf, user_mapping_options(userid, fs->serverid), KAFKA_LEVEL_MAPPING,
				false, "user mapping options");

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
				set_property(conf, key, val, KAFKA_LEVEL_PROPERTIES, false,
							 psprintf("%s properties", what));
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
 * librdkafka's latest complaint in this process (a consumer's or a sink's):
 * what its log said at error level or worse, or its error callback; the
 * worker reports it and clears it.
 */
char		pp_kafka_error[512];

/* served from our own poll calls (log.queue): never from its threads */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		strlcpy(pp_kafka_error, buf, sizeof(pp_kafka_error));
}

/* for rd_kafka_conf_set_error_cb(): served from our own poll calls too */
void
pp_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	strlcpy(pp_kafka_error, reason, sizeof(pp_kafka_error));
}

/*
 * pp_kafka_new_client
 *		Create a librdkafka client from conf (which it takes over) with its
 *		log routed to a queue served by this process's own poll calls, never
 *		from librdkafka's threads, into pp_kafka_error; raise a clear error
 *		when it cannot.
 */
rd_kafka_t *
pp_kafka_new_client(rd_kafka_conf_t *conf, rd_kafka_type_t type,
					const char *what, const char *name)
{
	char		errstr[512];
	rd_kafka_t *rk;

	rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof(errstr));
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
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
	{
		int64		ms;

		if (!pp_kafka_ms_from_timestamptz(DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																				  CStringGetDatum(start_from),
																				  ObjectIdGetDatum(InvalidOid),
																				  Int32GetDatum(-1))),
										  &ms))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("start_from \"%s\" is not a time Kafka can search for", start_from),
					 errdetail("Kafka's timestamps are milliseconds since 1970-01-01 00:00:00 UTC, and its negative ones mean earliest and latest."),
					 errhint("Use earliest, latest, or a finite time from 1970 on.")));
	}

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

/*
 * pp_kafka_connection_changed
 *		After ALTER SERVER (options or owner) of a Kafka server, or a user
 *		mapping created, altered or dropped on one: the running consumers
 *		and sinks that use it take the change at once (their config_version
 *		moves, the coordinator restarts them with the new settings), instead
 *		of keeping the old ones until a pause and resume.  A user mapping
 *		touches only the objects of its role (all of them for PUBLIC's): a
 *		role altering its own mapping restarts nobody else's workers.
 *		Written as the bootstrap superuser: the statement's role may not see
 *		the sources it concerns.
 */
void
pp_kafka_connection_changed(const char *server, Oid role)
{
	ForeignServer *fs = GetForeignServerByName(server, true);
	PipelineAsRole as;
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	bool		by_oid;

	if (fs == NULL || strcmp(GetForeignDataWrapper(fs->fdwid)->fdwname, KAFKA_FDW_NAME) != 0 ||
		!OidIsValid(get_extension_oid(PP_EXTENSION_NAME, true)))
		return;
	by_oid = pp_catalog_has_column("sources", "owner_oid") &&
		pp_catalog_has_column("sinks", "owner_oid");
	if (OidIsValid(role) && !by_oid)
		return;					/* an extension not updated yet: leave it */
	values[0] = CStringGetTextDatum(server);
	values[1] = ObjectIdGetDatum(role);

	SPI_connect();
	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	for (int i = 0; i < 2; i++)
	{
		char	   *sql = psprintf("UPDATE pipeline.%s SET config_version = config_version "
								   "OPERATOR(pg_catalog.+) 1 WHERE server OPERATOR(pg_catalog.=) $1::pg_catalog.name%s",
								   i == 0 ? "sources" : "sinks",
								   OidIsValid(role) ? " AND owner_oid OPERATOR(pg_catalog.=) $2" : "");

		if (SPI_execute_with_args(sql, 2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not note the change of server \"%s\"", server);
	}
	pp_as_role_end(&as);
	SPI_finish();
}
