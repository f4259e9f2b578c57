// Finds, loads and keeps the modules a configuration lists. A module is loaded once per process
// and never unloaded: its steps may be in a routing script that messages are still running through
// when a reload replaces the configuration, and unloading code that may run is never safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/module/module.h"

namespace strowger::module {

struct LoadedModule {
  std::string name;
  std::string path;
  const ModuleDescriptor* descriptor = nullptr;
  std::unique_ptr<Module> instance;
  bool started = false;
};

class ModuleLoader {
 public:
  // The process's loader.
  static ModuleLoader& instance();

  // The module NAME from `directory` (loaded on the first call, the same instance afterwards).
  // The error says what went wrong and what to do: no such file (with the directory searched),
  // not a Strowger module, built for another ABI or by another build, a dlopen error (such as an
  // undefined symbol).
  Expected<LoadedModule*, std::string> load(std::string_view name, const std::string& directory);

  // Whether `directory` holds a module file NAME.so (for "step of a module that is not loaded").
  static bool available(std::string_view name, const std::string& directory);

  // Every module loaded so far, in load order.
  std::vector<LoadedModule*> loaded();

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<LoadedModule>> modules_;
};

// Where modules are looked for when the configuration names no directory: $STROWGER_MODULE_DIR,
// else a `modules` directory beside the running executable (a build tree), else the installed
// directory (<libdir>/strowger/modules).
std::string defaultModuleDirectory();

}  // namespace strowger::module
