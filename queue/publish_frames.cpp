#include "queue/publish_frames.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace jobsd::queue {

namespace {

constexpr std::size_t frame_header = 7;           // type, channel, payload size
constexpr std::size_t frame_footer = 1;           // AMQP_FRAME_END
constexpr std::size_t content_header_fixed = 12;  // class, weight, body size

// Big-endian, as AMQP's wire format is.
void put16(char* p, std::uint16_t v) {
    boost::endian::store_big_u16(reinterpret_cast<unsigned char*>(p), v);
}
void put32(char* p, std::uint32_t v) {
    boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(p), v);
}
void put64(char* p, std::uint64_t v) {
    boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(p), v);
}

}  // namespace

publish_frames::publish_frames(std::size_t frame_max)
    : frame_max_(std::max<std::size_t>(frame_max, AMQP_FRAME_MIN_SIZE)), scratch_(frame_max_, '\0') {}

void publish_frames::clear() noexcept {
    buffer_.clear();
    messages_ = 0;
}

char* publish_frames::open_frame(std::uint8_t type, amqp_channel_t channel, std::size_t size) {
    const std::size_t at = buffer_.size();
    buffer_.resize(at + frame_header + size + frame_footer);
    char* p = buffer_.data() + at;
    p[0] = static_cast<char>(type);
    put16(p + 1, channel);
    put32(p + 3, static_cast<std::uint32_t>(size));
    p[frame_header + size] = static_cast<char>(AMQP_FRAME_END);
    return p + frame_header;
}

void publish_frames::add(amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t routing_key,
                         bool mandatory, const amqp_basic_properties_t& props, amqp_bytes_t body) {
    const std::size_t room = frame_max_ - frame_header - frame_footer;  // a frame's payload at most

    amqp_basic_publish_t method{};
    method.exchange = exchange;
    method.routing_key = routing_key;
    method.mandatory = mandatory ? 1 : 0;
    put32(scratch_.data(), AMQP_BASIC_PUBLISH_METHOD);
    int n = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &method, {room - 4, scratch_.data() + 4});
    if (n < 0) throw std::length_error("basic.publish: the exchange or routing key does not fit a frame");
    std::memcpy(open_frame(AMQP_FRAME_METHOD, channel, 4 + n), scratch_.data(), 4 + n);

    put16(scratch_.data(), AMQP_BASIC_CLASS);
    put16(scratch_.data() + 2, 0);  // weight
    put64(scratch_.data() + 4, body.len);
    n = amqp_encode_properties(AMQP_BASIC_CLASS, const_cast<amqp_basic_properties_t*>(&props),
                               {room - content_header_fixed, scratch_.data() + content_header_fixed});
    if (n < 0) throw std::length_error("basic.publish: the message's properties do not fit a frame");
    std::memcpy(open_frame(AMQP_FRAME_HEADER, channel, content_header_fixed + n), scratch_.data(),
                content_header_fixed + n);

    const auto* data = static_cast<const char*>(body.bytes);
    for (std::size_t at = 0; at < body.len; at += room) {
        const std::size_t part = std::min(room, body.len - at);
        std::memcpy(open_frame(AMQP_FRAME_BODY, channel, part), data + at, part);
    }
    ++messages_;
}

}  // namespace jobsd::queue
