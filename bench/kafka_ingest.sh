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
# watermarks: every event must be kept), then measures, each path into a
# fresh table:
#
#   a   server-side COPY of the CSV into a typed table
#   b   server-side COPY of the JSON lines into a jsonb column
#   c1  kcat consuming the topic to /dev/null, kcat defaults
#   c2  the same with a raised fetch queue
#   d1  kcat -C ... -e | psql -c "\copy ... from pstdin" into jsonb, defaults
#   d2  the same with a raised fetch queue (the best a user tunes by hand)
#   e   pg_pipeline source, format json -> typed columns
#   f   pg_pipeline source, format jsonb -> one jsonb column
#   e0  like e with 0.8's fetch queue (queued.min.messages 1000000 and
#       librdkafka's defaults for the rest, set as properties: a property
#       set on the source turns pg_pipeline's fetch queue sizing off), the
#       baseline of the 0.9.0 fetch queue sizing; not run unless named in
#       PP_BENCH_PATHS
#   f0  the same for f
#   ea  like e with the raw archive on (archive => true), when the installed
#       extension has it: what archiving costs, and the archive's own zstd
#       compression ratio on these events (pipeline.source_archive_stats)
#
# a..ea run PP_BENCH_ROUNDS times (default 3), interleaved, and the median of
# each path counts: this machine is shared and single runs vary.  Then:
#
#   g   latency: a steady 20,000 messages/s for 10 s into a json source,
#       once per batch_ms in PP_BENCH_LAT_BATCH_MS (default "100 10"; 100 is
#       the default of a source); p50/p99/max of (row inserted - sent) and
#       of (committed - sent), from a sent_us field in every message
#   h   peak memory of the consumer of each pg_pipeline path, every round
#
# Every step is bounded by a timeout; the server, the broker and every
# helper process are stopped at exit.  The results are printed as a table
# and as "RESULT key=value ..." lines, and kept in $WORK/results.txt.
#
# Environment: PP_BENCH_WORK (/tmp/pg_pipeline-bench), PP_BENCH_PORT (55499),
# PP_BENCH_BUILD (1; 0 = use the installed extension), PP_BENCH_ROUNDS (3),
# PP_BENCH_TIMEOUT (seconds per step, 600), PP_BENCH_LAT_RATE (20000),
# PP_BENCH_LAT_SECONDS (10), PP_BENCH_LAT_BATCH_MS ("100 10"),
# PP_BENCH_PERF (0; 1 = perf record the consumer of (e) and (f) in the
# first round, with DWARF call graphs: it slows them, so their numbers are
# marked), PP_BENCH_KEEP (0; 1 = keep the data directory and event files),
# PP_BENCH_PARTITIONS (4; the test broker keeps about 296,000 of these
# events per partition, so N above about 1,150,000 needs more partitions),
# PP_BENCH_PATHS (the paths to run, in this order in every round; default
# "a b c1 c2 d1 d2 e f", and ea when the extension has the archive; for
# example "e0 e f0 f" for the consumer alone), PP_BENCH_SOURCE_PROPS (the
# properties of the sources of e, f and ea; default {"fetch.wait.max.ms":
# "10"}), PP_BENCH_LAT_BATCH_MS set
# to "" skips the latency runs (g).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-1000000}
WORK=${PP_BENCH_WORK:-/tmp/pg_pipeline-bench}
PORT=${PP_BENCH_PORT:-55499}
ROUNDS=${PP_BENCH_ROUNDS:-3}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-600}
LAT_RATE=${PP_BENCH_LAT_RATE:-20000}
LAT_SECONDS=${PP_BENCH_LAT_SECONDS:-10}
LAT_BATCH_MS=${PP_BENCH_LAT_BATCH_MS-100 10}
PERF=${PP_BENCH_PERF:-0}
KEEP=${PP_BENCH_KEEP:-0}
PARTITIONS=${PP_BENCH_PARTITIONS:-4}
TOPIC=events
DB=bench
# the hand-tuned kcat consumer (c2, d2)
KCAT_TUNED=(-X queued.min.messages=1000000 -X queued.max.messages.kbytes=1048576
	-X fetch.wait.max.ms=10)
SOURCE_PROPS=${PP_BENCH_SOURCE_PROPS:-'{"fetch.wait.max.ms": "10"}'}
# e0, f0: the fetch queue of 0.8 (the consumer raised queued.min.messages to
# 1000000 and left the rest to librdkafka)
SOURCE_PROPS_08='{"fetch.wait.max.ms": "10", "queued.min.messages": "1000000"}'
# the CSV trick for JSON lines: quote and delimiter are bytes JSON never has
COPY_JSONL_OPTS="(format csv, quote e'\\x01', delimiter e'\\x02')"
TYPED_COLUMNS='user_id bigint, action text, page text, event_time timestamptz, amount numeric(10,2)'
TABLE_OPTS='WITH (autovacuum_enabled = false)'
# shellcheck disable=SC2206  # a list of words
PATHS=(${PP_BENCH_PATHS:-a b c1 c2 d1 d2 e f})

for v in "$N" "$ROUNDS" "$PARTITIONS" "$LAT_RATE" "$LAT_SECONDS"; do
	case "$v" in
		'' | *[!0-9]* | 0) echo "usage: $0 [N]   (N events, default 1000000; see the PP_BENCH_* settings)" >&2; exit 2 ;;
	esac
done
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
	bench_stop_server
	if [ "$started_broker" = 1 ]; then
		timeout 30 "$BROKER" stop "$WORK/broker" >/dev/null 2>&1 || true
	fi
	if [ "$KEEP" != 1 ]; then
		rm -rf "$PGDATA_DIR" "$FILES" "$WORK"/perf-*.data
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run a command in the background, remembered for the cleanup; sets BG_PID
bg() {
	"$@" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

bench_psql
sql_quick() { timeout 30 "${PSQL[@]}" -c "$1"; }

# run one statement with \timing; prints the server round trip in seconds
# timed_sql STATEMENT: prints its seconds (psql's \timing) and leaves the
# CPU seconds its backend spent on it (on-CPU time from
# /proc/<backend>/schedstat, read before and after by the backend itself)
# in $WORK/last-cpu
timed_sql() {
	local out ms cpu_sql="SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)"
	out=$(timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c "$cpu_sql" -c '\timing on' -c "$1" -c '\timing off' \
		-c "$cpu_sql") || die "statement failed: $1"
	ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | head -1)
	[ -n "$ms" ] || die "no timing for: $1"
	printf '%s\n' "$out" | grep -E '^[0-9]+$' | awk 'NR == 1 { a = $1 } { b = $1 }
		END { printf "%.3f\n", (b - a) / 1e9 }' >"$WORK/last-cpu"
	awk -v ms="$ms" 'BEGIN { printf "%.6f", ms / 1000 }'
}

fresh_table() {
	sql "DROP TABLE IF EXISTS $1; CREATE TABLE $1 ($2) $TABLE_OPTS;" >/dev/null
	sql "CHECKPOINT" >/dev/null
	# no writeback of earlier files (the events, the last path) during the next path
	timeout 120 sync || true
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

SO="$("$(pp_pg_config)" --pkglibdir)/pg_pipeline.so"
{
	echo "# pg_pipeline Kafka ingestion benchmark, $(date -u +%FT%TZ): bash bench/kafka_ingest.sh $N, $ROUNDS rounds"
	echo "# host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "# $("$PP_BINDIR/postgres" --version), librdkafka $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null)," \
		"kcat $(dpkg-query -W -f='${Version}' kcat 2>/dev/null)"
	echo "# pg_pipeline: tree at $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"($(git -C "$PP_ROOT" status --porcelain 2>/dev/null | wc -l) changed files);" \
		"$SO of $(date -u -r "$SO" +%FT%TZ), md5 $(md5sum "$SO" | cut -c1-12)"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

log "starting the test Kafka broker"
started_broker=1
BOOTSTRAP=$(timeout 30 "$BROKER" start "$WORK/broker" --brokers 1 --topic "$TOPIC:$PARTITIONS") ||
	die "broker did not start"
log "broker at $BOOTSTRAP"

# the same settings for every path (bench/lib.sh), and these
bench_start_server <<CONF
# commit timestamps: when a batch became visible (latency, end of e and f)
track_commit_timestamp = on
pg_pipeline.restart_delay = 200ms
CONF
sql "CREATE EXTENSION pg_pipeline;
     CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$BOOTSTRAP');" >/dev/null
{
	echo "# server: shared_buffers 1GB, max_wal_size 8GB, checkpoint_timeout 30min, wal_buffers 64MB,"
	echo "#   synchronous_commit on, fsync on, wal_level replica, track_commit_timestamp on;"
	echo "#   logged tables, autovacuum off on the bench tables, CHECKPOINT and sync before each path"
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
        amt = "%.2f" % (rnd.randint(100, 50000) / 100.0 if act in ("purchase", "add_to_cart") else 0)
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

# ---------------------------------------------------------------- the topic
# prints "low last" of a partition (nothing when it is empty)
partition_range() {
	local low last
	low=$(timeout 30 kcat -C -b "$BOOTSTRAP" -t "$1" -p "$2" -o beginning -c 1 -e -q -f '%o\n') || true
	last=$(timeout 30 kcat -C -b "$BOOTSTRAP" -t "$1" -p "$2" -o -1 -c 1 -e -q -f '%o\n') || true
	echo "${low:-} ${last:-}"
}

# Event i goes to partition i % PARTITIONS: every partition gets the same
# share.  (kcat's default partitioner for messages without a key sticks to
# one partition for a while, and the busiest partition can outgrow what the
# test broker keeps: about 296,000 of these events per partition, zstd.)
log "producing $N events into topic $TOPIC ($PARTITIONS partitions, round robin) with kcat -z zstd"
awk -v dir="$FILES" -v parts="$PARTITIONS" '{ print > (dir "/part." ((NR - 1) % parts)) }' "$FILES/events.json"
t0=$(now)
for ((p = 0; p < PARTITIONS; p++)); do
	[ -f "$FILES/part.$p" ] || continue
	timeout "$STEP_TIMEOUT" kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -p "$p" -z zstd <"$FILES/part.$p" ||
		die "kcat produce"
done
PRODUCE_S=$(fsub "$(now)" "$t0")
rm -f "$FILES"/part.*
KEPT=0
WATERMARKS=""
for ((p = 0; p < PARTITIONS; p++)); do
	read -r low last <<<"$(partition_range "$TOPIC" "$p")"
	if [ -n "$low" ]; then
		[ "$low" = 0 ] || die "partition $p starts at offset $low: the broker dropped events (it keeps ~5 MiB per partition)"
		KEPT=$((KEPT + last + 1))
		WATERMARKS+=" p$p=0..$((last + 1))"
	else
		WATERMARKS+=" p$p=empty"
	fi
done
[ "$KEPT" = "$N" ] || die "the topic keeps $KEPT of $N events"
log "all $N events kept:$WATERMARKS (produced in $(printf '%.2f' "$PRODUCE_S") s)"
echo "# topic $TOPIC: $N events of $AVG_BYTES bytes on average, zstd by kcat, watermarks$WATERMARKS" >>"$RESULTS"

# ---------------------------------------------------------------- the paths
path_a() {
	fresh_table a_copy_csv "$TYPED_COLUMNS"
	s=$(timed_sql "COPY a_copy_csv FROM '$FILES/events.csv' (FORMAT csv)")
	CPU[a]+=" $(cat "$WORK/last-cpu")"
	check_count a_copy_csv "$N"
	record a "$s"
	sql "DROP TABLE a_copy_csv" >/dev/null
}

path_b() {
	fresh_table b_copy_jsonb "payload jsonb"
	s=$(timed_sql "COPY b_copy_jsonb FROM '$FILES/events.json' $COPY_JSONL_OPTS")
	CPU[b]+=" $(cat "$WORK/last-cpu")"
	check_count b_copy_jsonb "$N"
	record b "$s"
	sql "DROP TABLE b_copy_jsonb" >/dev/null
}

kcat_devnull() {
	local path=$1 t0
	shift
	t0=$(now)
	timeout "$STEP_TIMEOUT" kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q "$@" >/dev/null ||
		die "kcat consume"
	record "$path" "$(fsub "$(now)" "$t0")"
}
path_c1() { kcat_devnull c1; }
path_c2() { kcat_devnull c2 "${KCAT_TUNED[@]}"; }

kcat_psql() {
	local path=$1 table=${1}_kcat_psql t0 s
	shift
	fresh_table "$table" "payload jsonb"
	t0=$(now)
	# shellcheck disable=SC2016
	timeout "$STEP_TIMEOUT" bash -c '
		set -o pipefail
		kcat -C -b "$1" -t "$2" -o beginning -e -q "${@:8}" |
			psql -X -q -v ON_ERROR_STOP=1 -h "$3" -p "$4" -U postgres -d "$5" \
				-c "\\copy $6 from pstdin $7"
	' _ "$BOOTSTRAP" "$TOPIC" "$WORK" "$PORT" "$DB" "$table" "$COPY_JSONL_OPTS" "$@" ||
		die "kcat | psql into $table"
	s=$(fsub "$(now)" "$t0")
	check_count "$table" "$N"
	record "$path" "$s"
	sql "DROP TABLE $table" >/dev/null
}
path_d1() { kcat_psql d1; }
path_d2() { kcat_psql d2 "${KCAT_TUNED[@]}"; }

# poll a source: prints "next_offsets|last_commit_epoch|consumer_pid|state: error"
source_progress() {
	sql_quick "SELECT coalesce((SELECT sum(next_offset) FROM pipeline.source_offsets WHERE source = '$1'), 0),
	       coalesce((SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin)))
	                   FROM pipeline.source_offsets WHERE source = '$1'), 0),
	       coalesce((SELECT pid FROM pipeline.workers
	                  WHERE kind = 'consumer' AND works_on = '$1' AND pid IS NOT NULL LIMIT 1), 0),
	       (SELECT state || ': ' || coalesce(last_error, '') FROM pipeline.source_status WHERE source = '$1')"
}

# the largest RssAnon (kB) of a process, sampled every 50 ms, into a file
sample_memory() {
	local pid=$1 out=$2 max=0 v
	while [ -r "/proc/$pid/status" ]; do
		v=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
		if [ -n "$v" ] && [ "$v" -gt "$max" ]; then
			max=$v
			echo "$max" >"$out"
		fi
		sleep 0.05
	done
}

stop_bg() {
	# stop_bg [SIGNAL] PID
	kill "$@" 2>/dev/null || true
	wait "${@: -1}" 2>/dev/null || true
}

drop_source() {
	local pid=$2 i
	sql "SELECT pipeline.drop_source('$1')" >/dev/null
	for ((i = 0; i < 300; i++)); do
		{ [ "$pid" = 0 ] || ! kill -0 "$pid" 2>/dev/null; } && return 0
		sleep 0.1
	done
	log "warning: the consumer $pid of $1 did not exit within 30 s"
}

# run_source PATH ROUND FORMAT COLUMNS [EXTRA]: the time from create_source until
# every event is committed (rows and offsets commit together, so the
# offsets say when; the commit timestamp of the last batch is the end)
declare -A HWM ANON CONSUMER_NOTE CPU
run_source() {
	local path=$1 round=$2 format=$3 columns=$4 create_extra=${5:-} name=bench_${1}_$2 table=${1}_pipeline_$2
	local t_create row offs last pid=0 cpid state deadline sampler="" perfpid="" seen=""
	local t_first elapsed steady hwm="" anon batches note="" props=$SOURCE_PROPS
	case "$path" in e0 | f0) props=$SOURCE_PROPS_08 ;; esac
	fresh_table "$table" "$columns"
	t_create=$(timeout 60 "${PSQL[@]}" -c "SELECT extract(epoch FROM clock_timestamp())" \
		-c "SELECT pipeline.create_source('$name', server => 'kafka', topic => '$TOPIC',
			target => '$table', format => '$format', properties => '$props',
			batch_rows => 50000$create_extra)") || die "create_source $name"
	t_create=${t_create%%$'\n'*}
	deadline=$((${EPOCHREALTIME%.*} + STEP_TIMEOUT))
	while :; do
		row=$(source_progress "$name") || die "cannot read the progress of $name"
		IFS='|' read -r offs last cpid state <<<"$row"
		if [ "$pid" = 0 ] && [ "$cpid" != 0 ]; then
			pid=$cpid
			bg sample_memory "$pid" "$WORK/anon-$path-$round"
			sampler=$BG_PID
			if [ "$round" = 1 ]; then
				if [ "$PERF" = 1 ]; then
					bg perf record -q -F 999 --call-graph dwarf -p "$pid" -o "$WORK/perf-$path.data" \
						>/dev/null 2>&1
					perfpid=$BG_PID
					note=" [under perf]"
				fi
			fi
		fi
		[ "$offs" -ge "$N" ] && break
		if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
			die "$name: only $offs of $N events after $STEP_TIMEOUT s ($state)"
		fi
		case "$state" in
			stopped* | error*)
				[ "$state" = "$seen" ] || log "$name: $state"
				seen=$state
				;;
		esac
		sleep 0.2
	done
	# CPU of the consumer's threads (on-CPU and runqueue wait since it started)
	local sched=""
	if [ "$pid" != 0 ] && [ -d "/proc/$pid/task" ]; then
		sched=$(for t in /proc/"$pid"/task/*; do
			printf '%s %s\n' "$(tr ' ' '_' <"$t/comm" 2>/dev/null)" "$(cat "$t/schedstat" 2>/dev/null)"
		done | awk '$1 == "postgres" { mc += $2; mw += $3; next } { oc += $2; ow += $3 }
			END { printf "main thread on CPU %.2f s, waiting for a CPU %.2f s; librdkafka threads on CPU %.2f s",
				mc / 1e9, mw / 1e9, oc / 1e9 }')
		CPU[$path]+=" $(for t in /proc/"$pid"/task/*; do cut -d' ' -f1 "$t/schedstat" 2>/dev/null; done |
			awk '{ c += $1 } END { printf "%.3f", c / 1e9 }')"
	fi
	# the consumer's memory, before it goes away
	if [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
	fi
	[ -n "$perfpid" ] && stop_bg -INT "$perfpid"
	[ -n "$sampler" ] && stop_bg "$sampler"
	anon=$(cat "$WORK/anon-$path-$round" 2>/dev/null || echo 0)
	HWM[$path]+=" ${hwm:-0}"
	ANON[$path]+=" $anon"
	log "$path: consumer pid $pid, VmHWM ${hwm:-?} kB, peak RssAnon $anon kB"
	check_count "$table" "$N"
	elapsed=$(fsub "$last" "$t_create")
	# when the first batch committed, and how many batches there were
	read -r t_first batches <<<"$(sql "SELECT extract(epoch FROM min(pg_xact_commit_timestamp(xmin))),
		count(DISTINCT xmin::text) FROM $table" | tr '|' ' ')"
	steady=$(awk -v n="$N" -v a="$t_first" -v b="$last" -v k="$batches" \
		'BEGIN { if (b > a && k > 1) printf "%.0f", n * (k - 1) / k / (b - a); else print "n/a" }')
	CONSUMER_NOTE[$path]+="  round $round: first batch committed $(printf '%.2f' "$(fsub "$t_first" "$t_create")") s after create_source, $batches batches, ~$steady rows/s after the first batch$note"$'\n'"      ($sched)"$'\n'
	if [ -n "$note" ]; then
		log "$path: $N rows in $(printf '%.3f' "$elapsed") s$note: not counted"
	else
		record "$path" "$elapsed" "(first batch after $(printf '%.2f' "$(fsub "$t_first" "$t_create")") s, $batches batches)"
	fi
	if [ -n "$create_extra" ]; then
		ARCHIVE_STATS=$(sql "SELECT batches, messages, raw_bytes, stored_bytes, compression_ratio
			FROM pipeline.source_archive_stats WHERE source = '$name'")
		log "$path: archive batches|messages|raw bytes|stored bytes|ratio: $ARCHIVE_STATS"
	fi
	drop_source "$name" "$pid"
	sql "DROP TABLE $table" >/dev/null
	if [ -n "$perfpid" ]; then
		{
			echo "# perf of the consumer of ($path), by thread"
			perf report -i "$WORK/perf-$path.data" --stdio --no-children --sort comm -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -8
			echo "# the postgres thread, inclusive (children), >= 2 %"
			perf report -i "$WORK/perf-$path.data" --stdio --children --comm postgres --sort symbol \
				-g none --percent-limit 2 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -v '\] 0x0000' | head -70
			echo "# self time, all threads, >= 1 %"
			perf report -i "$WORK/perf-$path.data" --stdio --no-children --sort comm,dso,symbol \
				-g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -50
		} >"$WORK/perf-$path.txt" || true
		log "$path: perf profile of the consumer in $WORK/perf-$path.txt"
	fi
}
path_e() { run_source e "$ROUND" json "$TYPED_COLUMNS"; }
path_f() { run_source f "$ROUND" jsonb "payload jsonb"; }
path_e0() { run_source e0 "$ROUND" json "$TYPED_COLUMNS"; }
path_f0() { run_source f0 "$ROUND" jsonb "payload jsonb"; }
path_ea() { run_source ea "$ROUND" json "$TYPED_COLUMNS" ", archive => true"; }
ARCHIVE_STATS=""
if [ "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'create_source'
	AND 'archive' = ANY (proargnames)")" != 0 ]; then
	[ -n "${PP_BENCH_PATHS:-}" ] || PATHS+=(ea)
else
	log "this pg_pipeline has no raw archive: path ea skipped"
fi

SO_MD5=$(md5sum "$SO" | cut -c1-12)
ROUND_LOAD=""
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	log "---- round $ROUND of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
	ROUND_LOAD+=" $(cut -d' ' -f1 /proc/loadavg)"
	for p in "${PATHS[@]}"; do
		"path_$p"
	done
done

# ---------------------------------------------------------------- (g) latency
LAT_N=$((LAT_RATE * LAT_SECONDS))
declare -A LAT
run_latency() {
	local bms=$1 topic=latency-$1 name=bench_g_$1 table=g_latency_$1 gpid=0 state offs i stats
	timeout 30 "$BROKER" cmd "$WORK/broker" topic "$topic" "$PARTITIONS" >/dev/null ||
		die "cannot create topic $topic"
	fresh_table "$table" "$TYPED_COLUMNS, sent_us bigint, arrived timestamptz DEFAULT clock_timestamp()"
	sql "SELECT pipeline.create_source('$name', server => 'kafka', topic => '$topic',
		target => '$table', format => 'json', properties => '$SOURCE_PROPS', batch_ms => $bms)" >/dev/null
	# wait until its consumer runs, then give it a moment to assign its partitions
	for ((i = 0; i < 300; i++)); do
		IFS='|' read -r _ _ gpid state <<<"$(source_progress "$name")"
		[ "$gpid" != 0 ] && [ "${state%%:*}" = running ] && break
		sleep 0.1
	done
	[ "$gpid" != 0 ] || die "the consumer of $name did not start ($state)"
	sleep 2
	log "(g) $LAT_RATE messages/s for $LAT_SECONDS s into a json source with batch_ms $bms"
	# shellcheck disable=SC2016
	timeout $((LAT_SECONDS + 120)) bash -c '
		set -o pipefail
		python3 - "$1" "$2" <<"PY" | kcat -P -b "$3" -t "$4" -z zstd
import random, sys, time
rate, seconds = int(sys.argv[1]), int(sys.argv[2])
total = rate * seconds
out = sys.stdout.buffer
rnd = random.Random(7)
actions = [b"view", b"view", b"click", b"add_to_cart", b"purchase", b"search"]
sent = 0
start = time.monotonic()
while sent < total:
    due = min(total, int((time.monotonic() - start) * rate) + 1)
    if due > sent:
        lines = []
        for i in range(sent, due):
            lines.append(b"{\"user_id\":%d,\"action\":\"%s\",\"page\":\"/products/%d\",\"event_time\":\"2026-11-25T12:00:00.000Z\",\"amount\":%d.%02d,\"sent_us\":%d}\n"
                         % (rnd.randint(1, 100000), actions[i % 6], rnd.randint(1, 2000),
                            rnd.randint(0, 500), rnd.randint(0, 99), time.time_ns() // 1000))
        out.write(b"".join(lines))
        out.flush()
        sent = due
    else:
        time.sleep(0.0002)
elapsed = time.monotonic() - start
print("%d messages in %.2f s = %.0f/s" % (sent, elapsed, sent / elapsed), file=sys.stderr)
PY
	' _ "$LAT_RATE" "$LAT_SECONDS" "$BOOTSTRAP" "$topic" 2>"$WORK/latency-producer-$bms.log" ||
		{ cat "$WORK/latency-producer-$bms.log" >&2; die "latency producer"; }
	log "producer: $(cat "$WORK/latency-producer-$bms.log")"
	for ((i = 0; i < 600; i++)); do
		IFS='|' read -r offs _ _ state <<<"$(source_progress "$name")"
		[ "$offs" -ge "$LAT_N" ] && break
		sleep 0.1
	done
	[ "$offs" -ge "$LAT_N" ] || die "$name: only $offs of $LAT_N messages after 60 s ($state)"
	check_count "$table" "$LAT_N"
	stats=$(sql "
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ins)::numeric, 1),
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ins)::numeric, 1),
		       round(max(ins)::numeric, 1),
		       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY vis)::numeric, 1),
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY vis)::numeric, 1),
		       round(max(vis)::numeric, 1),
		       count(DISTINCT xmin::text)
		  FROM (SELECT (extract(epoch FROM arrived) * 1e6 - sent_us) / 1000.0 AS ins,
		               (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6 - sent_us) / 1000.0 AS vis,
		               xmin
		          FROM $table) s")
	LAT[$bms]="$stats|$(cat "$WORK/latency-producer-$bms.log")"
	log "batch_ms $bms: inserted p50|p99|max, committed p50|p99|max (ms), batches: $stats"
	drop_source "$name" "$gpid"
	sql "DROP TABLE $table" >/dev/null
}
for bms in $LAT_BATCH_MS; do
	run_latency "$bms"
done

# ---------------------------------------------------------------- report
bench_medians "${PATHS[@]}"
# the paths not run (PP_BENCH_PATHS): 0, so the ratios below say n/a
for p in a b d2 e f; do
	: "${RATE_MED[$p]:=0}"
done
R_EA=$(ratio "${RATE_MED[e]}" "${RATE_MED[a]}")
R_EB=$(ratio "${RATE_MED[e]}" "${RATE_MED[b]}")
R_ED2=$(ratio "${RATE_MED[e]}" "${RATE_MED[d2]}")
R_FB=$(ratio "${RATE_MED[f]}" "${RATE_MED[b]}")
R_FD2=$(ratio "${RATE_MED[f]}" "${RATE_MED[d2]}")
R_EAE=""
[ -z "${SECS[ea]:-}" ] || R_EAE=$(ratio "${RATE_MED[ea]}" "${RATE_MED[e]}")
R_EE0=""
[ -z "${SECS[e0]:-}" ] || R_EE0=$(ratio "${RATE_MED[e]}" "${RATE_MED[e0]}")
R_FF0=""
[ -z "${SECS[f0]:-}" ] || R_FF0=$(ratio "${RATE_MED[f]}" "${RATE_MED[f0]}")
met() { awk -v v="$1" -v t="$2" 'BEGIN { print (v == "n/a") ? "n/a" : (v >= t) ? "met" : "NOT MET" }'; }
T_EB=$(met "$R_EB" 0.80)
T_ED2=$(awk -v e="${RATE_MED[e]}" -v d="${RATE_MED[d2]}" 'BEGIN { print (e == 0 || d == 0) ? "n/a" : (e > d) ? "met" : "NOT MET" }')
T_FB=$(met "$R_FB" 1.00)
T_EA=$(met "$R_EA" 0.90)
# CPU seconds (median of the rounds) and the ratios by CPU: rows per CPU
# second of the path over the baseline's; a loaded machine slows the wall
# clock of both sides unevenly, their CPU time much less
declare -A CPU_MED
for p in "${!CPU[@]}"; do
	# shellcheck disable=SC2086  # a list of numbers
	CPU_MED[$p]=$(printf '%s\n' ${CPU[$p]} | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
done
cpu_ratio() { awk -v x="${CPU_MED[$1]:-0}" -v y="${CPU_MED[$2]:-0}" 'BEGIN { print (x > 0 && y > 0) ? sprintf("%.2f", y / x) : "n/a" }'; }
C_EA=$(cpu_ratio e a)
C_EB=$(cpu_ratio e b)
C_FB=$(cpu_ratio f b)

SO_CHANGED=""
if [ "$(md5sum "$SO" | cut -c1-12)" != "$SO_MD5" ]; then
	SO_CHANGED="WARNING: $SO was replaced during the run (md5 now $(md5sum "$SO" | cut -c1-12)); the server kept the library it loaded at start"
	log "$SO_CHANGED"
fi
{
	echo "# 1-minute load average at the start of each round:$ROUND_LOAD; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -z "$SO_CHANGED" ] || echo "# $SO_CHANGED"
	echo
	printf '%-4s %-58s %12s %12s  %s\n' path what "median s" "median rows/s" "rows/s of each round"
	row() {
		local each="" s
		[ -n "${SECS[$1]:-}" ] || return 0
		for s in ${SECS[$1]}; do each+=" $(rate "$N" "$s")"; done
		printf '%-4s %-58s %12.3f %12s  %s\n' "$1" "$2" "${MED[$1]}" "${RATE_MED[$1]}" "${each# }"
	}
	row a "server COPY of the CSV into a typed table"
	row b "server COPY of the JSON lines into a jsonb column"
	row c1 "kcat -C to /dev/null, kcat defaults"
	row c2 "kcat -C to /dev/null, raised fetch queue"
	row d1 "kcat -C | psql \\copy into jsonb, kcat defaults"
	row d2 "kcat -C | psql \\copy into jsonb, raised fetch queue"
	row e "pg_pipeline json -> typed columns (create .. last commit)"
	row f "pg_pipeline jsonb -> jsonb column (create .. last commit)"
	[ -z "${SECS[ea]:-}" ] || row ea "like e, with the raw archive (archive => true)"
	row e0 "like e, with 0.8's fetch queue (queued.min.messages 1e6)"
	row f0 "like f, with 0.8's fetch queue (queued.min.messages 1e6)"
	echo
	for p in e f ea e0 f0; do
		[ -n "${CONSUMER_NOTE[$p]:-}" ] || continue
		echo "$p:"
		printf '%s' "${CONSUMER_NOTE[$p]}"
	done
	echo
	echo "ratios of the medians: e/b = $R_EB (target >= 0.80: $T_EB)   e/d2 = $R_ED2 (target > 1: $T_ED2)" \
		"  f/b = $R_FB (target >= 1.00: $T_FB)"
	echo "                       e/a = $R_EA (target >= 0.90: $T_EA)   f/d2 = $R_FD2${R_EAE:+   ea/e = $R_EAE}${R_EE0:+   e/e0 = $R_EE0}${R_FF0:+   f/f0 = $R_FF0}"
	echo "CPU seconds (median; the COPY's backend, the consumer's threads):$(for p in "${PATHS[@]}"; do
		[ -z "${CPU_MED[$p]:-}" ] || printf ' %s %s' "$p" "${CPU_MED[$p]}"; done)"
	echo "ratios by CPU (rows per CPU second over the baseline's): e/a = $C_EA   e/b = $C_EB   f/b = $C_FB"
	echo
	echo "latency, $LAT_RATE msg/s for $LAT_SECONDS s (kcat -P -z zstd, default linger), json source," \
		"fetch.wait.max.ms 10, ms from sent_us:"
	for bms in $LAT_BATCH_MS; do
		IFS='|' read -r i50 i99 imax v50 v99 vmax nb prod <<<"${LAT[$bms]}"
		echo "  batch_ms $bms ($prod; $nb batches):"
		echo "    to row inserted (clock_timestamp() default): p50 $i50, p99 $i99, max $imax"
		echo "    to committed, visible (commit timestamp):     p50 $v50, p99 $v99, max $vmax"
	done
	echo
	for p in e f ea e0 f0; do
		[ -n "${ANON[$p]:-}" ] || continue
		echo "consumer memory during ($p), each round: VmHWM${HWM[$p]} kB (peak RSS, counting the shared buffers" \
			"it touched), peak RssAnon${ANON[$p]} kB (private memory, sampled every 50 ms)"
	done
	echo
	if [ -n "$ARCHIVE_STATS" ]; then
		IFS='|' read -r ab am araw asto arat <<<"$ARCHIVE_STATS"
		echo "raw archive of (ea), last round (pipeline.source_archive_stats): $am messages in $ab batches," \
			"$araw raw bytes, $asto stored bytes: compression ratio ${arat}x"
	fi
	echo "zstd -3 on the $N events as JSON lines ($JSON_BYTES bytes): whole file $ZSTD_WHOLE bytes" \
		"= ${ZSTD_RATIO_WHOLE}x; in chunks of 50,000 events $ZSTD_BATCHES bytes = ${ZSTD_RATIO_BATCH}x"
	echo
	for p in "${PATHS[@]}"; do
		echo "RESULT path=$p rows=$N median_seconds=${MED[$p]} rows_per_s=${RATE_MED[$p]} seconds=$(echo "${SECS[$p]# }" | tr ' ' ',')"
	done
	echo "RESULT ratio=e/b value=$R_EB target=0.80 status=${T_EB// /_}"
	echo "RESULT ratio=e/d2 value=$R_ED2 target=1.00 status=${T_ED2// /_}"
	echo "RESULT ratio=f/b value=$R_FB target=1.00 status=${T_FB// /_}"
	echo "RESULT ratio=e/a value=$R_EA target=0.90 status=${T_EA// /_}"
	echo "RESULT ratio=f/d2 value=$R_FD2"
	echo "RESULT cpu_ratio=e/a value=$C_EA"
	echo "RESULT cpu_ratio=e/b value=$C_EB"
	echo "RESULT cpu_ratio=f/b value=$C_FB"
	for p in "${PATHS[@]}"; do
		# shellcheck disable=SC2086  # a list of numbers
		[ -z "${CPU[$p]:-}" ] || echo "RESULT cpu path=$p median_seconds=${CPU_MED[$p]} seconds=$(echo ${CPU[$p]} | tr ' ' ',')"
	done
	[ -z "$R_EAE" ] || echo "RESULT ratio=ea/e value=$R_EAE"
	for bms in $LAT_BATCH_MS; do
		IFS='|' read -r i50 i99 imax v50 v99 vmax nb prod <<<"${LAT[$bms]}"
		echo "RESULT latency rate=$LAT_RATE seconds=$LAT_SECONDS batch_ms=$bms insert_p50_ms=$i50 insert_p99_ms=$i99" \
			"insert_max_ms=$imax commit_p50_ms=$v50 commit_p99_ms=$v99 commit_max_ms=$vmax batches=$nb"
	done
	for p in e f ea e0 f0; do
		[ -n "${ANON[$p]:-}" ] || continue
		# shellcheck disable=SC2086  # a list of numbers
		echo "RESULT memory path=$p vmhwm_kb=$(echo "${HWM[$p]# }" | tr ' ' ',')" \
			"rss_anon_peak_kb=$(echo "${ANON[$p]# }" | tr ' ' ',')" \
			"rss_anon_peak_max_kb=$(printf '%s\n' ${ANON[$p]} | sort -n | tail -1)"
	done
	[ -z "$R_EE0" ] || echo "RESULT ratio=e/e0 value=$R_EE0"
	[ -z "$R_FF0" ] || echo "RESULT ratio=f/f0 value=$R_FF0"
	[ -z "$ARCHIVE_STATS" ] ||
		echo "RESULT archive batches=$ab messages=$am raw_bytes=$araw stored_bytes=$asto ratio=$arat"
	echo "RESULT zstd level=3 json_bytes=$JSON_BYTES whole_bytes=$ZSTD_WHOLE whole_ratio=$ZSTD_RATIO_WHOLE" \
		"chunk50k_bytes=$ZSTD_BATCHES chunk50k_ratio=$ZSTD_RATIO_BATCH"
} >>"$RESULTS"

echo
cat "$RESULTS"
log "results kept in $RESULTS; stopping the server and the broker"
