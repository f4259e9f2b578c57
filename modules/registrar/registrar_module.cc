// The `registrar` module: `registrar.save` answers a REGISTER as RFC 3261 §10.3 says, storing
// its bindings in the location module's store (docs/registrar.md). The rules themselves are in
// registrar_rules.cc; this file reads the settings, runs them against the store, and answers
// once the store has the change (for PostgreSQL write-through: once the database has it, so a
// restart loses no binding that was answered 200).
#include <spdlog/spdlog.h>

#include <atomic>
#include <ctime>
#include <memory>

#include "registrar_rules.h"
#include "strowger/location/service.h"
#include "strowger/module/module.h"
#include "strowger/module/section.h"
#include "strowger/net/socket_address.h"

namespace strowger::registrar {
namespace {

using location::LocationService;
using location::UpdateOutcome;

int64_t unixNow() {
  return static_cast<int64_t>(std::time(nullptr));
}

struct Counters {
  std::atomic<uint64_t> registers{0}, accepted{0}, refused{0}, storeFailures{0}, notDurable{0};
};

// A phone is behind NAT when its Contact names a numeric address other than the one its
// REGISTER came from: requests for it must then go to the source address (nathelper's
// fix_nated_register, done at save time).
bool behindNat(const ParsedRegister& request) {
  for (const RegisteredContact& c : request.contacts) {
    auto uri = sip::parseUri(c.uri);
    if (!uri) continue;
    std::string_view host = uri->host();
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    auto address = net::SocketAddress::parse(host, 0);
    if (!address) continue;  // a name: nothing to compare
    if (!address->sameIp(request.origin.source.unmapped())) return true;
  }
  return false;
}

// `persistent`: the store writes to PostgreSQL, so an answer from memory alone is counted.
void answer(script::MessageContext& ctx, const ParsedRegister& request, const Decision& decision,
            const UpdateOutcome& outcome, Counters& counters, bool persistent) {
  if (!outcome.applied) {
    counters.storeFailures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("registrar: {} not saved: {}", request.aor, outcome.error);
    ctx.actions().reply(500, "Server Internal Error", {});
    return;
  }
  if (!decision.ok()) {
    counters.refused.fetch_add(1, std::memory_order_relaxed);
    ctx.actions().reply(decision.status, decision.reason, {});
    return;
  }
  counters.accepted.fetch_add(1, std::memory_order_relaxed);
  if (!outcome.durable && persistent) {
    counters.notDurable.fetch_add(1, std::memory_order_relaxed);
  }
  const std::vector<std::string> lines = okHeaderLines(request, outcome.bindings, unixNow());
  ctx.actions().reply(200, "OK", lines);
}

class SaveStep final : public script::Action {
 public:
  SaveStep(LocationService& location, std::shared_ptr<const RegistrarSettings> settings,
           bool natDetect, Counters& counters)
      : location_(location),
        settings_(std::move(settings)),
        natDetect_(natDetect),
        counters_(counters) {}

  void run(script::MessageContext& ctx) const override {
    counters_.registers.fetch_add(1, std::memory_order_relaxed);
    const transport::ReceivedMessage& received = ctx.received();
    const Origin origin{received.protocol, received.source.unmapped(), received.listener,
                        received.connection};
    // The location module's use_domain and node, read once per configuration: they are fixed
    // while it runs (a reload builds new steps).
    std::shared_ptr<const RegistrarSettings> shared = resolved_.load(std::memory_order_acquire);
    if (!shared) {
      auto settings = std::make_shared<RegistrarSettings>(*settings_);
      settings->useDomain = location_.useDomain();
      settings->node = location_.node();
      shared = settings;
      resolved_.store(shared, std::memory_order_release);
    }
    Expected<ParsedRegister, Rejection> parsed = parseRegister(ctx.message(), origin, *shared);
    if (!parsed) {
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      ctx.actions().reply(parsed.error().status, parsed.error().reason, parsed.error().headerLines);
      return;
    }
    auto request = std::make_shared<ParsedRegister>(std::move(parsed).value());
    if (natDetect_) request->natted = behindNat(*request);
    auto decision = std::make_shared<Decision>();
    location::DecideFn decide = [request, decision, shared](
                                    const std::vector<location::Binding>& current, int64_t now) {
      return registrar::decide(*request, *shared, current, now, *decision);
    };
    location::LocationStore* running = location_.store();
    if (running == nullptr) {
      // Explain mode: no store runs; show what the registrar would answer without storing.
      ctx.actions().reply(200, "OK", {});
      return;
    }
    location::LocationStore& store = *running;
    if (store.mode() == location::StorageMode::kMemory) {
      store.update(request->aor, std::move(decide), [&](UpdateOutcome outcome) {
        answer(ctx, *request, *decision, outcome, counters_, false);
      });
      return;
    }
    // PostgreSQL: the answer waits until the database has the change (or it is owed).
    std::shared_ptr<script::Suspension> suspension = ctx.suspend();
    if (!suspension) {
      ctx.actions().reply(500, "Server Internal Error", {});
      return;
    }
    Counters& counters = counters_;
    store.update(request->aor, std::move(decide),
                 [suspension, request, decision, &counters](UpdateOutcome outcome) {
                   suspension->resume([request, decision, &counters, outcome = std::move(outcome)](
                                          script::MessageContext& resumed) {
                     answer(resumed, *request, *decision, outcome, counters, true);
                   });
                 });
  }

  std::string describe() const override { return "registrar.save"; }

 private:
  LocationService& location_;
  std::shared_ptr<const RegistrarSettings> settings_;
  // The settings with the location module's values filled in, on the first REGISTER (after the
  // configuration went into service, so they are that configuration's). The one cache of a step:
  // set once, the same by whichever worker sets it.
  mutable std::atomic<std::shared_ptr<const RegistrarSettings>> resolved_;
  bool natDetect_;
  Counters& counters_;
};

class RegistrarModule final : public module::Module {
 public:
  bool configure(module::ConfigureContext& context) override {
    auto settings = std::make_shared<RegistrarSettings>();
    module::SectionReader reader(context, context.section());
    reader.integer("default_expires", 1, 604800, settings->defaultExpires);
    reader.integer("min_expires", 0, 604800, settings->minExpires);
    reader.integer("max_expires", 1, 604800, settings->maxExpires);
    reader.integer("max_contacts", 0, 1024, settings->maxContacts);
    int onMax = 0;
    reader.choice("on_max_contacts", {"reject", "drop_oldest"}, onMax);
    settings->onMaxContacts = static_cast<RegistrarSettings::OnMaxContacts>(onMax);
    reader.boolean("path", settings->storePath);
    reader.boolean("reject_path_without_support", settings->rejectPathWithoutSupport);
    bool natDetect = true;
    reader.boolean("nat_detect", natDetect);
    bool ok = reader.finish();
    if (settings->minExpires > settings->maxExpires) {
      context.error(context.section(), "min_expires", "must not be larger than max_expires");
      ok = false;
    }
    if (settings->defaultExpires > settings->maxExpires ||
        settings->defaultExpires < settings->minExpires) {
      context.error(context.section(), "default_expires",
                    "must lie between min_expires and max_expires");
      ok = false;
    }
    module::Module* location = context.findModule(location::kServiceName);
    auto* service = location == nullptr ? nullptr
                                        : static_cast<LocationService*>(location->service(
                                              location::kServiceName, location::kServiceVersion));
    if (service == nullptr) {
      context.error(context.section(), {},
                    "the registrar stores bindings in the location module: list \"location:\" "
                    "before \"registrar:\" under \"modules:\"");
      return false;
    }
    script::ActionSpec save;
    save.name = "registrar.save";
    save.usage = "no parameters";
    save.factory = [service, settings, natDetect, this](
                       const YAML::Node& params,
                       script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      if (params.IsDefined() && !params.IsNull()) {
        compile.expected(params, "no parameters");
        return nullptr;
      }
      return std::make_unique<SaveStep>(*service, settings, natDetect, counters_);
    };
    if (auto added = context.steps().addAction(std::move(save)); !added) {
      context.error(context.section(), {}, added.error());
      ok = false;
    }
    return ok;
  }

  Expected<void, std::string> start(module::Host&) override { return {}; }

  void statistics(module::StatsWriter& out) const override {
    out.counter("registers", counters_.registers.load());
    out.counter("accepted", counters_.accepted.load());
    out.counter("refused", counters_.refused.load());
    out.counter("store_failures", counters_.storeFailures.load());
    out.counter("not_durable", counters_.notDurable.load());
  }

 private:
  Counters counters_;
};

}  // namespace
}  // namespace strowger::registrar

STROWGER_MODULE(strowger::registrar::RegistrarModule, "registrar", "1.0",
                "registrar: REGISTER handling (RFC 3261 §10.3, Path, outbound instance ids)")
