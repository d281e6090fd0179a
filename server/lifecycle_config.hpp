// The `lifecycle` section of jobsd's configuration: the sweep's cadence and the per-type policy
// (retries, time to live, stuck bound), with per-type overrides in `lifecycle.types`. The
// policy itself is a model::lifecycle_policy, resolved once the whole configuration is read.
#pragma once

#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "model/lifecycle_policy.hpp"

namespace jobsd::server {

// A job type's settings given in lifecycle.types; unset members take the section's values.
struct type_lifecycle_override {
    std::optional<int> max_attempts;
    std::optional<std::chrono::milliseconds> retry_backoff, retry_backoff_max;
    std::optional<std::chrono::seconds> default_expires_in;  // 0: none
    std::optional<std::chrono::seconds> stuck_after;
};

struct lifecycle_options {
    // How often the lifecycle sweep runs: jobs still in the outbox past their deadline become
    // EXPIRED, retries whose backoff is over go to the broker. Once a second keeps both within a
    // second of their time for one small indexed query.
    std::chrono::milliseconds sweep_interval{1'000};
    // Jobs expired and retries released per sweep at most; the next sweep takes the rest.
    std::size_t sweep_batch = 1'000;
    // A published job waits in its type's broker queue, which expires it only at the queue's
    // head. While the queue has no consumer, the sweep expires such a job this long past its
    // deadline: the margin covers the queue view's age (the management API's consumer counts lag
    // by its statistics interval, 5 s by default) and the clocks of jobsd and the workers. The
    // queues are read every half of it (at most once a sweep). 0 turns it off.
    std::chrono::milliseconds unconsumed_expiry_after{10'000};
    // How often the stuck jobs (/metrics, dashboard) are counted; answers in between reuse it.
    std::chrono::milliseconds stuck_refresh{5'000};
    // Every type's settings (model::type_lifecycle documents each default), then each type's
    // overrides.
    model::type_lifecycle defaults;
    std::array<type_lifecycle_override, model::all_job_types.size()> types{};
    // Largest expires_in_s accepted from a client.
    std::chrono::seconds max_expires_in{7 * 24 * 3600};
    // The fair queue (server/job_release.hpp): past this many ready messages in a type's broker
    // queue, new jobs of the type wait in jobsd and leave in weighted round robin across
    // accounts and priorities. 1 000 keeps a newcomer within 1 000 jobs of the workers while
    // holding ten thousand jobs a second per type in the broker at the 100 ms interval; 0 turns
    // it off (every job to the broker at once, in arrival order).
    std::size_t fair_window = 1'000;
    // How often the queues are read and held jobs released (sooner while the window fills).
    std::chrono::milliseconds fair_interval{100};
};

// Reads lifecycle.types: {"<job type>": {"max_attempts", "retry_backoff_ms", "retry_backoff_max_ms",
// "default_expires_in_s", "stuck_after_s"}, …}; a JSON text is accepted too (from the environment).
// Returns a problem text naming the member, "" on success.
std::string set_type_overrides(const boost::json::value& v, lifecycle_options& out);

// The per-type policy, or a problem text (a backoff maximum below its start, a default time to
// live past the largest allowed).
std::optional<model::lifecycle_policy> resolve_lifecycle(const lifecycle_options& o, std::string& problem);

}  // namespace jobsd::server
