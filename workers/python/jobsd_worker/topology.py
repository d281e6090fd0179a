"""Declares, at every connect, what the worker relies on, with jobsd's exact arguments: the durable
exchanges, jobsd's events queue bound with "#" (so an event published before jobsd ever ran is kept,
not dropped), and this type's job queue, dead-letter queue and control stream.

Thread safety: called on the connection's thread only (pika connections are single-threaded)."""
import logging

import pika.exceptions

log = logging.getLogger("jobsd_worker")

# Stream segments of 1 MiB, as jobsd: retention drops whole segments, so x-max-age holds closely.
CONTROL_SEGMENT_BYTES = 1 << 20


def job_queue_arguments(opts):
    """The job queue's arguments, exactly as jobsd declares them (queue/topology.cpp)."""
    args = {"x-queue-type": opts.queue_type, "x-dead-letter-exchange": opts.dead_exchange,
            "x-dead-letter-routing-key": opts.job_type}
    if opts.queue_type == "quorum":
        args.update({"x-delivery-limit": opts.delivery_limit, "x-dead-letter-strategy": "at-least-once",
                     "x-overflow": "reject-publish"})
    return args


def control_stream_arguments(opts):
    return {"x-queue-type": "stream", "x-max-age": f"{opts.control_retention_s}s",
            "x-stream-max-segment-size-bytes": CONTROL_SEGMENT_BYTES}


def declare(connection, opts):
    """Declares idempotently on a channel of its own, closed afterwards. A job queue that exists with
    other arguments (PRECONDITION_FAILED, an older jobsd's) is kept and logged, as jobsd does; any
    other refusal raises."""
    ch = connection.channel()
    for name, kind in ((opts.exchange, "direct"), (opts.dead_exchange, "direct"),
                       (opts.events_exchange, "topic"), (opts.control_exchange, "topic")):
        ch.exchange_declare(name, kind, durable=True)
    ch.queue_declare(opts.events_queue, durable=True, arguments={"x-queue-type": opts.queue_type})
    ch.queue_bind(opts.events_queue, opts.events_exchange, "#")
    t = opts.job_type
    control = opts.control_queue_prefix + t
    ch.queue_declare(control, durable=True, arguments=control_stream_arguments(opts))
    ch.queue_bind(control, opts.control_exchange, t + ".#")
    dead = opts.dead_queue_prefix + t
    ch.queue_declare(dead, durable=True, arguments={"x-queue-type": opts.queue_type})
    ch.queue_bind(dead, opts.dead_exchange, t)
    queue = opts.queue_prefix + t
    try:
        ch.queue_declare(queue, durable=True, arguments=job_queue_arguments(opts))
    except pika.exceptions.ChannelClosedByBroker as e:
        if e.reply_code != 406:
            raise
        log.warning("queue %s exists with other arguments (%s): kept as it is", queue, e.reply_text)
        ch = connection.channel()
    ch.queue_bind(queue, opts.exchange, t)
    ch.close()
