// One keep-alive client per jobsd; a jobsd that does not answer within 1 s is recorded as down.
#include "tests/support/metrics_sampler.hpp"

#include <map>
#include <memory>

#include "tests/support/http_client.hpp"

namespace jobsd::test {

metrics_sampler::metrics_sampler(std::vector<target> targets, std::chrono::milliseconds period,
                                 std::chrono::steady_clock::time_point origin)
    : targets_(std::move(targets)), period_(period), origin_(origin), thread_([this] { run(); }) {}

metrics_sampler::~metrics_sampler() {
    stop_ = true;
    thread_.join();
}

double metrics_sampler::now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - origin_).count();
}

std::vector<counter_sample> metrics_sampler::samples() const {
    std::lock_guard lock(mutex_);
    return samples_;
}

void metrics_sampler::run() {
    std::map<int, std::unique_ptr<http_client>> clients;
    for (const auto& t : targets_)
        clients[t.instance] = std::make_unique<http_client>("127.0.0.1", t.port, std::chrono::seconds(1));
    while (!stop_) {
        const auto next = std::chrono::steady_clock::now() + period_;
        for (const auto& t : targets_) {
            counter_sample s;
            s.instance = t.instance;
            try {
                const auto r = clients[t.instance]->get("/metrics");
                s.up = r.status == 200;
                s.confirmed = metric_value(r.body, "jobsd_amqp_confirmed_total");
                s.created = metric_value(r.body, R"(jobsd_http_responses_total{code="201"})");
                s.errors = metric_value(r.body, R"(jobsd_http_responses_total{code="500"})") +
                           metric_value(r.body, R"(jobsd_http_responses_total{code="503"})");
            } catch (const std::exception&) {
                s.up = false;  // refused, reset or timed out: the client reconnects next time
            }
            s.t = now();
            std::lock_guard lock(mutex_);
            samples_.push_back(s);
        }
        std::this_thread::sleep_until(next);
    }
}

}  // namespace jobsd::test
