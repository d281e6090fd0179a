#!/usr/bin/env bash
# Sets up jobsd and runs it on the embedded SQLite store with the demo seed (conf/seed.json).
# Stop it with Ctrl-C. The port can be changed with JOBSD_SERVER_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh programs  # jobsd, jobs-worker, jobsctl, jobs-bench; not the test suites

mkdir -p var
# The demo's own RabbitMQ node: AMQP on 127.0.0.1:5673 (conf/jobsd.json), management UI on :15673.
bash scripts/rabbitmq.sh start var/rabbitmq 5673 --management 15673

port="${JOBSD_SERVER_PORT:-8080}"
build/bin/jobsd --config conf/jobsd.json --port "$port" --log-format text &
pid=$!

# One simulating worker per job type, so a posted job goes all the way to SUCCESS; tts jobs get
# real work instead: the Python example worker (workers/python) speaks them into var/tts/<uuid>.wav.
mkdir -p var/log
worker_pids=()
for type in ai_talking_video video image photo_qc pdf ai_image_generation; do
  build/bin/jobs-worker --type "$type" --handler simulate --duration-ms 3000 --steps 3 \
    --url amqp://guest:guest@127.0.0.1:5673/ >>"var/log/worker-$type.log" 2>&1 &
  worker_pids+=($!)
done
TTS_OUTPUT_DIR="$PWD/var/tts" PYTHONPATH="$PWD/workers/python" /usr/bin/python3 -m jobsd_worker --type tts \
  --handler examples.tts_espeak:handle --url amqp://guest:guest@127.0.0.1:5673/ >>var/log/worker-tts.log 2>&1 &
worker_pids+=($!)

cleanup() {
  kill -TERM "${worker_pids[@]}" "$pid" 2>/dev/null || true
  wait "${worker_pids[@]}" "$pid" 2>/dev/null || true
  bash scripts/rabbitmq.sh stop var/rabbitmq >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit 1; }
  sleep 0.1
done

key=demo-key-7c1f4e2a9b3d
operator_key=demo-operator-key-3e9a6c1d5f8b
cat <<MSG

jobsd is running at http://127.0.0.1:$port  (store: var/jobsd.db, metrics: /metrics)
workers: one simulating jobs-worker per job type, and for tts the espeak-ng example in Python
         (workers/python/examples/tts_espeak.py, WAV files in var/tts/); logs in var/log/
demo API key: $key
dashboard: http://127.0.0.1:$port/dashboard  (operator key: $operator_key), or at once:
           http://127.0.0.1:$port/dashboard#key=$operator_key
queues: curl -s http://127.0.0.1:$port/api/queues -H 'x-api-key: $operator_key'
        RabbitMQ management at http://127.0.0.1:15673 (guest/guest)

Create the seed's example job:
  curl -s -X POST http://127.0.0.1:$port/jobs/v2 -H 'x-api-key: $key' -H 'Content-Type: application/json' \\
    -d '{"job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e","version":2,"session_id":"demo-session","values":{"headline":"Hello from jobsd","voiceover":{"audio_url":"https://cdn.example.com/voice.mp3","effects":[]},"avatar":{"image_url":"https://cdn.example.com/avatar.png"}}}'
Then read it back (use the uuid from the answer); a simulating worker takes it to SUCCESS in ~3 s:
  curl -s http://127.0.0.1:$port/jobs/<uuid> -H 'x-api-key: $key'
Watch the session's status changes live (Server-Sent Events), in another terminal before posting:
  curl -N 'http://127.0.0.1:$port/jobs/v2/events?session_id=demo-session' -H 'x-api-key: $key'
A tts job, spoken into var/tts/<uuid>.wav (its path and URL are the job's output):
  curl -s -X POST http://127.0.0.1:$port/jobs/v2 -H 'x-api-key: $key' -H 'Content-Type: application/json' \\
    -d '{"job_type":"tts","template_id":"c7e3a5f0-2d8b-4c1e-b6a9-5f0d3e7c9a12","values":{"script":"Hello from jobsd"}}'
List the active projects:
  curl -s http://127.0.0.1:$port/api/provider/projects/active -H 'x-api-key: $key'

Ctrl-C stops it (and the demo broker).
MSG
wait "$pid"
