#!/usr/bin/env bash
# bench/window_agg.sh: benchmark of pg_pipeline's windowed aggregates (issue 4).
#
#   bash bench/window_agg.sh [N]          N events, default 1000000 (as root)
#
# Builds and installs the extension (skip with PP_BENCH_BUILD=0), starts its
# own throwaway PostgreSQL (as the postgres user, port 55498, socket and files
# in /tmp/pg_pipeline-bench-window, pg_pipeline preloaded for the maintainer
# worker), generates N seed-style user events as CSV (the generator of
# bench/kafka_ingest.sh: 2006 pages, 100,000 users, 3 ms apart), then
# measures a server-side COPY of the CSV into a fresh source table
# (user_id bigint, action text, page text, event_time timestamptz,
# amount numeric(10,2)):
#
#   a   no aggregate
#   b   a 5-minute tumbling window grouped by page: count(*),
#       count(DISTINCT user_id), sum(amount); mode sync
#   c   the same, mode async: the COPY, and separately the time from the end
#       of the COPY until the maintainer worker has merged everything
#       (the window's delta table is empty, polled every 10 ms: what
#       pipeline.window_status shows as pending_delta = 0, checked after)
#   bn  b without count(DISTINCT) (count(*) and sum(amount) only): not a
#       target, it shows what the count(DISTINCT) sets cost in b
#   ba  b in mode append (0.12.0): the COPY appends its partials, and
#       separately the time from the end of the COPY until the maintainer
#       has folded them (the partials table is empty); the result (a view
#       of the state and the partials) is checked before the fold
#   d   a 10-minute/1-minute hopping window, same aggregates, mode sync
#
# a..d run PP_BENCH_ROUNDS times (default 3), interleaved; each path counts
# with its median.  In round 1 every window table is checked against a
# from-scratch GROUP BY over the source (EXCEPT ALL both ways; for d a sample
# of pages).  Then:
#
#   e   incremental maintenance of a 1 % delta: N rows loaded with the
#       window of b, then COPY of N/100 more rows in the last windows (from
#       the start of the last open window to 30 s past the newest event);
#       minus the same COPY into a table without a window = the maintenance
#       cost; against REFRESH MATERIALIZED VIEW of the equivalent GROUP BY
#       over the N + N/100 rows (PP_BENCH_REFRESH_REPS times, default 3).
#       The delta COPY runs PP_BENCH_DELTA_REPS times (default 3) in a
#       transaction that is rolled back; medians.  Twice: the sources as
#       they are, then with the index on event_time that create_window's
#       NOTICE recommends (count(DISTINCT) recomputes touched groups from
#       the source); the very last COPY commits and the window is checked.
#       Also for the record: create_window over the N + N/100 existing rows
#       (the initial aggregation) against CREATE MATERIALIZED VIEW.
#   f   concurrency: pgbench, a custom script inserting 100 random rows per
#       transaction at now() (the current window), 1 client and then
#       4 clients, PP_BENCH_CONC_SECONDS each (default 10), into a source
#       (with an index on event_time) with no window, a sync window, an
#       append window, an async window (the window of b and c), and a sync
#       window without count(DISTINCT) (sync_nd: count(*) and sum only);
#       rows/s and the scaling factor 4 clients / 1 client.  After each
#       async or append run the backlog is merged or folded (timed); every
#       window table is checked.
#
# Every step is bounded by a timeout; the server is stopped at exit.  The
# results are printed as a table and as "RESULT key=value ..." lines, and
# kept in $WORK/results.txt (with the server log, $WORK/server.log).
#
# Environment: PP_BENCH_WORK (/tmp/pg_pipeline-bench-window), PP_BENCH_PORT
# (55498), PP_BENCH_BUILD (1; 0 = use the installed extension),
# PP_BENCH_ROUNDS (3), PP_BENCH_DELTA_REPS (3), PP_BENCH_REFRESH_REPS (3),
# PP_BENCH_CONC_SECONDS (10), PP_BENCH_CONC_CLIENTS (4), PP_BENCH_CONC_KINDS
# ("none sync append async sync_nd"), PP_BENCH_CONC_INDEX (1; 0 = no index in f),
# PP_BENCH_VERIFY (1; 0 = skip the checks against GROUP BY),
# PP_BENCH_TIMEOUT (seconds per step, 600), PP_BENCH_KEEP (0; 1 = keep the
# data directory and event files).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-1000000}
WORK=${PP_BENCH_WORK:-/tmp/pg_pipeline-bench-window}
PORT=${PP_BENCH_PORT:-55498}
ROUNDS=${PP_BENCH_ROUNDS:-3}
DELTA_REPS=${PP_BENCH_DELTA_REPS:-3}
REFRESH_REPS=${PP_BENCH_REFRESH_REPS:-3}
CONC_SECONDS=${PP_BENCH_CONC_SECONDS:-10}
CONC_CLIENTS=${PP_BENCH_CONC_CLIENTS:-4}
CONC_KINDS=${PP_BENCH_CONC_KINDS:-none sync append async sync_nd}
CONC_INDEX=${PP_BENCH_CONC_INDEX:-1}
VERIFY=${PP_BENCH_VERIFY:-1}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-600}
KEEP=${PP_BENCH_KEEP:-0}
DB=bench
TYPED_COLUMNS='user_id bigint, action text, page text, event_time timestamptz, amount numeric(10,2)'
TABLE_OPTS='WITH (autovacuum_enabled = false)'
AGGS='count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount'
# the same without count(DISTINCT): merged by adding, never recomputed
AGGS_ND='count(*) AS views, sum(amount) AS amount'
TUMBLE="pipeline.tumble('5 minutes')"
HOP="pipeline.hop('10 minutes', '1 minute')"
EPOCH="'1970-01-01 00:00:00+00'::timestamptz"
PATHS=(a b bn ba c d)
# rows per pgbench transaction in (f)
BATCH=100

for v in "$N" "$ROUNDS" "$DELTA_REPS" "$REFRESH_REPS" "$CONC_SECONDS" "$CONC_CLIENTS"; do
	case "$v" in
		'' | *[!0-9]* | 0) echo "usage: $0 [N]   (N events, default 1000000; see the PP_BENCH_* settings)" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "run this as root (it starts PostgreSQL as the postgres user)" >&2
	exit 2
fi
D=$((N / 100))
[ "$D" -ge 1 ] || D=1

PGDATA_DIR="$WORK/data"
FILES="$WORK/files"
RESULTS="$WORK/results.txt"
started_server=0


# ---- clean up whatever this script started, however it ends ----
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stop_server
	if [ "$KEEP" != 1 ]; then
		rm -rf "$PGDATA_DIR" "$FILES"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fadd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "n/a" }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
# met VALUE TARGET: "met" when VALUE <= TARGET
met_le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "n/a" && v <= t) ? "met" : "NOT MET" }'; }


bench_psql

# timed_sql STATEMENT...: runs the statements in one session (each its own
# -c, so BEGIN / COPY / ROLLBACK work), with \timing; prints the server
# round trip of each in seconds, space separated
timed_sql() {
	local out args=() s
	for s in "$@"; do args+=(-c "$s"); done
	out=$(timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c '\timing on' "${args[@]}") ||
		die "statement failed: $*"
	printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
		awk -v want=$# '{ printf "%s%.6f", (NR > 1 ? " " : ""), $1 / 1000; n++ }
			END { if (n != want) exit 1 }' || die "no timing for: $*"
}

fresh_table() {
	sql "DROP TABLE IF EXISTS $1 CASCADE; CREATE TABLE $1 ($TYPED_COLUMNS) $TABLE_OPTS;" >/dev/null
}
settle() {
	sql "CHECKPOINT" >/dev/null
	# no writeback of earlier files during the next measurement
	timeout 120 sync || true
}


# create_window NAME SOURCE SPEC MODE [AGGREGATES]
create_window() {
	sql "SELECT pipeline.create_window('$1', '$2', 'event_time', $3, '${5:-$AGGS}',
		group_by => '{page}', mode => '$4')" >/dev/null || die "create_window $1"
}
drop_window() {
	sql "SELECT pipeline.drop_window('$1')" >/dev/null || die "drop_window $1"
}

# the status row of a window
STATUS_WHERE() { echo "s.name::text IN ('$1', 'public.$1')"; }
# the delta table of an async window
delta_table() {
	sql "SELECT delta_table FROM pipeline.windows WHERE result = '$1'::regclass"
}
pending_delta() {
	sql "SELECT count(*) FROM $(delta_table "$1")"
}

# wait_merged NAME: waits until the maintainer has merged every pending row
# of an async window (its delta table is empty: what window_status shows
# as pending_delta = 0, without counting the open and final windows at
# every poll); prints the seconds it waited.  A PL/pgSQL loop in one
# session: every SELECT in it takes a new snapshot.
wait_merged() {
	local out dt
	dt=$(delta_table "$1")
	[ -n "$dt" ] || die "$1 has no delta table"
	out=$(timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c '\timing on' -c "
		DO \$\$
		BEGIN
			WHILE EXISTS (SELECT 1 FROM $dt) LOOP
				PERFORM pg_sleep(0.01);
			END LOOP;
		END \$\$") || die "waiting for the maintainer to merge $1 (pending: $(pending_delta "$1" 2>/dev/null))"
	printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{ printf "%.6f", $1 / 1000 }'
	# the status view agrees
	[ "$(sql "SELECT pending_delta FROM pipeline.window_status s WHERE $(STATUS_WHERE "$1")")" = 0 ] ||
		die "window_status of $1 shows a pending delta after its delta table emptied"
}

# expected_tumble SOURCE [FILTER [AGGREGATES]]: the from-scratch GROUP BY of
# a 5-minute tumbling window over SOURCE
expected_tumble() {
	echo "SELECT date_bin('5 minutes', event_time, $EPOCH) AS window_start,
	        date_bin('5 minutes', event_time, $EPOCH) + interval '5 minutes' AS window_end,
	        page, ${3:-$AGGS}
	   FROM $1 ${2:+WHERE $2} GROUP BY 1, 2, 3"
}
# expected_hop SOURCE [FILTER [AGGREGATES]]: the same for 10-minute windows
# every minute
expected_hop() {
	echo "SELECT w.ws AS window_start, w.ws + interval '10 minutes' AS window_end,
	        page, ${3:-$AGGS}
	   FROM $1 CROSS JOIN LATERAL
	        (SELECT date_bin('1 minute', event_time, $EPOCH) - k * interval '1 minute' AS ws
	           FROM generate_series(0, 9) k) w
	  ${2:+WHERE $2} GROUP BY 1, 2, 3"
}

# verify WINDOW EXPECTED_QUERY FILTER LABEL [COLUMNS]: the window table
# against the GROUP BY, EXCEPT ALL both ways; and is_final against the
# watermark.  Records a finding and goes on when they differ.
declare -a FINDINGS=()
verify() {
	local win=$1 expect=$2 filter=${3:-} cols=${5:-views, users, amount} res missing extra nonfinal t0
	[ "$VERIFY" = 1 ] || return 0
	t0=$(now)
	res=$(sql "SET work_mem = '256MB';
		WITH got AS (SELECT window_start, window_end, page, $cols FROM $win
		              ${filter:+WHERE $filter}),
		     want AS ($expect)
		SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got) x),
		       (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want) y),
		       (SELECT count(*) FROM got)") || die "verifying $win"
	IFS='|' read -r missing extra total <<<"$res"
	nonfinal=0
	# (nofinal: an append window before its fold, whose is_final the maintainer sets)
	[ "${6:-}" = nofinal ] ||
		nonfinal=$(sql "SELECT count(*) FROM $win w, pipeline.window_status s
			WHERE $(STATUS_WHERE "$win") AND w.is_final IS DISTINCT FROM (w.window_end <= s.watermark)") ||
		die "checking is_final of $win"
	if [ "$missing" != 0 ] || [ "$extra" != 0 ] || [ "$nonfinal" != 0 ]; then
		FINDINGS+=("$win ($4): $missing rows of the GROUP BY missing from the window table, $extra rows" \
			"in it not in the GROUP BY (of $total${filter:+, $filter}); $nonfinal rows with is_final wrong")
		log "MISMATCH: ${FINDINGS[-1]}"
	else
		log "$win ($4): equals the GROUP BY ($total rows${filter:+, $filter}; checked in $(printf '%.1f' "$(fsub "$(now)" "$t0")") s)"
	fi
}


# ---------------------------------------------------------------- setup
pp_install_deps
if ! command -v python3 >/dev/null; then
	log "installing python3"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends python3 >/dev/null
fi
if [ "${PP_BENCH_BUILD:-1}" = 1 ]; then
	pp_build_install
fi
PGBENCH="$PP_BINDIR/pgbench"
[ -x "$PGBENCH" ] || die "no $PGBENCH"

# a previous run that was killed hard may have left its server
if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
	runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$WORK"
mkdir -p "$WORK" "$FILES"
chmod 755 "$WORK" "$FILES"
chown postgres: "$WORK"

SO="$("$(pp_pg_config)" --pkglibdir)/pg_pipeline.so"
{
	echo "# pg_pipeline windowed aggregate benchmark, $(date -u +%FT%TZ): bash bench/window_agg.sh $N," \
		"$ROUNDS rounds, delta $D rows x $DELTA_REPS, pgbench ${CONC_SECONDS} s per run"
	echo "# host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "# $("$PP_BINDIR/postgres" --version)"
	echo "# pg_pipeline: tree at $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"($(git -C "$PP_ROOT" status --porcelain 2>/dev/null | wc -l) changed files);" \
		"$SO of $(date -u -r "$SO" +%FT%TZ), md5 $(md5sum "$SO" | cut -c1-12)"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

# the same settings for every path (bench/lib.sh), and these
bench_start_server <<CONF
max_connections = 50
timezone = 'UTC'
CONF
sql "CREATE EXTENSION pg_pipeline" >/dev/null
# an installed default version without windows: update to the newest
if [ "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'create_window'")" = 0 ]; then
	sql "ALTER EXTENSION pg_pipeline UPDATE" >/dev/null || true
fi
EXTVER=$(sql "SELECT extversion FROM pg_extension WHERE extname = 'pg_pipeline'")
WINDOW_DELAY=$(sql "SELECT current_setting('pg_pipeline.window_delay', true)")
WINDOW_WORK_MEM=$(sql "SELECT current_setting('pg_pipeline.window_work_mem', true)")
[ "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'create_window'")" != 0 ] ||
	die "pg_pipeline $EXTVER has no pipeline.create_window"
{
	echo "# pg_pipeline $EXTVER; pg_pipeline.window_delay = ${WINDOW_DELAY:-?}," \
		"pg_pipeline.window_work_mem = ${WINDOW_WORK_MEM:-?} (defaults)"
	echo "# server: shared_buffers 1GB, max_wal_size 8GB, checkpoint_timeout 30min, wal_buffers 64MB,"
	echo "#   work_mem 4MB (default), synchronous_commit on, fsync on; logged tables, autovacuum off on"
	echo "#   the source tables (the window tables keep the defaults), CHECKPOINT and sync before each COPY"
} >>"$RESULTS"

# ---------------------------------------------------------------- events
log "generating $N events and a delta of $D (CSV)"
DELTA_RANGE=$(timeout "$STEP_TIMEOUT" python3 - "$N" "$D" "$FILES/events.csv" "$FILES/delta.csv" <<'PY'

import random, sys, datetime
n, d, csv_path, delta_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
actions = ["view"] * 6 + ["click"] * 2 + ["add_to_cart", "purchase", "search", "login"]
pages = ["/", "/home", "/search", "/cart", "/checkout", "/account"] + \
        ["/products/%d" % i for i in range(1, 2001)]
t0 = datetime.datetime(2026, 11, 25, 12, 0, 0)

def event(rnd, ms):
    uid = rnd.randint(1, 100000)
    act = rnd.choice(actions)
    page = rnd.choice(pages)
    ts = (t0 + datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    amt = "%.2f" % (rnd.randint(100, 50000) / 100.0 if act in ("purchase", "add_to_cart") else 0)
    return "%d,%s,%s,%s,%s\n" % (uid, act, page, ts, amt)

# the events of bench/kafka_ingest.sh (same seed, same rows)
rnd = random.Random(42)
t_max = 0
with open(csv_path, "w") as cs:
    for i in range(n):
        ms = i * 3 + rnd.randint(0, 2)
        t_max = max(t_max, ms)
        cs.write(event(rnd, ms))
# the delta: from the start of the last open 5-minute window (the one that
# holds the newest event) to 30 s past the newest event, evenly spread
lo = (t_max // 300000) * 300000
hi = t_max + 30000
rnd = random.Random(43)
with open(delta_path, "w") as ds:
    for j in range(d):
        ds.write(event(rnd, lo + (hi - lo) * j // d + rnd.randint(0, 2)))
print("%s %s" % ((t0 + datetime.timedelta(milliseconds=lo)).strftime("%H:%M:%S"),
                 (t0 + datetime.timedelta(milliseconds=hi)).strftime("%H:%M:%S")))
PY
) || die "event generation"
chmod 644 "$FILES/events.csv" "$FILES/delta.csv"
CSV="$FILES/events.csv"
DELTA_CSV="$FILES/delta.csv"
log "events.csv: $(stat -c %s "$CSV") bytes; delta.csv: $D rows"
echo "# events: $N from 2026-11-25 12:00:00 UTC, 3 ms apart; delta: $D rows evenly from ${DELTA_RANGE% *} to ${DELTA_RANGE#* } UTC" \
	>>"$RESULTS"

# ---------------------------------------------------------------- a..d
# size of a window table and its indexes, and its rows
window_size() {
	sql "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('$1')) FROM $1"
}
declare -A MERGE COPY_ONLY SIZE
path_a() {
	fresh_table a_src
	settle
	s=$(timed_sql "COPY a_src FROM '$CSV' (FORMAT csv)")
	check_count a_src "$N"
	record a "$s"
	sql "DROP TABLE a_src" >/dev/null
}

# with_window PATH SPEC MODE EXPECTED_FN [FILTER [AGGREGATES COLUMNS]]
with_window() {
	local p=$1 spec=$2 mode=$3 expect_fn=$4 filter=${5:-} aggs=${6:-$AGGS} cols=${7:-views, users, amount}
	local src=${1}_src win=${1}_win s m=0
	fresh_table "$src"
	create_window "$win" "$src" "$spec" "$mode" "$aggs"
	settle
	s=$(timed_sql "COPY $src FROM '$CSV' (FORMAT csv)")
	if [ "$mode" = append ] && [ "$ROUND" = 1 ]; then
		# the readers' view before the fold: the statement's partials included
		verify "$win" "$($expect_fn "$src" "$filter" "$aggs")" "$filter" "path $p, $mode, before the fold" \
			"$cols" nofinal
	fi
	if [ "$mode" = async ] || [ "$mode" = append ]; then
		m=$(wait_merged "$win")
		MERGE[$p]="${MERGE[$p]:-} $m"
		COPY_ONLY[$p]="${COPY_ONLY[$p]:-} $s"
		record "$p" "$s" "(COPY; merged $(printf '%.3f' "$m") s later: COPY + merge $(printf '%.3f' "$(fadd "$s" "$m")") s)"
	else
		record "$p" "$s"
	fi
	if [ "$ROUND" = 1 ]; then
		check_count "$src" "$N"
		SIZE[$p]=$(window_size "$win")
		log "$p: window table $win: ${SIZE[$p]}"
		verify "$win" "$($expect_fn "$src" "$filter" "$aggs")" "$filter" "path $p, $mode" "$cols"
	fi
	drop_window "$win"
	sql "DROP TABLE $src" >/dev/null
}
path_b() { with_window b "$TUMBLE" sync expected_tumble; }
# b without count(DISTINCT): what the rest of the maintenance costs
path_bn() { with_window bn "$TUMBLE" sync expected_tumble "" "$AGGS_ND" "views, amount"; }
path_c() { with_window c "$TUMBLE" async expected_tumble; }
path_ba() { with_window ba "$TUMBLE" append expected_tumble; }
# the hopping check on a sample of pages (ten windows per row make the full
# GROUP BY slow)
path_d() { with_window d "$HOP" sync expected_hop "page IN ('/', '/cart') OR page LIKE '/products/1_'"; }

ROUND_LOAD=""
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	log "---- round $ROUND of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
	ROUND_LOAD+=" $(cut -d' ' -f1 /proc/loadavg)"
	for p in "${PATHS[@]}"; do
		"path_$p"
	done
done

# ---------------------------------------------------------------- (e) 1 % delta
# delta_copies TABLE LAST: DELTA_REPS timed COPYs of the delta, each rolled
# back but the last, which ends with LAST (COMMIT or ROLLBACK); prints the
# seconds of each
delta_copies() {
	local t=$1 last=$2 r out all=""
	for ((r = 1; r <= DELTA_REPS; r++)); do
		settle
		if [ "$r" -lt "$DELTA_REPS" ]; then
			out=$(timed_sql BEGIN "COPY $t FROM '$DELTA_CSV' (FORMAT csv)" ROLLBACK)
		else
			out=$(timed_sql BEGIN "COPY $t FROM '$DELTA_CSV' (FORMAT csv)" "$last")
		fi
		all+=" $(echo "$out" | cut -d' ' -f2)"
	done
	echo "${all# }"
}

log "---- (e) maintenance of a 1 % delta ($D rows)"
fresh_table e_src
create_window e_win e_src "$TUMBLE" sync
settle
E_LOAD=$(timed_sql "COPY e_src FROM '$CSV' (FORMAT csv)")
log "e: $N rows loaded with the window in $(printf '%.3f' "$E_LOAD") s"
fresh_table e_plain
settle
timed_sql "COPY e_plain FROM '$CSV' (FORMAT csv)" >/dev/null
# twice: the sources as they are, then with the index on the time column
# that create_window's NOTICE recommends (count(DISTINCT) recomputes the
# touched groups from the source rows of their windows)
declare -A E_WIN_ALL E_PLAIN_ALL E_WIN E_PLAIN E_MAINT
E_INDEX=""
for ix in noindex index; do
	last=ROLLBACK
	if [ "$ix" = index ]; then
		settle
		E_INDEX=$(timed_sql "CREATE INDEX ON e_src (event_time)")
		timed_sql "CREATE INDEX ON e_plain (event_time)" >/dev/null
		sql "ANALYZE e_src; ANALYZE e_plain" >/dev/null
		last=COMMIT
	fi
	E_WIN_ALL[$ix]=$(delta_copies e_src "$last")
	E_PLAIN_ALL[$ix]=$(delta_copies e_plain "$last")
	# shellcheck disable=SC2086
	E_WIN[$ix]=$(median ${E_WIN_ALL[$ix]})
	# shellcheck disable=SC2086
	E_PLAIN[$ix]=$(median ${E_PLAIN_ALL[$ix]})
	E_MAINT[$ix]=$(fsub "${E_WIN[$ix]}" "${E_PLAIN[$ix]}")
	log "e ($ix): delta COPY with the window $(ms "${E_WIN[$ix]}") ms (each: ${E_WIN_ALL[$ix]})," \
		"without $(ms "${E_PLAIN[$ix]}") ms (each: ${E_PLAIN_ALL[$ix]})"
done
check_count e_src $((N + D))
check_count e_plain $((N + D))
verify e_win "$(expected_tumble e_src)" "" "after the delta"
E_SIZE=$(window_size e_win)
E_STATUS=$(sql "SELECT 'watermark ' || watermark || ', open windows ' || open_windows || ', final ' || final_windows
	|| ', late rows ' || late_rows FROM pipeline.window_status s WHERE $(STATUS_WHERE e_win)")
log "e: e_win: $E_SIZE; $E_STATUS"

MV_QUERY="SELECT date_bin('5 minutes', event_time, $EPOCH) AS window_start,
	date_bin('5 minutes', event_time, $EPOCH) + interval '5 minutes' AS window_end,
	page, count(*) AS views, count(DISTINCT user_id) AS users, sum(amount) AS amount
	FROM e_plain GROUP BY 1, 2, 3"
settle
E_MV_CREATE=$(timed_sql "CREATE MATERIALIZED VIEW e_mv AS $MV_QUERY")
E_REFRESH_ALL=""
for ((r = 1; r <= REFRESH_REPS; r++)); do
	settle
	E_REFRESH_ALL+=" $(timed_sql "REFRESH MATERIALIZED VIEW e_mv")"
done
E_REFRESH_ALL=${E_REFRESH_ALL# }
# shellcheck disable=SC2086
E_REFRESH=$(median $E_REFRESH_ALL)
declare -A E_RATIO E_RATIO_PCT T_E
for ix in noindex index; do
	E_RATIO[$ix]=$(ratio3 "${E_MAINT[$ix]}" "$E_REFRESH")
	E_RATIO_PCT[$ix]=$(awk -v r="${E_RATIO[$ix]}" 'BEGIN { if (r == "n/a") print "n/a"; else printf "%.1f", r * 100 }')
	T_E[$ix]=$(met_le "${E_RATIO[$ix]}" 0.05)
done
log "e: REFRESH MATERIALIZED VIEW over $((N + D)) rows: $(printf '%.3f' "$E_REFRESH") s (each: $E_REFRESH_ALL);" \
	"maintenance $(ms "${E_MAINT[noindex]}") ms = ${E_RATIO_PCT[noindex]} % of it without an index on" \
	"event_time, $(ms "${E_MAINT[index]}") ms = ${E_RATIO_PCT[index]} % with one"
# the window and the matview agree (the same rows, in two tables)
if [ "$VERIFY" = 1 ]; then
	res=$(sql "SELECT (SELECT count(*) FROM (SELECT window_start, window_end, page, views, users, amount FROM e_win
	                     EXCEPT ALL SELECT * FROM e_mv) x),
	                  (SELECT count(*) FROM (SELECT * FROM e_mv EXCEPT ALL
	                     SELECT window_start, window_end, page, views, users, amount FROM e_win) y)")
	[ "$res" = "0|0" ] || FINDINGS+=("e_win and the matview e_mv differ (window-only|matview-only rows: $res)")
fi
# for the record: the initial aggregation of create_window over existing rows
settle
E_CREATE=$(timed_sql "SELECT pipeline.create_window('e_plain_win', 'e_plain', 'event_time', $TUMBLE, '$AGGS',
	group_by => '{page}')")
log "e: create_window over $((N + D)) existing rows: $(printf '%.3f' "$E_CREATE") s" \
	"(CREATE MATERIALIZED VIEW: $(printf '%.3f' "$E_MV_CREATE") s)"
verify e_plain_win "$(expected_tumble e_plain)" "" "create_window over existing rows"
drop_window e_plain_win
drop_window e_win
sql "DROP MATERIALIZED VIEW e_mv; DROP TABLE e_plain; DROP TABLE e_src" >/dev/null

# ---------------------------------------------------------------- (f) concurrency
cat >"$WORK/insert.sql" <<SQL
INSERT INTO :tab (user_id, action, page, event_time, amount)
SELECT 1 + (random() * 99999)::bigint,
       (ARRAY['view', 'view', 'view', 'click', 'add_to_cart', 'purchase'])[1 + (random() * 5)::int],
       CASE WHEN g % 50 = 0 THEN '/' ELSE '/products/' || (1 + (random() * 2005)::int) END,
       now(),
       round((random() * 500)::numeric, 2)
  FROM generate_series(1, $BATCH) g;
SQL
chmod 644 "$WORK/insert.sql"

declare -A CONC_RATE CONC_NOTE
# pgbench_run KIND CLIENTS: prints "rows_per_s|failed|retried"
pgbench_run() {
	local kind=$1 c=$2 out tps failed retried
	out=$(timeout $((CONC_SECONDS + STEP_TIMEOUT)) "$PGBENCH" -n -h "$WORK" -p "$PORT" -U postgres \
		-f "$WORK/insert.sql" -D tab="f_$kind" -c "$c" -j "$c" -T "$CONC_SECONDS" \
		--max-tries=10 --failures-detailed "$DB" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "pgbench into f_$kind with $c clients"
	}
	printf '%s\n' "$out" >"$WORK/pgbench-$kind-$c.txt"
	tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p')
	failed=$(printf '%s\n' "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
	retried=$(printf '%s\n' "$out" | sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p')
	[ -n "$tps" ] || { printf '%s\n' "$out" >&2; die "no tps from pgbench"; }
	echo "$(awk -v t="$tps" -v b="$BATCH" 'BEGIN { printf "%.0f", t * b }')|${failed:-0}|${retried:-0}"
}

log "---- (f) concurrent writers: pgbench, $BATCH rows per transaction at now(), $CONC_SECONDS s per run"
for kind in $CONC_KINDS; do
	mode=${kind%_nd}
	aggs=$AGGS
	cols="views, users, amount"
	if [ "$kind" != "$mode" ]; then
		aggs=$AGGS_ND
		cols="views, amount"
	fi
	fresh_table "f_$kind"
	[ "$CONC_INDEX" != 1 ] || sql "CREATE INDEX ON f_$kind (event_time)" >/dev/null
	[ "$kind" = none ] || create_window "f_${kind}_win" "f_$kind" "$TUMBLE" "$mode" "$aggs"
	settle
	for c in 1 "$CONC_CLIENTS"; do
		IFS='|' read -r r failed retried <<<"$(pgbench_run "$kind" "$c")"
		CONC_RATE[$kind,$c]=$r
		note="failed $failed, retried $retried"
		if [ "$mode" = async ] || [ "$mode" = append ]; then
			pend=$(pending_delta "f_${kind}_win")
			drain=$(wait_merged "f_${kind}_win")
			note+=", $pend rows pending at the end, merged $(printf '%.2f' "$drain") s later"
		fi
		CONC_NOTE[$kind,$c]=$note
		log "f: $kind, $c clients: $r rows/s ($note)"
	done
	if [ "$kind" != none ]; then
		rows=$(sql "SELECT count(*) FROM f_$kind")
		verify "f_${kind}_win" "$(expected_tumble "f_$kind" "" "$aggs")" "" "after pgbench, $rows rows" "$cols"
		drop_window "f_${kind}_win"
	fi
	sql "DROP TABLE f_$kind" >/dev/null
done

# ---------------------------------------------------------------- report
bench_medians "${PATHS[@]}"
# shellcheck disable=SC2086
C_MERGE=$(median ${MERGE[c]})
# shellcheck disable=SC2086
BA_FOLD=$(median ${MERGE[ba]:-0})
# COPY + merge of each round, then the median
C_TOTAL_ALL=""
read -ra cc <<<"${COPY_ONLY[c]}"
read -ra cm <<<"${MERGE[c]}"
for i in "${!cc[@]}"; do C_TOTAL_ALL+=" $(fadd "${cc[$i]}" "${cm[$i]}")"; done
# shellcheck disable=SC2086
C_TOTAL=$(median $C_TOTAL_ALL)
R_BA=$(ratio "${MED[b]}" "${MED[a]}")
R_BNA=$(ratio "${MED[bn]}" "${MED[a]}")
R_CA=$(ratio "${MED[c]}" "${MED[a]}")
R_CTA=$(ratio "$C_TOTAL" "${MED[a]}")
R_DA=$(ratio "${MED[d]}" "${MED[a]}")
T_BA=$(met_le "$R_BA" 1.3)
R_BAA=$(ratio "${MED[ba]:-}" "${MED[a]}")
T_BAA=$(met_le "$R_BAA" 1.3)
declare -A SCALE
for kind in $CONC_KINDS; do
	SCALE[$kind]=$(ratio "${CONC_RATE[$kind,$CONC_CLIENTS]}" "${CONC_RATE[$kind,1]}")
done
# (the maintainer is stopped, "terminating ... due to administrator command",
# whenever the last async window goes: not counted)
SERVER_ERRORS=$(grep -E '(ERROR|FATAL|PANIC|WARNING):' "$WORK/server.log" |
	grep -cv 'terminating background worker "pg_pipeline maintainer" due to administrator command' || true)

SO_CHANGED=""
if [ "$(md5sum "$SO" | cut -c1-12)" != "$(sed -n 's/.*md5 \([0-9a-f]*\)$/\1/p' "$RESULTS" | head -1)" ]; then
	SO_CHANGED="WARNING: $SO was replaced during the run; the server kept the library it loaded at start"
	log "$SO_CHANGED"
fi
{
	echo "# 1-minute load average at the start of each round:$ROUND_LOAD; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -z "$SO_CHANGED" ] || echo "# $SO_CHANGED"
	echo
	printf '%-4s %-62s %10s %12s  %s\n' path what "median s" "median rows/s" "seconds of each round"
	row() {
		printf '%-4s %-62s %10.3f %12s  %s\n' "$1" "$2" "${MED[$1]}" "${RATE_MED[$1]}" "${SECS[$1]# }"
	}
	row a "COPY, no aggregate"
	row b "COPY, 5-min tumbling window by page, sync"
	row bn "  b without count(DISTINCT): count(*), sum(amount) only"
	row ba "COPY, the same window in mode append (COPY only)"
	printf '%-4s %-62s %10.3f %12s  %s\n' "" "  (the fold after the COPY, by the maintainer)" "$BA_FOLD" "" "${MERGE[ba]# }"
	row c "COPY, the same window async (COPY only)"
	printf '%-4s %-62s %10.3f %12s  %s\n' c+ "  c, COPY + until the maintainer merged it all" "$C_TOTAL" \
		"$(rate "$N" "$C_TOTAL")" "${C_TOTAL_ALL# }"
	printf '%-4s %-62s %10.3f %12s  %s\n' "" "  (merge after the COPY alone)" "$C_MERGE" "" "${MERGE[c]# }"
	row d "COPY, 10-min/1-min hopping window by page, sync"
	echo
	echo "window tables after the COPY (round 1): b ${SIZE[b]:-?}; bn ${SIZE[bn]:-?}; c ${SIZE[c]:-?}; d ${SIZE[d]:-?}"
	echo
	echo "ratios of the medians (time): b/a = $R_BA (target <= 1.3: $T_BA)   ba/a = $R_BAA (append: $T_BAA)" \
		"  bn/a = $R_BNA   c/a = $R_CA" \
		"  (c COPY + merge)/a = $R_CTA   d/a = $R_DA"
	echo
	echo "(e) 1 % delta: $D rows COPYed onto $N in the last windows (medians of $DELTA_REPS, rolled back but the"
	echo "  very last), sync window; without, then with an index on the sources' event_time:"
	for ix in noindex index; do
		echo "  $ix: with the window $(ms "${E_WIN[$ix]}") ms (each: ${E_WIN_ALL[$ix]} s), without a window" \
			"$(ms "${E_PLAIN[$ix]}") ms (each: ${E_PLAIN_ALL[$ix]} s)"
		echo "  $ix: maintenance $(ms "${E_MAINT[$ix]}") ms = ${E_RATIO_PCT[$ix]} % of the REFRESH" \
			"(target <= 5 %: ${T_E[$ix]})"
	done
	echo "  REFRESH MATERIALIZED VIEW of the same GROUP BY over $((N + D)) rows: $(ms "$E_REFRESH") ms" \
		"(each: $E_REFRESH_ALL s)"
	echo "  window table after it: $E_SIZE; $E_STATUS"
	echo "  for the record: $N rows COPYed with the window $(ms "$E_LOAD") ms; CREATE INDEX on event_time" \
		"$(ms "$E_INDEX") ms; create_window over $((N + D)) existing rows $(ms "$E_CREATE") ms;" \
		"CREATE MATERIALIZED VIEW $(ms "$E_MV_CREATE") ms"
	echo
	echo "(f) concurrent writers, pgbench $CONC_SECONDS s per run, $BATCH random rows per transaction at now()," \
		"--max-tries=10; $([ "$CONC_INDEX" = 1 ] && echo "an index on event_time in every source" ||
			echo "no index on the sources"); _nd: count(*) and sum(amount) only (no count(DISTINCT)):"
	printf '  %-9s %14s %14s %8s %9s  %s\n' window "1 client" "$CONC_CLIENTS clients" scaling "vs none" notes
	for kind in $CONC_KINDS; do
		printf '  %-9s %10s r/s %10s r/s %8s %9s  1: %s; %s: %s\n' "$kind" "${CONC_RATE[$kind,1]}" \
			"${CONC_RATE[$kind,$CONC_CLIENTS]}" "${SCALE[$kind]}" \
			"$(ratio "${SCALE[$kind]}" "${SCALE[none]:-}")" "${CONC_NOTE[$kind,1]}" \
			"$CONC_CLIENTS" "${CONC_NOTE[$kind,$CONC_CLIENTS]}"
	done
	echo
	if [ "$VERIFY" = 1 ]; then
		if [ ${#FINDINGS[@]} -eq 0 ]; then
			echo "checks: every window table checked equals the from-scratch GROUP BY; is_final agrees with the watermark"
		else
			echo "checks FAILED:"
			printf '  %s\n' "${FINDINGS[@]}"
		fi
	fi
	echo "server log: $SERVER_ERRORS ERROR/FATAL/PANIC/WARNING lines, besides the maintainer being stopped when" \
		"the last async window is dropped ($WORK/server.log)"
	echo
	for p in "${PATHS[@]}"; do
		echo "RESULT path=$p rows=$N median_seconds=${MED[$p]} rows_per_s=${RATE_MED[$p]} seconds=$(echo "${SECS[$p]# }" | tr ' ' ',')"
	done
	echo "RESULT path=c_merge rows=$N median_seconds=$C_MERGE seconds=$(echo "${MERGE[c]# }" | tr ' ' ',')"
	echo "RESULT path=c_total rows=$N median_seconds=$C_TOTAL rows_per_s=$(rate "$N" "$C_TOTAL")"
	echo "RESULT ratio=b/a value=$R_BA target=1.3 status=${T_BA// /_}"
	echo "RESULT ratio=ba/a value=$R_BAA target=1.3 status=${T_BAA// /_} fold_seconds=$BA_FOLD"
	echo "RESULT ratio=bn/a value=$R_BNA"
	echo "RESULT ratio=c/a value=$R_CA"
	echo "RESULT ratio=c_total/a value=$R_CTA"
	echo "RESULT ratio=d/a value=$R_DA"
	for ix in noindex index; do
		echo "RESULT delta source=$ix rows=$D with_window_ms=$(ms "${E_WIN[$ix]}") without_ms=$(ms "${E_PLAIN[$ix]}")" \
			"maintenance_ms=$(ms "${E_MAINT[$ix]}") refresh_ms=$(ms "$E_REFRESH")"
		echo "RESULT ratio=maintenance/refresh source=$ix value=${E_RATIO[$ix]} target=0.05 status=${T_E[$ix]// /_}"
	done
	echo "RESULT create_window_existing_ms=$(ms "$E_CREATE") create_matview_ms=$(ms "$E_MV_CREATE")"
	for kind in $CONC_KINDS; do
		echo "RESULT concurrency window=$kind rows_per_s_1=${CONC_RATE[$kind,1]}" \
			"rows_per_s_$CONC_CLIENTS=${CONC_RATE[$kind,$CONC_CLIENTS]} scaling=${SCALE[$kind]}"
	done
	echo "RESULT checks failed=${#FINDINGS[@]} verify=$VERIFY server_log_errors=$SERVER_ERRORS"
} >>"$RESULTS"

echo
cat "$RESULTS"
log "results kept in $RESULTS; stopping the server"
