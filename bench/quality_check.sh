#!/usr/bin/env bash
# bench/quality_check.sh: pipeline.check() against one query per
# expectation the way dbt runs its tests, and the cost of gating a build
# (issue 13).
#
#   bash bench/quality_check.sh [N]     N rows, default 10000000 (as root)
#
# Builds and installs the extension (skip with PP_BENCH_BUILD=0), starts its
# own throwaway PostgreSQL (as the postgres user, port 55498, socket and
# files in /tmp/pp-bench-quality, the settings of bench/lib.sh) and loads
# N orders into bq.orders (id, customer_id, amount, status, email, country,
# code, created_at; no index but the primary key on id) and 100,000
# customers into bq.customers (primary key customer_id).  Some rows break
# some expectations (a NULL email in 1,000, a status outside the accepted
# ones in 1 of 10,000 rows, 50 duplicate codes, 20 unknown customers).
#
# PP_BENCH_PAD (default 0) adds a column "other" of that many bytes per
# row, standing for the other columns of a real fact table (dbt's reads all
# of the row's pages either way; 400 bytes is about 30 more columns).
#
# 1. Ten expectations on bq.orders, one of three mixes (PP_BENCH_MIX):
#      schema (default): what a dbt schema.yml puts on a fact table:
#        not_null and unique on the primary key id, not_null customer_id,
#        relationships customer_id -> customers, accepted_values status,
#        not_null email (warn), between amount, unique code (no index:
#        hashed), row_count, freshness created_at.  Two of them (the
#        primary key's) are proven by the catalog: check() does not scan
#        for them, dbt runs them (its unique is a GROUP BY of every row).
#      keys: the schema mix with a length test in place of the unique
#        on code: every unique is on a key with a unique index (as
#        dbt's docs advise, unique + not_null on each model's key), so
#        check() hashes nothing; dbt still groups every row for its unique.
#      heavy: none provable, and the costliest per row: not_null
#        customer_id, not_null email, unique code, accepted_values status,
#        relationships, between amount, regex email, length country,
#        row_count, freshness.
#    check:   SELECT * FROM pipeline.check('bq.orders')  (one scan of
#             orders, plus one of customers for the relationship)
#    dbt:     the ten queries dbt (and dbt_utils / dbt_expectations for the
#             kinds dbt has not) compiles for the same tests, each wrapped
#             as dbt wraps a test (select count(*) ... from (<test>)), one
#             after the other in one session: dbt runs one query per test
#             (with PostgreSQL's parallel workers where the planner picks
#             them; so does check()'s one scan: its aggregates are
#             parallel safe).
#    Each PP_BENCH_REPS times (default 3), taking turns; medians; the
#    failing counts of both are printed (dbt's unique counts groups,
#    check() rows).
#    Ratio: dbt / check (target >= 5).
# 2. Gating: a table model over bq.orders (N rows) with two expectations,
#    rebuilt by pipeline.run (no checks) and by pipeline.build (its checks
#    before it is published), PP_BENCH_REPS times each, in turns.  Ratio:
#    build / run: what gating costs.
#
# Environment: PP_BENCH_MIX (schema), PP_BENCH_PAD (0), PP_BENCH_REPS (3), PP_BENCH_WORK (/tmp/pp-bench-quality),
# PP_BENCH_PORT (55498), PP_BENCH_BUILD (1), PP_BENCH_TIMEOUT (seconds per
# step, 1800), PP_BENCH_KEEP (0; 1 = keep the data directory).

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-10000000}
REPS=${PP_BENCH_REPS:-3}
MIX=${PP_BENCH_MIX:-schema}
PAD=${PP_BENCH_PAD:-0}
WORK=${PP_BENCH_WORK:-/tmp/pp-bench-quality}
PORT=${PP_BENCH_PORT:-55498}
STEP_TIMEOUT=${PP_BENCH_TIMEOUT:-1800}
DB=bench
case "$MIX" in schema | keys | heavy) ;; *) echo "PP_BENCH_MIX is schema, keys or heavy" >&2; exit 2 ;; esac
for v in "$N" "$REPS"; do
	case "$v" in
		'' | *[!0-9]* | 0) echo "usage: $0 [N]   (see the PP_BENCH_* settings in its header)" >&2; exit 2 ;;
	esac
done
PGDATA_DIR="$WORK/data"
RESULTS="$WORK/results.txt"
bench_setup
{
	echo "# pg_pipeline quality benchmark, $(date -u +%FT%TZ): bash bench/quality_check.sh $N, mix $MIX, pad $PAD, $REPS reps"
	bench_host_lines
} >"$RESULTS"

bench_start_server <<CONF
work_mem = 64MB
CONF
bench_psql

log "loading $N orders"
sql "CREATE EXTENSION pg_pipeline" >/dev/null
sql "CREATE SCHEMA bq;
     CREATE TABLE bq.customers (customer_id int PRIMARY KEY, name text);
     INSERT INTO bq.customers SELECT g, 'c' || g FROM generate_series(1, 100000) g;
     CREATE TABLE bq.orders (id bigint PRIMARY KEY, customer_id int, amount numeric(10,2), status text,
                             email text, country text, code text, created_at timestamptz, other text);
     INSERT INTO bq.orders
     SELECT g,
            CASE WHEN g % ($N / 20) = 0 THEN 200000 + g % 7 ELSE g % 100000 + 1 END,
            (g % 100000) / 10.0,
            CASE WHEN g % 10000 = 0 THEN 'lost' WHEN g % 3 = 0 THEN 'shipped' ELSE 'paid' END,
            CASE WHEN g % ($N / 1000) = 0 THEN NULL ELSE 'user' || g || '@example.org' END,
            CASE g % 4 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' WHEN 2 THEN 'US' ELSE 'JP' END,
            'C' || CASE WHEN g % ($N / 50) = 0 THEN 1 ELSE g END,
            now() - (g % 86400) * interval '1 second',
            CASE WHEN $PAD > 0 THEN left(repeat(md5(g::text), ($PAD + 31) / 32), $PAD) END
       FROM generate_series(1, $N) g;" >/dev/null
sql "VACUUM ANALYZE bq.orders" >/dev/null
sql "VACUUM ANALYZE bq.customers" >/dev/null

# The ten expectations, and dbt's compiled test for each (dbt-core's
# generic tests not_null, unique, accepted_values, relationships;
# dbt_utils.accepted_range; dbt_expectations' regex, value lengths, row
# count; source freshness), each wrapped the way dbt wraps a test.
Q_NOT_NULL_ID="select count(*) from (select id from bq.orders where id is null) t"
Q_UNIQUE_ID="select count(*) from (select id as unique_field, count(*) as n_records from bq.orders where id is not null group by id having count(*) > 1) t"
Q_NOT_NULL_CUSTOMER="select count(*) from (select customer_id from bq.orders where customer_id is null) t"
Q_NOT_NULL_EMAIL="select count(*) from (select email from bq.orders where email is null) t"
Q_UNIQUE_CODE="select count(*) from (select code as unique_field, count(*) as n_records from bq.orders where code is not null group by code having count(*) > 1) t"
Q_ACCEPTED="select count(*) from (with all_values as (select status as value_field, count(*) as n_records from bq.orders group by status) select * from all_values where value_field not in ('paid', 'shipped')) t"
Q_RELATIONSHIPS="select count(*) from (with child as (select customer_id as from_field from bq.orders where customer_id is not null), parent as (select customer_id as to_field from bq.customers) select from_field from child left join parent on child.from_field = parent.to_field where parent.to_field is null) t"
Q_BETWEEN="select count(*) from (select * from bq.orders where not (amount >= 0 and amount <= 100000)) t"
Q_REGEX="select count(*) from (select * from bq.orders where not (email ~ '^[a-z0-9.]+@[a-z]+[.][a-z]+\$')) t"
Q_LENGTH="select count(*) from (select * from bq.orders where not (length(country) >= 2 and length(country) <= 2)) t"
Q_ROW_COUNT="select count(*) from (select count(*) as n from bq.orders) t where n < 1"
Q_FRESHNESS="select max(created_at) from bq.orders"
E_NOT_NULL_ID="SELECT pipeline.expect('bq.orders', 'id', 'not_null')"
E_UNIQUE_ID="SELECT pipeline.expect('bq.orders', 'id', 'unique')"
E_NOT_NULL_CUSTOMER="SELECT pipeline.expect('bq.orders', 'customer_id', 'not_null')"
E_NOT_NULL_EMAIL="SELECT pipeline.expect('bq.orders', 'email', 'not_null', severity => 'warn')"
E_UNIQUE_CODE="SELECT pipeline.expect('bq.orders', 'code', 'unique')"
E_ACCEPTED="SELECT pipeline.expect('bq.orders', 'status', 'accepted_values', '{\"values\": [\"paid\", \"shipped\"]}')"
E_RELATIONSHIPS="SELECT pipeline.expect('bq.orders', 'customer_id', 'relationships', '{\"to\": \"bq.customers\", \"field\": \"customer_id\"}')"
E_BETWEEN="SELECT pipeline.expect('bq.orders', 'amount', 'between', '{\"min\": 0, \"max\": 100000}')"
E_REGEX="SELECT pipeline.expect('bq.orders', 'email', 'regex', '{\"pattern\": \"^[a-z0-9.]+@[a-z]+[.][a-z]+\$\"}')"
E_LENGTH="SELECT pipeline.expect('bq.orders', 'country', 'length', '{\"min\": 2, \"max\": 2}')"
E_ROW_COUNT="SELECT pipeline.expect('bq.orders', NULL, 'row_count', '{\"min\": 1}')"
E_FRESHNESS="SELECT pipeline.expect('bq.orders', 'created_at', 'freshness', '{\"warn_after\": \"1 day\", \"error_after\": \"2 days\"}')"
case "$MIX" in
	schema) TESTS=(NOT_NULL_ID UNIQUE_ID NOT_NULL_CUSTOMER RELATIONSHIPS ACCEPTED NOT_NULL_EMAIL BETWEEN UNIQUE_CODE ROW_COUNT FRESHNESS) ;;
	keys) TESTS=(NOT_NULL_ID UNIQUE_ID NOT_NULL_CUSTOMER RELATIONSHIPS ACCEPTED NOT_NULL_EMAIL BETWEEN LENGTH ROW_COUNT FRESHNESS) ;;
	heavy) TESTS=(NOT_NULL_CUSTOMER NOT_NULL_EMAIL UNIQUE_CODE ACCEPTED RELATIONSHIPS BETWEEN REGEX LENGTH ROW_COUNT FRESHNESS) ;;
esac
DBT_QUERIES=()
for t in "${TESTS[@]}"; do
	e=E_$t q=Q_$t
	sql "${!e}" >/dev/null
	DBT_QUERIES+=("${!q}")
done
log "ten expectations ($MIX): ${TESTS[*]}"
DBT_SQL=$(printf '%s;\n' "${DBT_QUERIES[@]}")

declare -A T MED
for r in $(seq 1 "$REPS"); do
	log "round $r"
	if [ $((r % 2)) = 1 ]; then
		T[check]="${T[check]:-} $(timed "SELECT * FROM pipeline.check('bq.orders')")"
		T[dbt]="${T[dbt]:-} $(timed "$DBT_SQL")"
	else
		T[dbt]="${T[dbt]:-} $(timed "$DBT_SQL")"
		T[check]="${T[check]:-} $(timed "SELECT * FROM pipeline.check('bq.orders')")"
	fi
	log "  check $(echo "${T[check]}" | awk '{print $NF}') s, dbt's ten queries $(echo "${T[dbt]}" | awk '{print $NF}') s"
done

# both find the same failures (dbt's unique counts groups, check() rows)
CHECK_OUT=$(sql "SELECT string_agg(expectation || '=' || status || ':' || failing, ' ' ORDER BY expectation)
                   FROM pipeline.check('bq.orders')")
log "check: $CHECK_OUT"
DBT_OUT=$(for q in "${DBT_QUERIES[@]}"; do sql "$q"; done | tr '\n' ' ')
log "dbt's counts, in order: $DBT_OUT"
SCANS=$(sql "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'bq.orders'::regclass")
sql "SELECT * FROM pipeline.check('bq.orders')" >/dev/null
sleep 1
SCANS_ONE=$(( $(sql "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'bq.orders'::regclass") - SCANS ))
log "sequential scans of bq.orders by one check(): $SCANS_ONE (1 per process of a parallel scan)"

log "gating: a table model of $N rows with two expectations"
sql "SELECT pipeline.create_model('bq.fact_orders',
         'SELECT id AS order_id, customer_id, amount FROM bq.orders', materialized => 'table');
     SELECT * FROM pipeline.run('bq.fact_orders');
     SELECT pipeline.expect('bq.fact_orders', 'order_id', 'unique');
     SELECT pipeline.expect('bq.fact_orders', 'amount', 'between', '{\"min\": 0}');" >/dev/null
for r in $(seq 1 "$REPS"); do
	sql "CHECKPOINT" >/dev/null
	if [ $((r % 2)) = 1 ]; then
		T[run]="${T[run]:-} $(timed "SELECT * FROM pipeline.run('bq.fact_orders')")"
		sql "CHECKPOINT" >/dev/null
		T[build]="${T[build]:-} $(timed "SELECT * FROM pipeline.build('bq.fact_orders')")"
	else
		T[build]="${T[build]:-} $(timed "SELECT * FROM pipeline.build('bq.fact_orders')")"
		sql "CHECKPOINT" >/dev/null
		T[run]="${T[run]:-} $(timed "SELECT * FROM pipeline.run('bq.fact_orders')")"
	fi
	log "  run $(echo "${T[run]}" | awk '{print $NF}') s, build $(echo "${T[build]}" | awk '{print $NF}') s"
done
[ "$(sql "SELECT string_agg(status, ',') FROM pipeline.check_status WHERE relation = 'bq.fact_orders'::regclass")" = "pass,pass" ] ||
	die "the gated build's checks did not pass"

# shellcheck disable=SC2086
for p in check dbt run build; do MED[$p]=$(median ${T[$p]}); done
{
	printf '%-44s %12s\n' "path (median seconds)" "seconds"
	printf '%-44s %12.3f\n' "check(), 10 expectations, $N rows" "${MED[check]}"
	printf '%-44s %12.3f\n' "dbt's 10 test queries" "${MED[dbt]}"
	printf '%-44s %12.3f\n' "run (table model, no checks)" "${MED[run]}"
	printf '%-44s %12.3f\n' "build (the same, gated by 2 expectations)" "${MED[build]}"
	echo "dbt / check      = $(ratio "${MED[dbt]}" "${MED[check]}")  (target >= 5)"
	echo "build / run      = $(ratio "${MED[build]}" "${MED[run]}")  (the cost of gating)"
	echo "sequential scans of the table by one check(): $SCANS_ONE (1 per process of a parallel scan)"
	echo "check(): $CHECK_OUT"
	echo "dbt:     $DBT_OUT"
	echo "RESULT rows=$N mix=$MIX pad=$PAD reps=$REPS check_s=${MED[check]} dbt_s=${MED[dbt]} run_s=${MED[run]} build_s=${MED[build]}"
} | tee -a "$RESULTS"
log "results in $RESULTS"
