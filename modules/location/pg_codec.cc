#include "pg_codec.h"

#include <netinet/in.h>

#include <charconv>
#include <cstdint>
#include <limits>

#include "strowger/transport/transport.h"

namespace strowger::location::pg {
namespace {

enum Column : int {
  kId,
  kAor,
  kContact,
  kPath,
  kCallId,
  kCseq,
  kQMilli,
  kInstance,
  kRegId,
  kUserAgent,
  kProtocol,
  kSource,
  kListener,
  kConnection,
  kNode,
  kExpiresAt,
  kUpdatedAt,
  kNatted,
};
static_assert(kNatted + 1 == kColumnCount);

constexpr std::array<std::string_view, kColumnCount> kNames = {
    "id",       "aor",        "contact", "path",       "call_id",    "cseq",
    "q_milli",  "instance",   "reg_id",  "user_agent", "protocol",   "source",
    "listener", "connection", "node",    "expires_at", "updated_at", "natted"};

template <class T>
std::optional<T> parseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string formatSource(const net::SocketAddress& address) {
  if (!address.valid()) return {};
  if (!address.isIpv6()) return address.toString();
  const auto& sin6 = *reinterpret_cast<const sockaddr_in6*>(address.sockaddrPtr());
  std::string out = "[" + address.ip();
  if (sin6.sin6_scope_id != 0) out += "%" + std::to_string(sin6.sin6_scope_id);
  out += "]:" + std::to_string(address.port());
  return out;
}

std::optional<net::SocketAddress> parseSource(std::string_view text) {
  if (text.empty()) return net::SocketAddress();
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  // An IPv6 address is always bracketed here, so the last ':' outside brackets is the port's.
  if (host.find(':') != std::string_view::npos && (host.empty() || host.back() != ']')) {
    return std::nullopt;
  }
  auto port = parseNumber<uint16_t>(text.substr(colon + 1));
  if (!port) return std::nullopt;
  return net::SocketAddress::parse(host, *port);
}

Row toRow(const Binding& b) {
  Row row;
  row[kId] = b.id;
  row[kAor] = b.aor;
  row[kContact] = b.contact;
  row[kPath] = b.path;
  row[kCallId] = b.callId;
  row[kCseq] = std::to_string(b.cseq);
  row[kQMilli] = std::to_string(b.qMilli);
  row[kInstance] = b.instance;
  if (b.regId) row[kRegId] = std::to_string(*b.regId);
  row[kUserAgent] = b.userAgent;
  row[kProtocol] = std::string(transport::protocolName(b.protocol));
  row[kSource] = formatSource(b.source);
  row[kListener] = std::to_string(b.listener);
  row[kConnection] = std::to_string(b.connection);
  row[kNode] = b.node;
  row[kExpiresAt] = std::to_string(b.expiresAt);
  row[kUpdatedAt] = std::to_string(b.updatedAt);
  row[kNatted] = b.natted ? "true" : "false";
  return row;
}

Expected<Binding, std::string> fromRow(const RowView& row) {
  const auto bad = [](int column) {
    return unexpected(std::string("bad value in column ") + std::string(kNames[column]));
  };
  const auto text = [&row](int column) { return row[column].value_or(std::string_view()); };
  const auto number = [&row]<class T>(int column, T& out) {
    if (!row[column]) return false;
    auto value = parseNumber<T>(*row[column]);
    if (!value) return false;
    out = *value;
    return true;
  };

  Binding b;
  b.id = text(kId);
  b.aor = text(kAor);
  b.contact = text(kContact);
  b.path = text(kPath);
  b.callId = text(kCallId);
  if (!number(kCseq, b.cseq)) return bad(kCseq);
  if (!number(kQMilli, b.qMilli)) return bad(kQMilli);
  b.instance = text(kInstance);
  if (row[kRegId]) {
    uint32_t regId = 0;
    if (!number(kRegId, regId)) return bad(kRegId);
    b.regId = regId;
  }
  b.userAgent = text(kUserAgent);
  std::string_view protocol = text(kProtocol);
  if (protocol == transport::protocolName(transport::Protocol::kUdp)) {
    b.protocol = transport::Protocol::kUdp;
  } else if (protocol == transport::protocolName(transport::Protocol::kTcp)) {
    b.protocol = transport::Protocol::kTcp;
  } else {
    return bad(kProtocol);
  }
  auto source = parseSource(text(kSource));
  if (!source) return bad(kSource);
  b.source = *source;
  if (!number(kListener, b.listener)) return bad(kListener);
  if (!number(kConnection, b.connection)) return bad(kConnection);
  b.node = text(kNode);
  if (!number(kExpiresAt, b.expiresAt)) return bad(kExpiresAt);
  if (!number(kUpdatedAt, b.updatedAt)) return bad(kUpdatedAt);
  // libpq's text form of a boolean is "t" or "f".
  std::string_view natted = text(kNatted);
  if (natted == "t" || natted == "true") {
    b.natted = true;
  } else if (natted == "f" || natted == "false") {
    b.natted = false;
  } else {
    return bad(kNatted);
  }
  return b;
}

}  // namespace strowger::location::pg
