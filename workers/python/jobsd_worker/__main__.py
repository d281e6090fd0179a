"""The command line: `python3 -m jobsd_worker --type T --handler module:function [flags]`. Exits 0
after a graceful stop (SIGTERM or Ctrl-C; a second one stops at once), 2 on bad flags or a handler
that cannot be loaded."""
import importlib
import logging
import signal
import sys

from . import options
from .runtime import Worker


def load_handler(spec):
    module_name, _, function_name = spec.partition(":")
    if "" not in sys.path:
        sys.path.insert(0, "")  # the current directory, as `python3 -m` users expect
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--handler {spec}: {e}") from e
    if not callable(handler):
        raise ValueError(f"--handler {spec}: not callable")
    return handler


def main(argv=None):
    opts = options.parse(argv)
    logging.basicConfig(level=getattr(logging, opts.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # its debug lines drown the worker's
    try:
        handler = load_handler(opts.handler)
    except ValueError as e:
        print(f"jobsd_worker: {e}", file=sys.stderr)
        return 2
    worker = Worker(opts, handler)
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Runs on the connection thread between two bytecodes, pika's or ours: stop() there only
        # counts the request, which the loop reads (see Worker.stop).
        signal.signal(sig, lambda *_: worker.stop())
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
