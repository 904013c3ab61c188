/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The data trigger of window aggregates, pipeline.window_maintain(): an
 *	  AFTER ... FOR EACH STATEMENT trigger on a window's source that turns
 *	  the statement's transition tables into a delta and maintains the
 *	  window from it (sync; in mode append, an insert appends the
 *	  statement's partial aggregates to the partials table and wakes the
 *	  maintainer to fold them), or appends it to the delta table and wakes
 *	  the maintainer worker at commit (async; pp_wake_at_commit, wake.c).
 *
 * The trigger reads the definition as the bootstrap superuser (catalog.c)
 * and does everything else as the window's owner.  A TRUNCATE of the
 * source empties the state and delta (or partials) tables and forgets the
 * watermark.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "common/pipeline.h"
#include "window/window.h"
#include "worker/worker.h"

/*
 * pipeline.window_maintain(): AFTER ... FOR EACH STATEMENT trigger on a
 * window's source, with its id as argument and the transition tables
 * pp_new / pp_old.
 */
PG_FUNCTION_INFO_V1(pipeline_window_maintain);
Datum
pipeline_window_maintain(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	PipelineWindow  *def;
	PipelineAsRole as;
	int32		id;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.window_maintain() must be an AFTER statement trigger made by pipeline.create_window()")));
	id = pg_strtoint32(td->tg_trigger->tgargs[0]);
	ev = td->tg_event & TRIGGER_EVENT_OPMASK;

	SPI_connect();
	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables");
	def = pp_window_load(id, true);
	if (def == NULL)
	{
		SPI_finish();
		return PointerGetDatum(NULL);	/* being dropped */
	}
	/* only on its own source: never feed another table's rows to a window */
	if (RelationGetRelid(td->tg_relation) != def->source_oid)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.window_maintain(%d) fired on table \"%s\", which is not the source of window aggregate \"%s\"",
						id, RelationGetRelationName(td->tg_relation), def->name),
				 errhint("Window triggers are made by pipeline.create_window(); drop this one.")));
	/* an error unwinds the role and the search_path with the (sub)transaction */
	pp_window_as_owner(def, &as);
	{
		if (ev == TRIGGER_EVENT_TRUNCATE)
		{
			/*
			 * The delta (partials) first, then the state: the order in which
			 * a drain or a fold locks them (its DELETE of the one, then its
			 * upsert into the other).  The other way round, a TRUNCATE of
			 * the source and the maintainer's fold deadlocked.
			 */
			if (def->delta)
				pp_window_run(def, psprintf("TRUNCATE %s", def->delta), 0, NULL, SPI_OK_UTILITY);
			pp_window_run(def, psprintf("TRUNCATE %s", def->state), 0, NULL, SPI_OK_UTILITY);
			pp_window_run(def, psprintf("DELETE FROM pipeline.window_progress WHERE window_id = %d", id),
						  0, NULL, SPI_OK_DELETE);
		}
		else
		{
			char	   *delta;

			if (ev == TRIGGER_EVENT_INSERT)
				delta = pp_window_delta_select(def, "1", "pp_new", NULL);
			else if (ev == TRIGGER_EVENT_DELETE)
				delta = pp_window_delta_select(def, "-1", "pp_old", NULL);
			else
				delta = psprintf("%s UNION ALL %s", pp_window_delta_select(def, "-1", "pp_old", NULL),
								 pp_window_delta_select(def, "1", "pp_new", NULL));

			if (def->async)
			{
				StringInfoData buf;

				initStringInfo(&buf);
				appendStringInfo(&buf, "INSERT INTO %s (pp_sign", def->delta);
				for (int i = 0; i < def->ncols; i++)
					appendStringInfo(&buf, ", %s", def->cols[i]);
				appendStringInfo(&buf, ") %s", delta);
				{
					int			level = pp_window_raise_work_mem();	/* no JIT either */

					pp_window_run(def, buf.data, 0, NULL, SPI_OK_INSERT);
					AtEOXact_GUC(true, level);
				}
				if (SPI_processed > 0)
					pp_wake_at_commit(PP_WORKER_MAINTAINER);
			}
			else
			{
				/* inserted rows a recompute of this statement counted already */
				bool		recount = ev == TRIGGER_EVENT_INSERT && pp_window_recomputed_now(id);

				if (ev != TRIGGER_EVENT_INSERT || recount ||
					!pp_window_apply_inserted(def, td->tg_relation, td->tg_newtable))
					pp_window_apply(def, delta, delta, ev != TRIGGER_EVENT_INSERT || recount,
									ev == TRIGGER_EVENT_UPDATE, true);
			}
		}
	}
	pp_as_role_end(&as);
	SPI_finish();
	return PointerGetDatum(NULL);
}

