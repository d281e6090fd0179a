#!/bin/sh
# The conformance suite's start command for `jobs-worker --handler http`: a model server that
# follows each job's script (tests/model_server.py, route /script), then the worker pointed at it.
# usage: http_worker.sh JOBS_WORKER_BINARY  (the rest of the settings come as JOBS_WORKER_* variables)
# The server ignores the SIGTERM the suite sends the process group (a gracefully stopping worker
# still finishes its job there) and exits once the worker is gone; a SIGKILL ends both.
here=$(dirname "$0")
portfile=$(mktemp)
/usr/bin/python3 "$here/../model_server.py" --exit-with $$ --ignore-sigterm > "$portfile" &
port=
for _ in $(seq 300); do
    read -r _word port < "$portfile" 2>/dev/null
    [ -n "$port" ] && break
    sleep 0.1
done
rm -f "$portfile"
[ -n "$port" ] || { echo "http_worker.sh: the model server did not start" >&2; exit 1; }
exec "$1" --handler http --model-url "http://127.0.0.1:$port/script"
