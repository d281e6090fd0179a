// A Beast response parser that allocates nothing: it keeps the status and the first bytes of the
// body (enough for a 201's uuid) in fixed storage and lets basic_parser do the HTTP framing.
#pragma once

#include <boost/beast/http/basic_parser.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace jobsd::bench {

// One parser per answer (Beast parsers are not reusable); constructing one is cheap.
// Header and body limits are basic_parser's (header_limit(), body_limit()); bytes past
// body_prefix_capacity are counted in body_size() but not kept.
// Thread safety: none; used by one connection coroutine.
class response_parser : public boost::beast::http::basic_parser<false> {
  public:
    static constexpr std::size_t body_prefix_capacity = 1024;

    unsigned status() const noexcept { return status_; }
    std::string_view body_prefix() const noexcept { return {prefix_.data(), prefix_size_}; }
    std::size_t body_size() const noexcept { return body_size_; }

  private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
    void on_response_impl(int code, string_view, int, error_code&) override {
        status_ = static_cast<unsigned>(code);
    }
    void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override { return keep(body); }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
        return keep(body);
    }
    void on_finish_impl(error_code&) override {}

    std::size_t keep(string_view body) noexcept;

    unsigned status_ = 0;
    std::size_t body_size_ = 0;
    std::size_t prefix_size_ = 0;
    std::array<char, body_prefix_capacity> prefix_;
};

}  // namespace jobsd::bench
