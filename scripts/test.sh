#!/usr/bin/env bash
# scripts/test.sh: run every test of pg_pipeline.
#
#   bash scripts/test.sh            everything: lint, pg_regress, TAP
#   bash scripts/test.sh t/010*.pl  only the TAP files named (under test/)
#   bash scripts/test.sh --no-tap   only lint and pg_regress
#
# Installs what it needs (as root), builds with -Werror, installs the
# extension, then runs, as the postgres user from a copy of the tree:
#   - make lint (cppcheck),
#   - the pg_regress suite (sql/, expected/) on a temporary instance with
#     the library preloaded,
#   - the TAP tests test/t/*.pl (PostgreSQL::Test::Cluster, the test
#     broker, kcat).
# It ends with one line "N passed, N failed" over all of them and exits
# non-zero when anything failed.

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

passed=0
failed=0
failures=()
count() {						# count NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
	fi
}

pp_install_deps
pp_build_install

WORK=${PP_TEST_WORK:-/tmp/pg_pipeline-test}
pp_make_workdir "$WORK"
cd "$WORK/tree"
PGXS_DIR=$(dirname "$(dirname "$(dirname "$("$(pp_pg_config)" --pgxs)")")")

no_tap=false
if [ "${1:-}" = --no-tap ]; then
	no_tap=true
	shift
fi

if [ $# -eq 0 ]; then
	pp_log "lint (cppcheck)"
	set +e
	make -s -C "$PP_ROOT" PG_CONFIG="$(pp_pg_config)" lint
	count lint $?
	set -e

	pp_log "pg_regress"
	mapfile -t regress < <(cd sql && ls -1 ./*.sql | sed 's|^\./||; s|\.sql$||')
	set +e
	pp_as_pg "$PGXS_DIR/src/test/regress/pg_regress" \
		--temp-instance="$WORK/regress_instance" \
		--temp-config=test/preload.conf \
		--port="${PP_TEST_PORT:-55432}" \
		--inputdir=. --outputdir="$WORK/regress" \
		--bindir="$PP_BINDIR" \
		"${regress[@]}" | tee "$WORK/regress.out"
	set -e
	while read -r name status; do
		count "regress/$name" "$status"
	done < <(sed -nE 's/^(test| ?[0-9]* *[+-]?) *([a-z0-9_]+) +\.\.\. (ok|FAILED|failed).*/\2 \3/p' "$WORK/regress.out" |
		awk '{ print $1, ($2 == "ok") ? 0 : 1 }')
	if [ ! -s "$WORK/regress.out" ] || ! grep -q 'tests passed\|tests failed\|test passed\|test failed' "$WORK/regress.out"; then
		count regress-run 1
	fi
	[ -f "$WORK/regress/regression.diffs" ] && cat "$WORK/regress/regression.diffs"
fi

pp_log "TAP tests"
pp_as_pg mkdir -p "$WORK/tap"
if $no_tap; then
	tap=()
elif [ $# -gt 0 ]; then
	tap=("$@")
else
	mapfile -t tap < <(cd test && ls -1 t/*.pl)
fi
for t in "${tap[@]+"${tap[@]}"}"; do
	set +e
	(cd test && pp_as_pg env TESTDIR="$WORK/tap" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
		prove -I "$PGXS_DIR/src/test/perl" -I . --timer "$t")
	count "tap/$t" $?
	set -e
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
	echo "logs: $WORK/tap/tmp_check/log, $WORK/regress"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
