/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  Declarations shared by every pg_pipeline subsystem: configuration,
 *	  shared memory, the worker framework and the wake-up API.
 *
 * Process model (see docs/architecture.md for the state machines):
 *
 *	postmaster
 *	  └─ pg_pipeline launcher      static worker, connected to no database
 *	       └─ pg_pipeline coordinator   one per database with the extension
 *	            └─ consumer / sink / runner / maintainer / model runner
 *	                                               dynamic workers
 *
 * Every dynamic worker owns a PipelineWorkerSlot in shared memory for its
 * whole life (and a coordinator's slot outlives its process while it waits
 * to be restarted), so pipeline.workers can show state and last error even
 * of a worker that is not running.
 *
 * Locking: PipelineShared->lock (an LWLock) protects the slot array and the
 * launcher's request queue.  Latches are set without holding it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_PIPELINE_H
#define PP_PIPELINE_H

#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "common/compat.h"

#define PP_LIBRARY_NAME		"pg_pipeline"
#define PP_EXTENSION_NAME	"pg_pipeline"
#define PP_MAX_ERROR_LEN	256
#define PP_MAX_PARAMS_LEN	96	/* what fits in bgw_extra beside our header */
#define PP_MAX_DB_REQUESTS	64
#define PP_MAX_PAUSED_DBS	16	/* database-wide statements (DROP, RENAME...) */
#define PP_RESTORE_PAUSES	4	/* more, for restores only: a role that holds
								 * every database-wide pause open cannot make a
								 * restore run unpaused (hooks.c) */
#define PP_MAX_WATCHED		1024	/* tables written under a data-aware DAG */
#define PP_WORKER_LOCK_TIMEOUT	"10s"	/* coordinator's and maintainer's waits */

/* Kinds of worker; the names are what pg_stat_activity.backend_type shows. */
typedef enum PipelineWorkerKind
{
	PP_WORKER_LAUNCHER = 0,
	PP_WORKER_COORDINATOR,
	PP_WORKER_CONSUMER,
	PP_WORKER_SINK,
	PP_WORKER_RUNNER,
	PP_WORKER_MAINTAINER,
	PP_WORKER_MODEL_RUNNER,
	PP_WORKER_NKINDS
} PipelineWorkerKind;

/* Life cycle of a worker slot; drawn in docs/architecture.md. */
typedef enum PipelineWorkerState
{
	PP_SLOT_FREE = 0,			/* unused */
	PP_SLOT_STARTING,			/* registered with the postmaster */
	PP_SLOT_RUNNING,			/* the process attached and works */
	PP_SLOT_STOPPED,			/* the process exited */
	PP_SLOT_BACKOFF				/* exited; the parent restarts it later */
} PipelineWorkerState;

typedef struct PipelineWorkerSlot
{
	PipelineWorkerState state;
	PipelineWorkerKind kind;
	uint32		generation;		/* bumped at every claim of the slot */
	Oid			dboid;
	Oid			roleoid;
	pid_t		pid;			/* 0 when no process is attached */
	Latch	   *latch;			/* the process's latch while attached */
	bool		no_restart;		/* exited on purpose: do not restart */
	uint32		wakes;			/* pp_worker_wake() calls: asked to look again */
	int			restarts;		/* restarts by the parent so far */
	char		label[NAMEDATALEN];	/* what it works on (a source's name) */
	/* progress, written by the worker under the lock after each batch */
	uint64		items;			/* rows, messages, runs... since start */
	uint64		bytes;
	TimestampTz last_batch_at;
	float8		items_per_sec;	/* moving averages over recent batches */
	float8		bytes_per_sec;
	TimestampTz started_at;
	TimestampTz stopped_at;
	/*
	 * A worker that takes one unit of work after another (a runner: the
	 * attempts of its role) says which it holds, for its parent to clean up
	 * after it: 0 the one it was started for, -1 none, else that one's id;
	 * past item_deadline (0: none) the parent stops it.
	 */
	int64		item;
	TimestampTz item_deadline;
	/* written by the worker itself, even while erroring: own spinlock */
	slock_t		error_mutex;
	TimestampTz last_error_at;
	char		last_error[PP_MAX_ERROR_LEN];
} PipelineWorkerSlot;

/* The data version of a table a data-aware DAG watches (scheduler.c). */
typedef struct PipelineDataVersion
{
	Oid			dboid;
	Oid			relid;
	uint64		version;		/* bumped at each commit that wrote it */
} PipelineDataVersion;

/*
 * What a prepared transaction will wake when COMMIT PREPARED names its GID,
 * in whatever session (wake.c): workers, and the watched tables it wrote
 * (their data versions, scheduler.c).  gid[0] == 0: a free entry.
 */
#define PP_MAX_PREPARED		64
#define PP_PREPARED_RELS	16
#define PP_PREPARED_WAKES	8
typedef struct PipelinePrepared
{
	Oid			dboid;
	char		gid[200];		/* GIDSIZE */
	int			nwakes;
	struct
	{
		int32		kind;		/* a PipelineWorkerKind */
		Oid			dboid;
	}			wakes[PP_PREPARED_WAKES];
	int			nrels;
	Oid			relids[PP_PREPARED_RELS];
} PipelinePrepared;

/*
 * The one shared structure.  lock protects everything in it but the
 * per-slot error fields: the slot array, the launcher's request queue
 * (databases to look at again), the list of paused databases and the
 * data versions of watched tables.
 */
typedef struct PipelineShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	TimestampTz launcher_started_at;
	int			launcher_restarts;
	bool		rescan_all;		/* request queue overflowed */
	int			nrequests;
	Oid			requests[PP_MAX_DB_REQUESTS];
	int			npaused;
	Oid			paused[PP_MAX_PAUSED_DBS + PP_RESTORE_PAUSES];
	uint64		data_epoch;		/* the data versions' clock: starts at the start time, +1 a bump */
	int			nwatched;
	PipelineDataVersion watched[PP_MAX_WATCHED];
	PipelinePrepared prepared[PP_MAX_PREPARED];
	int			nslots;
	PipelineWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PipelineShared;

/*
 * What a dynamic worker finds in its bgw_extra: which slot is its own, the
 * database and role to connect as, and the kind-specific parameters.
 */
typedef struct PipelineWorkerArgs
{
	int32		slot;
	uint32		generation;
	Oid			dboid;
	Oid			roleoid;
	int32		kind;
	uint32		params_len;
	char		params[PP_MAX_PARAMS_LEN];
} PipelineWorkerArgs;

StaticAssertDecl(sizeof(PipelineWorkerArgs) <= BGW_EXTRALEN,
				 "PipelineWorkerArgs must fit in bgw_extra");

/* src/common/guc.c */
extern bool pp_enabled;
extern int	pp_max_workers;
extern char *pp_databases;
extern int	pp_naptime_ms;
extern int	pp_restart_delay_ms;
extern int	pp_max_restart_delay_ms;
extern int	pp_log_level;
extern int	pp_max_message_bytes;
extern void pp_guc_init(void);
extern bool pp_guc_database_allowed(const char *dbname);

/* src/common/shmem.c */
extern PipelineShared *pp_shared;
extern void pp_shmem_init(void);
extern void pp_shmem_require(void);
extern const char *pp_worker_kind_name(PipelineWorkerKind kind);
extern const char *pp_worker_state_name(PipelineWorkerState state);

/* src/common/asrole.c: SQL run on someone else's behalf (STYLE.md 17) */
typedef struct PipelineAsRole
{
	Oid			user;
	int			sec;
	int			guc_level;
} PipelineAsRole;
extern void pp_as_role_begin(PipelineAsRole *save, Oid role);
extern void pp_as_role_begin_path(PipelineAsRole *save, Oid role, const char *search_path);
extern void pp_as_role_begin_ddl(PipelineAsRole *save, Oid role);
extern void pp_as_role_end(PipelineAsRole *save);
extern int	pp_pinned_search_path_begin(void);
extern void pp_pinned_search_path_end(int level);
extern void pp_pin_session_search_path(void);
extern bool pp_xact_lock(uint32 class, uint32 key, bool wait);
extern bool pp_xact_lock_mode(uint32 class, uint32 key, int mode, bool wait);
extern bool pp_catalog_has_column(const char *table, const char *column);
extern char **pp_text_array_cstrings(Datum array, int *n, bool skip_nulls);
extern const char *pp_owner_name_sql(const char *table, const char *prefix);

/* src/common/zstd.c */
extern int	pp_zstd_max_output;
extern bytea *pp_zstd_compress(const void *data, size_t len);
extern bytea *pp_zstd_decompress(bytea *in);

/* src/worker/worker.c: the dynamic worker API */
extern int	pp_worker_start(PipelineWorkerKind kind, Oid dboid, Oid roleoid,
							const char *label,
							const void *params, Size params_len,
							int reuse_slot,
							BackgroundWorkerHandle **handle);
extern bool pp_worker_wake(PipelineWorkerKind kind, Oid dboid);
extern void pp_worker_report_progress(uint64 items, uint64 bytes,
									  TimestampTz batch_start);
extern void pp_worker_release(int slot);
extern int	pp_restart_delay(int failures);
extern void pp_worker_terminate_database(Oid dboid, int except_slot);
extern void pp_worker_backoff(int slot);
extern void pp_worker_signal_database(Oid dboid, int signo);
extern void pp_worker_set_no_restart(void);
extern void pp_worker_set_item(int64 item, const char *label, TimestampTz deadline);
extern int64 pp_worker_slot_item(int slot, TimestampTz *deadline);
extern bool pp_worker_parent_alive(void);
extern void pp_worker_announce(const char *what);
extern void pp_worker_record_error(int slot, const char *message);
extern void pp_worker_xact_start(void);
extern void pp_worker_xact_commit(void);
extern void pp_worker_bookkeeping_begin(PipelineAsRole *as);
extern void pp_worker_bookkeeping_end(PipelineAsRole *as);
extern PipelineWorkerArgs *MyPipelineWorker;
extern PGDLLEXPORT void pp_worker_main(Datum main_arg);

/* src/worker/launcher.c */
extern void pp_launcher_register(void);
extern void pp_launcher_request(Oid dboid);
extern bool pp_database_paused(Oid dboid);
extern void pp_database_resume(Oid dboid);
extern PGDLLEXPORT void pp_launcher_main(Datum main_arg);

/* src/worker/coordinator.c */
extern void pp_coordinator_main(PipelineWorkerArgs *args);
extern void pp_coordinator_wake(Oid dboid);
extern bool pp_lock_extension(void);

/* src/kafka: the coordinator's wanted list and the workers' entry points */
struct PipelineSupervisor;
extern void pp_kafka_wanted(struct PipelineSupervisor *sup);
extern void pp_kafka_consumer_main(PipelineWorkerArgs *args);
extern void pp_kafka_sink_main(PipelineWorkerArgs *args);

/* src/scheduler: the coordinator's pass and the runner worker */
extern int	pp_max_task_runs;
extern int	pp_runner_max_tasks;
extern long pp_scheduler_pass(void);
extern void pp_scheduler_runner_main(PipelineWorkerArgs *args);
struct List;
extern void pp_scheduler_tables_written(struct List *relids);

/* src/window: the maintainer worker of async window aggregates */
extern int	pp_window_delay_ms;
extern int	pp_window_fold_interval_ms;
extern int	pp_window_work_mem_kb;
extern void pp_window_maintainer_main(PipelineWorkerArgs *args);
extern void pp_window_wanted(struct PipelineSupervisor *sup);
struct RenameStmt;
extern void pp_window_check_rename(struct RenameStmt *stmt);
struct CreateTrigStmt;
extern void pp_window_trigger_created(struct CreateTrigStmt *stmt);
extern void pp_window_relation_dropped(Oid relid, int dropflags);

/* src/model: the model runners of pipeline.start_run (run.c) */
extern int	pp_model_workers;
extern void pp_model_runner_main(PipelineWorkerArgs *args);
extern void pp_model_wanted(struct PipelineSupervisor *sup);

/* src/quality: settings, and a relation's expectations go with it (hooks.c) */
extern int	pp_check_failure_limit;
extern int	pp_check_history_retention;
extern void pp_quality_relation_dropped(Oid relid, int dropflags);

/* src/kafka/fdw.c: a Kafka server or user mapping changed (from the hook) */
extern void pp_kafka_connection_changed(const char *server, Oid role);

/* src/worker/hooks.c */
extern void pp_hooks_init(void);

#endif							/* PP_PIPELINE_H */
