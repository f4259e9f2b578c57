// Stateless nonces and nonce-count replay tracking (modules/auth/nonce.h).
#include "nonce.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace strowger::auth {
namespace {

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kLifetime = 300;
const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST(NonceFactoryTest, RoundTripIsValid) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  ASSERT_EQ(nonce.size(), 43u);
  EXPECT_EQ(
      nonce.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_EQ(factory.check(nonce, kNow), NonceCheck::kValid);
  EXPECT_EQ(factory.check(nonce, kNow + kLifetime), NonceCheck::kValid);
  EXPECT_EQ(NonceFactory::issuedAt(nonce), kNow);
  // Another node with the same secret accepts it.
  EXPECT_EQ(NonceFactory(kSecret, kLifetime).check(nonce, kNow + 1), NonceCheck::kValid);
}

// The nonce's bytes, decoded from base64url without padding.
std::vector<unsigned char> nonceBytes(const std::string& nonce) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::vector<unsigned char> out;
  uint32_t bits = 0;
  int pending = 0;
  for (char c : nonce) {
    bits = (bits << 6) | static_cast<uint32_t>(alphabet.find(c));
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out.push_back(static_cast<unsigned char>((bits >> pending) & 0xff));
    }
  }
  return out;
}

// Nodes of different versions share nonces: the MAC is standard HMAC-SHA256 truncated to 16
// bytes, whatever way it is computed, for short keys and for keys longer than SHA-256's block.
TEST(NonceFactoryTest, TheMacIsHmacSha256OfTheTimeAndRandomBytes) {
  for (const std::string& secret :
       {std::string("0123456789abcdef"), std::string(100, 'k'), std::string(64, 'z')}) {
    NonceFactory factory(secret, 300);
    const std::vector<unsigned char> raw = nonceBytes(factory.make(kNow));
    ASSERT_EQ(raw.size(), 32u);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    ASSERT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), raw.data(), 16,
                   mac, &size),
              nullptr);
    EXPECT_TRUE(std::equal(raw.begin() + 16, raw.end(), mac)) << "secret of " << secret.size();
  }
}

TEST(NonceFactoryTest, NoncesAreUnique) {
  const NonceFactory factory(kSecret, kLifetime);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(seen.insert(factory.make(kNow)).second);
}

TEST(NonceFactoryTest, TamperedIsInvalid) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  for (size_t i = 0; i < nonce.size(); ++i) {
    std::string tampered = nonce;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(factory.check(tampered, kNow), NonceCheck::kInvalid) << "position " << i;
  }
}

TEST(NonceFactoryTest, MalformedIsInvalid) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  EXPECT_EQ(factory.check("", kNow), NonceCheck::kInvalid);
  EXPECT_EQ(factory.check(nonce.substr(1), kNow), NonceCheck::kInvalid);
  EXPECT_EQ(factory.check(nonce + "A", kNow), NonceCheck::kInvalid);
  EXPECT_EQ(factory.check(nonce + "=", kNow), NonceCheck::kInvalid);
  std::string badChar = nonce;
  badChar[5] = '+';
  EXPECT_EQ(factory.check(badChar, kNow), NonceCheck::kInvalid);
  EXPECT_EQ(NonceFactory::issuedAt("not a nonce"), std::nullopt);
}

// The last character carries 4 bits and 2 padding bits; a second spelling of the same bytes would
// be a distinct key for NonceCounts, so it must be refused.
TEST(NonceFactoryTest, NonCanonicalSpellingIsInvalid) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = kAlphabet.find(nonce.back());
  for (size_t padding = 1; padding < 4; ++padding) {
    std::string other = nonce;
    other.back() = kAlphabet[last | padding];
    EXPECT_EQ(factory.check(other, kNow), NonceCheck::kInvalid);
  }
}

TEST(NonceFactoryTest, ExpiredIsStale) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  EXPECT_EQ(factory.check(nonce, kNow + kLifetime + 1), NonceCheck::kStale);
  EXPECT_EQ(factory.check(nonce, kNow + 86400), NonceCheck::kStale);
}

TEST(NonceFactoryTest, FromTheFuture) {
  const NonceFactory factory(kSecret, kLifetime);
  const std::string nonce = factory.make(kNow);
  EXPECT_EQ(factory.check(nonce, kNow - NonceFactory::kMaxClockSkewSeconds), NonceCheck::kValid);
  EXPECT_EQ(factory.check(nonce, kNow - NonceFactory::kMaxClockSkewSeconds - 1),
            NonceCheck::kStale);
}

TEST(NonceFactoryTest, DifferentSecretIsInvalid) {
  const std::string nonce = NonceFactory(kSecret, kLifetime).make(kNow);
  EXPECT_EQ(NonceFactory("another secret", kLifetime).check(nonce, kNow), NonceCheck::kInvalid);
  EXPECT_EQ(NonceFactory("", kLifetime).check(nonce, kNow), NonceCheck::kInvalid);
  // Even a stale-looking forgery is invalid: the HMAC is checked first.
  EXPECT_EQ(NonceFactory("another secret", kLifetime).check(nonce, kNow + 86400),
            NonceCheck::kInvalid);
}

TEST(NonceCountsTest, IncreasingAcceptedReplayRefused) {
  NonceCounts counts(100);
  EXPECT_TRUE(counts.accept("n1", kNow, 1));
  EXPECT_FALSE(counts.accept("n1", kNow, 1));
  EXPECT_TRUE(counts.accept("n1", kNow, 2));
  EXPECT_TRUE(counts.accept("n1", kNow, 5));  // gaps are fine: requests may be lost
  EXPECT_FALSE(counts.accept("n1", kNow, 4));
  EXPECT_FALSE(counts.accept("n1", kNow, 5));
  EXPECT_TRUE(counts.accept("n2", kNow, 1));  // counts are per nonce
  EXPECT_FALSE(counts.accept("n3", kNow, 0));
  EXPECT_EQ(counts.size(), 2u);
}

TEST(NonceCountsTest, EvictedNonceIsNotAcceptedAgain) {
  NonceCounts counts(2, 1);
  EXPECT_TRUE(counts.accept("old", kNow, 1));
  EXPECT_TRUE(counts.accept("mid", kNow + 1, 1));
  EXPECT_TRUE(counts.accept("new", kNow + 2, 1));  // forgets "old", the first seen
  EXPECT_EQ(counts.size(), 2u);
  // "old" is no longer tracked, but its replay is still refused, whatever nc it claims.
  EXPECT_FALSE(counts.accept("old", kNow, 1));
  EXPECT_FALSE(counts.accept("old", kNow, 1000));
  // So is any untracked nonce issued no later than one forgotten.
  EXPECT_FALSE(counts.accept("unseen", kNow, 1));
  // Tracked nonces keep working; a nonce issued later is accepted.
  EXPECT_TRUE(counts.accept("mid", kNow + 1, 2));
  EXPECT_TRUE(counts.accept("fresh", kNow + 3, 1));
  EXPECT_EQ(counts.size(), 2u);
}

TEST(NonceCountsTest, MemoryIsBounded) {
  NonceCounts counts(64, 4);
  for (int i = 0; i < 10'000; ++i)
    counts.accept("n" + std::to_string(i), kNow + i, 1);
  EXPECT_LE(counts.size(), 64u);
  EXPECT_GT(counts.size(), 0u);
}

TEST(NonceCountsTest, ConcurrentSmoke) {
  constexpr int kThreads = 4;
  constexpr uint32_t kCounts = 2000;
  NonceCounts counts(1000);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  // Every thread tries every nc of the same shared nonce in order, plus nonces of its own. Under
  // the shard lock the first attempt at each count finds every earlier attempt lower, so each
  // count of the shared nonce is accepted exactly once overall.
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t nc = 1; nc <= kCounts; ++nc) {
        if (counts.accept("shared", kNow, nc)) accepted.fetch_add(1);
        EXPECT_TRUE(counts.accept("own" + std::to_string(t), kNow, nc));
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(accepted.load(), static_cast<int>(kCounts));
  EXPECT_FALSE(counts.accept("shared", kNow, kCounts));
}

}  // namespace
}  // namespace strowger::auth
