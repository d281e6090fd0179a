#include "queue/session_thread.hpp"

#include <pthread.h>

namespace jobsd::queue {

void session_thread::start(const char* name, amqp_session& session) {
    if (thread_.joinable()) return;
    thread_ = std::thread([name, &session] {
        ::pthread_setname_np(::pthread_self(), name);
        session.run();
    });
}

}  // namespace jobsd::queue
