/*-------------------------------------------------------------------------
 *
 * pg_pipeline.c
 *	  Entry point of the pg_pipeline library.
 *
 * _PG_init only calls each subsystem's init function.  Parameters are
 * defined in every backend that loads the library; shared memory, hooks
 * and the launcher exist only when it is in shared_preload_libraries.
 * Without preload, the SQL functions that need no worker still work and
 * the others raise a clear error (pp_shmem_require()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "common/pipeline.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	pp_guc_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	pp_shmem_init();
	pp_hooks_init();
	pp_launcher_register();
}

/*
 * pipeline.version() returns the version of the loaded library, which may
 * differ from the installed SQL objects' (pg_extension.extversion) between
 * a package upgrade and ALTER EXTENSION ... UPDATE.
 */
PG_FUNCTION_INFO_V1(pipeline_version);
Datum
pipeline_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PP_VERSION));
}
