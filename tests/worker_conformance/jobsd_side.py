"""The suite's stand-in for jobsd on the real broker: declares the topology as jobsd does (names
under a prefix of the suite's own, so it shares the node with other tests), publishes job messages
and cancel requests exactly as jobsd would, and reads the status events from jobsd's events queue.

Thread safety: one thread (pika's BlockingConnection)."""
import datetime
import json
import time
import uuid

import pika
import pika.exceptions

JOB_TYPE = "tts"
CONTRACT_HEADER = "x-jobsd-contract"
CONTRACT = 3  # what jobsd publishes (queue/job_message.hpp)


class Names:
    """Every name the worker is given (as JOBS_WORKER_* variables) and the suite uses."""

    def __init__(self, prefix):
        self.exchange = prefix + "jobs"
        self.queue_prefix = prefix + "jobs."
        self.dead_exchange = prefix + "jobs.dead"
        self.dead_queue_prefix = prefix + "jobs.dead."
        self.events_exchange = prefix + "jobs.events"
        self.events_queue = prefix + "jobsd.events"
        self.control_exchange = prefix + "jobs.control"
        self.control_queue_prefix = prefix + "jobs.control."
        self.job_queue = self.queue_prefix + JOB_TYPE
        self.dead_queue = self.dead_queue_prefix + JOB_TYPE
        self.control_queue = self.control_queue_prefix + JOB_TYPE

    def worker_environment(self):
        return {"JOBS_WORKER_EXCHANGE": self.exchange, "JOBS_WORKER_QUEUE_PREFIX": self.queue_prefix,
                "JOBS_WORKER_DEAD_EXCHANGE": self.dead_exchange,
                "JOBS_WORKER_DEAD_QUEUE_PREFIX": self.dead_queue_prefix,
                "JOBS_WORKER_EVENTS_EXCHANGE": self.events_exchange,
                "JOBS_WORKER_EVENTS_QUEUE": self.events_queue,
                "JOBS_WORKER_CONTROL_EXCHANGE": self.control_exchange,
                "JOBS_WORKER_CONTROL_QUEUE_PREFIX": self.control_queue_prefix}


def iso_ms(epoch_s):
    t = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch_s * 1000) % 1000:03d}Z"


class Event:
    """One status event. A message may carry one event, or several in a batch (contract 3:
    routing key <type>.batch, type "batch", body {"events": [...]}), where each event has its
    trace in a "traceparent" member instead of the message's header; `index` is its place there."""

    def __init__(self, method, props, raw, body, index=None):
        self.routing_key = method.routing_key
        self.props = props
        self.raw = raw
        self.batched = index is not None
        self.index = index
        if self.batched:
            self.traceparent = body.pop("traceparent", None)
            assert self.traceparent is None or isinstance(self.traceparent, str), \
                f"a batched event's traceparent is not a string: {raw!r}"
        else:
            self.traceparent = (props.headers or {}).get("traceparent")
        self.body = body
        self.uuid = self.body.get("uuid")
        self.status = self.body.get("job_status")
        self.received = time.monotonic()

    def __repr__(self):
        where = f" (event {self.index} of a batch)" if self.batched else ""
        return f"{self.routing_key}{where} {self.raw.decode(errors='replace')}"


def events_of_message(method, props, raw):
    body = json.loads(raw)  # not JSON: the suite fails here, naming the message
    if isinstance(body, dict) and "events" in body:
        assert isinstance(body["events"], list) and body["events"], f"a batch without events: {raw!r}"
        return [Event(method, props, raw, e, i) for i, e in enumerate(body["events"])]
    return [Event(method, props, raw, body)]


class JobsdSide:
    def __init__(self, url, names):
        self.url = url
        self.names = names
        self.events = []
        self.publishes = {}  # job uuid -> job messages published
        self.connect()

    def connect(self, deadline_s=120):
        """(Re)connects, retrying until the node answers (it may be restarting) and its queues
        have come back: right after a start a stream or quorum queue may still be recovering,
        and declaring it is refused with 404 "home node ... is down or inaccessible"."""
        end = time.monotonic() + deadline_s
        while True:
            try:
                self.conn = pika.BlockingConnection(pika.URLParameters(self.url))
            except pika.exceptions.AMQPConnectionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.5)
                continue
            try:
                self.ch = self.conn.channel()
                self.ch.confirm_delivery()
                self.declare_topology()
                break
            except pika.exceptions.ChannelClosedByBroker as e:
                if e.reply_code != 404 or "down or inaccessible" not in e.reply_text or time.monotonic() > end:
                    raise
                self.close()
                time.sleep(0.5)
        self.ch.basic_qos(prefetch_count=500)
        self.ch.basic_consume(self.names.events_queue, self._on_event)

    def declare_topology(self):
        """As jobsd declares it (queue/topology.cpp), for the suite's one job type."""
        n, ch = self.names, self.ch
        for name, kind in ((n.exchange, "direct"), (n.dead_exchange, "direct"), (n.events_exchange, "topic"),
                           (n.control_exchange, "topic")):
            ch.exchange_declare(name, kind, durable=True)
        ch.queue_declare(n.events_queue, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(n.events_queue, n.events_exchange, "#")
        ch.queue_declare(n.control_queue, durable=True, arguments={
            "x-queue-type": "stream", "x-max-age": "3600s", "x-stream-max-segment-size-bytes": 1 << 20})
        ch.queue_bind(n.control_queue, n.control_exchange, JOB_TYPE + ".#")
        ch.queue_declare(n.dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(n.dead_queue, n.dead_exchange, JOB_TYPE)
        ch.queue_declare(n.job_queue, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": n.dead_exchange,
            "x-dead-letter-routing-key": JOB_TYPE, "x-delivery-limit": 5,
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
        ch.queue_bind(n.job_queue, n.exchange, JOB_TYPE)

    def _on_event(self, ch, method, props, body):
        self.events.extend(events_of_message(method, props, body))
        ch.basic_ack(method.delivery_tag)

    # ---- publishing, as jobsd does
    def job_message(self, script, attempt=1, expires_in_s=None, **extra):
        """A job message body (a dict) with a fresh uuid; `script` is scripted_job.py's."""
        now = time.time()
        msg = {"uuid": str(uuid.uuid4()), "job_type": JOB_TYPE, "contract": CONTRACT, "attempt": attempt}
        if expires_in_s is not None:
            msg["expires_at"] = iso_ms(now + expires_in_s)
        msg.update({"account_id": "acc_conformance", "source_id": "c7e3a5f0-2d8b-4c1e-b6a9-5f0d3e7c9a12",
                    "session_id": "conformance", "version": 2,
                    "input": {"job_type": JOB_TYPE, "conformance": script}, "created_at": iso_ms(now)})
        msg.update(extra)
        return msg

    def publish_job(self, msg, body=None, headers=None):
        """`headers` are added to the contract header (e.g. a `traceparent`)."""
        props = pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                     message_id=msg.get("uuid") if isinstance(msg, dict) else None,
                                     type=JOB_TYPE, timestamp=int(time.time()),
                                     headers={CONTRACT_HEADER: CONTRACT, **(headers or {})})
        payload = body if body is not None else json.dumps(msg).encode()
        if msg.get("uuid"):
            self.publishes[msg["uuid"]] = self.publishes.get(msg["uuid"], 0) + 1
        self.ch.basic_publish(self.names.exchange, JOB_TYPE, payload, props, mandatory=True)

    def publish_cancel(self, job_uuid, attempt=1):
        body = {"kind": "cancel", "uuid": job_uuid, "job_type": JOB_TYPE, "attempt": attempt,
                "at": iso_ms(time.time())}
        props = pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                     message_id=f"cancel:{job_uuid}:{attempt}", type="cancel",
                                     timestamp=int(time.time()))
        self.ch.basic_publish(self.names.control_exchange, JOB_TYPE + ".cancel", json.dumps(body).encode(), props,
                              mandatory=True)

    # ---- reading
    def pump(self, seconds=0.1):
        """Reads events for `seconds` (process_data_events alone returns at the first one)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.conn.process_data_events(time_limit=left)

    def wait_for(self, what, predicate, timeout_s):
        """Pumps events until predicate() is true; AssertionError naming `what` past the deadline."""
        end = time.monotonic() + timeout_s
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > end:
                raise AssertionError(f"{what}: not within {timeout_s} s")
            self.pump(0.1)

    def events_of(self, job_uuid):
        return [e for e in self.events if e.uuid == job_uuid]

    def terminal_of(self, job_uuid):
        return [e for e in self.events_of(job_uuid) if e.status in ("SUCCESS", "FAILED", "CANCELLED", "EXPIRED")]

    def wait_terminal(self, job_uuid, timeout_s=60):
        return self.wait_for(f"a final event of job {job_uuid}", lambda: self.terminal_of(job_uuid), timeout_s)[0]

    def queue_counts(self, queue):
        """(ready messages, consumers) of a queue, from a passive declare."""
        ok = self.ch.queue_declare(queue, passive=True).method
        return ok.message_count, ok.consumer_count

    def delete_everything(self):
        n, ch = self.names, self.ch
        for q in (n.job_queue, n.dead_queue, n.control_queue, n.events_queue):
            ch.queue_delete(q)
        for x in (n.exchange, n.dead_exchange, n.events_exchange, n.control_exchange):
            ch.exchange_delete(x)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass
