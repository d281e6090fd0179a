// jobs-bench's HTML report as a person sees it: headless Chromium loads the page (a fresh one
// from a short run against a real jobsd, and each example page under bench/reports/) and the
// dumped DOM must hold every chart with its drawn elements and the figures of the JSON report,
// formatted as the page formats them (html_report.hpp).
#define BOOST_TEST_MODULE bench_report_browser_tests
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/support/command_runner.hpp"
#include "tests/support/jobsd_process.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace jobsd::test;

namespace {

const std::string chromium = "/usr/bin/chromium";

std::string format(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

double number(const json::value& v) {
    return v.to_number<double>();
}

// Headless Chromium with the dashboard test's flags; `mode` is --dump-dom or --screenshot=FILE.
std::string run_chromium(const fs::path& page, const fs::path& work, const std::string& mode,
                         const std::string& log_name) {
    BOOST_TEST_REQUIRE(fs::exists(chromium),
                       chromium << " is missing; scripts/setup.sh installs Debian's chromium");
    const auto log = work / log_name;
    const auto r =
        run_command({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--user-data-dir=" + (work / "chromium").string(), "--window-size=1000,3000",
                     "--hide-scrollbars", mode, "file://" + fs::absolute(page).string()},
                    log, 90s);
    BOOST_TEST_REQUIRE(r.exit_code == 0, "chromium failed on " << page << ": " << r.output);
    return r.output;
}

// The element that starts with `open` (e.g. <svg id="chart-cpu") up to its closing `close`.
std::string element(const std::string& dom, const std::string& open, const std::string& close) {
    const auto at = dom.find(open);
    if (at == std::string::npos) return {};
    const auto end = dom.find(close, at);
    return dom.substr(at, end == std::string::npos ? std::string::npos : end + close.size() - at);
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// The text of the first cell <td data-field="name"> in `scope`.
std::string cell(const std::string& scope, const std::string& name) {
    const std::regex re("<td data-field=\"" + name + "\"[^>]*>([^<]*)</td>");
    std::smatch m;
    return std::regex_search(scope, m, re) ? std::string(m[1]) : std::string("(no cell " + name + ")");
}

// The points of the polyline of `series` in `svg`.
std::size_t polyline_points(const std::string& svg, const std::string& series) {
    const std::regex re("<polyline[^>]*data-series=\"" + series + "\"[^>]*points=\"([^\"]*)\"");
    std::smatch m;
    if (!std::regex_search(svg, m, re)) return 0;
    std::istringstream points{std::string(m[1])};
    std::size_t n = 0;
    for (std::string p; points >> p;) ++n;
    return n;
}

// A chart drawn with at least `rects` bars (rect elements) and the given polylines.
void check_chart(const std::string& dom, const std::string& id, std::size_t rects,
                 const std::vector<std::pair<std::string, std::size_t>>& lines = {}) {
    BOOST_TEST_CONTEXT("chart " << id) {
        const auto svg = element(dom, "<svg id=\"" + id + "\"", "</svg>");
        BOOST_TEST_REQUIRE(!svg.empty(), "no <svg id=\"" << id << "\"> in the page");
        BOOST_TEST(occurrences(svg, "<rect ") == rects);
        for (const auto& [series, points] : lines) {
            BOOST_TEST_INFO("series " << series);
            BOOST_TEST(polyline_points(svg, series) == std::max<std::size_t>(points, 2));
        }
    }
}

// Everything the page must show of the JSON report `doc`.
void check_report(const std::string& dom, const json::object& doc) {
    const auto& run = doc.at("run").as_object();
    const auto& lat = run.at("latency").as_object();
    const auto figures = element(dom, "<table id=\"figures\"", "</table>");
    BOOST_TEST(cell(figures, "rps") == format("%.0f", number(run.at("rps"))));
    BOOST_TEST(cell(figures, "p50_ms") == format("%.3f", number(lat.at("p50_ms"))));
    BOOST_TEST(cell(figures, "p99_ms") == format("%.3f", number(lat.at("p99_ms"))));
    BOOST_TEST(cell(figures, "p99_9_ms") == format("%.3f", number(lat.at("p99_9_ms"))));

    const auto& series = doc.at("series").as_array();
    BOOST_TEST_REQUIRE(series.size() >= 2u, "a run of a few seconds has a series of as many");
    const std::size_t n = series.size();
    check_chart(dom, "chart-latency-time", 0, {{"p50", n}, {"p99", n}});
    check_chart(dom, "chart-throughput", 0, {{"answers", n}, {"errors", n}});
    check_chart(dom, "chart-distribution", run.at("distribution").as_array().size());
    check_chart(dom, "chart-percentiles", 5);
    const auto by_second = element(dom, "<table id=\"series\"", "</table>");
    BOOST_TEST(occurrences(by_second, "<tr data-second=") == n);
    const auto& second1 = series.at(1).as_object();
    const auto row1 = element(by_second, "<tr data-second=\"1\">", "</tr>");
    BOOST_TEST(cell(row1, "answers") == format("%.0f", number(second1.at("answers"))));
    BOOST_TEST(cell(row1, "p99_ms") == format("%.3f", number(second1.at("p99_ms"))));

    if (const auto* cal = doc.if_contains("calibration")) {
        // Bars: jobsd, the built-in server when it ran, the broker when measured, jobsd's pipeline with
        // --e2e.
        const bool http = !cal->at("http").as_object().contains("fatal");
        const bool broker = !cal->as_object().contains("broker_error") && number(cal->at("broker_rps")) > 0;
        check_chart(dom, "chart-calibration", 1 + http + broker + doc.contains("e2e"));
        const auto table = element(dom, "<table id=\"calibration\"", "</table>");
        BOOST_TEST(cell(table, "http_ceiling_rps") == format("%.0f", number(cal->at("http_ceiling_rps"))));
    }
    if (const auto* e2e = doc.if_contains("e2e")) {
        check_chart(dom, "chart-e2e-time", 0, {{"p50", n}, {"p99", n}});
        const auto table = element(dom, "<table id=\"e2e\"", "</table>");
        BOOST_TEST(cell(table, "delivered") == format("%.0f", number(e2e->at("delivered"))));
        BOOST_TEST(cell(table, "e2e_p99_ms") == format("%.3f", number(e2e->at("latency").at("p99_ms"))));
    }
    if (const auto* cpu = doc.if_contains("cpu")) {
        std::size_t measured = 0;
        for (const auto& p : cpu->as_array()) measured += !p.as_object().contains("error");
        check_chart(dom, "chart-cpu", measured);
        std::vector<std::pair<std::string, std::size_t>> lines;  // one per process, a point per sample
        for (const auto& p : cpu->as_array())
            if (!p.as_object().contains("error")) {
                std::size_t samples = 0;
                for (const auto& sec : series)
                    if (const auto* by = sec.as_object().if_contains("cpu_s"))
                        samples += by->as_object().contains(p.at("name").as_string());
                lines.emplace_back(std::string(p.at("name").as_string()), samples);
            }
        check_chart(dom, "chart-cpu-time", 0, lines);
        const auto table = element(dom, "<table id=\"cpu\"", "</table>");
        for (const auto& p : cpu->as_array()) {
            const std::string name(p.at("name").as_string());
            BOOST_TEST_CONTEXT("process " << name) {
                const auto row = element(table, "<tr data-process=\"" + name + "\">", "</tr>");
                BOOST_TEST_REQUIRE(!row.empty());
                if (p.as_object().contains("error")) continue;
                BOOST_TEST(cell(row, "us_per_request") == format("%.1f", number(p.at("us_per_request"))));
                BOOST_TEST(cell(row, "cpu_s") == format("%.3f", number(p.at("cpu_s"))));
            }
        }
    }
}

json::object read_json(const fs::path& file) {
    const std::string text = read_text(file);
    BOOST_TEST_REQUIRE(!text.empty(), "no JSON report at " << file);
    return json::parse(text).as_object();
}

}  // namespace

// A 3-second run against a jobsd of the project's own configuration and demo seed (no broker),
// with the HTTP calibration and jobsd's CPU named; then the page in Chromium.
BOOST_AUTO_TEST_CASE(fresh_report_renders_with_the_json_figures) {
    temp_dir dir{"bench-report"};
    const std::string src = required_env("JOBSD_SOURCE_DIR");
    jobsd_options o;
    o.config = src + "/conf/jobsd.json";
    o.seed = src + "/conf/seed.json";
    o.env = {{"JOBSD_AMQP_ENABLED", "false"}};
    auto server = start_jobsd(dir, o);
    const auto json_file = dir.path() / "report.json", html_file = dir.path() / "report.html";
    const auto bench =
        run_command({required_env("JOBS_BENCH_BIN"), "--quiet", "-c", "8", "-t", "1", "-d", "3",
                     "--calibrate-http", "--payload", src + "/conf/bench/mix.json", "--watch-pid",
                     "jobsd=" + std::to_string(server->pid()), "--json", json_file.string(), "--html",
                     html_file.string(), "http://" + server->host() + ":" + std::to_string(server->port())},
                    dir.path() / "jobs-bench.log", 120s);
    BOOST_TEST_MESSAGE("jobs-bench:\n" << bench.output);
    BOOST_TEST_REQUIRE(bench.exit_code == 0,
                       "jobs-bench failed: " << bench.output << "\njobsd: " << server->diagnosis());
    server->stop();

    const auto doc = read_json(json_file);
    BOOST_TEST_REQUIRE(doc.contains("cpu"));
    BOOST_TEST(number(doc.at("cpu").at(0).at("us_per_request")) > 0.0);  // jobsd worked for its answers
    const std::string dom = run_chromium(html_file, dir.path(), "--dump-dom", "dom.log");
    check_report(dom, doc);

    const fs::path out_dir = required_env("JOBSD_TEST_OUTPUT_DIR");
    fs::create_directories(out_dir);
    const fs::path shot = out_dir / "bench-report.png";
    fs::remove(shot);
    run_chromium(html_file, dir.path(), "--screenshot=" + shot.string(), "shot.log");
    BOOST_TEST_REQUIRE(fs::exists(shot), "no screenshot at " << shot);
    BOOST_TEST(fs::file_size(shot) > 10'000u);
}

// Each page under bench/reports/ beside its JSON (NAME.html and NAME.json) renders and shows it.
BOOST_AUTO_TEST_CASE(checked_in_reports_render_with_their_json_figures) {
    temp_dir dir{"bench-reports"};
    const fs::path reports = fs::path(required_env("JOBSD_SOURCE_DIR")) / "bench" / "reports";
    std::size_t checked = 0;
    for (const auto& entry : fs::directory_iterator(reports)) {
        if (entry.path().extension() != ".html") continue;
        BOOST_TEST_CONTEXT(entry.path().filename()) {
            auto json_file = entry.path();
            json_file.replace_extension(".json");
            const auto doc = read_json(json_file);
            check_report(run_chromium(entry.path(), dir.path(), "--dump-dom", "dom.log"), doc);
            ++checked;
        }
    }
    BOOST_TEST(checked >= 1u, "no report page under " << reports);
}
