// The module SDK: what a loadable module (modules/<name>/, built as <name>.so) implements and what
// the daemon offers it. A module registers routing steps, reads its own section of the
// configuration, starts and stops with the daemon, does slow work (a database) off the event loop
// and resumes the message when it is done (MessageContext::suspend), and publishes statistics.
//
// The daemon names no module. It loads the ones the `modules:` section lists, by name, from the
// module directory, and refuses a module built against another SDK (kAbiVersion) or by another
// compiler or standard library (the build stamp), saying which.
//
// Threads: configure() and commit() run on the daemon's control thread (start-up and reload);
// start() and stop() too. Steps run on the worker threads, many at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "strowger/expected.h"
#include "strowger/script/registry.h"
#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"

namespace strowger::module {

// Raised on every change to this SDK's headers that changes a type's layout or a virtual table.
inline constexpr uint32_t kAbiVersion = 3;

// What the module and the daemon were built with: C++ classes cross the boundary, so both sides
// must agree on the compiler's ABI, the standard library's and whether sanitizers are on.
#define STROWGER_STRINGIFY_INNER(x) #x
#define STROWGER_STRINGIFY(x) STROWGER_STRINGIFY_INNER(x)
#if defined(__SANITIZE_ADDRESS__)
#define STROWGER_BUILD_SANITIZER "asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STROWGER_BUILD_SANITIZER "asan"
#endif
#endif
#ifndef STROWGER_BUILD_SANITIZER
#define STROWGER_BUILD_SANITIZER "plain"
#endif
#define STROWGER_MODULE_BUILD_STAMP                                                      \
  "gxx-abi-" STROWGER_STRINGIFY(__GXX_ABI_VERSION) "/glibcxx-cxx11-" STROWGER_STRINGIFY( \
      _GLIBCXX_USE_CXX11_ABI) "/" STROWGER_BUILD_SANITIZER

class Module;

// What a module's .so exports (STROWGER_MODULE below). `abiVersion` comes first and stays first
// in every version, so that a daemon can read it from a module of any version.
struct ModuleDescriptor {
  uint32_t abiVersion;
  const char* buildStamp;
  const char* name;         // equals the file name without ".so"; the prefix of the module's steps
  const char* version;      // the module's own version, for logs
  const char* description;  // one line
  Module* (*create)();      // a new instance; the daemon owns it
};

inline constexpr const char* kDescriptorSymbol = "strowger_module_descriptor";

// Receives a module's statistics: one call per counter.
class StatsWriter {
 public:
  virtual ~StatsWriter() = default;
  virtual void counter(std::string_view name, uint64_t value) = 0;
  virtual void text(std::string_view name, std::string_view value) = 0;
};

// What configure() may ask while it reads the module's section.
class ConfigureContext {
 public:
  virtual ~ConfigureContext() = default;
  virtual std::string_view file() const = 0;  // the configuration file, for messages
  // The module's section: the value of `modules: {NAME: ...}`; null when written without one.
  virtual const YAML::Node& section() const = 0;
  // Reports an error at `node` (at the module's key when `node` has no position). `key` is the
  // dotted path below the section ("storage.mode"); `message` says what was expected.
  virtual void error(const YAML::Node& node, std::string_view key, std::string message) = 0;
  // Where the module's steps go; a step's name must start with "<module name>.".
  virtual script::StepRegistry& steps() = 0;
  // Another module of this configuration that is listed before this one (modules are configured
  // in the order the section lists them), or null. For modules that build on each other, such
  // as the registrar on the location service.
  virtual Module* findModule(std::string_view name) = 0;
};

// What the daemon offers a started module.
class Host {
 public:
  virtual ~Host() = default;
  virtual unsigned workerCount() const = 0;
  // Runs `fn` on a worker's event loop. Safe from any thread.
  virtual void post(unsigned worker, std::function<void()> fn) = 0;
  // Sends bytes as the proxy does (keepalives). Safe from any thread.
  virtual transport::SendStatus send(const transport::Destination& to, std::string_view bytes,
                                     bool isRequest) = 0;
  // Whether the TCP connection `id` is still open (a registered flow).
  virtual bool connectionOpen(uint64_t id) const = 0;
  virtual std::span<const transport::Listener> listeners() const = 0;
  // Responses to requests the module sent itself (keepalive OPTIONS): each response whose top
  // Via is this proxy's and whose branch starts with `branchPrefix` (after "z9hG4bK") goes to
  // `handler`, on a worker thread, and nowhere else. The prefix must be the module's own.
  using ResponseHandler =
      std::function<void(const sip::Message& response, const transport::ReceivedMessage& from)>;
  virtual void claimResponses(std::string branchPrefix, ResponseHandler handler) = 0;
};

class Module {
 public:
  virtual ~Module() = default;

  // Reads the module's section and registers its steps. Called for every configuration that is
  // loaded: at start, on each reload, and by --check-config. It must not change what the running
  // module does: settings it reads go into the steps it registers, or are kept as pending until
  // commit(). Returns false when it reported an error.
  virtual bool configure(ConfigureContext& context) = 0;
  // The configuration configure() last accepted goes into service (before start(), and on each
  // successful reload).
  virtual void commit() {}
  // Once, after the first commit(), before the workers take traffic. An error stops the daemon
  // from starting.
  virtual Expected<void, std::string> start(Host& host) = 0;
  // Once, after the workers have stopped taking traffic and before they are joined.
  virtual void stop() {}
  virtual void statistics(StatsWriter& out) const { (void)out; }
  // An interface this module offers other modules, by name and version ("location", 1), or null.
  virtual void* service(std::string_view name, uint32_t version) {
    (void)name;
    (void)version;
    return nullptr;
  }
};

}  // namespace strowger::module

// Exports the descriptor of module class CLASS. NAME must be the file name without ".so".
#define STROWGER_MODULE(CLASS, NAME, VERSION, DESCRIPTION)                                      \
  extern "C" __attribute__((visibility("default"))) const ::strowger::module::ModuleDescriptor* \
  strowger_module_descriptor() {                                                                \
    static const ::strowger::module::ModuleDescriptor descriptor{                               \
        ::strowger::module::kAbiVersion,                                                        \
        STROWGER_MODULE_BUILD_STAMP,                                                            \
        NAME,                                                                                   \
        VERSION,                                                                                \
        DESCRIPTION,                                                                            \
        []() -> ::strowger::module::Module* { return new CLASS(); }};                           \
    return &descriptor;                                                                         \
  }
