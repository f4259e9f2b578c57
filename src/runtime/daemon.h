// The running daemon: owns the configuration in service and reacts to signals. SIGHUP replaces the
// configuration only with one that loaded and validated completely; SIGUSR1 logs the statistics;
// SIGTERM and SIGINT stop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "logging.h"
#include "proxy_core.h"
#include "strowger/module/module.h"
#include "strowger/runtime/config.h"
#include "strowger/transport/transport.h"

namespace strowger::runtime {

class Daemon {
 public:
  // `config` must have come from loadConfigFile(configPath) with `overrides` applied, and
  // `logging` must already follow its log section.
  Daemon(std::string configPath, ConfigOverrides overrides, std::shared_ptr<const Config> config,
         Logging& logging);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until SIGTERM or SIGINT; returns the process exit status.
  int run();

  // The configuration in service. Readers keep the pointer for as long as they need one
  // consistent view; a reload never changes a Config in place.
  std::shared_ptr<const Config> config() const { return config_.load(); }

 private:
  // The proxy's view of the transport layer.
  class TransportOutbound final : public proxy::Outbound {
   public:
    explicit TransportOutbound(transport::TransportLayer* t = nullptr) : transport_(t) {}
    transport::SendStatus send(const transport::Destination& to, std::string_view bytes,
                               bool isRequest) override {
      return transport_->send(to, bytes, isRequest);
    }
    std::span<const transport::Listener> listeners() const override {
      return transport_->listeners();
    }
    void post(unsigned worker, std::function<void()> fn) override {
      transport_->post(worker, std::move(fn));
    }

   private:
    transport::TransportLayer* transport_;
  };

  // What the daemon offers its modules.
  class ModuleHost final : public module::Host {
   public:
    ModuleHost(transport::TransportLayer& t, proxy::ProxyCore& proxy)
        : transport_(t), proxy_(proxy) {}
    void claimResponses(std::string branchPrefix, ResponseHandler handler) override {
      proxy_.claimResponses(std::move(branchPrefix), std::move(handler));
    }
    unsigned workerCount() const override { return transport_.workerCount(); }
    void post(unsigned worker, std::function<void()> fn) override {
      transport_.post(worker % transport_.workerCount(), std::move(fn));
    }
    transport::SendStatus send(const transport::Destination& to, std::string_view bytes,
                               bool isRequest) override {
      return transport_.send(to, bytes, isRequest);
    }
    bool connectionOpen(uint64_t id) const override { return transport_.connectionOpen(id); }
    std::span<const transport::Listener> listeners() const override {
      return transport_.listeners();
    }

   private:
    transport::TransportLayer& transport_;
    proxy::ProxyCore& proxy_;
  };

  // Commits the modules of `config` and starts those not started yet.
  Expected<void, std::string> commitModules(const Config& config);
  void logModuleStats();
  void stopModules();

  void awaitSignal();
  void onSignal(int signal);
  void reload();

  std::string configPath_;
  ConfigOverrides overrides_;
  Logging& logging_;
  std::atomic<std::shared_ptr<const Config>> config_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  std::unique_ptr<proxy::ProxyCore> proxy_;
  std::unique_ptr<transport::TransportLayer> transport_;
  std::unique_ptr<TransportOutbound> outbound_;
  std::unique_ptr<ModuleHost> moduleHost_;
};

}  // namespace strowger::runtime
