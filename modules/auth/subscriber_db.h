// Users and trusted address ranges from PostgreSQL: a subscriber table (username, domain, ha1,
// optionally ha1_sha256) and a trusted table (list, cidr), read in full by a thread of their own
// and published as one immutable snapshot, swapped atomically. Requests read the snapshot and
// never wait for the database; while it is unreachable, the last snapshot keeps serving.
//
// docs/auth.md describes the tables, the reload and the outage behaviour.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cidr.h"
#include "strowger/expected.h"
#include "users.h"

namespace strowger::location::pg {
class Connection;
}

namespace strowger::auth {

struct DatabaseSettings {
  std::string conninfo;  // empty: no database
  std::string table = "subscriber";
  std::string trustedTable;     // empty: none
  int64_t refreshSeconds = 60;  // 0: only at start and on reload

  bool enabled() const { return !conninfo.empty(); }
  bool operator==(const DatabaseSettings&) const = default;
};

// What one full load read.
struct DatabaseSnapshot {
  UserTable users;
  std::map<std::string, CidrList, std::less<>> trusted;
  size_t skippedRows = 0;  // rows that could not be used (a bad HA1, an empty name, a bad range)
};

// "subscriber" or "public.subscriber": one or two SQL identifiers of letters, digits and '_'
// (not starting with a digit). The error says what was expected.
bool isTableName(std::string_view name, std::string* error = nullptr);

// One full load on an open connection. The error names the table and what is wrong with it (a
// missing column), or is the server's message; `connectionLost` tells an outage from the rest.
struct LoadError {
  std::string message;
  bool connectionLost = false;
};
Expected<DatabaseSnapshot, LoadError> loadSnapshot(location::pg::Connection& connection,
                                                   const DatabaseSettings& settings);

struct DatabaseStats {
  bool configured = false;
  bool up = false;  // the last load succeeded
  uint64_t users = 0, loads = 0, failures = 0;
};

// Owns the loader thread and the current snapshot. The snapshot outlives configurations: steps
// compiled in any of them read the newest one.
class SubscriberDatabase {
 public:
  // How long a load may wait between attempts when the refresh interval is 0 and the last one
  // failed.
  static constexpr std::chrono::seconds kRetryWithoutRefresh{5};

  SubscriberDatabase();
  ~SubscriberDatabase();
  SubscriberDatabase(const SubscriberDatabase&) = delete;
  SubscriberDatabase& operator=(const SubscriberDatabase&) = delete;

  // The settings to use from now on, and a load as soon as the thread is free (a reload). Without
  // a database the snapshot is emptied.
  void configure(const DatabaseSettings& settings);
  // Starts the thread and waits at most `firstLoadWait` for the first load; when that did not
  // succeed in time, the thread keeps retrying. Returns whether it succeeded.
  bool start(std::chrono::milliseconds firstLoadWait);
  void stop();
  // A load as soon as the thread is free.
  void reloadNow();

  // Never null; empty without a database or before the first load.
  std::shared_ptr<const DatabaseSnapshot> snapshot() const {
    return snapshot_.load(std::memory_order_acquire);
  }
  DatabaseStats stats() const;

 private:
  void run();
  // One attempt; logs the transitions (an outage once, the recovery once).
  void loadOnce(const DatabaseSettings& settings);

  std::atomic<std::shared_ptr<const DatabaseSnapshot>> snapshot_{
      std::make_shared<const DatabaseSnapshot>()};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable loaded_;
  DatabaseSettings settings_;
  bool running_ = false;
  bool loadRequested_ = false;
  uint64_t attempts_ = 0;  // finished attempts, for start()'s wait
  std::thread thread_;

  // Used by the thread only.
  std::unique_ptr<location::pg::Connection> connection_;
  std::string connectedTo_;
  bool reportedDown_ = false;
  std::string lastReportedError_;
  size_t lastSkipped_ = 0;

  std::atomic<bool> up_{false};
  std::atomic<uint64_t> loads_{0}, failures_{0};
};

}  // namespace strowger::auth
