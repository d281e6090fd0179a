// Range tests on the address's bytes; allow-list entries parsed with Asio's network types.
#include "server/webhooks/address_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace jobsd::server::webhooks {

namespace ip = boost::asio::ip;

namespace {

struct v4_range {
    std::uint32_t base;
    int bits;
    address_kind kind;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

// clang-format off
constexpr std::array<v4_range, 12> special_v4{{
    {v4(0, 0, 0, 0),       8,  address_kind::unspecified},  // "this network"
    {v4(10, 0, 0, 0),      8,  address_kind::private_use},
    {v4(100, 64, 0, 0),    10, address_kind::private_use},  // carrier-grade NAT
    {v4(127, 0, 0, 0),     8,  address_kind::loopback},
    {v4(169, 254, 0, 0),   16, address_kind::link_local},   // cloud metadata services live here
    {v4(172, 16, 0, 0),    12, address_kind::private_use},
    {v4(192, 0, 0, 0),     24, address_kind::reserved},     // IETF protocol assignments
    {v4(192, 168, 0, 0),   16, address_kind::private_use},
    {v4(198, 18, 0, 0),    15, address_kind::reserved},     // benchmarking
    {v4(224, 0, 0, 0),     4,  address_kind::multicast},
    {v4(240, 0, 0, 0),     4,  address_kind::reserved},     // and 255.255.255.255, broadcast
    {v4(255, 255, 255, 255), 32, address_kind::reserved},
}};
// clang-format on

address_kind classify_v4(std::uint32_t a) noexcept {
    for (const auto& r : special_v4) {
        const std::uint32_t mask = r.bits == 0 ? 0 : ~std::uint32_t{0} << (32 - r.bits);
        if ((a & mask) == r.base) return r.kind;
    }
    return address_kind::global;
}

address_kind classify_v6(const ip::address_v6& a) noexcept {
    const auto b = a.to_bytes();
    if (a.is_v4_mapped()) return classify_v4(ip::make_address_v4(ip::v4_mapped, a).to_uint());
    // 64:ff9b::/96, NAT64: the IPv4 address it translates to decides.
    if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
        std::all_of(b.begin() + 4, b.begin() + 12, [](unsigned char c) { return c == 0; }))
        return classify_v4(v4(b[12], b[13], b[14], b[15]));
    if (a.is_unspecified()) return address_kind::unspecified;
    if (a.is_loopback()) return address_kind::loopback;
    if ((b[0] & 0xfe) == 0xfc) return address_kind::private_use;  // fc00::/7, unique local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return address_kind::link_local;
    if (b[0] == 0xff) return address_kind::multicast;
    if (std::all_of(b.begin(), b.begin() + 12, [](unsigned char c) { return c == 0; }))
        return address_kind::reserved;  // IPv4-compatible (deprecated)
    return address_kind::global;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

address_kind classify(const ip::address& a) noexcept {
    return a.is_v4() ? classify_v4(a.to_v4().to_uint()) : classify_v6(a.to_v6());
}

std::string_view to_string(address_kind k) noexcept {
    switch (k) {
        case address_kind::global:
            return "a public";
        case address_kind::loopback:
            return "a loopback";
        case address_kind::private_use:
            return "a private";
        case address_kind::link_local:
            return "a link-local";
        case address_kind::multicast:
            return "a multicast";
        case address_kind::unspecified:
            return "an unspecified";
        case address_kind::reserved:
            break;
    }
    return "a reserved";
}

boost::system::result<address_policy, std::string> address_policy::make(
    const std::vector<std::string>& allow) {
    address_policy p;
    for (const auto& entry : allow) {
        boost::system::error_code ec;
        const auto slash = entry.find('/');
        const std::string cidr = slash == std::string::npos
                                     ? entry + (entry.find(':') == std::string::npos ? "/32" : "/128")
                                     : entry;
        if (auto n4 = ip::make_network_v4(cidr, ec); !ec) {
            p.v4_.push_back(n4.canonical());
            continue;
        }
        ec.clear();
        if (auto n6 = ip::make_network_v6(cidr, ec); !ec) {
            p.v6_.push_back(n6.canonical());
            continue;
        }
        // A host name: letters, digits, dots and dashes only.
        const bool name = !entry.empty() && slash == std::string::npos &&
                          std::all_of(entry.begin(), entry.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
                          });
        if (!name)
            return {boost::system::in_place_error,
                    "webhooks.allow: \"" + entry + "\" is neither a host name nor an address range"};
        p.hosts_.push_back(lower(entry));
    }
    return p;
}

std::string address_policy::refusal(std::string_view host, const ip::address& a) const {
    const auto kind = classify(a);
    if (kind == address_kind::global) return {};
    const std::string h = lower(host);
    for (const auto& allowed : hosts_)
        if (allowed == h) return {};
    if (a.is_v4()) {
        for (const auto& n : v4_)
            if (ip::network_v4(a.to_v4(), n.prefix_length()).canonical() == n) return {};
    } else {
        for (const auto& n : v6_)
            if (ip::network_v6(a.to_v6(), n.prefix_length()).canonical() == n) return {};
    }
    return a.to_string() + " is " + std::string(to_string(kind)) +
           " address; webhooks.allow does not list it";
}

}  // namespace jobsd::server::webhooks
