#include "config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "strowger/diagnostics.h"
#include "strowger/module/section.h"
#include "strowger/net/socket_address.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/reply.h"
#include "strowger/sip/uri.h"

namespace strowger::dispatcher {
namespace {

constexpr std::array<std::string_view, 10> kAlgorithmNames = {
    "hash_callid", "hash_from", "hash_to",  "hash_ruri", "hash_authuser",
    "round_robin", "weighted",  "priority", "random",    "least_calls",
};

constexpr int kMaxAttemptsLimit = 32;

std::optional<int64_t> parseNumber(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A table name as the SELECT names it: an unquoted identifier, or schema.identifier.
bool validTableName(std::string_view name) {
  auto identifier = [](std::string_view part) {
    if (part.empty() || (part[0] >= '0' && part[0] <= '9')) return false;
    return std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
  };
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) return identifier(name);
  return identifier(name.substr(0, dot)) && identifier(name.substr(dot + 1));
}

void readDatabase(module::ConfigureContext& context, const YAML::Node& node,
                  DispatcherConfig& config, bool& ok) {
  module::SectionReader reader(context, node, "database");
  DatabaseSettings settings;
  reader.require("conninfo");
  const YAML::Node conninfo = reader.child("conninfo");
  if (conninfo.IsDefined()) {
    if (!conninfo.IsScalar() || conninfo.Scalar().empty()) {
      context.error(conninfo, reader.keyPath("conninfo"),
                    "expected a libpq connection string (\"host=/run/postgresql dbname=strowger\" "
                    "or \"postgresql://...\"), got " +
                        script::describeNode(conninfo));
      ok = false;
    } else {
      settings.conninfo = conninfo.Scalar();
    }
  }
  const YAML::Node table = reader.child("table");
  if (table.IsDefined()) {
    if (!table.IsScalar() || !validTableName(table.Scalar())) {
      context.error(table, reader.keyPath("table"),
                    "expected a table name (letters, digits and '_', optionally SCHEMA.TABLE), "
                    "got " +
                        script::describeNode(table));
      ok = false;
    } else {
      settings.table = table.Scalar();
    }
  }
  ok &= reader.integer("retry_interval", 1, 3600, settings.retryIntervalSeconds);
  ok &= reader.integer("load_timeout", 1, 60, settings.loadTimeoutSeconds);
  ok &= reader.finish();
  config.database = std::move(settings);
}

// A list of codes, ranges and classes under `key`; leaves `out` alone when the key is absent.
bool readCodes(module::ConfigureContext& context, const YAML::Node& node, const std::string& key,
               CodeSet& out) {
  if (!node.IsDefined()) return true;
  if (!node.IsSequence() || node.size() == 0) {
    context.error(node, key,
                  "expected a list of status codes, ranges (\"500-599\") or classes (\"5xx\"), "
                  "got " +
                      script::describeNode(node));
    return false;
  }
  CodeSet codes;
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string itemKey = key + "[" + std::to_string(i) + "]";
    if (!item.IsScalar()) {
      context.error(item, itemKey,
                    "expected a status code, range or class, got " + script::describeNode(item));
      ok = false;
      continue;
    }
    if (auto added = codes.addEntry(item.Scalar()); !added) {
      context.error(item, itemKey, added.error());
      ok = false;
    }
  }
  if (ok) out = codes;
  return ok;
}

void readDestination(module::ConfigureContext& context, const YAML::Node& node,
                     const std::string& path, SetConfig& set, bool& ok) {
  module::SectionReader reader(context, node, path);
  if (!node.IsMap()) {
    context.error(node, path,
                  "expected a destination {uri: \"sip:HOST[:PORT]\", weight, priority, socket, "
                  "attrs}, got " +
                      script::describeNode(node));
    ok = false;
    return;
  }
  DestinationConfig destination;
  reader.require("uri");
  const YAML::Node uri = reader.child("uri");
  if (uri.IsDefined()) {
    if (!uri.IsScalar()) {
      context.error(uri, reader.keyPath("uri"),
                    "expected a SIP URI \"sip:HOST[:PORT][;transport=udp|tcp]\", got " +
                        script::describeNode(uri));
      ok = false;
    } else if (auto parsed = parseDestinationUri(uri.Scalar(), destination); !parsed) {
      context.error(uri, reader.keyPath("uri"), parsed.error());
      ok = false;
    } else {
      for (const DestinationConfig& other : set.destinations) {
        if (other.uri == destination.uri) {
          context.error(uri, reader.keyPath("uri"),
                        "\"" + destination.uri + "\" is already a destination of set " + set.name +
                            "; each destination is listed once");
          ok = false;
        }
      }
    }
  }
  ok &= reader.integer("weight", 0, kMaxWeight, destination.weight);
  ok &= reader.integer("priority", 0, kMaxPriority, destination.priority);
  const YAML::Node socket = reader.child("socket");
  if (socket.IsDefined()) {
    auto parsed = socket.IsScalar() ? parseSocketSpec(socket.Scalar())
                                    : Expected<SocketSpec, std::string>(unexpected(
                                          "expected \"udp:IP:PORT\" or \"tcp:IP:PORT\", got " +
                                          script::describeNode(socket)));
    if (!parsed) {
      context.error(socket, reader.keyPath("socket"), parsed.error());
      ok = false;
    } else {
      destination.socket = parsed.value();
    }
  }
  const YAML::Node attrs = reader.child("attrs");
  if (attrs.IsDefined() && !attrs.IsNull()) {
    if (!attrs.IsMap()) {
      context.error(attrs, reader.keyPath("attrs"),
                    "expected a mapping of attribute names to values ({carrier: acme}), got " +
                        script::describeNode(attrs));
      ok = false;
    } else {
      for (const auto& pair : attrs) {
        const std::string name = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
        if (!validAttrName(name)) {
          context.error(pair.first, reader.keyPath("attrs"),
                        "expected an attribute name of letters, digits and '_', got " +
                            script::describeNode(pair.first));
          ok = false;
          continue;
        }
        if (!pair.second.IsScalar()) {
          context.error(pair.second, reader.keyPath("attrs." + name),
                        "expected a text value, got " + script::describeNode(pair.second));
          ok = false;
          continue;
        }
        destination.attrs.emplace_back(name, pair.second.Scalar());
      }
    }
  }
  ok &= reader.finish();
  set.destinations.push_back(std::move(destination));
}

void readSet(module::ConfigureContext& context, const YAML::Node& key, const YAML::Node& node,
             DispatcherConfig& config, bool& ok) {
  SetConfig set;
  set.name = key.IsScalar() ? key.Scalar() : std::string();
  const std::string path = "sets." + set.name;
  if (!validSetName(set.name)) {
    context.error(
        key, "sets",
        "expected a set name of letters, digits, '_' and '-', got " + script::describeNode(key));
    ok = false;
    return;
  }
  module::SectionReader reader(context, node, path);
  if (!node.IsMap()) {
    context.error(node, path,
                  "expected a set {algorithm: ALGORITHM, destinations: [...]}, got " +
                      script::describeNode(node));
    ok = false;
    return;
  }
  const YAML::Node algorithm = reader.child("algorithm");
  if (algorithm.IsDefined()) {
    const auto names = algorithmNames();
    std::optional<Algorithm> parsed =
        algorithm.IsScalar() ? parseAlgorithm(algorithm.Scalar()) : std::nullopt;
    if (!parsed) {
      context.error(
          algorithm, reader.keyPath("algorithm"),
          "unknown algorithm " + script::describeNode(algorithm) + "; expected one of " +
              diag::listOf(names) +
              (algorithm.IsScalar() ? diag::didYouMean(algorithm.Scalar(), names) : std::string()));
      ok = false;
    } else {
      set.algorithm = *parsed;
    }
  }
  const YAML::Node fromDatabase = reader.child("from_database");
  if (fromDatabase.IsDefined()) {
    if (!fromDatabase.IsScalar() ||
        (fromDatabase.Scalar() != "true" && fromDatabase.Scalar() != "false")) {
      context.error(fromDatabase, reader.keyPath("from_database"),
                    "expected true or false, got " + script::describeNode(fromDatabase));
      ok = false;
    } else {
      set.fromDatabase = fromDatabase.Scalar() == "true";
    }
  }
  if (!set.fromDatabase) reader.require("destinations");
  const YAML::Node destinations = reader.child("destinations");
  if (set.fromDatabase && destinations.IsDefined()) {
    context.error(destinations, reader.keyPath("destinations"),
                  "a set with from_database: true takes its destinations from the database "
                  "table; remove either destinations or from_database");
    ok = false;
  } else if (destinations.IsDefined()) {
    if (!destinations.IsSequence() || destinations.size() == 0) {
      context.error(
          destinations, reader.keyPath("destinations"),
          "expected a non-empty list of destinations, got " + script::describeNode(destinations));
      ok = false;
    } else {
      for (std::size_t i = 0; i < destinations.size(); ++i) {
        readDestination(context, destinations[i],
                        reader.keyPath("destinations[" + std::to_string(i) + "]"), set, ok);
      }
    }
  }
  ok &= reader.finish();
  config.sets.push_back(std::move(set));
}

}  // namespace

bool validSetName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool validAttrName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string_view algorithmName(Algorithm algorithm) noexcept {
  return kAlgorithmNames[static_cast<std::size_t>(algorithm)];
}

std::optional<Algorithm> parseAlgorithm(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kAlgorithmNames.size(); ++i) {
    if (kAlgorithmNames[i] == name) return static_cast<Algorithm>(i);
  }
  return std::nullopt;
}

std::vector<std::string_view> algorithmNames() {
  return {kAlgorithmNames.begin(), kAlgorithmNames.end()};
}

void CodeSet::add(uint16_t first, uint16_t last) {
  for (uint16_t code = first; code <= last && code < kSize; ++code)
    codes_.set(code);
}

Expected<void, std::string> CodeSet::addEntry(std::string_view text) {
  const std::string expected =
      "expected a status code 100..699, a range \"500-599\" or a class \"5xx\", got " +
      diag::inQuotes(text);
  if (text.size() == 3 && text[0] >= '1' && text[0] <= '6' && text.substr(1) == "xx") {
    const auto first = static_cast<uint16_t>((text[0] - '0') * 100);
    add(first, static_cast<uint16_t>(first + 99));
    return {};
  }
  if (const std::size_t dash = text.find('-'); dash != std::string_view::npos) {
    const auto first = parseNumber(text.substr(0, dash));
    const auto last = parseNumber(text.substr(dash + 1));
    if (!first || !last || *first < 100 || *last > 699 || *first > *last) {
      return unexpected(expected);
    }
    add(static_cast<uint16_t>(*first), static_cast<uint16_t>(*last));
    return {};
  }
  const auto code = parseNumber(text);
  if (!code || *code < 100 || *code > 699) return unexpected(expected);
  add(static_cast<uint16_t>(*code), static_cast<uint16_t>(*code));
  return {};
}

Expected<SocketSpec, std::string> parseSocketSpec(std::string_view text) {
  const std::string expected =
      "expected \"udp:IP:PORT\" or \"tcp:IP:PORT\" (a listen address of this proxy), got " +
      diag::inQuotes(text);
  SocketSpec spec;
  spec.text = std::string(text);
  if (text.starts_with("udp:")) {
    spec.protocol = transport::Protocol::kUdp;
  } else if (text.starts_with("tcp:")) {
    spec.protocol = transport::Protocol::kTcp;
  } else {
    return unexpected(expected);
  }
  auto hostPort = sip::parseHostPort(text.substr(4));
  if (!hostPort || !hostPort->hasPort || hostPort->port == 0 ||
      (hostPort->kind != sip::HostKind::kIpv4 && hostPort->kind != sip::HostKind::kIpv6)) {
    return unexpected(expected);
  }
  spec.host = std::string(hostPort->host);
  spec.port = hostPort->port;
  return spec;
}

Expected<void, std::string> parseDestinationUri(std::string_view uri, DestinationConfig& out) {
  const std::string expected =
      "expected a SIP URI \"sip:HOST[:PORT][;transport=udp|tcp]\", got " + diag::inQuotes(uri);
  auto parsed = sip::parseUri(uri);
  if (!parsed || parsed->scheme != sip::UriScheme::kSip || parsed->host().empty()) {
    return unexpected(expected);
  }
  if (parsed->hostPort.kind != sip::HostKind::kIpv4 &&
      parsed->hostPort.kind != sip::HostKind::kIpv6) {
    return unexpected("the host of " + diag::inQuotes(uri) +
                      " is a name; expected an IP address (the proxy resolves no names)");
  }
  std::optional<transport::Protocol> protocol;
  if (auto param = parsed->params.find("transport")) {
    if (sip::equalsIgnoreCase(param->value, "udp")) {
      protocol = transport::Protocol::kUdp;
    } else if (sip::equalsIgnoreCase(param->value, "tcp")) {
      protocol = transport::Protocol::kTcp;
    } else {
      return unexpected("transport \"" + std::string(param->value) + "\" in " +
                        diag::inQuotes(uri) + " is not supported; expected udp or tcp");
    }
  }
  out.uri = std::string(uri);
  out.host = std::string(parsed->host());
  out.port = parsed->hostPort.hasPort ? parsed->port() : 0;
  out.protocol = protocol;
  return {};
}

const SetConfig* DispatcherConfig::findSet(std::string_view name) const {
  for (const SetConfig& set : sets) {
    if (set.name == name) return &set;
  }
  return nullptr;
}

CodeSet defaultAliveCodes() {
  CodeSet codes;
  codes.add(200, 299);
  codes.add(404, 405);
  codes.add(501, 501);
  return codes;
}

CodeSet defaultFailoverCodes() {
  CodeSet codes;
  codes.add(408, 408);
  codes.add(500, 699);
  return codes;
}

bool readConfig(module::ConfigureContext& context, DispatcherConfig& out) {
  DispatcherConfig config;
  config.probe.aliveCodes = defaultAliveCodes();
  config.failover.codes = defaultFailoverCodes();
  bool ok = true;
  module::SectionReader reader(context, context.section());
  {
    module::SectionReader probe(context, reader.child("probe"), "probe");
    ok &= probe.integer("interval", 0, 3600, config.probe.intervalSeconds);
    ok &= probe.integer("timeout", 1, 60, config.probe.timeoutSeconds);
    const YAML::Node method = probe.child("method");
    if (method.IsDefined()) {
      static constexpr std::array<std::string_view, 1> kMethods = {"OPTIONS"};
      if (!method.IsScalar() || method.Scalar() != "OPTIONS") {
        context.error(
            method, probe.keyPath("method"),
            "expected OPTIONS (the only probe method), got " + script::describeNode(method) +
                (method.IsScalar() ? diag::didYouMean(method.Scalar(), kMethods) : std::string()));
        ok = false;
      }
    }
    const YAML::Node from = probe.child("from");
    if (from.IsDefined()) {
      auto parsed = from.IsScalar()
                        ? sip::parseUri(from.Scalar())
                        : Expected<sip::Uri, sip::ParseError>(unexpected(sip::ParseError{}));
      if (!parsed || !parsed->isSip()) {
        context.error(from, probe.keyPath("from"),
                      "expected a SIP URI (\"sip:dispatcher@example.com\"), got " +
                          script::describeNode(from));
        ok = false;
      } else {
        config.probe.from = from.Scalar();
      }
    }
    ok &= readCodes(context, probe.child("alive_codes"), probe.keyPath("alive_codes"),
                    config.probe.aliveCodes);
    ok &= probe.integer("failures_to_inactive", 1, 100, config.probe.failuresToInactive);
    ok &= probe.integer("successes_to_active", 1, 100, config.probe.successesToActive);
    int mode = static_cast<int>(config.probe.mode);
    ok &= probe.choice("probe_mode", {"all", "inactive"}, mode);
    config.probe.mode = static_cast<ProbeMode>(mode);
    ok &= probe.finish();
  }
  {
    module::SectionReader failover(context, reader.child("failover"), "failover");
    ok &= readCodes(context, failover.child("codes"), failover.keyPath("codes"),
                    config.failover.codes);
    ok &= failover.integer("max_attempts", 1, kMaxAttemptsLimit, config.failover.maxAttempts);
    ok &= failover.finish();
  }
  const YAML::Node database = reader.child("database");
  if (database.IsDefined()) readDatabase(context, database, config, ok);
  reader.require("sets");
  const YAML::Node sets = reader.child("sets");
  if (sets.IsDefined()) {
    if (!sets.IsMap() || sets.size() == 0) {
      context.error(sets, "sets",
                    "expected a mapping of set names to sets ({gateways: {algorithm: round_robin, "
                    "destinations: [...]}}), got " +
                        script::describeNode(sets));
      ok = false;
    } else {
      for (const auto& pair : sets)
        readSet(context, pair.first, pair.second, config, ok);
      if (!config.database) {
        for (const auto& pair : sets) {
          const YAML::Node flag = pair.second.IsMap() ? pair.second["from_database"] : YAML::Node();
          if (pair.first.IsScalar() && flag.IsDefined() && flag.IsScalar() &&
              flag.Scalar() == "true") {
            context.error(flag, "sets." + pair.first.Scalar() + ".from_database",
                          "a set from the database needs a database section "
                          "(database: {conninfo: \"...\", table: dispatcher})");
            ok = false;
          }
        }
      }
    }
  }
  const YAML::Node adminFile = reader.child("admin_file");
  if (adminFile.IsDefined()) {
    if (!adminFile.IsScalar() || adminFile.Scalar().empty()) {
      context.error(
          adminFile, "admin_file",
          "expected the path of the admin state file, got " + script::describeNode(adminFile));
      ok = false;
    } else {
      std::filesystem::path path(adminFile.Scalar());
      if (path.is_relative()) {
        path = std::filesystem::path(std::string(context.file())).parent_path() / path;
      }
      config.adminFile = path.lexically_normal().string();
      if (ok) {
        auto disabled = readAdminFile(config.adminFile, config.sets);
        if (!disabled) {
          context.error(adminFile, "admin_file", disabled.error());
          ok = false;
        } else {
          config.adminDisabled = std::move(disabled.value());
        }
      }
    }
  }
  ok &= reader.finish();
  out = std::move(config);
  return ok;
}

Expected<std::set<DestinationKey>, std::string> readAdminFile(const std::string& path,
                                                              const std::vector<SetConfig>& sets) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::set<DestinationKey>{};  // nothing disabled
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return unexpected(path + ": " + e.what());
  }
  std::set<DestinationKey> disabled;
  if (root.IsNull()) return disabled;
  const std::string expected = "expected {disabled: [\"SET URI\", ...]}";
  if (!root.IsMap()) return unexpected(path + ": " + expected);
  for (const auto& pair : root) {
    if (!pair.first.IsScalar() || pair.first.Scalar() != "disabled") {
      return unexpected(path + ":" + std::to_string(pair.first.Mark().line + 1) + ":" +
                        std::to_string(pair.first.Mark().column + 1) + ": unknown key; " +
                        expected);
    }
    const YAML::Node list = pair.second;
    if (list.IsNull()) continue;
    if (!list.IsSequence()) return unexpected(path + ": " + expected);
    for (const YAML::Node& item : list) {
      const std::string where = path + ":" + std::to_string(item.Mark().line + 1) + ":" +
                                std::to_string(item.Mark().column + 1) + ": ";
      const std::string text = item.IsScalar() ? item.Scalar() : std::string();
      const std::size_t space = text.find(' ');
      if (space == std::string::npos) {
        return unexpected(where + "expected \"SET URI\", got " + script::describeNode(item));
      }
      DestinationKey key{text.substr(0, space), text.substr(text.find_first_not_of(' ', space))};
      bool known = false;
      for (const SetConfig& set : sets) {
        if (set.name != key.first) continue;
        known |= set.fromDatabase;
        for (const DestinationConfig& d : set.destinations)
          known |= d.uri == key.second;
      }
      if (!known) {
        return unexpected(where + "\"" + text + "\" names no destination of the configured sets");
      }
      disabled.insert(std::move(key));
    }
  }
  return disabled;
}

std::optional<SelectParams> readSelectParams(const YAML::Node& params,
                                             script::CompileContext& compile,
                                             const DispatcherConfig& config) {
  SelectParams out;
  YAML::Node setNode;
  bool setGiven = false;
  if (params.IsScalar()) {
    setNode = params;
    setGiven = true;
  } else if (params.IsMap()) {
    bool ok = true;
    for (const auto& pair : params) {
      const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
      const YAML::Node& value = pair.second;
      if (key == "set") {
        setNode = value;
        setGiven = true;
      } else if (key == "algorithm") {
        const auto names = algorithmNames();
        auto parsed = value.IsScalar() ? parseAlgorithm(value.Scalar()) : std::nullopt;
        if (!parsed) {
          compile.error(value, "unknown algorithm " + script::describeNode(value) +
                                   "; expected one of " + diag::listOf(names) +
                                   (value.IsScalar() ? diag::didYouMean(value.Scalar(), names)
                                                     : std::string()));
          ok = false;
        } else {
          out.algorithm = parsed;
        }
      } else if (key == "rewrite_ruri") {
        if (value.IsScalar() && (value.Scalar() == "true" || value.Scalar() == "false")) {
          out.rewriteRuri = value.Scalar() == "true";
        } else {
          compile.expected(value, "true or false");
          ok = false;
        }
      } else if (key == "max_attempts") {
        auto n = value.IsScalar() ? parseNumber(value.Scalar()) : std::nullopt;
        if (!n || *n < 1 || *n > kMaxAttemptsLimit) {
          compile.expected(value, "an integer from 1 to " + std::to_string(kMaxAttemptsLimit));
          ok = false;
        } else {
          out.maxAttempts = static_cast<int>(*n);
        }
      } else if (key == "all_down") {
        std::optional<int64_t> code;
        if (value.IsSequence() && (value.size() == 1 || value.size() == 2) && value[0].IsScalar()) {
          code = parseNumber(value[0].Scalar());
        } else if (value.IsScalar()) {
          code = parseNumber(value.Scalar());
        }
        const bool reasonOk = !value.IsSequence() || value.size() < 2 ||
                              (value[1].IsScalar() && !value[1].Scalar().empty());
        if (!code || *code < 300 || *code > 699 || !reasonOk) {
          compile.expected(value, "[CODE, \"REASON\"] with a final status code 300..699");
          ok = false;
        } else {
          out.allDownCode = static_cast<uint16_t>(*code);
          out.allDownReason = value.IsSequence() && value.size() == 2
                                  ? value[1].Scalar()
                                  : std::string(sip::defaultReasonPhrase(out.allDownCode));
        }
      } else {
        compile.error(pair.first, "unknown key " + script::describeNode(pair.first) +
                                      "; expected set, algorithm, rewrite_ruri, max_attempts or "
                                      "all_down");
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    if (!setGiven) {
      compile.error(params, "missing \"set\"; expected " + std::string(kSelectUsage));
      return std::nullopt;
    }
  } else {
    compile.expected(params, kSelectUsage);
    return std::nullopt;
  }
  if (!setNode.IsScalar() || setNode.Scalar().empty()) {
    compile.expected(setNode, "the name of a set");
    return std::nullopt;
  }
  out.set = setNode.Scalar();
  if (config.findSet(out.set) == nullptr) {
    std::vector<std::string_view> names;
    for (const SetConfig& set : config.sets)
      names.push_back(set.name);
    compile.error(setNode, "unknown set " + diag::inQuotes(out.set) + "; the sets are " +
                               (names.empty() ? std::string("(none)") : diag::listOf(names)) +
                               diag::didYouMean(out.set, names));
    return std::nullopt;
  }
  return out;
}

}  // namespace strowger::dispatcher
