#include "store_factory.h"

#include <chrono>

#include "memory_store.h"
#include "postgres_store.h"

namespace strowger::location {

int64_t systemNow() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view storageModeName(StorageMode mode) noexcept {
  switch (mode) {
    case StorageMode::kMemory:
      return "memory";
    case StorageMode::kWriteThrough:
      return "write_through";
    case StorageMode::kDbOnly:
      return "db_only";
  }
  return "memory";
}

std::unique_ptr<ManagedStore> makeStore(const StoreSettings& settings) {
  switch (settings.mode) {
    case StorageMode::kMemory:
      break;
    case StorageMode::kWriteThrough:
      return std::make_unique<WriteThroughStore>(settings);
    case StorageMode::kDbOnly:
      return std::make_unique<DbOnlyStore>(settings);
  }
  return std::make_unique<MemoryStore>(settings.clock ? settings.clock : systemNow);
}

}  // namespace strowger::location
