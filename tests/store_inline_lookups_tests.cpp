// Unit tests of the SQLite store's lookups on the asking io thread (part of store_tests): they run
// there, batched per turn, see every committed write, go to a reader when they would wait or when
// no io_context of theirs is running, and are answered when the store goes away first.
#include <boost/test/unit_test.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_error.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/sample_job.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace jobsd::store;

namespace {

job_record make_job(std::string input = R"({"type":"video"})") {
    return jobsd::test::sample_job(std::move(input), jobsd::model::now_ms());  // now: Idempotency-Key lookups
}

struct fixture {
    jobsd::test::temp_dir dir{"jobsd-inline-lookups"};
    fs::path db() const { return dir.path() / "jobs.db"; }
    sqlite_options options(std::size_t inline_readers = 2) const {
        sqlite_options o;
        o.path = db();
        o.inline_readers = inline_readers;
        return o;
    }
};

// One lookup's answer and the thread its completion ran on.
struct answer {
    error_code ec;
    std::optional<job_record> job;
    std::thread::id thread;
};

// Asks for every uuid from inside one handler of `io` (one turn), with completions bound to `io`,
// then runs `io` on this thread until all are answered (a reader's answers are posted to it).
std::vector<answer> look_up_in_one_turn(store& s, const std::vector<std::string>& uuids) {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::vector<answer> answers(uuids.size());
    std::size_t left = uuids.size();
    asio::post(io, [&] {
        for (std::size_t i = 0; i < uuids.size(); ++i)
            s.find_job("acc_a", uuids[i],
                       asio::bind_executor(io, [&, i](error_code ec, std::optional<job_record> j) {
                           answers[i] = {ec, std::move(j), std::this_thread::get_id()};
                           if (--left == 0) work.reset();
                       }));
    });
    io.run();
    return answers;
}

// Writes the file's dirty pages and asks the kernel to drop it from the page cache; returns how
// many of its pages are still cached (a file system that keeps every page in memory keeps them).
std::size_t evict(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "open " << file);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    struct stat st {};
    ::fstat(fd, &st);
    std::size_t resident = 0;
    if (st.st_size > 0) {
        const auto size = static_cast<std::size_t>(st.st_size);
        void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        BOOST_REQUIRE(map != MAP_FAILED);
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        std::vector<unsigned char> in((size + page - 1) / page);
        ::mincore(map, size, in.data());
        for (unsigned char c : in) resident += c & 1;
        ::munmap(map, size);
    }
    ::close(fd);
    return resident;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(inline_lookups, fixture)

BOOST_AUTO_TEST_CASE(lookups_asked_on_an_io_thread_run_there_and_see_every_committed_write) {
    sqlite_store s(options());
    std::vector<std::string> uuids;
    for (int round = 1; round <= 3; ++round) {  // a write before each turn: the turn sees it
        const job_record j = make_job();
        async_create_job(s, j, asio::use_future).get();
        uuids.push_back(j.uuid);
        const auto answers = look_up_in_one_turn(s, uuids);
        for (std::size_t i = 0; i < uuids.size(); ++i) {
            BOOST_TEST(!answers[i].ec);
            BOOST_REQUIRE(answers[i].job);
            BOOST_TEST(answers[i].job->uuid == uuids[i]);
            BOOST_TEST((answers[i].thread == std::this_thread::get_id()));
        }
    }
    BOOST_TEST(s.stats().lookups_inline == 1u + 2u + 3u);
    BOOST_TEST(s.stats().lookups_declined == 0u);
    // Not found and another account's job: answered as by a reader.
    const auto missing = look_up_in_one_turn(s, {jobsd::model::new_uuid()});
    BOOST_TEST(!missing[0].ec);
    BOOST_TEST(!missing[0].job);
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_lookup_on_an_io_thread_runs_there) {
    sqlite_store s(options());
    job_record keyed = make_job();
    keyed.idempotency_key = "k-1";
    async_create_job(s, keyed, asio::use_future).get();
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::optional<job_record> found;
    asio::post(io, [&] {
        s.find_by_idempotency_key("acc_a", "k-1",
                                  asio::bind_executor(io, [&](error_code, std::optional<job_record> j) {
                                      found = std::move(j);
                                      work.reset();
                                  }));
    });
    io.run();
    BOOST_REQUIRE(found);
    BOOST_TEST(found->uuid == keyed.uuid);
    BOOST_TEST(s.stats().lookups_inline == 1u);
}

BOOST_AUTO_TEST_CASE(lookups_with_no_io_context_of_theirs_running_go_to_a_reader) {
    sqlite_store s(options());
    const job_record j = make_job();
    async_create_job(s, j, asio::use_future).get();
    // A future's completion has no io_context: a reader answers.
    const auto found = async_find_job(s, "acc_a", j.uuid, asio::use_future).get();
    BOOST_REQUIRE(found);
    BOOST_TEST(found->uuid == j.uuid);
    // Nor does a handler bound to an io_context that this thread is not running.
    asio::io_context elsewhere;
    auto work = asio::make_work_guard(elsewhere);
    std::optional<job_record> got;
    s.find_job("acc_a", j.uuid, asio::bind_executor(elsewhere, [&](error_code, std::optional<job_record> f) {
                   got = std::move(f);
                   work.reset();
               }));
    elsewhere.run();  // the reader's answer, posted to `elsewhere`
    BOOST_REQUIRE(got);
    BOOST_TEST(got->uuid == j.uuid);
    BOOST_TEST(s.stats().lookups_inline == 0u);
    BOOST_TEST(s.stats().lookups_declined == 0u);
}

BOOST_AUTO_TEST_CASE(without_inline_readers_every_lookup_goes_to_a_reader) {
    sqlite_store s(options(0));
    const job_record j = make_job();
    async_create_job(s, j, asio::use_future).get();
    const auto answers = look_up_in_one_turn(s, {j.uuid});
    BOOST_REQUIRE(answers[0].job);
    BOOST_TEST(answers[0].job->uuid == j.uuid);
    BOOST_TEST(s.stats().lookups_inline == 0u);
}

BOOST_AUTO_TEST_CASE(a_lookup_of_pages_not_in_the_page_cache_goes_to_a_reader) {
    std::vector<job_record> jobs;
    {
        sqlite_store s(options());
        for (int i = 0; i < 2'000; ++i) jobs.push_back(make_job(std::string(400, 'x')));
        async_create_jobs(s, jobs, asio::use_future).get();
    }
    // Reopened, so that no connection holds a page of it in its own cache either.
    sqlite_store s(options());
    const fs::path wal = db().string() + "-wal";
    const std::size_t resident = evict(db()) + (fs::exists(wal) ? evict(wal) : 0);
    const auto answers = look_up_in_one_turn(s, {jobs[1'234].uuid, jobs[17].uuid});
    for (const auto& a : answers) BOOST_TEST(!a.ec);
    BOOST_REQUIRE(answers[0].job);
    BOOST_TEST(answers[0].job->uuid == jobs[1'234].uuid);
    BOOST_TEST(answers[0].job->input == jobs[1'234].input);
    BOOST_REQUIRE(answers[1].job);
    BOOST_TEST(answers[1].job->uuid == jobs[17].uuid);
    if (resident > 0) {
        // tmpfs and the like keep their pages: nothing to read from a disk, nothing to decline.
        BOOST_TEST_MESSAGE("the file system kept " << resident
                                                   << " pages cached; the decline is not tested here");
        return;
    }
    // The first declined, and the turn's lookups after it went with it.
    BOOST_TEST(s.stats().lookups_declined == 2u);
    BOOST_TEST(s.stats().lookups_inline == 0u);
}

BOOST_AUTO_TEST_CASE(a_turn_not_yet_run_when_the_store_goes_is_answered_closed) {
    auto s = std::make_unique<sqlite_store>(options());
    const job_record j = make_job();
    async_create_job(*s, j, asio::use_future).get();
    asio::io_context io;
    std::optional<error_code> got;
    asio::post(io, [&] {
        s->find_job("acc_a", j.uuid,
                    asio::bind_executor(io, [&](error_code ec, std::optional<job_record>) { got = ec; }));
    });
    io.run_one();  // the asking handler; the turn's own is still queued
    BOOST_TEST(!got);
    s.reset();
    io.run();  // the answer, then the turn's handler, which finds its store gone
    BOOST_REQUIRE(got);
    BOOST_TEST((*got == store_errc::closed));
}

BOOST_AUTO_TEST_SUITE_END()
