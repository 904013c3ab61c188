#!/usr/bin/env bash
# bench/lib.sh: what the benchmarks share; sourced by bench/*.sh after
# scripts/lib.sh.  The caller sets WORK, PORT, DB, PGDATA_DIR, STEP_TIMEOUT
# and N before using these.

log() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

now() { echo "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# psql as the postgres role over the bench socket (runs as root: trust auth)
bench_psql() {
	export PGOPTIONS='-c client_min_messages=warning'
	PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "$DB")
}
sql() { timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c "$1"; }

# timed SQL: seconds of one psql run of it (client round trip included)
timed() {
	local t0 t1
	t0=$(now)
	sql "$1" >/dev/null || die "failed: $1"
	t1=$(now)
	fsub "$t1" "$t0"
}

# bench_host_lines: the results file's lines about the host, the server
# and the tree (after the caller's first line)
bench_host_lines() {
	echo "# host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $("$PP_BINDIR/postgres" --version); pg_pipeline at $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

check_count() {
	local got
	got=$(sql "SELECT count(*) FROM $1")
	[ "$got" = "$2" ] || die "$1 has $got rows, expected $2"
}

declare -A SECS
record() {
	# record PATH SECONDS [NOTE]
	SECS[$1]="${SECS[$1]:-} $2"
	log "$1: $N rows in $(printf '%.3f' "$2") s = $(rate "$N" "$2") rows/s ${3:-}"
}

# bench_medians PATH...: MED[PATH] = the median seconds recorded for each
# path, RATE_MED[PATH] = its rows/s
bench_medians() {
	declare -gA MED RATE_MED
	local p
	for p in "$@"; do
		# shellcheck disable=SC2086
		MED[$p]=$(median ${SECS[$p]})
		# shellcheck disable=SC2034  # read by the caller
		RATE_MED[$p]=$(rate "$N" "${MED[$p]}")
	done
}

# bench_stop_server: stop the server bench_start_server started (fast, else
# immediate), if it did; for the callers' EXIT traps.
# bench_setup: what a benchmark does first, as root: on exit the server is
# stopped and its data removed (PP_BENCH_KEEP=1 keeps the data), the
# extension built and installed (PP_BENCH_BUILD=0 skips that), a server an
# earlier run left stopped, and WORK emptied for the postgres user.
bench_setup() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "run this as root (it starts PostgreSQL as the postgres user)" >&2
		exit 2
	fi
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	if [ "${PP_BENCH_BUILD:-1}" = 1 ]; then
		pp_build_install
	fi
	PP_BINDIR=${PP_BINDIR:-$("$(pp_pg_config)" --bindir)}
	if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
	mkdir -p "$WORK"
	chown postgres: "$WORK"
}

bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stop_server
	[ "${PP_BENCH_KEEP:-0}" = 1 ] || rm -rf "$PGDATA_DIR"
	exit "$rc"
}

bench_stop_server() {
	if [ "${started_server:-0}" = 1 ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		timeout 60 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop \
			>/dev/null 2>&1 ||
			timeout 30 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop \
				>/dev/null 2>&1 || true
	fi
}

# bench_start_server: initdb, the settings every benchmark uses (sized for
# bulk loading, durable commits) followed by the lines on standard input,
# start, and create the database.  Sets started_server=1 for
# bench_stop_server.
bench_start_server() {
	log "starting PostgreSQL (port $PORT, socket $WORK)"
	timeout 120 runuser -u postgres -- "$PP_BINDIR/initdb" -D "$PGDATA_DIR" -A trust -U postgres \
		--no-sync >/dev/null || die initdb
	{
		cat <<CONF
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
log_min_messages = warning
CONF
		cat
	} >>"$PGDATA_DIR/postgresql.conf"
	started_server=1
	timeout 120 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/server.log" -w start \
		>/dev/null || { tail -20 "$WORK/server.log" >&2; die "server did not start"; }
	timeout 60 "$PP_BINDIR/createdb" -h "$WORK" -p "$PORT" -U postgres "$DB"
}
