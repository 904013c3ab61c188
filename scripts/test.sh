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
#   - make installcheck: the pg_regress suite (test/sql, test/expected) on
#     a temporary instance with the library preloaded,
#   - make prove_installcheck: the TAP tests test/t/*.pl
#     (PostgreSQL::Test::Cluster, the test broker, kcat).
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
# the Makefile's test targets, run as postgres in the copy
pp_make() { pp_as_pg make -s PG_CONFIG="$(pp_pg_config)" "$@"; }

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

	pp_log "pg_regress (make installcheck)"
	set +e
	pp_make installcheck PGPORT="${PP_TEST_PORT:-55432}" | tee "$WORK/regress.out"
	set -e
	while read -r name status; do
		count "regress/$name" "$status"
	done < <(sed -nE 's/^(test| ?[0-9]* *[+-]?) *([a-z0-9_]+) +\.\.\. (ok|FAILED|failed).*/\2 \3/p' "$WORK/regress.out" |
		awk '{ print $1, ($2 == "ok") ? 0 : 1 }')
	if [ ! -s "$WORK/regress.out" ] || ! grep -q 'tests passed\|tests failed\|test passed\|test failed' "$WORK/regress.out"; then
		count regress-run 1
	fi
	[ -f test/regression.diffs ] && cat test/regression.diffs
fi

pp_log "TAP tests (make prove_installcheck)"
if $no_tap; then
	tap=()
elif [ $# -gt 0 ]; then
	tap=()
	for name in "$@"; do
		for f in test/$name; do tap+=("$f"); done	# names and patterns under test/
	done
else
	mapfile -t tap < <(ls -1 test/t/*.pl)
fi
if [ ${#tap[@]} -gt 0 ]; then
	# One prove over every file; a file failed when prove's summary
	# report names it, and the run failed when prove gave no result.
	set +e
	pp_make prove_installcheck PROVE_TESTS="${tap[*]}" PROVE_FLAGS=--timer 2>&1 | tee "$WORK/tap.out"
	set -e
	mapfile -t tap_failed < <(sed -n '/^Test Summary Report/,$ s/^\(test\/t\/[^ ]*\.pl\) .*(Wstat: .*/\1/p' "$WORK/tap.out")
	for t in "${tap[@]}"; do
		case " ${tap_failed[*]-} " in
		*" $t "*) count "tap/${t#test/}" 1 ;;
		*) count "tap/${t#test/}" 0 ;;
		esac
	done
	grep -q '^Result: ' "$WORK/tap.out" || count tap-run 1
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
	echo "logs: $WORK/tree/tmp_check/log (TAP), $WORK/tree/test/regression.diffs (pg_regress)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
