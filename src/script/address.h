// Source and destination addresses as the script reads them: formatting and CIDR matching, straight
// from the socket address bytes (no allocation, no name resolution).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strowger/net/socket_address.h"

namespace strowger::script::detail {

// An address reduced to what matching needs. An IPv4 address seen through an IPv6 socket
// (::ffff:a.b.c.d) is IPv4 here, so that "10.0.0.0/8" matches it.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4
};

std::optional<IpAddress> ipOf(const net::SocketAddress& address) noexcept;
uint16_t portOf(const net::SocketAddress& address) noexcept;
// Appends the address without port, IPv6 without brackets, IPv4-mapped as IPv4; nothing when the
// address is not set.
void appendIp(const net::SocketAddress& address, std::string& out);

// "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.1" is /32, "::1" /128).
struct Cidr {
  IpAddress network;
  unsigned prefix = 0;
  bool contains(const IpAddress& ip) const noexcept;
};

// The error fits after "src_ip: " and says what was expected.
struct CidrResult {
  std::optional<Cidr> cidr;
  std::string error;
};
CidrResult parseCidr(std::string_view text);

}  // namespace strowger::script::detail
