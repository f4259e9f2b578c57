// The checks a proxy makes before it routes a message (Kamailio's `sanity` module, RFC 3261
// §16.3 and §8.2): mandatory headers present and well formed, single headers single, CSeq
// agreeing with the method, the Request-URI scheme supported, Proxy-Require understood.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/sip/message.h"

namespace strowger::sip {

struct SanityOptions {
  // Option tags this proxy supports in Proxy-Require; anything else is 420 Bad Extension.
  std::span<const std::string_view> supportedProxyRequire;
};

// On error, ParseError::status is the reply to send (400, 416, 420, 501).
Expected<void, ParseError> checkRequest(const Message& request, const SanityOptions& options = {});
// A response that fails is dropped (RFC 3261 §16.7 cannot route it).
Expected<void, ParseError> checkResponse(const Message& response);

// The Proxy-Require tags not in `supported`, for the Unsupported header of a 420.
std::vector<std::string_view> unsupportedProxyRequire(const Message& request,
                                                      std::span<const std::string_view> supported);

}  // namespace strowger::sip
