// Subscriptions are weak: a stream that ends simply lets its entry expire, pruned on publish.
#include "server/notification_hub.hpp"

#include <boost/asio/post.hpp>

#include <vector>

namespace jobsd::server {

std::shared_ptr<subscriber> notification_hub::subscribe(const std::string& account_id,
                                                        const std::string& session_id,
                                                        boost::asio::any_io_executor ex,
                                                        std::size_t per_account_max) {
    const std::string prefix = account_id + '\n';
    std::shared_ptr<subscriber> sub;
    {
        std::lock_guard lock(mu_);
        // Prune expired entries here too, so a key nobody publishes to does not grow forever;
        // and count the account's live ones.
        std::size_t held = 0;
        for (auto it = subs_.begin(); it != subs_.end();) {
            if (it->second.expired()) {
                it = subs_.erase(it);
                continue;
            }
            held += it->first.starts_with(prefix);
            ++it;
        }
        if (held >= per_account_max) return nullptr;
        live_->fetch_add(1, std::memory_order_relaxed);
        sub.reset(new subscriber(std::move(ex), max_queued_), [live = live_](subscriber* s) {
            live->fetch_sub(1, std::memory_order_relaxed);
            delete s;
        });
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
