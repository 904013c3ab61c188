/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  pg_pipeline's configuration parameters (pg_pipeline.*).
 *
 * Every parameter is documented in docs/configuration.md; keep the two in
 * step.  Parameters that size shared memory are PGC_POSTMASTER; those that
 * steer the workers are PGC_SIGHUP so an operator can change them with
 * pg_reload_conf() and the workers pick them up at their next wake-up.
 * pg_pipeline.window_work_mem is per session (PGC_USERSET), and
 * pg_pipeline.max_decompressed_size, a safety limit on what any role may
 * ask to decompress, only a superuser may change (PGC_SUSET).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "common/pipeline.h"

bool		pp_enabled = true;
int			pp_max_workers = 16;
char	   *pp_databases = NULL;
int			pp_naptime_ms = 60000;
int			pp_restart_delay_ms = 1000;
int			pp_max_restart_delay_ms = 60000;
int			pp_log_level = LOG;
int			pp_max_message_bytes = 64 * 1024 * 1024;
int			pp_check_failure_limit = 1000;
int			pp_check_history_retention = 7 * 24 * 3600;
static int	pp_max_consumers_per_role = 64;
static int	pp_max_watched_per_role = 64;
static int	pp_stale_after = 25 * 3600;	/* read by pipeline.status, in SQL */

static const struct config_enum_entry log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"debug", DEBUG2, true},
	{"log", LOG, false},
	{NULL, 0, false}
};

static bool
check_databases(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitIdentifierString(copy, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	list_free(names);
	pfree(copy);
	return ok;
}

/*
 * pp_guc_init
 *		Define the parameters.  Called from _PG_init.
 */
void
pp_guc_init(void)
{
	DefineCustomBoolVariable("pg_pipeline.enabled",
							 "Runs pg_pipeline's background workers.",
							 "When off, the launcher stops every coordinator "
							 "and starts none; SQL functions that need no "
							 "worker keep working.",
							 &pp_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("pg_pipeline.databases",
							   "Databases in which pg_pipeline may run "
							   "workers (comma-separated; empty means all).",
							   NULL,
							   &pp_databases, "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   check_databases, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.naptime",
							"Longest sleep of a coordinator between two "
							"looks at its catalogs.",
							"Catalog changes wake the coordinator at once; "
							"this is only the safety net.",
							&pp_naptime_ms, 60000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.restart_delay",
							"Delay before a failed worker is restarted the "
							"first time.",
							"The delay doubles at every consecutive failure "
							"up to pg_pipeline.max_restart_delay.",
							&pp_restart_delay_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.max_restart_delay",
							"Longest delay before a failed worker is "
							"restarted.",
							NULL,
							&pp_max_restart_delay_ms, 60000, 10, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.max_task_runs",
							"Most scheduled task runs running at once in a "
							"database.",
							"Each running task is a runner worker: it needs a "
							"pg_pipeline.max_workers slot and one of "
							"max_worker_processes.  Further tasks wait in "
							"order.",
							&pp_max_task_runs, 4, 1, 1024,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.runner_max_tasks",
							"Most task attempts one runner runs before it "
							"exits.",
							"A runner that finished an attempt takes the next "
							"queued one itself when it is of the same role, "
							"after resetting its session as DISCARD ALL does. "
							"1: a new runner for every attempt.",
							&pp_runner_max_tasks, 100, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.model_workers",
							"Most model runner workers building models at once "
							"in a database.",
							"pipeline.start_run builds independent models in "
							"parallel, in as many workers as it asks for (by "
							"default this many), all invocations together at "
							"most this many; each needs a "
							"pg_pipeline.max_workers slot and one of "
							"max_worker_processes.",
							&pp_model_workers, 2, 1, 1024,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.check_failure_limit",
							"Most failing rows whose keys a check keeps, per "
							"expectation.",
							"pipeline.check() counts every failing row and "
							"keeps the key and values of this many in "
							"pipeline.check_failures.",
							&pp_check_failure_limit, 1000, 0, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.check_history_retention",
							"How long the results of checks are kept.",
							"Older rows of pipeline.check_results (and their "
							"failing rows) are deleted when results are "
							"recorded; -1 keeps them all.",
							&pp_check_history_retention, 7 * 24 * 3600, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.stale_after",
							"Age after which pipeline.status calls a model or "
							"an expectation stale.",
							"A table-like model not built, an expectation not "
							"checked for this long is shown as stale; 0 never "
							"calls them stale by age.",
							&pp_stale_after, 25 * 3600, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.window_delay",
							"Longest wait before the maintainer merges the "
							"delta of async window aggregates.",
							"The maintainer is woken when a writer commits and "
							"merges at most once per this interval, so bursts "
							"of small transactions are merged together.",
							&pp_window_delay_ms, 200, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.window_fold_interval",
							"Shortest time between two folds of a mode append "
							"window aggregate by the maintainer.",
							"Each fold rewrites the state rows of the groups "
							"with partials, count(DISTINCT) sets whole; readers "
							"combine the partials not folded yet. "
							"pipeline.flush_window() folds at once.",
							&pp_window_fold_interval_ms, 1000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_pipeline.window_work_mem",
							"work_mem of the statements that maintain window "
							"aggregates, when the session's is lower.",
							"A large statement aggregates all its rows at once; "
							"this keeps that aggregation in memory.",
							&pp_window_work_mem_kb, 65536, 64, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.max_message_bytes",
							"Largest Kafka message (value plus key) a source "
							"loads; a larger one is a dead letter.",
							"Checked before the message is decoded, so one huge "
							"message cannot exhaust a batch's buffer or stall "
							"its consumer.",
							&pp_max_message_bytes, 64 * 1024 * 1024, 1024,
							256 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);

	/* read by SQL (pipeline._role_limits): no C variable is needed */
	DefineCustomIntVariable("pg_pipeline.max_consumers_per_role",
							"Most consumers (the sum of the consumers of its "
							"sources) one role may have in a database.",
							"Consumers are background workers: one role must "
							"not take every max_worker_processes slot.",
							&pp_max_consumers_per_role, 64, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.max_watched_per_role",
							"Most tables one role's data-aware DAGs may watch "
							"in a database.",
							"The versions of watched tables live in a shared "
							"array of 1024 entries for the whole server.",
							&pp_max_watched_per_role, 64, 1, 1024,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pg_pipeline.max_decompressed_size",
							"Largest output of one zstd frame (dead letters, "
							"the raw archive, pipeline.zstd_decompress).",
							"A larger frame is refused before it is "
							"decompressed.  Only a superuser may raise it.",
							&pp_zstd_max_output, 256 * 1024 * 1024, 1024,
							(int) (MaxAllocSize - VARHDRSZ),
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);

	DefineCustomEnumVariable("pg_pipeline.log_level",
							 "Message level of the workers' start, stop and "
							 "restart messages.",
							 NULL,
							 &pp_log_level, LOG, log_level_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	/* sizes shared memory: can exist only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pg_pipeline.max_workers",
								"Maximum number of pg_pipeline worker slots "
								"(coordinators and their workers).",
								"Each slot also needs one of max_worker_processes.",
								&pp_max_workers, 16, 2, 1024,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("pg_pipeline");
}

/*
 * pp_guc_database_allowed
 *		Does pg_pipeline.databases let workers run in this database?
 */
bool
pp_guc_database_allowed(const char *dbname)
{
	char	   *copy;
	List	   *names = NIL;
	ListCell   *lc;
	bool		allowed = false;

	if (pp_databases == NULL || pp_databases[0] == '\0')
		return true;

	copy = pstrdup(pp_databases);
	if (!SplitIdentifierString(copy, ',', &names))
	{
		pfree(copy);
		return false;			/* the check hook refuses this already */
	}
	foreach(lc, names)
	{
		if (strcmp((char *) lfirst(lc), dbname) == 0)
		{
			allowed = true;
			break;
		}
	}
	list_free(names);
	pfree(copy);
	return allowed;
}
