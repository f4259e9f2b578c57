#include "ban.h"

#include <algorithm>
#include <deque>
#include <list>
#include <mutex>
#include <unordered_map>

namespace strowger::auth {

struct BanTracker::Shard {
  struct Entry {
    std::deque<int64_t> failures;  // times of the latest failures, oldest first, at most threshold
    int64_t bannedUntil = 0;       // 0: not banned
    std::list<std::string>::iterator age;
  };
  mutable std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> byAge;  // least recently touched at the front

  void touch(Entry& entry) { byAge.splice(byAge.end(), byAge, entry.age); }
};

BanTracker::BanTracker(Clock clock, size_t capacity, size_t shardCount)
    : clock_(std::move(clock)),
      shardCount_(std::max<size_t>(shardCount, 1)),
      shards_(std::make_unique<Shard[]>(std::max<size_t>(shardCount, 1))) {
  perShardCapacity_ = std::max<size_t>((capacity + shardCount_ - 1) / shardCount_, 1);
}

BanTracker::~BanTracker() = default;

BanTracker::Shard& BanTracker::shardFor(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % shardCount_];
}

bool BanTracker::banned(std::string_view key) const {
  Shard& shard = shardFor(key);
  const int64_t now = clock_();
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(key));
  return it != shard.entries.end() && it->second.bannedUntil > now;
}

std::optional<uint32_t> BanTracker::recordFailure(std::string_view key, const BanPolicy& policy) {
  if (policy.threshold == 0) return std::nullopt;
  Shard& shard = shardFor(key);
  const int64_t now = clock_();
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(key));
  if (it == shard.entries.end()) {
    while (shard.entries.size() >= perShardCapacity_ && !shard.byAge.empty()) {
      shard.entries.erase(shard.byAge.front());
      shard.byAge.pop_front();
    }
    shard.byAge.emplace_back(key);
    it = shard.entries.emplace(std::string(key), Shard::Entry{}).first;
    it->second.age = std::prev(shard.byAge.end());
  } else {
    shard.touch(it->second);
  }
  Shard::Entry& entry = it->second;
  if (entry.bannedUntil > now) return std::nullopt;
  entry.bannedUntil = 0;
  entry.failures.push_back(now);
  while (!entry.failures.empty() && now - entry.failures.front() >= policy.windowSeconds) {
    entry.failures.pop_front();
  }
  while (entry.failures.size() > policy.threshold)
    entry.failures.pop_front();
  if (entry.failures.size() < policy.threshold) return std::nullopt;
  entry.failures.clear();
  entry.bannedUntil = now + policy.durationSeconds;
  return policy.threshold;
}

void BanTracker::clearFailures(std::string_view key) {
  Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(key));
  if (it == shard.entries.end()) return;
  it->second.failures.clear();
  if (it->second.bannedUntil == 0) {
    shard.byAge.erase(it->second.age);
    shard.entries.erase(it);
  }
}

size_t BanTracker::size() const {
  size_t total = 0;
  for (size_t i = 0; i < shardCount_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].entries.size();
  }
  return total;
}

size_t BanTracker::bannedCount() const {
  const int64_t now = clock_();
  size_t total = 0;
  for (size_t i = 0; i < shardCount_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    for (const auto& [key, entry] : shards_[i].entries) {
      if (entry.bannedUntil > now) ++total;
    }
  }
  return total;
}

}  // namespace strowger::auth
