// queue.declare with passive=1 answers a queue's ready messages and consumers without creating
// or changing it; for a missing queue the broker closes the channel (404), which is reopened.
#include "server/passive_queue_reader.hpp"

#include <amqp.h>
#include <pthread.h>

#include "model/clock.hpp"
#include "store/completion.hpp"

namespace jobsd::server {

namespace {

struct declare_ok {
    std::uint64_t ready = 0;
    std::uint64_t consumers = 0;
};

// The queue's counts, or nullopt when it does not exist. Throws queue::amqp_error when the
// connection itself failed.
std::optional<declare_ok> passive_declare(queue::amqp_connection& c, const std::string& name) {
    constexpr auto channel = queue::amqp_connection::channel;
    auto* ok = amqp_queue_declare(c.state(), channel, amqp_cstring_bytes(name.c_str()), 1, 0, 0, 0,
                                  amqp_empty_table);
    if (ok) return declare_ok{ok->message_count, ok->consumer_count};
    const auto reply = amqp_get_rpc_reply(c.state());
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t close_ok{};
        amqp_send_method(c.state(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
        amqp_channel_open(c.state(), channel);
        c.check_last("reopening the channel after a passive declare of " + name);
        return std::nullopt;
    }
    c.check(reply, "passive declare of " + name);
    return std::nullopt;
}

}  // namespace

passive_queue_reader::passive_queue_reader(const queue::amqp_options& amqp)
    : amqp_(amqp), thread_([this] { run(); }) {}

passive_queue_reader::~passive_queue_reader() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void passive_queue_reader::submit(handler_type handler) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            pending_.push_back(std::move(handler));
            wake_.notify_one();
            return;
        }
    }
    store::complete(std::move(handler), view_result(boost::system::in_place_error, "jobsd is shutting down"));
}

void passive_queue_reader::run() {
    ::pthread_setname_np(::pthread_self(), "jobsd-queues");
    for (;;) {
        std::deque<handler_type> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            batch.swap(pending_);
            if (stopping_) {
                for (auto& h : batch)
                    store::complete(std::move(h),
                                    view_result(boost::system::in_place_error, "jobsd is shutting down"));
                return;
            }
        }
        // Everyone queued meanwhile gets the same read.
        const auto view = read_view();
        for (auto& h : batch) store::complete(std::move(h), view);
    }
}

passive_queue_reader::view_result passive_queue_reader::read_view() {
    std::string failure = "no broker URL configured";
    for (int attempt = 0; attempt < 2; ++attempt) {  // a connection gone stale gets one fresh retry
        try {
            if (!connection_) {
                for (const auto& url : amqp_.urls) {
                    try {
                        connection_ =
                            std::make_unique<queue::amqp_connection>(url, amqp_.management_timeout, 0);
                        break;
                    } catch (const queue::amqp_error& e) {
                        failure = e.what();
                    }
                }
                if (!connection_) return {boost::system::in_place_error, failure};
            }
            queue_view view;
            view.read_at_ms = model::now_ms();
            view.unacked_known = false;
            view.source = "passive_declare";
            for (const auto& type : amqp_.job_types) {
                queue_depth d;
                d.job_type = type;
                d.queue = amqp_.queue_prefix + type;
                d.dead_queue = amqp_.dead_queue_prefix + type;
                if (auto q = passive_declare(*connection_, d.queue)) {
                    d.declared = true;
                    d.ready = q->ready;
                    d.consumers = q->consumers;
                }
                if (auto dead = passive_declare(*connection_, d.dead_queue)) d.dead_lettered = dead->ready;
                view.types.push_back(std::move(d));
            }
            return view;
        } catch (const queue::amqp_error& e) {
            failure = e.what();
            connection_.reset();
        }
    }
    return {boost::system::in_place_error, failure};
}

}  // namespace jobsd::server
