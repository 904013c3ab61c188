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

#include "access/htup.h"

/* ---- definition and dependencies (helper A) ---- */


/* ---- building one model (helper B) ---- */


/* ---- runs and selection (helper C) ---- */


/* ---- seeds and snapshots (helper D) ---- */
extern char *pp_model_qualify(const char *name, Oid *nsp_out, char **relname_out);
extern HeapTuple pp_model_find(const char *name, const char *columns, const char *what,
							   char **qualified);
extern void pp_model_set_built_at(int32 model_id);


#endif							/* PP_MODEL_H */
