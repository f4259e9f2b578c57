// The database threads: N threads, each with its own PostgreSQL connection and its own bounded
// queue of jobs. Event-loop workers only post jobs (post() never blocks on the database); every
// database call and every callback after one runs on these threads.
//
// An address of record always maps to the same thread ("partition"), so the jobs of one AOR run
// one after the other in the order they were posted; write_through relies on it (see
// postgres_store.h).
//
// The pool also tracks whether PostgreSQL is reachable: a failed connection attempt marks it down
// (the `down` hook runs once per outage, with the error), the next successful one marks it up
// again (the `up` hook). A thread without a connection tries again after reconnectMin, then after
// twice as long each time up to reconnectMax; a job arriving for it, or another thread getting
// through, makes it try at once (no sooner than reconnectMin after its last try).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pg_connection.h"
#include "strowger/expected.h"

namespace strowger::location::pg {

enum class JobResult : uint8_t {
  kDone,
  // The session failed before the job could finish (its callback has not run): the pool gives it
  // another go on a new connection, or with none.
  kConnectionLost,
};

enum class IdleResult : uint8_t { kIdle, kMore, kConnectionLost };

class Pool {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs with the thread's connection, or with nullptr when there is none (then it must finish
  // without the database and return kDone).
  using Job = std::function<JobResult(Connection*)>;

  struct Options {
    Connection::Options connection;
    unsigned threads = 2;
    std::size_t queueBound = 10000;  // over all threads
    std::chrono::milliseconds reconnectMin{1000};
    std::chrono::milliseconds reconnectMax{30000};
  };

  struct Hooks {
    // A new connection is open: make it ready (schema, prepared statements). An error makes the
    // attempt count as failed.
    std::function<Expected<void, std::string>(Connection&)> prepare;
    // Deferred work (write_through's owed writes), after connecting or after wake(): run when
    // the thread has a connection and nothing queued, or after a few jobs if the queue never
    // empties; also once more before the thread stops. kMore: there is more, call again.
    std::function<IdleResult(Connection&, std::size_t partition)> idle;
    std::function<void(const std::string& error)> down;
    std::function<void(std::chrono::milliseconds downFor)> up;
  };

  Pool(Options options, Hooks hooks);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void start();
  // Runs what is queued (with or without a connection) and the pending deferred work (when
  // connected), then joins the threads. Idempotent.
  void stop();

  std::size_t partitions() const { return partitions_.size(); }
  std::size_t partitionOf(std::string_view aor) const;
  // False when the partition's queue is full or the pool is stopping: the job was not taken.
  bool post(std::size_t partition, Job job);
  // Runs the idle hook on the partition's thread soon (when it has a connection).
  void wake(std::size_t partition);

  // Whether the last connection attempt anywhere succeeded.
  bool up() const { return up_.load(std::memory_order_acquire); }
  // What start() found, or the hooks: the pool learns of a connection outside its threads.
  void reportUp();
  void reportDown(const std::string& error);

 private:
  struct Partition {
    std::mutex mutex;
    std::condition_variable wakeup;
    std::deque<Job> queue;
    bool idleWanted = false;
    bool retryNow = false;  // another thread got through: try at once
    std::thread thread;
  };

  void run(std::size_t index);
  // Connects partition `index`'s connection; reports up or down.
  bool connect(std::size_t index, Connection& connection, Clock::time_point& nextAttempt,
               std::chrono::milliseconds& delay, Clock::time_point& lastAttempt);

  Options options_;
  Hooks hooks_;
  std::size_t boundPerPartition_ = 1;
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  std::atomic<bool> up_{false};
  std::mutex healthMutex_;
  bool downReported_ = false;  // the `down` hook ran and `up` has not yet
  Clock::time_point downSince_{};
};

}  // namespace strowger::location::pg
