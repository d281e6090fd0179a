// jobsd with its store under pressure, as a black box: the test holds SQLite's write lock on the
// served file, so jobsd's writer stalls with a batch in hand and later writes queue behind it.
// Checked: 503 once the store's write queue is full while reads go on, /readyz naming the
// reason, and readers and the writer never waiting for each other.
#define BOOST_TEST_MODULE overload
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/request_threads.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sqlite_file.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string tts_job = json::serialize(
    json::object{{"job_type", "tts"}, {"template_id", seed::project_a1}, {"values", json::object{}}});

std::string uuid_of(const std::string& body) {
    return std::string(json::parse(body).at("job").at("uuid").as_string());
}

// A jobsd with a write queue of two, and a job stored before any lock is taken. jobsd's own
// writes at start (claims released, held and due jobs looked for) share that queue, so the first
// job may be answered 503 while they run: it is tried again until it is stored.
struct small_queue_server {
    temp_dir dir{"jobsd-overload"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir, {{"JOBSD_STORE_WRITE_QUEUE_MAX", "2"}});
    http_client client{server->host(), server->port()};
    std::string stored_before = [this] {
        http_response res;
        wait_until([&] { return (res = client.post("/jobs/v2", seed::key_a, tts_job)).status != 503; }, 15s);
        if (res.status != 201) throw std::runtime_error("the first job was refused: " + res.body);
        return uuid_of(res.body);
    }();

    // A POST of a new job on a connection of its own (each held request needs one).
    std::function<http_response()> post() {
        return [host = server->host(), port = server->port()] {
            http_client c(host, port);
            return c.post("/jobs/v2", seed::key_a, tts_job);
        };
    }
};

// Every held request ended with a 201; their uuids.
std::set<std::string> created(const std::vector<request_outcome>& outcomes) {
    std::set<std::string> uuids;
    for (const auto& o : outcomes) {
        BOOST_TEST_CONTEXT("held request: " << o.status << " " << o.body << o.error) {
            BOOST_TEST(o.status == 201u);
            if (o.status == 201) uuids.insert(uuid_of(o.body));
        }
    }
    return uuids;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_full_write_queue_gets_503_while_reads_go_on, small_queue_server) {
    request_threads held;
    std::set<std::string> answered;
    {
        sqlite_write_lock lock(test_db(dir));
        post_until_queued(held, post(), client, 2, 3s);

        const auto refused = client.post("/jobs/v2", seed::key_a, tts_job);
        BOOST_TEST(refused.status == 503u, refused.body);
        BOOST_TEST(refused.header("Retry-After") == "1");
        BOOST_TEST(refused.json().at("message").as_string() == "Server is busy, retry later");
        const auto ready = client.get("/readyz");
        BOOST_TEST(ready.status == 503u);
        BOOST_TEST(ready.body.find("store write queue is full") != std::string::npos, ready.body);
        // Reads have their own connections and threads: answered while the writer waits.
        BOOST_TEST(client.get("/jobs/" + stored_before, seed::key_a).status == 200u);
        BOOST_TEST(held.ended() == 0u, "a held request ended before the lock was released");
        BOOST_TEST_MESSAGE(held.started() << " requests held; the lock was held for " << lock.held().count()
                                          << " ms (the writer gives up after 5000)");
    }
    answered = created(held.join());
    BOOST_TEST(answered.size() == held.started());
    BOOST_TEST(wait_until([&] { return client.get("/readyz").status == 200; }, 10s),
               "/readyz stays unready: " << client.get("/readyz").body);
    // Exactly the answered jobs and the first one are stored: the refused one is not.
    auto stored = stored_uuids(test_db(dir));
    BOOST_TEST(stored.size() == answered.size() + 1);
    for (const auto& uuid : answered)
        BOOST_TEST(stored.count(uuid) == 1u, uuid << " answered 201, not stored");
    BOOST_TEST(stored.count(stored_before) == 1u);
}

// Both directions of "readers never block the writer": jobsd's own readers answer while its
// writer is stalled, and a reader holding a snapshot open (as a slow read does) never holds a
// commit back, so jobs keep being answered 201 (WAL: readers see their snapshot, the writer
// appends to the log).
BOOST_FIXTURE_TEST_CASE(readers_and_the_writer_never_wait_for_each_other, small_queue_server) {
    request_threads held;
    {
        sqlite_write_lock lock(test_db(dir));
        post_until_queued(held, post(), client, 1, 3s);
        // The read is answered while the write is still held, not after the writer gives up.
        const auto read = client.get("/jobs/" + stored_before, seed::key_a);
        BOOST_TEST(read.status == 200u, read.body);
        // Authentication and project resolution use the in-memory catalog, not the store.
        BOOST_TEST(client.get("/api/provider/projects/active", seed::key_a).status == 200u);
        BOOST_TEST(held.ended() == 0u, "a held POST ended before the read was answered");
        BOOST_TEST(metric(client, "jobsd_store_jobs_committed_total") == 1.0);
    }
    BOOST_TEST(created(held.join()).size() == held.started());

    sqlite_read_snapshot reader(test_db(dir));
    const auto seen = reader.jobs();
    for (int i = 0; i < 5; ++i) {
        const auto res = client.post("/jobs/v2", seed::key_a, tts_job);
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
    }
    BOOST_TEST(reader.jobs() == seen, "the open read transaction lost its snapshot");
    reader.release();
    BOOST_TEST(sqlite_int(test_db(dir), "SELECT count(*) FROM jobs") == seen + 5);
}
