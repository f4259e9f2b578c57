#include "routing.h"

#include <charconv>

#include "strowger/net/socket_address.h"

namespace strowger::proxy::detail {

using transport::Destination;
using transport::Protocol;

void Hash64::add(uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  add(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

std::string hex16(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
    v >>= 4;
  }
  return out;
}

std::string hex8(uint32_t v) {
  return hex16(v).substr(8);
}

std::string_view stripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

std::string sipHostOf(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]";
  return std::string(host);
}

std::string_view callIdOf(const sip::Message& m) {
  const auto& id = m.callId();
  return id ? *id : std::string_view("-");
}

std::optional<Destination> destinationForUri(const sip::Uri& uri, std::optional<Protocol> forced) {
  if (!uri.isSip()) return std::nullopt;
  if (uri.scheme == sip::UriScheme::kSips) return std::nullopt;  // TLS is not served yet
  Protocol protocol = Protocol::kUdp;
  std::string_view transportParam = uri.params.get("transport");
  if (forced) {
    protocol = *forced;
  } else if (!transportParam.empty()) {
    if (sip::equalsIgnoreCase(transportParam, "tcp")) {
      protocol = Protocol::kTcp;
    } else if (!sip::equalsIgnoreCase(transportParam, "udp")) {
      return std::nullopt;
    }
  }
  std::string_view host = uri.params.get("maddr");
  if (host.empty()) host = uri.host();
  auto address =
      net::SocketAddress::parse(stripBrackets(host), uri.hostPort.hasPort ? uri.port() : 5060);
  if (!address) return std::nullopt;
  Destination d;
  d.protocol = protocol;
  d.address = *address;
  return d;
}

// Not the top Via, which is the previous hop's, but the Request-URI, the From tag, Call-ID, CSeq
// number and the headers that steer routing. A spiral changes one of them. The To tag is left out
// so that the ACK of a non-2xx, which carries the tag its INVITE lacked, gets the INVITE's branch,
// as the next hop's transaction matching needs.
uint32_t loopHash(const sip::Message& request) {
  Hash64 h;
  h.add(request.requestUriText());
  const auto& from = request.from();
  h.add(from ? from->tag : std::string_view{});
  h.add(callIdOf(request));
  const auto& cseq = request.cseq();
  h.add(cseq ? cseq->number : 0);
  for (sip::HeaderId id :
       {sip::HeaderId::kRoute, sip::HeaderId::kProxyRequire, sip::HeaderId::kProxyAuthorization}) {
    for (const sip::HeaderField& f : request.all(id))
      h.add(f.value);
  }
  return static_cast<uint32_t>(h.state ^ (h.state >> 32));
}

std::string_view loopHashOfBranch(std::string_view branch) {
  const std::string_view cookie = sip::kBranchMagicCookie;
  if (!branch.starts_with(cookie)) return {};
  std::string_view rest = branch.substr(cookie.size());
  if (rest.starts_with(kStatelessBranchTag) && rest.size() == 2 + 16 + 8) return rest.substr(18, 8);
  if (rest.starts_with(kStatefulBranchTag) && rest.size() > 2 + 2 + 16 + 8 &&
      rest[2 + 2 + 16 + 8] == '.') {
    return rest.substr(2 + 2 + 16, 8);
  }
  return {};
}

}  // namespace strowger::proxy::detail
