#include "test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstring>

namespace strowger::script::test {

void RecordingActions::reply(uint16_t status, std::string_view reason,
                             std::span<const std::string> headers) {
  std::string call = "reply " + std::to_string(status) + " " + std::string(reason);
  for (const std::string& h : headers)
    call += " [" + h + "]";
  calls.push_back(std::move(call));
}

bool RecordingActions::forward(const NextHop* hop) {
  if (hop) {
    forwardedTo = *hop;
    calls.push_back("forward " + hop->uri);
  } else {
    calls.push_back("forward (default)");
  }
  return forwardResult;
}

bool RecordingActions::relay(const NextHop* hop, ForkMode mode) {
  std::string call = hop ? "relay " + hop->uri : "relay (default)";
  call += mode == ForkMode::kSerial ? " serial" : " parallel";
  calls.push_back(std::move(call));
  if (hop) relayedTo = *hop;
  return relayResult;
}

std::shared_ptr<Suspension> RecordingActions::suspend() {
  if (!canSuspend) return nullptr;
  class Parked final : public Suspension {
   public:
    void resume(std::function<void(MessageContext&)>) override {}
  };
  calls.push_back("suspend");
  return std::make_shared<Parked>();
}

bool RecordingActions::isLocal(std::string_view host, uint16_t port) const {
  const std::string withPort = std::string(host) + ":" + std::to_string(port);
  for (const std::string& a : localAddresses) {
    if (a == host || a == withPort) return true;
  }
  return false;
}

void RecordingTracer::enterRoute(std::string_view route, int depth) {
  lines.push_back("route " + std::string(route) + " @" + std::to_string(depth));
}

void RecordingTracer::step(std::string_view description, int line, int depth) {
  lines.push_back("step " + std::string(description) + " (line " + std::to_string(line) + ") @" +
                  std::to_string(depth));
}

void RecordingTracer::condition(std::string_view description, bool outcome, int line, int depth) {
  lines.push_back("if " + std::string(description) + " -> " + (outcome ? "true" : "false") +
                  " (line " + std::to_string(line) + ") @" + std::to_string(depth));
}

void setAddress(net::SocketAddress& address, const std::string& ip, uint16_t port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else {
    ASSERT_EQ(inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr), 1) << ip;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  }
  std::memcpy(address.sockaddrPtr(), &storage, length);
  address.setLength(length);
}

TestRequest::TestRequest(std::string_view text, std::string_view sourceIp, uint16_t sourcePort,
                         transport::Protocol protocol, bool withTracer) {
  for (char c : text) {
    if (c == '\n') bytes_ += '\r';
    bytes_ += c;
  }
  const auto parsed = message_.parse(bytes_);
  EXPECT_TRUE(parsed.hasValue()) << "the test request does not parse: " << parsed.error().reason;
  editor_ = std::make_unique<sip::MessageEditor>(message_);
  received_.bytes = bytes_;
  received_.protocol = protocol;
  setAddress(received_.source, std::string(sourceIp), sourcePort);
  setAddress(received_.local, "192.0.2.1", 5060);
  ctx_ = std::make_unique<MessageContext>(message_, *editor_, received_, actions_,
                                          withTracer ? &tracer_ : nullptr);
}

std::string TestRequest::edited() const {
  std::string out = editor_->serialize();
  std::string lf;
  for (char c : out) {
    if (c != '\r') lf += c;
  }
  return lf;
}

std::string invite(std::string_view ruri, std::string_view extraHeaders) {
  std::string text = "INVITE " + std::string(ruri) + " SIP/2.0\n";
  text +=
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\n"
      "Max-Forwards: 70\n"
      "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\n"
      "To: <sip:bob@example.com>\n"
      "Call-ID: a84b4c76e66710@pc33.example.com\n"
      "CSeq: 314159 INVITE\n"
      "Contact: <sip:alice@192.0.2.10>\n";
  text += extraHeaders;
  text += "Content-Length: 0\n\n";
  return text;
}

Expected<std::shared_ptr<const RoutingScript>, std::vector<ScriptError>> compileWith(
    std::string_view yaml, const StepRegistry& registry) {
  const YAML::Node root = YAML::Load(std::string(yaml));
  YAML::Node routes;
  for (const auto& pair : root) {
    if (pair.first.Scalar() == "routes") routes = pair.second;
  }
  return compileRoutes(routes, "strowger.yaml", registry);
}

namespace {

const StepRegistry& builtins() {
  static const StepRegistry registry = [] {
    StepRegistry r;
    EXPECT_TRUE(registerBuiltinSteps(r).hasValue());
    return r;
  }();
  return registry;
}

}  // namespace

std::shared_ptr<const RoutingScript> compileOk(std::string_view yaml) {
  auto script = compileWith(yaml, builtins());
  if (!script) {
    std::string all;
    for (const ScriptError& e : script.error())
      all += e.toString() + "\n";
    ADD_FAILURE() << "unexpected errors:\n" << all;
    return nullptr;
  }
  return *script;
}

std::vector<std::string> errorsOf(std::string_view yaml) {
  auto script = compileWith(yaml, builtins());
  std::vector<std::string> out;
  if (script) {
    ADD_FAILURE() << "expected errors, the routes compiled";
    return out;
  }
  for (const ScriptError& e : script.error())
    out.push_back(e.toString());
  return out;
}

std::vector<std::string> run(std::string_view yaml, TestRequest& request) {
  std::shared_ptr<const RoutingScript> script = compileOk(yaml);
  if (!script) return {"(did not compile)"};
  script->runRequest(request.ctx());
  request.keep(std::move(script));
  return request.actions().calls;
}

std::vector<std::string> runHook(std::string_view yaml, std::string_view route,
                                 TestRequest& message, const ReplyView* reply) {
  std::shared_ptr<const RoutingScript> script = compileOk(yaml);
  if (!script) return {"(did not compile)"};
  const Route* hook = script->findRoute(route);
  if (!hook) {
    ADD_FAILURE() << "no route " << route;
    return {"(no such route)"};
  }
  message.ctx().setReply(reply);
  script->runHook(*hook, message.ctx());
  message.keep(std::move(script));
  return message.actions().calls;
}

}  // namespace strowger::script::test
