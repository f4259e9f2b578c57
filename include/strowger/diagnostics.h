// Helpers for configuration error messages, which an operator reads at 3 a.m. Shared by the
// configuration loader and the routing-script compiler.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace strowger::diag {

// The candidate closest to `given` when it is close enough to be a likely typo: a small edit
// distance (ignoring case, a swap of two neighbours counting once), or `given` a prefix of it.
std::optional<std::string_view> closestMatch(std::string_view given,
                                             std::span<const std::string_view> candidates);

// "; did you mean \"x\"?" or empty.
std::string didYouMean(std::string_view given, std::span<const std::string_view> candidates);

// "a, b, c".
std::string listOf(std::span<const std::string_view> names);

// `text` in double quotes, control characters escaped, long text shortened.
std::string inQuotes(std::string_view text);

// Appends `text` with control characters written as \xHH, so that a value read from a message
// cannot start a new log line.
void appendPrintable(std::string_view text, std::string& out);

}  // namespace strowger::diag
