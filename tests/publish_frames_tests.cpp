// publish_frames against rabbitmq-c: for each shape of message, the bytes it gathers are the bytes
// amqp_basic_publish writes to its socket (here one end of a socketpair), frame for frame.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp_tcp_socket.h>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "queue/amqp_bytes.hpp"
#include "queue/publish_frames.hpp"

using jobsd::queue::publish_frames;

namespace {

using jobsd::queue::bytes;

// A message as the publisher sends one: the basic properties, optionally the contract's headers
// and a per-message TTL.
struct message {
    std::string exchange = "jobs";
    std::string key = "video";
    std::string uuid = "0192f0a4-5b7e-7c3d-9a1b-2c3d4e5f6a7b";
    std::string body;
    bool headers = false;
    std::string expiration;
    bool mandatory = true;

    amqp_basic_properties_t props(amqp_table_entry_t (&entries)[2]) const {
        amqp_basic_properties_t p{};
        p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        p.content_type = amqp_cstring_bytes("application/json");
        p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        p.message_id = bytes(uuid);
        p.type = bytes(key);
        p.timestamp = 1764800000;
        if (headers) {
            entries[0].key = amqp_cstring_bytes("x-jobsd-contract");
            entries[0].value.kind = AMQP_FIELD_KIND_I32;
            entries[0].value.value.i32 = 3;
            entries[1].key = amqp_cstring_bytes("traceparent");
            entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[1].value.value.bytes =
                amqp_cstring_bytes("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
            p.headers = {2, entries};
            p._flags |= AMQP_BASIC_HEADERS_FLAG;
        }
        if (!expiration.empty()) {
            p.expiration = bytes(expiration);
            p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        }
        return p;
    }
};

// What amqp_basic_publish writes for `messages`, on a connection tuned to `frame_max`.
std::string written_by_rabbitmq_c(const std::vector<message>& messages, int frame_max) {
    int fds[2];
    BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    amqp_connection_state_t state = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state);
    amqp_tcp_socket_set_sockfd(socket, fds[0]);
    // A new connection waits for the server's protocol header; give it one, as a handshake would.
    char header[] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
    amqp_frame_t frame;
    BOOST_REQUIRE_EQUAL(amqp_handle_input(state, {sizeof header, header}, &frame), 8);
    BOOST_REQUIRE_EQUAL(amqp_tune_connection(state, 0, frame_max, 0), AMQP_STATUS_OK);
    for (const auto& m : messages) {
        amqp_table_entry_t entries[2]{};
        const auto props = m.props(entries);
        BOOST_REQUIRE_EQUAL(amqp_basic_publish(state, 1, bytes(m.exchange), bytes(m.key), m.mandatory ? 1 : 0,
                                               0, &props, bytes(m.body)),
                            AMQP_STATUS_OK);
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    std::string out;
    char buf[8192];
    for (ssize_t n; (n = ::read(fds[1], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    amqp_destroy_connection(state);  // closes fds[0]
    ::close(fds[1]);
    return out;
}

std::string gathered(const std::vector<message>& messages, std::size_t frame_max) {
    publish_frames frames(frame_max);
    for (const auto& m : messages) {
        amqp_table_entry_t entries[2]{};
        const auto props = m.props(entries);
        frames.add(1, bytes(m.exchange), bytes(m.key), m.mandatory, props, bytes(m.body));
    }
    BOOST_TEST(frames.messages() == messages.size());
    return std::string(frames.bytes());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(publish_frames_suite)

BOOST_AUTO_TEST_CASE(each_shape_of_message_is_the_bytes_amqp_basic_publish_writes) {
    message plain;
    plain.body = R"({"uuid":"0192f0a4-5b7e-7c3d-9a1b-2c3d4e5f6a7b","job_type":"video"})";
    message with_headers = plain;
    with_headers.headers = true;
    message with_ttl = with_headers;
    with_ttl.expiration = "59000";
    message empty_body = plain;
    empty_body.body.clear();
    message not_mandatory = plain;
    not_mandatory.mandatory = false;
    message large = with_ttl;  // five body frames at 4 096 bytes a frame
    for (int i = 0; large.body.size() < 18000; ++i) large.body += "{\"part\":" + std::to_string(i) + "},";

    for (const auto& m : {plain, with_headers, with_ttl, empty_body, not_mandatory, large}) {
        const std::string expected = written_by_rabbitmq_c({m}, 4096);
        BOOST_REQUIRE(!expected.empty());
        BOOST_TEST(gathered({m}, 4096) == expected);
    }
}

BOOST_AUTO_TEST_CASE(a_turn_of_messages_is_their_publishes_one_after_the_other) {
    std::vector<message> turn(5);
    for (std::size_t i = 0; i < turn.size(); ++i) {
        turn[i].key = i % 2 ? "tts" : "image";
        turn[i].uuid.back() = static_cast<char>('0' + i);
        turn[i].body = std::string(100 * (i + 1), 'x');
        turn[i].headers = i != 2;
    }
    BOOST_TEST(gathered(turn, 131072) == written_by_rabbitmq_c(turn, 131072));
}

BOOST_AUTO_TEST_CASE(clear_starts_the_next_turn_empty) {
    message m;
    m.body = "{}";
    publish_frames frames(131072);
    amqp_table_entry_t entries[2]{};
    const auto props = m.props(entries);
    frames.add(1, bytes(m.exchange), bytes(m.key), true, props, bytes(m.body));
    BOOST_TEST(!frames.empty());
    frames.clear();
    BOOST_TEST(frames.empty());
    BOOST_TEST(frames.messages() == 0u);
    frames.add(1, bytes(m.exchange), bytes(m.key), true, props, bytes(m.body));
    BOOST_TEST(std::string(frames.bytes()) == written_by_rabbitmq_c({m}, 131072));
}

BOOST_AUTO_TEST_SUITE_END()
