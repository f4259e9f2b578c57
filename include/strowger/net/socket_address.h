// An IPv4 or IPv6 address with a port, stored as the kernel's sockaddr so that it can be handed to
// recvmmsg/sendmmsg without conversion.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace strowger::net {

class SocketAddress {
 public:
  SocketAddress() noexcept;
  // Numeric addresses only ("192.0.2.1", "::1", "[::1]"); never resolves names. An IPv6 zone
  // ("fe80::1%2", "fe80::1%eth0") is accepted.
  static std::optional<SocketAddress> parse(std::string_view ip, uint16_t port) noexcept;
  static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t length) noexcept;

  const sockaddr* sockaddrPtr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  sockaddr* sockaddrPtr() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const noexcept { return length_; }
  void setLength(socklen_t length) noexcept { length_ = length; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  bool valid() const noexcept { return length_ != 0; }
  bool isIpv6() const noexcept { return storage_.ss_family == AF_INET6; }
  // An IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d).
  bool isV4Mapped() const noexcept;
  uint16_t port() const noexcept;
  void setPort(uint16_t port) noexcept;
  // The address without the port; IPv6 without brackets and without its zone.
  std::string ip() const;
  // "192.0.2.1:5060" or "[2001:db8::1]:5060".
  std::string toString() const;
  // As a SIP host: IPv6 in brackets.
  std::string sipHost() const;
  bool isUnspecified() const noexcept;  // 0.0.0.0 or ::
  bool isBroadcastOrMulticast() const noexcept;
  bool isLoopback() const noexcept;  // 127.0.0.0/8, ::1, and the v4-mapped forms

  // The plain IPv4 address of a v4-mapped one (same port); any other address unchanged.
  SocketAddress unmapped() const noexcept;
  // Same family, address and IPv6 zone; the port is not compared.
  bool sameIp(const SocketAddress& other) const noexcept;

  bool operator==(const SocketAddress& other) const noexcept;
  std::size_t hash() const noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t length_ = 0;
};

}  // namespace strowger::net

template <>
struct std::hash<strowger::net::SocketAddress> {
  std::size_t operator()(const strowger::net::SocketAddress& a) const noexcept { return a.hash(); }
};
