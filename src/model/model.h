/*-------------------------------------------------------------------------
 *
 * model.h
 *	  Models (issue 12): declarations shared by the files of src/model/.
 *
 *	  catalog/definition and dependencies (depend.c, lineage.c),
 *	  building one model (build.c), runs and selection (run.c, select.c),
 *	  seeds and snapshots (seed.c, snapshot.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_MODEL_H
#define PP_MODEL_H

#include "postgres.h"

/* ---- definition and dependencies (helper A) ---- */


/* ---- building one model (helper B) ---- */
/* build.c exports only SQL functions: pipeline._model_build(), is_incremental(),
 * model_interval_start(), model_interval_end() and their planner support. */


/* ---- runs and selection (helper C) ---- */


/* ---- seeds and snapshots (helper D) ---- */


#endif							/* PP_MODEL_H */
