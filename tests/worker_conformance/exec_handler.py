#!/usr/bin/python3
"""The conformance suite's handler for `jobs-worker --handler exec`: the job on stdin, scripted_job.py's
script, progress and output as stdout lines, a failure as exit 3 (retryable: 75, EX_TEMPFAIL) with
the error on stderr. A cancel is SIGTERM, whose default action ends the process."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scripted_job  # noqa: E402


def main():
    job = json.loads(sys.stdin.readline())

    def report(percent):
        print(json.dumps({"progress": percent}), flush=True)

    parent = os.getppid()

    def stopped(seconds):
        time.sleep(seconds)
        if os.getppid() != parent:  # the worker is gone (killed by the suite): do not linger
            sys.exit(1)
        return False

    what, value = scripted_job.run(job, report, stopped)
    if what == "ok":
        print(json.dumps(value), flush=True)
        return 0
    print(value, file=sys.stderr, flush=True)
    return 75 if what == "retryable" else 3


if __name__ == "__main__":
    sys.exit(main())
