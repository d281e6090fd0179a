// The SQLite writer applying workers' status events (store::apply_events). Each event is decided
// (model::decide_event) against its job's row as the batch has left it: the row is read once per
// job and kept in memory, and each job's change is written once, when the batch is through, so a
// job's STARTED, progress and SUCCESS arriving together cost one rewrite of its row, not three.
// Webhook deliveries are still recorded per event, one row each, to the account's enabled endpoints
// (read once per account and batch) and the job's own webhook (read with its row) that want it.
#include <spdlog/spdlog.h>
#include <boost/system/result.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/clock.hpp"
#include "model/job_status.hpp"
#include "model/job_type.hpp"
#include "model/lifecycle_policy.hpp"
#include "model/webhook_event.hpp"
#include "store/completion.hpp"
#include "store/sqlite_ops.hpp"
#include "store/sqlite_outbox_sql.hpp"
#include "store/sqlite_webhook_store.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

constexpr std::string_view job_state_sql =
    "SELECT job_status, account_id, session_id, job_type, attempt, progress, cancel_requested_ms, "
    "expires_at_ms, webhook_url, webhook_dest, webhook_events, substr(error, 1, 32), seq FROM jobs WHERE "
    "uuid = ?1";

// ?1: the row's seq (its rowid, read with its state: no second search of the uuid index).
// ?7: the error is cleared (a SUCCESS: a retried job's last error does not outlive its success).
constexpr std::string_view update_status_sql =
    "UPDATE jobs SET job_status = ?2, progress = coalesce(?3, progress), output = coalesce(?4, output),"
    " error = CASE WHEN ?7 THEN NULL ELSE coalesce(?5, error) END, updated_ms = max(updated_ms, ?6)"
    " WHERE seq = ?1";

bool is_dead_letter_error(std::string_view error) {
    return error.starts_with(model::dead_letter_error_prefix);
}

// A retryable failure: back to QUEUED as the next attempt, out of the outbox (sqlite_outbox::leave: a
// worker may fail a job before its publish is marked) until the lifecycle sweep finds its backoff
// over; the error is kept as the last one.
constexpr std::string_view schedule_retry_sql =
    "UPDATE jobs SET job_status = ?2, attempt = attempt + 1, retry_at_ms = ?3, progress = NULL,"
    " output = NULL, error = coalesce(?4, error), updated_ms = max(updated_ms, ?5) WHERE uuid = ?1";

// Asks again for a cancel the worker missed, unless one is still waiting to be sent.
constexpr std::string_view resend_cancel_sql =
    "INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms) SELECT ?1, ?2, 'cancel', ?3, ?4"
    " WHERE NOT EXISTS (SELECT 1 FROM job_controls WHERE uuid = ?1)";

// A job's row as the batch has left it so far.
struct held_job {
    std::int64_t seq = 0;  // the row's rowid
    model::job_state job;
    std::string account_id;
    std::string session_id;
    std::optional<sqlite_ops::webhook_target> own_hook;  // the job's own webhook, if it names one
    // Its change not written yet: the batch's events of the job folded as update_status_sql
    // would have left the row after each in turn (the last status, the last progress, output and
    // error given, the latest time).
    bool changed = false;
    std::optional<int> progress;
    std::optional<std::string> output;
    std::optional<std::string> error;
    bool clear_error = false;  // the row's error goes (error stays empty)
    std::int64_t at_ms = 0;

    void fold(const model::job_event& e) {
        changed = true;
        job.status = e.status;
        if (e.progress) job.progress = progress = e.progress;
        if (e.output) output = e.output;
        if (e.error) error = e.error;
        if (e.status == model::job_status::success) {  // the attempt ended well: no error stands
            error.reset();
            clear_error = true;
        }
        job.dead_lettered =
            e.status == model::job_status::failed && e.error && is_dead_letter_error(*e.error);
        at_ms = std::max(at_ms, e.at_ms);
    }
    // A worker's SUCCESS in place of a dead letter's FAILED or an EXPIRED (model::decide_event's
    // overrule): folded as any SUCCESS, which clears the error.
    void overrule(const model::job_event& e) { fold(e); }
};

// Runs a statement that returns no rows; logs a failure ("{what} job {uuid}": no text is built
// when it succeeds, once per job of every batch).
bool done(sqlite_writer_ctx& w, sqlite_statement& st, std::string_view what, std::string_view uuid) {
    if (st.run() == SQLITE_DONE) return true;
    spdlog::error("store: {} job {} failed: {}", what, uuid, w.db->error_message());
    return false;
}

struct apply_events_op final : sqlite_write_op {
    apply_events_op(std::vector<model::job_event> e, std::atomic<std::uint64_t>& counter,
                    sqlite_webhook_store* hooks, sqlite_handler<std::vector<applied_event>> h)
        : events(std::move(e)), applied_counter(counter), webhooks(hooks), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        applied.clear();
        fresh.clear();
        held.clear();
        account_hooks.clear();
        for (auto& e : events)
            if (auto ec = apply(w, e)) return ec;
        // No reader sees the order of a transaction's writes; in the rows' order the jobs that
        // share a page are written one after the other.
        changed.clear();
        for (auto& entry : held)
            if (entry.second.changed) changed.push_back(&entry);
        std::sort(changed.begin(), changed.end(),
                  [](const auto* a, const auto* b) { return a->second.seq < b->second.seq; });
        for (auto* c : changed)
            if (!write_change(w, c->first, c->second)) return store_errc::io;
        return {};
    }
    void finish(error_code ec) override {
        if (!ec) {
            applied_counter.fetch_add(applied.size(), std::memory_order_relaxed);
            // Committed: the dispatcher may take them (before the waiter wakes it up).
            if (webhooks && !fresh.empty()) webhooks->handed_over(std::move(fresh));
        } else {
            applied.clear();
        }
        complete(std::move(handler), ec, std::move(applied));
    }

    // A late, duplicate, foreign-attempt or unknown-job event is skipped, harmlessly.
    error_code apply(sqlite_writer_ctx& w, const model::job_event& e) {
        auto found = held.find(e.uuid);
        if (found == held.end()) {
            auto row = read(w, e.uuid);
            if (!row) return row.error();
            if (!*row) return {};
            found = held.emplace(e.uuid, std::move(**row)).first;
        }
        held_job& h = found->second;
        applied_event a{e, h.account_id, h.session_id, h.job.type};

        const auto now = model::now_ms();
        const auto d = model::decide_event(h.job, e, w.policy, now);
        if (d.resend_cancel && !resend_cancel(w, e.uuid, h.job, now)) return store_errc::io;
        if (d.what == model::event_decision::action::ignore) return {};
        if (d.what == model::event_decision::action::retry) {
            // The row is written as it stands, then retried; a later event of it reads it again.
            if (!write_change(w, e.uuid, h) || !schedule_retry(w, e, h.job, d, a)) return store_errc::io;
            held.erase(found);
            // A retry's QUEUED names no webhook event: nothing is recorded for it.
            applied.push_back(std::move(a));
            return {};
        }
        if (d.what == model::event_decision::action::overrule) {
            spdlog::warn(
                "store: job {} attempt {} SUCCESS after it was marked {}: SUCCESS stands (a worker "
                "finished it; its ack was lost, and the broker gave it up or its time ran out)",
                e.uuid, h.job.attempt,
                h.job.status == model::job_status::expired ? "EXPIRED" : "FAILED as dead-lettered");
            h.overrule(e);
        } else {
            h.fold(e);
        }
        if (model::webhook_event_for(a.event.status)) {
            const auto endpoints = account_webhooks(w, a.account_id);
            if (!endpoints) return endpoints.error();
            if (auto ec = sqlite_ops::record_webhook_deliveries(w, e.uuid, a.account_id, a.event.status,
                                                                e.at_ms, **endpoints,
                                                                h.own_hook ? &*h.own_hook : nullptr, fresh))
                return ec;
        }
        applied.push_back(std::move(a));
        return {};
    }

    // The job's row; nullopt for an unknown job (logged), an error when the read failed.
    static boost::system::result<std::optional<held_job>> read(sqlite_writer_ctx& w,
                                                               const std::string& uuid) {
        auto& st = w.db->cached(job_state_sql);
        st.bind(1, std::string_view(uuid));
        const int rc = st.step();
        if (rc != SQLITE_ROW) {
            st.reset();
            if (rc == SQLITE_DONE) {
                spdlog::warn("store: status event for unknown job {} ignored", uuid);
                return std::optional<held_job>();
            }
            spdlog::error("store: reading job {} failed: {}", uuid, w.db->error_message());
            return error_code(store_errc::io);
        }
        held_job h;
        h.seq = st.column_int(12);
        h.job.status = model::parse_job_status(st.column_text(0)).value_or(model::job_status::queued);
        h.account_id = std::string(st.column_text(1));
        h.session_id = std::string(st.column_text(2));
        h.job.type = model::parse_job_type(st.column_text(3)).value_or(model::job_type::video);
        h.job.attempt = static_cast<int>(st.column_int(4));
        if (auto p = st.column_optional_int(5)) h.job.progress = static_cast<int>(*p);
        h.job.cancel_requested = st.column_optional_int(6).has_value();
        h.job.expires_at_ms = st.column_optional_int(7);
        h.job.dead_lettered =
            h.job.status == model::job_status::failed && is_dead_letter_error(st.column_text(11));
        if (auto url = st.column_optional_text(8))
            h.own_hook = sqlite_ops::webhook_target{
                {}, std::move(*url), std::string(st.column_text(9)), st.column_int(10)};
        st.reset();
        return std::optional<held_job>(std::move(h));
    }

    // The account's enabled endpoints, read once per account and batch: nothing else writes
    // them inside the batch's transaction. An error when they could not be read: the event is
    // not applied (and comes again), as a delivery it wants must not be skipped.
    boost::system::result<const std::vector<sqlite_ops::webhook_target>*> account_webhooks(
        sqlite_writer_ctx& w, const std::string& account) {
        auto known = account_hooks.find(account);
        if (known == account_hooks.end()) {
            std::vector<sqlite_ops::webhook_target> endpoints;
            if (auto ec = sqlite_ops::read_account_webhooks(w, account, endpoints))
                return {boost::system::in_place_error, ec};
            known = account_hooks.emplace(account, std::move(endpoints)).first;
        }
        return &known->second;
    }

    static bool write_change(sqlite_writer_ctx& w, const std::string& uuid, held_job& h) {
        if (!h.changed) return true;
        auto& up = w.db->cached(update_status_sql);
        up.bind(1, h.seq);
        up.bind(2, model::to_string(h.job.status));
        up.bind(3, h.progress ? std::optional<std::int64_t>(*h.progress) : std::nullopt);
        up.bind(4, h.output);
        up.bind(5, h.error);
        up.bind(6, h.at_ms);
        up.bind(7, static_cast<std::int64_t>(h.clear_error));
        const bool ok = done(w, up, "updating", uuid);  // the bound texts are h's: step first
        h.changed = false;
        h.clear_error = false;
        h.progress.reset();
        h.output.reset();
        h.error.reset();
        return ok;
    }

    // The applied event becomes the QUEUED event of the next attempt, with the error.
    static bool schedule_retry(sqlite_writer_ctx& w, const model::job_event& e, const model::job_state& job,
                               const model::event_decision& d, applied_event& a) {
        auto& up = w.db->cached(schedule_retry_sql);
        up.bind(1, std::string_view(e.uuid));
        up.bind(2, model::to_string(model::job_status::queued));
        up.bind(3, d.retry_at_ms);
        up.bind(4, e.error);
        up.bind(5, e.at_ms);
        if (!done(w, up, "scheduling a retry of", e.uuid)) return false;
        auto& leave = w.db->cached(sqlite_outbox::leave);
        leave.bind(1, std::string_view(e.uuid));
        if (!done(w, leave, "taking out of the outbox for its backoff", e.uuid)) return false;
        a.event.status = model::job_status::queued;
        a.event.attempt = job.attempt + 1;
        a.event.progress.reset();
        a.event.output.reset();
        return true;
    }

    static bool resend_cancel(sqlite_writer_ctx& w, const std::string& uuid, const model::job_state& job,
                              std::int64_t now) {
        auto& ins = w.db->cached(resend_cancel_sql);
        ins.bind(1, std::string_view(uuid));
        ins.bind(2, model::to_string(job.type));
        ins.bind(3, static_cast<std::int64_t>(job.attempt));
        ins.bind(4, now);
        return done(w, ins, "asking again to cancel", uuid);
    }

    std::vector<model::job_event> events;
    std::vector<applied_event> applied;
    std::vector<board_entry> fresh;  // the deliveries recorded, for the hand-over
    std::unordered_map<std::string, held_job> held;
    // The held jobs with a change to write, in their rows' order.
    std::vector<std::unordered_map<std::string, held_job>::value_type*> changed;
    std::unordered_map<std::string, std::vector<sqlite_ops::webhook_target>> account_hooks;  // by account
    std::atomic<std::uint64_t>& applied_counter;
    sqlite_webhook_store* webhooks;
    sqlite_handler<std::vector<applied_event>> handler;
};

}  // namespace

namespace sqlite_ops {

std::unique_ptr<sqlite_write_op> make_apply_events_op(std::vector<model::job_event> events,
                                                      std::atomic<std::uint64_t>& applied_counter,
                                                      sqlite_webhook_store* webhooks,
                                                      sqlite_handler<std::vector<applied_event>> handler) {
    return std::make_unique<apply_events_op>(std::move(events), applied_counter, webhooks,
                                             std::move(handler));
}

}  // namespace sqlite_ops

}  // namespace jobsd::store
