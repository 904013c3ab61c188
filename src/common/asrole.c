/*-------------------------------------------------------------------------
 *
 * asrole.c
 *	  Run SQL on someone else's behalf, safely: the one helper for every
 *	  statement pg_pipeline runs as a role other than the session's.
 *
 * The extension runs SQL in contexts its caller does not control: catalog
 * reads as the bootstrap superuser, window maintenance as the window's
 * owner inside a writer's session, the runner's bookkeeping as the
 * superuser.  Each of them would otherwise resolve unqualified functions
 * and operators (format(), =, date_bin(), +) in the search_path of the
 * session, which the session's role (or the database's owner, through
 * ALTER DATABASE ... SET) chooses: a function or operator of the same
 * signature in a schema before pg_catalog would run with the other role's
 * rights.  PostgreSQL's REFRESH MATERIALIZED VIEW (matview.c,
 * ExecRefreshMatView) shows the sequence, followed here:
 *
 *	save the user and security context;
 *	switch to the role with SECURITY_LOCAL_USERID_CHANGE and
 *	  SECURITY_RESTRICTED_OPERATION (no SET ROLE, no temporary objects, no
 *	  cursors WITH HOLD left behind by the code that runs);
 *	NewGUCNestLevel(), then search_path = pg_catalog, pg_temp (pg_temp
 *	  last: a temporary object never shadows a catalog one, and functions
 *	  and operators are never looked up in pg_temp);
 *	... the statements, every name schema-qualified ...
 *	AtEOXact_GUC(), restore the user.
 *
 * On an error the transaction's (or subtransaction's) abort undoes both
 * the GUC level and the user: callers need no PG_TRY for them.
 *
 * A user's own expressions (a window's aggregates) are analysed once, at
 * creation, and stored as text deparsed under this same search_path
 * (pp_pinned_search_path_begin/end): every name outside pg_catalog comes
 * out schema-qualified, so running the text later under the pinned path
 * binds the same objects.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "storage/lock.h"
#include "utils/guc.h"

#include "common/pipeline.h"

/* the search_path of everything run on someone else's behalf */
#define PP_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * pp_pinned_search_path_begin
 *		Open a GUC nest level with search_path = pg_catalog, pg_temp.
 *		Returns the level for pp_pinned_search_path_end.
 */
int
pp_pinned_search_path_begin(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", PP_SAFE_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
pp_pinned_search_path_end(int level)
{
	AtEOXact_GUC(false, level);
}

/*
 * as_role_begin
 *		Switch to "role" with the security context flags "sec" added, in a
 *		new GUC nest level with search_path = "search_path".
 */
static void
as_role_begin(PipelineAsRole *save, Oid role, int sec, const char *search_path)
{
	GetUserIdAndSecContext(&save->user, &save->sec);
	SetUserIdAndSecContext(role, save->sec | sec);
	save->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * pp_as_role_begin
 *		Run what follows as "role" (the bootstrap superuser, an object's
 *		owner), in a security-restricted operation, under the pinned
 *		search_path.  Undo with pp_as_role_end (or an abort).
 */
void
pp_as_role_begin(PipelineAsRole *save, Oid role)
{
	as_role_begin(save, role, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION,
				  PP_SAFE_SEARCH_PATH);
}

/*
 * pp_as_role_begin_path
 *		The same, under a search_path the object's owner chose: a model's
 *		SQL, resolved with the path frozen when the model was created, never
 *		the caller's (the model's definition, build, snapshot and lineage
 *		all come through here).  pg_temp is always put last (PostgreSQL
 *		otherwise searches it first for relations; naming it twice is
 *		harmless, its first place counts): a temporary table of the caller
 *		never shadows a relation the owner's SQL reads.
 */
void
pp_as_role_begin_path(PipelineAsRole *save, Oid role, const char *search_path)
{
	as_role_begin(save, role, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION,
				  *search_path ? psprintf("%s, pg_temp", search_path) : "pg_temp");
}

/*
 * pp_as_role_begin_ddl
 *		As "role" under the pinned search_path but NOT restricted: only for
 *		the extension's own statements that PostgreSQL refuses inside a
 *		security-restricted operation (creating a temporary table), as
 *		ExecRefreshMatView creates its transient table before it locks
 *		down.  Never run a user's SQL (or anything that resolves a name the
 *		user chose unqualified) in it.
 */
void
pp_as_role_begin_ddl(PipelineAsRole *save, Oid role)
{
	as_role_begin(save, role, SECURITY_LOCAL_USERID_CHANGE, PP_SAFE_SEARCH_PATH);
}

void
pp_as_role_end(PipelineAsRole *save)
{
	pp_pinned_search_path_end(save->guc_level);
	SetUserIdAndSecContext(save->user, save->sec);
}

/*
 * pp_pin_session_search_path
 *		A worker's whole session: its own statements (catalog bookkeeping)
 *		never resolve names in a path a role or the database's owner set.
 */
void
pp_pin_session_search_path(void)
{
	SetConfigOption("search_path", PP_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION);
}

/*
 * pp_xact_lock
 *		A transaction-level lock in a key space no SQL can name: the
 *		advisory lock tag with a fourth field that pg_advisory_lock() and
 *		its siblings never use (they use 1 and 2).  A role that takes every
 *		advisory lock it can think of still cannot freeze a maintainer, a
 *		window's writers or the scheduler (docs/security.md).  Returns false
 *		when !wait and another transaction holds it.
 */
#define PP_LOCKTAG_FIELD4	0x7070

bool
pp_xact_lock(uint32 class, uint32 key, bool wait)
{
	return pp_xact_lock_mode(class, key, ExclusiveLock, wait);
}

/* the same in another mode: ShareLock holders wait only for ExclusiveLock */
bool
pp_xact_lock_mode(uint32 class, uint32 key, LOCKMODE mode, bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, class, key, PP_LOCKTAG_FIELD4);
	return LockAcquire(&tag, mode, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * pp_catalog_has_column
 *		Does pipeline.<table> have <column>?  A database whose extension is
 *		not updated yet (ALTER EXTENSION ... UPDATE after a new library) has
 *		the previous release's catalogs: the workers read both.
 */
bool
pp_catalog_has_column(const char *table, const char *column)
{
	Oid			nsp = get_namespace_oid("pipeline", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

/*
 * pp_text_array_cstrings
 *		The elements of a text[] as C strings, *n of them: a NULL element
 *		as a NULL pointer, or left out with skip_nulls.  The array ends
 *		with an extra NULL pointer.
 */
char	  **
pp_text_array_cstrings(Datum array, int *n, bool skip_nulls)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	out = palloc0(sizeof(char *) * (nelems + 1));
	*n = 0;
	for (int i = 0; i < nelems; i++)
		if (!nulls[i] || !skip_nulls)
			out[(*n)++] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return out;
}

/*
 * pp_owner_name_sql
 *		SQL for the name of the role that owns a catalog row of "table"
 *		(sources, sinks, windows, dags), NULL when that role is gone: by the
 *		owner's OID (0.5.0 on), or by its name in a database whose extension
 *		is not updated yet.  Prefix: the row's alias with its dot, or "".
 */
const char *
pp_owner_name_sql(const char *table, const char *prefix)
{
	if (pp_catalog_has_column(table, "owner_oid"))
		return psprintf("(SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid "
						"OPERATOR(pg_catalog.=) %sowner_oid)", prefix);
	return psprintf("(SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.rolname "
					"OPERATOR(pg_catalog.=) %sowner)", prefix);
}
