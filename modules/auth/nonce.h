// Nonces for digest challenges (RFC 7616 §3.3, §5.4) that need no server state to verify, and the
// nonce-count bookkeeping that refuses replayed responses.
//
// A nonce is the unpadded base64url (RFC 4648 §5) of 32 bytes:
//   issued-at (8 bytes, big-endian seconds) ‖ random (8 bytes) ‖ HMAC-SHA256(secret, the first 16
//   bytes) truncated to 16 bytes
// so any node sharing the secret can tell a nonce it issued from a forged or altered one, and how
// old it is, without a lookup. The 43 characters need no escaping inside a quoted-string.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strowger::auth {

enum class NonceCheck : uint8_t {
  kValid,
  kStale,    // ours and intact, but too old (or too far in the future): challenge with stale=true
  kInvalid,  // malformed or not made with our secret
};

class NonceFactory {
 public:
  // How far a nonce's timestamp may lie ahead of `now` before it is stale: nodes sharing a secret
  // do not share a clock exactly.
  static constexpr int64_t kMaxClockSkewSeconds = 5;

  // `secret` is raw bytes, shared by every node that must accept the others' nonces; it should be
  // at least 32 random bytes. `lifetimeSeconds` is how long a nonce stays valid after issue.
  NonceFactory(std::string secret, int64_t lifetimeSeconds);

  // A fresh nonce issued at `now` (Unix seconds). Empty only if OpenSSL cannot produce randomness
  // or an HMAC, which check() then refuses like any other malformed nonce.
  std::string make(int64_t now) const;

  // Checks the HMAC in constant time before looking at the age, so a forged nonce is kInvalid
  // whatever timestamp it claims.
  NonceCheck check(std::string_view nonce, int64_t now) const;

  // The issue time a well-formed nonce claims, without verifying it: call after check() says
  // kValid, for NonceCounts::accept().
  static std::optional<int64_t> issuedAt(std::string_view nonce) noexcept;

  int64_t lifetimeSeconds() const { return lifetimeSeconds_; }

 private:
  struct Key;  // the secret as HMAC-SHA256 pad states (nonce.cc)
  std::shared_ptr<const Key> key_;
  int64_t lifetimeSeconds_;
};

// Replay protection for qop=auth responses (RFC 7616 §3.4.5): a response is accepted only when its
// nonce count is greater than the last one accepted with the same nonce.
//
// Memory is bounded: at most `capacity` nonces are tracked; past that, the one first seen longest
// ago is forgotten. Forgetting a nonce must not let its old responses in again, so each shard keeps
// a watermark, the latest issue time among the nonces it has forgotten, and refuses any nonce it
// does not track whose issue time is not after that watermark. A client holding such a nonce is
// to be challenged with stale=true and gets a fresh nonce (issued later than the watermark, unless
// the tracker forgets nonces issued within the current second: size `capacity` above the number of
// nonces first used within a nonce lifetime).
//
// Thread-safe: nonces are spread over independently locked shards.
class NonceCounts {
 public:
  explicit NonceCounts(size_t capacity, size_t shardCount = 16);
  ~NonceCounts();
  NonceCounts(const NonceCounts&) = delete;
  NonceCounts& operator=(const NonceCounts&) = delete;

  // True when `nc` (parsed, parseNonceCount()) is greater than the last accepted for `nonce`, and
  // records it. `issuedAt` is the nonce's issue time (NonceFactory::issuedAt()). The caller checks
  // the nonce and the response first: only authenticated responses may consume counts or capacity.
  bool accept(std::string_view nonce, int64_t issuedAt, uint32_t nc);

  size_t size() const;

 private:
  struct Shard;
  Shard& shardFor(std::string_view nonce);

  size_t perShardCapacity_;
  size_t shardCount_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace strowger::auth
