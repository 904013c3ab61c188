/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Schedules: the parser, the next and previous fire times in a time
 *	  zone, and the SQL functions pipeline.cron_next() / cron_prev().
 *
 * A schedule is either
 *
 * - a cron expression of 5 fields (minute hour day-of-month month
 *   day-of-week) or 6 (a leading seconds field; with 5, second 0).  A field
 *   is a comma-separated list of n, a-b, a-b/s (every s-th value from a to
 *   b), a/s (from a to the field's maximum) and '*' (every value), alone or
 *   with a step /s.  Months and weekdays may be named jan..dec and sun..sat
 *   in any case; weekdays run 0-7, 0 and 7 both Sunday ('*' and a/s stop
 *   at 6, Saturday); '$' in the day-of-month field is the last day of the
 *   month (pg_cron).  As in Vixie cron, when both day-of-month and
 *   day-of-week are restricted (neither begins with '*'), a day matches if
 *   either matches, otherwise both must.
 *   @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly are
 *   macros.  Fields are separated by white space.
 *
 * - or an interval: a positive integer and a unit ('30 seconds', '5 min',
 *   '1 h', '2 days'), firing at every multiple of it since 1970-01-01
 *   00:00:00 UTC, whatever the time zone.
 *
 * Fire times are whole seconds.  Cron fields are read on the wall clock of
 * the time zone.  For a matching wall-clock time W:
 *
 * - W exists once: it fires at that instant;
 * - W is skipped by a change to a larger UTC offset (spring forward): it
 *   fires at the first instant after the gap, the change itself; all the
 *   matching wall times of a gap fire there, once;
 * - W occurs twice (fall back): it fires at the first occurrence only,
 *   unless the hour field begins with '*' (Vixie cron's "wildcard" jobs),
 *   when it fires at both: a job every 15 minutes keeps firing every 15
 *   real minutes through the repeated hour, '30 1 * * *' fires once.
 *
 * Search.  wall_search() finds the nearest matching wall-clock time at or
 * after (or before) a given one, field by field on a broken-down
 * civil time without any time zone, jumping to the next allowed month,
 * day, hour, minute, second.  wall_instants() turns a wall time into its
 * instants with the UTC offsets in effect a day before and a day after it:
 * W is valid for offset o if the offset at W - o is o; valid for neither
 * offset, W is in a gap and fires when the gap ends (binary search);
 * valid for both, it is repeated.  This assumes at most one change of
 * offset within two days and changes of at most a day, which holds for all
 * the changes of the tz database (the largest, 24 hours, are Samoa's in
 * 2011 and Alaska's in 1867).
 *
 * first(W), the first fire of W (the end of the gap for a skipped W), does
 * not decrease as W grows, and a second fire of a repeated W is later than
 * every first fire of the repeated walls.  So next(a) starts at the wall
 * time just after a's own and takes the first matching W with first(W) >
 * a, skipping the repeated walls when a is in the second occurrence; with
 * an hour field '*', it starts at the repeated walls when a fall back is
 * just ahead, and a second fire > a seen on the way competes.  prev(b) is
 * the mirror image.  Both look at a handful of wall times at most, and
 * give up after 400 years, the period of the Gregorian calendar: a
 * schedule that finds no date in that time never fires.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#define SCHEDULE_HINT "A schedule is a cron expression such as '0 6 * * *' (minute hour day month weekday, with an optional leading seconds field) or an interval such as '30 seconds'."

/* ASCII only: the server's locale must not change what a schedule means */
#define IS_DIGIT(c)		((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c)		(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_SPACE(c)		((c) == ' ' || ((c) >= '\t' && (c) <= '\r'))

#define SCHEDULE_ERROR(spec, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid schedule \"%s\"", (spec)), \
			 errdetail(__VA_ARGS__), \
			 errhint(SCHEDULE_HINT)))

/* the longest interval, and how far a search goes: 400 Gregorian years */
#define MAX_INTERVAL	((int64) 36500 * SECS_PER_DAY)
#define SEARCH_SPAN		((int64) 146097 * SECS_PER_DAY)

/* seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define UNIX_TO_PG_SECS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* A parsed schedule: a bit per allowed value of each field. */
typedef struct Schedule
{
	int64		interval;		/* seconds; 0 for a cron expression */
	uint64		seconds;
	uint64		minutes;
	uint64		hours;
	uint64		days;			/* bits 1-31 */
	uint64		months;			/* bits 1-12 */
	uint64		weekdays;		/* bits 0-6, Sunday = 0 */
	bool		last_day;		/* '$' in day-of-month */
	bool		either_day;		/* both day fields restricted: either matches */
	bool		every_hour;		/* hour field begins with '*' */
} Schedule;

typedef struct FieldDef
{
	const char *name;			/* in details: "minute" */
	const char *title;			/* at the start of a sentence: "Minute" */
	int			min;
	int			max;
	const char *const *names;	/* names of min, min + 1, ..., or NULL */
} FieldDef;

static const char *const month_names[] =
{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const weekday_names[] =
{"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

enum
{
	F_SECOND, F_MINUTE, F_HOUR, F_DAY, F_MONTH, F_WEEKDAY
};

static const FieldDef field_defs[] = {
	{"second", "Second", 0, 59, NULL},
	{"minute", "Minute", 0, 59, NULL},
	{"hour", "Hour", 0, 23, NULL},
	{"day-of-month", "Day-of-month", 1, 31, NULL},
	{"month", "Month", 1, 12, month_names},
	{"day-of-week", "Day-of-week", 0, 7, weekday_names},
};

static const struct
{
	const char *name;
	const char *expansion;
}			macros[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

static const struct
{
	const char *name;
	int			seconds;
}			units[] = {
	{"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
	{"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
	{"h", 3600}, {"hour", 3600}, {"hours", 3600},
	{"d", 86400}, {"day", 86400}, {"days", 86400},
};

/* What parse errors need to say where they are. */
typedef struct FieldParse
{
	const char *spec;			/* the whole schedule */
	const FieldDef *def;
	const char *text;			/* the field */
} FieldParse;


/* ---- parsing ---------------------------------------------------------- */

/* A number or a name at *pp, checked against the field's range. */
static int
parse_value(const FieldParse *fp, const char **pp)
{
	const FieldDef *def = fp->def;
	const char *start = *pp;
	const char *p = start;
	int			value = 0;

	if (IS_DIGIT(*p))
	{
		for (; IS_DIGIT(*p); p++)
			if (value <= def->max)	/* no overflow: anything larger is out */
				value = value * 10 + (*p - '0');
		if (value < def->min || value > def->max)
			SCHEDULE_ERROR(fp->spec, "%s %.*s is out of range %d-%d.",
						   def->title, (int) (p - start), start, def->min, def->max);
		*pp = p;
		return value;
	}
	if (IS_ALPHA(*p))
	{
		while (IS_ALPHA(*p))
			p++;
		if (def->names == NULL)
			SCHEDULE_ERROR(fp->spec, "%s \"%.*s\" is not a number.",
						   def->title, (int) (p - start), start);
		for (int i = 0; def->names[i] != NULL && p - start == 3; i++)
			if (pg_strncasecmp(start, def->names[i], 3) == 0)
			{
				*pp = p;
				return def->min + i;
			}
		SCHEDULE_ERROR(fp->spec, "Unknown %s name \"%.*s\".",
					   def->name, (int) (p - start), start);
	}
	if (*p == '$')
		SCHEDULE_ERROR(fp->spec, "\"$\" (the last day of the month) may only be a whole element of the day-of-month field.");
	if (*p == '\0' || *p == ',' || *p == '-' || *p == '/')
		SCHEDULE_ERROR(fp->spec, "A value is missing in the %s field \"%s\".",
					   def->name, fp->text);
	SCHEDULE_ERROR(fp->spec, "Unexpected \"%.*s\" in the %s field \"%s\".",
				   pg_mblen(p), p, def->name, fp->text);
	return 0;					/* keep the compiler quiet */
}

/*
 * One field: a comma-separated list of n, a-b, a-b/s, a/s, '*' with or
 * without a step, and '$' in day-of-month.  Returns the bits of the allowed
 * values; day-of-week 7 is bit 0, Sunday.
 */
static uint64
parse_field(const char *spec, int field, const char *text, bool *last_day)
{
	FieldParse	fp = {spec, &field_defs[field], text};
	const char *p = text;
	uint64		bits = 0;

	for (;;)
	{
		int			lo,
					hi,
					step = 1;

		if (*p == '\0' || *p == ',')
			SCHEDULE_ERROR(spec, "The %s field \"%s\" has an empty list element.",
						   fp.def->name, text);
		if (*p == '$' && field == F_DAY && (p[1] == ',' || p[1] == '\0'))
		{
			*last_day = true;
			p++;
		}
		else
		{
			/* '*' and a/s end at the maximum; for weekdays at 6, not Sunday again */
			int			last = field == F_WEEKDAY ? 6 : fp.def->max;

			if (*p == '*')
			{
				lo = fp.def->min;
				hi = last;
				p++;
			}
			else
			{
				const char *start = p;

				lo = hi = parse_value(&fp, &p);
				if (*p == '-')
				{
					p++;
					hi = parse_value(&fp, &p);
					if (hi < lo)
						SCHEDULE_ERROR(spec, "Range %.*s in the %s field goes backwards%s.",
									   (int) (p - start), start, fp.def->name,
									   field == F_WEEKDAY && hi == 0 ? " (Sunday is also 7)" : "");
				}
				else if (*p == '/')
					hi = Max(lo, last); /* 7/s: Sunday */
			}
			if (*p == '/')
			{
				p++;
				step = 0;
				for (; IS_DIGIT(*p); p++)
					if (step <= 60)
						step = step * 10 + (*p - '0');
				if (step == 0)
					SCHEDULE_ERROR(spec, "A step must be a positive integer.");
			}
			for (int v = lo; v <= hi; v += step)
				bits |= UINT64CONST(1) << (field == F_WEEKDAY ? v % 7 : v);
		}
		if (*p == '\0')
			return bits;
		if (*p != ',')
			SCHEDULE_ERROR(spec, "Unexpected \"%.*s\" in the %s field \"%s\".",
						   pg_mblen(p), p, fp.def->name, text);
		p++;
	}
}

/*
 * An interval: one positive integer and one unit, with or without a space.
 * Several ('1 hour 30 minutes') are refused with their sum in the hint.
 */
static void
parse_interval(const char *spec, Schedule *sched)
{
	const char *p = spec;
	int64		total = 0;
	int			smallest = SECS_PER_DAY;
	int			pairs = 0;

	for (;;)
	{
		int64		n = 0;
		int			unit = 0;
		const char *start;

		while (IS_SPACE(*p))
			p++;
		if (*p == '\0')
			break;
		if (!IS_DIGIT(*p) && pairs > 0)
			SCHEDULE_ERROR(spec, "Unexpected \"%s\" after the interval.", p);
		if (!IS_DIGIT(*p))		/* a sign, a fraction */
			SCHEDULE_ERROR(spec, "An interval is a positive integer and a unit, such as '90 minutes'.");
		for (; IS_DIGIT(*p); p++)
			if (n <= MAX_INTERVAL)
				n = n * 10 + (*p - '0');
		while (IS_SPACE(*p))
			p++;
		start = p;
		while (IS_ALPHA(*p))
			p++;
		if (p == start)
			SCHEDULE_ERROR(spec, "An interval is a positive integer and a unit, such as '90 minutes'.");
		for (size_t i = 0; i < lengthof(units); i++)
			if (strlen(units[i].name) == (size_t) (p - start) &&
				pg_strncasecmp(start, units[i].name, p - start) == 0)
				unit = units[i].seconds;
		if (unit == 0)
			SCHEDULE_ERROR(spec, "Unknown interval unit \"%.*s\"; the units are seconds, minutes, hours and days.",
						   (int) (p - start), start);
		total = Min(total + n * unit, MAX_INTERVAL + 1);
		smallest = Min(smallest, unit);
		if (n == 0)
			SCHEDULE_ERROR(spec, "An interval must be positive.");
		pairs++;
	}
	if (pairs > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule \"%s\"", spec),
				 errdetail("An interval has one number and one unit."),
				 errhint("Write '%lld %s' instead.", (long long) (total / smallest),
						 smallest == 1 ? "seconds" : smallest == 60 ? "minutes" :
						 smallest == 3600 ? "hours" : "days")));
	if (total > MAX_INTERVAL)
		SCHEDULE_ERROR(spec, "An interval is at most 36500 days.");
	sched->interval = total;
}

/* A number (signed or not) followed by a letter: meant as an interval. */
static bool
looks_like_interval(const char *p)
{
	while (IS_SPACE(*p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	if (!IS_DIGIT(*p))
		return false;
	while (IS_DIGIT(*p) || *p == '.')
		p++;
	while (IS_SPACE(*p))
		p++;
	return IS_ALPHA(*p);
}

/*
 * Parse spec into *sched; errors name orig, the text the user wrote (spec
 * differs from it for a macro's expansion).
 */
static void
parse_schedule(const char *orig, const char *spec, Schedule *sched)
{
	char	   *copy = pstrdup(spec);
	char	   *fields[6];
	int			nfields = 0;
	int			first;

	memset(sched, 0, sizeof(Schedule));
	for (char *p = copy;;)
	{
		while (IS_SPACE(*p))
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (nfields < 6)
			fields[nfields] = p;
		nfields++;
		while (*p != '\0' && !IS_SPACE(*p))
			p++;
	}

	if (nfields == 0)
		SCHEDULE_ERROR(orig, "The schedule is empty.");
	if (fields[0][0] == '@')
	{
		if (nfields > 1)
			SCHEDULE_ERROR(orig, "A macro such as \"%s\" stands alone.", fields[0]);
		for (size_t i = 0; i < lengthof(macros); i++)
			if (pg_strcasecmp(fields[0], macros[i].name) == 0)
			{
				parse_schedule(orig, macros[i].expansion, sched);
				return;
			}
		SCHEDULE_ERROR(orig, "Unknown macro \"%s\"; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.",
					   fields[0]);
	}
	if (nfields != 5 && nfields != 6)
	{
		if (looks_like_interval(spec))
		{
			parse_interval(orig, sched);
			return;
		}
		SCHEDULE_ERROR(orig, "A cron expression has 5 or 6 fields, not %d.", nfields);
	}

	first = nfields - 5;		/* the minute field */
	sched->seconds = first ? parse_field(orig, F_SECOND, fields[0], NULL) : 1;
	sched->minutes = parse_field(orig, F_MINUTE, fields[first], NULL);
	sched->hours = parse_field(orig, F_HOUR, fields[first + 1], NULL);
	sched->days = parse_field(orig, F_DAY, fields[first + 2], &sched->last_day);
	sched->months = parse_field(orig, F_MONTH, fields[first + 3], NULL);
	sched->weekdays = parse_field(orig, F_WEEKDAY, fields[first + 4], NULL);
	sched->either_day = fields[first + 2][0] != '*' && fields[first + 4][0] != '*';
	sched->every_hour = fields[first + 1][0] == '*';
}


/* ---- calendar (proleptic Gregorian, no time zone) --------------------- */

static int64
floor_div(int64 a, int64 b)
{
	return a / b - (a % b < 0);
}

/* Days since 1970-01-01 of a date, and back (H. Hinnant's algorithms). */
static int64
days_from_civil(int64 y, int m, int d)
{
	int64		era,
				yoe,
				doy;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void
civil_from_days(int64 z, int64 *y, int *m, int *d)
{
	int64		era = floor_div(z + 719468, 146097);
	int64		doe = z + 719468 - era * 146097;
	int64		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64		mp = (5 * doy + 2) / 153;

	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64 y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* The days (bits 1-31) of a month that the schedule's day fields allow. */
static uint64
month_days(const Schedule *s, int64 y, int m)
{
	int			dim = days_in_month(y, m);
	int			wday = (int) ((days_from_civil(y, m, 1) % 7 + 11) % 7);	/* of the 1st */
	uint64		by_day = s->days & ((UINT64CONST(2) << dim) - 2);
	uint64		by_weekday = 0;

	if (s->last_day)
		by_day |= UINT64CONST(1) << dim;
	for (int d = 1; d <= dim; d++, wday = (wday + 1) % 7)
		if (s->weekdays & (UINT64CONST(1) << wday))
			by_weekday |= UINT64CONST(1) << d;
	return s->either_day ? by_day | by_weekday : by_day & by_weekday;
}

/* The lowest set bit >= from, the highest <= from, or -1. */
static int
next_bit(uint64 bits, int from)
{
	if (from > 63)
		return -1;
	bits &= ~UINT64CONST(0) << from;
	return bits ? pg_rightmost_one_pos64(bits) : -1;
}

static int
prev_bit(uint64 bits, int from)
{
	if (from < 0)
		return -1;
	if (from < 63)
		bits &= (UINT64CONST(2) << from) - 1;
	return bits ? pg_leftmost_one_pos64(bits) : -1;
}

/*
 * The nearest matching wall-clock time at or after w (forward) or at or
 * before it, in seconds since 1970-01-01 on the wall clock; false if it is
 * beyond limit.  Field by field from the month down: a field keeps its value
 * if allowed, else takes the nearest allowed one and resets the smaller
 * fields to their first (forward) or last value; with none left, it carries
 * into the next larger field, which is checked again.
 */
static bool
wall_search(const Schedule *s, int64 w, int64 limit, bool forward, int64 *result)
{
	static const int first[5] = {1, 1, 0, 0, 0};	/* month day hour min sec */
	static const int last[5] = {12, 31, 23, 59, 59};
	uint64		bits[5] = {s->months, 0, s->hours, s->minutes, s->seconds};
	int64		day0 = floor_div(w, SECS_PER_DAY);
	int			sod = (int) (w - day0 * SECS_PER_DAY);
	int			v[5] = {0, 0, sod / 3600, sod / 60 % 60, sod % 60};
	int64		year;
	int			f = 0;

	civil_from_days(day0, &year, &v[0], &v[1]);
	while (f < 5)
	{
		int			n;

		if (f == 1)
			bits[1] = month_days(s, year, v[0]);
		n = forward ? next_bit(bits[f], v[f]) : prev_bit(bits[f], v[f]);
		if (n < 0)
		{
			for (int g = f; g < 5; g++)
				v[g] = forward ? first[g] : last[g];
			if (f == 0)
				year += forward ? 1 : -1;
			else
				v[--f] += forward ? 1 : -1;
			continue;
		}
		if (n != v[f])
			for (int g = f + 1; g < 5; g++)
				v[g] = forward ? first[g] : last[g];
		v[f] = n;
		if (f == 0)
		{
			int64		start = days_from_civil(year, n, 1) * SECS_PER_DAY;

			if (forward ? start > limit :
				start + days_in_month(year, n) * SECS_PER_DAY <= limit)
				return false;
		}
		f++;
	}
	*result = days_from_civil(year, v[0], v[1]) * SECS_PER_DAY +
		v[2] * 3600 + v[3] * 60 + v[4];
	return forward ? *result <= limit : *result >= limit;
}


/* ---- time zone -------------------------------------------------------- */

/* The UTC offset (local = UTC + offset) in effect at instant t. */
static long
utc_offset(const pg_tz *tz, pg_time_t t)
{
	struct pg_tm *tm = pg_localtime(&t, tz);

	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return tm->tm_gmtoff;
}

/* The first instant in (lo, hi] whose offset differs from lo's. */
static pg_time_t
find_change(const pg_tz *tz, pg_time_t lo, pg_time_t hi)
{
	long		off = utc_offset(tz, lo);

	while (hi - lo > 1)
	{
		pg_time_t	mid = lo + (hi - lo) / 2;

		if (utc_offset(tz, mid) == off)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* The instants of a wall-clock time. */
typedef struct Instants
{
	pg_time_t	first;			/* its fire; for a skipped W, the gap's end */
	pg_time_t	second;			/* the second occurrence, else = first */
	bool		repeated;
	pg_time_t	change;			/* repeated: the fall back, */
	long		before;			/* the offsets before and after it */
	long		after;
} Instants;

static void
wall_instants(const pg_tz *tz, int64 w, Instants *in)
{
	long		before = utc_offset(tz, w - SECS_PER_DAY);
	long		after = utc_offset(tz, w + SECS_PER_DAY);
	bool		valid_before,
				valid_after;

	in->repeated = false;
	in->first = in->second = w - before;
	if (before == after)
		return;
	valid_before = utc_offset(tz, w - before) == before;
	valid_after = utc_offset(tz, w - after) == after;
	if (valid_before && valid_after)
	{
		in->first = Min(w - before, w - after);
		in->second = Max(w - before, w - after);
		in->repeated = true;
		in->change = find_change(tz, in->first, in->second);
		in->before = before;
		in->after = after;
	}
	else if (valid_after)
		in->first = in->second = w - after;
	else if (!valid_before)		/* in a gap: the first instant after it */
		in->first = in->second = find_change(tz, Min(w - before, w - after),
											 Max(w - before, w - after));
}

/* The first fire of a cron schedule after instant a. */
static pg_time_t
cron_next_fire(const Schedule *s, const pg_tz *tz, pg_time_t a)
{
	long		now = utc_offset(tz, a);
	int64		wall_a = a + now;
	int64		w = wall_a + 1;
	int64		limit = w + SEARCH_SPAN;
	pg_time_t	best = PG_INT64_MAX;

	/*
	 * Every-hour schedules fire again in the second occurrence of a repeated
	 * hour: if a fall back is just ahead, start at its first repeated wall
	 * time (T + the offset after).
	 */
	if (s->every_hour)
	{
		long		later = utc_offset(tz, a + SECS_PER_DAY);

		if (later < now)
			w = Min(w, find_change(tz, a, a + SECS_PER_DAY) + later);
	}
	for (;;)
	{
		int64		wall;
		Instants	in;

		if (!wall_search(s, w, limit, true, &wall))
			return PG_INT64_MAX;
		wall_instants(tz, wall, &in);
		if (s->every_hour && in.second > a)
			best = Min(best, in.second);
		if (in.first > a)
			return Min(best, in.first);

		/*
		 * Wall times up to a's own fire no later than a (first() does not
		 * decrease); a second occurrence passed over is later than the one
		 * just taken.  If a is in the second occurrence of a repeated hour,
		 * the first fires of the rest of it are before a too.
		 */
		w = Max(wall + 1, wall_a + 1);
		if (in.repeated && in.change <= a)
			w = Max(w, in.change + in.before);
	}
}

/* The last fire of a cron schedule at or before instant c. */
static pg_time_t
cron_prev_fire(const Schedule *s, const pg_tz *tz, pg_time_t c)
{
	long		now = utc_offset(tz, c);
	long		earlier = utc_offset(tz, c - SECS_PER_DAY);
	int64		wall_c = c + now;
	int64		w = wall_c;
	int64		limit = w - SEARCH_SPAN;
	pg_time_t	best = PG_INT64_MIN;

	/*
	 * If c is in the second occurrence of a repeated hour, the first
	 * occurrences of all its wall times are before c: start at its last.
	 */
	if (earlier > now)
		w = Max(w, find_change(tz, c - SECS_PER_DAY, c) + earlier - 1);
	for (;;)
	{
		int64		wall;
		Instants	in;
		pg_time_t	last;

		if (!wall_search(s, w, limit, false, &wall))
			return PG_INT64_MIN;
		wall_instants(tz, wall, &in);
		last = s->every_hour ? in.second : in.first;
		if (last <= c)
			return Max(best, last);
		if (in.first <= c)
			best = Max(best, in.first);

		/*
		 * Here wall is repeated and its last fire is after c.  Repeated wall
		 * times after c's own have their second fire after c and their first
		 * before this one's; so have all of them if the fall back is after c.
		 */
		w = Min(wall - 1, wall_c);
		if (in.repeated && in.change > c)
			w = Min(w, in.change + in.after - 1);
	}
}


/* ---- SQL functions ---------------------------------------------------- */

/* The fire after (forward) or before a timestamp. */
static Datum
fire_time(FunctionCallInfo fcinfo, bool forward)
{
	char	   *spec = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(1);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(2));
	pg_tz	   *tz = pg_tzset(zone);
	Schedule	sched;
	pg_time_t	t,
				fire;

	parse_schedule(spec, spec, &sched);
	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", zone),
				 errhint("A time zone is a name from pg_timezone_names, such as 'Europe/Paris'.")));
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("A schedule's fire times are computed from a finite timestamp.")));

	/*
	 * Fires are whole seconds: those after ts are after floor(ts), those
	 * before ts are at or before ceil(ts) - 1.
	 */
	t = floor_div(ts, USECS_PER_SEC) + UNIX_TO_PG_SECS;
	if (!forward)
		t += (ts % USECS_PER_SEC != 0) - 1;

	if (sched.interval > 0)
		fire = forward ? (floor_div(t, sched.interval) + 1) * sched.interval
			: floor_div(t, sched.interval) * sched.interval;
	else if (forward)
		fire = cron_next_fire(&sched, tz, t);
	else
		fire = cron_prev_fire(&sched, tz, t);

	if (fire == PG_INT64_MAX || fire == PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule \"%s\" never fires", spec),
				 errdetail("No date matches its day-of-month, month and day-of-week fields (the calendar repeats every 400 years)."),
				 errhint("February has at most 29 days; April, June, September and November have 30.")));
	fire -= UNIX_TO_PG_SECS;
	if (fire < MIN_TIMESTAMP / USECS_PER_SEC || fire >= END_TIMESTAMP / USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The %s fire of schedule \"%s\" is outside the range of timestamp with time zone.",
						   forward ? "next" : "previous", spec)));
	PG_RETURN_TIMESTAMPTZ(fire * USECS_PER_SEC);
}

PG_FUNCTION_INFO_V1(pipeline_cron_next);
Datum
pipeline_cron_next(PG_FUNCTION_ARGS)
{
	return fire_time(fcinfo, true);
}

PG_FUNCTION_INFO_V1(pipeline_cron_prev);
Datum
pipeline_cron_prev(PG_FUNCTION_ARGS)
{
	return fire_time(fcinfo, false);
}
