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

// A copy of rabbitmq-c's bytes (empty for a zero length, whatever the pointer).
inline std::string text(const amqp_bytes_t& b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace jobsd::queue
