#include "cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace strowger::auth {
namespace {

bool prefixMatches(const uint8_t* a, const uint8_t* b, unsigned bits) noexcept {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<CidrRange> CidrRange::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<CidrRange> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string_view addressText = text;
  std::optional<unsigned> prefix;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    addressText = text.substr(0, slash);
    const std::string_view digits = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return fail("expected ADDRESS or ADDRESS/PREFIX-LENGTH, got \"" + std::string(text) + "\"");
    }
    prefix = value;
  }
  CidrRange range;
  const std::string address(addressText);
  if (inet_pton(AF_INET, address.c_str(), range.address.data()) == 1) {
    range.ipv6 = false;
  } else if (inet_pton(AF_INET6, address.c_str(), range.address.data()) == 1) {
    range.ipv6 = true;
  } else {
    return fail("expected a numeric IPv4 or IPv6 address (optionally /PREFIX-LENGTH), got \"" +
                std::string(text) + "\"");
  }
  const unsigned maxPrefix = range.ipv6 ? 128 : 32;
  if (prefix && *prefix > maxPrefix) {
    return fail("prefix length " + std::to_string(*prefix) + " is longer than " +
                std::to_string(maxPrefix) + " bits");
  }
  range.prefixLength = static_cast<uint8_t>(prefix.value_or(maxPrefix));
  // Host bits must be zero: "10.1.2.3/8" is more likely a typo than meant as 10.0.0.0/8.
  std::array<uint8_t, 16> network{};
  for (unsigned bit = 0; bit < range.prefixLength; ++bit) {
    network[bit / 8] |= static_cast<uint8_t>(range.address[bit / 8] & (0x80 >> (bit % 8)));
  }
  if (network != range.address) {
    return fail("\"" + std::string(text) + "\" has bits set past its /" +
                std::to_string(range.prefixLength) + " prefix; did you mean the network address?");
  }
  // An IPv4-mapped IPv6 range is the IPv4 range it maps.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (range.ipv6 && range.prefixLength >= 96 &&
      std::memcmp(range.address.data(), kMapped, 12) == 0) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), range.address.data() + 12, 4);
    range.address = v4;
    range.ipv6 = false;
    range.prefixLength = static_cast<uint8_t>(range.prefixLength - 96);
  }
  return range;
}

bool CidrRange::contains(const net::SocketAddress& candidate) const noexcept {
  if (!candidate.valid()) return false;
  const net::SocketAddress plain = candidate.unmapped();
  if (plain.isIpv6()) {
    if (!ipv6) return false;
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(plain.sockaddrPtr());
    return prefixMatches(sa->sin6_addr.s6_addr, address.data(), prefixLength);
  }
  if (ipv6) return false;
  const auto* sa = reinterpret_cast<const sockaddr_in*>(plain.sockaddrPtr());
  uint8_t bytes[4];
  std::memcpy(bytes, &sa->sin_addr.s_addr, 4);
  return prefixMatches(bytes, address.data(), prefixLength);
}

std::string CidrRange::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefixLength);
}

bool CidrList::contains(const net::SocketAddress& address) const noexcept {
  for (const CidrRange& range : ranges_) {
    if (range.contains(address)) return true;
  }
  return false;
}

}  // namespace strowger::auth
