# Sourced by .ci/run and bench/run.sh: start_postgres starts a private PostgreSQL 15 as a non-root
# user on a free port below the ephemeral range and a fresh data directory, and exports
# PG_ADMIN_URL; stop_postgres stops it and deletes that directory (a test run leaves a gigabyte
# or more of databases and WAL behind, and a full disk makes the linker die with SIGBUS).
# Needs PostgreSQL's server binaries (PG_BIN).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-postgres}

_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

start_postgres() {
  PG_WORK=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
  chmod 755 "$PG_WORK"
  [ "$(id -u)" = 0 ] && chown -R "$PG_USER" "$PG_WORK"
  # A port below the kernel's ephemeral range (32768+), so no outgoing connection holds it.
  PG_PORT=${PG_PORT:-$(python3 -c 'import socket
for p in range(15432, 15532):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()')}
  echo "== starting PostgreSQL on port $PG_PORT"
  _as_pg "$PG_BIN/initdb" -D "$PG_WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -l "$PG_WORK/postgres.log" \
    -o "-p $PG_PORT -k $PG_WORK -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off" -w start
  export PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

stop_postgres() {
  [ -n "${PG_WORK:-}" ] || return 0
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_WORK"
}
