#!/usr/bin/python3
"""The example tts worker's handler run directly (no broker): a real WAV from espeak-ng under the
job's uuid, its path as output; no text is a failure; a cancel leaves no file. Run by ctest
(python_worker_unit_tests)."""
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from examples import tts_espeak  # noqa: E402


class FakeProgress:
    def __init__(self, cancelled=False):
        self.values = []
        self.cancelled = threading.Event()
        if cancelled:
            self.cancelled.set()

    def __call__(self, percent):
        self.values.append(percent)


class TtsExample(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        os.environ["TTS_OUTPUT_DIR"] = self.dir.name

    def tearDown(self):
        self.dir.cleanup()

    def job(self, text):
        return {"uuid": "0190f3c2-5d1e-7a4b-8c2d-3e4f5a6b7c8d", "input": {"values": {"script": text}}}

    def test_speaks_the_script_into_a_wav_named_after_the_job(self):
        progress = FakeProgress()
        out = tts_espeak.handle(self.job("Hello from jobsd"), progress)
        path = os.path.join(self.dir.name, "0190f3c2-5d1e-7a4b-8c2d-3e4f5a6b7c8d.wav")
        self.assertEqual(out["path"], path)
        with open(path, "rb") as f:
            header = f.read(12)
        self.assertEqual((header[:4], header[8:12]), (b"RIFF", b"WAVE"))
        self.assertGreater(out["bytes"], 1000)
        self.assertEqual(progress.values, [10, 100])
        self.assertEqual(sorted(os.listdir(self.dir.name)), [os.path.basename(path)])  # no partial file left

    def test_no_text_is_a_failure(self):
        with self.assertRaises(ValueError):
            tts_espeak.handle(self.job("   "), FakeProgress())

    def test_a_cancelled_job_leaves_no_file(self):
        self.assertIsNone(tts_espeak.handle(self.job("Hello " * 200), FakeProgress(cancelled=True)))
        self.assertEqual(os.listdir(self.dir.name), [])


if __name__ == "__main__":
    unittest.main()
