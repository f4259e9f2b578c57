#include "cli.h"

#include <optional>

#include "diagnostics.h"

namespace strowger::runtime {
namespace {

enum class OptionId {
  kConfig,
  kCheckConfig,
  kExplain,
  kSource,
  kWorkers,
  kLogLevel,
  kVersion,
  kHelp
};

struct Option {
  OptionId id;
  std::string_view longName;
  std::string_view shortName;  // empty when there is none
  bool takesValue;
};

constexpr Option kOptions[] = {
    {OptionId::kConfig, "--config", "-c", true},
    {OptionId::kCheckConfig, "--check-config", "", true},
    {OptionId::kExplain, "--explain", "", true},
    {OptionId::kSource, "--source", "", true},
    {OptionId::kWorkers, "--workers", "", true},
    {OptionId::kLogLevel, "--log-level", "", true},
    {OptionId::kVersion, "--version", "", false},
    {OptionId::kHelp, "--help", "-h", false},
};

}  // namespace

Expected<CommandLine, std::string> parseCommandLine(std::span<const char* const> args) {
  CommandLine cl;
  std::optional<std::string> config;
  std::optional<std::string> checkConfig;
  std::optional<std::string> explain;
  std::optional<std::string> source;
  bool version = false;
  bool help = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    // "--name=value" as well as "--name value".
    std::string_view name = arg;
    std::optional<std::string_view> inlineValue;
    if (arg.starts_with("--")) {
      if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inlineValue = arg.substr(eq + 1);
      }
    }
    const Option* option = nullptr;
    for (const Option& candidate : kOptions) {
      if (name == candidate.longName ||
          (!candidate.shortName.empty() && name == candidate.shortName)) {
        option = &candidate;
      }
    }
    if (option == nullptr) {
      if (!arg.starts_with("-")) return unexpected("unexpected argument " + inQuotes(arg));
      return unexpected("unknown option " + inQuotes(arg));
    }

    std::string_view value;
    if (option->takesValue) {
      if (inlineValue) {
        value = *inlineValue;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return unexpected(std::string(option->longName) + " needs a value");
      }
      if (value.empty()) return unexpected(std::string(option->longName) + " needs a value");
    } else if (inlineValue) {
      return unexpected(std::string(option->longName) + " takes no value");
    }

    // A repeated option is refused rather than letting the last one win: in a unit file or a
    // script that has grown over time, two values usually mean one of them is a mistake.
    const std::string twice = std::string(option->longName) + " given twice";
    switch (option->id) {
      case OptionId::kConfig:
        if (config) return unexpected(twice);
        config = std::string(value);
        break;
      case OptionId::kCheckConfig:
        if (checkConfig) return unexpected(twice);
        checkConfig = std::string(value);
        break;
      case OptionId::kExplain:
        if (explain) return unexpected(twice);
        explain = std::string(value);
        break;
      case OptionId::kSource:
        if (source) return unexpected(twice);
        source = std::string(value);
        break;
      case OptionId::kWorkers: {
        if (cl.overrides.workers) return unexpected(twice);
        Expected<unsigned, std::string> workers = parseWorkers(value);
        if (!workers) return unexpected("--workers: " + workers.error());
        cl.overrides.workers = *workers;
        break;
      }
      case OptionId::kLogLevel:
        if (cl.overrides.logLevel) return unexpected(twice);
        cl.overrides.logLevel = parseLogLevel(value);
        if (!cl.overrides.logLevel) {
          return unexpected("--log-level: expected one of " + listOf(logLevelNames()) + ", got " +
                            inQuotes(value));
        }
        break;
      case OptionId::kVersion:
        version = true;
        break;
      case OptionId::kHelp:
        help = true;
        break;
    }
  }

  if (help) {
    cl.mode = CommandLine::Mode::kHelp;
  } else if (version) {
    cl.mode = CommandLine::Mode::kVersion;
  } else if (explain) {
    if (!config) return unexpected(std::string("--explain needs the configuration: -c FILE"));
    cl.mode = CommandLine::Mode::kExplain;
    cl.configPath = *config;
    cl.explainFile = *explain;
    if (source) cl.explainSource = *source;
  } else if (source) {
    return unexpected(std::string("--source only goes with --explain"));
  } else if (config && checkConfig) {
    return unexpected(std::string("--config and --check-config exclude each other"));
  } else if (checkConfig) {
    cl.mode = CommandLine::Mode::kCheckConfig;
    cl.configPath = *checkConfig;
  } else if (config) {
    cl.mode = CommandLine::Mode::kRun;
    cl.configPath = *config;
  } else {
    return unexpected(
        std::string("no configuration file given; use -c FILE to run or --check-config FILE"));
  }
  return cl;
}

std::string usageText() {
  return "Usage: strowger -c FILE [--workers N] [--log-level LEVEL]\n"
         "       strowger --check-config FILE\n"
         "       strowger --explain MESSAGE.sip -c FILE [--source udp:IP:PORT]\n"
         "       strowger --version | --help\n"
         "\n"
         "  -c, --config FILE        run in the foreground with the configuration in FILE;\n"
         "                           SIGHUP reloads FILE, SIGTERM or SIGINT stop\n"
         "      --check-config FILE  validate FILE and exit: 0 if valid, 1 with the errors if not\n"
         "      --explain MESSAGE    run the SIP message in MESSAGE through the routing script of\n"
         "                           FILE without sending anything; print each step, each\n"
         "                           condition's outcome and where the message would go\n"
         "      --source ADDR        where the explained message comes from (udp:127.0.0.1:5062)\n"
         "      --workers N          \"auto\" or 1..256 worker threads; overrides server.workers\n"
         "      --log-level LEVEL    trace, debug, info, warning, error, critical or off;\n"
         "                           overrides server.log.level\n"
         "      --version            print the version and exit\n"
         "  -h, --help               print this help and exit\n"
         "\n"
         "Exit status: 0 success, 1 invalid configuration or start-up failure, 2 bad usage.\n";
}

}  // namespace strowger::runtime
