#include "uri_edit.h"

#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"
#include "text.h"

namespace strowger::script::detail {
namespace {

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ).
bool isUserChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-_.!~*'()&=+$,;?/").find(c) != std::string_view::npos;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void appendEscapedUser(std::string_view user, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < user.size(); ++i) {
    const char c = user[i];
    // An escape already in the value stays as it is.
    const bool escaped =
        c == '%' && i + 2 < user.size() && isHex(user[i + 1]) && isHex(user[i + 2]);
    if (isUserChar(c) || escaped) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
}

// Where the host starts and ends in uri.raw, brackets of an IPv6 reference included.
struct HostSpan {
  std::size_t begin;
  std::size_t end;
};

HostSpan hostSpan(const sip::Uri& uri) {
  const bool v6 = uri.hostPort.kind == sip::HostKind::kIpv6;
  const std::size_t at = static_cast<std::size_t>(uri.host().data() - uri.raw.data());
  return {v6 ? at - 1 : at, at + uri.host().size() + (v6 ? 1 : 0)};
}

std::string_view stripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

bool isValidHost(std::string_view host) {
  const std::string_view bare = stripBrackets(host);
  if (bare.empty()) return false;
  std::string text;
  if (bare.find(':') != std::string_view::npos) {
    text.append("[").append(bare).append("]");
  } else {
    text.append(bare);
  }
  const auto parsed = sip::parseHostPort(text);
  return parsed && !parsed->hasPort && parsed->host.size() == bare.size();
}

bool isValidPort(std::string_view port) {
  if (port.empty()) return true;
  const std::optional<uint64_t> n = sip::parseUnsigned(port, 65535);
  return n && *n > 0;
}

bool rewriteUser(const sip::Uri& uri, std::string_view user, std::string& out) {
  const std::string_view raw = uri.raw;
  if (uri.scheme == sip::UriScheme::kTel) {
    // The subscriber number is the tel: URI's "user"; it cannot be removed.
    if (user.empty()) return false;
    const std::size_t begin = static_cast<std::size_t>(uri.user.data() - raw.data());
    out.append(raw.substr(0, begin)).append(user).append(raw.substr(begin + uri.user.size()));
    return true;
  }
  if (!uri.isSip()) return false;
  const HostSpan host = hostSpan(uri);
  if (uri.hasUserInfo) {
    const std::size_t begin = static_cast<std::size_t>(uri.user.data() - raw.data());
    if (user.empty()) {
      out.append(raw.substr(0, begin)).append(raw.substr(host.begin));
    } else {
      out.append(raw.substr(0, begin));
      appendEscapedUser(user, out);
      out.append(raw.substr(begin + uri.user.size()));
    }
    return true;
  }
  out.append(raw.substr(0, host.begin));
  if (!user.empty()) {
    appendEscapedUser(user, out);
    out += '@';
  }
  out.append(raw.substr(host.begin));
  return true;
}

bool rewriteHost(const sip::Uri& uri, std::string_view host, std::string& out) {
  if (!uri.isSip() || !isValidHost(host)) return false;
  const std::string_view raw = uri.raw;
  const HostSpan span = hostSpan(uri);
  const std::string_view bare = stripBrackets(host);
  out.append(raw.substr(0, span.begin));
  if (bare.find(':') != std::string_view::npos) {
    out.append("[").append(bare).append("]");
  } else {
    out.append(bare);
  }
  out.append(raw.substr(span.end));
  return true;
}

bool rewritePort(const sip::Uri& uri, std::string_view port, std::string& out) {
  if (!uri.isSip() || !isValidPort(port)) return false;
  const std::string_view raw = uri.raw;
  const HostSpan span = hostSpan(uri);
  std::size_t end = span.end;
  if (uri.hostPort.hasPort && end < raw.size() && raw[end] == ':') {
    ++end;
    while (end < raw.size() && raw[end] >= '0' && raw[end] <= '9')
      ++end;
  }
  out.append(raw.substr(0, span.end));
  if (!port.empty()) out.append(":").append(port);
  out.append(raw.substr(end));
  return true;
}

Expected<NextHop, std::string> parseNextHop(std::string_view text) {
  const std::string expected =
      "expected a SIP URI such as \"sip:192.0.2.1:5060;transport=udp\", got " + inQuotes(text);
  const auto uri = sip::parseUri(text);
  if (!uri) return unexpected(expected);
  if (uri->scheme == sip::UriScheme::kSips) {
    return unexpected(std::string(
        "sips: needs TLS, which this version does not support; use sip: with transport=udp or "
        "tcp"));
  }
  if (uri->scheme != sip::UriScheme::kSip || uri->host().empty()) return unexpected(expected);
  NextHop hop;
  if (const std::optional<sip::Param> transport = uri->params.find("transport")) {
    if (sip::equalsIgnoreCase(transport->value, "udp")) {
      hop.protocol = transport::Protocol::kUdp;
    } else if (sip::equalsIgnoreCase(transport->value, "tcp")) {
      hop.protocol = transport::Protocol::kTcp;
    } else {
      return unexpected("transport " + inQuotes(transport->value) +
                        " is not supported by this version; use udp or tcp");
    }
  }
  hop.host = std::string(uri->host());
  hop.port = uri->hostPort.hasPort ? uri->port() : 0;
  hop.uri = std::string(text);
  return hop;
}

Expected<void, std::string> checkRequestUri(std::string_view text) {
  const auto uri = sip::parseUri(text);
  if (!uri || (!uri->isSip() && uri->scheme != sip::UriScheme::kTel)) {
    return unexpected("expected a sip:, sips: or tel: URI such as \"sip:alice@example.com\", got " +
                      inQuotes(text));
  }
  if (!uri->headers.empty()) {
    // RFC 3261 §19.1.5: headers are not allowed in a Request-URI.
    return unexpected("a Request-URI may not carry headers (\"?...\"): " + inQuotes(text));
  }
  return {};
}

}  // namespace strowger::script::detail
