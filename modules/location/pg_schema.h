// The versioned schema of the location tables (sql/location-NNN.sql, compiled in at build time so
// that the daemon needs no path to them) and bringing a database up to date with it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "pg_connection.h"
#include "strowger/expected.h"

namespace strowger::location::pg {

struct SchemaFile {
  int version = 0;
  std::string_view name;  // "location-001.sql"
  std::string_view sql;
};

// Every file, oldest first (generated from sql/ by CMake).
std::span<const SchemaFile> schemaFiles();
// The newest version this build knows.
int knownSchemaVersion();

inline constexpr std::string_view kSchemaComponent = "location";

// The version the database's location tables are at: 0 when there are none.
Expected<int, std::string> schemaVersion(Connection& connection);

// Applies, in order, every schema file newer than the database's version. Nodes starting together
// take a session advisory lock first, so one of them applies and the others find it done. Fails on
// a schema newer than this build knows (an older Strowger must not write to tables it does not
// understand), on tables that exist without a recorded version, and when a file does not apply.
// Returns the version the database was at.
Expected<int, std::string> ensureSchema(Connection& connection);

}  // namespace strowger::location::pg
