// A Server-Sent Events reader for tests: opens GET /jobs/v2/events and collects the `data:`
// payloads of `status` events, and the names of other events, on a background thread.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobsd::test {

class sse_client {
  public:
    // Connects and waits for the stream's 200 header (throws on anything else).
    sse_client(const std::string& host, unsigned short port, const std::string& api_key,
               const std::string& session_id);
    ~sse_client();

    // The events received so far, as parsed JSON objects.
    std::vector<boost::json::value> events() const;
    // The names of the other events received so far ("revoked", "overflow").
    std::vector<std::string> notices() const;
    // Waits until the stream ended (the server closed it) or the timeout passes.
    bool wait_ended(std::chrono::milliseconds timeout) const;

    // Waits until `done(events)` holds or the timeout passes; returns whether it held.
    bool wait_for(const std::function<bool(const std::vector<boost::json::value>&)>& done,
                  std::chrono::milliseconds timeout) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::test
