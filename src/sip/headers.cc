#include "strowger/sip/headers.h"

#include "chars.h"
#include "strowger/sip/header_id.h"

namespace strowger::sip {
namespace {

ParseError err(ParseErrc code, std::string_view reason) {
  return {code, reason, 400};
}

std::string_view skipLws(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && chars::isWs(s[i]))
    ++i;
  return s.substr(i);
}

// Takes a token off the front of `s`; empty if `s` does not start with one.
std::string_view takeToken(std::string_view& s) {
  std::size_t i = 0;
  while (i < s.size() && chars::isToken(s[i]))
    ++i;
  auto token = s.substr(0, i);
  s.remove_prefix(i);
  return token;
}

// Reads a quoted-string at the front of `s` (which starts with '"'); returns the contents
// without the quotes, or nullopt when it is not terminated.
std::optional<std::string_view> takeQuoted(std::string_view& s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      auto inside = s.substr(1, i - 1);
      s.remove_prefix(i + 1);
      return inside;
    }
  }
  return std::nullopt;
}

// generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string.
// Also checks there is no empty parameter (";;"), as RFC 4475 §3.1.2.1 requires.
bool validGenericParams(std::string_view raw) {
  std::string_view s = raw;
  while (true) {
    s = skipLws(s);
    std::string_view name = takeToken(s);
    if (name.empty()) return false;
    s = skipLws(s);
    if (!s.empty() && s.front() == '=') {
      s = skipLws(s.substr(1));
      if (s.empty()) return false;
      if (s.front() == '"') {
        if (!takeQuoted(s)) return false;
      } else {
        // token or host (IPv6 references with or without brackets, RFC 5118 §4.5)
        std::size_t i = 0;
        while (i < s.size() &&
               (chars::isToken(s[i]) || s[i] == ':' || s[i] == '[' || s[i] == ']')) {
          ++i;
        }
        if (i == 0) return false;
        s.remove_prefix(i);
      }
      s = skipLws(s);
    }
    if (s.empty()) return true;
    if (s.front() != ';') return false;
    s.remove_prefix(1);
  }
}

// After a URI or a sent-by: nothing, or ';' and a valid parameter list.
Expected<ParamsView, ParseError> takeHeaderParams(std::string_view rest, ParseErrc code,
                                                  std::string_view reason) {
  rest = trimLws(rest);
  if (rest.empty()) return ParamsView{};
  if (rest.front() != ';') return unexpected(err(code, reason));
  rest = rest.substr(1);
  if (!validGenericParams(rest)) return unexpected(err(code, reason));
  return ParamsView(trimLws(rest));
}

std::optional<uint16_t> parseQValue(std::string_view q) {
  // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return std::nullopt;
  unsigned value = static_cast<unsigned>(q[0] - '0') * 1000;
  if (q.size() > 1) {
    if (q[1] != '.' || q.size() > 5) return std::nullopt;
    unsigned scale = 100;
    for (std::size_t i = 2; i < q.size(); ++i) {
      if (!chars::isDigit(q[i])) return std::nullopt;
      value += static_cast<unsigned>(q[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (value > 1000) return std::nullopt;
  return static_cast<uint16_t>(value);
}

template <class T>
Expected<void, ParseError> parseAuthParams(std::string_view rest, T& out, ParseErrc code,
                                           std::string_view reason, bool strict) {
  bool valueless = false;
  bool ok = forEachListElement(rest, [&](std::string_view element) {
    if (element.empty()) return;
    auto eq = element.find('=');
    if (eq == std::string_view::npos) {
      valueless = true;  // legal in other schemes (e.g. a token68 blob), not in Digest
      out.params.push_back({element, {}, false});
      return;
    }
    AuthParam p;
    p.name = trimLws(element.substr(0, eq));
    std::string_view value = trimLws(element.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      std::string_view v = value;
      auto inside = takeQuoted(v);
      if (inside && trimLws(v).empty()) {
        p.value = *inside;
        p.quoted = true;
      } else {
        p.value = value;
      }
    } else {
      p.value = value;
    }
    out.params.push_back(p);
  });
  if (!ok || (strict && valueless)) return unexpected(err(code, reason));
  if (strict) {
    for (const AuthParam& p : out.params) {
      if (!chars::allToken(p.name)) return unexpected(err(code, reason));
    }
  }
  return {};
}

}  // namespace

std::string_view trimLws(std::string_view s) noexcept {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && chars::isWs(s[b]))
    ++b;
  while (e > b && chars::isWs(s[e - 1]))
    --e;
  return s.substr(b, e - b);
}

std::optional<uint64_t> parseUnsigned(std::string_view digits, uint64_t max) noexcept {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (!chars::isDigit(c)) return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (d > max || value > (max - d) / 10) return std::nullopt;
    value = value * 10 + d;
  }
  return value;
}

Transport transportFromToken(std::string_view token) noexcept {
  if (equalsIgnoreCase(token, "UDP")) return Transport::kUdp;
  if (equalsIgnoreCase(token, "TCP")) return Transport::kTcp;
  if (equalsIgnoreCase(token, "TLS")) return Transport::kTls;
  if (equalsIgnoreCase(token, "SCTP")) return Transport::kSctp;
  if (equalsIgnoreCase(token, "WS")) return Transport::kWs;
  if (equalsIgnoreCase(token, "WSS")) return Transport::kWss;
  return Transport::kOther;
}

std::string_view transportName(Transport t) noexcept {
  switch (t) {
    case Transport::kUdp:
      return "UDP";
    case Transport::kTcp:
      return "TCP";
    case Transport::kTls:
      return "TLS";
    case Transport::kSctp:
      return "SCTP";
    case Transport::kWs:
      return "WS";
    case Transport::kWss:
      return "WSS";
    case Transport::kOther:
      break;
  }
  return {};
}

// via-parm = sent-protocol LWS sent-by *( SEMI via-params )
// sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS
Expected<Via, ParseError> parseVia(std::string_view viaParm) {
  const auto bad = [] { return unexpected(err(ParseErrc::kBadVia, "Bad Via")); };
  Via via;
  via.raw = trimLws(viaParm);
  std::string_view s = via.raw;
  via.protocol = takeToken(s);
  s = skipLws(s);
  if (via.protocol.empty() || s.empty() || s.front() != '/') return bad();
  s = skipLws(s.substr(1));
  via.version = takeToken(s);
  s = skipLws(s);
  if (via.version.empty() || s.empty() || s.front() != '/') return bad();
  s = skipLws(s.substr(1));
  via.transport = takeToken(s);
  if (via.transport.empty() || s.empty() || !chars::isWs(s.front())) return bad();
  via.transportId = transportFromToken(via.transport);
  s = skipLws(s);

  // sent-by = host [ COLON port ], COLON = SWS ":" SWS
  std::string_view host;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return bad();
    host = s.substr(0, close + 1);
    s.remove_prefix(close + 1);
  } else {
    std::size_t i = 0;
    while (i < s.size() && chars::is(s[i], chars::kHostChar))
      ++i;
    host = s.substr(0, i);
    s.remove_prefix(i);
  }
  s = skipLws(s);
  std::string_view port;
  if (!s.empty() && s.front() == ':') {
    s = skipLws(s.substr(1));
    std::size_t i = 0;
    while (i < s.size() && chars::isDigit(s[i]))
      ++i;
    port = s.substr(0, i);
    if (port.empty()) return bad();
    s.remove_prefix(i);
  }
  auto hp = parseHostPort(host);
  if (!hp) return bad();
  via.sentBy = *hp;
  if (!port.empty()) {
    auto p = parseUnsigned(port, 65535);
    if (!p) return bad();
    via.sentBy.port = static_cast<uint16_t>(*p);
    via.sentBy.hasPort = true;
  }
  auto params = takeHeaderParams(s, ParseErrc::kBadVia, "Bad Via");
  if (!params) return unexpected(params.error());
  via.params = *params;
  for (const Param& p : via.params) {
    if (equalsIgnoreCase(p.name, "branch")) {
      if (!p.hasValue) return bad();
      via.branch = p.value;
    } else if (equalsIgnoreCase(p.name, "received")) {
      std::string_view r = p.value;
      if (r.size() >= 2 && r.front() == '[' && r.back() == ']') r = r.substr(1, r.size() - 2);
      via.received = r;
    } else if (equalsIgnoreCase(p.name, "maddr")) {
      via.maddr = p.value;
    } else if (equalsIgnoreCase(p.name, "rport")) {
      via.hasRport = true;
      if (p.hasValue) {
        auto v = parseUnsigned(p.value, 65535);
        if (!v) return bad();
        via.rport = static_cast<uint16_t>(*v);
      }
    }
  }
  return via;
}

Expected<void, ParseError> parseViaList(std::string_view value, std::vector<Via>& out) {
  ParseError failure{};
  bool failed = false;
  bool balanced = forEachListElement(value, [&](std::string_view element) {
    if (failed) return;
    auto via = parseVia(element);
    if (!via) {
      failure = via.error();
      failed = true;
      return;
    }
    out.push_back(*via);
  });
  if (!balanced) return unexpected(err(ParseErrc::kBadVia, "Bad Via"));
  if (failed) return unexpected(failure);
  return {};
}

// name-addr = [ display-name ] LAQUOT addr-spec RAQUOT; the addr-spec form (no <>) carries no
// URI parameters: everything after the first ';' belongs to the header (RFC 3261 §20.10).
Expected<NameAddr, ParseError> parseNameAddr(std::string_view value) {
  const auto bad = [](std::string_view reason = "Bad name-addr") {
    return unexpected(err(ParseErrc::kBadNameAddr, reason));
  };
  NameAddr na;
  na.raw = trimLws(value);
  std::string_view s = na.raw;
  if (s.empty()) return bad();
  std::string_view uriText;
  if (s.front() == '"') {
    auto inside = takeQuoted(s);
    if (!inside) return bad("Unterminated quoted string");
    na.displayName = *inside;
    na.displayNameQuoted = true;
    s = skipLws(s);
    if (s.empty() || s.front() != '<') return bad();
  }
  std::size_t laquot = std::string_view::npos;
  if (!s.empty() && s.front() == '<') {
    laquot = 0;
  } else {
    // Unquoted display name: tokens and LWS up to '<' (RFC 4475 §3.1.1.6 allows no LWS before it).
    std::size_t i = 0;
    while (i < s.size() && (chars::isToken(s[i]) || chars::isWs(s[i])))
      ++i;
    if (i < s.size() && s[i] == '<') {
      laquot = i;
      na.displayName = trimLws(s.substr(0, i));
    } else if (i < s.size() && s[i] != ':' && s[i] != ';') {
      return bad();
    }
  }
  std::string_view after;
  if (laquot != std::string_view::npos) {
    na.bracketed = true;
    auto raquot = s.find('>', laquot);
    if (raquot == std::string_view::npos) return bad();
    // Liberal about LWS inside the brackets (RFC 4475 §3.1.2.14).
    uriText = trimLws(s.substr(laquot + 1, raquot - laquot - 1));
    after = s.substr(raquot + 1);
  } else {
    auto semi = s.find(';');
    uriText = trimLws(s.substr(0, semi));
    after = semi == std::string_view::npos ? std::string_view{} : s.substr(semi);
    // A URI holding ',', '?' or ';' must be in brackets.
    if (uriText.find_first_of(",?") != std::string_view::npos) return bad();
  }
  auto uri = parseUri(uriText);
  if (!uri) return bad("Bad URI in name-addr");
  na.uri = *uri;
  auto params = takeHeaderParams(after, ParseErrc::kBadNameAddr, "Bad name-addr parameter");
  if (!params) return unexpected(params.error());
  na.params = *params;
  na.tag = na.params.get("tag");
  return na;
}

Expected<void, ParseError> parseNameAddrList(std::string_view value, std::vector<NameAddr>& out) {
  ParseError failure{};
  bool failed = false;
  bool balanced = forEachListElement(value, [&](std::string_view element) {
    if (failed) return;
    auto na = parseNameAddr(element);
    if (!na) {
      failure = na.error();
      failed = true;
      return;
    }
    out.push_back(*na);
  });
  if (!balanced) return unexpected(err(ParseErrc::kBadNameAddr, "Bad name-addr"));
  if (failed) return unexpected(failure);
  return {};
}

Expected<void, ParseError> parseContactList(std::string_view value, ContactList& out) {
  const ParseError bad = err(ParseErrc::kBadContact, "Bad Contact");
  std::string_view trimmed = trimLws(value);
  if (trimmed == "*") {
    if (!out.contacts.empty()) return unexpected(bad);
    out.star = true;
    return {};
  }
  if (out.star) return unexpected(bad);
  bool failed = false;
  bool balanced = forEachListElement(value, [&](std::string_view element) {
    if (failed) return;
    auto na = parseNameAddr(element);
    if (!na) {
      failed = true;
      return;
    }
    Contact c;
    c.address = *na;
    for (const Param& p : c.address.params) {
      if (equalsIgnoreCase(p.name, "expires")) {
        // An unusable value counts as absent; the registrar then applies its default
        // (RFC 3261 §10.3, RFC 4475 §3.1.2.4).
        if (auto e = parseUnsigned(p.value, 0xFFFFFFFFu)) c.expires = static_cast<uint32_t>(*e);
      } else if (equalsIgnoreCase(p.name, "q")) {
        auto q = parseQValue(p.value);
        if (!q) {
          failed = true;
          return;
        }
        c.qMilli = *q;
      } else if (equalsIgnoreCase(p.name, "+sip.instance")) {
        c.instance = p.unquoted();
      } else if (equalsIgnoreCase(p.name, "reg-id")) {
        auto r = parseUnsigned(p.value, 0xFFFFFFFFu);
        if (!r) {
          failed = true;
          return;
        }
        c.regId = static_cast<uint32_t>(*r);
      }
    }
    out.contacts.push_back(c);
  });
  if (!balanced || failed) return unexpected(bad);
  return {};
}

// CSeq = 1*DIGIT LWS Method
Expected<CSeq, ParseError> parseCSeq(std::string_view value) {
  const ParseError bad = err(ParseErrc::kBadCSeq, "Bad CSeq");
  std::string_view s = trimLws(value);
  std::size_t i = 0;
  while (i < s.size() && chars::isDigit(s[i]))
    ++i;
  auto number = parseUnsigned(s.substr(0, i), 0xFFFFFFFFu);
  if (!number || i == s.size() || !chars::isWs(s[i])) return unexpected(bad);
  s = skipLws(s.substr(i));
  CSeq cseq;
  cseq.number = static_cast<uint32_t>(*number);
  cseq.methodText = takeToken(s);
  if (cseq.methodText.empty() || !s.empty()) return unexpected(bad);
  cseq.method = methodFromToken(cseq.methodText);
  return cseq;
}

Expected<uint32_t, ParseError> parseMaxForwards(std::string_view value) {
  auto v = parseUnsigned(trimLws(value), 255);
  if (!v) return unexpected(err(ParseErrc::kBadMaxForwards, "Bad Max-Forwards"));
  return static_cast<uint32_t>(*v);
}

Expected<uint32_t, ParseError> parseExpires(std::string_view value) {
  auto v = parseUnsigned(trimLws(value), 0xFFFFFFFFu);
  if (!v) return unexpected(err(ParseErrc::kBadExpires, "Bad Expires"));
  return static_cast<uint32_t>(*v);
}

Expected<uint32_t, ParseError> parseContentLength(std::string_view value) {
  auto v = parseUnsigned(trimLws(value), 0xFFFFFFFFu);
  if (!v) return unexpected(err(ParseErrc::kBadContentLength, "Bad Content-Length"));
  return static_cast<uint32_t>(*v);
}

// callid = word [ "@" word ]; word is any visible character but a few separators, so this
// checks what matters to matching: present, no whitespace, no control characters.
Expected<std::string_view, ParseError> parseCallId(std::string_view value) {
  std::string_view id = trimLws(value);
  if (id.empty()) return unexpected(err(ParseErrc::kBadCallId, "Bad Call-ID"));
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return unexpected(err(ParseErrc::kBadCallId, "Bad Call-ID"));
  }
  return id;
}

Expected<ContentType, ParseError> parseContentType(std::string_view value) {
  const ParseError bad = err(ParseErrc::kBadContentType, "Bad Content-Type");
  std::string_view s = trimLws(value);
  ContentType ct;
  ct.type = takeToken(s);
  s = skipLws(s);
  if (ct.type.empty() || s.empty() || s.front() != '/') return unexpected(bad);
  s = skipLws(s.substr(1));
  ct.subtype = takeToken(s);
  if (ct.subtype.empty()) return unexpected(bad);
  auto params = takeHeaderParams(s, ParseErrc::kBadContentType, "Bad Content-Type");
  if (!params) return unexpected(params.error());
  ct.params = *params;
  return ct;
}

Expected<Credentials, ParseError> parseCredentials(std::string_view value) {
  const ParseError bad = err(ParseErrc::kBadAuthorization, "Bad Authorization");
  Credentials c;
  c.raw = trimLws(value);
  std::string_view s = c.raw;
  c.scheme = takeToken(s);
  if (c.scheme.empty() || (!s.empty() && !chars::isWs(s.front()))) return unexpected(bad);
  bool digest = equalsIgnoreCase(c.scheme, "Digest");
  // Schemes this element does not know are carried through untouched (RFC 4475 §3.3.7), so
  // only Digest has to follow the auth-param grammar.
  auto parsed =
      parseAuthParams(skipLws(s), c, ParseErrc::kBadAuthorization, "Bad Authorization", digest);
  if (!parsed) return unexpected(parsed.error());
  for (const AuthParam& p : c.params) {
    if (equalsIgnoreCase(p.name, "username"))
      c.username = p.value;
    else if (equalsIgnoreCase(p.name, "realm"))
      c.realm = p.value;
    else if (equalsIgnoreCase(p.name, "nonce"))
      c.nonce = p.value;
    else if (equalsIgnoreCase(p.name, "uri"))
      c.uri = p.value;
    else if (equalsIgnoreCase(p.name, "response"))
      c.response = p.value;
    else if (equalsIgnoreCase(p.name, "algorithm"))
      c.algorithm = p.value;
    else if (equalsIgnoreCase(p.name, "cnonce"))
      c.cnonce = p.value;
    else if (equalsIgnoreCase(p.name, "opaque"))
      c.opaque = p.value;
    else if (equalsIgnoreCase(p.name, "qop"))
      c.qop = p.value;
    else if (equalsIgnoreCase(p.name, "nc"))
      c.nc = p.value;
    else if (equalsIgnoreCase(p.name, "userhash"))
      c.userhash = equalsIgnoreCase(p.value, "true");
  }
  return c;
}

Expected<Challenge, ParseError> parseChallenge(std::string_view value) {
  const ParseError bad = err(ParseErrc::kBadChallenge, "Bad challenge");
  Challenge c;
  c.raw = trimLws(value);
  std::string_view s = c.raw;
  c.scheme = takeToken(s);
  if (c.scheme.empty() || (!s.empty() && !chars::isWs(s.front()))) return unexpected(bad);
  bool digest = equalsIgnoreCase(c.scheme, "Digest");
  auto parsed = parseAuthParams(skipLws(s), c, ParseErrc::kBadChallenge, "Bad challenge", digest);
  if (!parsed) return unexpected(parsed.error());
  for (const AuthParam& p : c.params) {
    if (equalsIgnoreCase(p.name, "realm"))
      c.realm = p.value;
    else if (equalsIgnoreCase(p.name, "nonce"))
      c.nonce = p.value;
    else if (equalsIgnoreCase(p.name, "opaque"))
      c.opaque = p.value;
    else if (equalsIgnoreCase(p.name, "algorithm"))
      c.algorithm = p.value;
    else if (equalsIgnoreCase(p.name, "qop"))
      c.qop = p.value;
    else if (equalsIgnoreCase(p.name, "domain"))
      c.domain = p.value;
    else if (equalsIgnoreCase(p.name, "stale"))
      c.stale = equalsIgnoreCase(p.value, "true");
  }
  return c;
}

Expected<void, ParseError> parseOptionTags(std::string_view value,
                                           std::vector<std::string_view>& out) {
  if (trimLws(value).empty()) return {};  // "Supported:" with no tags is legal
  bool failed = false;
  bool balanced = forEachListElement(value, [&](std::string_view element) {
    if (!chars::allToken(element)) {
      failed = true;
      return;
    }
    out.push_back(element);
  });
  if (!balanced || failed) return unexpected(err(ParseErrc::kBadOptionTag, "Bad option tag"));
  return {};
}

}  // namespace strowger::sip
