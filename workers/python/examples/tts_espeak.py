"""Example jobsd worker for `tts` jobs: speaks the job's text with espeak-ng (Debian package) into
a WAV file named after the job's uuid, and returns its path and file URL as the job's output.

    cd workers/python
    TTS_OUTPUT_DIR=/srv/tts /usr/bin/python3 -m jobsd_worker --type tts \
        --handler examples.tts_espeak:handle --url amqp://guest:guest@127.0.0.1:5673/

TTS_OUTPUT_DIR (default `tts-output` under the current directory) is where the files go; the text
is the job's `values.script` (the demo tts project's field), else its first text value, else
`input.text`. Safe to repeat: a redelivered job overwrites its own file with the same sound."""
import os
import pathlib
import subprocess

from jobsd_worker import RetryableError

MAX_TEXT = 10_000  # characters spoken per job: bounds the time and the file


def job_text(job_input):
    values = job_input.get("values") or {}
    if isinstance(values.get("script"), str):
        return values["script"]
    for value in values.values():
        if isinstance(value, str) and value.strip():
            return value
    return job_input.get("text") if isinstance(job_input.get("text"), str) else ""


def handle(job, progress):
    text = job_text(job.get("input") or {}).strip()
    if not text:
        raise ValueError("no text to speak: give values.script")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text has {len(text)} characters, more than {MAX_TEXT}")
    out_dir = pathlib.Path(os.environ.get("TTS_OUTPUT_DIR", "tts-output")).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{job['uuid']}.wav"
    partial = out_dir / f".{job['uuid']}.{os.getpid()}.wav"  # renamed when whole: never half a file
    progress(10)
    try:
        proc = subprocess.Popen(["espeak-ng", "-w", str(partial), "--stdin"], stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    except FileNotFoundError as e:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)") from e
    proc.stdin.write(text)
    proc.stdin.close()
    while proc.poll() is None:
        if progress.cancelled.wait(0.1):  # cancelled: stop the synthesis, leave no file
            proc.terminate()
            proc.wait()
            partial.unlink(missing_ok=True)
            return None
    stderr = proc.stderr.read().strip()
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        error = f"espeak-ng exit code {proc.returncode}: {stderr[-500:]}"
        if proc.returncode < 0:  # killed by a signal (out of memory, an operator): may work again
            raise RetryableError(error)
        raise RuntimeError(error)
    os.replace(partial, final)
    progress(100)  # jobsd keeps the last progress on SUCCESS: say it is complete
    return {"path": str(final), "url": final.as_uri(), "bytes": final.stat().st_size, "format": "wav"}
