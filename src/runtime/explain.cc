#include "explain.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "proxy_core.h"
#include "strowger/script/context.h"

namespace strowger::runtime {
namespace {

using transport::Listener;
using transport::Protocol;

// Message files are often written with an editor that saves LF line ends; SIP needs CRLF.
std::string withCrlf(const std::string& text) {
  if (text.find("\r\n") != std::string::npos) return text;
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

class RecordingOutbound final : public proxy::Outbound {
 public:
  struct Sent {
    transport::Destination to;
    std::string bytes;
    bool isRequest;
  };
  explicit RecordingOutbound(std::vector<Listener> listeners) : listeners_(std::move(listeners)) {}

  transport::SendStatus send(const transport::Destination& to, std::string_view bytes,
                             bool isRequest) override {
    sent_.push_back({to, std::string(bytes), isRequest});
    return transport::SendStatus::kSent;
  }
  std::span<const Listener> listeners() const override { return listeners_; }
  const std::vector<Sent>& sent() const { return sent_; }

 private:
  std::vector<Listener> listeners_;
  std::vector<Sent> sent_;
};

class PrintingTracer final : public script::Tracer {
 public:
  explicit PrintingTracer(std::ostream& out) : out_(out) {}
  void enterRoute(std::string_view route, int depth) override {
    indent(depth) << "route " << route << "\n";
  }
  void step(std::string_view description, int line, int depth) override {
    indent(depth + 1) << description << location(line) << "\n";
  }
  void condition(std::string_view description, bool outcome, int line, int depth) override {
    indent(depth + 1) << "if " << description << " -> " << (outcome ? "true" : "false")
                      << location(line) << "\n";
  }

 private:
  std::ostream& indent(int depth) {
    for (int i = 0; i < depth; ++i)
      out_ << "  ";
    return out_;
  }
  static std::string location(int line) {
    return line > 0 ? "   (line " + std::to_string(line) + ")" : std::string();
  }
  std::ostream& out_;
};

std::vector<Listener> listenersOf(const Config& config) {
  std::vector<Listener> listeners;
  for (const ListenAddress& a : config.server.listen) {
    if (a.transport != Transport::kUdp && a.transport != Transport::kTcp) continue;
    Listener l;
    l.index = static_cast<uint32_t>(listeners.size());
    l.protocol = a.transport == Transport::kTcp ? Protocol::kTcp : Protocol::kUdp;
    l.address = net::SocketAddress::parse(a.host, a.port).value_or(net::SocketAddress());
    // A wildcard listener advertises the loopback address here: explain mode binds nothing.
    l.advertisedHost = l.address.isUnspecified() ? (a.isIpv6() ? "::1" : "127.0.0.1") : a.host;
    l.advertisedPort = a.port;
    listeners.push_back(std::move(l));
  }
  return listeners;
}

}  // namespace

int explainMessage(const Config& config, const std::string& messageFile, const std::string& source,
                   std::ostream& out) {
  std::ifstream in(messageFile, std::ios::binary);
  if (!in) {
    out << "strowger: cannot read " << messageFile << "\n";
    return 1;
  }
  const std::string bytes =
      withCrlf(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  auto from = parseListenAddress(source);
  if (!from || (from->transport != Transport::kUdp && from->transport != Transport::kTcp)) {
    out << "strowger: --source: expected udp:IP:PORT or tcp:IP:PORT, got \"" << source << "\"\n";
    return 1;
  }
  RecordingOutbound outbound(listenersOf(config));
  transport::ReceivedMessage received;
  received.bytes = bytes;
  received.source = *net::SocketAddress::parse(from->host, from->port);
  received.protocol = from->transport == Transport::kTcp ? Protocol::kTcp : Protocol::kUdp;
  received.connection = received.protocol == Protocol::kTcp ? 1 : 0;
  bool found = false;
  for (const Listener& l : outbound.listeners()) {
    if (l.protocol == received.protocol && l.address.isIpv6() == received.source.isIpv6()) {
      received.listener = l.index;
      received.local = l.address;
      found = true;
      break;
    }
  }
  if (!found) {
    out << "strowger: no " << transportName(from->transport) << " listener in " << config.source
        << " for a message from " << source << "\n";
    return 1;
  }

  auto settings = std::make_shared<proxy::ProxySettings>();
  settings->script = config.routes;
  settings->limits = {config.server.limits.maxMessageBytes,
                      static_cast<uint16_t>(config.server.limits.maxHeaders),
                      config.server.limits.maxLineBytes};
  proxy::ProxyCore proxy(settings, &outbound);
  PrintingTracer tracer(out);
  std::string_view firstLine(bytes);
  firstLine = firstLine.substr(0, firstLine.find("\r\n"));
  out << "message: " << firstLine << "\n";
  out << "from:    " << source << " (listener " << received.local.toString() << ")\n";
  proxy.handleRequestForExplain(received, &tracer);

  const proxy::ProxyStats stats = proxy.stats();
  if (outbound.sent().empty()) {
    out << "outcome: nothing would be sent: ";
    if (stats.dropped) {
      out << "the script drops it\n";
    } else if (stats.unhandled) {
      out << "the script ends without replying or forwarding, so it is dropped\n";
    } else if (stats.malformedResponses) {
      out << "the message does not parse and cannot be answered\n";
    } else if (stats.responsesNotOurs) {
      out << "a response whose top Via is not this proxy's is dropped\n";
    } else if (stats.unroutableResponses || stats.malformedResponses) {
      out << "a response that cannot be routed back is dropped\n";
    } else {
      out << "no answer is ever sent to an ACK\n";
    }
    return 0;
  }
  for (const auto& sent : outbound.sent()) {
    std::string_view kind = sent.isRequest ? "forward" : "reply";
    if (!sent.isRequest && (stats.forwardedResponses > 0)) kind = "forward response";
    out << "outcome: " << kind << " over " << transport::protocolName(sent.to.protocol) << " to "
        << sent.to.address.toString() << "\n";
    out << "---\n" << sent.bytes;
    if (!sent.bytes.ends_with("\n")) out << "\n";
    out << "---\n";
  }
  return 0;
}

}  // namespace strowger::runtime
