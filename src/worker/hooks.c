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
 *	 transaction of the statement has ended, committed or not.  So DROP
 *	 DATABASE never needs a manual step or WITH (FORCE).  A restore's
 *	 COPY into the catalogs pauses its database until the session ends
 *	 (pause_for_restore).  A CREATE
 *	 TRIGGER of a window aggregate's trigger records the window's
 *	 dependencies, which is how a pg_restore gets them back
 *	 (src/window/depend.c).
 *
 * Both hooks are installed only when the library is preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/relation.h"
#include "nodes/nodeFuncs.h"
#include "rewrite/rewriteHandler.h"
#include "catalog/pg_class.h"

#include "worker/worker.h"

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
		pp_wake_at_commit(PP_WORKER_COORDINATOR);
	/* a window's relation: the window goes too (its catalog row) */
	if (classId == RelationRelationId && access == OAT_DROP && subId == 0)
	{
		pp_window_relation_dropped(objectId, ((ObjectAccessDrop *) arg)->dropflags);
		/* and its expectations, and the relationships pointing to it */
		pp_quality_relation_dropped(objectId, ((ObjectAccessDrop *) arg)->dropflags);
	}
}

static Oid
database_oid_of(const char *dbname)
{
	return dbname ? get_database_oid(dbname, true) : InvalidOid;
}

/*
 * Would PostgreSQL let the current role run this database-wide statement?
 * Checked before pausing, because the hook runs before PostgreSQL's own
 * permission check: a role that may not drop a database must not stop its
 * pipeline by trying (docs/security.md).  The rules are PostgreSQL's own:
 * DROP and ALTER ... SET TABLESPACE need ownership, RENAME ownership and
 * CREATEDB, CREATE DATABASE ... TEMPLATE CREATEDB and a template that is
 * one (datistemplate) or is owned.
 */
static bool
may_run(Oid dboid, bool need_createdb, bool template_copy)
{
	Oid			role = GetUserId();

	if (superuser_arg(role))
		return true;
	if (need_createdb && !have_createdb_privilege())
		return false;
	if (template_copy)
	{
		HeapTuple	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
		bool		is_template;

		if (!HeapTupleIsValid(tup))
			return false;
		is_template = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
		if (is_template)
			return true;
	}
	return pp_database_ownercheck(dboid, role);
}

/*
 * Which database, other than ours, does this statement need without other
 * connections?  InvalidOid for all other statements, and when the role may
 * not run it (PostgreSQL refuses it after this hook: nothing to pause).
 */
static Oid
database_needing_exclusive_access(Node *parsetree)
{
	ListCell   *lc;
	Oid			dboid = InvalidOid;
	bool		need_createdb = false;
	bool		template_copy = false;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			dboid = database_oid_of(((DropdbStmt *) parsetree)->dbname);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_DATABASE)
				{
					dboid = database_oid_of(stmt->subname);
					need_createdb = true;
				}
				break;
			}
		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *stmt = (AlterDatabaseStmt *) parsetree;

				foreach(lc, stmt->options)
					if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
						dboid = database_oid_of(stmt->dbname);
				break;
			}
		case T_CreatedbStmt:
			{
				CreatedbStmt *stmt = (CreatedbStmt *) parsetree;

				foreach(lc, stmt->options)
				{
					DefElem    *def = (DefElem *) lfirst(lc);

					if (strcmp(def->defname, "template") == 0 && def->arg)
					{
						dboid = database_oid_of(defGetString(def));
						need_createdb = true;
						template_copy = true;
					}
				}
				break;
			}
		default:
			break;
	}
	if (OidIsValid(dboid) && !may_run(dboid, need_createdb, template_copy))
		return InvalidOid;
	return dboid;
}

/*
 * Put dboid on the paused list; false when it already holds limit entries
 * (PP_MAX_PAUSED_DBS for a database-wide statement, PP_RESTORE_PAUSES more
 * for a restore).
 */
static bool
add_paused(Oid dboid, int limit)
{
	bool		full;

	LWLockAcquire(pp_shared->lock, LW_EXCLUSIVE);
	full = (pp_shared->npaused >= limit);
	if (!full)
		pp_shared->paused[pp_shared->npaused++] = dboid;
	LWLockRelease(pp_shared->lock);
	return !full;
}

/* Stop the database's workers and keep the launcher from starting more. */
static void
pause_database(Oid dboid)
{
	bool		full = !add_paused(dboid, PP_MAX_PAUSED_DBS);

	if (!full)
		pp_wake_launcher_at_end_of_xact(dboid, true);	/* resume, committed or not */
	else
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many database-wide statements running at once"),
				 errdetail("pg_pipeline pauses at most %d databases at a time.",
						   PP_MAX_PAUSED_DBS),
				 errhint("Retry the statement when the others have finished.")));

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

/*
 * LOCK TABLE on pg_pipeline's catalogs: PUBLIC may write them (under row
 * security and guard triggers), and PostgreSQL lets any role with UPDATE
 * or DELETE on a table lock it in any mode, directly or through a view it
 * owns (LOCK of a view locks what the view reads, checked as the view's
 * owner).  A role holding ACCESS EXCLUSIVE on pipeline.sources in an open
 * transaction would stop every consumer and the scheduler of every role.
 * Only a superuser may lock them above ACCESS SHARE.
 */
typedef struct CatalogLockWalk
{
	Oid			nsp;			/* schema pipeline */
	Oid			view;			/* the view being walked (its OLD/NEW entries) */
	int			depth;
} CatalogLockWalk;

static bool reaches_catalog(Oid relid, CatalogLockWalk *walk);

static bool
catalog_lock_walker(Node *node, CatalogLockWalk *walk)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && rte->relid != walk->view &&
			reaches_catalog(rte->relid, walk);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, catalog_lock_walker, (void *) walk,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, catalog_lock_walker, (void *) walk);
}

/* Is relid a catalog, or a view that reads one (at any depth)? */
static bool
reaches_catalog(Oid relid, CatalogLockWalk *walk)
{
	CatalogLockWalk inner;
	Relation	rel;
	bool		found;

	if (get_rel_namespace(relid) == walk->nsp)
		return true;
	if (get_rel_relkind(relid) != RELKIND_VIEW)
		return false;
	if (walk->depth >= 64)
		return true;			/* views of views of views...: refuse */
	inner = *walk;
	inner.view = relid;
	inner.depth++;
	rel = relation_open(relid, AccessShareLock);
	found = catalog_lock_walker((Node *) get_view_query(rel), &inner);
	relation_close(rel, AccessShareLock);
	return found;
}

static void
check_catalog_lock(LockStmt *stmt)
{
	CatalogLockWalk walk = {InvalidOid, InvalidOid, 0};
	ListCell   *lc;

	if (stmt->mode <= AccessShareLock || superuser())
		return;
	walk.nsp = get_namespace_oid("pipeline", true);
	if (!OidIsValid(walk.nsp) || !OidIsValid(get_extension_oid(PP_EXTENSION_NAME, true)))
		return;
	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (OidIsValid(relid) && reaches_catalog(relid, &walk))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser can lock pg_pipeline's catalogs in this mode"),
					 errdetail("\"%s\" is or reads a catalog that pg_pipeline's workers read and write for every role.",
							   get_rel_name(relid)),
					 errhint("Change pipeline objects with the pipeline.* functions.")));
	}
}

/*
 * A restore pauses its database until its session ends.  pg_dump's
 * scripts set check_function_bodies off and fill pg_pipeline's catalogs
 * with COPY.  Restored statement by statement (pg_restore without
 * --single-transaction, psql -f), the catalogs' rows commit long before
 * the restore is over, and the database's workers would start at once: a
 * consumer could load messages before its offsets are back, or before the
 * window triggers on its target table exist (the post-data section), and
 * the windows would never see those rows.  So a superuser's COPY into a
 * table of schema pipeline with check_function_bodies off puts the
 * database on the paused list, as DROP DATABASE does, until the session
 * exits; then the launcher starts its coordinator.  Superusers only: a
 * pause stops every role's pipeline in the database (and the restore of
 * an extension that needs a superuser runs as one).
 */
static bool restoring = false;

static void
restore_ended(int code, Datum arg)
{
	pp_database_resume(MyDatabaseId);
	pp_wake(PP_WORKER_LAUNCHER, MyDatabaseId);
}

static void
pause_for_restore(CopyStmt *stmt)
{
	Oid			relid;

	if (restoring || !stmt->is_from || stmt->relation == NULL || check_function_bodies || !superuser())
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || get_rel_namespace(relid) != get_namespace_oid("pipeline", true))
		return;
	if (!add_paused(MyDatabaseId, PP_MAX_PAUSED_DBS + PP_RESTORE_PAUSES))
	{
		ereport(WARNING,
				(errmsg("pg_pipeline's workers are not paused during this restore"),
				 errdetail("pg_pipeline pauses at most %d databases at a time.",
						   PP_MAX_PAUSED_DBS + PP_RESTORE_PAUSES),
				 errhint("Restore with --single-transaction.")));
		return;
	}
	restoring = true;
	before_shmem_exit(restore_ended, 0);
	pp_worker_signal_database(MyDatabaseId, SIGTERM);
}

/* A user mapping statement changed server's settings for user (or PUBLIC). */
static void
mapping_changed(const char *server, RoleSpec *user)
{
	Oid			role = InvalidOid;

	if (user != NULL && user->roletype != ROLESPEC_PUBLIC)
	{
		role = get_rolespec_oid(user, true);
		if (!OidIsValid(role))
			return;				/* IF EXISTS of a role that is not */
	}
	pp_kafka_connection_changed(server, role);
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
	Node	   *stmt = pstmt->utilityStmt;
	Oid			dboid = database_needing_exclusive_access(stmt);

	if (OidIsValid(dboid) && dboid != MyDatabaseId)
		pause_database(dboid);	/* until the transaction ends */
	if (IsA(stmt, LockStmt))
		check_catalog_lock((LockStmt *) stmt);
	if (IsA(stmt, TransactionStmt) &&
		((TransactionStmt *) stmt)->kind == TRANS_STMT_PREPARE)
		pp_wake_preparing(((TransactionStmt *) stmt)->gid);	/* kept under it */
	if (IsA(stmt, RenameStmt))
		pp_window_check_rename((RenameStmt *) stmt);	/* columns windows read */
	if (IsA(stmt, CopyStmt))
		pause_for_restore((CopyStmt *) stmt);	/* until the session ends */

	next_process_utility(pstmt, queryString, readOnlyTree, context,
						 params, queryEnv, dest, qc);

	/* the statement succeeded */
	if (IsA(stmt, CreatedbStmt))
	{
		/* the template may have had the extension: look at the copy */
		pp_wake_launcher_at_end_of_xact(get_database_oid(((CreatedbStmt *) stmt)->dbname, false),
										false);
	}
	else if (IsA(stmt, TransactionStmt) &&
			 ((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED)
	{
		/* the wake-ups of a prepared transaction come with its commit */
		pp_wake_prepared_end(((TransactionStmt *) stmt)->gid, true);
	}
	else if (IsA(stmt, TransactionStmt) &&
			 ((TransactionStmt *) stmt)->kind == TRANS_STMT_ROLLBACK_PREPARED)
		pp_wake_prepared_end(((TransactionStmt *) stmt)->gid, false);
	/* a window's trigger, made by create_window or restored by pg_restore */
	else if (IsA(stmt, CreateTrigStmt))
		pp_window_trigger_created((CreateTrigStmt *) stmt);
	/* connection settings that running consumers and sinks use */
	else if (IsA(stmt, AlterForeignServerStmt))
		pp_kafka_connection_changed(((AlterForeignServerStmt *) stmt)->servername, InvalidOid);
	else if (IsA(stmt, AlterOwnerStmt) &&
			 ((AlterOwnerStmt *) stmt)->objectType == OBJECT_FOREIGN_SERVER)
		pp_kafka_connection_changed(strVal(((AlterOwnerStmt *) stmt)->object), InvalidOid);
	else if (IsA(stmt, CreateUserMappingStmt))
		mapping_changed(((CreateUserMappingStmt *) stmt)->servername,
						((CreateUserMappingStmt *) stmt)->user);
	else if (IsA(stmt, AlterUserMappingStmt))
		mapping_changed(((AlterUserMappingStmt *) stmt)->servername,
						((AlterUserMappingStmt *) stmt)->user);
	else if (IsA(stmt, DropUserMappingStmt))
		mapping_changed(((DropUserMappingStmt *) stmt)->servername,
						((DropUserMappingStmt *) stmt)->user);
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
