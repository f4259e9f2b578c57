// Reads a module's configuration section with the same rigour as the daemon's own: each key's
// type and range checked, unknown keys reported with the closest known name, every problem at
// its line and column. One reader per mapping; finish() reports the keys nobody read.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/module/module.h"

namespace strowger::module {

class SectionReader {
 public:
  // `mapping` may be null (every key takes its default); anything else but a mapping is an
  // error. `path` is the dotted path of `mapping` below the module's section, for messages ("" at
  // the top).
  SectionReader(ConfigureContext& context, const YAML::Node& mapping, std::string path = {});

  // Each reader leaves `out` alone when the key is absent and returns false when the key is
  // present but wrong (after reporting it).
  bool integer(std::string_view key, int64_t min, int64_t max, int64_t& out);
  template <class T>
  bool integer(std::string_view key, int64_t min, int64_t max, T& out) {
    int64_t value = static_cast<int64_t>(out);
    const bool ok = integer(key, min, max, value);
    if (ok) out = static_cast<T>(value);
    return ok;
  }
  bool boolean(std::string_view key, bool& out);
  bool string(std::string_view key, std::string& out);
  // One of `names`; `out` gets its index.
  bool choice(std::string_view key, std::initializer_list<std::string_view> names, int& out);
  // The node under `key` (undefined when absent), marked as read; for nested mappings and lists.
  YAML::Node child(std::string_view key);
  // Reports a missing required key at the mapping.
  void require(std::string_view key);

  // Reports every key no reader asked for. Returns false when this reader reported anything.
  bool finish();

  const std::string& path() const { return path_; }
  std::string keyPath(std::string_view key) const;

 private:
  YAML::Node find(std::string_view key);
  void error(const YAML::Node& node, std::string_view key, std::string message);

  ConfigureContext& context_;
  YAML::Node mapping_;
  std::string path_;
  std::vector<std::string> read_;
  bool failed_ = false;
};

}  // namespace strowger::module
