"""The no-op handler scripts/bench-workers runs in the Python worker (workers/python): returns at
once, so what is measured is the worker runtime, the broker and the events, not the handler."""


def handle(job, progress):
    return {}
