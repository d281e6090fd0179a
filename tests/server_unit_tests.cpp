// Unit tests of the sans-I/O parts of server/: the route table, configuration loading, the key
// cache, the metrics text and the error response bodies.
#define BOOST_TEST_MODULE server
#include <boost/test/unit_test.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "model/api_key.hpp"
#include "server/catalog_cache.hpp"
#include "server/config.hpp"
#include "server/header_lookup.hpp"
#include "server/http_types.hpp"
#include "server/idle_deadline.hpp"
#include "server/message_head.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"
#include "tests/support/jobsd_process.hpp"

extern char** environ;

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace jobsd::server;
using boost::beast::http::verb;

namespace {

// The route a method and target reach in jobsd's table: its name, "none" (404) or
// "wrong_method" (405).
route_match match(verb method, std::string_view target) {
    return match_route(route_table(), method, target);
}

std::string_view name_of(const route_match& m) {
    switch (m.result) {
        case route_match::outcome::found:
            return m.which->name;
        case route_match::outcome::wrong_method:
            return "wrong_method";
        case route_match::outcome::not_found:
            break;
    }
    return "none";
}

const route& route_named(std::string_view name) {
    for (const auto& r : route_table())
        if (r.name == name) return r;
    throw std::runtime_error("no route named " + std::string(name));
}

bool needs_api_key(std::string_view name) {
    return route_named(name).who == access::customer_key;
}
bool needs_operator_key(std::string_view name) {
    return route_named(name).who == access::operator_key;
}

void check_route(verb method, std::string_view target, std::string_view expected,
                 std::string_view param = {}) {
    const auto m = match(method, target);
    BOOST_TEST_INFO(boost::beast::http::to_string(method) << " " << target);
    BOOST_TEST(name_of(m) == expected);
    BOOST_TEST_INFO(boost::beast::http::to_string(method) << " " << target);
    BOOST_TEST(m.param == param);
}

void check_405(verb method, std::string_view target, std::string_view allow) {
    const auto m = match(method, target);
    BOOST_TEST_INFO(boost::beast::http::to_string(method) << " " << target);
    BOOST_TEST(name_of(m) == "wrong_method");
    BOOST_TEST_INFO(boost::beast::http::to_string(method) << " " << target);
    BOOST_TEST(m.allow == allow);
}

// The test support's scratch directory, with a way to drop a file into it.
struct temp_dir : jobsd::test::temp_dir {
    temp_dir() : jobsd::test::temp_dir("jobsd-server-tests") {}
    fs::path write(const std::string& name, const std::string& text) const {
        const auto file = path() / name;
        std::ofstream out(file);
        out << text;
        return file;
    }
};

// Every test of configuration starts and ends without JOBSD_* variables, whatever the shell had.
struct clean_environment {
    clean_environment() { clear(); }
    ~clean_environment() { clear(); }
    static void clear() {
        std::vector<std::string> names;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string entry = *e;
            if (entry.starts_with("JOBSD_")) names.push_back(entry.substr(0, entry.find('=')));
        }
        for (const auto& n : names) ::unsetenv(n.c_str());
    }
};

config load(std::vector<std::string> args, bool* help_out = nullptr) {
    args.insert(args.begin(), "jobsd");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    bool help = false;
    auto c = load_config(static_cast<int>(argv.size()), argv.data(), help);
    if (help_out) *help_out = help;
    return c;
}

// Expects load() to throw config_error whose message contains every one of `words`.
void check_refused(const std::vector<std::string>& args, const std::vector<std::string>& words) {
    try {
        load(args);
        BOOST_ERROR("configuration accepted; expected an error naming " << words.front());
    } catch (const config_error& e) {
        const std::string what = e.what();
        for (const auto& w : words) {
            BOOST_TEST_INFO("message: " << what);
            BOOST_TEST(what.find(w) != std::string::npos, "should contain " << w);
        }
    }
}

constexpr std::string_view config_file_text = R"({
  // Comments and trailing commas are allowed.
  "server": {
    "listen": "0.0.0.0",   /* every interface */
    "port": 9090,
    "threads": 2,
    "read_timeout_ms": 1500,
  },
  "store": {"url": "sqlite:var/other.db", "batch_max": 64, "synchronous_full": false},
  "seed": {"file": "conf/seed.json"},
  "log": {"level": "debug"}
})";

}  // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(each_route_with_its_method) {
    check_route(verb::post, "/jobs/v2", "create_job");
    check_route(verb::get, "/jobs/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "get_job",
                "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    check_route(verb::get, "/jobs/v2/events", "job_events");
    check_route(verb::get, "/api/provider/projects/active", "active_projects");
    check_route(verb::get, "/api/provider/projects/p-17/mapping-fields", "mapping_fields", "p-17");
    check_route(verb::get, "/healthz", "healthz");
    check_route(verb::get, "/metrics", "metrics");
    check_route(verb::get, "/api/queues", "queues");
    check_route(verb::get, "/api/dashboard", "dashboard_data");
    // The file is optional: the page's handler serves index.html for none.
    check_route(verb::get, "/dashboard", "dashboard_page", "");
    check_route(verb::get, "/dashboard/", "dashboard_page", "");
    check_route(verb::get, "/dashboard/dashboard.js", "dashboard_page", "dashboard.js");
    check_route(verb::get, "/dashboard/a/b.js", "none");
}

BOOST_AUTO_TEST_CASE(operator_routes_need_an_operator_key_only) {
    BOOST_TEST(needs_operator_key("queues"));
    BOOST_TEST(needs_operator_key("dashboard_data"));
    BOOST_TEST(!needs_api_key("queues"));
    BOOST_TEST(!needs_api_key("dashboard_data"));
    BOOST_TEST(!needs_operator_key("dashboard_page"));  // the page holds no data
    BOOST_TEST(!needs_operator_key("create_job"));
    BOOST_TEST(!needs_operator_key("metrics"));
}

BOOST_AUTO_TEST_CASE(trailing_slash_is_the_same_route) {
    check_route(verb::post, "/jobs/v2/", "create_job");
    check_route(verb::get, "/jobs/abc/", "get_job", "abc");
    check_route(verb::get, "/api/provider/projects/active/", "active_projects");
    check_route(verb::get, "/api/provider/projects/p-17/mapping-fields/", "mapping_fields", "p-17");
    check_route(verb::get, "/healthz/", "healthz");
}

BOOST_AUTO_TEST_CASE(query_string_is_ignored) {
    check_route(verb::post, "/jobs/v2?debug=1", "create_job");
    check_route(verb::get, "/jobs/v2?limit=5", "list_jobs");
    check_route(verb::post, "/jobs/v2/batch?x=1", "create_batch");
    check_route(verb::get, "/jobs/v2/events?session_id=s-1", "job_events");
    check_route(verb::get, "/jobs/abc?fields=status&x=/y", "get_job", "abc");
    check_route(verb::get, "/api/provider/projects/p-17/mapping-fields?lang=en", "mapping_fields", "p-17");
    check_route(verb::get, "/metrics?", "metrics");
    check_route(verb::get, "/nowhere?to=/healthz", "none");
}

BOOST_AUTO_TEST_CASE(unknown_paths_are_404) {
    for (std::string_view target :
         {"/", "", "/jobs", "/jobs/", "/jobs//", "/jobs/a/b", "/jobs/v2/x", "/Jobs/v2", "/healthzz",
          "/api/provider/projects", "/api/provider/projects/", "/api/provider/projects//mapping-fields",
          "/api/provider/projects/a/b/mapping-fields", "/api/provider/projects/p/mapping-fields/x"}) {
        for (verb method : {verb::get, verb::post}) {
            const auto m = match(method, target);
            BOOST_TEST_INFO(boost::beast::http::to_string(method) << " " << target);
            BOOST_TEST(name_of(m) == "none");
        }
    }
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
    check_405(verb::put, "/jobs/v2/", "POST, GET, HEAD");
    check_405(verb::delete_, "/jobs/v2", "POST, GET, HEAD");
    check_405(verb::get, "/jobs/v2/batch", "POST");
    check_405(verb::post, "/jobs/abc", "GET, HEAD");
    check_405(verb::post, "/jobs/v2/events", "GET");
    check_405(verb::delete_, "/jobs/abc?x=1", "GET, HEAD");
    check_405(verb::post, "/api/provider/projects/active", "GET, HEAD");
    check_405(verb::post, "/api/provider/projects/p/mapping-fields", "GET, HEAD");
    check_405(verb::post, "/healthz", "GET, HEAD");
    BOOST_TEST(match(verb::post, "/jobs/abc").param.empty());
}

// HEAD is served by a path's GET row when it answers; a stream (Server-Sent Events) has no head
// apart from its body, and a path without GET has none either.
BOOST_AUTO_TEST_CASE(head_takes_the_get_row_that_answers) {
    check_route(verb::head, "/metrics", "metrics");
    check_route(verb::head, "/jobs/abc", "get_job", "abc");
    check_route(verb::head, "/jobs/v2?limit=5", "list_jobs");
    check_route(verb::head, "/dashboard", "dashboard_page");
    check_405(verb::head, "/jobs/v2/events", "GET");
    check_405(verb::head, "/jobs/v2/batch", "POST");
    check_405(verb::head, "/jobs/abc/cancel", "POST");
}

BOOST_AUTO_TEST_CASE(a_rows_fewest_parameters_count_an_absent_optional_one_as_none) {
    BOOST_TEST(route::fewest_params("/jobs/v2") == 0);
    BOOST_TEST(route::fewest_params("/jobs/:id/cancel") == 1);
    BOOST_TEST(route::fewest_params("/api/webhooks/deliveries/:id/redeliver") == 1);
    BOOST_TEST(route::fewest_params("/dashboard/:file?") == 0);
    BOOST_TEST(route::fewest_params("/a/:x/b/:y?") == 1);
    // Each row's fewest is reached: the row's own pattern with every parameter filled and an
    // optional last one left out matches it with exactly that many parameters.
    for (const auto& r : route_table()) {
        std::string path;
        std::string_view rest = r.pattern.substr(1);
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            const auto seg = rest.substr(0, slash);
            rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
            if (seg.starts_with(':') && seg.ends_with('?')) break;
            path += '/';
            path += seg.starts_with(':') ? std::string_view("x") : seg;
        }
        std::string_view param;
        int n = -1;
        BOOST_TEST_INFO(r.pattern << " as " << path);
        BOOST_TEST(match_pattern(r.pattern, path, param, n));
        BOOST_TEST(n == r.min_params);
    }
}

BOOST_AUTO_TEST_CASE(only_customer_routes_need_a_key) {
    BOOST_TEST(needs_api_key("create_job"));
    BOOST_TEST(needs_api_key("list_jobs"));
    BOOST_TEST(needs_api_key("create_batch"));
    BOOST_TEST(!needs_api_key("openapi"));
    BOOST_TEST(!needs_api_key("docs_page"));
    BOOST_TEST(needs_api_key("get_job"));
    BOOST_TEST(needs_api_key("job_events"));
    BOOST_TEST(needs_api_key("active_projects"));
    BOOST_TEST(needs_api_key("mapping_fields"));
    BOOST_TEST(!needs_api_key("healthz"));
    BOOST_TEST(!needs_api_key("metrics"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(configuration, clean_environment)

BOOST_AUTO_TEST_CASE(defaults_without_a_file) {
    bool help = true;
    const config c = load({}, &help);
    BOOST_TEST(!help);
    BOOST_TEST(c.server.listen == "127.0.0.1");
    BOOST_TEST(c.server.port == 8080);
    BOOST_TEST(c.server.threads == 0u);
    BOOST_TEST(c.server.body_limit == 1024u * 1024u);
    BOOST_TEST(c.server.read_timeout.count() == 10'000);
    BOOST_TEST(c.store.url == "sqlite:var/jobsd.db");
    BOOST_TEST(c.store.common.batch_max == 1024u);
    BOOST_TEST(c.store.sqlite.synchronous_full);
    BOOST_TEST(c.seed_file == "");
    BOOST_TEST(c.log.level == "info");
}

BOOST_AUTO_TEST_CASE(file_with_comments_sets_values) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", std::string(config_file_text));
    const config c = load({"--config", file.string()});
    BOOST_TEST(c.server.listen == "0.0.0.0");
    BOOST_TEST(c.server.port == 9090);
    BOOST_TEST(c.server.threads == 2u);
    BOOST_TEST(c.server.read_timeout.count() == 1500);
    BOOST_TEST(c.server.idle_timeout.count() == 60'000);  // untouched keys keep their default
    BOOST_TEST(c.store.url == "sqlite:var/other.db");
    BOOST_TEST(c.store.common.batch_max == 64u);
    BOOST_TEST(!c.store.sqlite.synchronous_full);
    BOOST_TEST(c.seed_file == "conf/seed.json");
    BOOST_TEST(c.log.level == "debug");
    // --config=FILE is the same flag.
    BOOST_TEST(load({"--config=" + file.string()}).server.port == 9090);
}

BOOST_AUTO_TEST_CASE(unknown_key_is_named) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", R"({"server": {"port": 1, "nope": 2}})");
    check_refused({"--config", file.string()}, {"server.nope", file.string()});
}

BOOST_AUTO_TEST_CASE(wrong_type_is_named) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", R"({"server": {"port": "x"}})");
    check_refused({"--config", file.string()}, {"server.port"});
    const auto flag = dir.write("flag.json", R"({"store": {"synchronous_full": 1}})");
    check_refused({"--config", flag.string()}, {"store.synchronous_full"});
    const auto listen = dir.write("listen.json", R"({"server": {"listen": 80}})");
    check_refused({"--config", listen.string()}, {"server.listen"});
}

BOOST_AUTO_TEST_CASE(out_of_range_is_named) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", R"({"server": {"port": 70000}})");
    check_refused({"--config", file.string()}, {"server.port", "70000"});
    const auto negative = dir.write("negative.json", R"({"server": {"port": -1}})");
    check_refused({"--config", negative.string()}, {"server.port"});
    check_refused({"--threads", "257"}, {"server.threads"});
    // The bounds themselves are accepted.
    const auto edge = dir.write("edge.json", R"({"server": {"port": 65535, "threads": 256}})");
    const config c = load({"--config", edge.string()});
    BOOST_TEST(c.server.port == 65535);
    BOOST_TEST(c.server.threads == 256u);
}

BOOST_AUTO_TEST_CASE(unreadable_or_invalid_file_is_refused) {
    temp_dir dir;
    check_refused({"--config", (fs::temp_directory_path() / "jobsd_no_such_dir" / "x.json").string()},
                  {"x.json"});
    const auto broken = dir.write("broken.json", R"({"server": {"port": 1)");
    check_refused({"--config", broken.string()}, {broken.string()});
    const auto section = dir.write("section.json", R"({"server": 3})");
    check_refused({"--config", section.string()}, {"server"});
}

BOOST_AUTO_TEST_CASE(environment_overrides_the_file) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", std::string(config_file_text));
    ::setenv("JOBSD_SERVER_THREADS", "7", 1);
    ::setenv("JOBSD_STORE_URL", "sqlite:var/env.db", 1);
    const config c = load({"--config", file.string()});
    BOOST_TEST(c.server.threads == 7u);
    BOOST_TEST(c.store.url == "sqlite:var/env.db");
    BOOST_TEST(c.server.port == 9090);  // not overridden
}

BOOST_AUTO_TEST_CASE(environment_values_are_validated) {
    ::setenv("JOBSD_SERVER_PORT", "70000", 1);
    check_refused({}, {"JOBSD_SERVER_PORT", "server.port"});
    ::setenv("JOBSD_SERVER_PORT", "eighty", 1);
    check_refused({}, {"server.port"});
}

BOOST_AUTO_TEST_CASE(webhook_threads_and_their_priority_are_bounded) {
    const config defaults = load({});
    BOOST_TEST(defaults.webhooks.threads == 1u);
    BOOST_TEST(defaults.webhooks.nice == 10u);
    BOOST_TEST(defaults.webhooks.yield_writes == 4u);
    ::setenv("JOBSD_WEBHOOKS_NICE", "19", 1);
    BOOST_TEST(load({}).webhooks.nice == 19u);
    ::setenv("JOBSD_WEBHOOKS_NICE", "20", 1);  // Linux's lowest priority is 19
    check_refused({}, {"webhooks.nice", "between 0 and 19"});
    ::unsetenv("JOBSD_WEBHOOKS_NICE");
    ::setenv("JOBSD_WEBHOOKS_THREADS", "0", 1);
    check_refused({}, {"webhooks.threads"});
}

BOOST_AUTO_TEST_CASE(flag_overrides_the_environment) {
    temp_dir dir;
    const auto file = dir.write("jobsd.json", std::string(config_file_text));
    ::setenv("JOBSD_SERVER_PORT", "8000", 1);
    const config c = load({"--config", file.string(), "--port", "9"});
    BOOST_TEST(c.server.port == 9);
    BOOST_TEST(load({"--port=10"}).server.port == 10);
    // Flags parsed before --config still win over the file.
    BOOST_TEST(load({"--threads", "3", "--config", file.string()}).server.threads == 3u);
    BOOST_TEST(load({"--store", "sqlite:/data/jobs.db"}).store.url == "sqlite:/data/jobs.db");
}

BOOST_AUTO_TEST_CASE(unknown_or_incomplete_flag_is_refused) {
    check_refused({"--nope", "1"}, {"--nope"});
    check_refused({"--port"}, {"--port"});
    check_refused({"--port", "x"}, {"server.port"});
}

BOOST_AUTO_TEST_CASE(help_is_reported) {
    bool help = false;
    load({"--help"}, &help);
    BOOST_TEST(help);
    load({"-h"}, &help);
    BOOST_TEST(help);
    load({"--port", "9"}, &help);
    BOOST_TEST(!help);
    BOOST_TEST(config_usage().find("--port") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(header_lookup)

// A header as Beast's parser leaves it: fields in the order received, names in the case sent.
boost::beast::http::request_header<> parsed_header(std::string_view head) {
    boost::beast::http::request_parser<boost::beast::http::empty_body> p;
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(head.data(), head.size()), ec);
    BOOST_TEST_REQUIRE(!ec.failed(), ec.message());
    return p.get().base();
}

BOOST_AUTO_TEST_CASE(answers_as_beasts_own_lookups_do) {
    namespace http = boost::beast::http;
    const auto h = parsed_header(
        "POST /jobs/v2 HTTP/1.1\r\nHost: a\r\ncontent-TYPE: application/json; charset=utf-8\r\n"
        "X-API-KEY: first\r\nTraceparent: 00-x\r\nx-api-key: second\r\nContent-Length: 0\r\n"
        "Idempotency-Key: k1\r\nX-Custom: \r\n\r\n");
    BOOST_TEST(header_value(h, http::field::content_type) == "application/json; charset=utf-8");
    BOOST_TEST(header_value(h, http::field::content_length) == "0");
    BOOST_TEST(header_value(h, http::field::transfer_encoding) == "");
    BOOST_TEST(header_value(h, "x-api-key") == "first");  // the first received, any case
    BOOST_TEST(header_count(h, "X-Api-Key") == 2u);
    BOOST_TEST(header_count(h, "x-api-ke") == 0u);
    BOOST_TEST(header_count(h, "nowhere") == 0u);
    for (std::string_view name :
         {"x-api-key", "X-API-KEY", "traceparent", "idempotency-key", "Idempotency-Key", "x-custom",
          "content-type", "Content-Length", "Host", "x-request-id", "x"}) {
        BOOST_TEST_INFO(name);
        BOOST_TEST(header_value(h, name) == std::string_view(h[name]));
        BOOST_TEST(header_count(h, name) == h.count(name));
    }
    for (auto f : {http::field::host, http::field::content_type, http::field::content_length,
                   http::field::authorization, http::field::connection}) {
        BOOST_TEST_INFO(http::to_string(f));
        BOOST_TEST(header_value(h, f) == std::string_view(h[f]));
    }
}

BOOST_AUTO_TEST_CASE(optional_whitespace_is_spaces_and_tabs_at_either_end) {
    using jobsd::server::trim_ows;
    BOOST_TEST(trim_ows(" \t chunked \t") == "chunked");
    BOOST_TEST(trim_ows("a b") == "a b");  // inside a value it stays
    BOOST_TEST(trim_ows(" \t ") == "");
    BOOST_TEST(trim_ows("") == "");
    BOOST_TEST(trim_ows("\r\nx") == "\r\nx");  // not line ends: the parser has refused those
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(key_cache)

// SHA-256("abc"), from FIPS 180-2: the catalog holds hashes, never keys.
constexpr std::string_view abc_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

BOOST_AUTO_TEST_CASE(authenticates_by_the_hash_of_the_key) {
    catalog_cache cache;
    jobsd::model::catalog cat;
    cat.account_by_key_hash.emplace(std::string(abc_sha256), "acc_a");
    const auto account = cache.authenticate(cat, "abc");
    BOOST_REQUIRE(account.has_value());
    BOOST_TEST(*account == "acc_a");
    BOOST_TEST(!cache.authenticate(cat, "ABC").has_value());
    BOOST_TEST(!cache.authenticate(cat, "abc ").has_value());
    BOOST_TEST(!cache.authenticate(cat, std::string(abc_sha256)).has_value());  // the hash is not a key
}

BOOST_AUTO_TEST_CASE(refuses_empty_unknown_and_oversized_keys) {
    catalog_cache cache;
    jobsd::model::catalog cat;
    const std::string long_key(300, 'k');
    const std::string longest_key(256, 'k');
    cat.account_by_key_hash.emplace(std::string(abc_sha256), "acc_a");
    // Even a stored oversized key is refused: length is checked before the lookup.
    cat.account_by_key_hash.emplace(jobsd::model::hash_api_key(long_key), "acc_long");
    cat.account_by_key_hash.emplace(jobsd::model::hash_api_key(longest_key), "acc_256");
    cat.account_by_key_hash.emplace(jobsd::model::hash_api_key(""), "acc_empty");
    BOOST_TEST(!cache.authenticate(cat, "").has_value());
    BOOST_TEST(!cache.authenticate(cat, "unknown-key").has_value());
    BOOST_TEST(!cache.authenticate(cat, long_key).has_value());
    BOOST_TEST(cache.authenticate(cat, longest_key).value_or("") == "acc_256");
}

BOOST_AUTO_TEST_CASE(replace_swaps_snapshots) {
    catalog_cache cache;
    const auto initial = cache.get();
    BOOST_REQUIRE(initial);
    BOOST_TEST(initial->account_by_key_hash.empty());

    auto next = std::make_shared<jobsd::model::catalog>();
    next->account_by_key_hash.emplace(std::string(abc_sha256), "acc_a");
    cache.replace(next);
    const auto current = cache.get();
    BOOST_TEST(current.get() == next.get());
    BOOST_TEST(cache.authenticate(*current, "abc").value_or("") == "acc_a");
    // A snapshot taken before the swap is unchanged and still usable.
    BOOST_TEST(initial->account_by_key_hash.empty());
    BOOST_TEST(!cache.authenticate(*initial, "abc").has_value());

    cache.replace(std::make_shared<const jobsd::model::catalog>());
    BOOST_TEST(!cache.authenticate(*cache.get(), "abc").has_value());
    BOOST_TEST(cache.authenticate(*current, "abc").value_or("") == "acc_a");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics_text)

BOOST_AUTO_TEST_CASE(store_counters_are_rendered) {
    metrics m(slot_names(route_table()));
    jobsd::store::store_stats stats;
    stats.transactions = 7;
    stats.jobs_committed = 1234;
    stats.write_queue = 3;
    const auto text = m.render(stats);
    BOOST_TEST_INFO(text);
    BOOST_TEST(text.find("\njobsd_store_transactions_total 7\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_store_jobs_committed_total 1234\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_store_write_queue 3\n") != std::string::npos);
    BOOST_TEST(text.find("# TYPE jobsd_store_transactions_total counter\n") != std::string::npos);
    BOOST_TEST(text.find("jobsd_http_responses_total{") == std::string::npos);  // nothing counted yet
}

BOOST_AUTO_TEST_CASE(jobs_gauge_has_every_type_and_status) {
    metrics m(slot_names(route_table()));
    using jobsd::model::job_status;
    using jobsd::model::job_type;
    std::vector<jobsd::store::job_count> counts{{job_type::video, job_status::queued, 4},
                                                {job_type::video, job_status::success, 2}};
    const auto text = m.render({}, nullptr, &counts);
    BOOST_TEST_INFO(text);
    BOOST_TEST(text.find("# TYPE jobsd_jobs gauge\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_jobs{job_type=\"video\",status=\"QUEUED\"} 4\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_jobs{job_type=\"video\",status=\"SUCCESS\"} 2\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_jobs{job_type=\"pdf\",status=\"IN_PROGRESS\"} 0\n") != std::string::npos);
    BOOST_TEST(m.render({}).find("jobsd_jobs{") == std::string::npos);  // not read: no lines
}

BOOST_AUTO_TEST_CASE(responses_are_counted_per_code) {
    metrics m(slot_names(route_table()));
    m.count_response(201);
    m.count_response(201);
    m.count_response(404);
    m.count_response(600);  // out of range: ignored, not a crash
    m.count_job_created(jobsd::model::job_type::tts);
    m.connection_opened();
    m.connection_opened();
    m.connection_closed();
    const auto text = m.render({});
    BOOST_TEST_INFO(text);
    BOOST_TEST(text.find("\njobsd_http_responses_total{code=\"201\"} 2\n") != std::string::npos);
    BOOST_TEST_INFO(text);
    BOOST_TEST(text.find("\njobsd_http_responses_total{code=\"404\"} 1\n") != std::string::npos);
    BOOST_TEST(text.find("code=\"200\"") == std::string::npos);
    BOOST_TEST(text.find("code=\"600\"") == std::string::npos);
    BOOST_TEST(text.find("\njobsd_jobs_created_total{job_type=\"tts\"} 1\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_jobs_created_total{job_type=\"video\"} 0\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_http_connections 1\n") != std::string::npos);
    BOOST_TEST(text.find("\njobsd_store_transactions_total 0\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(in_flight_requests_are_tracked) {
    metrics m(slot_names(route_table()));
    m.request_started();
    m.request_started();
    m.request_finished();
    BOOST_TEST(m.requests_in_flight() == 1);
    const auto text = m.render({});
    BOOST_TEST(text.find("\njobsd_http_requests_in_flight 1\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(responses)

BOOST_AUTO_TEST_CASE(request_error_has_message_and_field_errors) {
    jobsd::model::request_error e{jobsd::model::request_error::kind::invalid_fields,
                                  "Invalid request",
                                  {{"type", "is required"}, {"session_id", "must be a string"}}};
    const auto res = request_error_response(e);
    BOOST_TEST(res.result_int() == 400u);
    BOOST_TEST(res[boost::beast::http::field::content_type] == "application/json");
    BOOST_TEST(res[boost::beast::http::field::content_length] == std::to_string(res.body().size()));
    const auto body = json::parse(res.body()).as_object();
    BOOST_TEST(body.at("message").as_string() == "Invalid request");
    const auto& errors = body.at("errors").as_array();
    BOOST_REQUIRE(errors.size() == 2u);
    BOOST_TEST(errors[0].at("field").as_string() == "type");
    BOOST_TEST(errors[0].at("problem").as_string() == "is required");
    BOOST_TEST(errors[1].at("field").as_string() == "session_id");
    BOOST_TEST(errors[1].at("problem").as_string() == "must be a string");
}

BOOST_AUTO_TEST_CASE(malformed_body_error_is_400_with_message) {
    jobsd::model::request_error e{
        jobsd::model::request_error::kind::malformed_json, "Body is not \"JSON\"", {}};
    const auto res = request_error_response(e);
    BOOST_TEST(res.result_int() == 400u);
    const auto body = json::parse(res.body()).as_object();
    BOOST_TEST(body.at("message").as_string() == "Body is not \"JSON\"");  // escaped, not broken
}

// jobsd writes an answer as response_head() and the body in one gathered write: the bytes must be
// the ones Beast's own serializer writes for the same message, for every shape jobsd sends.
BOOST_AUTO_TEST_CASE(response_head_and_body_are_the_bytes_beasts_serializer_writes) {
    namespace http = boost::beast::http;
    std::vector<response> answers;
    answers.push_back(json_response(http::status::created, R"({"uuid":"x"})"));
    answers.push_back(message_response(http::status::service_unavailable, "Server is shutting down"));
    answers.back().set(http::field::retry_after, "1");
    answers.back().keep_alive(false);
    answers.push_back(message_response(http::status::not_found, "Job not found"));
    answers.back().version(10);
    answers.back().keep_alive(true);
    answers.push_back(json_response(http::status::ok, std::string(70000, 'x')));  // a large body
    set_page_security_headers(answers.back());
    answers.push_back(json_response(http::status::no_content, ""));
    answers.push_back(json_response(http::status::too_many_requests, "{}"));
    answers.back().reason("Slow Down");  // a reason of its own
    for (auto& res : answers) {
        res.set("X-Request-Id", "req-1");
        std::ostringstream beast_bytes;
        beast_bytes << res;
        BOOST_TEST(response_head(res) + res.body() == beast_bytes.str());
    }
}

// The webhook sender writes its requests the same way: request_head() and the body.
BOOST_AUTO_TEST_CASE(request_head_and_body_are_the_bytes_beasts_serializer_writes) {
    namespace http = boost::beast::http;
    std::vector<http::request<http::string_body>> requests;
    requests.emplace_back(http::verb::post, "/hooks/in?x=1&y=%20", 11);
    requests.back().set(http::field::host, "example.com:8443");
    requests.back().set("webhook-id", "msg_0190f2a4");
    requests.back().keep_alive(true);
    requests.back().body() = R"({"type":"job.succeeded"})";
    requests.emplace_back(http::verb::get, "/", 10);
    requests.back().keep_alive(false);
    for (auto& req : requests) {
        req.prepare_payload();
        std::ostringstream beast_bytes;
        beast_bytes << req;
        BOOST_TEST(request_head(req) + req.body() == beast_bytes.str());
    }
}

BOOST_AUTO_TEST_CASE(message_response_is_json) {
    const auto res = message_response(boost::beast::http::status::not_found, "Job not found");
    BOOST_TEST(res.result_int() == 404u);
    BOOST_TEST(res[boost::beast::http::field::content_type] == "application/json");
    BOOST_TEST(json::parse(res.body()).as_object().at("message").as_string() == "Job not found");
}

BOOST_AUTO_TEST_SUITE_END()

// The gate's outbox count keeps to a second while it is cheap and gives a reader at most a
// twentieth of its time once the backlog makes it slow.
BOOST_AUTO_TEST_CASE(outbox_count_pause_stretches_with_what_a_count_costs) {
    using namespace std::chrono_literals;
    BOOST_TEST(jobsd::server::outbox_count_pause(0ms).count() == 1000);
    BOOST_TEST(jobsd::server::outbox_count_pause(40ms).count() == 1000);
    BOOST_TEST(jobsd::server::outbox_count_pause(80ms).count() == 1600);
    BOOST_TEST(jobsd::server::outbox_count_pause(5s).count() == 100000);
    BOOST_TEST(jobsd::server::outbox_count_pause(std::chrono::microseconds(50001)).count() ==
               1020);  // rounded up
    // The fair queue counts with no floor: a cheap count may come again at once.
    BOOST_TEST(jobsd::server::outbox_count_pause(1ms, 0ms).count() == 20);
    BOOST_TEST(jobsd::server::outbox_count_pause(0ms, 0ms).count() == 0);
    BOOST_TEST(jobsd::server::outbox_count_pause(80ms, 100ms).count() == 1600);
}

BOOST_AUTO_TEST_SUITE(idle_waits)

namespace asio = boost::asio;
using asio::ip::tcp;

struct socket_pair {
    asio::io_context ctx;
    tcp::acceptor acceptor{ctx, {asio::ip::make_address("127.0.0.1"), 0}};
    tcp::socket client{ctx};
    tcp::socket server{ctx};
    socket_pair() {
        client.connect(acceptor.local_endpoint());
        server = acceptor.accept();
    }
};

// The deadline passes and the first bytes of a request arrive before the io thread looks again:
// the wait ends readable and its deadline's handler runs in the same turn, after it. That handler
// must not cancel the read the connection has started meanwhile (the request's header, here).
BOOST_AUTO_TEST_CASE(a_deadline_due_as_the_socket_turns_readable_cancels_nothing_after_the_wait) {
    using namespace std::chrono_literals;
    socket_pair p;
    jobsd::server::idle_deadline idle(p.ctx.get_executor());
    boost::system::error_code waited = asio::error::would_block, later = asio::error::would_block;
    std::string got;
    bool done = false;
    asio::co_spawn(
        p.ctx,
        [&]() -> asio::awaitable<void> {
            idle.arm(p.server, 100ms);
            std::tie(waited) =
                co_await p.server.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
            idle.disarm();
            std::array<char, 64> buf{};
            const auto n = p.server.read_some(asio::buffer(buf));  // what is there
            got.assign(buf.data(), n);
            auto [ec, m] = co_await p.server.async_read_some(asio::buffer(buf),  // the rest, not there yet
                                                             asio::as_tuple(asio::use_awaitable));
            later = ec;
            got.append(buf.data(), m);
            co_await idle.settle();
            done = true;
        },
        asio::detached);
    p.ctx.poll();  // the wait is pending
    BOOST_TEST_REQUIRE(waited == asio::error::would_block);
    std::this_thread::sleep_for(150ms);              // its deadline passes, and
    asio::write(p.client, asio::buffer("GET ", 4));  // the socket turns readable, both unseen yet
    p.ctx.poll();                                    // one turn sees both
    BOOST_TEST_REQUIRE(!waited, "readability comes first in Asio's reactor: " << waited.message());
    asio::write(p.client, asio::buffer("/ HTTP/1.1", 10));
    for (int i = 0; i < 200 && !done; ++i) p.ctx.run_for(10ms);
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST(!later, "the read after the wait was cancelled: " << later.message());
    BOOST_TEST(got == "GET / HTTP/1.1");
}

// Nothing arrives: the deadline ends the wait, and settle() returns once its handler ran.
BOOST_AUTO_TEST_CASE(a_wait_that_sees_nothing_ends_at_its_deadline) {
    using namespace std::chrono_literals;
    socket_pair p;
    jobsd::server::idle_deadline idle(p.ctx.get_executor());
    boost::system::error_code waited;
    std::chrono::steady_clock::duration took{};
    bool done = false;
    asio::co_spawn(
        p.ctx,
        [&]() -> asio::awaitable<void> {
            const auto start = std::chrono::steady_clock::now();
            idle.arm(p.server, 50ms);
            std::tie(waited) =
                co_await p.server.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
            idle.disarm();
            took = std::chrono::steady_clock::now() - start;
            co_await idle.settle();
            done = true;
        },
        asio::detached);
    p.ctx.run_for(5s);
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST(waited == asio::error::operation_aborted, waited.message());
    BOOST_TEST(took >= 50ms);
}

BOOST_AUTO_TEST_SUITE_END()
