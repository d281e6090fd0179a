// jobsd's configuration: one struct per component, with a default and a reason on each field.
// Loaded once at startup from conf/jobsd.json (comments allowed), then JOBSD_<SECTION>_<KEY>
// environment variables, then command-line flags; later sources win.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "queue/amqp_options.hpp"
#include "server/lifecycle_config.hpp"
#include "server/webhooks/webhook_options.hpp"
#include "store/store_factory.hpp"

namespace jobsd::server {

struct server_options {
    // Loopback by default: exposing jobsd is a decision, not an accident.
    std::string listen = "127.0.0.1";
    // 0 asks the kernel for a free port (tests); the chosen port is printed at start.
    std::uint16_t port = 8080;
    // io threads, one io_context each; 0 means one per core.
    unsigned threads = 0;
    // Largest accepted request body; jobs are small JSON documents.
    std::size_t body_limit = 1024 * 1024;
    // Largest body of POST /jobs/v2/batch (its own limit, since a batch holds many jobs):
    // 1 000 jobs of 8 KiB each. Past it, 413.
    std::size_t batch_body_limit = 8 * 1024 * 1024;
    // The body of a cancel or a retry ({} or one small member); the parser holds a chunked body
    // to it as well. Past it, 413.
    std::size_t control_body_limit = 4096;
    // Most jobs in one POST /jobs/v2/batch; all are committed in one transaction, so this bounds
    // how long one batch holds the store's writer (1 000 jobs: a few milliseconds of SQLite work).
    std::size_t batch_max_jobs = 1000;
    // A page of GET /jobs/v2 stops early (with a next link) once its jobs pass this many bytes,
    // whatever `limit` asked: 1 000 jobs of large inputs would otherwise make a body of gigabytes.
    std::size_t list_max_bytes = 8 * 1024 * 1024;
    // Largest accepted request header block.
    std::size_t header_limit = 16 * 1024;
    // Time allowed for the whole header once its first byte arrived: a client that trickles a
    // header (slowloris) is cut off after this.
    std::chrono::milliseconds header_timeout{5'000};
    // The longest wait for the next bytes of a request's body, or for the socket to take more of
    // an answer: a client that stalls this long is cut off.
    std::chrono::milliseconds read_timeout{10'000};
    // Time allowed for a whole body to arrive (408 past it) and for a whole answer to leave, however
    // steadily it moves: a slow client of a large body is served, a trickling one is not kept.
    std::chrono::milliseconds body_timeout{60'000};
    // The whole-body and whole-answer bound as applied: never shorter than one stall may be.
    std::chrono::milliseconds whole_message_timeout() const { return std::max(body_timeout, read_timeout); }
    // After an answer that closes the connection, what the client still sends is read and dropped
    // this long at most before the close, so that the answer is not lost to a reset (plain TCP).
    std::chrono::milliseconds linger_timeout{2'000};
    // Time an idle keep-alive connection is kept open waiting for its next request.
    std::chrono::milliseconds idle_timeout{60'000};
    // Open connections at most; one more is accepted, answered 503 with Retry-After and closed
    // (rather than left in the kernel's backlog, where the client cannot tell why it waits).
    std::size_t max_connections = 10'000;
    // Event streams (GET /jobs/v2/events) one account may hold open on this instance at most; one
    // more is 429 with Retry-After, so one tenant's streams cannot take every connection.
    std::size_t max_streams_per_account = 100;
    // Requests served on one keep-alive connection before it is closed (the last answer says
    // Connection: close), so load balancers rebalance long-lived clients.
    std::size_t max_requests_per_connection = 10'000;
    // Jobs per second one account may create on average (POST /jobs/v2), and its burst; past it
    // the answer is 429 with Retry-After and RateLimit-* headers. 0 turns limiting off (the
    // default, so one load-test key is not throttled; set it for shared deployments).
    double rate_limit_per_second = 0;
    double rate_limit_burst = 0;  // 0: twice the rate
    // New jobs get 503 with Retry-After while more than this many committed jobs wait for the
    // broker (checked every second), so an outage fills the disk no further. 0: no bound.
    std::uint64_t max_outbox_backlog = 5'000'000;
    // How often accounts, keys and projects are reloaded from the store (key revocation and new
    // projects take effect within this time).
    std::chrono::milliseconds catalog_refresh{1'000};
    // On SIGTERM, time given to requests in flight; past it the jobs not yet being committed
    // are answered 503 and a commit still running gets as long again to answer 201, so no
    // request is cut without an answer unless the store stalls past twice this.
    std::chrono::milliseconds shutdown_grace{5'000};
    // Jobs per type and status (/metrics, the dashboard) are counted by a scan of the jobs table
    // on a store reader thread, at most this often; answers in between reuse the last count.
    std::chrono::milliseconds job_counts_refresh{5'000};
    // The dashboard's ingest rate and latency history: one sample a second, kept this many
    // seconds (5 minutes: enough to see a trend, a few KiB of memory).
    std::size_t dashboard_history_s = 300;
    // Latest jobs listed on the dashboard (across accounts).
    std::size_t dashboard_recent_jobs = 20;
};

// TLS on the listener (HTTP/1.1 over TLS; no ALPN). Off by default: jobsd usually sits behind a
// load balancer that terminates TLS, and loopback needs none.
struct tls_options {
    // true: every connection on server.port must complete a TLS handshake before any HTTP.
    bool enabled = false;
    // PEM certificate chain (server certificate first) and its PEM private key (unencrypted:
    // jobsd cannot prompt for a passphrase). Both must be readable and match, or jobsd does not
    // start.
    std::string certificate_file;
    std::string private_key_file;
    // Lowest protocol version offered: "1.2" or "1.3". TLS 1.0 and 1.1 are deprecated (RFC 8996).
    std::string min_version = "1.2";
    // Time from accept to a finished handshake, and the bound on the close_notify exchange at
    // close: a client that connects and never sends its ClientHello holds a connection slot no
    // longer than this.
    std::chrono::milliseconds handshake_timeout{5'000};
};

struct log_options {
    // spdlog level name: trace, debug, info, warn, error, critical, off.
    std::string level = "info";
    // "json": one object per line, for log collectors; "text": for a person at a terminal.
    std::string format = "json";
};

struct config {
    server_options server;
    // store.common.lifecycle is resolved from `lifecycle` once the configuration is read.
    store::store_config store;
    queue::amqp_options amqp;
    lifecycle_options lifecycle;
    // Seed file applied at start ("" for none); idempotent, so a restart re-applies it safely.
    std::string seed_file;
    log_options log;
    tls_options tls;
    webhooks::webhook_options webhooks;
};

// A configuration problem, with the key it concerns in the message.
class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Loads from argv (flags, including --config FILE), the file and the environment.
// Throws config_error. Sets `help` and returns defaults when --help is given.
config load_config(int argc, const char* const* argv, bool& help);

// The flags, for --help.
std::string config_usage();

}  // namespace jobsd::server
