/*-------------------------------------------------------------------------
 *
 * hooks.c
 *	  Hooks that keep pg_pipeline's workers out of the way of statements
 *	  and tell them about catalog changes.
 *
 * - object_access_hook: creating or dropping an extension wakes this
 *	 database's coordinator (or the launcher, when there is none) at
 *	 commit.  That is how CREATE EXTENSION gets a coordinator started and
 *	 DROP EXTENSION gets it stopped, whatever path ran them (CASCADE,
 *	 DROP OWNED, a migration tool).
 * - ProcessUtility_hook: statements that need a database without other
 *	 connections (DROP DATABASE, ALTER DATABASE ... RENAME or SET
 *	 TABLESPACE, CREATE DATABASE ... TEMPLATE) pause that database: its
 *	 workers are told to exit and the launcher starts none until the
 *	 statement has finished, whether it succeeded or failed.  So DROP
 *	 DATABASE never needs a manual step or WITH (FORCE).
 *
 * Both hooks are installed only when the library is preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "common/pipeline.h"

#define PAUSE_WAIT_MS 5000

static ProcessUtility_hook_type prev_process_utility = NULL;
static object_access_hook_type prev_object_access = NULL;

static void
object_access(ObjectAccessType access, Oid classId, Oid objectId,
			  int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if (classId == ExtensionRelationId &&
		(access == OAT_POST_CREATE || access == OAT_DROP))
		pp_coordinator_wake_at_commit();
}

static Oid
database_oid_of(const char *dbname)
{
	return dbname ? get_database_oid(dbname, true) : InvalidOid;
}

/*
 * Which database, other than ours, does this statement need without other
 * connections?  InvalidOid for all other statements.
 */
static Oid
database_needing_exclusive_access(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			return database_oid_of(((DropdbStmt *) parsetree)->dbname);
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_DATABASE)
					return database_oid_of(stmt->subname);
				break;
			}
		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *stmt = (AlterDatabaseStmt *) parsetree;

				foreach(lc, stmt->options)
					if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
						return database_oid_of(stmt->dbname);
				break;
			}
		case T_CreatedbStmt:
			{
				CreatedbStmt *stmt = (CreatedbStmt *) parsetree;

				foreach(lc, stmt->options)
				{
					DefElem    *def = (DefElem *) lfirst(lc);

					if (strcmp(def->defname, "template") == 0 && def->arg)
						return database_oid_of(defGetString(def));
				}
				break;
			}
		default:
			break;
	}
	return InvalidOid;
}

/* Stop the database's workers and keep the launcher from starting more. */
static void
pause_database(Oid dboid)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	if (pp_shared->npaused < PP_MAX_PAUSED_DBS)
		pp_shared->paused[pp_shared->npaused++] = dboid;
	LWLockRelease(pp_shared->lock);

	pp_worker_signal_database(dboid, SIGTERM);

	/* give them a moment to go, so the statement needs no retry */
	for (int waited = 0; waited < PAUSE_WAIT_MS; waited += 10)
	{
		bool		alive = false;

		LWLockAcquire(pp_shared->lock, LW_SHARED);
		for (int i = 0; i < pp_shared->nslots; i++)
			if (pp_shared->slots[i].dboid == dboid && pp_shared->slots[i].pid != 0)
				alive = true;
		LWLockRelease(pp_shared->lock);
		if (!alive)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

static void
resume_database(Oid dboid)
{
	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pp_shared->npaused; i++)
	{
		if (pp_shared->paused[i] == dboid)
		{
			pp_shared->paused[i] = pp_shared->paused[--pp_shared->npaused];
			break;
		}
	}
	LWLockRelease(pp_shared->lock);
	pp_launcher_request(dboid);
}

static void
next_process_utility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
process_utility(PlannedStmt *pstmt, const char *queryString,
				bool readOnlyTree, ProcessUtilityContext context,
				ParamListInfo params, QueryEnvironment *queryEnv,
				DestReceiver *dest, QueryCompletion *qc)
{
	Oid			dboid = database_needing_exclusive_access(pstmt->utilityStmt);

	if (OidIsValid(dboid) && dboid != MyDatabaseId)
	{
		pause_database(dboid);
		PG_TRY();
		{
			next_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
		}
		PG_FINALLY();
		{
			resume_database(dboid);
		}
		PG_END_TRY();
		return;
	}

	next_process_utility(pstmt, queryString, readOnlyTree, context,
						 params, queryEnv, dest, qc);
}

/*
 * pp_hooks_init
 *		Install the hooks.  From _PG_init while preloading.
 */
void
pp_hooks_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = process_utility;
	prev_object_access = object_access_hook;
	object_access_hook = object_access;
}
