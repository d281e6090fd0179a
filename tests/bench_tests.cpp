// Unit tests of jobs-bench's sans-I/O cores: histogram, rate scheduler, payload mix and request
// bytes, response parser, e2e matcher, per-second series, /proc CPU parsing, options, thresholds
// and the JSON/HTML report writers.
#define BOOST_TEST_MODULE bench_tests
#include <boost/test/unit_test.hpp>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include <unistd.h>

#include "bench/jobs_bench/bench_result.hpp"
#include "bench/jobs_bench/e2e_matcher.hpp"
#include "bench/jobs_bench/histogram.hpp"
#include "bench/jobs_bench/html_report.hpp"
#include "bench/jobs_bench/json_report.hpp"
#include "bench/jobs_bench/latency_series.hpp"
#include "bench/jobs_bench/options.hpp"
#include "bench/jobs_bench/payload_mix.hpp"
#include "bench/jobs_bench/process_cpu.hpp"
#include "bench/jobs_bench/rate_scheduler.hpp"
#include "bench/jobs_bench/request_set.hpp"
#include "bench/jobs_bench/response_parser.hpp"
#include "bench/jobs_bench/text_report.hpp"

namespace json = boost::json;
using namespace jobsd::bench;
using namespace std::chrono_literals;

namespace {

std::filesystem::path conf_dir() {
    const char* d = std::getenv("JOBSD_BENCH_CONF_DIR");
    BOOST_REQUIRE_MESSAGE(d && *d, "JOBSD_BENCH_CONF_DIR is not set (run the test through ctest)");
    return d;
}

constexpr double precision = 1.0 / static_cast<double>(histogram::sub_buckets);

// The value of rank ceil(p/100*n) in a sorted sample: what the histogram approximates.
std::uint64_t reference(const std::vector<std::uint64_t>& sorted, double p) {
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(histogram_tests)

BOOST_AUTO_TEST_CASE(bucket_layout_is_consistent) {
    for (std::size_t i = 0; i < histogram::bucket_count(); ++i) {
        BOOST_TEST(histogram::index_of(histogram::lowest_of(i)) == i);
        BOOST_TEST(histogram::index_of(histogram::highest_of(i)) == i);
        if (i + 1 < histogram::bucket_count())
            BOOST_TEST(histogram::highest_of(i) + 1 == histogram::lowest_of(i + 1));
    }
    BOOST_TEST(histogram::index_of(histogram::max_value) == histogram::bucket_count() - 1);
}

BOOST_AUTO_TEST_CASE(small_values_are_exact) {
    histogram h;
    for (std::uint64_t v = 0; v < 2 * histogram::sub_buckets; ++v) h.record(v);
    BOOST_TEST(h.percentile(50) == histogram::sub_buckets - 1);
    BOOST_TEST(h.percentile(100) == 2 * histogram::sub_buckets - 1);
    BOOST_TEST(h.min() == 0u);
}

BOOST_AUTO_TEST_CASE(percentiles_match_a_sorted_reference_within_precision) {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(std::log(2e6), 1.2);  // ns, median 2 ms, long tail
    std::vector<std::uint64_t> values(200'000);
    histogram h;
    for (auto& v : values) {
        v = static_cast<std::uint64_t>(latency(rng)) + 1;
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    BOOST_TEST(h.count() == values.size());
    BOOST_TEST(h.max() == values.back());
    BOOST_TEST(h.min() == values.front());
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        const double want = static_cast<double>(reference(values, p));
        const double got = static_cast<double>(h.percentile(p));
        BOOST_TEST_INFO("p" << p << " want " << want << " got " << got);
        BOOST_TEST(std::abs(got - want) <= want * precision + 1);
    }
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_everything_in_one) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::uint64_t> dist(1, 50'000'000);
    histogram all, a, b;
    for (int i = 0; i < 50'000; ++i) {
        const auto v = dist(rng);
        all.record(v);
        (i % 3 ? a : b).record(v);
    }
    a.merge(b);
    BOOST_TEST(a.count() == all.count());
    BOOST_TEST(a.max() == all.max());
    BOOST_TEST(a.min() == all.min());
    BOOST_TEST(std::abs(a.mean() - all.mean()) < 1e-6 * all.mean());
    for (double p : {50.0, 90.0, 99.0, 99.9}) BOOST_TEST(a.percentile(p) == all.percentile(p));
}

BOOST_AUTO_TEST_CASE(huge_values_saturate_and_empty_is_zero) {
    histogram h;
    BOOST_TEST(h.percentile(99) == 0u);
    h.record(histogram::max_value * 4);
    BOOST_TEST(h.saturated() == 1u);
    BOOST_TEST(h.max() == histogram::max_value);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rate_scheduler_tests)

BOOST_AUTO_TEST_CASE(intended_times_interleave_to_the_total_rate) {
    const double rate = 1000;  // req/s in total → one every 1 ms across the connections
    const unsigned conns = 7;
    std::vector<std::int64_t> times;
    for (unsigned k = 0; k < conns; ++k) {
        rate_scheduler s(rate, conns, k, 10s);
        while (s.has_next()) times.push_back(s.take().count());
    }
    std::sort(times.begin(), times.end());
    BOOST_TEST(times.size() == 10'000u);  // rate * duration slots, no more, no fewer
    for (std::size_t i = 0; i < times.size(); ++i) {
        // Slot i is due at i ms, within 1 µs (rounding of the per-connection interval).
        BOOST_TEST_INFO("slot " << i);
        BOOST_TEST(std::abs(times[i] - static_cast<std::int64_t>(i) * 1'000'000) <= 1'000);
    }
}

BOOST_AUTO_TEST_CASE(schedule_does_not_drift_and_reports_backlog) {
    rate_scheduler s(3, 1, 0, 3600s);  // every 333.33… ms: rounding must not accumulate
    for (int i = 0; i < 10'000; ++i) s.take();
    BOOST_TEST(std::abs(s.next().count() - static_cast<std::int64_t>(10'000 * (1e9 / 3))) < 1'000'000);
    rate_scheduler t(100, 1, 0, 10s);  // every 10 ms
    BOOST_TEST(t.backlog(0ns) == 1u);  // slot 0 is due at once
    t.take();
    BOOST_TEST(t.backlog(5ms) == 0u);
    BOOST_TEST(t.backlog(35ms) == 3u);  // slots at 10, 20, 30 ms are late
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(payload_mix_tests)

BOOST_AUTO_TEST_CASE(bench_payload_files_are_valid_for_the_api) {
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(conf_dir())) {
        if (entry.path().extension() != ".json") continue;
        ++files;
        BOOST_TEST_INFO(entry.path().filename());
        const auto mix = payload_mix::load(entry.path().string());
        for (std::size_t i = 0; i < mix.variants().size(); ++i) {
            const auto body = json::parse(mix.body_text(i)).as_object();
            BOOST_TEST(check_body_shape(body) == "");
            if (mix.fresh_session_id()) BOOST_TEST(body.at("session_id").as_string() == session_placeholder);
        }
    }
    BOOST_TEST(files >= 1u);
}

BOOST_AUTO_TEST_CASE(standard_mix_covers_the_seven_types_with_seed_shapes) {
    const auto mix = payload_mix::load((conf_dir() / "mix.json").string());
    std::set<std::string> types;
    bool asset_url = false, audio_effects = false, music = false;
    for (const auto& v : mix.variants()) {
        types.insert(v.job_type);
        if (v.body.contains("background_music")) music = true;
        for (const auto& [k, e] : v.body.at("values").as_object()) {
            if (e.is_object() && e.as_object().contains("image_url")) asset_url = true;
            if (e.is_object() && e.as_object().contains("audio_url") &&
                e.as_object().at("effects").is_array())
                audio_effects = true;
        }
    }
    BOOST_TEST(types.size() == 7u);
    BOOST_TEST(asset_url);
    BOOST_TEST(audio_effects);
    BOOST_TEST(music);
}

BOOST_AUTO_TEST_CASE(weights_are_respected_over_many_draws) {
    const auto mix = payload_mix::parse(R"({"jobs":[
        {"weight":1,"body":{"job_type":"tts","template_id":"a"}},
        {"weight":3,"body":{"job_type":"pdf","template_id":"b"}},
        {"weight":6,"body":{"job_type":"image","template_id":"c"}}]})",
                                        "test");
    fast_rng rng{1};
    std::vector<std::size_t> hits(3);
    const int draws = 1'000'000;
    for (int i = 0; i < draws; ++i) ++hits[mix.pick(rng.next())];
    const double want[] = {0.1, 0.3, 0.6};
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST_INFO("variant " << i);
        BOOST_TEST(std::abs(static_cast<double>(hits[i]) / draws - want[i]) < 0.005);
    }
}

BOOST_AUTO_TEST_CASE(bad_files_are_refused_with_a_reason) {
    auto refused = [](std::string_view text, std::string_view needle) {
        try {
            payload_mix::parse(text, "f.json");
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            BOOST_TEST_INFO(what);
            BOOST_TEST(what.find("f.json") != std::string::npos);
            BOOST_TEST(what.find(needle) != std::string::npos);
            return;
        }
        BOOST_FAIL("accepted: " << text);
    };
    refused("{not json", "not valid JSON");
    refused("[]", "object");
    refused(R"({"jobs":[]})", "non-empty");
    refused(R"({"jobs":[{"weight":0,"body":{"job_type":"tts","template_id":"a"}}]})", "weight");
    refused(R"({"jobs":[{"weight":1,"body":{"job_type":"movie","template_id":"a"}}]})", "job_type");
    refused(R"({"jobs":[{"weight":1,"body":{"job_type":"tts"}}]})", "template_id or project_id");
    refused(R"({"jobs":[{"weight":1,"body":{"job_type":"video","template_id":"a","background_volume":2}}]})",
            "background_volume");
    refused(
        R"({"jobs":[{"weight":1,"body":{"job_type":"tts","template_id":"a","values":{"v":{"audio_url":1}}}}]})",
        "audio_url");
    refused(R"({"jobs":[{"weight":1,"body":{"job_type":"tts","template_id":"a","values":{"v":7}}}]})",
            "values.v");
}

BOOST_AUTO_TEST_CASE(prebuilt_requests_are_well_formed_and_stamped) {
    auto mix = payload_mix::parse(R"({"api_key":"k1","jobs":[
        {"weight":1,"body":{"job_type":"ai_image_generation","project_id":"p"}},
        {"weight":1,"body":{"job_type":"tts","template_id":"t"}}]})",
                                  "test");
    mix.apply({"T2", "P2", "http://127.0.0.1:9/hooks"});
    const auto set = request_set::posts(mix, "h:1", "/jobs/v2", mix.api_key());
    BOOST_TEST_REQUIRE(set.requests().size() == 2u);
    for (const auto& r : set.requests()) {
        const auto split = r.bytes.find("\r\n\r\n");
        BOOST_TEST_REQUIRE(split != std::string::npos);
        const std::string head = r.bytes.substr(0, split), body = r.bytes.substr(split + 4);
        BOOST_TEST(head.starts_with("POST /jobs/v2 HTTP/1.1\r\nHost: h:1\r\n"));
        BOOST_TEST(head.find("x-api-key: k1") != std::string::npos);
        BOOST_TEST(head.find("Content-Length: " + std::to_string(body.size())) != std::string::npos);
        BOOST_TEST_REQUIRE(r.session_offset != std::string::npos);
        std::string copy = r.bytes;
        stamp_session(copy.data() + r.session_offset, 0xabcdef0123456789ull);
        const auto parsed = json::parse(copy.substr(split + 4)).as_object();
        BOOST_TEST(parsed.at("session_id").as_string() == "bench-abcdef0123456789");
        BOOST_TEST(parsed.at("webhook").as_string() == "http://127.0.0.1:9/hooks");  // --webhook-receiver
    }
    BOOST_TEST(json::parse(set.requests()[0].bytes.substr(set.requests()[0].bytes.find("\r\n\r\n") + 4))
                   .at("project_id")
                   .as_string() == "P2");
    BOOST_TEST(json::parse(set.requests()[1].bytes.substr(set.requests()[1].bytes.find("\r\n\r\n") + 4))
                   .at("template_id")
                   .as_string() == "T2");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(response_parser_tests)

namespace {
boost::beast::error_code feed(response_parser& p, std::string_view bytes) {
    boost::beast::error_code ec;
    p.eager(true);
    p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    return ec;
}
}  // namespace

BOOST_AUTO_TEST_CASE(keeps_status_and_body_prefix) {
    response_parser p;
    const std::string body = R"({"job":{"uuid":"0190f3c2-0000-7000-8000-000000000001"}})";
    BOOST_TEST(!feed(
        p, "HTTP/1.1 201 Created\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    BOOST_TEST(p.is_done());
    BOOST_TEST(p.status() == 201u);
    BOOST_TEST(p.body_prefix() == body);
    BOOST_TEST(p.keep_alive());
}

BOOST_AUTO_TEST_CASE(garbage_is_an_error) {
    response_parser p;
    BOOST_TEST(feed(p, "HELLO THERE\r\n\r\n").failed());
}

BOOST_AUTO_TEST_CASE(long_bodies_are_counted_not_kept) {
    response_parser p;
    const std::string body(5000, 'x');
    BOOST_TEST(!feed(p, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5000\r\n\r\n" + body));
    BOOST_TEST(p.body_size() == 5000u);
    BOOST_TEST(p.body_prefix().size() == response_parser::body_prefix_capacity);
    BOOST_TEST(!p.keep_alive());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(series_tests)

BOOST_AUTO_TEST_CASE(per_second_percentiles_equal_a_histogram_per_second) {
    // Two "threads" whose samples interleave over 3 seconds, one of them out of order.
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::uint64_t> ns(1'000, 50'000'000);
    latency_series a, b;
    std::vector<histogram> reference(3);
    for (std::size_t second = 0; second < 3; ++second)
        for (int i = 0; i < 2000; ++i) {
            const auto v = ns(rng) * (second + 1);
            (i % 2 ? a : b).record(second, v);
            reference[second].record(v);
        }
    a.record(0, 123'456'789);  // late: second 0 again after second 2
    reference[0].record(123'456'789);
    a.merge(b);
    const auto p = a.percentiles();
    BOOST_TEST_REQUIRE(p.size() == 3u);
    for (std::size_t s = 0; s < 3; ++s) {
        BOOST_TEST_INFO("second " << s);
        BOOST_TEST(p[s].count == reference[s].count());
        // Rebuilt buckets report a bucket's highest value, as percentile() does below max().
        BOOST_TEST(p[s].p50 == reference[s].percentile(50));
        BOOST_TEST(p[s].p99 == reference[s].percentile(99));
        BOOST_TEST(p[s].p99 < reference[s].max());
    }
    BOOST_TEST(p[2].p50 > p[0].p50);  // the seconds are not mixed up
}

BOOST_AUTO_TEST_CASE(empty_seconds_are_zero_and_the_series_ends_at_the_last_sample) {
    latency_series s;
    s.record(3, 5'000);
    const auto p = s.percentiles();
    BOOST_TEST_REQUIRE(p.size() == 4u);
    BOOST_TEST(p[0].count == 0u);
    BOOST_TEST(p[0].p99 == 0u);
    BOOST_TEST(p[3].count == 1u);
    BOOST_TEST(p[3].p50 == histogram::highest_of(histogram::index_of(5'000)));
    BOOST_TEST(latency_series{}.percentiles().empty());
}

BOOST_AUTO_TEST_CASE(fill_counts_builds_the_series_and_the_distribution) {
    load_stats s;
    s.per_second = {3, 1, 0, 0};
    s.errors_per_second = {0, 2, 1, 0};
    for (std::uint64_t v : {1'000'000, 2'000'000, 3'000'000}) s.latency_by_second.record(0, v);
    s.latency_by_second.record(1, 40'000'000);
    for (std::uint64_t v : {1'000'000, 2'000'000, 3'000'000, 40'000'000}) s.latency.record(v);
    s.status[201] = 4;
    run_summary r;
    fill_counts(r, s, 2.0);
    BOOST_TEST_REQUIRE(r.series.size() == 3u);  // second 2 has an error; second 3 is trimmed
    BOOST_TEST(r.series[0].answers == 3u);
    BOOST_TEST(r.series[1].errors == 2u);
    BOOST_TEST(std::abs(r.series[0].p50_ms - 2.0) < 2.0 * precision);
    BOOST_TEST(std::abs(r.series[1].p99_ms - 40.0) < 40.0 * precision);
    BOOST_TEST(r.series[2].p99_ms == 0.0);
    std::uint64_t binned = 0;
    for (std::size_t i = 0; i < r.distribution.size(); ++i) {
        const auto& b = r.distribution[i];
        binned += b.count;
        BOOST_TEST(b.high_ms / b.low_ms == std::exp2(0.25), 1e-9);  // a quarter of an octave
        if (i) BOOST_TEST(b.low_ms >= r.distribution[i - 1].high_ms * (1 - 1e-12));
    }
    BOOST_TEST(binned == 4u);
    BOOST_TEST(r.distribution.size() == 4u);  // 1, 2, 3 and 40 ms are in different bins
    BOOST_TEST(r.distribution.front().low_ms <= 1.0);
    // A bucket goes to the bin of its lowest value: a bin holds values up to one bucket above it.
    BOOST_TEST(r.distribution.back().high_ms * (1 + precision) > 40.0);
}

BOOST_AUTO_TEST_CASE(e2e_latencies_are_kept_by_second_of_delivery) {
    const std::int64_t origin = 1'000'000'000'000;
    e2e_matcher m(origin);
    m.accept("a", origin + 100'000'000);
    m.accept("b", origin + 200'000'000);
    m.deliver("a", origin + 300'000'000);    // second 0, 200 ms
    m.deliver("b", origin + 2'250'000'000);  // second 2, 2050 ms
    const auto series = e2e_series_of(m.by_second());
    BOOST_TEST_REQUIRE(series.size() == 3u);
    BOOST_TEST(series[0].delivered == 1u);
    BOOST_TEST(series[1].delivered == 0u);
    BOOST_TEST(std::abs(series[0].p99_ms - 200.0) < 200.0 * precision);
    BOOST_TEST(std::abs(series[2].p50_ms - 2050.0) < 2050.0 * precision);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(process_cpu_tests)

BOOST_AUTO_TEST_CASE(stat_lines_are_parsed_after_the_command_name) {
    // Fields 14 and 15 (utime, stime) are 1500 and 250; the name holds spaces and a ')'.
    const std::string stat =
        "4242 (jobs ) worker) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1500 250 0 0 20 0 3 0 100 1000 50";
    BOOST_TEST(parse_stat_cpu_ticks(stat).value_or(0) == 1750u);
    BOOST_TEST(!parse_stat_cpu_ticks("4242 (x) S 1 2 3").has_value());
    BOOST_TEST(!parse_stat_cpu_ticks("no parenthesis at all").has_value());
    BOOST_TEST(!parse_stat_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 5 0").has_value());
}

BOOST_AUTO_TEST_CASE(a_live_process_is_measured_and_a_missing_one_reported) {
    const long self = ::getpid();
    cpu_watch watch({{"self", {self}},
                     {"gone", {4194304}},
                     {"self twice", {self, self}},
                     {"part gone", {self, 4194303}}});
    // Burn some CPU in this process so its figure moves (at least one clock tick).
    const auto until = std::chrono::steady_clock::now() + 50ms;
    volatile std::uint64_t spin = 0;
    while (std::chrono::steady_clock::now() < until) spin = spin + 1;
    watch.sample_second();
    const auto cpu = watch.finish(1000);
    BOOST_TEST_REQUIRE(cpu.size() == 4u);
    BOOST_TEST(cpu[0].name == "self");
    BOOST_TEST(cpu[0].error.empty());
    BOOST_TEST(cpu[0].cpu_s > 0.0);
    BOOST_TEST(cpu[0].us_per_request == cpu[0].cpu_s * 1e6 / 1000, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cpu[0].per_second_s.size() == 2u);  // the sample, then the last partial second
    BOOST_TEST(cpu[1].error.find("4194304") != std::string::npos, cpu[1].error);
    BOOST_TEST(cpu[1].cpu_s == 0.0);
    // A group is the sum of its processes: this one counts the same process twice. Read after the
    // process alone, each term is at least its figure, so the sum at least twice it.
    BOOST_TEST(cpu[2].error.empty());
    BOOST_TEST(cpu[2].cpu_s > 0.0);
    BOOST_TEST(cpu[2].per_second_s.size() == 2u);
    const auto alone = process_cpu_seconds(self);
    const auto twice = group_cpu_seconds({self, self});
    BOOST_TEST_REQUIRE(alone.has_value());
    BOOST_TEST_REQUIRE(twice.seconds.has_value());
    BOOST_TEST(*twice.seconds >= 2 * *alone);
    // One process of a group gone: no figure for the group, and the error names that process.
    BOOST_TEST(cpu[3].error.find("4194303") != std::string::npos, cpu[3].error);
    BOOST_TEST(cpu[3].cpu_s == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(e2e_matcher_tests)

BOOST_AUTO_TEST_CASE(matches_loss_duplicates_and_early_deliveries) {
    e2e_matcher m;
    m.deliver("b", 150);  // delivered before its 201 was read: counted once accepted
    m.accept("a", 100);
    m.accept("b", 200);
    m.accept("c", 300);
    m.deliver("a", 1'100);
    m.deliver("a", 1'200);  // duplicate
    m.deliver("x", 400);    // never accepted
    BOOST_TEST(m.accepted() == 3u);
    BOOST_TEST(m.delivered() == 2u);
    BOOST_TEST(m.pending() == 1u);  // c
    BOOST_TEST(m.duplicates() == 1u);
    BOOST_TEST(m.foreign() == 1u);
    BOOST_TEST(m.latency().count() == 2u);
    BOOST_TEST(m.latency().max() == 1'000u);
    BOOST_TEST(m.latency().min() == 0u);        // b: negative clamps to 0
    BOOST_TEST(m.last_delivery_ns() == 1'100);  // a's first delivery; x is foreign, the duplicate late
}

BOOST_AUTO_TEST_CASE(pipeline_rate_is_charged_for_the_drain) {
    // 10 000 delivered over a 10 s load: the rate is 1000/s when the last delivery is within the
    // load, and lower when the outbox needed 10 s more to drain.
    const std::int64_t origin = 5'000'000'000;
    BOOST_TEST(pipeline_rate(10'000, 10.0, origin, origin + 9'000'000'000) == 1000.0);
    BOOST_TEST(pipeline_rate(10'000, 10.0, origin, origin + 20'000'000'000) == 500.0);
    BOOST_TEST(pipeline_rate(0, 10.0, origin, -1) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(options_tests)

BOOST_AUTO_TEST_CASE(wrk_style_flags_and_url) {
    const auto r = parse_options(
        {"-c64", "-t2", "-d10s", "-R", "5000", "http://10.0.0.1:9000/jobs/v2", "--max-p99", "20"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(r));
    const auto& o = std::get<options>(r);
    BOOST_TEST(o.connections == 64u);
    BOOST_TEST(o.threads == 2u);
    BOOST_TEST(o.duration_s == 10.0);
    BOOST_TEST(o.rate == 5000.0);
    BOOST_TEST(o.host == "10.0.0.1");
    BOOST_TEST(o.port == "9000");
    BOOST_TEST(*o.limits.max_p99_ms == 20.0);
}

BOOST_AUTO_TEST_CASE(ratio_thresholds_and_idle) {
    const auto r = parse_options({"--calibrate-http", "--min-http-fraction", "0.8", "--max-p999", "50"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(r));
    const auto& o = std::get<options>(r);
    BOOST_TEST(o.calibrate);
    BOOST_TEST(!o.calibrate_broker);
    BOOST_TEST(o.calibrate_threads == 1u);  // the minimal server: one io thread
    const auto two = parse_options({"--calibrate-http", "--calibrate-threads", "2"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(two));
    BOOST_TEST(std::get<options>(two).calibrate_threads == 2u);
    BOOST_TEST(std::holds_alternative<parse_error>(parse_options({"--calibrate-threads", "0"})));
    BOOST_TEST(*o.limits.min_http_fraction == 0.8);
    BOOST_TEST(*o.limits.max_p999_ms == 50.0);
    const auto idle = parse_options({"--scenario", "idle", "-c", "10000", "--hold", "5"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(idle));
    BOOST_TEST(std::get<options>(idle).hold_s == 5.0);
    BOOST_TEST(std::get<options>(idle).connections == 10000u);
    const auto hooks = parse_options({"--webhook-receiver"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(hooks));
    BOOST_TEST(std::get<options>(hooks).webhook_receiver);
    BOOST_TEST(!std::get<options>(parse_options({})).webhook_receiver);
    BOOST_TEST(
        std::holds_alternative<parse_error>(parse_options({"--webhook-receiver", "--scenario", "get"})));
}

BOOST_AUTO_TEST_CASE(watched_processes_are_named_pids) {
    const auto r = parse_options(
        {"--watch-pid", "jobsd=1234", "--watch-pid", "rabbit=mq=77", "--watch-pid", "workers=5,6,70"});
    BOOST_TEST_REQUIRE(std::holds_alternative<options>(r));
    const auto& w = std::get<options>(r).watch;
    BOOST_TEST_REQUIRE(w.size() == 3u);
    BOOST_TEST(w[0].name == "jobsd");
    BOOST_TEST(w[0].pids == std::vector<long>{1234}, boost::test_tools::per_element());
    BOOST_TEST(w[1].name == "rabbit=mq");  // the pids are after the last '='
    BOOST_TEST(w[1].pids == std::vector<long>{77}, boost::test_tools::per_element());
    BOOST_TEST(w[2].name == "workers");
    BOOST_TEST(w[2].pids == (std::vector<long>{5, 6, 70}), boost::test_tools::per_element());
    for (const char* bad :
         {"workers=5,", "workers=,5", "workers=5,,6", "workers=5,x", "workers=5;6", "workers"})
        BOOST_TEST(std::holds_alternative<parse_error>(parse_options({"--watch-pid", bad})), bad);
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused) {
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"-c", "0"},
                                               {"-d", "abc"},
                                               {"--scenario", "delete"},
                                               {"ftp://x"},
                                               {"--max-loss", "0"},
                                               {"--bogus"},
                                               {"-c"},
                                               {"--e2e", "--scenario", "get"},
                                               {"--min-http-fraction", "0.8"},
                                               {"--calibrate-http", "--min-broker-fraction", "0.8"},
                                               {"--scenario", "idle", "--calibrate"},
                                               {"--scenario", "idle", "--max-p99", "5"},
                                               {"--watch-pid", "jobsd"},
                                               {"--watch-pid", "jobsd=abc"},
                                               {"--watch-pid", "=12"},
                                               {"--watch-pid", "jobsd=0"},
                                               {"--scenario", "idle", "--watch-pid", "jobsd=12"}}) {
        BOOST_TEST_INFO(args.front());
        BOOST_TEST(std::holds_alternative<parse_error>(parse_options(args)));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_tests)

namespace {
bench_result sample_result() {
    load_stats s;
    for (int i = 1; i <= 1000; ++i) {
        s.latency.record(static_cast<std::uint64_t>(i) * 10'000);  // 0.01..10 ms
        s.latency_by_second.record(i <= 400 ? 0 : 1, static_cast<std::uint64_t>(i) * 10'000);
    }
    s.status[201] = 990;
    s.status[503] = 10;
    s.errors[static_cast<std::size_t>(error_kind::reset)] = 3;
    s.first_error[static_cast<std::size_t>(error_kind::reset)] = "Connection reset by peer <&>";
    s.sent = 1003;
    s.connects = 4;
    s.per_second = {400, 600, 0, 0};
    s.errors_per_second = {0, 3, 0, 0};
    bench_result r;
    r.run.label = "jobsd";
    r.run.target = "127.0.0.1:8080/jobs/v2";
    r.run.scenario = "create";
    r.run.model = "closed";
    r.run.connections = 4;
    r.run.threads = 1;
    r.run.duration_s = 2;
    fill_counts(r.run, s, 2.0);
    r.e2e.enabled = true;
    r.e2e.accepted = 990;
    r.e2e.delivered = 989;
    r.e2e.lost = 1;
    r.e2e.series = {{500, 1.5, 3.0}, {489, 2.0, 4.0}, {0, 0, 0}};
    r.cpu = {{"jobsd", {42}, 0.5, 500.0, {0.2, 0.3}, ""},
             {"broker <&>", {43}, 0, 0, {}, "process 43 ended during the run"},
             {"workers", {44, 45}, 0.25, 250.0, {0.1, 0.15}, ""}};
    r.limits.max_loss = 0;
    r.limits.min_rps = 100;
    r.missed = check_thresholds(r);
    return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(thresholds_are_checked) {
    const auto r = sample_result();
    BOOST_TEST_REQUIRE(r.missed.size() == 1u);  // loss 1 > 0; 495 req/s >= 100
    BOOST_TEST(r.missed[0].find("--max-loss") != std::string::npos);
    auto slow = r;
    slow.limits = {};
    slow.limits.max_p99_ms = 5;
    BOOST_TEST(check_thresholds(slow).size() == 1u);  // p99 ≈ 9.9 ms
    slow.limits.max_p99_ms = 11;
    BOOST_TEST(check_thresholds(slow).empty());
    slow.limits.max_p999_ms = 5;
    BOOST_TEST(check_thresholds(slow).size() == 1u);
}

BOOST_AUTO_TEST_CASE(fractions_of_the_calibration_are_checked) {
    auto r = sample_result();
    r.limits = {};
    r.limits.min_http_fraction = 0.8;
    r.limits.min_broker_fraction = 0.8;
    // Without a calibration neither can be judged, and both say so.
    BOOST_TEST(check_thresholds(r).size() == 2u);
    r.calibration.enabled = true;
    r.calibration.http.rps = 600;
    r.calibration.http_fraction = 500.0 / 600;
    r.calibration.broker_rps = 1000;
    r.calibration.broker_fraction = 0.5;
    const auto missed = check_thresholds(r);
    BOOST_TEST_REQUIRE(missed.size() == 1u);  // 0.83 of the ceiling passes, 0.5 of the broker does not
    BOOST_TEST(missed[0].find("--min-broker-fraction") != std::string::npos, missed[0]);
    r.calibration.broker = false;  // --calibrate-http: the broker was not measured
    BOOST_TEST(check_thresholds(r).size() == 1u);
    r.calibration.broker_fraction = 0.9;
    r.calibration.broker = true;
    BOOST_TEST(check_thresholds(r).empty());
}

BOOST_AUTO_TEST_CASE(json_fields_are_present_and_consistent) {
    const auto r = sample_result();
    const auto v = json::parse(json::serialize(to_json(r))).as_object();
    const auto& run = v.at("run").as_object();
    for (const char* k : {"answers", "good", "rps", "good_rps", "latency", "status", "errors", "per_second",
                          "sent", "elapsed_s", "connections", "model", "scenario"})
        BOOST_TEST(run.contains(k), k);
    std::uint64_t by_status = 0;
    for (const auto& [code, n] : run.at("status").as_object()) by_status += n.to_number<std::uint64_t>();
    BOOST_TEST(by_status == run.at("answers").to_number<std::uint64_t>());
    BOOST_TEST(run.at("answers").to_number<std::uint64_t>() == 1000u);
    BOOST_TEST(run.at("good").to_number<std::uint64_t>() == 990u);
    BOOST_TEST(run.at("rps").to_number<double>() == 500.0);
    BOOST_TEST(run.at("errors").at("reset").to_number<std::uint64_t>() == 3u);
    std::uint64_t series = 0;
    for (const auto& n : run.at("per_second").as_array()) series += n.to_number<std::uint64_t>();
    BOOST_TEST(series == 1000u);
    BOOST_TEST(run.at("per_second").as_array().size() == 2u);  // trailing empty seconds trimmed
    const auto& lat = run.at("latency").as_object();
    const double p50 = lat.at("p50_ms").to_number<double>(), p90 = lat.at("p90_ms").to_number<double>(),
                 p99 = lat.at("p99_ms").to_number<double>(), p999 = lat.at("p99_9_ms").to_number<double>(),
                 max = lat.at("max_ms").to_number<double>();
    BOOST_TEST((p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max));
    BOOST_TEST(std::abs(p50 - 5.0) < 5.0 * precision + 1e-3);
    BOOST_TEST(max == 10.0);
    BOOST_TEST(v.at("e2e").at("lost").to_number<std::uint64_t>() == 1u);
    BOOST_TEST(v.at("passed").as_bool() == false);
    // Per second: the load's two seconds and the e2e's third (deliveries go on after the load).
    const auto& sec = v.at("series").as_array();
    BOOST_TEST_REQUIRE(sec.size() == 3u);
    BOOST_TEST(sec[0].at("answers").to_number<std::uint64_t>() == 400u);
    BOOST_TEST(sec[1].at("errors").to_number<std::uint64_t>() == 3u);
    BOOST_TEST(sec[1].at("p50_ms").to_number<double>() > sec[0].at("p99_ms").to_number<double>());
    BOOST_TEST(sec[1].at("e2e_delivered").to_number<std::uint64_t>() == 489u);
    BOOST_TEST(sec[1].at("e2e_p99_ms").to_number<double>() == 4.0);
    BOOST_TEST(sec[2].at("answers").to_number<std::uint64_t>() == 0u);
    BOOST_TEST(sec[1].at("cpu_s").at("jobsd").to_number<double>() == 0.3);
    BOOST_TEST(!sec[2].as_object().contains("cpu_s"));
    std::uint64_t binned = 0;
    for (const auto& b : run.at("distribution").as_array())
        binned += b.at("count").to_number<std::uint64_t>();
    BOOST_TEST(binned == 1000u);
    const auto& cpu = v.at("cpu").as_array();
    BOOST_TEST_REQUIRE(cpu.size() == 3u);
    BOOST_TEST(cpu[0].at("us_per_request").to_number<double>() == 500.0);
    BOOST_TEST(cpu[0].at("pids") == json::array{42});
    BOOST_TEST(cpu[2].at("pids") == (json::array{44, 45}));  // a group lists every process it sums
    BOOST_TEST(cpu[2].at("us_per_request").to_number<double>() == 250.0);
    BOOST_TEST(cpu[0].at("cpu_s").to_number<double>() == 0.5);
    BOOST_TEST(!cpu[1].as_object().contains("us_per_request"));  // no figure for a process that ended
    BOOST_TEST(cpu[1].at("error").as_string() == "process 43 ended during the run");
    BOOST_TEST(v.at("missed").as_array().size() == 1u);
}

BOOST_AUTO_TEST_CASE(html_is_self_contained) {
    const auto r = sample_result();
    std::ostringstream out;
    write_html_report(out, r);
    const std::string html = out.str();
    BOOST_TEST(html.starts_with("<!DOCTYPE html>"));
    BOOST_TEST(html.find("<svg") != std::string::npos);
    BOOST_TEST(html.find("<polyline") != std::string::npos);
    BOOST_TEST(html.find("http://") == std::string::npos);
    BOOST_TEST(html.find("https://") == std::string::npos);
    BOOST_TEST(html.find("<script") == std::string::npos);
    BOOST_TEST(html.find(" src=") == std::string::npos);
    BOOST_TEST(html.find("<&>") == std::string::npos);  // text is escaped
    BOOST_TEST(html.find("&lt;&amp;&gt;") != std::string::npos);
    BOOST_TEST(html.find("data-process=\"broker &lt;&amp;&gt;\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(html_has_every_chart_and_its_figures) {
    auto r = sample_result();
    r.calibration.enabled = true;
    r.calibration.broker = false;
    r.calibration.http.rps = 2000;
    const std::string html = [&] {
        std::ostringstream out;
        write_html_report(out, r);
        return out.str();
    }();
    for (const char* id :
         {"chart-latency-time", "chart-throughput", "chart-distribution", "chart-percentiles",
          "chart-calibration", "chart-e2e-time", "chart-e2e-percentiles", "chart-cpu", "chart-cpu-time"})
        BOOST_TEST(html.find(std::string("<svg id=\"") + id + "\"") != std::string::npos, id);
    BOOST_TEST(html.find("data-series=\"p99\"") != std::string::npos);
    BOOST_TEST(html.find("<td data-field=\"rps\">500</td>") != std::string::npos);
    BOOST_TEST(html.find("<td data-field=\"http_ceiling_rps\">2000</td>") != std::string::npos);
    BOOST_TEST(html.find("HTTP ceiling (built-in 201 server, 1 io thread) per second") != std::string::npos);
    BOOST_TEST(json::value_to<unsigned>(to_json(r).at("calibration").at("http_threads")) == 1u);
    BOOST_TEST(html.find("<td data-field=\"us_per_request\">500.0</td>") != std::string::npos);
    BOOST_TEST(html.find("<tr data-process=\"workers\"><td>workers</td><td>44, 45</td>") !=
               std::string::npos);
    BOOST_TEST(html.find("<td data-field=\"e2e_delivered\">489</td>") != std::string::npos);
    BOOST_TEST(html.find("<tr data-second=\"2\">") != std::string::npos);
    BOOST_TEST(html.find("<tr data-second=\"3\">") == std::string::npos);
    BOOST_TEST(html.find("broker confirms") == std::string::npos);  // --calibrate-http: no broker bar
    // The charts by second share the series' axis: 2 seconds of load, deliveries into a third.
    auto points = [&](const std::string& chart) {
        const auto at = html.find("points=\"", html.find("<svg id=\"" + chart + "\"")) + 8;
        std::istringstream in(html.substr(at, html.find('"', at) - at));
        std::size_t n = 0;
        for (std::string p; in >> p;) ++n;
        return n;
    };
    BOOST_TEST(points("chart-latency-time") == 3u);
    BOOST_TEST(points("chart-throughput") == 3u);
    BOOST_TEST(points("chart-e2e-time") == 3u);
    // The calibration's bars: jobsd, the built-in server and jobsd's pipeline (--e2e).
    const auto cal = html.substr(html.find("<svg id=\"chart-calibration\""));
    BOOST_TEST(cal.substr(0, cal.find("</svg>")).find("built-in 201 server") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(text_table_has_the_figures) {
    std::ostringstream out;
    write_text_report(out, sample_result());
    const std::string t = out.str();
    for (const char* k : {"p50", "p99.9", "req/s", "201: 990", "503: 10", "reset: 3", "lost 1",
                          "THRESHOLDS MISSED", "500.0 us per request", "not measured: process 43 ended"})
        BOOST_TEST(t.find(k) != std::string::npos, k);
}

BOOST_AUTO_TEST_SUITE_END()
