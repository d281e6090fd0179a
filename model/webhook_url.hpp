// What a webhook URL may be (a job's `webhook`, an endpoint's `url`): http or https only, a host,
// no credentials or fragment, bounded length. Where it may point (no private addresses) is
// decided at connect time on the resolved address (server/webhooks/address_policy.hpp). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jobsd::model {

// Longer URLs are refused: 2048 is what browsers and most proxies take, and the URL is stored
// with every delivery.
inline constexpr std::size_t webhook_url_max = 2048;

// Why `url` cannot be a webhook URL ("must be an http or https URL", …), or "" when it can.
std::string webhook_url_problem(std::string_view url);

// "scheme://host:port" in lower case, the port always written: the destination that concurrency
// limits count per. Precondition: webhook_url_problem(url) is "".
std::string webhook_origin(std::string_view url);

}  // namespace jobsd::model
