#include "selection.h"

#include <algorithm>
#include <numeric>

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
  constexpr std::string_view kScheme = "Digest";
  std::size_t start = authorization.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  authorization.remove_prefix(start);
  if (authorization.size() < kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if ((authorization[i] | 0x20) != (kScheme[i] | 0x20)) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  while (!rest.empty()) {
    const std::size_t nameStart = rest.find_first_not_of(" \t,");
    if (nameStart == std::string_view::npos) return {};
    rest.remove_prefix(nameStart);
    const std::size_t equals = rest.find('=');
    if (equals == std::string_view::npos) return {};
    std::string_view name = rest.substr(0, equals);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
      name.remove_suffix(1);
    rest.remove_prefix(equals + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
      rest.remove_prefix(1);
    std::string_view value;
    if (!rest.empty() && rest.front() == '"') {
      const std::size_t close = rest.find('"', 1);
      if (close == std::string_view::npos) return {};
      value = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
    } else {
      const std::size_t end = rest.find(',');
      value = rest.substr(0, end);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    bool isUsername = name.size() == 8;
    for (std::size_t i = 0; isUsername && i < 8; ++i) {
      isUsername = (name[i] | 0x20) == "username"[i];
    }
    if (isUsername) return value;
  }
  return {};
}

}  // namespace strowger::dispatcher
