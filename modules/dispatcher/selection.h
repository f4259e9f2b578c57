// The selection algorithms: the order in which a request tries the usable destinations of a set.
// Pure functions of their inputs (the hash of the request's key, the set's round-robin counter, a
// random draw, the live-call counts), so that tests check each distribution without a clock, a
// network or a random generator of their own.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "config.h"

namespace strowger::dispatcher {

// One usable destination as the algorithms see it. `index` is the destination's position in its
// set, which the returned order is made of.
struct Candidate {
  std::size_t index = 0;
  int weight = 1;
  int priority = 0;
  int64_t liveCalls = 0;
};

struct SelectionInput {
  uint64_t hash = 0;     // hash_* algorithms: hashKey() of the request's key
  uint64_t counter = 0;  // round_robin (and ties of least_calls): the set's counter, incremented
  uint64_t random = 0;   // random and weighted: a uniform 64-bit draw
};

// The destinations to try, first choice first, then the others for failover:
// - hash_*, round_robin, random: the usable list rotated to start at hash, counter or draw
//   modulo its length (a hash is stable while the usable members do not change);
// - weighted: the first drawn with probability weight / total weight (a weight 0 only for
//   failover), the others in list order;
// - priority: lowest priority value first, equal priorities in list order;
// - least_calls: fewest live calls first; equal counts rotated by the counter, so that an idle
//   set is shared out rather than always starting with the first destination.
std::vector<std::size_t> orderCandidates(Algorithm algorithm, std::span<const Candidate> usable,
                                         const SelectionInput& input);

// FNV-1a, 64 bits: stable across runs and builds, unlike std::hash.
uint64_t hashKey(std::string_view key) noexcept;

// The username of a Digest Authorization or Proxy-Authorization header value, or empty.
std::string_view digestUsername(std::string_view authorization) noexcept;

}  // namespace strowger::dispatcher
