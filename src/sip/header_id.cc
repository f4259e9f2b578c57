#include "strowger/sip/header_id.h"

#include <array>
#include <cstring>

#include "chars.h"

namespace strowger::sip {
namespace {

struct NameEntry {
  std::string_view name;
  HeaderId id;
};

// Long forms, then the compact forms of RFC 3261 §7.3.3, RFC 3265, RFC 3515, RFC 3841, RFC 4028,
// RFC 4474 and RFC 3892.
constexpr NameEntry kNames[] = {
    {"via", HeaderId::kVia},
    {"from", HeaderId::kFrom},
    {"to", HeaderId::kTo},
    {"call-id", HeaderId::kCallId},
    {"cseq", HeaderId::kCSeq},
    {"max-forwards", HeaderId::kMaxForwards},
    {"contact", HeaderId::kContact},
    {"route", HeaderId::kRoute},
    {"record-route", HeaderId::kRecordRoute},
    {"content-length", HeaderId::kContentLength},
    {"content-type", HeaderId::kContentType},
    {"content-encoding", HeaderId::kContentEncoding},
    {"expires", HeaderId::kExpires},
    {"min-expires", HeaderId::kMinExpires},
    {"authorization", HeaderId::kAuthorization},
    {"proxy-authorization", HeaderId::kProxyAuthorization},
    {"www-authenticate", HeaderId::kWwwAuthenticate},
    {"proxy-authenticate", HeaderId::kProxyAuthenticate},
    {"path", HeaderId::kPath},
    {"supported", HeaderId::kSupported},
    {"require", HeaderId::kRequire},
    {"proxy-require", HeaderId::kProxyRequire},
    {"unsupported", HeaderId::kUnsupported},
    {"allow", HeaderId::kAllow},
    {"allow-events", HeaderId::kAllowEvents},
    {"event", HeaderId::kEvent},
    {"subject", HeaderId::kSubject},
    {"refer-to", HeaderId::kReferTo},
    {"referred-by", HeaderId::kReferredBy},
    {"user-agent", HeaderId::kUserAgent},
    {"server", HeaderId::kServer},
    {"date", HeaderId::kDate},
    {"retry-after", HeaderId::kRetryAfter},
    {"accept", HeaderId::kAccept},
    {"accept-contact", HeaderId::kAcceptContact},
    {"reject-contact", HeaderId::kRejectContact},
    {"request-disposition", HeaderId::kRequestDisposition},
    {"session-expires", HeaderId::kSessionExpires},
    {"identity", HeaderId::kIdentity},
    {"timestamp", HeaderId::kTimestamp},
    {"warning", HeaderId::kWarning},
    {"rseq", HeaderId::kRSeq},
    {"rack", HeaderId::kRAck},
    {"privacy", HeaderId::kPrivacy},
    {"p-asserted-identity", HeaderId::kPAssertedIdentity},
    {"p-preferred-identity", HeaderId::kPPreferredIdentity},
};

constexpr std::array<HeaderId, 26> makeCompact() {
  std::array<HeaderId, 26> t{};
  auto set = [&t](char c, HeaderId id) { t[static_cast<std::size_t>(c - 'a')] = id; };
  set('v', HeaderId::kVia);
  set('f', HeaderId::kFrom);
  set('t', HeaderId::kTo);
  set('i', HeaderId::kCallId);
  set('m', HeaderId::kContact);
  set('l', HeaderId::kContentLength);
  set('c', HeaderId::kContentType);
  set('e', HeaderId::kContentEncoding);
  set('s', HeaderId::kSubject);
  set('k', HeaderId::kSupported);
  set('o', HeaderId::kEvent);
  set('u', HeaderId::kAllowEvents);
  set('r', HeaderId::kReferTo);
  set('b', HeaderId::kReferredBy);
  set('a', HeaderId::kAcceptContact);
  set('j', HeaderId::kRejectContact);
  set('d', HeaderId::kRequestDisposition);
  set('x', HeaderId::kSessionExpires);
  set('y', HeaderId::kIdentity);
  return t;
}
constexpr std::array<HeaderId, 26> kCompact = makeCompact();

// Buckets by (length, lower-cased first letter): at most a couple of candidates each.
constexpr std::size_t kMaxNameLength = 24;
struct Buckets {
  // For each length, a 26-slot list of up to 3 candidate indices into kNames (+1; 0 = empty).
  std::array<std::array<std::array<uint8_t, 3>, 26>, kMaxNameLength + 1> slots{};
};
constexpr Buckets makeBuckets() {
  Buckets b{};
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    auto name = kNames[i].name;
    auto& slot = b.slots[name.size()][static_cast<std::size_t>(name[0] - 'a')];
    for (auto& s : slot) {
      if (s == 0) {
        s = static_cast<uint8_t>(i + 1);
        break;
      }
    }
  }
  return b;
}
constexpr Buckets kBuckets = makeBuckets();

constexpr std::array<std::string_view, kHeaderIdCount> makeCanonical() {
  std::array<std::string_view, kHeaderIdCount> t{};
  t[static_cast<std::size_t>(HeaderId::kVia)] = "Via";
  t[static_cast<std::size_t>(HeaderId::kFrom)] = "From";
  t[static_cast<std::size_t>(HeaderId::kTo)] = "To";
  t[static_cast<std::size_t>(HeaderId::kCallId)] = "Call-ID";
  t[static_cast<std::size_t>(HeaderId::kCSeq)] = "CSeq";
  t[static_cast<std::size_t>(HeaderId::kMaxForwards)] = "Max-Forwards";
  t[static_cast<std::size_t>(HeaderId::kContact)] = "Contact";
  t[static_cast<std::size_t>(HeaderId::kRoute)] = "Route";
  t[static_cast<std::size_t>(HeaderId::kRecordRoute)] = "Record-Route";
  t[static_cast<std::size_t>(HeaderId::kContentLength)] = "Content-Length";
  t[static_cast<std::size_t>(HeaderId::kContentType)] = "Content-Type";
  t[static_cast<std::size_t>(HeaderId::kContentEncoding)] = "Content-Encoding";
  t[static_cast<std::size_t>(HeaderId::kExpires)] = "Expires";
  t[static_cast<std::size_t>(HeaderId::kMinExpires)] = "Min-Expires";
  t[static_cast<std::size_t>(HeaderId::kAuthorization)] = "Authorization";
  t[static_cast<std::size_t>(HeaderId::kProxyAuthorization)] = "Proxy-Authorization";
  t[static_cast<std::size_t>(HeaderId::kWwwAuthenticate)] = "WWW-Authenticate";
  t[static_cast<std::size_t>(HeaderId::kProxyAuthenticate)] = "Proxy-Authenticate";
  t[static_cast<std::size_t>(HeaderId::kPath)] = "Path";
  t[static_cast<std::size_t>(HeaderId::kSupported)] = "Supported";
  t[static_cast<std::size_t>(HeaderId::kRequire)] = "Require";
  t[static_cast<std::size_t>(HeaderId::kProxyRequire)] = "Proxy-Require";
  t[static_cast<std::size_t>(HeaderId::kUnsupported)] = "Unsupported";
  t[static_cast<std::size_t>(HeaderId::kAllow)] = "Allow";
  t[static_cast<std::size_t>(HeaderId::kAllowEvents)] = "Allow-Events";
  t[static_cast<std::size_t>(HeaderId::kEvent)] = "Event";
  t[static_cast<std::size_t>(HeaderId::kSubject)] = "Subject";
  t[static_cast<std::size_t>(HeaderId::kReferTo)] = "Refer-To";
  t[static_cast<std::size_t>(HeaderId::kReferredBy)] = "Referred-By";
  t[static_cast<std::size_t>(HeaderId::kUserAgent)] = "User-Agent";
  t[static_cast<std::size_t>(HeaderId::kServer)] = "Server";
  t[static_cast<std::size_t>(HeaderId::kDate)] = "Date";
  t[static_cast<std::size_t>(HeaderId::kRetryAfter)] = "Retry-After";
  t[static_cast<std::size_t>(HeaderId::kAccept)] = "Accept";
  t[static_cast<std::size_t>(HeaderId::kAcceptContact)] = "Accept-Contact";
  t[static_cast<std::size_t>(HeaderId::kRejectContact)] = "Reject-Contact";
  t[static_cast<std::size_t>(HeaderId::kRequestDisposition)] = "Request-Disposition";
  t[static_cast<std::size_t>(HeaderId::kSessionExpires)] = "Session-Expires";
  t[static_cast<std::size_t>(HeaderId::kIdentity)] = "Identity";
  t[static_cast<std::size_t>(HeaderId::kTimestamp)] = "Timestamp";
  t[static_cast<std::size_t>(HeaderId::kWarning)] = "Warning";
  t[static_cast<std::size_t>(HeaderId::kRSeq)] = "RSeq";
  t[static_cast<std::size_t>(HeaderId::kRAck)] = "RAck";
  t[static_cast<std::size_t>(HeaderId::kPrivacy)] = "Privacy";
  t[static_cast<std::size_t>(HeaderId::kPAssertedIdentity)] = "P-Asserted-Identity";
  t[static_cast<std::size_t>(HeaderId::kPPreferredIdentity)] = "P-Preferred-Identity";
  return t;
}
constexpr auto kCanonical = makeCanonical();

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (chars::lower(a[i]) != chars::lower(b[i])) return false;
  }
  return true;
}

namespace {
// Lower-cases the ASCII capitals among eight bytes at once and leaves every other byte as it is,
// so the comparison stays exact: a CR inside a name must not turn into a '-'.
inline uint64_t lowerAscii8(uint64_t x) noexcept {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t a = x & kLow7;
  uint64_t atLeastA = a + 0x3F3F3F3F3F3F3F3FULL;  // high bit set where byte >= 'A'
  uint64_t aboveZ = a + 0x2525252525252525ULL;    // high bit set where byte > 'Z'
  uint64_t upper = atLeastA & ~aboveZ & ~x & kHigh;
  return x | (upper >> 2);
}

// `key` is lower case. Eight bytes at a time: header names are looked up once per line of every
// message.
inline bool equalsLowerKey(std::string_view name, std::string_view key) noexcept {
  if (name.size() != key.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, key.data() + i, 8);
    if (lowerAscii8(a) != b) return false;
  }
  for (; i < key.size(); ++i) {
    if (chars::lower(name[i]) != key[i]) return false;
  }
  return true;
}
}  // namespace

HeaderId headerIdFromName(std::string_view name) noexcept {
  if (name.empty()) return HeaderId::kOther;
  char first = chars::lower(name[0]);
  if (first < 'a' || first > 'z') return HeaderId::kOther;
  if (name.size() == 1) return kCompact[static_cast<std::size_t>(first - 'a')];
  if (name.size() > kMaxNameLength) return HeaderId::kOther;
  for (uint8_t slot : kBuckets.slots[name.size()][static_cast<std::size_t>(first - 'a')]) {
    if (slot == 0) break;
    const NameEntry& e = kNames[slot - 1];
    if (equalsLowerKey(name, e.name)) return e.id;
  }
  return HeaderId::kOther;
}

std::string_view canonicalHeaderName(HeaderId id) noexcept {
  auto i = static_cast<std::size_t>(id);
  return i < kCanonical.size() ? kCanonical[i] : std::string_view{};
}

}  // namespace strowger::sip
