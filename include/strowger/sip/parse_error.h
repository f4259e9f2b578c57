// Errors from parsing untrusted SIP bytes. They are values, never exceptions: a request that fails
// becomes a reply with `status` and `reason`, a response that fails is dropped and counted.
#pragma once

#include <cstdint>
#include <string_view>

namespace strowger::sip {

enum class ParseErrc : uint8_t {
  kNone = 0,
  kEmpty,                  // nothing but whitespace
  kTooLarge,               // message larger than ParseLimits::maxMessageBytes
  kTooManyHeaders,         // more header lines than ParseLimits::maxHeaders
  kLineTooLong,            // a line longer than ParseLimits::maxLineBytes
  kTruncated,              // header section not terminated / body shorter than Content-Length
  kBadStartLine,           // request or status line does not follow RFC 3261 §7.1/§7.2
  kBadVersion,             // SIP-Version other than SIP/2.0
  kBadStatusCode,          // status code outside 100..699
  kBadHeaderLine,          // header line without a name or colon
  kBadContentLength,       // not a number, negative, or out of range
  kMultipleContentLength,  // Content-Length given more than once (framing would be ambiguous)
  kBadUri,
  kUnsupportedUriScheme,
  kBadVia,
  kBadNameAddr,
  kBadCSeq,
  kBadCallId,
  kBadMaxForwards,
  kBadExpires,
  kBadContact,
  kBadContentType,
  kBadAuthorization,
  kBadChallenge,
  kBadOptionTag,
  kMissingHeader,
  kDuplicateHeader,  // a header that may appear once appears more than once
  kCSeqMethodMismatch,
  kBadExtension,  // Proxy-Require lists an option tag the proxy does not support
};

struct ParseError {
  ParseErrc code = ParseErrc::kNone;
  // A static phrase, fit to be the reason phrase of the reply (e.g. "Bad Via").
  std::string_view reason;
  // The status a request with this error is answered with (400, 416, 420, 501, 505).
  uint16_t status = 400;
};

}  // namespace strowger::sip
