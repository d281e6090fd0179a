#!/usr/bin/python3
"""A small model server for the tests of `jobs-worker --handler http` and for scripts/bench-workers:
a real HTTP/1.1 server (keep-alive) on 127.0.0.1, port 0 unless --port; prints "port N" first.

Routes (POST, the job's input as the body):
  /ok         200 {"echo": <body>, "job_id": <X-Job-Id>, "attempt": <X-Job-Attempt>, "connection": <n>}
              where n counts the TCP connections the server accepted (1 for the first)
  /noop       200 {} (the bench's no-op model)
  /status/N   status N with {"error": "scripted N"}
  /slow       answers 200 {} after 30 s, or stops when the client closes the connection first;
              GET /stats then counts it under "closed_while_slow"
  /big        200 with a JSON object body of 2 MiB
  /notjson    200 text/plain "hello"
  /script     follows the conformance suite's job script (tests/worker_conformance/scripted_job.py)
GET /stats    {"requests": n, "connections": n, "closed_while_slow": n}
/script answers the script's failure as 422 (retryable: 503) {"error": <its text>}, and stops when
the client closes the connection (a cancelled job)."""
import argparse
import json
import os
import select
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATS = {"requests": 0, "connections": 0, "closed_while_slow": 0}
LOCK = threading.Lock()


def count(key):
    with LOCK:
        STATS[key] += 1
        return STATS[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK (40 ms) on a kept-alive connection. Model servers set TCP_NODELAY too.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.connection_number = count("connections")

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.answer(200, dict(STATS))
        else:
            self.answer(404, {"error": "no such route"})

    def client_closed_within(self, seconds):
        readable, _, _ = select.select([self.connection], [], [], seconds)
        return bool(readable) and self.connection.recv(1, 2) == b""  # 2 = MSG_PEEK

    def do_POST(self):
        count("requests")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = self.path
        if path == "/ok":
            self.answer(200, {"echo": json.loads(body), "job_id": self.headers.get("X-Job-Id"),
                              "attempt": self.headers.get("X-Job-Attempt"),
                              "connection": self.connection_number})
        elif path == "/noop":
            self.answer(200, {})
        elif path.startswith("/status/"):
            status = int(path.split("/")[2])
            self.answer(status, {"error": f"scripted {status}"})
        elif path == "/slow":
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.client_closed_within(0.05):
                    count("closed_while_slow")
                    self.close_connection = True
                    return
            self.answer(200, {})
        elif path == "/big":
            self.answer(200, {"blob": "x" * (2 << 20)})
        elif path == "/notjson":
            self.answer(200, b"hello", "text/plain")
        elif path == "/script":
            self.run_script(json.loads(body))
        else:
            self.answer(404, {"error": "no such route"})

    def run_script(self, job_input):
        import scripted_job  # the conformance suite's, on PYTHONPATH when this route is used
        job = {"uuid": self.headers.get("X-Job-Id"), "attempt": int(self.headers.get("X-Job-Attempt", "1")),
               "input": job_input}
        result = scripted_job.run(job, lambda percent: None, self.client_closed_within)
        if result is None:
            self.close_connection = True
            return
        what, value = result
        if what == "ok":
            self.answer(200, value)
        else:
            self.answer(503 if what == "retryable" else 422, {"error": value})


def exit_with(pid):
    while True:
        time.sleep(0.2)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with", type=int, help="exit once this process is gone (the worker it serves)")
    parser.add_argument("--ignore-sigterm", action="store_true",
                        help="outlive a SIGTERM sent to the whole process group, so a worker stopping "
                             "gracefully can still finish its jobs here")
    args = parser.parse_args()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.exit_with:
        threading.Thread(target=exit_with, args=(args.exit_with,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_conformance"))
    main()
