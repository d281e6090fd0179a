// What a chaos test learns from counters sampled over time: after a fault, when did a counter
// of any instance, and of every instance, rise again. Plain data and functions, no I/O.
// Thread safety: the functions only read their arguments; call them from any thread.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace jobsd::test {

struct counter_sample {
    double t = 0;          // seconds since the test's origin (steady clock)
    int instance = 0;      // which jobsd, 1..N
    bool up = false;       // it answered /metrics; the counters below are meaningful only then
    double confirmed = 0;  // jobsd_amqp_confirmed_total: jobs the broker confirmed (published)
    double created = 0;    // jobsd_http_responses_total{code="201"}: jobs accepted
    double errors = 0;     // jobsd_http_responses_total with code 500 and 503: requests refused
};

enum class counter { confirmed, created, errors };

// The value of one series in Prometheus text (`name` or `name{labels}` exactly as written),
// 0 when the series is absent (a counter that never moved may not be listed).
double metric_value(std::string_view text, std::string_view series);

// Seconds from `fault` until `instance`'s counter first rose above its value in the first sample
// taken after the fault (a restarted process, whose counter starts again from 0, gets a new
// baseline), looking at samples up to `until`; nullopt when it never rose. The baseline being a
// sample after the fault, the answer is late by at most one sampling period.
std::optional<double> first_rise(const std::vector<counter_sample>& samples, int instance, counter c,
                                 double fault, double until);

struct recovery {
    std::optional<double> any;    // the first instance whose counter rose again
    std::optional<double> every;  // the last of `instances` to rise; nullopt if one never did
};
recovery recovery_after(const std::vector<counter_sample>& samples, const std::vector<int>& instances,
                        counter c, double fault, double until);

// The longest time within [from, until] during which no instance's counter rose: how long the
// whole cluster went without accepting (created) or publishing (confirmed) a job. Measured from
// `from` to the first rise, between rises, and from the last rise to `until`.
double longest_gap(const std::vector<counter_sample>& samples, counter c, double from, double until);

// How much the counter rose within [from, until], added over the instances (a restart's drop
// to 0 is not counted as a rise; what a killed process counted after its last sample is lost).
double total_rise(const std::vector<counter_sample>& samples, counter c, double from, double until);

}  // namespace jobsd::test
