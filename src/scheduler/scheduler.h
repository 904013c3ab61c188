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

/* What a runner finds in its bgw_extra parameters. */
typedef struct RunnerParams
{
	int64		task_run_id;
} RunnerParams;

#endif							/* PP_SCHEDULER_H */
