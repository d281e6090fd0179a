// libpq in non-blocking pipeline mode on an Asio descriptor. libpq owns the socket: Asio only
// watches it, and lets go of it (release) before libpq closes it.
#include "store/pg_connection.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <cstdlib>

namespace jobsd::store {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

namespace {

// A 201 means committed and durable: a server or role configured with synchronous_commit off
// would let a commit return before its WAL reaches disk, so every session jobsd opens pins it.
constexpr const char* pin_durability_sql = "SET synchronous_commit = on";

}  // namespace

bool pg_reply::ok() const {
    const auto s = status();
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

std::string pg_reply::error() const {
    if (!r_) return "no result";
    std::string msg = PQresultErrorMessage(r_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (msg.empty()) msg = PQresStatus(status());
    return msg;
}

std::string pg_reply::sqlstate() const {
    if (!r_) return {};
    const char* code = PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE);
    return code ? code : "";
}

std::string_view pg_reply::text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::optional<std::string> pg_reply::optional_text(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return std::string(text(row, col));
}

std::int64_t pg_reply::int64(int row, int col) const {
    const auto t = text(row, col);
    std::int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
}

std::optional<std::int64_t> pg_reply::optional_int64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return int64(row, col);
}

std::optional<double> pg_reply::optional_double(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return std::strtod(std::string(text(row, col)).c_str(), nullptr);
}

pg_connection::pg_connection(asio::any_io_executor ex) : ex_(ex), socket_(ex) {}

pg_connection::~pg_connection() {
    close();
}

void pg_connection::close() {
    if (socket_.is_open()) {
        boost::system::error_code ignored;  // nothing may be waiting: the owner is not suspended
        socket_.cancel(ignored);
        socket_.release();
    }
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
}

void pg_connection::fail(std::string_view what) {
    std::string msg = conn_ ? PQerrorMessage(conn_) : "";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    close();
    throw pg_error("postgres: " + std::string(what) + (msg.empty() ? "" : ": " + msg));
}

// PQsocket may change while connecting (another address, SSL retry): watch the current one.
void pg_connection::adopt_socket() {
    if (socket_.is_open()) socket_.release();
    const int fd = PQsocket(conn_);
    if (fd < 0) fail("no socket");
    socket_.assign(fd);
}

asio::awaitable<void> pg_connection::wait(wait_for what, clock::time_point deadline) {
    asio::steady_timer timer(ex_, deadline);
    using w = asio::posix::stream_descriptor::wait_type;
    readable_ = false;
    if (what == wait_for::read) {
        auto r = co_await (socket_.async_wait(w::wait_read, asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
        if (r.index() == 1) fail("timed out waiting for the server");
        readable_ = true;
    } else if (what == wait_for::write) {
        auto r = co_await (socket_.async_wait(w::wait_write, asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
        if (r.index() == 1) fail("timed out waiting for the server");
    } else {
        auto r = co_await (socket_.async_wait(w::wait_read, asio::use_awaitable) ||
                           socket_.async_wait(w::wait_write, asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
        if (r.index() == 2) fail("timed out waiting for the server");
        readable_ = r.index() == 0;
    }
}

asio::awaitable<void> pg_connection::connect(const std::string& conninfo, std::chrono::milliseconds timeout,
                                             const std::vector<pg_prepared>& statements) {
    close();
    const auto deadline = clock::now() + timeout;
    conn_ = PQconnectStart(conninfo.c_str());
    if (!conn_) throw pg_error("postgres: out of memory starting a connection");
    if (PQstatus(conn_) == CONNECTION_BAD) fail("cannot connect to " + redact_pg_url(conninfo));
    // Server notices (e.g. "already exists, skipping") are not errors: keep them off stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    auto poll = PGRES_POLLING_WRITING;
    for (;;) {
        if (poll == PGRES_POLLING_OK) break;
        if (poll == PGRES_POLLING_FAILED) fail("cannot connect to " + redact_pg_url(conninfo));
        adopt_socket();
        try {
            co_await wait(poll == PGRES_POLLING_READING ? wait_for::read : wait_for::write, deadline);
        } catch (const pg_error&) {
            throw pg_error("postgres: cannot connect to " + redact_pg_url(conninfo) + ": timed out after " +
                           std::to_string(timeout.count()) + " ms");
        }
        poll = PQconnectPoll(conn_);
    }
    adopt_socket();
    if (PQsetnonblocking(conn_, 1) != 0) fail("cannot switch to non-blocking mode");
    if (PQenterPipelineMode(conn_) != 1) fail("cannot enter pipeline mode");
    // The session's durability setting, then every statement prepared, in one round trip.
    if (!PQsendQueryParams(conn_, pin_durability_sql, 0, nullptr, nullptr, nullptr, nullptr, 0))
        fail("sending SET synchronous_commit");
    for (const auto& s : statements)
        if (!PQsendPrepare(conn_, s.name.c_str(), s.sql.c_str(), 0, nullptr))
            fail("sending PREPARE " + s.name);
    if (!PQpipelineSync(conn_)) fail("sending Sync");
    std::vector<pg_statement> none;
    auto results = co_await exec(none, timeout);
    for (std::size_t i = 0; i < results.size(); ++i)
        if (!results[i].ok()) {
            const auto msg = results[i].error();
            const std::string what =
                i == 0 ? "SET synchronous_commit" : "preparing " + statements[i - 1].name;
            close();
            throw pg_error("postgres: " + what + ": " + msg);
        }
}

asio::awaitable<std::vector<pg_reply>> pg_connection::exec(const std::vector<pg_statement>& statements,
                                                           std::chrono::milliseconds timeout) {
    if (!conn_) throw pg_error("postgres: connection is closed");
    const auto deadline = clock::now() + timeout;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;  // only for a statement with a binary parameter
    for (const auto& s : statements) {
        values.clear();
        lengths.clear();
        formats.clear();
        bool binary = false;
        for (const auto& p : s.params) {
            values.push_back(p.value ? p.value->data() : nullptr);
            lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
            formats.push_back(p.binary ? 1 : 0);
            binary = binary || p.binary;
        }
        const int n = static_cast<int>(values.size());
        const int* len = binary ? lengths.data() : nullptr;
        const int* fmt = binary ? formats.data() : nullptr;
        const int sent =
            s.prepared ? PQsendQueryPrepared(conn_, s.sql.c_str(), n, values.data(), len, fmt, 0)
                       : PQsendQueryParams(conn_, s.sql.c_str(), n, nullptr, values.data(), len, fmt, 0);
        if (!sent) fail("sending a statement");
    }
    // connect() sends its own PREPAREs and Sync before calling with no statements.
    if (!statements.empty() && !PQpipelineSync(conn_)) fail("sending Sync");

    // Flush; while the server answers early statements, read so that neither side stalls on
    // a full socket buffer.
    for (;;) {
        const int f = PQflush(conn_);
        if (f == 0) break;
        if (f < 0) fail("sending to the server");
        co_await wait(wait_for::either, deadline);
        if (readable_ && !PQconsumeInput(conn_)) fail("reading from the server");
    }

    std::vector<pg_reply> results;
    results.reserve(statements.size());
    for (;;) {
        while (PQisBusy(conn_)) {
            co_await wait(wait_for::read, deadline);
            if (!PQconsumeInput(conn_)) fail("reading from the server");
        }
        PGresult* r = PQgetResult(conn_);
        if (!r) {
            // Between statements; a broken connection also shows up here.
            if (PQstatus(conn_) == CONNECTION_BAD) fail("connection lost");
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(conn_) == CONNECTION_BAD) {
            PQclear(r);
            fail("connection lost");
        }
        results.emplace_back(r);
    }
    co_return results;
}

asio::awaitable<bool> pg_connection::watch_idle() {
    if (!conn_) co_return false;
    boost::system::error_code ec;
    co_await socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return true;
    if (!PQconsumeInput(conn_) || PQstatus(conn_) == CONNECTION_BAD) {
        close();
        co_return false;
    }
    co_return true;
}

std::string redact_pg_url(std::string_view url) {
    std::string s(url);
    const auto scheme = s.find("://");
    if (scheme == std::string::npos) return s;
    const auto at = s.find('@', scheme + 3);
    if (at == std::string::npos) return s;
    const auto colon = s.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    return s;
}

}  // namespace jobsd::store

namespace jobsd::store {

pg_conn_ptr pg_connect_blocking(const std::string& url, std::chrono::milliseconds timeout) {
    const std::string seconds = std::to_string(std::max<std::int64_t>(1, (timeout.count() + 999) / 1000));
    const char* keys[] = {"dbname", "connect_timeout", nullptr};
    const char* values[] = {url.c_str(), seconds.c_str(), nullptr};
    pg_conn_ptr conn(PQconnectdbParams(keys, values, 1), &PQfinish);
    if (!conn) throw pg_error("postgres: out of memory starting a connection");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(conn.get());
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        throw pg_error("postgres: cannot connect to " + redact_pg_url(url) + ": " + msg);
    }
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    pg_reply pinned(PQexec(conn.get(), pin_durability_sql));
    if (!pinned.ok()) throw pg_error("postgres: SET synchronous_commit: " + pinned.error());
    return conn;
}

}  // namespace jobsd::store
