// Unit tests of the lifecycle's pure parts (issue 16): the event rules every store applies
// (model::decide_event), the retry backoff, the contract-2 job message and control messages,
// the worker's memory of cancels, the exec handler stopping a job's process group, and the fair
// queue's order (priorities and accounts).
#define BOOST_TEST_MODULE lifecycle_unit
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "model/create_request.hpp"
#include "model/fair_order.hpp"
#include "model/lifecycle_policy.hpp"
#include "model/priority.hpp"
#include "queue/control_message.hpp"
#include "worker/cancel_memory.hpp"
#include "worker/exec_handler.hpp"
#include "worker/job_input.hpp"

using namespace jobsd;
using namespace std::chrono_literals;
using model::job_status;
using action = model::event_decision::action;

namespace {

model::lifecycle_policy policy() {
    model::lifecycle_policy p;
    auto& t = p.of(model::job_type::pdf);
    t.max_attempts = 3;
    t.retry_backoff = 1000ms;
    t.retry_backoff_max = 3000ms;
    return p;
}

model::job_state running(int attempt = 1) {
    model::job_state s;
    s.type = model::job_type::pdf;
    s.status = job_status::started;
    s.attempt = attempt;
    return s;
}

model::job_event event(job_status status, std::optional<int> attempt = std::nullopt) {
    model::job_event e;
    e.uuid = "u";
    e.status = status;
    e.attempt = attempt;
    return e;
}

struct no_progress final : worker::progress_reporter {
    void report(int) override {}
};

}  // namespace

BOOST_AUTO_TEST_CASE(events_of_another_attempt_are_ignored_and_contract_1_counts_as_current) {
    const auto p = policy();
    BOOST_TEST((model::decide_event(running(2), event(job_status::success, 1), p, 0).what == action::ignore));
    BOOST_TEST((model::decide_event(running(2), event(job_status::success, 3), p, 0).what == action::ignore));
    BOOST_TEST((model::decide_event(running(2), event(job_status::success, 2), p, 0).what == action::apply));
    BOOST_TEST((model::decide_event(running(2), event(job_status::success), p, 0).what == action::apply));
}

BOOST_AUTO_TEST_CASE(only_a_success_of_the_attempt_overrules_a_dead_letters_failure) {
    const auto p = policy();
    auto dead = running(2);
    dead.status = job_status::failed;
    dead.dead_lettered = true;
    BOOST_TEST((model::decide_event(dead, event(job_status::success, 2), p, 0).what == action::overrule));
    BOOST_TEST((model::decide_event(dead, event(job_status::success), p, 0).what == action::overrule));
    BOOST_TEST((model::decide_event(dead, event(job_status::success, 1), p, 0).what == action::ignore));
    for (auto st : {job_status::started, job_status::in_progress, job_status::failed, job_status::cancelled})
        BOOST_TEST((model::decide_event(dead, event(st, 2), p, 0).what == action::ignore),
                   model::to_string(st));
    auto failed_by_a_worker = dead;
    failed_by_a_worker.dead_lettered = false;
    BOOST_TEST((model::decide_event(failed_by_a_worker, event(job_status::success, 2), p, 0).what ==
                action::ignore));
}

BOOST_AUTO_TEST_CASE(only_a_success_of_the_attempt_overrules_an_expired) {
    const auto p = policy();
    auto expired = running(2);
    expired.status = job_status::expired;
    BOOST_TEST((model::decide_event(expired, event(job_status::success, 2), p, 0).what == action::overrule));
    BOOST_TEST((model::decide_event(expired, event(job_status::success), p, 0).what == action::overrule));
    BOOST_TEST((model::decide_event(expired, event(job_status::success, 1), p, 0).what == action::ignore));
    for (auto st : {job_status::started, job_status::in_progress, job_status::failed, job_status::cancelled})
        BOOST_TEST((model::decide_event(expired, event(st, 2), p, 0).what == action::ignore),
                   model::to_string(st));
    auto cancelled = expired;  // a cancel is the client's word: it stands
    cancelled.status = job_status::cancelled;
    BOOST_TEST((model::decide_event(cancelled, event(job_status::success, 2), p, 0).what == action::ignore));
}

BOOST_AUTO_TEST_CASE(status_moves_forward_and_progress_never_falls) {
    const auto p = policy();
    auto s = running();
    s.status = job_status::in_progress;
    s.progress = 50;
    auto back = event(job_status::in_progress);
    back.progress = 40;
    BOOST_TEST((model::decide_event(s, back, p, 0).what == action::ignore));
    back.progress = 60;
    BOOST_TEST((model::decide_event(s, back, p, 0).what == action::apply));
    // Within IN_PROGRESS only a higher value moves forward (issue 14's model::moves_forward): a
    // repeat of 50 % or a progress update without a value does not.
    back.progress = 50;
    BOOST_TEST((model::decide_event(s, back, p, 0).what == action::ignore));
    BOOST_TEST((model::decide_event(s, event(job_status::in_progress), p, 0).what == action::ignore));
    BOOST_TEST((model::decide_event(s, event(job_status::started), p, 0).what == action::ignore));
    for (auto terminal :
         {job_status::success, job_status::failed, job_status::cancelled, job_status::expired}) {
        s.status = terminal;
        // A SUCCESS after an EXPIRED overrules it (only_a_success_of_the_attempt_overrules_an_expired).
        if (terminal != job_status::expired)
            BOOST_TEST((model::decide_event(s, event(job_status::success), p, 0).what == action::ignore));
        BOOST_TEST((model::decide_event(s, event(job_status::cancelled), p, 0).what == action::ignore));
        BOOST_TEST((model::decide_event(s, event(job_status::failed), p, 0).what == action::ignore));
    }
}

BOOST_AUTO_TEST_CASE(retryable_failure_retries_with_backoff_until_the_limit) {
    const auto p = policy();
    auto failed = event(job_status::failed);
    failed.retryable = true;
    auto d = model::decide_event(running(1), failed, p, 10'000);
    BOOST_TEST((d.what == action::retry));
    BOOST_TEST(d.retry_at_ms == 11'000);
    d = model::decide_event(running(2), failed, p, 10'000);
    BOOST_TEST((d.what == action::retry));
    BOOST_TEST(d.retry_at_ms == 12'000);  // doubled
    // The third attempt is the last (max_attempts 3): FAILED.
    BOOST_TEST((model::decide_event(running(3), failed, p, 10'000).what == action::apply));
    // Not retryable: FAILED at once.
    BOOST_TEST((model::decide_event(running(1), event(job_status::failed), p, 10'000).what == action::apply));
    BOOST_TEST(p.backoff(model::job_type::pdf, 5).count() == 3000);  // capped
}

BOOST_AUTO_TEST_CASE(no_retry_after_a_cancel_or_past_the_deadline) {
    const auto p = policy();
    auto failed = event(job_status::failed);
    failed.retryable = true;
    auto s = running();
    s.cancel_requested = true;
    BOOST_TEST((model::decide_event(s, failed, p, 10'000).what == action::apply));
    s = running();
    s.expires_at_ms = 10'500;  // the retry would be due at 11 000
    BOOST_TEST((model::decide_event(s, failed, p, 10'000).what == action::apply));
    s.expires_at_ms = 20'000;
    BOOST_TEST((model::decide_event(s, failed, p, 10'000).what == action::retry));
}

BOOST_AUTO_TEST_CASE(running_reports_of_a_cancelled_job_resend_the_cancel) {
    const auto p = policy();
    auto s = running();
    s.cancel_requested = true;
    BOOST_TEST(model::decide_event(s, event(job_status::in_progress), p, 0).resend_cancel);
    BOOST_TEST(!model::decide_event(s, event(job_status::success), p, 0).resend_cancel);
    s = running();
    BOOST_TEST(!model::decide_event(s, event(job_status::in_progress), p, 0).resend_cancel);
    // Cancelled while queued, and a worker that missed it starts it anyway.
    s.status = job_status::cancelled;
    const auto d = model::decide_event(s, event(job_status::started), p, 0);
    BOOST_TEST(d.resend_cancel);
    BOOST_TEST((d.what == action::ignore));
}

BOOST_AUTO_TEST_CASE(control_messages_round_trip_and_unknown_kinds_are_refused) {
    queue::control_message m{"cancel", "0190f3c2-1111-7000-8000-000000000001", "pdf", 2, 1'700'000'000'000};
    BOOST_TEST(queue::control_routing_key(m) == "pdf.cancel");
    BOOST_TEST(queue::control_message_id(m) == "cancel:0190f3c2-1111-7000-8000-000000000001:2");
    const auto back = queue::parse_control_message(queue::control_body(m));
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->uuid == m.uuid);
    BOOST_TEST(back->attempt == 2);
    BOOST_TEST(back->job_type == "pdf");
    BOOST_TEST(!queue::parse_control_message(R"({"kind":"pause","uuid":"x","job_type":"pdf","attempt":1})"));
    BOOST_TEST(!queue::parse_control_message("not json"));
}

BOOST_AUTO_TEST_CASE(job_message_attempt_and_deadline_are_read) {
    const auto parsed = worker::parse_job_message(
        R"({"uuid":"u1","contract":2,"attempt":3,"expires_at":"2026-04-16T12:03:02.000Z","input":{}})",
        "pdf");
    BOOST_TEST_REQUIRE(parsed.job.has_value(), parsed.error);
    BOOST_TEST(parsed.job->contract == 2);
    BOOST_TEST(parsed.job->attempt == 3);
    BOOST_TEST_REQUIRE(parsed.job->expires_at_ms.has_value());
    const auto v1 = worker::parse_job_message(R"({"uuid":"u1"})", "pdf");
    BOOST_TEST_REQUIRE(v1.job.has_value());
    BOOST_TEST(v1.job->contract == 1);
    BOOST_TEST(v1.job->attempt == 1);
    BOOST_TEST(!v1.job->expires_at_ms);
    BOOST_TEST(!worker::parse_job_message(R"({"uuid":"u1","attempt":0})", "pdf").job);
    BOOST_TEST(!worker::parse_job_message(R"({"uuid":"u1","expires_at":"soon"})", "pdf").job);
}

BOOST_AUTO_TEST_CASE(cancel_memory_covers_earlier_attempts_and_is_bounded) {
    using clock = worker::cancel_memory::clock;
    worker::cancel_memory m(2, 10s);
    const auto t0 = clock::now();
    m.remember("a", 2, t0);
    BOOST_TEST(m.cancelled("a", 1, t0));
    BOOST_TEST(m.cancelled("a", 2, t0));
    BOOST_TEST(!m.cancelled("a", 3, t0));  // a later attempt (a retry) is not cancelled
    BOOST_TEST(!m.cancelled("b", 1, t0));
    m.remember("b", 1, t0);
    m.remember("c", 1, t0);  // past two entries: the oldest goes
    BOOST_TEST(!m.cancelled("a", 1, t0));
    BOOST_TEST(m.cancelled("c", 1, t0));
    BOOST_TEST(m.size() <= 2u);
    BOOST_TEST(!m.cancelled("c", 1, t0 + 11s));  // past its age
}

// A command that ignores SIGTERM: the stop token fires, and SIGKILL ends it after the grace.
BOOST_AUTO_TEST_CASE(exec_stop_terminates_then_kills_the_group) {
    worker::exec_options o;
    o.command = "trap '' TERM; sleep 30";
    o.kill_grace = 300ms;
    worker::exec_handler h(o, 60s);
    worker::job_input job;
    job.uuid = "u";
    job.body = "{}";
    no_progress progress;
    std::stop_source stop;
    std::thread canceller([&] {
        std::this_thread::sleep_for(300ms);
        stop.request_stop();
    });
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = h.run(job, progress, stop.get_token());
    const auto took = std::chrono::steady_clock::now() - start;
    canceller.join();
    BOOST_TEST(!outcome.ok);
    BOOST_TEST(outcome.error == "cancelled");
    BOOST_TEST(took >= 550ms);  // the stop came at 300 ms, then the whole grace
    BOOST_TEST(took < 20s);
}

BOOST_AUTO_TEST_CASE(exec_retryable_exit_code) {
    worker::exec_options o;
    o.command = "echo later >&2; exit 75";
    worker::exec_handler h(o, 60s);
    worker::job_input job;
    job.body = "{}";
    no_progress progress;
    auto outcome = h.run(job, progress, {});
    BOOST_TEST(!outcome.ok);
    BOOST_TEST(outcome.retryable);
    BOOST_TEST(outcome.error == "exit code 75: later");
    o.command = "exit 3";
    worker::exec_handler other(o, 60s);
    outcome = other.run(job, progress, {});
    BOOST_TEST(!outcome.retryable);
    o.retryable_exit_code = 0;
    o.command = "exit 75";
    worker::exec_handler off(o, 60s);
    BOOST_TEST(!off.run(job, progress, {}).retryable);
}

// ---- priority and the fair queue's order

BOOST_AUTO_TEST_CASE(priority_is_a_name_or_a_level_from_1_to_5) {
    namespace json = boost::json;
    BOOST_TEST(*model::parse_priority(json::value("high")) == 5);
    BOOST_TEST(*model::parse_priority(json::value("normal")) == 3);
    BOOST_TEST(*model::parse_priority(json::value("low")) == 1);
    BOOST_TEST(*model::parse_priority(json::value(4)) == 4);
    BOOST_TEST(*model::parse_priority(json::value(1.0)) == 1);
    for (const auto& bad : {json::value("urgent"), json::value(0), json::value(6), json::value(2.5),
                            json::value(true), json::value("HIGH")})
        BOOST_TEST(!model::parse_priority(bad).has_value(), json::serialize(bad));
    BOOST_TEST(model::priority_weight(5) == 4 * model::priority_weight(3));
    BOOST_TEST(model::priority_weight(3) == 4 * model::priority_weight(1));

    auto ok = model::parse_create_request(R"({"job_type":"pdf","template_id":"t","priority":"high"})");
    BOOST_TEST_REQUIRE(std::holds_alternative<model::create_request>(ok));
    BOOST_TEST(std::get<model::create_request>(ok).priority == 5);
    auto plain = model::parse_create_request(R"({"job_type":"pdf","template_id":"t"})");
    BOOST_TEST(std::get<model::create_request>(plain).priority == 3);
    auto no_ttl = model::parse_create_request(R"({"job_type":"pdf","template_id":"t","expires_in_s":null})");
    BOOST_TEST_REQUIRE(std::holds_alternative<model::create_request>(no_ttl));
    BOOST_TEST(!std::get<model::create_request>(no_ttl).expires_in_s.has_value());
    auto bad = model::parse_create_request(R"({"job_type":"pdf","template_id":"t","priority":"urgent"})");
    BOOST_TEST_REQUIRE(std::holds_alternative<model::request_error>(bad));
    const auto& errors = std::get<model::request_error>(bad).errors;
    BOOST_TEST_REQUIRE(errors.size() == 1u);
    BOOST_TEST(errors[0].field == "priority");
}

namespace {

// Tags handed out for `jobs` (account, priority) in order, then the jobs sorted as the store
// releases them (smallest tag first; a tie keeps arrival order, as seq does).
std::vector<std::size_t> release_order(model::fair_order& order,
                                       const std::vector<std::pair<std::string, int>>& jobs) {
    std::vector<std::pair<double, std::size_t>> tagged;
    for (std::size_t i = 0; i < jobs.size(); ++i)
        tagged.emplace_back(order.next_tag(jobs[i].first, jobs[i].second), i);
    std::stable_sort(tagged.begin(), tagged.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::size_t> out;
    for (const auto& t : tagged) out.push_back(t.second);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_flood_puts_another_accounts_job_behind_at_most_one_of_its_own) {
    model::fair_order order;
    std::vector<std::pair<std::string, int>> jobs(100'000, {"flood", 3});
    jobs.emplace_back("newcomer", 3);  // created after the whole flood
    const auto released = release_order(order, jobs);
    const auto at = std::find(released.begin(), released.end(), jobs.size() - 1) - released.begin();
    BOOST_TEST(at <= 1);

    // Later, half the flood gone (tags 0.25 apart): another newcomer is not behind the rest.
    order.released(50'000 * 0.25);
    BOOST_TEST(order.next_tag("other", 3) <= 50'000 * 0.25 + 0.25);  // the next flood job's tag
}

BOOST_AUTO_TEST_CASE(high_jobs_get_four_releases_to_a_normal_ones_one_and_nobody_starves) {
    model::fair_order order;
    std::vector<std::pair<std::string, int>> jobs;
    for (int i = 0; i < 400; ++i) jobs.emplace_back("a", 3);
    for (int i = 0; i < 400; ++i) jobs.emplace_back("a", 5);
    for (int i = 0; i < 400; ++i) jobs.emplace_back("a", 1);
    const auto released = release_order(order, jobs);
    int high = 0, normal = 0, low = 0;
    for (std::size_t i = 0; i < 210; ++i) {
        const int p = jobs[released[i]].second;
        (p == 5 ? high : p == 3 ? normal : low)++;
    }
    // Weights 16 : 4 : 1 over 210 releases: 160 high, 40 normal, 10 low.
    BOOST_TEST(high >= 155);
    BOOST_TEST(high <= 165);
    BOOST_TEST(normal >= 35);
    BOOST_TEST(low >= 5);
}

BOOST_AUTO_TEST_CASE(flows_the_virtual_time_passed_are_forgotten) {
    model::fair_order order;
    order.next_tag("a", 3);
    const double b = order.next_tag("b", 5);
    BOOST_TEST(order.flows() == 2u);
    order.released(b);  // b's only job (tag 1/16) left; a's (tag 1/4) waits
    order.prune();
    BOOST_TEST(order.flows() == 1u);
    order.released(1.0);
    order.prune();
    BOOST_TEST(order.flows() == 0u);
    BOOST_TEST(order.virtual_time() == 1.0);
    order.released(0.5);  // never back
    BOOST_TEST(order.virtual_time() == 1.0);
}
