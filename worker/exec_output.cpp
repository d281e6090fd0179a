// Only lines that start with '{' are parsed as JSON, so log chatter costs almost nothing.
#include "worker/exec_output.hpp"

#include <boost/json/parse.hpp>

#include <cmath>

namespace jobsd::worker {

namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<json::object> parse_object(std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() != '{') return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<int> progress_of(const json::object& o) {
    if (o.size() != 1) return std::nullopt;
    const json::value* p = o.if_contains("progress");
    if (!p || !p->is_number()) return std::nullopt;
    const double d = p->to_number<double>();
    if (!std::isfinite(d)) return std::nullopt;
    return static_cast<int>(std::lround(std::clamp(d, 0.0, 100.0)));
}

}  // namespace

std::optional<int> parse_progress_line(std::string_view line) {
    auto o = parse_object(line);
    return o ? progress_of(*o) : std::nullopt;
}

void exec_output_parser::feed(std::string_view bytes, const progress_fn& on_progress) {
    while (!bytes.empty()) {
        const auto nl = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, nl);
        if (!overlong_) {
            if (partial_.size() + piece.size() > max_line_) {
                overlong_ = true;
                partial_.clear();
            } else {
                partial_.append(piece);
            }
        }
        if (nl == std::string_view::npos) return;
        if (overlong_)
            ++skipped_;
        else
            line(partial_, on_progress);
        partial_.clear();
        overlong_ = false;
        bytes.remove_prefix(nl + 1);
    }
}

void exec_output_parser::finish(const progress_fn& on_progress) {
    if (overlong_)
        ++skipped_;
    else if (!partial_.empty())
        line(partial_, on_progress);
    partial_.clear();
    overlong_ = false;
}

void exec_output_parser::line(std::string_view text, const progress_fn& on_progress) {
    auto o = parse_object(text);
    if (!o) return;
    if (auto p = progress_of(*o)) {
        if (on_progress) on_progress(*p);
        return;
    }
    output_ = std::move(*o);
}

void tail_buffer::append(std::string_view bytes) {
    if (bytes.size() >= capacity_) {
        data_.assign(bytes.substr(bytes.size() - capacity_));
        return;
    }
    data_.append(bytes);
    if (data_.size() > capacity_) data_.erase(0, data_.size() - capacity_);
}

}  // namespace jobsd::worker
