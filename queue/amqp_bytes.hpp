// rabbitmq-c's byte strings (amqp_bytes_t) and ours.
#pragma once

#include <amqp.h>

#include <string>
#include <string_view>

namespace jobsd::queue {

// `s` as an amqp_bytes_t for a rabbitmq-c call that only reads it: no copy, valid while `s` is.
inline amqp_bytes_t bytes(std::string_view s) noexcept {
    return {s.size(), const_cast<char*>(s.data())};
}

// rabbitmq-c's bytes as a view, valid while they are (empty for a zero length, whatever the pointer).
inline std::string_view view(const amqp_bytes_t& b) noexcept {
    return b.len == 0 ? std::string_view() : std::string_view(static_cast<const char*>(b.bytes), b.len);
}

// A copy of rabbitmq-c's bytes.
inline std::string text(const amqp_bytes_t& b) {
    return std::string(view(b));
}

}  // namespace jobsd::queue
