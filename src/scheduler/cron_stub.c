/* TEMPORARY stub until cron.c lands: intervals in seconds only. */
#include "postgres.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

static int64
stub_period(text *t)
{
	char	   *s = text_to_cstring(t);
	long		n = strtol(s, NULL, 10);

	if (s[0] == '@' || strchr(s, '*'))
		return 60 * USECS_PER_SEC;
	if (n <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid schedule \"%s\"", s)));
	if (strstr(s, "min"))
		n *= 60;
	return n * USECS_PER_SEC;
}

PG_FUNCTION_INFO_V1(pipeline_cron_next);
Datum
pipeline_cron_next(PG_FUNCTION_ARGS)
{
	int64		p = stub_period(PG_GETARG_TEXT_PP(0));
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
	int64		e = after + ((int64) 946684800) * USECS_PER_SEC;

	e = (e / p + 1) * p;
	PG_RETURN_TIMESTAMPTZ(e - ((int64) 946684800) * USECS_PER_SEC);
}

PG_FUNCTION_INFO_V1(pipeline_cron_prev);
Datum
pipeline_cron_prev(PG_FUNCTION_ARGS)
{
	int64		p = stub_period(PG_GETARG_TEXT_PP(0));
	TimestampTz before = PG_GETARG_TIMESTAMPTZ(1);
	int64		e = before + ((int64) 946684800) * USECS_PER_SEC;

	e = ((e - 1) / p) * p;
	PG_RETURN_TIMESTAMPTZ(e - ((int64) 946684800) * USECS_PER_SEC);
}
