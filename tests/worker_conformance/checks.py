"""The checks of the conformance suite on status events, each one a rule of worker/README.md
("Status events", "Status only moves forward"); every failure names the rule and shows the events."""
import re
import time

FINAL = ("SUCCESS", "FAILED", "CANCELLED", "EXPIRED")
STATUSES = ("STARTED", "IN_PROGRESS") + FINAL
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
KEYS = {"uuid", "job_status", "attempt", "progress", "output", "error", "retryable", "worker", "at"}
# Members allowed only with one status.
ONLY_WITH = {"progress": ("IN_PROGRESS",), "output": ("SUCCESS",), "error": ("FAILED",), "retryable": ("FAILED",)}
# A version-00 W3C traceparent, as workers write it: trace id, span id, flags.
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TIMESTAMP_SLACK_S = 600  # the AMQP timestamp is seconds since the epoch; milliseconds would be far off


def each_event(events, job_uuid):
    """Properties and body of every event: routing key, persistence, type, ids, times, members."""
    ids = set()
    for e in events:
        b = e.body
        status = e.status
        assert status in STATUSES, f"unknown job_status {status!r}: {e}"
        assert b["uuid"] == job_uuid, f"event of another uuid: {e}"
        p = e.props
        if e.batched:  # contract 3: one message, several events
            assert e.routing_key == "tts.batch", f"routing key of a batch is not <type>.batch: {e}"
            assert p.type == "batch", f"the type property of a batch {p.type!r} is not batch: {e}"
        else:
            assert e.routing_key == f"tts.{status}", f"routing key is not <type>.<STATUS>: {e}"
            assert p.type == status, f"the type property {p.type!r} is not the status: {e}"
        assert p.delivery_mode == 2, f"event not persistent (delivery_mode {p.delivery_mode}): {e}"
        assert p.content_type == "application/json", f"content_type {p.content_type!r}: {e}"
        key = (p.message_id, e.index)
        assert p.message_id and key not in ids, f"message_id missing or repeated ({p.message_id}): {e}"
        ids.add(key)
        assert isinstance(p.timestamp, int) and abs(p.timestamp - time.time()) < TIMESTAMP_SLACK_S, \
            f"timestamp {p.timestamp} is not now in seconds since the epoch: {e}"
        assert set(b) <= KEYS, f"members outside the contract {sorted(set(b) - KEYS)}: {e}"
        assert all(v is not None for v in b.values()), f"a member is null (absent ones are left out): {e}"
        assert isinstance(b.get("at"), str) and ISO_MS.fullmatch(b["at"]), f"\"at\" is not ISO-8601 UTC ms Z: {e}"
        for key, statuses in ONLY_WITH.items():
            assert key not in b or status in statuses, f"\"{key}\" on a {status} event: {e}"
        if status == "IN_PROGRESS":
            assert type(b.get("progress")) is int and 0 <= b["progress"] <= 100, \
                f"progress is not a whole number 0..100: {e}"
        if status == "SUCCESS":
            assert isinstance(b.get("output"), dict), f"SUCCESS without an output object: {e}"
        if status == "FAILED":
            assert isinstance(b.get("error"), str) and b["error"], f"FAILED without an error text: {e}"
            assert b.get("retryable", True) is True, f"retryable present but not true: {e}"


def text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def continues_trace(events, sent):
    """worker/README.md "Traces": every event of a job whose message carried `sent` has an AMQP
    header `traceparent` (in a batch: a `traceparent` member of the event) of the same trace id and flags, a span id of the worker's own (not the
    message's parent id, not all zero), the same one on every event of the delivery."""
    _, trace_id, parent_id, flags = sent.split("-")
    spans = set()
    for e in events:
        header = e.traceparent
        assert header is not None, f"no traceparent (header, or member in a batch) on an event of a traced job: {e}"
        m = TRACEPARENT.fullmatch(text(header))
        assert m, f"traceparent {header!r} is not 00-<32 hex>-<16 hex>-<2 hex>: {e}"
        assert m.group(1) == trace_id, f"trace id {m.group(1)} is not the job's {trace_id}: {e}"
        assert m.group(2) != parent_id and m.group(2) != "0" * 16, \
            f"span id {m.group(2)} is the job message's parent id or zero, not the worker's own: {e}"
        assert m.group(3) == flags, f"flags {m.group(3)} are not the job's {flags}: {e}"
        spans.add(m.group(2))
    assert len(spans) == 1, f"one delivery's events carry several span ids {sorted(spans)}"


def progress_values(events):
    return [e.body["progress"] for e in events if e.status == "IN_PROGRESS"]


def sequence(events, job_uuid, final_status, started, attempt=1):
    """One delivery's events: STARTED first (started=True), none (False) or either (None), progress
    strictly rising, exactly one final event, last, with `final_status`, all of `attempt`."""
    each_event(events, job_uuid)
    shown = "\n  ".join(map(repr, events))
    assert events, f"no event for job {job_uuid}"
    finals = [e for e in events if e.status in FINAL]
    assert len(finals) == 1 and events[-1] is finals[0], f"not exactly one final event, last:\n  {shown}"
    assert finals[0].status == final_status, f"ended {finals[0].status}, expected {final_status}:\n  {shown}"
    assert all(e.body.get("attempt") == attempt for e in events), f"events not of attempt {attempt}:\n  {shown}"
    if started is True:
        assert events[0].status == "STARTED", f"the first event is not STARTED:\n  {shown}"
        assert [e.status for e in events].count("STARTED") == 1, f"STARTED more than once:\n  {shown}"
    if started is False:
        assert len(events) == 1, f"a job that must not run reported work:\n  {shown}"
    progress = progress_values(events)
    assert all(a < b for a, b in zip(progress, progress[1:])), f"progress does not only rise {progress}:\n  {shown}"
    statuses = [e.status for e in events]
    if "IN_PROGRESS" in statuses:
        assert "STARTED" in statuses[:statuses.index("IN_PROGRESS")], f"IN_PROGRESS before STARTED:\n  {shown}"


def every_job_ends_final(events, publishes):
    """Across the whole run: each job's last event is final (nothing after an outcome), and no job
    has more final events than it had deliveries published."""
    by_uuid = {}
    for e in events:
        by_uuid.setdefault(e.uuid, []).append(e)
    for job_uuid, evs in by_uuid.items():
        shown = "\n  ".join(map(repr, evs))
        assert evs[-1].status in FINAL, f"job {job_uuid}: an event after its outcome, or none:\n  {shown}"
        finals = sum(e.status in FINAL for e in evs)
        assert finals <= publishes.get(job_uuid, 0), \
            f"job {job_uuid}: {finals} final events for {publishes.get(job_uuid, 0)} deliveries:\n  {shown}"
