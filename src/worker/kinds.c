/*-------------------------------------------------------------------------
 *
 * kinds.c
 *	  The one table of pg_pipeline's worker kinds.
 *
 * Every kind of worker is declared here once: its name (backend_type
 * "pg_pipeline <name>"), its main function, its parent (the process that
 * starts it, and is woken in its stead when it does not run), what the
 * parent does when it exits (PipelineRestart), how a commit wakes it
 * (PipelineWakeBy) and two settings pp_worker_main applies before calling
 * its main function.  Everything else reads this table: pp_worker_start
 * (names), pp_worker_main (dispatch), the supervisor (restart policy and
 * wake-up at every pass), pp_wake_at_commit (whom to wake).
 *
 * Adding a kind: a PipelineWorkerKind value in common/pipeline.h, a row
 * here, a main function (src/worker/README.md, "Adding a worker kind").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "worker/worker.h"

const PipelineWorkerKindInfo pp_worker_kinds[PP_WORKER_NKINDS] = {
	/*
	 * The launcher is a static worker the postmaster restarts (launcher.c);
	 * woken, it looks at the database named.
	 */
	[PP_WORKER_LAUNCHER] = {
		.name = "launcher", .main = NULL, .parent = PP_WORKER_LAUNCHER,
		.restart = PP_RESTART_NEVER, .wake = PP_WAKE_LATCH,
		.pin_search_path = true, .lock_timeout = false,
	},
	/* one per database with the extension; catalog changes wake it */
	[PP_WORKER_COORDINATOR] = {
		.name = "coordinator", .main = pp_coordinator_main, .parent = PP_WORKER_LAUNCHER,
		.restart = PP_RESTART_BACKOFF, .wake = PP_WAKE_LATCH,
		.pin_search_path = true, .lock_timeout = true,
	},
	/* a share of a Kafka source's partitions; Kafka is its clock */
	[PP_WORKER_CONSUMER] = {
		.name = "consumer", .main = pp_kafka_consumer_main, .parent = PP_WORKER_COORDINATOR,
		.restart = PP_RESTART_BACKOFF, .wake = PP_WAKE_NONE,
		.pin_search_path = true, .lock_timeout = false,
	},
	/* a Kafka sink; an outbox insert wakes the coordinator, whose pass wakes it */
	[PP_WORKER_SINK] = {
		.name = "sink", .main = pp_kafka_sink_main, .parent = PP_WORKER_COORDINATOR,
		.restart = PP_RESTART_BACKOFF, .wake = PP_WAKE_PARENT,
		.pin_search_path = true, .lock_timeout = false,
	},
	/*
	 * One task attempt or sensor poke, as the DAG's owner, who runs its
	 * commands as in psql (it pins only its bookkeeping).  Its exit is the
	 * attempt's end: the scheduler records it, the next attempt is another
	 * runner.
	 */
	[PP_WORKER_RUNNER] = {
		.name = "runner", .main = pp_scheduler_runner_main, .parent = PP_WORKER_COORDINATOR,
		.restart = PP_RESTART_NEVER, .wake = PP_WAKE_NONE,
		.pin_search_path = false, .lock_timeout = false,
	},
	/* the database's async windows; a commit into a source of one wakes it */
	[PP_WORKER_MAINTAINER] = {
		.name = "maintainer", .main = pp_window_maintainer_main, .parent = PP_WORKER_COORDINATOR,
		.restart = PP_RESTART_BACKOFF, .wake = PP_WAKE_LATCH,
		.pin_search_path = true, .lock_timeout = true,
	},

	/*
	 * One of the workers of a pipeline.start_run invocation, as the role
	 * that started it (each model's SQL runs as the model's owner).  Once
	 * restarted after a failure: a claim takes again the model it was
	 * building.  A sibling's finished model wakes it through the
	 * coordinator, whose pass sets every runner's latch.
	 */
	[PP_WORKER_MODEL_RUNNER] = {
		.name = "model runner", .main = pp_model_runner_main, .parent = PP_WORKER_COORDINATOR,
		.restart = PP_RESTART_ONCE, .wake = PP_WAKE_PARENT,
		.pin_search_path = true, .lock_timeout = false,
	},
};

const char *
pp_worker_kind_name(PipelineWorkerKind kind)
{
	if ((int) kind < 0 || kind >= PP_WORKER_NKINDS || pp_worker_kinds[kind].name == NULL)
		return "unknown";
	return pp_worker_kinds[kind].name;
}
