// The dispatcher's configuration: destination sets, probe and failover settings, the admin state
// file, and the parameters of its steps. Read and checked on the control thread (configure());
// nothing here is touched by the data plane except the immutable results.
#pragma once

#include <yaml-cpp/yaml.h>

#include <bitset>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strowger/expected.h"
#include "strowger/module/module.h"
#include "strowger/script/registry.h"
#include "strowger/transport/transport.h"

namespace strowger::dispatcher {

enum class Algorithm : uint8_t {
  kHashCallId,
  kHashFrom,
  kHashTo,
  kHashRuri,
  kHashAuthUser,
  kRoundRobin,
  kWeighted,
  kPriority,
  kRandom,
  kLeastCalls,
};

std::string_view algorithmName(Algorithm algorithm) noexcept;
std::optional<Algorithm> parseAlgorithm(std::string_view name) noexcept;
// Every algorithm's name, in the order of the enum.
std::vector<std::string_view> algorithmNames();

// A set of SIP status codes (100..699), written as codes, ranges ("500-599") or classes ("5xx").
class CodeSet {
 public:
  bool contains(uint16_t code) const noexcept { return code < kSize && codes_.test(code); }
  void add(uint16_t first, uint16_t last);
  bool empty() const noexcept { return codes_.none(); }
  // Parses one entry ("404", "500-599", "5xx"); an error says what was expected.
  Expected<void, std::string> addEntry(std::string_view text);

 private:
  static constexpr std::size_t kSize = 700;
  std::bitset<kSize> codes_;
};

// Where a destination's requests leave from: "udp:10.0.0.254:5060", "tcp:[2001:db8::1]:5060".
struct SocketSpec {
  transport::Protocol protocol = transport::Protocol::kUdp;
  std::string host;  // numeric, IPv6 without brackets
  uint16_t port = 0;
  std::string text;  // as written
};
Expected<SocketSpec, std::string> parseSocketSpec(std::string_view text);

struct DestinationConfig {
  std::string uri;    // as written: the key of the destination within its set
  std::string host;   // from the URI; IPv6 without brackets
  uint16_t port = 0;  // 0: the default for the transport
  std::optional<transport::Protocol> protocol;  // the URI's transport parameter
  int weight = 1;
  int priority = 0;
  std::optional<SocketSpec> socket;
  std::vector<std::pair<std::string, std::string>> attrs;  // in the order written
};

// Checks a destination URI (a sip: URI with a host; transport udp or tcp) and fills host, port
// and protocol from it. The error says what was expected.
Expected<void, std::string> parseDestinationUri(std::string_view uri, DestinationConfig& out);

// The limits of a destination's weight and priority, in the file and in the database.
inline constexpr int kMaxWeight = 100;
inline constexpr int kMaxPriority = 1000;

// A set name: letters, digits, '_' and '-'. An attribute name: letters, digits and '_'.
bool validSetName(std::string_view name);
bool validAttrName(std::string_view name);

struct SetConfig {
  std::string name;
  Algorithm algorithm = Algorithm::kRoundRobin;
  // The destinations come from the database table's rows whose setid is the set's name (empty
  // until the table has been read), not from the file.
  bool fromDatabase = false;
  std::vector<DestinationConfig> destinations;
};

// Where the sets declared `from_database` get their destinations (docs/dispatcher.md).
struct DatabaseSettings {
  std::string conninfo;              // libpq key=value or URI
  std::string table = "dispatcher";  // an identifier, or schema.identifier
  int64_t retryIntervalSeconds = 5;  // while the table could not be read
  int64_t loadTimeoutSeconds = 5;    // start waits this long for the first load; also the
                                     // connect timeout
};

enum class ProbeMode : uint8_t { kAll, kInactive };

struct ProbeSettings {
  int64_t intervalSeconds = 10;  // 0: no probes (and no health tracking; docs/dispatcher.md)
  int64_t timeoutSeconds = 2;
  std::string method = "OPTIONS";
  std::string from = "sip:dispatcher@strowger.invalid";
  CodeSet aliveCodes;
  int failuresToInactive = 3;
  int successesToActive = 2;
  ProbeMode mode = ProbeMode::kInactive;
};

struct FailoverSettings {
  CodeSet codes;
  int maxAttempts = 3;
};

// A destination named in the admin state file: "SET URI".
using DestinationKey = std::pair<std::string, std::string>;

struct DispatcherConfig {
  ProbeSettings probe;
  FailoverSettings failover;
  std::vector<SetConfig> sets;
  std::optional<DatabaseSettings> database;
  std::string adminFile;                   // as resolved against the configuration's directory
  std::set<DestinationKey> adminDisabled;  // read from adminFile

  const SetConfig* findSet(std::string_view name) const;
};

// The defaults of the code lists (probe.alive_codes, failover.codes).
CodeSet defaultAliveCodes();
CodeSet defaultFailoverCodes();

// Reads the module's section. Every problem is reported through `context` (file:line:column,
// the key, what was expected); returns false when anything was. `out` gets what could be read
// even then, so that the steps' errors can name the sets that were written.
bool readConfig(module::ConfigureContext& context, DispatcherConfig& out);

// Reads the admin state file (YAML: `disabled: ["SET URI", ...]`) and checks each entry names a
// destination of `sets` (for a set from the database, only that the set exists: its destinations
// are not known before the table is read).
Expected<std::set<DestinationKey>, std::string> readAdminFile(const std::string& path,
                                                              const std::vector<SetConfig>& sets);

// The parameters of `dispatcher.select`: `SET` or {set, algorithm, rewrite_ruri, max_attempts,
// all_down: [CODE, REASON]}.
struct SelectParams {
  std::string set;
  std::optional<Algorithm> algorithm;  // unset: the set's own
  bool rewriteRuri = false;
  std::optional<int> maxAttempts;  // unset: failover.max_attempts
  uint16_t allDownCode = 503;
  std::string allDownReason = "Service Unavailable";
};
inline constexpr std::string_view kSelectUsage =
    "SET, or {set: SET, algorithm: ALGORITHM, rewrite_ruri: true|false, max_attempts: N, "
    "all_down: [CODE, \"REASON\"]}";
// Reads them, reporting errors through `compile`; an unknown set is reported with the known ones
// and the closest name. Null when anything was wrong.
std::optional<SelectParams> readSelectParams(const YAML::Node& params,
                                             script::CompileContext& compile,
                                             const DispatcherConfig& config);

}  // namespace strowger::dispatcher
