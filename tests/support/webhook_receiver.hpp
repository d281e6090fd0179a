// A webhook receiver for tests: an HTTP/1.1 server on 127.0.0.1 (a free port) that records every
// request it gets (webhook headers and body) and answers what the test's responder says: a
// status, or no answer at all (the connection is held open until the peer gives up or the
// receiver stops). Also an HTTPS variant with a given certificate. Signature checks are the
// test's own (verify_signature below: OpenSSL's HMAC used directly, not jobsd's code).
//
// Thread safety: every member may be called from any thread; requests are served by a thread
// per connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jobsd::test {

struct received_webhook {
    std::string target;
    std::string id, timestamp, signature;  // the webhook-* headers
    std::string content_type;
    std::string body;
    std::chrono::steady_clock::time_point at;
    std::string traceparent;  // W3C trace context header, "" when absent
};

class webhook_receiver {
  public:
    // The answer to one request: a status, or nullopt for none (the connection is held open).
    using responder = std::function<std::optional<int>(const received_webhook&, std::size_t index)>;

    // Plain HTTP; with `certificate` and `key` (PEM files), HTTPS.
    explicit webhook_receiver(responder answer = always(204), std::filesystem::path certificate = {},
                              std::filesystem::path key = {});
    ~webhook_receiver();
    webhook_receiver(const webhook_receiver&) = delete;
    webhook_receiver& operator=(const webhook_receiver&) = delete;

    unsigned short port() const { return port_; }
    // "http://127.0.0.1:PORT/hooks" (or https://, or with `host` instead of the address).
    std::string url(const std::string& host = "127.0.0.1") const;

    void set_responder(responder answer);
    // Each answer from now on comes after an interim one of this 1xx status (0: none).
    void set_interim(int status) { interim_ = status; }
    std::vector<received_webhook> received() const;
    // Waits until at least `n` requests came in, or the deadline; returns what came.
    std::vector<received_webhook> wait_for(std::size_t n, std::chrono::milliseconds timeout) const;
    // Connections accepted so far, open now, and open at once at most.
    std::size_t connections() const { return accepted_; }
    std::size_t open_connections() const { return open_; }
    std::size_t max_open_connections() const { return max_open_; }

    static responder always(int status) {
        return [status](const received_webhook&, std::size_t) { return std::optional<int>(status); };
    }

  private:
    struct impl;
    void serve(int fd);
    std::unique_ptr<impl> impl_;
    unsigned short port_ = 0;
    bool tls_ = false;
    std::atomic<std::size_t> accepted_{0}, open_{0}, max_open_{0};
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<received_webhook> received_;
    responder answer_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> interim_{0};
    std::thread acceptor_thread_;
    std::vector<std::thread> connection_threads_;
};

// Whether one of the space-separated "v1,<base64>" signatures in `header` is HMAC-SHA256 of
// "id.timestamp.body" under the "whsec_" secret, per the Standard Webhooks spec.
bool verify_signature(const std::string& secret, const received_webhook& w);
// The signatures in the header, as they came ("v1,…").
std::vector<std::string> signatures_of(const received_webhook& w);

}  // namespace jobsd::test
