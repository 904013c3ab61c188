/*-------------------------------------------------------------------------
 *
 * partitions.c
 *	  Which partitions of its topic a source reads on this server.
 *
 * Design.  Several PostgreSQL servers can share one topic: each has the
 * same source, and each source is given the part of the partitions it
 * owns here (docs/scale-out.md).  The part is the source's `partitions`
 * text, one of
 *
 *	  NULL or 'all'	   every partition (the default: one server)
 *	  'none'		   none (a server that only reads what it imported)
 *	  'hash I of N'	   the partitions p with p % N = I, of every topic of
 *					   the source; partitions added to a topic later are
 *					   picked up by the server they fall to
 *	  '0,1,4'		   exactly these partition numbers
 *
 * On top of that, pipeline.source_offsets.handover moves single partitions
 * between servers: a partition marked 'exported' is not read here whatever
 * the part says (export_offsets), one marked 'imported' is read here
 * whatever the part says (import_offsets).  The consumer (consumer.c)
 * and the SQL functions (control/sql/kafka.sql) decide with the same
 * parser, this one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/builtins.h"

#include "kafka/kafka.h"

#define MAX_HASH_COUNT 100000

static void
bad_partitions(const char *spec, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid partitions \"%s\"", spec),
			 errdetail("%s", detail),
			 errhint("Use 'hash I of N' (the partitions p with p %% N = I, 0 <= I < N), "
					 "a list of partition numbers like '0,1,4', 'all' or 'none'.")));
}

/* A non-negative int32 at *p (digits only); advances *p past it. */
static bool
read_number(const char **p, int *value)
{
	int64		v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
	{
		v = v * 10 + (*s++ - '0');
		if (v > PG_INT32_MAX)
			return false;
	}
	*value = (int) v;
	*p = s;
	return true;
}

static void
skip_spaces(const char **p)
{
	while (isspace((unsigned char) **p))
		(*p)++;
}

/* Does the text at *p start with this word (case-insensitive)?  Advances. */
static bool
read_word(const char **p, const char *word)
{
	size_t		len = strlen(word);

	if (pg_strncasecmp(*p, word, len) != 0 || isalnum((unsigned char) (*p)[len]))
		return false;
	*p += len;
	return true;
}

static int
cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

/*
 * pp_kafka_parse_partitions
 *		Parse a source's partitions text into *set (allocated in the current
 *		memory context); raises invalid_parameter_value for a bad one.
 *		NULL means every partition.
 */
void
pp_kafka_parse_partitions(const char *spec, PartitionSet *set)
{
	const char *p = spec;

	memset(set, 0, sizeof(*set));
	set->kind = PARTITIONS_ALL;
	if (spec == NULL)
		return;
	skip_spaces(&p);
	if (read_word(&p, "all") || read_word(&p, "none"))
	{
		set->kind = (p[-1] == 'l' || p[-1] == 'L') ? PARTITIONS_ALL : PARTITIONS_NONE;
		skip_spaces(&p);
		if (*p != '\0')
			bad_partitions(spec, "Nothing may follow all or none.");
		return;
	}
	if (read_word(&p, "hash"))
	{
		set->kind = PARTITIONS_HASH;
		skip_spaces(&p);
		if (!read_number(&p, &set->hash_index))
			bad_partitions(spec, "hash is followed by a number I, then \"of\" and a number N.");
		skip_spaces(&p);
		if (!read_word(&p, "of"))
			bad_partitions(spec, "hash is followed by a number I, then \"of\" and a number N.");
		skip_spaces(&p);
		if (!read_number(&p, &set->hash_count))
			bad_partitions(spec, "hash is followed by a number I, then \"of\" and a number N.");
		skip_spaces(&p);
		if (*p != '\0')
			bad_partitions(spec, "Nothing may follow \"hash I of N\".");
		if (set->hash_count < 1 || set->hash_count > MAX_HASH_COUNT)
			bad_partitions(spec, psprintf("N (the number of servers sharing the topic) must be between 1 and %d.",
										  MAX_HASH_COUNT));
		if (set->hash_index >= set->hash_count)
			bad_partitions(spec, psprintf("I (this server's share) must be between 0 and %d, N - 1.",
										  set->hash_count - 1));
		return;
	}

	/* a list of partition numbers */
	set->kind = PARTITIONS_LIST;
	set->list = palloc(sizeof(int) * (strlen(spec) / 2 + 1));
	for (;;)
	{
		skip_spaces(&p);
		if (!read_number(&p, &set->list[set->nlist]))
			bad_partitions(spec, *p == '\0' && set->nlist == 0 ?
						   "It is empty." :
						   "A list holds partition numbers (0 to 2147483647) separated by commas.");
		set->nlist++;
		skip_spaces(&p);
		if (*p == '\0')
			break;
		if (*p != ',')
			bad_partitions(spec, "A list holds partition numbers (0 to 2147483647) separated by commas.");
		p++;
	}
	qsort(set->list, set->nlist, sizeof(int), cmp_int);
	{
		int			n = 1;

		for (int i = 1; i < set->nlist; i++)
			if (set->list[i] != set->list[n - 1])
				set->list[n++] = set->list[i];
		set->nlist = n;
	}
}

/* Is a partition (number) in the set? */
bool
pp_kafka_partition_in_set(const PartitionSet *set, int partition)
{
	switch (set->kind)
	{
		case PARTITIONS_ALL:
			return true;
		case PARTITIONS_NONE:
			return false;
		case PARTITIONS_HASH:
			return partition % set->hash_count == set->hash_index;
		case PARTITIONS_LIST:
			return bsearch(&partition, set->list, set->nlist, sizeof(int), cmp_int) != NULL;
	}
	return false;				/* keep the compiler quiet */
}

/* The set written the one way it is stored: NULL for every partition. */
static char *
partitions_text(const PartitionSet *set)
{
	StringInfoData buf;

	switch (set->kind)
	{
		case PARTITIONS_ALL:
			return NULL;
		case PARTITIONS_NONE:
			return pstrdup("none");
		case PARTITIONS_HASH:
			return psprintf("hash %d of %d", set->hash_index, set->hash_count);
		case PARTITIONS_LIST:
			initStringInfo(&buf);
			for (int i = 0; i < set->nlist; i++)
				appendStringInfo(&buf, "%s%d", i > 0 ? "," : "", set->list[i]);
			return buf.data;
	}
	return NULL;				/* keep the compiler quiet */
}

/*
 * pipeline._check_partitions(text): validates a source's partitions and
 * returns them as stored ('hash 0 of 3', '0,1,4', 'none'; NULL for all).
 */
PG_FUNCTION_INFO_V1(pipeline_check_partitions);
Datum
pipeline_check_partitions(PG_FUNCTION_ARGS)
{
	PartitionSet set;
	char	   *out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	pp_kafka_parse_partitions(text_to_cstring(PG_GETARG_TEXT_PP(0)), &set);
	out = partitions_text(&set);
	if (out == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * pipeline._partition_read_here(partitions text, partition int,
 * handover text): does the source read this partition on this server?
 * An exported partition never, an imported one always, any other when
 * its part holds it.
 */
PG_FUNCTION_INFO_V1(pipeline_partition_read_here);
Datum
pipeline_partition_read_here(PG_FUNCTION_ARGS)
{
	PartitionSet set;
	char	   *handover = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	pp_kafka_parse_partitions(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)), &set);
	PG_RETURN_BOOL(pp_kafka_partition_read_here(&set, PG_GETARG_INT32(1), handover));
}

/* The rule of pipeline._partition_read_here, for the consumer too. */
bool
pp_kafka_partition_read_here(const PartitionSet *set, int partition, const char *handover)
{
	if (handover != NULL && strcmp(handover, "exported") == 0)
		return false;
	if (handover != NULL && strcmp(handover, "imported") == 0)
		return true;
	return pp_kafka_partition_in_set(set, partition);
}
