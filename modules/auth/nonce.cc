#include "nonce.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <limits>

namespace strowger::auth {
namespace {

constexpr size_t kTimestampBytes = 8;
constexpr size_t kRandomBytes = 8;
constexpr size_t kMacBytes = 16;
constexpr size_t kSignedBytes = kTimestampBytes + kRandomBytes;
constexpr size_t kNonceBytes = kSignedBytes + kMacBytes;
// 32 bytes are 256 bits: 42 full sextets and one carrying the last 4 bits.
constexpr size_t kNonceChars = (kNonceBytes * 8 + 5) / 6;

using Raw = std::array<unsigned char, kNonceBytes>;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string encode(const Raw& raw) {
  std::string out;
  out.reserve(kNonceChars);
  uint32_t bits = 0;
  int pending = 0;
  for (unsigned char byte : raw) {
    bits = (bits << 8) | byte;
    pending += 8;
    while (pending >= 6) {
      pending -= 6;
      out.push_back(kAlphabet[(bits >> pending) & 0x3f]);
    }
  }
  if (pending > 0) out.push_back(kAlphabet[(bits << (6 - pending)) & 0x3f]);
  return out;
}

// Strict: exactly kNonceChars characters of the base64url alphabet and zero padding bits. The
// padding check matters: without it one nonce would have several spellings, each tracked
// separately by NonceCounts, and a replay could use a spelling not yet seen.
std::optional<Raw> decode(std::string_view text) noexcept {
  if (text.size() != kNonceChars) return std::nullopt;
  Raw raw{};
  uint32_t bits = 0;
  int pending = 0;
  size_t at = 0;
  for (char c : text) {
    const int value = sextet(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      raw[at++] = static_cast<unsigned char>((bits >> pending) & 0xff);
    }
  }
  if ((bits & ((1u << pending) - 1)) != 0) return std::nullopt;
  return raw;
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

const EVP_MD* sha256() noexcept {
  // Fetched once: EVP_sha256() makes OpenSSL 3 fetch it again at every init.
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
}

// The calling thread's working context, reused for every nonce: no allocation per signature.
EVP_MD_CTX* threadContext() noexcept {
  thread_local const DigestContext ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx.get();
}

}  // namespace

// HMAC-SHA256 (RFC 2104) with the key's two padded blocks hashed once, when the factory is made:
// each signature then copies a state and hashes 16 bytes and 32 bytes. OpenSSL's one-shot HMAC()
// sets up a MAC object and fetches its digest at every call, several times the work.
struct NonceFactory::Key {
  DigestContext inner{EVP_MD_CTX_new(), &EVP_MD_CTX_free};  // after H(K ^ ipad)
  DigestContext outer{EVP_MD_CTX_new(), &EVP_MD_CTX_free};  // after H(K ^ opad)
  bool ok = false;

  explicit Key(std::string_view secret) {
    static constexpr size_t kBlock = 64;  // SHA-256's block size
    std::array<unsigned char, kBlock> block{};
    const EVP_MD* md = sha256();
    if (!inner || !outer || md == nullptr) return;
    if (secret.size() > kBlock) {
      unsigned int size = 0;
      if (EVP_Digest(secret.data(), secret.size(), block.data(), &size, md, nullptr) != 1) return;
    } else {
      std::copy(secret.begin(), secret.end(), block.begin());
    }
    std::array<unsigned char, kBlock> pad{};
    for (size_t i = 0; i < kBlock; ++i)
      pad[i] = block[i] ^ 0x36;
    if (EVP_DigestInit_ex2(inner.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(inner.get(), pad.data(), kBlock) != 1) {
      return;
    }
    for (size_t i = 0; i < kBlock; ++i)
      pad[i] = block[i] ^ 0x5c;
    if (EVP_DigestInit_ex2(outer.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(outer.get(), pad.data(), kBlock) != 1) {
      return;
    }
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    ok = true;
  }

  // The first kMacBytes of HMAC-SHA256(secret, the first kSignedBytes of `raw`).
  bool sign(const Raw& raw, unsigned char* mac) const noexcept {
    EVP_MD_CTX* ctx = threadContext();
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (!ok || ctx == nullptr || EVP_MD_CTX_copy_ex(ctx, inner.get()) != 1 ||
        EVP_DigestUpdate(ctx, raw.data(), kSignedBytes) != 1 ||
        EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 ||
        EVP_MD_CTX_copy_ex(ctx, outer.get()) != 1 ||
        EVP_DigestUpdate(ctx, digest.data(), size) != 1 ||
        EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 || size < kMacBytes) {
      return false;
    }
    std::copy_n(digest.begin(), kMacBytes, mac);
    return true;
  }
};

namespace {

int64_t timestampOf(const Raw& raw) noexcept {
  uint64_t value = 0;
  for (size_t i = 0; i < kTimestampBytes; ++i)
    value = (value << 8) | raw[i];
  return static_cast<int64_t>(value);
}

}  // namespace

NonceFactory::NonceFactory(std::string secret, int64_t lifetimeSeconds)
    : key_(std::make_shared<const Key>(secret)), lifetimeSeconds_(lifetimeSeconds) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

std::string NonceFactory::make(int64_t now) const {
  Raw raw{};
  const auto issued = static_cast<uint64_t>(now);
  for (size_t i = 0; i < kTimestampBytes; ++i) {
    raw[i] = static_cast<unsigned char>(issued >> (8 * (kTimestampBytes - 1 - i)));
  }
  if (RAND_bytes(raw.data() + kTimestampBytes, static_cast<int>(kRandomBytes)) != 1) return {};
  if (!key_->sign(raw, raw.data() + kSignedBytes)) return {};
  return encode(raw);
}

NonceCheck NonceFactory::check(std::string_view nonce, int64_t now) const {
  const std::optional<Raw> raw = decode(nonce);
  if (!raw) return NonceCheck::kInvalid;
  std::array<unsigned char, kMacBytes> mac{};
  if (!key_->sign(*raw, mac.data())) return NonceCheck::kInvalid;
  if (CRYPTO_memcmp(mac.data(), raw->data() + kSignedBytes, kMacBytes) != 0) {
    return NonceCheck::kInvalid;
  }
  const int64_t issued = timestampOf(*raw);
  // A signed timestamp came from some node's clock: a little ahead of ours is skew, far ahead is
  // a misconfigured node, and refused like an old nonce.
  if (issued > now) {
    return issued - now > kMaxClockSkewSeconds ? NonceCheck::kStale : NonceCheck::kValid;
  }
  if (now - issued > lifetimeSeconds_) return NonceCheck::kStale;
  return NonceCheck::kValid;
}

std::optional<int64_t> NonceFactory::issuedAt(std::string_view nonce) noexcept {
  const std::optional<Raw> raw = decode(nonce);
  if (!raw) return std::nullopt;
  return timestampOf(*raw);
}

struct NonceCounts::Shard {
  mutable std::mutex mutex;
  struct Entry {
    uint32_t lastNc = 0;
    int64_t issuedAt = 0;
  };
  std::unordered_map<std::string, Entry> counts;
  std::deque<std::string> firstSeen;  // eviction order, oldest at the front
  int64_t watermark = std::numeric_limits<int64_t>::min();
  bool forgotAny = false;
};

NonceCounts::NonceCounts(size_t capacity, size_t shardCount)
    : shardCount_(std::max<size_t>(shardCount, 1)),
      shards_(std::make_unique<Shard[]>(std::max<size_t>(shardCount, 1))) {
  // Rounded up so that the total is never below what was asked for.
  perShardCapacity_ = std::max<size_t>((capacity + shardCount_ - 1) / shardCount_, 1);
}

NonceCounts::~NonceCounts() = default;

NonceCounts::Shard& NonceCounts::shardFor(std::string_view nonce) {
  return shards_[std::hash<std::string_view>{}(nonce) % shardCount_];
}

bool NonceCounts::accept(std::string_view nonce, int64_t issuedAt, uint32_t nc) {
  Shard& shard = shardFor(nonce);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.counts.find(std::string(nonce)); it != shard.counts.end()) {
    if (nc <= it->second.lastNc) return false;
    it->second.lastNc = nc;
    return true;
  }
  if (nc == 0) return false;
  // Not tracked: either new, or forgotten. Anything not issued after the newest forgotten nonce
  // may be one we forgot, and so is refused.
  if (shard.forgotAny && issuedAt <= shard.watermark) return false;
  while (shard.counts.size() >= perShardCapacity_ && !shard.firstSeen.empty()) {
    auto victim = shard.counts.find(shard.firstSeen.front());
    if (victim != shard.counts.end()) {
      shard.watermark = std::max(shard.watermark, victim->second.issuedAt);
      shard.forgotAny = true;
      shard.counts.erase(victim);
    }
    shard.firstSeen.pop_front();
  }
  shard.counts.emplace(std::string(nonce), Shard::Entry{nc, issuedAt});
  shard.firstSeen.emplace_back(nonce);
  return true;
}

size_t NonceCounts::size() const {
  size_t total = 0;
  for (size_t i = 0; i < shardCount_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].counts.size();
  }
  return total;
}

}  // namespace strowger::auth
