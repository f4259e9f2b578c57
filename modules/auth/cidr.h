// Address ranges for `trusted:` lists: "10.0.0.0/8", "2001:db8::/32", or a single address
// ("192.0.2.10", "::1"). An IPv4 range also matches the same address seen through an IPv6 socket
// (::ffff:a.b.c.d), since a dual-stack listener reports IPv4 peers that way.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/net/socket_address.h"

namespace strowger::auth {

struct CidrRange {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};  // network order; IPv4 in the first 4 bytes
  uint8_t prefixLength = 0;

  // Parses "ADDRESS[/PREFIX]"; the error says what was expected. Host bits set below the prefix
  // ("10.1.2.3/8") are refused: they usually mean a typo in the prefix.
  static std::optional<CidrRange> parse(std::string_view text, std::string* error = nullptr);
  bool contains(const net::SocketAddress& address) const noexcept;
  std::string toString() const;
};

class CidrList {
 public:
  void add(const CidrRange& range) { ranges_.push_back(range); }
  bool contains(const net::SocketAddress& address) const noexcept;
  bool empty() const noexcept { return ranges_.empty(); }
  size_t size() const noexcept { return ranges_.size(); }

 private:
  std::vector<CidrRange> ranges_;
};

}  // namespace strowger::auth
