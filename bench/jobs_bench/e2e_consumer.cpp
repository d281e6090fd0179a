// An amqp_session user on a thread of its own, for one connection only: the bench's queue is
// exclusive and dies with the connection, so a failure is reported, not retried. no_ack, since
// the queue is ours.
#include "bench/jobs_bench/e2e_consumer.hpp"

#include <amqp.h>

#include <future>
#include <stdexcept>

#include "bench/jobs_bench/http_load_client.hpp"
#include "queue/amqp_bytes.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"

namespace jobsd::bench {

namespace {
using queue::bytes;
constexpr std::size_t max_pending = 10'000'000;
}  // namespace

struct e2e_consumer::impl final : queue::amqp_session_user {
    impl(e2e_consumer& owner, std::string exchange, std::vector<std::string> types)
        : owner_(owner), exchange_(std::move(exchange)), types_(std::move(types)) {}

    void on_connected(queue::amqp_connection& c) override {
        reached_ = true;
        c.declare_exchange(exchange_, "direct");
        auto* ok = amqp_queue_declare(c.state(), queue::amqp_connection::channel, amqp_empty_bytes, 0, 0, 1,
                                      1, amqp_empty_table);
        c.check_last("declaring the e2e queue");
        owner_.queue_ = queue::text(ok->queue);
        for (const auto& t : types_) c.bind_queue(owner_.queue_, exchange_, t);
        amqp_basic_consume(c.state(), queue::amqp_connection::channel, bytes(owner_.queue_), amqp_empty_bytes,
                           0, 1, 1, amqp_empty_table);
        c.check_last("consuming the e2e queue");
        announced_ = true;
        ready_.set_value({});
    }

    void on_delivery(queue::amqp_connection&, const queue::amqp_delivery& d) override {
        const auto now = monotonic_ns();
        std::string id = d.message_id();
        std::lock_guard lock(owner_.mutex_);
        if (owner_.pending_.size() < max_pending)
            owner_.pending_.push_back({std::move(id), now});
        else
            ++owner_.dropped_;
    }

    queue::amqp_step step(queue::amqp_connection&, queue::amqp_step::clock::time_point) override {
        return {owner_.stop_.load()};
    }

    void on_flow(queue::amqp_connection&, bool, std::string_view) override {}

    void on_disconnected(std::string_view why) override {
        failed_ = true;
        if (why.empty()) return;
        if (!announced_) {
            announced_ = true;
            ready_.set_value(reached_ ? "e2e: " + std::string(why)
                                      : "e2e: cannot reach the broker: " + std::string(why));
            return;
        }
        std::lock_guard lock(owner_.mutex_);
        owner_.error_ = "e2e consumer lost the broker: " + std::string(why);
    }

    bool stopping() const override { return failed_.load() || owner_.stop_.load(); }

    e2e_consumer& owner_;
    const std::string exchange_;
    const std::vector<std::string> types_;
    std::promise<std::string> ready_;  // "" once consuming, else why not
    bool reached_ = false;             // the connection was made
    bool announced_ = false;           // ready_ is set
    std::atomic<bool> failed_{false};  // also read by the session's send watchdog
    queue::wakeup wake_;
};

e2e_consumer::e2e_consumer(const std::string& url, const std::string& exchange,
                           const std::vector<std::string>& types) {
    impl_ = std::make_unique<impl>(*this, exchange, types);
    queue::amqp_session_options o;
    o.name = "e2e";
    o.urls = {url};
    o.connect_timeout = std::chrono::seconds(5);
    o.heartbeat_s = 30;
    o.log_failures = false;
    auto ready = impl_->ready_.get_future();
    thread_ = std::thread([this, o] { queue::amqp_session(o, *impl_, impl_->wake_).run(); });
    if (auto problem = ready.get(); !problem.empty()) {
        thread_.join();
        throw std::runtime_error(problem);
    }
}

e2e_consumer::~e2e_consumer() {
    stop();
}

void e2e_consumer::stop() {
    stop_ = true;
    impl_->wake_.notify();
    if (thread_.joinable()) thread_.join();
}

std::vector<delivery> e2e_consumer::take() {
    std::lock_guard lock(mutex_);
    std::vector<delivery> out;
    out.swap(pending_);
    return out;
}

std::string e2e_consumer::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

}  // namespace jobsd::bench
