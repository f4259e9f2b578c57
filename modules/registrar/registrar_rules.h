// The registrar's rules (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 instance and reg-id) as pure
// functions: no store, no transport, no clock. The loadable module runs them in two steps:
//
//   1. parseRegister() checks everything that needs no stored state and copies what the decision
//      needs out of the message (whose bytes die with the receive buffer). A refusal here is
//      answered at once and the store is never touched.
//   2. decide() is the body of the store's DecideFn: it runs under the store's per-AOR lock with
//      the bindings the address of record has now, and says what changes (or refuses the request
//      as a whole: nothing changes then).
//
// The 200 then lists the bindings the store reports after the change (okHeaderLines()).
//
// Steps of RFC 3261 §10.3 that are policy, not rules, are the caller's: which domains this
// registrar serves (step 1), authentication and authorization (steps 3 and 4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/location/binding.h"
#include "strowger/net/socket_address.h"
#include "strowger/sip/message.h"
#include "strowger/sip/uri.h"
#include "strowger/transport/transport.h"

namespace strowger::registrar {

struct RegistrarSettings {
  uint32_t defaultExpires = 3600;  // seconds, when neither the Contact nor the request says
  uint32_t minExpires = 60;
  uint32_t maxExpires = 7200;
  uint32_t maxContacts = 0;  // per AOR; 0 = unlimited
  // What a REGISTER that would take the AOR past maxContacts gets: refused (403), or room is made
  // by dropping the AOR's least recently updated bindings.
  enum class OnMaxContacts : uint8_t { kReject, kDropOldest };
  OnMaxContacts onMaxContacts = OnMaxContacts::kReject;
  bool useDomain = true;  // AOR = "user@host", else "user" only
  bool storePath = true;  // honour Path (RFC 3327); false: Path is ignored and not supported
  // RFC 3327 §5.3 recommends refusing (420) a Path the UA did not declare support for: requests
  // to it would arrive over proxies it does not know about. False stores such a Path anyway and
  // leaves it out of the 200, for edge proxies that add Path on behalf of older UAs.
  bool rejectPathWithoutSupport = true;
  std::string node;  // this node's name, stored in Binding::node
};

// Where the REGISTER came from, as the transport saw it.
struct Origin {
  transport::Protocol protocol = transport::Protocol::kUdp;
  net::SocketAddress source;
  uint32_t listener = 0;
  uint64_t connection = 0;  // 0 for UDP
};

// A refused REGISTER: the reply to send. Nothing has changed.
struct Rejection {
  uint16_t status = 400;
  std::string_view reason;               // a static phrase
  std::vector<std::string> headerLines;  // "Name: value", no CRLF (e.g. "Min-Expires: 60")
};

enum class AorErrc : uint8_t {
  kNotSip,   // not a sip or sips URI
  kNoUser,   // no user part
  kBadUser,  // the user part, unescaped, holds control characters
};

// The canonical address of record of a URI (RFC 3261 §10.3 step 5): the user unescaped, "@", the
// host in lower case; no port, no password, no parameters. The user only when !useDomain. Used
// for the To of a REGISTER and for the Request-URI of a lookup, so both index the same bindings.
Expected<std::string, AorErrc> addressOfRecord(const sip::Uri& uri, bool useDomain);
// The AOR a request is for, from its Request-URI (for `location.lookup`); a Request-URI that
// does not parse counts as kNotSip.
Expected<std::string, AorErrc> requestAddressOfRecord(const sip::Message& request, bool useDomain);

// The identity of a Contact URI without +sip.instance: a canonical text such that URIs equal by
// RFC 3261 §19.1.4 give the same text (scheme and host in lower case, the user's escapes of
// unreserved characters decoded, the port as written, the transport, user, ttl, method and maddr
// parameters and the headers; other parameters do not count).
std::string contactKey(const sip::Uri& uri);

// One Contact of a REGISTER, owned, with its expiry decided.
struct RegisteredContact {
  std::string id;        // location::bindingId
  std::string uri;       // as written, without the angle brackets
  uint32_t expires = 0;  // seconds, clamped to the settings; 0 = remove the binding
  uint16_t qMilli = 1000;
  std::string instance;           // +sip.instance without the quotes; empty when absent
  std::optional<uint32_t> regId;  // only with an instance (RFC 5626 §6)
};

// What step 1 keeps of a REGISTER: owning copies, safe to use after the message is gone.
struct ParsedRegister {
  std::string aor;
  std::string callId;
  uint32_t cseq = 0;
  bool star = false;  // `Contact: *` with `Expires: 0`: remove every binding
  std::vector<RegisteredContact> contacts;
  std::string path;       // the Path values in order, ", "-joined; empty: none (or not honoured)
  bool echoPath = false;  // the UA supports path: the 200 carries the Path back (RFC 3327 §5.3)
  std::string userAgent;
  Origin origin;
  bool natted = false;  // set by the caller (the `nat` steps); stored in Binding::natted

  // No Contact at all: a query; the 200 lists the bindings and nothing changes (§10.3 step 6).
  bool isQuery() const { return !star && contacts.empty(); }
};

// Step 1 (RFC 3261 §10.3 steps 2, 5, 6 and the stateless half of 7; RFC 3327 §5.3; RFC 5626 §6).
Expected<ParsedRegister, Rejection> parseRegister(const sip::Message& request, const Origin& origin,
                                                  const RegistrarSettings& settings);

// What decide() did: the status to answer and, for counters, what changed.
struct Decision {
  uint16_t status = 200;
  std::string_view reason = "OK";  // a static phrase
  uint32_t added = 0;              // new bindings
  uint32_t refreshed = 0;          // existing bindings updated
  uint32_t removed = 0;            // bindings removed on request (expires=0 or `*`)
  uint32_t dropped = 0;            // bindings removed to stay within maxContacts
  uint32_t expired = 0;            // bindings already expired at `now`, swept with the change
  bool ok() const { return status == 200; }
};

// Step 2, the DecideFn body (RFC 3261 §10.3 steps 6 and 7): the changes to the AOR's bindings.
// When `out` is not 200 the request is refused as a whole and the changes are empty.
location::BindingChanges decide(const ParsedRegister& request, const RegistrarSettings& settings,
                                const std::vector<location::Binding>& current, int64_t now,
                                Decision& out);

// The extra header lines of the 200 (RFC 3261 §10.3 step 8), each "Name: value" without CRLF: a
// Contact per binding unexpired at `now` (with expires, and q, +sip.instance and reg-id when set),
// a Date, and the Path when the UA supports it. `bindings` are the AOR's after the change.
std::vector<std::string> okHeaderLines(const ParsedRegister& request,
                                       const std::vector<location::Binding>& bindings, int64_t now);

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 3261 §20.17, the RFC 1123 form), whatever the locale.
std::string httpDate(int64_t unixSeconds);

}  // namespace strowger::registrar
