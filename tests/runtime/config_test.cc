#include "strowger/runtime/config.h"

#include <gmock/gmock.h>

#include <gtest/gtest.h>
#include <sched.h>
#include <cstdlib>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "diagnostics.h"
#include "strowger/script/script.h"
#include "strowger/sip/message.h"

namespace strowger::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kConfigDir = STROWGER_CONFIG_DIR;
const std::string kVersion = STROWGER_VERSION;

Config parseOk(std::string_view yaml) {
  Expected<Config, ConfigErrors> config = parseConfig(yaml, "strowger.yaml");
  if (!config) {
    std::string all;
    for (const ConfigError& e : config.error())
      all += e.toString() + "\n";
    ADD_FAILURE() << "unexpected errors:\n" << all;
    return {};
  }
  return std::move(config).value();
}

// Every error as the operator sees it, "file:line:column: key: message".
std::vector<std::string> errorsOf(std::string_view yaml) {
  Expected<Config, ConfigErrors> config = parseConfig(yaml, "strowger.yaml");
  if (config) {
    ADD_FAILURE() << "expected errors, the config loaded";
    return {};
  }
  std::vector<std::string> out;
  for (const ConfigError& e : config.error())
    out.push_back(e.toString());
  return out;
}

ListenAddress address(Transport transport, std::string host, uint16_t port) {
  return ListenAddress{transport, std::move(host), port};
}

// --- the files shipped in config/ -----------------------------------------------------------

TEST(RuntimeConfig, DefaultConfigFileLoads) {
  // The modules it lists, from the build tree.
  ::setenv("STROWGER_MODULE_DIR", STROWGER_TEST_MODULE_DIR, 1);
  Expected<Config, ConfigErrors> config = loadConfigFile(kConfigDir + "/strowger.yaml");
  ASSERT_TRUE(config) << config.error().front().toString();
  const Config::Server& server = config->server;
  EXPECT_THAT(server.listen, ElementsAre(address(Transport::kUdp, "0.0.0.0", 5060),
                                         address(Transport::kTcp, "0.0.0.0", 5060)));
  EXPECT_EQ(server.workers, kWorkersAuto);
  EXPECT_EQ(server.log.level, LogLevel::kInfo);
  EXPECT_EQ(server.log.format, LogFormat::kText);
  EXPECT_EQ(server.log.target, LogTarget::kStderr);
  EXPECT_TRUE(server.log.file.empty());
  // The file spells the defaults out; they must be the defaults.
  EXPECT_EQ(server.limits, Config::Limits{});
  EXPECT_EQ(config->source, kConfigDir + "/strowger.yaml");
  EXPECT_THAT(config->modules.names, ElementsAre("location", "registrar"));
  EXPECT_EQ(config->modules.directory, STROWGER_TEST_MODULE_DIR);
}

TEST(RuntimeConfig, MinimalExampleLoads) {
  Expected<Config, ConfigErrors> config = loadConfigFile(kConfigDir + "/examples/minimal.yaml");
  ASSERT_TRUE(config) << config.error().front().toString();
  EXPECT_THAT(config->server.listen, ElementsAre(address(Transport::kUdp, "127.0.0.1", 5060)));
}

// --- values and defaults --------------------------------------------------------------------

TEST(RuntimeConfig, UnsetKeysTakeTheStructDefaults) {
  const Config config = parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n");
  const Config defaults;
  EXPECT_EQ(config.server.workers, defaults.server.workers);
  EXPECT_EQ(config.server.log.level, defaults.server.log.level);
  EXPECT_EQ(config.server.log.format, defaults.server.log.format);
  EXPECT_EQ(config.server.log.target, defaults.server.log.target);
  EXPECT_EQ(config.server.limits, defaults.server.limits);
}

TEST(RuntimeConfig, EmptySubsectionsMeanDefaults) {
  const Config config = parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n  log:\n  limits: {}\n");
  EXPECT_EQ(config.server.log.level, LogLevel::kInfo);
  EXPECT_EQ(config.server.limits, Config::Limits{});
}

TEST(RuntimeConfig, LimitDefaultsMatchTheParser) {
  // The SIP parser carries its own defaults for direct use; the daemon's must not drift from them.
  const sip::ParseLimits parser;
  const Config::Limits config;
  EXPECT_EQ(config.maxMessageBytes, parser.maxMessageBytes);
  EXPECT_EQ(config.maxHeaders, parser.maxHeaders);
  EXPECT_EQ(config.maxLineBytes, parser.maxLineBytes);
}

TEST(RuntimeConfig, EveryKeyIsRead) {
  const Config config = parseOk(R"(server:
  listen:
    - "udp:192.0.2.1:5080"
    - "tcp:[2001:db8::1]"
    - udp:[::]:5062
  workers: 4
  log:
    level: debug
    format: json
    target: file
    file: /var/log/strowger/strowger.log
  limits:
    max_message_bytes: 4096
    max_headers: 64
    max_line_bytes: 1024
)");
  EXPECT_THAT(config.server.listen, ElementsAre(address(Transport::kUdp, "192.0.2.1", 5080),
                                                address(Transport::kTcp, "2001:db8::1", 5060),
                                                address(Transport::kUdp, "::", 5062)));
  EXPECT_EQ(config.server.workers, 4u);
  EXPECT_EQ(config.server.log.level, LogLevel::kDebug);
  EXPECT_EQ(config.server.log.format, LogFormat::kJson);
  EXPECT_EQ(config.server.log.target, LogTarget::kFile);
  EXPECT_EQ(config.server.log.file, "/var/log/strowger/strowger.log");
  EXPECT_EQ(config.server.limits.maxMessageBytes, 4096u);
  EXPECT_EQ(config.server.limits.maxHeaders, 64u);
  EXPECT_EQ(config.server.limits.maxLineBytes, 1024u);
}

TEST(RuntimeConfig, LevelOffIsAWordNotABoolean) {
  // YAML 1.1 reads a plain `off` as false; here it is the log level.
  const Config config =
      parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n  log: { level: off }\n");
  EXPECT_EQ(config.server.log.level, LogLevel::kOff);
}

TEST(RuntimeConfig, RangesIncludeTheirBounds) {
  const Config low = parseOk(R"(server:
  listen: [ "udp:127.0.0.1" ]
  workers: 1
  limits: { max_message_bytes: 1024, max_headers: 16, max_line_bytes: 256 }
)");
  EXPECT_EQ(low.server.workers, 1u);
  EXPECT_EQ(low.server.limits.maxMessageBytes, 1024u);
  const Config high = parseOk(R"(server:
  listen: [ "udp:127.0.0.1" ]
  workers: 256
  limits: { max_message_bytes: 65535, max_headers: 1024, max_line_bytes: 65535 }
)");
  EXPECT_EQ(high.server.workers, 256u);
  EXPECT_EQ(high.server.limits.maxHeaders, 1024u);
}

TEST(RuntimeConfig, RelativeLogFileIsResolvedAgainstTheConfigDirectory) {
  Expected<Config, ConfigErrors> config = parseConfig(
      "server:\n  listen: [ \"udp:127.0.0.1\" ]\n  log: { target: file, file: logs/s.log }\n",
      "/etc/strowger/strowger.yaml");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server.log.file, "/etc/strowger/logs/s.log");
}

TEST(RuntimeConfig, EffectiveWorkersResolvesAuto) {
  Config::Server server;
  server.workers = kWorkersAuto;
  EXPECT_GE(effectiveWorkers(server), 1u);
  EXPECT_LE(effectiveWorkers(server), kMaxWorkers);
  server.workers = 7;
  EXPECT_EQ(effectiveWorkers(server), 7u);
}

TEST(RuntimeConfig, WorkersAutoFollowsTheAffinityMask) {
  cpu_set_t original;
  CPU_ZERO(&original);
  ASSERT_EQ(sched_getaffinity(0, sizeof(original), &original), 0);
  int first = 0;
  while (!CPU_ISSET(first, &original))
    ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const unsigned workers = effectiveWorkers(Config::Server{});
  ASSERT_EQ(sched_setaffinity(0, sizeof(original), &original), 0);
  EXPECT_EQ(workers, 1u);
}

// --- errors: each names file:line:column, the key and what was expected ----------------------

TEST(RuntimeConfigErrors, BadWorkersValue) {
  EXPECT_THAT(errorsOf(R"(server:
  listen: [ "udp:0.0.0.0" ]
  log: { level: info }
  workers: many
)"),
              ElementsAre("strowger.yaml:4:12: server.workers: expected \"auto\" or an integer "
                          "1..256, got \"many\""));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers: 0\n"),
              ElementsAre(HasSubstr("strowger.yaml:3:12: server.workers: expected")));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers: 257\n"),
              ElementsAre(HasSubstr("strowger.yaml:3:12: server.workers: expected")));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers: [1]\n"),
              ElementsAre("strowger.yaml:3:12: server.workers: expected \"auto\" or an integer "
                          "1..256, got a list"));
}

TEST(RuntimeConfigErrors, EmptyValuePointsAtItsKey) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers:\n  log: {}\n"),
              ElementsAre("strowger.yaml:3:3: server.workers: expected \"auto\" or an integer "
                          "1..256, got an empty value"));
}

TEST(RuntimeConfigErrors, UnknownKeySuggestsTheNearMiss) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  wrokers: 4\n"),
              ElementsAre("strowger.yaml:3:3: server.wrokers: unknown key; did you mean "
                          "\"workers\"?"));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log: { levle: info }\n"),
              ElementsAre("strowger.yaml:3:10: server.log.levle: unknown key; did you mean "
                          "\"level\"?"));
}

TEST(RuntimeConfigErrors, UnknownKeyWithoutNearMissListsTheKeys) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  timers: {}\n"),
              ElementsAre("strowger.yaml:3:3: server.timers: unknown key; expected one of listen, "
                          "workers, log, limits, transactions"));
}

TEST(RuntimeConfigErrors, UnknownSectionsAreNamedWithTheKnownOnes) {
  EXPECT_THAT(
      errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nroutes:\n  request: [ forward ]\n"
               "dispatch: {}\n"),
      ElementsAre(HasSubstr("strowger.yaml:5:1: dispatch: unknown section, not supported by "
                            "this version (strowger " +
                            kVersion + " reads only \"server\", \"modules\" and \"routes\")")));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nsevrer: {}\n"),
              ElementsAre(AllOf(HasSubstr("strowger.yaml:3:1: sevrer: unknown section, not "
                                          "supported by this version"),
                                HasSubstr("did you mean \"server\"?"))));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nroute: {}\n"),
              ElementsAre(HasSubstr("did you mean \"routes\"?")));
}

// --- routes ------------------------------------------------------------------------------------

TEST(RuntimeConfigRoutes, AbsentRoutesLeaveNoScript) {
  const Config config = parseOk("server:\n  listen: [ \"udp:0.0.0.0\" ]\n");
  EXPECT_EQ(config.routes, nullptr);
}

TEST(RuntimeConfigRoutes, RoutesAreCompiled) {
  const Config config = parseOk(R"(server:
  listen: [ "udp:0.0.0.0" ]
routes:
  request:
    - if: { has_to_tag: true }
      then: [ { route: in_dialog } ]
    - record_route
    - forward
  in_dialog:
    - loose_route
    - forward
)");
  ASSERT_NE(config.routes, nullptr);
  EXPECT_THAT(config.routes->routeNames(), ElementsAre("request", "in_dialog"));
}

TEST(RuntimeConfigRoutes, RouteErrorsJoinTheOthersInDocumentOrder) {
  EXPECT_THAT(errorsOf(R"(routes:
  request:
    - forwrad
    - if: { src_ip: "10.0.0.0/33" }
      then: [ { reply: [200, "OK"] } ]
server:
  workers: lots
  listen: [ "udp:0.0.0.0" ]
)"),
              ElementsAre("strowger.yaml:3:7: routes.request[0].forwrad: unknown step "
                          "\"forwrad\"; did you mean \"forward\"?",
                          "strowger.yaml:4:21: routes.request[1].if.src_ip: the prefix length of "
                          "\"10.0.0.0/33\" must be 0..32 for an IPv4 address",
                          "strowger.yaml:7:12: server.workers: expected \"auto\" or an integer "
                          "1..256, got \"lots\""));
}

TEST(RuntimeConfigRoutes, EmptyMissingRequestOrRepeatedRoutes) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nroutes:\n"),
              ElementsAre("strowger.yaml:3:1: routes: empty; expected the named routes, with at "
                          "least \"request\" (docs/routing.md)"));
  EXPECT_THAT(
      errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nroutes:\n  in_dialog: [ forward ]\n"),
      ElementsAre("strowger.yaml:4:3: routes: missing the \"request\" route, where every "
                  "request starts"));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nroutes:\n  request: [ forward ]\n"
                       "routes:\n  request: [ drop ]\n"),
              ElementsAre("strowger.yaml:5:1: routes: given twice (first at line 3)"));
}

TEST(RuntimeConfigRoutes, AConfigWithRouteErrorsIsNotUsed) {
  // Only route errors: still no Config at all.
  Expected<Config, ConfigErrors> config = parseConfig(
      "server:\n  listen: [ \"udp:0.0.0.0\" ]\nroutes:\n  request: [ { reply: [99] } ]\n",
      "strowger.yaml");
  ASSERT_FALSE(config);
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_EQ(config.error().front().key, "routes.request[0].reply");
  EXPECT_EQ(config.error().front().line, 4);
  EXPECT_EQ(config.error().front().column, 24);
}

TEST(RuntimeConfigErrors, MissingRequiredKeys) {
  EXPECT_THAT(errorsOf("server:\n  workers: 2\n"),
              ElementsAre("strowger.yaml:1:1: server.listen: missing; this key is required"));
  EXPECT_THAT(errorsOf("# nothing but a comment\n"),
              ElementsAre("strowger.yaml: the configuration is empty; expected a \"server\" "
                          "section"));
}

TEST(RuntimeConfigErrors, WrongShapes) {
  EXPECT_THAT(errorsOf("- server\n"),
              ElementsAre("strowger.yaml:1:1: expected a mapping with a \"server\" section, got a "
                          "list"));
  EXPECT_THAT(
      errorsOf("server:\n  listen: \"udp:0.0.0.0\"\n  log: [ info ]\n  limits: 5\n"),
      ElementsAre("strowger.yaml:2:11: server.listen: expected a list of addresses such as [ "
                  "\"udp:0.0.0.0:5060\", \"tcp:0.0.0.0:5060\" ], got \"udp:0.0.0.0\"",
                  "strowger.yaml:3:8: server.log: expected a mapping with the keys level, format, "
                  "target, file, got a list",
                  "strowger.yaml:4:11: server.limits: expected a mapping with the keys "
                  "max_message_bytes, max_headers, max_line_bytes, got \"5\""));
  EXPECT_THAT(errorsOf("server:\n  listen: []\n"),
              ElementsAre("strowger.yaml:2:11: server.listen: expected at least one address such "
                          "as [ \"udp:0.0.0.0:5060\", \"tcp:0.0.0.0:5060\" ]"));
}

TEST(RuntimeConfigErrors, ListenAddresses) {
  EXPECT_THAT(
      errorsOf(R"(server:
  listen:
    - "tls:0.0.0.0"
    - "udp:sip.example.com"
    - "udp:::1"
    - "udp:0.0.0.0:70000"
    - "sctp:0.0.0.0"
    - "udp:[::1]:5060"
    - "udp:[0:0::1]"
    - { udp: 1 }
)"),
      ElementsAre(
          "strowger.yaml:3:7: server.listen: transport \"tls\" is not supported by this version; "
          "use udp or tcp",
          "strowger.yaml:4:7: server.listen: \"sip.example.com\" is not a numeric IP address; "
          "listen on an address of this machine, or 0.0.0.0 or [::] for all (host names are not "
          "resolved here)",
          "strowger.yaml:5:7: server.listen: an IPv6 address must be written in brackets, e.g. "
          "\"udp:[::1]:5060\", got \"udp:::1\"",
          "strowger.yaml:6:7: server.listen: port \"70000\" in \"udp:0.0.0.0:70000\" is not an "
          "integer 1..65535",
          "strowger.yaml:7:7: server.listen: unknown transport \"sctp\" in \"sctp:0.0.0.0\"; "
          "expected udp or tcp",
          "strowger.yaml:9:7: server.listen: \"udp:[::1]:5060\" is listed twice (first at line 8)",
          "strowger.yaml:10:7: server.listen: expected an address such as \"udp:0.0.0.0:5060\", "
          "got a mapping"));
}

TEST(RuntimeConfigErrors, EveryLaterTransportIsRefusedClearly) {
  for (std::string_view transport : {"tls", "ws", "wss"}) {
    const std::string yaml =
        "server:\n  listen: [ \"" + std::string(transport) + ":127.0.0.1:5061\" ]\n";
    EXPECT_THAT(errorsOf(yaml), ElementsAre("strowger.yaml:2:13: server.listen: transport \"" +
                                            std::string(transport) +
                                            "\" is not supported by this version; use udp or tcp"));
  }
}

TEST(RuntimeConfigErrors, LogValues) {
  EXPECT_THAT(
      errorsOf(R"(server:
  listen: [ "udp:0.0.0.0" ]
  log:
    level: warn
    format: xml
    target: stdout
)"),
      ElementsAre("strowger.yaml:4:12: server.log.level: expected one of trace, debug, info, "
                  "warning, error, critical, off, got \"warn\"; did you mean \"warning\"?",
                  "strowger.yaml:5:13: server.log.format: expected one of text, json, got \"xml\"",
                  "strowger.yaml:6:13: server.log.target: expected one of stderr, syslog, file, "
                  "got \"stdout\""));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log: { level: INFO }\n"),
              ElementsAre(HasSubstr("did you mean \"info\"?")));
}

TEST(RuntimeConfigErrors, LogFileGoesWithTargetFile) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log:\n    target: file\n"),
              ElementsAre("strowger.yaml:4:13: server.log.file: missing; required when target "
                          "is \"file\""));
  EXPECT_THAT(
      errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log:\n    file: /tmp/s.log\n"),
      ElementsAre("strowger.yaml:4:5: server.log.file: only used when target is \"file\" (target "
                  "is \"stderr\" by default)"));
  EXPECT_THAT(
      errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log:\n    target: syslog\n"
               "    file: /tmp/s.log\n"),
      ElementsAre("strowger.yaml:5:5: server.log.file: only used when target is \"file\" (target "
                  "is \"syslog\")"));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  log: { target: file, file: }\n"),
              ElementsAre("strowger.yaml:3:24: server.log.file: expected a file path, got an "
                          "empty value"));
}

TEST(RuntimeConfigErrors, Limits) {
  EXPECT_THAT(
      errorsOf(R"(server:
  listen: [ "udp:0.0.0.0" ]
  limits:
    max_message_bytes: 1023
    max_headers: 0x40
    max_line_bytes: 65536
)"),
      ElementsAre("strowger.yaml:4:24: server.limits.max_message_bytes: expected an integer "
                  "1024..65535, got \"1023\"",
                  "strowger.yaml:5:18: server.limits.max_headers: expected an integer 16..1024, "
                  "got \"0x40\"",
                  "strowger.yaml:6:21: server.limits.max_line_bytes: expected an integer "
                  "256..65535, got \"65536\""));
}

TEST(RuntimeConfig, TransactionKeysAreRead) {
  const Config config = parseOk(R"(server:
  listen: [ "udp:0.0.0.0" ]
  transactions:
    max: 1000
    retry_after: 30
    t1: 250
    t2: 2000
    t4: 4000
    fr_timeout: 5000
    fr_inv_timeout: 60000
)");
  const Config::Transactions& tx = config.server.transactions;
  EXPECT_EQ(tx.max, 1000u);
  EXPECT_EQ(tx.retryAfter, 30u);
  EXPECT_EQ(tx.t1, 250u);
  EXPECT_EQ(tx.t2, 2000u);
  EXPECT_EQ(tx.t4, 4000u);
  EXPECT_EQ(tx.frTimeout, 5000u);
  EXPECT_EQ(tx.frInvTimeout, 60000u);
  EXPECT_EQ(parseOk("server:\n  listen: [ \"udp:0.0.0.0\" ]\n").server.transactions,
            Config::Transactions{});
}

TEST(RuntimeConfigErrors, Transactions) {
  EXPECT_THAT(
      errorsOf(R"(server:
  listen: [ "udp:0.0.0.0" ]
  transactions:
    max: 0
    t1: 5
    fr_timeout: 1h
)"),
      ElementsAre("strowger.yaml:4:10: server.transactions.max: expected an integer "
                  "16..10000000, got \"0\"",
                  "strowger.yaml:5:9: server.transactions.t1: expected an integer 10..10000, "
                  "got \"5\"",
                  "strowger.yaml:6:17: server.transactions.fr_timeout: expected an integer "
                  "100..600000, got \"1h\""));
  EXPECT_THAT(errorsOf(R"(server:
  listen: [ "udp:0.0.0.0" ]
  transactions: { t1: 3000, t2: 2000 }
)"),
              ElementsAre("strowger.yaml:3:3: server.transactions: t2 (2000 ms) must not be "
                          "smaller than t1 (3000 ms)"));
}

TEST(RuntimeConfigErrors, DuplicateKeys) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers: 2\n  workers: 3\n"),
              ElementsAre("strowger.yaml:4:3: server.workers: given twice (first at line 3)"));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\nserver:\n  workers: 3\n"),
              ElementsAre("strowger.yaml:3:1: server: given twice (first at line 1)"));
}

TEST(RuntimeConfigErrors, YamlSyntaxErrorsHaveAPosition) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\"\n  workers: 2\n"),
              ElementsAre("strowger.yaml:3:3: YAML syntax error: end of sequence flow not found"));
  EXPECT_THAT(errorsOf("server:\n\tlisten: []\n"),
              ElementsAre(AllOf(HasSubstr("strowger.yaml:2:"), HasSubstr("YAML syntax error"),
                                HasSubstr("line 2 is indented with a tab"))));
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n---\nserver: {}\n"),
              ElementsAre("strowger.yaml:4:1: a second YAML document; the configuration is a "
                          "single document"));
}

TEST(RuntimeConfigErrors, AllErrorsAreCollectedInDocumentOrder) {
  const std::vector<std::string> errors = errorsOf(R"(server:
  log:
    target: file
  workers: lots
  limits: { max_headers: 8 }
routes: {}
)");
  EXPECT_THAT(errors,
              ElementsAre(HasSubstr("strowger.yaml:1:1: server.listen: missing"),
                          HasSubstr("strowger.yaml:3:13: server.log.file: missing"),
                          HasSubstr("strowger.yaml:4:12: server.workers: expected"),
                          HasSubstr("strowger.yaml:5:26: server.limits.max_headers: expected"),
                          HasSubstr("strowger.yaml:6:9: routes: missing the \"request\" "
                                    "route")));
}

TEST(RuntimeConfigErrors, UnreadableFile) {
  Expected<Config, ConfigErrors> config = loadConfigFile("/nonexistent/strowger.yaml");
  ASSERT_FALSE(config);
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_EQ(config.error().front().toString(),
            "/nonexistent/strowger.yaml: cannot open: No such file or directory");

  Expected<Config, ConfigErrors> directory = loadConfigFile(kConfigDir);
  ASSERT_FALSE(directory);
  EXPECT_THAT(directory.error().front().toString(), HasSubstr("is a directory"));
}

TEST(RuntimeConfigErrors, ValuesInMessagesAreEscaped) {
  EXPECT_THAT(errorsOf("server:\n  listen: [ \"udp:0.0.0.0\" ]\n  workers: \"4\\n\\u001b[2J\"\n"),
              ElementsAre(HasSubstr("got \"4\\x0a\\x1b[2J\"")));
}

// --- overrides: the command line wins over the file, the file over the defaults ---------------

TEST(RuntimeConfigOverrides, CommandLineWinsOverFile) {
  Config config =
      parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n  workers: 4\n  log: { level: debug }\n");
  const std::array<const char*, 6> args = {"-c", "x.yaml",      "--workers",
                                           "2",  "--log-level", "error"};
  Expected<CommandLine, std::string> cl = parseCommandLine(args);
  ASSERT_TRUE(cl) << cl.error();
  applyOverrides(config, cl->overrides);
  EXPECT_EQ(config.server.workers, 2u);
  EXPECT_EQ(config.server.log.level, LogLevel::kError);
}

TEST(RuntimeConfigOverrides, FileWinsOverDefaultsWhenNothingIsOverridden) {
  Config config =
      parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n  workers: 4\n  log: { level: debug }\n");
  applyOverrides(config, ConfigOverrides{});
  EXPECT_EQ(config.server.workers, 4u);
  EXPECT_EQ(config.server.log.level, LogLevel::kDebug);
}

TEST(RuntimeConfigOverrides, WorkersAutoOverridesAnExplicitCount) {
  Config config = parseOk("server:\n  listen: [ \"udp:127.0.0.1\" ]\n  workers: 4\n");
  applyOverrides(config, ConfigOverrides{kWorkersAuto, std::nullopt});
  EXPECT_EQ(config.server.workers, kWorkersAuto);
  EXPECT_EQ(config.server.log.level, LogLevel::kInfo);
}

// --- the small parsers -----------------------------------------------------------------------

TEST(RuntimeListenAddress, ParsesAndPrintsCanonically) {
  struct Case {
    std::string_view text;
    std::string_view canonical;
  };
  for (const Case& c : {
           Case{"udp:0.0.0.0", "udp:0.0.0.0:5060"},
           Case{"tcp:10.0.0.1:5070", "tcp:10.0.0.1:5070"},
           Case{"udp:[::1]", "udp:[::1]:5060"},
           Case{"udp:[0:0:0:0:0:0:0:1]:5062", "udp:[::1]:5062"},
           Case{"tls:127.0.0.1", "tls:127.0.0.1:5061"},
           Case{"ws:127.0.0.1", "ws:127.0.0.1:80"},
           Case{"wss:[::]", "wss:[::]:443"},
       }) {
    Expected<ListenAddress, std::string> parsed = parseListenAddress(c.text);
    ASSERT_TRUE(parsed) << c.text << ": " << parsed.error();
    EXPECT_EQ(parsed->toString(), c.canonical);
  }
}

TEST(RuntimeListenAddress, RefusesMalformed) {
  for (std::string_view text :
       {"", "udp", "udp:", "UDP:0.0.0.0", "udp:0.0.0.0:", "udp:0.0.0.0:0", "udp:1.2.3", "udp:[::1",
        "udp:[::1]5060", "udp:[1.2.3.4]", "udp:localhost", "udp:0.0.0.0:5060:1"}) {
    EXPECT_FALSE(parseListenAddress(text)) << text;
  }
}

TEST(RuntimeWorkers, ParsesAutoAndRange) {
  EXPECT_EQ(parseWorkers("auto").value(), kWorkersAuto);
  EXPECT_EQ(parseWorkers("1").value(), 1u);
  EXPECT_EQ(parseWorkers("256").value(), 256u);
  for (std::string_view text : {"0", "257", "-1", "4.0", "Auto", "", "99999999999"}) {
    EXPECT_FALSE(parseWorkers(text)) << text;
  }
}

TEST(RuntimeSuggest, FindsLikelyTypos) {
  constexpr std::array<std::string_view, 4> keys = {"listen", "workers", "log", "limits"};
  EXPECT_EQ(closestMatch("lsten", keys), "listen");
  EXPECT_EQ(closestMatch("wrokers", keys), "workers");
  EXPECT_EQ(closestMatch("Workers", keys), "workers");
  EXPECT_EQ(closestMatch("logs", keys), "log");
  EXPECT_EQ(closestMatch("routes", keys), std::nullopt);
  EXPECT_EQ(closestMatch("x", keys), std::nullopt);
}

}  // namespace
}  // namespace strowger::runtime
