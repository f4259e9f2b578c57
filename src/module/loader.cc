#include "loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace strowger::module {

ModuleLoader& ModuleLoader::instance() {
  static ModuleLoader loader;
  return loader;
}

bool ModuleLoader::available(std::string_view name, const std::string& directory) {
  std::error_code ec;
  return std::filesystem::is_regular_file(
      std::filesystem::path(directory) / (std::string(name) + ".so"), ec);
}

Expected<LoadedModule*, std::string> ModuleLoader::load(std::string_view name,
                                                        const std::string& directory) {
  std::lock_guard lock(mutex_);
  for (const auto& m : modules_) {
    if (m->name == name) return m.get();
  }
  const std::string path =
      (std::filesystem::path(directory) / (std::string(name) + ".so")).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return unexpected("no module file " + path + " (module directory " + directory +
                      "; set modules.directory, or check the name)");
  }
  // RTLD_NOW: an undefined symbol is reported here, at load, not when a step first runs.
  // RTLD_LOCAL: modules do not see each other's symbols; they meet through Module::service().
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return unexpected("cannot load " + path + ": " + std::string(why ? why : "unknown error"));
  }
  auto fail = [&](std::string message) -> Expected<LoadedModule*, std::string> {
    ::dlclose(handle);
    return unexpected(std::move(message));
  };
  using DescriptorFn = const ModuleDescriptor* (*)();
  void* symbol = ::dlsym(handle, kDescriptorSymbol);
  if (symbol == nullptr) {
    return fail(path + " is not a Strowger module (it exports no " +
                std::string(kDescriptorSymbol) + ")");
  }
  const ModuleDescriptor* descriptor = reinterpret_cast<DescriptorFn>(symbol)();
  if (descriptor == nullptr) return fail(path + " returned no module descriptor");
  if (descriptor->abiVersion != kAbiVersion) {
    return fail(path + " was built for module ABI " + std::to_string(descriptor->abiVersion) +
                ", and this strowger " STROWGER_VERSION " has module ABI " +
                std::to_string(kAbiVersion) +
                "; rebuild the module against this version's SDK (include/strowger/module/)");
  }
  if (descriptor->buildStamp == nullptr ||
      std::strcmp(descriptor->buildStamp, STROWGER_MODULE_BUILD_STAMP) != 0) {
    return fail(path + " was built with " +
                std::string(descriptor->buildStamp ? descriptor->buildStamp : "(none)") +
                ", and this strowger with " STROWGER_MODULE_BUILD_STAMP
                "; rebuild the module with the same compiler settings");
  }
  if (descriptor->name == nullptr || name != descriptor->name) {
    return fail(path + " calls itself \"" + std::string(descriptor->name ? descriptor->name : "") +
                "\"; a module's file must be named after it");
  }
  auto loaded = std::make_unique<LoadedModule>();
  loaded->name = std::string(name);
  loaded->path = path;
  loaded->descriptor = descriptor;
  loaded->instance.reset(descriptor->create());
  if (!loaded->instance) return fail(path + ": the module could not be created");
  // The handle is kept open for the life of the process (see loader.h).
  modules_.push_back(std::move(loaded));
  return modules_.back().get();
}

std::vector<LoadedModule*> ModuleLoader::loaded() {
  std::lock_guard lock(mutex_);
  std::vector<LoadedModule*> out;
  for (const auto& m : modules_)
    out.push_back(m.get());
  return out;
}

std::string defaultModuleDirectory() {
  if (const char* env = std::getenv("STROWGER_MODULE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = exe.parent_path() / "modules";
    if (std::filesystem::is_directory(beside, ec)) return beside.string();
  }
  return STROWGER_INSTALLED_MODULE_DIR;
}

}  // namespace strowger::module
