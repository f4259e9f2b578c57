#include "strowger/sip/uri.h"

#include "chars.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"

namespace strowger::sip {
namespace {

ParseError uriError(std::string_view reason = "Bad URI") {
  return {ParseErrc::kBadUri, reason, 400};
}

bool hasWsOrCtl(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return true;
  }
  return false;
}

// IPv6reference contents. Liberal on purpose: RFC 5118 §4.10 asks to tolerate the three-colon
// form RFC 3261's grammar allowed, so this checks the alphabet and shape, not RFC 4291 exactly.
bool looksLikeIpv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 64) return false;
  int colons = 0;
  for (char c : s) {
    if (c == ':') {
      ++colons;
    } else if (!chars::isHex(c) && c != '.') {
      return false;
    }
  }
  return colons >= 2;
}

bool isIpv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t j = i;
    unsigned value = 0;
    while (j < s.size() && chars::isDigit(s[j])) {
      value = value * 10 + static_cast<unsigned>(s[j] - '0');
      if (value > 255 || j - i >= 3) return false;
      ++j;
    }
    if (j == i) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool isDomain(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!chars::is(c, chars::kHostChar)) return false;
  }
  return s.front() != '.' && s.front() != '-';
}

}  // namespace

std::string_view Param::unquoted() const noexcept {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

ParamsView::Iterator::Iterator(std::string_view rest) : rest_(rest), done_(false) {
  load();
}

void ParamsView::Iterator::load() {
  // Skips empty pieces; a validated list has none, an unvalidated one must not loop forever.
  while (true) {
    rest_ = trimLws(rest_);
    if (rest_.empty()) {
      done_ = true;
      rest_ = {};
      return;
    }
    // Find the end of this parameter: the next ';' outside a quoted string.
    std::size_t end = 0;
    bool inQuotes = false;
    for (; end < rest_.size(); ++end) {
      char c = rest_[end];
      if (inQuotes) {
        if (c == '\\' && end + 1 < rest_.size()) {
          ++end;
        } else if (c == '"') {
          inQuotes = false;
        }
      } else if (c == '"') {
        inQuotes = true;
      } else if (c == ';') {
        break;
      }
    }
    std::string_view piece = rest_.substr(0, end);
    rest_ = end < rest_.size() ? rest_.substr(end + 1) : rest_.substr(rest_.size());
    piece = trimLws(piece);
    if (piece.empty()) continue;
    auto eq = piece.find('=');
    if (eq == std::string_view::npos) {
      current_ = {piece, {}, false};
    } else {
      current_ = {trimLws(piece.substr(0, eq)), trimLws(piece.substr(eq + 1)), true};
    }
    return;
  }
}

ParamsView::Iterator& ParamsView::Iterator::operator++() {
  if (rest_.empty()) {
    done_ = true;
    rest_ = {};
  } else {
    load();
  }
  return *this;
}

std::optional<Param> ParamsView::find(std::string_view name) const noexcept {
  for (const Param& p : *this) {
    if (equalsIgnoreCase(p.name, name)) return p;
  }
  return std::nullopt;
}

std::string_view ParamsView::get(std::string_view name) const noexcept {
  auto p = find(name);
  return p ? p->value : std::string_view{};
}

Expected<HostPort, ParseError> parseHostPort(std::string_view text) {
  HostPort hp;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return unexpected(uriError("Bad IPv6 reference"));
    hp.host = text.substr(1, close - 1);
    if (!looksLikeIpv6(hp.host)) return unexpected(uriError("Bad IPv6 reference"));
    hp.kind = HostKind::kIpv6;
    rest = text.substr(close + 1);
  } else {
    auto colon = text.find(':');
    hp.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
    if (isIpv4(hp.host)) {
      hp.kind = HostKind::kIpv4;
    } else if (isDomain(hp.host)) {
      hp.kind = HostKind::kDomain;
    } else {
      return unexpected(uriError("Bad host"));
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return unexpected(uriError("Bad host"));
    auto port = parseUnsigned(rest.substr(1), 65535);
    if (!port) return unexpected(uriError("Bad port"));
    hp.port = static_cast<uint16_t>(*port);
    hp.hasPort = true;
  }
  return hp;
}

namespace {

// A parameter list must not hold empty parameters (";;") or names that are not tokens.
bool validUriParams(std::string_view raw) {
  std::size_t start = 0;
  while (start <= raw.size()) {
    auto end = raw.find(';', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view piece = raw.substr(start, end - start);
    if (piece.empty()) return false;
    auto eq = piece.find('=');
    std::string_view name = piece.substr(0, eq);
    if (name.empty()) return false;
    for (char c : name) {
      if (!chars::isToken(c) && c != '[' && c != ']' && c != '/' && c != ':' && c != '&' &&
          c != '$') {
        return false;
      }
    }
    if (eq != std::string_view::npos && eq + 1 == piece.size()) return false;
    if (end == raw.size()) break;
    start = end + 1;
  }
  return true;
}

Expected<Uri, ParseError> parseSipUri(Uri uri, std::string_view rest) {
  // userinfo: everything before the '@'. No '@' may appear unescaped in hostport, parameters or
  // headers, so the first one separates it (RFC 3261 §19.1.1, RFC 4475 §3.1.1.9).
  auto at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    auto colon = userinfo.find(':');
    uri.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) uri.password = userinfo.substr(colon + 1);
    if (uri.user.empty()) return unexpected(uriError("Empty user in URI"));
    for (char c : userinfo) {
      if (c == '<' || c == '>' || c == '"') return unexpected(uriError());
    }
    uri.hasUserInfo = true;
    rest = rest.substr(at + 1);
  }
  auto question = rest.find('?');
  if (question != std::string_view::npos) {
    uri.headers = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  // hostport ends at the first ';' (an IPv6 reference holds no ';').
  auto semi = rest.find(';');
  auto hostport = parseHostPort(rest.substr(0, semi));
  if (!hostport) return unexpected(hostport.error());
  uri.hostPort = *hostport;
  if (semi != std::string_view::npos) {
    std::string_view params = rest.substr(semi + 1);
    if (!validUriParams(params)) return unexpected(uriError("Bad URI parameter"));
    uri.params = ParamsView(params);
  }
  return uri;
}

}  // namespace

Expected<Uri, ParseError> parseUri(std::string_view text) {
  Uri uri;
  uri.raw = text;
  if (text.empty() || hasWsOrCtl(text)) return unexpected(uriError());
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !chars::isAlpha(text[0])) {
    return unexpected(uriError());
  }
  uri.schemeText = text.substr(0, colon);
  for (char c : uri.schemeText) {
    if (!chars::is(c, chars::kSchemeChar)) return unexpected(uriError());
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) return unexpected(uriError());
  if (equalsIgnoreCase(uri.schemeText, "sip")) {
    uri.scheme = UriScheme::kSip;
    return parseSipUri(uri, rest);
  }
  if (equalsIgnoreCase(uri.schemeText, "sips")) {
    uri.scheme = UriScheme::kSips;
    return parseSipUri(uri, rest);
  }
  if (equalsIgnoreCase(uri.schemeText, "tel")) {
    uri.scheme = UriScheme::kTel;
    auto semi = rest.find(';');
    uri.user = rest.substr(0, semi);
    if (uri.user.empty()) return unexpected(uriError("Bad tel URI"));
    uri.hasUserInfo = true;
    if (semi != std::string_view::npos) {
      std::string_view params = rest.substr(semi + 1);
      if (!validUriParams(params)) return unexpected(uriError("Bad URI parameter"));
      uri.params = ParamsView(params);
    }
    return uri;
  }
  uri.scheme = UriScheme::kOther;
  uri.opaque = rest;
  return uri;
}

std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = chars::hexValue(text[i + 1]);
      int lo = chars::hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string Uri::unescapedUser() const {
  return unescape(user);
}

}  // namespace strowger::sip
