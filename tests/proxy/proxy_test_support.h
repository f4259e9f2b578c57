// What the proxy tests share: fake listeners and an Outbound that records every send.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_core.h"
#include "strowger/net/socket_address.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"
#include "strowger/transport/transport.h"

namespace strowger::proxy {

using transport::Destination;
using transport::Listener;
using transport::Protocol;
using transport::SendStatus;

inline net::SocketAddress addressOf(std::string_view ip, uint16_t port) {
  auto a = net::SocketAddress::parse(ip, port);
  EXPECT_TRUE(a.has_value()) << ip;
  return a.value_or(net::SocketAddress());
}

inline Listener makeListener(uint32_t index, Protocol protocol, std::string_view ip,
                             uint16_t port) {
  Listener l;
  l.index = index;
  l.protocol = protocol;
  l.address = addressOf(ip, port);
  l.advertisedHost = std::string(ip);
  l.advertisedPort = port;
  return l;
}

struct Sent {
  Destination to;
  std::string bytes;
  bool isRequest = false;
};

// Keeps every send; answers with `status`.
class RecordingOutbound final : public Outbound {
 public:
  explicit RecordingOutbound(std::vector<Listener> listeners) : listeners_(std::move(listeners)) {}

  SendStatus send(const Destination& to, std::string_view bytes, bool isRequest) override {
    sent.push_back(Sent{to, std::string(bytes), isRequest});
    return status;
  }
  std::span<const Listener> listeners() const override { return listeners_; }

  std::vector<Sent> sent;
  SendStatus status = SendStatus::kSent;

 private:
  std::vector<Listener> listeners_;
};

// The built-in steps only.
inline const script::StepRegistry& builtinRegistry() {
  static const script::StepRegistry registry = [] {
    script::StepRegistry r;
    EXPECT_TRUE(script::registerBuiltinSteps(r).hasValue());
    return r;
  }();
  return registry;
}

// Compiles a `routes:` section with the steps of `registry` (the built-in steps by default); a
// failure is reported and gives null.
inline std::shared_ptr<const script::RoutingScript> compile(
    std::string_view yaml, const script::StepRegistry& registry = builtinRegistry()) {
  auto compiled = script::compileRoutes(YAML::Load(std::string(yaml)), "test.yaml", registry);
  if (!compiled) {
    for (const script::ScriptError& e : compiled.error())
      ADD_FAILURE() << e.toString();
    return nullptr;
  }
  return *compiled;
}

}  // namespace strowger::proxy
