/*-------------------------------------------------------------------------
 *
 * status.c
 *	  What pipeline.status and the first errors need from C: whether the
 *	  background workers can run in this server.
 *
 * Without shared_preload_libraries the library is loaded into a backend
 * only when one of its functions is called: no shared memory, no launcher,
 * no worker ever starts.  The functions that need a worker to have any
 * effect (create_source, publish, schedule, run_now ...) still succeed, so
 * that a pipeline can be defined before the restart, but they say at once
 * that nothing will happen (pipeline._warn_without_workers), and
 * pipeline.status shows every object that needs a worker as 'not running'
 * with the reason (pipeline._workers_problem) instead of failing as
 * pipeline.workers does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"

#include "common/pipeline.h"

/*
 * pipeline._workers_problem() returns why no worker of this database can
 * run: 'not preloaded', 'disabled' (pg_pipeline.enabled is off) or
 * 'database not listed' (not in pg_pipeline.databases); NULL when they can.
 */
PG_FUNCTION_INFO_V1(pipeline__workers_problem);
Datum
pipeline__workers_problem(PG_FUNCTION_ARGS)
{
	const char *problem = NULL;
	char	   *dbname;

	if (pp_shared == NULL)
		problem = "not preloaded";
	else if (!pp_enabled)
		problem = "disabled";
	else if ((dbname = get_database_name(MyDatabaseId)) != NULL &&
			 !pp_guc_database_allowed(dbname))
		problem = "database not listed";
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/*
 * pipeline._warn_without_workers(what) raises a WARNING that "what" will
 * not happen when the workers cannot run; nothing when they can.  Once per
 * transaction: publish() may be called for every row of a large INSERT.
 */
PG_FUNCTION_INFO_V1(pipeline__warn_without_workers);
Datum
pipeline__warn_without_workers(PG_FUNCTION_ARGS)
{
	static LocalTransactionId warned_in = InvalidLocalTransactionId;

	if (pp_shared != NULL || MyProc->lxid == warned_in)
		PG_RETURN_VOID();
	warned_in = MyProc->lxid;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pg_pipeline is not in shared_preload_libraries: %s",
					text_to_cstring(PG_GETARG_TEXT_PP(0))),
			 errdetail("Its background workers do not run in this server "
					   "until it is preloaded; pipeline.status shows what "
					   "waits for them."),
			 errhint("Add pg_pipeline to shared_preload_libraries in "
					 "postgresql.conf and restart the server.")));
	PG_RETURN_VOID();
}
