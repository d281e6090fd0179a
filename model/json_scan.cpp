// A scanner that walks well-formed JSON only: it skips strings (escapes included) and counts
// nesting, and never has to reject anything.
#include "model/json_scan.hpp"

namespace jobsd::model {

namespace {

class scanner {
  public:
    explicit scanner(std::string_view text) : s_(text) {}

    void skip_space() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip(char) { ++pos_; }
    void skip_string() {
        ++pos_;  // the opening quote
        while (pos_ < s_.size() && s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
        ++pos_;
    }
    // The text of the string that starts here, quotes included.
    std::string_view string() {
        const std::size_t start = pos_;
        skip_string();
        return s_.substr(start, pos_ - start);
    }
    // The text of the value that starts here.
    std::string_view value() {
        const std::size_t start = pos_;
        const char c = peek();
        if (c == '"') {
            skip_string();
        } else if (c == '{' || c == '[') {
            int depth = 0;
            while (pos_ < s_.size()) {
                const char d = s_[pos_];
                if (d == '"') {
                    skip_string();
                    continue;
                }
                ++pos_;
                if (d == '{' || d == '[') ++depth;
                if ((d == '}' || d == ']') && --depth == 0) break;
            }
        } else {
            while (pos_ < s_.size() &&
                   std::string_view(",]} \t\r\n").find(s_[pos_]) == std::string_view::npos)
                ++pos_;
        }
        return s_.substr(start, pos_ - start);
    }

  private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

std::vector<std::string_view> only_member_elements(std::string_view object_text) {
    scanner sc(object_text);
    sc.skip_space();
    sc.skip('{');
    sc.skip_space();
    sc.skip_string();
    sc.skip_space();
    sc.skip(':');
    sc.skip_space();
    sc.skip('[');
    std::vector<std::string_view> out;
    for (;;) {
        sc.skip_space();
        if (sc.peek() == ']' || sc.peek() == '\0') break;
        out.push_back(sc.value());
        sc.skip_space();
        if (sc.peek() == ',') sc.skip(',');
    }
    return out;
}

std::optional<std::string_view> member_text(std::string_view object_text, std::string_view name) {
    scanner sc(object_text);
    sc.skip_space();
    if (sc.peek() != '{') return std::nullopt;
    sc.skip('{');
    for (;;) {
        sc.skip_space();
        if (sc.peek() != '"') return std::nullopt;  // '}' or the end: not there
        const auto key = sc.string();
        sc.skip_space();
        sc.skip(':');
        sc.skip_space();
        const auto value = sc.value();
        if (key.size() == name.size() + 2 && key.substr(1, name.size()) == name) return value;
        sc.skip_space();
        if (sc.peek() != ',') return std::nullopt;
        sc.skip(',');
    }
}

}  // namespace jobsd::model
