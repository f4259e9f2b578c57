// A throwaway PostgreSQL server for GoogleTest suites: the C++ twin of pg_harness.sh.
//
//   class MyTest : public strowger::testing::PgTest {};   // one server per test suite
//   TEST_F(MyTest, X) { auto db = server().createDatabase(); ... server().stop(); ... }
//
// The server listens on a unix socket in its own temporary directory only (listen_addresses is
// empty), so suites run in parallel without port clashes. As root, the cluster belongs to the
// `postgres` user and the server commands run through runuser (PostgreSQL refuses root).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "strowger/expected.h"

namespace strowger::testing {

class PgServer {
 public:
  using Rows = std::vector<std::vector<std::string>>;

  // The directory holding initdb, pg_ctl and postgres; "" when PostgreSQL is not installed.
  static std::string binDir();
  // Whether a server can be started here (binaries; as root, a `postgres` user).
  static bool available();

  PgServer() = default;
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // The first call creates the cluster (initdb); later calls start the stopped cluster again, on
  // the same socket, so conninfo() strings stay valid across an outage.
  Expected<void, std::string> start();
  // Stops fast: open sessions are cut off, as in an outage.
  Expected<void, std::string> stop();
  bool running() const { return running_; }

  // libpq key=value conninfo for `database`.
  std::string conninfo(const std::string& database = "postgres") const;
  // A new, empty database; returns its conninfo.
  Expected<std::string, std::string> createDatabase();
  // Runs `sql` (one statement or several) on `database`; the rows of the last one, as text.
  Expected<Rows, std::string> query(const std::string& sql,
                                    const std::string& database = "postgres") const;
  // The single value of a one-row, one-column query ("" when no row).
  Expected<std::string, std::string> scalar(const std::string& sql,
                                            const std::string& database = "postgres") const;

  const std::string& dir() const { return dir_; }
  std::string serverLog() const;

 private:
  Expected<void, std::string> create();
  // Runs a server command (as the cluster's owner), its output appended to `log`.
  int run(const std::vector<std::string>& argv, const std::string& log) const;

  std::string bin_;
  std::string dir_;
  int port_ = 0;
  bool running_ = false;
  int databases_ = 0;
};

// A fixture base starting one server per test suite (SetUpTestSuite) and removing it afterwards.
// Tests are skipped when PostgreSQL is not installed, and fail when it is but does not start.
class PgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  static PgServer& server();

 private:
  static std::unique_ptr<PgServer>& instance();
  static std::string& startError();
};

}  // namespace strowger::testing
