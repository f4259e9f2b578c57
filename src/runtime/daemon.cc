#include "daemon.h"

#include "loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <string_view>
#include <utility>

namespace strowger::runtime {
namespace {

std::string workersText(const Config& config) {
  const unsigned count = effectiveWorkers(config.server);
  std::string out = std::to_string(count) + (count == 1 ? " worker" : " workers");
  if (config.server.workers == kWorkersAuto) out += " (auto)";
  return out;
}

std::string_view signalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

std::shared_ptr<const proxy::ProxySettings> proxySettings(const Config& config) {
  auto settings = std::make_shared<proxy::ProxySettings>();
  settings->script = config.routes;
  settings->limits.maxMessageBytes = config.server.limits.maxMessageBytes;
  settings->limits.maxHeaders = static_cast<uint16_t>(config.server.limits.maxHeaders);
  settings->limits.maxLineBytes = config.server.limits.maxLineBytes;
  const Config::Transactions& tx = config.server.transactions;
  using std::chrono::milliseconds;
  settings->transactions.timers.t1 = milliseconds(tx.t1);
  settings->transactions.timers.t2 = milliseconds(tx.t2);
  settings->transactions.timers.t4 = milliseconds(tx.t4);
  settings->transactions.frTimeout = milliseconds(tx.frTimeout);
  settings->transactions.frInvTimeout = milliseconds(tx.frInvTimeout);
  settings->transactions.maxLive = tx.max;
  settings->transactions.retryAfter = tx.retryAfter;
  return settings;
}

transport::TransportLayer::Options transportOptions(const Config& config) {
  transport::TransportLayer::Options options;
  for (const ListenAddress& address : config.server.listen) {
    transport::TransportLayer::ListenSpec spec;
    spec.protocol = address.transport == Transport::kTcp ? transport::Protocol::kTcp
                                                         : transport::Protocol::kUdp;
    spec.host = address.host;
    spec.port = address.port;
    options.listen.push_back(spec);
  }
  options.workers = effectiveWorkers(config.server);
  options.maxMessageBytes = config.server.limits.maxMessageBytes;
  return options;
}

void logStats(const proxy::ProxyStats& s) {
  spdlog::info(
      "statistics: requests {}, responses {}, forwarded requests {}, forwarded responses {}, "
      "local replies {}, malformed requests {}, malformed responses dropped {}, responses not ours "
      "{}, unroutable responses {}, unhandled {}, dropped by script {}, forward failures {}, "
      "loops {}",
      s.requests, s.responses, s.forwardedRequests, s.forwardedResponses, s.localReplies,
      s.malformedRequests, s.malformedResponses, s.responsesNotOurs, s.unroutableResponses,
      s.unhandled, s.dropped, s.forwardFailures, s.loops);
}

void logStats(const proxy::TransactionStats& s) {
  spdlog::info(
      "transactions: live {}, created {}, completed 1xx/2xx/3xx/4xx/5xx/6xx {}/{}/{}/{}/{}/{}, "
      "timeouts {}, retransmissions {}, absorbed {}, refused {}, cancelled {}, branches {}",
      s.live, s.created, s.completed[1], s.completed[2], s.completed[3], s.completed[4],
      s.completed[5], s.completed[6], s.timeouts, s.retransmissions, s.absorbed, s.refused,
      s.cancelled, s.branches);
}

// Writes a module's statistics as one log line: "module location: bindings 3, db up".
class StatsLine final : public module::StatsWriter {
 public:
  void counter(std::string_view name, uint64_t value) override {
    add(name);
    line_ += std::to_string(value);
  }
  void text(std::string_view name, std::string_view value) override {
    add(name);
    line_ += value;
  }
  const std::string& line() const { return line_; }

 private:
  void add(std::string_view name) {
    if (!line_.empty()) line_ += ", ";
    line_ += name;
    line_ += ' ';
  }
  std::string line_;
};

module::LoadedModule* findLoaded(std::string_view name) {
  for (module::LoadedModule* m : module::ModuleLoader::instance().loaded()) {
    if (m->name == name) return m;
  }
  return nullptr;
}

}  // namespace

Expected<void, std::string> Daemon::commitModules(const Config& config) {
  for (const std::string& name : config.modules.names) {
    module::LoadedModule* m = findLoaded(name);
    if (m == nullptr) continue;  // cannot happen: the config loaded it
    m->instance->commit();
    if (!m->started && moduleHost_) {
      if (auto started = m->instance->start(*moduleHost_); !started) {
        return unexpected("module " + name + ": " + started.error());
      }
      m->started = true;
      spdlog::info("module {} {} started ({})", name, m->descriptor->version, m->path);
    }
  }
  return {};
}

void Daemon::logModuleStats() {
  for (module::LoadedModule* m : module::ModuleLoader::instance().loaded()) {
    if (!m->started) continue;
    StatsLine line;
    m->instance->statistics(line);
    if (!line.line().empty()) spdlog::info("module {}: {}", m->name, line.line());
  }
}

Daemon::Daemon(std::string configPath, ConfigOverrides overrides,
               std::shared_ptr<const Config> config, Logging& logging)
    : configPath_(std::move(configPath)),
      overrides_(overrides),
      logging_(logging),
      config_(std::move(config)),
      signals_(io_) {
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR1);
}

int Daemon::run() {
  awaitSignal();
  const std::shared_ptr<const Config> config = config_.load();
  proxy_ = std::make_unique<proxy::ProxyCore>(proxySettings(*config), nullptr);
  auto created = transport::TransportLayer::create(transportOptions(*config), *proxy_);
  if (!created) {
    spdlog::critical("not starting: {}", created.error());
    return 1;
  }
  transport_ = std::move(created).value();
  outbound_ = std::make_unique<TransportOutbound>(transport_.get());
  proxy_->setOutbound(outbound_.get());
  moduleHost_ = std::make_unique<ModuleHost>(*transport_, *proxy_);
  if (auto started = commitModules(*config); !started) {
    spdlog::critical("not starting: {}", started.error());
    stopModules();
    return 1;
  }
  proxy_->transactions().startTimers(*transport_);
  transport_->start();
  std::string bound;
  for (const transport::Listener& l : transport_->listeners()) {
    if (!bound.empty()) bound += ", ";
    // The form of the configuration's listen entries, with the real port of a port 0 binding.
    bound += (l.protocol == transport::Protocol::kTcp ? "tcp:" : "udp:") + l.address.toString();
  }
  spdlog::info("strowger {} ready: config {}, listen {}, {}", STROWGER_VERSION, configPath_, bound,
               workersText(*config));
  io_.run();
  // In-flight messages finish on the workers; then the sockets close.
  proxy_->transactions().quiesceTimers();
  logModuleStats();
  stopModules();
  transport_->stop();
  proxy_->transactions().stopTimers();
  logStats(proxy_->stats());
  logStats(proxy_->transactionStats());
  spdlog::info("strowger {} stopped", STROWGER_VERSION);
  return 0;
}

void Daemon::stopModules() {
  std::vector<module::LoadedModule*> loaded = module::ModuleLoader::instance().loaded();
  for (auto it = loaded.rbegin(); it != loaded.rend(); ++it) {
    if (!(*it)->started) continue;
    (*it)->instance->stop();
    (*it)->started = false;
  }
}

void Daemon::awaitSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;  // cancelled on the way out
    onSignal(signal);
  });
}

void Daemon::onSignal(int signal) {
  if (signal == SIGUSR1) {
    // The statistics, now, without stopping: each worker's counters summed.
    logStats(proxy_->stats());
    logStats(proxy_->transactionStats());
    logModuleStats();
    awaitSignal();
    return;
  }
  if (signal == SIGHUP) {
    reload();
    awaitSignal();
    return;
  }
  spdlog::info("{} received, stopping", signalName(signal));
  signals_.cancel();
  io_.stop();
}

void Daemon::reload() {
  spdlog::info("SIGHUP received, reloading {}", configPath_);
  Expected<Config, ConfigErrors> loaded = loadConfigFile(configPath_);
  if (!loaded) {
    for (const ConfigError& error : loaded.error())
      spdlog::error("{}", error.toString());
    spdlog::error("reload failed: {} has {} error{}; the running configuration stays in service",
                  configPath_, loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
    return;
  }
  Config next = std::move(loaded).value();
  applyOverrides(next, overrides_);

  const std::shared_ptr<const Config> current = config_.load();
  const Config::Log& oldLog = current->server.log;
  const Config::Log& newLog = next.server.log;
  if (newLog.target != oldLog.target || newLog.file != oldLog.file) {
    // Said where the operator is looking now; the following lines go to the new place.
    spdlog::info("log output moves to {}{}{}", logTargetName(newLog.target),
                 newLog.file.empty() ? "" : " ", newLog.file);
  }
  if (Expected<void, std::string> applied = logging_.apply(next.server.log); !applied) {
    spdlog::error("reload failed: {}; the running configuration stays in service", applied.error());
    return;
  }
  // Sockets and worker threads are set up once, at start. The values in service stay the ones
  // started with, so that config() keeps describing what actually runs, and the operator is told.
  if (next.server.listen != current->server.listen) {
    spdlog::warn("server.listen changed; the new addresses take effect at the next restart");
    next.server.listen = current->server.listen;
  }
  if (next.server.workers != current->server.workers) {
    spdlog::warn("server.workers changed; the new count takes effect at the next restart");
    next.server.workers = current->server.workers;
  }
  for (const std::string& name : current->modules.names) {
    if (std::find(next.modules.names.begin(), next.modules.names.end(), name) ==
        next.modules.names.end()) {
      spdlog::warn("module {} is no longer listed; it stays loaded until the next restart", name);
    }
  }
  if (auto committed = commitModules(next); !committed) {
    spdlog::error("reload: {}", committed.error());
  }
  auto installed = std::make_shared<const Config>(std::move(next));
  if (proxy_) proxy_->update(proxySettings(*installed));
  config_.store(std::move(installed));
  spdlog::info("configuration reloaded from {}; the new configuration is in service", configPath_);
}

}  // namespace strowger::runtime
