// The answers of one store pass, posted per executor (store/completion.hpp).
#include "store/completion.hpp"

#include <boost/asio/dispatch.hpp>

#include <exception>

namespace jobsd::store {

namespace {

thread_local completion_batch* open_batch = nullptr;

// Every answer runs even when one throws; the first exception then goes on to the io thread's
// run(), as it would have from a handler posted alone.
void run_all(std::vector<boost::asio::any_completion_handler<void()>>& answers) {
    std::exception_ptr first;
    for (auto& a : answers) {
        try {
            std::move(a)();
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}

}  // namespace

completion_batch::completion_batch() : outer_(open_batch) {
    open_batch = this;
}

completion_batch::~completion_batch() {
    open_batch = outer_;
    for (auto& g : groups_)
        boost::asio::dispatch(g.ex, [answers = std::move(g.answers)]() mutable { run_all(answers); });
}

completion_batch* completion_batch::current() noexcept {
    return open_batch;
}

void completion_batch::add(boost::asio::any_completion_executor ex,
                           boost::asio::any_completion_handler<void()> answer) {
    for (auto& g : groups_)
        if (g.ex == ex) {
            g.answers.push_back(std::move(answer));
            return;
        }
    groups_.push_back({std::move(ex), {}});
    groups_.back().answers.push_back(std::move(answer));
}

}  // namespace jobsd::store
