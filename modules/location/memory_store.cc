#include "memory_store.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

namespace strowger::location {
namespace {

bool unexpired(const Binding& b, int64_t now) {
  return b.expiresAt > now;
}

std::vector<Binding> unexpiredOf(const std::vector<Binding>& all, int64_t now) {
  std::vector<Binding> out;
  out.reserve(all.size());
  for (const Binding& b : all) {
    if (unexpired(b, now)) out.push_back(b);
  }
  return out;
}

}  // namespace

void sortForLookup(std::vector<Binding>& bindings) {
  std::sort(bindings.begin(), bindings.end(), [](const Binding& a, const Binding& b) {
    if (a.qMilli != b.qMilli) return a.qMilli > b.qMilli;
    if (a.updatedAt != b.updatedAt) return a.updatedAt > b.updatedAt;
    return a.id < b.id;
  });
}

void applyChanges(std::vector<Binding>& bindings, BindingChanges changes,
                  std::vector<std::string>* ids) {
  if (ids) ids->reserve(ids->size() + changes.upsert.size() + changes.remove.size());
  for (std::string& id : changes.remove) {
    auto gone = std::remove_if(bindings.begin(), bindings.end(),
                               [&id](const Binding& b) { return b.id == id; });
    bindings.erase(gone, bindings.end());
    if (ids) ids->push_back(std::move(id));
  }
  for (Binding& b : changes.upsert) {
    if (ids) ids->push_back(b.id);
    auto same = std::find_if(bindings.begin(), bindings.end(),
                             [&b](const Binding& x) { return x.id == b.id; });
    if (same != bindings.end()) {
      *same = std::move(b);
    } else {
      bindings.push_back(std::move(b));
    }
  }
  sortForLookup(bindings);
}

MemoryStore::MemoryStore(std::function<int64_t()> clock)
    : clock_(std::move(clock)), shards_(std::make_unique<std::array<Shard, kShards>>()) {}

MemoryStore::~MemoryStore() = default;

MemoryStore::Shard& MemoryStore::shardFor(const std::string& aor) const {
  return (*shards_)[std::hash<std::string>{}(aor) % kShards];
}

MemoryStore::RecordPtr MemoryStore::load(const Shard& shard, const std::string& aor) const {
  std::shared_lock lock(shard.mapMutex);
  auto it = shard.records.find(aor);
  return it == shard.records.end() ? nullptr : it->second;
}

MemoryStore::RecordPtr MemoryStore::publish(Shard& shard, const std::string& aor,
                                            RecordPtr record) {
  RecordPtr before;
  std::unique_lock lock(shard.mapMutex);
  auto it = shard.records.find(aor);
  if (it != shard.records.end()) {
    before = std::move(it->second);
    if (record) {
      it->second = std::move(record);
    } else {
      shard.records.erase(it);
    }
  } else if (record) {
    shard.records.emplace(aor, std::move(record));
  }
  return before;
}

void MemoryStore::adjustCounts(const RecordPtr& before, const RecordPtr& after) {
  aors_.fetch_add((after ? 1 : 0) - (before ? 1 : 0), std::memory_order_relaxed);
  const auto size = [](const RecordPtr& r) {
    return r ? static_cast<int64_t>(r->bindings.size()) : 0;
  };
  bindings_.fetch_add(size(after) - size(before), std::memory_order_relaxed);
}

LookupOutcome MemoryStore::read(const std::string& aor, int64_t now) const {
  LookupOutcome out;
  out.ok = true;
  RecordPtr record = load(shardFor(aor), aor);
  if (!record) return out;
  out.known = true;
  // The record is already in lookup order; filtering keeps it.
  out.bindings = unexpiredOf(record->bindings, now);
  return out;
}

void MemoryStore::lookup(const std::string& aor, int64_t now,
                         std::function<void(LookupOutcome)> done) {
  done(read(aor, now));
}

UpdateOutcome MemoryStore::apply(const std::string& aor, const DecideFn& decide,
                                 std::vector<std::string>* changedIds) {
  const int64_t now = clock_();
  Shard& shard = shardFor(aor);
  RecordPtr before;
  UpdateOutcome out;
  {
    std::lock_guard writer(shard.writeMutex);
    // Only writers change the map, and they hold writeMutex: reading it here needs no mapMutex.
    auto it = shard.records.find(aor);
    RecordPtr current = it == shard.records.end() ? nullptr : it->second;
    // Expired bindings are dropped with the change rather than left to the expiry timer: `decide`
    // must not see them, and the record is being rebuilt anyway.
    std::vector<Binding> next =
        current ? unexpiredOf(current->bindings, now) : std::vector<Binding>{};
    BindingChanges changes = decide(next, now);
    out.applied = true;
    if (changes.empty()) {
      // A query or a refused request changes nothing, and sweeps nothing: expired bindings stay
      // for the expiry timer (and an AOR with only those stays known: 480, not 404).
      out.bindings = std::move(next);
      return out;
    }

    std::vector<std::string> ids;
    applyChanges(next, std::move(changes), &ids);
    out.applied = true;
    out.bindings = unexpiredOf(next, now);

    // An AOR whose last binding was removed (unregistered) is forgotten: lookups then say "not
    // found" (404), as for one never registered. One whose bindings merely expired stays known
    // until the expiry timer sweeps it ("all expired", 480).
    RecordPtr record =
        next.empty() ? nullptr : std::make_shared<const AorRecord>(AorRecord{std::move(next)});
    adjustCounts(current, record);
    before = publish(shard, aor, std::move(record));
    if (observer_ && !ids.empty()) observer_(aor, ids);
    if (changedIds) *changedIds = std::move(ids);
  }
  return out;
}

void MemoryStore::update(const std::string& aor, DecideFn decide,
                         std::function<void(UpdateOutcome)> done) {
  UpdateOutcome out = apply(aor, decide, nullptr);
  done(std::move(out));
}

std::optional<Binding> MemoryStore::find(const std::string& aor, const std::string& id) const {
  RecordPtr record = load(shardFor(aor), aor);
  if (!record) return std::nullopt;
  for (const Binding& b : record->bindings) {
    if (b.id == id) return b;
  }
  return std::nullopt;
}

bool MemoryStore::erase(const std::string& aor, const std::string& id) {
  Shard& shard = shardFor(aor);
  RecordPtr before;
  std::lock_guard writer(shard.writeMutex);
  auto it = shard.records.find(aor);
  if (it == shard.records.end()) return false;
  const std::vector<Binding>& old = it->second->bindings;
  if (std::none_of(old.begin(), old.end(), [&id](const Binding& b) { return b.id == id; })) {
    return false;
  }
  AorRecord next;
  next.bindings.reserve(old.size() - 1);
  for (const Binding& b : old) {
    if (b.id != id) next.bindings.push_back(b);
  }
  RecordPtr record =
      next.bindings.empty() ? nullptr : std::make_shared<const AorRecord>(std::move(next));
  adjustCounts(it->second, record);
  before = publish(shard, aor, std::move(record));
  if (observer_) observer_(aor, {id});
  return true;
}

void MemoryStore::remove(const std::string& aor, const std::string& id) {
  erase(aor, id);
}

std::vector<Binding> MemoryStore::snapshot(int64_t now) const {
  std::vector<RecordPtr> records;
  std::vector<Binding> out;
  for (const Shard& shard : *shards_) {
    records.clear();
    {
      std::shared_lock lock(shard.mapMutex);
      records.reserve(shard.records.size());
      for (const auto& [aor, record] : shard.records)
        records.push_back(record);
    }
    for (const RecordPtr& record : records) {
      for (const Binding& b : record->bindings) {
        if (unexpired(b, now)) out.push_back(b);
      }
    }
  }
  return out;
}

std::size_t MemoryStore::expire(int64_t now) {
  std::size_t removed = 0;
  std::vector<std::pair<std::string, RecordPtr>> replacements;
  std::vector<RecordPtr> released;
  for (Shard& shard : *shards_) {
    replacements.clear();
    std::lock_guard writer(shard.writeMutex);
    for (const auto& [aor, record] : shard.records) {
      const std::vector<Binding>& all = record->bindings;
      std::size_t live = static_cast<std::size_t>(std::count_if(
          all.begin(), all.end(), [now](const Binding& b) { return unexpired(b, now); }));
      if (live == all.size() && !all.empty()) continue;
      removed += all.size() - live;
      replacements.emplace_back(
          aor, live == 0 ? nullptr
                         : std::make_shared<const AorRecord>(AorRecord{unexpiredOf(all, now)}));
    }
    if (replacements.empty()) continue;
    {
      std::unique_lock lock(shard.mapMutex);
      for (auto& [aor, record] : replacements) {
        auto it = shard.records.find(aor);
        adjustCounts(it->second, record);
        released.push_back(std::move(it->second));
        if (record) {
          it->second = std::move(record);
        } else {
          shard.records.erase(it);
        }
      }
    }
    released.clear();  // outside mapMutex: freeing bindings is the slow part
  }
  expired_.fetch_add(removed, std::memory_order_relaxed);
  return removed;
}

std::size_t MemoryStore::merge(const std::vector<Binding>& loaded,
                               const std::function<bool(const Binding&)>& skip) {
  std::unordered_map<std::string, std::vector<const Binding*>> byAor;
  for (const Binding& b : loaded)
    byAor[b.aor].push_back(&b);

  std::size_t added = 0;
  for (auto& [aor, candidates] : byAor) {
    Shard& shard = shardFor(aor);
    RecordPtr before;
    std::lock_guard writer(shard.writeMutex);
    auto it = shard.records.find(aor);
    RecordPtr current = it == shard.records.end() ? nullptr : it->second;
    std::vector<Binding> next = current ? current->bindings : std::vector<Binding>{};
    std::unordered_set<std::string> present;
    for (const Binding& b : next)
      present.insert(b.id);
    std::size_t addedHere = 0;
    for (const Binding* b : candidates) {
      if (present.count(b->id) != 0 || (skip && skip(*b))) continue;
      present.insert(b->id);
      next.push_back(*b);
      ++addedHere;
    }
    if (addedHere == 0) continue;
    sortForLookup(next);
    auto record = std::make_shared<const AorRecord>(AorRecord{std::move(next)});
    adjustCounts(current, record);
    before = publish(shard, aor, std::move(record));
    added += addedHere;
  }
  return added;
}

StoreStats MemoryStore::stats() const {
  StoreStats s;
  s.aors = static_cast<uint64_t>(std::max<int64_t>(0, aors_.load(std::memory_order_relaxed)));
  s.bindings =
      static_cast<uint64_t>(std::max<int64_t>(0, bindings_.load(std::memory_order_relaxed)));
  s.expired = expired_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace strowger::location
