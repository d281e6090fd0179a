"""What a worker under the conformance suite does with a job: the job's input says it
(`input.conformance`), so the suite can drive any implementation through the same jobs. Shared by
the two adapters here (python_handler.py for jobsd_worker, exec_handler.py for `jobs-worker
--handler exec`); a third implementation's adapter does the same:

    {"progress": [10, 40], "step_ms": 100, "outcome": "succeed|fail|retryable|hang", "error": "…"}

- every run appends "<attempt>\n" to $JOBSD_CONFORMANCE_RUNS/<uuid>.runs first (the suite counts runs),
  and creates <uuid>.done when its script is through (just before the outcome is returned);
- then for each value of `progress`: waits `step_ms`, reports it (as given, unordered on purpose);
- succeed: output {"uuid": <uuid>, "passthrough": <the message's top-level "x_passthrough">};
- fail / retryable: fails with `error` (retryable: the implementation's retryable failure);
- hang: waits (up to 120 s) until stopped, then succeeds as above."""
import os
import time

HANG_S = 120


def record_run(job):
    runs_dir = os.environ.get("JOBSD_CONFORMANCE_RUNS")
    if runs_dir:
        with open(os.path.join(runs_dir, job["uuid"] + ".runs"), "a", encoding="utf-8") as f:
            f.write(f"{job.get('attempt', 1)}\n")


def record_done(job):
    runs_dir = os.environ.get("JOBSD_CONFORMANCE_RUNS")
    if runs_dir:
        open(os.path.join(runs_dir, job["uuid"] + ".done"), "w", encoding="utf-8").close()


def run(job, report, stopped):
    """Runs the script of `job`; `report(percent)`, `stopped(seconds)` waits and says whether to stop.
    Returns ("ok", output) / ("fail", error) / ("retryable", error), or None when stopped."""
    script = (job.get("input") or {}).get("conformance") or {}
    record_run(job)
    step_s = script.get("step_ms", 50) / 1000
    for percent in script.get("progress", []):
        if stopped(step_s):
            return None
        report(percent)
    outcome = script.get("outcome", "succeed")
    if outcome == "hang":
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            if stopped(0.05):
                return None
    record_done(job)
    if outcome in ("fail", "retryable"):
        return outcome, script.get("error", "scripted failure")
    return "ok", {"uuid": job["uuid"], "passthrough": job.get("x_passthrough")}
