"""The conformance suite's handler for jobsd_worker (workers/python): scripted_job.py's script, with
the library's progress callback, cancel event and RetryableError."""
from jobsd_worker import RetryableError

import scripted_job


def handle(job, progress):
    result = scripted_job.run(job, progress, progress.cancelled.wait)
    if result is None:
        return None  # stopped: the runtime reports CANCELLED and ignores the outcome
    what, value = result
    if what == "fail":
        raise RuntimeError(value)
    if what == "retryable":
        raise RetryableError(value)
    return value
