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


/* ---- runs and selection (helper C) ---- */
/*
 * select.c: pipeline._model_plan (selection and order), SQL-callable only.
 * run.c: the model runner worker; its main function, its wanted list and
 * the setting pg_pipeline.model_workers are declared in common/pipeline.h
 * (the worker table and the coordinator use them).
 */
#include "common/pipeline.h"


/* ---- seeds and snapshots (helper D) ---- */


#endif							/* PP_MODEL_H */
