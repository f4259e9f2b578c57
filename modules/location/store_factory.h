// Building a location store for a storage mode, and the start/stop that the database modes need
// beyond the LocationStore interface (connecting, applying the schema, loading bindings back,
// joining the database threads).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "strowger/expected.h"
#include "strowger/location/store.h"

namespace strowger::location {

// Unix time in seconds, from the system clock.
int64_t systemNow() noexcept;

struct StoreSettings {
  StorageMode mode = StorageMode::kMemory;
  // libpq connection string ("host=/run/postgresql dbname=strowger" or a postgresql:// URI).
  // Unused in memory mode.
  std::string conninfo;
  // Database threads, each with its own connection. An address of record always goes to the same
  // thread, so the writes of one binding reach PostgreSQL in the order they were made.
  unsigned poolSize = 2;
  // Database requests waiting for a thread, over all threads. When it is full a write_through
  // change is owed (written later) and a db_only request fails at once: a slow database must not
  // grow memory without bound or delay answers by minutes.
  std::size_t queueBound = 10000;
  // The node's name (config `location.node`); shown to PostgreSQL as the application name.
  std::string node;
  // Connecting gives up after this long (libpq connect_timeout, whole seconds, at least 2: libpq
  // treats 1 as 2). A conninfo that sets connect_timeout itself wins.
  std::chrono::seconds connectTimeout{5};
  // Loading the bindings back at start gives up after this long (statement_timeout).
  std::chrono::seconds loadTimeout{30};
  // While the database is down, reconnecting is tried after reconnectMin, then after twice as
  // long each time, up to reconnectMax.
  std::chrono::milliseconds reconnectMin{1000};
  std::chrono::milliseconds reconnectMax{30000};
  // Unix time in seconds for update() (which has no `now` parameter); tests put a fake clock here.
  std::function<int64_t()> clock = systemNow;
};

// A location store with its lifecycle. Call start() once before the first request, and stop()
// (or destroy it) after the last; stop() joins the database threads and must not run on one.
class ManagedStore : public LocationStore {
 public:
  // Memory mode: nothing to do. Database modes: connects, applies the schema when the database
  // has none and (write_through) loads every unexpired binding back into memory. A database that
  // is down is not an error (the store starts empty and keeps trying); a schema newer than this
  // build knows, or one that cannot be applied, is.
  virtual Expected<void, std::string> start() = 0;
  // Lets queued database requests finish, then joins the threads. Idempotent.
  virtual void stop() = 0;
};

std::unique_ptr<ManagedStore> makeStore(const StoreSettings& settings);

}  // namespace strowger::location
