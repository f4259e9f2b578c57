// The `path` module (RFC 3327): `path.add` puts this proxy's Path on a REGISTER it relays to a
// registrar behind it (a PBX), so that calls to the phone come back through this proxy. With
// `received: true` the Path carries the address the REGISTER came from, and a request that comes
// back with that Route goes to that address: a phone behind NAT is reached through the binding it
// registered from (Kamailio's add_path_received).
#include <atomic>
#include <memory>
#include <string>

#include "strowger/module/module.h"
#include "strowger/module/section.h"

namespace strowger::path {
namespace {

class AddPath final : public script::Action {
 public:
  AddPath(std::atomic<module::Host*>& host, bool received) : host_(host), received_(received) {}

  void run(script::MessageContext& ctx) const override {
    module::Host* host = host_.load(std::memory_order_acquire);
    if (host == nullptr) return;
    const transport::ReceivedMessage& in = ctx.received();
    const transport::Listener* listener = nullptr;
    for (const transport::Listener& l : host->listeners()) {
      if (l.index == in.listener) listener = &l;
    }
    if (listener == nullptr) return;
    const std::string& advertised = listener->advertisedHost;
    std::string value = "<sip:";
    value += advertised.find(':') != std::string::npos ? "[" + advertised + "]" : advertised;
    value += ':' + std::to_string(listener->advertisedPort);
    if (listener->protocol == transport::Protocol::kTcp) value += ";transport=tcp";
    value += ";lr";
    if (received_) {
      // The source as a SIP URI, its ';' and '=' escaped so it stays one parameter value.
      const net::SocketAddress source = in.source.unmapped();
      value += ";received=sip:" + source.sipHost() + ":" + std::to_string(source.port());
      if (in.protocol == transport::Protocol::kTcp) value += "%3Btransport%3Dtcp";
    }
    value += '>';
    ctx.editor().prependHeader("Path", value);
  }
  std::string describe() const override {
    return received_ ? "path.add (with received)" : "path.add";
  }

 private:
  std::atomic<module::Host*>& host_;
  bool received_;
};

class PathModule final : public module::Module {
 public:
  bool configure(module::ConfigureContext& context) override {
    module::SectionReader reader(context, context.section());
    bool ok = reader.finish();
    script::ActionSpec add;
    add.name = "path.add";
    add.usage = "no parameters, or {received: true}";
    add.factory = [this](const YAML::Node& params,
                         script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      bool received = false;
      if (params.IsDefined() && !params.IsNull()) {
        if (!params.IsMap()) {
          compile.expected(params, "no parameters, or {received: true}");
          return nullptr;
        }
        for (const auto& pair : params) {
          if (pair.first.Scalar() != "received") {
            compile.error(pair.first,
                          "unknown key \"" + pair.first.Scalar() + "\"; expected received");
            return nullptr;
          }
          if (!pair.second.IsScalar() ||
              (pair.second.Scalar() != "true" && pair.second.Scalar() != "false")) {
            compile.expected(pair.second, "true or false");
            return nullptr;
          }
          received = pair.second.Scalar() == "true";
        }
      }
      return std::make_unique<AddPath>(host_, received);
    };
    if (auto added = context.steps().addAction(std::move(add)); !added) {
      context.error(context.section(), {}, added.error());
      ok = false;
    }
    return ok;
  }
  Expected<void, std::string> start(module::Host& host) override {
    host_.store(&host, std::memory_order_release);
    return {};
  }
  void stop() override { host_.store(nullptr, std::memory_order_release); }

 private:
  std::atomic<module::Host*> host_{nullptr};
};

}  // namespace
}  // namespace strowger::path

STROWGER_MODULE(strowger::path::PathModule, "path", "1.0",
                "Path (RFC 3327) for REGISTERs relayed to a registrar behind this proxy")
