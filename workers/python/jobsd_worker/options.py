"""The worker's options: the flags of `python3 -m jobsd_worker`, each also read from the
environment as JOBS_WORKER_<FLAG> (the names `jobs-worker` reads), flags winning. Names and
defaults are jobs-worker's, so a Python fleet and a C++ fleet serve the same queues.

Thread safety: an Options is built once at start and only read afterwards."""
import argparse
import dataclasses
import os

JOB_TYPES = ("ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation")


@dataclasses.dataclass
class Options:
    job_type: str = ""  # required
    handler: str = ""  # module:function
    # Jobs at once: handler threads and the consumer prefetch (jobs-worker's default).
    concurrency: int = 4
    # Deliveries held at once, the consumer prefetch; 0: the concurrency. A finished job keeps its
    # delivery until its outcome is confirmed, so short jobs keep the threads busier with more;
    # the extra deliveries wait here, out of reach of other workers and of later high priority
    # jobs, so keep it at the concurrency for long jobs.
    prefetch: int = 0
    # Broker URLs, tried in turn; the demo broker of scripts/run.sh by default.
    urls: tuple = ("amqp://guest:guest@127.0.0.1:5673/",)
    # `spread` starts at a random URL so a fleet spreads over a cluster's nodes.
    url_order: str = "spread"
    # Names and queue arguments as jobsd declares them; they must agree or declarations fail.
    exchange: str = "jobs"
    queue_prefix: str = "jobs."
    dead_exchange: str = "jobs.dead"
    dead_queue_prefix: str = "jobs.dead."
    events_exchange: str = "jobs.events"
    events_queue: str = "jobsd.events"
    control_exchange: str = "jobs.control"
    control_queue_prefix: str = "jobs.control."
    control_retention_s: int = 3600
    queue_type: str = "quorum"
    delivery_limit: int = 5
    # Cancels remembered for jobs not held here: bounded memory, as in jobs-worker.
    cancel_memory: int = 100_000
    # A cancelled handler that has not returned after this is reported CANCELLED anyway (its
    # thread stays busy): the time an external program gets between SIGTERM and SIGKILL, plus 2 s.
    kill_grace_ms: int = 5000
    # A job still running this long after its delivery fails with "timed out after N ms" (its
    # handler is told to stop; if it ignores that, its thread stays busy); one still waiting for
    # a handler thread then goes back to the queue. jobs-worker's default: no job is held forever.
    timeout_ms: int = 60_000
    # After SIGTERM, time jobs in hand may take to finish before they are left to the broker.
    grace_ms: int = 30_000
    log_level: str = "info"


def _positive(lo, hi):
    def parse(text):
        value = int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expects a whole number from {lo} to {hi}, got {text!r}")
        return value
    return parse


# declarative table: flag, Options field, type, help
FLAGS = (
    ("type", "job_type", str, "job type to serve (required): " + ", ".join(JOB_TYPES)),
    ("handler", "handler", str, "the handler, module:function (required); the module is imported from "
     "the current directory or PYTHONPATH"),
    ("concurrency", "concurrency", _positive(1, 1024),
     "jobs at once, and the consumer prefetch unless --prefetch (4)"),
    ("prefetch", "prefetch", _positive(0, 65535),
     "deliveries held at once, 0: the concurrency; more suits short jobs (0)"),
    ("url", "urls", str, "broker URL, repeatable or comma-separated (amqp://guest:guest@127.0.0.1:5673/)"),
    ("url-order", "url_order", str, "spread (random first URL) or in_order (spread)"),
    ("exchange", "exchange", str, "exchange jobs are published to (jobs)"),
    ("queue-prefix", "queue_prefix", str, "job queues are <prefix><type> (jobs.)"),
    ("dead-exchange", "dead_exchange", str, "dead-letter exchange (jobs.dead)"),
    ("dead-queue-prefix", "dead_queue_prefix", str, "dead-letter queues are <prefix><type> (jobs.dead.)"),
    ("events-exchange", "events_exchange", str, "topic exchange of status events (jobs.events)"),
    ("events-queue", "events_queue", str, "jobsd's events queue, declared bound with # (jobsd.events)"),
    ("control-exchange", "control_exchange", str, "topic exchange of cancel requests (jobs.control)"),
    ("control-queue-prefix", "control_queue_prefix", str, "control streams are <prefix><type> (jobs.control.)"),
    ("control-retention-s", "control_retention_s", _positive(60, 30 * 86400),
     "control stream retention; must match jobsd's (3600)"),
    ("queue-type", "queue_type", str, "quorum or classic; must match jobsd's (quorum)"),
    ("delivery-limit", "delivery_limit", _positive(1, 1000), "x-delivery-limit; must match jobsd's (5)"),
    ("cancel-memory", "cancel_memory", _positive(1, 10_000_000), "cancels remembered (100000)"),
    ("kill-grace-ms", "kill_grace_ms", _positive(0, 3_600_000),
     "a cancelled handler still running this + 2 s later is reported CANCELLED anyway (5000)"),
    ("timeout-ms", "timeout_ms", _positive(1, 7 * 86_400_000),
     'a job running longer after its delivery fails with "timed out after N ms"; one still waiting for '
     "a handler thread then goes back to the queue (60000)"),
    ("grace-ms", "grace_ms", _positive(0, 7 * 86_400_000), "time jobs in hand get after SIGTERM (30000)"),
    ("log-level", "log_level", str, "trace, debug, info, warn or error (info)"),
)


def parse(argv, environ=None):
    """Options from the command line and the environment; exits 2 naming the flag on a bad value."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python3 -m jobsd_worker",
                                     description="Serves one job type's queue with a Python handler.")
    for flag, field, kind, help_text in FLAGS:
        env_name = "JOBS_WORKER_" + flag.upper().replace("-", "_")
        default = environ.get(env_name)
        action = "append" if flag == "url" else "store"
        parser.add_argument("--" + flag, dest=field, type=kind, action=action, metavar=flag.upper().replace("-", "_"),
                            help=help_text + f" [{env_name}]")
        if default is not None:
            try:
                parser.set_defaults(**{field: [default] if flag == "url" else kind(default)})
            except (ValueError, argparse.ArgumentTypeError) as e:
                parser.error(f"{env_name}: {e}")
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if v is not None}
    if "urls" in values:
        values["urls"] = tuple(u.strip() for part in values["urls"] for u in part.split(",") if u.strip())
    opts = Options(**values)
    problems = _problems(opts)
    if problems:
        parser.error("; ".join(problems))
    return opts


def _problems(opts):
    problems = []
    if opts.job_type not in JOB_TYPES:
        problems.append(f"--type must be one of {', '.join(JOB_TYPES)}, got {opts.job_type!r}")
    if ":" not in opts.handler:
        problems.append("--handler must be module:function")
    if opts.url_order not in ("spread", "in_order"):
        problems.append("--url-order must be spread or in_order")
    if opts.queue_type not in ("quorum", "classic"):
        problems.append("--queue-type must be quorum or classic")
    if not opts.urls:
        problems.append("--url names no broker")
    opts.log_level = {"trace": "debug", "warn": "warning"}.get(opts.log_level, opts.log_level)
    if opts.log_level not in ("debug", "info", "warning", "error"):
        problems.append("--log-level must be trace, debug, info, warn or error")
    return problems
