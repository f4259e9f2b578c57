// The configuration values themselves: names, parsing of the small string forms the file and the
// command line share, overrides. Reading YAML is in config_loader.cc.
#include "strowger/runtime/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <thread>

#include "diagnostics.h"

namespace strowger::runtime {
namespace {

constexpr std::array<std::string_view, 5> kTransportNames = {"udp", "tcp", "tls", "ws", "wss"};
constexpr std::array<std::string_view, 7> kLogLevelNames = {"trace", "debug",    "info", "warning",
                                                            "error", "critical", "off"};
constexpr std::array<std::string_view, 2> kLogFormatNames = {"text", "json"};
constexpr std::array<std::string_view, 3> kLogTargetNames = {"stderr", "syslog", "file"};

std::string supportedTransportList() {
  std::string out;
  for (std::size_t i = 0; i < kTransportNames.size(); ++i) {
    if (!isTransportSupported(static_cast<Transport>(i))) continue;
    if (!out.empty()) out += " or ";
    out += kTransportNames[i];
  }
  return out;
}

std::optional<uint32_t> parseDecimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// inet_pton/inet_ntop give the canonical spelling, so "[::0001]" and "[::1]" compare equal when
// duplicates are looked for.
std::optional<std::string> canonicalAddress(const std::string& host, int family) {
  std::array<unsigned char, sizeof(in6_addr)> binary{};
  if (inet_pton(family, host.c_str(), binary.data()) != 1) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(family, binary.data(), text.data(), text.size()) == nullptr) return std::nullopt;
  return std::string(text.data());
}

}  // namespace

std::string_view transportName(Transport transport) noexcept {
  return kTransportNames[static_cast<std::size_t>(transport)];
}

bool isTransportSupported(Transport transport) noexcept {
  return transport == Transport::kUdp || transport == Transport::kTcp;
}

uint16_t defaultPort(Transport transport) noexcept {
  switch (transport) {
    case Transport::kUdp:
    case Transport::kTcp:
      return 5060;
    case Transport::kTls:
      return 5061;
    case Transport::kWs:
      return 80;
    case Transport::kWss:
      return 443;
  }
  return 5060;
}

std::string ListenAddress::toString() const {
  std::string out(transportName(transport));
  out += ':';
  if (isIpv6()) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

Expected<ListenAddress, std::string> parseListenAddress(std::string_view text) {
  const std::string expectedForm =
      "expected \"TRANSPORT:HOST[:PORT]\" such as \"udp:0.0.0.0:5060\", got " + inQuotes(text);
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return unexpected(expectedForm);

  const std::string_view transportText = text.substr(0, colon);
  const auto known = std::find(kTransportNames.begin(), kTransportNames.end(), transportText);
  if (known == kTransportNames.end()) {
    return unexpected("unknown transport " + inQuotes(transportText) + " in " + inQuotes(text) +
                      "; expected " + supportedTransportList());
  }
  ListenAddress address;
  address.transport = static_cast<Transport>(known - kTransportNames.begin());
  address.port = defaultPort(address.transport);

  std::string_view rest = text.substr(colon + 1);
  std::string_view host;
  std::string_view portText;
  bool hasPort = false;
  bool bracketed = false;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return unexpected("missing \"]\" after the IPv6 address in " + inQuotes(text));
    }
    host = rest.substr(1, close - 1);
    bracketed = true;
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return unexpected(expectedForm);
      portText = after.substr(1);
      hasPort = true;
    }
  } else {
    const std::size_t portColon = rest.find(':');
    if (portColon != std::string_view::npos && rest.find(':', portColon + 1) != std::string::npos) {
      return unexpected("an IPv6 address must be written in brackets, e.g. \"" +
                        std::string(transportText) + ":[::1]:5060\", got " + inQuotes(text));
    }
    host = rest.substr(0, portColon);
    if (portColon != std::string_view::npos) {
      portText = rest.substr(portColon + 1);
      hasPort = true;
    }
  }

  if (host.empty()) {
    return unexpected("missing host in " + inQuotes(text) +
                      "; use 0.0.0.0 or [::] to listen on every address");
  }
  const std::optional<std::string> canonical =
      canonicalAddress(std::string(host), bracketed ? AF_INET6 : AF_INET);
  if (!canonical) {
    if (bracketed) return unexpected(inQuotes(host) + " is not an IPv6 address");
    return unexpected(inQuotes(host) +
                      " is not a numeric IP address; listen on an address of this machine, or "
                      "0.0.0.0 or [::] for all (host names are not resolved here)");
  }
  address.host = *canonical;

  if (hasPort) {
    const std::optional<uint32_t> port = parseDecimal(portText, 65535);
    if (!port || *port == 0) {
      return unexpected("port " + inQuotes(portText) + " in " + inQuotes(text) +
                        " is not an integer 1..65535");
    }
    address.port = static_cast<uint16_t>(*port);
  }
  return address;
}

std::span<const std::string_view> logLevelNames() noexcept {
  return kLogLevelNames;
}
std::span<const std::string_view> logFormatNames() noexcept {
  return kLogFormatNames;
}
std::span<const std::string_view> logTargetNames() noexcept {
  return kLogTargetNames;
}

std::string_view logLevelName(LogLevel level) noexcept {
  return kLogLevelNames[static_cast<std::size_t>(level)];
}

std::string_view logFormatName(LogFormat format) noexcept {
  return kLogFormatNames[static_cast<std::size_t>(format)];
}

std::string_view logTargetName(LogTarget target) noexcept {
  return kLogTargetNames[static_cast<std::size_t>(target)];
}

std::optional<LogLevel> parseLogLevel(std::string_view text) noexcept {
  const auto found = std::find(kLogLevelNames.begin(), kLogLevelNames.end(), text);
  if (found == kLogLevelNames.end()) return std::nullopt;
  return static_cast<LogLevel>(found - kLogLevelNames.begin());
}

Expected<unsigned, std::string> parseWorkers(std::string_view text) {
  if (text == "auto") return kWorkersAuto;
  const std::optional<uint32_t> count = parseDecimal(text, kMaxWorkers);
  if (!count || *count == 0) {
    return unexpected("expected \"auto\" or an integer 1.." + std::to_string(kMaxWorkers) +
                      ", got " + inQuotes(text));
  }
  return static_cast<unsigned>(*count);
}

void applyOverrides(Config& config, const ConfigOverrides& overrides) {
  if (overrides.workers) config.server.workers = *overrides.workers;
  if (overrides.logLevel) config.server.log.level = *overrides.logLevel;
}

unsigned effectiveWorkers(const Config::Server& server) noexcept {
  if (server.workers != kWorkersAuto) return server.workers;
  // The CPUs this process may run on, not every CPU of the machine: under taskset, systemd's
  // CPUAffinity= or a container's cpuset, a worker per machine core would only make threads queue
  // for the same few cores. hardware_concurrency() is the fallback (the mask does not fit a
  // cpu_set_t beyond 1024 CPUs) and may itself answer 0 when it cannot tell.
  unsigned cpus = 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0)
    cpus = static_cast<unsigned>(CPU_COUNT(&mask));
  if (cpus == 0) cpus = std::thread::hardware_concurrency();
  // Very large machines are capped at the bound an explicit count is held to.
  return std::clamp(cpus, 1u, kMaxWorkers);
}

std::string ConfigError::toString() const {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += message;
  return out;
}

}  // namespace strowger::runtime
