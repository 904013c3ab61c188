/*-------------------------------------------------------------------------
 *
 * pp_test_broker.c
 *	  A small, scriptable Kafka "cluster" for pg_pipeline's tests, built on
 *	  librdkafka's mock cluster API (rdkafka_mock.h).
 *
 * The program creates an in-process mock cluster of N brokers, each of
 * which listens on its own random port on 127.0.0.1, optionally creates
 * some topics, publishes the bootstrap address and then executes simple
 * line-oriented commands ("down 2", "error 0 6 3", ...) that inject faults
 * into the cluster.  Any Kafka client (kcat, the extension under test) can
 * connect to the printed address.
 *
 * Design:
 *
 * - librdkafka requires a client handle to own a mock cluster.  We create
 *	 a dummy producer without bootstrap.servers; it never connects anywhere
 *	 and must outlive the cluster, so the cluster is destroyed first.
 *
 * - The mock cluster runs in its own librdkafka thread.  Every mock API call
 *	 used here is a synchronous request to that thread, so once a command
 *	 has been answered with "ok", its effect is visible to clients.
 *
 * - Commands come from stdin and, if --control is given, from a FIFO, so
 *	 that a broker started in the background (stdin = /dev/null) can still
 *	 be controlled.  The FIFO is opened non-blocking and reopened whenever
 *	 the last writer goes away, so any number of writers can send commands
 *	 over time.  Lines shorter than PIPE_BUF written with a single write()
 *	 are never interleaved between concurrent writers.  Replies always go
 *	 to stdout, one "ok" or "error <text>" line per command, flushed.
 *
 * - Everything runs in a single-threaded ppoll() loop in the main thread.
 *	 SIGTERM, SIGINT and SIGHUP are blocked before any librdkafka thread is
 *	 created (the mock cluster thread does not block signals itself), and
 *	 are only unblocked atomically inside ppoll().  The handler merely sets
 *	 a flag; the mock API is never called from a signal handler.
 *
 * - Shutdown (signal or "quit"): remove the FIFO, destroy the cluster,
 *	 then destroy the dummy handle.
 *
 * Limits of the librdkafka 2.0.2 mock (see README.md): each partition log
 * keeps at most 5 MiB or 100000 message sets, older data is silently
 * dropped (the log start offset moves), and there is no API to change
 * that.  Taking a broker down does not move partition leaders.
 *
 * IDENTIFICATION
 *	  test/broker/pp_test_broker.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
/* must come after rdkafka.h */
#include <librdkafka/rdkafka_mock.h>

#define PROGNAME			"pp_test_broker"

/* Longest accepted command line, including the newline. */
#define MAX_LINE			4096

#define MAX_BROKERS			100
#define MAX_PARTITIONS		10000
#define MAX_ERROR_COUNT		100000
#define MAX_TOPIC_NAME		249

/* Where a command line comes from, and what is buffered of it so far. */
typedef struct LineSource
{
	const char *name;			/* "stdin" or "control", for messages */
	int			fd;				/* -1 once closed / at EOF */
	size_t		len;			/* bytes buffered in buf */
	bool		overflow;		/* discarding the rest of a too-long line */
	char		buf[MAX_LINE];
} LineSource;

/* Kafka request types that can be named in the "error"/"clear" commands. */
typedef struct ApiKeyName
{
	const char *name;
	int			key;
} ApiKeyName;

static const ApiKeyName api_key_names[] = {
	{"Produce", 0},
	{"Fetch", 1},
	{"ListOffsets", 2},
	{"Metadata", 3},
	{"OffsetCommit", 8},
	{"OffsetFetch", 9},
	{"FindCoordinator", 10},
	{"JoinGroup", 11},
	{"Heartbeat", 12},
	{"LeaveGroup", 13},
	{"SyncGroup", 14},
	{"ApiVersions", 18},
	{"InitProducerId", 22},
	{"AddPartitionsToTxn", 24},
	{"AddOffsetsToTxn", 25},
	{"EndTxn", 26},
	{"TxnOffsetCommit", 28},
	{NULL, 0}
};

static volatile sig_atomic_t got_signal = 0;

static bool verbose = false;
static int	num_brokers = 1;
static rd_kafka_mock_cluster_t *mcluster = NULL;
static const char *control_path = NULL;
static bool control_created = false;
static bool quit_requested = false;
static rd_kafka_t *producer = NULL;	/* for "produce", made on first use */


static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " PROGNAME " [OPTION]...\n"
			"\n"
			"Run a librdkafka mock Kafka cluster on 127.0.0.1 and print its\n"
			"bootstrap address as the first line of stdout.\n"
			"\n"
			"Options:\n"
			"  --brokers N                 number of brokers, ids 1..N (default 1)\n"
			"  --topic NAME:PARTITIONS[:RF] create a topic (repeatable); the\n"
			"                              replication factor defaults to min(N,3)\n"
			"  --bootstrap-file PATH       write the bootstrap address to PATH\n"
			"                              (atomically, once the cluster is ready)\n"
			"  --control PATH              create a FIFO at PATH and read commands\n"
			"                              from it; removed at exit\n"
			"  --verbose                   show librdkafka's log messages\n"
			"  --debug CONTEXTS            set librdkafka's debug property\n"
			"                              (e.g. \"mock,protocol\"); implies --verbose\n"
			"  --help                      show this help and exit\n"
			"\n"
			"Commands (stdin and control FIFO, one per line, each answered with\n"
			"\"ok\" or \"error <text>\" on stdout):\n"
			"  topic NAME PARTITIONS [RF]     create a topic\n"
			"  down BROKER_ID|all             disconnect a broker, refuse connections\n"
			"  up BROKER_ID|all               accept connections again\n"
			"  rtt BROKER_ID|all MS           delay the broker's responses\n"
			"  error APIKEY ERRCODE COUNT     fail the next COUNT requests of type\n"
			"                                 APIKEY (e.g. 0 Produce, 1 Fetch) with\n"
			"                                 ERRCODE (RD_KAFKA_RESP_ERR_* number or name)\n"
			"  clear APIKEY                   drop pending injected errors\n"
			"  leader TOPIC PARTITION BROKER_ID|-1   move a partition leader\n"
			"  bootstrap                      print the bootstrap address again\n"
			"  quit                           shut down\n"
			"\n"
			"The program runs until SIGTERM, SIGINT, SIGHUP or \"quit\", also after\n"
			"stdin reaches end of file.\n");
}

/*
 * Report a problem on stderr.
 */
static void
pp_log(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, PROGNAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/*
 * Report a fatal error and exit.  Only removes the FIFO: the mock cluster
 * dies with the process.
 */
static void
fatal(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, PROGNAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);

	if (control_created)
		unlink(control_path);
	exit(1);
}

static void
handle_signal(int signo)
{
	got_signal = signo;
}

/*
 * librdkafka log callback: silent unless --verbose.  Called from librdkafka
 * threads, stdio locking keeps lines whole.
 */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (verbose)
		fprintf(stderr, PROGNAME ": librdkafka[%d] %s: %s\n", level, fac, buf);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (verbose)
		fprintf(stderr, PROGNAME ": librdkafka error %s: %s\n",
				rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
}

/*
 * Parse a whole string as a decimal integer within [min, max].
 */
static bool
parse_long(const char *s, long min, long max, long *result)
{
	char	   *end;
	long		val;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	val = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || val < min || val > max)
		return false;
	*result = val;
	return true;
}

/*
 * Parse a broker id: 1..N, or "all" (-1) if allow_all.
 */
static bool
parse_broker_id(const char *s, bool allow_all, int32_t *result)
{
	long		val;

	if (allow_all && s != NULL && strcmp(s, "all") == 0)
	{
		*result = -1;
		return true;
	}
	if (!parse_long(s, 1, num_brokers, &val))
		return false;
	*result = (int32_t) val;
	return true;
}

/*
 * Parse a Kafka API key, numeric or one of api_key_names.
 */
static bool
parse_api_key(const char *s, int16_t *result)
{
	long		val;
	const ApiKeyName *k;

	if (parse_long(s, 0, INT16_MAX, &val))
	{
		*result = (int16_t) val;
		return true;
	}
	for (k = api_key_names; s != NULL && k->name != NULL; k++)
	{
		if (strcasecmp(s, k->name) == 0)
		{
			*result = (int16_t) k->key;
			return true;
		}
	}
	return false;
}

/*
 * Parse an error code: a number librdkafka knows, or its name, with or
 * without the RD_KAFKA_RESP_ERR_ prefix (e.g. NOT_LEADER_FOR_PARTITION,
 * _TRANSPORT).
 */
static bool
parse_error_code(const char *s, rd_kafka_resp_err_t *result)
{
	const struct rd_kafka_err_desc *descs;
	size_t		cnt;
	size_t		i;
	long		val;
	bool		numeric;
	const char *name = s;

	if (s == NULL)
		return false;
	numeric = parse_long(s, RD_KAFKA_RESP_ERR__BEGIN, RD_KAFKA_RESP_ERR_END_ALL,
						 &val);
	if (!numeric && strncasecmp(name, "RD_KAFKA_RESP_ERR_", 18) == 0)
		name += 18;

	rd_kafka_get_err_descs(&descs, &cnt);
	for (i = 0; i < cnt; i++)
	{
		if (descs[i].name == NULL)
			continue;
		if (numeric ? (long) descs[i].code == val
			: strcasecmp(descs[i].name, name) == 0)
		{
			*result = descs[i].code;
			return true;
		}
	}
	return false;
}

/*
 * Kafka topic names: 1..249 characters out of [a-zA-Z0-9._-].
 */
static bool
valid_topic_name(const char *name)
{
	size_t		len = strlen(name);
	const char *p;

	if (len == 0 || len > MAX_TOPIC_NAME ||
		strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (p = name; *p; p++)
	{
		if (!isalnum((unsigned char) *p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	}
	return true;
}

/*
 * Create a topic in the mock cluster.  rf <= 0 means the default,
 * min(brokers, 3).  On failure, returns false with a message in errbuf.
 */
static bool
create_topic(const char *name, long partitions, long rf,
			 char *errbuf, size_t errbufsize)
{
	rd_kafka_resp_err_t err;

	if (!valid_topic_name(name))
	{
		snprintf(errbuf, errbufsize, "invalid topic name \"%s\"", name);
		return false;
	}
	if (partitions < 1 || partitions > MAX_PARTITIONS)
	{
		snprintf(errbuf, errbufsize, "partition count must be 1..%d",
				 MAX_PARTITIONS);
		return false;
	}
	if (rf <= 0)
		rf = num_brokers < 3 ? num_brokers : 3;
	if (rf > num_brokers)
	{
		snprintf(errbuf, errbufsize, "replication factor must be 1..%d",
				 num_brokers);
		return false;
	}

	err = rd_kafka_mock_topic_create(mcluster, name, (int) partitions, (int) rf);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		snprintf(errbuf, errbufsize, "cannot create topic \"%s\": %s",
				 name, rd_kafka_err2name(err));
		return false;
	}
	return true;
}

/*
 * Create the topic given as --topic NAME:PARTITIONS[:RF], or exit.
 */
static void
create_topic_from_spec(const char *spec)
{
	char	   *copy = strdup(spec);
	char	   *colon;
	char	   *rfstr = NULL;
	long		partitions;
	long		rf = 0;
	char		errbuf[512];

	if (copy == NULL)
		fatal("out of memory");
	colon = strchr(copy, ':');
	if (colon == NULL)
		fatal("invalid --topic \"%s\": expected NAME:PARTITIONS", spec);
	*colon = '\0';
	rfstr = strchr(colon + 1, ':');
	if (rfstr != NULL)
		*rfstr++ = '\0';
	if (!parse_long(colon + 1, 1, MAX_PARTITIONS, &partitions))
		fatal("invalid partition count in --topic \"%s\"", spec);
	if (rfstr != NULL && !parse_long(rfstr, 1, num_brokers, &rf))
		fatal("invalid replication factor in --topic \"%s\"", spec);
	if (!create_topic(copy, partitions, rf, errbuf, sizeof(errbuf)))
		fatal("%s", errbuf);
	free(copy);
}

/*
 * Write "address\n" to path atomically: temporary file, then rename().
 */
static void
write_bootstrap_file(const char *path, const char *address)
{
	char	   *tmppath;
	size_t		size = strlen(path) + 32;
	FILE	   *f;

	tmppath = malloc(size);
	if (tmppath == NULL)
		fatal("out of memory");
	snprintf(tmppath, size, "%s.tmp.%d", path, (int) getpid());

	f = fopen(tmppath, "w");
	if (f == NULL)
		fatal("cannot create \"%s\": %s", tmppath, strerror(errno));
	if (fprintf(f, "%s\n", address) < 0 || fclose(f) != 0)
	{
		unlink(tmppath);
		fatal("cannot write \"%s\": %s", tmppath, strerror(errno));
	}
	if (rename(tmppath, path) != 0)
	{
		unlink(tmppath);
		fatal("cannot rename \"%s\" to \"%s\": %s",
			  tmppath, path, strerror(errno));
	}
	free(tmppath);
}

/*
 * Create the control FIFO.  A leftover FIFO nobody reads (e.g. from a
 * killed run) is replaced; one that another process reads is not.
 */
static void
create_control_fifo(const char *path)
{
	struct stat st;
	int			fd;

	if (mkfifo(path, 0666) != 0)
	{
		if (errno != EEXIST)
			fatal("cannot create FIFO \"%s\": %s", path, strerror(errno));
		if (lstat(path, &st) != 0 || !S_ISFIFO(st.st_mode))
			fatal("\"%s\" exists and is not a FIFO", path);

		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
		{
			close(fd);
			fatal("FIFO \"%s\" is in use by another process", path);
		}
		if (errno != ENXIO)
			fatal("cannot check FIFO \"%s\": %s", path, strerror(errno));

		pp_log("replacing stale FIFO \"%s\"", path);
		if (unlink(path) != 0 || mkfifo(path, 0666) != 0)
			fatal("cannot create FIFO \"%s\": %s", path, strerror(errno));
	}
	control_created = true;

	/* mkfifo() is subject to the umask; the FIFO is meant for everybody */
	if (chmod(path, 0666) != 0)
		fatal("cannot chmod FIFO \"%s\": %s", path, strerror(errno));
}

/*
 * Open the control FIFO for reading.  O_NONBLOCK makes open() succeed
 * without a writer; read() then returns 0 once the last writer has gone.
 */
static int
open_control_fifo(const char *path)
{
	int			fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		pp_log("cannot open FIFO \"%s\": %s", path, strerror(errno));
	return fd;
}

static void
reply_ok(void)
{
	fputs("ok\n", stdout);
	fflush(stdout);
}

static void
reply_error(const char *fmt,...)
{
	va_list		ap;

	fputs("error ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Reply according to the result of a mock API call. */
static void
reply_mock_result(const char *what, rd_kafka_resp_err_t err)
{
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		reply_ok();
	else
		reply_error("%s: %s", what, rd_kafka_err2name(err));
}

/*
 * Produce one message with the given timestamp (kcat cannot set one) and
 * wait for its acknowledgement.  The producer connects to the cluster like
 * any client; it is made on first use and destroyed before the cluster.
 */
static void
produce_message(const char *topic, int32_t partition, int64_t timestamp,
				const char *value)
{
	char		errstr[512];
	rd_kafka_resp_err_t err;

	if (producer == NULL)
	{
		rd_kafka_conf_t *conf = rd_kafka_conf_new();

		if (rd_kafka_conf_set(conf, "bootstrap.servers",
							  rd_kafka_mock_cluster_bootstraps(mcluster),
							  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
			rd_kafka_conf_set(conf, "linger.ms", "0", errstr,
							  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
			(producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
									 sizeof(errstr))) == NULL)
		{
			reply_error("cannot create a producer: %s", errstr);
			return;
		}
	}
	err = rd_kafka_producev(producer,
							RD_KAFKA_V_TOPIC(topic),
							RD_KAFKA_V_PARTITION(partition),
							RD_KAFKA_V_TIMESTAMP(timestamp),
							RD_KAFKA_V_VALUE((void *) value, strlen(value)),
							RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
							RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		err = rd_kafka_flush(producer, 10000);
	reply_mock_result("produce", err);
}

#define MAX_ARGS 8

/*
 * Execute one command line and write its reply.  The line is modified.
 */
static void
execute_command(char *line, const char *source)
{
	char	   *argv[MAX_ARGS + 1];
	int			argc = 0;
	char	   *saveptr = NULL;
	char	   *tok;
	const char *cmd;
	int32_t		broker_id;
	long		num;
	long		num2;

	for (tok = strtok_r(line, " \t\r\f\v", &saveptr);
		 tok != NULL;
		 tok = strtok_r(NULL, " \t\r\f\v", &saveptr))
	{
		if (argc == MAX_ARGS)
		{
			reply_error("too many arguments");
			return;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;

	/* empty lines and comments are ignored without a reply */
	if (argc == 0 || argv[0][0] == '#')
		return;

	cmd = argv[0];
	if (verbose)
		pp_log("%s: command \"%s\" (%d arguments)", source, cmd, argc - 1);

	if (strcmp(cmd, "topic") == 0)
	{
		char		errbuf[512];

		if (argc < 3 || argc > 4)
			reply_error("usage: topic NAME PARTITIONS [REPLICATION_FACTOR]");
		else if (!parse_long(argv[2], 1, MAX_PARTITIONS, &num))
			reply_error("invalid partition count \"%s\"", argv[2]);
		else if (argc == 4 && !parse_long(argv[3], 1, num_brokers, &num2))
			reply_error("invalid replication factor \"%s\"", argv[3]);
		else if (!create_topic(argv[1], num, argc == 4 ? num2 : 0,
							   errbuf, sizeof(errbuf)))
			reply_error("%s", errbuf);
		else
			reply_ok();
	}
	else if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0)
	{
		bool		down = (cmd[0] == 'd');

		if (argc != 2)
			reply_error("usage: %s BROKER_ID|all", cmd);
		else if (!parse_broker_id(argv[1], true, &broker_id))
			reply_error("invalid broker id \"%s\" (brokers are 1..%d)",
						argv[1], num_brokers);
		else if (down)
			reply_mock_result("down",
							  rd_kafka_mock_broker_set_down(mcluster, broker_id));
		else
			reply_mock_result("up",
							  rd_kafka_mock_broker_set_up(mcluster, broker_id));
	}
	else if (strcmp(cmd, "rtt") == 0)
	{
		if (argc != 3)
			reply_error("usage: rtt BROKER_ID|all MILLISECONDS");
		else if (!parse_broker_id(argv[1], true, &broker_id))
			reply_error("invalid broker id \"%s\" (brokers are 1..%d)",
						argv[1], num_brokers);
		else if (!parse_long(argv[2], 0, INT_MAX, &num))
			reply_error("invalid delay \"%s\"", argv[2]);
		else
			reply_mock_result("rtt",
							  rd_kafka_mock_broker_set_rtt(mcluster, broker_id,
														   (int) num));
	}
	else if (strcmp(cmd, "error") == 0)
	{
		int16_t		api_key;
		rd_kafka_resp_err_t err;
		rd_kafka_resp_err_t *errors;
		long		i;

		if (argc != 4)
			reply_error("usage: error APIKEY ERRCODE COUNT");
		else if (!parse_api_key(argv[1], &api_key))
			reply_error("invalid API key \"%s\"", argv[1]);
		else if (!parse_error_code(argv[2], &err))
			reply_error("unknown error code \"%s\"", argv[2]);
		else if (!parse_long(argv[3], 1, MAX_ERROR_COUNT, &num))
			reply_error("invalid count \"%s\" (1..%d)", argv[3],
						MAX_ERROR_COUNT);
		else if ((errors = malloc(sizeof(*errors) * (size_t) num)) == NULL)
			reply_error("out of memory");
		else
		{
			for (i = 0; i < num; i++)
				errors[i] = err;
			rd_kafka_mock_push_request_errors_array(mcluster, api_key,
													(size_t) num, errors);
			free(errors);
			reply_ok();
		}
	}
	else if (strcmp(cmd, "clear") == 0)
	{
		int16_t		api_key;

		if (argc != 2)
			reply_error("usage: clear APIKEY");
		else if (!parse_api_key(argv[1], &api_key))
			reply_error("invalid API key \"%s\"", argv[1]);
		else
		{
			rd_kafka_mock_clear_request_errors(mcluster, api_key);
			reply_ok();
		}
	}
	else if (strcmp(cmd, "leader") == 0)
	{
		if (argc != 4)
			reply_error("usage: leader TOPIC PARTITION BROKER_ID|-1");
		else if (!valid_topic_name(argv[1]))
			reply_error("invalid topic name \"%s\"", argv[1]);
		else if (!parse_long(argv[2], 0, MAX_PARTITIONS - 1, &num))
			reply_error("invalid partition \"%s\"", argv[2]);
		else if (strcmp(argv[3], "-1") != 0 &&
				 !parse_broker_id(argv[3], false, &broker_id))
			reply_error("invalid broker id \"%s\" (brokers are 1..%d, or -1)",
						argv[3], num_brokers);
		else
		{
			if (strcmp(argv[3], "-1") == 0)
				broker_id = -1;
			/* note: this creates the topic if it does not exist */
			reply_mock_result("leader",
							  rd_kafka_mock_partition_set_leader(mcluster,
																 argv[1],
																 (int32_t) num,
																 broker_id));
		}
	}
	else if (strcmp(cmd, "produce") == 0)
	{
		char	   *end;
		long long	ts;

		errno = 0;
		ts = (argc == 5) ? strtoll(argv[3], &end, 10) : 0;
		if (argc != 5)
			reply_error("usage: produce TOPIC PARTITION TIMESTAMP_MS VALUE");
		else if (!valid_topic_name(argv[1]))
			reply_error("invalid topic name \"%s\"", argv[1]);
		else if (!parse_long(argv[2], 0, MAX_PARTITIONS - 1, &num))
			reply_error("invalid partition \"%s\"", argv[2]);
		else if (errno != 0 || *end != '\0' || end == argv[3])
			reply_error("invalid timestamp \"%s\"", argv[3]);
		else
			produce_message(argv[1], (int32_t) num, (int64_t) ts, argv[4]);
	}
	else if (strcmp(cmd, "bootstrap") == 0)
	{
		if (argc != 1)
			reply_error("usage: bootstrap");
		else
		{
			printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
			reply_ok();
		}
	}
	else if (strcmp(cmd, "quit") == 0)
	{
		if (argc != 1)
			reply_error("usage: quit");
		else
		{
			quit_requested = true;
			reply_ok();
		}
	}
	else
		reply_error("unknown command \"%s\"", cmd);
}

/*
 * Read what is available from src and execute the complete lines in it.
 * Returns false at end of file or on a read error; any unterminated last
 * line has then been executed as well.
 */
static bool
read_commands(LineSource *src)
{
	ssize_t		n;
	char	   *start;
	char	   *nl;
	size_t		rest;

	n = read(src->fd, src->buf + src->len, sizeof(src->buf) - 1 - src->len);
	if (n < 0)
	{
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		pp_log("error reading %s: %s", src->name, strerror(errno));
		n = 0;					/* treat like end of file */
	}

	if (n == 0)
	{
		/* end of file: execute an unterminated last line */
		if (src->len > 0 && !src->overflow)
		{
			src->buf[src->len] = '\0';
			execute_command(src->buf, src->name);
		}
		src->len = 0;
		src->overflow = false;
		return false;
	}

	src->len += (size_t) n;
	start = src->buf;
	rest = src->len;
	while ((nl = memchr(start, '\n', rest)) != NULL)
	{
		*nl = '\0';
		if (src->overflow)
			src->overflow = false;	/* end of the discarded line */
		else
			execute_command(start, src->name);
		rest -= (size_t) (nl + 1 - start);
		start = nl + 1;
	}

	if (rest == sizeof(src->buf) - 1)
	{
		/* buffer full without a newline: reject the line, skip the rest */
		if (!src->overflow)
			reply_error("line too long (max %d bytes)", MAX_LINE - 1);
		src->overflow = true;
		rest = 0;
	}
	else if (src->overflow)
		rest = 0;				/* still inside a discarded line */

	memmove(src->buf, start, rest);
	src->len = rest;
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"bootstrap-file", required_argument, NULL, 'f'},
		{"control", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"debug", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char **topic_specs;
	int			ntopics = 0;
	const char *bootstrap_file = NULL;
	const char *debug = NULL;
	int			c;
	long		val;
	int			i;
	sigset_t	blocked;
	sigset_t	wait_mask;
	struct sigaction sa;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char		errstr[512];
	const char *bootstraps;
	LineSource *in;
	LineSource *ctl;

	topic_specs = calloc((size_t) argc + 1, sizeof(*topic_specs));
	in = calloc(1, sizeof(LineSource));
	ctl = calloc(1, sizeof(LineSource));
	if (topic_specs == NULL || in == NULL || ctl == NULL)
		fatal("out of memory");

	while ((c = getopt_long(argc, argv, "b:t:f:c:vd:h", long_options,
							NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				if (!parse_long(optarg, 1, MAX_BROKERS, &val))
					fatal("invalid --brokers \"%s\" (1..%d)", optarg,
						  MAX_BROKERS);
				num_brokers = (int) val;
				break;
			case 't':
				topic_specs[ntopics++] = optarg;
				break;
			case 'f':
				bootstrap_file = optarg;
				break;
			case 'c':
				control_path = optarg;
				break;
			case 'v':
				verbose = true;
				break;
			case 'd':
				debug = optarg;
				verbose = true;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"" PROGNAME " --help\".\n");
				exit(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, PROGNAME ": unexpected argument \"%s\"\n"
				"Try \"" PROGNAME " --help\".\n", argv[optind]);
		exit(2);
	}

	/*
	 * Block the termination signals before librdkafka starts any thread, so
	 * that they are only ever delivered to the main thread inside ppoll().
	 */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &blocked, &wait_mask) != 0)
		fatal("sigprocmask failed: %s", strerror(errno));
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the dummy client handle that owns the mock cluster */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (rd_kafka_conf_set(conf, "client.id", PROGNAME,
						  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		(debug != NULL &&
		 rd_kafka_conf_set(conf, "debug", debug,
						   errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK))
		fatal("%s", errstr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		fatal("cannot create librdkafka handle: %s", errstr);

	mcluster = rd_kafka_mock_cluster_new(rk, num_brokers);
	if (mcluster == NULL)
		fatal("cannot create mock cluster (run with --verbose for details)");
	bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);

	for (i = 0; i < ntopics; i++)
		create_topic_from_spec(topic_specs[i]);

	in->name = "stdin";
	in->fd = STDIN_FILENO;
	ctl->name = "control";
	ctl->fd = -1;
	if (control_path != NULL)
	{
		create_control_fifo(control_path);
		ctl->fd = open_control_fifo(control_path);
		if (ctl->fd < 0)
			fatal("cannot read control FIFO");
	}

	/* the cluster is ready: tell the world */
	if (bootstrap_file != NULL)
		write_bootstrap_file(bootstrap_file, bootstraps);
	printf("%s\n", bootstraps);
	fflush(stdout);
	if (verbose)
		pp_log("%d broker(s) at %s", num_brokers, bootstraps);

	while (!got_signal && !quit_requested)
	{
		struct pollfd pfds[2];
		LineSource *srcs[2];
		int			nfds = 0;
		struct timespec timeout = {1, 0};
		int			rc;

		if (in->fd >= 0)
		{
			pfds[nfds].fd = in->fd;
			pfds[nfds].events = POLLIN;
			srcs[nfds++] = in;
		}
		if (ctl->fd >= 0)
		{
			pfds[nfds].fd = ctl->fd;
			pfds[nfds].events = POLLIN;
			srcs[nfds++] = ctl;
		}

		/* signals are unblocked only while waiting here */
		rc = ppoll(pfds, (nfds_t) nfds, &timeout, &wait_mask);
		if (rc < 0)
		{
			if (errno == EINTR)
				continue;
			fatal("ppoll failed: %s", strerror(errno));
		}

		/* serve the dummy handle's events (errors, logs), if any */
		rd_kafka_poll(rk, 0);

		for (i = 0; i < nfds && !quit_requested; i++)
		{
			LineSource *src = srcs[i];

			if (pfds[i].revents == 0)
				continue;
			if (pfds[i].revents & POLLNVAL)
			{
				/* e.g. started with stdin closed */
				src->fd = -1;
				continue;
			}
			if (read_commands(src))
				continue;

			if (src == in)
			{
				/* stdin at EOF: keep running; leave fd 0 allocated */
				in->fd = -1;
			}
			else
			{
				/* the last writer has gone: reopen for the next ones */
				close(ctl->fd);
				ctl->fd = open_control_fifo(control_path);
			}
		}
	}

	if (verbose)
	{
		if (got_signal)
			pp_log("received signal %d, shutting down", (int) got_signal);
		else
			pp_log("quit command received, shutting down");
	}

	if (ctl->fd >= 0)
		close(ctl->fd);
	if (control_created)
		unlink(control_path);

	/* the cluster must go before the handle that owns it */
	if (producer)
		rd_kafka_destroy(producer);
	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(rk);

	free(topic_specs);
	free(in);
	free(ctl);
	return 0;
}
