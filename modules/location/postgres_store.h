// The two storage modes with PostgreSQL behind them (see store.h for what each promises).
//
// write_through: memory (a MemoryStore) answers every lookup inline and takes every change first;
// the change is then written on the AOR's database thread. The write does not carry the change
// itself but the ids it touched: the job writes what memory holds for each id at the time it runs
// (an upsert when the binding is there, a delete when it is gone), in one transaction. Since an
// AOR's jobs run one after the other on one thread, the last job for an id always writes memory's
// latest state, whatever order the jobs were queued in; and a write that could not be made is
// remembered as just (aor, id), "owed", coalescing any number of changes to one binding.
//
// Owed writes: while PostgreSQL is down (or the queue is full) a change is applied in memory,
// answered at once with durable=false, and its ids are added to the owed set of the AOR's thread.
// That thread writes them once it has a connection again, between its other jobs. The outage is
// logged once (warning) and the recovery once (info, with the count written).
//
// Loading back: start() loads every unexpired binding into memory. When the database is down at
// start, the store starts empty and the first thread to connect loads later, merging: a binding
// memory has, or one changed since start (remembered by id until the load), wins over the row.
//
// db_only: every lookup and update is a job on the AOR's thread. An update is one transaction:
// an advisory lock on the AOR (so that even an AOR without rows serialises its registrations
// across nodes), SELECT ... FOR UPDATE, decide, upserts and deletes by id, COMMIT.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "memory_store.h"
#include "pg_connection.h"
#include "pg_pool.h"
#include "store_factory.h"

namespace strowger::location {

namespace detail {

// Brings the schema up to date on the first connection that gets through, then prepares the
// statements on every connection.
class SchemaGate {
 public:
  // `log`: report a schema problem (once) itself, as a database thread has nobody to tell.
  // `lost` (optional) is set when the failure was the session's, not the schema's.
  Expected<void, std::string> prepare(pg::Connection& connection, bool log, bool* lost = nullptr);

 private:
  std::mutex mutex_;
  bool ready_ = false;
  bool reported_ = false;  // a schema error was logged
};

// What both database modes share: settings, the pool, the counters, the last error.
class PostgresBase {
 protected:
  explicit PostgresBase(const StoreSettings& settings);
  pg::Pool::Options poolOptions() const;
  pg::Connection::Options connectionOptions() const;
  std::string lastError() const;
  void setLastError(const std::string& error);
  // "PostgreSQL is unreachable: <why>".
  std::string unreachable() const;
  // Counts a failed statement; in a transaction, rolls it back when the session is still there.
  void failed(pg::Connection& connection, const pg::Result& result, bool inTransaction);
  // Deletes the rows of bindings expired at `now`, whichever node wrote them.
  pg::Pool::Job expireJob(int64_t now);
  // Connects for start() and brings the schema up to date. False: the database is down (reported
  // to the pool, start anyway); an error: do not start.
  Expected<bool, std::string> startConnection(pg::Connection& connection, pg::Pool& pool);
  void fillStats(StoreStats& stats, const pg::Pool& pool) const;

  StoreSettings settings_;
  SchemaGate schema_;
  std::atomic<uint64_t> dbWrites_{0};
  std::atomic<uint64_t> dbErrors_{0};
  std::atomic<uint64_t> dbExpired_{0};
  std::atomic<std::size_t> nextExpirePartition_{0};

 private:
  mutable std::mutex errorMutex_;
  std::string lastError_;
};

}  // namespace detail

class WriteThroughStore final : public ManagedStore, private detail::PostgresBase {
 public:
  explicit WriteThroughStore(const StoreSettings& settings);
  ~WriteThroughStore() override;

  StorageMode mode() const noexcept override { return StorageMode::kWriteThrough; }
  void lookup(const std::string& aor, int64_t now,
              std::function<void(LookupOutcome)> done) override;
  bool lookupIsInline() const noexcept override { return true; }
  void update(const std::string& aor, DecideFn decide,
              std::function<void(UpdateOutcome)> done) override;
  std::vector<Binding> snapshot(int64_t now) const override;
  std::size_t expire(int64_t now) override;
  void remove(const std::string& aor, const std::string& id) override;
  StoreStats stats() const override;
  Expected<void, std::string> start() override;
  void stop() override;

 private:
  struct OwedEntry {
    std::string aor;
    uint64_t generation = 0;  // which change owed it; a flush erases only what it wrote
  };
  struct OwedSet {
    std::mutex mutex;
    std::unordered_map<std::string, OwedEntry> byId;
  };
  enum class WriteStatus : uint8_t { kOk, kLost, kFailed };
  struct Key {
    std::string aor;
    std::string id;
  };

  void owe(std::size_t partition, const std::string& aor, const std::vector<std::string>& ids);
  // Sends the changed ids to the database (or owes them); `done` (may be empty) gets `out`.
  void write(const std::string& aor, std::vector<std::string> ids, UpdateOutcome out,
             std::function<void(UpdateOutcome)> done);
  // One transaction writing memory's current state of each key.
  WriteStatus writeCurrent(pg::Connection& connection, const std::vector<Key>& keys,
                           std::string* error);
  pg::IdleResult idle(pg::Connection& connection, std::size_t partition);
  pg::IdleResult flushOwed(pg::Connection& connection, std::size_t partition);
  // Loads every unexpired binding and merges it into memory.
  WriteStatus load(pg::Connection& connection, std::string* error);
  std::size_t owedCount() const;
  void noteChanged(const std::string& aor, const std::vector<std::string>& ids);

  MemoryStore memory_;
  std::vector<std::unique_ptr<OwedSet>> owed_;
  std::atomic<uint64_t> owedGeneration_{0};

  // Until the first load has merged, the ids changed in memory (their rows are stale).
  std::atomic<bool> loadPending_{true};
  std::mutex loadMutex_;  // after a shard's writeMutex, when both are held
  std::unordered_set<std::string> touched_;
  std::mutex loadRunMutex_;  // one load at a time

  // The recovery line waits for the owed writes: how long the outage was, how many were written.
  std::atomic<bool> recoveryPending_{false};
  std::atomic<int64_t> recoveryDownForMs_{0};
  std::atomic<uint64_t> flushedSinceUp_{0};

  bool started_ = false;
  pg::Pool pool_;  // last: its threads use everything above
};

class DbOnlyStore final : public ManagedStore, private detail::PostgresBase {
 public:
  explicit DbOnlyStore(const StoreSettings& settings);
  ~DbOnlyStore() override;

  StorageMode mode() const noexcept override { return StorageMode::kDbOnly; }
  void lookup(const std::string& aor, int64_t now,
              std::function<void(LookupOutcome)> done) override;
  bool lookupIsInline() const noexcept override { return false; }
  void update(const std::string& aor, DecideFn decide,
              std::function<void(UpdateOutcome)> done) override;
  std::vector<Binding> snapshot(int64_t now) const override;
  std::size_t expire(int64_t now) override;
  void remove(const std::string& aor, const std::string& id) override;
  StoreStats stats() const override;
  Expected<void, std::string> start() override;
  void stop() override;

 private:
  pg::JobResult runUpdate(pg::Connection& connection, const std::string& aor,
                          const DecideFn& decide, const std::function<void(UpdateOutcome)>& done);

  bool started_ = false;
  pg::Pool pool_;
};

}  // namespace strowger::location
