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

// The method of a request; for a response, the method of its CSeq: the request it answers
// (RFC 3261 §8.1.3.3). Empty when a response's CSeq does not parse.
inline std::string_view methodOf(const sip::Message& message) {
  if (message.isRequest()) return message.methodText();
  const auto& cseq = message.cseq();
  return cseq ? cseq->methodText : std::string_view{};
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
