// Reads the broker's queue list from the RabbitMQ management HTTP API with an async Beast client,
// so the queue view never blocks an io thread (rabbitmq-c calls would).
// Thread safety: management_endpoint is immutable after parsing; fetch_queue_list may run on
// any io thread, any number at once (each has its own connection).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace jobsd::server {

struct management_endpoint {
    std::string host;
    std::string port;
    std::string authorization;  // "Basic …" from the URL's user and password; "" without them
    std::string target;         // the request target of the vhost's queue list
    std::string where;          // the URL without its password, for messages
};

// From amqp.management_url (http://user:pass@host:port[/prefix]) and the first AMQP URL, whose
// vhost is the one listed. Fails with a message naming what is wrong.
boost::system::result<management_endpoint, std::string> parse_management_url(std::string_view url,
                                                                             std::string_view amqp_url);

// GET the queue list (name and the counters the view needs). Completes with the body of a 200,
// or a message for a refused connection, a timeout, or another status.
boost::asio::awaitable<boost::system::result<std::string, std::string>> fetch_queue_list(
    const management_endpoint& endpoint, std::chrono::milliseconds timeout);

// RFC 4648 base64, for the Basic authorization header.
std::string base64_encode(std::string_view in);

}  // namespace jobsd::server
