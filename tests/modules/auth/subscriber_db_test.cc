// The auth module's PostgreSQL users and trusted lists (modules/auth/subscriber_db.h) against a
// real server (tests/support/postgres): a full load, a refresh that picks up a new row, an outage
// during which the last load keeps answering and after which it reloads, a missing column that is
// an error while the cache stays, trusted rows of text and inet columns.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "digest.h"
#include "pg_server.h"
#include "subscriber_db.h"

namespace strowger::auth {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 20s;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// Captures what the loader logs (and still prints it, for a failing test's output).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    auto logger = std::make_shared<spdlog::logger>(
        "test", spdlog::sinks_init_list{sink_, std::make_shared<spdlog::sinks::stderr_sink_mt>()});
    logger->set_level(spdlog::level::trace);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  int count(spdlog::level::level_enum level, const std::string& part) const {
    int n = 0;
    for (const auto& message : sink_->last_raw()) {
      const std::string text(message.payload.data(), message.payload.size());
      if (message.level == level && text.find(part) != std::string::npos) ++n;
    }
    return n;
  }
  // Whether any line, at any level, contains `part`.
  bool contains(const std::string& part) const {
    for (const auto& message : sink_->last_raw()) {
      const std::string text(message.payload.data(), message.payload.size());
      if (text.find(part) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::string md5Ha1(const std::string& user, const std::string& domain, const std::string& pw) {
  return ha1(DigestAlgorithm::kMd5, user, domain, pw);
}
std::string sha256Ha1(const std::string& user, const std::string& domain, const std::string& pw) {
  return ha1(DigestAlgorithm::kSha256, user, domain, pw);
}

net::SocketAddress address(const char* ip) {
  return *net::SocketAddress::parse(ip, 5060);
}

class SubscriberDbTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!server().running()) {
      auto restarted = server().start();
      ASSERT_TRUE(restarted) << restarted.error();
    }
    auto db = server().createDatabase();
    ASSERT_TRUE(db) << db.error();
    conninfo_ = *db;
    database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
    sql("CREATE TABLE subscriber (id serial PRIMARY KEY, username text NOT NULL, "
        "domain text NOT NULL, ha1 text NOT NULL DEFAULT '', ha1_sha256 text, "
        "UNIQUE (username, domain))");
    sql("CREATE TABLE trusted (list text NOT NULL, cidr inet NOT NULL)");
  }

  void sql(const std::string& statement) {
    auto r = server().query(statement, database_);
    ASSERT_TRUE(r) << statement << ": " << r.error();
  }

  void addUser(const std::string& user, const std::string& domain, const std::string& password,
               bool withSha256 = true) {
    sql("INSERT INTO subscriber (username, domain, ha1, ha1_sha256) VALUES ('" + user + "', '" +
        domain + "', '" + md5Ha1(user, domain, password) + "', " +
        (withSha256 ? "'" + sha256Ha1(user, domain, password) + "'" : std::string("NULL")) + ")");
  }

  DatabaseSettings settings(int64_t refresh = 0) const {
    DatabaseSettings s;
    s.conninfo = conninfo_;
    s.table = "subscriber";
    s.trustedTable = "trusted";
    s.refreshSeconds = refresh;
    return s;
  }

  static bool knows(const SubscriberDatabase& db, const std::string& user,
                    const std::string& domain) {
    return db.snapshot()->users.find(user, domain) != nullptr;
  }

  std::string conninfo_;
  std::string database_;
};

TEST_F(SubscriberDbTest, LoadsUsersAndTrustedRowsAtStart) {
  LogCapture log;
  addUser("alice", "example.com", "alice-secret");
  addUser("bob", "example.com", "bob-secret", /*withSha256=*/false);
  // Rows that cannot be used are skipped and counted, never printed.
  sql("INSERT INTO subscriber (username, domain, ha1) VALUES ('short', 'example.com', 'abc123')");
  sql("INSERT INTO subscriber (username, domain, ha1) VALUES ('nohash', 'example.com', '')");
  sql("INSERT INTO trusted VALUES ('carriers', '192.0.2.0/24'), ('carriers', '2001:db8::/32'), "
      "('pbx', '198.51.100.7')");

  SubscriberDatabase db;
  db.configure(settings());
  ASSERT_TRUE(db.start(5s));

  const auto snapshot = db.snapshot();
  EXPECT_EQ(snapshot->users.size(), 2u);
  EXPECT_EQ(snapshot->skippedRows, 2u);
  const UserRecord* alice = snapshot->users.find("alice", "EXAMPLE.com");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->ha1For(DigestHash::kMd5), md5Ha1("alice", "example.com", "alice-secret"));
  EXPECT_EQ(alice->ha1For(DigestHash::kSha256), sha256Ha1("alice", "example.com", "alice-secret"));
  const UserRecord* bob = snapshot->users.find("bob", "example.com");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->ha1For(DigestHash::kMd5), md5Ha1("bob", "example.com", "bob-secret"));
  EXPECT_TRUE(bob->ha1For(DigestHash::kSha256).empty()) << "NULL ha1_sha256: MD5 only";
  EXPECT_EQ(snapshot->users.find("short", "example.com"), nullptr);

  ASSERT_EQ(snapshot->trusted.size(), 2u);
  const CidrList& carriers = snapshot->trusted.at("carriers");
  EXPECT_TRUE(carriers.contains(address("192.0.2.77")));
  EXPECT_TRUE(carriers.contains(address("2001:db8::5")));
  EXPECT_FALSE(carriers.contains(address("198.51.100.7")));
  EXPECT_TRUE(snapshot->trusted.at("pbx").contains(address("198.51.100.7")));
  EXPECT_FALSE(snapshot->trusted.at("pbx").contains(address("198.51.100.8")));

  const DatabaseStats stats = db.stats();
  EXPECT_TRUE(stats.configured);
  EXPECT_TRUE(stats.up);
  EXPECT_EQ(stats.users, 2u);
  EXPECT_EQ(stats.loads, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(log.count(spdlog::level::info, "2 users and 3 trusted ranges loaded"), 1);
  EXPECT_EQ(log.count(spdlog::level::warn, "2 database rows skipped"), 1);
  EXPECT_FALSE(log.contains(md5Ha1("alice", "example.com", "alice-secret")));
  EXPECT_FALSE(log.contains("abc123"));
}

TEST_F(SubscriberDbTest, ATableWithoutSha256ColumnAndTextRangesLoads) {
  // Kamailio's subscriber table: ha1 and ha1b, no ha1_sha256. A trusted table of text.
  sql("CREATE TABLE kamailio_subscriber (id serial PRIMARY KEY, username varchar(64), "
      "domain varchar(64), password varchar(64), ha1 varchar(128), ha1b varchar(128))");
  sql("INSERT INTO kamailio_subscriber (username, domain, ha1, ha1b) VALUES ('carol', 'ex.org', '" +
      md5Ha1("carol", "ex.org", "pw") + "', '" + md5Ha1("carol@ex.org", "ex.org", "pw") + "')");
  sql("CREATE SCHEMA acl");
  sql("CREATE TABLE acl.ranges (list varchar(32), cidr text)");
  sql("INSERT INTO acl.ranges VALUES ('office', '10.0.0.0/8')");
  DatabaseSettings s = settings();
  s.table = "kamailio_subscriber";
  s.trustedTable = "acl.ranges";
  SubscriberDatabase db;
  db.configure(s);
  ASSERT_TRUE(db.start(5s));
  const UserRecord* carol = db.snapshot()->users.find("carol", "ex.org");
  ASSERT_NE(carol, nullptr);
  EXPECT_EQ(carol->ha1For(DigestHash::kMd5), md5Ha1("carol", "ex.org", "pw"));
  EXPECT_TRUE(carol->ha1For(DigestHash::kSha256).empty());
  EXPECT_TRUE(db.snapshot()->trusted.at("office").contains(address("10.20.30.40")));
}

TEST_F(SubscriberDbTest, RefreshPicksUpANewRowAndAReloadToo) {
  addUser("alice", "example.com", "alice-secret");
  SubscriberDatabase db;
  db.configure(settings(/*refresh=*/1));
  ASSERT_TRUE(db.start(5s));
  EXPECT_FALSE(knows(db, "dave", "example.com"));

  addUser("dave", "example.com", "dave-secret");
  EXPECT_TRUE(eventually([&] { return knows(db, "dave", "example.com"); }, 10s))
      << "the refresh did not pick up the new row";

  // Without a refresh interval, only a reload does.
  SubscriberDatabase still;
  still.configure(settings(/*refresh=*/0));
  ASSERT_TRUE(still.start(5s));
  addUser("erin", "example.com", "erin-secret");
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(knows(still, "erin", "example.com"));
  still.configure(settings(/*refresh=*/0));  // what a SIGHUP does
  EXPECT_TRUE(eventually([&] { return knows(still, "erin", "example.com"); }, 10s));

  // A removed row goes at the next load.
  sql("DELETE FROM subscriber WHERE username = 'alice'");
  still.reloadNow();
  EXPECT_TRUE(eventually([&] { return !knows(still, "alice", "example.com"); }, 10s));
}

TEST_F(SubscriberDbTest, AnOutageKeepsTheCacheAndIsLoggedOnceThenItReloads) {
  LogCapture log;
  addUser("alice", "example.com", "alice-secret");
  sql("INSERT INTO trusted VALUES ('carriers', '192.0.2.0/24')");
  SubscriberDatabase db;
  db.configure(settings(/*refresh=*/1));
  ASSERT_TRUE(db.start(5s));

  auto stopped = server().stop();
  ASSERT_TRUE(stopped) << stopped.error();
  // Several attempts fail; the outage is logged once.
  ASSERT_TRUE(eventually([&] { return db.stats().failures >= 3; }, 20s))
      << "failures: " << db.stats().failures;
  EXPECT_FALSE(db.stats().up);
  EXPECT_TRUE(knows(db, "alice", "example.com")) << "the cache stops answering in an outage";
  EXPECT_TRUE(db.snapshot()->trusted.at("carriers").contains(address("192.0.2.1")));
  EXPECT_EQ(log.count(spdlog::level::warn, "auth: database unavailable, serving 1 cached users"),
            1);

  auto restarted = server().start();
  ASSERT_TRUE(restarted) << restarted.error();
  addUser("dave", "example.com", "dave-secret");
  EXPECT_TRUE(eventually([&] { return knows(db, "dave", "example.com"); }, 20s));
  EXPECT_TRUE(db.stats().up);
  EXPECT_EQ(log.count(spdlog::level::info, "auth: database available again"), 1);
  const uint64_t loads = db.stats().loads;
  ASSERT_TRUE(eventually([&] { return db.stats().loads >= loads + 2; }, 10s));
  EXPECT_EQ(log.count(spdlog::level::info, "database available again"), 1) << "logged once";
  EXPECT_EQ(log.count(spdlog::level::warn, "database unavailable"), 1);
}

TEST_F(SubscriberDbTest, TheDatabaseDownAtStartLeavesItEmptyAndRetrying) {
  LogCapture log;
  addUser("alice", "example.com", "alice-secret");
  auto stopped = server().stop();
  ASSERT_TRUE(stopped) << stopped.error();
  SubscriberDatabase db;
  db.configure(settings(/*refresh=*/1));
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(db.start(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 6s) << "start waits a bounded time";
  EXPECT_EQ(db.snapshot()->users.size(), 0u);
  EXPECT_EQ(log.count(spdlog::level::warn, "auth: database unavailable, serving 0 cached users"),
            1);

  auto restarted = server().start();
  ASSERT_TRUE(restarted) << restarted.error();
  EXPECT_TRUE(eventually([&] { return knows(db, "alice", "example.com"); }, 20s))
      << "no retry after the failed start";
}

TEST_F(SubscriberDbTest, AMissingColumnIsAnErrorAndTheCacheStays) {
  LogCapture log;
  addUser("alice", "example.com", "alice-secret");
  SubscriberDatabase db;
  db.configure(settings(/*refresh=*/0));
  ASSERT_TRUE(db.start(5s));

  sql("ALTER TABLE subscriber DROP COLUMN ha1");
  db.reloadNow();
  ASSERT_TRUE(eventually([&] { return db.stats().failures == 1; }, 10s));
  EXPECT_FALSE(db.stats().up);
  EXPECT_TRUE(knows(db, "alice", "example.com"));
  EXPECT_EQ(log.count(spdlog::level::err,
                      "table subscriber has no column ha1 (expected username, domain, ha1 and "
                      "optionally ha1_sha256)"),
            1);

  // The trusted table is checked as well; the cache still stays.
  sql("ALTER TABLE subscriber ADD COLUMN ha1 text NOT NULL DEFAULT ''");
  sql("ALTER TABLE trusted RENAME COLUMN cidr TO address");
  db.reloadNow();
  ASSERT_TRUE(eventually([&] { return db.stats().failures == 2; }, 10s));
  EXPECT_EQ(log.count(spdlog::level::err, "table trusted has no column cidr"), 1);
  EXPECT_TRUE(knows(db, "alice", "example.com"));

  // A missing table too.
  DatabaseSettings missing = settings(0);
  missing.table = "nosuchtable";
  SubscriberDatabase other;
  other.configure(missing);
  EXPECT_FALSE(other.start(5s));
  EXPECT_EQ(log.count(spdlog::level::err, "table nosuchtable does not exist"), 1);
}

TEST(SubscriberDbNames, TableNamesAreIdentifiers) {
  EXPECT_TRUE(isTableName("subscriber"));
  EXPECT_TRUE(isTableName("public.subscriber"));
  EXPECT_TRUE(isTableName("_t1"));
  std::string error;
  EXPECT_FALSE(isTableName("sub scriber", &error));
  EXPECT_NE(error.find("expected a table name"), std::string::npos) << error;
  EXPECT_FALSE(isTableName("x\"; DROP TABLE y; --"));
  EXPECT_FALSE(isTableName("1table"));
  EXPECT_FALSE(isTableName(""));
  EXPECT_FALSE(isTableName("a.b.c"));
  EXPECT_FALSE(isTableName("a."));
}

TEST(SubscriberDbNoDatabase, WithoutConninfoItIsEmptyAndIdle) {
  SubscriberDatabase db;
  db.configure(DatabaseSettings{});
  EXPECT_TRUE(db.start(5s));
  EXPECT_FALSE(db.stats().configured);
  EXPECT_EQ(db.snapshot()->users.size(), 0u);
  db.stop();
}

}  // namespace
}  // namespace strowger::auth
