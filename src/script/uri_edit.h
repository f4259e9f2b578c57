// Rewriting parts of a URI, and reading a destination URI, for the Request-URI and next-hop steps.
#pragma once

#include <string>
#include <string_view>

#include "strowger/expected.h"
#include "strowger/script/context.h"
#include "strowger/sip/uri.h"

namespace strowger::script::detail {

// Each writes `uri` with one part replaced to `out` and returns true, or returns false when the
// URI has no such part (a tel: URI has no host) or the new part is not valid there. The result
// still has to parse; callers check that before using it.

// An empty user removes the userinfo (and its password); characters a user part may not hold are
// %-escaped (RFC 3261 §25.1 user).
bool rewriteUser(const sip::Uri& uri, std::string_view user, std::string& out);
// "example.com", "192.0.2.1", "2001:db8::1" or "[2001:db8::1]".
bool rewriteHost(const sip::Uri& uri, std::string_view host, std::string& out);
// "5070"; empty removes the port.
bool rewritePort(const sip::Uri& uri, std::string_view port, std::string& out);

// Whether `host` is a host a SIP URI may hold (brackets optional around IPv6).
bool isValidHost(std::string_view host);
// "" or 1..65535.
bool isValidPort(std::string_view port);

// Reads "sip:HOST[:PORT][;transport=udp|tcp]". The error says what was expected and fits after
// "KEY: ".
Expected<NextHop, std::string> parseNextHop(std::string_view text);

// Whether the Request-URI may be set to `text`: a sip:, sips: or tel: URI that parses.
Expected<void, std::string> checkRequestUri(std::string_view text);

}  // namespace strowger::script::detail
