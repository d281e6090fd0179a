// Google Benchmark of the SQLite store alone: jobs committed per second by many concurrent
// waiters (group commit), with synchronous=FULL as in production; and one page of GET /jobs/v2
// from a table of a million jobs. Not a test: run it by hand or through scripts/bench; figures go
// in bench/RESULTS.md.
//
//   build/bin/store-bench [--benchmark_filter=…] [--store-dir DIR]
//
// Each waiter is a chain: create_job, and on its completion the next create_job, so `in_flight`
// jobs are always waiting for a commit, the way `in_flight` HTTP connections would keep them.
// The database lives in a fresh directory under DIR (default var/store-bench, on the disk the
// server would use; /tmp may be a tmpfs whose fsync costs nothing).
#include <benchmark/benchmark.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/sqlite_store.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace jobsd;

namespace {

fs::path g_store_dir = "var/store-bench";

// A request body of the size and shape the create path stores (about 450 bytes).
const std::string sample_input =
    R"({"job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e",)"
    R"("session_id":"a2f0c9e4-3b7d-4c1a-9e8f-5d6b7a8c9d0e","version":2,)"
    R"("mapping_data":{"headline":"Spring sale: everything must go, twenty percent off",)"
    R"("voiceover":{"audio_url":"https://cdn.example.com/audio/voiceover-2026-spring.mp3","effects":[]},)"
    R"("avatar":{"image_url":"https://cdn.example.com/images/avatar-presenter-studio.png"}},)"
    R"("background_music_url":"https://cdn.example.com/music/upbeat.mp3","background_volume":0.4})";

store::job_record make_job(std::int64_t now) {
    store::job_record j;
    j.uuid = model::new_uuid();
    j.account_id = "acc_bench";
    j.source_id = "468ea7a0-66e1-4357-a760-236e54167f3e";
    j.type = model::job_type::ai_talking_video;
    j.session_id = "a2f0c9e4-3b7d-4c1a-9e8f-5d6b7a8c9d0e";
    j.version = 2;
    j.input = sample_input;
    j.created_ms = now;
    j.updated_ms = now;
    return j;
}

// One io_context thread (the benchmark's) receives every completion, like one server thread.
class waiters {
  public:
    waiters(store::store& s, asio::io_context& io) : store_(s), io_(io) {}

    // Commits `total` jobs with `in_flight` of them always waiting; returns after the last one.
    // Failed commits are counted, not retried.
    void run(std::int64_t total, std::int64_t in_flight) {
        remaining_ = total;
        // The store completes on io_'s executor from its writer thread: keep io_ running until
        // the last completion is in.
        guard_.emplace(io_.get_executor());
        for (std::int64_t i = 0; i < in_flight && remaining_ > 0; ++i) next();
        io_.restart();
        io_.run();
    }
    std::uint64_t failures() const { return failures_; }

  private:
    void next() {
        --remaining_;
        ++outstanding_;
        store_.create_job(make_job(model::now_ms()),
                          asio::bind_executor(io_.get_executor(), [this](store::error_code ec) {
                              --outstanding_;
                              if (ec) ++failures_;
                              if (remaining_ > 0)
                                  next();
                              else if (outstanding_ == 0)
                                  guard_.reset();
                          }));
    }

    store::store& store_;
    asio::io_context& io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::int64_t remaining_ = 0;
    std::int64_t outstanding_ = 0;
    std::uint64_t failures_ = 0;
};

// Jobs per second committed with `state.range(0)` waiters; every iteration commits 8192 jobs.
void create_jobs(benchmark::State& state) {
    const auto dir =
        g_store_dir / ("run-" + std::to_string(::getpid()) + "-" + std::to_string(state.range(0)));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::uint64_t transactions = 0, committed = 0, failures = 0;
    {
        store::sqlite_options o;
        o.path = dir / "bench.db";
        o.synchronous_full = true;
        store::sqlite_store s(o);
        asio::io_context io;
        waiters w(s, io);
        constexpr std::int64_t per_iteration = 8192;
        for (auto _ : state) w.run(per_iteration, state.range(0));
        state.SetItemsProcessed(state.iterations() * per_iteration);
        const auto st = s.stats();
        transactions = st.transactions;
        committed = st.jobs_committed;
        failures = w.failures();
    }
    fs::remove_all(dir);
    state.counters["jobs_per_txn"] =
        transactions ? static_cast<double>(committed) / static_cast<double>(transactions) : 0.0;
    state.counters["failures"] = static_cast<double>(failures);
    if (failures) state.SkipWithError("some commits failed");
}

BENCHMARK(create_jobs)
    ->ArgName("in_flight")
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A million jobs of one account (the worst case for a list: every row is the account's), 50 jobs
// per session; built once per run through create_jobs (batches of 1 000, as POST /jobs/v2/batch).
class million_jobs {
  public:
    static million_jobs& get() {
        static million_jobs m;
        return m;
    }
    store::sqlite_store& store() { return *store_; }
    std::int64_t middle_ms() const { return first_ms_ + rows / 2; }
    static constexpr std::int64_t rows = 1'000'000;

  private:
    million_jobs() : dir_(g_store_dir / ("list-" + std::to_string(::getpid()))) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        store::sqlite_options o;
        o.path = dir_ / "bench.db";
        store_ = std::make_unique<store::sqlite_store>(o);
        asio::io_context io;
        for (std::int64_t done = 0; done < rows; done += 1000) {
            std::vector<store::job_record> batch;
            for (std::int64_t i = done; i < done + 1000; ++i) {
                auto j = make_job(first_ms_ + i);  // one job per millisecond
                j.session_id = "session-" + std::to_string(i / 50);
                batch.push_back(std::move(j));
            }
            auto guard = asio::make_work_guard(io);
            store_->create_jobs(std::move(batch),
                                asio::bind_executor(io.get_executor(), [&](store::error_code ec) {
                                    guard.reset();
                                    if (ec) throw std::runtime_error("building the table: " + ec.message());
                                }));
            io.restart();
            io.run();
        }
    }
    ~million_jobs() {
        store_.reset();
        fs::remove_all(dir_);
    }
    fs::path dir_;
    std::int64_t first_ms_ = 1'700'000'000'000;
    std::unique_ptr<store::sqlite_store> store_;
};

// One page of 100 (the handler asks for 101), through the store's reader thread as a request would.
void list_page(benchmark::State& state) {
    auto& m = million_jobs::get();
    store::job_query q;
    q.account_id = "acc_bench";
    q.limit = 101;
    if (state.range(0) == 1)
        q.after = store::job_position{m.middle_ms(), "ffffffff-ffff-7fff-bfff-ffffffffffff"};
    if (state.range(0) == 2) q.session_id = "session-12345";
    if (state.range(0) == 3)
        q.statuses = {model::job_status::queued}, q.type = model::job_type::ai_talking_video;
    asio::io_context io;
    std::size_t rows = 0;
    for (auto _ : state) {
        auto guard = asio::make_work_guard(io);
        m.store().list_jobs(
            q, asio::bind_executor(io.get_executor(),
                                   [&](store::error_code ec, std::vector<store::job_record> jobs) {
                                       guard.reset();
                                       if (ec) throw std::runtime_error(ec.message());
                                       rows = jobs.size();
                                   }));
        io.restart();
        io.run();
    }
    state.counters["rows"] = static_cast<double>(rows);
}

// 0: the newest page; 1: a page from the middle (a cursor); 2: one session (50 jobs); 3: status and
// type filters checked on the rows walked.
BENCHMARK(list_page)->ArgName("shape")->DenseRange(0, 3)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
    // Our own flag first, then Google Benchmark's.
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--store-dir=", 12) == 0)
            g_store_dir = argv[i] + 12;
        else
            rest.push_back(argv[i]);
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
