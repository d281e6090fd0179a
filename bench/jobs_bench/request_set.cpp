// Requests are plain text built once; keep-alive is HTTP/1.1's default, so no Connection header.
#include "bench/jobs_bench/request_set.hpp"

namespace jobsd::bench {

std::string build_post(std::string_view host, std::string_view target, std::string_view api_key,
                       std::string_view body) {
    std::string r;
    r.reserve(160 + target.size() + host.size() + api_key.size() + body.size());
    r.append("POST ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    r.append("\r\nUser-Agent: jobs-bench\r\nx-api-key: ").append(api_key);
    r.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
    r.append("\r\n\r\n").append(body);
    return r;
}

std::string build_get(std::string_view host, std::string_view target, std::string_view api_key) {
    std::string r;
    r.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    r.append("\r\nUser-Agent: jobs-bench\r\nx-api-key: ").append(api_key).append("\r\n\r\n");
    return r;
}

request_set request_set::posts(const payload_mix& mix, std::string_view host, std::string_view target,
                               std::string_view api_key) {
    request_set s;
    s.mix_ = &mix;
    for (std::size_t i = 0; i < mix.variants().size(); ++i) {
        prebuilt_request r;
        r.bytes = build_post(host, target, api_key, mix.body_text(i));
        if (mix.fresh_session_id()) {
            const auto head_end = r.bytes.find("\r\n\r\n");
            const auto at = r.bytes.find(session_placeholder, head_end);
            if (at != std::string::npos) r.session_offset = at + session_placeholder.size() - 16;
        }
        s.requests_.push_back(std::move(r));
    }
    return s;
}

request_set request_set::gets(const std::vector<std::string>& uuids, std::string_view host,
                              std::string_view api_key) {
    request_set s;
    s.requests_.reserve(uuids.size());
    for (const auto& u : uuids) s.requests_.push_back({build_get(host, "/jobs/" + u, api_key)});
    return s;
}

std::size_t request_set::pick(std::uint64_t draw) const noexcept {
    if (mix_) return mix_->pick(draw);
    return static_cast<std::size_t>(draw % requests_.size());
}

void stamp_session(char* at, std::uint64_t id) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, id >>= 4) at[i] = hex[id & 0xf];
}

}  // namespace jobsd::bench
