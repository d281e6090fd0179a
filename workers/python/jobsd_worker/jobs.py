"""The jobs in hand and their status events, as jobs-worker's runtime_jobs.cpp: a delivery becomes a
job for the handler threads unless it was cancelled before it came or its deadline has passed (then
it is acked unrun, CANCELLED or EXPIRED, as is one whose deadline passes while it waits for a
thread); the handlers' reports become events, published with confirms; a delivery is acked only
once its final event is confirmed. Cancels and --timeout-ms are applied here. The connection, its
channels, reconnects and stopping are runtime.py's.

Thread safety: JobsInHand belongs to the connection thread, except the handler threads' part
(_handler_thread, run_job), which touches only the work and report queues (thread-safe), a job's
phase (under its lock) and its `cancelled` event."""
import collections
import dataclasses
import json
import logging
import queue
import threading
import time

import pika
import pika.exceptions

from . import contract, pool

log = logging.getLogger("jobsd_worker")

RETRY_DELAY_S = 1.0  # a nacked or returned final event is sent again after this
CANCEL_SLACK_S = 2.0  # beyond kill_grace, as jobs-worker


class RetryableError(Exception):
    """Raised by a handler when another attempt may succeed: FAILED with `retryable: true`, which
    jobsd retries with backoff up to its per-type limit."""


class Progress:
    """Given to the handler: call it with a percent (whole number 0..100; only rises are sent) and
    poll `cancelled` (a threading.Event) to stop early. `cancelled` is set by a cancel request, the
    job's timeout (--timeout-ms), a lost broker connection or a stop past its grace; the outcome of
    a cancelled handler is ignored.
    `traceparent` is the worker's span of the job's W3C trace (None without one), for a handler
    that passes the trace on to a service it calls."""

    def __init__(self, report, cancelled, traceparent=None):
        self._report = report
        self.cancelled = cancelled
        self.traceparent = traceparent

    def __call__(self, percent):
        self._report(percent)


@dataclasses.dataclass
class _Job:
    tag: int
    uuid: str
    attempt: int
    received: float
    cancelled: threading.Event
    gate: contract.ProgressGate = dataclasses.field(default_factory=contract.ProgressGate)
    # "waiting" for a handler thread, then "running" (a thread took it) or "withdrawn" (cancelled
    # first: no thread will start it), decided once under the lock.
    phase: str = "waiting"
    phase_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    terminal: bool = False
    cancel_deadline: float = None
    deadline: float = None  # --timeout-ms from the delivery (monotonic)
    # The message's `expires_at` (epoch ms; None without one): not started by then, it is not run.
    expires_at_ms: int = None
    # The job message's trace continued with this delivery's own span (None without one: no
    # trace is started), on every event of the job; its trace id goes on the job's log lines.
    traceparent: str = None

    @property
    def trace_id(self):
        return self.traceparent[3:35] if self.traceparent else ""

    def expired(self):
        """True when the job has a deadline and it has passed (wall clock, as `expires_at`)."""
        return self.expires_at_ms is not None and time.time() * 1000 >= self.expires_at_ms

    def leave_waiting(self, to):
        """True when the job was waiting for a handler thread and is now `to`."""
        with self.phase_lock:
            if self.phase != "waiting":
                return False
            self.phase = to
            return True


@dataclasses.dataclass
class _Event:
    tag: int
    routing_key: str
    body: bytes
    props: dict
    terminal: bool
    due: float = 0.0


class JobsInHand:
    """The deliveries of the current session, by delivery tag, from delivery to ack, and the
    `concurrency` handler threads that run them. `wake` is called (from a handler thread) when a
    report waits for the connection thread; `begin` gives it a session's channels."""

    def __init__(self, opts, handler, worker_id, prefetch, queue_name, wake):
        self.opts = opts
        self.handler = handler
        self.worker_id = worker_id
        self.queue_name = queue_name  # for its log lines
        self.wake = wake
        self.session = 0  # a report of an older session belongs to a lost delivery: dropped
        self.reports = queue.Queue()
        # Room for every delivery the prefetch lets in beyond the threads, as jobs-worker's pool;
        # an entry that will never run (withdrawn, or its connection lost) makes room.
        self.work = pool.WorkQueue(max(4 * opts.concurrency, prefetch),
                                   stale=lambda item: item[3].cancelled.is_set() or item[3].phase != "waiting")
        self.stopped = pool.StoppedHandlers()  # handlers told to stop, still running; survives reconnects
        self.cancels = contract.CancelMemory(opts.cancel_memory, opts.control_retention_s)
        self.held = {}  # delivery tag -> _Job, this session
        self.pending = collections.deque()  # _Event not yet published (retries have a due time)
        self.consume = self.events = None  # the session's job and (confirm mode) event channels
        for i in range(opts.concurrency):
            threading.Thread(target=self._handler_thread, name=f"handler-{i}", daemon=True).start()

    def __len__(self):
        return len(self.held)

    def begin(self, consume, events):
        """A new session: its job channel (acks, rejects) and its event channel (confirm mode)."""
        self.consume, self.events = consume, events

    # ---- handler threads
    def _report(self, session, tag, kind, value=None):
        self.reports.put((session, tag, kind, value))
        self.wake()

    def _handler_thread(self):
        while True:
            session, tag, message, held = self.work.get()
            self.run_job(session, tag, message, held)

    def run_job(self, session, tag, job, held):
        cancelled, traceparent = held.cancelled, held.traceparent
        if not held.leave_waiting("running") or cancelled.is_set():
            return self._report(session, tag, "stopped")
        if held.expired():  # its deadline passed while it waited for this thread: never started
            return self._report(session, tag, "expired")
        self._report(session, tag, "started")
        progress = Progress(lambda p: self._report(session, tag, "progress", p), cancelled, traceparent)
        try:
            output = self.handler(job, progress)
            if output is None:
                output = {}
            if not isinstance(output, dict):
                raise TypeError(f"the handler returned {type(output).__name__}, not a dict")
            problem = contract.output_problem(output)  # a failure now, not an event jobsd cannot read
            if problem:
                raise ValueError(problem)
            outcome = ("ok", output)
        except RetryableError as e:
            outcome = ("retryable", error_text(e))
        except BaseException as e:  # SystemExit too: a handler thread must never die with its job
            outcome = ("failed", error_text(e))
        if cancelled.is_set():
            return self._report(session, tag, "stopped")
        self._report(session, tag, "finished", outcome)

    # ---- the connection thread: deliveries and cancels (pika callbacks)
    def on_control(self, ch, method, _props, body):
        parsed = contract.parse_control(body)
        if parsed and parsed[0] == "cancel":
            _, uuid_, attempt = parsed
            now = time.monotonic()
            self.cancels.remember(uuid_, attempt, now)
            self._cancel_held(uuid_, attempt, now)
        ch.basic_ack(method.delivery_tag)  # any kind: one this worker does not know is for newer ones

    def _cancel_held(self, uuid_, attempt, now):
        for job in self.held.values():
            if job.uuid != uuid_ or job.attempt > attempt or job.terminal or job.cancel_deadline:
                continue
            if job.leave_waiting("withdrawn"):  # no handler thread has it: it never starts
                job.cancelled.set()
                self._end_unrun(job, "CANCELLED", "cancelled before it started")
                continue
            log.info("job %s attempt %d: cancel requested; stopping it trace_id=%s", job.uuid, job.attempt,
                     job.trace_id)
            job.cancel_deadline = now + self.opts.kill_grace_ms / 1000 + CANCEL_SLACK_S
            job.cancelled.set()

    def on_job(self, ch, method, props, body):
        tag = method.delivery_tag
        traceparent = contract.child_traceparent((props.headers or {}).get(contract.TRACEPARENT_HEADER))
        try:
            message, expires_ms = contract.parse_job(body, self.opts.job_type)
        except contract.BadMessage as e:
            # Never requeued (it would come straight back): dead-lettered instead.
            log.warning("rejecting delivery %d of %s (dead-lettered): %s trace_id=%s", tag, self.queue_name, e,
                        traceparent[3:35] if traceparent else "")
            ch.basic_reject(tag, requeue=False)
            return
        now = time.monotonic()
        job = _Job(tag, message["uuid"], message["attempt"], now, threading.Event(), traceparent=traceparent,
                   deadline=now + self.opts.timeout_ms / 1000, expires_at_ms=expires_ms)
        self.held[tag] = job
        log.debug("job %s received (attempt %d, delivery %d%s) trace_id=%s", job.uuid, job.attempt, tag,
                  ", redelivered" if method.redelivered else "", job.trace_id)
        if self.cancels.cancelled(job.uuid, job.attempt, now):
            return self._end_unrun(job, "CANCELLED", "cancelled before it started")
        if job.expired():
            return self._end_unrun(job, "EXPIRED", "expired before it started")
        if not self.work.put((self.session, tag, message, job)):
            # Only when handlers ignore their stop and pile up: let another worker have it.
            log.warning("job %s: every handler thread is stuck; returning it to the queue trace_id=%s", job.uuid,
                        job.trace_id)
            ch.basic_reject(tag, requeue=True)
            del self.held[tag]

    # ---- the connection thread: each turn of the loop
    def apply_reports(self, now):
        while True:
            try:
                session, tag, kind, value = self.reports.get_nowait()
            except queue.Empty:
                return
            if kind in ("stopped", "finished", "expired"):
                self._handler_returned(session, tag)
            job = self.held.get(tag)
            if session != self.session or job is None or job.terminal:
                continue  # late: its delivery is gone or its outcome already made
            if kind == "started":
                self._enqueue(job, "STARTED")
            elif kind == "progress":
                percent = job.gate.admit(value)
                if percent is not None:
                    self._enqueue_progress(job, percent)
            elif kind == "finished":
                self._finish(job, value, now)
            elif kind == "expired":  # as on arrival: acked unrun once EXPIRED is confirmed
                self._end_unrun(job, "EXPIRED", "expired before it started (it waited for a handler thread)")
            elif kind == "stopped" and job.cancel_deadline is not None:
                self._end_unrun(job, "CANCELLED", "stopped")

    def _finish(self, job, outcome, now):
        what, value = outcome
        ms = int((now - job.received) * 1000)
        if what == "ok":
            log.info("job %s SUCCESS in %d ms trace_id=%s", job.uuid, ms, job.trace_id)
            self._enqueue(job, "SUCCESS", output=value)
        else:
            retryable = what == "retryable"
            log.info("job %s FAILED in %d ms%s: %s trace_id=%s", job.uuid, ms, " (retryable)" if retryable else "",
                     value, job.trace_id)
            self._enqueue(job, "FAILED", error=value, retryable=retryable)

    def _end_unrun(self, job, status, why):
        log.info("job %s attempt %d %s: %s trace_id=%s", job.uuid, job.attempt, status, why, job.trace_id)
        self._enqueue(job, status)

    def check_timeouts(self, now):
        """A cancelled job whose handler has not returned by its cancel deadline is reported
        CANCELLED. A job past its --timeout-ms: one that runs is told to stop and fails (its outcome,
        if it comes, is dropped); one that never got a thread goes back to the queue (another worker
        may have a free one; the queue's delivery limit bounds the round trips). Either way its
        delivery is never held forever, whatever its handler does."""
        for job in list(self.held.values()):
            if job.terminal:
                continue
            if job.cancel_deadline is not None:
                if now >= job.cancel_deadline:
                    self.stopped.stopped((self.session, job.tag), job.uuid, now)
                    self._end_unrun(job, "CANCELLED", "its handler did not return in time")
                continue
            if now < job.deadline:
                continue
            job.cancelled.set()
            if job.leave_waiting("withdrawn"):  # never taken by a handler thread: back to the queue
                self._release(job)
                continue
            self.stopped.stopped((self.session, job.tag), job.uuid, now)
            self._finish(job, ("failed", f"timed out after {self.opts.timeout_ms} ms"), now)

    def _release(self, job):
        log.warning("job %s not started within %d ms of its delivery: every handler thread is busy (%d past their "
                    "stop); released to the queue trace_id=%s", job.uuid, self.opts.timeout_ms, self.stopped.running(),
                    job.trace_id)
        self.consume.basic_reject(job.tag, requeue=True)
        del self.held[job.tag]

    def check_abandoned(self, now):
        # A handler asked to stop that still runs a second later ignores its stop: Python cannot
        # end a thread, so its thread is given up for as long as it runs (logged once; the job
        # itself was ended already). The threads are not replaced, as in jobs-worker: jobs that
        # wait for one past their timeout are released by check_timeouts.
        for uuid_ in self.stopped.abandoned(now):
            log.warning("the handler of job %s ignores its stop: abandoned, its thread stays busy until it returns",
                        uuid_)

    def _handler_returned(self, session, tag):
        if self.stopped.running() == 0:
            return  # the common case: no handler was asked to stop
        uuid_ = self.stopped.returned((session, tag))
        if uuid_ is not None:
            log.info("the abandoned handler of job %s returned", uuid_)

    # ---- the connection thread: events
    def _event(self, job, status, **fields):
        at_ms = int(time.time() * 1000)
        body = contract.event_body(job.uuid, status, job.attempt, self.worker_id, at_ms=at_ms, **fields)
        return _Event(job.tag, f"{self.opts.job_type}.{status}", json.dumps(body, separators=(",", ":")).encode(),
                      contract.event_properties(status, at_ms, job.traceparent), status in contract.TERMINAL)

    def _enqueue(self, job, status, **fields):
        if status in contract.TERMINAL:
            job.terminal = True
        self.pending.append(self._event(job, status, **fields))

    def _enqueue_progress(self, job, percent):
        event = self._event(job, "IN_PROGRESS", progress=percent)
        for i, p in enumerate(self.pending):  # one unsent progress event per job: updated in place
            if p.tag == job.tag and p.props["type"] == "IN_PROGRESS":
                event.props["message_id"] = p.props["message_id"]
                self.pending[i] = event
                return
        self.pending.append(event)

    def publish_pending(self, now):
        """Publishes the events that are due; True when one came back unroutable (the events queue
        or its binding is gone: the caller declares the topology again)."""
        unroutable = False
        for _ in range(len(self.pending)):
            event = self.pending.popleft()
            if event.due > now:
                self.pending.append(event)
                continue
            if event.tag not in self.held:
                continue
            try:
                self.events.basic_publish(self.opts.events_exchange, event.routing_key, event.body,
                                          pika.BasicProperties(**event.props), mandatory=True)
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
                unroutable = unroutable or isinstance(e, pika.exceptions.UnroutableError)
                self._not_confirmed(event, e, now)
                continue
            if event.terminal:
                # The final event is safe with the broker: now the job may leave the queue.
                self.consume.basic_ack(event.tag)
                del self.held[event.tag]
        return unroutable

    def _not_confirmed(self, event, error, now):
        if not event.terminal:
            return  # progress: the next one supersedes it
        job = self.held[event.tag]
        log.warning("the %s event of job %s was %s; sending it again in %.0f ms trace_id=%s", event.props["type"],
                    job.uuid, "returned" if isinstance(error, pika.exceptions.UnroutableError) else "nacked",
                    RETRY_DELAY_S * 1000, job.trace_id)
        event.due = now + RETRY_DELAY_S  # the same event, message_id kept
        self.pending.append(event)

    # ---- the connection thread: stopping and lost sessions
    def hand_back_waiting(self):
        """Every job no handler thread has taken goes back to the queue now, for another worker,
        instead of waiting here for a thread during the grace; returns how many."""
        waiting = [job for job in self.held.values() if not job.terminal and job.leave_waiting("withdrawn")]
        for job in waiting:
            job.cancelled.set()
            log.info("job %s attempt %d: not started when the worker stopped; handed back to the queue "
                     "trace_id=%s", job.uuid, job.attempt, job.trace_id)
            self.consume.basic_reject(job.tag, requeue=True)
            del self.held[job.tag]
        return len(waiting)

    def stop_all(self):
        """Tells every handler to stop: the worker leaves now, its deliveries to the broker."""
        for job in self.held.values():
            job.cancelled.set()

    def lose_in_flight(self):
        """The connection is gone: the broker redelivers what was not acked; late results dropped."""
        if self.held:
            log.info("%d job(s) in flight left to the broker for redelivery", len(self.held))
        for job in self.held.values():
            job.cancelled.set()
        self.held.clear()
        self.pending.clear()
        self.session += 1


def error_text(error):
    """str(error), or its type's name when that is empty or raises: a handler thread must never
    die of an exception that cannot say what it is."""
    try:
        text = str(error)
    except Exception:
        text = ""
    return text or type(error).__name__
