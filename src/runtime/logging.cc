#include "logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace strowger::runtime {
namespace {

constexpr char kLoggerName[] = "strowger";
constexpr char kTextPattern[] = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v";
// syslog stamps time, host, program and priority itself.
constexpr char kSyslogTextPattern[] = "%v";

spdlog::level::level_enum toSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
    case LogLevel::kOff:
      break;
  }
  return spdlog::level::off;
}

void put(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return logLevelName(LogLevel::kTrace);
    case spdlog::level::debug:
      return logLevelName(LogLevel::kDebug);
    case spdlog::level::info:
      return logLevelName(LogLevel::kInfo);
    case spdlog::level::warn:
      return logLevelName(LogLevel::kWarning);
    case spdlog::level::err:
      return logLevelName(LogLevel::kError);
    case spdlog::level::critical:
      return logLevelName(LogLevel::kCritical);
    case spdlog::level::off:
    case spdlog::level::n_levels:
      break;
  }
  return logLevelName(LogLevel::kOff);
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one (RFC 3629 §4:
// no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8SequenceLength(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// Log messages will quote bytes from the network. Invalid UTF-8 becomes U+FFFD so that every line
// stays valid JSON for whatever collects it.
void appendJsonString(std::string_view s, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kReplacement = "\\ufffd";
  dest.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8SequenceLength(s.substr(i));
      if (n == 0) {
        put(dest, kReplacement);
        ++i;
      } else {
        dest.append(s.data() + i, s.data() + i + n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        put(dest, "\\\"");
        break;
      case '\\':
        put(dest, "\\\\");
        break;
      case '\n':
        put(dest, "\\n");
        break;
      case '\r':
        put(dest, "\\r");
        break;
      case '\t':
        put(dest, "\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const std::array<char, 6> escaped = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          dest.append(escaped.data(), escaped.data() + escaped.size());
        } else {
          dest.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  dest.push_back('"');
}

// One JSON object per line: {"time":"2024-05-01T12:00:00.123Z","level":"info","thread":123,
// "msg":"..."}. UTC, so that lines from machines in different zones sort together.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(bool newline) : newline_(newline) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto sinceEpoch = msg.time.time_since_epoch();
    const std::time_t seconds = static_cast<std::time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(sinceEpoch).count());
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(sinceEpoch).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 40> time{};
    const int timeLength = std::snprintf(
        time.data(), time.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));

    put(dest, "{\"time\":\"");
    dest.append(time.data(),
                time.data() + std::clamp(timeLength, 0, static_cast<int>(time.size()) - 1));
    put(dest, "\",\"level\":\"");
    put(dest, levelName(msg.level));
    put(dest, "\",\"thread\":");
    put(dest, std::to_string(msg.thread_id));
    put(dest, ",\"msg\":");
    appendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    dest.push_back('}');
    if (newline_) dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(newline_);
  }

 private:
  bool newline_;
};

std::unique_ptr<spdlog::formatter> makeFormatter(LogFormat format, LogTarget target) {
  const bool syslog = target == LogTarget::kSyslog;
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>(!syslog);
  return std::make_unique<spdlog::pattern_formatter>(syslog ? kSyslogTextPattern : kTextPattern);
}

}  // namespace

// A sink that forwards to a replaceable inner sink, under the lock spdlog's dist_sink already
// takes.
class Logging::Switch final : public spdlog::sinks::dist_sink_mt {};

Logging::Logging() : switch_(std::make_shared<Switch>()) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_formatter(makeFormatter(LogFormat::kText, LogTarget::kStderr));
  switch_->set_sinks({console});
  logger_ = std::make_shared<spdlog::logger>(kLoggerName, switch_);
  logger_->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger_);
}

Logging::~Logging() {
  logger_->flush();
}

Expected<void, std::string> Logging::apply(const Config::Log& config) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    switch (config.target) {
      case LogTarget::kStderr:
        sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        break;
      case LogTarget::kSyslog:
        if (!syslog_) {
          // Formatting on, so that the JSON format reaches syslog too; the text pattern is "%v".
          syslog_ = std::make_shared<spdlog::sinks::syslog_sink_mt>(kLoggerName, LOG_PID,
                                                                    LOG_DAEMON, true);
        }
        sink = syslog_;
        break;
      case LogTarget::kFile:
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file, false);
        break;
    }
  } catch (const spdlog::spdlog_ex& e) {
    // spdlog's text already names the file and the reason.
    return unexpected("log target " + std::string(logTargetName(config.target)) + ": " + e.what());
  }
  sink->set_formatter(makeFormatter(config.format, config.target));
  switch_->set_sinks({sink});
  logger_->set_level(toSpdlog(config.level));
  // Written lines reach the disk (or the pipe under systemd) at once: what the daemon logs today
  // is rare and the one line an operator needs is often the last before a crash. Hot-path logging
  // will want an asynchronous logger instead.
  logger_->flush_on(spdlog::level::trace);
  return {};
}

}  // namespace strowger::runtime
