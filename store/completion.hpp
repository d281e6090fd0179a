// Handing a result computed on a store thread back to the waiter, on the waiter's executor.
#pragma once

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>

#include <tuple>
#include <utility>
#include <vector>

namespace jobsd::store {

// The answers a store thread gives in one pass (a write batch's, a reader's run), handed over
// together: while one is open on a thread, complete() there gathers each answer under its
// executor, and closing it hands each executor its answers as one handler that runs them in order.
// One post per io thread per pass instead of one per answer: each post from a foreign thread takes
// the io thread's scheduler lock and, when that thread sleeps, a system call to wake it, which
// the store thread paid once per job (bench/RESULTS.md). On a thread that runs an io_context (the
// PostgreSQL store's), answers for that context itself run when the pass ends, not at once; a
// coroutine must not suspend while one is open.
// Thread safety: the thread that opened it, alone.
class completion_batch {
  public:
    completion_batch();
    ~completion_batch();  // posts what was gathered
    completion_batch(const completion_batch&) = delete;
    completion_batch& operator=(const completion_batch&) = delete;

    // The batch open on the calling thread, or null.
    static completion_batch* current() noexcept;
    void add(boost::asio::any_completion_executor ex, boost::asio::any_completion_handler<void()> answer);

  private:
    struct group {
        boost::asio::any_completion_executor ex;
        std::vector<boost::asio::any_completion_handler<void()>> answers;
    };
    std::vector<group> groups_;
    completion_batch* outer_;
};

// Runs `handler(args...)` through its associated executor: from a foreign thread this posts,
// so the waiting coroutine resumes on its own io thread, never on the store's; inside a
// completion_batch, when the batch closes.
template <class Signature, class... Args>
void complete(boost::asio::any_completion_handler<Signature> handler, Args&&... args) {
    auto ex = boost::asio::get_associated_executor(handler);
    auto answer = [h = std::move(handler), values = std::make_tuple(std::forward<Args>(args)...)]() mutable {
        std::apply(std::move(h), std::move(values));
    };
    if (completion_batch* batch = completion_batch::current()) {
        batch->add(std::move(ex), std::move(answer));
        return;
    }
    boost::asio::dispatch(ex, std::move(answer));
}

}  // namespace jobsd::store
