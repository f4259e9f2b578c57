// The `location` module: the location service (RFC 3261 §10) for registered phones. It owns the
// store (memory, or PostgreSQL write-through or db-only), offers it to the registrar, turns a
// Request-URI into one branch per registered contact (`location.lookup`), removes expired
// bindings on a timer, and keeps NAT bindings and TCP flows of registered phones open with
// keepalives (docs/location.md).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "registrar_rules.h"
#include "store_factory.h"
#include "strowger/location/service.h"
#include "strowger/module/module.h"
#include "strowger/module/section.h"
#include "strowger/sip/uri.h"

namespace strowger::location {
namespace {

// Our keepalive OPTIONS carry branch z9hG4bK + this + the binding's id, so their answers find us.
constexpr std::string_view kKeepaliveBranch = "ka";

struct KeepaliveSettings {
  int64_t intervalSeconds = 0;  // 0: no keepalives
  // A UDP binding whose keepalives have gone unanswered this long is removed (0: never; it
  // expires as registered). Kamailio's nathelper keepalive_timeout.
  int64_t timeoutSeconds = 0;
  bool onlyNatted = true;  // UDP: only bindings registered from behind NAT
  std::string from = "sip:keepalive@invalid";
};

struct Settings {
  StoreSettings store;
  bool useDomain = true;
  int64_t expiryIntervalSeconds = 10;
  KeepaliveSettings keepalive;
};

std::string defaultNodeName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "strowger";
  return name;
}

// Counters the steps and timers bump from any thread.
struct Counters {
  std::atomic<uint64_t> lookups{0}, found{0}, notFound{0}, allExpired{0}, lookupErrors{0};
  std::atomic<uint64_t> keepalives{0}, keepaliveAnswers{0}, deadFlows{0}, unanswered{0};
};

// The next hop that reaches a registered contact: its Path (RFC 3327), the TCP connection it
// registered over (RFC 5626 flows, when this node holds it), the address it registered from when it
// is behind NAT, else the contact itself.
std::optional<script::NextHop> hopFor(const Binding& binding, const std::string& node) {
  if (!binding.path.empty()) {
    // The first Path URI is the next hop; the whole Path becomes the Route of the request.
    std::string_view first = binding.path;
    if (std::size_t comma = first.find(','); comma != std::string_view::npos) {
      first = first.substr(0, comma);
    }
    while (!first.empty() && (first.front() == ' ' || first.front() == '<'))
      first.remove_prefix(1);
    if (std::size_t end = first.find('>'); end != std::string_view::npos) {
      first = first.substr(0, end);
    }
    auto uri = sip::parseUri(first);
    if (!uri) return std::nullopt;
    script::NextHop hop;
    hop.host = std::string(uri->host());
    if (!hop.host.empty() && hop.host.front() == '[')
      hop.host = hop.host.substr(1, hop.host.size() - 2);
    hop.port = uri->hostPort.hasPort ? uri->port() : 0;
    if (sip::equalsIgnoreCase(uri->params.get("transport"), "tcp")) {
      hop.protocol = transport::Protocol::kTcp;
    }
    hop.uri = std::string(first);
    hop.route = binding.path;
    return hop;
  }
  const bool ownFlow = binding.node == node && binding.protocol == transport::Protocol::kTcp &&
                       binding.connection != 0;
  if (ownFlow || binding.natted) {
    script::NextHop hop;
    hop.host = binding.source.ip();
    hop.port = binding.source.port();
    hop.protocol = binding.protocol;
    hop.connection = ownFlow ? binding.connection : 0;
    hop.uri = "sip:" + binding.source.sipHost() + ":" + std::to_string(hop.port) +
              (binding.protocol == transport::Protocol::kTcp ? ";transport=tcp" : "");
    return hop;
  }
  return std::nullopt;
}

class LocationModule;

// `location.lookup`: the Request-URI's bindings become the request's targets.
class LookupStep final : public script::Action {
 public:
  LookupStep(LocationModule& module, std::unique_ptr<const script::Action> notFound,
             std::unique_ptr<const script::Action> expired,
             std::unique_ptr<const script::Action> failed)
      : module_(module),
        notFound_(std::move(notFound)),
        expired_(std::move(expired)),
        failed_(std::move(failed)) {}

  void run(script::MessageContext& ctx) const override;
  std::string describe() const override { return "location.lookup"; }

  // Applies a lookup's outcome to the request (inline, or when a db_only lookup resumes).
  void apply(script::MessageContext& ctx, const LookupOutcome& outcome) const;

 private:
  LocationModule& module_;
  std::unique_ptr<const script::Action> notFound_;
  std::unique_ptr<const script::Action> expired_;
  std::unique_ptr<const script::Action> failed_;
};

class LocationModule final : public module::Module, public LocationService {
 public:
  ~LocationModule() override { stop(); }

  bool configure(module::ConfigureContext& context) override {
    Settings next;
    module::SectionReader reader(context, context.section());
    int mode = 0;
    reader.choice("storage", {"memory", "write_through", "db_only"}, mode);
    next.store.mode = static_cast<StorageMode>(mode);
    reader.string("database", next.store.conninfo);
    reader.integer("pool_size", 1, 64, next.store.poolSize);
    reader.integer("queue", 16, 10'000'000, next.store.queueBound);
    next.store.node = defaultNodeName();
    reader.string("node", next.store.node);
    reader.boolean("use_domain", next.useDomain);
    reader.integer("expiry_interval", 1, 3600, next.expiryIntervalSeconds);
    {
      module::SectionReader keepalive(context, reader.child("keepalive"), "keepalive");
      keepalive.integer("interval", 0, 3600, next.keepalive.intervalSeconds);
      keepalive.integer("timeout", 0, 86400, next.keepalive.timeoutSeconds);
      keepalive.boolean("only_natted", next.keepalive.onlyNatted);
      keepalive.string("from", next.keepalive.from);
      keepalive.finish();
    }
    if (next.store.mode != StorageMode::kMemory && next.store.conninfo.empty()) {
      context.error(context.section(), "database",
                    "missing; storage " + std::string(storageModeName(next.store.mode)) +
                        " needs a PostgreSQL connection string (\"host=/run/postgresql "
                        "dbname=strowger\")");
    }
    const bool ok = reader.finish();

    script::ActionSpec lookup;
    lookup.name = "location.lookup";
    lookup.usage =
        "no parameters, or {not_found: [STEPS], expired: [STEPS], failed: [STEPS]} (defaults: "
        "reply 404, 480, 500)";
    lookup.routeKinds = script::RouteKind::kRequest | script::RouteKind::kFailure;
    lookup.factory = [this](
                         const YAML::Node& params,
                         script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      std::unique_ptr<const script::Action> notFound, expired, failed;
      if (params.IsDefined() && !params.IsNull()) {
        if (!params.IsMap()) {
          compile.expected(params, "no parameters, or a mapping with not_found, expired, failed");
          return nullptr;
        }
        for (const auto& pair : params) {
          const std::string key = pair.first.Scalar();
          if (key == "not_found") {
            notFound = compile.compileSteps(pair.second);
          } else if (key == "expired") {
            expired = compile.compileSteps(pair.second);
          } else if (key == "failed") {
            failed = compile.compileSteps(pair.second);
          } else {
            compile.error(pair.first,
                          "unknown key \"" + key + "\"; expected not_found, expired or failed");
            return nullptr;
          }
        }
      }
      return std::make_unique<LookupStep>(*this, std::move(notFound), std::move(expired),
                                          std::move(failed));
    };
    if (auto added = context.steps().addAction(std::move(lookup)); !added) {
      context.error(context.section(), {}, added.error());
    }
    pending_ = std::move(next);
    return ok;
  }

  void commit() override {
    if (store_ && (pending_.store.mode != settings_.store.mode ||
                   pending_.store.conninfo != settings_.store.conninfo)) {
      spdlog::warn("location: storage changes take effect at the next restart");
      pending_.store = settings_.store;
    }
    std::lock_guard lock(mutex_);
    settings_ = pending_;
    useDomain_ = settings_.useDomain;
  }

  Expected<void, std::string> start(module::Host& host) override {
    host_ = &host;
    store_ = makeStore(settings_.store);
    if (auto started = store_->start(); !started) return unexpected(started.error());
    spdlog::info("location: storage {}{}, node {}", storageModeName(settings_.store.mode),
                 settings_.store.mode == StorageMode::kMemory ? "" : " (PostgreSQL)",
                 settings_.store.node);
    // Answers to our keepalive OPTIONS (branch z9hG4bKka<binding id>.<n>): the binding is alive.
    host.claimResponses(std::string(kKeepaliveBranch), [this](const sip::Message& response,
                                                              const transport::ReceivedMessage&) {
      const auto& via = response.topVia();
      if (!via) return;
      std::string_view id =
          via->branch.substr(sip::kBranchMagicCookie.size() + kKeepaliveBranch.size());
      id = id.substr(0, id.find('.'));
      std::lock_guard lock(probesMutex_);
      if (auto it = probes_.find(std::string(id)); it != probes_.end()) it->second = 0;
      counters_.keepaliveAnswers.fetch_add(1, std::memory_order_relaxed);
    });
    running_ = true;
    timer_ = std::thread([this] { timerLoop(); });
    return {};
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (!running_) return;
      running_ = false;
    }
    wake_.notify_all();
    if (timer_.joinable()) timer_.join();
    if (store_) store_->stop();
  }

  void statistics(module::StatsWriter& out) const override {
    if (!store_) return;
    const StoreStats s = store_->stats();
    out.text("storage", storageModeName(store_->mode()));
    if (store_->mode() != StorageMode::kDbOnly) {  // db_only keeps nothing in memory
      out.counter("aors", s.aors);
      out.counter("bindings", s.bindings);
      out.counter("expired", s.expired);
    }
    out.counter("lookups", counters_.lookups.load());
    out.counter("found", counters_.found.load());
    out.counter("not_found", counters_.notFound.load());
    out.counter("all_expired", counters_.allExpired.load());
    out.counter("lookup_errors", counters_.lookupErrors.load());
    out.counter("keepalives", counters_.keepalives.load());
    out.counter("keepalive_answers", counters_.keepaliveAnswers.load());
    out.counter("unanswered_removed", counters_.unanswered.load());
    out.counter("dead_flows", counters_.deadFlows.load());
    if (store_->mode() != StorageMode::kMemory) {
      out.text("db", s.dbUp ? "up" : "DOWN");
      out.counter("db_writes", s.dbWrites);
      out.counter("db_errors", s.dbErrors);
      if (store_->mode() == StorageMode::kWriteThrough) out.counter("db_owed", s.owed);
    }
  }

  void* service(std::string_view name, uint32_t version) override {
    if (name == kServiceName && version == kServiceVersion) {
      return static_cast<LocationService*>(this);
    }
    return nullptr;
  }

  // --- LocationService ---
  LocationStore* store() override { return store_.get(); }
  const std::string& node() const override { return settings_.store.node; }
  bool useDomain() const override { return useDomain_.load(std::memory_order_relaxed); }

  Counters& counters() { return counters_; }

  // Whether `b` was registered over a TCP connection of this node that has since closed.
  bool flowClosed(const Binding& b) const {
    return host_ != nullptr && b.protocol == transport::Protocol::kTcp && b.connection != 0 &&
           b.node == settings_.store.node && !host_->connectionOpen(b.connection);
  }
  void dropDeadFlow(const Binding& b) {
    counters_.deadFlows.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("location: {} lost its TCP connection from {}; binding removed", b.aor,
                 b.source.toString());
    store_->remove(b.aor, b.id);
  }
  bool started() const { return store_ != nullptr; }

 private:
  // Expiry and keepalives, on a thread of the module's own: neither may hold up a worker.
  void timerLoop() {
    auto nextExpiry = std::chrono::steady_clock::now();
    auto nextKeepalive = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (running_) {
      const auto now = std::chrono::steady_clock::now();
      const Settings settings = settings_;
      if (now >= nextExpiry) {
        lock.unlock();
        store_->expire(systemNow());
        lock.lock();
        nextExpiry = now + std::chrono::seconds(settings.expiryIntervalSeconds);
      }
      if (settings.keepalive.intervalSeconds > 0 && now >= nextKeepalive) {
        lock.unlock();
        sendKeepalives(settings);
        lock.lock();
        nextKeepalive = now + std::chrono::seconds(settings.keepalive.intervalSeconds);
      }
      auto wakeAt = nextExpiry;
      if (settings.keepalive.intervalSeconds > 0) wakeAt = std::min(wakeAt, nextKeepalive);
      wake_.wait_until(lock, wakeAt, [this] { return !running_; });
    }
  }

  // UDP: an OPTIONS to the address each phone registered from keeps its NAT binding open. TCP:
  // a CRLF keepalive (RFC 5626 §4.4.1) on the connection it registered over; a binding whose
  // connection has closed can no longer be reached and is removed.
  void sendKeepalives(const Settings& settings) {
    const int64_t now = systemNow();
    uint64_t sequence = keepaliveSequence_++;
    std::unordered_set<std::string> seen;
    for (const Binding& b : store_->snapshot(now)) {
      if (b.node != settings.store.node) continue;  // another node holds its flow
      if (b.protocol == transport::Protocol::kTcp && b.connection != 0) {
        if (flowClosed(b)) {
          dropDeadFlow(b);
          continue;
        }
        transport::Destination to{transport::Protocol::kTcp, b.source, b.connection,
                                  static_cast<int>(b.listener)};
        host_->send(to, "\r\n\r\n", false);
        counters_.keepalives.fetch_add(1);
        continue;
      }
      if (b.protocol != transport::Protocol::kUdp) continue;
      if (settings.keepalive.onlyNatted && !b.natted) continue;
      seen.insert(b.id);
      if (unanswered(b, now, settings.keepalive.timeoutSeconds)) {
        counters_.unanswered.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("location: {} at {} has not answered keepalives for {} s; binding removed",
                     b.aor, b.source.toString(), settings.keepalive.timeoutSeconds);
        store_->remove(b.aor, b.id);
        continue;
      }
      const transport::Listener* out = nullptr;
      for (const transport::Listener& l : host_->listeners()) {
        if (l.index == b.listener && l.protocol == transport::Protocol::kUdp) out = &l;
      }
      if (out == nullptr) continue;
      const std::string& advertised = out->advertisedHost;
      const std::string host =
          advertised.find(':') != std::string::npos ? "[" + advertised + "]" : advertised;
      const std::string port = std::to_string(out->advertisedPort);
      const std::string id = b.id + "." + std::to_string(sequence);
      std::string options = "OPTIONS " + b.contact + " SIP/2.0\r\n";
      options += "Via: SIP/2.0/UDP " + host + ":" + port + ";branch=z9hG4bK" +
                 std::string(kKeepaliveBranch) + id + "\r\n";
      options += "Max-Forwards: 70\r\n";
      options += "From: <" + settings.keepalive.from + ">;tag=ka" + b.id + "\r\n";
      options += "To: <" + b.contact + ">\r\n";
      options += "Call-ID: ka" + id + "@" + host + "\r\n";
      options += "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
      transport::Destination to{transport::Protocol::kUdp, b.source, 0,
                                static_cast<int>(b.listener)};
      host_->send(to, options, true);
      counters_.keepalives.fetch_add(1);
    }
    std::lock_guard lock(probesMutex_);
    std::erase_if(probes_, [&seen](const auto& probe) { return !seen.contains(probe.first); });
  }

  // Whether `b` has left its keepalives unanswered for `timeout` seconds (0: never). Marks it as
  // waiting for an answer from `now` when it was not.
  bool unanswered(const Binding& b, int64_t now, int64_t timeout) {
    std::lock_guard lock(probesMutex_);
    int64_t& since = probes_[b.id];
    if (since == 0) {
      since = now;
      return false;
    }
    if (timeout <= 0 || now - since < timeout) return false;
    probes_.erase(b.id);
    return true;
  }

  Settings pending_;
  Settings settings_;
  std::atomic<bool> useDomain_{true};
  std::unique_ptr<ManagedStore> store_;
  module::Host* host_ = nullptr;
  Counters counters_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  std::thread timer_;
  uint64_t keepaliveSequence_ = 0;
  // UDP bindings being pinged: since when each has been waiting for an answer (0: answered).
  std::mutex probesMutex_;
  std::unordered_map<std::string, int64_t> probes_;
};

void LookupStep::run(script::MessageContext& ctx) const {
  module_.counters().lookups.fetch_add(1, std::memory_order_relaxed);
  const auto& uri = ctx.requestUri();
  Expected<std::string, registrar::AorErrc> aor =
      uri ? registrar::addressOfRecord(*uri, module_.useDomain())
          : Expected<std::string, registrar::AorErrc>(unexpected(registrar::AorErrc::kNotSip));
  if (!aor) {
    apply(ctx, LookupOutcome{true, false, {}, {}});
    return;
  }
  LocationStore* running = module_.store();
  if (running == nullptr) {
    // Explain mode: no store runs; the request is shown as for an unknown user.
    apply(ctx, LookupOutcome{true, false, {}, {}});
    return;
  }
  LocationStore& store = *running;
  if (store.lookupIsInline()) {
    store.lookup(*aor, systemNow(), [&](LookupOutcome outcome) { apply(ctx, outcome); });
    return;
  }
  // db_only: the database answers on one of its threads; the request waits for it.
  std::shared_ptr<script::Suspension> suspension = ctx.suspend();
  if (!suspension) {
    // Explain mode cannot wait for the database: say so and answer as a failure would.
    apply(ctx, LookupOutcome{false, false, {}, "explain mode does not query the database"});
    return;
  }
  store.lookup(*aor, systemNow(), [this, suspension](LookupOutcome outcome) {
    suspension->resume([this, outcome = std::move(outcome)](script::MessageContext& resumed) {
      apply(resumed, outcome);
    });
  });
}

void LookupStep::apply(script::MessageContext& ctx, const LookupOutcome& outcome) const {
  Counters& counters = module_.counters();
  if (!outcome.ok) {
    counters.lookupErrors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("location.lookup: {}", outcome.error);
    if (failed_) {
      failed_->run(ctx);
    } else {
      ctx.actions().reply(500, "Server Internal Error", {});
    }
    return;
  }
  if (outcome.bindings.empty()) {
    if (outcome.known) {
      counters.allExpired.fetch_add(1, std::memory_order_relaxed);
      if (expired_) {
        expired_->run(ctx);
      } else {
        ctx.actions().reply(480, "Temporarily Unavailable", {});
      }
    } else {
      counters.notFound.fetch_add(1, std::memory_order_relaxed);
      if (notFound_) {
        notFound_->run(ctx);
      } else {
        ctx.actions().reply(404, "Not Found", {});
      }
    }
    return;
  }
  // A phone registered over a TCP connection of this node that has closed cannot be reached
  // (behind NAT, a new connection would not get through): the binding is dead, and goes now
  // rather than at the next keepalive round.
  std::vector<const Binding*> live;
  live.reserve(outcome.bindings.size());
  for (const Binding& b : outcome.bindings) {
    if (module_.flowClosed(b)) {
      module_.dropDeadFlow(b);
      continue;
    }
    live.push_back(&b);
  }
  if (live.empty()) {
    counters.allExpired.fetch_add(1, std::memory_order_relaxed);
    if (expired_) {
      expired_->run(ctx);
    } else {
      ctx.actions().reply(480, "Temporarily Unavailable", {});
    }
    return;
  }
  counters.found.fetch_add(1, std::memory_order_relaxed);
  // The best binding becomes the Request-URI (and its hop the next hop); each other one a branch.
  // `relay` forks them in parallel, or by q-value with `fork: serial`.
  const std::string& node = module_.node();
  const Binding& first = *live.front();
  ctx.setRequestUri(first.contact);
  ctx.nextHop() = hopFor(first, node);
  for (std::size_t i = 1; i < live.size(); ++i) {
    const Binding& b = *live[i];
    script::BranchTarget target;
    target.uri = b.contact;
    target.nextHop = hopFor(b, node);
    target.q = b.qMilli / 1000.0;
    ctx.branches().push_back(std::move(target));
  }
}

}  // namespace
}  // namespace strowger::location

STROWGER_MODULE(strowger::location::LocationModule, "location", "1.0",
                "location service: registered contacts in memory or PostgreSQL, lookups, "
                "keepalives")
