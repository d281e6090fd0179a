// Where webhooks may go: every resolved address is checked before connecting, and loopback,
// private, link-local, multicast, unspecified and reserved addresses are refused unless
// `webhooks.allow` names the host or a range holding the address. Checked on the address that is
// then connected to (no second lookup), so DNS cannot rebind around it. Pure code; no I/O.
// Thread safety: immutable after construction; any thread may call it.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobsd::server::webhooks {

// What an address is, from the point of view of a server that must not reach its own network.
enum class address_kind { global, loopback, private_use, link_local, multicast, unspecified, reserved };

// The kind of `a`: IPv4 RFC 6890 special ranges (0/8, 10/8, 100.64/10, 127/8, 169.254/16,
// 172.16/12, 192.0.0/24, 192.168/16, 198.18/15, 224/4, 240/4, 255.255.255.255) and IPv6 (::, ::1,
// fc00::/7, fe80::/10, ff00::/8; IPv4-mapped and NAT64 addresses as the IPv4 address they hold).
address_kind classify(const boost::asio::ip::address& a) noexcept;

std::string_view to_string(address_kind k) noexcept;

class address_policy {
  public:
    // `allow` holds host names (matched without regard to case) and ranges in CIDR notation
    // ("10.0.0.0/8", "::1/128"; a bare address is a range of one). Fails naming the first entry
    // that is neither.
    static boost::system::result<address_policy, std::string> make(const std::vector<std::string>& allow);
    address_policy() = default;

    // "" when `host` (as written in the URL) may be reached at `a`; otherwise why not, for the
    // delivery's error ("127.0.0.1 is a loopback address; webhooks.allow does not list it").
    std::string refusal(std::string_view host, const boost::asio::ip::address& a) const;

  private:
    std::vector<std::string> hosts_;  // lower case
    std::vector<boost::asio::ip::network_v4> v4_;
    std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace jobsd::server::webhooks
