// The bindings of every address of record in this process's memory: the whole store in memory
// mode, and the read side of write_through (which adds PostgreSQL behind it).
//
// Lookups run on the event-loop workers for every INVITE, so they must never wait for one another
// nor for a registration in progress. The map is cut into shards by a hash of the AOR; an AOR's
// bindings are an immutable record held by std::shared_ptr<const AorRecord>, replaced as a whole
// on every change (copy-on-write, RCU-like). Each shard has two locks:
//   - `writeMutex` serialises the shard's writers. A registration holds it while `decide` runs,
//     so two registrations of one AOR never interleave, but readers never wait for `decide`;
//   - `mapMutex` (a shared_mutex) guards the hash map itself. A reader holds it shared only to
//     find the record and copy its pointer; a writer holds it exclusively only to swap the pointer
//     in. Copying the bindings out, filtering and building the new record happen outside it.
// A whole-shard snapshot pointer (readers lock-free) would make every registration copy a whole
// shard's map; a pointer swap under a briefly held lock costs one allocation per change instead.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store_factory.h"
#include "strowger/location/store.h"

namespace strowger::location {

class MemoryStore final : public ManagedStore {
 public:
  // Told, while the AOR is still held, the ids a change upserted or removed (update() and
  // remove(); not expiry, not merge()). Must be quick and must not call back into the store.
  using ChangeObserver =
      std::function<void(const std::string& aor, const std::vector<std::string>& ids)>;

  explicit MemoryStore(std::function<int64_t()> clock = systemNow);
  ~MemoryStore() override;

  StorageMode mode() const noexcept override { return StorageMode::kMemory; }
  void lookup(const std::string& aor, int64_t now,
              std::function<void(LookupOutcome)> done) override;
  bool lookupIsInline() const noexcept override { return true; }
  void update(const std::string& aor, DecideFn decide,
              std::function<void(UpdateOutcome)> done) override;
  std::vector<Binding> snapshot(int64_t now) const override;
  std::size_t expire(int64_t now) override;
  void remove(const std::string& aor, const std::string& id) override;
  StoreStats stats() const override;
  Expected<void, std::string> start() override { return {}; }
  void stop() override {}

  // What the database-backed stores build on.

  // update() without the callback: applies `decide` and returns the outcome. `changedIds`
  // (optional) receives the ids upserted or removed.
  UpdateOutcome apply(const std::string& aor, const DecideFn& decide,
                      std::vector<std::string>* changedIds);
  LookupOutcome read(const std::string& aor, int64_t now) const;
  // The binding as memory has it now, expired or not; nullopt when it is gone.
  std::optional<Binding> find(const std::string& aor, const std::string& id) const;
  // True when the binding was there.
  bool erase(const std::string& aor, const std::string& id);
  // Adds the bindings whose id memory does not have and `skip` (run while the AOR is held, may be
  // empty) does not reject. Returns how many were added.
  std::size_t merge(const std::vector<Binding>& loaded,
                    const std::function<bool(const Binding&)>& skip);
  // Set once, before the store is shared between threads.
  void setChangeObserver(ChangeObserver observer) { observer_ = std::move(observer); }
  int64_t now() const { return clock_(); }

 private:
  // Bindings sorted as lookup() returns them: highest q first, then most recent first.
  struct AorRecord {
    std::vector<Binding> bindings;
  };
  using RecordPtr = std::shared_ptr<const AorRecord>;

  struct alignas(64) Shard {
    std::mutex writeMutex;
    mutable std::shared_mutex mapMutex;
    std::unordered_map<std::string, RecordPtr> records;
  };

  // 256: enough that a few dozen workers rarely meet on one shard's locks, few enough that
  // expire() and snapshot() walking them all stay cheap.
  static constexpr std::size_t kShards = 256;

  Shard& shardFor(const std::string& aor) const;
  // The AOR's record, for a reader (takes mapMutex shared for the pointer copy only).
  RecordPtr load(const Shard& shard, const std::string& aor) const;
  // Puts `record` in for `aor` (or erases it when null), with mapMutex held exclusively. The
  // caller holds writeMutex. Returns the record replaced, to be released after the lock.
  RecordPtr publish(Shard& shard, const std::string& aor, RecordPtr record);
  void adjustCounts(const RecordPtr& before, const RecordPtr& after);

  std::function<int64_t()> clock_;
  std::unique_ptr<std::array<Shard, kShards>> shards_;
  ChangeObserver observer_;
  std::atomic<int64_t> aors_{0};
  std::atomic<int64_t> bindings_{0};
  std::atomic<uint64_t> expired_{0};
};

// Applies `changes` to an AOR's bindings (removals by id, then upserts by id) and sorts them.
// `ids` (optional) receives every id upserted or removed.
void applyChanges(std::vector<Binding>& bindings, BindingChanges changes,
                  std::vector<std::string>* ids);

// Sorts as lookup() returns bindings: highest q first, then most recent first (then by id, so the
// order is stable across nodes).
void sortForLookup(std::vector<Binding>& bindings);

}  // namespace strowger::location
