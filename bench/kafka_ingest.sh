#!/usr/bin/env bash
# bench/kafka_ingest.sh: Kafka ingestion benchmark of pg_pipeline (issue 3).
#
#   bash bench/kafka_ingest.sh [N]        N events, default 1000000 (as root)
#
# Installs what it needs, builds and installs the extension (skip with
# PP_BENCH_BUILD=0), starts its own throwaway PostgreSQL (as the postgres
# user, port 55499, socket and files in /tmp/pg_pipeline-bench) and the test
# Kafka broker, generates N seed-style user events as JSON lines and as CSV,
# produces the JSON into a 4-partition topic with kcat -z zstd (checking the
# watermarks: every event must be kept), then measures in the same run, each
# into a fresh table:
#
#   a   server-side COPY of the CSV into a typed table
#   b   server-side COPY of the JSON lines into a jsonb column
#   c1  kcat consuming the topic to /dev/null, kcat defaults
#   c2  the same with a raised fetch queue
#   d1  kcat -C ... -e | psql -c "\copy ... from pstdin" into jsonb, defaults
#   d2  the same with a raised fetch queue (the best a user tunes by hand)
#   e   pg_pipeline source, format json -> typed columns
#   f   pg_pipeline source, format jsonb -> one jsonb column
#   g   latency: a steady 20,000 messages/s for 10 s into a json source;
#       p50/p99/max of (row inserted - sent) and of (committed - sent)
#   h   peak memory of the consumer of (e)
#
# Every step is bounded by a timeout; the server, the broker and every
# helper process are stopped at exit.  The results are printed as a table
# and as "RESULT key=value ..." lines, and kept in $WORK/results.txt.
#
# Environment: PP_BENCH_WORK (/tmp/pg_pipeline-bench), PP_BENCH_PORT (55499),
# PP_BENCH_BUILD (1), PP_BENCH_TIMEOUT (seconds per step, 600),
# PP_BENCH_LAT_RATE (20000), PP_BENCH_LAT_SECONDS (10),
# PP_BENCH_PERF (0; 1 = perf record the consumer during (e) and (f)),
# PP_BENCH_KEEP (0; 1 = keep the data directory and event files).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

N=${1:-1000000}
WORK=${PP_BENCH_WORK:-/tmp/pg_pipeline-bench}
PORT=${PP_BENCH_PORT:-55499}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-600}
LAT_RATE=${PP_BENCH_LAT_RATE:-20000}
LAT_SECONDS=${PP_BENCH_LAT_SECONDS:-10}
PERF=${PP_BENCH_PERF:-0}
KEEP=${PP_BENCH_KEEP:-0}
PARTITIONS=4
TOPIC=events
LAT_TOPIC=latency
DB=bench
# the hand-tuned kcat consumer (c2, d2)
KCAT_TUNED=(-X queued.min.messages=1000000 -X queued.max.messages.kbytes=1048576
	-X fetch.wait.max.ms=10)
SOURCE_PROPS='{"fetch.wait.max.ms": "10"}'
# the CSV trick for JSON lines: quote and delimiter are bytes JSON never has
COPY_JSONL_OPTS="(format csv, quote e'\\x01', delimiter e'\\x02')"
TYPED_COLUMNS='user_id bigint, action text, page text, event_time timestamptz, amount numeric(10,2)'
TABLE_OPTS='WITH (autovacuum_enabled = false)'

case "$N" in
	'' | *[!0-9]*) echo "usage: $0 [N]   (N events, default 1000000)" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "run this as root (it starts PostgreSQL as the postgres user)" >&2
	exit 2
fi

BROKER="$PP_ROOT/test/broker/pp-broker"
PGDATA_DIR="$WORK/data"
FILES="$WORK/files"
RESULTS="$WORK/results.txt"
BG_PIDS=()
started_server=0
started_broker=0

log() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---- clean up whatever this script started, however it ends ----
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$started_server" = 1 ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		timeout 60 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop \
			>/dev/null 2>&1 ||
			timeout 30 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop \
				>/dev/null 2>&1 || true
	fi
	if [ "$started_broker" = 1 ]; then
		timeout 30 "$BROKER" stop "$WORK/broker" >/dev/null 2>&1 || true
	fi
	if [ "$KEEP" != 1 ]; then
		rm -rf "$PGDATA_DIR" "$FILES"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run a command in the background, remembered for the cleanup
bg() {
	"$@" &
	BG_PIDS+=("$!")
}

now() { echo "$EPOCHREALTIME"; }
# a - b, rounded
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# psql as the postgres role over the bench socket (runs as root: trust auth)
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "$DB")
sql() { timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c "$1"; }
sql_quick() { timeout 30 "${PSQL[@]}" -c "$1"; }

# run one statement with \timing; prints the server round trip in seconds
timed_sql() {
	local out ms
	out=$(timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c '\timing on' -c "$1") ||
		die "statement failed: $1"
	ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
	[ -n "$ms" ] || die "no timing for: $1"
	awk -v ms="$ms" 'BEGIN { printf "%.6f", ms / 1000 }'
}

fresh_table() {
	sql "DROP TABLE IF EXISTS $1; CREATE TABLE $1 ($2) $TABLE_OPTS;" >/dev/null
	sql "CHECKPOINT" >/dev/null
}

check_count() {
	local got
	got=$(sql "SELECT count(*) FROM $1")
	[ "$got" = "$2" ] || die "$1 has $got rows, expected $2"
}

declare -A SECONDS_OF RATE_OF NOTE_OF
record() {
	# record PATH SECONDS [NOTE]
	SECONDS_OF[$1]=$2
	RATE_OF[$1]=$(rate "$N" "$2")
	NOTE_OF[$1]=${3:-}
	log "$1: $N rows in $(printf '%.3f' "$2") s = ${RATE_OF[$1]} rows/s ${3:-}"
}

# ---------------------------------------------------------------- setup
pp_install_deps
extra=()
command -v python3 >/dev/null || extra+=(python3)
command -v zstd >/dev/null || extra+=(zstd)
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
	extra+=(linux-perf)
fi
if [ ${#extra[@]} -gt 0 ]; then
	log "installing ${extra[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${extra[@]}" >/dev/null
fi
if [ "${PP_BENCH_BUILD:-1}" = 1 ]; then
	pp_build_install
else
	make -C "$PP_ROOT/test/broker" -s
fi

# a previous run that was killed hard may have left its server or broker
if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
	runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
fi
"$BROKER" stop "$WORK/broker" >/dev/null 2>&1 || true
rm -rf "$WORK"
mkdir -p "$WORK" "$FILES"
chmod 755 "$WORK" "$FILES"
chown postgres: "$WORK"

{
	echo "# pg_pipeline Kafka ingestion benchmark, $(date -u +%FT%TZ)"
	echo "# host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "# $("$PP_BINDIR/postgres" --version), librdkafka $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null), kcat $(dpkg-query -W -f='${Version}' kcat 2>/dev/null)"
	echo "# pg_pipeline: $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"($(git -C "$PP_ROOT" status --porcelain 2>/dev/null | wc -l) changed files in the tree)"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

log "starting the test Kafka broker"
started_broker=1
BOOTSTRAP=$(timeout 30 "$BROKER" start "$WORK/broker" --brokers 1 \
	--topic "$TOPIC:$PARTITIONS" --topic "$LAT_TOPIC:$PARTITIONS") || die "broker did not start"
log "broker at $BOOTSTRAP"

log "starting PostgreSQL (port $PORT, socket $WORK)"
timeout 120 runuser -u postgres -- "$PP_BINDIR/initdb" -D "$PGDATA_DIR" -A trust -U postgres \
	--no-sync >/dev/null || die initdb
# the same settings for every path: sized for bulk loading, durable commits
cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pg_pipeline'
max_worker_processes = 32
shared_buffers = 1GB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 30min
wal_buffers = 64MB
maintenance_work_mem = 256MB
# commit timestamps: how the latency test sees when a row became visible
track_commit_timestamp = on
pg_pipeline.restart_delay = 200ms
log_min_messages = warning
CONF
started_server=1
timeout 120 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/server.log" -w start \
	>/dev/null || { tail -20 "$WORK/server.log" >&2; die "server did not start"; }
timeout 60 "$PP_BINDIR/createdb" -h "$WORK" -p "$PORT" -U postgres "$DB"
sql "CREATE EXTENSION pg_pipeline;
     CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$BOOTSTRAP');" >/dev/null
{
	echo "# server: shared_buffers 1GB, max_wal_size 8GB, checkpoint_timeout 30min, wal_buffers 64MB,"
	echo "#   synchronous_commit on, fsync on, wal_level replica, track_commit_timestamp on;"
	echo "#   logged tables, autovacuum off on the bench tables, CHECKPOINT before each path"
} >>"$RESULTS"

# ---------------------------------------------------------------- events
log "generating $N events (JSON lines and CSV)"
timeout "$STEP_TIMEOUT" python3 - "$N" "$FILES/events.json" "$FILES/events.csv" <<'PY' || die "event generation"
import random, sys, datetime
n, json_path, csv_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(42)
actions = ["view"] * 6 + ["click"] * 2 + ["add_to_cart", "purchase", "search", "login"]
pages = ["/", "/home", "/search", "/cart", "/checkout", "/account"] + \
        ["/products/%d" % i for i in range(1, 2001)]
t0 = datetime.datetime(2026, 11, 25, 12, 0, 0)
with open(json_path, "w") as js, open(csv_path, "w") as cs:
    for i in range(n):
        uid = rnd.randint(1, 100000)
        act = rnd.choice(actions)
        page = rnd.choice(pages)
        ts = (t0 + datetime.timedelta(milliseconds=i * 3 + rnd.randint(0, 2))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        amt = "%.2f" % (rnd.randint(100, 50000) / 100.0 if act == "purchase" or act == "add_to_cart" else 0)
        js.write('{"user_id":%d,"action":"%s","page":"%s","event_time":"%s","amount":%s}\n'
                 % (uid, act, page, ts, amt))
        cs.write("%d,%s,%s,%s,%s\n" % (uid, act, page, ts, amt))
PY
chmod 644 "$FILES/events.json" "$FILES/events.csv"
JSON_BYTES=$(stat -c %s "$FILES/events.json")
AVG_BYTES=$(awk -v b="$JSON_BYTES" -v n="$N" 'BEGIN { printf "%.1f", (b - n) / n }')
log "events.json: $JSON_BYTES bytes, $AVG_BYTES bytes per event (without the newline)"

log "zstd ratio of the events (for the record)"
ZSTD_WHOLE=$(zstd -3 -q -c "$FILES/events.json" | wc -c)
# per 50,000 events (the default batch_rows: what a per-batch archive compresses)
ZSTD_BATCHES=$(split -l 50000 --filter='zstd -3 -q -c | wc -c' "$FILES/events.json" | awk '{ s += $1 } END { print s }')
ZSTD_RATIO_WHOLE=$(ratio "$JSON_BYTES" "$ZSTD_WHOLE")
ZSTD_RATIO_BATCH=$(ratio "$JSON_BYTES" "$ZSTD_BATCHES")

