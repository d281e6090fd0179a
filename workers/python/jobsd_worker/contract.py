"""The worker contract without I/O (worker/README.md): the job message read into a dict, status
event bodies and properties, progress that only rises, and the bounded memory of cancels.

Thread safety: plain functions; CancelMemory and ProgressGate belong to one thread each."""
import collections
import datetime
import json
import random
import re
import time
import uuid

CONTRACT_VERSION = 2
CONTRACT_HEADER = "x-jobsd-contract"
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED", "EXPIRED")
TRACEPARENT_HEADER = "traceparent"  # W3C Trace Context, on job messages and on events
MAX_OUTPUT_DEPTH = 32  # nesting of a handler's output, as jobs-worker bounds it (jobsd reads events to 64)
# Nesting of a job or control message read, as jobs-worker reads them (model::max_message_depth):
# a job body nests to 32 one level down. Deeper ones are refused; past ~1000 levels json.loads
# would raise RecursionError, which must not reach the connection thread.
MAX_MESSAGE_DEPTH = 64

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_span_ids = random.Random()  # ids must be unique, not unguessable: seeded from os.urandom


class BadMessage(ValueError):
    """A job message that can never be run: rejected without requeue (dead-lettered)."""


def iso8601_ms(epoch_ms):
    """ISO-8601 UTC with milliseconds and Z, as every time of the contract is written."""
    t = datetime.datetime.fromtimestamp(epoch_ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_iso8601_ms(text):
    """Milliseconds since the epoch of an ISO-8601 time with a zone (`Z` or +hh:mm)."""
    if not isinstance(text, str):
        raise BadMessage('"expires_at" is not an ISO-8601 time')
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise BadMessage('"expires_at" is not an ISO-8601 time') from e
    if t.tzinfo is None:
        raise BadMessage('"expires_at" has no time zone')
    return int(round(t.timestamp() * 1000))


def _whole_number(msg, key):
    value = msg.get(key)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise BadMessage(f'"{key}" is not a whole number from 1')
    return value


def parse_job(body, fallback_type):
    """The job message as the handler gets it: the whole JSON object, untouched (unknown members
    are passed through), with `attempt`, `contract` and `job_type` defaulted for a contract-1
    message. Also returns the deadline in epoch ms (None without one). Raises BadMessage."""
    try:
        msg = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadMessage(f"not JSON: {e}") from e
    except RecursionError as e:
        raise BadMessage(f"nests deeper than {MAX_MESSAGE_DEPTH} levels") from e
    if not isinstance(msg, dict):
        raise BadMessage("not a JSON object")
    if nesting(msg) > MAX_MESSAGE_DEPTH:
        raise BadMessage(f"nests deeper than {MAX_MESSAGE_DEPTH} levels")
    if not isinstance(msg.get("uuid"), str) or not msg["uuid"]:
        raise BadMessage('no "uuid" string')
    job_type = msg.get("job_type")
    if job_type is not None and not isinstance(job_type, str):
        raise BadMessage('"job_type" is not a string')
    if msg.get("input") is not None and not isinstance(msg["input"], dict):
        raise BadMessage('"input" is not an object')
    msg["contract"] = _whole_number(msg, "contract")
    msg["attempt"] = _whole_number(msg, "attempt")
    if not job_type:
        msg["job_type"] = fallback_type
    expires = msg.get("expires_at")
    expires_ms = parse_iso8601_ms(expires) if expires is not None else None
    return msg, expires_ms


def nesting(value):
    """How deeply `value` nests as JSON: 0 for a scalar, 1 for a flat object or list."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children = v.values()
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def output_problem(output):
    """Why jobsd could not read `output` in a SUCCESS event, or "" when it can. Python writes
    NaN, Infinity and lone surrogates (\\udcff) that no JSON parser of jobsd's accepts: an event
    holding one would be dropped there, and its job would never end."""
    try:
        text = json.dumps(output, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as e:
        return f"the output is not JSON: {e}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the output holds a string that is not Unicode text (a lone surrogate)"
    if nesting(output) > MAX_OUTPUT_DEPTH:
        return f"the output nests deeper than {MAX_OUTPUT_DEPTH} levels"
    return ""


def unicode_text(s):
    """`s` with any lone surrogate (str() of bytes decoded with surrogateescape) replaced, so
    that it can travel as JSON."""
    return s.encode("utf-8", "replace").decode("utf-8")


def event_body(uuid_, status, attempt, worker, progress=None, output=None, error=None, retryable=False,
               at_ms=None):
    """The status event body, keys in the contract's order, absent ones left out (never null)."""
    body = {"uuid": uuid_, "job_status": status, "attempt": attempt}
    if status == "IN_PROGRESS":
        body["progress"] = max(0, min(100, int(progress)))
    if status == "SUCCESS":
        body["output"] = output if output is not None else {}
    if status == "FAILED":
        body["error"] = unicode_text(error or "failed")
        if retryable:
            body["retryable"] = True
    if worker:
        body["worker"] = worker
    body["at"] = iso8601_ms(at_ms if at_ms is not None else int(time.time() * 1000))
    return body


def parse_traceparent(header):
    """A W3C traceparent (Trace Context level 1) as (trace_id, parent_id, flags), or None when it
    is absent or invalid: version 00 is exactly 55 characters of lowercase hex and dashes, neither
    id all zero; a later version (not ff) is read by its first 55 characters, which must end the
    header or be followed by '-'."""
    if isinstance(header, bytes):
        header = header.decode("ascii", "replace")
    if not isinstance(header, str):
        return None
    m = _TRACEPARENT.match(header)
    if m is None:
        return None
    version, trace_id, parent_id, flags = m.groups()
    if version == "ff" or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    if len(header) != 55 and (version == "00" or header[55] != "-"):
        return None
    return trace_id, parent_id, flags


def child_traceparent(header):
    """The traceparent a worker puts on its events: the job's trace, a new span id of its own, the
    same flags; None when the job message had no valid traceparent (no trace is started)."""
    parsed = parse_traceparent(header)
    if parsed is None:
        return None
    span = 0
    while span == 0:
        span = _span_ids.getrandbits(64)
    return f"00-{parsed[0]}-{span:016x}-{parsed[2]}"


def event_properties(status, at_ms, traceparent=None):
    """AMQP properties of an event as keyword arguments of pika.BasicProperties: persistent, a
    fresh message_id per event (kept when the same event is published again), `timestamp` in whole
    seconds since the epoch (the AMQP timestamp's unit), and the `traceparent` header when the job
    has a trace."""
    props = {"delivery_mode": 2, "content_type": "application/json", "message_id": str(uuid.uuid4()),
             "type": status, "timestamp": at_ms // 1000}
    if traceparent:
        props["headers"] = {TRACEPARENT_HEADER: traceparent}
    return props


class ProgressGate:
    """Progress as the contract wants it: whole percents 0..100, each report above the last one
    sent for this delivery; anything else is dropped (returns None)."""

    def __init__(self):
        self.last = -1

    def admit(self, percent):
        # Called on the connection thread: whatever a value that is not a finite number raises
        # (OverflowError for an infinity of float, Decimal or numpy, ValueError for NaN, anything
        # from a handler's own type) drops it, and never ends the worker.
        try:
            value = max(0, min(100, int(percent)))
        except Exception:
            return None
        if value <= self.last:
            return None
        self.last = value
        return value


class CancelMemory:
    """Cancels of jobs not held here, (uuid -> highest cancelled attempt), so a job arriving later
    is acked unrun. Bounded twice, like the C++ runtime's: at most `capacity` entries (the oldest
    forgotten first) and none older than `retention_s` (the control stream's retention)."""

    def __init__(self, capacity=100_000, retention_s=3600):
        self.capacity = capacity
        self.retention_s = retention_s
        self.entries = collections.OrderedDict()  # uuid -> (attempt, monotonic time)

    def remember(self, uuid_, attempt, now):
        old = self.entries.pop(uuid_, None)
        if old and old[0] > attempt:
            attempt = old[0]
        self.entries[uuid_] = (attempt, now)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def cancelled(self, uuid_, attempt, now):
        while self.entries:
            first = next(iter(self.entries.values()))
            if now - first[1] <= self.retention_s:
                break
            self.entries.popitem(last=False)
        entry = self.entries.get(uuid_)
        return entry is not None and attempt <= entry[0]


def parse_control(body):
    """A control message as (kind, uuid, attempt), or None when it is not one this worker reads."""
    try:
        msg = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # skipped (and acked): the stream keeps it, and every connect reads it again
    if not isinstance(msg, dict) or not isinstance(msg.get("uuid"), str) or nesting(msg) > MAX_MESSAGE_DEPTH:
        return None
    attempt = msg.get("attempt")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= 1_000_000:
        return None
    return msg.get("kind"), msg["uuid"], attempt
