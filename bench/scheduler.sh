#!/usr/bin/env bash
# bench/scheduler.sh: pg_pipeline's scheduler side by side with pg_cron
# (issue 5).
#
#   bash bench/scheduler.sh               as root; 13 to 16 minutes
#   SCHED_BENCH_SMOKE=1 bash bench/scheduler.sh    a quick check, 4 to 7 minutes
#
# Builds and installs the extension (skip with PP_BENCH_BUILD=0), starts
# one throwaway PostgreSQL (as the postgres user, port 55490, socket and
# files in /tmp/pp-bench-sched) with shared_preload_libraries =
# 'pg_pipeline,pg_cron' (Debian's postgresql-15-cron, its jobs in
# background workers: cron.use_background_workers = on), both extensions in
# the database "bench", and measures, one after the other so that neither
# scheduler competes with the other's work:
#
#   1   start latency of a per-second job (pg_pipeline, schedule '1 second',
#       for SCHED_BENCH_SECONDS, default 120): from the scheduled instant
#       (the run's data_interval_end, a whole second) to the clock_timestamp()
#       its INSERT records; p50/p99/max.  Also the steps in between, from the
#       catalogs: the run made by the coordinator (dag_runs.created_at) and
#       the runner's start (task_runs.started_at).  The first 2 s after the
#       job is created are left out (warm-up); a fire with no run counts as
#       missed.  The CPU of both schedulers over that time, for the record.
#   1m  the same for a per-minute job in both, at the same time
#       (pg_pipeline '1 minute', pg_cron '* * * * *'), until each has fired
#       SCHED_BENCH_MINUTE_FIRES times (default 3).  pg_cron before 1.5 has
#       no second schedules, so this is the like-for-like latency; pg_cron's
#       scheduled instant is the whole minute (date_trunc of the command's
#       clock_timestamp(); also job_run_details.start_time).
#   2   CPU of the schedulers while idle: utime + stime of the pg_pipeline
#       coordinator (and of the pg_pipeline launcher) and of the pg_cron
#       launcher, from /proc/<pid>/stat, over SCHED_BENCH_CPU_SECONDS
#       (default 60), first with no job, then with SCHED_BENCH_JOBS (1000)
#       jobs in each that fire once a day, 12 hours away ('0 H * * *'); as
#       % of one core.
#   3   throughput: those SCHED_BENCH_JOBS jobs made to run once at the same
#       time, each a one-row INSERT.  pg_pipeline: pipeline.run_now() of
#       every job in one transaction, once per value of
#       pg_pipeline.max_task_runs in SCHED_BENCH_TASK_RUNS (default
#       "4 8 32"; 4 is the default), after a first burst at the default
#       (SCHED_BENCH_FIRST_BURST=1) that meets catalogs analyzed nearly
#       empty, reported on its own.  pg_cron has no "run now": every job is
#       altered to fire at the next whole minute at least 15 s away
#       (cron.alter_job), with cron.max_running_jobs at its default (5 with
#       background workers), then again after a restart with
#       cron.max_running_jobs = SCHED_BENCH_CRON_RUNNING (default 32; empty
#       = skip).  Each burst starts with a database-wide ANALYZE taken while
#       nothing runs (the statistics of a database where the scheduler has
#       been idle a while).  Tasks/s = jobs / (first task start -> last task
#       end); also the time from the trigger (run_now's commit, the whole
#       minute) to the last end, the CPU the scheduler process spent on the
#       burst, and the CPU of the whole server per task (the postmaster's
#       live and exited children), which other load on the machine barely
#       changes.
#
# Only some phases: SCHED_BENCH_PHASES (default "1 1m 2 3"; "3" = the
# throughput alone: the SCHED_BENCH_JOBS jobs are still created, without
# the CPU windows).  SCHED_BENCH_ROUNDS (1): the bursts of (3), pg_pipeline's
# and pg_cron's, repeated and alternated that many times; the table shows
# the round with the median tasks/s of each, every round's rate beside it.
# SCHED_BENCH_RUNNER_TASKS (empty): values of pg_pipeline.runner_max_tasks
# to try besides its default, at the default max_task_runs ("1": a new
# runner for every attempt, as before 0.9.0).
#
# Ratios are pg_pipeline / pg_cron, from this same run.  Every wait is
# bounded; the server is stopped at exit.  The results are printed as a
# table and as "RESULT key=value ..." lines, and kept in $WORK/results.txt
# (with the server log, $WORK/server.log).
#
# Environment: SCHED_BENCH_SECONDS (120), SCHED_BENCH_MINUTE_FIRES (3),
# SCHED_BENCH_CPU_SECONDS (60), SCHED_BENCH_JOBS (1000), SCHED_BENCH_FIRST_BURST (1),
# SCHED_BENCH_TASK_RUNS ("4 8 32"), SCHED_BENCH_CRON_RUNNING (32),
# SCHED_BENCH_SMOKE (0; 1 = 20 s latency, 1 minute fire, 10 s CPU windows,
# task runs "4 8", no pg_cron restart), PP_BENCH_WORK (/tmp/pp-bench-sched),
# PP_BENCH_PORT (55490), PP_BENCH_BUILD (1; 0 = use the installed
# extension), PP_BENCH_TIMEOUT (seconds per step, 600), PP_BENCH_KEEP (0;
# 1 = keep the data directory).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

SMOKE=${SCHED_BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
	LAT_SECONDS=${SCHED_BENCH_SECONDS:-20}
	MINUTE_FIRES=${SCHED_BENCH_MINUTE_FIRES:-1}
	CPU_SECONDS=${SCHED_BENCH_CPU_SECONDS:-10}
	TASK_RUNS=${SCHED_BENCH_TASK_RUNS:-4 8}
	CRON_RUNNING=${SCHED_BENCH_CRON_RUNNING-}
else
	LAT_SECONDS=${SCHED_BENCH_SECONDS:-120}
	MINUTE_FIRES=${SCHED_BENCH_MINUTE_FIRES:-3}
	CPU_SECONDS=${SCHED_BENCH_CPU_SECONDS:-60}
	TASK_RUNS=${SCHED_BENCH_TASK_RUNS:-4 8 32}
	CRON_RUNNING=${SCHED_BENCH_CRON_RUNNING-32}
fi
JOBS=${SCHED_BENCH_JOBS:-1000}
PHASES=" ${SCHED_BENCH_PHASES:-1 1m 2 3} "
ROUNDS=${SCHED_BENCH_ROUNDS:-1}
RUNNER_TASKS=${SCHED_BENCH_RUNNER_TASKS:-}
phase() { [[ "$PHASES" == *" $1 "* ]]; }
FIRST_BURST=${SCHED_BENCH_FIRST_BURST:-1}
WORK=${PP_BENCH_WORK:-/tmp/pp-bench-sched}
PORT=${PP_BENCH_PORT:-55490}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-600}
KEEP=${PP_BENCH_KEEP:-0}
DB=bench
# left out at the start of a latency measurement
WARMUP_S=2

for v in "$LAT_SECONDS" "$MINUTE_FIRES" "$CPU_SECONDS" "$JOBS" "$ROUNDS" $TASK_RUNS $CRON_RUNNING $RUNNER_TASKS; do
	case "$v" in
		'' | *[!0-9]* | 0) echo "usage: $0   (see the SCHED_BENCH_* settings in its header)" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "run this as root (it starts PostgreSQL as the postgres user)" >&2
	exit 2
fi
# the largest value of pg_pipeline.max_task_runs, and worker slots for it
# and for pg_cron's background workers
# shellcheck disable=SC2086  # lists of numbers
MAX_RUNS=$(printf '%s\n' $TASK_RUNS ${CRON_RUNNING:-5} | sort -n | tail -1)
PP_MAX_WORKERS=$((MAX_RUNS + 8))
MAX_WORKER_PROCESSES=$((2 * MAX_RUNS + 32))

PGDATA_DIR="$WORK/data"
RESULTS="$WORK/results.txt"
started_server=0


# ---- clean up whatever this script started, however it ends ----
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stop_server
	if [ "$KEEP" != 1 ]; then
		rm -rf "$PGDATA_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_psql

CLK_TCK=$(getconf CLK_TCK)
# the pid of the one process of a backend_type ("pg_cron launcher", ...)
pid_of() {
	local p
	p=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'")
	case "$p" in
		'' | *[!0-9]*) die "no single process \"$1\" (got: $p)" ;;
	esac
	echo "$p"
}
# utime + stime of a process, in clock ticks
cpu_ticks() {
	# the fields after the command name, which ends with the last ')'
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
# pct TICKS SECONDS: % of one core
pct() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN { if (s > 0) printf "%.3f", t / hz / s * 100; else print "n/a" }'; }
cpu_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'; }

# wait_for WHAT SECONDS CONDITION: waits until the SQL condition holds,
# checked every 0.1 s by a loop in one session (every check takes a new
# snapshot), so that waiting forks no backend: the bursts of (3) count the
# CPU of the server's exited processes
wait_for() {
	timeout $(($2 + 30)) "${PSQL[@]}" -c "SET statement_timeout = '${2}s'" -c "
		DO \$\$
		BEGIN
			WHILE NOT ($3) LOOP
				PERFORM pg_sleep(0.1);
				PERFORM pg_stat_clear_snapshot();
			END LOOP;
		END \$\$" >/dev/null || die "waited more than $2 s for $1"
}

# utime + stime of every process of the server: the postmaster, its live
# children, and the children it reaped (cutime + cstime)
server_ticks() {
	local pm
	pm=$(head -1 "$PGDATA_DIR/postmaster.pid")
	# (cat skips the processes that exit meanwhile)
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed 's/.*) //' |
		awk -v pm="$pm" -v self="$(sed 's/.*) //' "/proc/$pm/stat")" '
			$2 == pm { live += $12 + $13 }
			END { split(self, f, " "); print live + f[12] + f[13] + f[14] + f[15] }'
}
ms_per() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz * 1000 / n }'; }

# lat_stats QUERY: QUERY gives one column d (milliseconds); prints
# "n|p50|p99|max" (percentile_cont)
lat_stats() {
	sql "SELECT count(d), coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1)::text, 'n/a'),
	            coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1)::text, 'n/a'),
	            coalesce(round(max(d)::numeric, 1)::text, 'n/a')
	       FROM ($1) x"
}
met_le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "n/a" && v + 0 <= t) ? "met" : "NOT MET" }'; }

restart_server() {
	timeout 120 runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/server.log" -w \
		-m fast restart >/dev/null || { tail -20 "$WORK/server.log" >&2; die "server did not restart"; }
}


# ---------------------------------------------------------------- setup
pp_install_deps
dpkg-query -W -f='${Status}' "postgresql-$PG_MAJOR-cron" 2>/dev/null | grep -q 'ok installed' || {
	log "installing postgresql-$PG_MAJOR-cron"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "postgresql-$PG_MAJOR-cron" >/dev/null
}
if [ "${PP_BENCH_BUILD:-1}" = 1 ]; then
	pp_build_install
fi

if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
	runuser -u postgres -- "$PP_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
chown postgres: "$WORK"

SO="$("$(pp_pg_config)" --pkglibdir)/pg_pipeline.so"
CRON_PKG=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR-cron")
{
	echo "# pg_pipeline scheduler benchmark against pg_cron, $(date -u +%FT%TZ): bash bench/scheduler.sh" \
		"(latency ${LAT_SECONDS} s, $MINUTE_FIRES minute fires, CPU windows ${CPU_SECONDS} s, $JOBS jobs," \
		"max_task_runs $TASK_RUNS, cron.max_running_jobs default${CRON_RUNNING:+ and $CRON_RUNNING})"
	echo "# host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "# $("$PP_BINDIR/postgres" --version), postgresql-$PG_MAJOR-cron $CRON_PKG"
	echo "# pg_pipeline: tree at $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"($(git -C "$PP_ROOT" status --porcelain 2>/dev/null | wc -l) changed files);" \
		"$SO of $(date -u -r "$SO" +%FT%TZ), md5 $(md5sum "$SO" | cut -c1-12)"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

# One server for both: the same build, settings, shared buffers and disk;
# the phases run one after the other.  pg_cron connects to the database
# named by cron.database_name, so it is preloaded once the database exists.
bench_start_server <<CONF
timezone = 'UTC'
log_timezone = 'UTC'
max_worker_processes = $MAX_WORKER_PROCESSES
pg_pipeline.max_workers = $PP_MAX_WORKERS
CONF
cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_pipeline,pg_cron'
cron.database_name = '$DB'
cron.use_background_workers = on
CONF
restart_server
sql "CREATE EXTENSION pg_pipeline; CREATE EXTENSION pg_cron;" >/dev/null
PP_VERSION=$(sql "SELECT extversion FROM pg_extension WHERE extname = 'pg_pipeline'")
CRON_VERSION=$(sql "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
CRON_MAX_DEFAULT=$(sql "SHOW cron.max_running_jobs")
# the real cron parser, or the interval-only stub it replaced for a while
if [ "$(sql "SELECT pipeline.cron_next('0 3 * * *', '2026-01-01 00:00+00') = '2026-01-01 03:00+00'")" = t ]; then
	HAS_CRON=1
else
	HAS_CRON=0
fi
wait_for "the pg_pipeline coordinator" 30 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_pipeline coordinator'"
wait_for "the pg_cron launcher" 30 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"
PP_PID=$(pid_of 'pg_pipeline coordinator')
PP_LAUNCHER_PID=$(pid_of 'pg_pipeline launcher')
CRON_PID=$(pid_of 'pg_cron launcher')
log "pg_pipeline $PP_VERSION (coordinator $PP_PID, launcher $PP_LAUNCHER_PID), pg_cron $CRON_VERSION" \
	"(launcher $CRON_PID, cron.max_running_jobs $CRON_MAX_DEFAULT); cron expressions: $([ "$HAS_CRON" = 1 ] && echo yes || echo "no (stub)")"
{
	echo "# server: one for both, shared_preload_libraries = 'pg_pipeline,pg_cron', max_worker_processes" \
		"$MAX_WORKER_PROCESSES, pg_pipeline.max_workers $PP_MAX_WORKERS, cron.use_background_workers on," \
		"timezone UTC; pg_pipeline $PP_VERSION, pg_cron $CRON_VERSION (cron.max_running_jobs default" \
		"$CRON_MAX_DEFAULT)$([ "$HAS_CRON" = 1 ] || echo "; pg_pipeline without cron.c: interval schedules only")"
} >>"$RESULTS"

sql "CREATE TABLE lat_pp (kind text, fire timestamptz, started timestamptz);
     CREATE TABLE lat_cron (kind text, fire timestamptz, started timestamptz);
     CREATE TABLE tp_pp (job int, at timestamptz DEFAULT clock_timestamp());
     CREATE TABLE tp_cron (job int, at timestamptz DEFAULT clock_timestamp());" >/dev/null
# the command of pg_pipeline's latency job NAME
pp_insert() { echo "INSERT INTO lat_pp VALUES ('$1', pipeline.data_interval_end(), clock_timestamp())"; }

# pg_pipeline's latency steps of one job's scheduled runs fired in a range:
# the run made (tick), the runner started, the command ran
pp_steps_query() {
	local job=$1 from=$2 to=$3 col=$4
	case "$col" in
		tick) col="r.created_at" ;;
		runner) col="tr.started_at" ;;
		command) col="l.started" ;;
	esac
	echo "SELECT extract(epoch FROM $col - r.data_interval_end) * 1000 AS d
	        FROM pipeline.dag_runs r
	        JOIN pipeline.task_runs tr ON tr.run_id = r.run_id AND tr.attempt = 1
	        LEFT JOIN lat_pp l ON l.kind = '$job' AND l.fire = r.data_interval_end
	       WHERE r.dag = '$job' AND r.run_type = 'scheduled'
	         AND r.data_interval_end > '$from' AND r.data_interval_end <= '$to'"
}

# ---------------------------------------------------------------- 1 per-second job
declare -A L
if phase 1; then
log "---- (1) a per-second job in pg_pipeline for $LAT_SECONDS s"
T0=$(sql "SELECT now()")
sql "SELECT pipeline.schedule('lat_second', '1 second', \$cmd\$$(pp_insert lat_second)\$cmd\$)" >/dev/null
c0_pp=$(cpu_ticks "$PP_PID")
c0_cron=$(cpu_ticks "$CRON_PID")
s0=$(server_ticks)
w0=$(now)
sleep "$((LAT_SECONDS + WARMUP_S))"
c1_pp=$(cpu_ticks "$PP_PID")
c1_cron=$(cpu_ticks "$CRON_PID")
s1=$(server_ticks)
w1=$(now)
# the last fire counted: one whose run the coordinator has surely made
T1=$(sql "SELECT date_trunc('second', now()) - interval '1 second'")
sql "SELECT pipeline.disable('lat_second')" >/dev/null
wait_for "the last runs of lat_second" 60 \
	"SELECT NOT EXISTS (SELECT 1 FROM pipeline.dag_runs WHERE dag = 'lat_second' AND status IN ('queued', 'running'))"
FROM1=$(sql "SELECT '$T0'::timestamptz + interval '$WARMUP_S seconds'")
EXPECTED1=$(sql "SELECT count(*) FROM generate_series(date_trunc('second', '$FROM1'::timestamptz) + interval '1 second',
	'$T1'::timestamptz, interval '1 second')")
for step in tick runner command; do
	L[sec_$step]=$(lat_stats "$(pp_steps_query lat_second "$FROM1" "$T1" "$step")")
done
IFS='|' read -r SEC_N SEC_P50 SEC_P99 SEC_MAX <<<"${L[sec_command]}"
SEC_FAILED=$(sql "SELECT count(*) FROM pipeline.task_runs WHERE dag = 'lat_second' AND status <> 'success'")
SEC_MISSED=$((EXPECTED1 - SEC_N))
SEC_CPU_PP=$(pct "$((c1_pp - c0_pp))" "$(fsub "$w1" "$w0")")
SEC_CPU_CRON=$(pct "$((c1_cron - c0_cron))" "$(fsub "$w1" "$w0")")
# the whole server's CPU per second of the window: the runs' workers and all
SEC_CPU_SERVER=$(pct "$((s1 - s0))" "$(fsub "$w1" "$w0")")
log "per-second job: $SEC_N runs of $EXPECTED1 fires ($SEC_MISSED missed, $SEC_FAILED failed attempts);" \
	"start latency p50 $SEC_P50 ms, p99 $SEC_P99 ms, max $SEC_MAX ms;" \
	"coordinator CPU $SEC_CPU_PP % of a core, the whole server $SEC_CPU_SERVER % (pg_cron launcher, no job: $SEC_CPU_CRON %)"
sql "SELECT pipeline.unschedule('lat_second')" >/dev/null
fi

# ---------------------------------------------------------------- 1m per-minute jobs
if phase 1m; then
log "---- (1m) a per-minute job in both, $MINUTE_FIRES fires"
T0=$(sql "SELECT now()")
sql "SELECT pipeline.schedule('lat_minute', '1 minute', \$cmd\$$(pp_insert lat_minute)\$cmd\$);
     SELECT cron.schedule('lat_minute', '* * * * *',
       \$cmd\$INSERT INTO lat_cron VALUES ('lat_minute', date_trunc('minute', clock_timestamp()), clock_timestamp())\$cmd\$)" >/dev/null
FROM2=$(sql "SELECT '$T0'::timestamptz + interval '$WARMUP_S seconds'")
# the whole minutes after the warm-up
FIRES_TO=$(sql "SELECT date_trunc('minute', '$FROM2'::timestamptz) + interval '$MINUTE_FIRES minutes'")
wait_for "$MINUTE_FIRES fires of lat_minute in both" "$((MINUTE_FIRES * 60 + 90))" \
	"SELECT (SELECT count(*) FROM lat_pp WHERE kind = 'lat_minute' AND fire > '$FROM2' AND fire <= '$FIRES_TO') >= $MINUTE_FIRES
	    AND (SELECT count(*) FROM lat_cron WHERE fire > '$FROM2' AND fire <= '$FIRES_TO') >= $MINUTE_FIRES
	    AND (SELECT count(*) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')
	          AND start_time > '$FROM2') >= $MINUTE_FIRES"
sql "SELECT pipeline.disable('lat_minute'); SELECT cron.unschedule('lat_minute')" >/dev/null
wait_for "the last run of lat_minute" 60 \
	"SELECT NOT EXISTS (SELECT 1 FROM pipeline.dag_runs WHERE dag = 'lat_minute' AND status IN ('queued', 'running'))"
for step in tick runner command; do
	L[min_$step]=$(lat_stats "$(pp_steps_query lat_minute "$FROM2" "$FIRES_TO" "$step")")
done
L[cron_command]=$(lat_stats "SELECT extract(epoch FROM started - fire) * 1000 AS d FROM lat_cron
	WHERE fire > '$FROM2' AND fire <= '$FIRES_TO'")
L[cron_start]=$(lat_stats "SELECT extract(epoch FROM start_time - date_trunc('minute', start_time)) * 1000 AS d
	FROM cron.job_run_details WHERE start_time > '$FROM2' AND start_time < '$FIRES_TO'::timestamptz + interval '1 minute'")
IFS='|' read -r MIN_N MIN_P50 MIN_P99 MIN_MAX <<<"${L[min_command]}"
IFS='|' read -r CMIN_N CMIN_P50 CMIN_P99 CMIN_MAX <<<"${L[cron_command]}"
CRON_LAT_FAILED=$(sql "SELECT count(*) FROM cron.job_run_details WHERE status <> 'succeeded'")
log "per-minute job: pg_pipeline $MIN_N runs, p50 $MIN_P50 ms, max $MIN_MAX ms;" \
	"pg_cron $CMIN_N runs, p50 $CMIN_P50 ms, max $CMIN_MAX ms ($CRON_LAT_FAILED not succeeded)"
sql "SELECT pipeline.unschedule('lat_minute')" >/dev/null
fi

# ---------------------------------------------------------------- 2 idle CPU
# cpu_window LABEL: both schedulers' CPU over CPU_SECONDS; sets CPU[LABEL,*]
declare -A CPU
cpu_window() {
	local a0 b0 c0 a1 b1 c1 w0 w1 s
	a0=$(cpu_ticks "$PP_PID")
	b0=$(cpu_ticks "$PP_LAUNCHER_PID")
	c0=$(cpu_ticks "$CRON_PID")
	w0=$(now)
	sleep "$CPU_SECONDS"
	a1=$(cpu_ticks "$PP_PID")
	b1=$(cpu_ticks "$PP_LAUNCHER_PID")
	c1=$(cpu_ticks "$CRON_PID")
	w1=$(now)
	s=$(fsub "$w1" "$w0")
	CPU[$1,pp]=$(pct "$((a1 - a0))" "$s")
	CPU[$1,pp_launcher]=$(pct "$((b1 - b0))" "$s")
	CPU[$1,cron]=$(pct "$((c1 - c0))" "$s")
	CPU[$1,ticks]="$((a1 - a0))/$((b1 - b0))/$((c1 - c0))"
	log "CPU, $1: pg_pipeline coordinator ${CPU[$1,pp]} % (launcher ${CPU[$1,pp_launcher]} %)," \
		"pg_cron launcher ${CPU[$1,cron]} % of a core over $(printf '%.1f' "$s") s" \
		"(ticks of 1/$CLK_TCK s: ${CPU[$1,ticks]})"
}

if phase 2; then
	log "---- (2) CPU of the idle schedulers, $CPU_SECONDS s with no job, then with $JOBS jobs each"
	sleep 3
	cpu_window nojobs
fi
# fires once a day, 12 hours from now
IDLE_HOUR=$(( ($(date -u +%-H) + 12) % 24 ))
IDLE_CRON="0 $IDLE_HOUR * * *"
if [ "$HAS_CRON" = 1 ]; then
	IDLE_PP=$IDLE_CRON
else
	IDLE_PP="1440 minutes"
fi
t0=$(now)
sql "SELECT count(pipeline.schedule('idle_' || i, '$IDLE_PP', format('INSERT INTO tp_pp (job) VALUES (%s)', i)))
       FROM generate_series(1, $JOBS) i" >/dev/null
CREATE_PP=$(fsub "$(now)" "$t0")
t0=$(now)
sql "SELECT count(cron.schedule('idle_' || i, '$IDLE_CRON', format('INSERT INTO tp_cron (job) VALUES (%s)', i)))
       FROM generate_series(1, $JOBS) i" >/dev/null
CREATE_CRON=$(fsub "$(now)" "$t0")
log "created $JOBS jobs: pg_pipeline ('$IDLE_PP') in $(printf '%.2f' "$CREATE_PP") s," \
	"pg_cron ('$IDLE_CRON') in $(printf '%.2f' "$CREATE_CRON") s"
# both have read their new jobs
sleep 10
[ "$(pid_of 'pg_pipeline coordinator')" = "$PP_PID" ] || die "the coordinator restarted"
if phase 2; then
	cpu_window jobs
fi
T_CPU=$(met_le "${CPU[jobs,pp]:-n/a}" 1)

# ---------------------------------------------------------------- 3 throughput
declare -A TP
# tp_result KEY FIRST_START LAST_END TRIGGER OK ROWS TICKS SERVER_TICKS:
# stores and logs
tp_result() {
	local key=$1 span
	span=$(sql "SELECT extract(epoch FROM '$3'::timestamptz - '$2'::timestamptz)")
	TP[$key,span]=$span
	TP[$key,rate]=$(rate "$JOBS" "$span")
	TP[$key,makespan]=$(sql "SELECT round(extract(epoch FROM '$3'::timestamptz - '$4'::timestamptz)::numeric, 3)")
	TP[$key,first]=$(sql "SELECT round((extract(epoch FROM '$2'::timestamptz - '$4'::timestamptz) * 1000)::numeric, 1)")
	TP[$key,ok]=$5
	TP[$key,rows]=$6
	TP[$key,cpu]=$(cpu_s "$7")
	TP[$key,server_ms]=$(ms_per "$8" "$JOBS")
	log "$key: $JOBS tasks, first start -> last end $(printf '%.3f' "$span") s = ${TP[$key,rate]} tasks/s;" \
		"trigger -> first start ${TP[$key,first]} ms, trigger -> last end ${TP[$key,makespan]} s;" \
		"$5 succeeded, $6 rows; scheduler CPU ${TP[$key,cpu]} s, server CPU ${TP[$key,server_ms]} ms per task"
}

# Every burst starts from planner statistics taken while no run is running,
# as in a database where the scheduler has been running for a while (and
# not from whatever autovacuum happened to sample during the last burst)
idle_statistics() {
	sql "ANALYZE" >/dev/null
}

log "---- (3) $JOBS one-row INSERT tasks at once"
# pp_burst KEY RUNS [RUNNER_TASKS]: run_now of every job in one
# transaction, with pg_pipeline.max_task_runs = RUNS and
# pg_pipeline.runner_max_tasks = RUNNER_TASKS (empty: the defaults)
pp_burst() {
	local key=$1 runs=$2 rtasks=${3:-} before c0 c1 s0 s1 trigger first last ok
	if [ -n "$runs" ]; then
		sql "ALTER SYSTEM SET pg_pipeline.max_task_runs = $runs" >/dev/null
	else
		sql "ALTER SYSTEM RESET pg_pipeline.max_task_runs" >/dev/null
	fi
	if [ -n "$rtasks" ]; then
		sql "ALTER SYSTEM SET pg_pipeline.runner_max_tasks = $rtasks" >/dev/null
	elif [ "$(sql "SELECT count(*) FROM pg_settings WHERE name = 'pg_pipeline.runner_max_tasks'")" = 1 ]; then
		sql "ALTER SYSTEM RESET pg_pipeline.runner_max_tasks" >/dev/null
	fi
	sql "SELECT pg_reload_conf()" >/dev/null
	sleep 2
	sql "TRUNCATE tp_pp" >/dev/null
	idle_statistics
	before=$(sql "SELECT coalesce(max(run_id), 0) FROM pipeline.dag_runs")
	c0=$(cpu_ticks "$PP_PID")
	s0=$(server_ticks)
	trigger=$(timeout "$STEP_TIMEOUT" "${PSQL[@]}" -c BEGIN \
		-c "SELECT count(pipeline.run_now(name)) FROM pipeline.dags WHERE name LIKE 'idle\_%'" \
		-c "SELECT clock_timestamp()" -c COMMIT | sed -n 2p) || die "run_now"
	wait_for "$JOBS runs ($key)" "$STEP_TIMEOUT" \
		"SELECT count(*) = $JOBS FROM pipeline.dag_runs WHERE run_id > $before AND status IN ('success', 'failed')"
	c1=$(cpu_ticks "$PP_PID")
	s1=$(server_ticks)
	IFS='|' read -r first last ok <<<"$(sql "SELECT min(tr.started_at), max(tr.ended_at),
	        count(*) FILTER (WHERE tr.status = 'success')
	   FROM pipeline.task_runs tr WHERE tr.run_id > $before")"
	tp_result "$key" "$first" "$last" "$trigger" "$ok" "$(sql "SELECT count(*) FROM tp_pp")" "$((c1 - c0))" \
		"$((s1 - s0))"
	TP[$key,runs_done]=$(sql "SELECT round(extract(epoch FROM max(ended_at) - '$trigger'::timestamptz)::numeric, 3)
		FROM pipeline.dag_runs WHERE run_id > $before")
}
# The first burst meets catalogs analyzed nearly empty (the latency jobs'
# history went with them): a case of its own, as after retention or
# unschedule emptied pipeline.dag_runs.  The others start from statistics
# of a history of finished runs.
if [ "$FIRST_BURST" = 1 ]; then
	pp_burst pp_first ""
fi

# cron_burst KEY: every idle job fires at the next whole minute >= 15 s away
cron_burst() {
	local key=$1 fire before c0 c1 s0 s1 first last ok
	sql "TRUNCATE tp_cron" >/dev/null
	idle_statistics
	before=$(sql "SELECT coalesce(max(runid), 0) FROM cron.job_run_details")
	fire=$(sql "SELECT date_trunc('minute', now() + interval '15 seconds' + interval '59.999 seconds')")
	sql "SELECT count(cron.alter_job(jobid, schedule => to_char('$fire'::timestamptz AT TIME ZONE 'UTC', 'FMMI FMHH24 * * *')))
	       FROM cron.job WHERE jobname LIKE 'idle\_%'" >/dev/null
	log "$key: every job altered to fire at $fire"
	wait_for "the minute $fire" 120 "SELECT clock_timestamp() >= '$fire'::timestamptz - interval '2 seconds'"
	c0=$(cpu_ticks "$CRON_PID")
	s0=$(server_ticks)
	wait_for "$JOBS pg_cron runs ($key)" "$STEP_TIMEOUT" \
		"SELECT count(*) = $JOBS FROM cron.job_run_details WHERE runid > $before AND status IN ('succeeded', 'failed')"
	c1=$(cpu_ticks "$CRON_PID")
	s1=$(server_ticks)
	IFS='|' read -r first last ok <<<"$(sql "SELECT min(start_time), max(end_time), count(*) FILTER (WHERE status = 'succeeded')
	   FROM cron.job_run_details WHERE runid > $before")"
	tp_result "$key" "$first" "$last" "$fire" "$ok" "$(sql "SELECT count(*) FROM tp_cron")" "$((c1 - c0))" \
		"$((s1 - s0))"
	# back to idle (the next fire would be a day later anyway)
	sql "SELECT count(cron.alter_job(jobid, schedule => '$IDLE_CRON')) FROM cron.job WHERE jobname LIKE 'idle\_%'" >/dev/null
}
# median_round KEY: of the rounds KEY_r1 ... the one with the median
# tasks/s, copied to KEY; KEY,rounds lists every round's rate
median_round() {
	local key=$1 r best f
	best=$(for r in $(seq 1 "$ROUNDS"); do echo "${TP[${key}_r$r,rate]} $r"; done | sort -n |
		sed -n "$(((ROUNDS + 1) / 2))p" | cut -d' ' -f2)
	for f in span rate makespan first ok rows cpu server_ms runs_done; do
		TP[$key,$f]=${TP[${key}_r$best,$f]:-}
	done
	TP[$key,rounds]=$(for r in $(seq 1 "$ROUNDS"); do printf '%s ' "${TP[${key}_r$r,rate]}"; done)
}
# the rounds: every pg_pipeline setting, then pg_cron at its default
for r in $(seq 1 "$ROUNDS"); do
	for runs in $TASK_RUNS; do
		pp_burst "pp_${runs}_r$r" "$runs"
	done
	for rt in $RUNNER_TASKS; do
		pp_burst "pp_rt${rt}_r$r" "" "$rt"
	done
	sql "ALTER SYSTEM RESET pg_pipeline.max_task_runs" >/dev/null
	[ -z "$RUNNER_TASKS" ] || sql "ALTER SYSTEM RESET pg_pipeline.runner_max_tasks" >/dev/null
	sql "SELECT pg_reload_conf()" >/dev/null
	cron_burst "cron_${CRON_MAX_DEFAULT}_r$r"
done
for runs in $TASK_RUNS; do
	median_round "pp_$runs"
done
for rt in $RUNNER_TASKS; do
	median_round "pp_rt$rt"
done
median_round "cron_$CRON_MAX_DEFAULT"
CRON_KEYS=("cron_$CRON_MAX_DEFAULT")
if [ -n "$CRON_RUNNING" ] && [ "$CRON_RUNNING" != "$CRON_MAX_DEFAULT" ]; then
	log "restarting with cron.max_running_jobs = $CRON_RUNNING"
	sql "ALTER SYSTEM SET cron.max_running_jobs = $CRON_RUNNING" >/dev/null
	restart_server
	wait_for "the pg_cron launcher" 30 \
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"
	CRON_PID=$(pid_of 'pg_cron launcher')
	[ "$(sql "SHOW cron.max_running_jobs")" = "$CRON_RUNNING" ] || die "cron.max_running_jobs was not changed"
	sleep 3
	cron_burst "cron_$CRON_RUNNING"
	CRON_KEYS+=("cron_$CRON_RUNNING")
fi

# ---------------------------------------------------------------- report
SO_CHANGED=""
if [ "$(md5sum "$SO" | cut -c1-12)" != "$(sed -n 's/.*md5 \([0-9a-f]*\)$/\1/p' "$RESULTS" | head -1)" ]; then
	SO_CHANGED="WARNING: $SO was replaced during the run; the server kept the library it loaded at start"
	log "$SO_CHANGED"
fi
# besides pg_cron's and the server's own start and stop lines
SERVER_ERRORS=$(grep -E '(ERROR|FATAL|PANIC|WARNING):' "$WORK/server.log" |
	grep -cv 'terminating background worker .* due to administrator command\|terminating connection due to administrator command' || true)
if phase 1 && phase 1m; then
T_P99=$(met_le "$SEC_P99" 100)
R_MIN_P50=$(ratio "$MIN_P50" "$CMIN_P50")
R_MIN_MAX=$(ratio "$MIN_MAX" "$CMIN_MAX")
fi
steps() { IFS='|' read -r n p50 p99 max <<<"$1"; printf '%7s %9s %9s %9s' "$n" "$p50" "$p99" "$max"; }
{
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -z "$SO_CHANGED" ] || echo "# $SO_CHANGED"
	if phase 1 && phase 1m; then
	echo
	echo "(1) start latency, scheduled instant -> ..., ms (percentile_cont; first $WARMUP_S s left out)"
	printf '  %-52s %7s %9s %9s %9s\n' "" runs p50 p99 max
	printf '  %-52s %s\n' "pg_pipeline '1 second', run made by the coordinator" "$(steps "${L[sec_tick]}")"
	printf '  %-52s %s\n' "pg_pipeline '1 second', runner started" "$(steps "${L[sec_runner]}")"
	printf '  %-52s %s\n' "pg_pipeline '1 second', command's clock_timestamp()" "$(steps "${L[sec_command]}")"
	printf '  %-52s %s\n' "pg_pipeline '1 minute', run made" "$(steps "${L[min_tick]}")"
	printf '  %-52s %s\n' "pg_pipeline '1 minute', runner started" "$(steps "${L[min_runner]}")"
	printf '  %-52s %s\n' "pg_pipeline '1 minute', command's clock_timestamp()" "$(steps "${L[min_command]}")"
	printf '  %-52s %s\n' "pg_cron '* * * * *', job_run_details.start_time" "$(steps "${L[cron_start]}")"
	printf '  %-52s %s\n' "pg_cron '* * * * *', command's clock_timestamp()" "$(steps "${L[cron_command]}")"
	echo "  per-second job: $SEC_N runs of $EXPECTED1 fires in ${LAT_SECONDS} s ($SEC_MISSED missed," \
		"$SEC_FAILED attempts not successful); p99 $SEC_P99 ms (target < 100 ms: $T_P99)"
	echo "  per-minute job, pg_pipeline / pg_cron (command): p50 $R_MIN_P50, max $R_MIN_MAX"
	echo "  CPU during the per-second job: pg_pipeline coordinator $SEC_CPU_PP % of a core, the whole server" \
		"$SEC_CPU_SERVER % (runners included; pg_cron launcher, no job: $SEC_CPU_CRON %)"
	fi
	if phase 2; then
	echo
	echo "(2) CPU of the idle scheduler, % of one core over $CPU_SECONDS s (ticks of 1/$CLK_TCK s in brackets)"
	printf '  %-34s %14s %14s\n' "" "no job" "$JOBS jobs"
	printf '  %-34s %14s %14s\n' "pg_pipeline coordinator" "${CPU[nojobs,pp]}" "${CPU[jobs,pp]}"
	printf '  %-34s %14s %14s\n' "pg_pipeline launcher" "${CPU[nojobs,pp_launcher]}" "${CPU[jobs,pp_launcher]}"
	printf '  %-34s %14s %14s\n' "pg_cron launcher" "${CPU[nojobs,cron]}" "${CPU[jobs,cron]}"
	echo "  ticks coordinator/launcher/pg_cron: no job ${CPU[nojobs,ticks]}, $JOBS jobs ${CPU[jobs,ticks]};" \
		"pg_pipeline coordinator with $JOBS jobs < 1 %: $T_CPU"
	echo "  jobs: pg_pipeline '$IDLE_PP', pg_cron '$IDLE_CRON'; creating $JOBS jobs took" \
		"$(printf '%.2f' "$CREATE_PP") s (pg_pipeline.schedule) and $(printf '%.2f' "$CREATE_CRON") s (cron.schedule)"
	fi
	echo
	echo "(3) $JOBS one-row INSERT tasks at once (pg_pipeline: run_now of every job in one transaction;" \
		"pg_cron: every job at the same whole minute)"
	printf '  %-38s %9s %9s %12s %12s %9s %10s %12s\n' "" "span s" "tasks/s" "to 1st ms" "to last s" "ok" "sched CPU" \
		"server ms/task"
	if [ "$FIRST_BURST" = 1 ]; then
		k=pp_first
		printf '  %-38s %9.3f %9s %12s %12s %9s %10s %12s\n' "pg_pipeline, first burst (default cap)" "${TP[$k,span]}" \
			"${TP[$k,rate]}" "${TP[$k,first]}" "${TP[$k,makespan]}" "${TP[$k,ok]}" "${TP[$k,cpu]} s" "${TP[$k,server_ms]}"
	fi
	for runs in $TASK_RUNS; do
		k=pp_$runs
		printf '  %-38s %9.3f %9s %12s %12s %9s %10s %12s\n' "pg_pipeline, max_task_runs $runs" "${TP[$k,span]}" \
			"${TP[$k,rate]}" "${TP[$k,first]}" "${TP[$k,makespan]}" "${TP[$k,ok]}" "${TP[$k,cpu]} s" "${TP[$k,server_ms]}"
	done
	for rt in $RUNNER_TASKS; do
		k=pp_rt$rt
		printf '  %-38s %9.3f %9s %12s %12s %9s %10s %12s\n' "pg_pipeline, runner_max_tasks $rt" "${TP[$k,span]}" \
			"${TP[$k,rate]}" "${TP[$k,first]}" "${TP[$k,makespan]}" "${TP[$k,ok]}" "${TP[$k,cpu]} s" "${TP[$k,server_ms]}"
	done
	for k in "${CRON_KEYS[@]}"; do
		printf '  %-38s %9.3f %9s %12s %12s %9s %10s %12s\n' "pg_cron, cron.max_running_jobs ${k#cron_}" "${TP[$k,span]}" \
			"${TP[$k,rate]}" "${TP[$k,first]}" "${TP[$k,makespan]}" "${TP[$k,ok]}" "${TP[$k,cpu]} s" "${TP[$k,server_ms]}"
	done
	if [ "$ROUNDS" -gt 1 ]; then
		echo "  $ROUNDS rounds, alternated; the row of each is its median round. Tasks/s of every round:"
		for k in $(for runs in $TASK_RUNS; do echo "pp_$runs"; done) $(for rt in $RUNNER_TASKS; do echo "pp_rt$rt"; done) \
			"cron_$CRON_MAX_DEFAULT"; do
			echo "    $k: ${TP[$k,rounds]}"
		done
	fi
	[ "$FIRST_BURST" != 1 ] || echo "  first burst: the catalogs analyzed nearly empty (the latency jobs' history went" \
		"with them); the others: analyzed with a history of finished runs; all while nothing runs"
	echo "  span: first task start -> last task end; to 1st / to last: from the trigger (run_now's commit," \
		"the whole minute); sched CPU: of the coordinator / the pg_cron launcher during the burst;" \
		"server ms/task: CPU of every process of the server during the burst (exited ones too) / tasks"
	for rt in $RUNNER_TASKS; do
		echo "  pg_pipeline runner_max_tasks $rt: tasks/s vs pg_cron default:" \
			"$(ratio "${TP[pp_rt$rt,rate]}" "${TP[cron_$CRON_MAX_DEFAULT,rate]}")"
	done
	for runs in $TASK_RUNS; do
		echo "  pg_pipeline $runs: every DAG run marked finished $(printf '%s' "${TP[pp_$runs,runs_done]}") s after the trigger;" \
			"tasks/s vs pg_cron default: $(ratio "${TP[pp_$runs,rate]}" "${TP[cron_$CRON_MAX_DEFAULT,rate]}")$(
			[ -n "${TP[cron_${CRON_RUNNING:-x},rate]:-}" ] && echo ", vs pg_cron $CRON_RUNNING: $(ratio "${TP[pp_$runs,rate]}" "${TP[cron_$CRON_RUNNING,rate]}")")"
	done
	echo
	echo "server log: $SERVER_ERRORS ERROR/FATAL/PANIC/WARNING lines ($WORK/server.log)"
	echo
	if phase 1 && phase 1m; then
	echo "RESULT latency job=pp_second runs=$SEC_N fires=$EXPECTED1 missed=$SEC_MISSED p50_ms=$SEC_P50 p99_ms=$SEC_P99 max_ms=$SEC_MAX target_p99_ms=100 status=${T_P99// /_}"
	for step in tick runner; do
		IFS='|' read -r n p50 p99 max <<<"${L[sec_$step]}"
		echo "RESULT latency job=pp_second step=$step runs=$n p50_ms=$p50 p99_ms=$p99 max_ms=$max"
	done
	echo "RESULT latency job=pp_minute runs=$MIN_N p50_ms=$MIN_P50 p99_ms=$MIN_P99 max_ms=$MIN_MAX"
	echo "RESULT latency job=cron_minute runs=$CMIN_N p50_ms=$CMIN_P50 p99_ms=$CMIN_P99 max_ms=$CMIN_MAX"
	IFS='|' read -r n p50 p99 max <<<"${L[cron_start]}"
	echo "RESULT latency job=cron_minute step=start_time runs=$n p50_ms=$p50 p99_ms=$p99 max_ms=$max"
	echo "RESULT ratio=latency_minute_p50_pp/cron value=$R_MIN_P50"
	echo "RESULT cpu_during_second_job pp_pct=$SEC_CPU_PP server_pct=$SEC_CPU_SERVER cron_pct=$SEC_CPU_CRON"
	fi
	if phase 2; then
	for w in nojobs jobs; do
		echo "RESULT idle_cpu jobs=$([ "$w" = jobs ] && echo "$JOBS" || echo 0) pp_coordinator_pct=${CPU[$w,pp]}" \
			"pp_launcher_pct=${CPU[$w,pp_launcher]} cron_launcher_pct=${CPU[$w,cron]} seconds=$CPU_SECONDS"
	done
	echo "RESULT ratio=idle_cpu_pp/cron value=$(ratio "${CPU[jobs,pp]}" "${CPU[jobs,cron]}") target_pp_pct=1 status=${T_CPU// /_}"
	fi
	for rt in $RUNNER_TASKS; do
		k=pp_rt$rt
		echo "RESULT throughput scheduler=pg_pipeline runner_max_tasks=$rt tasks=$JOBS span_s=${TP[$k,span]}" \
			"tasks_per_s=${TP[$k,rate]} succeeded=${TP[$k,ok]} cpu_s=${TP[$k,cpu]} server_cpu_ms_per_task=${TP[$k,server_ms]}"
		echo "RESULT ratio=throughput_pp_rt${rt}/cron_$CRON_MAX_DEFAULT value=$(ratio "${TP[$k,rate]}" "${TP[cron_$CRON_MAX_DEFAULT,rate]}")"
	done
	for runs in $TASK_RUNS; do
		k=pp_$runs
		echo "RESULT throughput scheduler=pg_pipeline max_task_runs=$runs tasks=$JOBS span_s=${TP[$k,span]}" \
			"tasks_per_s=${TP[$k,rate]} trigger_to_last_end_s=${TP[$k,makespan]} succeeded=${TP[$k,ok]} cpu_s=${TP[$k,cpu]} server_cpu_ms_per_task=${TP[$k,server_ms]}"
		echo "RESULT ratio=throughput_pp_${runs}/cron_$CRON_MAX_DEFAULT value=$(ratio "${TP[$k,rate]}" "${TP[cron_$CRON_MAX_DEFAULT,rate]}")"
	done
	if [ "$FIRST_BURST" = 1 ]; then
		k=pp_first
		echo "RESULT throughput scheduler=pg_pipeline burst=first tasks=$JOBS span_s=${TP[$k,span]}" \
			"tasks_per_s=${TP[$k,rate]} trigger_to_first_start_ms=${TP[$k,first]} trigger_to_last_end_s=${TP[$k,makespan]}" \
			"succeeded=${TP[$k,ok]} cpu_s=${TP[$k,cpu]} server_cpu_ms_per_task=${TP[$k,server_ms]}"
	fi
	for k in "${CRON_KEYS[@]}"; do
		echo "RESULT throughput scheduler=pg_cron max_running_jobs=${k#cron_} tasks=$JOBS span_s=${TP[$k,span]}" \
			"tasks_per_s=${TP[$k,rate]} trigger_to_last_end_s=${TP[$k,makespan]} succeeded=${TP[$k,ok]} cpu_s=${TP[$k,cpu]}" \
			"server_cpu_ms_per_task=${TP[$k,server_ms]}"
	done
	echo "RESULT server_log_errors=$SERVER_ERRORS"
} >>"$RESULTS"

echo
cat "$RESULTS"
log "results kept in $RESULTS; stopping the server"
