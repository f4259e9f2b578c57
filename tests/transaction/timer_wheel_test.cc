// The timer wheel, driven by a fake clock.
#include "strowger/transaction/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace strowger::transaction {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + hours(1000);

struct Fired {
  std::vector<TimerWheel::Cookie> cookies;
  auto fn() {
    return [this](TimerWheel::Cookie c) { cookies.push_back(c); };
  }
};

TEST(TimerWheel, FiresAtDeadlineNotBefore) {
  TimerWheel wheel(kT0);
  Fired fired;
  wheel.schedule(kT0 + milliseconds(10), 1);
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.advance(kT0 + milliseconds(9), fired.fn()), 0u);
  EXPECT_TRUE(fired.cookies.empty());
  EXPECT_EQ(wheel.advance(kT0 + milliseconds(10), fired.fn()), 1u);
  EXPECT_EQ(fired.cookies, std::vector<TimerWheel::Cookie>{1});
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, SubMillisecondDeadlinesRoundUp) {
  TimerWheel wheel(kT0);
  Fired fired;
  wheel.schedule(kT0 + microseconds(10500), 7);
  wheel.advance(kT0 + microseconds(10999), fired.fn());
  EXPECT_TRUE(fired.cookies.empty());
  wheel.advance(kT0 + milliseconds(11), fired.fn());
  EXPECT_EQ(fired.cookies.size(), 1u);
}

TEST(TimerWheel, FiresInDeadlineOrder) {
  TimerWheel wheel(kT0);
  Fired fired;
  // Spread over every level and the overflow list, scheduled out of order.
  const std::vector<int64_t> deadlines = {5000000, 3,        70,   1,  100000,   64, 4096,     63,
                                          262144,  20000000, 4095, 65, 16777216, 2,  300000000};
  for (std::size_t i = 0; i < deadlines.size(); ++i) {
    wheel.schedule(kT0 + milliseconds(deadlines[i]), static_cast<TimerWheel::Cookie>(deadlines[i]));
  }
  wheel.advance(kT0 + hours(24 * 5), fired.fn());
  std::vector<TimerWheel::Cookie> expected(deadlines.begin(), deadlines.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(fired.cookies, expected);
}

TEST(TimerWheel, PastDeadlineFiresAtNextAdvance) {
  TimerWheel wheel(kT0);
  Fired fired;
  wheel.advance(kT0 + seconds(10), fired.fn());
  wheel.schedule(kT0 + seconds(1), 1);
  wheel.schedule(kT0 - seconds(1), 2);  // before the origin
  EXPECT_EQ(wheel.advance(kT0 + seconds(10), fired.fn()), 2u);
  EXPECT_EQ(fired.cookies, (std::vector<TimerWheel::Cookie>{1, 2}));
}

TEST(TimerWheel, CancelIsFinal) {
  TimerWheel wheel(kT0);
  Fired fired;
  const TimerHandle a = wheel.schedule(kT0 + milliseconds(5), 1);
  const TimerHandle b = wheel.schedule(kT0 + seconds(500), 2);  // a coarse level
  const TimerHandle c = wheel.schedule(kT0 + hours(100), 3);    // overflow
  wheel.schedule(kT0 + milliseconds(5), 4);
  EXPECT_TRUE(wheel.cancel(a));
  EXPECT_FALSE(wheel.cancel(a));  // twice
  EXPECT_TRUE(wheel.cancel(b));
  EXPECT_TRUE(wheel.cancel(c));
  EXPECT_FALSE(wheel.cancel(TimerHandle{}));
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(kT0 + hours(200), fired.fn());
  EXPECT_EQ(fired.cookies, std::vector<TimerWheel::Cookie>{4});
}

TEST(TimerWheel, StaleHandleDoesNotCancelReusedNode) {
  TimerWheel wheel(kT0);
  Fired fired;
  const TimerHandle a = wheel.schedule(kT0 + milliseconds(1), 1);
  wheel.advance(kT0 + milliseconds(1), fired.fn());
  const TimerHandle b = wheel.schedule(kT0 + milliseconds(2), 2);  // reuses a's node
  EXPECT_EQ(a.index, b.index);
  EXPECT_FALSE(wheel.cancel(a));
  wheel.advance(kT0 + milliseconds(2), fired.fn());
  EXPECT_EQ(fired.cookies, (std::vector<TimerWheel::Cookie>{1, 2}));
}

TEST(TimerWheel, CallbackMayScheduleAndCancel) {
  TimerWheel wheel(kT0);
  std::vector<TimerWheel::Cookie> fired;
  TimerHandle victim = wheel.schedule(kT0 + milliseconds(20), 99);
  wheel.schedule(kT0 + milliseconds(10), 1);
  wheel.advance(kT0 + milliseconds(30), [&](TimerWheel::Cookie c) {
    fired.push_back(c);
    if (c == 1) {
      wheel.cancel(victim);
      wheel.schedule(kT0 + milliseconds(5), 2);   // already due: fires in this advance
      wheel.schedule(kT0 + milliseconds(25), 3);  // later in this advance
      wheel.schedule(kT0 + milliseconds(31), 4);  // next time
    }
  });
  EXPECT_EQ(fired, (std::vector<TimerWheel::Cookie>{1, 2, 3}));
  EXPECT_EQ(wheel.size(), 1u);
}

TEST(TimerWheel, SmallAndBigStepsAgree) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> dist(0, 20'000'000);  // up to 5.5 hours
  std::vector<int64_t> deadlines(5000);
  for (auto& d : deadlines)
    d = dist(rng);
  auto run = [&](milliseconds step) {
    TimerWheel wheel(kT0);
    std::vector<std::pair<int64_t, TimerWheel::Cookie>> fired;
    for (std::size_t i = 0; i < deadlines.size(); ++i) {
      wheel.schedule(kT0 + milliseconds(deadlines[i]), i);
    }
    for (TimePoint t = kT0; t <= kT0 + milliseconds(20'000'000) + step; t += step) {
      wheel.advance(t, [&](TimerWheel::Cookie c) {
        fired.emplace_back(deadlines[c], c);
        // Never late by more than one step, never early.
        EXPECT_LE(kT0 + milliseconds(deadlines[c]), t);
        EXPECT_GT(kT0 + milliseconds(deadlines[c]) + step, t);
      });
    }
    EXPECT_TRUE(wheel.empty());
    return fired;
  };
  const auto fine = run(milliseconds(7));
  const auto coarse = run(seconds(3600));
  ASSERT_EQ(fine.size(), deadlines.size());
  ASSERT_EQ(coarse.size(), deadlines.size());
  // Fired in deadline order in both cases.
  EXPECT_TRUE(
      std::is_sorted(fine.begin(), fine.end(), [](auto& a, auto& b) { return a.first < b.first; }));
  EXPECT_TRUE(std::is_sorted(coarse.begin(), coarse.end(),
                             [](auto& a, auto& b) { return a.first < b.first; }));
}

TEST(TimerWheel, FarDeadlines) {
  TimerWheel wheel(kT0);
  Fired fired;
  wheel.schedule(kT0 + hours(24 * 30), 30);
  wheel.schedule(kT0 + hours(24 * 400), 400);
  wheel.advance(kT0 + hours(24 * 30) - milliseconds(1), fired.fn());
  EXPECT_TRUE(fired.cookies.empty());
  wheel.advance(kT0 + hours(24 * 30), fired.fn());
  EXPECT_EQ(fired.cookies, std::vector<TimerWheel::Cookie>{30});
  wheel.advance(kT0 + hours(24 * 400), fired.fn());
  EXPECT_EQ(fired.cookies, (std::vector<TimerWheel::Cookie>{30, 400}));
}

TEST(TimerWheel, HundredsOfThousandsOfTimers) {
  constexpr std::size_t kCount = 300'000;
  TimerWheel wheel(kT0);
  std::vector<TimerHandle> handles;
  handles.reserve(kCount);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> dist(1, 64 * 500);  // the span of timer B
  for (std::size_t i = 0; i < kCount; ++i) {
    handles.push_back(wheel.schedule(kT0 + milliseconds(dist(rng)), i));
  }
  EXPECT_EQ(wheel.size(), kCount);
  // Cancel every other one, as answered transactions do.
  for (std::size_t i = 0; i < kCount; i += 2)
    ASSERT_TRUE(wheel.cancel(handles[i]));
  std::size_t fired = 0;
  bool onlyOdd = true;
  for (int ms = 0; ms <= 64 * 500; ms += 10) {
    fired += wheel.advance(kT0 + milliseconds(ms), [&](TimerWheel::Cookie c) {
      if (c % 2 == 0) onlyOdd = false;
    });
  }
  EXPECT_EQ(fired, kCount / 2);
  EXPECT_TRUE(onlyOdd);
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, TimeNeverGoesBack) {
  TimerWheel wheel(kT0);
  Fired fired;
  wheel.advance(kT0 + seconds(5), fired.fn());
  wheel.advance(kT0 + seconds(1), fired.fn());
  EXPECT_EQ(wheel.now(), kT0 + seconds(5));
  wheel.schedule(kT0 + seconds(5) + milliseconds(1), 1);
  wheel.advance(kT0 + seconds(5) + milliseconds(1), fired.fn());
  EXPECT_EQ(fired.cookies.size(), 1u);
}

}  // namespace
}  // namespace strowger::transaction
