// Brute-force protection for digest authentication: failures are counted per key (a source
// address, or a user@realm) within a sliding window, and a key that reaches the threshold is
// banned for a while. Kamailio users get the same from pike + htable, or from fail2ban reading the
// log; this does it in the proxy, and logs each ban start for fail2ban as well.
//
// Thread-safe: keys are spread over independently locked shards. Memory is bounded: at most
// `capacity` keys are tracked; past that, the one touched longest ago is forgotten (with its
// failures, and its ban if it had one: an attacker who can send from that many addresses gets
// nothing from forgetting one of them that sending from a fresh one would not give).
//
// The clock is a parameter, so tests drive time; the module passes steady seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace strowger::auth {

struct BanPolicy {
  uint32_t threshold = 10;        // failures within `windowSeconds` that start a ban
  int64_t windowSeconds = 60;     // how far back failures count
  int64_t durationSeconds = 600;  // how long a ban lasts
};

class BanTracker {
 public:
  using Clock = std::function<int64_t()>;  // seconds, monotonic

  BanTracker(Clock clock, size_t capacity, size_t shardCount = 16);
  ~BanTracker();
  BanTracker(const BanTracker&) = delete;
  BanTracker& operator=(const BanTracker&) = delete;

  // Whether `key` is banned now.
  bool banned(std::string_view key) const;

  // Counts a failure for `key`. When it starts a ban, returns the number of failures within the
  // window that led to it (the threshold); otherwise nullopt. A failure of a key already banned
  // neither extends the ban nor starts a new one.
  std::optional<uint32_t> recordFailure(std::string_view key, const BanPolicy& policy);

  // Forgets the failures counted for `key` (not a ban in force): a user who got in.
  void clearFailures(std::string_view key);

  // Keys tracked (with failures or a ban), and keys banned now.
  size_t size() const;
  size_t bannedCount() const;

 private:
  struct Shard;
  Shard& shardFor(std::string_view key) const;

  Clock clock_;
  size_t perShardCapacity_;
  size_t shardCount_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace strowger::auth
