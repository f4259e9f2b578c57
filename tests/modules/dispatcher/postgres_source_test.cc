// The dispatcher's sets read from a real PostgreSQL table (tests/support/postgres): rows become
// sets with NULLs taking their defaults, a bad row refuses the table naming it, a missing table or
// a server that is down is an error that says so. Skipped when PostgreSQL is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "db_source.h"
#include "pg_server.h"

namespace strowger::dispatcher {
namespace {

using namespace std::chrono_literals;

// The table as docs/dispatcher.md documents it.
constexpr const char* kCreateTable = R"(
CREATE TABLE dispatcher (
  setid       text    NOT NULL,
  destination text    NOT NULL,
  weight      integer DEFAULT 1,
  priority    integer DEFAULT 0,
  socket      text,
  attrs       text,
  description text,
  PRIMARY KEY (setid, destination)
))";

class DispatcherPgTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto db = server().createDatabase();
    ASSERT_TRUE(db) << db.error();
    settings_.conninfo = *db;
    database_ = settings_.conninfo.substr(settings_.conninfo.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
    sql(kCreateTable);
  }

  void sql(const std::string& statement) {
    auto r = server().query(statement, database_);
    ASSERT_TRUE(r) << statement << ": " << r.error();
  }

  Expected<DbSets, std::string> load() {
    auto rows = fetchRows(settings_, 2s);
    if (!rows) return unexpected("fetch: " + rows.error());
    return setsFromRows(*rows);
  }

  DatabaseSettings settings_;
  std::string database_;
};

TEST_F(DispatcherPgTest, RowsBecomeSets) {
  sql("INSERT INTO dispatcher (setid, destination, weight, priority, socket, attrs) VALUES "
      "('gateways', 'sip:10.0.0.2:5060', 70, 1, 'udp:10.0.0.254:5060', 'carrier=acme;prefix=00'),"
      "('gateways', 'sip:10.0.0.1:5060', 30, 0, NULL, NULL),"
      "('backup', 'sip:10.0.1.1;transport=tcp', DEFAULT, DEFAULT, '', '')");
  auto sets = load();
  ASSERT_TRUE(sets) << sets.error();
  ASSERT_EQ(sets->size(), 2u);
  const auto& gateways = sets->at("gateways");
  ASSERT_EQ(gateways.size(), 2u);
  // Ordered by destination, whatever the insert order.
  EXPECT_EQ(gateways[0].uri, "sip:10.0.0.1:5060");
  EXPECT_EQ(gateways[0].weight, 30);
  EXPECT_FALSE(gateways[0].socket.has_value());
  EXPECT_TRUE(gateways[0].attrs.empty());
  EXPECT_EQ(gateways[1].uri, "sip:10.0.0.2:5060");
  EXPECT_EQ(gateways[1].weight, 70);
  EXPECT_EQ(gateways[1].priority, 1);
  ASSERT_TRUE(gateways[1].socket.has_value());
  EXPECT_EQ(gateways[1].socket->text, "udp:10.0.0.254:5060");
  ASSERT_EQ(gateways[1].attrs.size(), 2u);
  EXPECT_EQ(gateways[1].attrs[0], (std::pair<std::string, std::string>{"carrier", "acme"}));
  EXPECT_EQ(gateways[1].attrs[1], (std::pair<std::string, std::string>{"prefix", "00"}));
  const auto& backup = sets->at("backup");
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].weight, 1);
  EXPECT_EQ(backup[0].priority, 0);
  EXPECT_EQ(backup[0].protocol, transport::Protocol::kTcp);
}

TEST_F(DispatcherPgTest, NullWeightAndPriorityTakeTheDefaults) {
  sql("INSERT INTO dispatcher VALUES ('gw', 'sip:10.0.0.1', NULL, NULL, NULL, NULL, NULL)");
  auto sets = load();
  ASSERT_TRUE(sets) << sets.error();
  const auto& gw = sets->at("gw");
  ASSERT_EQ(gw.size(), 1u);
  EXPECT_EQ(gw[0].weight, 1);
  EXPECT_EQ(gw[0].priority, 0);
}

TEST_F(DispatcherPgTest, BadRowRefusesTheTableNamingTheRow) {
  sql("INSERT INTO dispatcher (setid, destination, weight) VALUES "
      "('gateways', 'sip:10.0.0.1', 1), ('gateways', 'sip:10.0.0.2', 500)");
  auto sets = load();
  ASSERT_FALSE(sets);
  EXPECT_EQ(sets.error(),
            "row (setid \"gateways\", destination \"sip:10.0.0.2\"): weight \"500\": expected an "
            "integer from 0 to 100");

  sql("UPDATE dispatcher SET weight = 1");
  sql("UPDATE dispatcher SET destination = 'gw2.example.com' WHERE destination = 'sip:10.0.0.2'");
  sets = load();
  ASSERT_FALSE(sets);
  EXPECT_NE(sets.error().find("row (setid \"gateways\", destination \"gw2.example.com\"): "
                              "expected a SIP URI"),
            std::string::npos)
      << sets.error();

  sql("UPDATE dispatcher SET destination = 'sip:10.0.0.2', attrs = 'carrier' "
      "WHERE destination = 'gw2.example.com'");
  sets = load();
  ASSERT_FALSE(sets);
  EXPECT_NE(sets.error().find("attrs \"carrier\": expected NAME=VALUE"), std::string::npos)
      << sets.error();
}

TEST_F(DispatcherPgTest, EmptyTableHasNoSets) {
  auto sets = load();
  ASSERT_TRUE(sets) << sets.error();
  EXPECT_TRUE(sets->empty());
}

TEST_F(DispatcherPgTest, TableInASchema) {
  sql("CREATE SCHEMA routing");
  sql("CREATE TABLE routing.gw (setid text, destination text, weight int, priority int, "
      "socket text, attrs text)");
  sql("INSERT INTO routing.gw VALUES ('pbx', 'sip:10.1.0.10', 1, 10, NULL, 'site=a')");
  settings_.table = "routing.gw";
  auto sets = load();
  ASSERT_TRUE(sets) << sets.error();
  ASSERT_EQ(sets->at("pbx").size(), 1u);
  EXPECT_EQ(sets->at("pbx")[0].priority, 10);
}

TEST_F(DispatcherPgTest, MissingTableOrColumnIsAnError) {
  settings_.table = "no_such_table";
  auto rows = fetchRows(settings_, 2s);
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.error().find("reading table no_such_table: "), std::string::npos) << rows.error();
  EXPECT_NE(rows.error().find("does not exist"), std::string::npos) << rows.error();

  sql("CREATE TABLE partial (setid text, destination text)");
  settings_.table = "partial";
  rows = fetchRows(settings_, 2s);
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.error().find("weight"), std::string::npos) << rows.error();
}

TEST_F(DispatcherPgTest, ServerDownIsAnErrorAndTheNextReadWorksAgain) {
  sql("INSERT INTO dispatcher (setid, destination) VALUES ('gw', 'sip:10.0.0.1')");
  ASSERT_TRUE(server().stop());
  auto rows = fetchRows(settings_, 2s);
  ASSERT_TRUE(server().start());
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.error().find("cannot connect: "), std::string::npos) << rows.error();
  auto sets = load();
  ASSERT_TRUE(sets) << sets.error();
  EXPECT_EQ(sets->at("gw").size(), 1u);
}

}  // namespace
}  // namespace strowger::dispatcher
