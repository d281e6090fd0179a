#!/usr/bin/python3
"""The worker contract (worker/README.md) held true by any worker implementation, through the real
broker and no jobsd: this suite plays jobsd (jobsd_side.py publishes job messages and cancels as
jobsd does and reads the status events), starts the worker under test with --start, and checks the
events, their properties and the acks, case by case.

The worker under test is started with `/bin/sh -c START` in a process group of its own, with its
broker and every name in the environment as `jobs-worker` reads them (JOBS_WORKER_URL,
JOBS_WORKER_TYPE=tts, JOBS_WORKER_CONCURRENCY=1, JOBS_WORKER_KILL_GRACE_MS=2000,
JOBS_WORKER_EXCHANGE, ..._QUEUE_PREFIX, ..._EVENTS_EXCHANGE, ..._EVENTS_QUEUE, ..._CONTROL_EXCHANGE, ..._CONTROL_QUEUE_PREFIX, ...), and
JOBSD_CONFORMANCE_RUNS (a directory). Its handler must follow the job's script (scripted_job.py).
A third implementation plugs in with its own start command and a handler adapter.

Concurrency 1 makes the acks visible: the next case's job reaches the worker only once the last
delivery was acked. The last case stops the worker with SIGTERM (it must exit 0), after which the
job queue must be empty: anything not acked would be back in it.

Usage: conformance.py --implementation NAME --start COMMAND [--case NAME]...
Environment: JOBSD_TEST_AMQP_URL; for the broker-restart case JOBSD_RABBITMQ_SCRIPT and
JOBSD_TEST_RABBITMQ_DIR (the test node of scripts/test.sh; the case is skipped, saying why, without
them)."""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import checks
from jobsd_side import JOB_TYPE, JobsdSide, Names


class WorkerProcess:
    """The worker under test, in a process group of its own (killed by its id, never by name)."""

    def __init__(self, command, env, log_path):
        self.command, self.env, self.log_path = command, env, log_path
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["/bin/sh", "-c", self.command], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout_s):
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def log_tail(self, lines=40):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")


class Suite:
    def __init__(self, args):
        self.name = args.implementation
        self.url = os.environ.get("JOBSD_TEST_AMQP_URL")
        if not self.url:
            sys.exit("JOBSD_TEST_AMQP_URL is not set (ctest sets it; see tests/worker_conformance.cmake)")
        self.tmp = tempfile.mkdtemp(prefix=f"worker-conformance-{self.name}-")
        self.runs_dir = os.path.join(self.tmp, "runs")
        os.mkdir(self.runs_dir)
        self.names = Names(f"conformance.{self.name}.{os.getpid()}.")
        self.jobsd = JobsdSide(self.url, self.names)
        env = dict(os.environ, JOBS_WORKER_URL=self.url, JOBS_WORKER_TYPE=JOB_TYPE, JOBS_WORKER_CONCURRENCY="1",
                   JOBS_WORKER_KILL_GRACE_MS="2000", JOBSD_CONFORMANCE_RUNS=self.runs_dir,
                   **self.names.worker_environment())
        self.base_env = env
        self.worker = WorkerProcess(args.start, env, os.path.join(self.tmp, "worker.log"))
        self.expected_dead = 0

    def runs(self, job_uuid):
        """How many times the handler ran the job (scripted_job.py records each run)."""
        try:
            with open(os.path.join(self.runs_dir, job_uuid + ".runs"), encoding="utf-8") as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    def start_worker(self):
        self.worker.start()
        self.jobsd.wait_for("the worker consuming " + self.names.job_queue,
                            lambda: self.worker.proc.poll() is None and self.jobsd.queue_counts(self.names.job_queue)[1] > 0
                            or self._exited(), 60)

    def _exited(self):
        if self.worker.proc.poll() is not None:
            raise AssertionError(f"the worker exited with {self.worker.proc.returncode}")
        return False

    def restart_worker(self):
        """After a failed case: a fresh worker and an empty job queue, so the next case is not hostage."""
        self.worker.kill()
        self.jobsd.declare_topology()  # a case may have left a binding out
        self.jobsd.ch.queue_purge(self.names.job_queue)
        self.start_worker()

    def restart_with(self, **env):
        """A fresh worker with these JOBS_WORKER_* settings added (none: back to the suite's own)."""
        self.worker.kill()
        self.worker.env = dict(self.base_env, **env)
        self.start_worker()

    def run_job(self, script, timeout_s=60, headers=None, **extra):
        msg = self.jobsd.job_message(script, **extra)
        self.jobsd.publish_job(msg, headers=headers)
        final = self.jobsd.wait_terminal(msg["uuid"], timeout_s)
        self.jobsd.pump(0.3)  # an event after the final one would be a fault: give it a chance to show
        return msg, final, self.jobsd.events_of(msg["uuid"])


# ---- the cases: each raises AssertionError with what went wrong -------------------------------

def case_success(s):
    msg, final, events = s.run_job({"progress": [25, 50, 75], "step_ms": 100}, x_passthrough={"k": [1, "v"]},
                                   priority="high")
    checks.sequence(events, msg["uuid"], "SUCCESS", started=True)
    out = final.body["output"]
    assert out == {"uuid": msg["uuid"], "passthrough": {"k": [1, "v"]}}, \
        f"the output is not the handler's (unknown message members must reach it untouched): {out}"
    progress = checks.progress_values(events)
    assert progress and progress[-1] == 75, f"the last progress reported (75) was not sent before SUCCESS: {progress}"
    assert s.runs(msg["uuid"]) == 1, f"the handler ran {s.runs(msg['uuid'])} times"


def case_trace_context(s):
    trace_id, parent_id = os.urandom(16).hex(), os.urandom(8).hex()
    sent = f"00-{trace_id}-{parent_id}-01"
    msg, _final, events = s.run_job({"step_ms": 50}, headers={"traceparent": sent})
    checks.sequence(events, msg["uuid"], "SUCCESS", started=True)
    checks.continues_trace(events, sent)
    # Without a traceparent the worker may start a trace of its own or none; one it sends is valid.
    msg, _final, events = s.run_job({"step_ms": 10})
    checks.sequence(events, msg["uuid"], "SUCCESS", started=True)
    for e in events:
        header = e.traceparent
        assert header is None or checks.TRACEPARENT.fullmatch(checks.text(header)), \
            f"an invalid traceparent {header!r} on an event of a job without one: {e}"


def case_failure(s):
    text = f"scripted failure {time.monotonic_ns()}"
    msg, final, events = s.run_job({"progress": [50], "outcome": "fail", "error": text})
    checks.sequence(events, msg["uuid"], "FAILED", started=True)
    assert text in final.body["error"], f"the error does not carry the handler's text {text!r}: {final.body}"
    assert "retryable" not in final.body, f"a plain failure is marked retryable: {final.body}"


def case_retryable_failure(s):
    text = f"busy model server {time.monotonic_ns()}"
    msg, final, events = s.run_job({"outcome": "retryable", "error": text}, attempt=2)
    checks.sequence(events, msg["uuid"], "FAILED", started=True, attempt=2)
    assert final.body.get("retryable") is True, f"a retryable failure lacks \"retryable\": true: {final.body}"
    assert text in final.body["error"], f"the error does not carry the handler's text: {final.body}"


def case_progress_rises(s):
    reported = [10, 30, 20, 30, 60, 50, 90, 90]
    msg, final, events = s.run_job({"progress": reported, "step_ms": 80})
    checks.sequence(events, msg["uuid"], "SUCCESS", started=True)  # checks progress strictly rises
    sent = checks.progress_values(events)
    assert set(sent) <= set(reported), f"progress values the handler never reported: {sent}"
    assert sent and sent[-1] == 90, f"the highest progress (90) was not sent: {sent}"


def case_cancel_running(s):
    msg = s.jobsd.job_message({"progress": [10], "outcome": "hang"})
    s.jobsd.publish_job(msg)
    u = msg["uuid"]
    s.jobsd.wait_for(f"job {u} running (its 10 %)",
                     lambda: any(e.body.get("progress") == 10 for e in s.jobsd.events_of(u)), 60)
    t0 = time.monotonic()
    s.jobsd.publish_cancel(u, attempt=1)
    final = s.jobsd.wait_terminal(u, 30)
    s.jobsd.pump(0.3)
    checks.sequence(s.jobsd.events_of(u), u, "CANCELLED", started=True)
    print(f"  cancelled {time.monotonic() - t0:.2f} s after the cancel request", flush=True)
    assert final.status == "CANCELLED"


def case_cancelled_before_delivery(s):
    msg = s.jobsd.job_message({"outcome": "hang"})
    s.jobsd.publish_cancel(msg["uuid"], attempt=1)
    s.jobsd.publish_job(msg)
    final = s.jobsd.wait_terminal(msg["uuid"], 30)
    s.jobsd.pump(0.3)
    # Cancel and job travel by different queues, so the job may start before the cancel is read;
    # either way it must end CANCELLED, never run to its end.
    checks.sequence(s.jobsd.events_of(msg["uuid"]), msg["uuid"], "CANCELLED", started=None)
    print(f"  the handler ran {s.runs(msg['uuid'])} time(s)", flush=True)
    assert final.status == "CANCELLED"


def case_cancel_waiting_for_a_thread(s):
    """Prefetch 2, concurrency 1: a job delivered while the one thread is busy waits in the worker.
    Cancelled there, it ends CANCELLED at once, unrun, and is acked: not when the busy thread comes
    free, nor at the deadline a running job's cancel gets (the kill grace, 20 s here, + 2 s)."""
    s.restart_with(JOBS_WORKER_PREFETCH="2", JOBS_WORKER_KILL_GRACE_MS="20000")
    try:
        blocker = s.jobsd.job_message({"progress": [10], "outcome": "hang"})
        s.jobsd.publish_job(blocker)
        b = blocker["uuid"]
        s.jobsd.wait_for(f"job {b} running (its 10 %)",
                         lambda: any(e.body.get("progress") == 10 for e in s.jobsd.events_of(b)), 60)
        doomed = s.jobsd.job_message({"outcome": "hang"})
        s.jobsd.publish_job(doomed)
        u = doomed["uuid"]
        s.jobsd.wait_for(f"job {u} delivered (the job queue empty)",
                         lambda: s.jobsd.queue_counts(s.names.job_queue)[0] == 0, 30)
        t0 = time.monotonic()
        s.jobsd.publish_cancel(u, attempt=1)
        final = s.jobsd.wait_terminal(u, 10)
        took = time.monotonic() - t0
        s.jobsd.pump(0.3)
        checks.sequence(s.jobsd.events_of(u), u, "CANCELLED", started=False)
        assert s.runs(u) == 0, f"the handler ran the job cancelled while it waited ({s.runs(u)} times)"
        assert final.status == "CANCELLED"
        print(f"  cancelled {took:.2f} s after the cancel request", flush=True)
        assert not s.jobsd.terminal_of(b), f"the running job ended with the other's cancel: {s.jobsd.terminal_of(b)}"
        # Acked: its place in the prefetch goes to the next job while the first still runs.
        nxt = s.jobsd.job_message({"outcome": "hang"})
        s.jobsd.publish_job(nxt)
        s.jobsd.wait_for(f"job {nxt['uuid']} delivered in the cancelled job's place",
                         lambda: s.jobsd.queue_counts(s.names.job_queue)[0] == 0, 10)
        for job in (nxt["uuid"], b):
            s.jobsd.publish_cancel(job, attempt=1)
            assert s.jobsd.wait_terminal(job, 30).status == "CANCELLED"
    finally:
        s.restart_with()


def case_expired(s):
    msg, final, events = s.run_job({"progress": [50]}, expires_in_s=-5)
    checks.sequence(events, msg["uuid"], "EXPIRED", started=False)
    assert s.runs(msg["uuid"]) == 0, "the handler ran a job received after its expires_at"


def case_redelivery_of_done_job(s):
    msg, first, _ = s.run_job({"progress": [50]})
    assert first.status == "SUCCESS", f"the first delivery did not succeed: {first}"
    s.jobsd.publish_job(msg)  # the same message again: jobsd republished it after a crash
    probe, probe_final, _ = s.run_job({})
    assert probe_final.status == "SUCCESS", "the job after the duplicate did not succeed"
    events = s.jobsd.events_of(msg["uuid"])
    later = [e for e in events if e.received > first.received]
    if later:  # redone (idempotently) rather than skipped: a whole attempt again, same result
        checks.sequence(later, msg["uuid"], "SUCCESS", started=None)
        assert later[-1].body["output"] == first.body["output"], "the repeat's output differs"
    print(f"  the duplicate was {'redone' if later else 'skipped'}; {s.runs(msg['uuid'])} run(s)", flush=True)


def case_final_event_unroutable(s):
    """Nothing bound to the events exchange (jobsd's queue unbound): events published `mandatory`
    come back, the job stays unacked and its final event is published again until it is routed.
    A worker that publishes without `mandatory`, or acks on a return, loses the outcome here."""
    n = s.names
    s.jobsd.ch.queue_unbind(n.events_queue, n.events_exchange, "#")
    msg = s.jobsd.job_message({"progress": [50], "step_ms": 100})
    s.jobsd.publish_job(msg)
    u = msg["uuid"]
    done = os.path.join(s.runs_dir, u + ".done")
    s.jobsd.wait_for(f"job {u} run through", lambda: os.path.exists(done), 60)
    s.jobsd.pump(1.5)  # the final event is published meanwhile (and returned, unless the worker rebinds)
    s.jobsd.ch.queue_bind(n.events_queue, n.events_exchange, "#")  # as jobsd does at its next start
    final = s.jobsd.wait_terminal(u, 60)
    assert final.status == "SUCCESS", f"the job ended {final.status}"
    _, probe, _ = s.run_job({})
    assert probe.status == "SUCCESS", "the job after it did not succeed (was it acked?)"


def case_poison_message(s):
    s.jobsd.publish_job({}, body=b"this is not JSON {")
    s.expected_dead += 1
    s.jobsd.wait_for("the bad message dead-lettered",
                     lambda: s.jobsd.queue_counts(s.names.dead_queue)[0] >= s.expected_dead, 30)
    _, probe, _ = s.run_job({})
    assert probe.status == "SUCCESS", "the worker did not go on after a bad message"


def case_url_list(s):
    """A list of broker URLs, the first one dead, tried in order: the worker gets to the second. It
    stays running so for the rest of the suite (a broker restart makes it go round the list)."""
    s.worker.signal(signal.SIGTERM)
    assert s.worker.wait(60) == 0, "the idle worker did not exit 0 on SIGTERM"
    s.worker.env = dict(s.worker.env, JOBS_WORKER_URL=f"amqp://guest:guest@127.0.0.1:1/,{s.url}",
                        JOBS_WORKER_URL_ORDER="in_order")
    s.start_worker()
    _, final, _ = s.run_job({"progress": [50]})
    assert final.status == "SUCCESS", f"the job ended {final.status}"


def case_broker_restart(s):
    script, node_dir = os.environ.get("JOBSD_RABBITMQ_SCRIPT"), os.environ.get("JOBSD_TEST_RABBITMQ_DIR")
    env_file = os.path.join(node_dir or "", "node.env")
    if not script or not node_dir or not os.path.exists(env_file):
        return "skipped: no restartable test node (JOBSD_RABBITMQ_SCRIPT, JOBSD_TEST_RABBITMQ_DIR/node.env)"
    ports = dict(re.findall(r"^(AMQP_PORT|HTTP_PORT)=(\d*)$", open(env_file).read(), re.M))
    start = ["bash", script, "start", node_dir, ports["AMQP_PORT"]]
    if ports.get("HTTP_PORT"):
        start += ["--management", ports["HTTP_PORT"]]
    # 10 s of work: still running when the node goes down (a stop takes a few seconds).
    msg = s.jobsd.job_message({"progress": [20, 40, 60, 80], "step_ms": 2500})
    s.jobsd.publish_job(msg)
    u = msg["uuid"]
    s.jobsd.wait_for(f"job {u} started", lambda: any(e.status == "STARTED" for e in s.jobsd.events_of(u)), 60)
    s.jobsd.close()
    subprocess.run(["bash", script, "stop", node_dir], check=True, capture_output=True)
    subprocess.run(start, check=True, capture_output=True,
                   env=dict(os.environ, JOBSD_RABBITMQ_START_TIMEOUT="180"))
    s.jobsd.connect()
    final = s.jobsd.wait_terminal(u, 180)
    assert final.status == "SUCCESS", f"the job ended {final.status} after the broker restart: {final}"
    events = s.jobsd.events_of(u)
    checks.each_event(events, u)
    assert s.runs(u) >= 1
    print(f"  the job ran {s.runs(u)} time(s) around the restart", flush=True)


def case_stop_hands_back_waiting_jobs(s):
    """Prefetch 2, concurrency 1: at SIGTERM a delivery waiting for the busy thread goes back to the
    queue at once, unrun, for another worker; the running job still finishes within the grace and
    the worker exits 0. A worker started afterwards runs the job handed back."""
    s.restart_with(JOBS_WORKER_PREFETCH="2")
    try:
        running = s.jobsd.job_message({"progress": [10, 20, 30, 40], "step_ms": 1500})
        s.jobsd.publish_job(running)
        r = running["uuid"]
        s.jobsd.wait_for(f"job {r} running (its 10 %)",
                         lambda: any(e.body.get("progress") == 10 for e in s.jobsd.events_of(r)), 60)
        waiting = s.jobsd.job_message({})
        s.jobsd.publish_job(waiting)
        w = waiting["uuid"]
        s.jobsd.wait_for(f"job {w} delivered (the job queue empty)",
                         lambda: s.jobsd.queue_counts(s.names.job_queue)[0] == 0, 30)
        s.worker.signal(signal.SIGTERM)
        t0 = time.monotonic()
        s.jobsd.wait_for(f"job {w}, not started, back in the queue after SIGTERM",
                         lambda: s.jobsd.queue_counts(s.names.job_queue)[0] == 1, 10)
        took = time.monotonic() - t0
        assert not s.jobsd.terminal_of(r), "the waiting job went back only once the running one had ended"
        print(f"  handed back {took:.2f} s after SIGTERM, the running job still running", flush=True)
        final = s.jobsd.wait_terminal(r, 60)
        assert final.status == "SUCCESS", f"the job running at SIGTERM ended {final.status}"
        code = s.worker.wait(60)
        assert code == 0, f"the worker did not exit 0 within 60 s of SIGTERM (exit {code})"
        assert s.runs(w) == 0, f"the stopping worker ran the job it had not started ({s.runs(w)} times)"
        assert not s.jobsd.events_of(w), f"events of the job handed back: {s.jobsd.events_of(w)}"
    finally:
        s.restart_with()
    final = s.jobsd.wait_terminal(w, 60)
    assert final.status == "SUCCESS", f"the job handed back ended {final.status} on the next worker"
    assert s.runs(w) == 1, f"the job handed back ran {s.runs(w)} times"


def case_graceful_stop(s):
    """Last: SIGTERM with a job in hand; it finishes, the worker exits 0, the queue is empty."""
    msg = s.jobsd.job_message({"progress": [25, 50, 75], "step_ms": 700})
    s.jobsd.publish_job(msg)
    u = msg["uuid"]
    s.jobsd.wait_for(f"job {u} started", lambda: any(e.status == "STARTED" for e in s.jobsd.events_of(u)), 60)
    s.worker.signal(signal.SIGTERM)
    final = s.jobsd.wait_terminal(u, 60)
    assert final.status == "SUCCESS", f"the job in hand at SIGTERM ended {final.status}"
    code = s.worker.wait(60)
    assert code == 0, f"the worker did not exit 0 within 60 s of SIGTERM (exit {code})"
    # The broker drops a gone consumer from a quorum queue a moment after its connection closed.
    try:
        s.jobsd.wait_for("the worker's consumer gone", lambda: s.jobsd.queue_counts(s.names.job_queue)[1] == 0, 10)
    except AssertionError:
        pass  # reported below with the counts
    ready, consumers = s.jobsd.queue_counts(s.names.job_queue)
    assert ready == 0, f"{ready} job(s) left in the queue unacked after the worker stopped"
    assert consumers == 0, f"{consumers} consumer(s) still on the queue 10 s after the worker stopped"
    dead = s.jobsd.queue_counts(s.names.dead_queue)[0]
    assert dead == s.expected_dead, f"{dead} message(s) dead-lettered, expected {s.expected_dead}"


CASES = [case_success, case_trace_context, case_failure, case_retryable_failure, case_progress_rises, case_cancel_running,
         case_cancel_waiting_for_a_thread, case_cancelled_before_delivery, case_expired, case_redelivery_of_done_job, case_final_event_unroutable,
         case_poison_message, case_url_list, case_broker_restart, case_stop_hands_back_waiting_jobs,
         case_graceful_stop]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--implementation", required=True, help="a name for the reports and broker names")
    parser.add_argument("--start", required=True, help="shell command that starts the worker under test")
    parser.add_argument("--case", action="append", help="run only these cases (names without case_)")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.case or c.__name__[5:] in args.case]
    s = Suite(args)
    failures, passed, skipped = [], 0, 0
    try:
        s.start_worker()
        for case in cases:
            t0 = time.monotonic()
            print(f"{s.name}: {case.__name__[5:]} ...", flush=True)
            try:
                note = case(s)
                print(f"{s.name}: {case.__name__[5:]} {note or 'ok'} ({time.monotonic() - t0:.1f} s)", flush=True)
                skipped += bool(note)
                passed += not note
            except AssertionError as e:
                failures.append(case.__name__[5:])
                print(f"{s.name}: {case.__name__[5:]} FAILED: {e}\n---- worker log tail\n{s.worker.log_tail()}",
                      flush=True)
                if case is not cases[-1]:
                    s.restart_worker()
        checks.every_job_ends_final(s.jobsd.events, s.jobsd.publishes)
    except AssertionError as e:  # starting the worker, or the checks across the whole run
        failures.append("whole run")
        print(f"{s.name}: FAILED: {e}\n---- worker log tail\n{s.worker.log_tail()}", flush=True)
    finally:
        s.worker.kill()
        try:
            s.jobsd.delete_everything()
        except Exception as e:  # the node may be down after a failed restart: reported, not fatal
            print(f"cleanup: {e}", flush=True)
        s.jobsd.close()
    print(f"{s.name}: {passed} of {len(cases)} cases passed, {skipped} skipped"
          f"{', failed: ' + ', '.join(failures) if failures else ''}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
