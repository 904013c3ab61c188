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
#include "access/tupdesc.h"
#include "common/pipeline.h"
#include "datatype/timestamp.h"

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
	const char *kind;			/* for messages: "model" when NULL, "snapshot" */
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

/*
 * A model's row (define.c): by id or by name, the name qualified one way
 * (pipeline._model_qualify); its owner; a build recorded.  A model's SQL is
 * resolved and run as its owner under its frozen search_path through
 * pp_as_role_begin_path (common/asrole.c), nothing else.
 */
extern HeapTuple pp_model_get(int32 model_id, const char *columns);
extern HeapTuple pp_model_find(const char *name, const char *columns, const char *what,
							   char **qualified);
extern char *pp_model_qualify(const char *name, bool existing, char **schema, char **relname);
extern Oid	pp_model_owner(HeapTuple tup, TupleDesc desc, int col, const char *name, bool missing_ok);
extern bool pp_model_fetch(int32 model_id, ModelDef *def);
extern void pp_model_set_built(int32 model_id, bool set_hwm, bool has_hwm, TimestampTz hwm);

/* a model's SQL parsed and resolved (depend.c) */
extern void pp_model_parse(const char *sql, const char *what, ModelParse *parse);
extern void pp_model_parse_kind(const char *sql, const char *what, const char *kind,
								ModelParse *parse);
extern void pp_model_parse_args(FunctionCallInfo fcinfo, PipelineAsRole *as, ModelParse *parse);
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
/* seed.c and snapshot.c export only SQL functions; they read models through define.c. */


#endif							/* PP_MODEL_H */
