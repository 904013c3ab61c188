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

#endif							/* PP_COMPAT_H */
