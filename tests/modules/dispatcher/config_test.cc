// The dispatcher's configuration: what a good section gives, and each mistake reported at its
// line and column with what was expected.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config.h"
#include "strowger/script/registry.h"

namespace strowger::dispatcher {
namespace {

class TestConfigure final : public module::ConfigureContext {
 public:
  explicit TestConfigure(const std::string& yaml) : root_(YAML::Load(yaml)) {
    section_ = root_["dispatcher"];
  }
  std::string_view file() const override { return file_; }
  const YAML::Node& section() const override { return section_; }
  void error(const YAML::Node& node, std::string_view key, std::string message) override {
    const YAML::Mark mark = node.Mark();
    errors.push_back(std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": " +
                     std::string(key) + ": " + message);
  }
  script::StepRegistry& steps() override { return registry_; }
  module::Module* findModule(std::string_view) override { return nullptr; }

  std::string file_ = "/etc/strowger/strowger.yaml";
  std::vector<std::string> errors;

 private:
  YAML::Node root_;
  YAML::Node section_;
  script::StepRegistry registry_;
};

class TestCompile final : public script::CompileContext {
 public:
  std::string_view file() const override { return "strowger.yaml"; }
  script::RouteKind routeKind() const override { return script::RouteKind::kRequest; }
  std::string_view stepName() const override { return "dispatcher.select"; }
  void error(const YAML::Node& node, std::string message) override {
    errors.push_back(std::to_string(node.Mark().line + 1) + ":" +
                     std::to_string(node.Mark().column + 1) + ": " + message);
  }
  void expected(const YAML::Node& node, std::string_view what) override {
    error(node, "expected " + std::string(what) + ", got " + script::describeNode(node));
  }
  std::optional<script::Value> compileValue(const YAML::Node&) override { return std::nullopt; }
  std::optional<std::regex> compileRegex(const YAML::Node&, bool) override { return std::nullopt; }
  const script::Route* findRoute(const YAML::Node&) override { return nullptr; }
  const script::Route* findRoute(const YAML::Node&, script::RouteKind) override { return nullptr; }
  std::unique_ptr<const script::Action> compileSteps(const YAML::Node&) override { return {}; }
  std::unique_ptr<const script::Condition> compileCondition(const YAML::Node&) override {
    return {};
  }
  std::vector<std::string> errors;
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines)
    out += line + "\n";
  return out;
}

constexpr const char* kGood = R"(dispatcher:
  probe:
    interval: 1
    timeout: 1
    alive_codes: [200-299, 404, "5xx"]
    failures_to_inactive: 2
    successes_to_active: 3
    probe_mode: all
  failover:
    codes: [408, 500-599]
    max_attempts: 2
  sets:
    gateways:
      algorithm: weighted
      destinations:
        - { uri: "sip:10.0.0.1:5060", weight: 10, priority: 1, socket: "udp:10.0.0.254:5060",
            attrs: { carrier: acme, prefix: "00" } }
        - { uri: "sip:10.0.0.2;transport=tcp", weight: 90 }
    backup:
      destinations:
        - uri: "sip:[2001:db8::1]:5080"
)";

TEST(DispatcherConfig, ReadsEverySetting) {
  TestConfigure context(kGood);
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  EXPECT_EQ(config.probe.intervalSeconds, 1);
  EXPECT_EQ(config.probe.timeoutSeconds, 1);
  EXPECT_EQ(config.probe.failuresToInactive, 2);
  EXPECT_EQ(config.probe.successesToActive, 3);
  EXPECT_EQ(config.probe.mode, ProbeMode::kAll);
  EXPECT_TRUE(config.probe.aliveCodes.contains(250));
  EXPECT_TRUE(config.probe.aliveCodes.contains(404));
  EXPECT_TRUE(config.probe.aliveCodes.contains(503));
  EXPECT_FALSE(config.probe.aliveCodes.contains(405));
  EXPECT_TRUE(config.failover.codes.contains(408));
  EXPECT_TRUE(config.failover.codes.contains(503));
  EXPECT_FALSE(config.failover.codes.contains(486));
  EXPECT_FALSE(config.failover.codes.contains(603));
  EXPECT_EQ(config.failover.maxAttempts, 2);
  ASSERT_EQ(config.sets.size(), 2u);
  const SetConfig& gateways = config.sets[0];
  EXPECT_EQ(gateways.name, "gateways");
  EXPECT_EQ(gateways.algorithm, Algorithm::kWeighted);
  ASSERT_EQ(gateways.destinations.size(), 2u);
  const DestinationConfig& first = gateways.destinations[0];
  EXPECT_EQ(first.host, "10.0.0.1");
  EXPECT_EQ(first.port, 5060);
  EXPECT_FALSE(first.protocol.has_value());
  EXPECT_EQ(first.weight, 10);
  EXPECT_EQ(first.priority, 1);
  ASSERT_TRUE(first.socket.has_value());
  EXPECT_EQ(first.socket->host, "10.0.0.254");
  EXPECT_EQ(first.socket->port, 5060);
  EXPECT_EQ(first.socket->protocol, transport::Protocol::kUdp);
  ASSERT_EQ(first.attrs.size(), 2u);
  EXPECT_EQ(first.attrs[1], (std::pair<std::string, std::string>{"prefix", "00"}));
  EXPECT_EQ(gateways.destinations[1].protocol, transport::Protocol::kTcp);
  EXPECT_EQ(gateways.destinations[1].port, 0);
  EXPECT_EQ(config.sets[1].algorithm, Algorithm::kRoundRobin);
  EXPECT_EQ(config.sets[1].destinations[0].host, "2001:db8::1");
}

TEST(DispatcherConfig, DefaultsFromTheIssue) {
  TestConfigure context(
      "dispatcher:\n  sets:\n    a:\n      destinations: [ { uri: \"sip:127.0.0.1\" } ]\n");
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  EXPECT_EQ(config.probe.intervalSeconds, 10);
  EXPECT_EQ(config.probe.timeoutSeconds, 2);
  EXPECT_EQ(config.probe.failuresToInactive, 3);
  EXPECT_EQ(config.probe.successesToActive, 2);
  EXPECT_EQ(config.probe.mode, ProbeMode::kInactive);
  for (uint16_t code : {200, 299, 404, 405, 501})
    EXPECT_TRUE(config.probe.aliveCodes.contains(code));
  for (uint16_t code : {408, 500, 503, 600, 699})
    EXPECT_TRUE(config.failover.codes.contains(code));
  EXPECT_FALSE(config.failover.codes.contains(404));
  EXPECT_EQ(config.failover.maxAttempts, 3);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* error;  // the whole expected message, with line and column
};

class DispatcherConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(DispatcherConfigErrors, NamesThePlaceAndWhatWasExpected) {
  TestConfigure context(GetParam().yaml);
  DispatcherConfig config;
  EXPECT_FALSE(readConfig(context, config));
  ASSERT_FALSE(context.errors.empty());
  EXPECT_EQ(context.errors.front(), GetParam().error) << joined(context.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DispatcherConfigErrors,
    ::testing::Values(
        BadCase{
            "BadUri",
            "dispatcher:\n  sets:\n    gw:\n      destinations:\n        - { uri: \"10.0.0.1\" }\n",
            "5:18: sets.gw.destinations[0].uri: expected a SIP URI "
            "\"sip:HOST[:PORT][;transport=udp|tcp]\", got \"10.0.0.1\""},
        BadCase{"HostName",
                "dispatcher:\n  sets:\n    gw:\n      destinations:\n"
                "        - { uri: \"sip:gw.example.com\" }\n",
                "5:18: sets.gw.destinations[0].uri: the host of \"sip:gw.example.com\" is a name; "
                "expected an IP address (the proxy resolves no names)"},
        BadCase{"Transport",
                "dispatcher:\n  sets:\n    gw:\n      destinations:\n"
                "        - { uri: \"sip:10.0.0.1;transport=sctp\" }\n",
                "5:18: sets.gw.destinations[0].uri: transport \"sctp\" in "
                "\"sip:10.0.0.1;transport=sctp\" is not supported; expected udp or tcp"},
        BadCase{"WeightOutOfRange",
                "dispatcher:\n  sets:\n    gw:\n      destinations:\n"
                "        - { uri: \"sip:10.0.0.1\", weight: 101 }\n",
                "5:42: sets.gw.destinations[0].weight: expected an integer from 0 to 100, got "
                "\"101\""},
        BadCase{"UnknownAlgorithm",
                "dispatcher:\n  sets:\n    gw:\n      algorithm: round_robbin\n"
                "      destinations: [ { uri: \"sip:10.0.0.1\" } ]\n",
                "4:18: sets.gw.algorithm: unknown algorithm \"round_robbin\"; expected one of "
                "hash_callid, hash_from, hash_to, hash_ruri, hash_authuser, round_robin, "
                "weighted, priority, random, least_calls; did you mean \"round_robin\"?"},
        BadCase{"DuplicateUri",
                "dispatcher:\n  sets:\n    gw:\n      destinations:\n"
                "        - { uri: \"sip:10.0.0.1\" }\n        - { uri: \"sip:10.0.0.1\" }\n",
                "6:18: sets.gw.destinations[1].uri: \"sip:10.0.0.1\" is already a destination of "
                "set gw; each destination is listed once"},
        BadCase{"BadSocket",
                "dispatcher:\n  sets:\n    gw:\n      destinations:\n"
                "        - { uri: \"sip:10.0.0.1\", socket: \"10.0.0.2:5060\" }\n",
                "5:42: sets.gw.destinations[0].socket: expected \"udp:IP:PORT\" or "
                "\"tcp:IP:PORT\" (a listen address of this proxy), got \"10.0.0.2:5060\""},
        BadCase{"MissingDestinations", "dispatcher:\n  sets:\n    gw: { algorithm: random }\n",
                "3:9: sets.gw.destinations: missing; this key is required"},
        BadCase{"BadCode",
                "dispatcher:\n  failover: { codes: [ 408, \"5xy\" ] }\n  sets:\n"
                "    gw: { destinations: [ { uri: \"sip:10.0.0.1\" } ] }\n",
                "2:29: failover.codes[1]: expected a status code 100..699, a range \"500-599\" or "
                "a class \"5xx\", got \"5xy\""},
        BadCase{"UnknownKey",
                "dispatcher:\n  probe: { intervall: 5 }\n  sets:\n"
                "    gw: { destinations: [ { uri: \"sip:10.0.0.1\" } ] }\n",
                "2:12: probe.intervall: unknown key; expected one of interval, timeout, method, "
                "from, alive_codes, failures_to_inactive, successes_to_active, probe_mode; did "
                "you mean \"interval\"?"},
        BadCase{"NoSets", "dispatcher:\n  probe: { interval: 5 }\n",
                "2:3: sets: missing; this key is required"},
        BadCase{"FromDatabaseWithoutDatabase",
                "dispatcher:\n  sets:\n    gw: { from_database: true }\n",
                "3:26: sets.gw.from_database: a set from the database needs a database section "
                "(database: {conninfo: \"...\", table: dispatcher})"},
        BadCase{"FromDatabaseWithDestinations",
                "dispatcher:\n  database: { conninfo: \"dbname=x\" }\n  sets:\n"
                "    gw:\n      from_database: true\n"
                "      destinations: [ { uri: \"sip:10.0.0.1\" } ]\n",
                "6:21: sets.gw.destinations: a set with from_database: true takes its "
                "destinations from the database table; remove either destinations or "
                "from_database"},
        BadCase{"FromDatabaseNotBoolean",
                "dispatcher:\n  database: { conninfo: \"dbname=x\" }\n  sets:\n"
                "    gw: { from_database: yes please }\n",
                "4:26: sets.gw.from_database: expected true or false, got \"yes please\""},
        BadCase{"DatabaseWithoutConninfo",
                "dispatcher:\n  database: { table: gateways }\n  sets:\n"
                "    gw: { from_database: true }\n",
                "2:13: database.conninfo: missing; this key is required"},
        BadCase{"DatabaseBadTable",
                "dispatcher:\n  database: { conninfo: \"dbname=x\", table: \"gw; drop\" }\n"
                "  sets:\n    gw: { from_database: true }\n",
                "2:44: database.table: expected a table name (letters, digits and '_', optionally "
                "SCHEMA.TABLE), got \"gw; drop\""},
        BadCase{"DatabaseRetryOutOfRange",
                "dispatcher:\n  database: { conninfo: \"dbname=x\", retry_interval: 0 }\n"
                "  sets:\n    gw: { from_database: true }\n",
                "2:53: database.retry_interval: expected an integer from 1 to 3600, got \"0\""}),
    [](const ::testing::TestParamInfo<BadCase>& param) { return param.param.name; });

class SelectParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestConfigure context(kGood);
    ASSERT_TRUE(readConfig(context, config_)) << joined(context.errors);
  }
  std::optional<SelectParams> read(const std::string& yaml) {
    node_ = YAML::Load(yaml);
    return readSelectParams(node_, compile_, config_);
  }
  DispatcherConfig config_;
  TestCompile compile_;
  YAML::Node node_;
};

TEST_F(SelectParamsTest, SetNameAlone) {
  auto params = read("gateways");
  ASSERT_TRUE(params) << joined(compile_.errors);
  EXPECT_EQ(params->set, "gateways");
  EXPECT_FALSE(params->algorithm);
  EXPECT_FALSE(params->rewriteRuri);
  EXPECT_EQ(params->allDownCode, 503);
  EXPECT_EQ(params->allDownReason, "Service Unavailable");
}

TEST_F(SelectParamsTest, EveryOption) {
  auto params = read(
      "{set: backup, algorithm: priority, rewrite_ruri: true, max_attempts: 5, all_down: [480, "
      "\"All Gone\"]}");
  ASSERT_TRUE(params) << joined(compile_.errors);
  EXPECT_EQ(params->set, "backup");
  EXPECT_EQ(params->algorithm, Algorithm::kPriority);
  EXPECT_TRUE(params->rewriteRuri);
  EXPECT_EQ(params->maxAttempts, 5);
  EXPECT_EQ(params->allDownCode, 480);
  EXPECT_EQ(params->allDownReason, "All Gone");
}

TEST_F(SelectParamsTest, UnknownSetNamesTheSets) {
  EXPECT_FALSE(read("gatways"));
  ASSERT_EQ(compile_.errors.size(), 1u);
  EXPECT_EQ(compile_.errors[0],
            "1:1: unknown set \"gatways\"; the sets are gateways, backup; did you mean "
            "\"gateways\"?");
}

TEST_F(SelectParamsTest, BadOptions) {
  EXPECT_FALSE(read("{set: gateways, all_down: [200]}"));
  EXPECT_FALSE(read("{set: gateways, algorithm: fastest}"));
  EXPECT_FALSE(read("{algorithm: random}"));
  EXPECT_FALSE(read("{set: gateways, retries: 2}"));
  ASSERT_EQ(compile_.errors.size(), 4u);
  EXPECT_EQ(compile_.errors[0],
            "1:27: expected [CODE, \"REASON\"] with a final status code 300..699, got a list");
  EXPECT_NE(compile_.errors[1].find("unknown algorithm \"fastest\""), std::string::npos);
  EXPECT_NE(compile_.errors[2].find("missing \"set\""), std::string::npos);
  EXPECT_NE(compile_.errors[3].find("unknown key \"retries\""), std::string::npos);
}

TEST(DispatcherConfig, DatabaseSetsAreDeclaredInTheFile) {
  TestConfigure context(R"(dispatcher:
  database:
    conninfo: "host=/run/postgresql dbname=strowger"
    table: routing.dispatcher
    retry_interval: 2
    load_timeout: 3
  sets:
    gateways:
      algorithm: hash_callid
      from_database: true
    local:
      destinations: [ { uri: "sip:10.0.0.1" } ]
)");
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  ASSERT_TRUE(config.database.has_value());
  EXPECT_EQ(config.database->conninfo, "host=/run/postgresql dbname=strowger");
  EXPECT_EQ(config.database->table, "routing.dispatcher");
  EXPECT_EQ(config.database->retryIntervalSeconds, 2);
  EXPECT_EQ(config.database->loadTimeoutSeconds, 3);
  ASSERT_EQ(config.sets.size(), 2u);
  EXPECT_TRUE(config.sets[0].fromDatabase);
  EXPECT_EQ(config.sets[0].algorithm, Algorithm::kHashCallId);
  EXPECT_TRUE(config.sets[0].destinations.empty());
  EXPECT_FALSE(config.sets[1].fromDatabase);

  // A step may name the database set: it is declared.
  TestCompile compile;
  const YAML::Node params = YAML::Load("gateways");
  EXPECT_TRUE(readSelectParams(params, compile, config)) << joined(compile.errors);
}

TEST(DispatcherConfig, DatabaseDefaults) {
  TestConfigure context(
      "dispatcher:\n  database: { conninfo: \"dbname=x\" }\n  sets:\n"
      "    gw: { from_database: true }\n");
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  ASSERT_TRUE(config.database.has_value());
  EXPECT_EQ(config.database->table, "dispatcher");
  EXPECT_EQ(config.database->retryIntervalSeconds, 5);
  EXPECT_EQ(config.database->loadTimeoutSeconds, 5);
}

// A database set's destinations are not known before the table is read: the admin file may name
// any URI of it; a set the file does not declare is still an error.
TEST(DispatcherAdminFile, NamesDestinationsOfDatabaseSets) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("dispatcher-admin-db-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string yaml =
      "dispatcher:\n  database: { conninfo: \"dbname=x\" }\n  sets:\n"
      "    gw: { from_database: true }\n  admin_file: admin.yaml\n";
  { std::ofstream(dir / "admin.yaml") << "disabled: [ \"gw sip:10.0.0.9\" ]\n"; }
  TestConfigure context(yaml);
  context.file_ = (dir / "strowger.yaml").string();
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  EXPECT_EQ(config.adminDisabled, (std::set<DestinationKey>{{"gw", "sip:10.0.0.9"}}));

  { std::ofstream(dir / "admin.yaml") << "disabled: [ \"other sip:10.0.0.9\" ]\n"; }
  TestConfigure wrong(yaml);
  wrong.file_ = context.file_;
  EXPECT_FALSE(readConfig(wrong, config));
  std::filesystem::remove_all(dir);
}

TEST(DispatcherAdminFile, ListsDisabledDestinations) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dispatcher-admin-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "admin.yaml") << "disabled: [ \"gateways sip:10.0.0.1:5060\" ]\n"; }
  TestConfigure context(std::string(kGood) + "  admin_file: admin.yaml\n");
  context.file_ = (dir / "strowger.yaml").string();
  DispatcherConfig config;
  ASSERT_TRUE(readConfig(context, config)) << joined(context.errors);
  EXPECT_EQ(config.adminFile, (dir / "admin.yaml").string());
  EXPECT_EQ(config.adminDisabled, (std::set<DestinationKey>{{"gateways", "sip:10.0.0.1:5060"}}));

  { std::ofstream(dir / "admin.yaml") << "disabled:\n  - \"gateways sip:10.9.9.9\"\n"; }
  TestConfigure wrong(std::string(kGood) + "  admin_file: admin.yaml\n");
  wrong.file_ = context.file_;
  EXPECT_FALSE(readConfig(wrong, config));
  ASSERT_EQ(wrong.errors.size(), 1u);
  EXPECT_EQ(wrong.errors[0], "22:15: admin_file: " + (dir / "admin.yaml").string() +
                                 ":2:5: \"gateways sip:10.9.9.9\" names no destination of the "
                                 "configured sets");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strowger::dispatcher
