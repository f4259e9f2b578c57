// SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) as views into the message bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strowger/expected.h"
#include "strowger/sip/parse_error.h"

namespace strowger::sip {

// One `name[=value]` parameter. `value` is as written: a quoted value keeps its quotes (use
// unquoted()), escapes are not decoded.
struct Param {
  std::string_view name;
  std::string_view value;
  bool hasValue = false;

  // The value without surrounding double quotes; quoted-pairs are left as written.
  std::string_view unquoted() const noexcept;
};

// A `;`-separated parameter list, kept as the raw text and walked on demand: most parameters are
// never looked at, so nothing is split up front. The text starts at the first parameter's name
// (the leading ';' is not part of it). Names compare case-insensitively (RFC 3261 §19.1.4).
class ParamsView {
 public:
  ParamsView() = default;
  explicit ParamsView(std::string_view raw) : raw_(raw) {}

  std::string_view raw() const noexcept { return raw_; }
  bool empty() const noexcept { return raw_.empty(); }

  std::optional<Param> find(std::string_view name) const noexcept;
  bool has(std::string_view name) const noexcept { return find(name).has_value(); }
  // The value of `name`, or empty when absent or valueless.
  std::string_view get(std::string_view name) const noexcept;

  class Iterator {
   public:
    Iterator() = default;
    Iterator(std::string_view rest);  // NOLINT
    const Param& operator*() const { return current_; }
    const Param* operator->() const { return &current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const {
      return rest_.data() == o.rest_.data() && done_ == o.done_;
    }

   private:
    void load();
    std::string_view rest_;
    Param current_;
    bool done_ = true;
  };
  Iterator begin() const { return Iterator(raw_); }
  Iterator end() const { return Iterator(); }

 private:
  std::string_view raw_;
};

enum class HostKind : uint8_t { kNone, kDomain, kIpv4, kIpv6 };

// host [":" port]. An IPv6 host is held without its brackets.
struct HostPort {
  std::string_view host;
  HostKind kind = HostKind::kNone;
  uint16_t port = 0;  // 0 when no port was written
  bool hasPort = false;
};

// Parses `host[:port]` (IPv6 references in brackets). Liberal where RFC 5118 §4.10 asks for it.
Expected<HostPort, ParseError> parseHostPort(std::string_view text);

enum class UriScheme : uint8_t { kSip, kSips, kTel, kOther };

struct Uri {
  UriScheme scheme = UriScheme::kOther;
  std::string_view schemeText;
  // sip/sips: userinfo before '@' (user may contain escaped and ';'-separated parts, RFC 4475
  // §3.1.1.9). tel: `user` holds the telephone-subscriber number.
  std::string_view user;
  std::string_view password;
  bool hasUserInfo = false;
  HostPort hostPort;
  ParamsView params;         // uri-parameters (sip/sips) or tel parameters
  std::string_view headers;  // after '?', without it
  std::string_view opaque;   // kOther: everything after "scheme:"
  std::string_view raw;      // the whole URI as written

  std::string_view host() const noexcept { return hostPort.host; }
  uint16_t port() const noexcept { return hostPort.port; }
  bool isSip() const noexcept { return scheme == UriScheme::kSip || scheme == UriScheme::kSips; }
  // The user part with %HH escapes decoded once (never recursively); may hold NUL octets.
  std::string unescapedUser() const;
};

// Parses an absolute URI. sip/sips/tel are parsed into their parts; any other well-formed scheme
// (RFC 3986 `scheme ":" ...`) is accepted as kOther with `opaque` set.
Expected<Uri, ParseError> parseUri(std::string_view text);

// Decodes %HH escapes once. Malformed escapes are kept literally (RFC 4475 §3.1.1.5).
std::string unescape(std::string_view text);

}  // namespace strowger::sip
