#!/usr/bin/env bash
# Batch create against single create in one run (one jobsd, one broker, back to back), then pages of
# GET /jobs/v2 from a table of a million jobs. Figures go in bench/RESULTS.md; not a test.
#
#   bash bench/batch_vs_single.sh [SECONDS]       (20 by default, per phase)
#
# Starts in var/bench-batch/ its own RabbitMQ node (port BENCH_AMQP_PORT, 5754 by default: not
# scripts/bench's 5752) and jobsd (port BENCH_HTTP_PORT, 18710) on a fresh SQLite file with
# conf/jobsd.json (synchronous=FULL, publishing on). Jobs per second are taken from jobsd's own
# counter (jobsd_store_jobs_committed_total) over each phase, so refused requests do not count.
# JOBSD_AMQP_ENABLED=false measures the same without publishing (jobs stay in the outbox).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
amqp_port=${BENCH_AMQP_PORT:-5754}
http_port=${BENCH_HTTP_PORT:-18710}
dir=var/bench-batch
broker_dir=$dir/rabbitmq
base="http://127.0.0.1:$http_port"
key=demo-key-7c1f4e2a9b3d

rm -rf "$dir"
mkdir -p "$dir"
jobsd_pid=""
cleanup() {
  [ -z "$jobsd_pid" ] || { kill -TERM "$jobsd_pid" 2>/dev/null || true; wait "$jobsd_pid" 2>/dev/null || true; }
  bash scripts/rabbitmq.sh stop "$broker_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash scripts/rabbitmq.sh start "$broker_dir" "$amqp_port" >/dev/null
build/bin/jobsd --config conf/jobsd.json --port "$http_port" --store "sqlite:$dir/jobs.db" \
  --amqp "amqp://guest:guest@127.0.0.1:$amqp_port/" --log-level warn 2>>"$dir/jobsd.log" &
jobsd_pid=$!
for _ in $(seq 1 300); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$jobsd_pid" 2>/dev/null || { echo "jobsd did not start (see $dir/jobsd.log)" >&2; exit 2; }
  sleep 0.1
done

metric() { curl -s "$base/metrics" | awk -v m="$1" '$1 == m {printf "%d\n", $2}'; }
# Runs wrk ($@) and prints the jobs committed per second during it.
phase() {
  local label=$1 before after t0 t1
  shift
  before=$(metric jobsd_store_jobs_committed_total)
  t0=$(date +%s.%N)
  wrk "$@" | tee "$dir/$label.txt"
  t1=$(date +%s.%N)
  after=$(metric jobsd_store_jobs_committed_total)
  echo "$after $before $t0 $t1" | awk -v l="$label" '{printf "%s: %d jobs committed, %.0f jobs/s\n", l, $1 - $2, ($1 - $2) / ($4 - $3)}' |
    tee -a "$dir/summary.txt"
}

phase single -c64 -t2 -d"${seconds}s" --latency -s bench/wrk_create_job.lua "$base/jobs/v2"
BATCH=100 phase batch100 -c16 -t2 -d"${seconds}s" --latency -s bench/wrk_create_batch.lua "$base"

# Publishing kept up or catches up: the outbox drains (bounded wait).
for _ in $(seq 1 120); do
  [ "${JOBSD_AMQP_ENABLED:-true}" = false ] || [ "$(metric jobsd_outbox_unpublished)" = 0 ] && break
  sleep 1
done
echo "outbox unpublished after the runs: $(metric jobsd_outbox_unpublished)" | tee -a "$dir/summary.txt"
# The broker's own ceiling on this machine now (confirmed publishes, quorum queue): with publishing
# on, no create path can go past it.
build/bin/amqp-publish-bench --url "amqp://guest:guest@127.0.0.1:$amqp_port/" --seconds 10 2>&1 |
  tee -a "$dir/summary.txt" || true

# Pages of 100 from a table of BENCH_LIST_ROWS jobs (a million by default): batches top up what the
# runs left, then the newest page, and a page further down (a cursor), are read over and over.
rows=${BENCH_LIST_ROWS:-1000000}
while [ "$(metric jobsd_store_jobs_committed_total)" -lt "$rows" ]; do
  BATCH=1000 wrk -c4 -t2 -d5s -s bench/wrk_create_batch.lua "$base" >/dev/null
done
total=$(metric jobsd_store_jobs_committed_total)
cursor=$(curl -s "$base/jobs/v2?limit=1000" -H "x-api-key: $key" | jq -r .next_cursor)
for _ in $(seq 1 20); do
  cursor=$(curl -s "$base/jobs/v2?limit=1000&cursor=$cursor" -H "x-api-key: $key" | jq -r .next_cursor)
done
echo "list pages of 100 from a table of $total jobs:" | tee -a "$dir/summary.txt"
wrk -c4 -t2 -d10s --latency -H "x-api-key: $key" "$base/jobs/v2?limit=100" | tee "$dir/list_newest.txt"
wrk -c4 -t2 -d10s --latency -H "x-api-key: $key" "$base/jobs/v2?limit=100&cursor=$cursor" |
  tee "$dir/list_cursor.txt"
cat "$dir/summary.txt"
