// Reading the message fields the script looks at, each in one place so that values (${ruri.user})
// and conditions (ruri.user: ...) agree on what a field is.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "strowger/script/context.h"

namespace strowger::script::detail {

// The Request-URI as the script has rewritten it so far; null when it does not parse.
inline const sip::Uri* requestUriOf(const MessageContext& ctx) {
  const auto& uri = ctx.requestUri();
  return uri ? &*uri : nullptr;
}

inline const sip::NameAddr* fromOf(const MessageContext& ctx) {
  const auto& from = ctx.message().from();
  return from ? &*from : nullptr;
}

inline const sip::NameAddr* toOf(const MessageContext& ctx) {
  const auto& to = ctx.message().to();
  return to ? &*to : nullptr;
}

// A host as it is written in a URI: an IPv6 reference in brackets.
inline void appendUriHost(const sip::Uri& uri, std::string& out) {
  if (uri.hostPort.kind == sip::HostKind::kIpv6) {
    out += '[';
    out.append(uri.host());
    out += ']';
  } else {
    out.append(uri.host());
  }
}

inline void appendNumber(uint64_t n, std::string& out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out.append(digits, end);
}

// The transport a message arrived on, as the configuration writes it.
inline std::string_view transportText(transport::Protocol protocol) {
  return protocol == transport::Protocol::kTcp ? "tcp" : "udp";
}

}  // namespace strowger::script::detail
