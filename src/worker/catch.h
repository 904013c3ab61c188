/*-------------------------------------------------------------------------
 *
 * catch.h
 *	  The one catch-and-continue idiom of pg_pipeline's workers: see
 *	  catch.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_CATCH_H
#define PP_CATCH_H

#include "utils/elog.h"
#include "utils/palloc.h"

/* the fields of a caught error kept in a status catalog, in this order */
#define PP_ERROR_NFIELDS	5	/* sqlstate, message, detail, hint, context */

extern ErrorData *pp_worker_catch(MemoryContext keep_in);
extern void pp_error_fields(const ErrorData *edata, Datum *values, char *nulls);

#endif							/* PP_CATCH_H */
