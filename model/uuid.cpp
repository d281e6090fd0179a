// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version, a 12-bit counter in rand_a
// (section 6.2, method 1), the variant and 62 random bits. The counter makes the uuids one process
// hands out strictly increasing, also within one millisecond, so the list's newest-first order
// (created time, then uuid) is the order the jobs were created in. A 4097th uuid in one
// millisecond borrows the next one, as section 6.2 allows; the clock then catches up.
#include "model/uuid.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <random>

#include "model/clock.hpp"

namespace jobsd::model {

namespace {

// The timestamp and counter of the next uuid, as (ms << 12) | counter: above every one handed out.
std::uint64_t next_stamp(std::uint64_t ms) noexcept {
    static std::atomic<std::uint64_t> last{0};
    std::uint64_t prev = last.load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    do {
        next = std::max(ms << 12, prev + 1);
    } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
    return next;
}

}  // namespace

std::string new_uuid() {
    thread_local std::mt19937_64 rng{[] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64{seq};
    }()};
    std::array<std::uint8_t, 16> b{};
    const std::uint64_t stamp = next_stamp(static_cast<std::uint64_t>(now_ms()));
    for (int i = 0; i < 6; ++i)
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(stamp >> (52 - 8 * i));
    b[6] = static_cast<std::uint8_t>(0x70 | ((stamp >> 8) & 0x0f));
    b[7] = static_cast<std::uint8_t>(stamp);
    const std::uint64_t r = rng();
    for (int i = 8; i < 16; ++i)
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(r >> (8 * (i - 8)));
    b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(36, '-');  // written in place: the dashes stay where no digit goes
    std::size_t at = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) ++at;
        out[at++] = hex[b[i] >> 4];
        out[at++] = hex[b[i] & 0xf];
    }
    return out;
}

std::optional<std::string> canonical_uuid(std::string_view s) {
    if (!is_uuid(s)) return std::nullopt;
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

}  // namespace jobsd::model
