// The writer's VFS (store/sqlite_wal_gather_vfs.hpp): a transaction's WAL writes reach the file as
// a few large writes before its commit's sync, and what SQLite reads back, commits, rolls back or
// reopens is exactly what it would be without the VFS. Real SQLite on real files; other
// connections read them through the default VFS and their own descriptors.
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "store/sqlite_wal_gather_vfs.hpp"
#include "tests/support/jobsd_process.hpp"

namespace gather = jobsd::store::wal_gather_vfs;

namespace {

class connection {
  public:
    connection(const std::filesystem::path& file, const char* vfs) {
        const int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
        BOOST_TEST_REQUIRE(rc == SQLITE_OK, "open: " << sqlite3_errstr(rc));
    }
    ~connection() { sqlite3_close(db_); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void exec(const std::string& sql) {
        char* error = nullptr;
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
        const std::string message = error ? error : "";
        sqlite3_free(error);
        BOOST_TEST_REQUIRE(rc == SQLITE_OK, sql << ": " << message);
    }
    std::int64_t integer(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        BOOST_TEST_REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK,
                           sql << ": " << sqlite3_errmsg(db_));
        const int rc = sqlite3_step(st);
        const std::int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        BOOST_TEST_REQUIRE(rc == SQLITE_ROW, sql << ": " << sqlite3_errmsg(db_));
        return v;
    }
    // Rows first..last of `t`, each a 3 000-byte text of one letter chosen by the row and `seed`
    // (about one page a row).
    void insert(int first, int last, int seed) {
        exec("WITH RECURSIVE s(value) AS (SELECT " + std::to_string(first) +
             " UNION ALL SELECT value + 1 FROM s " + "WHERE value < " + std::to_string(last) +
             ") INSERT INTO t(id, b) SELECT value, printf('%.3000c', " + "char(65 + (value + " +
             std::to_string(seed) + ") % 26)) FROM s");
    }
    // Problems PRAGMA integrity_check finds in the database: 0 when it answers "ok".
    std::int64_t integrity_problems() {
        return integer("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'");
    }
    // A fingerprint of `t`'s rows: their count, lengths and letters, weighted by id.
    std::int64_t fingerprint() {
        return integer(
            "SELECT count(*) * 1000003 + sum(length(b)) + sum(id * unicode(b)) + "
            "sum(id * unicode(substr(b, 3000))) FROM t");
    }

  private:
    sqlite3* db_ = nullptr;
};

// The fingerprint rows first..last written with `seed` would have.
std::int64_t expected(int first, int last, int seed) {
    std::int64_t count = 0, lengths = 0, letters = 0;
    for (int id = first; id <= last; ++id) {
        ++count;
        lengths += 3000;
        letters += 2 * std::int64_t{id} * (65 + (id + seed) % 26);
    }
    return count * 1000003 + lengths + letters;
}

// The writer: through the gathering VFS, in WAL mode with synchronous = FULL, as the store opens it;
// with a page cache of `cache_pages` when given (a small one spills a transaction's pages to the
// WAL before its commit).
void set_up_writer(connection& w, int cache_pages = 0) {
    w.exec("PRAGMA journal_mode = WAL");
    w.exec("PRAGMA synchronous = FULL");
    if (cache_pages > 0) w.exec("PRAGMA cache_size = " + std::to_string(cache_pages));
    w.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, b TEXT NOT NULL)");
}

struct database_file {
    jobsd::test::temp_dir dir{"jobsd-wal-gather"};
    std::filesystem::path file = dir.path() / "g.db";
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sqlite_wal_gather)

// A commit of some 40 pages: SQLite makes two writes a page, the file gets one or two, and a
// connection of the default VFS reads every row as soon as the commit returns.
BOOST_AUTO_TEST_CASE(a_commit_reaches_the_wal_in_a_few_writes_readable_at_once) {
    const database_file db;
    const auto& file = db.file;
    connection w(file, gather::name());
    set_up_writer(w);
    connection r(file, nullptr);
    const auto before = gather::counts();
    w.exec("BEGIN");
    w.insert(1, 40, 0);
    w.exec("COMMIT");
    const auto after = gather::counts();
    const auto taken = after.taken - before.taken, made = after.made - before.made;
    BOOST_TEST_MESSAGE("40 rows: " << taken << " WAL writes by SQLite, " << made << " to the file");
    BOOST_TEST(taken >= 80u);
    BOOST_TEST(made >= 1u);
    BOOST_TEST(made <= 3u, made << " writes reached the file for one commit");
    BOOST_TEST(r.fingerprint() == expected(1, 40, 0));
}

// A transaction several times the writer's page cache spills its pages to the WAL before the
// commit and reads them back; it is bigger than what the VFS holds (1 MiB) and than one write of
// the default VFS (128 KiB). A spilled transaction rolled back, then a shorter one over the same
// frames, commit only the second; the file reopened after the writer closes (WAL recovered from
// the file alone) holds it, and SQLite finds nothing wrong with the database.
BOOST_AUTO_TEST_CASE(spilled_rolled_back_and_reopened_transactions_read_what_was_committed) {
    const database_file db;
    const auto& file = db.file;
    {
        connection w(file, gather::name());
        set_up_writer(w, 20);
        w.exec("BEGIN");
        w.insert(1, 900, 1);  // about 3.6 MB of frames
        BOOST_TEST(w.fingerprint() == expected(1, 900, 1), "the transaction read its spilled rows wrong");
        w.exec("COMMIT");
        connection r(file, nullptr);
        BOOST_TEST(r.fingerprint() == expected(1, 900, 1));

        w.exec("BEGIN");
        w.insert(901, 1500, 2);
        w.exec("ROLLBACK");
        w.exec("BEGIN");
        w.insert(901, 1000, 3);
        w.exec("COMMIT");
        BOOST_TEST(r.fingerprint() == expected(1, 900, 1) + expected(901, 1000, 3));
    }
    connection reopened(file, nullptr);
    BOOST_TEST(reopened.fingerprint() == expected(1, 900, 1) + expected(901, 1000, 3));
    BOOST_TEST(reopened.integer("SELECT count(*) FROM t WHERE id > 1000") == 0);
    BOOST_TEST(reopened.integrity_problems() == 0);
}

// A spilled transaction rolled back leaves frames the VFS still holds; another connection then
// commits over the same part of the WAL. The writer's next commit must not write the rolled-back
// bytes over the other's frames: they are dropped when the transaction ends.
BOOST_AUTO_TEST_CASE(frames_of_a_rolled_back_transaction_never_reach_the_file) {
    const database_file db;
    connection w(db.file, gather::name());
    set_up_writer(w, 20);
    w.exec("BEGIN");
    w.insert(1, 300, 1);  // 1.2 MB of frames: the last ones held when it rolls back
    w.exec("ROLLBACK");
    connection other(db.file, nullptr);
    other.exec("BEGIN");
    other.insert(1001, 1400, 2);  // 1.6 MB from the same offset on
    other.exec("COMMIT");
    w.exec("BEGIN");
    w.insert(1, 1, 3);
    w.exec("COMMIT");
    BOOST_TEST(other.fingerprint() == expected(1, 1, 3) + expected(1001, 1400, 2));
    BOOST_TEST(other.integrity_problems() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
