// Digest computations: RFC 7616 §3.4 and its §3.9.1 example, RFC 2617 §3.5, RFC 2069.
#include "digest.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace strowger::auth {
namespace {

// RFC 7616 §3.9.1.
constexpr std::string_view kUser = "Mufasa";
constexpr std::string_view kPassword = "Circle of Life";
constexpr std::string_view kRealm = "http-auth@example.org";
constexpr std::string_view kNonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr std::string_view kCnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
constexpr std::string_view kUri = "/dir/index.html";

TEST(DigestTest, Rfc7616ExampleMd5) {
  const std::string h1 = ha1(DigestAlgorithm::kMd5, kUser, kRealm, kPassword);
  EXPECT_EQ(digestResponse(DigestAlgorithm::kMd5, h1, kNonce, "00000001", kCnonce, DigestQop::kAuth,
                           "GET", kUri),
            "8ca523f5e9506fed4657c9700eebdbec");
}

TEST(DigestTest, Rfc7616ExampleSha256) {
  const std::string h1 = ha1(DigestAlgorithm::kSha256, kUser, kRealm, kPassword);
  EXPECT_EQ(digestResponse(DigestAlgorithm::kSha256, h1, kNonce, "00000001", kCnonce,
                           DigestQop::kAuth, "GET", kUri),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

// RFC 2617 §3.5; the example's password is "Circle Of Life" (capital O), whatever its prose says.
TEST(DigestTest, Rfc2617ExampleMd5) {
  const std::string h1 =
      ha1(DigestAlgorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  EXPECT_EQ(digestResponse(DigestAlgorithm::kMd5, h1, "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                           "00000001", "0a4f113b", DigestQop::kAuth, "GET", kUri),
            "6629fae49393a05397450978507c4ef1");
}

// Without qop (RFC 2069): H(HA1:nonce:HA2), nc and cnonce play no part. Expected value computed
// independently (Python hashlib) from the RFC 2617 example's inputs.
TEST(DigestTest, NoQopIsRfc2069Form) {
  const std::string h1 =
      ha1(DigestAlgorithm::kMd5, "Mufasa", "testrealm@host.com", "Circle Of Life");
  const std::string_view nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  const std::string response =
      digestResponse(DigestAlgorithm::kMd5, h1, nonce, "", "", DigestQop::kNone, "GET", kUri);
  EXPECT_EQ(response, "670fd8c2df070c60b045671b8b24ff02");
  EXPECT_EQ(digestResponse(DigestAlgorithm::kMd5, h1, nonce, "00000002", "x", DigestQop::kNone,
                           "GET", kUri),
            response);
}

// -sess: HA1 = H(H(user:realm:password):nonce:cnonce) (RFC 7616 §3.4.2). Expected value computed
// independently (Python hashlib).
TEST(DigestTest, SessionAlgorithm) {
  const std::string base = ha1(DigestAlgorithm::kSha256Sess, kUser, kRealm, kPassword);
  EXPECT_EQ(base, ha1(DigestAlgorithm::kSha256, kUser, kRealm, kPassword));
  const std::string session = sessionHa1(DigestAlgorithm::kSha256Sess, base, kNonce, kCnonce);
  EXPECT_NE(session, base);
  EXPECT_EQ(digestResponse(DigestAlgorithm::kSha256Sess, session, kNonce, "00000001", kCnonce,
                           DigestQop::kAuth, "GET", kUri),
            "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7");
  // Not a -sess algorithm: unchanged, so callers may apply it unconditionally.
  EXPECT_EQ(sessionHa1(DigestAlgorithm::kSha256, base, kNonce, kCnonce), base);
}

TEST(DigestTest, AlgorithmNames) {
  for (DigestAlgorithm a : {DigestAlgorithm::kMd5, DigestAlgorithm::kMd5Sess,
                            DigestAlgorithm::kSha256, DigestAlgorithm::kSha256Sess}) {
    EXPECT_EQ(parseDigestAlgorithm(digestAlgorithmName(a)), a);
  }
  EXPECT_EQ(digestAlgorithmName(DigestAlgorithm::kMd5), "MD5");
  EXPECT_EQ(digestAlgorithmName(DigestAlgorithm::kSha256), "SHA-256");
  EXPECT_EQ(parseDigestAlgorithm(""), DigestAlgorithm::kMd5);
  EXPECT_EQ(parseDigestAlgorithm("md5"), DigestAlgorithm::kMd5);
  EXPECT_EQ(parseDigestAlgorithm("sha-256-SESS"), DigestAlgorithm::kSha256Sess);
  EXPECT_EQ(parseDigestAlgorithm("SHA-512-256"), std::nullopt);
  EXPECT_EQ(parseDigestAlgorithm("SHA256"), std::nullopt);
  EXPECT_TRUE(isSessionAlgorithm(DigestAlgorithm::kMd5Sess));
  EXPECT_FALSE(isSessionAlgorithm(DigestAlgorithm::kSha256));
}

TEST(DigestTest, QopAndNonceCount) {
  EXPECT_EQ(parseDigestQop(""), DigestQop::kNone);
  EXPECT_EQ(parseDigestQop("auth"), DigestQop::kAuth);
  EXPECT_EQ(parseDigestQop("AUTH"), DigestQop::kAuth);
  EXPECT_EQ(parseDigestQop("auth-int"), std::nullopt);

  EXPECT_EQ(parseNonceCount("00000001"), 1u);
  EXPECT_EQ(parseNonceCount("0000001a"), 26u);
  EXPECT_EQ(parseNonceCount("0000001A"), 26u);
  EXPECT_EQ(parseNonceCount("ffffffff"), 0xffffffffu);
  EXPECT_EQ(parseNonceCount("00000000"), std::nullopt);
  EXPECT_EQ(parseNonceCount("1"), std::nullopt);
  EXPECT_EQ(parseNonceCount("000000001"), std::nullopt);
  EXPECT_EQ(parseNonceCount("0000000g"), std::nullopt);
  EXPECT_EQ(parseNonceCount("+0000001"), std::nullopt);
}

TEST(DigestTest, DigestEqual) {
  EXPECT_TRUE(digestEqual("8ca523f5e9506fed4657c9700eebdbec", "8ca523f5e9506fed4657c9700eebdbec"));
  EXPECT_FALSE(digestEqual("8ca523f5e9506fed4657c9700eebdbec", "8ca523f5e9506fed4657c9700eebdbed"));
  EXPECT_FALSE(digestEqual("8ca523f5e9506fed4657c9700eebdbec", "8ca523f5e9506fed4657c9700eebdbe"));
  // RFC 7616 responses are lower-case hex: upper case does not match.
  EXPECT_FALSE(digestEqual("8ca523f5e9506fed4657c9700eebdbec", "8CA523F5E9506FED4657C9700EEBDBEC"));
  // An empty expected value is a failed computation, never a match.
  EXPECT_FALSE(digestEqual("", ""));
}

TEST(DigestTest, FailedHa1NeverAuthenticates) {
  EXPECT_EQ(digestResponse(DigestAlgorithm::kMd5, "", kNonce, "00000001", kCnonce, DigestQop::kAuth,
                           "GET", kUri),
            "");
  EXPECT_EQ(sessionHa1(DigestAlgorithm::kMd5Sess, "", kNonce, kCnonce), "");
}

}  // namespace
}  // namespace strowger::auth
