// Digest computations of RFC 7616 §3.4 (which RFC 3261 §22.4 and RFC 8760 take over for SIP), as
// pure functions over the values the Authorization header carries. Parsing that header is
// sip::parseCredentials()'s; choosing the password and deciding what a mismatch means is the
// caller's.
//
// Every digest is lower-case hex (RFC 7616's LHEX). A function whose hash fails inside OpenSSL
// (e.g. MD5 refused by a FIPS provider) returns an empty string, and digestEqual() never matches
// an empty string, so such a failure can only refuse, never authenticate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strowger::auth {

enum class DigestAlgorithm : uint8_t { kMd5, kMd5Sess, kSha256, kSha256Sess };

// "MD5", "MD5-sess", "SHA-256", "SHA-256-sess", compared case-insensitively (RFC 7616 §3.3 makes
// the token case-insensitive). An absent algorithm parameter means MD5, so "" parses as kMd5.
std::optional<DigestAlgorithm> parseDigestAlgorithm(std::string_view name) noexcept;
std::string_view digestAlgorithmName(DigestAlgorithm algorithm) noexcept;
bool isSessionAlgorithm(DigestAlgorithm algorithm) noexcept;

// The qop the response was computed with. auth-int is not offered: it needs the body's hash, and
// SIP bodies rarely make it through intermediaries unchanged.
enum class DigestQop : uint8_t {
  kNone,  // RFC 2069 compatibility: no qop, nc or cnonce
  kAuth,
};

// "" → kNone, "auth" → kAuth (case-insensitive); anything else (auth-int included) is nullopt.
std::optional<DigestQop> parseDigestQop(std::string_view qop) noexcept;

// The nc parameter: exactly 8 hex digits (RFC 7616 §3.4). Zero is refused, counting starts at 1.
std::optional<uint32_t> parseNonceCount(std::string_view nc) noexcept;

// H(username ":" realm ":" password): what a credential store keeps instead of the password.
std::string ha1(DigestAlgorithm algorithm, std::string_view user, std::string_view realm,
                std::string_view password);

// For the -sess algorithms: H(ha1 ":" nonce ":" cnonce), computed once per nonce (RFC 7616
// §3.4.2). For the others it returns ha1Hex unchanged, so callers may apply it unconditionally.
std::string sessionHa1(DigestAlgorithm algorithm, std::string_view ha1Hex, std::string_view nonce,
                       std::string_view cnonce);

// The request-digest of RFC 7616 §3.4.1 with HA2 = H(method ":" digestUri):
//   kAuth: H(ha1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" HA2)
//   kNone: H(ha1 ":" nonce ":" HA2)  (RFC 2069; nc and cnonce are ignored)
// `ha1Hex` is the session HA1 for the -sess algorithms (sessionHa1()). `nc` is hashed as sent, so
// it is the header's 8 hex digits, not a number.
std::string digestResponse(DigestAlgorithm algorithm, std::string_view ha1Hex,
                           std::string_view nonce, std::string_view nc, std::string_view cnonce,
                           DigestQop qop, std::string_view method, std::string_view digestUri);

// Compares a computed digest with the one a client sent in time independent of where they differ,
// so the response cannot be guessed a byte at a time. Exact bytes: RFC 7616 requires lower-case
// hex. Lengths are not secret. False when either is empty.
bool digestEqual(std::string_view expected, std::string_view received) noexcept;

}  // namespace strowger::auth
