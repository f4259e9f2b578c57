#include "strowger/transaction/timer_wheel.h"

#include <bit>

namespace strowger::transaction {

TimerWheel::TimerWheel(TimePoint origin) : origin_(origin) {}

uint64_t TimerWheel::tickOf(TimePoint t) const noexcept {
  if (t <= origin_) return 0;
  const auto span = t - origin_;
  auto ms = std::chrono::duration_cast<Duration>(span);
  if (ms < span) ++ms;  // round up: never early
  return static_cast<uint64_t>(ms.count());
}

TimerHandle TimerWheel::schedule(TimePoint deadline, Cookie cookie) {
  uint32_t index;
  if (free_ != kNil) {
    index = free_;
    free_ = nodes_[index].next;
  } else {
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  Node& node = nodes_[index];
  node.tick = tickOf(deadline);
  node.cookie = cookie;
  ++live_;
  place(index);
  return {index, node.generation};
}

bool TimerWheel::cancel(TimerHandle handle) noexcept {
  if (handle.index >= nodes_.size()) return false;
  Node& node = nodes_[handle.index];
  if (node.generation != handle.generation || node.list == kNoList) return false;
  unlink(handle.index);
  release(handle.index);
  return true;
}

void TimerWheel::place(uint32_t index) noexcept {
  const uint64_t tick = nodes_[index].tick;
  if (tick <= now_) {
    link(kDueList, index);
    return;
  }
  for (unsigned level = 0; level < kLevels; ++level) {
    const unsigned shift = kSlotBits * level;
    // Same block of the level above: the slot at this level is still ahead of now_.
    if ((tick >> (shift + kSlotBits)) == (now_ >> (shift + kSlotBits))) {
      link(level * kSlots + static_cast<uint32_t>((tick >> shift) & kSlotMask), index);
      return;
    }
  }
  link(kOverflowList, index);
}

void TimerWheel::link(uint32_t list, uint32_t index) noexcept {
  Node& node = nodes_[index];
  List& l = lists_[list];
  node.list = list;
  node.next = kNil;
  node.prev = l.tail;
  if (l.tail == kNil) {
    l.head = index;
  } else {
    nodes_[l.tail].next = index;
  }
  l.tail = index;
  if (list < kDueList) occupied_[list / kSlots] |= uint64_t{1} << (list % kSlots);
}

void TimerWheel::unlink(uint32_t index) noexcept {
  Node& node = nodes_[index];
  List& l = lists_[node.list];
  if (node.prev == kNil) {
    l.head = node.next;
  } else {
    nodes_[node.prev].next = node.next;
  }
  if (node.next == kNil) {
    l.tail = node.prev;
  } else {
    nodes_[node.next].prev = node.prev;
  }
  if (l.head == kNil && node.list < kDueList) {
    occupied_[node.list / kSlots] &= ~(uint64_t{1} << (node.list % kSlots));
  }
  node.prev = node.next = kNil;
}

void TimerWheel::release(uint32_t index) noexcept {
  Node& node = nodes_[index];
  node.list = kNoList;
  ++node.generation;
  node.next = free_;
  free_ = index;
  --live_;
}

void TimerWheel::cascade(uint32_t list) noexcept {
  uint32_t index = lists_[list].head;
  lists_[list] = {};
  if (list < kDueList) occupied_[list / kSlots] &= ~(uint64_t{1} << (list % kSlots));
  while (index != kNil) {
    const uint32_t next = nodes_[index].next;
    place(index);
    index = next;
  }
}

uint32_t TimerWheel::step(uint64_t target) noexcept {
  // The next tick at which anything can happen: the earliest occupied slot of the finest
  // non-empty level (every slot of a level lies ahead of now_ within the current block of the
  // level above), or the next turn of the top level for the overflow list.
  uint64_t next = target;
  unsigned level = 0;
  while (level < kLevels && occupied_[level] == 0)
    ++level;
  if (level < kLevels) {
    const unsigned shift = kSlotBits * level;
    const uint64_t blockBase = (now_ >> (shift + kSlotBits)) << (shift + kSlotBits);
    next = blockBase + (static_cast<uint64_t>(std::countr_zero(occupied_[level])) << shift);
  } else if (lists_[kOverflowList].head != kNil) {
    next = ((now_ >> (kSlotBits * kLevels)) + 1) << (kSlotBits * kLevels);
  }
  if (next >= target || next <= now_) {
    next = target;
  }
  now_ = next;

  if ((now_ & ((uint64_t{1} << (kSlotBits * kLevels)) - 1)) == 0) cascade(kOverflowList);
  for (unsigned l = kLevels - 1; l >= 1; --l) {
    const unsigned shift = kSlotBits * l;
    if ((now_ & ((uint64_t{1} << shift) - 1)) == 0) {
      cascade(l * kSlots + static_cast<uint32_t>((now_ >> shift) & kSlotMask));
    }
  }
  const uint32_t list = static_cast<uint32_t>(now_ & kSlotMask);
  return lists_[list].head == kNil ? kNil : list;
}

TimerWheel::Cookie TimerWheel::pop(uint32_t list) noexcept {
  const uint32_t index = lists_[list].head;
  const Cookie cookie = nodes_[index].cookie;
  unlink(index);
  release(index);
  return cookie;
}

}  // namespace strowger::transaction
