/*-------------------------------------------------------------------------
 *
 * depend.c
 *	  A window aggregate's dependencies in pg_depend, recorded as PostgreSQL
 *	  records a view's: dropping or changing what a window uses is refused,
 *	  or, with CASCADE, takes the whole window with it.
 *
 * A window's PostgreSQL objects are its result (a table, or for emit =>
 * 'on_close' a view over the state table), its state, delta and late-rows
 * tables and its four statement triggers on the source.  create_window
 * records, after creating them (pp_window_record_dependencies):
 *
 *	trigger -> each source column the window reads	NORMAL	(as a trigger's
 *		WHEN clause: DROP COLUMN, ALTER COLUMN TYPE are refused)
 *	trigger -> result		NORMAL	DROP TABLE / DROP VIEW of the result is
 *		refused; with CASCADE the triggers go with it
 *	result -> source		NORMAL	as a view depends on its tables: DROP
 *		TABLE of the source is refused; with CASCADE the window goes
 *	state (on_close), delta, late -> result		INTERNAL	parts of the
 *		window: dropped with the result, never alone ("you can drop view
 *		... instead")
 *
 * So whatever drops one of a window's relations (DROP TABLE, DROP VIEW,
 * DROP SCHEMA, DROP OWNED, each with CASCADE) drops the window whole, and
 * the object access hook (pp_window_relation_dropped, with the library
 * preloaded) deletes its catalog row, and with it its progress: writes to
 * the source go on, and the status views list the windows that exist.
 * RENAME COLUMN is refused by pp_window_check_rename, from the utility
 * hook.
 *
 * Windows created before 0.6.0 get their dependencies from the upgrade
 * script, which calls pipeline._window_fix_dependencies(id) for each; a
 * window that had already lost a relation is removed by it.  pg_dump does
 * not carry pg_depend: a restore creates the window's triggers after the
 * rows of pipeline.windows (post-data), and the utility hook records the
 * dependencies of the window each trigger belongs to then
 * (pp_window_trigger_created).  Without the library preloaded during the
 * restore, or after pg_upgrade (whose schema restore runs before the
 * catalog's rows come back), a superuser calls
 * pipeline._window_fix_dependencies (docs/backup.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "common/pipeline.h"
#include "window/window.h"

static const char *const trigger_events[] = {"insert", "update", "delete", "truncate"};

/* A dependency of a depender that has_dependency looks for. */
typedef bool (*DependMatch) (Form_pg_depend dep, const void *arg);

/* Whether pg_depend has a row of depender that match accepts. */
static bool
has_dependency(const ObjectAddress *depender, DependMatch match, const void *arg)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(depender->classId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(depender->objectId));
	ScanKeyInit(&key[2], Anum_pg_depend_objsubid, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(depender->objectSubId));
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 3, key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		found = match((Form_pg_depend) GETSTRUCT(tup), arg);
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return found;
}

typedef struct DependOn
{
	const ObjectAddress *referenced;
	DependencyType type;
} DependOn;

static bool
is_dependency_on(Form_pg_depend dep, const void *arg)
{
	const DependOn *on = arg;

	return dep->refclassid == on->referenced->classId && dep->refobjid == on->referenced->objectId &&
		dep->refobjsubid == on->referenced->objectSubId && dep->deptype == (char) on->type;
}

/* Record depender -> referenced unless pg_depend has it already. */
static void
depend_once(const ObjectAddress *depender, const ObjectAddress *referenced, DependencyType type)
{
	DependOn	on = {referenced, type};

	if (!has_dependency(depender, is_dependency_on, &on))
		recordDependencyOn(depender, referenced, type);
}

/* Whether relid is a relation that owner owns. */
static bool
owned_by(Oid relid, Oid owner)
{
	return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) && pg_class_ownercheck(relid, owner);
}

/*
 * pp_window_record_dependencies
 *		Record a window's dependencies (the file header lists them), each
 *		once: calling it again records nothing new.  rels are the window's
 *		relations, columns and owner (WindowRelations); its triggers on the
 *		source are found by name.
 *
 *		Only when the window's owner owns its result, state, delta and
 *		late-rows tables, as create_window makes them; else nothing is
 *		recorded and the first of them that the owner does not own is
 *		returned (InvalidOid: recorded).  The catalog row is not proof: any
 *		role may insert one naming any relation, and a dependency of another
 *		role's table on the row's source would let the source's owner drop
 *		that table with DROP ... CASCADE (a cascade checks no ownership).
 *		Nor is the source taken on the row's word: the owner must hold
 *		SELECT and TRIGGER on it, as create_window requires; otherwise a
 *		forged row would pin another role's table (its DROP refused)
 *		once a superuser runs _window_fix_dependencies (review of 0.9.0).
 */
Oid
pp_window_record_dependencies(int32 id, const WindowRelations *rels)
{
	ObjectAddress source;
	ObjectAddress result;
	Oid			parts[3] = {rels->state, rels->delta, rels->late};

	if (!owned_by(rels->result, rels->owner))
		return rels->result;
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rels->source)) ||
		pg_class_aclcheck(rels->source, rels->owner, ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(rels->source, rels->owner, ACL_TRIGGER) != ACLCHECK_OK)
		return rels->source;
	for (size_t i = 0; i < lengthof(parts); i++)
		if (OidIsValid(parts[i]) && !owned_by(parts[i], rels->owner))
			return parts[i];

	ObjectAddressSet(source, RelationRelationId, rels->source);
	ObjectAddressSet(result, RelationRelationId, rels->result);
	depend_once(&result, &source, DEPENDENCY_NORMAL);
	for (size_t i = 0; i < lengthof(trigger_events); i++)
	{
		Oid			trigger = get_trigger_oid(rels->source,
											  psprintf("pp_window_%d_%s", id, trigger_events[i]), true);
		ObjectAddress address;

		if (!OidIsValid(trigger))
			continue;			/* dropped by hand (DROP COLUMN ... CASCADE) */
		ObjectAddressSet(address, TriggerRelationId, trigger);
		depend_once(&address, &result, DEPENDENCY_NORMAL);
		if (strcmp(trigger_events[i], "truncate") == 0)
			continue;			/* reads no column */
		for (int c = 0; c < rels->ncols; c++)
		{
			ObjectAddress column;
			AttrNumber	attnum = get_attnum(rels->source, rels->cols[c]);

			if (attnum == InvalidAttrNumber)
				continue;
			ObjectAddressSubSet(column, RelationRelationId, rels->source, attnum);
			depend_once(&address, &column, DEPENDENCY_NORMAL);
		}
	}
	for (size_t i = 0; i < lengthof(parts); i++)
	{
		ObjectAddress part;

		if (!OidIsValid(parts[i]) || parts[i] == rels->result)
			continue;
		ObjectAddressSet(part, RelationRelationId, parts[i]);
		depend_once(&part, &result, DEPENDENCY_INTERNAL);
	}
	CommandCounterIncrement();
	return InvalidOid;
}

/*
 * pp_window_read_relations
 *		A window's relations and the source columns it reads from its
 *		catalog row, as the caller sees it
 *		(row-level security: the owner, pipeline_admin, superusers); its
 *		qualified name in *name.  False when the row is not there.  The
 *		caller is connected to SPI.
 */
bool
pp_window_read_relations(int32 id, WindowRelations *rels, char **name)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(id)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Oid		   *out[6] = {&rels->source, &rels->result, &rels->state, &rels->delta, &rels->late,
						  &rels->owner};

	/* the owner by OID (0.5.0 on), or by name in a database not updated yet */
	const char *owner = pp_catalog_has_column("windows", "owner_oid") ? "w.owner_oid" :
		"(SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) w.owner)";

	/* in the caller's search_path: every name qualified */
	if (SPI_execute_with_args(psprintf("SELECT w.source::pg_catalog.oid, w.result::pg_catalog.oid, "
									   "w.state_table::pg_catalog.oid, w.delta_table::pg_catalog.oid, "
									   "w.late_table::pg_catalog.oid, %s, w.name, "
									   "w.columns::pg_catalog.text[] FROM pipeline.windows w "
									   "WHERE w.id OPERATOR(pg_catalog.=) $1", owner),
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.windows");
	if (SPI_processed != 1)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	for (int i = 0; i < 6; i++)
	{
		*out[i] = DatumGetObjectId(SPI_getbinval(tup, desc, i + 1, &isnull));
		if (isnull)
			*out[i] = InvalidOid;
	}
	if (name)
		*name = SPI_getvalue(tup, desc, 7);
	rels->cols = pp_text_array_cstrings(SPI_getbinval(tup, desc, 8, &isnull), &rels->ncols, true);
	return true;
}

/*
 * pp_window_drop_triggers
 *		Drop the window's triggers that are still on its source (when the
 *		source is still there).  The caller is connected to SPI.
 */
void
pp_window_drop_triggers(int32 id, Oid source)
{
	char	   *rel = get_rel_name(source);
	char	   *source_q;

	if (rel == NULL)
		return;
	source_q = quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)), rel);
	for (size_t i = 0; i < lengthof(trigger_events); i++)
		if (SPI_execute(psprintf("DROP TRIGGER IF EXISTS pp_window_%d_%s ON %s",
								 id, trigger_events[i], source_q), false, 0) < 0)
			elog(ERROR, "could not drop the triggers of window aggregate %d", id);
}

/*
 * Whether relid depends, itself, on another relation (NORMAL or INTERNAL):
 * a window's result depends so on its source, its state, delta and
 * late-rows tables on its result (the file header), and a DROP that takes
 * a window always takes its result.  Few other relations do (an
 * inheritance child on its parent): so the DROP of any other relation is
 * told apart by one index probe of pg_depend, with no SQL.  The hook runs
 * before the relation's own pg_depend rows are deleted.
 */
static bool
is_dependency_on_relation(Form_pg_depend dep, const void *arg)
{
	return dep->refclassid == RelationRelationId && dep->refobjsubid == 0 &&
		(dep->deptype == DEPENDENCY_NORMAL || dep->deptype == DEPENDENCY_INTERNAL);
}

static bool
depends_on_relation(Oid relid)
{
	ObjectAddress rel;

	ObjectAddressSet(rel, RelationRelationId, relid);
	return has_dependency(&rel, is_dependency_on_relation, NULL);
}

/* Whether this database has the extension and its window catalog. */
static bool
windows_catalog_exists(void)
{
	return OidIsValid(get_extension_oid("pg_pipeline", true)) &&
		OidIsValid(get_relname_relid("windows", get_namespace_oid("pipeline", true)));
}

/*
 * pp_window_relation_dropped
 *		From the object access hook (src/worker/hooks.c), for each relation
 *		that a DROP removes: when it is one of a window's relations (its
 *		result, state, delta or late-rows table, or its source), delete the
 *		window's row of pipeline.windows, and by its foreign key its
 *		progress.  The dependencies make sure the whole window goes in the
 *		same DROP.  Read and deleted as the bootstrap superuser (the role
 *		that drops a relation may not see the window's row), under the
 *		pinned search_path.  Nothing for PostgreSQL's internal drops (a
 *		table rewrite's transient table, temporary tables at exit), the
 *		extension's own tables, a database without the extension, or a
 *		relation that depends on no other (depends_on_relation: no SQL for
 *		the DROP of a relation that is no window's).
 *
 *		Any role may insert rows into pipeline.windows (they are its own;
 *		nothing maintains a row create_window did not make), naming any
 *		relation.  Such a row must neither be deleted by someone else's
 *		DROP as the bootstrap superuser nor, by a row lock its author holds,
 *		make that DROP wait: a window's relations belong to its owner, so
 *		only the rows of the relation's owner are deleted and waited for;
 *		another role's rows naming it (a window whose owner a superuser
 *		changed in the catalog only, say) go only when no one holds them
 *		(SKIP LOCKED).
 */
void
pp_window_relation_dropped(Oid relid, int dropflags)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2];
	PipelineAsRole as;
	HeapTuple	classtup;
	char		relkind;
	Oid			relowner;
	Oid			nsp;

	if ((dropflags & PERFORM_DELETION_INTERNAL) || creating_extension || IsBinaryUpgrade)
		return;
	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(classtup))
		return;
	relkind = ((Form_pg_class) GETSTRUCT(classtup))->relkind;
	relowner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	nsp = ((Form_pg_class) GETSTRUCT(classtup))->relnamespace;
	ReleaseSysCache(classtup);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE && relkind != RELKIND_VIEW)
		return;
	if (!depends_on_relation(relid))
		return;
	if (nsp == get_namespace_oid("pipeline", true) || !windows_catalog_exists())
		return;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(relowner);
	SPI_connect();
	pp_as_role_begin(&as, BOOTSTRAP_SUPERUSERID);
	/* look first: a DELETE of nothing would still fire its statement triggers */
	if (pp_window_spi_run("SELECT 1 FROM pipeline.windows w WHERE $1 IN "
						  "(w.result, w.state_table, w.delta_table, w.late_table, w.source)",
						  1, argtypes, values, NULL, InvalidSnapshot) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.windows");
	if (SPI_processed > 0 &&
		pp_window_spi_run("DELETE FROM pipeline.windows w WHERE w.id OPERATOR(pg_catalog.=) ANY (ARRAY("
						  "SELECT x.id FROM pipeline.windows x WHERE $1 IN "
						  "(x.result, x.state_table, x.delta_table, x.late_table, x.source) "
						  "AND x.owner_oid OPERATOR(pg_catalog.=) $2)) "
						  "OR w.id OPERATOR(pg_catalog.=) ANY (ARRAY("
						  "SELECT x.id FROM pipeline.windows x WHERE $1 IN "
						  "(x.result, x.state_table, x.delta_table, x.late_table, x.source) "
						  "AND x.owner_oid IS DISTINCT FROM $2 FOR UPDATE SKIP LOCKED))",
						  2, argtypes, values, NULL, InvalidSnapshot) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from pipeline.windows");
	pp_as_role_end(&as);
	SPI_finish();
}

/*
 * pipeline._window_fix_dependencies(window_id): record the dependencies of
 * a window created before 0.6.0 (the upgrade calls it for each window), or
 * after a restore.  A window that lost one of its relations already (a
 * DROP TABLE that 0.5.0 accepted) cannot be maintained: its triggers that
 * remain on the source and its catalog row are dropped, with a WARNING; the
 * relations it still has are left alone.  Returns whether the window is
 * kept.  Superusers only (REVOKEd from PUBLIC): it writes pg_depend.
 */
PG_FUNCTION_INFO_V1(pipeline__window_fix_dependencies);
Datum
pipeline__window_fix_dependencies(PG_FUNCTION_ARGS)
{
	int32		id = PG_GETARG_INT32(0);
	WindowRelations rels;
	char	   *name;
	bool		lost = false;
	Oid			must[5];

	SPI_connect();
	if (!pp_window_read_relations(id, &rels, &name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("window aggregate %d does not exist", id)));
	must[0] = rels.source;
	must[1] = rels.result;
	must[2] = rels.state;
	must[3] = rels.delta;
	must[4] = rels.late;
	for (int i = 0; i < 5; i++)
		if ((i < 3 || OidIsValid(must[i])) &&
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(must[i])))
			lost = true;

	if (lost)
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(id)};

		pp_window_drop_triggers(id, rels.source);
		if (SPI_execute_with_args("DELETE FROM pipeline.windows WHERE id OPERATOR(pg_catalog.=) $1",
								  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete window aggregate %d", id);
		ereport(WARNING,
				(errmsg("window aggregate \"%s\" had lost one of its relations: removed", name),
				 errdetail("Its triggers on the source and its row of pipeline.windows were dropped; "
						   "the relations it still had were left as they are.")));
	}
	else
	{
		Oid			other = pp_window_record_dependencies(id, &rels);

		if (OidIsValid(other))
			ereport(WARNING,
					(errmsg("the dependencies of window aggregate \"%s\" were not recorded", name),
					 errdetail(other == rels.source ?
							   "The window's owner may not read and create triggers on its source \"%s\"." :
							   "Relation \"%s\" is not owned by the window's owner.",
							   get_rel_name(other))));
	}
	SPI_finish();
	PG_RETURN_BOOL(!lost);
}

/*
 * pp_window_trigger_created
 *		From the utility hook, after a CREATE TRIGGER succeeded: when the
 *		trigger is one of a window's (named pp_window_<id>_<event>, on the
 *		source of window <id> as the caller sees it), record the window's
 *		dependencies (pp_window_record_dependencies: each once, and only
 *		when the window's owner owns its relations).  This is how a restore
 *		gets them back: pg_dump carries neither pg_depend nor a call to
 *		record them, but its post-data section creates the window's
 *		triggers after the rows of pipeline.windows are back.  For
 *		create_window, whose own triggers come here too, it records early
 *		what record_dependencies would.  Nothing during CREATE EXTENSION or
 *		pg_upgrade's schema restore (the catalog is empty then), nor in a
 *		database without the extension.
 */
void
pp_window_trigger_created(CreateTrigStmt *stmt)
{
	int32		id;
	char		event[9];
	int			end = 0;
	Oid			relid;
	WindowRelations rels;

	if (stmt->trigname == NULL ||
		sscanf(stmt->trigname, "pp_window_%d_%8[a-z]%n", &id, event, &end) != 2 ||
		stmt->trigname[end] != '\0' || creating_extension || IsBinaryUpgrade ||
		!windows_catalog_exists())
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	SPI_connect();
	if (pp_window_read_relations(id, &rels, NULL) && rels.source == relid)
		pp_window_record_dependencies(id, &rels);
	SPI_finish();
}

/* A trigger's name, or NULL. */
static char *
trigger_name(Oid trigoid)
{
	Relation	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name = NULL;

	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(trigoid));
	scan = systable_beginscan(rel, TriggerOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		name = pstrdup(NameStr(((Form_pg_trigger) GETSTRUCT(tup))->tgname));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return name;
}

/*
 * pp_window_check_rename
 *		Refuse ALTER TABLE ... RENAME COLUMN of a column a window aggregate
 *		reads: the window keeps the column by name, so the rename would break
 *		every later write to the table.  Its triggers depend on the column
 *		(see create_window); called from the utility hook.
 */
void
pp_window_check_rename(RenameStmt *stmt)
{
	Oid			relid;
	AttrNumber	attnum;
	Relation	depend;
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;

	if (stmt->renameType != OBJECT_COLUMN || stmt->relation == NULL || stmt->subname == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	attnum = get_attnum(relid, stmt->subname);
	if (attnum == InvalidAttrNumber)
		return;

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(attnum));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL, 3, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		char	   *trigger;

		if (dep->classid != TriggerRelationId)
			continue;
		trigger = trigger_name(dep->objid);
		if (trigger && strncmp(trigger, "pp_window_", 10) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot rename column \"%s\" of table \"%s\": a window aggregate reads it",
							stmt->subname, get_rel_name(relid)),
					 errdetail("Trigger \"%s\" maintains a window aggregate that names the column.", trigger),
					 errhint("Drop the window with pipeline.drop_window(), rename the column, "
							 "then create the window again.")));
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
}
