// strowger: the SIP proxy and registrar daemon. Runs in the foreground; a service manager
// (packaging/systemd/strowger.service) supplies backgrounding, restarts and the log collection.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <span>
#include <string>

#include "cli.h"
#include "daemon.h"
#include "explain.h"
#include "logging.h"
#include "strowger/runtime/config.h"

namespace {

using strowger::runtime::CommandLine;
using strowger::runtime::Config;
using strowger::runtime::ConfigErrors;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void printErrors(const ConfigErrors& errors) {
  for (const auto& error : errors)
    std::cerr << error.toString() << '\n';
}

std::string errorCount(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " error" : " errors");
}

int checkConfig(const CommandLine& cl) {
  strowger::Expected<Config, ConfigErrors> config =
      strowger::runtime::loadConfigFile(cl.configPath);
  if (!config) {
    printErrors(config.error());
    std::cerr << cl.configPath << ": configuration invalid (" << errorCount(config.error().size())
              << ")\n";
    return kExitFailure;
  }
  std::cout << cl.configPath << ": configuration OK\n";
  return kExitOk;
}

int explain(const CommandLine& cl) {
  strowger::Expected<Config, ConfigErrors> config =
      strowger::runtime::loadConfigFile(cl.configPath);
  if (!config) {
    printErrors(config.error());
    std::cerr << cl.configPath << ": configuration invalid (" << errorCount(config.error().size())
              << ")\n";
    return kExitFailure;
  }
  return strowger::runtime::explainMessage(*config, cl.explainFile, cl.explainSource, std::cout);
}

int runDaemon(const CommandLine& cl) {
  strowger::Expected<Config, ConfigErrors> loaded =
      strowger::runtime::loadConfigFile(cl.configPath);
  if (!loaded) {
    printErrors(loaded.error());
    std::cerr << "strowger: not starting: " << cl.configPath << " has "
              << errorCount(loaded.error().size()) << '\n';
    return kExitFailure;
  }
  Config config = std::move(loaded).value();
  strowger::runtime::applyOverrides(config, cl.overrides);

  strowger::runtime::Logging logging;
  if (auto applied = logging.apply(config.server.log); !applied) {
    std::cerr << "strowger: not starting: " << applied.error() << '\n';
    return kExitFailure;
  }
  // A peer that closes a TCP connection must cost an error code on the write, not the process.
  std::signal(SIGPIPE, SIG_IGN);

  strowger::runtime::Daemon daemon(cl.configPath, cl.overrides,
                                   std::make_shared<const Config>(std::move(config)), logging);
  return daemon.run();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::span<const char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
    strowger::Expected<CommandLine, std::string> cl = strowger::runtime::parseCommandLine(args);
    if (!cl) {
      std::cerr << "strowger: " << cl.error() << "\nTry 'strowger --help' for more information.\n";
      return kExitUsage;
    }
    switch (cl->mode) {
      case CommandLine::Mode::kHelp:
        std::cout << strowger::runtime::usageText();
        return kExitOk;
      case CommandLine::Mode::kVersion:
        std::cout << "strowger " << STROWGER_VERSION << '\n';
        return kExitOk;
      case CommandLine::Mode::kCheckConfig:
        return checkConfig(*cl);
      case CommandLine::Mode::kExplain:
        return explain(*cl);
      case CommandLine::Mode::kRun:
        return runDaemon(*cl);
    }
  } catch (const std::exception& e) {
    // Nothing on the way here is expected to throw; if something does, say what before dying.
    std::cerr << "strowger: fatal: " << e.what() << '\n';
  }
  return kExitFailure;
}
