// The daemon's configuration as the rest of the program sees it: plain values, already validated.
// A Config is built once by loadConfigFile() and then shared read-only (std::shared_ptr<const
// Config>), so a reload swaps the whole object and no reader ever sees half of an old and half of a
// new configuration. The YAML reading lives in src/runtime/ and stays out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"

namespace strowger::script {
class RoutingScript;
}

namespace strowger::runtime {

enum class Transport : uint8_t { kUdp, kTcp, kTls, kWs, kWss };

std::string_view transportName(Transport transport) noexcept;

// Only these are served by this version; the others are recognised so that a config written for a
// later version fails with "not supported" rather than with a syntax error.
bool isTransportSupported(Transport transport) noexcept;

// The port a listen address gets when it names none: RFC 3261 §19.1.2 for SIP over UDP/TCP/TLS,
// RFC 6455 §3 for WebSocket.
uint16_t defaultPort(Transport transport) noexcept;

struct ListenAddress {
  Transport transport = Transport::kUdp;
  std::string host;  // a numeric address in canonical form; IPv6 without brackets
  uint16_t port = 5060;

  bool isIpv6() const noexcept { return host.find(':') != std::string::npos; }
  // "udp:0.0.0.0:5060", "tcp:[::1]:5060": the form parseListenAddress() reads back.
  std::string toString() const;
  bool operator==(const ListenAddress&) const = default;
};

// Parses "TRANSPORT:HOST[:PORT]" with HOST a numeric IPv4 address or a bracketed IPv6 address.
// Host names are refused: a listening socket binds to an address of this machine, and resolving
// names at start-up would make the daemon's sockets depend on DNS. The error text says what was
// expected and fits after "server.listen: ".
Expected<ListenAddress, std::string> parseListenAddress(std::string_view text);

enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarning, kError, kCritical, kOff };
enum class LogFormat : uint8_t { kText, kJson };
enum class LogTarget : uint8_t { kStderr, kSyslog, kFile };

// The spellings the configuration uses, indexed by enumerator.
std::span<const std::string_view> logLevelNames() noexcept;
std::span<const std::string_view> logFormatNames() noexcept;
std::span<const std::string_view> logTargetNames() noexcept;

std::string_view logLevelName(LogLevel level) noexcept;
std::string_view logFormatName(LogFormat format) noexcept;
std::string_view logTargetName(LogTarget target) noexcept;
std::optional<LogLevel> parseLogLevel(std::string_view text) noexcept;

// `workers: auto` is kept as kWorkersAuto until the daemon starts, so that --check-config on one
// machine says nothing about the core count of another.
inline constexpr unsigned kWorkersAuto = 0;
inline constexpr unsigned kMaxWorkers = 256;

// "auto" or 1..kMaxWorkers, for the YAML key and the --workers option alike.
Expected<unsigned, std::string> parseWorkers(std::string_view text);

struct IntRange {
  int64_t min;
  int64_t max;
  bool contains(int64_t v) const noexcept { return v >= min && v <= max; }
};

// Every default of the configuration is written here and nowhere else: the loader starts from a
// value-initialised Config and overwrites only what the file sets.
struct Config {
  struct Log {
    LogLevel level = LogLevel::kInfo;
    LogFormat format = LogFormat::kText;
    LogTarget target = LogTarget::kStderr;
    std::string file;  // set iff target is kFile; relative paths are resolved against the config
  };

  // Bounds that keep hostile input from exhausting memory or time; handed to the SIP parser.
  struct Limits {
    // 65535 is the largest UDP payload; a smaller bound caps what one TCP message may buffer.
    static constexpr IntRange kMessageBytesRange{1024, 65535};
    static constexpr IntRange kHeadersRange{16, 1024};
    static constexpr IntRange kLineBytesRange{256, 65535};

    uint32_t maxMessageBytes = 65535;
    uint32_t maxHeaders = 256;
    uint32_t maxLineBytes = 16384;
    bool operator==(const Limits&) const = default;
  };

  // The transaction layer (docs/transactions.md). Times are in milliseconds.
  struct Transactions {
    static constexpr IntRange kMaxRange{16, 10'000'000};
    static constexpr IntRange kRetryAfterRange{1, 3600};
    static constexpr IntRange kT1Range{10, 10'000};
    static constexpr IntRange kT2Range{100, 60'000};
    static constexpr IntRange kT4Range{100, 60'000};
    static constexpr IntRange kFrTimeoutRange{100, 600'000};
    static constexpr IntRange kFrInvTimeoutRange{100, 86'400'000};

    // Live transactions (relayed requests) past which a new request is answered 503.
    uint32_t max = 200'000;
    uint32_t retryAfter = 5;  // seconds, in the Retry-After of that 503
    uint32_t t1 = 500;        // RFC 3261 T1: round-trip estimate
    uint32_t t2 = 4000;       // RFC 3261 T2: longest retransmission interval
    uint32_t t4 = 5000;       // RFC 3261 T4: how long a message may stay in the network
    // A branch with no final response (for INVITE: and no provisional one) by then ends as 408.
    uint32_t frTimeout = 30'000;
    // An INVITE branch that has had a provisional response but no final one by then is
    // cancelled and ends as 408 (Kamailio's fr_inv_timer; RFC 3261 timer C).
    uint32_t frInvTimeout = 120'000;
    bool operator==(const Transactions&) const = default;
  };

  struct Server {
    std::vector<ListenAddress> listen;  // at least one; the loader refuses an empty list
    unsigned workers = kWorkersAuto;
    Log log;
    Limits limits;
    Transactions transactions;
  };

  // The `modules:` section (docs/modules.md): which loadable modules this configuration uses, in
  // the order it lists them, and where they are. The loaded modules themselves are process-wide
  // (src/module/loader.h); each has already accepted its section when a Config exists.
  struct Modules {
    std::string directory;           // absolute
    std::vector<std::string> names;  // in the order of the section
  };

  std::string source;  // the file this was read from, as given on the command line
  Server server;
  Modules modules;
  // The `routes:` section, compiled (docs/routing.md); null when the file has none.
  std::shared_ptr<const script::RoutingScript> routes;
};

// Command-line values that win over the file, on start and on every reload.
struct ConfigOverrides {
  std::optional<unsigned> workers;  // kWorkersAuto allowed
  std::optional<LogLevel> logLevel;
};

void applyOverrides(Config& config, const ConfigOverrides& overrides);

// The number of worker threads to start: the configured count, or for "auto" the number of CPUs
// this process may run on (its affinity mask), at most kMaxWorkers.
unsigned effectiveWorkers(const Config::Server& server) noexcept;

struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 when the error concerns the file as a whole
  int column = 0;
  std::string key;  // dotted path of the offending key, e.g. "server.workers"; may be empty
  std::string message;

  // "file:line:column: key: message", the form compilers use, so editors can jump to it.
  std::string toString() const;
};

using ConfigErrors = std::vector<ConfigError>;

// Reads and validates a configuration file. Every problem is reported, not only the first; on
// any error no Config is produced. Never throws for bad input.
Expected<Config, ConfigErrors> loadConfigFile(const std::string& path);

// The same for text already in memory; `fileName` is used in errors and to resolve relative paths.
Expected<Config, ConfigErrors> parseConfig(std::string_view yaml, std::string_view fileName);

}  // namespace strowger::runtime
