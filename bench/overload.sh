#!/usr/bin/env bash
# Publishing under sustained overload (issue 14, item 1): one jobsd whose broker confirms more
# slowly than jobs arrive, for minutes. The broker is made slow from jobsd's side, with a confirm
# window of one message (each publish waits for the previous confirm: the publish rate is one
# over the broker's confirm latency), which reproduces a slow broker exactly, on this machine,
# without touching a shared node. Every 5 s it samples the outbox (unpublished jobs, the age of
# the oldest, confirms); jobs-bench --e2e then gives each job's accept-to-delivery time.
#
#   bash bench/overload.sh [SECONDS] [RATE]     (defaults: 180 s at 1500 jobs/s)
#
# Uses build/bin/{jobsd,jobs-bench}, its own RabbitMQ node (var/overload-rabbitmq, port
# OVERLOAD_AMQP_PORT, default 5697) and SQLite file (var/overload/jobs.db); stops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
rate=${2:-1500}
amqp_port=${OVERLOAD_AMQP_PORT:-5697}
http_port=${OVERLOAD_HTTP_PORT:-18700}
dir=var/overload
node=var/overload-rabbitmq
url="amqp://guest:guest@127.0.0.1:$amqp_port/"
rm -rf "$dir" && mkdir -p "$dir"

cleanup() {
    [[ -n ${sampler:-} ]] && kill "$sampler" 2>/dev/null || true
    [[ -n ${jobsd:-} ]] && kill "$jobsd" 2>/dev/null && wait "$jobsd" 2>/dev/null || true
    bash scripts/rabbitmq.sh stop "$node" >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash scripts/rabbitmq.sh start "$node" "$amqp_port" >/dev/null

# No worker drains the queues (jobs-bench --e2e reads copies): the fair queue is off.
JOBSD_LIFECYCLE_FAIR_WINDOW=0 JOBSD_AMQP_URLS=$url JOBSD_AMQP_CONFIRM_WINDOW=1 JOBSD_AMQP_MANAGEMENT_URL= JOBSD_LOG_LEVEL=warn \
    build/bin/jobsd --config conf/jobsd.json --port "$http_port" --store "sqlite:$dir/jobs.db" \
    >"$dir/jobsd.out" 2>"$dir/jobsd.log" &
jobsd=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && break; sleep 0.2; done

metric() { awk -v n="$1" '$1 == n {print $2}' <<<"$2"; }
sample() {
    local t0=$SECONDS
    echo "t_s unpublished oldest_age_s confirmed_total"
    while sleep 5; do
        local m
        m=$(curl -s "http://127.0.0.1:$http_port/metrics") || continue
        echo "$((SECONDS - t0)) $(metric jobsd_outbox_unpublished "$m") $(metric jobsd_outbox_oldest_age_seconds "$m")" \
             "$(metric jobsd_amqp_confirmed_total "$m")"
    done
}
sample >"$dir/samples.txt" &
sampler=$!

build/bin/jobs-bench -c 32 -t 2 -R "$rate" -d "$seconds" --e2e --amqp "$url" --e2e-grace 900 \
    --json "$dir/bench.json" "http://127.0.0.1:$http_port" | tee "$dir/bench.txt"
cat "$dir/samples.txt"
