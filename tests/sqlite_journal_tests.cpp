// The SQLite writer keeps its statement and savepoint journals in memory: it opens no temporary
// file for them, where each journalled page would cost a write (bench/RESULTS.md, issue 15).
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>

#include <sqlite3.h>

#include <atomic>

#include "model/clock.hpp"
#include "model/job_event.hpp"
#include "model/uuid.hpp"
#include "model/webhook_event.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/webhook_store.hpp"
#include "tests/support/jobsd_process.hpp"

namespace asio = boost::asio;
using namespace jobsd::store;
using jobsd::model::job_status;

namespace {

// The process's default VFS, wrapped: every file SQLite opens through it is counted by kind.
// Registered as the default for one test's lifetime, so the store it opens goes through it.
struct counting_vfs {
    static inline sqlite3_vfs* real = nullptr;
    static inline std::atomic<int> journals{0};  // statement journals and sub-journals opened
    static inline std::atomic<int> others{0};    // every other file: the database, its WAL

    sqlite3_vfs vfs{};

    counting_vfs() {
        real = sqlite3_vfs_find(nullptr);
        BOOST_TEST_REQUIRE(real != nullptr);
        vfs = *real;
        vfs.zName = "jobsd-counting";
        vfs.pAppData = nullptr;
        vfs.xOpen = [](sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out) {
            if (flags & (SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TEMP_JOURNAL))
                ++journals;
            else
                ++others;
            return real->xOpen(real, name, file, flags, out);
        };
        journals = 0;
        others = 0;
        BOOST_TEST_REQUIRE(sqlite3_vfs_register(&vfs, 1) == SQLITE_OK);
    }
    ~counting_vfs() {
        sqlite3_vfs_unregister(&vfs);
        sqlite3_vfs_register(real, 1);
    }
};

job_record job_with_webhook(std::string account) {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = std::move(account);
    j.source_id = "project-1";
    j.session_id = "s";
    j.input = R"({"job_type":"video","values":{"script":")" + std::string(600, 'x') + R"("}})";
    j.created_ms = j.updated_ms = jobsd::model::now_ms();
    j.webhook_url = "https://receiver.example/hooks";
    j.webhook_events = jobsd::model::find_webhook_event("job.started")->bit |
                       jobsd::model::find_webhook_event("job.succeeded")->bit;
    return j;
}

jobsd::model::job_event event(const std::string& uuid, job_status status) {
    jobsd::model::job_event e;
    e.uuid = uuid;
    e.status = status;
    e.at_ms = jobsd::model::now_ms();
    return e;
}

}  // namespace

// Creates in a batch and status changes that record deliveries (an INSERT … SELECT inside the
// op's savepoint): both need a journal of the pages they change, which must not be a file.
// SQLite keeps such a journal in memory up to 64 KiB by itself: these ops change hundreds of
// pages (500 jobs of about 700 bytes, two events each, a delivery per event), as a busy
// writer's do.
BOOST_AUTO_TEST_CASE(sqlite_writer_opens_no_journal_file_for_its_savepoints_and_statements) {
    counting_vfs counting;
    jobsd::test::temp_dir dir{"jobsd-journal"};
    {
        sqlite_options o;
        o.path = dir.path() / "jobs.db";
        sqlite_store s(o);
        std::vector<job_record> jobs;
        for (int i = 0; i < 500; ++i) jobs.push_back(job_with_webhook("acc_a"));
        async_create_jobs(s, jobs, asio::use_future).get();
        std::vector<jobsd::model::job_event> events;
        for (const auto& j : jobs) {
            events.push_back(event(j.uuid, job_status::started));
            events.push_back(event(j.uuid, job_status::success));
        }
        const auto applied = async_apply_events(s, events, asio::use_future).get();
        BOOST_TEST(applied.size() == events.size());
        const auto stats = async_webhook<webhook_stats>(*s.webhooks(), &webhook_store::read_webhook_stats,
                                                        asio::use_future, jobsd::model::now_ms() + 1000)
                               .get();
        BOOST_TEST(stats.pending == 2 * jobs.size());  // the deliveries were recorded, so journalled
    }
    BOOST_TEST(counting_vfs::others.load() > 0);  // the store did open its files through it
    BOOST_TEST(counting_vfs::journals.load() == 0);
}
