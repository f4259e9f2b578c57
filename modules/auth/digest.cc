#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <memory>

namespace strowger::auth {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The digests, fetched from OpenSSL's provider once. EVP_md5() and EVP_sha256() would do, but
// OpenSSL 3 then fetches the implementation again at every EVP_DigestInit_ex: a lock and a
// lookup per hash, most of the cost of hashing a short string.
const EVP_MD* evpMd(DigestAlgorithm algorithm) noexcept {
  static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  switch (algorithm) {
    case DigestAlgorithm::kMd5:
    case DigestAlgorithm::kMd5Sess:
      return md5 != nullptr ? md5 : EVP_md5();
    case DigestAlgorithm::kSha256:
    case DigestAlgorithm::kSha256Sess:
      return sha256 != nullptr ? sha256 : EVP_sha256();
  }
  return nullptr;
}

// One hashing context per thread, reset by each EVP_DigestInit_ex2: no allocation per hash.
EVP_MD_CTX* threadContext() noexcept {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  return ctx.get();
}

std::string toLowerHex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

// H(parts joined by ':') as lower-case hex, hashed piecewise so the password is never copied into
// a temporary string. Empty on any OpenSSL failure.
std::string hashJoined(DigestAlgorithm algorithm, std::initializer_list<std::string_view> parts) {
  const EVP_MD* md = evpMd(algorithm);
  EVP_MD_CTX* ctx = threadContext();
  if (md == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1) return {};
  bool first = true;
  for (std::string_view part : parts) {
    if (!first && EVP_DigestUpdate(ctx, ":", 1) != 1) return {};
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) return {};
    first = false;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1) return {};
  return toLowerHex(digest.data(), size);
}

}  // namespace

std::optional<DigestAlgorithm> parseDigestAlgorithm(std::string_view name) noexcept {
  if (name.empty() || equalsIgnoreCase(name, "MD5")) return DigestAlgorithm::kMd5;
  if (equalsIgnoreCase(name, "MD5-sess")) return DigestAlgorithm::kMd5Sess;
  if (equalsIgnoreCase(name, "SHA-256")) return DigestAlgorithm::kSha256;
  if (equalsIgnoreCase(name, "SHA-256-sess")) return DigestAlgorithm::kSha256Sess;
  return std::nullopt;
}

std::string_view digestAlgorithmName(DigestAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case DigestAlgorithm::kMd5:
      return "MD5";
    case DigestAlgorithm::kMd5Sess:
      return "MD5-sess";
    case DigestAlgorithm::kSha256:
      return "SHA-256";
    case DigestAlgorithm::kSha256Sess:
      return "SHA-256-sess";
  }
  return "";
}

bool isSessionAlgorithm(DigestAlgorithm algorithm) noexcept {
  return algorithm == DigestAlgorithm::kMd5Sess || algorithm == DigestAlgorithm::kSha256Sess;
}

std::optional<DigestQop> parseDigestQop(std::string_view qop) noexcept {
  if (qop.empty()) return DigestQop::kNone;
  if (equalsIgnoreCase(qop, "auth")) return DigestQop::kAuth;
  return std::nullopt;
}

std::optional<uint32_t> parseNonceCount(std::string_view nc) noexcept {
  if (nc.size() != 8) return std::nullopt;
  uint32_t value = 0;
  for (char c : nc) {
    uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    value = (value << 4) | digit;
  }
  if (value == 0) return std::nullopt;
  return value;
}

std::string ha1(DigestAlgorithm algorithm, std::string_view user, std::string_view realm,
                std::string_view password) {
  return hashJoined(algorithm, {user, realm, password});
}

std::string sessionHa1(DigestAlgorithm algorithm, std::string_view ha1Hex, std::string_view nonce,
                       std::string_view cnonce) {
  if (!isSessionAlgorithm(algorithm)) return std::string(ha1Hex);
  if (ha1Hex.empty()) return {};  // a failed ha1() must not turn into a valid-looking hash
  return hashJoined(algorithm, {ha1Hex, nonce, cnonce});
}

std::string digestResponse(DigestAlgorithm algorithm, std::string_view ha1Hex,
                           std::string_view nonce, std::string_view nc, std::string_view cnonce,
                           DigestQop qop, std::string_view method, std::string_view digestUri) {
  if (ha1Hex.empty()) return {};
  const std::string ha2 = hashJoined(algorithm, {method, digestUri});
  if (ha2.empty()) return {};
  if (qop == DigestQop::kNone) return hashJoined(algorithm, {ha1Hex, nonce, ha2});
  return hashJoined(algorithm, {ha1Hex, nonce, nc, cnonce, "auth", ha2});
}

bool digestEqual(std::string_view expected, std::string_view received) noexcept {
  if (expected.empty() || expected.size() != received.size()) return false;
  return CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

}  // namespace strowger::auth
