// W3C Trace Context level 1 (`traceparent`): parsing, formatting and new ids, for the trace a job
// carries from its POST through the broker to the workers' events. Pure code; no I/O.
// Thread safety: plain functions; the generators behind new ids are per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobsd::model {

// The parts of a traceparent that a participant keeps: whose trace, which span is the parent, and
// the flags (bit 0: sampled).
struct trace_context {
    std::string trace_id;   // 32 lowercase hex digits, not all zero
    std::string parent_id;  // 16 lowercase hex digits, not all zero
    std::uint8_t flags = 0;
};

// A traceparent header as the spec reads it: version 00 is exactly "00-<trace-id>-<parent-id>-<flags>"
// (55 characters, lowercase hex, neither id all zero); a later version (01..fe) is read by its
// first 55 characters, followed by the end or a '-' and fields this version does not know; version
// ff, upper-case hex, all-zero ids and other lengths are invalid (nullopt).
std::optional<trace_context> parse_traceparent(std::string_view header) noexcept;

// "00-<trace_id>-<parent_id>-<flags as two hex digits>": always version 00, the one this build speaks.
std::string format_traceparent(const trace_context& t);

// A fresh trace: a random trace id and span id, flags 01 (sampled).
trace_context new_trace();

// The same trace with a span of our own as its parent: what a participant passes on.
trace_context child_of(const trace_context& parent);

// What jobsd stores with a job from a request's traceparent header (empty when it had none): the
// caller's trace continued with jobsd's own span, or a new trace when the header is absent or
// invalid (the spec asks to restart the trace, never to refuse the request).
std::string ingest_traceparent(std::string_view header);

// The trace id of a stored traceparent (formatted here, so its place is known), or "" for none.
std::string_view trace_id_of(std::string_view traceparent) noexcept;

}  // namespace jobsd::model
