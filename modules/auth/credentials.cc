#include "credentials.h"

#include <array>
#include <utility>

#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"

namespace strowger::auth {

std::string unescapeQuoted(std::string_view quotedContent) {
  std::string out;
  out.reserve(quotedContent.size());
  for (size_t i = 0; i < quotedContent.size(); ++i) {
    if (quotedContent[i] == '\\' && i + 1 < quotedContent.size()) ++i;
    out.push_back(quotedContent[i]);
  }
  return out;
}

ParsedCredentials parseDigestCredentials(std::string_view headerValue) {
  ParsedCredentials result;
  auto parsed = sip::parseCredentials(headerValue);
  if (!parsed) {
    result.problem = CredentialsProblem::kMalformed;
    result.detail = "not a list of auth-params";
    return result;
  }
  const sip::Credentials& c = *parsed;
  if (!sip::equalsIgnoreCase(c.scheme, "Digest")) {
    result.problem = CredentialsProblem::kNotDigest;
    result.detail = std::string(c.scheme);
    return result;
  }
  DigestCredentials& f = result.fields;
  const std::array<std::pair<std::string_view, std::string*>, 10> known = {{
      {"username", &f.username},
      {"realm", &f.realm},
      {"nonce", &f.nonce},
      {"uri", &f.uri},
      {"response", &f.response},
      {"algorithm", &f.algorithm},
      {"cnonce", &f.cnonce},
      {"opaque", &f.opaque},
      {"qop", &f.qop},
      {"nc", &f.nc},
  }};
  std::array<bool, known.size()> seen{};
  for (const sip::AuthParam& p : c.params) {
    if (sip::equalsIgnoreCase(p.name, "userhash")) {
      f.userhash = sip::equalsIgnoreCase(p.value, "true");
      continue;
    }
    for (size_t i = 0; i < known.size(); ++i) {
      if (!sip::equalsIgnoreCase(p.name, known[i].first)) continue;
      if (seen[i]) {
        result.problem = CredentialsProblem::kDuplicateField;
        result.detail = std::string(known[i].first);
      }
      seen[i] = true;
      *known[i].second = p.quoted ? unescapeQuoted(p.value) : std::string(p.value);
    }
  }
  if (!result.ok()) return result;
  for (size_t i = 0; i < 5; ++i) {  // username, realm, nonce, uri, response
    // Present but empty is missing too, the realm aside (a realm may be ""): nothing can be
    // checked against an empty username, nonce, uri or response.
    if (!seen[i] || (i != 1 && known[i].second->empty())) {
      result.problem = CredentialsProblem::kMissingField;
      result.detail = std::string(known[i].first);
      return result;
    }
  }
  return result;
}

}  // namespace strowger::auth
