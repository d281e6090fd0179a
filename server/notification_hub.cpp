// Subscriptions are weak: a stream that ends simply lets its entry expire, pruned on publish.
#include "server/notification_hub.hpp"

#include <boost/asio/post.hpp>

#include <vector>

namespace jobsd::server {

std::shared_ptr<subscriber> notification_hub::subscribe(const std::string& account_id,
                                                        const std::string& session_id,
                                                        boost::asio::any_io_executor ex) {
    live_->fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<subscriber> sub(new subscriber(std::move(ex), max_queued_),
                                    [live = live_](subscriber* s) {
                                        live->fetch_sub(1, std::memory_order_relaxed);
                                        delete s;
                                    });
    {
        std::lock_guard lock(mu_);
        // Prune expired entries here too, so a key nobody publishes to does not grow forever.
        for (auto it = subs_.begin(); it != subs_.end();)
            it = it->second.expired() ? subs_.erase(it) : std::next(it);
        subs_.emplace(key(account_id, session_id), sub);
    }
    if (outlet_) outlet_->listening_here();
    return sub;
}

void notification_hub::publish(const std::string& account_id, const std::string& session_id,
                               const std::string& event_json) {
    if (session_id.empty()) return;
    if (outlet_ && outlet_->listened_elsewhere()) outlet_->forward(account_id, session_id, event_json);
    deliver(account_id, session_id, event_json);
}

void notification_hub::deliver(const std::string& account_id, const std::string& session_id,
                               const std::string& event_json) {
    if (session_id.empty() || subscribers() == 0) return;
    std::vector<std::shared_ptr<subscriber>> targets;
    {
        std::lock_guard lock(mu_);
        auto [first, last] = subs_.equal_range(key(account_id, session_id));
        for (auto it = first; it != last;) {
            if (auto s = it->second.lock()) {
                targets.push_back(std::move(s));
                ++it;
            } else {
                it = subs_.erase(it);
            }
        }
    }
    for (auto& s : targets) {
        auto ex = s->executor();
        boost::asio::post(ex, [s = std::move(s), event_json] { s->push(event_json); });
    }
}

}  // namespace jobsd::server
