// Live job notifications: clients subscribe by (account, session_id); status changes of that
// account's jobs carrying that session_id are delivered to each subscriber's own io thread.
// With an outlet (several instances on one PostgreSQL store: queue/status_relay.hpp), what is
// published here also goes to the other instances' subscribers while any of them listens, and
// what they publish arrives through deliver().
// Thread safety: publish(), deliver() and subscribe() may be called from any thread; a
// subscriber's queue is touched only on its executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "queue/status_outlet.hpp"

namespace jobsd::server {

class subscriber {
  public:
    subscriber(boost::asio::any_io_executor ex, std::size_t max_queued)
        : wake_(ex), max_queued_(max_queued) {}

    boost::asio::any_io_executor executor() { return wake_.get_executor(); }

    // On the executor only. A subscriber that falls `max_queued` events behind is cut off
    // (overflowed) rather than buffering without bound; it can reconnect and poll.
    void push(std::string event) {
        if (queue_.size() >= max_queued_) {
            overflowed_ = true;
        } else {
            queue_.push_back(std::move(event));
        }
        wake_.cancel();
    }

    // On the executor only: the stream's client went away; the stream ends at once.
    void close() {
        closed_ = true;
        wake_.cancel();
    }

    std::deque<std::string>& queue() { return queue_; }
    bool overflowed() const { return overflowed_; }
    bool closed() const { return closed_; }
    boost::asio::steady_timer& wake() { return wake_; }

  private:
    boost::asio::steady_timer wake_;  // waited on by the stream; cancelled to wake it
    std::deque<std::string> queue_;
    bool overflowed_ = false;
    bool closed_ = false;
    const std::size_t max_queued_;
};

class notification_hub {
  public:
    explicit notification_hub(std::size_t max_queued_per_subscriber = 1024)
        : max_queued_(max_queued_per_subscriber) {}

    // The subscription lasts as long as the returned pointer is held. Null when the account holds
    // `per_account_max` subscriptions already.
    std::shared_ptr<subscriber> subscribe(const std::string& account_id, const std::string& session_id,
                                          boost::asio::any_io_executor ex,
                                          std::size_t per_account_max = static_cast<std::size_t>(-1));

    // Set once, before any other call; the outlet must outlive the hub's use.
    void attach(queue::status_outlet* outlet) noexcept { outlet_ = outlet; }

    // Delivers `event_json` to every live subscriber of (account_id, session_id), here and,
    // through the outlet, on the other instances.
    void publish(const std::string& account_id, const std::string& session_id, const std::string& event_json);
    // Here only: an event another instance published.
    void deliver(const std::string& account_id, const std::string& session_id, const std::string& event_json);

    // Someone listens, here or elsewhere: no event text need be built otherwise.
    bool listened() const noexcept { return subscribers() > 0 || (outlet_ && outlet_->listened_elsewhere()); }
    // Streams open now: a subscriber counts until its stream lets it go.
    std::size_t subscribers() const noexcept { return live_->load(std::memory_order_relaxed); }

  private:
    static std::string key(const std::string& account_id, const std::string& session_id) {
        return account_id + '\n' + session_id;
    }

    std::mutex mu_;
    std::unordered_multimap<std::string, std::weak_ptr<subscriber>> subs_;  // guarded by mu_
    // Subscribers alive, read without the lock on the hot path; shared with each subscriber's
    // deleter, which may run after the hub is gone.
    std::shared_ptr<std::atomic<std::size_t>> live_ = std::make_shared<std::atomic<std::size_t>>(0);
    queue::status_outlet* outlet_ = nullptr;
    const std::size_t max_queued_;
};

}  // namespace jobsd::server
