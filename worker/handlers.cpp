// One entry per handler: its --handler name and how to build it from the options.
#include "worker/handlers.hpp"

#include <functional>
#include <stdexcept>

#include "worker/exec_handler.hpp"
#include "worker/http_handler.hpp"
#include "worker/simulate_handler.hpp"

namespace jobsd::worker {

namespace {

struct entry {
    const char* name;
    std::function<std::unique_ptr<job_handler>(const worker_options&)> make;
};

const std::vector<entry>& registry() {
    static const std::vector<entry> table = {
        {"simulate", [](const worker_options& o) { return std::make_unique<simulate_handler>(o.simulate); }},
        {"exec", [](const worker_options& o) { return std::make_unique<exec_handler>(o.exec, o.timeout); }},
        {"http", [](const worker_options& o) { return std::make_unique<http_handler>(o.http); }},
    };
    return table;
}

}  // namespace

std::unique_ptr<job_handler> make_handler(const worker_options& options) {
    for (const auto& e : registry())
        if (options.handler == e.name) return e.make(options);
    throw std::invalid_argument("unknown handler '" + options.handler + "'");
}

std::vector<std::string> handler_names() {
    std::vector<std::string> out;
    for (const auto& e : registry()) out.emplace_back(e.name);
    return out;
}

}  // namespace jobsd::worker
