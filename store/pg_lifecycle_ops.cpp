// The PostgreSQL adapter's lifecycle operations (issue 16): cancel and retry decide on the locked
// row in PL/pgSQL (pg_schema.cpp) and read the row back in the same transaction; the sweep, the
// control outbox and the stuck-job view are plain statements. A job a cancel or the sweep ends
// has its webhook deliveries written by the same statement (pg_statements.cpp). pg_store's
// lifecycle methods, which submit them, are at the end.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>

#include "model/trace_context.hpp"
#include "model/webhook_event.hpp"
#include "store/completion.hpp"
#include "store/pg_binary_array.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_ops.hpp"
#include "store/pg_store.hpp"

namespace jobsd::store {

namespace {

using param = pg_param;

// The webhook event a job entering `status` causes, as the statements' two parameters.
std::array<param, 2> webhook_params(model::job_status status) {
    const auto* hook = model::webhook_event_for(status);
    return {std::string(hook ? hook->name : ""), pg_number(static_cast<std::int64_t>(hook ? hook->bit : 0))};
}

std::optional<job_record> first_job(const pg_reply& r) {
    if (r.rows() == 0) return std::nullopt;
    return read_pg_job(r, 0, 0);
}

struct cancel_job_op final : pg_op {
    cancel_job_op(std::string a, std::string u, std::int64_t t, pg_handler<cancel_outcome> h)
        : account_id(std::move(a)), uuid(std::move(u)), now(t), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const auto [event, bit] = webhook_params(model::job_status::cancelled);
        out.push_back({"cancel_job", {account_id, uuid, pg_number(now), event, bit}});
        out.push_back({"find_job", {uuid, account_id}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        cancel_outcome outcome;
        if (!ec && results.size() == 2 && results[0].rows() > 0) {
            std::string_view what = results[0].text(0, 0);
            using kind = cancel_outcome::kind;
            // "cancelled" or "cancel_requested" just now, "already_…" for a repeat, or "finished".
            outcome.changed = !what.starts_with("already_");
            if (!outcome.changed) what.remove_prefix(8);
            outcome.what = what == "cancelled"          ? kind::cancelled
                           : what == "cancel_requested" ? kind::cancel_requested
                                                        : kind::finished;
            outcome.job = first_job(results[1]);
        }
        complete(std::move(handler), ec, std::move(outcome));
    }
    bool is_write() const override { return true; }
    void rows_to_lock(std::vector<std::string>& out) const override { out.push_back(uuid); }

    std::string account_id, uuid;
    std::int64_t now;
    pg_handler<cancel_outcome> handler;
};

struct retry_job_op final : pg_op {
    retry_job_op(std::string a, std::string u, std::optional<std::int64_t> ttl, std::int64_t t,
                 std::string me, std::chrono::milliseconds lease, pg_handler<retry_outcome> h)
        : account_id(std::move(a)),
          uuid(std::move(u)),
          expires_in(ttl),
          now(t),
          instance(std::move(me)),
          claim_lease(lease),
          handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back(
            {"retry_job",
             {account_id, uuid, expires_in ? param(pg_number(*expires_in)) : std::nullopt, pg_number(now),
              instance, pg_number(static_cast<std::int64_t>(claim_lease.count()))}});
        out.push_back({"find_job", {uuid, account_id}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        retry_outcome outcome;
        if (!ec && results.size() == 2 && results[0].rows() > 0) {
            outcome.what = results[0].text(0, 0) == "retried" ? retry_outcome::kind::retried
                                                              : retry_outcome::kind::not_retryable;
            outcome.job = first_job(results[1]);
        }
        complete(std::move(handler), ec, std::move(outcome));
    }
    bool is_write() const override { return true; }
    void rows_to_lock(std::vector<std::string>& out) const override { out.push_back(uuid); }

    std::string account_id, uuid;
    std::optional<std::int64_t> expires_in;
    std::int64_t now;
    std::string instance;
    std::chrono::milliseconds claim_lease;
    pg_handler<retry_outcome> handler;
};

struct sweep_op final : pg_op {
    sweep_op(sweep_request r, std::string me, std::chrono::milliseconds lease, pg_handler<lifecycle_sweep> h)
        : request(std::move(r)), instance(std::move(me)), claim_lease(lease), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        const auto now = pg_number(request.now_ms);
        const auto n = pg_number(static_cast<std::int64_t>(request.limit));
        const auto [event, bit] = webhook_params(model::job_status::expired);
        // As SQLite's writer: the expiries first, so that a retry released below is never one
        // this transaction expires as well (later statements see, and hold, the rows before them).
        out.push_back({"expire_due", {now, n, event, bit}});
        if (!request.unconsumed.empty()) {
            pg_binary_array types(pg_element::text);
            for (const auto t : request.unconsumed) types.add_text(model::to_string(t));
            out.push_back({"expire_unconsumed",
                           {now, n, event, bit, pg_number(request.unconsumed_deadline_ms), types.take()}});
        }
        out.push_back({"release_retries",
                       {now, instance, pg_number(static_cast<std::int64_t>(claim_lease.count())), n}});
        if (request.probe_deadline_ms)
            out.push_back({"probe_overdue", {pg_number(*request.probe_deadline_ms)}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        lifecycle_sweep sweep;
        const std::size_t want = 2 + !request.unconsumed.empty() + request.probe_deadline_ms.has_value();
        if (!ec && results.size() == want) {
            std::size_t next = 0;
            read_expired(results[next++], sweep.expired);
            if (!request.unconsumed.empty()) read_expired(results[next++], sweep.expired_unconsumed);
            const auto& due = results[next++];
            for (int i = 0; i < due.rows(); ++i) sweep.due.push_back(read_pg_job(due, i, 0));
            if (request.probe_deadline_ms)
                sweep.overdue = results[next].rows() == 1 && results[next].text(0, 0) == "t";
        }
        found = !sweep.expired.empty() || !sweep.expired_unconsumed.empty() || !sweep.due.empty();
        complete(std::move(handler), ec, std::move(sweep));
    }
    void read_expired(const pg_reply& expired, std::vector<applied_event>& into) const {
        for (int i = 0; i < expired.rows(); ++i) {
            model::job_event e;
            e.uuid = expired.text(i, 0);
            e.status = model::job_status::expired;
            e.attempt = static_cast<int>(expired.int64(i, 4));
            e.trace_id = model::trace_id_of(expired.optional_text(i, 5).value_or(""));
            e.at_ms = request.now_ms;
            into.push_back({std::move(e), std::string(expired.text(i, 1)), std::string(expired.text(i, 2)),
                            model::parse_job_type(expired.text(i, 3)).value_or(model::job_type::video)});
        }
    }
    bool is_write() const override { return true; }
    bool wrote() const override { return found; }
    bool found = false;  // set by finish()

    sweep_request request;
    std::string instance;
    std::chrono::milliseconds claim_lease;
    pg_handler<lifecycle_sweep> handler;
};

struct release_held_op final : pg_op {
    release_held_op(model::job_type t, std::size_t n, std::string me, std::chrono::milliseconds lease,
                    pg_handler<std::vector<job_record>> h)
        : type(t), limit(n), instance(std::move(me)), claim_lease(lease), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({"release_held",
                       {std::string(model::to_string(type)), pg_number(static_cast<std::int64_t>(limit)),
                        instance, pg_number(static_cast<std::int64_t>(claim_lease.count()))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<job_record> released;
        if (!ec && results.size() == 1) {
            const auto& r = results[0];
            // The column after the job's: one more than the commas in pg_job_columns.
            constexpr int tag =
                static_cast<int>(std::count(pg_job_columns.begin(), pg_job_columns.end(), ',')) + 1;
            for (int i = 0; i < r.rows(); ++i) {
                released.push_back(read_pg_job(r, i, 0));
                released.back().fair_key = r.optional_double(i, tag);
            }
            std::sort(released.begin(), released.end(),
                      [](const job_record& a, const job_record& b) { return a.fair_key < b.fair_key; });
        }
        found = !released.empty();
        complete(std::move(handler), ec, std::move(released));
    }
    bool is_write() const override { return true; }
    bool wrote() const override { return found; }
    bool found = false;  // set by finish()

    model::job_type type;
    std::size_t limit;
    std::string instance;
    std::chrono::milliseconds claim_lease;
    pg_handler<std::vector<job_record>> handler;
};

struct remove_controls_op final : pg_op {
    remove_controls_op(std::vector<std::int64_t> s, pg_handler<> h)
        : seqs(std::move(s)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        pg_binary_array items(pg_element::int8);
        for (auto s : seqs) items.add_int(s);
        out.push_back({"remove_controls", {items.take()}});
    }
    void finish(error_code ec, std::span<const pg_reply>) override { complete(std::move(handler), ec); }
    bool is_write() const override { return true; }

    std::vector<std::int64_t> seqs;
    pg_handler<> handler;
};

struct list_controls_op final : pg_op {
    list_controls_op(std::size_t n, pg_handler<std::vector<control_entry>> h)
        : limit(n), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({"list_controls", {pg_number(static_cast<std::int64_t>(limit))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<control_entry> out;
        if (!ec && !results.empty()) {
            const auto& r = results[0];
            for (int i = 0; i < r.rows(); ++i) {
                auto type = model::parse_job_type(r.text(i, 2));
                if (!type) continue;  // a type this build does not know: left for one that does
                out.push_back({r.int64(i, 0), std::string(r.text(i, 1)), *type, std::string(r.text(i, 3)),
                               static_cast<int>(r.int64(i, 4)), r.int64(i, 5)});
            }
        }
        complete(std::move(handler), ec, std::move(out));
    }
    bool is_write() const override { return false; }

    std::size_t limit;
    pg_handler<std::vector<control_entry>> handler;
};

// Reads the running jobs older than the loosest cutoff (index jobs_running), then applies each
// type's own.
struct stuck_jobs_op final : pg_op {
    stuck_jobs_op(std::array<std::int64_t, model::all_job_types.size()> c, std::size_t n,
                  pg_handler<std::vector<job_record>> h)
        : cutoffs(c), limit(n), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({"stuck_jobs", {pg_number(*std::max_element(cutoffs.begin(), cutoffs.end()))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<job_record> out;
        if (!ec && !results.empty())
            for (int i = 0; i < results[0].rows() && out.size() < limit; ++i) {
                auto job = read_pg_job(results[0], i, 0);
                if (job.updated_ms < cutoffs[static_cast<std::size_t>(job.type)])
                    out.push_back(std::move(job));
            }
        complete(std::move(handler), ec, std::move(out));
    }
    bool is_write() const override { return false; }

    std::array<std::int64_t, model::all_job_types.size()> cutoffs;
    std::size_t limit;
    pg_handler<std::vector<job_record>> handler;
};

}  // namespace

std::string pg_policy_json(const model::lifecycle_policy& policy) {
    boost::json::object out;
    for (auto t : model::all_job_types) {
        const auto& p = policy.of(t);
        out[model::to_string(t)] = boost::json::object{{"max_attempts", p.max_attempts},
                                                       {"backoff_ms", p.retry_backoff.count()},
                                                       {"backoff_max_ms", p.retry_backoff_max.count()}};
    }
    return boost::json::serialize(out);
}

namespace pg_ops {

std::unique_ptr<pg_op> make_cancel_job_op(std::string account_id, std::string uuid, std::int64_t now_ms,
                                          pg_handler<cancel_outcome> handler) {
    return std::make_unique<cancel_job_op>(std::move(account_id), std::move(uuid), now_ms,
                                           std::move(handler));
}

std::unique_ptr<pg_op> make_retry_job_op(std::string account_id, std::string uuid,
                                         std::optional<std::int64_t> expires_in_ms, std::int64_t now_ms,
                                         std::string instance, std::chrono::milliseconds claim_lease,
                                         pg_handler<retry_outcome> handler) {
    return std::make_unique<retry_job_op>(std::move(account_id), std::move(uuid), expires_in_ms, now_ms,
                                          std::move(instance), claim_lease, std::move(handler));
}

std::unique_ptr<pg_op> make_sweep_op(sweep_request request, std::string instance,
                                     std::chrono::milliseconds claim_lease,
                                     pg_handler<lifecycle_sweep> handler) {
    return std::make_unique<sweep_op>(std::move(request), std::move(instance), claim_lease,
                                      std::move(handler));
}

std::unique_ptr<pg_op> make_release_held_op(model::job_type type, std::size_t limit, std::string instance,
                                            std::chrono::milliseconds claim_lease,
                                            pg_handler<std::vector<job_record>> handler) {
    return std::make_unique<release_held_op>(type, limit, std::move(instance), claim_lease,
                                             std::move(handler));
}

std::unique_ptr<pg_op> make_remove_controls_op(std::vector<std::int64_t> seqs, pg_handler<> handler) {
    return std::make_unique<remove_controls_op>(std::move(seqs), std::move(handler));
}

std::unique_ptr<pg_op> make_list_controls_op(std::size_t limit,
                                             pg_handler<std::vector<control_entry>> handler) {
    return std::make_unique<list_controls_op>(limit, std::move(handler));
}

std::unique_ptr<pg_op> make_stuck_jobs_op(std::array<std::int64_t, model::all_job_types.size()> cutoffs,
                                          std::size_t limit, pg_handler<std::vector<job_record>> handler) {
    return std::make_unique<stuck_jobs_op>(cutoffs, limit, std::move(handler));
}

}  // namespace pg_ops

namespace asio = boost::asio;

void pg_store::cancel_job(std::string account_id, std::string uuid, std::int64_t now_ms,
                          asio::any_completion_handler<void(error_code, cancel_outcome)> handler) {
    submit(pg_ops::make_cancel_job_op(std::move(account_id), std::move(uuid), now_ms, std::move(handler)));
}

void pg_store::retry_job(std::string account_id, std::string uuid, std::optional<std::int64_t> expires_in_ms,
                         std::int64_t now_ms,
                         asio::any_completion_handler<void(error_code, retry_outcome)> handler) {
    submit(pg_ops::make_retry_job_op(std::move(account_id), std::move(uuid), expires_in_ms, now_ms,
                                     options_.instance_id, options_.claim_lease, std::move(handler)));
}

void pg_store::sweep_lifecycle(sweep_request request,
                               asio::any_completion_handler<void(error_code, lifecycle_sweep)> handler) {
    submit(pg_ops::make_sweep_op(std::move(request), options_.instance_id, options_.claim_lease,
                                 std::move(handler)));
}

void pg_store::release_held(model::job_type type, std::size_t limit,
                            asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(pg_ops::make_release_held_op(type, limit, options_.instance_id, options_.claim_lease,
                                        std::move(handler)));
}

void pg_store::list_control_messages(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<control_entry>)> handler) {
    submit(pg_ops::make_list_controls_op(limit, std::move(handler)));
}

void pg_store::remove_control_messages(std::vector<std::int64_t> seqs,
                                       asio::any_completion_handler<void(error_code)> handler) {
    submit(pg_ops::make_remove_controls_op(std::move(seqs), std::move(handler)));
}

void pg_store::list_stuck_jobs(
    std::array<std::int64_t, model::all_job_types.size()> updated_before_ms, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(pg_ops::make_stuck_jobs_op(updated_before_ms, limit, std::move(handler)));
}

}  // namespace jobsd::store
