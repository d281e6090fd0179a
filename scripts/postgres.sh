#!/usr/bin/env bash
# Runs a private PostgreSQL cluster for jobsd (tests, demo, several jobsd on one database),
# entirely inside DIR.
#
#   scripts/postgres.sh start  DIR [PORT]   (PORT: a free one from 25432 up when omitted)
#   scripts/postgres.sh stop   DIR          (fast shutdown)
#   scripts/postgres.sh status DIR          (exit 0 when it accepts connections)
#   scripts/postgres.sh url    DIR          (prints postgres://jobsd@127.0.0.1:PORT/jobsd)
#
# DIR holds data/ (initdb, once), log, and cluster.env (the port, so stop, status and url only
# need DIR). The server listens on 127.0.0.1 only, with its Unix socket in DIR; fsync stays on
# (durability is what the tests check). The superuser `jobsd` has trust authentication on
# loopback: a throwaway cluster for one machine, not a production setup.
# Run as root, the server runs as the `postgres` user (DIR is chowned to it), since PostgreSQL
# refuses to run as root.
set -euo pipefail
# shellcheck source=scripts/server-lib.sh
. "$(dirname "$0")/server-lib.sh"

PG_USER=postgres
DB_USER=jobsd
DB_NAME=jobsd

die() { echo "postgres.sh: $*" >&2; exit 2; }

usage() {
    echo "usage: scripts/postgres.sh start DIR [PORT] | stop DIR | status DIR | url DIR" >&2
    exit 2
}

# The newest installed server's binaries (Debian keeps them out of PATH).
pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $d && -x $d/initdb ]] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
    echo "$d"
}

as_pg=()
if [[ $(id -u) == 0 ]]; then
    id -u "$PG_USER" >/dev/null 2>&1 || die "user $PG_USER does not exist"
    as_pg=(runuser -u "$PG_USER" --)
fi

load_env() {
    DIR=$1
    [[ -d $DIR && -f $DIR/cluster.env ]] || return 1
    DIR=$(cd "$DIR" && pwd -P)
    # shellcheck source=/dev/null
    . "$DIR/cluster.env"
}

run_pg() { (cd "$DIR" && "${as_pg[@]}" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"); }

url_of() { echo "postgres://$DB_USER@127.0.0.1:$PORT/$DB_NAME"; }

cmd_start() {
    (( $# >= 1 && $# <= 2 )) || usage
    local dir=$1 port=${2:-}
    local bin
    bin=$(pg_bin)
    PORT=
    mkdir -p "$dir"
    DIR=$(cd "$dir" && pwd -P)
    if load_env "$DIR" && run_pg "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        if [[ -n $port && $port != "$PORT" ]]; then
            echo "postgres.sh: already running in $DIR on port $PORT; stop it first to change ports" >&2
            exit 1
        fi
        echo "postgres.sh: already running ($(url_of))"
        return 0
    fi
    if [[ -z $port && -n ${PORT:-} ]] && ! port_busy "$PORT"; then
        port=$PORT  # a restart keeps its port
    fi
    if [[ -z $port ]]; then
        port=25432  # below Linux's ephemeral range (32768-60999), which outgoing connections take from
        while port_busy "$port"; do port=$((port + 1)); done
    elif port_busy "$port"; then
        echo "postgres.sh: port 127.0.0.1:$port is already in use" >&2
        exit 1
    fi
    PORT=$port
    echo "PORT=$PORT" >"$DIR/cluster.env"
    [[ $(id -u) == 0 ]] && chown -R "$PG_USER:$PG_USER" "$DIR"
    chmod 700 "$DIR"
    reach_for_user "$PG_USER" "$DIR" postgres.sh
    if [[ ! -f $DIR/data/PG_VERSION ]]; then
        run_pg "$bin/initdb" -D "$DIR/data" -U "$DB_USER" --auth=trust -E UTF8 --no-instructions \
            >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    if ! run_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='$DIR' -c fsync=on -c max_connections=200" \
        start >/dev/null; then
        tail -n 20 "$DIR/server.log" >&2 || true
        die "the server did not start"
    fi
    if ! run_pg "$bin/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        run_pg "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB_NAME"
    fi
    echo "postgres.sh: started ($(url_of))"
}

cmd_stop() {
    (( $# == 1 )) || usage
    load_env "$1" || return 0
    local bin
    bin=$(pg_bin)
    run_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    echo "postgres.sh: stopped"
}

cmd_status() {
    (( $# == 1 )) || usage
    load_env "$1" || exit 1
    run_pg "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"
}

cmd_url() {
    (( $# == 1 )) || usage
    load_env "$1" || die "no cluster in $1 (run start first)"
    url_of
}

(( $# >= 1 )) || usage
cmd=$1; shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    url) cmd_url "$@" ;;
    *) usage ;;
esac
