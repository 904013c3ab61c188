#!/usr/bin/env bash
# scripts/demo.sh: the pg_pipeline demo on a throwaway server.
#
#   bash scripts/demo.sh          install, build, start, run the demo
#   bash scripts/demo.sh stop     stop the demo's server and broker
#
# Installs what it needs (as root), builds and installs the extension,
# starts a preloaded PostgreSQL (as the postgres user, port 5499, socket in
# /tmp/pg_pipeline-demo) and the test Kafka broker, runs scripts/demo.sql
# and prints how to connect.  Running it again starts everything afresh.

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

WORK=${PP_DEMO_WORK:-/tmp/pg_pipeline-demo}
PORT=${PP_DEMO_PORT:-5499}

demo_stop() {
	if [ -f "$WORK/data/postmaster.pid" ]; then
		pp_as_pg pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ -x "$WORK/tree/test/broker/pp-broker" ]; then
		pp_as_pg "$WORK/tree/test/broker/pp-broker" stop "$WORK/broker" >/dev/null 2>&1 || true
	fi
}

if [ "${1:-}" = stop ]; then
	demo_stop
	echo "demo stopped"
	exit 0
fi

pp_install_deps
pp_build_install
demo_stop
pp_make_workdir "$WORK"

pp_log "starting the test Kafka broker (librdkafka's mock cluster)"
BOOTSTRAP=$(pp_as_pg "$WORK/tree/test/broker/pp-broker" start "$WORK/broker" \
	--brokers 1 --topic user-events:4 --topic page-stats:1)
echo "broker at $BOOTSTRAP"

pp_log "starting PostgreSQL with pg_pipeline preloaded (port $PORT)"
pp_as_pg initdb -D "$WORK/data" -A trust -U postgres >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pg_pipeline'
max_worker_processes = 32    # launcher, coordinator, consumer, sink and the scheduler's runners
CONF
pp_as_pg pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
pp_as_pg createdb -h "$WORK" -p "$PORT" demo

pp_log "feeding 1,000 seed events to topic user-events with kcat"
for i in $(seq 1 1000); do
	printf 'u%d|{"user_id":"u%d","action":"view","page":"/p%d","event_time":"2026-11-25T12:%02d:00Z","amount":%d.5}\n' \
		$((i % 50)) $((i % 50)) $((i % 7)) $((i % 60)) $((i % 100))
done | kcat -P -b "$BOOTSTRAP" -t user-events -K '|' -z zstd
# and two bad ones: malformed JSON, and a wrong type
printf 'bad1|{"user_id": "u1", "action": \nbad2|{"user_id": "u2", "amount": "lots"}\n' |
	kcat -P -b "$BOOTSTRAP" -t user-events -K '|'
echo "messages in topic user-events: $(kcat -C -b "$BOOTSTRAP" -t user-events -o beginning -e -q | wc -l)"

pp_log "running scripts/demo.sql"
pp_as_pg psql -X -h "$WORK" -p "$PORT" -d demo -v ON_ERROR_STOP=1 \
	-v bootstrap="$BOOTSTRAP" -v lineage_html="$WORK/lineage.html" -f "$WORK/tree/scripts/demo.sql"
echo "   written: $WORK/lineage.html (open it in a browser)"

pp_log "what the sink published to topic page-stats (read back with kcat)"
for _ in $(seq 1 50); do
	n=$(kcat -C -b "$BOOTSTRAP" -t page-stats -o beginning -e -q | wc -l)
	[ "$n" -ge 7 ] && break
	sleep 0.2
done
kcat -C -b "$BOOTSTRAP" -t page-stats -o beginning -e -q -f 'key %k: %s\n'

cat <<MSG

The demo is running:
  connect:   psql -h $WORK -p $PORT -U postgres demo
             (as root: runuser -u postgres -- psql -h $WORK -p $PORT demo)
  broker:    $BOOTSTRAP   (kcat -L -b $BOOTSTRAP)
  lineage:   $WORK/lineage.html   (pipeline.lineage_html(), a self-contained page)
  logs:      $WORK/server.log, $WORK/broker/broker.log
  stop:      bash scripts/demo.sh stop
MSG
