// Prometheus text exposition, version 0.0.4.
#include "server/metrics.hpp"

namespace jobsd::server {

std::string metrics::render(const store::store_stats& store) const {
    std::string out;
    out.reserve(4096);
    auto line = [&out](std::string_view name, std::string_view labels, auto value) {
        out.append(name);
        if (!labels.empty()) out.append("{").append(labels).append("}");
        out.append(" ").append(std::to_string(value)).append("\n");
    };
    out += "# HELP jobsd_http_responses_total HTTP responses sent, by status code.\n"
           "# TYPE jobsd_http_responses_total counter\n";
    for (std::size_t code = 100; code < responses_.size(); ++code)
        if (auto n = responses_[code].load(std::memory_order_relaxed))
            line("jobsd_http_responses_total", "code=\"" + std::to_string(code) + "\"", n);
    out += "# HELP jobsd_http_connections Open client connections.\n# TYPE jobsd_http_connections gauge\n";
    line("jobsd_http_connections", "", connections_.load(std::memory_order_relaxed));
    out += "# HELP jobsd_jobs_created_total Jobs committed and answered 201, by job type.\n"
           "# TYPE jobsd_jobs_created_total counter\n";
    for (auto t : model::all_job_types)
        line("jobsd_jobs_created_total", "job_type=\"" + std::string(model::to_string(t)) + "\"",
             jobs_created_[static_cast<std::size_t>(t)].load(std::memory_order_relaxed));
    out += "# HELP jobsd_store_transactions_total Write transactions committed by the store.\n"
           "# TYPE jobsd_store_transactions_total counter\n";
    line("jobsd_store_transactions_total", "", store.transactions);
    out += "# HELP jobsd_store_jobs_committed_total Jobs committed by the store (group commit: many per "
           "transaction).\n# TYPE jobsd_store_jobs_committed_total counter\n";
    line("jobsd_store_jobs_committed_total", "", store.jobs_committed);
    out += "# HELP jobsd_store_write_queue Write operations waiting for the store's writer.\n"
           "# TYPE jobsd_store_write_queue gauge\n";
    line("jobsd_store_write_queue", "", store.write_queue);
    return out;
}

}  // namespace jobsd::server
