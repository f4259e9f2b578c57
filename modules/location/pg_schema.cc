#include "pg_schema.h"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>

namespace strowger::location::pg {
namespace {

// pg_advisory_lock(bigint) key for applying the schema: "strowger" in ASCII.
constexpr const char* kLockSql = "SELECT pg_advisory_lock(8319390938765207922)";
constexpr const char* kUnlockSql = "SELECT pg_advisory_unlock(8319390938765207922)";

// The session lock is released when this goes out of scope, whatever happened in between.
class SchemaLock {
 public:
  explicit SchemaLock(Connection& connection) : connection_(connection) {}
  ~SchemaLock() {
    if (held_ && connection_.isOpen()) connection_.exec(kUnlockSql);
  }
  SchemaLock(const SchemaLock&) = delete;
  SchemaLock& operator=(const SchemaLock&) = delete;

  Result take() {
    Result r = connection_.exec(kLockSql);
    held_ = r.ok();
    return r;
  }

 private:
  Connection& connection_;
  bool held_ = false;
};

Expected<bool, std::string> tableExists(Connection& connection, const char* name) {
  const std::array<const char*, 1> params = {name};
  Result r(connection.execParams("SELECT to_regclass($1) IS NOT NULL", params));
  if (!r.ok()) return unexpected(r.error());
  return r.rows() == 1 && r.value(0, 0) == "t";
}

}  // namespace

int knownSchemaVersion() {
  return schemaFiles().empty() ? 0 : schemaFiles().back().version;
}

Expected<int, std::string> schemaVersion(Connection& connection) {
  auto hasSchemaTable = tableExists(connection, "strowger_schema");
  if (!hasSchemaTable) return unexpected(hasSchemaTable.error());
  int version = 0;
  if (*hasSchemaTable) {
    const std::string component(kSchemaComponent);
    const std::array<const char*, 1> params = {component.c_str()};
    Result r =
        connection.execParams("SELECT version FROM strowger_schema WHERE component = $1", params);
    if (!r.ok()) return unexpected(r.error());
    if (r.rows() == 1) {
      std::string_view text = r.value(0, 0);
      std::from_chars(text.data(), text.data() + text.size(), version);
    }
  }
  if (version == 0) {
    auto hasTable = tableExists(connection, "location");
    if (!hasTable) return unexpected(hasTable.error());
    if (*hasTable) {
      return unexpected(std::string(
          "table \"location\" exists but strowger_schema records no version for it; "
          "was it created by hand? Add the row (component 'location', version 1) if it matches "
          "location-001.sql"));
    }
  }
  return version;
}

Expected<int, std::string> ensureSchema(Connection& connection) {
  SchemaLock lock(connection);
  if (Result r = lock.take(); !r.ok()) return unexpected("taking the schema lock: " + r.error());

  auto version = schemaVersion(connection);
  if (!version) return version;
  const int known = knownSchemaVersion();
  if (*version > known) {
    return unexpected("the database's location schema is version " + std::to_string(*version) +
                      ", newer than this Strowger knows (" + std::to_string(known) +
                      "); upgrade Strowger or use another database");
  }
  for (const SchemaFile& file : schemaFiles()) {
    if (file.version <= *version) continue;
    // The files hold their own BEGIN/COMMIT, so each applies whole or not at all.
    const std::string sql(file.sql);
    Result r = connection.exec(sql.c_str());
    if (!r.ok()) {
      if (!r.lost()) connection.exec("ROLLBACK");
      return unexpected("applying " + std::string(file.name) + ": " + r.error());
    }
    spdlog::info("location: applied {} to the PostgreSQL database (schema version {})", file.name,
                 file.version);
  }
  return version;
}

}  // namespace strowger::location::pg
