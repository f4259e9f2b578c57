// The command line of the strowger program.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "strowger/expected.h"
#include "strowger/runtime/config.h"

namespace strowger::runtime {

struct CommandLine {
  enum class Mode { kRun, kCheckConfig, kExplain, kVersion, kHelp };

  Mode mode = Mode::kRun;
  std::string configPath;
  ConfigOverrides overrides;
  // --explain: the message file, and where it pretends to come from ("udp:IP:PORT").
  std::string explainFile;
  std::string explainSource = "udp:127.0.0.1:5062";
};

// `args` excludes the program name. The error is one line for the operator, without the program
// name; the caller adds it and exits with status 2.
Expected<CommandLine, std::string> parseCommandLine(std::span<const char* const> args);

std::string usageText();

}  // namespace strowger::runtime
