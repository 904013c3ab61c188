/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  What a subsystem needs of the worker framework: the table of worker
 *	  kinds, the supervisor that runs the workers a subsystem wants, the
 *	  slot accessors and the commit-time wake-up.
 *
 * Adding a worker kind is one row in pp_worker_kinds (kinds.c) and one
 * main function; src/worker/README.md, "Adding a worker kind", says how.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_WORKER_H
#define PP_WORKER_H

#include "common/pipeline.h"

/* What the parent does when a worker of a kind exits without being asked. */
typedef enum PipelineRestart
{
	PP_RESTART_BACKOFF,			/* start it again after a doubling delay */
	PP_RESTART_ONCE,			/* start it again once, after restart_delay */
	PP_RESTART_NEVER			/* its exit is final: the parent records it */
} PipelineRestart;

/* How a commit (pp_wake_at_commit) reaches a worker of a kind. */
typedef enum PipelineWakeBy
{
	PP_WAKE_NONE,				/* not at all: it has its own clock or source */
	PP_WAKE_LATCH,				/* its latch; when none runs, its parent's */
	PP_WAKE_PARENT				/* its parent's latch; the parent's pass sets its own */
} PipelineWakeBy;

typedef struct PipelineWorkerKindInfo
{
	const char *name;			/* backend_type "pg_pipeline <name>" */
	void		(*main) (PipelineWorkerArgs *args); /* NULL: not a dynamic worker */
	PipelineWorkerKind parent;	/* who starts it, and is woken in its stead */
	PipelineRestart restart;
	PipelineWakeBy wake;
	bool		pin_search_path;	/* its own statements resolve no user's path */
	bool		lock_timeout;	/* works for every role: gives up a lock wait */
} PipelineWorkerKindInfo;

/* src/worker/kinds.c: one row per PipelineWorkerKind */
extern const PipelineWorkerKindInfo pp_worker_kinds[PP_WORKER_NKINDS];
#define pp_worker_kind_info(kind) (&pp_worker_kinds[(kind)])

/* src/worker/worker.c: slot accessors, for the parent of a worker */
typedef struct PipelineWorkerExit
{
	bool		no_restart;		/* it exited on purpose */
	char		last_error[PP_MAX_ERROR_LEN];
} PipelineWorkerExit;
extern bool pp_worker_reap(BackgroundWorkerHandle **handle, int slot,
						   PipelineWorkerExit *exit);
extern PipelineWorkerState pp_worker_slot_state(int slot);
extern void pp_worker_slot_set_latch(int slot);
extern uint32 pp_worker_slot_wakes(int slot);
extern TimestampTz pp_restart_next(int *failures, TimestampTz started_at,
								   TimestampTz now);

/* src/worker/supervise.c: run the workers a subsystem wants */
typedef struct PipelineSupervisor PipelineSupervisor;
extern PipelineSupervisor *pp_supervisor_create(const char *name);
extern void pp_supervisor_begin(PipelineSupervisor *sup);
extern void pp_supervisor_want(PipelineSupervisor *sup, PipelineWorkerKind kind,
							   const char *key, int index, Oid role,
							   const void *params, Size params_len);
extern long pp_supervisor_reconcile(PipelineSupervisor *sup);

/* src/worker/wake.c: wake-ups, now or when the transaction commits */
extern void pp_wake(PipelineWorkerKind kind, Oid dboid);
extern void pp_wake_at_commit(PipelineWorkerKind kind);
extern void pp_wake_launcher_at_end_of_xact(Oid dboid, bool resume);
extern void pp_wake_table_at_commit(Oid relid);
extern bool pp_wake_table_noted(Oid relid);
extern void pp_wake_preparing(const char *gid);
extern void pp_wake_prepared_end(const char *gid, bool commit);

#endif							/* PP_WORKER_H */
