// The queue view without the broker's management plugin: a passive queue.declare of each
// per-type and dead-letter queue, on a thread of its own because rabbitmq-c blocks. It gives
// ready messages and consumers; unacked messages are unknown to AMQP and left out.
// Thread safety: async_read may be called from any thread; reads queue up for the reader
// thread, which alone owns the broker connection.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/result.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "queue/amqp_connection.hpp"
#include "queue/amqp_options.hpp"
#include "server/queue_view.hpp"

namespace jobsd::server {

class passive_queue_reader {
  public:
    using view_result = boost::system::result<queue_view, std::string>;
    using handler_type = boost::asio::any_completion_handler<void(view_result)>;

    // Starts the reader thread; it connects on the first read (and again after a failure), to
    // amqp.urls in turn, each within amqp.management_timeout_ms.
    explicit passive_queue_reader(const queue::amqp_options& amqp);
    // Fails reads still queued, joins the thread.
    ~passive_queue_reader();
    passive_queue_reader(const passive_queue_reader&) = delete;
    passive_queue_reader& operator=(const passive_queue_reader&) = delete;

    // Completes on the handler's executor with the view or the reason it could not be read.
    template <class Token>
    auto async_read(Token&& token) {
        return boost::asio::async_initiate<Token, void(view_result)>(
            [this](auto handler) { submit(handler_type(std::move(handler))); }, token);
    }

  private:
    void submit(handler_type handler);
    void run();
    view_result read_view();

    const queue::amqp_options& amqp_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<handler_type> pending_;                    // guarded by mutex_
    bool stopping_ = false;                               // guarded by mutex_
    std::unique_ptr<queue::amqp_connection> connection_;  // reader thread only
    std::thread thread_;
};

}  // namespace jobsd::server
