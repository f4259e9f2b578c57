#include "matcher.h"

#include <algorithm>
#include <array>

#include "strowger/sip/header_id.h"
#include "text.h"

namespace strowger::script::detail {
namespace {

constexpr std::string_view kForms =
    "a string, a list of strings, {regex: \"...\"}, {prefix: \"...\"} or {present: true|false}";
constexpr std::string_view kFormsWithEquals =
    "{equals: \"...\"}, {regex: \"...\"}, {prefix: \"...\"} or {present: true|false}";

}  // namespace

std::optional<StringMatcher> StringMatcher::compile(const YAML::Node& node, Case rule,
                                                    CompileContext& ctx, bool allowEquals) {
  StringMatcher m;
  m.case_ = rule;
  const std::string_view forms = allowEquals ? kFormsWithEquals : kForms;
  if (node.IsScalar() && !allowEquals) {
    m.kind_ = Kind::kEquals;
    m.texts_.push_back(node.Scalar());
    return m;
  }
  if (node.IsSequence() && !allowEquals) {
    m.kind_ = Kind::kOneOf;
    bool ok = node.size() > 0;
    if (!ok) ctx.expected(node, "a non-empty list of strings");
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        ctx.expected(item, "a string");
        ok = false;
        continue;
      }
      m.texts_.push_back(item.Scalar());
    }
    if (!ok) return std::nullopt;
    return m;
  }
  if (!node.IsMap()) {
    ctx.expected(node, forms);
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 4> kKeys = {"regex", "prefix", "present", "equals"};
  const std::span<const std::string_view> keys(kKeys.data(), allowEquals ? 4 : 3);
  std::optional<StringMatcher> result;
  bool ok = true;
  int tests = 0;
  for (const auto& pair : node) {
    const YAML::Node& keyNode = pair.first;
    const YAML::Node& value = pair.second;
    const std::string key = keyNode.IsScalar() ? keyNode.Scalar() : std::string();
    if (key == "name" && allowEquals) continue;  // read by the caller (header)
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string hint = didYouMean(key, keys);
      if (hint.empty()) hint = "; expected " + std::string(forms);
      ctx.error(keyNode, "unknown key " + inQuotes(key) + hint);
      ok = false;
      continue;
    }
    if (++tests > 1) {
      ctx.error(keyNode, "only one of " + listOf(keys) + " may be given");
      ok = false;
      continue;
    }
    if (key == "present") {
      m.kind_ = Kind::kPresent;
      if (value.IsScalar() && (value.Scalar() == "true" || value.Scalar() == "false")) {
        m.present_ = value.Scalar() == "true";
      } else {
        ctx.expected(value, "true or false");
        ok = false;
      }
      continue;
    }
    if (!value.IsScalar()) {
      ctx.expected(value, key == "regex" ? "a regular expression in quotes" : "a string");
      ok = false;
      continue;
    }
    if (key == "regex") {
      m.kind_ = Kind::kRegex;
      m.regex_ = ctx.compileRegex(value, rule == Case::kInsensitive);
      if (!m.regex_) ok = false;
    } else {
      m.kind_ = key == "prefix" ? Kind::kPrefix : Kind::kEquals;
    }
    m.texts_.push_back(value.Scalar());
  }
  if (ok && tests == 0) {
    ctx.expected(node, forms);
    ok = false;
  }
  if (!ok) return std::nullopt;
  return m;
}

bool StringMatcher::equal(std::string_view a, std::string_view b) const {
  return case_ == Case::kSensitive ? a == b : sip::equalsIgnoreCase(a, b);
}

bool StringMatcher::matches(std::optional<std::string_view> value) const {
  if (kind_ == Kind::kPresent) return value.has_value() == present_;
  const std::string_view text = value.value_or(std::string_view{});
  switch (kind_) {
    case Kind::kEquals:
    case Kind::kOneOf:
      return std::any_of(texts_.begin(), texts_.end(),
                         [&](const std::string& t) { return equal(text, t); });
    case Kind::kPrefix:
      return text.size() >= texts_.front().size() &&
             equal(text.substr(0, texts_.front().size()), texts_.front());
    case Kind::kRegex:
      if (text.size() > kMaxRegexSubject) return false;
      return std::regex_search(text.begin(), text.end(), *regex_);
    case Kind::kPresent:
      break;
  }
  return false;
}

std::string StringMatcher::describe(std::string_view subject) const {
  std::string out(subject);
  switch (kind_) {
    case Kind::kEquals:
      out += " == " + inQuotes(texts_.front());
      break;
    case Kind::kOneOf: {
      out += " in [";
      for (std::size_t i = 0; i < texts_.size(); ++i) {
        if (i) out += ", ";
        out += inQuotes(texts_[i]);
      }
      out += ']';
      break;
    }
    case Kind::kPrefix:
      out += " starts with " + inQuotes(texts_.front());
      break;
    case Kind::kRegex:
      out += " =~ /" + texts_.front() + "/";
      if (case_ == Case::kInsensitive) out += 'i';
      break;
    case Kind::kPresent:
      out += present_ ? " present" : " absent";
      break;
  }
  return out;
}

}  // namespace strowger::script::detail
