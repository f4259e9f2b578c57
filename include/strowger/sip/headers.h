// Typed header values (RFC 3261 §20, §25.1), parsed on demand from a header's raw value.
// Everything is a view into the message bytes; nothing here owns memory except the vectors of
// list headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/sip/method.h"
#include "strowger/sip/parse_error.h"
#include "strowger/sip/uri.h"

namespace strowger::sip {

enum class Transport : uint8_t { kUdp, kTcp, kTls, kSctp, kWs, kWss, kOther };

Transport transportFromToken(std::string_view token) noexcept;
std::string_view transportName(Transport t) noexcept;  // "UDP", "TCP", ...; empty for kOther

// RFC 3261 §8.1.1.7: a branch starting with this cookie was made by an RFC 3261 element.
inline constexpr std::string_view kBranchMagicCookie = "z9hG4bK";

// One via-parm.
struct Via {
  std::string_view protocol;   // "SIP"
  std::string_view version;    // "2.0"
  std::string_view transport;  // as written, e.g. "UDP", "TLS-SCTP", "FOO"
  Transport transportId = Transport::kOther;
  HostPort sentBy;
  ParamsView params;
  std::string_view branch;
  std::string_view received;  // without brackets around an IPv6 address (RFC 5118 §4.5)
  std::string_view maddr;
  bool hasRport = false;
  std::optional<uint16_t> rport;  // the value, when the rport parameter has one
  std::string_view raw;           // the whole via-parm, a view into the header value

  bool hasRfc3261Branch() const noexcept { return branch.starts_with(kBranchMagicCookie); }
};

// name-addr / addr-spec with header parameters: From, To, Route, Record-Route, Path, Contact.
struct NameAddr {
  std::string_view displayName;  // without its quotes; empty when absent
  bool displayNameQuoted = false;
  bool bracketed = false;  // the URI was in <>
  Uri uri;
  ParamsView params;     // parameters after the URI (or after '>')
  std::string_view tag;  // the `tag` parameter, From and To only
  std::string_view raw;  // the whole value as written (one element of a list)
};

struct Contact {
  NameAddr address;
  std::optional<uint32_t> expires;  // the `expires` contact-param
  std::optional<uint16_t> qMilli;   // q-value in thousandths, 0..1000
  std::string_view instance;        // +sip.instance, without the quotes (RFC 5626)
  std::optional<uint32_t> regId;    // reg-id (RFC 5626)
};

struct ContactList {
  bool star = false;  // `Contact: *`
  std::vector<Contact> contacts;
};

struct CSeq {
  uint32_t number = 0;
  Method method = Method::kUnknown;
  std::string_view methodText;
};

struct ContentType {
  std::string_view type;
  std::string_view subtype;
  ParamsView params;
};

// Credentials (Authorization, Proxy-Authorization) and challenges (WWW-/Proxy-Authenticate):
// scheme followed by a comma-separated auth-param list (RFC 3261 §25.1, RFC 7616). Quoted values
// are held without their quotes, escapes as written.
struct AuthParam {
  std::string_view name;
  std::string_view value;
  bool quoted = false;
};

struct Credentials {
  std::string_view scheme;  // "Digest", or any other scheme token, unmodified
  std::string_view username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc;
  bool userhash = false;
  std::vector<AuthParam> params;  // every parameter, the known ones included
  std::string_view raw;
};

struct Challenge {
  std::string_view scheme;
  std::string_view realm, nonce, opaque, algorithm, qop, domain;
  bool stale = false;
  std::vector<AuthParam> params;
  std::string_view raw;
};

// Parsers over one header's raw value. List parsers append to `out` and accept the several
// comma-separated values one header line may carry.
Expected<void, ParseError> parseViaList(std::string_view value, std::vector<Via>& out);
Expected<Via, ParseError> parseVia(std::string_view viaParm);
Expected<NameAddr, ParseError> parseNameAddr(std::string_view value);
Expected<void, ParseError> parseNameAddrList(std::string_view value, std::vector<NameAddr>& out);
Expected<void, ParseError> parseContactList(std::string_view value, ContactList& out);
Expected<CSeq, ParseError> parseCSeq(std::string_view value);
Expected<uint32_t, ParseError> parseMaxForwards(std::string_view value);
Expected<uint32_t, ParseError> parseExpires(std::string_view value);
Expected<uint32_t, ParseError> parseContentLength(std::string_view value);
Expected<std::string_view, ParseError> parseCallId(std::string_view value);
Expected<ContentType, ParseError> parseContentType(std::string_view value);
Expected<Credentials, ParseError> parseCredentials(std::string_view value);
Expected<Challenge, ParseError> parseChallenge(std::string_view value);
Expected<void, ParseError> parseOptionTags(std::string_view value,
                                           std::vector<std::string_view>& out);

// Splits a header value at top-level commas (not inside quotes or <>), trimming LWS, and calls
// `fn(element)` for each. Returns false on unbalanced quotes or brackets.
template <class Fn>
bool forEachListElement(std::string_view value, Fn&& fn);

// Strict unsigned decimal with overflow check; no sign, no spaces.
std::optional<uint64_t> parseUnsigned(std::string_view digits, uint64_t max) noexcept;

// Removes leading/trailing LWS, including folded line breaks.
std::string_view trimLws(std::string_view s) noexcept;

}  // namespace strowger::sip

#include "strowger/sip/detail/list_split.h"
