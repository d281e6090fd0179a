// The order in which held jobs of one type leave for the broker: start-time fair queueing over
// flows, a flow being one account's jobs at one priority. A held job gets a tag, its flow's last
// tag (or the virtual time, if that is later) plus 1 / weight(priority); jobs leave smallest
// tag first and the virtual time follows the tags that left. So an account's backlog of 100 000
// puts another account's new job behind at most one of its jobs, and while several flows wait
// each gets a share of the releases proportional to its weight (model/priority.hpp: a high
// job's flow four times a normal one's): nobody starves.
// Pure code, no clock, no I/O. Thread safety: none (the caller serialises).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace jobsd::model {

class fair_order {
  public:
    // The tag of the next held job of `account` at `priority`.
    double next_tag(const std::string& account, int priority);

    // Jobs with tags up to `tag` left: the virtual time moves up to it (never back).
    void released(double tag) noexcept;

    // Forgets flows whose last tag the virtual time has passed: a new job of theirs would get
    // the virtual time anyway. Call now and then so the map holds only waiting flows.
    void prune();

    double virtual_time() const noexcept { return now_; }
    std::size_t flows() const noexcept { return last_.size(); }

  private:
    double now_ = 0;
    std::unordered_map<std::string, double> last_;  // account + '\n' + priority -> last tag
};

}  // namespace jobsd::model
