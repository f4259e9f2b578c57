// The location store: the bindings of every address of record, in memory and, depending on the
// storage mode, in PostgreSQL. The registrar changes it; `location.lookup` reads it.
//
// Modes (docs/location.md):
//   memory        bindings live in this process only;
//   write_through memory serves every read; each change is written to PostgreSQL before the
//                 registrar answers 200 (while the database is down, it is answered from memory
//                 and the write is owed); at start the bindings are loaded back;
//   db_only       every read and change goes to PostgreSQL; nodes sharing the database share
//                 the registrations.
//
// Every call is thread-safe. Callbacks run either inline (the store could answer at once) or on
// one of the store's database threads; they must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/location/binding.h"

namespace strowger::location {

enum class StorageMode : uint8_t { kMemory, kWriteThrough, kDbOnly };

std::string_view storageModeName(StorageMode mode) noexcept;  // "memory", "write_through", ...

// An update's decision, made from the bindings the address of record has now (the registrar's
// rules). It runs while the store holds that address of record, so two registrations of one AOR
// never interleave; it must be quick and must not block. `now` is unix time in seconds.
using DecideFn = std::function<BindingChanges(const std::vector<Binding>& current, int64_t now)>;

struct UpdateOutcome {
  // False only when the change could not be made at all (db_only with the database down): the
  // registrar then answers 500 and nothing changed.
  bool applied = false;
  // True when the change is in PostgreSQL (write_through, db_only); false in memory mode and
  // when a write_through change is owed to a database that is down.
  bool durable = false;
  std::vector<Binding> bindings;  // the AOR's bindings after the change (unexpired)
  std::string error;              // why not applied
};

struct LookupOutcome {
  bool ok = false;                // false: the database could not be asked (db_only)
  bool known = false;             // the AOR has, or recently had, bindings
  std::vector<Binding> bindings;  // unexpired, highest q first, then most recent first
  std::string error;
};

struct StoreStats {
  uint64_t aors = 0;
  uint64_t bindings = 0;
  uint64_t expired = 0;   // removed by the expiry timer
  uint64_t dbWrites = 0;  // statements committed
  uint64_t dbErrors = 0;  // statements that failed
  uint64_t owed = 0;      // write_through changes waiting for the database to come back
  bool dbUp = false;      // meaningless in memory mode
};

class LocationStore {
 public:
  virtual ~LocationStore() = default;

  virtual StorageMode mode() const noexcept = 0;

  // Reads the AOR's bindings. In memory and write_through modes `done` runs inline, before
  // lookup() returns; in db_only mode on a database thread.
  virtual void lookup(const std::string& aor, int64_t now,
                      std::function<void(LookupOutcome)> done) = 0;
  // True when lookup() answers inline (memory, write_through).
  virtual bool lookupIsInline() const noexcept = 0;

  // Changes the AOR's bindings as `decide` says, then calls `done`: inline in memory mode, on a
  // database thread otherwise (write_through: once PostgreSQL has the change, or at once when the
  // database is down and the write is owed).
  virtual void update(const std::string& aor, DecideFn decide,
                      std::function<void(UpdateOutcome)> done) = 0;

  // Every unexpired binding in this node's memory (memory and write_through modes; empty in
  // db_only), for keepalives and listings. Copies; not for the call path.
  virtual std::vector<Binding> snapshot(int64_t now) const = 0;

  // Removes bindings expired at `now` from memory (and, in the database modes, deletes them
  // there). Returns how many were removed from memory.
  virtual std::size_t expire(int64_t now) = 0;

  // Removes one binding by id (a dead keepalive flow).
  virtual void remove(const std::string& aor, const std::string& id) = 0;

  virtual StoreStats stats() const = 0;
};

}  // namespace strowger::location
