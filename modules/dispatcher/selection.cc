#include "selection.h"

#include <algorithm>
#include <numeric>

#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"

namespace strowger::dispatcher {
namespace {

std::vector<std::size_t> rotated(std::span<const Candidate> usable, uint64_t start) {
  std::vector<std::size_t> order;
  order.reserve(usable.size());
  const std::size_t first = static_cast<std::size_t>(start % usable.size());
  for (std::size_t i = 0; i < usable.size(); ++i) {
    order.push_back(usable[(first + i) % usable.size()].index);
  }
  return order;
}

}  // namespace

std::vector<std::size_t> orderCandidates(Algorithm algorithm, std::span<const Candidate> usable,
                                         const SelectionInput& input) {
  if (usable.empty()) return {};
  switch (algorithm) {
    case Algorithm::kHashCallId:
    case Algorithm::kHashFrom:
    case Algorithm::kHashTo:
    case Algorithm::kHashRuri:
    case Algorithm::kHashAuthUser:
      return rotated(usable, input.hash);
    case Algorithm::kRoundRobin:
      return rotated(usable, input.counter);
    case Algorithm::kRandom:
      return rotated(usable, input.random);
    case Algorithm::kWeighted: {
      uint64_t total = 0;
      for (const Candidate& c : usable)
        total += static_cast<uint64_t>(std::max(c.weight, 0));
      if (total == 0) return rotated(usable, input.random);
      uint64_t draw = input.random % total;
      std::size_t chosen = 0;
      for (std::size_t i = 0; i < usable.size(); ++i) {
        const auto weight = static_cast<uint64_t>(std::max(usable[i].weight, 0));
        if (draw < weight) {
          chosen = i;
          break;
        }
        draw -= weight;
      }
      std::vector<std::size_t> order{usable[chosen].index};
      for (std::size_t i = 0; i < usable.size(); ++i) {
        if (i != chosen) order.push_back(usable[i].index);
      }
      return order;
    }
    case Algorithm::kPriority: {
      std::vector<Candidate> sorted(usable.begin(), usable.end());
      std::stable_sort(sorted.begin(), sorted.end(), [](const Candidate& a, const Candidate& b) {
        return a.priority < b.priority;
      });
      std::vector<std::size_t> order;
      for (const Candidate& c : sorted)
        order.push_back(c.index);
      return order;
    }
    case Algorithm::kLeastCalls: {
      std::vector<Candidate> sorted;
      const std::size_t first = static_cast<std::size_t>(input.counter % usable.size());
      for (std::size_t i = 0; i < usable.size(); ++i) {
        sorted.push_back(usable[(first + i) % usable.size()]);
      }
      std::stable_sort(sorted.begin(), sorted.end(), [](const Candidate& a, const Candidate& b) {
        return a.liveCalls < b.liveCalls;
      });
      std::vector<std::size_t> order;
      for (const Candidate& c : sorted)
        order.push_back(c.index);
      return order;
    }
  }
  return {};
}

uint64_t hashKey(std::string_view key) noexcept {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  // FNV's low bits mix poorly for keys that differ in their last character; fold the high half in
  // before the caller takes a small modulus.
  return hash ^ (hash >> 29);
}

std::string_view digestUsername(std::string_view authorization) noexcept {
  // The core's auth-param parser, which the auth module reads credentials with too: both modules
  // agree on who the user is, malformed headers included (those give no user).
  auto credentials = sip::parseCredentials(authorization);
  if (!credentials || !sip::equalsIgnoreCase(credentials->scheme, "Digest")) return {};
  return credentials->username;
}

}  // namespace strowger::dispatcher
