// Character classes of RFC 3261 §25.1 as 256-entry tables: one load per byte on the hot path.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace strowger::sip::chars {

enum : uint8_t {
  kToken = 1 << 0,  // token: alphanum - . ! % * _ + ` ' ~
  kWs = 1 << 1,     // SP HTAB CR LF (LWS once folding is allowed)
  kDigit = 1 << 2,
  kHex = 1 << 3,
  kAlpha = 1 << 4,
  kHostChar = 1 << 5,    // alphanum - . _ (domain names, IPv4)
  kSchemeChar = 1 << 6,  // ALPHA DIGIT + - .
};

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool digit = c >= '0' && c <= '9';
    if (alpha) v |= kAlpha | kToken | kHostChar | kSchemeChar;
    if (digit) v |= kDigit | kToken | kHostChar | kSchemeChar;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    switch (c) {
      case '-':
        v |= kToken | kHostChar | kSchemeChar;
        break;
      case '.':
        v |= kToken | kHostChar | kSchemeChar;
        break;
      case '_':
        v |= kToken | kHostChar;
        break;
      case '!':
      case '%':
      case '*':
      case '+':
      case '`':
      case '\'':
      case '~':
        v |= kToken;
        if (c == '+') v |= kSchemeChar;
        break;
      case ' ':
      case '\t':
      case '\r':
      case '\n':
        v |= kWs;
        break;
      default:
        break;
    }
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kTable = makeTable();

inline bool is(char c, uint8_t cls) {
  return (kTable[static_cast<uint8_t>(c)] & cls) != 0;
}
inline bool isToken(char c) {
  return is(c, kToken);
}
inline bool isWs(char c) {
  return is(c, kWs);
}
inline bool isDigit(char c) {
  return is(c, kDigit);
}
inline bool isHex(char c) {
  return is(c, kHex);
}
inline bool isAlpha(char c) {
  return is(c, kAlpha);
}
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

inline bool allToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isToken(c)) return false;
  return true;
}

inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace strowger::sip::chars
