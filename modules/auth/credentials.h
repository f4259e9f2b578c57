// Digest credentials (Authorization, Proxy-Authorization) as the auth module checks them: the
// core's auth-param parser (sip::parseCredentials) underneath, then the Digest rules on top, with
// every value copied out and unescaped (a quoted-string's \" is a plain "), so that the digest is
// computed over what the client hashed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strowger::auth {

struct DigestCredentials {
  std::string username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc;
  bool userhash = false;
};

enum class CredentialsProblem : uint8_t {
  kNone,
  kNotDigest,       // another scheme (Basic, Bearer, ...): not ours to check
  kMalformed,       // not an auth-param list
  kMissingField,    // username, realm, nonce, uri or response absent
  kDuplicateField,  // a Digest parameter given twice
};

struct ParsedCredentials {
  DigestCredentials fields;  // whatever could be read; realm is set whenever the header has one
  CredentialsProblem problem = CredentialsProblem::kNone;
  std::string detail;  // which field, for the debug log

  bool ok() const noexcept { return problem == CredentialsProblem::kNone; }
};

// Parses one header line's value. Never throws; any input gives an answer.
ParsedCredentials parseDigestCredentials(std::string_view headerValue);

// A quoted-string's content with its quoted-pairs resolved ("a\"b" -> a"b).
std::string unescapeQuoted(std::string_view quotedContent);

}  // namespace strowger::auth
