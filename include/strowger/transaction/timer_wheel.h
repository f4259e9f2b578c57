// A hierarchical timer wheel with millisecond resolution, driven by a clock the owner passes in.
//
// One wheel per worker thread (docs/transactions.md): it is not synchronised, and it never reads
// a clock itself. The owner calls advance(now) with the current time (from its event loop, or a
// test's fake clock); every timer whose deadline is at or before `now` fires, in deadline order.
//
// Layout: four levels of 64 slots (1 ms, 64 ms, 4.096 s and 262.144 s per slot: about 4.6 hours
// in all) and an overflow list for anything further, re-examined each time the top level turns.
// A timer sits in the slot of the coarsest level its distance needs and moves down ("cascades")
// as time approaches its deadline, so each timer is touched at most once per level. Nodes live in
// one vector with a free list and are linked by index, so scheduling and cancelling are O(1)
// and allocate nothing once the vector has grown to the peak number of live timers.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

namespace strowger::transaction {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

// Identifies one scheduled timer. A handle whose timer fired or was cancelled is stale: cancelling
// it again does nothing, even after its node was reused for another timer (the generation
// differs). A default-constructed handle is never live.
struct TimerHandle {
  uint32_t index = std::numeric_limits<uint32_t>::max();
  uint32_t generation = 0;

  bool valid() const noexcept { return index != std::numeric_limits<uint32_t>::max(); }
  bool operator==(const TimerHandle&) const = default;
};

class TimerWheel {
 public:
  // What the owner gets back when a timer fires: whatever it passed to schedule(), typically an
  // index into its own table plus the timer's name.
  using Cookie = uint64_t;

  // `origin` is the wheel's time zero; deadlines before it fire at the next advance().
  explicit TimerWheel(TimePoint origin);

  // Schedules `cookie` to fire at `deadline`, rounded up to the next millisecond (a timer never
  // fires early). A deadline at or before the current time fires at the next advance().
  TimerHandle schedule(TimePoint deadline, Cookie cookie);

  // O(1). Returns false when the handle is stale (already fired, already cancelled, or invalid).
  bool cancel(TimerHandle handle) noexcept;

  // Moves the wheel's time to `now` (a time before the current one is ignored) and calls
  // `fire(cookie)` for every timer due by then: ordered by deadline (millisecond resolution;
  // timers due in the same millisecond fire in an unspecified order). The callback may schedule
  // and cancel timers; one scheduled at or before `now` fires within this same call.
  // Returns the number of timers fired.
  template <class Fire>
  std::size_t advance(TimePoint now, Fire&& fire);

  // The wheel's current time, as far as advance() has taken it.
  TimePoint now() const noexcept { return origin_ + Duration(static_cast<int64_t>(now_)); }
  std::size_t size() const noexcept { return live_; }
  bool empty() const noexcept { return live_ == 0; }

 private:
  static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
  static constexpr unsigned kLevels = 4;
  static constexpr unsigned kSlotBits = 6;
  static constexpr unsigned kSlots = 1u << kSlotBits;
  static constexpr uint64_t kSlotMask = kSlots - 1;
  static constexpr uint32_t kListCount = kLevels * kSlots + 2;
  static constexpr uint32_t kDueList = kLevels * kSlots;  // due before the current tick
  static constexpr uint32_t kOverflowList = kDueList + 1;
  static constexpr uint32_t kNoList = kListCount;  // node is free

  struct Node {
    uint64_t tick = 0;  // deadline in milliseconds since origin_
    Cookie cookie = 0;
    uint32_t prev = kNil;
    uint32_t next = kNil;
    uint32_t generation = 0;
    uint32_t list = kNoList;
  };
  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  uint64_t tickOf(TimePoint t) const noexcept;
  // Puts a node in the list its distance from now_ calls for.
  void place(uint32_t index) noexcept;
  void link(uint32_t list, uint32_t index) noexcept;
  void unlink(uint32_t index) noexcept;
  void release(uint32_t index) noexcept;
  // Re-places every node of `list` (a coarse slot whose time has come, or the overflow list).
  void cascade(uint32_t list) noexcept;
  // Takes now_ one step towards `target`: to the next tick, or further when the lower levels are
  // empty and nothing can fall due before the next cascade. Returns the list to fire.
  uint32_t step(uint64_t target) noexcept;
  // Unlinks the first node of `list` and returns its cookie; the node is freed.
  Cookie pop(uint32_t list) noexcept;

  TimePoint origin_;
  uint64_t now_ = 0;  // the last tick whose timers have fired
  std::size_t live_ = 0;
  std::vector<Node> nodes_;
  uint32_t free_ = kNil;
  std::array<List, kListCount> lists_{};
  std::array<uint64_t, kLevels> occupied_{};  // one bit per non-empty slot, per level
};

template <class Fire>
std::size_t TimerWheel::advance(TimePoint now, Fire&& fire) {
  // Deadlines round up, times round down: a timer for t+0.5 ms does not fire at t.
  const uint64_t nowTick =
      now <= origin_
          ? 0
          : static_cast<uint64_t>(std::chrono::duration_cast<Duration>(now - origin_).count());
  std::size_t fired = 0;
  for (;;) {
    while (lists_[kDueList].head != kNil) {
      fire(pop(kDueList));
      ++fired;
    }
    if (now_ >= nowTick) break;
    uint32_t list = step(nowTick);
    if (list == kNil) continue;
    while (lists_[list].head != kNil) {
      fire(pop(list));
      ++fired;
    }
  }
  return fired;
}

}  // namespace strowger::transaction
