// Digest credentials as the auth module reads them (modules/auth/credentials.h).
#include "credentials.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace strowger::auth {
namespace {

TEST(CredentialsTest, ReadsEveryField) {
  const auto parsed = parseDigestCredentials(
      R"(Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", )"
      R"(response="0123", algorithm=SHA-256, cnonce="xyz", opaque="op", qop=auth, nc=00000001)");
  ASSERT_TRUE(parsed.ok()) << parsed.detail;
  const DigestCredentials& f = parsed.fields;
  EXPECT_EQ(f.username, "alice");
  EXPECT_EQ(f.realm, "example.com");
  EXPECT_EQ(f.nonce, "abc");
  EXPECT_EQ(f.uri, "sip:example.com");
  EXPECT_EQ(f.response, "0123");
  EXPECT_EQ(f.algorithm, "SHA-256");
  EXPECT_EQ(f.cnonce, "xyz");
  EXPECT_EQ(f.opaque, "op");
  EXPECT_EQ(f.qop, "auth");
  EXPECT_EQ(f.nc, "00000001");
}

TEST(CredentialsTest, QuotedValuesKeepCommasAndUnescapeQuotes) {
  const auto parsed = parseDigestCredentials(
      R"(digest  USERNAME="a\"b,c" ,realm="r, with comma",nonce="n",uri="sip:x;a=b,c",)"
      R"(response="r")");
  ASSERT_TRUE(parsed.ok()) << parsed.detail;
  EXPECT_EQ(parsed.fields.username, "a\"b,c");
  EXPECT_EQ(parsed.fields.realm, "r, with comma");
  EXPECT_EQ(parsed.fields.uri, "sip:x;a=b,c");
  EXPECT_EQ(unescapeQuoted(R"(x\\y\"z)"), R"(x\y"z)");
}

TEST(CredentialsTest, MissingFieldsAreNamed) {
  const auto noResponse =
      parseDigestCredentials(R"(Digest username="a", realm="r", nonce="n", uri="sip:x")");
  EXPECT_EQ(noResponse.problem, CredentialsProblem::kMissingField);
  EXPECT_EQ(noResponse.detail, "response");
  EXPECT_EQ(noResponse.fields.realm, "r");  // still known, to tell whose credentials these are
  const auto noUser = parseDigestCredentials(R"(Digest realm="r")");
  EXPECT_EQ(noUser.problem, CredentialsProblem::kMissingField);
  EXPECT_EQ(noUser.detail, "username");
  // Empty is missing, but for the realm.
  const auto emptyResponse = parseDigestCredentials(
      R"(Digest username="a", realm="r", nonce="n", uri="sip:x", response=)");
  EXPECT_EQ(emptyResponse.problem, CredentialsProblem::kMissingField);
  EXPECT_EQ(emptyResponse.detail, "response");
  const auto emptyUser = parseDigestCredentials(
      R"(Digest username="", realm="r", nonce="n", uri="sip:x", response="0")");
  EXPECT_EQ(emptyUser.detail, "username");
  EXPECT_TRUE(parseDigestCredentials(
                  R"(Digest username="a", realm="", nonce="n", uri="sip:x", response="0")")
                  .ok());
}

TEST(CredentialsTest, DuplicatesAndOtherSchemes) {
  const auto twice = parseDigestCredentials(
      R"(Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x")");
  EXPECT_EQ(twice.problem, CredentialsProblem::kDuplicateField);
  EXPECT_EQ(twice.detail, "username");
  EXPECT_EQ(parseDigestCredentials("Basic YWxhZGRpbjpvcGVuc2VzYW1l").problem,
            CredentialsProblem::kNotDigest);
}

TEST(CredentialsTest, GarbageIsRefusedNotCrashed) {
  for (const char* bad :
       {"", "Digest", "Digest ", "Digest username", "Digest username=\"unterminated", "Digest ,,,,",
        "Digest =\"x\"", "\"Digest\" a=b", "Digest a=\"b\"c\"", "Digest <a=b",
        "Digest username=\"a\\", "\x01\x02\x03", "Digest realm=\"\xff\xfe\""}) {
    const auto parsed = parseDigestCredentials(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
  }
  // Random bytes, a little structure mixed in: any answer, never a crash.
  std::mt19937 random(7);
  const std::string alphabet = "Digest =\",\\ abcnrealmusr\x01\xff<>";
  for (int i = 0; i < 5000; ++i) {
    std::string input;
    const int length = static_cast<int>(random() % 80);
    for (int j = 0; j < length; ++j)
      input.push_back(alphabet[random() % alphabet.size()]);
    (void)parseDigestCredentials(input);
  }
}

}  // namespace
}  // namespace strowger::auth
