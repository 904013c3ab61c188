# shellcheck shell=bash
# scripts/lib.sh: what the demo and the test command share.
#
# Both work on a fresh Debian 12 machine as root with nothing installed
# beforehand: they install the Debian packages they need, build and install
# the extension, and run every PostgreSQL server as the unprivileged user
# "postgres" (PostgreSQL refuses to run as root) from a work folder that user
# can read, since the checkout itself may sit under /root (mode 700).

set -euo pipefail

PP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
PP_PACKAGES=(gcc make libc6-dev pkg-config
	"postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
	librdkafka-dev libzstd-dev libyaml-dev libgraphviz-dev kcat libipc-run-perl cppcheck
	chromium)

pp_log() { printf '\n==> %s\n' "$*" >&2; }

# Install the Debian packages that are missing (root only).
pp_install_deps() {
	local missing=() p
	for p in "${PP_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
		exit 1
	fi
	pp_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# PG_CONFIG in the environment picks another server tree (a developer's
# private copy, say); the default is Debian's.
pp_pg_config() {
	if [ -n "${PG_CONFIG:-}" ]; then
		echo "$PG_CONFIG"
	elif [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" ]; then
		echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
	else
		command -v pg_config
	fi
}

# Build with warnings as errors and install into the server's tree.
pp_build_install() {
	local pgc
	pgc=$(pp_pg_config)
	PP_BINDIR=$("$pgc" --bindir)
	pp_log "building pg_pipeline against $("$pgc" --version)"
	make -C "$PP_ROOT" -s PG_CONFIG="$pgc" with_llvm=no WERROR=1
	make -C "$PP_ROOT" -s PG_CONFIG="$pgc" with_llvm=no install >/dev/null
	make -C "$PP_ROOT/test/broker" -s
}

# Run a command as the postgres user (directly when we are not root).  From
# a folder postgres may not enter (root's home, where a clone often is),
# the command runs from / instead: psql, initdb and pg_ctl would otherwise
# each print "could not change directory to ...".  Paths given to it must
# then be absolute (every caller's are).
pp_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		if runuser -u postgres -- test -x "$PWD"; then
			runuser -u postgres -- env PATH="$PP_BINDIR:$PATH" "$@"
		else
			(cd / && runuser -u postgres -- env PATH="$PP_BINDIR:$PATH" "$@")
		fi
	else
		env PATH="$PP_BINDIR:$PATH" "$@"
	fi
}

# A copy of the tree that the postgres user owns: tests and servers run
# there.  Sets PP_WORK.
pp_make_workdir() {
	PP_WORK=${1:?}
	rm -rf "$PP_WORK"
	mkdir -p "$PP_WORK/tree"
	tar -C "$PP_ROOT" --exclude=.git -cf - . | tar -C "$PP_WORK/tree" -xf -
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$PP_WORK"
	fi
}

PP_BINDIR=$(if [ -n "${PG_CONFIG:-}" ]; then "$PG_CONFIG" --bindir; else echo "/usr/lib/postgresql/$PG_MAJOR/bin"; fi)
