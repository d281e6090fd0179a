// What an exec'd command says, read from its stdout and stderr, with no I/O: progress lines,
// the output object, and a bounded tail of stderr.
// Thread safety: none; one instance per job.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace jobsd::worker {

// A progress line is a JSON object with one member, a numeric "progress" ({"progress":50});
// returns it rounded and clamped to 0..100, or nullopt for any other line.
std::optional<int> parse_progress_line(std::string_view line);

// Splits stdout into lines. Progress lines go to the callback as they complete; the last line
// that is a JSON object and not a progress line becomes the output. Other lines are ignored
// (a command may log to stdout). A line longer than max_line is skipped whole.
class exec_output_parser {
  public:
    using progress_fn = std::function<void(int)>;

    explicit exec_output_parser(std::size_t max_line = 1 << 20) : max_line_(max_line) {}

    void feed(std::string_view bytes, const progress_fn& on_progress);
    // End of stdout: a last line without a newline counts too.
    void finish(const progress_fn& on_progress);
    // The output object; {} when the command printed none.
    boost::json::object output() const { return output_ ? *output_ : boost::json::object{}; }
    std::size_t skipped_lines() const noexcept { return skipped_; }

  private:
    void line(std::string_view text, const progress_fn& on_progress);

    std::size_t max_line_;
    std::string partial_;
    bool overlong_ = false;  // the current line passed max_line_: drop until its newline
    std::size_t skipped_ = 0;
    std::optional<boost::json::object> output_;
};

// The last `capacity` bytes written to it.
class tail_buffer {
  public:
    explicit tail_buffer(std::size_t capacity) : capacity_(capacity) {}
    void append(std::string_view bytes);
    const std::string& str() const noexcept { return data_; }

  private:
    std::size_t capacity_;
    std::string data_;
};

}  // namespace jobsd::worker
