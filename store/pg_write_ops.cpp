// The PostgreSQL adapter's writes: each adds its statements to a batch's pipeline between BEGIN
// and COMMIT and reads its own results back; forward-only and duplicate checks are decided by
// the statements themselves, so several jobsd may write the same database.
#include <unordered_set>
#include <utility>

#include "model/clock.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_url.hpp"
#include "store/completion.hpp"
#include "store/pg_binary_array.hpp"
#include "store/pg_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

using param = pg_param;

// Jobs' columns as binary arrays, one element per job in order, for the statements that insert
// many rows from unnest(): each takes the columns it needs.
struct job_arrays {
    pg_binary_array uuids{pg_element::text}, accounts{pg_element::text}, sources{pg_element::text},
        types{pg_element::text}, statuses{pg_element::text}, sessions{pg_element::text},
        inputs{pg_element::text}, batches{pg_element::text}, traceparents{pg_element::text},
        hook_urls{pg_element::text}, hook_dests{pg_element::text}, hook_events{pg_element::text};
    pg_binary_array created{pg_element::int8}, attempts{pg_element::int8}, expires_in{pg_element::int8},
        expires_at{pg_element::int8}, priorities{pg_element::int8};
    pg_binary_array versions{pg_element::float8}, fair_keys{pg_element::float8};

    void add(const job_record& j) {
        uuids.add_text(j.uuid);
        accounts.add_text(j.account_id);
        sources.add_text(j.source_id);
        types.add_text(model::to_string(j.type));
        statuses.add_text(model::to_string(j.status));
        sessions.add_text(j.session_id);
        inputs.add_text(j.input);
        created.add_int(j.created_ms);
        versions.add_float(j.version);
        batches.add_text(j.batch_id);  // '' for none, NULL in the row
        attempts.add_int(j.attempt);
        expires_in.add_int(j.expires_in_ms);
        expires_at.add_int(j.expires_at_ms);
        priorities.add_int(j.priority);
        fair_keys.add_float(j.fair_key);
        traceparents.add_text(j.traceparent);
        hook_urls.add_text(j.webhook_url);  // '' for none, NULL in the row
        if (j.webhook_url.empty()) {
            hook_dests.add_text({});
            hook_events.add_text({});
        } else {
            hook_dests.add_text(model::webhook_origin(j.webhook_url));
            hook_events.add_text(std::to_string(j.webhook_events));
        }
    }
};

// The statements that insert `job` (releasing an expired holder of its key first).
void add_insert(const job_record& job, const std::string& instance, std::chrono::milliseconds claim_lease,
                std::chrono::milliseconds idempotency_window, std::vector<pg_statement>& out) {
    const bool keyed = !job.idempotency_key.empty();
    if (keyed)
        out.push_back(
            {"release_key",
             {job.account_id, job.idempotency_key, pg_number(job.created_ms - idempotency_window.count())}});
    pg_statement insert{"insert_job",
                        {job.uuid,
                         job.account_id,
                         job.source_id,
                         std::string(model::to_string(job.type)),
                         std::string(model::to_string(job.status)),
                         job.session_id,
                         job.input,
                         pg_number(job.created_ms),
                         job.version ? param(pg_number(*job.version)) : std::nullopt,
                         keyed ? param(job.idempotency_key) : std::nullopt,
                         keyed ? param(job.request_hash) : std::nullopt,
                         instance,
                         pg_number(static_cast<std::int64_t>(claim_lease.count())),
                         job.batch_id.empty() ? std::nullopt : param(job.batch_id),
                         pg_number(static_cast<std::int64_t>(job.attempt)),
                         job.expires_in_ms ? param(pg_number(*job.expires_in_ms)) : std::nullopt,
                         job.expires_at_ms ? param(pg_number(*job.expires_at_ms)) : std::nullopt,
                         pg_number(static_cast<std::int64_t>(job.priority)),
                         job.fair_key ? param(pg_number(*job.fair_key)) : std::nullopt,
                         job.traceparent.empty() ? std::nullopt : param(job.traceparent)}};
    // A job's own webhook URL, its origin and its event filter, in its row (NULL when none).
    const bool hooked = !job.webhook_url.empty();
    insert.params.push_back(hooked ? param(job.webhook_url) : std::nullopt);
    insert.params.push_back(hooked ? param(model::webhook_origin(job.webhook_url)) : std::nullopt);
    insert.params.push_back(hooked ? param(pg_number(static_cast<std::int64_t>(job.webhook_events)))
                                   : std::nullopt);
    out.push_back(std::move(insert));
}

struct create_job_op final : pg_op {
    create_job_op(job_record j, std::string me, std::chrono::milliseconds lease,
                  std::chrono::milliseconds window, pg_handler<> h)
        : job(std::move(j)),
          instance(std::move(me)),
          claim_lease(lease),
          idempotency_window(window),
          handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        add_insert(job, instance, claim_lease, idempotency_window, out);
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        if (!ec && (results.empty() || results.back().rows() == 0)) ec = store_errc::duplicate;
        settle(ec);
    }
    void settle(error_code ec) { complete(std::move(handler), ec); }
    std::uint64_t jobs() const override { return 1; }
    bool is_write() const override { return true; }
    // A create without an idempotency key: one row, nothing to release first.
    bool plain() const { return job.idempotency_key.empty(); }

    job_record job;
    std::string instance;
    std::chrono::milliseconds claim_lease, idempotency_window;
    pg_handler<> handler;
};

// The plain creates of one write batch as one statement (insert_jobs_many): PostgreSQL plans and
// runs one INSERT for them all instead of one per job, and jobsd reads one result. Each job is
// still inserted or not on its own, in the order the creates came: a duplicate uuid is that job's
// answer alone. The INSERT first goes without ON CONFLICT, whose speculative insertion costs
// PostgreSQL a sixth of its work per row; a duplicate aborts that batch, which then runs again
// with insert_jobs_many_skip (ON CONFLICT DO NOTHING).
struct create_many_op final : pg_op {
    create_many_op(std::vector<std::unique_ptr<create_job_op>> c) : creates(std::move(c)) {}

    void add(std::vector<pg_statement>& out) const override {
        job_arrays a;
        for (const auto& c : creates) a.add(c->job);
        const auto& first = *creates.front();
        out.push_back({conflicts_skipped ? "insert_jobs_many_skip" : "insert_jobs_many",
                       {first.instance,      pg_number(static_cast<std::int64_t>(first.claim_lease.count())),
                        a.uuids.take(),      a.accounts.take(),
                        a.sources.take(),    a.types.take(),
                        a.statuses.take(),   a.sessions.take(),
                        a.inputs.take(),     a.created.take(),
                        a.versions.take(),   a.batches.take(),
                        a.attempts.take(),   a.expires_in.take(),
                        a.expires_at.take(), a.priorities.take(),
                        a.fair_keys.take(),  a.traceparents.take(),
                        a.hook_urls.take(),  a.hook_dests.take(),
                        a.hook_events.take()}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::unordered_set<std::string_view> inserted;
        if (!ec && !results.empty())
            for (int row = 0; row < results.back().rows(); ++row)
                inserted.insert(results.back().text(row, 0));
        // The same uuid twice in one batch: the first went in (rows go in in order), the second not.
        for (auto& c : creates)
            c->settle(ec                            ? ec
                      : inserted.erase(c->job.uuid) ? error_code{}
                                                    : error_code(store_errc::duplicate));
    }
    std::uint64_t jobs() const override { return creates.size(); }
    bool is_write() const override { return true; }
    bool skip_conflicts() override { return !std::exchange(conflicts_skipped, true); }

    std::vector<std::unique_ptr<create_job_op>> creates;
    bool conflicts_skipped = false;
};

// The first job decides: inserted (key free) or not (key taken, nothing else is written either).
struct create_jobs_op final : pg_op {
    create_jobs_op(std::vector<job_record> j, std::string me, std::chrono::milliseconds lease,
                   std::chrono::milliseconds window, pg_handler<> h)
        : batch(std::move(j)),
          instance(std::move(me)),
          claim_lease(lease),
          idempotency_window(window),
          handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const std::size_t start = out.size();
        add_insert(batch.front(), instance, claim_lease, idempotency_window, out);
        first_insert = out.size() - 1 - start;  // finish() sees this op's results only
        if (batch.size() > 1) out.push_back(rest());
    }
    pg_statement rest() const {
        const auto& first = batch.front();
        job_arrays a;
        for (std::size_t i = 1; i < batch.size(); ++i) a.add(batch[i]);
        return {"insert_batch_rest",
                {first.account_id,
                 pg_number(first.created_ms),
                 instance,
                 pg_number(static_cast<std::int64_t>(claim_lease.count())),
                 first.batch_id,
                 first.uuid,
                 std::string(model::to_string(first.status)),
                 a.uuids.take(),
                 a.sources.take(),
                 a.types.take(),
                 a.sessions.take(),
                 a.inputs.take(),
                 a.versions.take(),
                 a.expires_in.take(),
                 a.expires_at.take(),
                 a.priorities.take(),
                 a.fair_keys.take(),
                 a.traceparents.take(),
                 a.hook_urls.take(),
                 a.hook_dests.take(),
                 a.hook_events.take()}};
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        if (!ec && (results.size() <= first_insert || results[first_insert].rows() == 0))
            ec = store_errc::duplicate;
        complete(std::move(handler), ec);
    }
    std::uint64_t jobs() const override { return batch.size(); }
    bool is_write() const override { return true; }

    std::vector<job_record> batch;
    std::string instance;
    std::chrono::milliseconds claim_lease, idempotency_window;
    pg_handler<> handler;
    // add() is const (it only describes the statements); where the first insert's result lands
    // among this op's results is remembered for finish().
    mutable std::size_t first_insert = 0;
};

struct mark_published_op final : pg_op {
    mark_published_op(std::vector<model::job_attempt> published, pg_handler<> h) : handler(std::move(h)) {
        uuids.reserve(published.size());
        attempts.reserve(published.size());
        for (auto& p : published) {
            uuids.push_back(std::move(p.uuid));
            attempts.emplace_back(p.attempt);
        }
    }

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({"mark_published", {pg_text_array(uuids), pg_int_array(attempts)}});
    }
    void finish(error_code ec, std::span<const pg_reply>) override { complete(std::move(handler), ec); }
    bool is_write() const override { return true; }
    void rows_to_lock(std::vector<std::string>& out) const override {
        out.insert(out.end(), uuids.begin(), uuids.end());
    }

    std::vector<std::string> uuids;
    std::vector<std::optional<std::int64_t>> attempts;  // of the same index's uuid
    pg_handler<> handler;
};

struct renew_claims_op final : pg_op {
    renew_claims_op(std::string me, std::chrono::milliseconds lease, std::vector<std::string> u,
                    pg_handler<std::vector<std::string>> h)
        : instance(std::move(me)), claim_lease(lease), uuids(std::move(u)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back(
            {"renew_claims",
             {instance, pg_number(static_cast<std::int64_t>(claim_lease.count())), pg_text_array(uuids)}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<std::string> renewed;
        if (!ec && !results.empty()) {
            const auto& r = results.back();
            renewed.reserve(static_cast<std::size_t>(r.rows()));
            for (int row = 0; row < r.rows(); ++row) renewed.emplace_back(r.text(row, 0));
        }
        complete(std::move(handler), ec, std::move(renewed));
    }
    bool is_write() const override { return true; }
    void rows_to_lock(std::vector<std::string>& out) const override {
        out.insert(out.end(), uuids.begin(), uuids.end());
    }

    std::string instance;
    std::chrono::milliseconds claim_lease;
    std::vector<std::string> uuids;
    pg_handler<std::vector<std::string>> handler;
};

struct apply_events_op final : pg_op {
    apply_events_op(std::vector<model::job_event> e, std::atomic<std::uint64_t>& counter, std::string p,
                    pg_handler<std::vector<applied_event>> h)
        : events(std::move(e)), applied_counter(counter), policy(std::move(p)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const std::string now = pg_number(model::now_ms());  // also when the deliveries are due
        for (const auto& e : events) {
            // The webhook event the change causes (none: "" and bit 0); a retry's QUEUED causes none.
            const auto* hook = model::webhook_event_for(e.status);
            out.push_back({"apply_event",
                           {e.uuid, std::string(model::to_string(e.status)),
                            e.attempt ? param(std::to_string(*e.attempt)) : std::nullopt,
                            e.progress ? param(std::to_string(*e.progress)) : std::nullopt, e.output, e.error,
                            std::string(e.retryable ? "true" : "false"), pg_number(e.at_ms), now, policy,
                            std::string(hook ? hook->name : ""),
                            pg_number(static_cast<std::int64_t>(hook ? hook->bit : 0))}});
        }
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<applied_event> applied;
        if (!ec) {
            for (std::size_t i = 0; i < events.size() && i < results.size(); ++i) {
                const auto& r = results[i];
                if (r.rows() == 0) continue;  // late, duplicate, another attempt or unknown: harmless
                applied_event a{events[i], std::string(r.text(0, 1)), std::string(r.text(0, 2)),
                                model::parse_job_type(r.text(0, 3)).value_or(model::job_type::video)};
                if (r.text(0, 0) == "retried") {  // the QUEUED event of the next attempt, with the error
                    a.event.status = model::job_status::queued;
                    a.event.attempt = static_cast<int>(r.int64(0, 4));
                    a.event.progress.reset();
                    a.event.output.reset();
                }
                applied.push_back(std::move(a));
            }
            applied_counter.fetch_add(applied.size(), std::memory_order_relaxed);
        }
        complete(std::move(handler), ec, std::move(applied));
    }
    bool is_write() const override { return true; }
    void rows_to_lock(std::vector<std::string>& out) const override {
        for (const auto& e : events) out.push_back(e.uuid);
    }

    std::vector<model::job_event> events;
    std::atomic<std::uint64_t>& applied_counter;
    std::string policy;  // the retry policy as jsonb text (pg_policy_json)
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

void coalesce_creates(std::vector<std::unique_ptr<pg_op>>& batch) {
    std::vector<std::unique_ptr<create_job_op>> plain;
    std::size_t at = batch.size();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto* c = dynamic_cast<create_job_op*>(batch[i].get());
        if (!c || !c->plain()) continue;
        if (plain.empty()) at = i;
        plain.emplace_back(c);
        batch[i].release();
    }
    if (plain.size() < 2) {  // one create runs as it came
        if (!plain.empty()) batch[at].reset(plain.front().release());
        return;
    }
    batch[at] = std::make_unique<create_many_op>(std::move(plain));
    std::erase(batch, nullptr);
}

std::unique_ptr<pg_op> make_create_jobs_op(std::vector<job_record> jobs, std::string instance,
                                           std::chrono::milliseconds claim_lease,
                                           std::chrono::milliseconds idempotency_window,
                                           pg_handler<> handler) {
    return std::make_unique<create_jobs_op>(std::move(jobs), std::move(instance), claim_lease,
                                            idempotency_window, std::move(handler));
}

std::unique_ptr<pg_op> make_mark_published_op(std::vector<model::job_attempt> published,
                                              pg_handler<> handler) {
    return std::make_unique<mark_published_op>(std::move(published), std::move(handler));
}

std::unique_ptr<pg_op> make_renew_claims_op(std::string instance, std::chrono::milliseconds claim_lease,
                                            std::vector<std::string> uuids,
                                            pg_handler<std::vector<std::string>> handler) {
    return std::make_unique<renew_claims_op>(std::move(instance), claim_lease, std::move(uuids),
                                             std::move(handler));
}

std::unique_ptr<pg_op> make_apply_events_op(std::vector<model::job_event> events,
                                            std::atomic<std::uint64_t>& applied_counter,
                                            std::string policy_json,
                                            pg_handler<std::vector<applied_event>> handler) {
    return std::make_unique<apply_events_op>(std::move(events), applied_counter, std::move(policy_json),
                                             std::move(handler));
}

}  // namespace pg_ops

}  // namespace jobsd::store
