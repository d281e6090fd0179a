// The claim loop asks the store for due deliveries while slots are free, skipping destinations at
// their bound; each claimed delivery is sent by a coroutine on its destination's io context; each
// ended attempt frees its slot (or hands it to the destination's next delivery) and waits for the
// recorder, which writes attempts in batches. A delivery stays claimed until its attempt is
// recorded, so neither this instance nor another sends it twice meanwhile.
#include "server/webhooks/webhook_dispatcher.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/url/parse.hpp>

#include <random>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "model/webhook_signature.hpp"
#include "model/webhook_url.hpp"
#include "server/error_boundary.hpp"
#include "server/use_nothrow.hpp"
#include "server/webhooks/webhook_payload.hpp"

namespace jobsd::server::webhooks {

namespace asio = boost::asio;
using store::delivery_outcome;
using store::webhook_store;

namespace {

address_policy policy_of(const webhook_options& o) {
    auto p = address_policy::make(o.allow);
    if (!p) throw std::runtime_error(p.error());
    return *p;
}

// How long the dispatcher gathers before it claims (after a status change or a freed slot woke it)
// and before it records ended attempts. Each claim and each record is a store transaction with a
// scan of the due deliveries; one per status-change batch cost jobsd more than the deliveries
// themselves (bench/RESULTS.md, issue 15). Adds at most this to a delivery's latency: 20 ms.
constexpr std::chrono::milliseconds batch_delay{20};

// A uniform draw in [0, 1) for the retry jitter, from a generator of the calling thread.
double unit_draw() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string_view outcome_name(delivery_outcome o) {
    switch (o) {
        case delivery_outcome::delivered:
            return "delivered";
        case delivery_outcome::retry:
            return "will retry";
        case delivery_outcome::failed:
            return "failed for good";
        case delivery_outcome::gone:
            break;
    }
    return "endpoint gone (410), disabled";
}

// One line per attempt that did not deliver: the destination's origin only (a URL's path or
// query may carry a token of the receiver's), never a secret or the body.
void log_attempt(const store::due_delivery& d, const store::attempt_record& r) {
    if (r.outcome == delivery_outcome::delivered) return;
    const std::string what = r.status_code ? "answered " + std::to_string(*r.status_code) : r.error;
    const auto level = r.outcome == delivery_outcome::retry ? spdlog::level::debug : spdlog::level::info;
    spdlog::log(level, "webhooks: delivery {} ({} of job {}) to {}, attempt {}: {}; {} trace_id={}", d.id,
                d.event, d.job ? d.job->uuid : "?", model::webhook_origin(d.url), r.attempt, what,
                outcome_name(r.outcome), d.job ? model::trace_id_of(d.job->traceparent) : "");
}

// The job's trace continued with a span of this delivery attempt's own, or "" when the job has no
// (valid) stored traceparent: a receiver that traces sees the call back in the job's trace.
std::string delivery_traceparent(const model::job& job) {
    const auto stored = model::parse_traceparent(job.traceparent);
    return stored ? model::format_traceparent(model::child_of(*stored)) : std::string();
}

}  // namespace

webhook_dispatcher::webhook_dispatcher(const webhook_options& options, webhook_store& store,
                                       std::vector<asio::io_context*> contexts,
                                       std::function<std::uint64_t()> writes_waiting)
    : options_(options),
      store_(store),
      contexts_(std::move(contexts)),
      writes_waiting_(std::move(writes_waiting)),
      policy_(policy_of(options)),
      retry_(options.retry_schedule, options.retry_jitter),
      tls_(make_client_tls_context(options.ca_file)),
      resolver_(options.resolve_threads),
      wake_(*contexts_.front()),
      record_wake_(*contexts_.front()) {
    for (auto* c : contexts_)
        senders_.push_back(std::make_unique<webhook_sender>(*c, options_, policy_, tls_, resolver_));
}

webhook_dispatcher::~webhook_dispatcher() = default;

void webhook_dispatcher::start() {
    asio::co_spawn(*contexts_.front(), claim_loop(), asio::detached);
    asio::co_spawn(*contexts_.front(), record_loop(), asio::detached);
}

void webhook_dispatcher::stop() {
    stopping_ = true;
    asio::post(*contexts_.front(), [this] {
        wake_.cancel();
        record_wake_.cancel();
    });
}

bool webhook_dispatcher::settled() {
    std::lock_guard lock(mutex_);
    return stopping_ && unrecorded_ == 0;
}

void webhook_dispatcher::notify() {
    woken_ = true;
    asio::post(*contexts_.front(), [this] { wake_.cancel(); });
}

std::size_t webhook_dispatcher::context_of(const std::string& dest) const {
    return std::hash<std::string>{}(dest) % contexts_.size();
}

store::claim_request webhook_dispatcher::next_claim() {
    store::claim_request r;
    r.now_ms = model::now_ms();
    // Up to three times a destination's slots: those beyond them wait here for a free slot, so a
    // busy destination costs a claim per few times per_endpoint deliveries, not one per freed slot.
    // A destination is claimed for again while it holds under refill_below (its queue half gone,
    // see finished()), so it has work queued when its slots free up: under five times its slots
    // held, the last waiting for at most four answers per slot (60 s at the default answer
    // timeout), within the lease (120 s by default).
    r.per_dest = 3 * options_.per_endpoint;
    r.lease_until_ms = r.now_ms + options_.claim_lease.count();
    std::lock_guard lock(mutex_);
    const std::size_t free = options_.max_in_flight > claimed_ ? options_.max_in_flight - claimed_ : 0;
    r.limit = std::min(free, options_.claim_batch);
    full_ = r.limit == 0;
    for (const auto& [dest, state] : destinations_)
        if (state.in_flight + state.waiting.size() >= refill_below()) r.skip.push_back(dest);
    return r;
}

asio::awaitable<void> webhook_dispatcher::claim_loop() {
    asio::steady_timer pause(*contexts_.front());
    // Claims this instance held before a restart (same instance name) are its own: due again now.
    for (;;) {
        auto [ec, n] =
            co_await store::async_webhook<std::size_t>(store_, &webhook_store::release_claims, use_nothrow);
        if (!ec) {
            if (n) spdlog::info("webhooks: {} deliveries claimed before a restart are due again", n);
            break;
        }
        spdlog::warn("webhooks: releasing earlier claims failed ({}); retrying", ec.message());
        pause.expires_after(std::chrono::seconds(1));
        co_await pause.async_wait(use_nothrow);
        if (stopping_) co_return;
    }
    auto last_sweep = std::chrono::steady_clock::now();
    while (!stopping_) {
        co_await yield_to_ingestion();
        auto request = next_claim();
        const bool request_skipped = !request.skip.empty();
        bool more = false;
        if (request.limit > 0) {
            const auto limit = request.limit;
            auto [ec, due] = co_await store::async_webhook<std::vector<store::due_delivery>>(
                store_, &webhook_store::claim_deliveries, use_nothrow, std::move(request));
            if (ec)
                spdlog::log(is_saturation(ec) ? spdlog::level::debug : spdlog::level::warn,
                            "webhooks: claiming due deliveries failed: {}", ec.message());
            more = !ec && due.size() == limit;
            note_capped(request_skipped, due);
            for (auto& d : due) admit(std::move(d));
        }
        if (std::chrono::steady_clock::now() - last_sweep > options_.idle_timeout) {
            last_sweep = std::chrono::steady_clock::now();
            for (std::size_t i = 0; i < contexts_.size(); ++i)
                asio::post(*contexts_[i], [s = senders_[i].get()] { s->sweep(); });
        }
        if (more) continue;
        if (!woken_.exchange(false)) {
            wake_.expires_after(options_.poll_interval);
            co_await wake_.async_wait(use_nothrow);
        }
        if (stopping_) continue;
        // A destination running low on queued deliveries is claimed for at once; otherwise one
        // claim for the deliveries of the status changes that come in the next moments, not a
        // claim (two store round trips) per change.
        if (!refill_.exchange(false)) {
            pause.expires_after(batch_delay);
            co_await pause.async_wait(use_nothrow);
        }
        woken_ = false;  // the claim that follows covers what woke it meanwhile
    }
}

// Returns at once when the writer's queue is under yield_writes now (or yielding is off); else
// samples it every 5 ms over 20 ms windows and returns after the first window whose average is
// under yield_writes, or after max_yield: a claim and the record of its attempts queue behind
// creates on the same writer, and readers of the same file.
asio::awaitable<void> webhook_dispatcher::yield_to_ingestion() {
    if (!writes_waiting_ || options_.yield_writes == 0) co_return;
    if (writes_waiting_() < options_.yield_writes) co_return;  // the writer keeps up: no sampling delay
    constexpr auto sample_every = std::chrono::milliseconds(5);
    constexpr int samples = 4;
    constexpr auto max_yield = std::chrono::seconds(1);  // deliveries go on under any load
    asio::steady_timer timer(*contexts_.front());
    const auto start = std::chrono::steady_clock::now();
    for (bool busy = false; !stopping_; busy = true) {
        std::uint64_t sum = 0;
        for (int i = 0; i < samples; ++i) {
            sum += writes_waiting_();
            timer.expires_after(sample_every);
            co_await timer.async_wait(use_nothrow);
        }
        const auto waited = std::chrono::steady_clock::now() - start;
        const bool done = sum < samples * options_.yield_writes || waited >= max_yield;
        if (done && busy)
            stats_.yielded_ms += static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
        if (done) co_return;
    }
}

// Whether a destination may have more due deliveries than the claim took (it was skipped, or got
// its whole per-endpoint share): then a freed slot of it claims again at once, not at the next poll,
// so one busy receiver is served as fast as it answers.
void webhook_dispatcher::note_capped(bool skipped, const std::vector<store::due_delivery>& due) {
    bool capped = skipped;
    std::map<std::string_view, std::size_t> per_dest;
    for (const auto& d : due) capped = capped || ++per_dest[d.dest] >= options_.per_endpoint;
    std::lock_guard lock(mutex_);
    capped_ = capped;
}

void webhook_dispatcher::admit(store::due_delivery d) {
    const std::string dest = d.dest;
    {
        std::lock_guard lock(mutex_);
        ++claimed_;
        auto& state = destinations_[dest];
        if (stopping_ || state.in_flight >= options_.per_endpoint) {  // a claim answered after stop() waits
            state.waiting.push_back(std::move(d));
            ++stats_.waiting;
            return;
        }
        ++state.in_flight;
        ++unrecorded_;
    }
    ++stats_.in_flight;
    asio::co_spawn(*contexts_[context_of(dest)], deliver(std::move(d)), asio::detached);
}

asio::awaitable<std::optional<std::string>> webhook_dispatcher::secret_of(const store::due_delivery& d) {
    if (d.secret) co_return d.secret;
    // The account never read its default secret: it is made now, as reading it would.
    auto [ec, secret] = co_await store::async_webhook<std::string>(
        store_, &webhook_store::account_secret, use_nothrow, d.account_id, model::new_webhook_secret());
    if (ec) co_return std::nullopt;
    co_return secret;
}

asio::awaitable<void> webhook_dispatcher::deliver(store::due_delivery d) {
    store::attempt_record rec;
    rec.delivery_id = d.id;
    rec.attempt = d.attempts + 1;
    attempt_result result;
    try {
        const auto secret = co_await secret_of(d);
        if (!d.job) {
            result.error = "the job no longer exists";
        } else if (!secret) {
            result.error = "the signing secret could not be read";
        } else {
            std::vector<std::string> secrets{*secret};
            if (d.previous_secret) secrets.push_back(*d.previous_secret);
            outgoing out{
                d.url, webhook_body(d.event, d.event_ms, *d.job), d.id, {}, {}, delivery_traceparent(*d.job)};
            const auto timestamp = model::now_ms() / 1000;
            out.timestamp = std::to_string(timestamp);
            out.signature = model::webhook_signature_header(d.id, timestamp, out.body, secrets);
            result = co_await senders_[context_of(d.dest)]->send(out);
        }
    } catch (const std::exception& e) {
        result.error = std::string("internal error: ") + e.what();
    }
    rec.at_ms = model::now_ms();
    rec.status_code = result.status;
    rec.latency_ms = result.latency.count();
    rec.error = std::move(result.error);
    const auto decision = retry_.decide(rec.attempt, result.status, result.retry_after, unit_draw());
    rec.outcome = decision.outcome;
    rec.next_ms = rec.at_ms + decision.delay.count();
    log_attempt(d, rec);
    finished(d.dest, std::move(rec));
}

void webhook_dispatcher::count(const store::attempt_record& r) {
    switch (r.outcome) {
        case delivery_outcome::delivered:
            ++stats_.delivered;
            break;
        case delivery_outcome::retry:
            ++stats_.retried;
            break;
        case delivery_outcome::failed:
            ++stats_.failed;
            break;
        case delivery_outcome::gone:
            ++stats_.gone;
            break;
    }
    const double seconds = static_cast<double>(r.latency_ms) / 1000.0;
    std::size_t b = 0;
    while (b < dispatcher_stats::bounds.size() && seconds > dispatcher_stats::bounds[b]) ++b;
    ++stats_.latency[b];
    stats_.latency_sum_ms += static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.latency_ms));
}

void webhook_dispatcher::finished(const std::string& dest, store::attempt_record record) {
    count(record);
    std::optional<store::due_delivery> next;
    bool loop_waits = false, wake_recorder = false;
    {
        std::lock_guard lock(mutex_);
        bool low = false;
        wake_recorder = results_.empty();  // otherwise a wake-up is already on its way
        results_.push_back(std::move(record));
        --claimed_;
        auto it = destinations_.find(dest);
        if (stopping_) {  // the queued deliveries stay claimed, unsent, for the next start
            if (--it->second.in_flight == 0 && it->second.waiting.empty()) destinations_.erase(it);
        } else if (!it->second.waiting.empty()) {  // the slot passes to the destination's next delivery
            next = std::move(it->second.waiting.front());
            it->second.waiting.pop_front();
            --stats_.waiting;
            ++unrecorded_;
            // Just under the refill mark: claim more while the rest is sent, so the
            // destination does not run dry and wait a claim's round trip with its slots idle.
            low = it->second.in_flight + it->second.waiting.size() + 1 == refill_below();
        } else if (--it->second.in_flight == 0) {
            destinations_.erase(it);
        }
        const bool more_due = (!next || low) && std::exchange(capped_, false);
        loop_waits = std::exchange(full_, false) || more_due;
        if (more_due) refill_ = true;
    }
    if (wake_recorder) asio::post(*contexts_.front(), [this] { record_wake_.cancel(); });
    if (next)
        asio::co_spawn(*contexts_[context_of(dest)], deliver(std::move(*next)), asio::detached);
    else
        --stats_.in_flight;
    if (loop_waits) notify();
}

asio::awaitable<void> webhook_dispatcher::record_loop() {
    std::vector<store::attempt_record> batch;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            batch.insert(batch.end(), std::make_move_iterator(results_.begin()),
                         std::make_move_iterator(results_.end()));
            results_.clear();
        }
        if (batch.empty()) {
            if (settled()) co_return;  // after a stop, once every attempt that ended is written
            record_wake_.expires_after(std::chrono::seconds(1));
            co_await record_wake_.async_wait(use_nothrow);
            // The attempts that end in the next moments are recorded with this one, in one
            // transaction. Claims stay held meanwhile, so nothing is sent twice.
            if (!stopping_) {
                record_wake_.expires_after(batch_delay);
                co_await record_wake_.async_wait(use_nothrow);
            }
            continue;
        }
        auto [ec, n] = co_await store::async_webhook<std::size_t>(store_, &webhook_store::finish_attempts,
                                                                  use_nothrow, batch);
        if (!ec) {
            {
                std::lock_guard lock(mutex_);
                unrecorded_ -= batch.size();
            }
            batch.clear();
            continue;
        }
        // Kept and written again: the deliveries stay claimed meanwhile, so none is sent twice.
        spdlog::warn("webhooks: recording {} attempts failed ({}); retrying", batch.size(), ec.message());
        record_wake_.expires_after(std::chrono::seconds(1));
        co_await record_wake_.async_wait(use_nothrow);
    }
}

}  // namespace jobsd::server::webhooks
