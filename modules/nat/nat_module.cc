// The `nat` module: help for phones behind NAT, in the manner of Kamailio's nathelper.
// `nat.detected` tells whether a message came from behind NAT; `nat.fix_contact` rewrites its
// Contact to the address it really came from, so that requests inside the dialog reach the phone
// through its NAT binding. (Registrations need no fix: the registrar stores the source address of
// a REGISTER and `location.lookup` sends there; the location module's keepalives keep the
// binding open.)
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "strowger/module/module.h"
#include "strowger/module/section.h"
#include "strowger/net/socket_address.h"
#include "strowger/sip/message.h"

namespace strowger::nat {
namespace {

// RFC 1918 private space, RFC 6598 shared (carrier-grade NAT) space, and IPv6 unique local and
// link-local addresses: an address nobody outside can reach.
bool isPrivate(std::string_view host) {
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto address = net::SocketAddress::parse(host, 0);
  if (!address) return false;
  const std::string ip = address->unmapped().ip();
  unsigned a = 0, b = 0;
  if (!address->unmapped().isIpv6() && std::sscanf(ip.c_str(), "%u.%u", &a, &b) == 2) {
    return a == 10 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168) ||
           (a == 100 && b >= 64 && b <= 127);
  }
  return ip.starts_with("fc") || ip.starts_with("fd") || ip.starts_with("fe80");
}

bool sameAddress(std::string_view host, uint16_t port, const net::SocketAddress& source) {
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto address = net::SocketAddress::parse(host, 0);
  if (!address) return true;  // a name: nothing to compare it with
  return address->sameIp(source.unmapped()) && (port == 0 ? 5060 : port) == source.port();
}

// Kamailio's nat_uac_test 1 + 2 + 16 + 64: the Contact names a private address or another
// address than the source; for requests, the top Via's sent-by is not where the request came
// from.
class Detected final : public script::Condition {
 public:
  bool test(script::MessageContext& ctx) const override {
    const net::SocketAddress& source = ctx.received().source;
    const sip::Message& m = ctx.message();
    if (m.isRequest()) {
      const auto& via = m.topVia();
      if (via &&
          !sameAddress(via->sentBy.host, via->sentBy.hasPort ? via->sentBy.port : 0, source)) {
        return true;
      }
    }
    const auto& contacts = m.contacts();
    if (contacts && !contacts->star && !contacts->contacts.empty()) {
      const sip::HostPort& hp = contacts->contacts.front().address.uri.hostPort;
      if (isPrivate(hp.host)) return true;
      auto address = net::SocketAddress::parse(!hp.host.empty() && hp.host.front() == '['
                                                   ? hp.host.substr(1, hp.host.size() - 2)
                                                   : hp.host,
                                               0);
      if (address && !address->sameIp(source.unmapped())) return true;
    }
    return false;
  }
  std::string describe() const override { return "nat.detected"; }
};

// nathelper's fix_nated_contact: the first Contact's host and port become the source address.
class FixContact final : public script::Action {
 public:
  void run(script::MessageContext& ctx) const override {
    const sip::Message& m = ctx.message();
    const auto& contacts = m.contacts();
    if (!contacts || contacts->star || contacts->contacts.empty()) return;
    const sip::HeaderField* header = m.find(sip::HeaderId::kContact);
    if (header == nullptr) return;
    const sip::HostPort& hp = contacts->contacts.front().address.uri.hostPort;
    const std::string_view value = header->value;
    if (hp.host.data() < value.data() ||
        hp.host.data() + hp.host.size() > value.data() + value.size()) {
      return;  // the first Contact is on another header line
    }
    std::size_t begin = static_cast<std::size_t>(hp.host.data() - value.data());
    std::size_t end = begin + hp.host.size();
    if (end < value.size() && value[end] == ':') {
      ++end;
      while (end < value.size() && value[end] >= '0' && value[end] <= '9')
        ++end;
    }
    const net::SocketAddress source = ctx.received().source.unmapped();
    std::string fixed(value.substr(0, begin));
    fixed += source.sipHost();
    fixed += ':';
    fixed += std::to_string(source.port());
    fixed += value.substr(end);
    ctx.editor().replaceHeaderValue(*header, fixed);
  }
  std::string describe() const override { return "nat.fix_contact"; }
};

class NatModule final : public module::Module {
 public:
  bool configure(module::ConfigureContext& context) override {
    module::SectionReader reader(context, context.section());
    bool ok = reader.finish();
    const auto kinds = script::RouteKind::kRequest | script::RouteKind::kReply |
                       script::RouteKind::kFailure | script::RouteKind::kBranch;
    script::ConditionSpec detected;
    detected.name = "nat.detected";
    detected.usage = "true or false";
    detected.routeKinds = kinds;
    detected.factory =
        [](const YAML::Node& params,
           script::CompileContext& compile) -> std::unique_ptr<const script::Condition> {
      if (!params.IsScalar() || (params.Scalar() != "true" && params.Scalar() != "false")) {
        compile.expected(params, "true or false");
        return nullptr;
      }
      if (params.Scalar() == "true") return std::make_unique<Detected>();
      class NotDetected final : public script::Condition {
       public:
        bool test(script::MessageContext& ctx) const override { return !detected_.test(ctx); }
        std::string describe() const override { return "nat.detected == false"; }

       private:
        Detected detected_;
      };
      return std::make_unique<NotDetected>();
    };
    script::ActionSpec fix;
    fix.name = "nat.fix_contact";
    fix.usage = "no parameters";
    fix.routeKinds = script::RouteKind::kRequest | script::RouteKind::kReply;
    fix.factory = [](const YAML::Node& params,
                     script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      if (params.IsDefined() && !params.IsNull()) {
        compile.expected(params, "no parameters");
        return nullptr;
      }
      return std::make_unique<FixContact>();
    };
    for (auto added : {context.steps().addCondition(std::move(detected)),
                       context.steps().addAction(std::move(fix))}) {
      if (!added) {
        context.error(context.section(), {}, added.error());
        ok = false;
      }
    }
    return ok;
  }
  Expected<void, std::string> start(module::Host&) override { return {}; }
};

}  // namespace
}  // namespace strowger::nat

STROWGER_MODULE(strowger::nat::NatModule, "nat", "1.0",
                "NAT help: detect phones behind NAT and fix their Contact")
