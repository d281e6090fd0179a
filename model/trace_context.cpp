// W3C Trace Context level 1, section 3.2 (traceparent). Random ids come from a per-thread
// mt19937_64 seeded from std::random_device: ids must be unique, not unguessable.
#include "model/trace_context.hpp"

#include <array>
#include <random>

namespace jobsd::model {

namespace {

constexpr std::size_t v00_size = 55;  // "00-" 32 "-" 16 "-" 2
constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is not valid in a traceparent
}

bool is_lower_hex(std::string_view s) noexcept {
    for (const char c : s)
        if (hex_value(c) < 0) return false;
    return true;
}

bool all_zero(std::string_view s) noexcept {
    return s.find_first_not_of('0') == std::string_view::npos;
}

std::mt19937_64& generator() {
    thread_local std::mt19937_64 rng{[] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64{seq};
    }()};
    return rng;
}

// `digits` random lowercase hex digits (a multiple of 16) at `out`, never all zero.
void fill_random_hex(char* out, std::size_t digits) {
    do {
        for (std::size_t i = 0; i < digits; i += 16) {
            std::uint64_t r = generator()();
            for (std::size_t j = 0; j < 16; ++j, r >>= 4) out[i + j] = hex_digits[r & 0xf];
        }
    } while (all_zero(std::string_view(out, digits)));
}

std::string random_hex(std::size_t digits) {
    std::string out(digits, '0');
    fill_random_hex(out.data(), digits);
    return out;
}

// Whether `h` is a traceparent this code takes (parse_traceparent's rules).
bool valid_traceparent(std::string_view h) noexcept {
    if (h.size() < v00_size || h[2] != '-' || h[35] != '-' || h[52] != '-') return false;
    const std::string_view version = h.substr(0, 2), trace_id = h.substr(3, 32), parent_id = h.substr(36, 16),
                           flags = h.substr(53, 2);
    if (!is_lower_hex(version) || version == "ff") return false;
    // Version 00 is exactly 55 characters; a later one may append fields after a '-'.
    if (version == "00" ? h.size() != v00_size : (h.size() > v00_size && h[v00_size] != '-')) return false;
    if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags)) return false;
    return !all_zero(trace_id) && !all_zero(parent_id);
}

}  // namespace

std::optional<trace_context> parse_traceparent(std::string_view h) noexcept {
    if (!valid_traceparent(h)) return std::nullopt;
    const std::string_view trace_id = h.substr(3, 32), parent_id = h.substr(36, 16), flags = h.substr(53, 2);
    try {
        return trace_context{std::string(trace_id), std::string(parent_id),
                             static_cast<std::uint8_t>(hex_value(flags[0]) * 16 + hex_value(flags[1]))};
    } catch (...) {  // std::bad_alloc: no trace rather than a failed request
        return std::nullopt;
    }
}

std::string format_traceparent(const trace_context& t) {
    std::string out;
    out.reserve(v00_size);
    out += "00-";
    out += t.trace_id;
    out += '-';
    out += t.parent_id;
    out += '-';
    out += hex_digits[t.flags >> 4];
    out += hex_digits[t.flags & 0xf];
    return out;
}

trace_context new_trace() {
    return {random_hex(32), random_hex(16), 0x01};
}

trace_context child_of(const trace_context& parent) {
    return {parent.trace_id, random_hex(16), parent.flags};
}

// The child of the caller's trace, or a new trace, written in place as one string: this runs for
// every job created.
std::string ingest_traceparent(std::string_view header) {
    std::string out = "00-00000000000000000000000000000000-0000000000000000-01";
    if (valid_traceparent(header)) {
        header.copy(out.data() + 3, 32, 3);   // the caller's trace id
        header.copy(out.data() + 53, 2, 53);  // and its flags
    } else {
        fill_random_hex(out.data() + 3, 32);  // a new trace, sampled
    }
    fill_random_hex(out.data() + 36, 16);  // our span
    return out;
}

std::string_view trace_id_of(std::string_view traceparent) noexcept {
    if (traceparent.size() < v00_size) return {};
    return traceparent.substr(3, 32);
}

}  // namespace jobsd::model
