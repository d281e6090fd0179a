// The PostgreSQL adapter's writes: each adds its statements to a batch's pipeline between BEGIN
// and COMMIT and reads its own results back; forward-only and duplicate checks are decided by
// the statements themselves, so several jobsd may write the same database.
#include "model/clock.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_url.hpp"
#include "store/completion.hpp"
#include "store/pg_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

using param = std::optional<std::string>;

struct create_job_op final : pg_op {
    create_job_op(job_record j, std::string me, std::chrono::milliseconds lease,
                  std::chrono::milliseconds window, pg_handler<> h)
        : job(std::move(j)),
          instance(std::move(me)),
          claim_lease(lease),
          idempotency_window(window),
          handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const bool keyed = !job.idempotency_key.empty();
        if (keyed)
            out.push_back({"release_key",
                           {job.account_id, job.idempotency_key,
                            pg_number(job.created_ms - idempotency_window.count())}});
        pg_statement insert{
            "insert_job",
            {job.uuid, job.account_id, job.source_id, std::string(model::to_string(job.type)),
             std::string(model::to_string(job.status)), job.session_id, job.input, pg_number(job.created_ms),
             job.version ? param(pg_number(*job.version)) : std::nullopt,
             keyed ? param(job.idempotency_key) : std::nullopt,
             keyed ? param(job.request_hash) : std::nullopt, instance,
             pg_number(static_cast<std::int64_t>(claim_lease.count()))}};
        if (!job.webhook_url.empty()) {
            insert.sql = "insert_job_with_webhook";
            insert.params.push_back(job.webhook_url);
            insert.params.push_back(model::webhook_origin(job.webhook_url));
            insert.params.push_back(pg_number(static_cast<std::int64_t>(job.webhook_events)));
        }
        out.push_back(std::move(insert));
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        if (!ec && (results.empty() || results.back().rows() == 0)) ec = store_errc::duplicate;
        complete(std::move(handler), ec);
    }
    std::uint64_t jobs() const override { return 1; }
    bool is_write() const override { return true; }

    job_record job;
    std::string instance;
    std::chrono::milliseconds claim_lease, idempotency_window;
    pg_handler<> handler;
};

struct mark_published_op final : pg_op {
    mark_published_op(std::vector<std::string> u, pg_handler<> h)
        : uuids(std::move(u)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({"mark_published", {pg_text_array(uuids)}});
    }
    void finish(error_code ec, std::span<const pg_reply>) override { complete(std::move(handler), ec); }
    bool is_write() const override { return true; }

    std::vector<std::string> uuids;
    pg_handler<> handler;
};

struct apply_events_op final : pg_op {
    apply_events_op(std::vector<model::job_event> e, std::atomic<std::uint64_t>& counter,
                    pg_handler<std::vector<applied_event>> h)
        : events(std::move(e)), applied_counter(counter), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const std::int64_t now_ms = model::now_ms();  // deliveries are due at once
        for (const auto& e : events) {
            std::vector<std::string> from;
            for (auto s :
                 {model::job_status::queued, model::job_status::started, model::job_status::in_progress,
                  model::job_status::success, model::job_status::failed})
                if (model::can_advance(s, e.status)) from.emplace_back(model::to_string(s));
            const auto* hook = model::webhook_event_for(e.status);
            out.push_back({"apply_event",
                           {e.uuid, std::string(model::to_string(e.status)),
                            e.progress ? param(std::to_string(*e.progress)) : std::nullopt, e.output, e.error,
                            pg_number(e.at_ms), pg_text_array(from), std::string(hook ? hook->name : ""),
                            pg_number(static_cast<std::int64_t>(hook ? hook->bit : 0)), pg_number(now_ms)}});
        }
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<applied_event> applied;
        if (!ec) {
            for (std::size_t i = 0; i < events.size() && i < results.size(); ++i) {
                if (results[i].rows() == 0) continue;  // late, duplicate or unknown: harmless
                applied.push_back(
                    {events[i], std::string(results[i].text(0, 0)), std::string(results[i].text(0, 1)),
                     model::parse_job_type(results[i].text(0, 2)).value_or(model::job_type::video)});
            }
            applied_counter.fetch_add(applied.size(), std::memory_order_relaxed);
        }
        complete(std::move(handler), ec, std::move(applied));
    }
    bool is_write() const override { return true; }

    std::vector<model::job_event> events;
    std::atomic<std::uint64_t>& applied_counter;
    pg_handler<std::vector<applied_event>> handler;
};

}  // namespace

namespace pg_ops {

std::unique_ptr<pg_op> make_create_job_op(job_record job, std::string instance,
                                          std::chrono::milliseconds claim_lease,
                                          std::chrono::milliseconds idempotency_window,
                                          pg_handler<> handler) {
    return std::make_unique<create_job_op>(std::move(job), std::move(instance), claim_lease,
                                           idempotency_window, std::move(handler));
}

std::unique_ptr<pg_op> make_mark_published_op(std::vector<std::string> uuids, pg_handler<> handler) {
    return std::make_unique<mark_published_op>(std::move(uuids), std::move(handler));
}

std::unique_ptr<pg_op> make_apply_events_op(std::vector<model::job_event> events,
                                            std::atomic<std::uint64_t>& applied_counter,
                                            pg_handler<std::vector<applied_event>> handler) {
    return std::make_unique<apply_events_op>(std::move(events), applied_counter, std::move(handler));
}

}  // namespace pg_ops

}  // namespace jobsd::store
