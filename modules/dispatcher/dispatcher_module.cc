// The `dispatcher` module: load balancing over sets of gateways, their health checked with OPTIONS
// probes and with the failures of real calls, and failover to the next destination from a failure
// route (docs/dispatcher.md). The logic lives in the core library (config, selection, health,
// runtime, db_source); this file wires it to the SDK: steps, the probe timer, the loader thread
// that reads the sets stored in PostgreSQL, and the statistics.
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "config.h"
#include "db_source.h"
#include "health.h"
#include "runtime.h"
#include "selection.h"
#include "strowger/module/module.h"
#include "strowger/script/request_state.h"
#include "strowger/sip/uri.h"

namespace strowger::dispatcher {
namespace {

constexpr std::string_view kStateKey = "dispatcher";
// How often the probe timer looks for probes to send and probes timed out.
constexpr auto kTimerTick = std::chrono::milliseconds(100);

// What the data plane reads: the sets and the settings of one configuration, swapped whole.
struct Service {
  std::shared_ptr<const Snapshot> sets;
  FailoverSettings failover;
  ProbeSettings probe;
  HealthRules rules;
};

// Counters the steps, the probe timer and the answers bump from any thread.
struct Counters {
  std::atomic<uint64_t> selections{0}, failovers{0}, allDown{0}, exhausted{0};
  std::atomic<uint64_t> probesSent{0}, probeAnswers{0}, probeTimeouts{0}, probeSendErrors{0};
  // Transitions by kind: [from][to], indexed by HealthState.
  std::array<std::array<std::atomic<uint64_t>, 4>, 4> transitions{};
};

class DispatcherModule;

class SelectStep final : public script::Action {
 public:
  // `unstarted` serves when no configuration has gone into service: explain mode and
  // --check-config, where the sets being checked are all there is.
  SelectStep(DispatcherModule& module, SelectParams params,
             std::shared_ptr<const Service> unstarted)
      : module_(module), params_(std::move(params)), unstarted_(std::move(unstarted)) {}
  void run(script::MessageContext& ctx) const override;
  std::string describe() const override {
    return "dispatcher.select " + params_.set +
           (params_.algorithm ? " (" + std::string(algorithmName(*params_.algorithm)) + ")" : "");
  }

 private:
  DispatcherModule& module_;
  SelectParams params_;
  std::shared_ptr<const Service> unstarted_;
};

class NextAction final : public script::Action {
 public:
  explicit NextAction(DispatcherModule& module) : module_(module) {}
  void run(script::MessageContext& ctx) const override;
  std::string describe() const override { return "dispatcher.next"; }

 private:
  DispatcherModule& module_;
};

class NextCondition final : public script::Condition {
 public:
  NextCondition(DispatcherModule& module, bool expected) : module_(module), expected_(expected) {}
  bool test(script::MessageContext& ctx) const override;
  std::string describe() const override {
    return std::string("dispatcher.next == ") + (expected_ ? "true" : "false");
  }

 private:
  DispatcherModule& module_;
  bool expected_;
};

std::optional<bool> readBoolean(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  if (node.Scalar() == "true") return true;
  if (node.Scalar() == "false") return false;
  return std::nullopt;
}

class DispatcherModule final : public module::Module {
 public:
  ~DispatcherModule() override { stop(); }

  bool configure(module::ConfigureContext& context) override {
    DispatcherConfig next;
    const bool ok = readConfig(context, next);
    pending_ = std::make_shared<DispatcherConfig>(std::move(next));

    script::ActionSpec select;
    select.name = "dispatcher.select";
    select.usage = std::string(kSelectUsage);
    select.routeKinds = script::RouteKind::kRequest;
    // The sets the steps name are those of the configuration being loaded (pending_), which
    // commit() puts in service together with the script these steps belong to.
    select.factory = [this, config = pending_](
                         const YAML::Node& params,
                         script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      auto parsed = readSelectParams(params, compile, *config);
      if (!parsed) return nullptr;
      return std::make_unique<SelectStep>(*this, std::move(*parsed), makeService(*config));
    };
    addAction(context, std::move(select));

    script::ActionSpec nextAction;
    nextAction.name = "dispatcher.next";
    nextAction.usage = "no parameters";
    nextAction.routeKinds = script::RouteKind::kFailure;
    nextAction.factory =
        [this](const YAML::Node& params,
               script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
      if (params.IsDefined() && !params.IsNull()) {
        compile.expected(params, "no parameters");
        return nullptr;
      }
      return std::make_unique<NextAction>(*this);
    };
    addAction(context, std::move(nextAction));

    script::ConditionSpec nextCondition;
    nextCondition.name = "dispatcher.next";
    nextCondition.usage = "true or false";
    nextCondition.routeKinds = script::RouteKind::kFailure;
    nextCondition.factory =
        [this](const YAML::Node& params,
               script::CompileContext& compile) -> std::unique_ptr<const script::Condition> {
      auto expected = readBoolean(params);
      if (!expected) {
        compile.expected(params, "true or false");
        return nullptr;
      }
      return std::make_unique<NextCondition>(*this, *expected);
    };
    if (auto added = context.steps().addCondition(std::move(nextCondition)); !added) {
      context.error(context.section(), {}, added.error());
    }
    for (const char* variable : {"dst.uri", "dst.set", "dst.attr.*"}) {
      if (auto added = context.steps().addVariable(variable); !added) {
        context.error(context.section(), {}, added.error());
      }
    }
    return ok;
  }

  // The service `config` describes, with fresh destinations (explain mode and --check-config).
  static std::shared_ptr<const Service> makeService(const DispatcherConfig& config) {
    uint64_t ids = 1;
    auto made = settingsOf(config);
    made->sets = buildSnapshot(config, nullptr, ids);
    return made;
  }

  static std::shared_ptr<Service> settingsOf(const DispatcherConfig& config) {
    auto made = std::make_shared<Service>();
    made->failover = config.failover;
    made->probe = config.probe;
    made->rules = HealthRules{config.probe.failuresToInactive, config.probe.successesToActive,
                              config.probe.intervalSeconds > 0};
    return made;
  }

  // The sets of the file go into service at once; those from the database keep the destinations
  // of the last accepted load until the table has been read again (on the loader thread).
  void commit() override {
    std::lock_guard lock(controlMutex_);
    active_ = pending_;
    databaseConfigured_.store(active_->database.has_value(), std::memory_order_relaxed);
    installLocked();
    if (active_->database && host_ != nullptr) requestLoad();
  }

  Expected<void, std::string> start(module::Host& host) override {
    {
      std::lock_guard lock(controlMutex_);
      host_ = &host;
      std::shared_ptr<const Service> current = inService();
      if (current) {
        // The snapshot is not yet shared with a worker: its listeners are filled in place.
        auto& sets = const_cast<Snapshot&>(*current->sets);
        if (auto mapped = mapListeners(sets); !mapped) return unexpected(mapped.error());
      }
    }
    startLoader();
    host.claimResponses(std::string(kProbeBranchPrefix),
                        [this](const sip::Message& response, const transport::ReceivedMessage&) {
                          onProbeAnswer(response);
                        });
    {
      std::lock_guard lock(timerMutex_);
      running_ = true;
    }
    timer_ = std::thread([this] { timerLoop(); });
    return {};
  }

  void stop() override {
    {
      std::lock_guard lock(loaderMutex_);
      loaderRunning_ = false;
    }
    loaderWake_.notify_all();
    if (loader_.joinable()) loader_.join();
    {
      std::lock_guard lock(timerMutex_);
      if (!running_) return;
      running_ = false;
    }
    wake_.notify_all();
    if (timer_.joinable()) timer_.join();
  }

  void statistics(module::StatsWriter& out) const override {
    out.counter("selections", counters_.selections.load());
    out.counter("failovers", counters_.failovers.load());
    out.counter("failover_exhausted", counters_.exhausted.load());
    out.counter("all_down", counters_.allDown.load());
    out.counter("probes", counters_.probesSent.load());
    out.counter("probe_answers", counters_.probeAnswers.load());
    out.counter("probe_timeouts", counters_.probeTimeouts.load());
    out.counter("probe_send_errors", counters_.probeSendErrors.load());
    if (databaseConfigured_.load(std::memory_order_relaxed)) {
      out.text("db", dbUp_.load() ? "up" : "DOWN");
      out.counter("db_loads", dbLoads_.load());
      out.counter("db_failures", dbFailures_.load());
      out.counter("db_rejected", dbRejected_.load());
      out.counter("db_rows", dbRows_.load());
    }
    constexpr std::array<std::string_view, 4> kShort = {"active", "probing", "inactive",
                                                        "disabled"};
    for (std::size_t from = 0; from < 4; ++from) {
      for (std::size_t to = 0; to < 4; ++to) {
        const uint64_t n = counters_.transitions[from][to].load();
        if (n != 0) {
          out.counter(std::string(kShort[from]) + "_to_" + std::string(kShort[to]), n);
        }
      }
    }
    std::shared_ptr<const Service> current = inService();
    if (!current) return;
    for (const SetRuntime& set : current->sets->sets) {
      for (const DestinationEntry& d : set.destinations) {
        const DestinationStatus& s = *d.status;
        out.text(set.name + " " + d.config.uri,
                 std::string(healthStateName(s.health.state())) + " (selected " +
                     std::to_string(s.selections.load()) + ", live " +
                     std::to_string(s.liveCalls.load()) + ", failed " +
                     std::to_string(s.failures.load()) + ")");
      }
    }
  }

  std::shared_ptr<const Service> inService() const {
    std::lock_guard lock(serviceMutex_);
    return service_;
  }

  Counters& counters() { return counters_; }

  // Logs and counts a transition of `destination` of `set`.
  void report(std::string_view set, const DestinationEntry& destination,
              const std::optional<Transition>& transition) {
    if (!transition) return;
    counters_
        .transitions[static_cast<std::size_t>(transition->from)]
                    [static_cast<std::size_t>(transition->to)]
        .fetch_add(1, std::memory_order_relaxed);
    spdlog::info("dispatcher: {} {} {} -> {} ({})", set, destination.config.uri,
                 healthStateName(transition->from), healthStateName(transition->to),
                 transition->reason);
  }

  // Points the request at the attempt's current destination: next hop, variables, Request-URI.
  void apply(script::MessageContext& ctx, Attempt& attempt) {
    const DestinationEntry& destination = attempt.current();
    ctx.nextHop() = hopFor(destination);
    if (attempt.rewriteRuri) {
      if (auto rewritten = rewriteHostPort(ctx.requestUriText(), destination.config)) {
        ctx.setRequestUri(std::move(*rewritten));
      }
    }
    script::RequestState& state = ctx.state();
    state.setVariable("dst.uri", destination.config.uri);
    state.setVariable("dst.set", attempt.set->name);
    state.clearVariables("dst.attr.");
    for (const auto& [name, value] : destination.config.attrs) {
      state.setVariable("dst.attr." + name, value);
    }
    destination.status->selections.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  void addAction(module::ConfigureContext& context, script::ActionSpec spec) {
    if (auto added = context.steps().addAction(std::move(spec)); !added) {
      context.error(context.section(), {}, added.error());
    }
  }

  // Fills each destination's listener from its `socket`.
  Expected<void, std::string> mapListeners(Snapshot& sets) const {
    for (SetRuntime& set : sets.sets) {
      for (DestinationEntry& d : set.destinations) {
        d.listener = -1;
        if (!d.config.socket) continue;
        const SocketSpec& socket = *d.config.socket;
        auto wanted = net::SocketAddress::parse(socket.host, socket.port);
        for (const transport::Listener& l : host_->listeners()) {
          if (l.protocol == socket.protocol && wanted && l.address == *wanted) {
            d.listener = static_cast<int>(l.index);
          }
        }
        if (d.listener < 0) {
          return unexpected("set " + set.name + ", destination " + d.config.uri + ": socket \"" +
                            socket.text + "\" is not one of this proxy's listen addresses");
        }
      }
    }
    return {};
  }

  // Puts the configuration in service (active_) with the database sets of the last accepted load:
  // a new snapshot that keeps the state of every destination still there, swapped whole.
  // controlMutex_ is held.
  void installLocked() {
    DispatcherConfig merged = *active_;
    if (dbSets_) mergeDatabaseSets(merged, *dbSets_);
    const std::shared_ptr<const Service> previous = inService();
    auto sets = buildSnapshot(merged, previous ? previous->sets.get() : nullptr, nextId_);
    auto next = settingsOf(merged);
    if (host_ != nullptr) {
      if (auto mapped = mapListeners(*sets); !mapped)
        spdlog::warn("dispatcher: {}", mapped.error());
    }
    applyAdminState(*sets, merged, next->rules);
    next->sets = std::move(sets);
    {
      std::lock_guard serviceLock(serviceMutex_);
      service_ = std::move(next);
    }
    wake_.notify_all();  // new probe settings take effect now
  }

  // --- the sets stored in PostgreSQL ---

  enum class LoadOutcome : uint8_t { kNothingToLoad, kLoaded, kRejected, kDatabaseDown };

  // Starts the loader thread and, with a database configured, waits (at most its load_timeout) for
  // the first load, so that the first calls find the sets filled when the database is up.
  void startLoader() {
    std::shared_ptr<const DispatcherConfig> config;
    {
      std::lock_guard lock(controlMutex_);
      config = active_;
    }
    {
      std::lock_guard lock(loaderMutex_);
      loaderRunning_ = true;
    }
    loader_ = std::thread([this] { loaderLoop(); });
    if (!config || !config->database) return;
    const auto timeout = std::chrono::seconds(config->database->loadTimeoutSeconds);
    std::unique_lock lock(loaderMutex_);
    const uint64_t before = loadsFinished_;
    loadWanted_ = true;
    loaderWake_.notify_all();
    if (!loaderWake_.wait_for(lock, timeout, [&] { return loadsFinished_ != before; })) {
      spdlog::warn(
          "dispatcher: the database has not answered within {} s; the sets from table {} "
          "start empty and fill when it does",
          timeout.count(), config->database->table);
    }
  }

  // Asks the loader thread for a load (a reload). controlMutex_ may be held.
  void requestLoad() {
    {
      std::lock_guard lock(loaderMutex_);
      loadWanted_ = true;
    }
    loaderWake_.notify_all();
  }

  // Loads when asked; while the database cannot be read, tries again every retry_interval until
  // it can (a rejected table is not retried: the next reload reads it again).
  void loaderLoop() {
    std::unique_lock lock(loaderMutex_);
    bool retrying = false;
    std::chrono::seconds retryInterval{5};
    while (true) {
      auto woken = [this] { return !loaderRunning_ || loadWanted_; };
      if (retrying) {
        loaderWake_.wait_for(lock, retryInterval, woken);
      } else {
        loaderWake_.wait(lock, woken);
      }
      if (!loaderRunning_) return;
      // A retry says nothing while the database stays down; a load someone asked for says why it
      // failed, once.
      const bool asked = loadWanted_;
      loadWanted_ = false;
      lock.unlock();
      const LoadOutcome outcome = loadOnce(asked, retryInterval);
      lock.lock();
      retrying = outcome == LoadOutcome::kDatabaseDown;
      ++loadsFinished_;
      loaderWake_.notify_all();
    }
  }

  // Reads the table, checks it whole, and puts it in service. Runs on the loader thread.
  LoadOutcome loadOnce(bool warn, std::chrono::seconds& retryInterval) {
    std::shared_ptr<const DispatcherConfig> config;
    {
      std::lock_guard lock(controlMutex_);
      config = active_;
    }
    if (!config || !config->database) return LoadOutcome::kNothingToLoad;
    const DatabaseSettings& database = *config->database;
    retryInterval = std::chrono::seconds(database.retryIntervalSeconds);
    auto rows = fetchRows(database, std::chrono::seconds(database.loadTimeoutSeconds));
    if (!rows) {
      dbFailures_.fetch_add(1, std::memory_order_relaxed);
      const bool wasUp = dbUp_.exchange(false);
      if (warn || wasUp) {
        spdlog::warn(
            "dispatcher: database DOWN: {}; the sets in service stay as they are; trying again "
            "every {} s",
            rows.error(), database.retryIntervalSeconds);
      }
      return LoadOutcome::kDatabaseDown;
    }
    if (!dbUp_.exchange(true) && dbFailures_.load() != 0) {
      spdlog::info("dispatcher: database up again");
    }
    auto sets = setsFromRows(*rows, [this](const SocketSpec& socket) {
      auto wanted = net::SocketAddress::parse(socket.host, socket.port);
      for (const transport::Listener& l : host_->listeners()) {
        if (wanted && l.protocol == socket.protocol && l.address == *wanted) return true;
      }
      return false;
    });
    if (!sets) {
      dbRejected_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("dispatcher: table {} refused: {}; the sets in service stay as they are",
                    database.table, sets.error());
      return LoadOutcome::kRejected;
    }
    std::string summary;
    {
      std::lock_guard lock(controlMutex_);
      dbSets_ = std::make_shared<const DbSets>(std::move(sets.value()));
      installLocked();
      for (const SetConfig& set : active_->sets) {
        if (!set.fromDatabase) continue;
        const auto found = dbSets_->find(set.name);
        const std::size_t n = found == dbSets_->end() ? 0 : found->second.size();
        summary += (summary.empty() ? "" : ", ") + set.name + " " + std::to_string(n);
      }
    }
    dbRows_.store(rows->size(), std::memory_order_relaxed);
    dbLoads_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("dispatcher: loaded {} rows from table {}; destinations by set: {}", rows->size(),
                 database.table, summary.empty() ? std::string("(no set from_database)") : summary);
    return LoadOutcome::kLoaded;
  }

  // The admin state file: the destinations it lists are disabled, the others enabled again.
  void applyAdminState(const Snapshot& sets, const DispatcherConfig& config,
                       const HealthRules& rules) {
    for (const SetRuntime& set : sets.sets) {
      for (const DestinationEntry& d : set.destinations) {
        if (config.adminDisabled.contains(DestinationKey{set.name, d.config.uri})) {
          report(set.name, d, d.status->health.disable());
        } else {
          report(set.name, d, d.status->health.enable(rules));
        }
      }
    }
  }

  void timerLoop() {
    std::unique_lock lock(timerMutex_);
    while (running_) {
      lock.unlock();
      probeRound(Clock::now());
      lock.lock();
      wake_.wait_for(lock, kTimerTick, [this] { return !running_; });
    }
  }

  // Fails the probes that have waited too long and sends the ones that are due.
  void probeRound(Clock::time_point now) {
    std::shared_ptr<const Service> current = inService();
    if (!current || current->probe.intervalSeconds <= 0) return;
    const auto interval = std::chrono::milliseconds(current->probe.intervalSeconds * 1000);
    const auto timeout = std::chrono::milliseconds(current->probe.timeoutSeconds * 1000);
    const bool probeActive = current->probe.mode == ProbeMode::kAll;
    for (const SetRuntime& set : current->sets->sets) {
      for (const DestinationEntry& d : set.destinations) {
        Health& health = d.status->health;
        if (health.probeOutstanding()) {
          auto transition = health.checkProbeTimeout(now, timeout, current->rules);
          if (!health.probeOutstanding()) {
            counters_.probeTimeouts.fetch_add(1, std::memory_order_relaxed);
          }
          report(set.name, d, transition);
        }
        if (health.probeDue(now, probeActive)) sendProbe(*current, set, d, now, interval);
      }
    }
  }

  void sendProbe(const Service& service, const SetRuntime& set, const DestinationEntry& d,
                 Clock::time_point now, std::chrono::milliseconds interval) {
    const transport::Protocol protocol = d.config.protocol.value_or(transport::Protocol::kUdp);
    const uint16_t port = d.config.port != 0 ? d.config.port : 5060;
    auto address = net::SocketAddress::parse(d.config.host, port);
    Health& health = d.status->health;
    const uint64_t sequence = health.startProbe(now, interval);
    const transport::Listener* from = nullptr;
    if (address) {
      for (const transport::Listener& l : host_->listeners()) {
        const bool wanted = d.listener >= 0
                                ? static_cast<int>(l.index) == d.listener
                                : l.protocol == protocol && l.address.isIpv6() == address->isIpv6();
        if (wanted && from == nullptr) from = &l;
      }
    }
    if (from == nullptr) {
      counters_.probeSendErrors.fetch_add(1, std::memory_order_relaxed);
      report(set.name, d, health.probeNotSent(sequence, "no listener can reach it", service.rules));
      return;
    }
    ProbeRequest probe;
    probe.method = service.probe.method;
    probe.target = d.config.uri;
    probe.from = service.probe.from;
    probe.viaProtocol = transport::protocolName(from->protocol);
    probe.viaHost = from->advertisedHost;
    probe.viaPort = from->advertisedPort;
    probe.destinationId = d.status->id;
    probe.sequence = sequence;
    const std::string bytes = buildProbe(probe);
    const transport::Destination to{protocol, *address, 0, static_cast<int>(from->index)};
    counters_.probesSent.fetch_add(1, std::memory_order_relaxed);
    const transport::SendStatus sent = host_->send(to, bytes, true);
    if (sent != transport::SendStatus::kSent) {
      counters_.probeSendErrors.fetch_add(1, std::memory_order_relaxed);
      report(set.name, d, health.probeNotSent(sequence, "send error", service.rules));
    }
  }

  void onProbeAnswer(const sip::Message& response) {
    const auto& via = response.topVia();
    if (!via) return;
    auto probe = parseProbeBranch(via->branch);
    const uint16_t code = response.statusCode();
    if (!probe || code < 200) return;
    counters_.probeAnswers.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<const Service> current = inService();
    if (!current) return;
    for (const SetRuntime& set : current->sets->sets) {
      for (const DestinationEntry& d : set.destinations) {
        if (d.status->id != probe->first) continue;
        report(set.name, d,
               d.status->health.probeAnswered(
                   probe->second, current->probe.aliveCodes.contains(code), code, current->rules));
        return;
      }
    }
  }

  std::shared_ptr<DispatcherConfig> pending_;
  std::shared_ptr<const DispatcherConfig> active_;  // in service; controlMutex_
  std::shared_ptr<const DbSets> dbSets_;            // the last accepted load; controlMutex_
  std::mutex controlMutex_;  // configure/commit/start/the loader's swap against each other
  mutable std::mutex serviceMutex_;
  std::shared_ptr<const Service> service_;
  uint64_t nextId_ = 1;
  module::Host* host_ = nullptr;
  Counters counters_;
  std::mutex timerMutex_;
  std::condition_variable wake_;
  bool running_ = false;
  std::thread timer_;
  // The loader thread: loadWanted_, loaderRunning_ and loadsFinished_ are under loaderMutex_.
  std::mutex loaderMutex_;
  std::condition_variable loaderWake_;
  bool loadWanted_ = false;
  bool loaderRunning_ = false;
  uint64_t loadsFinished_ = 0;
  std::thread loader_;
  std::atomic<bool> databaseConfigured_{false};
  std::atomic<bool> dbUp_{false};
  std::atomic<uint64_t> dbLoads_{0}, dbFailures_{0}, dbRejected_{0}, dbRows_{0};
};

uint64_t randomDraw() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

// The text the set's hash algorithm hashes: a URI as user@host, the Call-ID, the user who
// authenticated.
std::string hashSubject(Algorithm algorithm, const script::MessageContext& ctx) {
  const sip::Message& message = ctx.message();
  auto userAtHost = [](const sip::Uri& uri) {
    return std::string(uri.user) + "@" + std::string(uri.host());
  };
  const std::string callId = message.callId() ? std::string(*message.callId()) : std::string();
  switch (algorithm) {
    case Algorithm::kHashCallId:
      return callId;
    case Algorithm::kHashFrom:
      return message.from() ? userAtHost(message.from()->uri) : std::string();
    case Algorithm::kHashTo:
      return message.to() ? userAtHost(message.to()->uri) : std::string();
    case Algorithm::kHashRuri:
      return ctx.requestUri() ? userAtHost(*ctx.requestUri()) : std::string();
    case Algorithm::kHashAuthUser: {
      if (const script::RequestState* state = ctx.stateIfAny()) {
        if (const std::string* user = state->variable("auth.user"); user && !user->empty()) {
          return *user;
        }
      }
      for (sip::HeaderId id : {sip::HeaderId::kAuthorization, sip::HeaderId::kProxyAuthorization}) {
        for (const sip::HeaderField& field : message.headers()) {
          if (field.id != id) continue;
          if (auto user = digestUsername(field.value); !user.empty()) return std::string(user);
        }
      }
      // No credentials: the Call-ID keeps at least each call on one destination.
      return callId;
    }
    default:
      return {};
  }
}

void SelectStep::run(script::MessageContext& ctx) const {
  std::shared_ptr<const Service> service = module_.inService();
  if (!service) service = unstarted_;
  const SetRuntime* set = service ? service->sets->find(params_.set) : nullptr;
  if (set == nullptr) {
    // Only a request still running a script whose set a reload has just removed.
    spdlog::warn("dispatcher.select: set {} is no longer configured", params_.set);
    ctx.actions().reply(params_.allDownCode, params_.allDownReason, {});
    return;
  }
  std::vector<Candidate> usableNow;
  usableNow.reserve(set->destinations.size());
  for (std::size_t i = 0; i < set->destinations.size(); ++i) {
    const DestinationEntry& d = set->destinations[i];
    if (!usable(d.status->health.state())) continue;
    usableNow.push_back(Candidate{i, d.config.weight, d.config.priority,
                                  d.status->liveCalls.load(std::memory_order_relaxed)});
  }
  if (usableNow.empty()) {
    module_.counters().allDown.fetch_add(1, std::memory_order_relaxed);
    ctx.actions().reply(params_.allDownCode, params_.allDownReason, {});
    return;
  }
  const Algorithm algorithm = params_.algorithm.value_or(set->algorithm);
  SelectionInput input;
  switch (algorithm) {
    case Algorithm::kRoundRobin:
    case Algorithm::kLeastCalls:
      input.counter = set->counter->fetch_add(1, std::memory_order_relaxed);
      break;
    case Algorithm::kRandom:
    case Algorithm::kWeighted:
      input.random = randomDraw();
      break;
    default:
      input.hash = hashKey(hashSubject(algorithm, ctx));
      break;
  }
  auto attempt = std::make_shared<Attempt>();
  attempt->snapshot = service->sets;
  attempt->set = set;
  attempt->order = orderCandidates(algorithm, usableNow, input);
  attempt->maxAttempts = params_.maxAttempts.value_or(service->failover.maxAttempts);
  attempt->rewriteRuri = params_.rewriteRuri;
  attempt->liveCall.moveTo(attempt->current().status);
  module_.counters().selections.fetch_add(1, std::memory_order_relaxed);
  module_.apply(ctx, *attempt);
  ctx.state().attach(kStateKey, attempt);
}

// dispatcher.next: whether the failure route's request was moved to another destination.
bool tryNext(DispatcherModule& module, script::MessageContext& ctx) {
  const script::RequestState* state = ctx.stateIfAny();
  Attempt* attempt = state ? state->attached<Attempt>(kStateKey) : nullptr;
  const script::ReplyView* reply = ctx.reply();
  if (attempt == nullptr || reply == nullptr) return false;
  std::shared_ptr<const Service> service = module.inService();
  if (!service) return false;
  const bool noAnswer = reply->message == nullptr;
  if (!noAnswer && !service->failover.codes.contains(reply->code)) return false;
  const DestinationEntry& failed = attempt->current();
  failed.status->failures.fetch_add(1, std::memory_order_relaxed);
  // A request that got no answer (timeout, or it could not be sent) is a failure of the
  // destination, as a failed probe is; a destination that answers, even 503, is alive, and the
  // call simply moves on. Only when probes run: nothing else could bring a destination back.
  if (noAnswer && service->rules.probing) {
    std::string what = reply->code == 408 ? "timeout" : "could not send";
    module.report(attempt->set->name, failed,
                  failed.status->health.failure(Failure{FailureSource::kTraffic, std::move(what)},
                                                service->rules));
  }
  if (attempt->attempts >= attempt->maxAttempts) {
    module.counters().exhausted.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  for (std::size_t next = attempt->position + 1; next < attempt->order.size(); ++next) {
    const DestinationEntry& candidate = attempt->set->destinations[attempt->order[next]];
    if (!usable(candidate.status->health.state())) continue;
    attempt->position = next;
    ++attempt->attempts;
    attempt->liveCall.moveTo(candidate.status);
    module.counters().failovers.fetch_add(1, std::memory_order_relaxed);
    module.apply(ctx, *attempt);
    return true;
  }
  module.counters().exhausted.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void NextAction::run(script::MessageContext& ctx) const {
  tryNext(module_, ctx);
}

bool NextCondition::test(script::MessageContext& ctx) const {
  return tryNext(module_, ctx) == expected_;
}

}  // namespace
}  // namespace strowger::dispatcher

STROWGER_MODULE(strowger::dispatcher::DispatcherModule, "dispatcher", "1.0",
                "load balancing over gateways, OPTIONS health checks, failover")
