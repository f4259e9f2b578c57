#include "strowger/module/section.h"

#include <algorithm>
#include <charconv>

#include "strowger/diagnostics.h"
#include "strowger/script/registry.h"

namespace strowger::module {

SectionReader::SectionReader(ConfigureContext& context, const YAML::Node& mapping, std::string path)
    : context_(context), mapping_(mapping), path_(std::move(path)) {
  if (mapping_.IsDefined() && !mapping_.IsNull() && !mapping_.IsMap()) {
    error(mapping_, {}, "expected a mapping, got " + script::describeNode(mapping_));
    mapping_ = YAML::Node();
  }
}

std::string SectionReader::keyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

void SectionReader::error(const YAML::Node& node, std::string_view key, std::string message) {
  failed_ = true;
  context_.error(node, keyPath(key), std::move(message));
}

YAML::Node SectionReader::find(std::string_view key) {
  read_.emplace_back(key);
  if (!mapping_.IsDefined() || !mapping_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& pair : mapping_) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) return pair.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node SectionReader::child(std::string_view key) {
  return find(key);
}

void SectionReader::require(std::string_view key) {
  if (!find(key).IsDefined()) {
    error(mapping_, key, "missing; this key is required");
  }
}

bool SectionReader::integer(std::string_view key, int64_t min, int64_t max, int64_t& out) {
  const YAML::Node node = find(key);
  if (!node.IsDefined()) return true;
  const std::string expected =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!node.IsScalar()) {
    error(node, key, "expected " + expected + ", got " + script::describeNode(node));
    return false;
  }
  const std::string& text = node.Scalar();
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    error(node, key, "expected " + expected + ", got " + diag::inQuotes(text));
    return false;
  }
  out = value;
  return true;
}

bool SectionReader::boolean(std::string_view key, bool& out) {
  const YAML::Node node = find(key);
  if (!node.IsDefined()) return true;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "yes" || text == "on") {
      out = true;
      return true;
    }
    if (text == "false" || text == "no" || text == "off") {
      out = false;
      return true;
    }
  }
  error(node, key, "expected true or false, got " + script::describeNode(node));
  return false;
}

bool SectionReader::string(std::string_view key, std::string& out) {
  const YAML::Node node = find(key);
  if (!node.IsDefined()) return true;
  if (!node.IsScalar() || node.Scalar().empty()) {
    error(node, key, "expected a non-empty string, got " + script::describeNode(node));
    return false;
  }
  out = node.Scalar();
  return true;
}

bool SectionReader::choice(std::string_view key, std::initializer_list<std::string_view> names,
                           int& out) {
  const YAML::Node node = find(key);
  if (!node.IsDefined()) return true;
  const std::vector<std::string_view> candidates(names);
  if (node.IsScalar()) {
    const auto it = std::find(candidates.begin(), candidates.end(), node.Scalar());
    if (it != candidates.end()) {
      out = static_cast<int>(it - candidates.begin());
      return true;
    }
  }
  error(node, key,
        "expected one of " + diag::listOf(candidates) + ", got " + script::describeNode(node) +
            (node.IsScalar() ? diag::didYouMean(node.Scalar(), candidates) : std::string()));
  return false;
}

bool SectionReader::finish() {
  if (mapping_.IsDefined() && mapping_.IsMap()) {
    std::vector<std::string_view> known(read_.begin(), read_.end());
    for (const auto& pair : mapping_) {
      if (!pair.first.IsScalar()) {
        error(pair.first, {}, "expected a key, got " + script::describeNode(pair.first));
        continue;
      }
      const std::string& key = pair.first.Scalar();
      if (std::find(read_.begin(), read_.end(), key) == read_.end()) {
        error(pair.first, key,
              "unknown key; expected one of " + diag::listOf(known) + diag::didYouMean(key, known));
      }
    }
  }
  return !failed_;
}

}  // namespace strowger::module
