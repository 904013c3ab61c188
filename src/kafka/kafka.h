/*-------------------------------------------------------------------------
 *
 * kafka.h
 *	  Kafka sources: declarations shared by the files of src/kafka.
 *
 * See src/kafka/README.md and docs/kafka.md for the design: a source maps
 * a topic to a table; consumer workers (kind "consumer", started by the
 * coordinator) turn each batch of messages into COPY input and load it
 * with the COPY machinery (triggers, constraints, partition routing), in
 * the same transaction as the next offset of every partition they read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_KAFKA_H
#define PP_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

typedef enum SourceFormat
{
	FORMAT_JSON,
	FORMAT_JSONB,
	FORMAT_CSV,
	FORMAT_TEXT,
	FORMAT_BYTEA
} SourceFormat;

/* What a consumer worker finds in its bgw_extra parameters. */
typedef struct ConsumerParams
{
	char		source[NAMEDATALEN];
	int32		index;			/* this consumer takes partitions p % count == index */
	int32		count;
	int32		config_version;
} ConsumerParams;

/* Metadata columns, filled when the target has a column of that name. */
typedef enum MetaColumn
{
	META_NONE = 0,
	META_TOPIC,
	META_PARTITION,
	META_OFFSET,
	META_KEY,
	META_TIMESTAMP,
	META_TIMESTAMP_MS,
	META_HEADERS,
	META_INGESTED_AT
} MetaColumn;

/* How one batch maps to the target's columns; built once per batch. */
typedef struct TargetLayout
{
	SourceFormat format;
	int			ncolumns;		/* columns in the COPY column list */
	List	   *colnames;		/* String nodes, COPY's attnamelist */
	char	  **names;			/* [ncolumns] */
	int		   *name_lens;		/* [ncolumns] */
	MetaColumn *meta;			/* [ncolumns] */
	bool	   *has_default;	/* [ncolumns] a missing JSON key takes it */
	int			data_column;	/* single-column formats: index in names */
	bool		data_validates_json;	/* it is json or jsonb */
	/*
	 * COPY's binary format (decode.c): binary_kind[i] says how column i is
	 * written; NULL when some column has a type it does not cover.  binary
	 * says whether this chunk is written so (load.c decides: the session's
	 * client_encoding must let the columns' receive functions take the
	 * bytes as they are).
	 */
	char	   *binary_kind;	/* [ncolumns] or NULL */
	bool		binary;
	/* json values converted through their type (BIN_INPUT ...): or NULL */
	FmgrInfo   *input;			/* [ncolumns] */
	FmgrInfo   *send;			/* [ncolumns] */
	Oid		   *ioparam;		/* [ncolumns] */
	int			converting;		/* the column a value is converted for, or -1 */
	int			ndata;			/* data columns (csv: fields per record) */
	bool		has_key;		/* a _key column: the key must be text */
	bool		has_headers;	/* a _headers column: so must the headers */
	char	   *topic;
	/* the source's expectations at ingestion (expect.c): COPY's WHERE */
	List	   *expect_quals;	/* NIL: none */
	char	  **expect_names;	/* [list_length(expect_quals)] */
	uint64		expect_token;	/* the quals' random token */
} TargetLayout;

/* A message that failed an expectation at ingestion (expect.c) */
typedef struct KafkaExpectFailure
{
	uint64		line;			/* COPY's line: 1 = the first message given */
	int			expectation;	/* index in expect_names */
} KafkaExpectFailure;

/* One COPY with expectations running (expect.c), in the loader's memory */
typedef struct KafkaExpectScope
{
	struct CopyFromStateData *copy;
	uint64		token;
	int			nquals;
	List	   *noted;			/* KafkaExpectFailure * */
	MemoryContext context;
	struct KafkaExpectScope *outer;
} KafkaExpectScope;

/*
 * One message to load: from a live batch (msg set: the record points into
 * the message, which must outlive it) or replayed from the dead letters or
 * the archive (msg NULL).  The loader fills the rest.
 */
typedef struct KafkaRecord
{
	const char *topic;
	const char *payload;		/* NULL: the message has no value */
	size_t		len;
	const char *key;
	size_t		key_len;
	int32		partition;
	int64		offset;
	int64		timestamp_ms;	/* as Kafka gave it, any int64; -1 when none */
	const char *headers;		/* JSON object of the headers, or NULL: */
	size_t		headers_len;	/* read them with pp_kafka_record_headers() */
	bool		headers_done;
	const char *headers_error;	/* a header that is not text, or NULL */
	const rd_kafka_message_t *msg;
	/* filled by pp_kafka_load() */
	int			line_start;		/* its COPY line in the batch buffer */
	int			line_len;
	uint64		missing;		/* columns left to their default */
	bool		bad;
} KafkaRecord;

/*
 * What the loader does with a message that cannot be loaded: returns false
 * to stop the whole batch (on_error = stop).  rec is NULL when the target
 * refused the batch whatever its messages (see load.c): the handler must
 * then return false, and the caller rolls the batch back.
 */
typedef bool (*BadRecordHandler) (KafkaRecord *rec, const char *error,
								  const char *sqlstate, void *arg);

/* src/kafka/fdw.c */
extern rd_kafka_conf_t *pp_kafka_build_conf(const char *server, Oid userid,
											Jsonb *properties, const char *what,
											bool check_only);
extern SourceFormat pp_kafka_parse_format(const char *format);
extern char pp_kafka_error[512];
extern void pp_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);
extern rd_kafka_t *pp_kafka_new_client(rd_kafka_conf_t *conf, rd_kafka_type_t type,
									   const char *what, const char *name);

/* src/kafka/decode.c */
extern void pp_kafka_layout_init(TargetLayout *layout, Relation rel,
								 SourceFormat format, const char *data_column,
								 const char *topic);
extern bool pp_kafka_decode(TargetLayout *layout, KafkaRecord *rec,
							TimestampTz ingested_at, StringInfo out,
							uint64 *missing, char **error,
							const char **sqlstate);
extern char *pp_kafka_text_problem(const char *s, size_t len);

/* src/kafka/expect.c */
struct CopyFromStateData;
extern void pp_kafka_layout_expectations(TargetLayout *layout, Relation rel, const char *source);
extern void pp_kafka_expect_begin(KafkaExpectScope *scope, struct CopyFromStateData *cstate,
								  TargetLayout *layout);
extern List *pp_kafka_expect_end(KafkaExpectScope *scope);

/* src/kafka/jsonb_build.c */
extern void pp_kafka_jsonb_fast_receive(struct CopyFromStateData *cstate);

/* src/kafka/load.c */
extern bool pp_kafka_load(Relation rel, TargetLayout *layout, KafkaRecord *recs,
						  int n, BadRecordHandler bad, void *arg,
						  bool target_to_handler);
extern void pp_kafka_record_from_message(KafkaRecord *rec, const rd_kafka_message_t *msg);
extern const char *pp_kafka_record_headers(KafkaRecord *rec);
extern bool pp_kafka_timestamp_from_ms(int64 ms, TimestampTz *result);
extern bool pp_kafka_ms_from_timestamptz(TimestampTz ts, int64 *ms);

/* src/kafka/replay.c */
extern char *pp_kafka_replay_source(FunctionCallInfo fcinfo);
extern Relation pp_kafka_open_replay_target(const char *source, Oid target,
											TargetLayout *layout);

/* src/kafka/supervisor.c */
extern bool pp_kafka_lock_wanted(const ConsumerParams *params, const char *what,
								 const char *query);

/* src/kafka/archive.c */
extern void pp_kafka_archive_batch(const char *source, KafkaRecord *recs, int n);
extern void pp_kafka_escape_text(StringInfo out, const char *s, int len);

/* src/kafka/partitions.c: the partitions a source reads on this server */
typedef enum PartitionSetKind
{
	PARTITIONS_ALL,				/* NULL or 'all' */
	PARTITIONS_NONE,			/* 'none' */
	PARTITIONS_HASH,			/* 'hash I of N': p % N = I */
	PARTITIONS_LIST				/* '0,1,4' */
} PartitionSetKind;

typedef struct PartitionSet
{
	PartitionSetKind kind;
	int			hash_index;		/* I of 'hash I of N' */
	int			hash_count;		/* N */
	int			nlist;			/* a list: how many, sorted and unique */
	int		   *list;
} PartitionSet;

extern void pp_kafka_parse_partitions(const char *spec, PartitionSet *set);
extern bool pp_kafka_partition_in_set(const PartitionSet *set, int partition);
extern bool pp_kafka_partition_read_here(const PartitionSet *set, int partition,
										 const char *handover);

#endif							/* PP_KAFKA_H */
