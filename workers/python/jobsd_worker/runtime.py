"""The worker runtime: one pika BlockingConnection on the calling thread (channel for jobs, one in
confirm mode for status events, one reading the type's control stream), and `concurrency` handler
threads. Handlers report through a queue that the connection thread drains; only that thread
touches the connection. A job's delivery is acked only once its final event is confirmed.

Thread safety: Worker.run() is called once, on one thread; Worker.stop() may be called from any
thread or a signal handler; handlers run on the worker's own daemon threads."""
import collections
import dataclasses
import datetime
import json
import logging
import os
import queue
import random
import socket
import threading
import time

import pika
import pika.exceptions

from . import contract, topology

log = logging.getLogger("jobsd_worker")

RETRY_DELAY_S = 1.0  # a nacked or returned final event is sent again after this
CANCEL_SLACK_S = 2.0  # beyond kill_grace, as jobs-worker
POLL_S = 0.2  # the loop wakes at least this often (heartbeats, deadlines, signals)


class RetryableError(Exception):
    """Raised by a handler when another attempt may succeed: FAILED with `retryable: true`, which
    jobsd retries with backoff up to its per-type limit."""


class Progress:
    """Given to the handler: call it with a percent (whole number 0..100; only rises are sent) and
    poll `cancelled` (a threading.Event) to stop early. `cancelled` is set by a cancel request, a
    lost broker connection or a stop past its grace; the outcome of a cancelled handler is ignored.
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
    # The job message's trace continued with this delivery's own span (None without one: no
    # trace is started), on every event of the job; its trace id goes on the job's log lines.
    traceparent: str = None

    @property
    def trace_id(self):
        return self.traceparent[3:35] if self.traceparent else ""

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


class Worker:
    def __init__(self, opts, handler, worker_id=None):
        self.opts = opts
        self.handler = handler
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stop_requests = 0
        self.session = 0  # a report of an older session belongs to a lost delivery: dropped
        self.reports = queue.Queue()
        self.work = queue.Queue()
        self.cancels = contract.CancelMemory(opts.cancel_memory, opts.control_retention_s)
        self.jobs = {}  # delivery tag -> _Job, this session
        self.pending = collections.deque()  # _Event not yet published (retries have a due time)
        self.conn = None
        for i in range(opts.concurrency):
            threading.Thread(target=self._handler_thread, name=f"handler-{i}", daemon=True).start()

    # ---- any thread
    def stop(self):
        self.stop_requests += 1
        self._wake()

    def _wake(self):
        conn = self.conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(lambda: None)
            except Exception:  # closed meanwhile: the loop wakes within POLL_S anyway
                pass

    def _report(self, session, tag, kind, value=None):
        self.reports.put((session, tag, kind, value))
        self._wake()

    # ---- handler threads
    def _handler_thread(self):
        while True:
            session, tag, message, held = self.work.get()
            self._run_job(session, tag, message, held)

    def _run_job(self, session, tag, job, held):
        cancelled, traceparent = held.cancelled, held.traceparent
        if not held.leave_waiting("running") or cancelled.is_set():
            return self._report(session, tag, "stopped")
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
            outcome = ("retryable", str(e) or type(e).__name__)
        except BaseException as e:  # SystemExit too: a handler thread must never die with its job
            outcome = ("failed", str(e) or type(e).__name__)
        if cancelled.is_set():
            return self._report(session, tag, "stopped")
        self._report(session, tag, "finished", outcome)

    # ---- the connection thread
    def run(self):
        """Serves until stopped; reconnects over the URLs with backoff. Returns the exit code."""
        urls = list(self.opts.urls)
        index = random.randrange(len(urls)) if self.opts.url_order == "spread" else 0
        backoff = 0.2
        while self.stop_requests == 0:
            url = urls[index % len(urls)]
            try:
                if self._session(url):
                    return 0
                backoff = 0.2
            except (pika.exceptions.AMQPError, OSError) as e:
                log.warning("broker %s: %s; reconnecting in %.1f s", _where(url), _describe(e), backoff)
            self._lose_in_flight()
            index += 1
            deadline = time.monotonic() + backoff
            while self.stop_requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            backoff = min(backoff * 2, 5.0)
        return 0

    def _session(self, url):
        params = pika.URLParameters(url)
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.blocked_connection_timeout = 300
        if params.heartbeat is None:
            params.heartbeat = 30
        conn = pika.BlockingConnection(params)
        try:
            self._open(conn)
            log.info("broker %s connected; consuming %s with prefetch %d", _where(url), self.queue_name,
                     self.prefetch)
            return self._loop(conn)
        finally:
            self.conn = None
            if conn.is_open:
                try:
                    conn.close()
                except Exception:
                    pass

    @property
    def prefetch(self):
        return self.opts.prefetch or self.opts.concurrency

    @property
    def queue_name(self):
        return self.opts.queue_prefix + self.opts.job_type

    def _open(self, conn):
        topology.declare(conn, self.opts)
        self.events = conn.channel()
        self.events.confirm_delivery()
        # Cancels first, so one sent before this connect is known before any job arrives.
        self.control = conn.channel()
        self.control.basic_qos(prefetch_count=64)
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=self.opts.control_retention_s)
        self.control.basic_consume(self.opts.control_queue_prefix + self.opts.job_type, self._on_control,
                                   arguments={"x-stream-offset": since})
        self.consume = conn.channel()
        self.consume.basic_qos(prefetch_count=self.prefetch)
        self.consume.add_on_cancel_callback(self._on_broker_cancel)
        self.consumer_tag = self.consume.basic_consume(self.queue_name, self._on_job)
        self.cancel_sent = False
        self.redeclare = False
        self.consumer_lost = False
        self.conn = conn

    def _loop(self, conn):
        """True when stopped for good, with every job in hand done or left to the broker."""
        while True:
            conn.process_data_events(time_limit=POLL_S)
            if self.consumer_lost:
                raise pika.exceptions.ConsumerCancelled("the broker cancelled the job consumer")
            now = time.monotonic()
            self._apply_reports(now)
            self._check_cancel_deadlines(now)
            if self.redeclare:
                self.redeclare = False
                topology.declare(conn, self.opts)
            self._publish_pending(now)
            if self.stop_requests and self._stop_step(now):
                return True

    def _stop_step(self, now):
        if not self.cancel_sent:
            self.consume.basic_cancel(self.consumer_tag)  # deliveries not yet dispatched go back
            self.cancel_sent = True
            self.grace_deadline = now + self.opts.grace_ms / 1000
            handed_back = self._hand_back_waiting()
            log.info("stopping: consumer cancelled, %d job(s) not started handed back, %d in hand, grace %d ms",
                     handed_back, len(self.jobs), self.opts.grace_ms)
        if not self.jobs:
            log.info("stopping: every job in hand is done and acked")
            return True
        if now >= self.grace_deadline or self.stop_requests > 1:
            log.warning("stopping now: %d job(s) unfinished, the broker will redeliver them", len(self.jobs))
            for job in self.jobs.values():
                job.cancelled.set()
            return True
        return False

    def _hand_back_waiting(self):
        """Every job no handler thread has taken goes back to the queue now, for another worker,
        instead of waiting here for a thread during the grace; returns how many."""
        waiting = [job for job in self.jobs.values() if not job.terminal and job.leave_waiting("withdrawn")]
        for job in waiting:
            job.cancelled.set()
            log.info("job %s attempt %d: not started when the worker stopped; handed back to the queue "
                     "trace_id=%s", job.uuid, job.attempt, job.trace_id)
            self.consume.basic_reject(job.tag, requeue=True)
            del self.jobs[job.tag]
        return len(waiting)

    def _on_broker_cancel(self, _frame):
        # The queue was deleted or its node lost: the loop reconnects, declares it again and
        # consumes it (raising here would only make pika log a traceback).
        self.consumer_lost = True

    def _on_control(self, ch, method, _props, body):
        parsed = contract.parse_control(body)
        if parsed and parsed[0] == "cancel":
            _, uuid_, attempt = parsed
            now = time.monotonic()
            self.cancels.remember(uuid_, attempt, now)
            self._cancel_held(uuid_, attempt, now)
        ch.basic_ack(method.delivery_tag)  # any kind: one this worker does not know is for newer ones

    def _cancel_held(self, uuid_, attempt, now):
        for job in self.jobs.values():
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

    def _on_job(self, ch, method, props, body):
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
        job = _Job(tag, message["uuid"], message["attempt"], now, threading.Event(), traceparent=traceparent)
        self.jobs[tag] = job
        log.debug("job %s received (attempt %d, delivery %d%s) trace_id=%s", job.uuid, job.attempt, tag,
                  ", redelivered" if method.redelivered else "", job.trace_id)
        if self.cancels.cancelled(job.uuid, job.attempt, now):
            return self._end_unrun(job, "CANCELLED", "cancelled before it started")
        if expires_ms is not None and time.time() * 1000 >= expires_ms:
            return self._end_unrun(job, "EXPIRED", "expired before it started")
        self.work.put((self.session, tag, message, job))

    def _apply_reports(self, now):
        while True:
            try:
                session, tag, kind, value = self.reports.get_nowait()
            except queue.Empty:
                return
            job = self.jobs.get(tag)
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

    def _check_cancel_deadlines(self, now):
        for job in list(self.jobs.values()):
            if not job.terminal and job.cancel_deadline is not None and now >= job.cancel_deadline:
                log.warning("the handler of job %s ignores its cancel: reported CANCELLED, its thread stays busy"
                            " trace_id=%s", job.uuid, job.trace_id)
                self._end_unrun(job, "CANCELLED", "its handler did not return in time")

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

    def _publish_pending(self, now):
        for _ in range(len(self.pending)):
            event = self.pending.popleft()
            if event.due > now:
                self.pending.append(event)
                continue
            if event.tag not in self.jobs:
                continue
            try:
                self.events.basic_publish(self.opts.events_exchange, event.routing_key, event.body,
                                          pika.BasicProperties(**event.props), mandatory=True)
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
                self._not_confirmed(event, e, now)
                continue
            if event.terminal:
                # The final event is safe with the broker: now the job may leave the queue.
                self.consume.basic_ack(event.tag)
                del self.jobs[event.tag]

    def _not_confirmed(self, event, error, now):
        if isinstance(error, pika.exceptions.UnroutableError):
            self.redeclare = True  # the events queue or its binding is gone: declared again
        if not event.terminal:
            return  # progress: the next one supersedes it
        job = self.jobs[event.tag]
        log.warning("the %s event of job %s was %s; sending it again in %.0f ms trace_id=%s", event.props["type"],
                    job.uuid, "returned" if self.redeclare else "nacked", RETRY_DELAY_S * 1000, job.trace_id)
        event.due = now + RETRY_DELAY_S  # the same event, message_id kept
        self.pending.append(event)

    def _lose_in_flight(self):
        """The connection is gone: the broker redelivers what was not acked; late results dropped."""
        if self.jobs:
            log.info("%d job(s) in flight left to the broker for redelivery", len(self.jobs))
        for job in self.jobs.values():
            job.cancelled.set()
        self.jobs.clear()
        self.pending.clear()
        self.session += 1


def _where(url):
    p = pika.URLParameters(url)
    return f"{p.host}:{p.port}"


def _describe(error):
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
