"""The worker runtime's connection: one pika BlockingConnection on the calling thread (a channel
for jobs, one in confirm mode for status events, one reading the type's control stream), its loop,
reconnects with backoff and the graceful stop. The jobs in hand, their handler threads and their
events are jobs.py's; handlers report through a queue that this thread drains, and only this thread
touches the connection.

Thread safety: Worker.run() is called once, on one thread; Worker.stop() may be called from any
thread or a signal handler; handlers run on the worker's own daemon threads."""
import datetime
import functools
import logging
import os
import random
import socket
import threading
import time

import pika
import pika.exceptions

from . import topology
from .jobs import JobsInHand, error_text

log = logging.getLogger("jobsd_worker")

POLL_S = 0.2  # the loop wakes at least this often (heartbeats, deadlines, signals)
# The longest a publish may wait inside pika on a connection the broker blocked (see _parameters).
BLOCKED_PUBLISH_TIMEOUT_S = 300


class Worker:
    def __init__(self, opts, handler, worker_id=None):
        self.opts = opts
        self.stop_requests = 0
        self.conn = None
        self.connected = False  # the current session got as far as consuming
        self.loop_thread = None  # the thread in run(), where a signal handler runs too
        self.blocked = False  # between connection.blocked and unblocked: nothing is published
        self.lost = ""  # a consumer the broker cancelled (set by a pika callback; the loop reconnects)
        # The deliveries of the session and the handler threads; it outlives reconnects.
        self.jobs = JobsInHand(opts, handler, worker_id or f"{socket.gethostname()}:{os.getpid()}", self.prefetch,
                               self.queue_name, self._wake)

    # ---- any thread
    def stop(self):
        self.stop_requests += 1
        # A signal handler runs on the connection thread, maybe inside pika's _cleanup, which
        # holds the lock add_callback_threadsafe takes (not reentrant): there only the count is
        # raised, and the loop sees it within POLL_S. Another thread wakes the loop at once.
        if threading.current_thread() is not self.loop_thread:
            self._wake()

    def _wake(self):
        conn = self.conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(lambda: None)
            except Exception:  # closed meanwhile: the loop wakes within POLL_S anyway
                pass

    # ---- the connection thread
    def run(self):
        """Serves until stopped; reconnects over the URLs with backoff. Returns the exit code."""
        self.loop_thread = threading.current_thread()
        urls = list(self.opts.urls)
        index = random.randrange(len(urls)) if self.opts.url_order == "spread" else 0
        backoff = 0.2
        while self.stop_requests == 0:
            url = urls[index % len(urls)]
            self.connected = False
            try:
                if self._session(url):
                    return 0
            except (pika.exceptions.AMQPError, OSError) as e:
                if self.connected:
                    backoff = 0.2  # a session that served starts the backoff over, as jobs-worker's
                log.warning("broker %s: %s; reconnecting in %.1f s", _where(url), _describe(e), backoff)
            except Exception:
                # A fault of ours on the connection thread: the session is dropped (its jobs are
                # redelivered) and a new one started, as jobs-worker does, rather than the process
                # exiting and leaving the job that caused it to the next worker.
                if self.connected:
                    backoff = 0.2
                log.exception("broker %s: the session failed; reconnecting in %.1f s", _where(url), backoff)
            self.jobs.lose_in_flight()
            self.blocked = False
            index += 1
            self._pause(backoff)
            backoff = min(backoff * 2, 5.0)
        return 0

    def _pause(self, seconds):
        """Waits before the next connect; a stop ends the wait."""
        deadline = time.monotonic() + seconds
        while self.stop_requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

    def _session(self, url):
        conn = pika.BlockingConnection(_parameters(url))
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
        self.lost = ""
        self.blocked = False
        conn.add_on_connection_blocked_callback(self._on_blocked)
        conn.add_on_connection_unblocked_callback(self._on_unblocked)
        topology.declare(conn, self.opts)
        self.events = conn.channel()
        self.events.confirm_delivery()
        # Cancels first, so one sent before this connect is known before any job arrives.
        self.control = conn.channel()
        self.control.basic_qos(prefetch_count=64)
        self.control.add_on_cancel_callback(functools.partial(self._on_broker_cancel, "the control stream consumer"))
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=self.opts.control_retention_s)
        self.control.basic_consume(self.opts.control_queue_prefix + self.opts.job_type, self.jobs.on_control,
                                   arguments={"x-stream-offset": since})
        self.consume = conn.channel()
        self.consume.basic_qos(prefetch_count=self.prefetch)
        self.consume.add_on_cancel_callback(functools.partial(self._on_broker_cancel, "the job consumer"))
        self.jobs.begin(self.consume, self.events)
        self.consumer_tag = self.consume.basic_consume(self.queue_name, self.jobs.on_job)
        self.cancel_sent = False
        self.redeclare = False
        self.conn = conn
        self.connected = True

    def _loop(self, conn):
        """True when stopped for good, with every job in hand done or left to the broker."""
        while True:
            conn.process_data_events(time_limit=POLL_S)
            self._check_session()
            now = time.monotonic()
            self.jobs.apply_reports(now)
            self.jobs.check_timeouts(now)
            self.jobs.check_abandoned(now)
            if self.redeclare:
                self.redeclare = False
                topology.declare(conn, self.opts)
            # While blocked (a broker alarm) nothing is published: a publish would wait inside pika
            # for a confirm the broker sends only once it unblocks, and cancels and stop with it.
            if not self.blocked and self.jobs.publish_pending(now):
                self.redeclare = True  # an event came back unroutable: declared again next turn
            if self.stop_requests and self._stop_step(now):
                return True

    def _check_session(self):
        """Raises when the broker ended part of the session without closing the connection: a
        consumer cancelled (its queue deleted, or its node lost) or a channel closed. pika reports
        neither from process_data_events; as jobs-worker, any of them means a new session."""
        if self.lost:
            raise pika.exceptions.ConsumerCancelled(f"the broker cancelled {self.lost}")
        for name, ch in (("job", self.consume), ("event", self.events), ("control", self.control)):
            if not ch.is_open:
                raise pika.exceptions.ChannelWrongStateError(f"the broker closed the {name} channel")

    def _stop_step(self, now):
        if not self.cancel_sent:
            self.consume.basic_cancel(self.consumer_tag)  # deliveries not yet dispatched go back
            self.cancel_sent = True
            self.grace_deadline = now + self.opts.grace_ms / 1000
            handed_back = self.jobs.hand_back_waiting()
            log.info("stopping: consumer cancelled, %d job(s) not started handed back, %d in hand, grace %d ms",
                     handed_back, len(self.jobs), self.opts.grace_ms)
        if len(self.jobs) == 0:
            log.info("stopping: every job in hand is done and acked")
            return True
        if now >= self.grace_deadline or self.stop_requests > 1:
            log.warning("stopping now: %d job(s) unfinished, the broker will redeliver them", len(self.jobs))
            self.jobs.stop_all()
            return True
        return False

    def _on_broker_cancel(self, which, _frame):
        # The queue was deleted or its node lost: the loop reconnects, declares it again and
        # consumes it (raising here would only make pika log a traceback).
        self.lost = self.lost or which

    def _on_blocked(self, _conn, frame):
        log.warning("broker blocked the connection (%s): events wait until it unblocks",
                    getattr(frame.method, "reason", ""))
        self.blocked = True

    def _on_unblocked(self, _conn, _frame):
        log.info("broker unblocked the connection")
        self.blocked = False


def _parameters(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    # A broker alarm (connection.blocked) does not end the session: the loop publishes nothing
    # while blocked, so jobs in hand are kept and their events sent once it unblocks. But pika runs
    # the blocked callback only between turns: an alarm that starts while one turn publishes
    # several events leaves the next publish waiting inside pika for a confirm the broker holds.
    # This bound ends that wait (the connection is dropped and the jobs in hand go back to the
    # queue) instead of leaving stop, cancels and timeouts unheard for the whole alarm.
    params.blocked_connection_timeout = BLOCKED_PUBLISH_TIMEOUT_S
    if params.heartbeat is None:
        params.heartbeat = 30
    return params


def _where(url):
    p = pika.URLParameters(url)
    return f"{p.host}:{p.port}"


def _describe(error):
    text = error_text(error)
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text

