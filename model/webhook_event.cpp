// Lookups over the webhook event table.
#include "model/webhook_event.hpp"

namespace jobsd::model {

const webhook_event* webhook_event_for(job_status status) noexcept {
    for (const auto& e : webhook_events)
        if (e.status == status) return &e;
    return nullptr;
}

const webhook_event* find_webhook_event(std::string_view name) noexcept {
    for (const auto& e : webhook_events)
        if (e.name == name) return &e;
    return nullptr;
}

unsigned default_webhook_events() noexcept {
    unsigned filter = 0;
    for (const auto& e : webhook_events)
        if (e.by_default) filter |= e.bit;
    return filter;
}

std::vector<std::string_view> webhook_event_names(unsigned filter) {
    std::vector<std::string_view> out;
    for (const auto& e : webhook_events)
        if (filter & e.bit) out.push_back(e.name);
    return out;
}

std::string webhook_event_list() {
    std::string out;
    for (const auto& e : webhook_events) {
        if (!out.empty()) out += ", ";
        out += e.name;
    }
    return out;
}

}  // namespace jobsd::model
