// rabbitmq-c consumer loop: amqp_consume_message with a 100 ms timeout so stop() is noticed
// promptly and heartbeats are serviced; no_ack, since the queue is ours and dies with us.
#include "bench/jobs_bench/e2e_consumer.hpp"

#include <amqp.h>

#include <stdexcept>

#include "bench/jobs_bench/http_load_client.hpp"
#include "queue/amqp_connection.hpp"

namespace jobsd::bench {

struct e2e_consumer::impl {
    queue::amqp_connection conn;
    impl(const std::string& url) : conn(url, std::chrono::seconds(5), 30) {}
};

namespace {
amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}
constexpr std::size_t max_pending = 10'000'000;
}  // namespace

e2e_consumer::e2e_consumer(const std::string& url, const std::string& exchange,
                           const std::vector<std::string>& types) {
    try {
        impl_ = std::make_unique<impl>(url);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("e2e: cannot reach the broker: ") + e.what());
    }
    try {
        auto& c = impl_->conn;
        c.declare_exchange(exchange, "direct");
        auto* ok = amqp_queue_declare(c.state(), queue::amqp_connection::channel, amqp_empty_bytes, 0, 0, 1,
                                      1, amqp_empty_table);
        c.check_last("declaring the e2e queue");
        queue_.assign(static_cast<const char*>(ok->queue.bytes), ok->queue.len);
        for (const auto& t : types) c.bind_queue(queue_, exchange, t);
        amqp_basic_consume(c.state(), queue::amqp_connection::channel, bytes(queue_), amqp_empty_bytes, 0, 1,
                           1, amqp_empty_table);
        c.check_last("consuming the e2e queue");
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("e2e: ") + e.what());
    }
    thread_ = std::thread([this] { run(); });
}

e2e_consumer::~e2e_consumer() {
    stop();
}

void e2e_consumer::stop() {
    stop_ = true;
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

void e2e_consumer::run() {
    auto state = impl_->conn.state();
    while (!stop_) {
        amqp_maybe_release_buffers(state);
        amqp_envelope_t env;
        timeval tv{0, 100'000};
        const amqp_rpc_reply_t r = amqp_consume_message(state, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            const auto now = monotonic_ns();
            std::string id;
            if (env.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                id.assign(static_cast<const char*>(env.message.properties.message_id.bytes),
                          env.message.properties.message_id.len);
            amqp_destroy_envelope(&env);
            std::lock_guard lock(mutex_);
            if (pending_.size() < max_pending)
                pending_.push_back({std::move(id), now});
            else
                ++dropped_;
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            // A frame other than a delivery (e.g. a channel close): read it, give up on a close.
            amqp_frame_t frame;
            if (amqp_simple_wait_frame(state, &frame) != AMQP_STATUS_OK) break;
            if (frame.frame_type == AMQP_FRAME_METHOD &&
                (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                 frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
                std::lock_guard lock(mutex_);
                error_ = "the broker closed the e2e consumer's channel";
                return;
            }
            continue;
        }
        std::lock_guard lock(mutex_);
        error_ = std::string("e2e consumer lost the broker: ") +
                 (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                                  : "server error");
        return;
    }
}

}  // namespace jobsd::bench
