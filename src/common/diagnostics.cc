#include "strowger/diagnostics.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace strowger::diag {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so that "forwrad"
// is one edit from "forward" as a reader would count it.
std::size_t editDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [m, &d](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i)
    at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j)
    at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

bool isPrefixIgnoringCase(std::string_view prefix, std::string_view text) {
  if (prefix.size() > text.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(prefix[i]) != lower(text[i])) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> closestMatch(std::string_view given,
                                             std::span<const std::string_view> candidates) {
  // Inputs are config keys, values, step names and variables; anything this long is not a typo
  // of one of them.
  constexpr std::size_t kMaxLength = 64;
  if (given.empty() || given.size() > kMaxLength) return std::nullopt;

  std::optional<std::string_view> best;
  std::size_t bestDistance = 0;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = editDistance(given, candidate);
    // Short words are one or two edits from many others; allow fewer edits the shorter they are.
    const std::size_t allowed = candidate.size() <= 4 ? 1 : 2;
    const bool close =
        distance <= allowed || (given.size() >= 3 && isPrefixIgnoringCase(given, candidate));
    if (close && (!best || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

std::string didYouMean(std::string_view given, std::span<const std::string_view> candidates) {
  const std::optional<std::string_view> match = closestMatch(given, candidates);
  if (!match) return {};
  return "; did you mean " + inQuotes(*match) + "?";
}

std::string listOf(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out.append(name);
  }
  return out;
}

std::string inQuotes(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string out = "\"";
  std::string_view shown = text.substr(0, kMaxShown);
  for (char c : shown) {
    if (c == '"' || c == '\\') out += '\\';
    appendPrintable(std::string_view(&c, 1), out);
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

void appendPrintable(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
}

}  // namespace strowger::diag
