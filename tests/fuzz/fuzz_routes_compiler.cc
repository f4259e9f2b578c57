// libFuzzer target: arbitrary bytes as the YAML text of a configuration, through the routing-script
// compiler. Text that yaml-cpp refuses is the configuration loader's business (it reports the
// syntax error); everything it accepts goes to compileRoutes(), which must never throw, crash or
// read outside its input, whatever the tree looks like. A script that compiles is run once over a
// fixed valid request with ProxyActions that do nothing, so the compiled steps, conditions,
// matchers and values are exercised too.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "strowger/net/socket_address.h"
#include "strowger/script/context.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"
#include "strowger/sip/editor.h"
#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"

namespace {

namespace script = strowger::script;
namespace sip = strowger::sip;

// An initial INVITE with something for every field a condition or value may read: a user part,
// port and parameters in the Request-URI, From and To with users, a Route naming this proxy, a
// header with a compact form and a custom header.
constexpr std::string_view kRequest =
    "INVITE sip:+4930123456@127.0.0.1:5060;transport=udp;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:127.0.0.1:5060;lr>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
    "To: <sip:+4930123456@example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10:5062>\r\n"
    "s: fuzzing\r\n"
    "X-Trunk-Key: s3cret\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

// Takes every request and does nothing with it. Its answers are fixed so that runs repeat.
class NullActions final : public script::ProxyActions {
 public:
  void reply(uint16_t, std::string_view, std::span<const std::string>) override {}
  bool forward(const script::NextHop*) override { return true; }
  bool relay(const script::NextHop*, script::ForkMode) override { return true; }
  void recordRoute() override {}
  bool looseRoute() override { return true; }
  bool isLocal(std::string_view host, uint16_t port) const override {
    return host == "127.0.0.1" && (port == 5060 || port == 0);
  }
  void drop() override {}
};

const script::StepRegistry& registry() {
  static const script::StepRegistry instance = [] {
    script::StepRegistry r;
    if (!script::registerBuiltinSteps(r)) std::abort();
    return r;
  }();
  return instance;
}

// The configuration loader's side: YAML text that does not parse is an exception there, reported
// as a syntax error and refused. The routes are the `routes` key of a mapping, else the whole
// document. No cap on nesting is needed: yaml-cpp 0.7 refuses collections nested a few hundred
// deep by throwing (DeepRecursion) before its recursive parser runs out of stack.
std::optional<YAML::Node> loadRoutes(const std::string& text) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsMap()) {
      if (const YAML::Node section = root["routes"]) return section;
    }
    return root;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // `log` steps format their message as in the daemon; the lines go nowhere.
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  registry();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::optional<YAML::Node> routes =
      loadRoutes(std::string(reinterpret_cast<const char*>(data), size));
  if (!routes) return 0;

  // From here on nothing may throw: compileRoutes() collects every error.
  auto compiled = script::compileRoutes(*routes, "fuzz.yaml", registry());
  if (!compiled) {
    for (const script::ScriptError& error : compiled.error())
      (void)error.toString();
    return 0;
  }
  const std::shared_ptr<const script::RoutingScript>& routing = *compiled;
  (void)routing->routeNames();

  sip::Message message;
  if (!message.parse(kRequest)) std::abort();  // the fixed request is valid
  sip::MessageEditor editor(message);
  strowger::transport::ReceivedMessage received;
  received.bytes = kRequest;
  received.source = *strowger::net::SocketAddress::parse("192.0.2.10", 5062);
  received.local = *strowger::net::SocketAddress::parse("127.0.0.1", 5060);
  received.protocol = strowger::transport::Protocol::kUdp;
  NullActions actions;
  script::MessageContext ctx(message, editor, received, actions);
  routing->runRequest(ctx);
  (void)editor.serialize();
  return 0;
}
