// Known header names. Every header line is indexed by its id, so the hot path finds Via, Call-ID or
// CSeq with one array look-up; compact forms (RFC 3261 §7.3.3 and later RFCs) map to the same id.
#pragma once

#include <cstdint>
#include <string_view>

namespace strowger::sip {

enum class HeaderId : uint8_t {
  kOther = 0,  // not in this list: compare by name
  kVia,
  kFrom,
  kTo,
  kCallId,
  kCSeq,
  kMaxForwards,
  kContact,
  kRoute,
  kRecordRoute,
  kContentLength,
  kContentType,
  kContentEncoding,
  kExpires,
  kMinExpires,
  kAuthorization,
  kProxyAuthorization,
  kWwwAuthenticate,
  kProxyAuthenticate,
  kPath,
  kSupported,
  kRequire,
  kProxyRequire,
  kUnsupported,
  kAllow,
  kAllowEvents,
  kEvent,
  kSubject,
  kReferTo,
  kReferredBy,
  kUserAgent,
  kServer,
  kDate,
  kRetryAfter,
  kAccept,
  kAcceptContact,
  kRejectContact,
  kRequestDisposition,
  kSessionExpires,
  kIdentity,
  kTimestamp,
  kWarning,
  kRSeq,
  kRAck,
  kPrivacy,
  kPAssertedIdentity,
  kPPreferredIdentity,
  kCount  // number of ids; keep last
};

inline constexpr std::size_t kHeaderIdCount = static_cast<std::size_t>(HeaderId::kCount);

// Maps a header name as written (any case, long or compact form) to its id; kOther if unknown.
HeaderId headerIdFromName(std::string_view name) noexcept;

// The canonical long name of a known header ("Call-ID" for kCallId); empty for kOther.
std::string_view canonicalHeaderName(HeaderId id) noexcept;

// Case-insensitive ASCII comparison, as header names, methods' tokens in params and schemes need.
bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept;

}  // namespace strowger::sip
