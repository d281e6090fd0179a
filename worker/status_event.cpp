// Keys are written in the contract's order; absent optional fields are left out, not null.
#include "worker/status_event.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string>

#include "model/clock.hpp"
#include "model/json_text.hpp"

namespace jobsd::worker {

namespace json = boost::json;

namespace {

// `s` as valid UTF-8: each byte that does not begin a well-formed sequence (RFC 3629: no overlong
// form, no surrogate, nothing past U+10FFFF, none cut short) becomes U+FFFD. A handler's error may
// carry any bytes (an exec command's stderr tail, cut anywhere), and jobsd's parser refuses a
// message with invalid UTF-8 whole: every event batched with it would be dropped.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;                   // bytes of the sequence b begins; 0: b begins none
        unsigned char lo = 0x80, hi = 0xbf;  // the range of its second byte
        if (b < 0x80) {
            n = 1;
        } else if (b >= 0xc2 && b <= 0xdf) {
            n = 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 3;
            if (b == 0xe0) lo = 0xa0;  // no overlong form
            if (b == 0xed) hi = 0x9f;  // no surrogate
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 4;
            if (b == 0xf0) lo = 0x90;  // no overlong form
            if (b == 0xf4) hi = 0x8f;  // nothing past U+10FFFF
        }
        bool ok = n > 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xbf);
        }
        if (ok) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

}  // namespace

status_event make_status_event(std::string_view job_type, const event_fields& f, std::string message_id) {
    const std::string_view status = model::to_string(f.status);
    // Written as text, as jobsd writes its job message: a DOM per event, built only to be
    // serialized, was more than a quarter of a no-op worker's instructions per job.
    std::string body;
    body.reserve(160 + f.uuid.size() + f.worker.size() + (f.error ? f.error->size() : 0));
    body += "{\"uuid\":";
    model::append_json_string(body, f.uuid);
    body += ",\"job_status\":\"";
    body += status;
    body += '"';
    if (f.attempt) {
        body += ",\"attempt\":";
        body += std::to_string(*f.attempt);
    }
    if (f.progress) {
        body += ",\"progress\":";
        body += std::to_string(std::clamp(*f.progress, 0, 100));
    }
    if (f.output) {
        body += ",\"output\":";
        body += json::serialize(*f.output);
    }
    if (f.error) {
        body += ",\"error\":";
        model::append_json_string(body, valid_utf8(*f.error));
    }
    if (f.retryable && f.status == model::job_status::failed) body += ",\"retryable\":true";
    if (!f.worker.empty()) {
        body += ",\"worker\":";
        model::append_json_string(body, f.worker);
    }
    body += ",\"at\":";
    model::append_json_string(body, model::format_iso8601(f.at_ms));
    body += '}';

    status_event e;
    e.message_id = std::move(message_id);
    e.routing_key.reserve(job_type.size() + 1 + status.size());
    e.routing_key.append(job_type).append(".").append(status);
    e.status = std::string(status);
    e.body = std::move(body);
    e.at_ms = f.at_ms;
    e.terminal = model::is_terminal(f.status);
    e.traceparent = std::string(f.traceparent);
    return e;
}

status_event make_event_batch(std::string_view job_type, std::span<const status_event* const> events,
                              std::string message_id) {
    status_event batch;
    batch.message_id = std::move(message_id);
    batch.routing_key = std::string(job_type) + ".batch";
    batch.status = "batch";
    batch.at_ms = events.front()->at_ms;
    std::size_t size = 16;
    for (const auto* e : events) size += e->body.size() + e->traceparent.size() + 20;
    batch.body.reserve(size);
    batch.body = "{\"events\":[";
    for (const auto* e : events) {
        if (batch.body.back() != '[') batch.body += ',';
        batch.terminal = batch.terminal || e->terminal;
        if (e->traceparent.empty()) {
            batch.body += e->body;
            continue;
        }
        // The body is an object written above: its traceparent goes in before the closing brace
        // (a traceparent is hex digits and dashes, nothing to escape).
        batch.body.append(e->body, 0, e->body.size() - 1);
        batch.body += ",\"traceparent\":\"";
        batch.body += e->traceparent;
        batch.body += "\"}";
    }
    batch.body += "]}";
    return batch;
}

}  // namespace jobsd::worker
