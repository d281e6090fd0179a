// Name lookups for webhook attempts that give up at their deadline and never queue behind each
// other. Asio's resolver runs every getaddrinfo of an io_context on one private thread, which no
// cancel interrupts: one receiver whose name servers do not answer (10 s and more a lookup) held
// up every other receiver's new connection behind it, and an attempt's deadline did not end its
// wait. Here each lookup runs on a small pool of threads of its own; the waiting coroutine
// resumes at its deadline whatever the lookup does, and a lookup still queued when its waiter
// gave up is never started. The pool's threads are named jobsd-dns.
//
// Thread safety: resolve() is called from coroutines on any io_context that outlives the
// resolver; the answer comes back on the caller's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace jobsd::server::webhooks {

class host_resolver {
  public:
    using endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
    // One blocking lookup of host and (numeric) port; a test passes its own. Empty: getaddrinfo.
    using lookup_fn = std::function<endpoints(const std::string& host, const std::string& port,
                                              boost::system::error_code& ec)>;

    explicit host_resolver(unsigned threads, lookup_fn lookup = {});
    // Drops the lookups not started and waits for the ones running (their answers go nowhere).
    ~host_resolver();
    host_resolver(const host_resolver&) = delete;
    host_resolver& operator=(const host_resolver&) = delete;

    // The addresses of host:port, or the lookup's error; boost::asio::error::timed_out when
    // `timeout` passed first.
    boost::asio::awaitable<std::pair<boost::system::error_code, endpoints>> resolve(
        std::string host, std::string port, std::chrono::milliseconds timeout);

  private:
    endpoints system_lookup(const std::string& host, const std::string& port, boost::system::error_code& ec);

    lookup_fn lookup_;
    boost::asio::io_context pool_;  // run by threads_ alone
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_{pool_.get_executor()};
    std::vector<std::thread> threads_;
};

}  // namespace jobsd::server::webhooks
