// One webhook attempt over HTTP/1.1: an asynchronous Beast client, plain and TLS through the same
// code (a template over the stream, as the server's session is), TLS verified against the
// system's CA store (or webhooks.ca_file) with SNI and host name checks. Every resolved address
// passes the address policy before a connection is made to it; connections are kept alive and
// reused per destination; connect, TLS handshake and the whole answer each have a deadline, and
// at most webhooks.response_max bytes of an answer are read. Redirects are answers like any other.
//
// Thread safety: one sender per io_context; send() and sweep() run on that context only, and its
// pool of idle connections is touched there alone.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/webhooks/address_policy.hpp"
#include "server/webhooks/host_resolver.hpp"
#include "server/webhooks/webhook_options.hpp"

namespace jobsd::server::webhooks {

// What one attempt sends: the body and the Standard Webhooks headers.
struct outgoing {
    std::string url;
    std::string body;
    std::string id;           // webhook-id
    std::string timestamp;    // webhook-timestamp
    std::string signature;    // webhook-signature
    std::string traceparent;  // W3C traceparent continuing the job's trace; "" sends none
};

struct attempt_result {
    std::optional<int> status;                        // nullopt: no answer
    std::optional<std::chrono::seconds> retry_after;  // from a Retry-After in seconds
    std::string error;                                // why there was no answer ("" with one)
    std::chrono::milliseconds latency{0};             // from the start of the attempt to its end
};

class webhook_sender {
  public:
    // `tls` is the client context (verification set up by make_client_tls_context); it, `options`,
    // `policy` and `resolver` (shared by the senders) outlive the sender.
    webhook_sender(boost::asio::io_context& ioc, const webhook_options& options, const address_policy& policy,
                   boost::asio::ssl::context& tls, host_resolver& resolver);
    ~webhook_sender();

    boost::asio::awaitable<attempt_result> send(const outgoing& request);

    // Closes the kept-alive connections idle for longer than webhooks.idle_timeout.
    void sweep();
    std::size_t idle_connections() const noexcept;

    struct connection;  // a plain or TLS stream with its read buffer
    struct target;      // a URL taken apart for connecting

  private:
    boost::asio::awaitable<std::unique_ptr<connection>> open(const target& t, std::string& error);
    std::unique_ptr<connection> take_idle(const std::string& origin);
    void keep_idle(const std::string& origin, std::unique_ptr<connection> c);

    boost::asio::io_context& ioc_;
    const webhook_options& options_;
    const address_policy& policy_;
    boost::asio::ssl::context& tls_;
    host_resolver& resolver_;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;  // by origin, oldest first
};

// The client TLS context: peer verification against `ca_file`, or the system's CA store when it
// is "", TLS 1.2 at least. Throws std::runtime_error naming the file when it cannot be loaded.
boost::asio::ssl::context make_client_tls_context(const std::string& ca_file);

}  // namespace jobsd::server::webhooks
