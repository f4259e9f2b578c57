// Shared fixtures of the script tests: a request parsed from text, a ProxyActions that records what
// the script asked for, a Tracer that records what explain mode would print, and compile helpers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/script/context.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"

namespace strowger::script::test {

// Records every call, one line each: "reply 404 Not Found", "forward sip:10.0.0.1:5070",
// "forward (default)", "relay sip:10.0.0.1:5070 parallel", "relay (default) serial",
// "record_route", "loose_route", "drop".
class RecordingActions final : public ProxyActions {
 public:
  void reply(uint16_t status, std::string_view reason,
             std::span<const std::string> headers) override;
  bool forward(const NextHop* hop) override;
  bool relay(const NextHop* hop, ForkMode mode) override;
  void recordRoute() override { calls.push_back("record_route"); }
  bool looseRoute() override {
    calls.push_back("loose_route");
    return looseRouteResult;
  }
  bool isLocal(std::string_view host, uint16_t port) const override;
  void drop() override { calls.push_back("drop"); }
  // A Suspension that does nothing when `canSuspend` (the test resumes the script itself), else
  // none, as in explain mode.
  std::shared_ptr<Suspension> suspend() override;

  std::vector<std::string> calls;
  bool canSuspend = false;
  std::optional<NextHop> forwardedTo;  // the hop forward() was given
  bool forwardResult = true;
  std::optional<NextHop> relayedTo;  // the hop relay() was given
  bool relayResult = true;
  bool looseRouteResult = false;
  // What isLocal() accepts: "host" (any port) or "host:port".
  std::vector<std::string> localAddresses = {"192.0.2.1", "proxy.example.com:5060"};
};

// "route NAME @DEPTH", "step DESCRIPTION (line N) @DEPTH", "if DESCRIPTION -> true (line N)
// @DEPTH".
class RecordingTracer final : public Tracer {
 public:
  void enterRoute(std::string_view route, int depth) override;
  void step(std::string_view description, int line, int depth) override;
  void condition(std::string_view description, bool outcome, int line, int depth) override;

  std::vector<std::string> lines;
};

// Sets a socket address from a numeric IP and a port.
void setAddress(net::SocketAddress& address, const std::string& ip, uint16_t port);

// One received request, parsed, with an editor, a recording ProxyActions and a context.
class TestRequest {
 public:
  // `text` uses LF line ends; they become CRLF. Fails the test when it does not parse.
  explicit TestRequest(std::string_view text, std::string_view sourceIp = "192.0.2.10",
                       uint16_t sourcePort = 5060,
                       transport::Protocol protocol = transport::Protocol::kUdp,
                       bool withTracer = false);

  MessageContext& ctx() { return *ctx_; }
  RecordingActions& actions() { return actions_; }
  RecordingTracer& tracer() { return tracer_; }
  const sip::Message& message() const { return message_; }
  // The message as it would leave, with the editor's changes.
  std::string edited() const;
  // The script run() or runHook() ran this message through, kept alive with the message: the
  // context's hooks point into it.
  const RoutingScript* script() const { return script_.get(); }
  void keep(std::shared_ptr<const RoutingScript> script) { script_ = std::move(script); }

 private:
  std::string bytes_;
  sip::Message message_;
  std::unique_ptr<sip::MessageEditor> editor_;
  transport::ReceivedMessage received_;
  RecordingActions actions_;
  RecordingTracer tracer_;
  std::unique_ptr<MessageContext> ctx_;
  std::shared_ptr<const RoutingScript> script_;
};

// A plain INVITE from alice@example.com to `ruri`, with LF line ends.
std::string invite(std::string_view ruri = "sip:bob@example.com",
                   std::string_view extraHeaders = "");

// Compiles the `routes:` section of `yaml` (a whole configuration text) with the built-in steps.
std::shared_ptr<const RoutingScript> compileOk(std::string_view yaml);
// Compiles and returns every error as "file:line:column: path: message".
std::vector<std::string> errorsOf(std::string_view yaml);
// The same with a given registry.
Expected<std::shared_ptr<const RoutingScript>, std::vector<ScriptError>> compileWith(
    std::string_view yaml, const StepRegistry& registry);

// Compiles `routes` and runs `request` through it; returns the recorded ProxyActions calls.
std::vector<std::string> run(std::string_view yaml, TestRequest& request);

// Compiles `routes` and runs the route `route` (of any kind) for `message` as the transaction
// would: with `reply` as the context's reply. Returns the recorded ProxyActions calls.
std::vector<std::string> runHook(std::string_view yaml, std::string_view route,
                                 TestRequest& message, const ReplyView* reply = nullptr);

}  // namespace strowger::script::test
