#!/usr/bin/env bash
# bench/model_graph.sh: model selection and parallel model runs (issue 12).
#
#   bash bench/model_graph.sh [MODELS]     as root; MODELS default 1000
#
# Builds and installs the extension (skip with PP_BENCH_BUILD=0), starts a
# throwaway PostgreSQL (as the postgres user, port 55497, socket and files
# in /tmp/pp-bench-models) and measures:
#
#   1   a graph of MODELS models written into the catalog (model i reads
#       model i-1 and model i/2: one chain through all of them, so "+tip"
#       selects every model), then the plan of "+tip"
#       (pipeline.select_models('+tip')), of the whole graph and of
#       "tag:t7" (every model has one of ten tags), each the median of 5
#       runs; goal: "+tip" under 1 s.  With pipeline.create_model (the
#       definition API, helper A) the models are created through it, so
#       the creation time counts its dependency analysis; without it the
#       rows are inserted straight into pipeline.models and
#       pipeline.model_edges, and only planning is measured.
#   2   a wide graph: WIDE (8) table models of WIDE_ROWS (1,000,000) rows
#       each, built by pipeline.start_run with 1 worker, then with 2 (the
#       invocation's ended_at - started_at), and by pipeline.run in the
#       session for reference; the ratio 1 worker / 2 workers.  The machine
#       is shared: the ratio, not the seconds, is the result.
#
# Without pipeline._model_build (helper B's part) a stand-in that runs
# CREATE TABLE AS is created first, and the results say so.
#
# Environment: PP_BENCH_WORK (/tmp/pp-bench-models), PP_BENCH_PORT (55497),
# PP_BENCH_BUILD (1), PP_BENCH_TIMEOUT (seconds per step, 600),
# MODEL_BENCH_WIDE (8), MODEL_BENCH_WIDE_ROWS (1000000).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-1000}
WORK=${PP_BENCH_WORK:-/tmp/pp-bench-models}
PORT=${PP_BENCH_PORT:-55497}
DB=bench
PGDATA_DIR=$WORK/data
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-600}
WIDE=${MODEL_BENCH_WIDE:-8}
WIDE_ROWS=${MODEL_BENCH_WIDE_ROWS:-1000000}
RESULTS=$WORK/results.txt

trap bench_stop_server EXIT

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

bench_start_server <<CONF
pg_pipeline.model_workers = 2
CONF
bench_psql
sql "CREATE EXTENSION pg_pipeline; CREATE SCHEMA bm;"

stand_ins=()
if [ "$(sql "SELECT to_regclass('pipeline.model_edges') IS NULL")" = t ]; then
	stand_ins+=(model_edges)
	sql "CREATE TABLE pipeline.model_edges (model_id integer REFERENCES pipeline.models ON DELETE CASCADE,
	         upstream_oid oid, upstream_name text, upstream_model_id integer)"
fi
if [ "$(sql "SELECT to_regprocedure('pipeline._model_build(integer,boolean,timestamptz,timestamptz)') IS NULL")" = t ]; then
	stand_ins+=(_model_build)
	sql "CREATE FUNCTION pipeline._model_build(model_id integer, full_refresh boolean DEFAULT false,
	         interval_start timestamptz DEFAULT NULL, interval_end timestamptz DEFAULT NULL)
	     RETURNS bigint LANGUAGE plpgsql AS \$\$
	     DECLARE m pipeline.models; n bigint;
	     BEGIN
	         SELECT * INTO m FROM pipeline.models WHERE models.model_id = _model_build.model_id;
	         EXECUTE format('DROP TABLE IF EXISTS %I.%I', m.schema_name, m.relation_name);
	         EXECUTE format('CREATE TABLE %I.%I AS %s', m.schema_name, m.relation_name, m.sql);
	         GET DIAGNOSTICS n = ROW_COUNT;
	         RETURN n;
	     END \$\$"
fi
HAVE_CREATE=$(sql "SELECT to_regprocedure('pipeline.create_model(text,text,text,text,text[],name,interval,text,text[],text,text,name,text[],text)') IS NOT NULL")

# ---------------------------------------------------------------- 1. selection
log "1. $N models (create_model: $HAVE_CREATE)"
t0=$(now)
if [ "$HAVE_CREATE" = t ]; then
	# views: each reads its two upstream models, which exist (created and built first)
	sql "SELECT pipeline.create_model('bm.m1', 'SELECT 1 AS x', tags => '{t1}');
	     SELECT * FROM pipeline.run('bm.m1');" >/dev/null
	# psql times each statement: the create_model calls and the runs apart
	{
		echo '\timing on'
		for i in $(seq 2 "$N"); do
			echo "SELECT pipeline.create_model('bm.m$i', 'SELECT x FROM bm.m$((i - 1)) UNION ALL SELECT x FROM bm.m$((i / 2))', tags => '{t$((i % 10))}');"
			echo "SELECT count(*) FROM pipeline.run('bm.m$i');"
		done
	} | timeout "$STEP_TIMEOUT" "${PSQL[@]}" |
		awk '/^Time: / { t[k++ % 2] += $2 } END { printf "%.3f %.3f\n", t[0] / 1000, t[1] / 1000 }' \
			>"$WORK/create_run_s"
	read -r CREATE_ONLY_S RUN_ONLY_S <"$WORK/create_run_s"
else
	sql "INSERT INTO pipeline.models (name, schema_name, relation_name, sql, tags, search_path)
	     SELECT 'bm.m' || i, 'bm', 'm' || i, 'SELECT 1 AS x', ARRAY['t' || i % 10], '\"bm\"'
	       FROM generate_series(1, $N) i ORDER BY i;
	     INSERT INTO pipeline.model_edges (model_id, upstream_oid, upstream_name, upstream_model_id)
	     SELECT m.model_id, 0, u.name, u.model_id
	       FROM pipeline.models m
	       JOIN generate_series(2, $N) i ON m.name = 'bm.m' || i
	       JOIN pipeline.models u ON u.name IN ('bm.m' || (i - 1), 'bm.m' || (i / 2))"
fi
CREATE_S=$(fsub "$(now)" "$t0")
EDGES=$(sql "SELECT count(*) FROM pipeline.model_edges WHERE upstream_model_id IS NOT NULL")
log "created $N models, $EDGES edges between models, in $CREATE_S s" \
	"(create_model ${CREATE_ONLY_S:-?} s, building them one by one ${RUN_ONLY_S:-?} s)"

declare -A PLAN PLAN_N SELECTOR=([tip]="+bm.m$N" [all]="" [tag]="tag:t7")
for key in tip all tag; do
	times=()
	for _ in 1 2 3 4 5; do
		t0=$(now)
		PLAN_N[$key]=$(sql "SELECT count(*) FROM pipeline.select_models('${SELECTOR[$key]}')")
		times+=("$(fsub "$(now)" "$t0")")
	done
	PLAN[$key]=$(median "${times[@]}")
	log "plan of '${SELECTOR[$key]}': ${PLAN_N[$key]} models in ${PLAN[$key]} s (median of 5, psql round trip included)"
done
[ "${PLAN_N[tip]}" = "$N" ] || die "+tip selected ${PLAN_N[tip]} models, expected $N"

# ---------------------------------------------------------------- 2. parallel runs
log "2. wide graph: $WIDE models of $WIDE_ROWS rows"
sql "SELECT count(*) FROM (SELECT pipeline.drop_model(name) FROM pipeline.models) x" >/dev/null 2>&1 ||
	sql "DELETE FROM pipeline.models"
sql "INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, tags, search_path)
     SELECT 'bm.w' || i, 'bm', 'w' || i, 'SELECT g AS x, md5(g::text) AS h FROM generate_series(1, $WIDE_ROWS) g',
            'table', '{wide}', '\"bm\"'
       FROM generate_series(1, $WIDE) i"

declare -A WIDE_S
parallel_run() {			# parallel_run WORKERS: seconds the invocation took
	local id status
	id=$(sql "SELECT pipeline.start_run('tag:wide', workers => $1)")
	for _ in $(seq 1 "$STEP_TIMEOUT"); do
		status=$(sql "SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id")
		[ "$status" != running ] && break
		sleep 0.2
	done
	[ "$status" = success ] || die "invocation $id with $1 workers: $status"
	sql "SELECT extract(epoch FROM ended_at - started_at) FROM pipeline.model_invocations WHERE invocation_id = $id"
}
sql "SELECT count(*) FROM pipeline.run('tag:wide')" >/dev/null	# warm-up
t0=$(now)
sql "SELECT count(*) FROM pipeline.run('tag:wide')" >/dev/null
WIDE_S[session]=$(fsub "$(now)" "$t0")
WIDE_S[w1]=$(parallel_run 1)
WIDE_S[w2]=$(parallel_run 2)
log "in the session ${WIDE_S[session]} s, 1 worker ${WIDE_S[w1]} s, 2 workers ${WIDE_S[w2]} s"

# ---------------------------------------------------------------- results
{
	echo "# pg_pipeline model benchmark, $(date -u +%FT%TZ): bash bench/model_graph.sh $N"
	echo "# host: $(nproc) CPUs, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# pg_pipeline: tree at $(git -C "$PP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown);" \
		"stand-ins: ${stand_ins[*]:-none}; create_model: $HAVE_CREATE"
	echo "RESULT models=$N edges=$EDGES create_s=$CREATE_S create_model_s=${CREATE_ONLY_S:-} run_s=${RUN_ONLY_S:-} (create_model: $HAVE_CREATE)"
	echo "RESULT plan selector=+tip models=${PLAN_N[tip]} s=${PLAN[tip]} goal_s=1"
	echo "RESULT plan selector=all models=${PLAN_N[all]} s=${PLAN[all]}"
	echo "RESULT plan selector=tag:t7 models=${PLAN_N[tag]} s=${PLAN[tag]}"
	echo "RESULT wide models=$WIDE rows_each=$WIDE_ROWS session_s=${WIDE_S[session]} workers1_s=${WIDE_S[w1]} workers2_s=${WIDE_S[w2]}"
	echo "RESULT ratio=wide_1_worker/2_workers value=$(ratio "${WIDE_S[w1]}" "${WIDE_S[w2]}")"
} | tee "$RESULTS"
