// The operator's routes: GET /api/queues (the broker's per-type queues), GET /api/dashboard (the
// dashboard's data) and the dashboard's static files; plus the cached job counts /metrics shows.
// Thread safety: one object serves all io threads; its caches and history lock internally and
// everything else is read-only after construction.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/amqp_options.hpp"
#include "queue/publisher.hpp"
#include "server/config.hpp"
#include "server/http_types.hpp"
#include "server/ingest_history.hpp"
#include "server/management_client.hpp"
#include "server/metrics.hpp"
#include "server/passive_queue_reader.hpp"
#include "server/queue_view.hpp"
#include "server/timed_cache.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class operator_api {
  public:
    // `publisher` may be null (publishing disabled). Precondition: config validated (a
    // management_url that does not parse never gets here).
    operator_api(const config& cfg, store::store& store, const metrics& metrics,
                 const queue::publisher* publisher);

    boost::asio::awaitable<response> queues();
    boost::asio::awaitable<response> dashboard_data();
    response dashboard_page(std::string_view file) const;

    // Jobs per type and status, read at most every server.job_counts_refresh; nullopt when the
    // store could not be read.
    boost::asio::awaitable<std::optional<std::vector<store::job_count>>> job_counts();

    // STARTED or IN_PROGRESS jobs silent past their type's lifecycle stuck bound, counted per
    // type (status in_progress stands for both), read at most every lifecycle.stuck_refresh;
    // nullopt when the store could not be read.
    boost::asio::awaitable<std::optional<std::vector<store::job_count>>> stuck_counts();

    // Called once a second (by the app): adds a sample of the ingest counters to the history.
    void sample_ingest();

    using view_result = boost::system::result<queue_view, std::string>;
    // The queue view, read from the management API (or, without one or when it fails, by passive
    // declares) at most once per amqp.queue_view_cache; a failure (broker away) is cached the
    // same way, with its reason. Also the lifecycle sweep's view of which queues have consumers.
    boost::asio::awaitable<view_result> queue_view_now();

  private:
    boost::asio::awaitable<boost::json::value> webhooks_json();

    const server_options& server_;
    const queue::amqp_options& amqp_;
    store::store& store_;
    const metrics& metrics_;
    const queue::publisher* publisher_;
    std::optional<management_endpoint> management_;  // none when amqp.management_url is ""
    std::unique_ptr<passive_queue_reader> passive_;  // the fallback; null when amqp.enabled is false
    timed_cache<view_result> views_;
    timed_cache<std::vector<store::job_count>> counts_;
    const model::lifecycle_policy& lifecycle_;
    timed_cache<std::vector<store::job_count>> stuck_;
    ingest_history history_;
};

}  // namespace jobsd::server
