#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of the PostgreSQL key store.
#
#   eval "$(bash scripts/postgres-test-cluster.sh start)"   # prints export lines
#   ... swift test / pytest (they read ENVSEAL_TEST_POSTGRES_URL) ...
#   bash scripts/postgres-test-cluster.sh stop               # uses ENVSEAL_TEST_POSTGRES_DIR
#
# start: installs PostgreSQL from Debian's packages when initdb is missing (as root), creates a
# cluster in a new temporary folder listening on 127.0.0.1 only, on a free port, with a role
# `envseal` (trust authentication, for this throwaway cluster only) and a database
# `envseal_test`, and prints `export ENVSEAL_TEST_POSTGRES_URL=…` and
# `export ENVSEAL_TEST_POSTGRES_DIR=…` on stdout (everything else goes to stderr).
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user (created
# when missing).
# stop: stops the cluster in ENVSEAL_TEST_POSTGRES_DIR (or the folder given) and removes it.
set -euo pipefail

say() { echo "postgres-test-cluster: $*" >&2; }
die() {
  echo "postgres-test-cluster: error: $*" >&2
  exit 1
}

# The folder of initdb, pg_ctl and postgres: on PATH, else Debian's newest version.
bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return
  fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$newest" ] && [ -x "$newest/initdb" ] && echo "$newest"
}

install_postgres() {
  [ "$(id -u)" = 0 ] || die "initdb is missing; install PostgreSQL (Debian: sudo apt-get install -y postgresql)"
  command -v apt-get >/dev/null 2>&1 || die "initdb is missing and there is no apt-get to install PostgreSQL with"
  say "installing PostgreSQL (apt-get install postgresql)"
  apt-get update -qq >&2
  # The package's own cluster is not wanted: no service starts in a container without systemd,
  # and ours is made below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u "$OWNER" -- "$@"
    else
      su -s /bin/sh "$OWNER" -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local bin
  bin="$(bindir || true)"
  if [ -z "$bin" ]; then
    install_postgres
    bin="$(bindir || true)"
    [ -n "$bin" ] || die "PostgreSQL was installed but initdb is not found"
  fi
  OWNER="$(id -un)"
  if [ "$(id -u)" = 0 ]; then
    OWNER=postgres
    if ! id -u "$OWNER" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER" || die "cannot create the user $OWNER"
    fi
  fi
  local dir port
  dir="$(mktemp -d "${TMPDIR:-/tmp}/envseal-postgres.XXXXXX")"
  chmod 0755 "$dir"
  [ "$(id -u)" = 0 ] && chown "$OWNER" "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U envseal --auth=trust --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Several servers and many test stores open pools at once; fsync is off because nothing here
  # must outlive the machine (a server process killed by a test loses nothing either way).
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 400
shared_buffers = 64MB
fsync = off
full_page_writes = off
CONF
  for attempt in 1 2 3; do
    port="$(free_port)"
    if as_owner "$bin/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      break
    fi
    grep -q "already in use" "$dir/server.log" 2>/dev/null || { cat "$dir/server.log" >&2; die "the cluster did not start"; }
    port=""
  done
  [ -n "$port" ] || die "no free port found for the cluster"
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U envseal envseal_test >&2 || die "createdb failed"
  echo "$bin" >"$dir/bindir"
  say "running on 127.0.0.1:$port, in $dir"
  echo "export ENVSEAL_TEST_POSTGRES_URL='postgres://envseal@127.0.0.1:$port/envseal_test?sslmode=disable'"
  echo "export ENVSEAL_TEST_POSTGRES_DIR='$dir'"
}

stop() {
  local dir="${1:-${ENVSEAL_TEST_POSTGRES_DIR:-}}"
  [ -n "$dir" ] || die "which cluster? give its folder or set ENVSEAL_TEST_POSTGRES_DIR"
  [ -d "$dir" ] || { say "no cluster at $dir"; return 0; }
  [ -f "$dir/bindir" ] || die "$dir is no cluster made by this script"
  OWNER="$(stat -c %U "$dir/data")"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || say "pg_ctl stop failed; removing anyway"
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 start|stop [DIR]" ;;
esac
