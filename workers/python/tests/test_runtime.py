#!/usr/bin/python3
"""Unit tests of jobsd_worker's runtime without a broker: the connection loop's steps (runtime.py)
and the jobs in hand (jobs.py) driven by hand, with recorders in place of pika's connection and channels (they note the calls the runtime
makes; no protocol is simulated), real handler threads, and time passed in where the runtime takes
it. Also the handler pool's parts (pool.py). Run by ctest (python_worker_unit_tests)."""
import json
import logging
import os
import sys
import threading
import time
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pika.exceptions  # noqa: E402

from jobsd_worker import contract, jobs, options, pool, runtime  # noqa: E402

WAIT_S = 5  # a handler thread reports within this, or the test fails
logging.getLogger("jobsd_worker").addHandler(logging.NullHandler())  # quiet unless a test reads the log


class Channel:
    """Notes what the runtime asks of a pika channel; is_open is set by the test."""

    def __init__(self):
        self.is_open = True
        self.published, self.acked, self.rejected = [], [], []
        self.cancel_callbacks = []

    def basic_publish(self, exchange, routing_key, body, properties, mandatory=False):
        self.published.append((routing_key, json.loads(body)))

    def basic_ack(self, tag):
        self.acked.append(tag)

    def basic_reject(self, tag, requeue):
        self.rejected.append((tag, requeue))

    def add_on_cancel_callback(self, callback):
        self.cancel_callbacks.append(callback)

    def basic_consume(self, *_args, **_kwargs):
        return "ctag"

    # declarations and the rest: nothing to note
    def _nothing(self, *_args, **_kwargs):
        pass

    exchange_declare = queue_declare = queue_bind = close = confirm_delivery = basic_qos = basic_cancel = _nothing


class Connection:
    """Notes callbacks and channels; each process_data_events runs the test's next step, and ends
    the loop (Done) when none is left."""

    class Done(Exception):
        pass

    def __init__(self, steps=()):
        self.steps = list(steps)
        self.channels = []
        self.blocked_callbacks, self.unblocked_callbacks, self.threadsafe = [], [], []
        self.is_open = False

    def channel(self):
        self.channels.append(Channel())
        return self.channels[-1]

    def add_on_connection_blocked_callback(self, callback):
        self.blocked_callbacks.append(callback)

    def add_on_connection_unblocked_callback(self, callback):
        self.unblocked_callbacks.append(callback)

    def add_callback_threadsafe(self, callback):
        self.threadsafe.append(callback)

    def process_data_events(self, time_limit=0):
        if not self.steps:
            raise Connection.Done()
        self.steps.pop(0)()


def make_opts(**kw):
    kw.setdefault("concurrency", 1)
    return options.Options(job_type="tts", handler="m:f", urls=("amqp://g:g@127.0.0.1:1/",), **kw)


def open_worker(handler=lambda job, progress: {}, **kw):
    """A worker whose session is open on a Connection (its channels: 0 declarations, 1 events,
    2 control, 3 jobs)."""
    worker = runtime.Worker(make_opts(**kw), handler, worker_id="test:1")
    conn = Connection()
    worker._open(conn)
    worker.loop_thread = threading.current_thread()
    return worker, conn


def deliver(worker, tag, body=None, uuid_=None):
    body = body if body is not None else json.dumps({"uuid": uuid_ or f"job-{tag}", "input": {}}).encode()
    worker.jobs.on_job(worker.consume, types.SimpleNamespace(delivery_tag=tag, redelivered=False),
                   types.SimpleNamespace(headers=None), body)


def wait_report(worker, tag, kind):
    """Waits until the handler of delivery `tag` reported `kind` (or one of a tuple of kinds), then
    applies the reports."""
    kinds = (kind,) if isinstance(kind, str) else kind
    end = time.monotonic() + WAIT_S
    while not any(r[1] == tag and r[2] in kinds for r in list(worker.jobs.reports.queue)):
        if time.monotonic() > end:
            raise AssertionError(f"no {kind} report for delivery {tag} within {WAIT_S} s")
        time.sleep(0.01)
    worker.jobs.apply_reports(time.monotonic())


def statuses(channel):
    return [(body["uuid"], body["job_status"]) for _, body in channel.published]


class Timeout(unittest.TestCase):
    def setUp(self):
        self.release = threading.Event()  # lets the stuck handlers end with the test

    def tearDown(self):
        self.release.set()

    def stuck(self, job, progress):
        self.release.wait(30)  # ignores progress.cancelled: Python cannot end the thread
        return {}

    def test_a_job_past_its_timeout_fails_and_is_acked_once_its_event_is_confirmed(self):
        worker, _ = open_worker(self.stuck, timeout_ms=1500)
        deliver(worker, 1)
        wait_report(worker, 1, "started")
        worker.jobs.check_timeouts(time.monotonic() + 1.6)
        self.assertTrue(worker.jobs.held[1].cancelled.is_set())  # the handler is told to stop
        self.assertEqual(worker.consume.acked, [])  # not before its event is confirmed
        worker.jobs.publish_pending(time.monotonic())
        self.assertEqual(statuses(worker.events), [("job-1", "STARTED"), ("job-1", "FAILED")])
        self.assertEqual(worker.events.published[-1][1]["error"], "timed out after 1500 ms")
        self.assertNotIn("retryable", worker.events.published[-1][1])
        self.assertEqual(worker.consume.acked, [1])
        # Its thread stays busy: abandoned a second after its stop, once; its late outcome dropped.
        with self.assertLogs("jobsd_worker", "WARNING") as logs:
            worker.jobs.check_abandoned(time.monotonic() + 5)
            worker.jobs.check_abandoned(time.monotonic() + 6)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("ignores its stop: abandoned", logs.output[0])
        self.release.set()
        with self.assertLogs("jobsd_worker", "INFO") as logs:
            wait_report(worker, 1, "stopped")
        self.assertIn("the abandoned handler of job job-1 returned", logs.output[-1])
        self.assertEqual(len(worker.events.published), 2)

    def test_a_delivery_waiting_behind_a_handler_that_ignores_its_cancel_goes_back_to_the_queue(self):
        worker, _ = open_worker(self.stuck, prefetch=2, timeout_ms=10_000, kill_grace_ms=0)
        deliver(worker, 1)
        wait_report(worker, 1, "started")
        deliver(worker, 2)  # the one thread is busy: it waits
        now = time.monotonic()
        worker.jobs._cancel_held("job-1", 1, now)
        worker.jobs.check_timeouts(now + jobs.CANCEL_SLACK_S + 0.1)  # before job 2's timeout
        worker.jobs.publish_pending(now)
        self.assertEqual(statuses(worker.events)[-1], ("job-1", "CANCELLED"))
        self.assertEqual(worker.consume.acked, [1])
        self.assertIn(2, worker.jobs.held)
        # The thread never comes free; the waiting delivery is released at its timeout, not held.
        worker.jobs.check_timeouts(now + 60)
        self.assertEqual(worker.consume.rejected, [(2, True)])
        self.assertNotIn(2, worker.jobs.held)
        self.assertEqual(statuses(worker.events)[-1], ("job-1", "CANCELLED"))  # no event for job 2

    def test_a_delivery_finding_the_wait_queue_full_goes_back_at_once(self):
        worker, _ = open_worker(self.stuck)  # one thread, room for 4 waiting
        deliver(worker, 1)
        wait_report(worker, 1, "started")
        for tag in range(2, 7):
            deliver(worker, tag)
        self.assertEqual(worker.consume.rejected, [(6, True)])
        self.assertEqual(sorted(worker.jobs.held), [1, 2, 3, 4, 5])


class Expiry(unittest.TestCase):
    def test_a_job_whose_deadline_passes_while_it_waits_for_a_thread_is_expired_not_run(self):
        release, ran = threading.Event(), []

        def handler(job, progress):
            ran.append(job["uuid"])
            release.wait(WAIT_S)
            return {}

        def job_with_deadline(uuid_, in_ms):
            at = contract.iso8601_ms(int(time.time() * 1000) + in_ms)
            return json.dumps({"uuid": uuid_, "input": {}, "expires_at": at}).encode(), at

        worker, _ = open_worker(handler)  # one thread
        deliver(worker, 1)
        wait_report(worker, 1, "started")
        body, at = job_with_deadline("job-2", 300)
        deliver(worker, 2, body=body)  # in time: it waits for the busy thread
        self.assertIn(2, worker.jobs.held)
        while time.time() * 1000 <= contract.parse_iso8601_ms(at):
            time.sleep(0.02)
        release.set()  # the thread comes free past job 2's deadline, then takes it
        wait_report(worker, 2, ("expired", "finished", "stopped"))  # job 1's reports come before
        self.assertEqual(ran, ["job-1"])
        self.assertNotIn(2, worker.consume.acked)  # not before EXPIRED is confirmed
        worker.jobs.publish_pending(time.monotonic())
        self.assertEqual(statuses(worker.events), [("job-1", "STARTED"), ("job-1", "SUCCESS"),
                                                   ("job-2", "EXPIRED")])
        self.assertEqual(worker.consume.acked, [1, 2])
        self.assertNotIn(2, worker.jobs.held)
        # The same event as a job already past its deadline on arrival.
        deliver(worker, 3, body=job_with_deadline("job-3", -1000)[0])
        worker.jobs.publish_pending(time.monotonic())
        (key2, event2), (key3, event3) = worker.events.published[-2:]
        self.assertEqual((key2, sorted(event2)), (key3, sorted(event3)))
        self.assertEqual(worker.consume.acked, [1, 2, 3])


class Pool(unittest.TestCase):
    def test_the_wait_queue_is_bounded_and_drops_what_will_never_run(self):
        stale = set()
        q = pool.WorkQueue(2, stale=lambda item: item in stale)
        self.assertTrue(q.put("a") and q.put("b"))
        self.assertFalse(q.put("c"))
        stale.add("a")
        self.assertTrue(q.put("c"))
        self.assertEqual([q.get(), q.get()], ["b", "c"])

    def test_a_stopped_handler_is_abandoned_once_after_a_second(self):
        s = pool.StoppedHandlers()
        s.stopped((0, 1), "u1", now=10)
        s.stopped((0, 2), "u2", now=10.5)
        self.assertEqual(s.abandoned(10.9), [])
        self.assertEqual(s.abandoned(11.2), ["u1"])
        self.assertEqual(s.abandoned(12), ["u2"])
        self.assertEqual(s.abandoned(20), [])
        self.assertEqual(s.returned((0, 1)), "u1")
        self.assertIsNone(s.returned((0, 1)))
        self.assertEqual(s.running(), 1)


class Session(unittest.TestCase):
    def run_loop(self, worker, conn, *steps):
        conn.steps = list(steps)
        with self.assertRaises((pika.exceptions.AMQPError, Connection.Done)) as e:
            worker._loop(conn)
        return e.exception

    def test_a_consumer_cancelled_by_the_broker_ends_the_session(self):
        for which, index in (("control stream", 2), ("job", 3)):
            with self.subTest(which=which):
                worker, conn = open_worker()
                channel = conn.channels[index]
                self.assertEqual(len(channel.cancel_callbacks), 1)
                error = self.run_loop(worker, conn, lambda: None, lambda: channel.cancel_callbacks[0](None))
                self.assertIsInstance(error, pika.exceptions.ConsumerCancelled)
                self.assertIn(which, str(error))

    def test_a_channel_closed_by_the_broker_ends_the_session(self):
        for name, index in (("event", 1), ("control", 2), ("job", 3)):
            with self.subTest(name=name):
                worker, conn = open_worker()
                error = self.run_loop(worker, conn, lambda: None,
                                      lambda: setattr(conn.channels[index], "is_open", False))
                self.assertIsInstance(error, pika.exceptions.AMQPError)
                self.assertIn(f"closed the {name} channel", str(error))

    def test_nothing_is_published_while_the_broker_blocks_the_connection(self):
        go = threading.Event()

        def handler(job, progress):
            go.wait(WAIT_S)
            return {"ok": True}

        def finish():
            go.set()
            wait_report(worker, 1, "finished")

        worker, conn = open_worker(handler)
        block = lambda: conn.blocked_callbacks[0](conn, types.SimpleNamespace(method=types.SimpleNamespace(
            reason="low on memory")))
        unblock = lambda: conn.unblocked_callbacks[0](conn, None)
        deliver(worker, 1)

        self.run_loop(worker, conn, block, finish, lambda: None)
        self.assertEqual(worker.events.published, [])
        self.assertTrue(worker.jobs.held[1].terminal)  # kept, with its outcome waiting to be sent
        self.run_loop(worker, conn, unblock)
        self.assertEqual(statuses(worker.events), [("job-1", "STARTED"), ("job-1", "SUCCESS")])
        self.assertEqual(worker.consume.acked, [1])

    def test_a_returned_final_event_declares_the_topology_again_and_is_sent_again(self):
        worker, conn = open_worker()
        deliver(worker, 1)
        wait_report(worker, 1, "finished")
        publish = worker.events.basic_publish

        def returned(exchange, routing_key, body, properties, mandatory=False):
            if routing_key.endswith(".SUCCESS"):
                worker.events.basic_publish = publish  # once
                raise pika.exceptions.UnroutableError([])
            publish(exchange, routing_key, body, properties, mandatory)

        worker.events.basic_publish = returned
        with self.assertLogs("jobsd_worker", "WARNING") as logs:
            self.run_loop(worker, conn, lambda: None)
        self.assertIn("SUCCESS event of job job-1 was returned", logs.output[0])
        self.assertEqual((worker.redeclare, worker.consume.acked), (True, []))
        channels = len(conn.channels)
        self.run_loop(worker, conn, lambda: None)  # declared again; the event waits RETRY_DELAY_S
        self.assertEqual((worker.redeclare, len(conn.channels)), (False, channels + 1))
        worker.jobs.publish_pending(time.monotonic() + jobs.RETRY_DELAY_S)
        self.assertEqual(statuses(worker.events), [("job-1", "STARTED"), ("job-1", "SUCCESS")])
        self.assertEqual(worker.consume.acked, [1])

    def test_a_publish_caught_by_a_broker_alarm_waits_a_bounded_time(self):
        self.assertEqual(runtime._parameters("amqp://g:g@127.0.0.1:1/").blocked_connection_timeout,
                         runtime.BLOCKED_PUBLISH_TIMEOUT_S)

    def test_a_message_nested_too_deep_is_dead_lettered_and_a_control_message_skipped(self):
        worker, conn = open_worker()
        deep = b'{"uuid":"u","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        deliver(worker, 1, body=deep)
        self.assertEqual(worker.consume.rejected, [(1, False)])
        worker.jobs.on_control(worker.control, types.SimpleNamespace(delivery_tag=7), None, deep)
        self.assertEqual(worker.control.acked, [7])

    def test_a_bad_progress_value_is_dropped_on_the_connection_thread(self):
        worker, _ = open_worker()
        worker.jobs.held[1] = jobs._Job(1, "u", 1, 0, threading.Event(), deadline=1e9)
        for value in (float("inf"), float("nan")):
            worker.jobs.reports.put((worker.jobs.session, 1, "progress", value))
        worker.jobs.apply_reports(0)
        self.assertEqual(list(worker.jobs.pending), [])


class Handlers(unittest.TestCase):
    def test_an_exception_that_cannot_say_what_it_is_still_fails_the_job(self):
        class Mute(Exception):
            def __str__(self):
                raise RuntimeError("no text")

        def handler(job, progress):
            raise Mute()

        worker = runtime.Worker(make_opts(concurrency=1), handler, worker_id="test:1")
        held = jobs._Job(1, "u", 1, 0, threading.Event(), deadline=1e9)
        worker.jobs.run_job(0, 1, {"uuid": "u"}, held)
        reports = [worker.jobs.reports.get_nowait() for _ in range(worker.jobs.reports.qsize())]
        self.assertEqual(reports[-1], (0, 1, "finished", ("failed", "Mute")))


class Reconnects(unittest.TestCase):
    def test_the_backoff_starts_over_after_a_session_that_served(self):
        worker = runtime.Worker(make_opts(), lambda job, progress: {}, worker_id="test:1")
        outcomes = ["fail", "fail", "serve", "fail", "bug", "fail"]
        pauses = []

        def session(url):
            what = outcomes.pop(0)
            if what == "serve":
                worker.connected = True
            if what == "bug":  # a fault of ours: reconnects instead of ending the process
                raise KeyError("bug")
            raise OSError("connection refused")

        def pause(seconds):
            pauses.append(seconds)
            if not outcomes:
                worker.stop()

        worker._session, worker._pause = session, pause
        with self.assertLogs("jobsd_worker", "WARNING"):
            self.assertEqual(worker.run(), 0)
        self.assertEqual(pauses, [0.2, 0.4, 0.2, 0.4, 0.8, 1.6])


class Stop(unittest.TestCase):
    def test_stop_on_the_connection_thread_only_counts_and_elsewhere_wakes_the_loop(self):
        worker, conn = open_worker()
        worker.stop()  # as a signal handler does, on the loop's thread: pika's lock is not taken
        self.assertEqual((worker.stop_requests, conn.threadsafe), (1, []))
        other = threading.Thread(target=worker.stop)
        other.start()
        other.join()
        self.assertEqual((worker.stop_requests, len(conn.threadsafe)), (2, 1))


if __name__ == "__main__":
    unittest.main()
