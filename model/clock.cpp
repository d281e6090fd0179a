// ISO-8601 formatting and parsing on std::chrono's civil calendar (no locale, no time zone db).
#include "model/clock.hpp"

#include <chrono>
#include <cstdio>

namespace jobsd::model {

namespace chr = std::chrono;

std::int64_t now_ms() noexcept {
    return chr::duration_cast<chr::milliseconds>(chr::system_clock::now().time_since_epoch()).count();
}

namespace {

// Writes `v` as exactly `n` decimal digits at `p` (the leading ones zeros).
void put_digits(char* p, unsigned v, int n) noexcept {
    for (int i = n - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

}  // namespace

// Every job message, 201 body and job read formats a time or two: digits written in place, not
// through snprintf's format parsing (a fifth of the publisher thread's instructions per job).
std::string format_iso8601(std::int64_t ms) {
    const chr::sys_time<chr::milliseconds> tp{chr::milliseconds{ms}};
    const auto day = chr::floor<chr::days>(tp);
    const chr::year_month_day ymd{day};
    const chr::hh_mm_ss hms{tp - day};
    const int year = static_cast<int>(ymd.year());
    if (year < 0 || year > 9999) {  // not four digits: printf's widths say what it is
        char buf[48];
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
        return buf;
    }
    std::string out("0000-00-00T00:00:00.000Z");
    char* p = out.data();
    put_digits(p, static_cast<unsigned>(year), 4);
    put_digits(p + 5, static_cast<unsigned>(ymd.month()), 2);
    put_digits(p + 8, static_cast<unsigned>(ymd.day()), 2);
    put_digits(p + 11, static_cast<unsigned>(hms.hours().count()), 2);
    put_digits(p + 14, static_cast<unsigned>(hms.minutes().count()), 2);
    put_digits(p + 17, static_cast<unsigned>(hms.seconds().count()), 2);
    put_digits(p + 20, static_cast<unsigned>(hms.subseconds().count()), 3);
    return out;
}

namespace {

// Reads exactly `n` digits at `pos`, advancing it.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) noexcept {
    if (pos + static_cast<std::size_t>(n) > s.size()) return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
        char c = s[pos + static_cast<std::size_t>(i)];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += static_cast<std::size_t>(n);
    out = v;
    return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601(std::string_view s) noexcept {
    std::size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
    if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) || !expect(s, pos, '-') ||
        !digits(s, pos, 2, d))
        return std::nullopt;
    const chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                  chr::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    int offset_min = 0;
    if (pos < s.size()) {
        if (!expect(s, pos, 'T') || !digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) ||
            !expect(s, pos, ':') || !digits(s, pos, 2, sec))
            return std::nullopt;
        if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            int scale = 100, n = 0;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                ms += (s[pos] - '0') * scale;
                scale /= 10;
                ++pos;
                ++n;
            }
            if (n == 0) return std::nullopt;
        }
        if (pos < s.size()) {
            const char sign = s[pos];
            if (sign == 'Z') {
                ++pos;
            } else if (sign == '+' || sign == '-') {
                ++pos;
                int oh = 0, om = 0;
                if (!digits(s, pos, 2, oh) || !expect(s, pos, ':') || !digits(s, pos, 2, om))
                    return std::nullopt;
                offset_min = (oh * 60 + om) * (sign == '+' ? 1 : -1);
            } else {
                return std::nullopt;
            }
        }
        if (pos != s.size()) return std::nullopt;
    }
    const auto days = chr::sys_days{ymd}.time_since_epoch();
    const auto total = chr::duration_cast<chr::milliseconds>(days) + chr::hours{h} + chr::minutes{mi} +
                       chr::seconds{sec} + chr::milliseconds{ms} - chr::minutes{offset_min};
    return total.count();
}

}  // namespace jobsd::model
