// Helpers for configuration error messages that an operator reads at 3 a.m.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace strowger::runtime {

// The candidate closest to `given`, if one is close enough to be a likely typo: a small edit
// distance (ignoring case, a swap of two neighbours counting once) or `given` being a prefix of it,
// as in "warn" for "warning".
std::optional<std::string_view> closestMatch(std::string_view given,
                                             std::span<const std::string_view> candidates);

// "a, b, c": the accepted values, for "expected one of ...".
std::string listOf(std::span<const std::string_view> names);

// `text` in double quotes for an error message: control characters escaped so that a stray
// newline or escape sequence in the config cannot break the line, long values shortened.
std::string inQuotes(std::string_view text);

}  // namespace strowger::runtime
