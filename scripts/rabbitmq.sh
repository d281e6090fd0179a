#!/usr/bin/env bash
# Runs a private RabbitMQ node for jobsd (tests, demo), entirely inside DIR.
#
#   scripts/rabbitmq.sh start  DIR AMQP_PORT [--management HTTP_PORT] [--epmd-port PORT]
#                              [--cookie TEXT] [--conf 'KEY = VALUE']...
#   scripts/rabbitmq.sh stop   DIR
#   scripts/rabbitmq.sh kill   DIR              (SIGKILL the node's VM: a crash, for chaos tests)
#   scripts/rabbitmq.sh status DIR
#   scripts/rabbitmq.sh ctl    DIR ARGS...      (rabbitmqctl against that node)
#
# DIR (relative to the current directory, or absolute) holds everything the
# node owns: rabbitmq.conf, enabled_plugins, .erlang.cookie (HOME=DIR), mnesia/
# (data), log/, the pid file and node.env (ports and node name, so stop, status
# and ctl only need DIR). Everything is derived from AMQP_PORT, so several nodes
# can run side by side (demo 5673, tests 5682):
#   node name          jobsd<AMQP_PORT>@localhost
#   AMQP               127.0.0.1:AMQP_PORT
#   Erlang distribution 127.0.0.1:AMQP_PORT+20000
#   epmd               127.0.0.1:AMQP_PORT+23000, or --epmd-port (own instance;
#                      `stop` kills it once no node is registered in it any more)
# The derived ports stay below 32768 for an AMQP_PORT below 9768: out of Linux's ephemeral range
# (32768-60999), where any outgoing connection may hold the port the moment a node starts.
#   CLI tools' distribution ports 127.0.0.1:AMQP_PORT+21000..+21009
#   management (only with --management) 127.0.0.1:HTTP_PORT
#
# Clustering (scripts/cluster.sh): nodes that are to join each other need one
# epmd (--epmd-port, the same for all, so they find each other's distribution
# port) and one Erlang cookie (--cookie, written to DIR/.erlang.cookie).
# --conf adds a line to rabbitmq.conf (e.g. 'queue_leader_locator = balanced').
# JOBSD_RABBITMQ_START_TIMEOUT (seconds, default 60) bounds a start; a node
# restarting into a busy cluster may need longer.
#
# Run as root, the node and the CLI tools run as the `rabbitmq` user (DIR is
# chowned to it). The Debian wrappers in /usr/sbin are NOT used: they reset HOME
# (so the cookie would come from /var/lib/rabbitmq), cd to /var/lib/rabbitmq and
# send the server's output to /var/log/rabbitmq. The real scripts are called
# with a clean, explicit environment instead (override their location with
# RABBITMQ_SCRIPTS_DIR).
set -euo pipefail
# shellcheck source=scripts/server-lib.sh
. "$(dirname "$0")/server-lib.sh"

RMQ_BIN=${RABBITMQ_SCRIPTS_DIR:-/usr/lib/rabbitmq/bin}
RMQ_USER=rabbitmq
START_TIMEOUT=${JOBSD_RABBITMQ_START_TIMEOUT:-60}
STOP_TIMEOUT=60

die() { echo "rabbitmq.sh: $*" >&2; exit 2; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/rabbitmq.sh start  DIR AMQP_PORT [--management HTTP_PORT] [--epmd-port PORT]
                                  [--cookie TEXT] [--conf 'KEY = VALUE']...
       scripts/rabbitmq.sh stop   DIR
       scripts/rabbitmq.sh kill   DIR
       scripts/rabbitmq.sh status DIR
       scripts/rabbitmq.sh ctl    DIR ARGS...
EOF
    exit 2
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 65535 )); }

# Prefix that runs a command as the rabbitmq user (nothing if we already are
# that user, or if we are an ordinary user who then owns DIR).
as_rmq=()
if [[ $(id -u) == 0 ]]; then
    id -u "$RMQ_USER" >/dev/null 2>&1 || die "user $RMQ_USER does not exist"
    as_rmq=(runuser -u "$RMQ_USER" --)
fi

# Absolute path of DIR (must exist).
abs_dir() { (cd "$1" && pwd -P); }

# Sets DIR and the node variables from DIR/node.env. Returns 1 if absent.
load_env() {
    DIR=$1
    [[ -d $DIR && -f $DIR/node.env ]] || return 1
    DIR=$(abs_dir "$DIR")
    # shellcheck source=/dev/null
    . "$DIR/node.env"
    EPMD_PORT=${EPMD_PORT:-$((AMQP_PORT + 30000))}  # a node.env from before EPMD_PORT was written
    return 0
}

# ENVV: environment for the server and the CLI tools. Nothing is inherited from
# the caller except PATH, so stray RABBITMQ_*/ERL_* variables cannot interfere.
set_env() {
    local ctl_min=$((AMQP_PORT + 21000))
    ENVV=(env -i
        "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
        "LANG=C.UTF-8" "LC_ALL=C.UTF-8"
        "HOME=$DIR"
        "RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf"
        "RABBITMQ_NODENAME=$NODENAME"
        "RABBITMQ_USE_LONGNAME=false"
        "RABBITMQ_CONFIG_FILE=$DIR/rabbitmq.conf"
        "RABBITMQ_ADVANCED_CONFIG_FILE=$DIR/advanced.config"
        "RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins"
        "RABBITMQ_MNESIA_BASE=$DIR/mnesia"
        "RABBITMQ_LOG_BASE=$DIR/log"
        "RABBITMQ_PID_FILE=$DIR/rabbitmq.pid"
        "RABBITMQ_DIST_PORT=$((AMQP_PORT + 20000))"
        "ERL_EPMD_ADDRESS=127.0.0.1"
        "ERL_EPMD_PORT=$EPMD_PORT"
        "RABBITMQ_CTL_DIST_PORT_MIN=$ctl_min"
        "RABBITMQ_CTL_DIST_PORT_MAX=$((ctl_min + 9))"
        "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}")
}

# Runs a real RabbitMQ script (rabbitmqctl, rabbitmq-diagnostics, ...) against
# the node, as the rabbitmq user, from DIR (the caller's cwd may not be readable
# by that user).
rmq_cli() {
    local tool=$1; shift
    set_env
    (cd "$DIR" && "${as_rmq[@]}" "${ENVV[@]}" "$RMQ_BIN/$tool" -n "$NODENAME" "$@")
}

# A socket listens on 127.0.0.1:$1 (checked without connecting to it).
listening() { [[ -n $(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null) ]]; }

# Alive and not a zombie (orphans are reaped late by this machine's init).
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0   # no procfs: trust kill -0
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# PID is alive and belongs to this DIR's node (its command line or environment
# has HOME=DIR), so a stale pid file never makes us signal a recycled pid.
ours() {
    pid_alive "${1:-}" || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | grep -qxF "HOME=$DIR" && return 0
    tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "HOME=$DIR"
}

# Pid of the node's VM (from its pid file), empty if unknown.
node_pid() {
    if [[ -s $DIR/rabbitmq.pid ]]; then tr -dc 0-9 <"$DIR/rabbitmq.pid"; fi
}

# The node answers (only asks the CLI if the node's OS process exists, so that
# a status check on a stopped node is fast and starts no epmd).
node_answers() {
    ours "$(node_pid)" || return 1
    rmq_cli rabbitmq-diagnostics -q ping --timeout 10 >/dev/null 2>&1
}

log_tail() {
    local f=$DIR/log/$NODENAME.log
    if [[ -s $f ]]; then echo "---- tail of $f" >&2; tail -n 25 "$f" >&2; fi
    f=$DIR/log/startup_log
    if [[ -s $f ]]; then echo "---- tail of $f" >&2; tail -n 5 "$f" >&2; fi
    f=$DIR/log/startup_err   # starts with "BOOT FAILED" and the reason
    if [[ -s $f ]]; then echo "---- head of $f" >&2; head -n 30 "$f" >&2; fi
}

epmd_kill_if_unused() {
    local port=$EPMD_PORT names
    names=$(ERL_EPMD_PORT=$port epmd -port "$port" -names 2>/dev/null) || return 0
    if grep -q '^name ' <<<"$names"; then
        echo "rabbitmq.sh: epmd on 127.0.0.1:$port still has nodes registered; left running" >&2
        return 0
    fi
    # epmd itself refuses -kill while any node is registered.
    ERL_EPMD_PORT=$port epmd -port "$port" -kill >/dev/null 2>&1 || true
}

cmd_start() {
    (( $# >= 2 )) || usage
    local dir=$1 port=$2 http="" epmd="" cookie=""
    local -a conf_lines=()
    shift 2
    while (( $# )); do
        case $1 in
            --management) (( $# >= 2 )) || usage; http=$2; shift 2 ;;
            --epmd-port) (( $# >= 2 )) || usage; epmd=$2; shift 2 ;;
            --cookie) (( $# >= 2 )) || usage; cookie=$2; shift 2 ;;
            --conf) (( $# >= 2 )) || usage; conf_lines+=("$2"); shift 2 ;;
            *) usage ;;
        esac
    done
    if ! is_port "$port" || (( port + 23000 > 65535 )); then
        die "AMQP_PORT must be a port number <= 42535: $port"
    fi
    [[ -z $http ]] || is_port "$http" || die "bad HTTP_PORT: $http"
    [[ -z $epmd ]] || is_port "$epmd" || die "bad epmd port: $epmd"
    [[ -z $cookie || $cookie =~ ^[A-Za-z0-9]+$ ]] || die "the cookie must be letters and digits"

    mkdir -p "$dir"
    DIR=$(abs_dir "$dir")

    if [[ -f $DIR/node.env ]]; then
        load_env "$DIR"
        if node_answers; then
            if [[ $AMQP_PORT != "$port" || ${HTTP_PORT:-} != "$http" ]]; then
                echo "rabbitmq.sh: node $NODENAME already running in $DIR with" \
                    "AMQP port $AMQP_PORT${HTTP_PORT:+, management $HTTP_PORT};" \
                    "stop it first to change ports" >&2
                exit 1
            fi
            echo "rabbitmq.sh: $NODENAME already running (amqp://127.0.0.1:$AMQP_PORT)"
            return 0
        fi
    fi

    local p
    for p in "$port" "$((port + 20000))" ${http:+"$http"}; do
        if port_busy "$p"; then
            echo "rabbitmq.sh: port 127.0.0.1:$p is already in use; cannot start node jobsd$port@localhost" >&2
            exit 1
        fi
    done

    AMQP_PORT=$port
    HTTP_PORT=$http
    EPMD_PORT=${epmd:-$((port + 23000))}
    NODENAME="jobsd$port@localhost"
    mkdir -p "$DIR/mnesia" "$DIR/log"
    cat >"$DIR/node.env" <<EOF
# written by scripts/rabbitmq.sh start
AMQP_PORT=$AMQP_PORT
HTTP_PORT=$HTTP_PORT
NODENAME=$NODENAME
DIST_PORT=$((AMQP_PORT + 20000))
EPMD_PORT=$EPMD_PORT
EOF
    {
        echo "# written by scripts/rabbitmq.sh start"
        echo "listeners.tcp.default = 127.0.0.1:$AMQP_PORT"
        echo "listeners.ssl = none"
        echo "disk_free_limit.absolute = 50MB"
        echo "log.file.level = info"
        echo "log.console = false"
        if [[ -n $HTTP_PORT ]]; then
            echo "management.tcp.ip = 127.0.0.1"
            echo "management.tcp.port = $HTTP_PORT"
            # Queue counters refreshed every second (default 5 s), as jobsd's queue view is.
            echo "collect_statistics_interval = 1000"
        fi
        local line
        for line in "${conf_lines[@]}"; do echo "$line"; done
    } >"$DIR/rabbitmq.conf"
    if [[ -n $cookie ]]; then
        rm -f "$DIR/.erlang.cookie"
        (umask 077 && printf '%s' "$cookie" >"$DIR/.erlang.cookie")
        chmod 400 "$DIR/.erlang.cookie"
    fi
    if [[ -n $HTTP_PORT ]]; then
        echo "[rabbitmq_management]." >"$DIR/enabled_plugins"
    else
        echo "[]." >"$DIR/enabled_plugins"
    fi
    rm -f "$DIR/rabbitmq.pid"
    : >"$DIR/log/startup_log"
    : >"$DIR/log/startup_err"
    if [[ $(id -u) == 0 ]]; then
        chown -R "$RMQ_USER:$RMQ_USER" "$DIR"
        reach_for_user "$RMQ_USER" "$DIR" rabbitmq.sh
    fi

    set_env

    # Our own epmd, loopback only (erl would start one itself, but this way
    # the address/port are explicit). Does nothing if it already runs.
    (cd "$DIR" && "${as_rmq[@]}" "${ENVV[@]}" \
        epmd -daemon -address 127.0.0.1 -port "$EPMD_PORT")
    # epmd -daemon returns before it listens, and exits quietly when it cannot bind (the port
    # held by another socket, even an outgoing connection's): without it the node dies with
    # 'nodistribution'. Say so plainly instead.
    local i
    for ((i = 0; i < 50; i++)); do listening "$EPMD_PORT" && break; sleep 0.1; done
    if ! listening "$EPMD_PORT"; then
        echo "rabbitmq.sh: epmd is not listening on 127.0.0.1:$EPMD_PORT; the port is held by:" >&2
        ss -Htan "sport = :$EPMD_PORT" >&2 || true
        exit 1
    fi

    local t0=$SECONDS t0_us=${EPOCHREALTIME/./}
    # Foreground rabbitmq-server in its own session, in the background.
    (cd "$DIR" && exec setsid "${as_rmq[@]}" "${ENVV[@]}" "$RMQ_BIN/rabbitmq-server" \
        </dev/null >>"$DIR/log/startup_log" 2>>"$DIR/log/startup_err") &
    local launcher=$!
    echo "$launcher" >"$DIR/launcher.pid"

    # Cheap phase: poll (without connecting) until the AMQP listener (and the
    # management listener) is up, failing fast if the server exits. Then let
    # `rabbitmqctl await_startup` confirm that the rabbit app is fully booted.
    local ok=0 up=0
    while (( SECONDS - t0 < START_TIMEOUT )); do
        pid_alive "$launcher" || break
        if listening "$AMQP_PORT" && { [[ -z $HTTP_PORT ]] || listening "$HTTP_PORT"; }; then
            up=1
            break
        fi
        sleep 0.1
    done
    if (( up )) && rmq_cli rabbitmqctl -q await_startup \
        --timeout "$((START_TIMEOUT - (SECONDS - t0) + 1))" >/dev/null 2>&1 \
        && ours "$(node_pid)"; then
        ok=1
    fi
    if (( ok )); then
        local ms=$(( (${EPOCHREALTIME/./} - t0_us) / 1000 ))
        echo "rabbitmq.sh: $NODENAME started in $((ms / 1000)).$(printf %03d $((ms % 1000))) s" \
            "(amqp://guest:guest@127.0.0.1:$AMQP_PORT${HTTP_PORT:+, management http://127.0.0.1:$HTTP_PORT})"
        return 0
    fi
    if pid_alive "$launcher"; then
        echo "rabbitmq.sh: $NODENAME did not come up within $START_TIMEOUT s; stopping it" >&2
    else
        echo "rabbitmq.sh: $NODENAME failed to start (exited after $((SECONDS - t0)) s)" >&2
    fi
    log_tail
    stop_node >/dev/null 2>&1 || true
    exit 1
}

# Stops the node described by the loaded node.env; waits until it is gone.
stop_node() {
    local pid launcher="" i
    pid=$(node_pid)
    if [[ -s $DIR/launcher.pid ]]; then launcher=$(tr -dc 0-9 <"$DIR/launcher.pid"); fi
    if ours "$pid"; then
        # Graceful stop; with the pid file rabbitmqctl waits for the OS process.
        rmq_cli rabbitmqctl -q stop "$DIR/rabbitmq.pid" --timeout "$STOP_TIMEOUT" \
            >/dev/null 2>&1 || true
        if ours "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.2; done
            if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
    elif ours "$launcher"; then
        # No (valid) pid file, but the launcher runs: try a graceful stop.
        rmq_cli rabbitmqctl -q stop --timeout 10 >/dev/null 2>&1 || true
    fi
    # The launcher (runuser + rabbitmq-server shell script, leader of its own
    # session and process group) exits with the VM. If it does not (e.g. the
    # VM never wrote its pid file), signal that process group.
    if ours "$launcher"; then
        for ((i = 0; i < 50; i++)); do pid_alive "$launcher" || break; sleep 0.1; done
        if ours "$launcher"; then
            kill -TERM -- "-$launcher" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do pid_alive "$launcher" || break; sleep 0.2; done
            if pid_alive "$launcher"; then kill -KILL -- "-$launcher" 2>/dev/null || true; fi
        fi
    fi
    rm -f "$DIR/rabbitmq.pid" "$DIR/launcher.pid"
    epmd_kill_if_unused
}

cmd_stop() {
    (( $# == 1 )) || usage
    load_env "$1" || return 0
    stop_node
    echo "rabbitmq.sh: $NODENAME stopped"
}

# A crash: SIGKILL to the VM, nothing else (no graceful leave, data as it was on disk).
cmd_kill() {
    (( $# == 1 )) || usage
    load_env "$1" || die "no node configured in $1"
    local pid
    pid=$(node_pid)
    ours "$pid" || die "$NODENAME is not running"
    kill -KILL "$pid"
    local i
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    rm -f "$DIR/rabbitmq.pid"
    echo "rabbitmq.sh: $NODENAME killed (pid $pid)"
}

cmd_status() {
    (( $# == 1 )) || usage
    load_env "$1" || exit 1
    node_answers || exit 1
}

cmd_ctl() {
    (( $# >= 1 )) || usage
    load_env "$1" || die "no node configured in $1 (run start first)"
    shift
    rmq_cli rabbitmqctl "$@"
}

(( $# >= 1 )) || usage
cmd=$1; shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    kill) cmd_kill "$@" ;;
    status) cmd_status "$@" ;;
    ctl) cmd_ctl "$@" ;;
    *) usage ;;
esac
