"""jobsd_worker: a jobsd worker in Python. Write `def handle(job, progress): ...` and run
`python3 -m jobsd_worker --type tts --handler mymodule:handle`; the runtime speaks the worker
contract of worker/README.md (events with confirms, cancel, expiry, retryable failures)."""
from .jobs import Progress, RetryableError
from .runtime import Worker

__all__ = ["Progress", "RetryableError", "Worker"]
