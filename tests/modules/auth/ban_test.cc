// The brute-force ban tracker (modules/auth/ban.h), on a clock the test drives.
#include "ban.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace strowger::auth {
namespace {

class BanTrackerTest : public ::testing::Test {
 protected:
  int64_t now_ = 1000;
  BanTracker::Clock clock() {
    return [this] { return now_; };
  }
  BanPolicy policy_{3, 60, 600};
};

TEST_F(BanTrackerTest, BanStartsAtThresholdWithinWindow) {
  BanTracker tracker(clock(), 100);
  EXPECT_FALSE(tracker.recordFailure("203.0.113.7", policy_));
  now_ += 10;
  EXPECT_FALSE(tracker.recordFailure("203.0.113.7", policy_));
  EXPECT_FALSE(tracker.banned("203.0.113.7"));
  now_ += 10;
  const auto started = tracker.recordFailure("203.0.113.7", policy_);
  ASSERT_TRUE(started.has_value());
  EXPECT_EQ(*started, 3u);
  EXPECT_TRUE(tracker.banned("203.0.113.7"));
  EXPECT_FALSE(tracker.banned("203.0.113.8"));
  EXPECT_EQ(tracker.bannedCount(), 1u);
}

TEST_F(BanTrackerTest, FailuresOutsideTheWindowDoNotCount) {
  BanTracker tracker(clock(), 100);
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(tracker.recordFailure("src", policy_)) << i;
    now_ += 31;  // two failures within any 60 s, never three
  }
  EXPECT_FALSE(tracker.banned("src"));
  // Three within 60 s: banned.
  now_ += 100;
  tracker.recordFailure("src", policy_);
  now_ += 29;
  tracker.recordFailure("src", policy_);
  now_ += 30;
  EXPECT_TRUE(tracker.recordFailure("src", policy_).has_value());
}

TEST_F(BanTrackerTest, BanExpiresAfterDurationAndCountingStartsAfresh) {
  BanTracker tracker(clock(), 100);
  for (int i = 0; i < 3; ++i)
    tracker.recordFailure("src", policy_);
  ASSERT_TRUE(tracker.banned("src"));
  // Failures during the ban neither extend it nor start another.
  now_ += 300;
  EXPECT_FALSE(tracker.recordFailure("src", policy_));
  now_ += 299;
  EXPECT_TRUE(tracker.banned("src"));
  now_ += 1;  // 600 s after the start
  EXPECT_FALSE(tracker.banned("src"));
  EXPECT_EQ(tracker.bannedCount(), 0u);
  EXPECT_FALSE(tracker.recordFailure("src", policy_));
  EXPECT_FALSE(tracker.recordFailure("src", policy_));
  EXPECT_TRUE(tracker.recordFailure("src", policy_).has_value());
}

TEST_F(BanTrackerTest, PerUserKeysAreIndependentOfSources) {
  BanTracker tracker(clock(), 100);
  tracker.recordFailure("user:alice@example.com", policy_);
  tracker.recordFailure("src:192.0.2.1", policy_);
  tracker.recordFailure("user:alice@example.com", policy_);
  EXPECT_TRUE(tracker.recordFailure("user:alice@example.com", policy_).has_value());
  EXPECT_TRUE(tracker.banned("user:alice@example.com"));
  EXPECT_FALSE(tracker.banned("src:192.0.2.1"));
}

TEST_F(BanTrackerTest, ClearFailuresForgetsCountsButNotBans) {
  BanTracker tracker(clock(), 100);
  tracker.recordFailure("a", policy_);
  tracker.recordFailure("a", policy_);
  tracker.clearFailures("a");
  EXPECT_FALSE(tracker.recordFailure("a", policy_));
  EXPECT_FALSE(tracker.recordFailure("a", policy_));
  EXPECT_TRUE(tracker.recordFailure("a", policy_).has_value());
  tracker.clearFailures("a");
  EXPECT_TRUE(tracker.banned("a"));
}

TEST_F(BanTrackerTest, ZeroThresholdNeverBans) {
  BanTracker tracker(clock(), 100);
  const BanPolicy off{0, 60, 600};
  for (int i = 0; i < 50; ++i)
    EXPECT_FALSE(tracker.recordFailure("a", off));
  EXPECT_FALSE(tracker.banned("a"));
}

TEST_F(BanTrackerTest, CapacityEvictsLeastRecentlyTouched) {
  BanTracker tracker(clock(), 4, 1);  // one shard, so the order is exact
  for (const char* key : {"k1", "k2", "k3", "k4"}) {
    tracker.recordFailure(key, policy_);
    now_ += 1;
  }
  tracker.recordFailure("k1", policy_);  // k1 touched again: k2 is now the oldest
  tracker.recordFailure("k5", policy_);
  EXPECT_EQ(tracker.size(), 4u);
  // k2 was forgotten: two more failures do not ban it, while k1 (two already) bans at one more.
  tracker.recordFailure("k2", policy_);  // evicts k3
  EXPECT_FALSE(tracker.recordFailure("k2", policy_));
  EXPECT_TRUE(tracker.recordFailure("k1", policy_).has_value());
  EXPECT_LE(tracker.size(), 4u);
}

TEST_F(BanTrackerTest, BoundedUnderManyKeysAndThreads) {
  std::atomic<int64_t> now{0};
  BanTracker tracker([&now] { return now.load(); }, 1000);
  auto onThreads = [](auto&& body) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back(body, t);
    for (auto& thread : threads)
      thread.join();
  };
  // Many distinct sources, far more than the capacity: memory stays bounded.
  onThreads([&](int t) {
    for (int i = 0; i < 5000; ++i)
      tracker.recordFailure("spray" + std::to_string(t * 100000 + i), policy_);
  });
  EXPECT_LE(tracker.size(), 1000u + 16u);  // per-shard capacity is rounded up
  // Then a few sources that fail repeatedly, from all threads at once: each banned exactly once.
  std::atomic<int> bans{0};
  onThreads([&](int) {
    for (int i = 0; i < 600; ++i) {
      if (tracker.recordFailure("k" + std::to_string(i % 100), policy_)) ++bans;
    }
  });
  EXPECT_EQ(bans.load(), 100);
  EXPECT_EQ(tracker.bannedCount(), 100u);
  EXPECT_LE(tracker.size(), 1000u + 16u);
}

}  // namespace
}  // namespace strowger::auth
