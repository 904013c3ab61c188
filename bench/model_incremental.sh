#!/usr/bin/env bash
# bench/model_incremental.sh: an incremental model against its full rebuild
# and against the same update written by hand the dbt way (issue 12).
#
#   bash bench/model_incremental.sh [N]     N source rows, default 10000000 (as root)
#   PP_BENCH_MODEL_ROWS=1000000 bash bench/model_incremental.sh   the same, smaller
#
# Builds and installs the extension (skip with PP_BENCH_BUILD=0), starts its
# own throwaway PostgreSQL (as the postgres user, port 55497, socket and
# files in /tmp/pp-bench-model), loads N orders into raw.orders (id bigint,
# customer_id int, amount numeric(10,2), status text, ordered_at
# timestamptz; an index on ordered_at), and builds three copies of the
# seed's fact_orders (each with a unique index on order_id and an index on
# ordered_at):
#
#   merge    model marts.fact_orders, incremental, strategy merge on
#            order_id, the filter written in the query as NORTH-STAR does:
#            WHERE NOT pipeline.is_incremental()
#               OR ordered_at > (SELECT max(ordered_at) FROM marts.fact_orders)
#   event    model marts.fact_orders_et, strategy event_time, incremental_by
#            ordered_at, no filter in the query
#   dbt      table marts.fact_orders_dbt, updated by hand as dbt's
#            delete+insert does: CREATE TEMP TABLE AS (the query with the
#            filter), DELETE ... WHERE order_id IN (SELECT order_id FROM
#            tmp), INSERT ... SELECT FROM tmp, in one transaction
#
# Then PP_BENCH_ROUNDS times (default 3): N/100 new orders are inserted
# (1 %, after the newest) and VACUUMed (so that no copy pays for setting
# their hint bits), a CHECKPOINT, and each of the three takes them in,
# timed, in turns (a different one first each round); the medians count.
# Last, the full rebuild: pipeline._model_build(merge, full_refresh =>
# true) over the N + rounds x N/100 rows, timed PP_BENCH_FULL_REPS times
# (default 1).  Every copy is checked against the
# source (count and sum of amount) at the end.  Ratios: incremental /
# full rebuild (target <= 5 %) and incremental / dbt by hand (target < 1).
#
# Environment: PP_BENCH_MODEL_ROWS (N when no argument), PP_BENCH_ROUNDS (3),
# PP_BENCH_FULL_REPS (1), PP_BENCH_WORK (/tmp/pp-bench-model), PP_BENCH_PORT
# (55497), PP_BENCH_BUILD (1), PP_BENCH_TIMEOUT (seconds per step, 1800),
# PP_BENCH_KEEP (0; 1 = keep the data directory), PP_BENCH_UPDATE_PCT (0:
# that percentage of each round's new orders re-sends an existing order id
# with new values, so merge and dbt's delete+insert update those rows; the
# event_time copy, which has no key, is then left out of the final check).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-${PP_BENCH_MODEL_ROWS:-10000000}}
ROUNDS=${PP_BENCH_ROUNDS:-3}
FULL_REPS=${PP_BENCH_FULL_REPS:-1}
WORK=${PP_BENCH_WORK:-/tmp/pp-bench-model}
PORT=${PP_BENCH_PORT:-55497}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-1800}
UPDATE_PCT=${PP_BENCH_UPDATE_PCT:-0}
DB=bench

for v in "$N" "$ROUNDS" "$FULL_REPS"; do
	case "$v" in
		'' | *[!0-9]* | 0) echo "usage: $0 [N]   (see the PP_BENCH_* settings in its header)" >&2; exit 2 ;;
	esac
done
D=$((N / 100))
[ "$D" -ge 1 ] || D=1
PGDATA_DIR="$WORK/data"
RESULTS="$WORK/results.txt"
bench_setup
{
	echo "# pg_pipeline incremental model benchmark, $(date -u +%FT%TZ): bash bench/model_incremental.sh $N," \
		"$ROUNDS rounds of $D new rows, $FULL_REPS full rebuild(s)"
	bench_host_lines
} >"$RESULTS"

bench_start_server <<CONF
work_mem = 64MB
CONF
bench_psql


log "loading $N orders"
sql "CREATE EXTENSION pg_pipeline" >/dev/null
sql "CREATE SCHEMA raw; CREATE SCHEMA marts;
     CREATE TABLE raw.orders (id bigint, customer_id int, amount numeric(10,2), status text,
                              ordered_at timestamptz);
     INSERT INTO raw.orders
     SELECT g, g % 100000, (g % 1000) / 10.0, CASE WHEN g % 20 = 0 THEN 'cancelled' ELSE 'paid' END,
            '2020-01-01'::timestamptz + g * interval '1 second'
       FROM generate_series(1, $N) g;
     CREATE INDEX ON raw.orders (ordered_at);" >/dev/null
sql "VACUUM ANALYZE raw.orders" >/dev/null

# the model's SELECT, with its filter, and without (event_time)
SELECT_COLS="id AS order_id, customer_id, amount AS order_amount, amount * 1.1 AS amount_with_tax,
             status AS order_status, ordered_at FROM raw.orders"
FILTER_OF() { echo "WHERE NOT pipeline.is_incremental() OR ordered_at > (SELECT max(ordered_at) FROM $1)"; }
sql "INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, strategy,
                                  unique_key, incremental_by, search_path)
     VALUES ('marts.fact_orders', 'marts', 'fact_orders',
             \$q\$SELECT $SELECT_COLS $(FILTER_OF marts.fact_orders)\$q\$,
             'incremental', 'merge', '{order_id}', NULL, '\"marts\"'),
            ('marts.fact_orders_et', 'marts', 'fact_orders_et', \$q\$SELECT $SELECT_COLS\$q\$,
             'incremental', 'event_time', NULL, 'ordered_at', '\"marts\"')" >/dev/null
MERGE_ID=$(sql "SELECT model_id FROM pipeline.models WHERE name = 'marts.fact_orders'")
EVENT_ID=$(sql "SELECT model_id FROM pipeline.models WHERE name = 'marts.fact_orders_et'")

log "first builds"
sql "SELECT pipeline._model_build($MERGE_ID)" >/dev/null
sql "SELECT pipeline._model_build($EVENT_ID)" >/dev/null
sql "CREATE TABLE marts.fact_orders_dbt AS SELECT $SELECT_COLS" >/dev/null
for t in fact_orders fact_orders_et fact_orders_dbt; do
	unique=UNIQUE
	# event_time has no key: with re-sent orders its copy holds an id twice
	[ "$t" = fact_orders_et ] && [ "$UPDATE_PCT" -gt 0 ] && unique=
	sql "CREATE $unique INDEX ON marts.$t (order_id); CREATE INDEX ON marts.$t (ordered_at)" >/dev/null
	sql "VACUUM ANALYZE marts.$t" >/dev/null
done

DBT_TX="BEGIN;
CREATE TEMP TABLE dbt_tmp AS SELECT $SELECT_COLS $(FILTER_OF marts.fact_orders_dbt | sed 's/NOT pipeline.is_incremental() OR //');
DELETE FROM marts.fact_orders_dbt WHERE order_id IN (SELECT order_id FROM dbt_tmp);
INSERT INTO marts.fact_orders_dbt SELECT * FROM dbt_tmp;
DROP TABLE dbt_tmp;
COMMIT;"

declare -A T MED
for r in $(seq 1 "$ROUNDS"); do
	log "round $r: $D new orders"
	sql "INSERT INTO raw.orders
	     SELECT g, g % 100000, (g % 1000) / 10.0, 'paid', '2020-01-01'::timestamptz + g * interval '1 second'
	       FROM generate_series((SELECT max(id) FROM raw.orders) + 1, (SELECT max(id) FROM raw.orders) + $D) g" >/dev/null
	if [ "$UPDATE_PCT" -gt 0 ]; then
		# re-sent orders, spread over the batch: id of an order from the
		# first load, ordered after the batch's own
		sql "UPDATE raw.orders SET id = id % $N + 1, status = 'refunded'
		      WHERE id > (SELECT max(id) FROM raw.orders) - $D
		        AND id % 100 < $UPDATE_PCT" >/dev/null
	fi
	# VACUUM sets the new rows' hint bits (and visibility), which the first
	# reader would otherwise pay for, and the three take turns going first
	# after the checkpoint: each pays the same for its own pages only
	sql "VACUUM ANALYZE raw.orders" >/dev/null
	sql "CHECKPOINT" >/dev/null
	order=(merge event dbt)
	for i in 0 1 2; do
		p=${order[$(((i + r) % 3))]}
		case $p in
			merge) stmt="SELECT pipeline._model_build($MERGE_ID)" ;;
			event) stmt="SELECT pipeline._model_build($EVENT_ID)" ;;
			dbt) stmt=$DBT_TX ;;
		esac
		T[$p]="${T[$p]:-} $(timed "$stmt")"
	done
	log "  merge $(echo "${T[merge]}" | awk '{print $NF}') s, event_time $(echo "${T[event]}" | awk '{print $NF}') s," \
		"dbt by hand $(echo "${T[dbt]}" | awk '{print $NF}') s"
done

# with re-sent orders the model's query (not deduplicated) cannot be
# rebuilt in full under the unique index: no full rebuild then
[ "$UPDATE_PCT" -gt 0 ] && FULL_REPS=0
for r in $(seq 1 "$FULL_REPS"); do
	log "full rebuild $r"
	sql "CHECKPOINT" >/dev/null
	T[full]="${T[full]:-} $(timed "SELECT pipeline._model_build($MERGE_ID, full_refresh => true)")"
	log "  full rebuild $(echo "${T[full]}" | awk '{print $NF}') s"
done

# every copy holds what the source holds
# (with re-sent orders: the last version of each id; event_time has no key)
want=$(sql "SELECT count(*) || ' ' || sum(amount)
              FROM (SELECT DISTINCT ON (id) amount FROM raw.orders ORDER BY id, ordered_at DESC) o")
copies="fact_orders fact_orders_dbt"
[ "$UPDATE_PCT" -gt 0 ] || copies="$copies fact_orders_et"
for t in $copies; do
	got=$(sql "SELECT count(*) || ' ' || sum(order_amount) FROM marts.$t")
	[ "$got" = "$want" ] || die "marts.$t has $got, raw.orders $want"
done

# shellcheck disable=SC2086
for p in merge event dbt; do MED[$p]=$(median ${T[$p]}); done
MED[full]=0
[ "$FULL_REPS" -gt 0 ] && MED[full]=$(median ${T[full]})
TOTAL=$(sql "SELECT count(*) FROM raw.orders")
{
	printf '%-34s %12s\n' "path (median seconds)" "seconds"
	[ "$FULL_REPS" -gt 0 ] && printf '%-34s %12.3f\n' "full rebuild ($TOTAL rows)" "${MED[full]}"
	printf '%-34s %12.3f\n' "incremental merge ($D new)" "${MED[merge]}"
	printf '%-34s %12.3f\n' "incremental event_time ($D new)" "${MED[event]}"
	printf '%-34s %12.3f\n' "dbt by hand ($D new)" "${MED[dbt]}"
	if [ "$FULL_REPS" -gt 0 ]; then
		echo "merge / full rebuild       = $(ratio "${MED[merge]}" "${MED[full]}")  (target <= 0.05)"
		echo "event_time / full rebuild  = $(ratio "${MED[event]}" "${MED[full]}")  (target <= 0.05)"
	fi
	echo "merge / dbt by hand        = $(ratio "${MED[merge]}" "${MED[dbt]}")  (target < 1)"
	echo "event_time / dbt by hand   = $(ratio "${MED[event]}" "${MED[dbt]}")  (target < 1)"
	echo "RESULT rows=$N new=$D update_pct=$UPDATE_PCT rounds=$ROUNDS full_s=${MED[full]} merge_s=${MED[merge]}" \
		"event_time_s=${MED[event]} dbt_s=${MED[dbt]}"
} | tee -a "$RESULTS"
log "results in $RESULTS"
