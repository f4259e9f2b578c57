#include "strowger/net/socket_address.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <cstring>

namespace strowger::net {
namespace {

const sockaddr_in& asV4(const sockaddr_storage& s) noexcept {
  return *reinterpret_cast<const sockaddr_in*>(&s);
}
const sockaddr_in6& asV6(const sockaddr_storage& s) noexcept {
  return *reinterpret_cast<const sockaddr_in6*>(&s);
}

bool isV4MappedBytes(const in6_addr& a) noexcept {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.s6_addr, kPrefix, sizeof kPrefix) == 0;
}

// Host byte order.
uint32_t v4Of(const in6_addr& mapped) noexcept {
  return (uint32_t{mapped.s6_addr[12]} << 24) | (uint32_t{mapped.s6_addr[13]} << 16) |
         (uint32_t{mapped.s6_addr[14]} << 8) | uint32_t{mapped.s6_addr[15]};
}

bool isBroadcastOrMulticastV4(uint32_t hostOrder) noexcept {
  return hostOrder == 0xFFFFFFFFu || (hostOrder >> 28) == 0xE;  // 255.255.255.255, 224.0.0.0/4
}

// A zone after '%' (RFC 4007 §11): a number, or an interface name looked up locally (no
// resolution, only the kernel's interface table).
std::optional<uint32_t> parseZone(std::string_view zone) noexcept {
  if (zone.empty() || zone.size() >= IF_NAMESIZE) return std::nullopt;
  uint32_t index = 0;
  auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), index);
  if (ec == std::errc() && end == zone.data() + zone.size()) return index;
  char name[IF_NAMESIZE] = {};
  std::memcpy(name, zone.data(), zone.size());
  uint32_t found = ::if_nametoindex(name);
  if (found == 0) return std::nullopt;
  return found;
}

}  // namespace

SocketAddress::SocketAddress() noexcept {
  std::memset(&storage_, 0, sizeof storage_);
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view ip, uint16_t port) noexcept {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  // The longest text form is an IPv6 address with an embedded IPv4 one and a zone.
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  if (ip.empty() || ip.size() >= sizeof text) return std::nullopt;

  SocketAddress out;
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';
  if (ip.find(':') == std::string_view::npos) {
    auto& sin = reinterpret_cast<sockaddr_in&>(out.storage_);
    if (::inet_pton(AF_INET, text, &sin.sin_addr) != 1) return std::nullopt;
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    out.length_ = sizeof(sockaddr_in);
    return out;
  }
  auto& sin6 = reinterpret_cast<sockaddr_in6&>(out.storage_);
  std::size_t percent = ip.find('%');
  if (percent != std::string_view::npos) {
    auto zone = parseZone(ip.substr(percent + 1));
    if (!zone) return std::nullopt;
    sin6.sin6_scope_id = *zone;
    text[percent] = '\0';
  }
  if (::inet_pton(AF_INET6, text, &sin6.sin6_addr) != 1) return std::nullopt;
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  out.length_ = sizeof(sockaddr_in6);
  return out;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t length) noexcept {
  SocketAddress out;
  if (sa == nullptr) return out;
  if (sa->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&out.storage_, sa, sizeof(sockaddr_in));
    out.length_ = sizeof(sockaddr_in);
  } else if (sa->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&out.storage_, sa, sizeof(sockaddr_in6));
    out.length_ = sizeof(sockaddr_in6);
  }
  return out;
}

bool SocketAddress::isV4Mapped() const noexcept {
  return valid() && isIpv6() && isV4MappedBytes(asV6(storage_).sin6_addr);
}

SocketAddress SocketAddress::unmapped() const noexcept {
  if (!isV4Mapped()) return *this;
  SocketAddress out;
  auto& sin = reinterpret_cast<sockaddr_in&>(out.storage_);
  sin.sin_family = AF_INET;
  sin.sin_port = asV6(storage_).sin6_port;
  std::memcpy(&sin.sin_addr, &asV6(storage_).sin6_addr.s6_addr[12], 4);
  out.length_ = sizeof(sockaddr_in);
  return out;
}

uint16_t SocketAddress::port() const noexcept {
  if (!valid()) return 0;
  return ntohs(isIpv6() ? asV6(storage_).sin6_port : asV4(storage_).sin_port);
}

void SocketAddress::setPort(uint16_t port) noexcept {
  if (!valid()) return;
  if (isIpv6()) {
    reinterpret_cast<sockaddr_in6&>(storage_).sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in&>(storage_).sin_port = htons(port);
  }
}

std::string SocketAddress::ip() const {
  if (!valid()) return {};
  char text[INET6_ADDRSTRLEN];
  const char* ok = isIpv6() ? ::inet_ntop(AF_INET6, &asV6(storage_).sin6_addr, text, sizeof text)
                            : ::inet_ntop(AF_INET, &asV4(storage_).sin_addr, text, sizeof text);
  return ok ? std::string(text) : std::string();
}

std::string SocketAddress::sipHost() const {
  if (!isIpv6()) return ip();
  std::string out = "[";
  out += ip();
  out += ']';
  return out;
}

std::string SocketAddress::toString() const {
  if (!valid()) return "-";
  std::string out = sipHost();
  out += ':';
  out += std::to_string(port());
  return out;
}

bool SocketAddress::isUnspecified() const noexcept {
  if (!valid()) return false;
  if (!isIpv6()) return asV4(storage_).sin_addr.s_addr == INADDR_ANY;
  const in6_addr& a = asV6(storage_).sin6_addr;
  if (isV4MappedBytes(a)) return v4Of(a) == 0;
  return IN6_IS_ADDR_UNSPECIFIED(&a);
}

bool SocketAddress::isBroadcastOrMulticast() const noexcept {
  if (!valid()) return false;
  if (!isIpv6()) return isBroadcastOrMulticastV4(ntohl(asV4(storage_).sin_addr.s_addr));
  const in6_addr& a = asV6(storage_).sin6_addr;
  if (isV4MappedBytes(a)) return isBroadcastOrMulticastV4(v4Of(a));
  return a.s6_addr[0] == 0xff;  // ff00::/8 (RFC 4291 §2.7)
}

bool SocketAddress::isLoopback() const noexcept {
  if (!valid()) return false;
  if (!isIpv6()) return (ntohl(asV4(storage_).sin_addr.s_addr) >> 24) == 127;
  const in6_addr& a = asV6(storage_).sin6_addr;
  if (isV4MappedBytes(a)) return (v4Of(a) >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK(&a);
}

bool SocketAddress::sameIp(const SocketAddress& other) const noexcept {
  if (length_ != other.length_ || storage_.ss_family != other.storage_.ss_family) return false;
  if (!valid()) return true;
  if (isIpv6()) {
    const sockaddr_in6& a = asV6(storage_);
    const sockaddr_in6& b = asV6(other.storage_);
    return std::memcmp(&a.sin6_addr, &b.sin6_addr, sizeof a.sin6_addr) == 0 &&
           a.sin6_scope_id == b.sin6_scope_id;
  }
  return asV4(storage_).sin_addr.s_addr == asV4(other.storage_).sin_addr.s_addr;
}

bool SocketAddress::operator==(const SocketAddress& other) const noexcept {
  return sameIp(other) && port() == other.port();
}

std::size_t SocketAddress::hash() const noexcept {
  // FNV-1a over exactly the fields operator== compares.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  };
  if (!valid()) return static_cast<std::size_t>(h);
  if (isIpv6()) {
    const sockaddr_in6& a = asV6(storage_);
    mix(&a.sin6_addr, sizeof a.sin6_addr);
    mix(&a.sin6_scope_id, sizeof a.sin6_scope_id);
    mix(&a.sin6_port, sizeof a.sin6_port);
  } else {
    const sockaddr_in& a = asV4(storage_);
    mix(&a.sin_addr, sizeof a.sin_addr);
    mix(&a.sin_port, sizeof a.sin_port);
  }
  return static_cast<std::size_t>(h);
}

}  // namespace strowger::net
