/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *	  Declarations shared by the scheduler's files: what the coordinator
 *	  hands a runner, and the data versions of watched tables.
 *
 * See src/scheduler/README.md for the model and the state machine.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SCHEDULER_H
#define PP_SCHEDULER_H

#include "common/pipeline.h"

/*
 * A runner's own timeout stops its task; past this grace the coordinator
 * terminates it.
 */
#define PP_TASK_TIMEOUT_GRACE_MS	10000

/* What a runner finds in its bgw_extra parameters: its first attempt. */
typedef struct RunnerParams
{
	int64		task_run_id;
} RunnerParams;

#endif							/* PP_SCHEDULER_H */
