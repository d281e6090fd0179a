#!/usr/bin/env bash
# Runs jobsd past one machine, on this one: a three-node RabbitMQ cluster, PostgreSQL, several
# jobsd on that database behind HAProxy, and simulating workers, all on loopback inside DIR.
#
#   scripts/cluster.sh start  DIR [--base-port N] [--jobsd N] [--nodes 3|1] [--worker-arg ARG]...
#   scripts/cluster.sh stop   DIR
#   scripts/cluster.sh status DIR                 (exit 0 when every part runs)
#   scripts/cluster.sh url    DIR                 (the one URL clients use)
#   scripts/cluster.sh cpu    DIR                 (CPU seconds used so far, per process)
# Faults and repairs, for chaos tests and drills (I is 1..3 for nodes, 1..N for jobsd):
#   scripts/cluster.sh node-kill|node-stop|node-start DIR I
#   scripts/cluster.sh leader DIR QUEUE           (prints the index of the node leading QUEUE)
#   scripts/cluster.sh queues DIR                 (quorum queues: name, leader, members, online)
#   scripts/cluster.sh jobsd-kill|jobsd-start DIR I
#   scripts/cluster.sh pg-restart DIR
#
# Ports, from BASE (--base-port, default 5800; the demo node is 5673, test nodes 5682..5699):
#   RabbitMQ node I   AMQP BASE+I, management BASE+10000+I, distribution BASE+20000+I,
#                     one epmd for the three at BASE+23000, node name jobsd<BASE+I>@localhost
#   HAProxy           BASE+2000 (the clients' URL), its stats page BASE+2010
#   jobsd I           BASE+2000+I
#   PostgreSQL        BASE+24000
# (all below 32768 for the default BASE: out of Linux's ephemeral range, which outgoing
# connections take from)
# Layout: DIR/cluster.env (the settings above, so later commands need only DIR), DIR/rabbit<I>/
# (scripts/rabbitmq.sh), DIR/postgres/ (scripts/postgres.sh), DIR/haproxy.cfg, and for every
# process started here DIR/<name>.pid and DIR/<name>.log. Binaries come from build/bin
# (JOBSD_BIN_DIR overrides); when one of them, HAProxy or jq is missing, scripts/setup.sh runs
# first. The chaos test's cluster uses BASE = 5800 + 6 x (its test broker port - 5680).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

JOB_TYPES=(ai_talking_video video tts image photo_qc pdf ai_image_generation)
NODES=(1 2 3)   # --nodes 1 makes it a single broker node, the baseline replication is measured against
READY_TIMEOUT=${JOBSD_CLUSTER_READY_TIMEOUT:-180}  # seconds for one part to come up (a busy machine)

die() { echo "cluster.sh: $*" >&2; exit 2; }
say() { echo "cluster.sh: $*"; }
usage() { awk 'NR >= 4 && /^# Ports/ { exit } NR >= 4' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1024 && $1 + 24000 <= 65535 )); }

# Alive, not a zombie, and started by this cluster (its environment names DIR), so a stale pid
# file never makes us signal a recycled pid.
ours() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]] || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "JOBSD_CLUSTER_DIR=$DIR"
}
pid_of() { [[ -s $DIR/$1.pid ]] && tr -dc 0-9 <"$DIR/$1.pid" || true; }
running() { ours "$(pid_of "$1")"; }

load_env() {
    [[ -f $1/cluster.env ]] || die "no cluster in $1 (run start first)"
    DIR=$(cd "$1" && pwd -P)
    # shellcheck source=/dev/null
    . "$DIR/cluster.env"
    NODES=($(seq 1 "${NNODES:-3}"))
}

amqp_port() { echo $((BASE + $1)); }
node_name() { echo "jobsd$((BASE + $1))@localhost"; }
jobsd_port() { echo $((BASE + 2000 + $1)); }
front_url() { echo "http://127.0.0.1:$((BASE + 2000))"; }
rmq() { bash scripts/rabbitmq.sh "$@"; }
rmq_ctl() { local i=$1; shift; rmq ctl "$DIR/rabbit$i" "$@"; }

# Every node's AMQP URL, starting at node (K mod 3)+1, comma separated: each process gets another
# first node, so publishers and consumers spread over the cluster instead of all using node 1.
urls_from() {
    local k=$1 out="" j
    for ((j = 0; j < ${#NODES[@]}; j++)); do
        out+="${out:+,}amqp://guest:guest@127.0.0.1:$(amqp_port $(((k + j) % ${#NODES[@]} + 1)))/"
    done
    echo "$out"
}

# Starts NAME (a long-running program) in its own session with its output in DIR/NAME.log.
spawn() {
    local name=$1; shift
    running "$name" && { say "$name already running"; return 0; }
    (exec setsid env JOBSD_CLUSTER_DIR="$DIR" "$@" </dev/null >>"$DIR/$name.log" 2>&1) &
    echo $! >"$DIR/$name.pid"
}

# NAME [SIGNAL] [SECONDS]: SIGNAL (TERM), then up to SECONDS (20) for the exit; SIGKILL past it.
halt() {
    local name=$1 signal=${2:-TERM} seconds=${3:-20} pid i
    pid=$(pid_of "$name")
    ours "$pid" || { rm -f "$DIR/$name.pid"; return 0; }
    kill -"$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < seconds * 10; i++)); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$DIR/$name.pid"
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

wait_ready() {  # NAME URL: until URL answers 200, the process stays alive, READY_TIMEOUT passes
    local name=$1 url=$2 t0=$SECONDS
    while (( SECONDS - t0 < READY_TIMEOUT )); do
        [[ $(http_code "$url") == 200 ]] && return 0
        running "$name" || { tail -n 20 "$DIR/$name.log" >&2; die "$name exited"; }
        sleep 0.2
    done
    tail -n 20 "$DIR/$name.log" >&2
    die "$name not ready at $url within $READY_TIMEOUT s"
}

node_start() {
    local i=$1
    JOBSD_RABBITMQ_START_TIMEOUT=$READY_TIMEOUT rmq start "$DIR/rabbit$i" "$(amqp_port "$i")" --management $((BASE + 10000 + i)) \
        --epmd-port $((BASE + 23000)) --cookie "$COOKIE" \
        --conf "queue_leader_locator = balanced" >/dev/null
}

# Node I joins node 1, with up to three tries: two nodes joining at once can stop one's Mnesia, so
# a try that fails takes the node out of the cluster on both sides and starts over. Node 1 may
# already list it as a member (the join went through, its app's start did not): then a join after
# a reset of node I alone answers "already a member" and the start fails again, so node 1 forgets
# it first, and node I's state is wiped with force_reset (reset asks the cluster, which is what
# failed). Nodes join in parallel: each CLI call boots an Erlang VM (a minute on a machine running
# far more than it has cores), and one node after the other doubled the start. The CLI logs
# harmless errors while a node joins; they stay in DIR/rabbit-join.log unless it fails. A repair
# and the tries after it hold DIR/rabbit-join.lock, so that two nodes' repairs never change node 1's
# membership under each other's join.
join_try() {
    { rmq_ctl "$1" -q stop_app && rmq_ctl "$1" -q join_cluster "$(node_name 1)" &&
        rmq_ctl "$1" -q start_app; } >>"$DIR/rabbit-join.log" 2>&1
}
join_node() {
    local i=$1 try
    join_try "$i" && return 0
    for try in 2 3; do
        say "node $i: join try $((try - 1)) failed, taking it out of the cluster and resetting it"
        (
            flock 9
            {
                rmq_ctl "$i" -q stop_app
                rmq_ctl 1 -q forget_cluster_node "$(node_name "$i")"
                rmq_ctl "$i" -q force_reset
            } >>"$DIR/rabbit-join.log" 2>&1 || true
            sleep 2
            join_try "$i"
        ) 9>"$DIR/rabbit-join.lock" && return 0
    done
    return 1
}

# Three nodes, one cluster. On a fresh DIR node 1 starts, 2 and 3 start and join it; afterwards
# the nodes remember their cluster, start together (each waits for the others) and need no join.
rabbit_start() {
    local i pids=()
    if (( ${#NODES[@]} == 1 )); then
        node_start 1
    elif [[ -f $DIR/rabbit.clustered ]]; then
        for i in "${NODES[@]}"; do node_start "$i" & pids+=($!); done
        for i in "${pids[@]}"; do wait "$i" || die "a RabbitMQ node did not start (logs in $DIR/rabbit*/log)"; done
    else
        node_start 1
        for i in 2 3; do node_start "$i" & pids+=($!); done
        for i in "${pids[@]}"; do wait "$i" || die "a RabbitMQ node did not start (logs in $DIR/rabbit*/log)"; done
        pids=()
        for i in 2 3; do join_node "$i" & pids+=($!); done
        for i in "${pids[@]}"; do
            wait "$i" || { tail -n 20 "$DIR/rabbit-join.log" >&2; die "a node could not join $(node_name 1)"; }
        done
        touch "$DIR/rabbit.clustered"
    fi
    say "RabbitMQ cluster up: $(running_nodes | wc -w) of ${#NODES[@]} nodes running"
}

# GET PATH from the management API of the first node that answers (no CLI: each rabbitmqctl call
# boots an Erlang VM, seconds on a busy machine).
mgmt_get() {
    local i
    for i in "${NODES[@]}"; do
        curl -sf -m 5 -u guest:guest "http://127.0.0.1:$((BASE + 10000 + i))$1" && return 0
    done
    return 1
}

running_nodes() {  # names of the running nodes, one a line
    mgmt_get "/api/nodes?columns=name,running" | jq -r '.[] | select(.running) | .name' || true
}

jobsd_start() {
    local i=$1
    spawn "jobsd$i" env JOBSD_SERVER_PORT="$(jobsd_port "$i")" JOBSD_STORE_URL="$PG_URL" \
        JOBSD_STORE_INSTANCE_ID="jobsd-$i" JOBSD_AMQP_URLS="$(urls_from $((i - 1)))" \
        JOBSD_AMQP_URL_ORDER=in_order \
        JOBSD_AMQP_MANAGEMENT_URL="http://guest:guest@127.0.0.1:$((BASE + 10000 + (i - 1) % ${#NODES[@]} + 1))/" \
        "$BIN_DIR/jobsd" --config conf/cluster.json
    wait_ready "jobsd$i" "http://127.0.0.1:$(jobsd_port "$i")/readyz"
}

workers_start() {
    local k=0 type args
    read -r -a args <<<"$WORKER_ARGS"
    for type in "${JOB_TYPES[@]}"; do
        spawn "worker-$type" env JOBS_WORKER_URL_ORDER=in_order "$BIN_DIR/jobs-worker" --type "$type" \
            --handler simulate --url "$(urls_from "$k")" "${args[@]}"
        k=$((k + 1))
    done
}

haproxy_start() {
    sed -e "s|@DIR@|$DIR|g" -e "s|@FRONT_PORT@|$((BASE + 2000))|g" -e "s|@STATS_PORT@|$((BASE + 2010))|g" \
        conf/haproxy-cluster.cfg.in >"$DIR/haproxy.cfg"
    local i
    for ((i = 1; i <= NJOBSD; i++)); do
        echo "    server jobsd$i 127.0.0.1:$(jobsd_port "$i") check" >>"$DIR/haproxy.cfg"
    done
    haproxy -c -q -f "$DIR/haproxy.cfg" || die "haproxy rejects $DIR/haproxy.cfg"
    spawn haproxy haproxy -db -f "$DIR/haproxy.cfg"
    wait_ready haproxy "$(front_url)/readyz"
}

cmd_start() {
    (( $# >= 1 )) || usage
    local dir=$1 base=5800 njobsd=3 nnodes=3 wargs=()
    shift
    while (( $# )); do
        case $1 in
            --base-port) (( $# >= 2 )) || usage; base=$2; shift 2 ;;
            --jobsd) (( $# >= 2 )) || usage; njobsd=$2; shift 2 ;;
            --nodes) (( $# >= 2 )) || usage; nnodes=$2; shift 2 ;;
            --worker-arg) (( $# >= 2 )) || usage; wargs+=("$2"); shift 2 ;;
            *) usage ;;
        esac
    done
    is_port "$base" || die "--base-port must leave room for BASE+24000: $base"
    [[ $njobsd =~ ^[1-9]$ ]] || die "--jobsd takes 1 to 9"
    [[ $nnodes == 3 || $nnodes == 1 ]] || die "--nodes takes 3 (a cluster) or 1"
    local bin_dir=${JOBSD_BIN_DIR:-$ROOT/build/bin}
    if ! command -v haproxy >/dev/null || ! command -v jq >/dev/null ||
        [[ ! -x $bin_dir/jobsd || ! -x $bin_dir/jobs-worker ]]; then
        say "installing and building first (scripts/setup.sh)"
        bash scripts/setup.sh programs
    fi
    mkdir -p "$dir"
    DIR=$(cd "$dir" && pwd -P)
    if [[ -f $DIR/cluster.env ]]; then
        # A second start keeps the ports and the cookie the nodes were clustered with.
        . "$DIR/cluster.env"
        [[ $BASE == "$base" ]] || say "keeping base port $BASE of the existing cluster in $DIR"
    else
        BASE=$base
        COOKIE=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fi
    NJOBSD=$njobsd
    NNODES=${NNODES:-$nnodes}   # a cluster keeps its size
    NODES=($(seq 1 "$NNODES"))
    BIN_DIR=$bin_dir
    # Workers: fast simulated jobs, a few at once; a stop gives them 5 s to finish.
    WORKER_ARGS=${wargs[*]:-"--concurrency 8 --duration-ms 2000 --steps 3 --grace-ms 5000"}
    cat >"$DIR/cluster.env" <<EOF
# written by scripts/cluster.sh start
BASE=$BASE
NJOBSD=$NJOBSD
NNODES=$NNODES
COOKIE=$COOKIE
BIN_DIR='$BIN_DIR'
WORKER_ARGS='$WORKER_ARGS'
EOF
    chmod 600 "$DIR/cluster.env"

    rabbit_start
    bash scripts/postgres.sh start "$DIR/postgres" $((BASE + 24000)) >/dev/null
    PG_URL=$(bash scripts/postgres.sh url "$DIR/postgres")
    echo "PG_URL='$PG_URL'" >>"$DIR/cluster.env"
    say "PostgreSQL up ($PG_URL)"
    local i
    for ((i = 1; i <= NJOBSD; i++)); do jobsd_start "$i"; done
    say "$NJOBSD jobsd up on ports $(jobsd_port 1)..$(jobsd_port "$NJOBSD")"
    queues_report
    workers_start
    say "${#JOB_TYPES[@]} workers up ($WORKER_ARGS)"
    haproxy_start
    cat <<MSG

jobsd cluster running in $DIR
  clients use:  $(front_url)        (HAProxy stats: http://127.0.0.1:$((BASE + 2010))/)
  RabbitMQ:     amqp://guest:guest@127.0.0.1:$(amqp_port 1)/ …:$(amqp_port 3)/, management http://127.0.0.1:$((BASE + 10001))/
  PostgreSQL:   $PG_URL
Create the seed's example job through HAProxy:
  curl -s -X POST $(front_url)/jobs/v2 -H 'x-api-key: demo-key-7c1f4e2a9b3d' -H 'Content-Type: application/json' \\
    -d '{"job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e","version":2,"session_id":"demo-session","values":{"headline":"Hello from jobsd","voiceover":{"audio_url":"https://cdn.example.com/voice.mp3","effects":[]},"avatar":{"image_url":"https://cdn.example.com/avatar.png"}}}'
  curl -s $(front_url)/jobs/<uuid> -H 'x-api-key: demo-key-7c1f4e2a9b3d'
Stop it all:  bash scripts/cluster.sh stop $dir
MSG
}

# The job queues' replicas: every quorum queue should have its 3 members online.
queues_report() {
    local lines short
    lines=$(cmd_queues_inner) || return 0
    short=$(awk -v n=${#NODES[@]} '$3 < n || $4 < n' <<<"$lines")
    if [[ -n $short ]]; then
        say "quorum queues with fewer than ${#NODES[@]} members online (rabbitmq-queues grow adds them):"
        echo "$short"
    else
        say "$(wc -l <<<"$lines") quorum queues, each with ${#NODES[@]} members online"
    fi
}

# name leader members online, one quorum queue a line (members and online are counts).
cmd_queues_inner() {
    mgmt_get "/api/queues/%2F?columns=name,type,leader,members,online" |
        jq -r '.[] | select(.type == "quorum") | "\(.name) \(.leader // "none") \(.members | length) \(.online | length)"'
}

cmd_stop() {
    (( $# == 1 )) || usage
    [[ -f $1/cluster.env ]] || return 0
    load_env "$1"
    halt haproxy
    local type i
    for type in "${JOB_TYPES[@]}"; do halt "worker-$type" TERM 10 & done
    wait
    for ((i = 1; i <= NJOBSD; i++)); do halt "jobsd$i" TERM 15 & done
    wait
    for i in 3 2 1; do rmq stop "$DIR/rabbit$i" >/dev/null 2>&1 || true; done
    bash scripts/postgres.sh stop "$DIR/postgres" >/dev/null 2>&1 || true
    say "stopped (data kept in $DIR)"
}

cmd_status() {
    (( $# == 1 )) || usage
    load_env "$1"
    local ok=0 i type n=0 code
    local nodes
    nodes=$(running_nodes)
    for i in "${NODES[@]}"; do
        if grep -qxF "$(node_name "$i")" <<<"$nodes"; then
            echo "rabbit$i    running  $(node_name "$i")  amqp 127.0.0.1:$(amqp_port "$i")"
        else
            echo "rabbit$i    DOWN     $(node_name "$i")"; ok=1
        fi
    done
    if bash scripts/postgres.sh status "$DIR/postgres"; then echo "postgres   running  ${PG_URL:-}"
    else echo "postgres   DOWN"; ok=1; fi
    for ((i = 1; i <= NJOBSD; i++)); do
        if running "jobsd$i"; then
            code=$(http_code "http://127.0.0.1:$(jobsd_port "$i")/readyz")
            echo "jobsd$i     running  pid $(pid_of "jobsd$i")  http://127.0.0.1:$(jobsd_port "$i")  /readyz $code"
        else
            echo "jobsd$i     DOWN"; ok=1
        fi
    done
    for type in "${JOB_TYPES[@]}"; do running "worker-$type" && n=$((n + 1)); done
    echo "workers    $n of ${#JOB_TYPES[@]} running"
    (( n == ${#JOB_TYPES[@]} )) || ok=1
    if running haproxy; then echo "haproxy    running  $(front_url)  /readyz $(http_code "$(front_url)/readyz")"
    else echo "haproxy    DOWN"; ok=1; fi
    queues_report || true
    return $ok
}

# CPU seconds (user + system) a process and its children have used so far.
cpu_of() {
    local pid=$1 total=0 p f
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null); do
        [[ -r /proc/$p/stat ]] || continue
        f=$(cat "/proc/$p/stat"); f=${f##*) }
        read -r -a f <<<"$f"
        total=$((total + f[11] + f[12]))   # utime and stime: fields 14 and 15
        # cutime and cstime (16, 17): children that have exited, e.g. PostgreSQL backends.
        [[ $p == "$pid" ]] && total=$((total + f[13] + f[14]))
    done
    echo "$total $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

cmd_cpu() {
    (( $# == 1 )) || usage
    load_env "$1"
    local i type pid
    for i in "${NODES[@]}"; do
        pid=$(tr -dc 0-9 <"$DIR/rabbit$i/rabbitmq.pid" 2>/dev/null || true)
        [[ -n $pid ]] && echo "rabbit$i $(cpu_of "$pid")"
    done
    pid=$(head -n 1 "$DIR/postgres/data/postmaster.pid" 2>/dev/null || true)
    [[ -n $pid ]] && echo "postgres $(cpu_of "$pid")"
    for ((i = 1; i <= NJOBSD; i++)); do running "jobsd$i" && echo "jobsd$i $(cpu_of "$(pid_of "jobsd$i")")"; done
    running haproxy && echo "haproxy $(cpu_of "$(pid_of haproxy)")"
    for type in "${JOB_TYPES[@]}"; do
        running "worker-$type" && echo "worker-$type $(cpu_of "$(pid_of "worker-$type")")"
    done
    return 0
}

node_index() { [[ $1 =~ ^[0-9]$ ]] && (( $1 >= 1 && $1 <= ${#NODES[@]} )) || die "node index must be 1..${#NODES[@]}"; }
jobsd_index() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= NJOBSD )) || die "jobsd index must be 1..$NJOBSD"; }

cmd_leader() {
    (( $# == 2 )) || usage
    load_env "$1"
    local leader i
    leader=$(cmd_queues_inner | awk -v q="$2" '$1 == q { print $2 }')
    [[ -n $leader ]] || die "no quorum queue $2, or no node answers"
    for i in "${NODES[@]}"; do [[ $leader == "$(node_name "$i")" ]] && { echo "$i"; return 0; }; done
    die "leader $leader is not a node of this cluster"
}

# Everything runs from main, read whole before it starts, so editing this file while a long
# command (a node start) runs cannot change what that command does next.
main() {
    (( $# >= 2 )) || usage
    local cmd=$1
    shift
    case $cmd in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        url) load_env "$1"; front_url ;;
        cpu) cmd_cpu "$@" ;;
        queues) load_env "$1"; cmd_queues_inner ;;
        leader) cmd_leader "$@" ;;
        node-kill) load_env "$1"; node_index "$2"; rmq kill "$DIR/rabbit$2" ;;
        node-stop) load_env "$1"; node_index "$2"; rmq stop "$DIR/rabbit$2" ;;
        node-start) load_env "$1"; node_index "$2"; node_start "$2"; say "node $2 running" ;;
        jobsd-kill) load_env "$1"; jobsd_index "$2"; halt "jobsd$2" KILL 5; say "jobsd$2 killed" ;;
        jobsd-start)
            load_env "$1"; jobsd_index "$2"; jobsd_start "$2"; say "jobsd$2 ready" ;;
        pg-restart)
            load_env "$1"
            bash scripts/postgres.sh stop "$DIR/postgres" >/dev/null
            bash scripts/postgres.sh start "$DIR/postgres" $((BASE + 24000)) >/dev/null
            say "PostgreSQL restarted" ;;
        *) usage ;;
    esac
}

main "$@"
exit
