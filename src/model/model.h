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
#include "fmgr.h"
#include "nodes/parsenodes.h"

/*
 * A model's SQL, parsed and resolved (depend.c, pp_model_parse): the raw
 * statement; the analyzed query when every relation it reads exists (NULL
 * otherwise); the qualified names of the models it reads that are not
 * relations yet (not built), which make analysis wait.
 */
typedef struct ModelParse
{
	const char *sql;
	const char *what;			/* for messages: the model's name */
	RawStmt    *raw;
	Query	   *query;
	List	   *unbuilt;		/* char *, "schema.relation" */
	List	   *resolved;		/* Oid: relations read, found by name */
} ModelParse;

/* one relation a model reads (depend.c, pp_model_relations) */
typedef struct ModelEdge
{
	Oid			relid;			/* InvalidOid: a model not built yet */
	char	   *name;			/* schema.relation */
	char		relkind;
	bool		direct;			/* named by the model's SQL, not through a view */
	Oid			via;			/* indirect: the first view read through */
} ModelEdge;

/* the role and search_path a model's SQL is resolved with (define.c) */
typedef struct ModelContext
{
	Oid			user;
	int			sec;
	int			guc_level;
} ModelContext;

/* a model's row, as the caller sees it (define.c, pp_model_fetch) */
typedef struct ModelDef
{
	int32		model_id;
	char	   *name;
	char	   *sql;
	char	   *search_path;
	char	   *materialized;
	Oid			owner;			/* InvalidOid when the role is gone */
} ModelDef;

extern bool pp_model_fetch(int32 model_id, ModelDef *def);
extern void pp_model_context_begin(ModelContext *save, Oid role, const char *search_path);
extern void pp_model_context_end(ModelContext *save);
extern void pp_model_parse(const char *sql, const char *what, ModelParse *parse);
extern void pp_model_parse_args(FunctionCallInfo fcinfo, ModelContext *context, ModelParse *parse);
extern List *pp_model_relations(ModelParse *parse, bool check_privileges);
extern char *pp_model_qualified_name(Oid relid);
extern void pp_model_error_callback(void *arg);


/* ---- building one model (helper B) ---- */
/* build.c exports only SQL functions: pipeline._model_build(), is_incremental(),
 * model_interval_start(), model_interval_end() and their planner support. */


/* ---- runs and selection (helper C) ---- */
/*
 * select.c: pipeline._model_plan (selection and order), SQL-callable only.
 * run.c: the model runner worker; its main function, its wanted list and
 * the setting pg_pipeline.model_workers are declared in common/pipeline.h
 * (the worker table and the coordinator use them).
 */
#include "common/pipeline.h"


/* ---- seeds and snapshots (helper D) ---- */
extern char *pp_model_qualify(const char *name, Oid *nsp_out, char **relname_out);
extern HeapTuple pp_model_find(const char *name, const char *columns, const char *what,
							   char **qualified);
extern void pp_model_set_built_at(int32 model_id);


#endif							/* PP_MODEL_H */
