// The sets stored in PostgreSQL, without a server: rows as libpq gives them turned into sets, each
// bad row refusing the whole table with its description, the attrs text, NULLs and defaults.
#include <gtest/gtest.h>

#include "db_source.h"

namespace strowger::dispatcher {
namespace {

DbRow row(std::string setid, std::string destination) {
  DbRow r;
  r.setid = std::move(setid);
  r.destination = std::move(destination);
  return r;
}

TEST(DispatcherDbAttrs, ParsesPairsInOrder) {
  auto attrs = parseAttrs("carrier=acme;prefix=00;empty=");
  ASSERT_TRUE(attrs) << attrs.error();
  ASSERT_EQ(attrs->size(), 3u);
  EXPECT_EQ((*attrs)[0], (std::pair<std::string, std::string>{"carrier", "acme"}));
  EXPECT_EQ((*attrs)[1], (std::pair<std::string, std::string>{"prefix", "00"}));
  EXPECT_EQ((*attrs)[2], (std::pair<std::string, std::string>{"empty", ""}));
}

TEST(DispatcherDbAttrs, ValueMayHoldEqualsSign) {
  auto attrs = parseAttrs("route=a=b");
  ASSERT_TRUE(attrs) << attrs.error();
  ASSERT_EQ(attrs->size(), 1u);
  EXPECT_EQ((*attrs)[0].second, "a=b");
}

TEST(DispatcherDbAttrs, EmptyTextAndStraySemicolonsHaveNone) {
  EXPECT_TRUE(parseAttrs("")->empty());
  EXPECT_TRUE(parseAttrs(";;")->empty());
  EXPECT_EQ(parseAttrs("a=1;")->size(), 1u);
}

TEST(DispatcherDbAttrs, RejectsItemsWithoutNameOrEquals) {
  auto missing = parseAttrs("carrier=acme;oops");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("got \"oops\""), std::string::npos) << missing.error();
  ASSERT_FALSE(parseAttrs("=x"));
  ASSERT_FALSE(parseAttrs("bad name=x"));
  auto twice = parseAttrs("a=1;a=2");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().find("given twice"), std::string::npos) << twice.error();
}

TEST(DispatcherDbRows, GroupsRowsBySetWithDefaultsForNulls) {
  DbRow full = row("gateways", "sip:10.0.0.1:5060");
  full.weight = "30";
  full.priority = "5";
  full.socket = "udp:10.0.0.254:5060";
  full.attrs = "carrier=acme";
  const DbRow nulls = row("gateways", "sip:10.0.0.2;transport=tcp");
  DbRow emptyTexts = row("backup", "sip:[2001:db8::1]:5080");
  emptyTexts.socket = "";
  emptyTexts.attrs = "";
  auto sets = setsFromRows({full, nulls, emptyTexts});
  ASSERT_TRUE(sets) << sets.error();
  ASSERT_EQ(sets->size(), 2u);
  const auto& gateways = sets->at("gateways");
  ASSERT_EQ(gateways.size(), 2u);
  EXPECT_EQ(gateways[0].uri, "sip:10.0.0.1:5060");
  EXPECT_EQ(gateways[0].host, "10.0.0.1");
  EXPECT_EQ(gateways[0].port, 5060);
  EXPECT_EQ(gateways[0].weight, 30);
  EXPECT_EQ(gateways[0].priority, 5);
  ASSERT_TRUE(gateways[0].socket.has_value());
  EXPECT_EQ(gateways[0].socket->port, 5060);
  ASSERT_EQ(gateways[0].attrs.size(), 1u);
  EXPECT_EQ(gateways[0].attrs[0].second, "acme");
  EXPECT_EQ(gateways[1].weight, 1);    // NULL weight
  EXPECT_EQ(gateways[1].priority, 0);  // NULL priority
  EXPECT_FALSE(gateways[1].socket.has_value());
  EXPECT_TRUE(gateways[1].attrs.empty());
  EXPECT_EQ(gateways[1].protocol, transport::Protocol::kTcp);
  const auto& backup = sets->at("backup");
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].host, "2001:db8::1");
  EXPECT_FALSE(backup[0].socket.has_value());
}

// Each bad row refuses the table, and the message names the row and what was wrong with it.
TEST(DispatcherDbRows, BadRowRefusesTheTableNamingIt) {
  const DbRow good = row("gateways", "sip:10.0.0.1");
  struct Case {
    DbRow bad;
    std::string expected;
  };
  std::vector<Case> cases;
  cases.push_back({row("gateways", "10.0.0.9"),
                   "row (setid \"gateways\", destination \"10.0.0.9\"): expected a SIP URI"});
  cases.push_back({row("gateways", "sip:gw.example.com"), "is a name; expected an IP address"});
  cases.push_back({row("gateways", "sip:10.0.0.1"), "already has this destination"});
  cases.push_back({row("bad set", "sip:10.0.0.3"),
                   "row (setid \"bad set\", destination \"sip:10.0.0.3\"): expected a setid"});
  DbRow noSet;
  noSet.destination = "sip:10.0.0.3";
  cases.push_back({noSet, "row (setid NULL, destination \"sip:10.0.0.3\"): expected a setid"});
  cases.push_back({row("gateways", ""), "expected a SIP URI"});
  DbRow noDestination;
  noDestination.setid = "gateways";
  cases.push_back({noDestination, "destination NULL): expected a destination URI, got NULL"});
  DbRow heavy = row("gateways", "sip:10.0.0.4");
  heavy.weight = "101";
  cases.push_back({heavy,
                   "row (setid \"gateways\", destination \"sip:10.0.0.4\"): weight \"101\": "
                   "expected an integer from 0 to 100"});
  DbRow negative = row("gateways", "sip:10.0.0.4");
  negative.priority = "-1";
  cases.push_back({negative, "priority \"-1\": expected an integer from 0 to 1000"});
  DbRow badSocket = row("gateways", "sip:10.0.0.4");
  badSocket.socket = "sctp:10.0.0.254:5060";
  cases.push_back({badSocket, "socket: expected \"udp:IP:PORT\" or \"tcp:IP:PORT\""});
  DbRow badAttrs = row("gateways", "sip:10.0.0.4");
  badAttrs.attrs = "carrier";
  cases.push_back({badAttrs, "attrs \"carrier\": expected NAME=VALUE"});
  DbRow tls = row("gateways", "sip:10.0.0.4;transport=tls");
  cases.push_back({tls, "transport \"tls\""});
  for (const Case& c : cases) {
    auto sets = setsFromRows({good, c.bad});
    ASSERT_FALSE(sets) << c.expected;
    EXPECT_NE(sets.error().find(c.expected), std::string::npos) << sets.error();
  }
}

TEST(DispatcherDbRows, SocketMustBeAListener) {
  DbRow r = row("gateways", "sip:10.0.0.1");
  r.socket = "udp:127.0.0.1:5060";
  auto known = [](const SocketSpec& s) { return s.port == 5060; };
  auto unknown = [](const SocketSpec&) { return false; };
  EXPECT_TRUE(setsFromRows({r}, known));
  auto refused = setsFromRows({r}, unknown);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("socket \"udp:127.0.0.1:5060\" is not one of this proxy's "
                                 "listen addresses"),
            std::string::npos)
      << refused.error();
}

TEST(DispatcherDbRows, EmptyTableHasNoSets) {
  auto sets = setsFromRows({});
  ASSERT_TRUE(sets);
  EXPECT_TRUE(sets->empty());
}

TEST(DispatcherDbRows, MergeFillsOnlyDatabaseSets) {
  DispatcherConfig config;
  SetConfig file;
  file.name = "file";
  DestinationConfig own;
  own.uri = "sip:10.0.0.1";
  file.destinations.push_back(own);
  SetConfig fromDb;
  fromDb.name = "gateways";
  fromDb.fromDatabase = true;
  SetConfig missing;
  missing.name = "missing";
  missing.fromDatabase = true;
  config.sets = {file, fromDb, missing};
  auto sets = setsFromRows(
      {row("gateways", "sip:10.0.0.7"), row("file", "sip:10.0.0.8"), row("other", "sip:10.0.0.9")});
  ASSERT_TRUE(sets);
  mergeDatabaseSets(config, *sets);
  ASSERT_EQ(config.sets[0].destinations.size(), 1u);  // the file's set is the file's
  EXPECT_EQ(config.sets[0].destinations[0].uri, "sip:10.0.0.1");
  ASSERT_EQ(config.sets[1].destinations.size(), 1u);
  EXPECT_EQ(config.sets[1].destinations[0].uri, "sip:10.0.0.7");
  EXPECT_TRUE(config.sets[2].destinations.empty());  // no row: empty
}

TEST(DispatcherDbRows, SelectNamesTheTableAndAStableOrder) {
  DatabaseSettings settings;
  settings.table = "routing.gateways";
  EXPECT_EQ(selectSql(settings),
            "SELECT setid, destination, weight, priority, socket, attrs FROM routing.gateways "
            "ORDER BY setid, destination");
}

}  // namespace
}  // namespace strowger::dispatcher
