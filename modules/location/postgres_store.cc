#include "postgres_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "pg_schema.h"

namespace strowger::location {
namespace {

// Owed writes go out in transactions of this many: large enough to catch up quickly after an
// outage, small enough that registrations queued behind a batch wait for one short transaction.
constexpr std::size_t kFlushBatch = 200;

std::vector<Binding> unexpiredSorted(std::vector<Binding> all, int64_t now) {
  std::erase_if(all, [now](const Binding& b) { return b.expiresAt <= now; });
  sortForLookup(all);
  return all;
}

double seconds(std::chrono::milliseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

bool sessionLost(pg::Connection& connection) {
  return !connection.isOpen() || PQstatus(connection.raw()) != CONNECTION_OK;
}

}  // namespace

namespace detail {

Expected<void, std::string> SchemaGate::prepare(pg::Connection& connection, bool log, bool* lost) {
  {
    std::lock_guard lock(mutex_);
    if (!ready_) {
      auto version = pg::ensureSchema(connection);
      if (!version) {
        const bool gone = sessionLost(connection);
        if (lost) *lost = gone;
        // A schema problem found by a database thread (the database came back with a schema this
        // build cannot use) would otherwise only show as "unreachable", or not at all.
        if (log && !gone && !reported_) {
          reported_ = true;
          spdlog::error("location: PostgreSQL schema: {}", version.error());
        }
        return unexpected(version.error());
      }
      ready_ = true;
    }
  }
  auto prepared = connection.prepareStatements();
  if (!prepared && lost) *lost = sessionLost(connection);
  return prepared;
}

PostgresBase::PostgresBase(const StoreSettings& settings) : settings_(settings) {
  if (!settings_.clock) settings_.clock = systemNow;
}

pg::Connection::Options PostgresBase::connectionOptions() const {
  pg::Connection::Options o;
  o.conninfo = settings_.conninfo;
  o.connectTimeout = settings_.connectTimeout;
  o.applicationName = settings_.node.empty() ? "strowger" : "strowger " + settings_.node;
  return o;
}

pg::Pool::Options PostgresBase::poolOptions() const {
  pg::Pool::Options o;
  o.connection = connectionOptions();
  o.threads = std::max(1u, settings_.poolSize);
  o.queueBound = settings_.queueBound;
  o.reconnectMin = settings_.reconnectMin;
  o.reconnectMax = std::max(settings_.reconnectMin, settings_.reconnectMax);
  return o;
}

std::string PostgresBase::lastError() const {
  std::lock_guard lock(errorMutex_);
  return lastError_;
}

void PostgresBase::setLastError(const std::string& error) {
  std::lock_guard lock(errorMutex_);
  lastError_ = error;
}

std::string PostgresBase::unreachable() const {
  std::string why = lastError();
  return why.empty() ? "PostgreSQL is unreachable" : "PostgreSQL is unreachable: " + why;
}

void PostgresBase::failed(pg::Connection& connection, const pg::Result& result,
                          bool inTransaction) {
  dbErrors_.fetch_add(1, std::memory_order_relaxed);
  if (inTransaction && !result.lost()) connection.exec("ROLLBACK");
}

Expected<bool, std::string> PostgresBase::startConnection(pg::Connection& connection,
                                                          pg::Pool& pool) {
  auto opened = connection.open(connectionOptions());
  if (!opened) {
    setLastError(opened.error());
    pool.reportDown(opened.error());
    return false;
  }
  bool lost = false;
  auto ready = schema_.prepare(connection, /*log=*/false, &lost);
  if (!ready) {
    if (!lost) return unexpected("location: PostgreSQL: " + ready.error());
    connection.close();
    setLastError(ready.error());
    pool.reportDown(ready.error());
    return false;
  }
  pool.reportUp();
  return true;
}

pg::Pool::Job PostgresBase::expireJob(int64_t now) {
  return [this, now](pg::Connection* c) {
    if (!c) return pg::JobResult::kDone;  // the next run catches up
    const std::string nowText = std::to_string(now);
    const std::array<const char*, 1> params = {nowText.c_str()};
    pg::Result r = c->exec(pg::Statement::kDeleteExpired, params);
    if (!r.ok()) {
      failed(*c, r, /*inTransaction=*/false);
      return r.lost() ? pg::JobResult::kConnectionLost : pg::JobResult::kDone;
    }
    dbWrites_.fetch_add(1, std::memory_order_relaxed);
    dbExpired_.fetch_add(r.affected(), std::memory_order_relaxed);
    return pg::JobResult::kDone;
  };
}

void PostgresBase::fillStats(StoreStats& stats, const pg::Pool& pool) const {
  stats.dbWrites = dbWrites_.load(std::memory_order_relaxed);
  stats.dbErrors = dbErrors_.load(std::memory_order_relaxed);
  stats.dbUp = pool.up();
}

}  // namespace detail

// write_through

WriteThroughStore::WriteThroughStore(const StoreSettings& settings)
    : PostgresBase(settings),
      memory_(settings_.clock),
      pool_(poolOptions(),
            pg::Pool::Hooks{
                .prepare = [this](pg::Connection& c) { return schema_.prepare(c, /*log=*/true); },
                .idle = [this](pg::Connection& c, std::size_t p) { return idle(c, p); },
                .down =
                    [this](const std::string& error) {
                      setLastError(error);
                      spdlog::warn(
                          "location: PostgreSQL is unreachable ({}); registrations are answered "
                          "from memory and written to the database when it is back",
                          error);
                    },
                .up =
                    [this](std::chrono::milliseconds downFor) {
                      recoveryDownForMs_ = downFor.count();
                      flushedSinceUp_ = 0;
                      recoveryPending_ = true;
                    },
            }) {
  for (std::size_t i = 0; i < pool_.partitions(); ++i) {
    owed_.push_back(std::make_unique<OwedSet>());
  }
  memory_.setChangeObserver([this](const std::string& aor, const std::vector<std::string>& ids) {
    noteChanged(aor, ids);
  });
}

WriteThroughStore::~WriteThroughStore() {
  stop();
}

Expected<void, std::string> WriteThroughStore::start() {
  if (started_) return {};
  pg::Connection connection;
  auto connected = startConnection(connection, pool_);
  if (!connected) return unexpected(connected.error());
  if (*connected) {
    std::string error;
    WriteStatus loaded = load(connection, &error);
    if (loaded == WriteStatus::kLost) {
      setLastError(error);
      pool_.reportDown(error);
    } else if (loaded == WriteStatus::kFailed) {
      spdlog::warn(
          "location: loading the bindings from PostgreSQL failed ({}); starting without them, "
          "they are loaded at the next connection",
          error);
    }
  }
  connection.close();
  pool_.start();
  started_ = true;
  return {};
}

void WriteThroughStore::stop() {
  pool_.stop();
  if (!started_) return;
  started_ = false;
  if (std::size_t owed = owedCount(); owed != 0) {
    spdlog::warn("location: stopping with {} binding changes not written to PostgreSQL", owed);
  }
}

void WriteThroughStore::lookup(const std::string& aor, int64_t now,
                               std::function<void(LookupOutcome)> done) {
  memory_.lookup(aor, now, std::move(done));
}

void WriteThroughStore::update(const std::string& aor, DecideFn decide,
                               std::function<void(UpdateOutcome)> done) {
  std::vector<std::string> ids;
  UpdateOutcome out = memory_.apply(aor, decide, &ids);
  if (ids.empty()) {
    // Nothing to write (a registration query).
    out.durable = pool_.up();
    done(std::move(out));
    return;
  }
  write(aor, std::move(ids), std::move(out), std::move(done));
}

void WriteThroughStore::write(const std::string& aor, std::vector<std::string> ids,
                              UpdateOutcome out, std::function<void(UpdateOutcome)> done) {
  const std::size_t partition = pool_.partitionOf(aor);
  // While the database is known to be down, the write is owed without a trip to the queue.
  if (pool_.up()) {
    auto job = [this, partition, aor, ids, out, done](pg::Connection* c) mutable {
      if (c) {
        std::vector<Key> keys;
        keys.reserve(ids.size());
        for (const std::string& id : ids) {
          keys.push_back({aor, id});
        }
        std::string error;
        WriteStatus status = writeCurrent(*c, keys, &error);
        if (status == WriteStatus::kLost) return pg::JobResult::kConnectionLost;
        if (status == WriteStatus::kFailed) {
          // Not owed: a statement the server refuses would be refused again, forever.
          spdlog::error("location: writing the bindings of {} to PostgreSQL failed: {}", aor,
                        error);
        }
        out.durable = status == WriteStatus::kOk;
      } else {
        owe(partition, aor, ids);
        out.durable = false;
      }
      if (done) done(std::move(out));
      return pg::JobResult::kDone;
    };
    if (pool_.post(partition, std::move(job))) return;
  }
  owe(partition, aor, ids);
  out.durable = false;
  if (done) done(std::move(out));
}

WriteThroughStore::WriteStatus WriteThroughStore::writeCurrent(pg::Connection& connection,
                                                               const std::vector<Key>& keys,
                                                               std::string* error) {
  // One statement is atomic on its own: the usual REGISTER (one binding) costs one round trip
  // to the database instead of three.
  const bool transaction = keys.size() > 1;
  const auto fail = [&](const pg::Result& r) {
    failed(connection, r, transaction);
    if (error) *error = r.error();
    return r.lost() ? WriteStatus::kLost : WriteStatus::kFailed;
  };
  pg::Result r;
  if (transaction) {
    r = connection.exec("BEGIN");
    if (!r.ok()) return fail(r);
  }
  uint64_t statements = 0;
  for (const Key& key : keys) {
    std::optional<Binding> binding = memory_.find(key.aor, key.id);
    r = binding ? connection.upsert(*binding) : connection.deleteById(key.id, key.aor);
    if (!r.ok()) return fail(r);
    ++statements;
  }
  if (transaction) {
    r = connection.exec("COMMIT");
    if (!r.ok()) return fail(r);
  }
  dbWrites_.fetch_add(statements, std::memory_order_relaxed);
  return WriteStatus::kOk;
}

void WriteThroughStore::owe(std::size_t partition, const std::string& aor,
                            const std::vector<std::string>& ids) {
  {
    OwedSet& set = *owed_[partition];
    std::lock_guard lock(set.mutex);
    for (const std::string& id : ids) {
      OwedEntry& entry = set.byId[id];
      entry.aor = aor;
      entry.generation = owedGeneration_.fetch_add(1, std::memory_order_relaxed) + 1;
    }
  }
  pool_.wake(partition);
}

std::size_t WriteThroughStore::owedCount() const {
  std::size_t n = 0;
  for (const auto& set : owed_) {
    std::lock_guard lock(set->mutex);
    n += set->byId.size();
  }
  return n;
}

pg::IdleResult WriteThroughStore::idle(pg::Connection& connection, std::size_t partition) {
  if (loadPending_.load(std::memory_order_acquire)) {
    std::unique_lock run(loadRunMutex_, std::try_to_lock);
    if (run.owns_lock() && loadPending_.load(std::memory_order_acquire)) {
      std::string error;
      WriteStatus loaded = load(connection, &error);
      if (loaded == WriteStatus::kLost) return pg::IdleResult::kConnectionLost;
      if (loaded == WriteStatus::kFailed) {
        spdlog::warn(
            "location: loading the bindings from PostgreSQL failed ({}); trying again at the next "
            "connection",
            error);
      }
    }
  }
  return flushOwed(connection, partition);
}

pg::IdleResult WriteThroughStore::flushOwed(pg::Connection& connection, std::size_t partition) {
  OwedSet& set = *owed_[partition];
  std::vector<Key> keys;
  std::vector<uint64_t> generations;
  {
    std::lock_guard lock(set.mutex);
    for (const auto& [id, entry] : set.byId) {
      if (keys.size() == kFlushBatch) break;
      keys.push_back({entry.aor, id});
      generations.push_back(entry.generation);
    }
  }

  if (!keys.empty()) {
    std::string error;
    WriteStatus status = writeCurrent(connection, keys, &error);
    if (status == WriteStatus::kLost) return pg::IdleResult::kConnectionLost;
    if (status == WriteStatus::kFailed) {
      // One row the server refuses must not hold back the others: each on its own, and the ones
      // refused again are given up (logged).
      for (const Key& key : keys) {
        status = writeCurrent(connection, {key}, &error);
        if (status == WriteStatus::kLost) return pg::IdleResult::kConnectionLost;
        if (status == WriteStatus::kFailed) {
          spdlog::error("location: giving up writing binding {} of {} to PostgreSQL: {}", key.id,
                        key.aor, error);
        }
      }
    }
    flushedSinceUp_.fetch_add(keys.size(), std::memory_order_relaxed);
  }

  bool more = false;
  {
    std::lock_guard lock(set.mutex);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      // Changed again while it was written: still owed (the next flush writes the newer state).
      auto it = set.byId.find(keys[i].id);
      if (it != set.byId.end() && it->second.generation == generations[i]) set.byId.erase(it);
    }
    more = !set.byId.empty();
  }
  if (more) return pg::IdleResult::kMore;

  if (recoveryPending_.load() && owedCount() == 0 && recoveryPending_.exchange(false)) {
    spdlog::info(
        "location: PostgreSQL is reachable again after {:.1f} s; wrote {} owed binding changes",
        seconds(std::chrono::milliseconds(recoveryDownForMs_.load())), flushedSinceUp_.exchange(0));
  }
  return pg::IdleResult::kIdle;
}

WriteThroughStore::WriteStatus WriteThroughStore::load(pg::Connection& connection,
                                                       std::string* error) {
  const auto fail = [&](const pg::Result& r, bool inTransaction) {
    failed(connection, r, inTransaction);
    if (error) *error = r.error();
    return r.lost() ? WriteStatus::kLost : WriteStatus::kFailed;
  };
  const std::string now = std::to_string(memory_.now());
  const std::string timeout = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.loadTimeout).count());

  pg::Result r = connection.exec("BEGIN");
  if (!r.ok()) return fail(r, true);
  const std::array<const char*, 1> timeoutParam = {timeout.c_str()};
  r = connection.execParams("SELECT set_config('statement_timeout', $1, true)", timeoutParam);
  if (!r.ok()) return fail(r, true);
  const std::array<const char*, 1> nowParam = {now.c_str()};
  pg::Result rows = connection.exec(pg::Statement::kSelectUnexpired, nowParam);
  if (!rows.ok()) return fail(rows, true);
  r = connection.exec("COMMIT");
  if (!r.ok()) return fail(r, true);

  std::size_t unreadable = 0;
  std::vector<Binding> loaded = pg::Connection::bindingsOf(rows, &unreadable);
  // Run with the AOR held, like noteChanged(): a binding changed in memory since start (even one
  // removed there) is newer than its row.
  const std::size_t added = memory_.merge(loaded, [this](const Binding& b) {
    std::lock_guard lock(loadMutex_);
    return touched_.count(b.id) != 0;
  });
  {
    std::lock_guard lock(loadMutex_);
    loadPending_.store(false, std::memory_order_release);
    touched_.clear();
  }
  spdlog::info("location: loaded {} bindings from PostgreSQL ({} newer in memory)", added,
               loaded.size() - added);
  if (unreadable != 0) {
    spdlog::warn("location: skipped {} rows of table location that this build cannot read",
                 unreadable);
  }
  return WriteStatus::kOk;
}

void WriteThroughStore::noteChanged(const std::string& aor, const std::vector<std::string>& ids) {
  (void)aor;
  if (!loadPending_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(loadMutex_);
  if (!loadPending_.load(std::memory_order_relaxed)) return;
  touched_.insert(ids.begin(), ids.end());
}

std::vector<Binding> WriteThroughStore::snapshot(int64_t now) const {
  return memory_.snapshot(now);
}

std::size_t WriteThroughStore::expire(int64_t now) {
  const std::size_t removed = memory_.expire(now);
  // Rows of expired bindings are deleted by condition, not by id: rows some other writer (or an
  // owed flush) renewed meanwhile no longer match. Best effort: the next run catches up.
  if (pool_.up()) {
    const std::size_t partition = nextExpirePartition_++ % pool_.partitions();
    pool_.post(partition, expireJob(now));
  }
  return removed;
}

void WriteThroughStore::remove(const std::string& aor, const std::string& id) {
  if (memory_.erase(aor, id)) write(aor, {id}, UpdateOutcome{}, nullptr);
}

StoreStats WriteThroughStore::stats() const {
  StoreStats s = memory_.stats();
  fillStats(s, pool_);
  s.owed = owedCount();
  return s;
}

// db_only

DbOnlyStore::DbOnlyStore(const StoreSettings& settings)
    : PostgresBase(settings),
      pool_(poolOptions(),
            pg::Pool::Hooks{
                .prepare = [this](pg::Connection& c) { return schema_.prepare(c, /*log=*/true); },
                .idle = nullptr,
                .down =
                    [this](const std::string& error) {
                      setLastError(error);
                      spdlog::warn(
                          "location: PostgreSQL is unreachable ({}); registrations and lookups "
                          "fail until it is back",
                          error);
                    },
                .up =
                    [](std::chrono::milliseconds downFor) {
                      spdlog::info("location: PostgreSQL is reachable again after {:.1f} s",
                                   seconds(downFor));
                    },
            }) {}

DbOnlyStore::~DbOnlyStore() {
  stop();
}

Expected<void, std::string> DbOnlyStore::start() {
  if (started_) return {};
  pg::Connection connection;
  auto connected = startConnection(connection, pool_);
  if (!connected) return unexpected(connected.error());
  connection.close();
  pool_.start();
  started_ = true;
  return {};
}

void DbOnlyStore::stop() {
  pool_.stop();
  started_ = false;
}

void DbOnlyStore::lookup(const std::string& aor, int64_t now,
                         std::function<void(LookupOutcome)> done) {
  auto job = [this, aor, now, done](pg::Connection* c) {
    LookupOutcome out;
    if (!c) {
      out.error = unreachable();
      done(std::move(out));
      return pg::JobResult::kDone;
    }
    const std::array<const char*, 1> params = {aor.c_str()};
    pg::Result r = c->exec(pg::Statement::kSelectAor, params);
    if (!r.ok()) {
      failed(*c, r, /*inTransaction=*/false);
      if (r.lost()) return pg::JobResult::kConnectionLost;
      out.error = r.error();
      done(std::move(out));
      return pg::JobResult::kDone;
    }
    out.ok = true;
    // Rows of expired bindings not yet deleted still make the AOR known ("recently had").
    out.known = r.rows() > 0;
    out.bindings = unexpiredSorted(pg::Connection::bindingsOf(r), now);
    done(std::move(out));
    return pg::JobResult::kDone;
  };
  if (pool_.post(pool_.partitionOf(aor), std::move(job))) return;
  LookupOutcome out;
  out.error = "the location store's database queue is full";
  done(std::move(out));
}

void DbOnlyStore::update(const std::string& aor, DecideFn decide,
                         std::function<void(UpdateOutcome)> done) {
  auto job = [this, aor, decide, done](pg::Connection* c) {
    if (!c) {
      UpdateOutcome out;
      out.error = unreachable();
      done(std::move(out));
      return pg::JobResult::kDone;
    }
    return runUpdate(*c, aor, decide, done);
  };
  if (pool_.post(pool_.partitionOf(aor), std::move(job))) return;
  UpdateOutcome out;
  out.error = "the location store's database queue is full";
  done(std::move(out));
}

pg::JobResult DbOnlyStore::runUpdate(pg::Connection& connection, const std::string& aor,
                                     const DecideFn& decide,
                                     const std::function<void(UpdateOutcome)>& done) {
  const auto fail = [&](const pg::Result& r) {
    failed(connection, r, /*inTransaction=*/true);
    if (r.lost()) return pg::JobResult::kConnectionLost;
    UpdateOutcome out;
    out.error = r.error();
    done(std::move(out));
    return pg::JobResult::kDone;
  };
  const std::array<const char*, 1> aorParam = {aor.c_str()};
  pg::Result r = connection.exec("BEGIN");
  if (!r.ok()) return fail(r);
  // FOR UPDATE alone locks only rows that exist: the first registrations of an AOR (no rows yet)
  // on two nodes would not wait for each other. The advisory lock on the AOR's hash does.
  r = connection.exec(pg::Statement::kLockAor, aorParam);
  if (!r.ok()) return fail(r);
  r = connection.exec(pg::Statement::kSelectAorLocked, aorParam);
  if (!r.ok()) return fail(r);

  const int64_t now = settings_.clock();
  std::vector<Binding> current = unexpiredSorted(pg::Connection::bindingsOf(r), now);
  BindingChanges changes = decide(current, now);
  uint64_t statements = 0;
  for (const std::string& id : changes.remove) {
    r = connection.deleteById(id, aor);
    if (!r.ok()) return fail(r);
    ++statements;
  }
  for (const Binding& b : changes.upsert) {
    r = connection.upsert(b);
    if (!r.ok()) return fail(r);
    ++statements;
  }
  r = connection.exec("COMMIT");
  if (!r.ok()) return fail(r);
  dbWrites_.fetch_add(statements, std::memory_order_relaxed);

  UpdateOutcome out;
  out.applied = true;
  out.durable = true;
  applyChanges(current, std::move(changes), nullptr);
  out.bindings = unexpiredSorted(std::move(current), now);
  done(std::move(out));
  return pg::JobResult::kDone;
}

std::vector<Binding> DbOnlyStore::snapshot(int64_t now) const {
  (void)now;
  return {};
}

std::size_t DbOnlyStore::expire(int64_t now) {
  // Any node may delete any expired row: whoever owned it, it is no longer a registration.
  const std::size_t partition = nextExpirePartition_++ % pool_.partitions();
  pool_.post(partition, expireJob(now));
  return 0;
}

void DbOnlyStore::remove(const std::string& aor, const std::string& id) {
  pool_.post(pool_.partitionOf(aor), [this, aor, id](pg::Connection* c) {
    if (!c) return pg::JobResult::kDone;
    pg::Result r = c->deleteById(id, aor);
    if (!r.ok()) {
      failed(*c, r, /*inTransaction=*/false);
      return r.lost() ? pg::JobResult::kConnectionLost : pg::JobResult::kDone;
    }
    dbWrites_.fetch_add(1, std::memory_order_relaxed);
    return pg::JobResult::kDone;
  });
}

StoreStats DbOnlyStore::stats() const {
  StoreStats s;
  fillStats(s, pool_);
  s.expired = dbExpired_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace strowger::location
