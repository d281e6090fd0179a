// Unit tests of worker/ without a broker: flags and environment, the job message and status
// event contract, exec output parsing, and the simulate and exec handlers run directly.
#define BOOST_TEST_MODULE worker
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "model/job_event.hpp"
#include "tests/support/wait.hpp"
#include "worker/ack_plan.hpp"
#include "worker/exec_handler.hpp"
#include "worker/exec_output.hpp"
#include "worker/handlers.hpp"
#include "worker/job_input.hpp"
#include "worker/job_pool.hpp"
#include "worker/report_mailbox.hpp"
#include "worker/simulate_handler.hpp"
#include "worker/status_event.hpp"
#include "worker/worker_options.hpp"

using namespace jobsd;
using namespace jobsd::worker;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

parse_result parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    return parse_worker_options(args, [env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}

struct recording_progress final : progress_reporter {
    void report(int p) override {
        std::lock_guard lock(mu);
        values.push_back(p);
    }
    std::mutex mu;
    std::vector<int> values;
};

job_input job(std::string uuid = "0190f2a4-0000-7000-8000-000000000001") {
    auto p =
        parse_job_message(R"({"uuid":")" + uuid + R"(","job_type":"video","input":{"title":"x"}})", "video");
    BOOST_REQUIRE(p.job);
    return *p.job;
}

exec_handler exec(std::string command, std::chrono::milliseconds timeout = 10s) {
    exec_options o;
    o.command = std::move(command);
    return exec_handler(o, timeout);
}

bool process_group_alive(pid_t pgid) {
    // kill(-pgid, 0) still succeeds for zombies awaiting a slow init: look at /proc instead.
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
        if (pgrp == pgid && state != 'Z') return true;
    }
    return false;
}

}  // namespace

// ---- options ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(defaults_come_from_amqp_options) {
    auto r = parse({"--type", "video"});
    BOOST_REQUIRE(r.options);
    const auto& o = *r.options;
    BOOST_TEST(o.job_type == "video");
    BOOST_TEST(o.concurrency == 4u);
    BOOST_TEST(o.amqp.urls == std::vector<std::string>{"amqp://guest:guest@127.0.0.1:5673/"});
    BOOST_TEST(o.amqp.queue_prefix == "jobs.");
    BOOST_TEST(o.amqp.events_exchange == "jobs.events");
    BOOST_TEST(o.amqp.delivery_limit == 5u);
    BOOST_TEST(o.handler == "simulate");
    BOOST_TEST(o.simulate.duration.count() == 1000);
    BOOST_TEST(o.simulate.steps == 4u);
    BOOST_TEST(o.simulate.failure_rate == 0.0);
    BOOST_TEST(o.timeout.count() == 60000);
}

BOOST_AUTO_TEST_CASE(flags_in_both_spellings) {
    auto r = parse({"--type=tts", "--concurrency", "8", "--queue-prefix=q.", "--failure-rate", "0.25",
                    "--steps=0", "--duration-ms", "5", "--timeout-ms", "70", "--delivery-limit", "3",
                    "--queue-type", "classic"});
    BOOST_REQUIRE(r.options);
    BOOST_TEST(r.options->job_type == "tts");
    BOOST_TEST(r.options->concurrency == 8u);
    BOOST_TEST(r.options->amqp.queue_prefix == "q.");
    BOOST_TEST(r.options->simulate.failure_rate == 0.25);
    BOOST_TEST(r.options->simulate.steps == 0u);
    BOOST_TEST(r.options->simulate.duration.count() == 5);
    BOOST_TEST(r.options->timeout.count() == 70);
    BOOST_TEST(r.options->amqp.delivery_limit == 3u);
    BOOST_TEST(r.options->amqp.queue_type == "classic");
}

BOOST_AUTO_TEST_CASE(prefetch_is_the_concurrency_unless_given) {
    auto dflt = parse({"--type", "video", "--concurrency", "8"});
    BOOST_REQUIRE(dflt.options);
    BOOST_TEST(dflt.options->prefetch == 0u);
    BOOST_TEST(dflt.options->effective_prefetch() == 8u);
    auto flag = parse({"--type", "video", "--concurrency", "8", "--prefetch", "24"});
    BOOST_REQUIRE(flag.options);
    BOOST_TEST(flag.options->effective_prefetch() == 24u);
    auto env = parse({"--type", "video"}, {{"JOBS_WORKER_PREFETCH", "65535"}});
    BOOST_REQUIRE(env.options);
    BOOST_TEST(env.options->effective_prefetch() == 65535u);
    auto bad = parse({"--type", "video", "--prefetch", "65536"});
    BOOST_TEST(bad.error.find("--prefetch") != std::string::npos, bad.error);
}

BOOST_AUTO_TEST_CASE(urls_repeat_and_split_on_commas) {
    auto r = parse({"--type", "pdf", "--url", "amqp://a/, amqp://b/", "--url", "amqp://c/"});
    BOOST_REQUIRE(r.options);
    BOOST_TEST(r.options->amqp.urls == (std::vector<std::string>{"amqp://a/", "amqp://b/", "amqp://c/"}));
}

BOOST_AUTO_TEST_CASE(url_order_is_spread_unless_asked_in_order) {
    BOOST_TEST((parse({"--type", "pdf"}).options->amqp.url_order == queue::amqp_url_order::spread));
    auto flag = parse({"--type", "pdf", "--url-order", "in_order"});
    BOOST_REQUIRE(flag.options);
    BOOST_TEST((flag.options->amqp.url_order == queue::amqp_url_order::in_order));
    auto env = parse({"--type", "pdf"}, {{"JOBS_WORKER_URL_ORDER", "in_order"}});
    BOOST_REQUIRE(env.options);
    BOOST_TEST((env.options->amqp.url_order == queue::amqp_url_order::in_order));
    auto bad = parse({"--type", "pdf", "--url-order", "random"});
    BOOST_TEST(bad.error.find("--url-order expects spread or in_order") != std::string::npos, bad.error);
}

BOOST_AUTO_TEST_CASE(environment_sets_every_flag_and_flags_win) {
    auto r =
        parse({"--concurrency", "2", "--url", "amqp://flag/"}, {{"JOBS_WORKER_TYPE", "image"},
                                                                {"JOBS_WORKER_CONCURRENCY", "9"},
                                                                {"JOBS_WORKER_URL", "amqp://e1/,amqp://e2/"},
                                                                {"JOBS_WORKER_DEAD_QUEUE_PREFIX", "dq."},
                                                                {"JOBS_WORKER_HANDLER", "exec"},
                                                                {"JOBS_WORKER_COMMAND", "true"}});
    BOOST_REQUIRE(r.options);
    BOOST_TEST(r.options->job_type == "image");
    BOOST_TEST(r.options->concurrency == 2u);
    BOOST_TEST(r.options->amqp.urls == std::vector<std::string>{"amqp://flag/"});
    BOOST_TEST(r.options->amqp.dead_queue_prefix == "dq.");
    BOOST_TEST(r.options->handler == "exec");
    BOOST_TEST(r.options->exec.command == "true");

    auto env_only = parse({}, {{"JOBS_WORKER_TYPE", "image"}, {"JOBS_WORKER_URL", "amqp://e1/,amqp://e2/"}});
    BOOST_REQUIRE(env_only.options);
    BOOST_TEST(env_only.options->amqp.urls == (std::vector<std::string>{"amqp://e1/", "amqp://e2/"}));
}

BOOST_AUTO_TEST_CASE(bad_flags_say_what_is_wrong) {
    auto check = [](std::vector<std::string> args, std::string_view expected) {
        auto r = parse(std::move(args));
        BOOST_TEST(!r.options);
        BOOST_TEST(!r.help);
        BOOST_TEST(r.error.find(expected) != std::string::npos, r.error << " should mention " << expected);
    };
    check({}, "--type is required");
    check({"--type", "movie"}, "expects one of");
    check({"--type", "video", "--concurrency", "0"}, "--concurrency");
    check({"--type", "video", "--concurrency", "x"}, "whole number");
    check({"--type", "video", "--failure-rate", "1.5"}, "0 to 1");
    check({"--type", "video", "--handler", "magic"}, "simulate or exec");
    check({"--type", "video", "--handler", "exec"}, "--command");
    check({"--type", "video", "--bogus", "1"}, "unknown flag --bogus");
    check({"--type", "video", "--steps"}, "needs a value");
    check({"--type", "video", "stray"}, "unexpected argument");
    check({"--type", "video", "--url", "http://x/"}, "amqp://");
    auto env = parse({"--type", "video"}, {{"JOBS_WORKER_TIMEOUT_MS", "0"}});
    BOOST_TEST(env.error.find("JOBS_WORKER_TIMEOUT_MS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(help_is_recognised_and_lists_every_flag) {
    BOOST_TEST(parse({"--help"}).help);
    BOOST_TEST(parse({"--type", "video", "-h"}).help);
    const auto text = usage_text();
    for (auto f :
         {"--type", "--concurrency", "--prefetch", "--url", "--exchange", "--queue-prefix", "--dead-exchange",
          "--dead-queue-prefix", "--events-exchange", "--queue-type", "--delivery-limit", "--handler",
          "--duration-ms", "--steps", "--failure-rate", "--command", "--timeout-ms"})
        BOOST_TEST(text.find(f) != std::string::npos, f);
}

BOOST_AUTO_TEST_CASE(registry_builds_both_handlers) {
    auto o = *parse({"--type", "video"}).options;
    BOOST_TEST(make_handler(o) != nullptr);
    o.handler = "exec";
    o.exec.command = "true";
    BOOST_TEST(make_handler(o) != nullptr);
    o.handler = "nope";
    BOOST_CHECK_THROW(make_handler(o), std::invalid_argument);
}

// ---- the contract -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(job_message_is_parsed) {
    const std::string body =
        R"({"uuid":"u1","job_type":"video","account_id":"a","source_id":"s","session_id":"x","version":null,)"
        R"("input":{"title":"t"},"created_at":"2026-04-16T12:00:00.000Z"})";
    auto p = parse_job_message(body, "tts");
    BOOST_REQUIRE(p.job);
    BOOST_TEST(p.job->uuid == "u1");
    BOOST_TEST(p.job->job_type == "video");
    BOOST_TEST(json::serialize(p.job->input) == R"({"title":"t"})");
    BOOST_TEST(p.job->message.at("session_id").as_string() == "x");
    BOOST_TEST(p.job->body == body);

    auto minimal = parse_job_message(R"({"uuid":"u2"})", "tts");
    BOOST_REQUIRE(minimal.job);
    BOOST_TEST(minimal.job->job_type == "tts");
    BOOST_TEST(minimal.job->input.empty());
}

BOOST_AUTO_TEST_CASE(unusable_messages_are_refused_with_a_reason) {
    for (std::string bad : {"", "not json", "[1,2]", "{}", R"({"uuid":""})", R"({"uuid":7})",
                            R"({"uuid":"u","input":[1]})", R"({"uuid":"u","job_type":3})"}) {
        auto p = parse_job_message(bad, "video");
        BOOST_TEST(!p.job, bad);
        BOOST_TEST(!p.error.empty(), bad);
    }
}

BOOST_AUTO_TEST_CASE(status_events_follow_the_contract) {
    // 2026-04-16T12:03:02.000Z
    const std::int64_t at = 1776340982000;
    event_fields f;
    f.uuid = "u1";
    f.status = model::job_status::started;
    f.worker = "host:42";
    f.at_ms = at;
    auto e = make_status_event("video", f, "m1");
    BOOST_TEST(e.routing_key == "video.STARTED");
    BOOST_TEST(e.status == "STARTED");
    BOOST_TEST(e.message_id == "m1");
    BOOST_TEST(!e.terminal);
    BOOST_TEST(e.body ==
               R"({"uuid":"u1","job_status":"STARTED","worker":"host:42","at":"2026-04-16T12:03:02.000Z"})");

    f.status = model::job_status::in_progress;
    f.progress = 140;  // clamped
    e = make_status_event("video", f, "m2");
    BOOST_TEST(e.routing_key == "video.IN_PROGRESS");
    BOOST_TEST(json::parse(e.body).at("progress").as_int64() == 100);

    json::object out{{"result_url", "https://example.invalid/u1.mp4"}};
    f.status = model::job_status::success;
    f.progress.reset();
    f.output = &out;
    e = make_status_event("video", f, "m3");
    BOOST_TEST(e.terminal);
    BOOST_TEST(
        e.body ==
        R"({"uuid":"u1","job_status":"SUCCESS","output":{"result_url":"https://example.invalid/u1.mp4"},)"
        R"("worker":"host:42","at":"2026-04-16T12:03:02.000Z"})");

    f.status = model::job_status::failed;
    f.output = nullptr;
    f.error = "exit code 3: boom";
    f.worker = {};
    e = make_status_event("tts", f, "m4");
    BOOST_TEST(e.routing_key == "tts.FAILED");
    BOOST_TEST(e.terminal);
    BOOST_TEST(
        e.body ==
        R"({"uuid":"u1","job_status":"FAILED","error":"exit code 3: boom","at":"2026-04-16T12:03:02.000Z"})");
}

BOOST_AUTO_TEST_CASE(status_event_text_is_escaped_as_json_and_reads_back_whole) {
    // Texts a handler may return (an exec handler's stderr tail, a model server's error): quotes,
    // backslashes, control characters and UTF-8 must come back exactly through a JSON parser.
    const std::string error = "exit 1: \"bad\" C:\\tmp\nline\ttab \x01\x1f caf\xc3\xa9 \xe2\x9c\x93";
    json::object out{{"text", "a\"b\\c\nd\x02"}, {"n", 3}, {"list", json::array{1, "x", nullptr}}};
    event_fields f;
    f.uuid = "u-\"1";
    f.status = model::job_status::failed;
    f.attempt = 2;
    f.error = error;
    f.retryable = true;
    f.worker = "h\\st:7";
    f.at_ms = 1776340982000;
    auto e = make_status_event("video", f, "m1");
    auto body = json::parse(e.body).as_object();
    BOOST_TEST(body.at("uuid").as_string() == "u-\"1");
    BOOST_TEST(body.at("error").as_string() == error);
    BOOST_TEST(body.at("worker").as_string() == "h\\st:7");
    BOOST_TEST(body.at("attempt").as_int64() == 2);
    BOOST_TEST(body.at("retryable").as_bool());
    // The same bytes as the document serialized whole, member order included.
    json::object expected{{"uuid", "u-\"1"},
                          {"job_status", "FAILED"},
                          {"attempt", 2},
                          {"error", error},
                          {"retryable", true},
                          {"worker", "h\\st:7"},
                          {"at", "2026-04-16T12:03:02.000Z"}};
    BOOST_TEST(e.body == json::serialize(expected));

    f.status = model::job_status::success;
    f.error.reset();
    f.output = &out;
    e = make_status_event("video", f, "m2");
    body = json::parse(e.body).as_object();
    BOOST_TEST(body.at("output") == json::value(out));
    BOOST_TEST(!body.contains("retryable"));  // only a FAILED event says it
}

BOOST_AUTO_TEST_CASE(an_error_of_any_bytes_reaches_jobsd_with_the_events_batched_beside_it) {
    // An exec command's stderr tail may hold anything, cut anywhere: a byte that is not UTF-8,
    // an overlong form, a surrogate, a sequence cut short at the end. jobsd's parser refuses a
    // message with invalid UTF-8 whole, so each such byte is written as U+FFFD.
    const std::string fffd = "\xef\xbf\xbd";
    event_fields f;
    f.uuid = "0190a3f4-5b6c-7d8e-9f01-23456789abcd";
    f.status = model::job_status::failed;
    f.at_ms = 1776340982000;
    const std::string error =
        "a\xff"
        "b\xc0\xaf"
        "c\xed\xa0\x80"
        "d caf\xc3\xa9 \xc3";
    f.error = error;
    const auto failed = make_status_event("pdf", f, "m1");
    f.uuid = "0190a3f4-5b6c-7d8e-9f01-23456789abce";
    f.status = model::job_status::success;
    f.error.reset();
    const auto succeeded = make_status_event("pdf", f, "m2");
    const std::vector<const status_event*> events{&failed, &succeeded};
    const auto parsed = model::parse_job_events(make_event_batch("pdf", events, "b1").body, 0);
    BOOST_TEST_REQUIRE(parsed.size() == 2u);
    for (const auto& p : parsed) {
        const auto* problem = std::get_if<model::event_error>(&p);
        BOOST_TEST_REQUIRE(!problem, (problem ? problem->problem : ""));
    }
    BOOST_TEST(*std::get<model::job_event>(parsed[0]).error ==
               "a" + fffd + "b" + fffd + fffd + "c" + fffd + fffd + fffd + "d caf\xc3\xa9 " + fffd);
    BOOST_TEST((std::get<model::job_event>(parsed[1]).status == model::job_status::success));
}

BOOST_AUTO_TEST_CASE(events_of_contract_3_share_a_message_each_with_its_trace) {
    const std::int64_t at = 1776340982000;
    event_fields f;
    f.uuid = "u1";
    f.status = model::job_status::started;
    f.at_ms = at;
    f.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const auto started = make_status_event("video", f, "m1");
    f.uuid = "u2";
    f.status = model::job_status::success;
    f.at_ms = at + 5;
    f.traceparent = {};
    const auto succeeded = make_status_event("video", f, "m2");
    const std::vector<const status_event*> events{&started, &succeeded};
    const auto batch = make_event_batch("video", events, "b1");
    BOOST_TEST(batch.routing_key == "video.batch");
    BOOST_TEST(batch.status == "batch");
    BOOST_TEST(batch.message_id == "b1");
    BOOST_TEST(batch.terminal);  // one of them is
    BOOST_TEST(batch.at_ms == at);
    BOOST_TEST(batch.traceparent.empty());
    const auto body = json::parse(batch.body).as_object();
    BOOST_TEST(body.size() == 1u);
    const auto& list = body.at("events").as_array();
    BOOST_REQUIRE(list.size() == 2u);
    BOOST_TEST(list[0].at("uuid").as_string() == "u1");
    BOOST_TEST(list[0].at("job_status").as_string() == "STARTED");
    BOOST_TEST(list[0].at("traceparent").as_string() ==
               "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    BOOST_TEST(list[1].at("uuid").as_string() == "u2");
    BOOST_TEST(list[1].at("job_status").as_string() == "SUCCESS");
    BOOST_TEST(!list[1].as_object().contains("traceparent"));
    // Each element is the event's own body, the trace added: nothing else changes.
    auto first = list[0].as_object();
    first.erase("traceparent");
    BOOST_TEST(json::serialize(first) == started.body);
    BOOST_TEST(json::serialize(list[1]) == succeeded.body);

    const std::vector<const status_event*> none_terminal{&started};
    BOOST_TEST(!make_event_batch("video", none_terminal, "b2").terminal);
}

BOOST_AUTO_TEST_CASE(event_batching_is_configurable) {
    auto r = parse({"--type", "video"});
    BOOST_REQUIRE(r.options);
    BOOST_TEST(r.options->event_batch == 64u);
    BOOST_TEST(r.options->event_linger.count() == 5);
    r = parse({"--type", "video", "--event-batch", "1"}, {{"JOBS_WORKER_EVENT_LINGER_MS", "20"}});
    BOOST_REQUIRE(r.options);
    BOOST_TEST(r.options->event_batch == 1u);
    BOOST_TEST(r.options->event_linger.count() == 20);
    BOOST_TEST(parse({"--type", "video", "--event-batch", "0"}).error.find("--event-batch") !=
               std::string::npos);
}

// ---- exec output parsing ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(progress_lines_are_only_a_numeric_progress) {
    BOOST_TEST(parse_progress_line(R"({"progress":50})").value() == 50);
    BOOST_TEST(parse_progress_line(R"(  {"progress": 12.6}  )").value() == 13);
    BOOST_TEST(parse_progress_line(R"({"progress":-5})").value() == 0);
    BOOST_TEST(parse_progress_line(R"({"progress":250})").value() == 100);
    BOOST_TEST(!parse_progress_line(R"({"progress":"50"})"));
    BOOST_TEST(!parse_progress_line(R"({"progress":50,"note":"x"})"));
    BOOST_TEST(!parse_progress_line(R"({"percent":50})"));
    BOOST_TEST(!parse_progress_line("progress 50"));
    BOOST_TEST(!parse_progress_line("[50]"));
    BOOST_TEST(!parse_progress_line(""));
}

BOOST_AUTO_TEST_CASE(output_is_the_last_object_line_that_is_not_progress) {
    exec_output_parser p;
    std::vector<int> seen;
    auto on = [&](int v) { seen.push_back(v); };
    // Split at awkward places: lines arrive in pieces.
    p.feed("starting\n{\"progr", on);
    p.feed("ess\":10}\n{\"a\":1}\n", on);
    BOOST_TEST(seen == std::vector<int>{10});
    p.feed("{\"progress\":90}\nnot json {\n{\"b\":", on);
    p.feed("2}", on);  // no final newline
    p.finish(on);
    BOOST_TEST(seen == (std::vector<int>{10, 90}));
    BOOST_TEST(json::serialize(p.output()) == R"({"b":2})");

    exec_output_parser none;
    none.feed("hello\n{\"progress\":1}\n", on);
    none.finish(on);
    BOOST_TEST(none.output().empty());
}

BOOST_AUTO_TEST_CASE(overlong_lines_are_skipped_whole) {
    exec_output_parser p(16);
    auto on = [](int) {};
    p.feed("{\"ok\":1}\n{\"x\":\"0123456789012345678901234567890\"}\n", on);
    p.finish(on);
    BOOST_TEST(p.skipped_lines() == 1u);
    BOOST_TEST(json::serialize(p.output()) == R"({"ok":1})");
}

BOOST_AUTO_TEST_CASE(tail_buffer_keeps_the_last_bytes) {
    tail_buffer t(5);
    t.append("abc");
    t.append("defg");
    BOOST_TEST(t.str() == "cdefg");
    t.append("0123456789");
    BOOST_TEST(t.str() == "56789");
}

// ---- plumbing -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mailbox_coalesces_progress_per_job) {
    report_mailbox box;
    box.push({1, job_report::kind::started, 0, {}});
    box.push({1, job_report::kind::progress, 10, {}});
    box.push({2, job_report::kind::progress, 5, {}});
    box.push({1, job_report::kind::progress, 40, {}});
    auto r = box.take();
    BOOST_REQUIRE(r.size() == 3u);
    BOOST_TEST(r[1].job_id == 1u);
    BOOST_TEST(r[1].progress == 40);
    BOOST_TEST(r[2].progress == 5);
    BOOST_TEST(box.take().empty());
}

BOOST_AUTO_TEST_CASE(progress_only_rises) {
    report_mailbox box;
    mailbox_progress progress(box, 7);
    progress.report(30);
    auto r = box.take();
    BOOST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0].progress == 30);
    progress.report(20);  // a fall, and a repeat: neither is sent
    progress.report(30);
    BOOST_TEST(box.take().empty());
    progress.report(150);  // clamped, and a rise
    r = box.take();
    BOOST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0].progress == 100);
}

namespace {

// What the broker holds settled after `plan` on a channel whose unsettled deliveries were
// `unsettled`: a multiple ack settles every unsettled tag up to its own.
std::set<std::uint64_t> settled_by(const ack_plan& plan, const std::vector<std::uint64_t>& unsettled) {
    std::set<std::uint64_t> settled;
    for (const auto tag : unsettled)
        if (tag <= plan.up_to) settled.insert(tag);
    settled.insert(plan.singles.begin(), plan.singles.end());
    return settled;
}

}  // namespace

BOOST_AUTO_TEST_CASE(acks_settle_exactly_the_jobs_done_with_one_multiple_ack_for_the_oldest_run) {
    // Jobs 3 to 9 held; 3, 4, 5 and 8 done: one multiple ack up to 5, then 8 alone (7 and 9 stay).
    const std::vector<std::uint64_t> held{9, 3, 7, 4, 8, 5, 6};
    auto plan = plan_acks(held, {8, 4, 3, 5});
    BOOST_TEST(plan.up_to == 5u);
    BOOST_TEST(plan.singles == std::vector<std::uint64_t>{8}, boost::test_tools::per_element());
    BOOST_TEST(settled_by(plan, held) == (std::set<std::uint64_t>{3, 4, 5, 8}),
               boost::test_tools::per_element());

    // The oldest held job is still running: nothing may go as a multiple ack.
    plan = plan_acks(held, {4, 5, 9});
    BOOST_TEST(plan.up_to == 0u);
    BOOST_TEST(plan.singles == (std::vector<std::uint64_t>{4, 5, 9}), boost::test_tools::per_element());

    // Every held job done: one ack.
    plan = plan_acks(held, held);
    BOOST_TEST(plan.up_to == 9u);
    BOOST_TEST(plan.singles.empty());

    // Tags already settled below the oldest held one (rejected, acked before) do not matter.
    plan = plan_acks(std::vector<std::uint64_t>{20, 22}, {20});
    BOOST_TEST(plan.up_to == 20u);
    BOOST_TEST(plan.singles.empty());
    BOOST_TEST(plan_acks(held, {}).up_to == 0u);
}

BOOST_AUTO_TEST_CASE(acks_never_settle_a_job_still_held_whatever_the_order) {
    // Every subset of ten held deliveries: what the plan settles is the subset, no more, no less.
    std::vector<std::uint64_t> held;
    for (std::uint64_t tag = 11; tag <= 20; ++tag) held.push_back(tag);
    for (unsigned mask = 1; mask < (1u << held.size()); ++mask) {
        std::vector<std::uint64_t> done;
        for (std::size_t i = 0; i < held.size(); ++i)
            if (mask & (1u << i)) done.push_back(held[held.size() - 1 - i]);
        const auto plan = plan_acks(held, done);
        BOOST_TEST_REQUIRE((settled_by(plan, held) == std::set<std::uint64_t>(done.begin(), done.end())),
                           "mask " << mask);
        // The multiple ack covers the whole run from the oldest held delivery, and stops at its end.
        const std::uint64_t after_run = plan.up_to == 0 ? held.front() : plan.up_to + 1;
        BOOST_TEST_REQUIRE(std::count(done.begin(), done.end(), after_run) == 0, "mask " << mask);
        BOOST_TEST_REQUIRE(plan.singles.size() == done.size() - (after_run - held.front()), "mask " << mask);
    }
}

BOOST_AUTO_TEST_CASE(pool_runs_tasks_in_parallel_and_bounds_its_queue) {
    job_pool pool(2, 1);
    std::atomic<int> started{0}, done{0};
    std::atomic<bool> release{false};
    auto blocker = [&] {
        ++started;
        while (!release) std::this_thread::sleep_for(1ms);
        ++done;
    };
    BOOST_TEST(pool.post(blocker));
    BOOST_TEST_REQUIRE(jobsd::test::wait_until([&] { return started == 1; }, 30s), "no thread took the task");
    BOOST_TEST(pool.post(blocker));
    BOOST_TEST_REQUIRE(jobsd::test::wait_until([&] { return started == 2; }, 30s),
                       "the tasks did not run in parallel");
    BOOST_TEST(pool.post(blocker));   // queued
    BOOST_TEST(!pool.post(blocker));  // full
    BOOST_TEST(!pool.wait_idle(20ms));
    BOOST_TEST(started == 2);  // the queued one waits for a thread
    release = true;
    BOOST_TEST(pool.wait_idle(30s));
    BOOST_TEST(done == 3);
}

BOOST_AUTO_TEST_CASE(pool_gives_each_task_to_the_thread_idle_the_shortest_time) {
    job_pool pool(4, 8);
    std::mutex mu;
    std::set<std::thread::id> ran_on;
    for (int i = 0; i < 20; ++i) {
        BOOST_TEST_REQUIRE(pool.post([&] {
            std::lock_guard lock(mu);
            ran_on.insert(std::this_thread::get_id());
        }));
        BOOST_TEST_REQUIRE(pool.wait_idle(30s));
        std::this_thread::sleep_for(2ms);  // the thread is back asleep, on top of the others
    }
    // One after the other, short tasks keep one thread warm instead of rotating through all four.
    BOOST_TEST(ran_on.size() <= 2u, "tasks ran on " << ran_on.size() << " threads");
}

BOOST_AUTO_TEST_CASE(pool_wakes_few_threads_for_a_burst_of_short_tasks) {
    // Each post used to wake a sleeping thread of its own: about one wake-up (two context
    // switches) per task when tasks are short. One thread on its way at a time: the first woken
    // runs what queued while it woke, and wakes the next only while more wait.
    job_pool pool(16, 4096);
    constexpr int tasks = 2000;
    std::atomic<int> ran{0};
    for (int i = 0; i < tasks; ++i) BOOST_TEST_REQUIRE(pool.post([&] { ++ran; }));
    BOOST_TEST_REQUIRE(pool.wait_idle(30s));
    BOOST_TEST(ran == tasks);
    BOOST_TEST(pool.wakeups() >= 1u);
    // A wake-up per post makes about 1 800 here; a sanitizer build of this pool about 840.
    BOOST_TEST(pool.wakeups() < static_cast<std::uint64_t>(tasks * 3 / 4), pool.wakeups() << " wake-ups");
}

BOOST_AUTO_TEST_CASE(pool_runs_what_is_queued_before_its_threads_end) {
    std::atomic<int> ran{0};
    std::atomic<bool> release{false};
    std::thread releaser;
    {
        job_pool pool(1, 4);
        BOOST_TEST(pool.post([&] {
            while (!release) std::this_thread::sleep_for(1ms);
            ++ran;
        }));
        BOOST_TEST(pool.post([&] { ++ran; }));
        BOOST_TEST(pool.post([&] { ++ran; }));
        releaser = std::thread([&] {
            std::this_thread::sleep_for(50ms);
            release = true;
        });
    }  // the destructor waits for all three
    releaser.join();
    BOOST_TEST(ran == 3);
}

// ---- simulate handler ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(simulate_reports_each_step_and_succeeds) {
    simulate_handler h({std::chrono::milliseconds(40), 4, 0.0});
    recording_progress progress;
    const auto t0 = std::chrono::steady_clock::now();
    auto out = h.run(job("u-sim"), progress, {});
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 40ms));
    BOOST_TEST(out.ok);
    BOOST_TEST(progress.values == (std::vector<int>{25, 50, 75, 100}));
    BOOST_TEST(out.output.at("result_url").as_string() == "https://example.invalid/u-sim.mp4");
    BOOST_TEST(out.output.at("simulated").as_bool());
}

BOOST_AUTO_TEST_CASE(simulate_fails_at_failure_rate_one) {
    simulate_handler h({std::chrono::milliseconds(0), 3, 1.0});
    for (int i = 0; i < 20; ++i) {
        recording_progress progress;
        auto out = h.run(job(), progress, {});
        BOOST_TEST(!out.ok);
        BOOST_TEST(out.error == "simulated failure");
        BOOST_TEST(progress.values.size() == 3u);
    }
}

BOOST_AUTO_TEST_CASE(simulate_stops_when_asked) {
    simulate_handler h({std::chrono::milliseconds(10'000), 2, 0.0});
    recording_progress progress;
    std::stop_source stop;
    std::jthread stopper([&] {
        std::this_thread::sleep_for(50ms);
        stop.request_stop();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto out = h.run(job(), progress, stop.get_token());
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 8s));  // it would run for 10 s
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "cancelled");
}

// A zero duration waits for nothing (no sleep per step), and still honours a stop already asked.
BOOST_AUTO_TEST_CASE(simulate_with_no_duration_runs_every_step_unless_stopped) {
    simulate_handler h({std::chrono::milliseconds(0), 3, 0.0});
    recording_progress progress;
    auto out = h.run(job("u-now"), progress, {});
    BOOST_TEST(out.ok);
    BOOST_TEST(progress.values == (std::vector<int>{33, 66, 100}));

    std::stop_source stop;
    stop.request_stop();
    recording_progress stopped_progress;
    out = h.run(job(), stopped_progress, stop.get_token());
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "cancelled");
    BOOST_TEST(stopped_progress.values.empty());

    simulate_handler one_wait({std::chrono::milliseconds(0), 0, 0.0});
    recording_progress none;
    BOOST_TEST(one_wait.run(job(), none, stop.get_token()).error == "cancelled");
    BOOST_TEST(one_wait.run(job(), none, {}).ok);
}

// ---- exec handler -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(exec_progress_lines_and_output) {
    auto h = exec(
        R"(cat >/dev/null; echo '{"progress":50}'; echo 'log line'; echo '{"ok":true}'; echo '{"progress":90}')");
    recording_progress progress;
    auto out = h.run(job(), progress, {});
    BOOST_TEST(out.ok, out.error);
    BOOST_TEST(progress.values == (std::vector<int>{50, 90}));
    BOOST_TEST(json::serialize(out.output) == R"({"ok":true})");
}

BOOST_AUTO_TEST_CASE(exec_gets_the_job_message_on_stdin) {
    auto h = exec(R"(read -r line; printf '{"echo":%s}\n' "$line")");
    recording_progress progress;
    const auto j = job("u-stdin");
    auto out = h.run(j, progress, {});
    BOOST_TEST(out.ok, out.error);
    BOOST_TEST(json::serialize(out.output.at("echo")) == json::serialize(json::parse(j.body)));
}

BOOST_AUTO_TEST_CASE(exec_without_output_object_succeeds_with_empty_output) {
    auto h = exec("echo just text");
    recording_progress progress;
    auto out = h.run(job(), progress, {});
    BOOST_TEST(out.ok);
    BOOST_TEST(out.output.empty());
}

BOOST_AUTO_TEST_CASE(exec_command_that_ignores_a_large_stdin_still_works) {
    auto p =
        parse_job_message(R"({"uuid":"big","input":{"blob":")" + std::string(1 << 20, 'x') + "\"}}", "video");
    BOOST_REQUIRE(p.job);
    auto h = exec(R"(echo '{"done":1}')");
    recording_progress progress;
    auto out = h.run(*p.job, progress, {});
    BOOST_TEST(out.ok, out.error);
    BOOST_TEST(json::serialize(out.output) == R"({"done":1})");
}

BOOST_AUTO_TEST_CASE(exec_non_zero_exit_fails_with_stderr_tail) {
    auto h = exec("echo '{\"partial\":1}'; echo 'first problem' >&2; echo 'disk full' >&2; exit 3");
    recording_progress progress;
    auto out = h.run(job(), progress, {});
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "exit code 3: first problem\ndisk full");
}

BOOST_AUTO_TEST_CASE(exec_stderr_is_bounded) {
    exec_options o;
    o.command = "head -c 100000 /dev/zero | tr '\\0' 'e' >&2; printf END >&2; exit 1";
    o.stderr_tail = 64;
    exec_handler h(o, 10s);
    recording_progress progress;
    auto out = h.run(job(), progress, {});
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error.size() <= std::string("exit code 1: ").size() + 64);
    BOOST_TEST(out.error.substr(out.error.size() - 3) == "END");
}

BOOST_AUTO_TEST_CASE(exec_timeout_kills_the_whole_process_group) {
    const auto pid_file =
        std::filesystem::temp_directory_path() / ("worker_tests_pgid_" + std::to_string(::getpid()));
    std::filesystem::remove(pid_file);
    // A background grandchild in the same group, and a foreground sleep: both must die. The
    // timeout leaves a loaded machine time to start the shell and write its pid.
    auto h = exec("echo $$ > '" + pid_file.string() + "'; sleep 30 & sleep 30", 2000ms);
    recording_progress progress;
    const auto t0 = std::chrono::steady_clock::now();
    auto out = h.run(job(), progress, {});
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "timed out after 2000 ms");
    BOOST_TEST((took >= 2000ms));
    BOOST_TEST((took < 25s));  // the command alone would run for 30 s

    pid_t pgid = 0;
    std::ifstream(pid_file) >> pgid;
    std::filesystem::remove(pid_file);
    BOOST_REQUIRE(pgid > 0);
    BOOST_TEST(jobsd::test::wait_until([&] { return !process_group_alive(pgid); }, 20s),
               "process group " << pgid << " still has live members");
}

BOOST_AUTO_TEST_CASE(exec_stop_request_kills_the_command) {
    auto h = exec("sleep 30");
    recording_progress progress;
    std::stop_source stop;
    std::jthread stopper([&] {
        std::this_thread::sleep_for(100ms);
        stop.request_stop();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto out = h.run(job(), progress, stop.get_token());
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 25s));  // the command alone would run for 30 s
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "cancelled");
}

BOOST_AUTO_TEST_CASE(exec_killed_by_a_signal_says_so) {
    auto h = exec("echo dying >&2; kill -9 $$");
    recording_progress progress;
    auto out = h.run(job(), progress, {});
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "killed by signal 9: dying");
}

// Each command waits until all four have started (a file each in one directory), so run one
// after another the first would never see the others and fail: no timing involved.
BOOST_AUTO_TEST_CASE(exec_jobs_run_concurrently_without_sharing_pipes) {
    const auto met =
        std::filesystem::temp_directory_path() / ("worker_tests_met_" + std::to_string(::getpid()));
    std::filesystem::remove_all(met);
    std::filesystem::create_directories(met);
    const std::string d = "'" + met.string() + "'";
    auto h = exec("cat >/dev/null; touch " + d + "/$$; for i in $(seq 500); do [ $(ls " + d +
                      " | wc -l) -ge 4 ] && break; sleep 0.05; done; [ $(ls " + d +
                      " | wc -l) -ge 4 ] && echo '{\"n\":'$$'}'",
                  60s);
    std::vector<job_outcome> outs(4);
    // The inputs are made here: job() checks with BOOST_REQUIRE, and Boost.Test's checks are not
    // thread-safe (four threads at once corrupted its checkpoint and aborted the test).
    const std::vector<job_input> inputs(4, job());
    {
        std::vector<std::jthread> threads;
        for (int i = 0; i < 4; ++i)
            threads.emplace_back([&, i] {
                recording_progress progress;
                outs[i] = h.run(inputs[i], progress, {});
            });
    }
    std::filesystem::remove_all(met);
    std::set<std::int64_t> pids;  // each its own output, none mixed up with another's pipe
    for (const auto& o : outs) {
        BOOST_TEST(o.ok, o.error);
        if (o.ok) pids.insert(o.output.at("n").to_number<std::int64_t>());
    }
    BOOST_TEST(pids.size() == 4u);
}
