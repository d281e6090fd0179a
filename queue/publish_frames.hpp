// basic.publish frames gathered into one buffer, so a turn of the publisher sends all its messages
// with one socket write. rabbitmq-c's amqp_basic_publish writes each message as three send()
// calls (method, content header, body), and the last one, without MSG_MORE, puts a packet on the
// wire: per message three system calls and a trip through the loopback. The frames here are the
// bytes amqp_basic_publish writes (the method and the properties are encoded by rabbitmq-c's own
// amqp_encode_method and amqp_encode_properties; a test holds the two to the same bytes).
//
// Thread safety: none; one per publishing thread.
#pragma once

#include <amqp.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace jobsd::queue {

class publish_frames {
  public:
    // Bodies are split into frames of at most `frame_max` bytes, as negotiated on the connection
    // (amqp_get_frame_max).
    explicit publish_frames(std::size_t frame_max);

    // Appends one message: a basic.publish on `channel` (immediate off), its content header and
    // its body. Throws std::length_error when a property does not fit a frame.
    void add(amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t routing_key, bool mandatory,
             const amqp_basic_properties_t& props, amqp_bytes_t body);

    std::string_view bytes() const noexcept { return buffer_; }
    bool empty() const noexcept { return buffer_.empty(); }
    std::size_t messages() const noexcept { return messages_; }
    void clear() noexcept;

  private:
    // Writes a frame's header, reserving its payload's `size` bytes; returns where they start.
    char* open_frame(std::uint8_t type, amqp_channel_t channel, std::size_t size);

    std::size_t frame_max_;
    std::string buffer_;
    std::string scratch_;  // the method's and the properties' encoding, before their size is known
    std::size_t messages_ = 0;
};

}  // namespace jobsd::queue
