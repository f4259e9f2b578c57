// The string tests of field conditions (`ruri.user: ...`, `header: {name, regex}`): an exact
// string, a list of strings, {regex: ...}, {prefix: ...} or {present: true|false}.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/script/registry.h"

namespace strowger::script::detail {

// User parts compare case-sensitively, hosts, schemes and parameters not (RFC 3261 §19.1.4).
enum class Case : uint8_t { kSensitive, kInsensitive };

// libstdc++'s std::regex backtracks recursively: a long subject can exhaust a worker's stack. A
// field longer than this never matches a regular expression (SIP users and hosts are far shorter;
// see docs/routing.md).
inline constexpr std::size_t kMaxRegexSubject = 1024;

class StringMatcher {
 public:
  // The form of `node` decides the test; the map form takes exactly one of `keys` (regex, prefix,
  // present, and equals where `allowEquals`). Errors go to `ctx`.
  static std::optional<StringMatcher> compile(const YAML::Node& node, Case rule,
                                              CompileContext& ctx, bool allowEquals = false);

  // `value` is absent (nullopt) when the message has no such field: only `present: false` holds
  // then; every other test sees the empty string.
  bool matches(std::optional<std::string_view> value) const;

  // "ruri.user == alice", "ruri.user =~ /^1/", ... with `subject` in front.
  std::string describe(std::string_view subject) const;

 private:
  enum class Kind : uint8_t { kEquals, kOneOf, kRegex, kPrefix, kPresent };
  bool equal(std::string_view a, std::string_view b) const;

  Kind kind_ = Kind::kEquals;
  Case case_ = Case::kSensitive;
  std::vector<std::string> texts_;  // kEquals, kOneOf, kPrefix; the pattern for kRegex
  std::optional<std::regex> regex_;
  bool present_ = true;
};

}  // namespace strowger::script::detail
