// The process-wide logger. spdlog's default logger is set once and never replaced, because
// swapping it is not safe while other threads log; a reload re-points its one sink instead.
#pragma once

#include <memory>
#include <string>

#include "strowger/expected.h"
#include "strowger/runtime/config.h"

namespace spdlog {
class logger;
namespace sinks {
class sink;
}  // namespace sinks
}  // namespace spdlog

namespace strowger::runtime {

class Logging {
 public:
  // Installs the default logger, text to stderr at info, so that anything said before the
  // configuration is applied has somewhere to go.
  Logging();
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // Sends the log to the target, in the format and at the level `config` names. A log file is
  // (re)opened on every call, which is what log rotation expects of SIGHUP. If the target cannot
  // be opened nothing changes and the reason is returned.
  Expected<void, std::string> apply(const Config::Log& config);

 private:
  class Switch;
  std::shared_ptr<Switch> switch_;
  std::shared_ptr<spdlog::logger> logger_;
  // openlog() state is process-wide and a syslog sink's destructor calls closelog(); one sink is
  // kept for the life of the process so that a reload cannot close the log a new sink opened.
  std::shared_ptr<spdlog::sinks::sink> syslog_;
};

}  // namespace strowger::runtime
