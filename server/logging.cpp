// The JSON line is a spdlog pattern whose message field goes through a custom flag that
// escapes it, so any text a log call carries stays one valid JSON string.
#include "server/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace jobsd::server {

namespace {

// %j: the log message as the inside of a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (u < 0x20) {
                        const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 0xf]};
                        dest.append(esc, esc + sizeof esc);
                    } else {
                        dest.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_message_flag>();
    }
};

}  // namespace

void setup_logging(const log_options& options) {
    const auto level = spdlog::level::from_str(options.level);
    if (level == spdlog::level::off && options.level != "off")
        throw config_error("log.level: \"" + options.level +
                           "\" is not a level (trace, debug, info, warn, error, critical, off)");
    if (options.format != "json" && options.format != "text")
        throw config_error("log.format must be \"json\" or \"text\", got \"" + options.format + "\"");
    // stderr: stdout carries only the "listening" line that scripts and tests read.
    auto logger = spdlog::stderr_color_mt("jobsd");
    if (options.format == "json") {
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        formatter->add_flag<json_message_flag>('j').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","thread":%t,"msg":"%j"})");
        logger->set_formatter(std::move(formatter));
    }
    logger->set_level(level);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace jobsd::server
