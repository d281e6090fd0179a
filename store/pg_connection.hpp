// One libpq connection driven without blocking: its socket is watched by Asio, and every
// exchange with the server is a pipeline (statements, then one Sync) costing one round trip.
//
// Thread safety: none; a connection belongs to one coroutine on the store's io thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace jobsd::store {

// The connection is unusable (refused, lost, timed out) or the server sent something libpq
// could not take; the message is libpq's, with what was being done.
class pg_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Owns one PGresult (libpq already names its struct pg_result).
class pg_reply {
  public:
    pg_reply() = default;
    explicit pg_reply(PGresult* r) : r_(r, &PQclear) {}

    PGresult* get() const { return r_.get(); }
    ExecStatusType status() const { return r_ ? PQresultStatus(r_.get()) : PGRES_FATAL_ERROR; }
    // COMMAND_OK or TUPLES_OK.
    bool ok() const;
    std::string error() const;
    // The SQLSTATE of a failed statement ("40P01" deadlock, "40001" serialization), "" if none.
    std::string sqlstate() const;
    int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
    bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
    std::string_view text(int row, int col) const;
    std::optional<std::string> optional_text(int row, int col) const;
    std::int64_t int64(int row, int col) const;
    std::optional<std::int64_t> optional_int64(int row, int col) const;
    std::optional<double> optional_double(int row, int col) const;

  private:
    std::shared_ptr<PGresult> r_;
};

// One parameter of a statement: its value in the type's text form (what psql would type), or
// in its binary form when `binary` (the arrays of pg_binary_array.hpp); nullopt is SQL NULL.
struct pg_param {
    std::optional<std::string> value;
    bool binary = false;

    pg_param(std::nullopt_t) {}
    pg_param(std::string v) : value(std::move(v)) {}
    pg_param(const char* v) : value(std::string(v)) {}
    pg_param(std::optional<std::string> v) : value(std::move(v)) {}
    pg_param(std::string v, bool is_binary) : value(std::move(v)), binary(is_binary) {}
};

// One statement of a pipeline: a prepared statement's name, or SQL text when `prepared` is
// false.
struct pg_statement {
    std::string sql;
    std::vector<pg_param> params;
    bool prepared = true;
};

// A statement to prepare on every new connection.
struct pg_prepared {
    std::string name;
    std::string sql;
};

class pg_connection {
  public:
    explicit pg_connection(boost::asio::any_io_executor ex);
    ~pg_connection();
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    // Connects (PQconnectStart/PQconnectPoll within `timeout`), switches to non-blocking
    // pipeline mode, pins synchronous_commit = on for the session (whatever the server or role
    // says) and prepares `statements`. Throws pg_error.
    boost::asio::awaitable<void> connect(const std::string& conninfo, std::chrono::milliseconds timeout,
                                         const std::vector<pg_prepared>& statements);

    // Sends the statements and a Sync, and returns one result per statement (statements after
    // a failed one come back PGRES_PIPELINE_ABORTED). Throws pg_error when the connection fails
    // or `timeout` passes; the connection is closed then.
    boost::asio::awaitable<std::vector<pg_reply>> exec(const std::vector<pg_statement>& statements,
                                                       std::chrono::milliseconds timeout);

    // While idle: waits until the server sends something (a notice, or the end of the session
    // when it shuts down) and reads it. False when the session is gone (closed then); true when
    // the wait was cancelled or the session is still fine.
    boost::asio::awaitable<bool> watch_idle();

    bool is_open() const { return conn_ != nullptr; }
    // Releases the socket from Asio, then PQfinish. Idempotent.
    void close();

  private:
    enum class wait_for { read, write, either };
    // Waits until the socket is ready as asked or the deadline passes (pg_error).
    boost::asio::awaitable<void> wait(wait_for what, std::chrono::steady_clock::time_point deadline);
    void adopt_socket();
    [[noreturn]] void fail(std::string_view what);

    boost::asio::any_io_executor ex_;
    PGconn* conn_ = nullptr;
    boost::asio::posix::stream_descriptor socket_;
    // Set by wait() when the read side became ready; exec() then consumes input.
    bool readable_ = false;
};

// The conninfo without its password, for messages.
std::string redact_pg_url(std::string_view url);

}  // namespace jobsd::store

namespace jobsd::store {

using pg_conn_ptr = std::unique_ptr<PGconn, decltype(&PQfinish)>;

// A blocking connection for startup work (the check of the URL, migrations, the seed) and for
// jobsctl; never used on an io thread. Its session pins synchronous_commit = on, as the pool's
// do. Throws pg_error naming the server (without password) and libpq's reason.
pg_conn_ptr pg_connect_blocking(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace jobsd::store
