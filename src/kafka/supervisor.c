/*-------------------------------------------------------------------------
 *
 * supervisor.c
 *	  The coordinator's side of Kafka: which consumer and sink workers
 *	  should run now.
 *
 * At every wake-up (a committed change to pipeline.sources or sinks sets
 * its latch through a statement trigger; the postmaster sets it when a
 * worker starts or exits; an outbox insert wakes it for the sinks) the
 * coordinator asks each subsystem for its wanted workers and lets the one
 * reconcile routine (src/worker/supervise.c) start, stop, restart and reap
 * them.  Kafka's list:
 *
 *	every source not paused        `consumers` consumers, index 0..n-1
 *	every sink not paused          one sink
 *
 * each as the owner of its row (skipped while that role does not exist),
 * with ConsumerParams (name, index, count, config_version): a changed
 * definition makes the reconcile replace the running worker at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "kafka/kafka.h"
#include "worker/worker.h"

/*
 * Are this version's catalogs there to read?  A database still at an older
 * version (before ALTER EXTENSION UPDATE) simply has no sources.
 */
static bool
catalogs_present(void)
{
	Oid			nsp = get_namespace_oid("pipeline", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("sources", nsp)) &&
		OidIsValid(get_relname_relid("sinks", nsp));
}

/*
 * pp_kafka_wanted
 *		Add the consumers and sinks that should run to sup.  In the caller's
 *		transaction, connected to SPI, with the extension locked.
 */
void
pp_kafka_wanted(PipelineSupervisor *sup)
{
	if (!catalogs_present())
		return;					/* nothing is wanted */
	if (SPI_execute(psprintf("SELECT name, %s, consumers, config_version, %d FROM pipeline.sources "
							 "WHERE NOT paused UNION ALL "
							 "SELECT name, %s, 1, config_version, %d FROM pipeline.sinks "
							 "WHERE NOT paused",
							 pp_owner_name_sql("sources", ""), PP_WORKER_CONSUMER,
							 pp_owner_name_sql("sinks", ""), PP_WORKER_SINK),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.sources");

	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		Datum		owner_name = SPI_getbinval(tup, desc, 2, &isnull);
		Oid			owner = isnull ? InvalidOid : get_role_oid(TextDatumGetCString(owner_name), true);
		int			count = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		int			version = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		PipelineWorkerKind kind = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));

		if (!OidIsValid(owner))
			continue;			/* its owner was dropped */

		for (int i = 0; i < count; i++)
		{
			ConsumerParams params;

			memset(&params, 0, sizeof(params));
			strlcpy(params.source, name, NAMEDATALEN);
			params.index = i;
			params.count = count;
			params.config_version = version;
			pp_supervisor_want(sup, kind, name, i, owner, &params, sizeof(params));
		}
	}
}

/*
 * pp_kafka_lock_wanted
 *		In a consumer or sink worker: lock the row of its source or sink and
 *		say whether the worker is still wanted.  query selects
 *		config_version and paused first, then what the worker reads, from
 *		the row named $1, FOR SHARE.  False when the row is gone, paused or
 *		of another config_version than params (the coordinator then starts
 *		the right workers); when true, the row is SPI_tuptable->vals[0].
 *		what ("source" or "sink") names it in a can't-happen error.  SPI
 *		must be connected.
 */
bool
pp_kafka_lock_wanted(const ConsumerParams *params, const char *what, const char *query)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(params->source)};
	HeapTuple	tup;
	bool		isnull;

	if (SPI_execute_with_args(query, 1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s \"%s\"", what, params->source);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	return DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull)) == params->config_version &&
		!DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
}
