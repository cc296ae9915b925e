# Sourced by scripts/test and scripts/bench: a throwaway PostgreSQL cluster from
# the installed Debian binaries. Sets PG_URL; pg_stop removes the cluster.

ensure_postgres() {
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "==> installing PostgreSQL (Debian package postgresql)"
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        else
            echo "PostgreSQL is missing and this user cannot install it (need root for apt-get)" >&2
            return 1
        fi
    fi
}

pg_start() {
    ensure_postgres || return 1
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PG_DIR=$(mktemp -d /tmp/orion-pg-XXXXXX)
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local run=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PG_DIR"
        run=(runuser -u postgres --)
    fi
    "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    "${run[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_DIR" -h 127.0.0.1 -p "$PG_PORT" \
        -c fsync="${PG_FSYNC:-off}" -c synchronous_commit="${PG_SYNC_COMMIT:-off}" -c max_connections=400 \
        >"$PG_DIR/postgres.log" 2>&1 &
    PG_PID=$!
    for _ in $(seq 1 100); do
        "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q && break
        sleep 0.1
    done
    "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q || { cat "$PG_DIR/postgres.log" >&2; return 1; }
    PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PG_PORT"
}

pg_stop() {
    if [ -n "${PG_PID:-}" ]; then
        # PG_PID may be runuser, which does not pass signals on: stop the postmaster itself.
        local postmaster
        postmaster=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)
        kill -INT "${postmaster:-$PG_PID}" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PG_PID" 2>/dev/null || true
        wait "$PG_PID" 2>/dev/null || true
        PG_PID=
    fi
    [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
    PG_DIR=
}
