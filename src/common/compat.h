/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The one place where pg_pipeline copes with differences between the
 *	  PostgreSQL major versions it supports (15, 16, 17).
 *
 * Everything else in the tree is written against the PostgreSQL 15 API and
 * reaches newer APIs only through the macros below, so a port to a new
 * major version touches this file and nothing else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_COMPAT_H
#define PP_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pg_pipeline needs PostgreSQL 15 or later"
#endif

/*
 * Wait event reported while a worker sleeps.  PostgreSQL 17 lets an
 * extension register named wait events; until we do, all of ours report the
 * generic "Extension" event, which every supported version has.
 */
#include "utils/wait_event.h"
#define PP_WAIT_EVENT	PG_WAIT_EXTENSION

/*
 * Per-row input errors without a subtransaction: InputFunctionCallSafe()
 * and ErrorSaveContext exist from PostgreSQL 16 on.
 */
#if PG_VERSION_NUM >= 160000
#define PP_HAVE_SOFT_INPUT_ERRORS 1
#endif

/*
 * A database left half-dropped by an interrupted DROP DATABASE (marked
 * since 15.4 and 16.0 by datconnlimit = -2) must not be connected to.
 */
#include "catalog/pg_database.h"
#ifdef DATCONNLIMIT_INVALID_DB
#define PP_DATABASE_IS_INVALID(form) ((form)->datconnlimit == DATCONNLIMIT_INVALID_DB)
#else
#define PP_DATABASE_IS_INVALID(form) false
#endif

/*
 * Privilege check on a foreign server: object_aclcheck() replaced the
 * per-catalog functions in PostgreSQL 16.
 */
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#define pp_server_aclcheck(serverid, roleid, mode) \
	object_aclcheck(ForeignServerRelationId, serverid, roleid, mode)
#else
#define pp_server_aclcheck(serverid, roleid, mode) \
	pg_foreign_server_aclcheck(serverid, roleid, mode)
#endif

/* Ownership of a database: object_ownercheck() from PostgreSQL 16 on. */
#if PG_VERSION_NUM >= 160000
#define pp_database_ownercheck(dboid, roleid) \
	object_ownercheck(DatabaseRelationId, dboid, roleid)
#else
#define pp_database_ownercheck(dboid, roleid) pg_database_ownercheck(dboid, roleid)
#endif

/* The JSON lexer gained a caller-provided context in PostgreSQL 17. */
#include "common/jsonapi.h"
#if PG_VERSION_NUM >= 170000
#define pp_make_json_lex(json, len, escapes) \
	makeJsonLexContextCstringLen(NULL, json, len, GetDatabaseEncoding(), escapes)
#else
#define pp_make_json_lex(json, len, escapes) \
	makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), escapes)
#endif

/* stringToQualifiedNameList() takes a soft-error context from 16 on. */
#if PG_VERSION_NUM >= 160000
#define pp_qualified_name_list(s) stringToQualifiedNameList(s, NULL)
#else
#define pp_qualified_name_list(s) stringToQualifiedNameList(s)
#endif

/* JSON semantic callbacks return an error code from PostgreSQL 16 on. */
#if PG_VERSION_NUM >= 160000
#define PP_JSON_CB_TYPE JsonParseErrorType
#define PP_JSON_CB_RETURN return JSON_SUCCESS
#else
#define PP_JSON_CB_TYPE void
#define PP_JSON_CB_RETURN return
#endif

/* This backend's local transaction id (storage/proc.h): in vxid from 17 on. */
#if PG_VERSION_NUM >= 170000
#define PP_MY_LXID (MyProc->vxid.lxid)
#else
#define PP_MY_LXID (MyProc->lxid)
#endif

#endif							/* PP_COMPAT_H */
