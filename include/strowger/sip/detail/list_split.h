#pragma once

#include <string_view>

namespace strowger::sip {

template <class Fn>
bool forEachListElement(std::string_view value, Fn&& fn) {
  bool inQuotes = false;
  int angle = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (inQuotes) {
      if (c == '\\' && i + 1 < value.size()) {
        ++i;
      } else if (c == '"') {
        inQuotes = false;
      }
      continue;
    }
    if (c == '"') {
      inQuotes = true;
    } else if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (--angle < 0) return false;
    } else if (c == ',' && angle == 0) {
      fn(trimLws(value.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (inQuotes || angle != 0) return false;
  fn(trimLws(value.substr(start)));
  return true;
}

}  // namespace strowger::sip
