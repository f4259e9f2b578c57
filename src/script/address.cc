#include "address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "strowger/sip/headers.h"
#include "text.h"

namespace strowger::script::detail {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Whether every bit after the first `prefix` is zero.
bool hostBitsClear(const IpAddress& ip, unsigned prefix) {
  const unsigned bits = ip.v6 ? 128 : 32;
  for (unsigned bit = prefix; bit < bits; ++bit) {
    if (ip.bytes[bit / 8] & (0x80u >> (bit % 8))) return false;
  }
  return true;
}

void clearHostBits(IpAddress& ip, unsigned prefix) {
  const unsigned bits = ip.v6 ? 128 : 32;
  for (unsigned bit = prefix; bit < bits; ++bit) {
    ip.bytes[bit / 8] = static_cast<uint8_t>(ip.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
}

std::string formatIp(const IpAddress& ip) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), text, sizeof text);
  return text;
}

}  // namespace

std::optional<IpAddress> ipOf(const net::SocketAddress& address) noexcept {
  const sockaddr* sa = address.sockaddrPtr();
  IpAddress ip;
  if (!address.valid()) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    std::memcpy(ip.bytes.data(), &in.sin_addr, 4);
    return ip;
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&in6.sin6_addr);
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes)) {
      std::memcpy(ip.bytes.data(), bytes + 12, 4);
    } else {
      ip.v6 = true;
      std::memcpy(ip.bytes.data(), bytes, 16);
    }
    return ip;
  }
  return std::nullopt;
}

uint16_t portOf(const net::SocketAddress& address) noexcept {
  const sockaddr* sa = address.sockaddrPtr();
  if (!address.valid()) return 0;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    return ntohs(in.sin_port);
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    return ntohs(in6.sin6_port);
  }
  return 0;
}

void appendIp(const net::SocketAddress& address, std::string& out) {
  const std::optional<IpAddress> ip = ipOf(address);
  if (!ip) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(ip->v6 ? AF_INET6 : AF_INET, ip->bytes.data(), text, sizeof text)) out.append(text);
}

bool Cidr::contains(const IpAddress& ip) const noexcept {
  if (ip.v6 != network.v6) return false;
  const unsigned whole = prefix / 8;
  if (!std::equal(network.bytes.begin(), network.bytes.begin() + whole, ip.bytes.begin())) {
    return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xFFu << (8 - rest));
  return (network.bytes[whole] & mask) == (ip.bytes[whole] & mask);
}

CidrResult parseCidr(std::string_view text) {
  const std::string expected =
      "expected an IPv4 or IPv6 address with an optional /PREFIX, such as \"10.0.0.0/8\" or "
      "\"2001:db8::/32\", got " +
      inQuotes(text);
  CidrResult result;
  const std::size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  IpAddress ip;
  if (inet_pton(AF_INET, address.c_str(), ip.bytes.data()) != 1) {
    ip.v6 = true;
    if (inet_pton(AF_INET6, address.c_str(), ip.bytes.data()) != 1) {
      result.error = expected;
      return result;
    }
  }
  const unsigned bits = ip.v6 ? 128 : 32;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const std::optional<uint64_t> n = sip::parseUnsigned(text.substr(slash + 1), bits);
    if (!n) {
      result.error = "the prefix length of " + inQuotes(text) + " must be 0.." +
                     std::to_string(bits) + " for an " + (ip.v6 ? "IPv6" : "IPv4") + " address";
      return result;
    }
    prefix = static_cast<unsigned>(*n);
  }
  if (!hostBitsClear(ip, prefix)) {
    // "10.1.0.0/8" is more often a wrong prefix than a sloppy address; do not guess which.
    IpAddress network = ip;
    clearHostBits(network, prefix);
    result.error = inQuotes(text) + " has bits set after the first " + std::to_string(prefix) +
                   "; did you mean \"" + formatIp(network) + "/" + std::to_string(prefix) + "\"?";
    return result;
  }
  result.cidr = Cidr{ip, prefix};
  return result;
}

}  // namespace strowger::script::detail
