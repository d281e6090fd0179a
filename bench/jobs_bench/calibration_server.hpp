// The HTTP ceiling of this machine for --calibrate: a minimal Beast server on 127.0.0.1 that
// reads each request and answers a fixed 201 body, with no work behind it. With
// --webhook-receiver it is also the webhook receiver (a 201 counts as delivered), counting requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace jobsd::bench {

// Thread safety: construct, port() and stop() from one owner thread (requests(),
// last_request_ns() and take_arrivals() from any); the server runs on
// `threads` threads of its own until stop() or destruction.
class calibration_server {
  public:
    // A request with a job uuid in its body (a webhook delivery) and when it was read
    // (steady clock, ns since its epoch).
    struct arrival {
        std::string uuid;
        std::int64_t at_ns = 0;
    };

    // Binds 127.0.0.1:0 and starts serving. Throws std::system_error when it cannot bind.
    // `record_arrivals` (--webhook-receiver): keep an arrival per request, for take_arrivals().
    explicit calibration_server(unsigned threads, bool record_arrivals = false);
    ~calibration_server();
    calibration_server(const calibration_server&) = delete;
    calibration_server& operator=(const calibration_server&) = delete;

    unsigned short port() const noexcept { return port_; }
    void stop();
    // Requests read so far, and when the latest was (steady clock, ns since its epoch; 0: none).
    std::uint64_t requests() const noexcept;
    std::int64_t last_request_ns() const noexcept;
    // The arrivals recorded since the last call (any thread).
    std::vector<arrival> take_arrivals();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::vector<std::thread> threads_;
    unsigned short port_ = 0;
};

}  // namespace jobsd::bench
