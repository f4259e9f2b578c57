// libFuzzer target: what the auth and dispatcher modules read from requests and responses before
// anything vouches for them.
//
// The input is taken as one Authorization / Proxy-Authorization header value:
//   - parseDigestCredentials(); when it parses, the whole check the auth module makes runs over
//     it: the nonce against a NonceFactory (check, issuedAt), the response computed with every
//     algorithm it names, the constant-time compare, and the nonce count;
//   - the dispatcher's digestUsername() (hash_authuser) over the same bytes, which must agree
//     with the auth module's parser whenever that one finds a username without escapes;
//   - CidrRange::parse() (the trusted lists come from configuration and from a database table);
//   - the dispatcher's parseProbeBranch() (the branch of a response claimed as a probe answer).
//
// Besides crashes and sanitizer reports, the target traps when an invariant breaks:
//   - parsed credentials lack a field ok() promises (username, realm, nonce, uri, response);
//   - a nonce the factory made for this instant is not valid, or one the input carries is
//     reported valid without the factory's signature;
//   - a digest response is not lower-case hex of the algorithm's length;
//   - a parsed CIDR range does not round-trip through toString();
//   - a probe branch parses without the probe prefix.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "cidr.h"
#include "credentials.h"
#include "digest.h"
#include "nonce.h"
#include "runtime.h"
#include "selection.h"
#include "users.h"

namespace {

using namespace strowger;

[[noreturn]] void broken(const char* what, std::string_view input) {
  std::fprintf(stderr, "invariant broken: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
               input.data());
  __builtin_trap();
}

bool lowerHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

const auth::NonceFactory& factory() {
  static const auth::NonceFactory nonces("fuzzing-secret-0123456789", 300);
  return nonces;
}

constexpr int64_t kNow = 1'700'000'000;

void checkCredentials(std::string_view input) {
  const auth::ParsedCredentials parsed = auth::parseDigestCredentials(input);
  (void)auth::unescapeQuoted(input);
  const std::string_view quickUser = dispatcher::digestUsername(input);
  if (!parsed.ok()) return;
  const auth::DigestCredentials& c = parsed.fields;
  if (c.username.empty() || c.nonce.empty() || c.uri.empty() || c.response.empty()) {
    broken("credentials accepted without a required field", input);
  }
  if (quickUser.find('\\') == std::string_view::npos && !quickUser.empty() &&
      quickUser != c.username) {
    broken("the dispatcher and the auth module read different usernames", input);
  }

  const auth::NonceCheck verdict = factory().check(c.nonce, kNow);
  if (verdict == auth::NonceCheck::kValid && !auth::NonceFactory::issuedAt(c.nonce)) {
    broken("a valid nonce without an issue time", input);
  }
  const std::string fresh = factory().make(kNow);
  if (factory().check(fresh, kNow) != auth::NonceCheck::kValid) {
    broken("a nonce made now is not valid now", fresh);
  }
  // A nonce from the input is valid only if it is one the factory could have made: flipping a
  // character of a fresh nonce must break it.
  std::string tampered = fresh;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  if (factory().check(tampered, kNow) == auth::NonceCheck::kValid) {
    broken("a tampered nonce is valid", tampered);
  }

  for (auth::DigestAlgorithm algorithm :
       {auth::DigestAlgorithm::kMd5, auth::DigestAlgorithm::kMd5Sess,
        auth::DigestAlgorithm::kSha256, auth::DigestAlgorithm::kSha256Sess}) {
    const size_t length = auth::hashOf(algorithm) == auth::DigestHash::kMd5 ? 32 : 64;
    const std::string ha1 = auth::ha1(algorithm, c.username, c.realm, "password");
    const std::string session = auth::sessionHa1(algorithm, ha1, c.nonce, c.cnonce);
    const std::string response = auth::digestResponse(algorithm, session, c.nonce, c.nc, c.cnonce,
                                                      auth::DigestQop::kAuth, "REGISTER", c.uri);
    if (!lowerHex(response, length)) broken("a digest response is not hex of its length", input);
    (void)auth::digestEqual(response, c.response);
  }
  static auth::NonceCounts counts(1024, 4);
  if (const auto nc = auth::parseNonceCount(c.nc)) {
    (void)counts.accept(c.nonce, kNow, *nc);
  }
}

void checkCidr(std::string_view input) {
  std::string error;
  const auto range = auth::CidrRange::parse(input, &error);
  if (!range) return;
  const std::string text = range->toString();
  const auto again = auth::CidrRange::parse(text, &error);
  if (!again || again->toString() != text) broken("a range does not round-trip", input);
}

void checkProbeBranch(std::string_view input) {
  if (dispatcher::parseProbeBranch(input) &&
      input.find(dispatcher::kProbeBranchPrefix) == std::string_view::npos) {
    broken("a probe branch without the probe prefix", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checkCredentials(input);
  checkCidr(input);
  checkProbeBranch(input);
  return 0;
}
