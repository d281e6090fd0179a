#!/usr/bin/python3
"""Unit tests of jobsd_worker's parts without I/O: the job message, event bodies and properties,
rising progress, the cancel memory and the options. Run by ctest (python_worker_unit_tests)."""
import decimal
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jobsd_worker import contract, options  # noqa: E402


class JobMessage(unittest.TestCase):
    def test_the_whole_message_reaches_the_handler_with_defaults_for_contract_1(self):
        body = json.dumps({"uuid": "u1", "input": {"a": 1}, "priority": "high"}).encode()
        msg, expires = contract.parse_job(body, "tts")
        self.assertEqual(msg["priority"], "high")  # unknown members pass through
        self.assertEqual((msg["attempt"], msg["contract"], msg["job_type"]), (1, 1, "tts"))
        self.assertIsNone(expires)

    def test_expires_at_is_read_in_milliseconds(self):
        body = json.dumps({"uuid": "u1", "attempt": 3, "expires_at": "2026-04-16T13:03:02.250Z"})
        msg, expires = contract.parse_job(body, "tts")
        self.assertEqual(msg["attempt"], 3)
        self.assertEqual(expires, 1776344582250)

    def test_messages_that_can_never_run_are_refused(self):
        for body in (b"not json", b"[]", b'{"input":{}}', b'{"uuid":""}', b'{"uuid":"u","attempt":0}',
                     b'{"uuid":"u","attempt":true}', b'{"uuid":"u","input":[]}', b'{"uuid":"u","expires_at":"soon"}',
                     b'{"uuid":"u","expires_at":"2026-04-16T13:03:02"}'):
            with self.subTest(body=body), self.assertRaises(contract.BadMessage):
                contract.parse_job(body, "tts")


    def test_nesting_past_the_message_bound_is_refused_not_raised(self):
        def nested(levels):  # `levels` objects in all, the message itself the outermost
            return '{"uuid":"u","input":' + '{"a":' * (levels - 2) + "{}" + "}" * (levels - 2) + "}"
        msg, _ = contract.parse_job(nested(contract.MAX_MESSAGE_DEPTH), "tts")
        self.assertEqual(contract.nesting(msg), contract.MAX_MESSAGE_DEPTH)
        # Past the bound, and far past it (json.loads' own limit: RecursionError).
        for levels in (contract.MAX_MESSAGE_DEPTH + 1, 100_000):
            with self.subTest(levels=levels), self.assertRaisesRegex(contract.BadMessage, "deeper than 64"):
                contract.parse_job(nested(levels), "tts")
        deep_list = '{"uuid":"u","x":' + "[" * 100_000 + "]" * 100_000 + "}"
        with self.assertRaises(contract.BadMessage):
            contract.parse_job(deep_list, "tts")


class Events(unittest.TestCase):
    def test_members_follow_the_status_and_none_is_null(self):
        b = contract.event_body("u", "FAILED", 2, "h:1", error="boom", retryable=True, at_ms=1776344582250)
        self.assertEqual(list(b), ["uuid", "job_status", "attempt", "error", "retryable", "worker", "at"])
        self.assertEqual(b["at"], "2026-04-16T13:03:02.250Z")
        b = contract.event_body("u", "FAILED", 1, "", error="boom", at_ms=0)
        self.assertNotIn("retryable", b)
        self.assertNotIn("worker", b)
        b = contract.event_body("u", "SUCCESS", 1, "w", at_ms=0)
        self.assertEqual(b["output"], {})
        b = contract.event_body("u", "IN_PROGRESS", 1, "w", progress=140, at_ms=0)
        self.assertEqual(b["progress"], 100)

    def test_outputs_jobsd_could_not_read_are_named(self):
        deep = {}
        for _ in range(contract.MAX_OUTPUT_DEPTH - 1):
            deep = {"a": deep}
        self.assertEqual(contract.nesting(deep), contract.MAX_OUTPUT_DEPTH)
        self.assertEqual(contract.output_problem(deep), "")
        self.assertEqual(contract.output_problem({"s": "caf\u00e9 \u2713", "n": [1, 2.5, None]}), "")
        for bad, says in (({"score": float("nan")}, "not JSON"), ({"x": [float("inf")]}, "not JSON"),
                          ({"name": b"\xff".decode("utf-8", "surrogateescape")}, "lone surrogate"),
                          ({"deeper": deep}, "deeper than 32"), ({"when": object()}, "not JSON")):
            with self.subTest(bad=repr(bad)[:40]):
                self.assertIn(says, contract.output_problem(bad))
        # What output_problem lets through, a strict parser (no NaN, no lone surrogates) reads.
        strict = json.JSONDecoder(parse_constant=lambda c: self.fail(f"{c} written"))
        text = json.dumps(contract.event_body("u", "SUCCESS", 1, "w", output=deep, at_ms=0))
        self.assertEqual(strict.decode(text)["output"], deep)

    def test_an_error_with_a_lone_surrogate_travels_as_unicode_text(self):
        error = "cannot open " + b"/tmp/\xff.wav".decode("utf-8", "surrogateescape")
        body = contract.event_body("u", "FAILED", 1, "w", error=error, at_ms=0)
        self.assertEqual(body["error"], "cannot open /tmp/?.wav")
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # raises if a surrogate were left

    def test_properties_timestamp_in_seconds_and_a_fresh_id_each(self):
        a, b = contract.event_properties("STARTED", 1776344582250), contract.event_properties("STARTED", 0)
        self.assertEqual(a["timestamp"], 1776344582)
        self.assertEqual((a["delivery_mode"], a["type"]), (2, "STARTED"))
        self.assertNotEqual(a["message_id"], b["message_id"])


class Traces(unittest.TestCase):
    TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
    VALID = f"00-{TRACE}-00f067aa0ba902b7-01"

    def test_a_valid_traceparent_is_continued_with_a_span_of_our_own(self):
        self.assertEqual(contract.parse_traceparent(self.VALID), (self.TRACE, "00f067aa0ba902b7", "01"))
        self.assertEqual(contract.parse_traceparent(self.VALID.encode()), (self.TRACE, "00f067aa0ba902b7", "01"))
        child = contract.child_traceparent(self.VALID)
        self.assertIsNotNone(contract.parse_traceparent(child))
        self.assertEqual((len(child), child[:36], child[52:]), (55, f"00-{self.TRACE}-", "-01"))
        self.assertNotEqual(child[36:52], "00f067aa0ba902b7")
        self.assertNotEqual(contract.child_traceparent(self.VALID), child)  # a new span each time

    def test_a_future_version_is_read_by_its_first_55_characters(self):
        self.assertIsNotNone(contract.parse_traceparent("cc" + self.VALID[2:] + "-more"))
        self.assertIsNone(contract.parse_traceparent("cc" + self.VALID[2:] + "x"))
        self.assertTrue(contract.child_traceparent("cc" + self.VALID[2:]).startswith("00-"))

    def test_invalid_traceparents_start_no_trace(self):
        for bad in (None, "", "garbage", self.VALID.upper(), self.VALID + "-x", "ff" + self.VALID[2:],
                    f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-{self.TRACE}-{'0' * 16}-01", self.VALID[:-1], 42):
            with self.subTest(bad=bad):
                self.assertIsNone(contract.parse_traceparent(bad))
                self.assertIsNone(contract.child_traceparent(bad))

    def test_events_carry_the_header_only_with_a_trace(self):
        self.assertEqual(contract.event_properties("STARTED", 0, self.VALID)["headers"], {"traceparent": self.VALID})
        self.assertNotIn("headers", contract.event_properties("STARTED", 0))


class Progress(unittest.TestCase):
    def test_only_rises(self):
        gate = contract.ProgressGate()
        sent = [gate.admit(p) for p in (10, 30, 20, 30, 60.7, -5, "x", 150, 100)]
        self.assertEqual(sent, [10, 30, None, None, 60, None, None, 100, None])

    def test_values_that_are_not_finite_numbers_are_dropped_not_raised(self):
        class Odd:
            def __int__(self):
                raise RuntimeError("no")

        bad = [float("inf"), float("-inf"), float("nan"), decimal.Decimal("Infinity"), decimal.Decimal("NaN"),
               decimal.Decimal("sNaN"), Odd(), None, [50]]
        try:
            import numpy
            bad += [numpy.inf, numpy.float32("nan")]
        except ImportError:
            pass  # numpy's infinity is a float's: the cases above hold it
        gate = contract.ProgressGate()
        for value in bad:
            with self.subTest(value=repr(value)):
                self.assertIsNone(gate.admit(value))
        self.assertEqual(gate.admit(5), 5)  # the gate still works afterwards


class Cancels(unittest.TestCase):
    def test_bounded_by_count_and_age_and_by_attempt(self):
        m = contract.CancelMemory(capacity=2, retention_s=10)
        m.remember("a", 1, now=0)
        m.remember("b", 2, now=1)
        self.assertTrue(m.cancelled("a", 1, now=2))
        self.assertFalse(m.cancelled("b", 3, now=2))  # a later attempt was not cancelled
        self.assertTrue(m.cancelled("b", 2, now=2))
        m.remember("c", 1, now=3)  # over capacity: the oldest goes
        self.assertFalse(m.cancelled("a", 1, now=3))
        self.assertFalse(m.cancelled("b", 2, now=12))  # older than the retention
        self.assertTrue(m.cancelled("c", 1, now=12))

    def test_control_messages(self):
        self.assertEqual(contract.parse_control(b'{"kind":"cancel","uuid":"u","attempt":2}'), ("cancel", "u", 2))
        self.assertIsNone(contract.parse_control(b'{"kind":"cancel","uuid":"u"}'))
        self.assertIsNone(contract.parse_control(b"nope"))
        # Too deep to read: skipped (and acked), never raised at every connect.
        for depth in (contract.MAX_MESSAGE_DEPTH, 100_000):
            deep = b'{"kind":"cancel","uuid":"u","attempt":1,"x":' + b"[" * depth + b"]" * depth + b"}"
            with self.subTest(depth=depth):
                self.assertIsNone(contract.parse_control(deep))


class Options(unittest.TestCase):
    def test_flags_win_over_the_environment_and_urls_split(self):
        env = {"JOBS_WORKER_TYPE": "video", "JOBS_WORKER_URL": "amqp://a/,amqp://b/", "JOBS_WORKER_CONCURRENCY": "8"}
        o = options.parse(["--handler", "m:f", "--concurrency", "2"], env)
        self.assertEqual((o.job_type, o.concurrency, o.urls), ("video", 2, ("amqp://a/", "amqp://b/")))
        self.assertEqual(o.queue_prefix, "jobs.")
        self.assertEqual(o.prefetch, 0)  # the concurrency
        o = options.parse(["--handler", "m:f", "--prefetch", "64"], env)
        self.assertEqual((o.concurrency, o.prefetch), (8, 64))

    def test_timeout_is_jobs_workers(self):
        env = {"JOBS_WORKER_TYPE": "tts", "JOBS_WORKER_HANDLER": "m:f"}
        self.assertEqual(options.parse([], env).timeout_ms, 60_000)
        self.assertEqual(options.parse([], dict(env, JOBS_WORKER_TIMEOUT_MS="1500")).timeout_ms, 1500)
        self.assertEqual(options.parse(["--timeout-ms", "20"], dict(env, JOBS_WORKER_TIMEOUT_MS="1500")).timeout_ms,
                         20)

    def test_bad_values_exit_2(self):
        for argv, env in ((["--handler", "m:f"], {}), (["--type", "tts", "--handler", "nocolon"], {}),
                          (["--type", "tts", "--handler", "m:f"], {"JOBS_WORKER_CONCURRENCY": "0"}),
                          (["--type", "tts", "--handler", "m:f", "--url-order", "random"], {}),
                          (["--type", "tts", "--handler", "m:f", "--prefetch", "65536"], {}),
                          (["--type", "tts", "--handler", "m:f", "--timeout-ms", "0"], {})):
            with self.subTest(argv=argv, env=env), self.assertRaises(SystemExit) as e:
                sys.stderr = open(os.devnull, "w")
                try:
                    options.parse(argv, env)
                finally:
                    sys.stderr.close()
                    sys.stderr = sys.__stderr__
            self.assertEqual(e.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
